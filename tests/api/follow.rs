//! The follow rules of SPEC §4, through both transports, with the rows they leave behind.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{error_code, TestApp};

backend_suite!(
    follow_writes_one_follow_row_and_counts_it,
    following_twice_changes_nothing_and_succeeds,
    unfollow_keeps_the_row_with_relation_zero,
    unfollowing_twice_or_never_followed_changes_nothing,
    following_self_is_bad_input_and_writes_nothing,
    following_an_unknown_user_is_not_found_and_writes_nothing,
    a_bad_target_id_is_refused_in_the_legacy_shape
);

async fn follow_writes_one_follow_row_and_counts_it(app: &TestApp) {
    let [a, b] = <[_; 2]>::try_from(app.actors(2).await).unwrap();
    let body = app.gql_act(&a, "followUser", json!(b.id.to_string())).await;
    assert_eq!(body["errors"], json!(null), "{body}");
    let payload = &body["data"]["followUser"];
    assert_eq!(payload["target"], json!(b.id.to_string()));
    assert_eq!(payload["user"]["followersCount"], json!(1));
    assert_eq!(payload["user"]["viewerIsFollowing"], json!(true));

    let row = app.relation(a.id, b.id).await.expect("a row");
    assert_eq!(row.relation, 1);
    assert_eq!(row.create_time, row.update_time);
    assert!(app.relation(b.id, a.id).await.is_none(), "no reverse row");
    assert_eq!(app.counts(a.id).await, (1, 0));
    assert_eq!(app.counts(b.id).await, (0, 1));
}

async fn following_twice_changes_nothing_and_succeeds(app: &TestApp) {
    let [a, b] = <[_; 2]>::try_from(app.actors(2).await).unwrap();
    assert_eq!(app.rest_follow(&a, json!(b.id)).await.0, StatusCode::CREATED);
    let first = app.relation(a.id, b.id).await.expect("a row");

    let (status, body) = app.rest_follow(&a, json!(b.id)).await;
    assert_eq!(
        (status, body),
        (StatusCode::CREATED, json!({"message": "OK", "data": {"target": b.id}}))
    );
    let again = app.gql_act(&a, "followUser", json!(b.id)).await;
    assert_eq!(again["data"]["followUser"]["user"]["followersCount"], json!(1), "{again}");

    assert_eq!(app.relation(a.id, b.id).await, Some(first), "row untouched by repeats");
    assert_eq!(app.counts(b.id).await, (0, 1));
}

async fn unfollow_keeps_the_row_with_relation_zero(app: &TestApp) {
    let [a, b] = <[_; 2]>::try_from(app.actors(2).await).unwrap();
    app.rest_follow(&a, json!(b.id)).await;
    let followed = app.relation(a.id, b.id).await.expect("a row");

    tokio::time::sleep(app.database.time_step()).await;
    let (status, body) = app.rest_unfollow(&a, &b.id.to_string()).await;
    assert_eq!((status, body), (StatusCode::OK, json!({"message": "OK"})));
    let row = app.relation(a.id, b.id).await.expect("row kept");
    assert_eq!(row.relation, 0);
    assert_eq!(row.create_time, followed.create_time);
    assert!(row.update_time > followed.update_time, "update_time moves on unfollow");
    assert_eq!(app.counts(a.id).await, (0, 0));
    assert_eq!(app.counts(b.id).await, (0, 0));

    tokio::time::sleep(app.database.time_step()).await;
    let refollow = app.gql_act(&a, "followUser", json!(b.id)).await;
    assert_eq!(refollow["errors"], json!(null), "{refollow}");
    let back = app.relation(a.id, b.id).await.expect("same row");
    assert_eq!((back.relation, back.create_time), (1, followed.create_time));
    assert!(back.update_time > row.update_time);
}

async fn unfollowing_twice_or_never_followed_changes_nothing(app: &TestApp) {
    let [a, b] = <[_; 2]>::try_from(app.actors(2).await).unwrap();
    let never = app.gql_act(&a, "unfollowUser", json!(b.id)).await;
    assert_eq!(never["data"]["unfollowUser"]["user"]["viewerIsFollowing"], json!(false), "{never}");
    assert!(app.relation(a.id, b.id).await.is_none(), "nothing to undo, nothing written");

    app.rest_follow(&a, json!(b.id)).await;
    assert_eq!(app.rest_unfollow(&a, &b.id.to_string()).await.0, StatusCode::OK);
    let once = app.relation(a.id, b.id).await;
    assert_eq!(app.rest_unfollow(&a, &format!("{}/", b.id)).await.0, StatusCode::OK);
    let twice = app.gql_act(&a, "unfollowUser", json!(b.id.to_string())).await;
    assert_eq!(twice["errors"], json!(null), "{twice}");
    assert_eq!(app.relation(a.id, b.id).await, once);
    assert_eq!(app.counts(b.id).await, (0, 0));
}

async fn following_self_is_bad_input_and_writes_nothing(app: &TestApp) {
    let [a] = <[_; 1]>::try_from(app.actors(1).await).unwrap();
    let body = app.gql_act(&a, "followUser", json!(a.id)).await;
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{body}");
    let (status, body) = app.rest_follow(&a, json!(a.id)).await;
    assert_eq!(
        (status, body),
        (StatusCode::BAD_REQUEST, json!({"message": "User cannot follow self."}))
    );
    assert_eq!(app.database.rows_touching(a.id).await, 0);
}

async fn following_an_unknown_user_is_not_found_and_writes_nothing(app: &TestApp) {
    let [a] = <[_; 1]>::try_from(app.actors(1).await).unwrap();
    let nobody = a.id + 500_000_000;
    let body = app.gql_act(&a, "followUser", json!(nobody)).await;
    assert_eq!(error_code(&body), Some("NOT_FOUND"), "{body}");
    let (status, body) = app.rest_follow(&a, json!(nobody)).await;
    assert_eq!((status, body), (StatusCode::NOT_FOUND, json!({"message": "User does not exist."})));
    let (status, _) = app.rest_unfollow(&a, &nobody.to_string()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(app.database.rows_touching(a.id).await, 0);
}

async fn a_bad_target_id_is_refused_in_the_legacy_shape(app: &TestApp) {
    let [a] = <[_; 1]>::try_from(app.actors(1).await).unwrap();
    let invalid = json!({"message": {"target": "Invalid target user id."}});
    for target in
        [json!("+12"), json!("12.0"), json!(12.5), json!(" 12"), json!(0), json!(-3), json!("abc")]
    {
        let (status, body) = app.rest_follow(&a, target.clone()).await;
        assert_eq!((status, body), (StatusCode::BAD_REQUEST, invalid.clone()), "{target}");
        if target.is_f64() {
            continue; // not an ID at all: GraphQL's own variable check refuses it
        }
        let body = app.gql_act(&a, "followUser", target.clone()).await;
        assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{target}: {body}");
    }
    let header = format!("Bearer {}", a.token);
    let (status, body) = app.rest_follow_with(Some(&header), json!({})).await;
    let missing = json!({"message": {"target": "Missing required parameter in the JSON body"}});
    assert_eq!((status, body), (StatusCode::BAD_REQUEST, missing));
    let (status, body) = app.rest_unfollow(&a, "abc").await;
    assert_eq!((status, body), (StatusCode::BAD_REQUEST, invalid));
    assert_eq!(app.database.rows_touching(a.id).await, 0);
}
