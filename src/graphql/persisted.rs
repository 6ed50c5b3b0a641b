//! Persisted queries: Apollo's automatic persisted queries (APQ), and trusted documents.
//!
//! With APQ a client sends `extensions.persistedQuery.sha256Hash` without the document; an unknown
//! hash answers `PERSISTED_QUERY_NOT_FOUND` (message `PersistedQueryNotFound`, which Apollo's
//! link looks for), and the client sends the document with its hash, which is kept. The store is
//! the service's (Redis when configured, so every instance shares it).
//!
//! With `PERSISTED_QUERIES=only`, only the documents of a manifest run: any other document, sent
//! by text or by an unknown hash, is refused with `QUERY_LIMIT` / `persisted`.
//!
//! This is not async-graphql's `apollo_persisted_queries` extension: any extension wraps every
//! field's resolution (BENCHMARKS.md), and the store here must be shared across instances.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use async_graphql::ServerError;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::error::{bad_request, code, request_error};
use super::limits::not_persisted;
use super::request::GraphqlRequest;
use crate::service::Service;

/// How persisted queries are taken (`PERSISTED_QUERIES`).
#[derive(Debug, Clone)]
pub(crate) enum PersistedQueries {
    /// Documents by text only; a hash answers `PERSISTED_QUERY_NOT_SUPPORTED`.
    Off,
    /// Documents by text, or by a hash this or another instance was given before.
    Automatic,
    /// Only the documents of the manifest (trusted documents).
    Only(Arc<Manifest>),
}

/// The documents a trusted-documents deployment runs, by the hex SHA-256 of their text.
#[derive(Debug, Default)]
pub(crate) struct Manifest(HashMap<String, String>);

/// Why a manifest file cannot be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ManifestError {
    #[error("cannot read the persisted documents file {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("the persisted documents file is not a JSON map of sha256 → document, nor an Apollo persisted query manifest")]
    Format,
    #[error("persisted document {0} is not the SHA-256 of its text")]
    Hash(String),
}

impl Manifest {
    /// Reads a manifest: a JSON object of hex SHA-256 → document (what GraphQL Code Generator's
    /// client preset and Relay write), or Apollo's `apollo-persisted-query-manifest` with its
    /// `operations: [{id, body}]`. Every entry's hash is checked against its text.
    pub(crate) fn load(path: &Path) -> Result<Self, ManifestError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ManifestError::Read { path: path.display().to_string(), source })?;
        let json: Value = serde_json::from_str(&text).map_err(|_| ManifestError::Format)?;
        Self::from_json(&json)
    }

    fn from_json(json: &Value) -> Result<Self, ManifestError> {
        let entries: Vec<(&str, &str)> = match json.get("operations") {
            Some(Value::Array(operations)) => operations
                .iter()
                .map(|op| Some((op.get("id")?.as_str()?, op.get("body")?.as_str()?)))
                .collect::<Option<_>>(),
            _ => json
                .as_object()
                .ok_or(ManifestError::Format)?
                .iter()
                .map(|(hash, text)| Some((hash.as_str(), text.as_str()?)))
                .collect::<Option<_>>(),
        }
        .ok_or(ManifestError::Format)?;
        let mut documents = HashMap::with_capacity(entries.len());
        for (hash, text) in entries {
            let hash = hash.strip_prefix("sha256:").unwrap_or(hash).to_ascii_lowercase();
            if sha256_hex(text) != hash {
                return Err(ManifestError::Hash(hash));
            }
            documents.insert(hash, text.to_owned());
        }
        Ok(Self(documents))
    }
}

impl PersistedQueries {
    /// The document text the request runs, after the persisted-query rules of this mode.
    pub(crate) async fn document(
        &self,
        request: &GraphqlRequest,
        service: &Service,
    ) -> Result<String, ServerError> {
        let hash = request.persisted_hash()?;
        match (self, hash, request.query.as_ref()) {
            (PersistedQueries::Off, Some(_), _) => Err(request_error(
                "PersistedQueryNotSupported",
                code::PERSISTED_QUERY_NOT_SUPPORTED,
            )),
            (PersistedQueries::Only(manifest), hash, text) => {
                let hash = match text {
                    Some(text) => same_hash(hash, text)?,
                    None => hash.ok_or_else(no_query)?,
                };
                manifest.0.get(&hash).cloned().ok_or_else(not_persisted)
            }
            (_, None, Some(text)) => Ok(text.clone()),
            (_, None, None) => Err(no_query()),
            (PersistedQueries::Automatic, Some(hash), Some(text)) => {
                let hash = same_hash(Some(hash), text)?;
                service.persist_document(&hash, text).await;
                Ok(text.clone())
            }
            (PersistedQueries::Automatic, Some(hash), None) => {
                service.persisted_document(&hash).await.ok_or_else(|| {
                    request_error("PersistedQueryNotFound", code::PERSISTED_QUERY_NOT_FOUND)
                })
            }
        }
    }
}

/// The text's hash, which must be the one the client sent with it (if any).
fn same_hash(sent: Option<String>, text: &str) -> Result<String, ServerError> {
    let hash = sha256_hex(text);
    match sent {
        Some(sent) if sent != hash => {
            Err(bad_request("`persistedQuery.sha256Hash` is not the SHA-256 of `query`."))
        }
        _ => Ok(hash),
    }
}

fn no_query() -> ServerError {
    bad_request("The request has no `query`.")
}

/// The lowercase hex SHA-256 of a document, as APQ and manifests name documents.
pub(crate) fn sha256_hex(text: &str) -> String {
    format!("{:x}", Sha256::digest(text.as_bytes()))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_manifest_is_a_hash_map_or_an_apollo_manifest_and_every_hash_is_checked() {
        let text = "{ viewer { id } }";
        let hash = sha256_hex(text);
        let map = Manifest::from_json(&json!({ hash.clone(): text })).unwrap();
        assert_eq!(map.0.get(&hash).map(String::as_str), Some(text));
        let apollo = json!({
            "format": "apollo-persisted-query-manifest",
            "version": 1,
            "operations": [{ "id": hash, "name": "Me", "type": "query", "body": text }],
        });
        assert_eq!(Manifest::from_json(&apollo).unwrap().0.len(), 1);
        let prefixed = json!({ format!("sha256:{hash}"): text });
        assert_eq!(Manifest::from_json(&prefixed).unwrap().0.len(), 1);
        let wrong = json!({ hash: "{ viewer { name } }" });
        assert!(matches!(Manifest::from_json(&wrong), Err(ManifestError::Hash(_))));
        assert!(matches!(Manifest::from_json(&json!([text])), Err(ManifestError::Format)));
    }

    #[test]
    fn the_hash_is_the_one_apollo_computes() {
        // The hash Apollo Client sends for the document `{__typename}`.
        assert_eq!(
            sha256_hex("{__typename}"),
            "ecf4edb46db40b5132295c0291d62fb65d6759a9eedfa4d5d612dd5ec54a6b38"
        );
    }
}
