//! Signature V4 as moto checks it. moto rebuilds each request's URL from werkzeug's decoded IRI
//! before it verifies the signature, so a query holding an escaped `/` (any ListObjectsV2 with
//! a prefix) fails with `SignatureDoesNotMatch` although the SDK signed it correctly. The proxy
//! therefore forwards every request with its path and query in the decoded form moto sees,
//! signed again over exactly that form with the caller's own credentials: moto still checks
//! who is calling, and what their policy allows.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// Characters that stay as they are when a path or query is decoded for moto: decoding any
/// other escape would change what moto (or the URL grammar) reads.
fn plain(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~/=:@!$'()*,;".contains(c)
}

/// `text` percent-decoded where the result is plain, else as it was.
pub fn decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%' && i + 2 < bytes.len())
            .then(|| std::str::from_utf8(&bytes[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok()))
            .flatten()
            .filter(|b| plain(*b as char));
        match escaped {
            Some(b) => {
                out.push(b);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A query string with each key and value decoded where plain.
pub fn decoded_query(query: &str) -> String {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) => format!("{}={}", decoded(k), decoded(v)),
            None => decoded(pair),
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// A form body (`a=1&b=x+y`) as moto hashes it for the signature: the fields werkzeug parsed
/// (the first value of each name), re-encoded as Python's `urlencode` does (`quote_plus`).
pub fn form_as_moto_reads_it(body: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(body);
    let field = |s: &str| super::request::percent_decode(&s.replace('+', " "));
    let quote_plus = |s: &str| {
        let mut out = String::new();
        for b in s.bytes() {
            match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-' | b'~' => out.push(b as char),
                b' ' => out.push('+'),
                _ => out.push_str(&format!("%{b:02X}")),
            }
        }
        out
    };
    let mut seen = std::collections::HashSet::new();
    let pairs: Vec<String> = text
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")))
        .map(|(k, v)| (field(k), field(v)))
        .filter(|(k, _)| seen.insert(k.clone()))
        .map(|(k, v)| format!("{}={}", quote_plus(&k), quote_plus(&v)))
        .collect();
    pairs.join("&").into_bytes()
}

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(data.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// SHA-256 in hex.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// What a signature covers.
#[derive(Debug)]
pub struct ToSign<'a> {
    /// `GET`.
    pub method: &'a str,
    /// The path as sent (already in moto's form).
    pub path: &'a str,
    /// The query as sent, without `?`.
    pub query: &'a str,
    /// The signed headers, lowercase names, values as sent.
    pub headers: &'a [(String, String)],
    /// `x-amz-content-sha256`'s value when it is signed, else the body's hash.
    pub payload_hash: &'a str,
    /// `20251126T210000Z`.
    pub amz_date: &'a str,
    /// `us-east-1`.
    pub region: &'a str,
    /// `s3`, `sns`, `secretsmanager`, `monitoring`, ...
    pub service: &'a str,
}

/// The `Authorization` header for `request` signed with `key_id` and `secret`.
pub fn authorization(request: &ToSign<'_>, key_id: &str, secret: &str) -> String {
    let mut query: Vec<(&str, &str)> =
        request.query.split('&').filter(|p| !p.is_empty()).map(|p| p.split_once('=').unwrap_or((p, ""))).collect();
    query.sort();
    let query: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let mut headers: Vec<(String, String)> = request
        .headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.split_whitespace().collect::<Vec<_>>().join(" ")))
        .collect();
    headers.sort();
    let signed: Vec<&str> = headers.iter().map(|(k, _)| k.as_str()).collect();
    let canonical = [
        request.method.to_string(),
        request.path.to_string(),
        query.join("&"),
        headers.iter().map(|(k, v)| format!("{k}:{v}")).collect::<Vec<_>>().join("\n") + "\n",
        signed.join(";"),
        request.payload_hash.to_string(),
    ]
    .join("\n");
    let date = &request.amz_date[..8];
    let scope = format!("{date}/{}/{}/aws4_request", request.region, request.service);
    let to_sign = format!("AWS4-HMAC-SHA256\n{}\n{scope}\n{}", request.amz_date, sha256_hex(canonical.as_bytes()));
    let mut key = hmac(format!("AWS4{secret}").as_bytes(), date);
    for part in [request.region, request.service, "aws4_request"] {
        key = hmac(&key, part);
    }
    let signature = hex::encode(hmac(&key, &to_sign));
    format!("AWS4-HMAC-SHA256 Credential={key_id}/{scope}, SignedHeaders={}, Signature={signature}", signed.join(";"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_characters_are_decoded() {
        assert_eq!(decoded_query("list-type=2&prefix=data%2Fticks%2Fdaily%2F"), "list-type=2&prefix=data/ticks/daily/");
        assert_eq!(
            decoded("/lake/data/ticks/minute/date%3D2025-11-26/bars.parquet"),
            "/lake/data/ticks/minute/date=2025-11-26/bars.parquet"
        );
        assert_eq!(decoded("a%20b%26c%25d%2"), "a%20b%26c%25d%2", "space, & and % keep their escapes");
    }

    #[test]
    fn a_form_is_re_encoded_as_python_does() {
        let got = form_as_moto_reads_it(
            b"Action=Publish&Message=%7B%22a%22%3A%20%221%2F2%22%7D&Subject=lakewatch+ERROR&Action=Again",
        );
        assert_eq!(
            String::from_utf8(got).unwrap(),
            "Action=Publish&Message=%7B%22a%22%3A+%221%2F2%22%7D&Subject=lakewatch+ERROR"
        );
    }

    /// The example of AWS's Signature V4 test suite (`get-vanilla`), whose signature is published.
    #[test]
    fn signs_the_published_example() {
        let headers = [
            ("host".to_string(), "example.amazonaws.com".to_string()),
            ("x-amz-date".to_string(), "20150830T123600Z".to_string()),
        ];
        let auth = authorization(
            &ToSign {
                method: "GET",
                path: "/",
                query: "",
                headers: &headers,
                payload_hash: &sha256_hex(b""),
                amz_date: "20150830T123600Z",
                region: "us-east-1",
                service: "service",
            },
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        );
        assert_eq!(
            auth,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        );
    }
}
