//! The Lua scripts that make each cache step atomic. Redis runs a script without interleaving
//! any other command, which is what the protocol in docs/cache.md relies on.

/// After a commit: apply the pair's changes to whatever exists, then mark the write finished.
///
/// KEYS: 1 a:following, 2 b:fans, 3 b:following, 4 a:fans, 5 following counts, 6 follower counts,
/// 7 a:relationship, 8 b:relationship, 9 a:gen, 10 a:pending, 11 b:gen, 12 b:pending.
/// ARGV: a, b, forward delta (-1/0/1), forward score, backward delta, backward score,
/// generation lifetime. "Forward" is a → b, "backward" b → a.
///
/// A list is changed only if it exists (never created half full); a count only if present.
pub const APPLY: &str = r#"
local function move(list, member, fans, fan, owner_count, owner, fan_count, target, delta, score)
  if delta > 0 then
    if redis.call('EXISTS', list) == 1 then redis.call('ZADD', list, score, member) end
    if redis.call('EXISTS', fans) == 1 then redis.call('ZADD', fans, score, fan) end
  elseif delta < 0 then
    redis.call('ZREM', list, member)
    redis.call('ZREM', fans, fan)
  end
  if delta ~= 0 then
    if redis.call('ZSCORE', owner_count, owner) then redis.call('ZINCRBY', owner_count, delta, owner) end
    if redis.call('ZSCORE', fan_count, target) then redis.call('ZINCRBY', fan_count, delta, target) end
  end
end
local a, b = ARGV[1], ARGV[2]
move(KEYS[1], b, KEYS[2], a, KEYS[5], a, KEYS[6], b, tonumber(ARGV[3]), ARGV[4])
move(KEYS[3], a, KEYS[4], b, KEYS[5], b, KEYS[6], a, tonumber(ARGV[5]), ARGV[6])
redis.call('DEL', KEYS[7], KEYS[8])
for _, pair in ipairs({{KEYS[9], KEYS[10]}, {KEYS[11], KEYS[12]}}) do
  redis.call('INCR', pair[1])
  redis.call('EXPIRE', pair[1], ARGV[7])
  if tonumber(redis.call('GET', pair[2]) or '0') > 1 then
    redis.call('DECR', pair[2])
  else
    redis.call('DEL', pair[2])
  end
end
return 1
"#;

/// Fill one list from the database, unless a write touched the user since the fill read its
/// generation or one is under way.
///
/// KEYS: 1 list, 2 gen, 3 pending. ARGV: generation read before the database, ttl, then
/// score, member pairs.
pub const FILL_LIST: &str = r#"
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
pub const FILL_COUNTS: &str = r#"
if tonumber(redis.call('GET', KEYS[4]) or '0') > 0 then return 0 end
if (redis.call('GET', KEYS[3]) or '0') ~= ARGV[1] then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[2])
return 1
"#;

/// Forget everything cached about a user whose write could not reach Redis, and invalidate any
/// fill in flight.
///
/// KEYS: 1 following, 2 fans, 3 relationship, 4 following counts, 5 follower counts, 6 gen.
/// ARGV: user, generation lifetime.
pub const FORGET: &str = r#"
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('ZREM', KEYS[5], ARGV[1])
redis.call('INCR', KEYS[6])
redis.call('EXPIRE', KEYS[6], ARGV[2])
return 1
"#;
