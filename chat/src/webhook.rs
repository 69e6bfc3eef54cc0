//! The webhook's HTTP side: the Function URL's request (Lambda's HTTP payload, version 2.0), the
//! secret token Telegram sends with every update (`X-Telegram-Bot-Api-Secret-Token`, compared in
//! constant time), and the response. Telegram retries any update answered with other than 2xx,
//! so everything that is not an authentication failure is answered 200.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde_json::{Value, json};
use subtle::ConstantTimeEq as _;

/// The header Telegram sends the secret token in (lowercase, as Function URLs deliver headers).
pub const SECRET_HEADER: &str = "x-telegram-bot-api-secret-token";
/// The largest update read; Telegram's are a few KB.
pub const MAX_BODY: usize = 256 * 1024;

/// An HTTP request from the Function URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// `POST`, `GET`…
    pub method: String,
    /// Headers, names lowercased.
    pub headers: BTreeMap<String, String>,
    /// The body, decoded.
    pub body: Vec<u8>,
}

/// Whether `event` is an HTTP request (a Function URL's or an HTTP API's, payload 2.0).
pub fn is_http(event: &Value) -> bool {
    event.pointer("/requestContext/http/method").is_some()
}

/// The request `event` carries; `Err` names what is wrong with it.
pub fn request(event: &Value) -> Result<Request, String> {
    let method =
        event.pointer("/requestContext/http/method").and_then(Value::as_str).ok_or("no requestContext.http.method")?;
    let headers = event
        .get("headers")
        .and_then(Value::as_object)
        .map(|h| h.iter().filter_map(|(k, v)| Some((k.to_ascii_lowercase(), v.as_str()?.to_string()))).collect())
        .unwrap_or_default();
    let text = event.get("body").and_then(Value::as_str).unwrap_or_default();
    if text.len() > MAX_BODY * 2 {
        return Err(format!("a body of {} bytes, more than {MAX_BODY}", text.len()));
    }
    let body = if event.get("isBase64Encoded").and_then(Value::as_bool) == Some(true) {
        base64::engine::general_purpose::STANDARD.decode(text).map_err(|e| format!("body is not base64: {e}"))?
    } else {
        text.as_bytes().to_vec()
    };
    if body.len() > MAX_BODY {
        return Err(format!("a body of {} bytes, more than {MAX_BODY}", body.len()));
    }
    Ok(Request { method: method.to_string(), headers, body })
}

/// Whether `request` carries `secret` in [`SECRET_HEADER`], compared in constant time.
pub fn authentic(request: &Request, secret: &str) -> bool {
    let given = request.headers.get(SECRET_HEADER).map_or(&b""[..], |s| s.as_bytes());
    // Lengths may differ; `ct_eq` on slices of different lengths is false without comparing
    // contents, and the length of a secret of 1 to 256 characters is no secret worth keeping.
    !secret.is_empty() && bool::from(given.ct_eq(secret.as_bytes()))
}

/// The HTTP response: a status, and a Bot API method to run as the reply (Telegram runs a
/// method returned in the webhook's response, which saves a call).
pub fn response(status: u16, reply: Option<Value>) -> Value {
    let body = reply.map_or_else(String::new, |r| r.to_string());
    json!({"statusCode": status, "headers": {"content-type": "application/json"}, "body": body})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(headers: Value, body: &str, base64: bool) -> Value {
        json!({"version": "2.0", "requestContext": {"http": {"method": "POST"}}, "headers": headers,
               "body": body, "isBase64Encoded": base64})
    }

    #[test]
    fn only_the_exact_secret_is_authentic() {
        let secret = "s3cr3t_token-1";
        // (header value, authentic)
        let cases = [
            (Some("s3cr3t_token-1"), true),
            (Some("s3cr3t_token-2"), false),
            (Some("s3cr3t_token-1 "), false),
            (Some("s3cr3t_token"), false),
            (Some(""), false),
            (None, false),
        ];
        for (given, want) in cases {
            let headers = given.map_or(json!({}), |g| json!({"X-Telegram-Bot-Api-Secret-Token": g}));
            let r = request(&event(headers, "{}", false)).unwrap();
            assert_eq!(authentic(&r, secret), want, "{given:?}");
        }
        let r = request(&event(json!({"x-telegram-bot-api-secret-token": ""}), "{}", false)).unwrap();
        assert!(!authentic(&r, ""), "an empty secret authenticates nothing");
    }

    #[test]
    fn bodies_are_decoded_and_bounded() {
        let r = request(&event(json!({}), "eyJ1cGRhdGVfaWQiOjF9", true)).unwrap();
        assert_eq!(r.body, br#"{"update_id":1}"#);
        assert!(request(&event(json!({}), "%%%", true)).unwrap_err().starts_with("body is not base64"));
        let huge = "x".repeat(MAX_BODY + 1);
        assert!(request(&event(json!({}), &huge, false)).unwrap_err().contains("more than"));
        assert_eq!(request(&json!({"body": "{}"})).unwrap_err(), "no requestContext.http.method");
    }
}
