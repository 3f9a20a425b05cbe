//! Access tokens (HS256 JWTs, algorithm pinned) and opaque refresh tokens
//! (random, stored only as SHA-256 hashes).

use base64::Engine;
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::config::JwtSecret;
use crate::domain::Role;

pub const ISSUER: &str = "painline";
pub const AUDIENCE: &str = "painline-api";

/// Claims of an access token; every one is required on decode.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: Uuid,
    pub role: Role,
    pub iat: i64,
    pub exp: i64,
    pub iss: String,
    pub aud: String,
    pub jti: Uuid,
    /// The login (refresh-token family) the token was issued to; it tells
    /// `GET /v1/me/sessions` which login is the caller's. Optional on
    /// decode so tokens issued before logins were listed stay valid until
    /// they run out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<Uuid>,
}

#[derive(Clone)]
pub struct TokenService {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    pub access_ttl: i64,
    pub refresh_ttl: i64,
    /// How long after its first use a refresh token is accepted again (§6).
    pub refresh_grace: chrono::Duration,
}

impl TokenService {
    pub fn new(secret: &JwtSecret, access_ttl: i64, refresh_ttl: i64) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        // Expiry is checked against the application clock in `decode_access`.
        validation.validate_exp = false;
        validation.leeway = 0;
        Self {
            encoding: EncodingKey::from_secret(secret.expose()),
            decoding: DecodingKey::from_secret(secret.expose()),
            validation,
            access_ttl,
            refresh_ttl,
            refresh_grace: chrono::Duration::zero(),
        }
    }

    /// Accepts a used refresh token again for `seconds` after its first use.
    pub fn with_refresh_grace(mut self, seconds: i64) -> Self {
        self.refresh_grace = chrono::Duration::seconds(seconds);
        self
    }

    pub fn issue_access(
        &self,
        user_id: Uuid,
        role: Role,
        login: Uuid,
        now: DateTime<Utc>,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let claims = Claims {
            sub: user_id,
            role,
            iat: now.timestamp(),
            exp: now.timestamp() + self.access_ttl,
            iss: ISSUER.to_owned(),
            aud: AUDIENCE.to_owned(),
            jti: Uuid::new_v4(),
            sid: Some(login),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
    }

    /// Decodes and checks an access token. `Expired` only for a token this
    /// service signed (the signature and every other claim hold) whose time
    /// has passed; anything else is `Invalid`.
    pub fn decode_access(&self, token: &str, now: DateTime<Utc>) -> Result<Claims, Refused> {
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|_| Refused::Invalid)?
            .claims;
        let now = now.timestamp();
        if claims.iat > now + 60 {
            return Err(Refused::Invalid);
        }
        if claims.exp <= now {
            return Err(Refused::Expired);
        }
        Ok(claims)
    }
}

/// Why an access token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Signed here and otherwise valid, but past its `exp`: refresh.
    Expired,
    /// Malformed, forged, for another audience, or issued in the future.
    Invalid,
}

/// A new refresh token: the string handed to the client, and the hash stored.
pub fn new_refresh_token() -> (String, String) {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash_refresh_token(&token);
    (token, hash)
}

pub fn hash_refresh_token(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    #[test]
    fn a_token_is_valid_until_it_expires() -> TestResult {
        let tokens = TokenService::new(&JwtSecret::new(vec![7; 32])?, 900, 3600);
        let now = Utc::now();
        let id = Uuid::new_v4();
        let jwt = tokens.issue_access(id, Role::Patient, Uuid::from_u128(7), now)?;
        let claims = tokens.decode_access(&jwt, now).map_err(|_| "refused")?;
        assert_eq!((claims.sub, claims.role), (id, Role::Patient));
        assert!(tokens
            .decode_access(&jwt, now + chrono::Duration::seconds(899))
            .is_ok());
        assert_eq!(
            tokens
                .decode_access(&jwt, now + chrono::Duration::seconds(900))
                .err(),
            Some(Refused::Expired)
        );
        // Signed with another key: invalid, expired or not.
        let other = TokenService::new(&JwtSecret::new(vec![8; 32])?, 900, 3600);
        let later = now + chrono::Duration::seconds(1000);
        assert_eq!(other.decode_access(&jwt, now).err(), Some(Refused::Invalid));
        assert_eq!(
            other.decode_access(&jwt, later).err(),
            Some(Refused::Invalid)
        );
        // Issued more than a minute in the future: invalid, not "expired".
        let ahead = tokens.issue_access(id, Role::Patient, Uuid::from_u128(7), later)?;
        assert_eq!(
            tokens.decode_access(&ahead, now).err(),
            Some(Refused::Invalid)
        );
        Ok(())
    }

    mod fuzz {
        use super::*;
        use proptest::prelude::*;

        fn service() -> TokenService {
            match JwtSecret::new(vec![7; 32]) {
                Ok(secret) => TokenService::new(&secret, 900, 3600),
                Err(_) => unreachable!("32 bytes is a valid secret"),
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2_000))]

            /// Any string, printable or not, is refused without a panic.
            #[test]
            fn any_string_is_refused(raw in any::<String>()) {
                prop_assert_eq!(service().decode_access(&raw, Utc::now()).err(), Some(Refused::Invalid));
            }

            /// Three dot-separated base64url parts, as a JWT looks.
            #[test]
            fn jwt_shaped_garbage_is_refused(
                parts in proptest::collection::vec("[A-Za-z0-9_-]{0,60}", 3)
            ) {
                let raw = parts.join(".");
                prop_assert_eq!(service().decode_access(&raw, Utc::now()).err(), Some(Refused::Invalid));
            }

            /// Any one byte of a valid token changed: refused (or, where
            /// base64 ignores the change, the same claims), never a panic.
            #[test]
            fn a_flipped_byte_is_refused(at in 0usize..400, byte in 0x21u8..0x7f) {
                let tokens = service();
                let now = Utc::now();
                let id = Uuid::from_u128(42);
                let jwt = tokens.issue_access(id, Role::Patient, Uuid::from_u128(7), now).map_err(|e| TestCaseError::fail(e.to_string()))?;
                let mut bytes = jwt.clone().into_bytes();
                let at = at % bytes.len();
                bytes[at] = byte;
                let changed = String::from_utf8_lossy(&bytes).into_owned();
                if let Ok(claims) = tokens.decode_access(&changed, now) {
                    prop_assert_eq!((claims.sub, claims.role), (id, Role::Patient));
                }
            }
        }
    }

    #[test]
    fn refresh_tokens_are_random_and_hashed() {
        let (a, hash_a) = new_refresh_token();
        let (b, _) = new_refresh_token();
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert_eq!(hash_a, hash_refresh_token(&a));
        assert_eq!(hash_a.len(), 64);
    }
}
