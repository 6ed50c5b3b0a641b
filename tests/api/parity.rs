//! REST and GraphQL are two doors to one service layer: the same operation has the same effect
//! and the same verdict through either.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{error_code, TestApp};

backend_suite!(rest_and_graphql_give_the_same_verdicts_and_rows);

async fn rest_and_graphql_give_the_same_verdicts_and_rows(app: &TestApp) {
    let [a, b, c] = <[_; 3]>::try_from(app.actors(3).await).unwrap();
    let unknown = a.id + 600_000_000;
    let cases = [
        (a.id, StatusCode::BAD_REQUEST, Some("BAD_USER_INPUT")),
        (unknown, StatusCode::NOT_FOUND, Some("NOT_FOUND")),
        (b.id, StatusCode::CREATED, None),
        (b.id, StatusCode::CREATED, None),
    ];
    for (target, status, code) in cases {
        let (rest, _) = app.rest_follow(&a, json!(target)).await;
        let gql =
            app.gql_act(&c, "followUser", json!(if target == a.id { c.id } else { target })).await;
        assert_eq!(rest, status, "REST on {target}");
        assert_eq!(error_code(&gql), code, "GraphQL on {target}: {gql}");
    }
    let via_rest = app.relation(a.id, b.id).await.unwrap();
    let via_graphql = app.relation(c.id, b.id).await.unwrap();
    assert_eq!((via_rest.relation, via_graphql.relation), (1, 1));
    assert_eq!(app.counts(b.id).await, (0, 2));

    assert_eq!(app.rest_unfollow(&a, &b.id.to_string()).await.0, StatusCode::OK);
    let gql = app.gql_act(&c, "unfollowUser", json!(b.id)).await;
    assert_eq!(gql["data"]["unfollowUser"]["user"]["followersCount"], json!(0), "{gql}");
    assert_eq!(app.relation(a.id, b.id).await.unwrap().relation, 0);
    assert_eq!(app.relation(c.id, b.id).await.unwrap().relation, 0);
}
