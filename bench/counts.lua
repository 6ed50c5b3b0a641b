-- A random viewer reads one user's counts (USER_ID): the same query for an ordinary user and for
-- a star, so that the two rows show whether the cost grows with the number of followers.
dofile(os.getenv("BENCH_DIR") .. "/common.lua")

local query = "query($id: ID!) { user(id: $id) { followersCount followingCount } }"
local variables = string.format('{"id":"%s"}', assert(os.getenv("USER_ID"), "USER_ID must be set"))

function request()
  return graphql(query, variables, random_viewer())
end
