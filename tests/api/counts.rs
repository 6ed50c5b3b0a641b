//! SPEC §12: counts are read from the service's counters (`followgraph_counts`), which the
//! database keeps for every change of `user_relation`, whoever makes it: the legacy app's
//! one-row inserts, updates and deletes, and a bulk import of many rows in one statement. (The
//! teardown of every test compares each user's counters with its rows as well.)

use chrono::Utc;

use crate::helpers::TestApp;

backend_suite!(rows_written_beside_the_service_are_counted_at_once);

async fn rows_written_beside_the_service_are_counted_at_once(app: &TestApp) {
    let [a, b, star] = <[_; 3]>::try_from(app.actors(3).await).unwrap();
    let db = &app.database;
    let pair = format!("user_id = {} AND target_user_id = {}", a.id, star.id);

    db.insert_follow(a.id, star.id, Utc::now()).await;
    assert_eq!((db.stored_counts(a.id).await, db.stored_counts(star.id).await), ((1, 0), (0, 1)));
    db.run(&format!("UPDATE user_relation SET relation = 0 WHERE {pair}")).await;
    assert_eq!(db.stored_counts(star.id).await, (0, 0), "an unfollow");
    db.run(&format!("UPDATE user_relation SET relation = 2 WHERE {pair}")).await;
    assert_eq!(db.stored_counts(star.id).await, (0, 0), "a block is no follow");
    db.run(&format!("UPDATE user_relation SET relation = 1 WHERE {pair}")).await;
    assert_eq!(db.stored_counts(star.id).await, (0, 1), "a follow again");
    db.run(&format!("DELETE FROM user_relation WHERE {pair}")).await;
    assert_eq!((db.stored_counts(a.id).await, db.stored_counts(star.id).await), ((0, 0), (0, 0)));

    // Many followers of one user in one statement: one counter, moved once per statement where
    // the backend has statement triggers, and exact everywhere.
    let rows: Vec<String> =
        (1..=200).map(|i| format!("({}, {}, 1)", star.id + 100 + i, star.id)).collect();
    let insert = "INSERT INTO user_relation (user_id, target_user_id, relation) VALUES";
    db.run(&format!("{insert} {}", rows.join(", "))).await;
    assert_eq!(db.stored_counts(star.id).await, (0, 200));

    app.gql_act(&b, "followUser", serde_json::json!(star.id)).await;
    app.gql_act(&a, "followUser", serde_json::json!(b.id)).await;
    assert_eq!(app.counts(star.id).await, (0, 201), "read through the service");
    assert_eq!(app.counts(b.id).await, (1, 1));
}

suite!([sqlite, postgres, mysql] recount_finds_nothing_on_a_consistent_database_and_repairs_what_differs);

/// `followgraph recount` on a consistent database finds no difference; after counters are
/// changed, removed and invented behind the triggers' back, it finds exactly those and sets
/// them to the rows.
async fn recount_finds_nothing_on_a_consistent_database_and_repairs_what_differs(app: &TestApp) {
    let [a, b, star] = <[_; 3]>::try_from(app.actors(3).await).unwrap();
    app.gql_act(&a, "followUser", serde_json::json!(star.id)).await;
    app.gql_act(&b, "followUser", serde_json::json!(star.id)).await;
    app.gql_act(&star, "followUser", serde_json::json!(a.id)).await;
    let db = &app.database;
    db.insert_follow(b.id, a.id, Utc::now()).await;
    assert_eq!(recount(app).await, 0, "a consistent database");

    let nobody = star.id + 1_000;
    db.run(&format!("UPDATE followgraph_counts SET followers = 99 WHERE user_id = {}", a.id)).await;
    db.run(&format!("DELETE FROM followgraph_counts WHERE user_id = {}", star.id)).await;
    db.run(&format!("INSERT INTO followgraph_counts (user_id, following) VALUES ({nobody}, 5)"))
        .await;
    assert_eq!(recount(app).await, 3, "one changed, one removed, one invented");
    db.assert_counts_match(&[a.id, b.id, star.id, nobody]).await;
    assert_eq!(app.counts(star.id).await, (1, 2), "read through the service");
    assert_eq!(recount(app).await, 0, "nothing left to repair");
}

suite!([sqlite, postgres, mysql] a_recount_beside_writers_leaves_every_counter_exact);

/// A recount of several batches while the service and a legacy-style writer (one-row inserts
/// and deletes) keep changing the rows of the users it counts: no batch may set a counter from
/// a count that misses a committed change or sees one twice, so a second recount after the
/// writers stop finds nothing to repair.
async fn a_recount_beside_writers_leaves_every_counter_exact(app: &TestApp) {
    let actors = app.actors(6).await;
    let star = actors[0].id;
    let db = &app.database;
    // 3,000 followers of the star, ids above the actors': three batches and more.
    let first = star + 100;
    let rows: Vec<String> = (0..3_000).map(|i| format!("({}, {star}, 1)", first + i)).collect();
    db.run(&format!(
        "INSERT INTO user_relation (user_id, target_user_id, relation) VALUES {}",
        rows.join(", ")
    ))
    .await;

    let stop = std::sync::atomic::AtomicBool::new(false);
    let legacy_writes = async {
        let mut i = 0;
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            let follower = first + (i * 7919) % 3_000;
            db.run(&format!(
                "DELETE FROM user_relation WHERE user_id = {follower} AND target_user_id = {star}"
            ))
            .await;
            db.insert_follow(follower, star, Utc::now()).await;
            db.insert_follow(star + 5_000 + i, follower, Utc::now()).await;
            i += 1;
        }
    };
    let service_writes = async {
        let mut round = 0;
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            let mutation = if round % 2 == 0 { "followUser" } else { "unfollowUser" };
            for actor in &actors[1..] {
                app.gql_act(actor, mutation, serde_json::json!(star)).await;
            }
            round += 1;
        }
    };
    let counted = async {
        let output = crate::helpers::run_command(app, &["recount"]).await;
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        output
    };
    let (output, (), ()) = tokio::join!(counted, legacy_writes, service_writes);
    assert!(output.starts_with("recounted "), "{output}");
    assert_eq!(recount(app).await, 0, "the first recount left differences: {output}");
}

suite!([sqlite, postgres, mysql] the_first_count_resumes_after_its_last_batch);

/// The migration that creates the counters leaves their first count to `migrate`, which counts
/// a batch of users per transaction and records how far it got: a count cut off resumes after
/// the last id it recorded, counts every user above it, and then marks itself done.
async fn the_first_count_resumes_after_its_last_batch(app: &TestApp) {
    let [low, high, star] = <[_; 3]>::try_from(app.actors(3).await).unwrap();
    let (low, high, star) = (low.id.min(high.id), low.id.max(high.id), star.id);
    let db = &app.database;
    for follower in [low, high] {
        db.insert_follow(follower, star, Utc::now()).await;
    }
    db.insert_follow(star, high, Utc::now()).await;
    // As if the count had been cut off after `low`: counters above it were never written.
    let above = low.min(star);
    db.run(&format!("DELETE FROM followgraph_counts WHERE user_id > {above}")).await;
    db.run(&format!("UPDATE followgraph_counts SET following = 42 WHERE user_id = {above}")).await;
    db.run(&format!("INSERT INTO followgraph_first_count (after_user_id) VALUES ({above})")).await;

    crate::helpers::run_command(app, &["migrate"]).await;

    let others: Vec<i64> = [low, high, star].into_iter().filter(|&u| u != above).collect();
    db.assert_counts_match(&others).await;
    assert_eq!(
        db.stored_counts(above).await.0,
        42,
        "the users before the cursor stay as they were"
    );
    let left = db.strings("SELECT 'left' FROM followgraph_first_count").await;
    assert!(left.is_empty(), "the first count is marked done");
    assert_eq!(recount(app).await, 1, "the one counter changed before the cursor");
}

/// Runs `followgraph recount` and returns the differences it says it repaired.
async fn recount(app: &TestApp) -> u64 {
    let output = crate::helpers::run_command(app, &["recount"]).await;
    let repaired = output.split(": ").nth(1).and_then(|rest| rest.split(' ').next());
    repaired.and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("recount said {output:?}"))
}
