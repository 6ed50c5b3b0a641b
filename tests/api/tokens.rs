//! SPEC §3: every bad token is refused by both transports with their own answer, and nothing is
//! written; legacy tokens, including one minted by PyJWT, are accepted.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::Algorithm;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{error_code, sign, token, Actor, TestApp, SECRET};

const FOLLOW: &str = "mutation($t: ID!) { followUser(target: $t) { target } }";

/// An unsigned token, as an attacker would send it.
fn alg_none(claims: Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let body = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{header}.{body}.")
}

fn rejected_headers(actor: &Actor) -> Vec<(&'static str, Option<String>, StatusCode)> {
    let me = json!({ "user_id": actor.id, "refresh": false });
    let bearer = |t: String| Some(format!("Bearer {t}"));
    let exp = chrono::Utc::now().timestamp() + 600;
    let unauthorized = StatusCode::UNAUTHORIZED;
    vec![
        ("missing header", None, unauthorized),
        ("basic scheme", Some("Basic dXNlcjpwYXNz".into()), unauthorized),
        ("garbage", bearer("not.a.jwt".into()), unauthorized),
        ("empty bearer", Some("Bearer ".into()), unauthorized),
        (
            "bad signature",
            bearer(sign(Algorithm::HS256, "not-the-secret", me.clone(), 600)),
            unauthorized,
        ),
        ("alg none", bearer(alg_none(json!({ "user_id": actor.id, "exp": exp }))), unauthorized),
        ("HS512", bearer(sign(Algorithm::HS512, SECRET, me.clone(), 600)), unauthorized),
        ("expired past the leeway", bearer(token(me.clone(), -120)), unauthorized),
        (
            "refresh",
            bearer(token(json!({ "user_id": actor.id, "refresh": true }), 600)),
            StatusCode::FORBIDDEN,
        ),
        (
            "is_refresh",
            bearer(token(json!({ "user_id": actor.id, "is_refresh": true }), 600)),
            StatusCode::FORBIDDEN,
        ),
        ("user_id missing", bearer(token(json!({ "refresh": false }), 600)), unauthorized),
        ("user_id abc", bearer(token(json!({ "user_id": "abc" }), 600)), unauthorized),
        ("user_id zero", bearer(token(json!({ "user_id": 0 }), 600)), unauthorized),
        ("user_id fraction", bearer(token(json!({ "user_id": 12.5 }), 600)), unauthorized),
        (
            "unknown user",
            bearer(token(json!({ "user_id": actor.id + 700_000_000 }), 600)),
            unauthorized,
        ),
        ("no exp", bearer(unexpiring(actor.id)), unauthorized),
    ]
}

fn unexpiring(user: i64) -> String {
    let key = jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes());
    let header = jsonwebtoken::Header::new(Algorithm::HS256);
    jsonwebtoken::encode(&header, &json!({ "user_id": user }), &key).unwrap()
}

fn legacy_message(status: StatusCode) -> Value {
    if status == StatusCode::FORBIDDEN {
        json!({ "message": "Do not use refresh token." })
    } else {
        json!({ "message": "User must be authorized." })
    }
}

async fn assert_rejected(
    app: &TestApp,
    name: &str,
    header: Option<&str>,
    status: StatusCode,
    target: i64,
) {
    let body = app.graphql_with(header, FOLLOW, json!({ "t": target })).await;
    assert_eq!(error_code(&body), Some("UNAUTHENTICATED"), "{name}: {body}");
    assert_eq!(body["data"]["followUser"], json!(null), "{name}");
    let (got, json) = app.rest_follow_with(header, json!({ "target": target })).await;
    assert_eq!((got, json), (status, legacy_message(status)), "{name}");
    if header.is_some() {
        let public = app.graphql_with(header, "{ user(id: \"1\") { id } }", json!({})).await;
        assert_eq!(
            error_code(&public),
            Some("UNAUTHENTICATED"),
            "{name}: a bad token is never anonymous"
        );
    }
}

backend_suite!(
    every_bad_token_is_refused_and_writes_nothing,
    valid_legacy_token_forms_are_accepted,
    a_token_minted_by_the_legacy_app_with_pyjwt_works
);

async fn every_bad_token_is_refused_and_writes_nothing(app: &TestApp) {
    let [a, b] = <[_; 2]>::try_from(app.actors(2).await).unwrap();
    for (name, header, status) in rejected_headers(&a) {
        assert_rejected(app, name, header.as_deref(), status, b.id).await;
    }
    let url = app.url(&format!("/app/v1_0/user/followings/{}", b.id));
    let (status, _) = crate::helpers::read(app.client.delete(url).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.database.rows_touching(a.id).await, 0);
    assert_eq!(app.database.rows_touching(b.id).await, 0);
}

async fn valid_legacy_token_forms_are_accepted(app: &TestApp) {
    let [a, b, c, d] = <[_; 4]>::try_from(app.actors(4).await).unwrap();
    let string_id = token(json!({ "user_id": a.id.to_string(), "refresh": false }), 600);
    let within_leeway = token(json!({ "user_id": a.id, "refresh": false }), -10);
    let lower_case = format!("bearer {}", a.token);
    for (header, target) in [
        (format!("Bearer {string_id}"), b.id),
        (format!("Bearer {within_leeway}"), c.id),
        (lower_case, d.id),
    ] {
        let (status, _) = app.rest_follow_with(Some(&header), json!({ "target": target })).await;
        assert_eq!(status, StatusCode::CREATED, "{header}");
    }
    assert_eq!(app.counts(a.id).await, (3, 0));
}

async fn a_token_minted_by_the_legacy_app_with_pyjwt_works(app: &TestApp) {
    let fixture: Value =
        serde_json::from_str(include_str!("../fixtures/legacy_tokens.json")).unwrap();
    assert_eq!(fixture["secret"], json!(SECRET));
    let user = fixture["user_id"].as_i64().unwrap();
    app.database.insert_user(user, "legacy user").await;
    let [b] = <[_; 1]>::try_from(app.actors(1).await).unwrap();

    let access = format!("Bearer {}", fixture["access_token"].as_str().unwrap());
    let body = app.graphql_with(Some(&access), "{ viewer { id } }", json!({})).await;
    assert_eq!(body["data"]["viewer"]["id"], json!(user.to_string()), "{body}");
    let (status, _) = app.rest_follow_with(Some(&access), json!({ "target": b.id })).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(app.relation(user, b.id).await.unwrap().relation, 1);

    let refresh = format!("Bearer {}", fixture["refresh_token"].as_str().unwrap());
    let (status, body) = app.rest_follow_with(Some(&refresh), json!({ "target": b.id })).await;
    assert_eq!(
        (status, body),
        (StatusCode::FORBIDDEN, json!({ "message": "Do not use refresh token." }))
    );
}
