-- Shared by every row script (loaded with dofile from BENCH_DIR).
--
-- wrk runs one Lua state per thread plus one for setup/done. Each thread loads the tokens file
-- written by bench/run ("<user id> <token>" per line), counts non-2xx responses and GraphQL error
-- bodies, and keeps the round trips of its first GraphQL response (extensions.roundTrips). `done`
-- sums the counters over the threads and prints one line for bench/run:
--   BENCH non2xx=<n> gqlerrors=<n> [trips=<db>/<redis>]

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("thread_number", #threads)
end

function init(args)
  math.randomseed(os.time() * 1000 + (thread_number or 0))
  n_users = assert(tonumber(os.getenv("N_USERS")), "N_USERS must be set")
  viewers = {}
  local path = assert(os.getenv("TOKENS_FILE"), "TOKENS_FILE must be set")
  local file = assert(io.open(path))
  for line in file:lines() do
    local id, token = line:match("^(%d+)%s+(%S+)$")
    if id then
      table.insert(viewers, { id = tonumber(id), auth = "Bearer " .. token })
    end
  end
  file:close()
  assert(#viewers > 0, "no tokens in TOKENS_FILE")
  non2xx, gqlerrors = 0, 0
end

-- Counts only; checks nothing else, so the measurement stays the server's.
function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
  elseif body and body:find('"errors"', 1, true) then
    gqlerrors = gqlerrors + 1
  end
  if not trips and body then
    local db, redis = body:match('"roundTrips":{"database":(%d+),"redis":(%d+)}')
    trips = db and (db .. "/" .. redis) or nil
  end
end

function done(summary, latency, requests)
  local bad, gql, trips = 0, 0, nil
  for _, thread in ipairs(threads) do
    bad = bad + (thread:get("non2xx") or 0)
    gql = gql + (thread:get("gqlerrors") or 0)
    trips = trips or thread:get("trips")
  end
  io.write(string.format("BENCH non2xx=%d gqlerrors=%d%s\n", bad, gql, trips and (" trips=" .. trips) or ""))
end

-- Helpers for the row scripts.

-- A random viewer: { id = <number>, auth = "Bearer …" }.
function random_viewer()
  return viewers[math.random(#viewers)]
end

-- A random user id in 1..N_USERS other than `except`.
function random_user(except)
  local id = math.random(n_users)
  if id == except then
    id = id % n_users + 1
  end
  return id
end

-- A POST with a JSON body, with the viewer's token when one is given.
function post_json(path, body, viewer)
  local headers = { ["Content-Type"] = "application/json" }
  if viewer then
    headers["Authorization"] = viewer.auth
  end
  return wrk.format("POST", path, headers, body)
end

-- A POST /graphql of `query` with `variables` (a JSON object literal, or nil).
function graphql(query, variables, viewer)
  local body = '{"query":"' .. query .. '"'
  if variables then
    body = body .. ',"variables":' .. variables
  end
  return post_json("/graphql", body .. "}", viewer)
end
