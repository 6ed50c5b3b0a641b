-- A random viewer reads the first page of its followings.
dofile(os.getenv("BENCH_DIR") .. "/common.lua")

function request()
  return graphql("{ following(first: 20) { nodes { id name } } }", nil, random_viewer())
end
