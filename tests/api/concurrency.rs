//! Many clients acting on one pair at once: the pair lock must leave exactly one row and exact
//! counts, whatever the interleaving.

use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::json;

backend_suite! {
    async fn two_hundred_concurrent_follows_make_one_row(app) {
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
        assert_eq!(app.relation_rows(a.id, b.id).await.len(), 1);
        assert_eq!(app.relation(a.id, b.id).await.unwrap().relation, 1);
        assert_eq!(app.counts(a.id).await, (1, 0));
        assert_eq!(app.counts(b.id).await, (0, 1));
    }

    async fn two_hundred_concurrent_toggles_leave_a_consistent_pair(app) {
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
        let rows = app.relation_rows(a.id, b.id).await;
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
            assert_eq!(app.counts(b.id).await, (0, i64::from(expected)));
        }
    }
}
