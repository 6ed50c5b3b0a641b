//! SPEC §11 side by side: the legacy Flask views (`bench/legacy/app.py` under gunicorn, on
//! PyMySQL or psycopg2) and the service on one database and one Redis. A follow or unfollow
//! taken by either shows at once in the other's lists and counts, and the legacy keys stay
//! equal to the rows (the suite's teardown compares every cached zset and count as well).

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::cache::read_following;
use crate::helpers::{LegacyApp, TestApp};

suite!([mysql_redis, postgres_redis] a_write_by_either_shows_at_once_in_the_others_lists_and_counts);

/// The ids of a legacy list's results, and each one's `(fans_count, mutual_follow)`.
fn legacy_results(data: &Value) -> Vec<(i64, (i64, bool))> {
    let results = data["results"].as_array().expect("results");
    let result = |r: &Value| {
        let id = r["id"].as_i64().expect("id");
        (id, (r["fans_count"].as_i64().expect("fans_count"), r["mutual_follow"] == json!(true)))
    };
    results.iter().map(result).collect()
}

/// The service's followings of `user` in its list order, checked against the rows' order.
async fn service_following(app: &TestApp, user: &crate::helpers::Actor) -> Vec<i64> {
    let (listed, _) = read_following(app, user).await;
    let mut rows = app.database_list(user.id, true).await;
    rows.sort_by(|x, y| y.1.cmp(&x.1).then(x.0.cmp(&y.0)));
    assert_eq!(listed, rows, "the service lists the rows newest first, ties by id");
    listed.into_iter().map(|(id, _)| id).collect()
}

async fn a_write_by_either_shows_at_once_in_the_others_lists_and_counts(app: &TestApp) {
    let Some(legacy) = LegacyApp::start(app).await else { return };
    let [a, b, c, d] = <[_; 4]>::try_from(app.actors(4).await).unwrap();

    // Nothing is cached yet: the legacy app's follow is read from the rows.
    assert_eq!(
        legacy.follow(&a, b.id).await,
        (StatusCode::CREATED, json!({ "message": "OK", "data": { "target": b.id } }))
    );
    assert_eq!(service_following(app, &a).await, [b.id]);
    assert_eq!(app.counts(b.id).await, (0, 1));

    // The service's follow, and a follow back, in the legacy app's list, counts and flags.
    assert_eq!(app.rest_follow(&a, json!(c.id)).await.0, StatusCode::CREATED);
    assert_eq!(app.rest_follow(&c, json!(a.id)).await.0, StatusCode::CREATED);
    let listed = legacy.followings(&a).await;
    assert_eq!(listed["total_count"], json!(2), "{listed}");
    let results: BTreeSet<_> = legacy_results(&listed).into_iter().collect();
    assert_eq!(results, BTreeSet::from([(b.id, (1, false)), (c.id, (1, true))]));

    // Both services have filled a's lists now: the legacy follow lands in the cached zset, and
    // the service's cached read shows it.
    assert!(app.cached_list(&format!("user:{}:following", a.id)).await.is_some());
    assert_eq!(legacy.follow(&a, d.id).await.0, StatusCode::CREATED);
    let following = service_following(app, &a).await;
    assert_eq!(following.iter().collect::<BTreeSet<_>>(), BTreeSet::from([&b.id, &c.id, &d.id]));
    assert_eq!(app.counts(a.id).await, (3, 1));
    assert_eq!(app.counts(d.id).await, (0, 1));

    // Unfollows both ways.
    assert_eq!(app.rest_unfollow(&a, &b.id.to_string()).await.0, StatusCode::OK);
    assert_eq!(legacy.unfollow(&a, c.id).await, StatusCode::NO_CONTENT);
    let listed = legacy.followings(&a).await;
    assert_eq!(
        (listed["total_count"].clone(), legacy_results(&listed)),
        (json!(1), vec![(d.id, (1, false))])
    );
    assert_eq!(service_following(app, &a).await, [d.id]);
    assert_eq!(app.counts(a.id).await, (1, 1));
    assert_eq!(app.counts(b.id).await, (0, 0));
    assert_eq!(app.counts(c.id).await, (1, 0));
    app.assert_cache_matches(&[a.id, b.id, c.id, d.id]).await;
}
