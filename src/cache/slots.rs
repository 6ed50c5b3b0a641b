//! Redis Cluster's key slots, and hash tags chosen to land in a given slot.
//!
//! A cluster runs a script or a pipeline only when all its keys hash to one slot. The legacy key
//! names carry no hash tag (`user:42:following`), so each sits in a slot of its own choosing, and
//! a guard key must be made to sit in the same one: it carries a tag (`fg:{t}:…`) picked from a
//! table that has, for each of the 16,384 slots, a short string hashing to it. The table is
//! built once, on first use, by trying short strings in order (about 170,000 of them).
//!
//! redis-rs computes slots too (`cluster_routing::Slot::for_key`), but keeps the number to
//! itself, and the table is indexed by it; so the slot is computed here with the same `crc16`
//! crate redis-rs uses.

use std::sync::OnceLock;

/// Redis Cluster's number of slots.
const SLOTS: usize = 16_384;

/// The slot of `key`, as Redis Cluster computes it: CRC16 (XMODEM) of the key, or of its hash
/// tag (what is between the first `{` and the next `}`, when not empty), modulo 16,384.
pub(crate) fn slot(key: &str) -> u16 {
    let bytes = key.as_bytes();
    let tagged = bytes.iter().position(|&b| b == b'{').and_then(|open| {
        let rest = &bytes[open + 1..];
        let close = rest.iter().position(|&b| b == b'}')?;
        (close > 0).then(|| &rest[..close])
    });
    crc(tagged.unwrap_or(bytes))
}

fn crc(bytes: &[u8]) -> u16 {
    crc16::State::<crc16::XMODEM>::calculate(bytes) % SLOTS as u16
}

/// A short tag that hashes to `slot`.
pub(crate) fn tag_for(slot: u16) -> &'static str {
    &tags()[usize::from(slot) % SLOTS]
}

fn tags() -> &'static [String] {
    static TAGS: OnceLock<Vec<String>> = OnceLock::new();
    TAGS.get_or_init(|| {
        let mut tags = vec![String::new(); SLOTS];
        let mut missing = SLOTS;
        let mut n: u64 = 0;
        while missing > 0 {
            let tag = base36(n);
            let entry = &mut tags[usize::from(crc(tag.as_bytes()))];
            if entry.is_empty() {
                *entry = tag;
                missing -= 1;
            }
            n += 1;
        }
        tags
    })
}

fn base36(mut n: u64) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut text = Vec::new();
    loop {
        text.push(DIGITS[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    text.reverse();
    String::from_utf8(text).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_redis_clusters() {
        // Values from `CLUSTER KEYSLOT` on redis-server 7.0.
        assert_eq!(slot("user:42:following"), 6_516);
        assert_eq!(slot("count:user:followers"), 2_240);
        assert_eq!(slot("count:user:followings"), 14_715);
        assert_eq!(slot("{user1000}.following"), 3_443);
        assert_eq!(slot("user1000"), 3_443);
        assert_eq!(slot("foo{}{bar}"), 8_363, "an empty tag is no tag: the whole key");
    }

    #[test]
    fn every_slot_has_a_tag_that_lands_in_it() {
        for s in [0, 1, 6_516, 16_383] {
            assert_eq!(slot(&format!("fg:{{{}}}:gen", tag_for(s))), s);
        }
        assert!(tags().iter().all(|t| !t.is_empty() && t.len() <= 4));
    }
}
