//! Alpaca credentials from AWS Secrets Manager, cached for a TTL across warm invocations (a
//! rotated secret is picked up within the TTL), and parsed from the secret's JSON. No error,
//! log line or `Debug` output ever holds a credential's value.

use std::time::{Duration, Instant};

use tokio::sync::Mutex;

use crate::alpaca::Credentials;

/// Why the credentials could not be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// Secrets Manager failed or refused.
    #[error("secret `{secret_id}`: {reason}")]
    Fetch {
        /// The secret's id.
        secret_id: String,
        /// Why (the SDK's error, which never holds the value).
        reason: String,
    },
    /// The secret is not the expected JSON.
    #[error(
        "secret `{secret_id}` must be JSON with `APCA_API_KEY_ID` and `APCA_API_SECRET_KEY` (or `key_id` and `secret_key`): {reason}"
    )]
    Shape {
        /// The secret's id.
        secret_id: String,
        /// What is wrong (names fields, never values).
        reason: String,
    },
}

/// Parses a secret string: `{"APCA_API_KEY_ID": "...", "APCA_API_SECRET_KEY": "..."}` (or
/// `key_id` and `secret_key`).
pub fn parse_secret(secret_id: &str, text: &str) -> Result<Credentials, SecretError> {
    let shape = |reason: &str| SecretError::Shape { secret_id: secret_id.into(), reason: reason.into() };
    let value: serde_json::Value = serde_json::from_str(text).map_err(|_| shape("not JSON"))?;
    let field = |names: [&str; 2]| {
        names.iter().find_map(|n| value.get(*n).and_then(|v| v.as_str())).map(str::trim).filter(|v| !v.is_empty())
    };
    let key_id = field(["APCA_API_KEY_ID", "key_id"]).ok_or_else(|| shape("no key id"))?;
    let secret_key = field(["APCA_API_SECRET_KEY", "secret_key"]).ok_or_else(|| shape("no secret key"))?;
    Ok(Credentials { key_id: key_id.into(), secret_key: secret_key.into() })
}

/// Alpaca credentials as configured.
#[derive(Debug)]
pub enum Keys {
    /// Read from Secrets Manager, cached for a TTL.
    Secret(SecretCache),
    /// Given (environment variables, tests).
    Fixed(Credentials),
}

impl Keys {
    /// The credentials to send.
    pub async fn get(&self) -> Result<Credentials, SecretError> {
        match self {
            Keys::Secret(cache) => cache.credentials().await,
            Keys::Fixed(c) => Ok(c.clone()),
        }
    }

    /// Fresh credentials after `refused` got a 401, or `None` when there are none to try.
    pub async fn renew(&self, refused: &Credentials) -> Result<Option<Credentials>, SecretError> {
        match self {
            Keys::Secret(cache) => cache.renew(refused).await,
            Keys::Fixed(_) => Ok(None),
        }
    }
}

/// A Secrets Manager secret, read at most once per TTL.
#[derive(Debug)]
pub struct SecretCache {
    client: aws_sdk_secretsmanager::Client,
    secret_id: String,
    ttl: Duration,
    cached: Mutex<Option<(Credentials, Instant)>>,
}

impl SecretCache {
    /// The secret `secret_id`, kept for `ttl`.
    pub fn new(client: aws_sdk_secretsmanager::Client, secret_id: &str, ttl: Duration) -> Self {
        SecretCache { client, secret_id: secret_id.into(), ttl, cached: Mutex::new(None) }
    }

    /// The credentials: cached if younger than the TTL, else read again.
    pub async fn credentials(&self) -> Result<Credentials, SecretError> {
        let mut cached = self.cached.lock().await;
        if let Some((c, at)) = cached.as_ref()
            && at.elapsed() < self.ttl
        {
            return Ok(c.clone());
        }
        self.read(&mut cached).await
    }

    /// After the API refused `refused` (401): the secret read afresh, whatever the TTL, or
    /// `None` when it still holds the refused credentials (no rotation to catch up with). A
    /// renewal another request already made is shared, not read again.
    pub async fn renew(&self, refused: &Credentials) -> Result<Option<Credentials>, SecretError> {
        let mut cached = self.cached.lock().await;
        if let Some((c, _)) = cached.as_ref()
            && c != refused
        {
            return Ok(Some(c.clone()));
        }
        let fresh = self.read(&mut cached).await?;
        Ok((&fresh != refused).then_some(fresh))
    }

    async fn read(&self, cached: &mut Option<(Credentials, Instant)>) -> Result<Credentials, SecretError> {
        let out = self.client.get_secret_value().secret_id(&self.secret_id).send().await.map_err(|e| {
            let reason = match e.as_service_error().map(|s| (s.meta().code(), s.meta().message())) {
                // The refusal in AWS's words: who, which action, which secret.
                Some((Some("AccessDeniedException"), Some(message))) => format!("access denied: {message}"),
                _ => aws_sdk_secretsmanager::error::DisplayErrorContext(&e).to_string(),
            };
            SecretError::Fetch { secret_id: self.secret_id.clone(), reason }
        })?;
        let text = out.secret_string().ok_or_else(|| SecretError::Shape {
            secret_id: self.secret_id.clone(),
            reason: "binary secrets are not supported".into(),
        })?;
        let credentials = parse_secret(&self.secret_id, text)?;
        *cached = Some((credentials.clone(), Instant::now()));
        Ok(credentials)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_spellings_parse_and_errors_never_hold_values() {
        let c = parse_secret("alpaca", r#"{"APCA_API_KEY_ID": "PK1", "APCA_API_SECRET_KEY": "hunter2"}"#).unwrap();
        assert_eq!((c.key_id.as_str(), c.secret_key.as_str()), ("PK1", "hunter2"));
        assert_eq!(parse_secret("alpaca", r#"{"key_id": "PK1", "secret_key": "hunter2"}"#).unwrap(), c);
        assert!(!format!("{c:?}").contains("hunter2"));
        for bad in [r#"{"key_id": "PK1"}"#, "hunter2", r#"{"key_id": "", "secret_key": "hunter2"}"#] {
            let e = parse_secret("alpaca", bad).unwrap_err().to_string();
            assert!(e.starts_with("secret `alpaca` must be JSON"), "{e}");
            assert!(!e.contains("hunter2") && !e.contains("PK1"), "{e}");
        }
    }
}
