//! SPEC §14's hidden lists, on every backend and set-up: a user's followers and following lists,
//! apart, shown to everyone, to the user's followers or to the user alone; a list hidden from a
//! viewer answers FORBIDDEN, and so do its count and the known followers drawn from it, in
//! GraphQL; the legacy lists leave out the count a listed user hides.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{error_code, read, Actor, TestApp};

backend_suite!(
    each_list_shows_to_whom_its_setting_says_and_to_its_owner,
    a_hidden_count_in_a_list_is_null_and_the_rest_of_the_list_stays,
    known_followers_of_a_hidden_followers_list_are_forbidden,
    legacy_lists_leave_out_the_fans_count_a_listed_user_hides,
    visibility_of_1_10_and_50_users_costs_the_same_round_trips,
    setting_visibility_needs_a_viewer_and_a_known_value,
);

/// Sets `actor`'s visibilities and returns what `setListVisibility` says of them.
async fn set_visibility(app: &TestApp, actor: &Actor, followers: &str, following: &str) -> Value {
    let query = format!(
        "mutation {{ setListVisibility(followers: {followers}, following: {following}) \
         {{ followersVisibility followingVisibility }} }}"
    );
    let body = app.graphql(Some(actor), &query, json!({})).await;
    assert_eq!(body["errors"], json!(null), "{body}");
    body["data"]["setListVisibility"].clone()
}

const LISTS: &str = "query($id: ID!) { user(id: $id) {
    name followersCount followingCount
    followers(first: 5) { totalCount } following(first: 5) { totalCount }
} }";

/// What `viewer` (anonymous when `None`) sees of `owner`'s lists: the user, and the paths of the
/// FORBIDDEN errors.
async fn lists_of(app: &TestApp, viewer: Option<&Actor>, owner: i64) -> (Value, Vec<String>) {
    let body = app.graphql(viewer, LISTS, json!({ "id": owner.to_string() })).await;
    let errors = body["errors"].as_array().cloned().unwrap_or_default();
    let user = body["data"]["user"].clone();
    let forbidden = errors
        .iter()
        .map(|e| {
            assert_eq!(e["extensions"]["code"], json!("FORBIDDEN"), "{body}");
            let field = e["path"][1].as_str().expect("a field's path");
            assert_eq!(user.get(field), Some(&Value::Null), "present, as null: {body}");
            field.to_owned()
        })
        .collect();
    (user, forbidden)
}

fn sorted(mut fields: Vec<String>) -> Vec<String> {
    fields.sort();
    fields
}

async fn each_list_shows_to_whom_its_setting_says_and_to_its_owner(app: &TestApp) {
    let [o, f, s, x] = <[_; 4]>::try_from(app.actors(4).await).unwrap();
    app.rest_follow(&f, json!(o.id)).await;
    app.rest_follow(&o, json!(x.id)).await;
    let settings = set_visibility(app, &o, "FOLLOWERS", "ONLY_ME").await;
    assert_eq!(
        settings,
        json!({ "followersVisibility": "FOLLOWERS", "followingVisibility": "ONLY_ME" })
    );

    let (user, forbidden) = lists_of(app, Some(&o), o.id).await;
    assert!(forbidden.is_empty(), "the owner sees both: {forbidden:?}");
    assert_eq!(
        (user["followersCount"].clone(), user["followingCount"].clone()),
        (json!(1), json!(1))
    );

    let (user, forbidden) = lists_of(app, Some(&f), o.id).await;
    assert_eq!(sorted(forbidden), ["following", "followingCount"], "a follower sees followers");
    assert_eq!(user["followers"]["totalCount"], json!(1));
    assert_eq!(user["followersCount"], json!(1));
    assert_eq!(
        (user["following"].clone(), user["followingCount"].clone()),
        (json!(null), json!(null))
    );
    assert_eq!(user["name"], json!(format!("user {}", o.id)), "the rest of the user stays");

    for viewer in [Some(&s), None] {
        let (user, forbidden) = lists_of(app, viewer, o.id).await;
        let all = ["followers", "followersCount", "following", "followingCount"];
        assert_eq!(sorted(forbidden), all, "a stranger or an anonymous client sees neither");
        assert_eq!(user["followersCount"], json!(null));
    }

    set_visibility(app, &o, "EVERYONE", "EVERYONE").await;
    let (user, forbidden) = lists_of(app, Some(&s), o.id).await;
    assert!(forbidden.is_empty(), "shown again at once: {forbidden:?}");
    assert_eq!(user["following"]["totalCount"], json!(1));
}

async fn a_hidden_count_in_a_list_is_null_and_the_rest_of_the_list_stays(app: &TestApp) {
    let [v, a, b, c] = <[_; 4]>::try_from(app.actors(4).await).unwrap();
    for followed in [&a, &b, &c] {
        app.rest_follow(&v, json!(followed.id)).await;
    }
    set_visibility(app, &b, "ONLY_ME", "EVERYONE").await;
    let query = "{ following(first: 10) { totalCount nodes { id followersCount } } }";
    let body = app.graphql(Some(&v), query, json!({})).await;
    let errors = body["errors"].as_array().expect("one error");
    assert_eq!(errors.len(), 1, "{body}");
    assert_eq!(errors[0]["extensions"]["code"], json!("FORBIDDEN"));
    assert_eq!(errors[0]["path"][3], json!("followersCount"));
    let hidden =
        &body["data"]["following"]["nodes"][errors[0]["path"][2].as_u64().unwrap() as usize];
    assert_eq!(hidden.get("followersCount"), Some(&Value::Null), "present, as null: {body}");
    let nodes = body["data"]["following"]["nodes"].as_array().expect("the list stays");
    let mut counts: Vec<(i64, Value)> = nodes
        .iter()
        .map(|n| (n["id"].as_str().unwrap().parse().unwrap(), n["followersCount"].clone()))
        .collect();
    counts.sort_by_key(|(id, _)| *id); // MySQL's whole seconds may tie the three follows
    assert_eq!(counts, [(a.id, json!(1)), (b.id, json!(null)), (c.id, json!(1))]);
}

async fn known_followers_of_a_hidden_followers_list_are_forbidden(app: &TestApp) {
    let [v, o, a] = <[_; 3]>::try_from(app.actors(3).await).unwrap();
    app.rest_follow(&v, json!(a.id)).await;
    app.rest_follow(&a, json!(o.id)).await;
    let query = "query($id: ID!) { user(id: $id) { knownFollowers { totalCount } } }";
    let variables = json!({ "id": o.id.to_string() });
    let body = app.graphql(Some(&v), query, variables.clone()).await;
    assert_eq!(body["data"]["user"]["knownFollowers"]["totalCount"], json!(1), "{body}");

    set_visibility(app, &o, "FOLLOWERS", "EVERYONE").await;
    let body = app.graphql(Some(&v), query, variables.clone()).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], json!("FORBIDDEN"), "{body}");
    assert_eq!(body["data"]["user"]["knownFollowers"], json!(null));
    app.rest_follow(&v, json!(o.id)).await;
    let body = app.graphql(Some(&v), query, variables).await;
    assert_eq!(
        body["data"]["user"]["knownFollowers"]["totalCount"],
        json!(1),
        "a follower may: {body}"
    );
}

async fn legacy_lists_leave_out_the_fans_count_a_listed_user_hides(app: &TestApp) {
    let [v, a, b, c] = <[_; 4]>::try_from(app.actors(4).await).unwrap();
    for followed in [&a, &b] {
        app.rest_follow(&v, json!(followed.id)).await;
    }
    app.rest_follow(&c, json!(a.id)).await;
    set_visibility(app, &a, "FOLLOWERS", "EVERYONE").await;
    set_visibility(app, &b, "ONLY_ME", "ONLY_ME").await;
    set_visibility(app, &v, "ONLY_ME", "ONLY_ME").await;
    let url = app.url("/app/v1_0/user/followings");
    let (status, body) =
        read(app.client.get(url).bearer_auth(&v.token).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK, "the caller's own list, hidden from others, shows to them");
    let results = body["data"]["results"].as_array().expect("results");
    let mut counts: Vec<(i64, Value)> =
        results.iter().map(|r| (r["id"].as_i64().unwrap(), r["fans_count"].clone())).collect();
    counts.sort_by_key(|(id, _)| *id); // MySQL's whole seconds may tie the two follows
    assert_eq!(
        counts,
        [(a.id, json!(2)), (b.id, json!(null))],
        "a shows its followers to followers, b to nobody: {body}"
    );
    assert_eq!(body["data"]["total_count"], json!(2));
}

async fn visibility_of_1_10_and_50_users_costs_the_same_round_trips(app: &TestApp) {
    let users = app.actors(51).await;
    let (viewer, listed) = users.split_first().unwrap();
    for (i, user) in listed.iter().enumerate() {
        match i % 3 {
            0 => set_visibility(app, user, "FOLLOWERS", "EVERYONE").await,
            1 => set_visibility(app, user, "ONLY_ME", "FOLLOWERS").await,
            _ => json!(null),
        };
        if i % 2 == 0 {
            app.rest_follow(viewer, json!(user.id)).await;
        }
    }
    let query = "query($ids: [ID!]!) { users(ids: $ids) { followersCount followingCount } }";
    let mut seen = Vec::new();
    for n in [1, 10, 50] {
        let ids: Vec<String> = listed[..n].iter().map(|u| u.id.to_string()).collect();
        let body = app.graphql(Some(viewer), query, json!({ "ids": ids })).await;
        for (i, user) in body["data"]["users"].as_array().expect("users").iter().enumerate() {
            let follows = i % 2 == 0;
            let shown = match i % 3 {
                0 => (follows, true),
                1 => (false, follows),
                _ => (true, true),
            };
            let got = (!user["followersCount"].is_null(), !user["followingCount"].is_null());
            assert_eq!(got, shown, "user {i} of {n}: {body}");
        }
        let trips = &body["extensions"]["roundTrips"];
        seen.push((trips["database"].as_u64().expect("reported"), trips["redis"].as_u64()));
    }
    // Profiles, settings, the viewer's follows of those who show to followers, counts.
    assert_eq!(seen[1], seen[2], "round trips for 1, 10, 50: {seen:?}");
    assert!(seen.iter().all(|&(db, _)| db <= 4), "{seen:?}");
}

async fn setting_visibility_needs_a_viewer_and_a_known_value(app: &TestApp) {
    let [a] = <[_; 1]>::try_from(app.actors(1).await).unwrap();
    let set = "mutation { setListVisibility(followers: ONLY_ME, following: ONLY_ME) { id } }";
    let anonymous = app.graphql(None, set, json!({})).await;
    assert_eq!(error_code(&anonymous), Some("UNAUTHENTICATED"), "{anonymous}");
    let unknown = "mutation { setListVisibility(followers: FRIENDS, following: ONLY_ME) { id } }";
    let refused = app.graphql(Some(&a), unknown, json!({})).await;
    assert_eq!(error_code(&refused), Some("BAD_USER_INPUT"), "{refused}");
    let query = "query($id: ID!) { user(id: $id) { followersVisibility followingVisibility } }";
    let body = app.graphql(None, query, json!({ "id": a.id.to_string() })).await;
    let settings = json!({ "followersVisibility": "EVERYONE", "followingVisibility": "EVERYONE" });
    assert_eq!(body["data"]["user"], settings, "nothing was set");
}
