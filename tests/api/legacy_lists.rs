//! SPEC §7 lists: the legacy numbered pages, equal to the GraphQL lists.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{read, Actor, TestApp};

async fn rest_list(app: &TestApp, actor: &Actor, which: &str, query: &str) -> (StatusCode, Value) {
    let url = app.url(&format!("/app/v1_0/user/{which}{query}"));
    read(app.client.get(url).bearer_auth(&actor.token).send().await.unwrap()).await
}

async fn graphql_ids(app: &TestApp, actor: &Actor, field: &str) -> Vec<Value> {
    let query = format!("{{ {field}(first: 100) {{ nodes {{ id }} }} }}");
    let body = app.graphql(Some(actor), &query, json!({})).await;
    let nodes = body["data"][field]["nodes"].as_array().cloned().unwrap_or_default();
    nodes.iter().map(|n| json!(n["id"].as_str().unwrap().parse::<i64>().unwrap())).collect()
}

backend_suite!(
    rest_lists_equal_graphql_lists_with_counts_and_mutual_flags,
    bad_page_parameters_get_the_legacy_400
);

async fn rest_lists_equal_graphql_lists_with_counts_and_mutual_flags(app: &TestApp) {
    let users = app.actors(15).await;
    let (me, others) = users.split_first().unwrap();
    for other in &others[..12] {
        app.rest_follow(me, json!(other.id)).await;
    }
    for other in &others[..3] {
        app.rest_follow(other, json!(me.id)).await;
    }
    app.rest_follow(&others[13], json!(me.id)).await;
    app.rest_follow(&others[13], json!(others[0].id)).await;

    let (status, body) = rest_list(app, me, "followings", "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["message"], json!("OK"));
    let data = &body["data"];
    assert_eq!(
        (data["total_count"].clone(), data["page"].clone(), data["per_page"].clone()),
        (json!(12), json!(1), json!(10))
    );
    let first_page = data["results"].as_array().unwrap();
    assert_eq!(first_page.len(), 10);
    let (_, second) = rest_list(app, me, "followings", "?page=2&per_page=10").await;
    let mut ids: Vec<Value> = first_page.iter().map(|r| r["id"].clone()).collect();
    ids.extend(second["data"]["results"].as_array().unwrap().iter().map(|r| r["id"].clone()));
    assert_eq!(ids, graphql_ids(app, me, "following").await, "same list, same order");

    let all = rest_list(app, me, "followings", "?per_page=50").await.1;
    for result in all["data"]["results"].as_array().unwrap() {
        let id = result["id"].as_i64().unwrap();
        let follows_me = others[..3].iter().any(|o| o.id == id);
        assert_eq!(result["mutual_follow"], json!(follows_me), "{result}");
        let fans = if id == others[0].id { 2 } else { 1 };
        assert_eq!(result["fans_count"], json!(fans), "{result}");
        assert_eq!(result["name"], json!(format!("user {id}")));
        assert_eq!(result["photo"], json!(null));
    }

    let (status, body) = rest_list(app, me, "followers", "").await;
    assert_eq!(status, StatusCode::OK);
    let ids: Vec<Value> =
        body["data"]["results"].as_array().unwrap().iter().map(|r| r["id"].clone()).collect();
    assert_eq!(ids, graphql_ids(app, me, "followers").await);
    assert_eq!(body["data"]["total_count"], json!(4));
    let stranger = body["data"]["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == json!(others[13].id))
        .unwrap();
    assert_eq!(stranger["mutual_follow"], json!(false));
}

async fn bad_page_parameters_get_the_legacy_400(app: &TestApp) {
    let [a] = <[_; 1]>::try_from(app.actors(1).await).unwrap();
    for (query, name) in [
        ("?page=0", "page"),
        ("?page=abc", "page"),
        ("?per_page=9", "per_page"),
        ("?per_page=51", "per_page"),
        ("?per_page=-1", "per_page"),
    ] {
        let (status, body) = rest_list(app, &a, "followings", query).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        assert!(body["message"][name].is_string(), "{query}: {body}");
    }
    let (status, body) = rest_list(app, &a, "followers", "?page=3").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"], json!({ "total_count": 0, "page": 3, "per_page": 10, "results": [] }));
    let anonymous =
        read(app.client.get(app.url("/app/v1_0/user/followings")).send().await.unwrap()).await;
    assert_eq!(
        anonymous,
        (StatusCode::UNAUTHORIZED, json!({ "message": "User must be authorized." }))
    );
}
