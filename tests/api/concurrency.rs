//! Many clients acting at once: on one pair, the pair lock must leave exactly one row and exact
//! counts, whatever the interleaving; across pairs, writes that share a group (one transaction)
//! must each get their own verdict.

use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::TestApp;

backend_suite!(
    two_hundred_concurrent_follows_make_one_row,
    two_hundred_concurrent_toggles_leave_a_consistent_pair,
    concurrent_writes_of_many_pairs_each_get_their_own_verdict
);

async fn two_hundred_concurrent_follows_make_one_row(app: &TestApp) {
    let [a, b] = <[_; 2]>::try_from(app.actors(2).await).unwrap();
    let results = join_all((0..200).map(|i| {
        let (a, b) = (&a, &b);
        async move {
            if i % 2 == 0 {
                app.rest_follow(a, json!(b.id)).await.0
            } else {
                let body = app.gql_act(a, "followUser", json!(b.id)).await;
                assert_eq!(body["errors"], json!(null), "{body}");
                StatusCode::CREATED
            }
        }
    }))
    .await;
    assert!(results.iter().all(|s| *s == StatusCode::CREATED), "{results:?}");
    assert_eq!(app.database.relation_rows(a.id, b.id).await.len(), 1);
    assert_eq!(app.relation(a.id, b.id).await.unwrap().relation, 1);
    assert_eq!(app.counts(a.id).await, (1, 0));
    assert_eq!(app.counts(b.id).await, (0, 1));
}

async fn two_hundred_concurrent_toggles_leave_a_consistent_pair(app: &TestApp) {
    let [a, b] = <[_; 2]>::try_from(app.actors(2).await).unwrap();
    let target = b.id.to_string();
    let results = join_all((0..200).map(|i| {
        let (a, b, target) = (&a, &b, &target);
        async move {
            if i % 2 == 0 {
                app.rest_follow(a, json!(b.id)).await.0 == StatusCode::CREATED
            } else {
                app.rest_unfollow(a, target).await.0 == StatusCode::OK
            }
        }
    }))
    .await;
    assert!(results.iter().all(|ok| *ok), "every toggle acknowledged");
    let rows = app.database.relation_rows(a.id, b.id).await;
    assert_eq!(rows.len(), 1, "one row per pair");
    let follows = i64::from(rows[0].relation == 1);
    assert!(rows[0].relation <= 1);
    assert_eq!(app.counts(a.id).await, (follows, 0), "count equals the row");
    assert_eq!(app.counts(b.id).await, (0, follows));

    // After the burst, each acknowledged operation is the state that follows it.
    for (follow, expected) in [(true, 1), (false, 0), (true, 1)] {
        if follow {
            assert_eq!(app.rest_follow(&a, json!(b.id)).await.0, StatusCode::CREATED);
        } else {
            assert_eq!(app.rest_unfollow(&a, &target).await.0, StatusCode::OK);
        }
        assert_eq!(app.relation(a.id, b.id).await.unwrap().relation, expected);
        assert_eq!(app.counts(b.id).await, (0, expected));
    }
}

async fn concurrent_writes_of_many_pairs_each_get_their_own_verdict(app: &TestApp) {
    let users = app.actors(41).await;
    let (star, fans) = users.split_last().unwrap();
    let block = "mutation($t: ID!) { blockUser(target: $t) { target } }";
    for fan in &fans[..8] {
        let body = app.graphql(Some(star), block, json!({ "t": fan.id.to_string() })).await;
        assert_eq!(body["errors"], json!(null), "{body}");
    }
    for fan in &fans[8..12] {
        assert_eq!(app.rest_follow(fan, json!(star.id)).await.0, StatusCode::CREATED);
    }

    // At once: 8 follows of a user who blocked them, 4 blocks that undo follows, 20 new
    // follows and 8 follows of nobody.
    let verdicts = join_all(fans.iter().enumerate().map(|(i, fan)| async move {
        match i {
            8..12 => {
                let variables = json!({ "t": fan.id.to_string() });
                let body = app.graphql(Some(star), block, variables).await;
                if body["errors"].is_null() {
                    StatusCode::CREATED
                } else {
                    StatusCode::IM_A_TEAPOT
                }
            }
            32.. => app.rest_follow(fan, json!(9_000_000_000_i64 + fan.id)).await.0,
            _ => app.rest_follow(fan, json!(star.id)).await.0,
        }
    }))
    .await;
    let expected: Vec<StatusCode> = (0..40)
        .map(|i| match i {
            0..8 => StatusCode::FORBIDDEN,
            8..32 => StatusCode::CREATED,
            _ => StatusCode::NOT_FOUND,
        })
        .collect();
    assert_eq!(verdicts, expected);

    assert_eq!(app.counts(star.id).await, (0, 20), "only the 20 new follows stand");
    for fan in &fans[8..12] {
        assert_eq!(
            app.relation(fan.id, star.id).await.unwrap().relation,
            0,
            "unfollowed by the block"
        );
        assert_eq!(app.relation(star.id, fan.id).await.unwrap().relation, 2);
    }
    for fan in &fans[..8] {
        assert_eq!(app.relation(fan.id, star.id).await, None, "a refused follow writes nothing");
    }
    for fan in &fans[32..] {
        assert_eq!(
            app.database.rows_touching(fan.id).await,
            0,
            "a follow of nobody writes nothing"
        );
    }
}
