//! The storage layer's one error type, and the one table that decides which failures mean "the
//! database is unavailable" (retry later: 503 / `SERVICE_UNAVAILABLE`) rather than "this
//! statement is wrong" (a bug or a broken schema: 500 / `INTERNAL`).

/// Why a storage call failed. The split matters to callers: an outage is retryable and answers
/// "service unavailable"; anything else is a bug or a broken schema and answers "internal".
#[derive(Debug, thiserror::Error)]
pub(crate) enum DbError {
    #[error("database unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    #[error("database query failed: {0}")]
    Query(#[source] sqlx::Error),
    #[error("database migration failed")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("invalid database url: {0}")]
    Url(String),
    /// The legacy tables are missing or not what the service can work on (MySQL).
    #[error("the legacy tables cannot be used: {0}")]
    Schema(String),
    /// Another transaction won a deadlock: the write group (or recount batch) runs again.
    #[error("deadlock: {0}")]
    Conflict(#[source] sqlx::Error),
}

impl DbError {
    /// What a request gets when it waited for the database longer than a pool acquire may.
    pub(crate) fn timed_out() -> Self {
        DbError::Unavailable(sqlx::Error::PoolTimedOut)
    }

    /// Whether the connection the call went over turned out broken (its socket, or the server
    /// ended the session): the pool's other connections may be broken too.
    pub(crate) fn broke_connection(&self) -> bool {
        match self {
            DbError::Unavailable(err) => is_broken_connection(err),
            _ => false,
        }
    }
}

impl From<sqlx::Error> for DbError {
    fn from(err: sqlx::Error) -> Self {
        if is_conflict(&err) {
            DbError::Conflict(err)
        } else if is_outage(&err) {
            DbError::Unavailable(err)
        } else {
            DbError::Query(err)
        }
    }
}

/// MySQL error numbers that mean the server cannot serve us now, whatever we sent.
const MYSQL_UNAVAILABLE: &[(u16, &str)] = &[
    (1040, "ER_CON_COUNT_ERROR: too many connections"),
    (1045, "ER_ACCESS_DENIED_ERROR: the user is missing or its password changed"),
    (1049, "ER_BAD_DB_ERROR: the database is missing (renamed or dropped)"),
    (1053, "ER_SERVER_SHUTDOWN: the server is stopping"),
    (1205, "ER_LOCK_WAIT_TIMEOUT: a row lock held past innodb_lock_wait_timeout"),
    (1317, "ER_QUERY_INTERRUPTED: the statement was killed"),
    (1927, "ER_CONNECTION_KILLED (MariaDB): the connection was killed"),
    (1969, "ER_STATEMENT_TIMEOUT (MariaDB): max_statement_time cut it"),
    (3024, "ER_QUERY_TIMEOUT (MySQL): max_execution_time cut it"),
];

/// MySQL error numbers of a lost deadlock: running the transaction again succeeds.
const MYSQL_CONFLICT: &[(u16, &str)] = &[
    (1213, "ER_LOCK_DEADLOCK: InnoDB chose this transaction to roll back"),
    (3058, "ER_USER_LOCK_DEADLOCK: a named lock would deadlock"),
];

fn mysql_number(err: &sqlx::Error) -> Option<u16> {
    match err {
        sqlx::Error::Database(db) => {
            db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>().map(|e| e.number())
        }
        _ => None,
    }
}

/// PostgreSQL SQLSTATEs of a lost deadlock: running the transaction again succeeds.
const POSTGRES_CONFLICT: &[(&str, &str)] =
    &[("40P01", "deadlock detected: the server chose this transaction to roll back")];

fn is_conflict(err: &sqlx::Error) -> bool {
    if let Some(number) = mysql_number(err) {
        return MYSQL_CONFLICT.iter().any(|(c, _)| *c == number);
    }
    match err {
        sqlx::Error::Database(db)
            if db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>().is_some() =>
        {
            db.code().is_some_and(|code| POSTGRES_CONFLICT.iter().any(|(c, _)| *c == code))
        }
        _ => false,
    }
}

/// PostgreSQL SQLSTATEs that mean the server cannot serve us now, whatever we sent. An entry of
/// two characters is a whole class. Everything else (syntax, constraint, type errors) is a bug.
const POSTGRES_UNAVAILABLE: &[(&str, &str)] = &[
    ("08", "connection exception: the connection could not be made or broke"),
    ("53", "insufficient resources: too many connections, out of memory or disk"),
    ("57P01", "admin shutdown: the server is stopping"),
    ("57P02", "crash shutdown: another backend crashed and the server is restarting"),
    ("57P03", "cannot connect now: the server is starting up or recovering"),
    ("57P04", "database dropped"),
    ("57014", "query canceled: the statement timeout cut it (a lock held too long, or overload)"),
    ("3D000", "invalid catalog name: the database is missing (renamed or dropped)"),
    ("28000", "invalid authorization: the role is missing or may not connect"),
    ("28P01", "invalid password: the role's password changed"),
];

/// SQLite primary result codes (the low byte of the extended code) that mean another process
/// holds the file: a retry later succeeds.
const SQLITE_UNAVAILABLE: &[(i64, &str)] = &[
    (5, "SQLITE_BUSY: another connection holds the write lock past the busy timeout"),
    (6, "SQLITE_LOCKED: a table is locked by another connection"),
];

/// How a session that was open turns out ended: the server ended it, or its socket broke. Not
/// a connection that could not be made (a refused or failed connect breaks nothing that is
/// pooled), nor a statement refused or cut.
const POSTGRES_SESSION_ENDED: &[&str] = &["57P01", "57P02"];
const MYSQL_SESSION_ENDED: &[u16] = &[1053, 1927];
const SOCKET_ENDED: &[std::io::ErrorKind] = &[
    std::io::ErrorKind::UnexpectedEof,
    std::io::ErrorKind::ConnectionReset,
    std::io::ErrorKind::ConnectionAborted,
    std::io::ErrorKind::BrokenPipe,
];

/// Whether `err` came over a session that has ended (the codes' meanings are in the
/// `*_UNAVAILABLE` tables).
fn is_broken_connection(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(io) => SOCKET_ENDED.contains(&io.kind()),
        sqlx::Error::Database(db) => match mysql_number(err) {
            Some(number) => MYSQL_SESSION_ENDED.contains(&number),
            None => db.code().is_some_and(|code| POSTGRES_SESSION_ENDED.contains(&&*code)),
        },
        _ => false,
    }
}

/// Whether `err` means the database is unavailable rather than the statement wrong.
fn is_outage(err: &sqlx::Error) -> bool {
    match err {
        // The driver's own view: the socket, TLS, the pool or its worker.
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => {
            if let Some(number) = mysql_number(err) {
                return MYSQL_UNAVAILABLE.iter().any(|(c, _)| *c == number);
            }
            let Some(code) = db.code() else { return false };
            if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                let primary = code.parse::<i64>().map_or(-1, |c| c & 0xff);
                SQLITE_UNAVAILABLE.iter().any(|(c, _)| *c == primary)
            } else {
                POSTGRES_UNAVAILABLE.iter().any(|(c, _)| code.starts_with(c))
            }
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_entries_are_classes_or_whole_codes() {
        for (code, why) in POSTGRES_UNAVAILABLE {
            assert!(code.len() == 2 || code.len() == 5, "{code}: {why}");
        }
    }

    #[test]
    fn driver_failures_are_outages_and_decoding_failures_are_bugs() {
        assert!(is_outage(&sqlx::Error::PoolTimedOut));
        assert!(is_outage(&sqlx::Error::Io(std::io::ErrorKind::ConnectionReset.into())));
        assert!(!is_outage(&sqlx::Error::RowNotFound));
        assert!(!is_outage(&sqlx::Error::ColumnNotFound("x".into())));
    }

    #[test]
    fn a_broken_socket_is_a_broken_connection_and_a_full_pool_is_not() {
        let reset = DbError::from(sqlx::Error::Io(std::io::ErrorKind::ConnectionReset.into()));
        assert!(reset.broke_connection());
        assert!(!DbError::timed_out().broke_connection(), "no connection was had");
        let refused = sqlx::Error::Io(std::io::ErrorKind::ConnectionRefused.into());
        assert!(!DbError::from(refused).broke_connection(), "nothing pooled was broken");
        assert!(!DbError::from(sqlx::Error::RowNotFound).broke_connection());
    }
}
