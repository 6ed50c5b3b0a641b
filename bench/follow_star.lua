-- Every connection follows and unfollows one star (USER_ID) at once: each request changes a
-- relation of the star, so every write moves the star's one counter row (the hot row). Each
-- thread owns its share of the viewers and flips each one's relation in turn, so that almost no
-- request is a repeat.
dofile(os.getenv("BENCH_DIR") .. "/common.lua")

local star = assert(os.getenv("USER_ID"), "USER_ID must be set")
local follow = "mutation($t: ID!) { followUser(target: $t) { target } }"
local unfollow = "mutation($t: ID!) { unfollowUser(target: $t) { target } }"
local variables = string.format('{"t":"%s"}', star)
local mine, following, next_viewer

local function own_viewers()
  local threads = assert(tonumber(os.getenv("THREADS")), "THREADS must be set")
  mine, following, next_viewer = {}, {}, 1
  for i, viewer in ipairs(viewers) do
    if i % threads == (thread_number or 0) % threads then
      table.insert(mine, viewer)
    end
  end
end

function request()
  if not mine then
    own_viewers()
  end
  local viewer = mine[next_viewer]
  next_viewer = next_viewer % #mine + 1
  following[viewer.id] = not following[viewer.id]
  return graphql(following[viewer.id] and follow or unfollow, variables, viewer)
end
