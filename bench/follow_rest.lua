-- A random viewer follows a random user through the legacy REST path (a repeat follow is fine).
dofile(os.getenv("BENCH_DIR") .. "/common.lua")

function request()
  local viewer = random_viewer()
  local body = string.format('{"target": %d}', random_user(viewer.id))
  return post_json("/app/v1_0/user/followings", body, viewer)
end
