//! Keyset pagination over a user's followings or followers: newest follow first, ties by user id.
//!
//! A position in that order is `(followed_at, user id)`; a page asks for the entries strictly
//! after one position. Unlike an offset, a position stays valid when follows happen between
//! pages, so paging neither repeats nor skips the entries that existed throughout.

use std::cmp::Ordering;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};

use super::ids::UserId;

/// Which list of a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Side {
    /// The users this user follows.
    Following,
    /// The users who follow this user.
    Followers,
}

/// One entry of a list: the other user and when the follow happened (the row's `update_time`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Entry {
    pub(crate) user: UserId,
    pub(crate) at: DateTime<Utc>,
}

impl Entry {
    /// The entry's position in the list order.
    pub(crate) fn position(&self) -> Cursor {
        Cursor { at_micros: self.at.timestamp_micros(), user: self.user }
    }

    /// The list order, as [`Cursor::order`] has it, without computing positions: sorting a
    /// page's worth of entries by position spent most of its time turning dates into
    /// microseconds.
    pub(crate) fn order(&self, other: &Entry) -> Ordering {
        other.at.cmp(&self.at).then(self.user.cmp(&other.user))
    }
}

/// A position in the list order, opaque to clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Cursor {
    pub(crate) at_micros: i64,
    pub(crate) user: UserId,
}

/// Why a cursor string is not one this service made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed cursor")]
pub(crate) struct InvalidCursor;

const CURSOR_PREFIX: &str = "fg1:";

impl Cursor {
    /// The opaque string form: base64url of `fg1:<micros>:<id>`.
    pub(crate) fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{CURSOR_PREFIX}{}:{}", self.at_micros, self.user))
    }

    pub(crate) fn decode(raw: &str) -> Result<Self, InvalidCursor> {
        let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| InvalidCursor)?;
        let text = String::from_utf8(bytes).map_err(|_| InvalidCursor)?;
        let rest = text.strip_prefix(CURSOR_PREFIX).ok_or(InvalidCursor)?;
        let (micros, user) = rest.split_once(':').ok_or(InvalidCursor)?;
        let at_micros = micros.parse::<i64>().map_err(|_| InvalidCursor)?;
        let user = user.parse::<UserId>().map_err(|_| InvalidCursor)?;
        if !(0..=Self::start().at_micros).contains(&at_micros) {
            return Err(InvalidCursor);
        }
        Ok(Self { at_micros, user })
    }

    /// The time of this position.
    pub(crate) fn at(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_micros(self.at_micros).unwrap_or_default()
    }

    /// The list order: newer first, then lower user id first.
    pub(crate) fn order(&self, other: &Cursor) -> Ordering {
        other.at_micros.cmp(&self.at_micros).then(self.user.cmp(&other.user))
    }

    /// A position before every entry, for a first page: the last microsecond of year 9999,
    /// which every backend stores and compares like any other time.
    pub(crate) fn start() -> Self {
        Self { at_micros: 253_402_300_799_999_999, user: UserId::MIN }
    }
}

/// Which slice of a list to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct PageRequest {
    pub(crate) first: usize,
    pub(crate) after: Option<Cursor>,
}

/// A page of a list whose length is not a stored count, with that length.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct CountedPage {
    pub(crate) page: Page,
    pub(crate) total: i64,
}

/// A slice of a list, and whether more follow it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Page {
    pub(crate) entries: Vec<Entry>,
    pub(crate) has_next: bool,
}

impl Page {
    /// Cuts a page from entries that hold every entry after the request's position, in any
    /// order. Used where a whole list is at hand (a cache fill); the database cuts its own.
    pub(crate) fn from_all(mut entries: Vec<Entry>, request: &PageRequest) -> Self {
        let after = request.after.unwrap_or_else(Cursor::start);
        entries.retain(|e| after.order(&e.position()) == Ordering::Less);
        entries.sort_by(Entry::order);
        Self::from_window(entries, request.first)
    }

    /// A page from the first `first + 1` entries after the position, in list order.
    pub(crate) fn from_window(mut entries: Vec<Entry>, first: usize) -> Self {
        let has_next = entries.len() > first;
        entries.truncate(first);
        Self { entries, has_next }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: i64, micros: i64) -> Entry {
        Entry {
            user: UserId::new(id).unwrap(),
            at: DateTime::from_timestamp_micros(micros).unwrap(),
        }
    }

    #[test]
    fn cursors_round_trip_and_reject_anything_else() {
        let cursor = entry(42, 1_700_000_000_123_456).position();
        assert_eq!(Cursor::decode(&cursor.encode()), Ok(cursor));
        for bad in [
            "",
            "abc",
            "Zmcx",
            &URL_SAFE_NO_PAD.encode("fg1:12:0"),
            &URL_SAFE_NO_PAD.encode("x:1:2"),
        ] {
            assert_eq!(Cursor::decode(bad), Err(InvalidCursor), "{bad}");
        }
    }

    #[test]
    fn order_is_newest_first_then_lowest_id() {
        let all = vec![entry(3, 10), entry(1, 20), entry(2, 10), entry(9, 30)];
        let request = PageRequest { first: 10, after: None };
        let ids: Vec<i64> =
            Page::from_all(all, &request).entries.iter().map(|e| e.user.get()).collect();
        assert_eq!(ids, vec![9, 1, 2, 3]);
    }

    #[test]
    fn a_page_starts_strictly_after_its_cursor() {
        let all = vec![entry(3, 10), entry(1, 20), entry(2, 10), entry(9, 30)];
        let request = PageRequest { first: 1, after: Some(entry(2, 10).position()) };
        let page = Page::from_all(all.clone(), &request);
        assert_eq!(page.entries, vec![entry(3, 10)]);
        assert!(!page.has_next);
        let first = Page::from_all(all, &PageRequest { first: 2, after: None });
        assert!(first.has_next);
    }
}
