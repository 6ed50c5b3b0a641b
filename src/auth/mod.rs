//! Identity: the legacy app's HS256 access tokens, turned into the id of an existing user.
//!
//! Both transports resolve the viewer here, then map [`AuthError`] to their own wire form.

pub(crate) mod token;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::{header, HeaderMap};

use crate::domain::ids::UserId;
use crate::service::{Service, ServiceError};
use token::{TokenError, TokenKeys, EXP_LEEWAY_SECS};

/// Why a request could not act for a user.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AuthError {
    /// No `Authorization` header at all.
    #[error("no credentials")]
    Missing,
    /// A header that is not `Bearer <jwt>`, or a token that fails validation.
    #[error("invalid credentials")]
    Invalid(#[from] TokenError),
    /// A refresh token used where an access token is required.
    #[error("refresh token used as an access token")]
    Refresh,
    /// A valid token for a user that `user_basic` does not have.
    #[error("token names an unknown user")]
    UnknownUser,
    /// The user could not be looked up.
    #[error("user lookup failed")]
    Lookup(#[source] ServiceError),
}

/// Checks tokens and that their user exists. Cheap to clone: transports take one per request.
#[derive(Clone)]
pub(crate) struct Authenticator {
    keys: Arc<TokenKeys>,
    service: Service,
}

impl Authenticator {
    pub(crate) fn new(keys: TokenKeys, service: Service) -> Self {
        Self { keys: Arc::new(keys), service }
    }

    /// The keys tokens are checked with.
    pub(crate) fn keys(&self) -> &TokenKeys {
        &self.keys
    }

    /// The viewer named by the request's `Authorization` header; `Ok(None)` when there is none.
    /// A header that is present but wrong is an error, never an anonymous request.
    pub(crate) async fn viewer(&self, headers: &HeaderMap) -> Result<Option<UserId>, AuthError> {
        match self.required_viewer(headers).await {
            Err(AuthError::Missing) => Ok(None),
            other => other.map(Some),
        }
    }

    /// The viewer named by the request's `Authorization` header, which must be present.
    pub(crate) async fn required_viewer(&self, headers: &HeaderMap) -> Result<UserId, AuthError> {
        let value = headers.get(header::AUTHORIZATION).ok_or(AuthError::Missing)?;
        let raw = value.to_str().map_err(|_| TokenError::Malformed)?;
        Ok(self.session(raw).await?.viewer)
    }

    /// The session an `Authorization` value (`Bearer <jwt>`) opens: its user must exist, and the
    /// token must be an access token.
    pub(crate) async fn session(&self, authorization: &str) -> Result<Session, AuthError> {
        let jwt = bearer(authorization).ok_or(TokenError::Malformed)?;
        let claims = self.keys.decode(jwt)?;
        if claims.refresh {
            return Err(AuthError::Refresh);
        }
        let expires_at = UNIX_EPOCH + Duration::from_secs(claims.expires_at + EXP_LEEWAY_SECS);
        match self.service.user_exists(claims.user_id).await {
            Ok(true) => Ok(Session { viewer: claims.user_id, expires_at }),
            Ok(false) => Err(AuthError::UnknownUser),
            Err(e) => Err(AuthError::Lookup(e)),
        }
    }
}

/// What an accepted token allows: acting as `viewer` until `expires_at` (its `exp` plus the
/// leeway every check allows), after which a long-lived connection must end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Session {
    pub(crate) viewer: UserId,
    pub(crate) expires_at: SystemTime,
}

/// The token of a `Bearer` credential (the scheme is case-insensitive, as RFC 7235 says).
pub(crate) fn bearer(raw: &str) -> Option<&str> {
    let (scheme, token) = raw.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}
