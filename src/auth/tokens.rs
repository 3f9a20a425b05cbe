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
}

#[derive(Clone)]
pub struct TokenService {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    pub access_ttl: i64,
    pub refresh_ttl: i64,
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
        }
    }

    pub fn issue_access(
        &self,
        user_id: Uuid,
        role: Role,
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
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
    }

    /// Decodes and checks an access token; `None` for anything not valid now.
    pub fn decode_access(&self, token: &str, now: DateTime<Utc>) -> Option<Claims> {
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .ok()?
            .claims;
        let now = now.timestamp();
        (claims.exp > now && claims.iat <= now + 60).then_some(claims)
    }
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
        let jwt = tokens.issue_access(id, Role::Patient, now)?;
        let claims = tokens.decode_access(&jwt, now).ok_or("refused")?;
        assert_eq!((claims.sub, claims.role), (id, Role::Patient));
        assert!(tokens
            .decode_access(&jwt, now + chrono::Duration::seconds(899))
            .is_some());
        assert!(tokens
            .decode_access(&jwt, now + chrono::Duration::seconds(900))
            .is_none());
        Ok(())
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
