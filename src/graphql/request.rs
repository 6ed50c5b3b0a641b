//! A GraphQL request as a client sends it, before any check: a POST body, the parameters of a
//! GET, or the payload of a WebSocket `subscribe` message. Every transport reads into this one
//! type, so the checks after it are the same everywhere.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::error::bad_request;
use async_graphql::ServerError;

/// The fields of the GraphQL-over-HTTP request. Each is optional and may be `null`; a field of
/// the wrong JSON type makes the whole request unreadable (the transports answer 400).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GraphqlRequest {
    #[serde(default)]
    pub(crate) query: Option<String>,
    #[serde(default)]
    pub(crate) operation_name: Option<String>,
    #[serde(default)]
    pub(crate) variables: Option<Map<String, Value>>,
    #[serde(default)]
    pub(crate) extensions: Option<Map<String, Value>>,
}

/// `extensions.persistedQuery` of Apollo's APQ protocol.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PersistedQuery {
    version: u32,
    sha256_hash: String,
}

/// The APQ protocol version this service speaks.
const APQ_VERSION: u32 = 1;

impl GraphqlRequest {
    /// Reads the parameters of a GET: `variables` and `extensions` are JSON texts.
    pub(crate) fn from_params(
        query: Option<String>,
        operation_name: Option<String>,
        variables: Option<&str>,
        extensions: Option<&str>,
    ) -> Result<Self, ServerError> {
        Ok(Self {
            query,
            operation_name,
            variables: json_object("variables", variables)?,
            extensions: json_object("extensions", extensions)?,
        })
    }

    /// Checks that the request names a document, by text or by a well-formed persisted hash: a
    /// request without one is not a GraphQL request at all.
    pub(crate) fn check_readable(&self) -> Result<(), ServerError> {
        if self.query.is_some() || self.persisted_hash()?.is_some() {
            Ok(())
        } else {
            Err(bad_request("The request has no `query`."))
        }
    }

    /// The hash of `extensions.persistedQuery`, if the request names a persisted document.
    pub(crate) fn persisted_hash(&self) -> Result<Option<String>, ServerError> {
        let Some(raw) = self.extensions.as_ref().and_then(|e| e.get("persistedQuery")) else {
            return Ok(None);
        };
        let persisted: PersistedQuery = serde_json::from_value(raw.clone()).map_err(|_| {
            bad_request("`extensions.persistedQuery` is `{\"version\": 1, \"sha256Hash\": …}`.")
        })?;
        if persisted.version != APQ_VERSION {
            return Err(bad_request("Only version 1 of persisted queries is supported."));
        }
        Ok(Some(persisted.sha256_hash.to_ascii_lowercase()))
    }
}

/// A GET parameter holding a JSON object (or nothing, or `null`).
fn json_object(name: &str, raw: Option<&str>) -> Result<Option<Map<String, Value>>, ServerError> {
    let Some(raw) = raw.filter(|raw| !raw.is_empty()) else { return Ok(None) };
    match serde_json::from_str::<Value>(raw) {
        Ok(Value::Object(map)) => Ok(Some(map)),
        Ok(Value::Null) => Ok(None),
        _ => Err(bad_request(format!("`{name}` is a JSON object."))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fields_of_the_wrong_type_make_the_request_unreadable() {
        for body in [
            json!({ "query": 0 }),
            json!({ "query": "{ a }", "variables": "x" }),
            json!({ "query": "{ a }", "variables": [1] }),
            json!({ "query": "{ a }", "operationName": false }),
            json!({ "query": "{ a }", "extensions": 0 }),
        ] {
            assert!(serde_json::from_value::<GraphqlRequest>(body.clone()).is_err(), "{body}");
        }
        let nulls = json!({ "query": "{ a }", "variables": null, "operationName": null, "extensions": null });
        assert!(serde_json::from_value::<GraphqlRequest>(nulls).is_ok());
    }

    #[test]
    fn get_parameters_carry_json_objects() {
        let ok = GraphqlRequest::from_params(None, None, Some(r#"{"a":1}"#), Some("null")).unwrap();
        assert_eq!(ok.variables.unwrap()["a"], json!(1));
        assert!(ok.extensions.is_none());
        assert!(GraphqlRequest::from_params(None, None, Some("[1]"), None).is_err());
        assert!(GraphqlRequest::from_params(None, None, None, Some("{")).is_err());
    }

    #[test]
    fn the_persisted_hash_is_read_from_version_1_only() {
        let with = |ext: Value| GraphqlRequest {
            extensions: ext.as_object().cloned(),
            ..Default::default()
        };
        let hash = with(json!({ "persistedQuery": { "version": 1, "sha256Hash": "AB" } }));
        assert_eq!(hash.persisted_hash().unwrap().as_deref(), Some("ab"));
        assert!(with(json!({ "persistedQuery": { "version": 2, "sha256Hash": "ab" } }))
            .persisted_hash()
            .is_err());
        assert!(with(json!({ "persistedQuery": "ab" })).persisted_hash().is_err());
        assert_eq!(with(json!({ "other": 1 })).persisted_hash().unwrap(), None);
        assert!(with(json!({ "other": 1 })).check_readable().is_err(), "no query, no hash");
        assert!(hash.check_readable().is_ok());
    }
}
