-- A random viewer asks for 50 random users with counts, viewer flags and a page of followings:
-- the DataLoader must keep the round trips constant however many users are asked for.
-- The query is in fanout.graphql, which bench/run also sends once to report its round trips.
dofile(os.getenv("BENCH_DIR") .. "/common.lua")

local file = assert(io.open(os.getenv("BENCH_DIR") .. "/fanout.graphql"))
local query = file:read("*l")
file:close()
local batch = 50

function request()
  local ids = {}
  for i = 1, batch do
    ids[i] = '"' .. math.random(n_users) .. '"'
  end
  return graphql(query, '{"ids":[' .. table.concat(ids, ",") .. "]}", random_viewer())
end
