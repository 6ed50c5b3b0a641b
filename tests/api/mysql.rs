//! SPEC §11 beyond the behaviour suite (which runs on MySQL too): `migrate` on the legacy tables
//! as the legacy `init.sql` made them changes no legacy column and adds only the service's own
//! objects (two indexes, its counters table and their triggers), refuses tables it cannot use
//! with an error naming what is wrong, rows the legacy app writes (its defaults: the server's
//! local time, whole seconds) read back at their times, and a deadlock InnoDB resolves against
//! the service's write is rerun, never answered.

use std::time::{Duration, Instant};

use followgraph::app;
use followgraph::config::Config;
use serde_json::json;
use sqlx::{Connection, MySqlConnection};

use crate::helpers::{settings_for, Backend, TestApp, TestDatabase};

/// Every column of the legacy tables with its full type, nullability and default, and every
/// index with its columns, as `information_schema` describes them.
async fn schema(database: &TestDatabase) -> (Vec<String>, Vec<String>) {
    let columns = database
        .strings(
            "SELECT CONCAT_WS(' ', table_name, column_name, column_type, is_nullable, \
             IFNULL(column_default, '-'), extra) FROM information_schema.columns \
             WHERE table_schema = DATABASE() AND table_name IN ('user_basic', 'user_relation') \
             ORDER BY table_name, ordinal_position",
        )
        .await;
    let indexes = database
        .strings(
            "SELECT CONCAT_WS(' ', table_name, index_name, non_unique, \
             GROUP_CONCAT(column_name ORDER BY seq_in_index)) FROM information_schema.statistics \
             WHERE table_schema = DATABASE() AND table_name IN ('user_basic', 'user_relation') \
             GROUP BY table_name, index_name, non_unique \
             ORDER BY table_name, index_name",
        )
        .await;
    (columns, indexes)
}

/// What `followgraph migrate` (and every start) does to the database, as an error's text.
async fn migrate(database: &TestDatabase) -> Result<(), String> {
    let config = Config::from_settings(&settings_for(database.url())).expect("config");
    app::build(&config).await.map(drop).map_err(|e| e.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_changes_no_legacy_column_and_adds_only_its_own_indexes() {
    let Some(database) = TestDatabase::create(Backend::Mysql).await else { return };
    let (columns, indexes) = schema(&database).await;
    migrate(&database).await.expect("the legacy tables are usable");
    let (after, indexes_after) = schema(&database).await;
    assert_eq!(after, columns, "no legacy column, type or default changed");
    let added: Vec<&String> = indexes_after.iter().filter(|i| !indexes.contains(i)).collect();
    assert_eq!(
        added,
        [
            "user_relation followgraph_by_target 1 target_user_id,relation,update_time,user_id",
            "user_relation followgraph_by_user 1 user_id,relation,update_time,target_user_id",
        ],
        "only the service's own indexes"
    );
    assert!(indexes.iter().all(|i| indexes_after.contains(i)), "no legacy index dropped");
    let tables = database
        .strings(
            "SELECT CAST(table_name AS CHAR) FROM information_schema.tables \
             WHERE table_schema = DATABASE() ORDER BY table_name",
        )
        .await;
    assert_eq!(
        tables,
        [
            "followgraph_accounts",
            "followgraph_cache_repair",
            "followgraph_counts",
            "followgraph_events",
            "followgraph_first_count",
            "followgraph_follow_requests",
            "user_basic",
            "user_relation",
            "_sqlx_migrations"
        ],
        "its own tables: account settings, the cache's repair list, the counters, the event \
         outbox, the first count's progress, follow requests and sqlx's"
    );
    let triggers = database
        .strings(
            "SELECT CONCAT_WS(' ', CAST(trigger_name AS CHAR), event_manipulation, \
             CAST(event_object_table AS CHAR)) FROM information_schema.triggers \
             WHERE trigger_schema = DATABASE() ORDER BY trigger_name",
        )
        .await;
    assert_eq!(
        triggers,
        [
            "followgraph_count_deletes DELETE user_relation",
            "followgraph_count_inserts INSERT user_relation",
            "followgraph_count_updates UPDATE user_relation",
        ],
        "its triggers keep its counts"
    );
    migrate(&database).await.expect("a second migrate changes nothing and succeeds");
    assert_eq!(schema(&database).await, (after, indexes_after));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_names_what_makes_the_legacy_tables_unusable() {
    let Some(database) = TestDatabase::create(Backend::Mysql).await else { return };
    database.run("ALTER TABLE user_relation DROP COLUMN update_time").await;
    database.run("ALTER TABLE user_basic MODIFY user_name INT NOT NULL").await;
    database.run("ALTER TABLE user_relation DROP INDEX user_target").await;
    let error = migrate(&database).await.expect_err("refused");
    for named in [
        "user_relation.update_time is missing",
        "user_basic.user_name is int",
        "UNIQUE KEY (user_id, target_user_id)",
    ] {
        assert!(error.contains(named), "{named} in: {error}");
    }
    let (_, indexes) = schema(&database).await;
    assert!(!indexes.iter().any(|i| i.contains("followgraph_")), "nothing added: {indexes:?}");

    let Some(empty) = TestDatabase::create(Backend::Mysql).await else { return };
    empty.run("DROP TABLE user_relation").await;
    let error = migrate(&empty).await.expect_err("refused");
    assert!(error.contains("user_relation.user_id is missing"), "{error}");
}

/// A follow the legacy app writes takes the table's defaults: `CURRENT_TIMESTAMP` in the
/// server's local time, whole seconds. The service reads it at that time, in UTC.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follow_written_by_the_legacy_app_reads_back_at_its_time() {
    let Some(app) = TestApp::on(Backend::Mysql).spawn().await else { return };
    let [a, b] = <[_; 2]>::try_from(app.actors(2).await).unwrap();
    let insert = "INSERT INTO user_relation (user_id, target_user_id, relation) VALUES (?, ?, 1)";
    app.database.run_with(insert, &[a.id, b.id]).await;
    let expected = app.database.relation_rows(a.id, b.id).await[0].update_time;
    let query = "{ following(first: 5) { edges { followedAt node { id } } } }";
    let body = app.graphql(Some(&a), query, json!({})).await;
    let edge = &body["data"]["following"]["edges"][0];
    assert_eq!(edge["node"]["id"], json!(b.id.to_string()), "{body}");
    let at = chrono::DateTime::parse_from_rfc3339(edge["followedAt"].as_str().unwrap()).unwrap();
    assert_eq!(at, expected);
    let unix = app
        .database
        .strings(&format!(
            "SELECT CAST(UNIX_TIMESTAMP(update_time) AS CHAR) FROM user_relation \
             WHERE user_id = {} AND target_user_id = {}",
            a.id, b.id
        ))
        .await;
    assert_eq!(unix, [at.timestamp().to_string()], "the server's own reading of its local time");
    app.teardown().await;
}

/// The deadlocks InnoDB has detected since the server started (a counter on by default in
/// MariaDB and MySQL 8 alike).
async fn deadlocks(database: &TestDatabase) -> i64 {
    let sql = "SELECT CAST(count AS CHAR) FROM information_schema.innodb_metrics \
               WHERE name = 'lock_deadlocks'";
    database.strings(sql).await[0].parse().expect("lock_deadlocks")
}

/// Waits until the service's upsert into `user_relation` is seen executing twice, 100 ms
/// apart: it takes a millisecond unless it waits for a row lock. (MariaDB's `innodb_trx` and
/// `innodb_lock_waits` do not reliably list a statement waiting inside `INSERT … SELECT`; were
/// this wrong, no deadlock would follow and the test would fail.)
async fn until_the_upsert_waits(database: &TestDatabase) {
    let running = "SELECT CAST(COUNT(*) AS CHAR) FROM information_schema.processlist \
                   WHERE db = DATABASE() AND info LIKE 'INSERT INTO user_relation%'";
    let deadline = Instant::now() + Duration::from_secs(4);
    let mut seen = 0;
    while seen < 2 {
        assert!(Instant::now() < deadline, "the service's write never waited for the row");
        seen = if database.strings(running).await == ["1"] { seen + 1 } else { 0 };
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A block writes both rows of its pair in one statement, forward first. Another writer holds
/// the backward row, the block takes the forward one and waits, and the other writer then asks
/// for the forward row: a real deadlock. InnoDB rolls back the smaller transaction, so the other
/// writer is made the larger (rows of its own first); the service's group runs again with its
/// pairs still held, and the block succeeds as if nothing had happened.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deadlock_with_another_writer_is_rerun_and_never_answered() {
    let Some(app) = TestApp::on(Backend::Mysql).spawn().await else { return };
    let [a, b] = <[_; 2]>::try_from(app.actors(2).await).unwrap();
    let now = chrono::Utc::now();
    app.database.insert_follow(a.id, b.id, now).await;
    app.database.insert_follow(b.id, a.id, now).await;
    let before = deadlocks(&app.database).await;

    let mut other = MySqlConnection::connect(app.database.url()).await.unwrap();
    sqlx::query("BEGIN").execute(&mut other).await.unwrap();
    let rows: Vec<String> =
        (1..=50).map(|i| format!("({}, {}, 1)", a.id + 500, a.id + 600 + i)).collect();
    let filler = format!(
        "INSERT INTO user_relation (user_id, target_user_id, relation) VALUES {}",
        rows.join(", ")
    );
    sqlx::query(&filler).execute(&mut other).await.unwrap();
    let lock = "SELECT 1 FROM user_relation WHERE user_id = ? AND target_user_id = ? FOR UPDATE";
    sqlx::query(lock).bind(b.id).bind(a.id).execute(&mut other).await.unwrap();

    let block = "mutation($t: ID!) { blockUser(target: $t) { target } }";
    let blocking = app.graphql(Some(&a), block, json!({ "t": b.id }));
    let (body, ()) = tokio::join!(blocking, async {
        until_the_upsert_waits(&app.database).await;
        let update = "UPDATE user_relation SET relation = relation \
                      WHERE user_id = ? AND target_user_id = ?";
        let taken = sqlx::query(update).bind(a.id).bind(b.id).execute(&mut other).await;
        taken.expect("InnoDB rolls back the smaller transaction, the service's");
        sqlx::query("COMMIT").execute(&mut other).await.unwrap();
    });

    assert_eq!(body["errors"], json!(null), "{body}");
    assert!(deadlocks(&app.database).await > before, "InnoDB detected the deadlock");
    assert_eq!(app.relation(a.id, b.id).await.unwrap().relation, 2);
    assert_eq!(app.relation(b.id, a.id).await.unwrap().relation, 0);
    assert_eq!(app.database.rows_touching(a.id + 500).await, 50, "the other writer committed");
    app.teardown().await;
}
