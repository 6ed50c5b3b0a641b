-- A random viewer follows a random user through the GraphQL mutation.
dofile(os.getenv("BENCH_DIR") .. "/common.lua")

local mutation = "mutation($t: ID!) { followUser(target: $t) { target } }"

function request()
  local viewer = random_viewer()
  local variables = string.format('{"t":"%d"}', random_user(viewer.id))
  return graphql(mutation, variables, viewer)
end
