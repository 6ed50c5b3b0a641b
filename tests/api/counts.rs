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
