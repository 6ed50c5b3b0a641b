//! SPEC §14's locked accounts, on every backend and set-up: a follow of a locked account is a
//! request (no row in `user_relation`, no count) until the account accepts it; requests end on
//! rejection, cancellation, an unfollow or a block; the target and the requester are told.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::events::{next_event, nothing_more, outbox, subscribe};
use crate::helpers::{error_code, Actor, TestApp};

backend_suite!(
    a_follow_of_a_locked_account_is_a_request_until_it_is_accepted,
    rejecting_cancelling_or_unfollowing_ends_a_request_without_a_follow,
    a_block_ends_requests_both_ways,
    unlocking_leaves_requests_and_a_new_follow_goes_through,
    a_request_tells_its_target_and_an_acceptance_tells_the_requester,
    a_legacy_follow_of_a_locked_account_answers_201_requested_and_writes_no_row,
    refusals_have_stable_codes_and_write_nothing,
    a_request_the_legacy_app_overtook_ends_when_next_met,
    locks_and_requests_of_a_list_cost_the_same_round_trips_for_1_10_and_50_users,
);

/// Runs a follow mutation of `actor` on `target` and returns its payload's `state`, failing
/// on an error.
async fn act(app: &TestApp, actor: &Actor, mutation: &str, target: i64) -> String {
    let body = try_act(app, actor, mutation, target).await;
    assert_eq!(body["errors"], json!(null), "{mutation}: {body}");
    body["data"][mutation]["state"].as_str().expect("state").to_owned()
}

async fn try_act(app: &TestApp, actor: &Actor, mutation: &str, target: i64) -> Value {
    let query = format!("mutation($t: ID!) {{ {mutation}(target: $t) {{ target state }} }}");
    app.graphql(Some(actor), &query, json!({ "t": target.to_string() })).await
}

/// Locks (or unlocks) `actor`'s account and returns what `setAccountLocked` says of it.
async fn set_locked(app: &TestApp, actor: &Actor, locked: bool) -> Value {
    let query = "mutation($l: Boolean!) { setAccountLocked(locked: $l) { id locked } }";
    let body = app.graphql(Some(actor), query, json!({ "l": locked })).await;
    assert_eq!(body["errors"], json!(null), "{body}");
    body["data"]["setAccountLocked"].clone()
}

/// The requests waiting for `viewer`: their total and the requesters' ids, newest first.
async fn requests(app: &TestApp, viewer: &Actor) -> (i64, Vec<i64>) {
    let query = "{ followRequests(first: 20) { totalCount edges { followedAt node { id } } } }";
    let body = app.graphql(Some(viewer), query, json!({})).await;
    assert_eq!(body["errors"], json!(null), "{body}");
    let page = &body["data"]["followRequests"];
    let ids = page["edges"].as_array().expect("edges").iter();
    let ids = ids.map(|e| e["node"]["id"].as_str().unwrap().parse().unwrap()).collect();
    (page["totalCount"].as_i64().expect("total"), ids)
}

/// How `viewer` sees `user`: `(locked, viewerHasRequestedFollow, viewerIsFollowing)`.
async fn seen_by(app: &TestApp, viewer: &Actor, user: i64) -> (bool, bool, bool) {
    let query =
        "query($id: ID!) { user(id: $id) { locked viewerHasRequestedFollow viewerIsFollowing } }";
    let body = app.graphql(Some(viewer), query, json!({ "id": user.to_string() })).await;
    let u = &body["data"]["user"];
    let flag = |name: &str| u[name].as_bool().unwrap_or_else(|| panic!("{name}: {body}"));
    (flag("locked"), flag("viewerHasRequestedFollow"), flag("viewerIsFollowing"))
}

async fn a_follow_of_a_locked_account_is_a_request_until_it_is_accepted(app: &TestApp) {
    let [a, b, c] = <[_; 3]>::try_from(app.actors(3).await).unwrap();
    assert_eq!(seen_by(app, &b, a.id).await, (false, false, false));
    assert_eq!(set_locked(app, &a, true).await, json!({ "id": a.id.to_string(), "locked": true }));
    assert_eq!(app.counts(a.id).await, (0, 0), "read once, so cached where there is a cache");

    assert_eq!(act(app, &b, "followUser", a.id).await, "REQUESTED");
    assert_eq!(act(app, &b, "followUser", a.id).await, "REQUESTED", "asking again");
    assert_eq!(act(app, &c, "followUser", a.id).await, "REQUESTED");
    assert!(app.relation(b.id, a.id).await.is_none(), "no row for a request");
    assert_eq!(app.counts(a.id).await, (0, 0));
    assert_eq!(app.counts(b.id).await, (0, 0));
    assert_eq!(seen_by(app, &b, a.id).await, (true, true, false));
    assert_eq!(requests(app, &a).await, (2, vec![c.id, b.id]), "newest first");
    assert_eq!(requests(app, &b).await, (0, vec![]));

    assert_eq!(act(app, &a, "acceptFollowRequest", b.id).await, "FOLLOWING");
    assert_eq!(app.relation(b.id, a.id).await.expect("row").relation, 1);
    assert_eq!(app.counts(a.id).await, (0, 1));
    assert_eq!(app.counts(b.id).await, (1, 0));
    assert_eq!(seen_by(app, &b, a.id).await, (true, false, true));
    assert_eq!(requests(app, &a).await, (1, vec![c.id]));
    assert_eq!(act(app, &a, "acceptFollowRequest", b.id).await, "FOLLOWING", "repeat");
    assert_eq!(act(app, &b, "followUser", a.id).await, "FOLLOWING", "a follower follows");
    assert_eq!(app.counts(a.id).await, (0, 1));
}

async fn rejecting_cancelling_or_unfollowing_ends_a_request_without_a_follow(app: &TestApp) {
    let [a, b, c, d] = <[_; 4]>::try_from(app.actors(4).await).unwrap();
    set_locked(app, &a, true).await;
    for asker in [&b, &c, &d] {
        act(app, asker, "followUser", a.id).await;
    }
    assert_eq!(act(app, &a, "rejectFollowRequest", b.id).await, "NONE");
    assert_eq!(act(app, &a, "rejectFollowRequest", b.id).await, "NONE", "repeat");
    assert_eq!(act(app, &c, "cancelFollowRequest", a.id).await, "NONE");
    assert_eq!(act(app, &d, "unfollowUser", a.id).await, "NONE");
    assert_eq!(requests(app, &a).await, (0, vec![]));
    for asker in [&b, &c, &d] {
        assert!(app.relation(asker.id, a.id).await.is_none());
        assert_eq!(seen_by(app, asker, a.id).await, (true, false, false));
    }
    assert_eq!(app.counts(a.id).await, (0, 0));
    assert_eq!(act(app, &b, "followUser", a.id).await, "REQUESTED", "may ask again");
    assert_eq!(requests(app, &a).await, (1, vec![b.id]));
}

async fn a_block_ends_requests_both_ways(app: &TestApp) {
    let [a, b] = <[_; 2]>::try_from(app.actors(2).await).unwrap();
    set_locked(app, &a, true).await;
    set_locked(app, &b, true).await;
    act(app, &a, "followUser", b.id).await;
    act(app, &b, "followUser", a.id).await;
    assert_eq!((requests(app, &a).await.0, requests(app, &b).await.0), (1, 1));

    let block = "mutation($t: ID!) { blockUser(target: $t) { target } }";
    let body = app.graphql(Some(&a), block, json!({ "t": b.id.to_string() })).await;
    assert_eq!(body["errors"], json!(null), "{body}");
    assert_eq!(requests(app, &a).await, (0, vec![]));
    assert_eq!(requests(app, &b).await, (0, vec![]));
    assert_eq!(seen_by(app, &a, b.id).await, (true, false, false));
    let refused = try_act(app, &b, "followUser", a.id).await;
    assert_eq!(error_code(&refused), Some("FORBIDDEN"), "{refused}");
    let accepted = try_act(app, &b, "acceptFollowRequest", a.id).await;
    assert_eq!(error_code(&accepted), Some("NOT_FOUND"), "the request is gone: {accepted}");
}

async fn unlocking_leaves_requests_and_a_new_follow_goes_through(app: &TestApp) {
    let [a, b, c] = <[_; 3]>::try_from(app.actors(3).await).unwrap();
    set_locked(app, &a, true).await;
    act(app, &b, "followUser", a.id).await;
    act(app, &c, "followUser", a.id).await;
    assert_eq!(set_locked(app, &a, false).await["locked"], json!(false));
    assert_eq!(requests(app, &a).await, (2, vec![c.id, b.id]), "still there to answer");

    assert_eq!(act(app, &b, "followUser", a.id).await, "FOLLOWING");
    assert_eq!(requests(app, &a).await, (1, vec![c.id]), "b's old request ended");
    assert_eq!(seen_by(app, &b, a.id).await, (false, false, true));
    assert_eq!(act(app, &a, "acceptFollowRequest", c.id).await, "FOLLOWING");
    assert_eq!(app.counts(a.id).await, (0, 2));
}

async fn a_request_tells_its_target_and_an_acceptance_tells_the_requester(app: &TestApp) {
    let [a, b] = <[_; 2]>::try_from(app.actors(2).await).unwrap();
    set_locked(app, &a, true).await;
    let mut to_a = subscribe(app, &a, Some("0")).await;
    let mut to_b = subscribe(app, &b, Some("0")).await;
    act(app, &b, "followUser", a.id).await;
    act(app, &b, "followUser", a.id).await; // asking again is not news
    assert_eq!(next_event(&mut to_a).await, (1, "FOLLOW_REQUESTED".into(), b.id));
    act(app, &a, "acceptFollowRequest", b.id).await;
    assert_eq!(next_event(&mut to_a).await, (2, "FOLLOWED".into(), b.id));
    assert_eq!(next_event(&mut to_b).await, (1, "FOLLOW_REQUEST_ACCEPTED".into(), a.id));
    act(app, &b, "unfollowUser", a.id).await;
    act(app, &b, "followUser", a.id).await;
    act(app, &b, "cancelFollowRequest", a.id).await; // ending a request is not announced
    assert_eq!(next_event(&mut to_a).await, (3, "FOLLOW_REQUESTED".into(), b.id));
    nothing_more(&mut to_a).await;
    nothing_more(&mut to_b).await;
    assert_eq!(outbox(app, a.id).await, [(1, b.id), (2, b.id), (3, b.id)]);
    assert_eq!(outbox(app, b.id).await, [(1, a.id)]);
}

async fn a_legacy_follow_of_a_locked_account_answers_201_requested_and_writes_no_row(
    app: &TestApp,
) {
    let [a, b] = <[_; 2]>::try_from(app.actors(2).await).unwrap();
    set_locked(app, &a, true).await;
    let (status, body) = app.rest_follow(&b, json!(a.id)).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(body, json!({ "message": "OK", "data": { "target": a.id, "requested": true } }));
    assert_eq!(app.database.rows_touching(a.id).await, 0, "user_relation untouched");
    assert_eq!(requests(app, &a).await, (1, vec![b.id]));

    act(app, &a, "acceptFollowRequest", b.id).await;
    let (status, body) = app.rest_follow(&b, json!(a.id)).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(body, json!({ "message": "OK", "data": { "target": a.id } }), "a follower");
}

async fn a_request_the_legacy_app_overtook_ends_when_next_met(app: &TestApp) {
    let [a, b, c] = <[_; 3]>::try_from(app.actors(3).await).unwrap();
    set_locked(app, &a, true).await;
    act(app, &b, "followUser", a.id).await;
    act(app, &c, "followUser", a.id).await;
    // The legacy app, which knows nothing of requests, writes b's follow of a itself.
    app.database.insert_follow(b.id, a.id, chrono::Utc::now()).await;
    assert_eq!(act(app, &a, "acceptFollowRequest", b.id).await, "FOLLOWING");
    assert_eq!(requests(app, &a).await, (1, vec![c.id]), "b's request ended");
    app.database.insert_follow(c.id, a.id, chrono::Utc::now()).await;
    assert_eq!(act(app, &c, "followUser", a.id).await, "FOLLOWING");
    assert_eq!(requests(app, &a).await, (0, vec![]), "c's request ended");
}

async fn refusals_have_stable_codes_and_write_nothing(app: &TestApp) {
    let [a, b] = <[_; 2]>::try_from(app.actors(2).await).unwrap();
    let none = try_act(app, &a, "acceptFollowRequest", b.id).await;
    assert_eq!(error_code(&none), Some("NOT_FOUND"), "no request: {none}");
    for mutation in ["acceptFollowRequest", "rejectFollowRequest", "cancelFollowRequest"] {
        let own = try_act(app, &a, mutation, a.id).await;
        assert_eq!(error_code(&own), Some("BAD_USER_INPUT"), "{mutation}: {own}");
        let unknown = try_act(app, &a, mutation, a.id + 500_000_000).await;
        assert_eq!(error_code(&unknown), Some("NOT_FOUND"), "{mutation}: {unknown}");
    }
    let query = "mutation { setAccountLocked(locked: true) { locked } }";
    let anonymous = app.graphql(None, query, json!({})).await;
    assert_eq!(error_code(&anonymous), Some("UNAUTHENTICATED"), "{anonymous}");
    let anonymous = app.graphql(None, "{ followRequests { totalCount } }", json!({})).await;
    assert_eq!(error_code(&anonymous), Some("UNAUTHENTICATED"), "{anonymous}");
    assert_eq!(seen_by(app, &b, a.id).await, (false, false, false));
    assert_eq!(app.database.rows_touching(a.id).await, 0);
}

async fn locks_and_requests_of_a_list_cost_the_same_round_trips_for_1_10_and_50_users(
    app: &TestApp,
) {
    let users = app.actors(51).await;
    let (viewer, listed) = users.split_first().unwrap();
    for user in listed.iter().step_by(2) {
        set_locked(app, user, true).await;
        act(app, viewer, "followUser", user.id).await;
    }
    let query = "query($ids: [ID!]!) { users(ids: $ids) { locked viewerHasRequestedFollow } }";
    let mut seen = Vec::new();
    for n in [1, 10, 50] {
        let ids: Vec<String> = listed[..n].iter().map(|u| u.id.to_string()).collect();
        let body = app.graphql(Some(viewer), query, json!({ "ids": ids })).await;
        assert_eq!(body["errors"], json!(null), "{body}");
        let answers = body["data"]["users"].as_array().expect("users");
        for (i, user) in answers.iter().enumerate() {
            let locked = i % 2 == 0;
            assert_eq!(user, &json!({ "locked": locked, "viewerHasRequestedFollow": locked }));
        }
        let trips = &body["extensions"]["roundTrips"];
        seen.push((trips["database"].as_u64().expect("reported"), trips["redis"].as_u64()));
    }
    // Locks and flags are one query each however many users; profiles a third, unless they
    // are all in memory (the lone first user's is, from `setAccountLocked`).
    assert_eq!(seen[1], seen[2], "round trips for 1, 10, 50: {seen:?}");
    assert!(seen.iter().all(|&(db, _)| (2..=3).contains(&db)), "{seen:?}");
}
