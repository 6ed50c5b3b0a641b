//! The storage layer's one error type.

/// Why a storage call failed. The split matters to callers: an outage is retryable and answers
/// "service unavailable"; anything else is a bug or a broken schema and answers "internal".
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database unavailable")]
    Unavailable(#[source] sqlx::Error),
    #[error("database query failed")]
    Query(#[source] sqlx::Error),
    #[error("database migration failed")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("invalid database url: {0}")]
    Url(String),
}

impl DbError {
    /// What a request gets when it waited for the database longer than a pool acquire may.
    pub fn timed_out() -> Self {
        DbError::Unavailable(sqlx::Error::PoolTimedOut)
    }
}

impl From<sqlx::Error> for DbError {
    fn from(err: sqlx::Error) -> Self {
        if is_outage(&err) {
            DbError::Unavailable(err)
        } else {
            DbError::Query(err)
        }
    }
}

fn is_outage(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        // Class 08 is "connection exception", 57P0x "operator intervention" (shutdown, crash),
        // 53xxx "insufficient resources", 57014 a statement cut by the statement timeout (a
        // lock or the server too slow); SQLite reports a busy or locked file as 5 and 6.
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            code.starts_with("08")
                || code.starts_with("57P0")
                || code == "57014"
                || code.starts_with("53")
                || code == "5"
                || code == "6"
        }),
        _ => false,
    }
}
