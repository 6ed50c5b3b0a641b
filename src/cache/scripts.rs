//! The Lua scripts that make each cache step atomic. Redis runs a script without interleaving
//! any other command, which is what the protocol in docs/cache.md relies on.

/// After a commit: apply each pair's changes to whatever exists, then mark its write finished.
///
/// KEYS: 1 following counts, 2 follower counts, then twelve per pair: a:following, b:fans,
/// b:following, a:fans, a:relationship, b:relationship, a:gen, a:pending, a:live, b:gen,
/// b:pending, b:live.
/// ARGV: 1 generation lifetime, then six per pair: a, b, forward delta (-1/0/1), forward score,
/// backward delta, backward score. "Forward" is a → b, "backward" b → a.
///
/// A list is changed only if it exists (never created half full); a count only if present.
/// Returns the users whose changed count was not there, for the service to fill.
pub(crate) const APPLY: &str = r#"
local uncounted = {}
local function count(counts, user, delta)
  if redis.call('ZSCORE', counts, user) then
    redis.call('ZINCRBY', counts, delta, user)
  else
    table.insert(uncounted, user)
  end
end
local function move(list, member, fans, fan, owner, target, delta, score)
  if delta > 0 then
    if redis.call('EXISTS', list) == 1 then redis.call('ZADD', list, score, member) end
    if redis.call('EXISTS', fans) == 1 then redis.call('ZADD', fans, score, fan) end
  elseif delta < 0 then
    redis.call('ZREM', list, member)
    redis.call('ZREM', fans, fan)
  end
  if delta ~= 0 then
    count(KEYS[1], owner, delta)
    count(KEYS[2], target, delta)
  end
end
local function finish(gen, pending, live)
  redis.call('INCR', gen)
  redis.call('EXPIRE', gen, ARGV[1])
  if tonumber(redis.call('GET', pending) or '0') > 1 then
    redis.call('DECR', pending)
  else
    redis.call('DEL', pending, live)
  end
end
for i = 0, (#KEYS - 2) / 12 - 1 do
  local k, v = 2 + i * 12, 1 + i * 6
  local a, b = ARGV[v + 1], ARGV[v + 2]
  move(KEYS[k + 1], b, KEYS[k + 2], a, a, b, tonumber(ARGV[v + 3]), ARGV[v + 4])
  move(KEYS[k + 3], a, KEYS[k + 4], b, b, a, tonumber(ARGV[v + 5]), ARGV[v + 6])
  redis.call('DEL', KEYS[k + 5], KEYS[k + 6])
  finish(KEYS[k + 7], KEYS[k + 8], KEYS[k + 9])
  finish(KEYS[k + 10], KEYS[k + 11], KEYS[k + 12])
end
return uncounted
"#;

/// Fill one list from the database, unless a write touched the user since the fill read its
/// generation or one is under way.
///
/// KEYS: 1 list, 2 gen, 3 pending. ARGV: generation read before the database, ttl, then
/// score, member pairs.
pub(crate) const FILL_LIST: &str = r#"
if tonumber(redis.call('GET', KEYS[3]) or '0') > 0 then return 0 end
if (redis.call('GET', KEYS[2]) or '0') ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
for i = 3, #ARGV, 2 do redis.call('ZADD', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
"#;

/// Fill one user's counts, under the same guard.
///
/// KEYS: 1 following counts, 2 follower counts, 3 gen, 4 pending.
/// ARGV: generation read before the database, user, following, followers.
pub(crate) const FILL_COUNTS: &str = r#"
if tonumber(redis.call('GET', KEYS[4]) or '0') > 0 then return 0 end
if (redis.call('GET', KEYS[3]) or '0') ~= ARGV[1] then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[2])
return 1
"#;

/// Forget everything cached about a user whose write could not reach Redis, or whose writer
/// died between its mark and its cache update, and invalidate any fill in flight. The dead
/// writers' marks go too, unless a live writer has marked the user since (its own cache update
/// will lift its mark; the dead one's count is found and forgotten again later).
///
/// KEYS: 1 following, 2 fans, 3 relationship, 4 following counts, 5 follower counts, 6 gen,
/// 7 pending, 8 live. ARGV: user, generation lifetime.
pub(crate) const FORGET: &str = r#"
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('ZREM', KEYS[5], ARGV[1])
redis.call('INCR', KEYS[6])
redis.call('EXPIRE', KEYS[6], ARGV[2])
if redis.call('EXISTS', KEYS[8]) == 0 then redis.call('DEL', KEYS[7]) end
return 1
"#;

/// The shared rate limit's step: GCRA over one key holding the client's theoretical arrival
/// time in microseconds (Redis's own clock, the same for every instance).
///
/// KEYS: 1 the client's key. ARGV: 1 the interval between requests at the limit (µs), 2 the
/// burst (requests). Returns 0 when the request may go on, else the microseconds to wait.
pub(crate) const ADMIT: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tat = math.max(tonumber(redis.call('GET', KEYS[1]) or now), now)
local allowed_at = tat - interval * (tonumber(ARGV[2]) - 1)
if now < allowed_at then
  return allowed_at - now
end
local next_tat = tat + interval
redis.call('SET', KEYS[1], string.format('%d', next_tat), 'PX', math.ceil((next_tat - now) / 1000) + 1)
return 0
"#;
