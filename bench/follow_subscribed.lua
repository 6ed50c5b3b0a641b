-- A random viewer follows a random subscriber of the events row (SUBSCRIBERS_FILE, "<id> <token>"
-- per line, as bench/events.mjs holds them): every new follow is announced to a live
-- subscription.
dofile(os.getenv("BENCH_DIR") .. "/common.lua")

local subscribers = {}

local base_init = init
function init(args)
  base_init(args)
  local path = assert(os.getenv("SUBSCRIBERS_FILE"), "SUBSCRIBERS_FILE must be set")
  local file = assert(io.open(path))
  for line in file:lines() do
    local id = line:match("^(%d+)%s")
    if id then
      table.insert(subscribers, tonumber(id))
    end
  end
  file:close()
end

function request()
  local viewer = random_viewer()
  local target = subscribers[math.random(#subscribers)]
  if target == viewer.id then
    target = subscribers[1] == viewer.id and subscribers[2] or subscribers[1]
  end
  return post_json("/app/v1_0/user/followings", string.format('{"target": %d}', target), viewer)
end
