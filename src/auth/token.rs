//! Decoding and minting the legacy app's tokens: HS256 over `{user_id, exp, refresh}`, as the
//! Flask app's `generate_jwt` makes them with PyJWT.

use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::domain::ids::UserId;

/// Clock skew tolerated on `exp`, so that a token minted by the legacy app on a slightly
/// different clock is not refused at the edge of its life.
pub(crate) const EXP_LEEWAY_SECS: u64 = 30;

/// Why a token is not a valid access token.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TokenError {
    #[error("malformed authorization header")]
    Malformed,
    #[error("token rejected: {0}")]
    Rejected(#[from] jsonwebtoken::errors::Error),
    #[error("user_id claim missing or not a positive integer")]
    BadUserId,
    #[error("refresh claim is not a boolean")]
    BadRefresh,
    #[error("could not sign a token: {0}")]
    Sign(jsonwebtoken::errors::Error),
}

/// What an accepted token says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Claims {
    pub(crate) user_id: UserId,
    /// Set for refresh tokens, which must not act as access tokens.
    pub(crate) refresh: bool,
    /// The `exp` claim, in Unix seconds.
    pub(crate) expires_at: u64,
}

/// The claims as they travel; loose on purpose, checked in [`TokenKeys::decode`].
#[derive(Deserialize)]
struct WireClaims {
    #[serde(default)]
    user_id: Value,
    #[serde(default)]
    refresh: Value,
    #[serde(default)]
    is_refresh: Value,
    #[serde(default)]
    exp: Value,
}

#[derive(Serialize)]
struct MintedClaims {
    user_id: i64,
    exp: u64,
    refresh: bool,
}

/// How many verified tokens are remembered: about 3 MB. A client sends the same token with every
/// request until it expires, and checking its signature was a tenth of a cached read's CPU (the
/// rate limiter and the viewer's guard each checked it).
const VERIFIED_CAPACITY: usize = 10_000;

/// The keys and validation rules for one shared secret, and the tokens already verified with
/// them. Cheap to clone (one reference count: the middleware's state is cloned per request).
#[derive(Clone)]
pub(crate) struct TokenKeys(Arc<Keys>);

struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    /// Claims of tokens that passed every check, by the token's whole text: only the same
    /// signed text finds them, and only tokens signed with the secret get in.
    verified: quick_cache::sync::Cache<Box<str>, Claims>,
}

impl TokenKeys {
    pub(crate) fn new(secret: &SecretString) -> Self {
        let bytes = secret.expose_secret().as_bytes();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = EXP_LEEWAY_SECS;
        validation.validate_aud = false;
        validation.set_required_spec_claims(&["exp"]);
        Self(Arc::new(Keys {
            encoding: EncodingKey::from_secret(bytes),
            decoding: DecodingKey::from_secret(bytes),
            validation,
            verified: quick_cache::sync::Cache::new(VERIFIED_CAPACITY),
        }))
    }

    /// Validates signature, algorithm (HS256 only) and expiry, then reads the claims. A token
    /// seen before is not verified again, but its expiry is checked each time.
    pub(crate) fn decode(&self, token: &str) -> Result<Claims, TokenError> {
        if let Some(claims) = self.0.verified.get(token) {
            return match jsonwebtoken::get_current_timestamp() {
                now if now <= claims.expires_at + EXP_LEEWAY_SECS => Ok(claims),
                _ => Err(TokenError::Rejected(ErrorKind::ExpiredSignature.into())),
            };
        }
        let claims = self.verify(token)?;
        self.0.verified.insert(token.into(), claims);
        Ok(claims)
    }

    fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let data = jsonwebtoken::decode::<WireClaims>(token, &self.0.decoding, &self.0.validation)?;
        let claims = data.claims;
        let user_id = UserId::from_json(&claims.user_id).map_err(|_| TokenError::BadUserId)?;
        let refresh = flag(&claims.refresh)? || flag(&claims.is_refresh)?;
        // jsonwebtoken has checked that `exp` is a number in the future (within the leeway).
        let expires_at = claims.exp.as_f64().map_or(0, |exp| exp as u64);
        Ok(Claims { user_id, refresh, expires_at })
    }

    /// An access token for `user_id`, valid for `ttl`, in the legacy app's exact form.
    pub(crate) fn mint(&self, user_id: UserId, ttl: Duration) -> Result<String, TokenError> {
        let claims = MintedClaims {
            user_id: user_id.get(),
            exp: jsonwebtoken::get_current_timestamp() + ttl.as_secs(),
            refresh: false,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.0.encoding)
            .map_err(TokenError::Sign)
    }
}

/// A boolean claim that may be absent; anything but a boolean fails closed.
fn flag(value: &Value) -> Result<bool, TokenError> {
    match value {
        Value::Null => Ok(false),
        Value::Bool(b) => Ok(*b),
        _ => Err(TokenError::BadRefresh),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> TokenKeys {
        TokenKeys::new(&SecretString::from("unit-test-secret"))
    }

    #[test]
    fn a_minted_token_decodes_to_its_user() {
        let id = UserId::new(42).unwrap();
        let token = keys().mint(id, Duration::from_secs(60)).unwrap();
        let claims = keys().decode(&token).unwrap();
        assert_eq!((claims.user_id, claims.refresh), (id, false));
        let in_a_minute = jsonwebtoken::get_current_timestamp() + 60;
        assert!((in_a_minute - 2..=in_a_minute).contains(&claims.expires_at));
    }

    #[test]
    fn a_remembered_token_is_refused_once_it_expires() {
        let keys = keys();
        let id = UserId::new(42).unwrap();
        let token = keys.mint(id, Duration::from_secs(60)).unwrap();
        assert!(keys.decode(&token).is_ok());
        let mut claims = keys.0.verified.get(token.as_str()).expect("remembered");
        claims.expires_at = jsonwebtoken::get_current_timestamp() - EXP_LEEWAY_SECS - 1;
        keys.0.verified.insert(token.as_str().into(), claims);
        assert!(matches!(keys.decode(&token), Err(TokenError::Rejected(_))));
    }

    #[test]
    fn another_secret_is_rejected() {
        let token = keys().mint(UserId::new(42).unwrap(), Duration::from_secs(60)).unwrap();
        let other = TokenKeys::new(&SecretString::from("another-secret"));
        assert!(matches!(other.decode(&token), Err(TokenError::Rejected(_))));
    }
}
