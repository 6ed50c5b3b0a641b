//! User identifiers, parsed once at the edge so that nothing below ever sees a bad id.

use std::fmt;
use std::str::FromStr;

/// A user's id: a positive integer that fits the legacy `BIGINT` columns.
///
/// Parsing is strict on purpose: legacy clients send ids as JSON numbers or as decimal strings,
/// and anything looser (`"+12"`, `" 12"`, `"12.0"`) would let two spellings name one user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct UserId(i64);

/// Why a value is not a [`UserId`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a user id is a positive decimal integer of at most 19 digits")]
pub(crate) struct InvalidUserId;

impl UserId {
    /// The smallest id, which sorts before every user.
    pub(crate) const MIN: UserId = UserId(1);

    /// Accepts the integer if it is positive.
    pub(crate) fn new(raw: i64) -> Result<Self, InvalidUserId> {
        if raw > 0 {
            Ok(Self(raw))
        } else {
            Err(InvalidUserId)
        }
    }

    /// The value as stored in the database.
    pub(crate) fn get(self) -> i64 {
        self.0
    }

    /// Reads an id from a JSON value: an integer number or a decimal string, nothing else.
    pub(crate) fn from_json(value: &serde_json::Value) -> Result<Self, InvalidUserId> {
        match value {
            serde_json::Value::Number(n) => n.as_i64().ok_or(InvalidUserId).and_then(Self::new),
            serde_json::Value::String(s) => s.parse(),
            _ => Err(InvalidUserId),
        }
    }
}

impl FromStr for UserId {
    type Err = InvalidUserId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(InvalidUserId);
        }
        s.parse::<i64>().map_err(|_| InvalidUserId).and_then(Self::new)
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn decimal_strings_and_integers_are_ids() {
        assert_eq!("12".parse::<UserId>().unwrap().get(), 12);
        assert_eq!(UserId::from_json(&json!(12)).unwrap().get(), 12);
        assert_eq!(UserId::from_json(&json!("12")).unwrap().get(), 12);
        let max = i64::MAX.to_string();
        assert_eq!(max.parse::<UserId>().unwrap().get(), i64::MAX);
    }

    #[test]
    fn every_other_spelling_is_rejected() {
        for bad in [
            "",
            "0",
            "00",
            "-1",
            "+12",
            " 12",
            "12 ",
            "12.0",
            "1e3",
            "abc",
            "١٢",
            "9223372036854775808",
            "18446744073709551616",
        ] {
            assert_eq!(bad.parse::<UserId>(), Err(InvalidUserId), "{bad:?}");
        }
        for bad in [
            json!(0),
            json!(-1),
            json!(12.5),
            json!(12.0),
            json!(null),
            json!(true),
            json!([12]),
            json!({"id": 12}),
            json!(9223372036854775808u64),
        ] {
            assert_eq!(UserId::from_json(&bad), Err(InvalidUserId), "{bad}");
        }
    }
}
