//! Decoding and minting the legacy app's tokens: HS256 over `{user_id, exp, refresh}`, as the
//! Flask app's `generate_jwt` makes them with PyJWT.

use std::time::Duration;

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

/// The keys and validation rules for one shared secret.
#[derive(Clone)]
pub(crate) struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl TokenKeys {
    pub(crate) fn new(secret: &SecretString) -> Self {
        let bytes = secret.expose_secret().as_bytes();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = EXP_LEEWAY_SECS;
        validation.validate_aud = false;
        validation.set_required_spec_claims(&["exp"]);
        Self {
            encoding: EncodingKey::from_secret(bytes),
            decoding: DecodingKey::from_secret(bytes),
            validation,
        }
    }

    /// Validates signature, algorithm (HS256 only) and expiry, then reads the claims.
    pub(crate) fn decode(&self, token: &str) -> Result<Claims, TokenError> {
        let data = jsonwebtoken::decode::<WireClaims>(token, &self.decoding, &self.validation)?;
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
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
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
    fn another_secret_is_rejected() {
        let token = keys().mint(UserId::new(42).unwrap(), Duration::from_secs(60)).unwrap();
        let other = TokenKeys::new(&SecretString::from("another-secret"));
        assert!(matches!(other.decode(&token), Err(TokenError::Rejected(_))));
    }
}
