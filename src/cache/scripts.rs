//! The Lua scripts that make each cache step atomic. Redis runs a script without interleaving
//! any other command, which is what the protocol in docs/cache.md relies on. Every script names
//! one item's keys only (its legacy key and the guard beside it, `keys.rs`), so each runs on
//! the one node that holds that slot, on a single Redis as on a Redis Cluster.

use std::sync::OnceLock;

use redis::{Arg, Cmd};

/// A Lua script, called by its SHA-1 (`EVALSHA`): a follow makes sixteen script calls, whose
/// texts come to about 6 KB, which the service would copy and Redis hash each time. A Redis
/// that does not know the script yet (after a restart, a failover or a `SCRIPT FLUSH`) answers
/// that call alone with `NOSCRIPT`, without running it, and the link sends it again in full
/// ([`Lua::in_full`], an `EVAL`, which also keeps it).
///
/// Most scripts work on one item and are written *per item* ([`per_item!`]): one call may carry
/// several items' keys and arguments, one after another, and runs the script on each in turn,
/// answering one reply per item. The link turns all calls of such a script in one pipeline into
/// one call ([`Lua::batched`]), since Redis spends more on starting a script than on most of
/// their bodies: a write group of eight follows makes 128 item steps.
pub(crate) struct Lua {
    text: &'static str,
    hash: OnceLock<String>,
    batched: bool,
}

impl Lua {
    const fn new(text: &'static str) -> Self {
        Self { text, hash: OnceLock::new(), batched: false }
    }

    const fn per_item(text: &'static str) -> Self {
        Self { text, hash: OnceLock::new(), batched: true }
    }

    /// Whether calls of the script may go as one (their replies then come as one array).
    pub(super) fn batched(&self) -> bool {
        self.batched
    }

    /// The script's SHA-1 in hex, as Redis names it.
    fn hash(&self) -> &str {
        self.hash.get_or_init(|| redis::Script::new(self.text).get_hash().to_owned())
    }

    /// An `EVALSHA` of the script over `keys`, all in one slot; the caller adds the arguments.
    pub(super) fn call<const N: usize>(&self, keys: [&str; N]) -> Cmd {
        let mut cmd = redis::cmd("EVALSHA");
        cmd.arg(self.hash()).arg(N);
        for key in keys {
            cmd.arg(key);
        }
        cmd
    }

    /// Calls of this (per-item) script as one: every call's keys, then every call's arguments.
    pub(super) fn merge(&self, calls: &[&Cmd]) -> Cmd {
        let (mut keys, mut args): (Vec<&[u8]>, Vec<&[u8]>) = (Vec::new(), Vec::new());
        for call in calls {
            let mut parts = call.args_iter().skip(2).filter_map(simple);
            let count = parts.next().and_then(|n| std::str::from_utf8(n).ok()?.parse().ok());
            keys.extend(parts.by_ref().take(count.unwrap_or(0)));
            args.extend(parts);
        }
        let mut cmd = redis::cmd("EVALSHA");
        cmd.arg(self.hash()).arg(keys.len()).arg(keys).arg(args);
        cmd
    }

    /// The same call as `call` (an `EVALSHA` of this script), with the script's text.
    pub(super) fn in_full(&self, call: &Cmd) -> Cmd {
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(self.text);
        for arg in call.args_iter().skip(2).filter_map(simple) {
            cmd.arg(arg);
        }
        cmd
    }
}

/// A command's argument as bytes (a script call has no cursor).
fn simple(arg: Arg<&[u8]>) -> Option<&[u8]> {
    match arg {
        Arg::Simple(bytes) => Some(bytes),
        _ => None,
    }
}

/// A script run on each item of its call: `$keys` keys and `$args` arguments per item, in
/// order; the body sees one item's as `KEYS` and `ARGV`, and the call answers an array of the
/// body's replies.
macro_rules! per_item {
    ($keys:literal, $args:literal, $($body:expr),+ $(,)?) => {
        Lua::per_item(concat!(
            "local function item(KEYS, ARGV)\n",
            $($body,)+
            "end\n",
            "local replies = {}\n",
            "for i = 0, #KEYS / ", $keys, " - 1 do\n",
            "  local keys, argv = {}, {}\n",
            "  for j = 1, ", $keys, " do keys[j] = KEYS[i * ", $keys, " + j] end\n",
            "  for j = 1, ", $args, " do argv[j] = ARGV[i * ", $args, " + j] end\n",
            "  replies[i + 1] = item(keys, argv)\n",
            "end\n",
            "return replies\n",
        ))
    };
}

/// The end of a write's step on one item: bump its generation and lift the write's mark.
/// KEYS 2, 3, 4 are the item's gen, pending and live; ARGV[1] the generation lifetime.
macro_rules! finish_lua {
    () => {
        r#"
local function finish()
  redis.call('INCR', KEYS[2])
  redis.call('EXPIRE', KEYS[2], ARGV[1])
  if redis.call('DECR', KEYS[3]) <= 0 then
    redis.call('DEL', KEYS[3], KEYS[4])
  end
end
"#
    };
}

/// Before a commit: mark an item as being written (no fill may store until the mark is
/// lifted), and keep the mark alive. One step, so no reader sees the count without `live`.
///
/// KEYS: 1 pending, 2 live. ARGV: 1 pending lifetime (s), 2 live lifetime (ms).
pub(crate) static MARK: Lua = per_item!(
    2,
    2,
    r#"
redis.call('SET', KEYS[2], 1, 'PX', ARGV[2])
redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[1])
return 1
"#,
);

/// After a commit: apply one pair's change to a list, if the list exists (never created half
/// full), then finish the write on it.
///
/// KEYS: 1 list, 2 gen, 3 pending, 4 live. ARGV: 1 generation lifetime, 2 delta (-1/0/1),
/// 3 score, 4 member.
pub(crate) static APPLY_LIST: Lua = per_item!(
    4,
    4,
    finish_lua!(),
    r#"
local delta = tonumber(ARGV[2])
if delta > 0 then
  if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4]) end
elseif delta < 0 then
  redis.call('ZREM', KEYS[1], ARGV[4])
end
finish()
return 0
"#
);

/// After a commit: apply one pair's change to a user's count, if the count is there, then
/// finish the write on it. Returns the user when a changed count was missing (the service
/// fills it: the legacy app reads a missing member as zero and counts on from there), else 0.
///
/// KEYS: 1 count zset, 2 gen, 3 pending, 4 live. ARGV: 1 generation lifetime, 2 delta, 3 user.
pub(crate) static APPLY_COUNT: Lua = per_item!(
    4,
    3,
    finish_lua!(),
    r#"
local delta = tonumber(ARGV[2])
local uncounted = 0
if delta ~= 0 then
  if redis.call('ZSCORE', KEYS[1], ARGV[3]) then
    redis.call('ZINCRBY', KEYS[1], delta, ARGV[3])
  else
    uncounted = tonumber(ARGV[3])
  end
end
finish()
return uncounted
"#
);

/// Fill one list from the database, unless a write touched it since the fill read its
/// generation or one is under way.
///
/// KEYS: 1 list, 2 gen, 3 pending. ARGV: generation read before the database, ttl, then
/// score, member pairs.
pub(crate) static FILL_LIST: Lua = Lua::new(
    r#"
if tonumber(redis.call('GET', KEYS[3]) or '0') > 0 then return 0 end
if (redis.call('GET', KEYS[2]) or '0') ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
for i = 3, #ARGV, 2 do redis.call('ZADD', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
"#,
);

/// Fill one user's count, under the same guard.
///
/// KEYS: 1 count zset, 2 gen, 3 pending. ARGV: generation read before the database, user,
/// count.
pub(crate) static FILL_COUNT: Lua = per_item!(
    3,
    3,
    r#"
if tonumber(redis.call('GET', KEYS[3]) or '0') > 0 then return 0 end
if (redis.call('GET', KEYS[2]) or '0') ~= ARGV[1] then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[2])
return 1
"#,
);

/// Forget one item whose write could not reach Redis, or whose writer died between its mark
/// and its cache update, and invalidate any fill in flight. The dead writers' marks go too,
/// unless a live writer has marked the item since (its own cache update will lift its mark;
/// the dead one's count is found and forgotten again later).
///
/// KEYS: 1 the item's key, 2 gen, 3 pending, 4 live. ARGV: 1 generation lifetime, 2 the user
/// for a count (its member), empty for a list (the whole key goes).
pub(crate) static FORGET: Lua = per_item!(
    4,
    2,
    r#"
if ARGV[2] == '' then
  redis.call('DEL', KEYS[1])
else
  redis.call('ZREM', KEYS[1], ARGV[2])
end
redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], ARGV[1])
if redis.call('EXISTS', KEYS[4]) == 0 then redis.call('DEL', KEYS[3]) end
return 1
"#,
);

/// The shared rate limit's step: GCRA over one key holding the client's theoretical arrival
/// time in microseconds (Redis's own clock, the same for every instance).
///
/// KEYS: 1 the client's key. ARGV: 1 the interval between requests at the limit (µs), 2 the
/// burst (requests). Returns 0 when the request may go on, else the microseconds to wait.
pub(crate) static ADMIT: Lua = Lua::new(
    r#"
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
"#,
);
