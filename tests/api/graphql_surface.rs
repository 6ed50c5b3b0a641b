//! The GraphQL surface: the checked-in SDL, GraphiQL served offline, and the user queries.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{error_code, Backend, TestApp};

/// What a browser sends for a page.
const BROWSER: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

#[test]
fn schema_graphql_is_the_sdl_of_the_running_schema() {
    let checked_in = include_str!("../../schema.graphql");
    assert!(
        checked_in == followgraph::sdl(),
        "schema.graphql is stale: run `cargo run -- schema > schema.graphql`"
    );
}

#[tokio::test]
async fn graphiql_is_served_with_its_own_assets() {
    let app = TestApp::on(Backend::Sqlite).spawn().await.unwrap();
    let page = app.client.get(app.url("/graphql")).header("accept", BROWSER).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let html = page.text().await.unwrap();
    assert!(html.contains("GraphiQL"));
    assert!(!html.contains("https://"), "no CDN: GraphiQL must work offline");
    for asset in [
        "graphiql.min.js",
        "graphiql.min.css",
        "react.production.min.js",
        "react-dom.production.min.js",
    ] {
        assert!(html.contains(&format!("/graphql/assets/{asset}")), "{asset} referenced");
        let response =
            app.client.get(app.url(&format!("/graphql/assets/{asset}"))).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{asset}");
        assert!(response.bytes().await.unwrap().len() > 1000, "{asset} has content");
    }
    assert!(
        !html.contains("FOLLOWGRAPH_DEFAULT_HEADERS") && !html.contains("Bearer"),
        "no header to fill in"
    );
    let missing = app.client.get(app.url("/graphql/assets/nope.js")).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    app.teardown().await;
}

backend_suite!(
    viewer_user_and_users_answer_from_user_basic,
    viewer_fields_need_a_viewer,
    relay_fetches_users_as_nodes,
    flags_tell_both_directions,
);

async fn viewer_user_and_users_answer_from_user_basic(app: &TestApp) {
    let [a, b] = <[_; 2]>::try_from(app.actors(2).await).unwrap();
    let nobody = (a.id + 900_000_000).to_string();
    let query = "query($ids: [ID!]!, $one: ID!) {
        viewer { id name }
        user(id: $one) { id name photo }
        missing: user(id: \"999999999999\") { id }
        users(ids: $ids) { id name }
    }";
    let ids = json!([b.id.to_string(), nobody, a.id]);
    let body = app.graphql(Some(&a), query, json!({ "ids": ids, "one": b.id })).await;
    assert_eq!(body["errors"], json!(null), "{body}");
    let data = &body["data"];
    assert_eq!(data["viewer"], json!({ "id": a.id.to_string(), "name": format!("user {}", a.id) }));
    assert_eq!(
        data["user"],
        json!({ "id": b.id.to_string(), "name": format!("user {}", b.id), "photo": null })
    );
    assert_eq!(data["missing"], json!(null));
    let users = data["users"].as_array().unwrap();
    assert_eq!(users.len(), 3, "one entry per id asked, in order");
    assert_eq!(users[0]["id"], json!(b.id.to_string()));
    assert_eq!(users[1], json!(null));
    assert_eq!(users[2]["id"], json!(a.id.to_string()));
}

async fn viewer_fields_need_a_viewer(app: &TestApp) {
    let [a] = <[_; 1]>::try_from(app.actors(1).await).unwrap();
    let anonymous = app.graphql(None, "{ viewer { id } }", json!({})).await;
    assert_eq!(error_code(&anonymous), Some("UNAUTHENTICATED"), "{anonymous}");
    let query = "query($id: ID!) { user(id: $id) { name viewerIsFollowing } }";
    let flags = app.graphql(None, query, json!({ "id": a.id })).await;
    assert_eq!(error_code(&flags), Some("UNAUTHENTICATED"), "{flags}");
    let public = app
        .graphql(
            None,
            "query($id: ID!) { user(id: $id) { name followersCount } }",
            json!({ "id": a.id }),
        )
        .await;
    assert_eq!(public["errors"], json!(null), "public fields need no viewer: {public}");
}

async fn relay_fetches_users_as_nodes(app: &TestApp) {
    let [a, b] = <[_; 2]>::try_from(app.actors(2).await).unwrap();
    app.rest_follow(&a, json!(b.id)).await;
    let query = "query($id: ID!, $ids: [ID!]!) {
        node(id: $id) { __typename id ... on User { name followersCount } }
        nodes(ids: $ids) { id ... on User { name } }
    }";
    let ids = json!([a.id.to_string(), "999999999999"]);
    let body = app.graphql(None, query, json!({ "id": b.id.to_string(), "ids": ids })).await;
    assert_eq!(body["errors"], json!(null), "{body}");
    assert_eq!(
        body["data"]["node"],
        json!({ "__typename": "User", "id": b.id.to_string(), "name": format!("user {}", b.id), "followersCount": 1 })
    );
    assert_eq!(
        body["data"]["nodes"],
        json!([{ "id": a.id.to_string(), "name": format!("user {}", a.id) }, null])
    );
    let bad = app.graphql(None, "{ node(id: \"x\") { id } }", json!({})).await;
    assert_eq!(error_code(&bad), Some("BAD_USER_INPUT"), "{bad}");
}

async fn flags_tell_both_directions(app: &TestApp) {
    let [a, b, c] = <[_; 3]>::try_from(app.actors(3).await).unwrap();
    app.rest_follow(&a, json!(b.id)).await;
    app.rest_follow(&c, json!(a.id)).await;
    let query = "query($ids: [ID!]!) { users(ids: $ids) { id viewerIsFollowing isFollowingViewer viewerHasBlocked } }";
    let body = app.graphql(Some(&a), query, json!({ "ids": [b.id, c.id] })).await;
    assert_eq!(body["errors"], json!(null), "{body}");
    assert_eq!(
        body["data"]["users"],
        json!([
            { "id": b.id.to_string(), "viewerIsFollowing": true, "isFollowingViewer": false, "viewerHasBlocked": false },
            { "id": c.id.to_string(), "viewerIsFollowing": false, "isFollowingViewer": true, "viewerHasBlocked": false },
        ])
    );
}

#[tokio::test]
async fn graphiql_in_development_mode_comes_with_the_printed_token() {
    let app = TestApp::on(Backend::Sqlite).tune(|s| s.jwt_secret = None).spawn().await.unwrap();
    let page = app.client.get(app.url("/graphql")).header("accept", BROWSER).send().await.unwrap();
    let html = page.text().await.unwrap();
    let start = html.find("Bearer ").expect("a token in the headers editor") + "Bearer ".len();
    let token: String = html[start..].chars().take_while(|c| *c != '"').collect();
    app.database.insert_user(1, "demo").await;
    let body =
        app.graphql_with(Some(&format!("Bearer {token}")), "{ viewer { id } }", json!({})).await;
    assert_eq!(body["data"]["viewer"]["id"], json!("1"), "{body}");
    app.teardown().await;
}
