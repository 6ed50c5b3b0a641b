-- A random viewer reads a page of 20 of one user's followers (USER_ID), after the cursor CURSOR
-- when it is set: page 1 and a page deep in a star's list, to show that keyset pages cost the
-- same at any depth.
dofile(os.getenv("BENCH_DIR") .. "/common.lua")

local query = "query($id: ID!, $after: String) "
  .. "{ user(id: $id) { followers(first: 20, after: $after) { nodes { id name } } } }"
local id = assert(os.getenv("USER_ID"), "USER_ID must be set")
local cursor = os.getenv("CURSOR") or ""
local after = cursor == "" and "null" or ('"' .. cursor .. '"')
local variables = string.format('{"id":"%s","after":%s}', id, after)

function request()
  return graphql(query, variables, random_viewer())
end
