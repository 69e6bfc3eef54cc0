//! The proxy in front of moto that makes its IAM behave as AWS's does for lakewatch's calls.
//! Every signed request is authorized here against the caller's whole policy (and the bucket's
//! or topic's policy), then forwarded to moto re-signed with the caller's own credentials, so
//! moto checks the caller and the action too. What the proxy adds to moto:
//!
//! - resources and conditions for every service (moto checks S3 resources only, and no
//!   condition key: `s3:prefix`, `kms:ViaService`, `aws:SecureTransport` pass unchecked);
//! - S3's rule for a missing key: 403 AccessDenied, not 404, to a caller that may not
//!   `s3:ListBucket` the key's prefix (moto always answers 404);
//! - the KMS permissions S3, SNS and Secrets Manager need of the caller when they encrypt or
//!   decrypt with the stack's key (moto checks none);
//! - resource policies: the bucket policy's and the topic policy's statements;
//! - CloudWatch's RPC v2 CBOR protocol (moto speaks JSON), and the composite alarms and saved
//!   queries moto does not implement, kept here once authorized.
//!
//! Each refused request is answered as the service would (S3 XML, SNS XML, JSON, CBOR) with
//! AWS's wording, and is recorded for the test to read.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use super::policy::{self, Caller as Who, Decision, Policy, Request};
use super::request::{Http, Need, cloudwatch_resource, key_use, s3_need, s3_target, service_need};
use super::sigv4::{self, ToSign, authorization, decoded, decoded_query, sha256_hex};
use super::template::{ACCOUNT, REGION};

/// A principal the proxy knows by its access key.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    pub(crate) arn: String,
    pub(crate) policy: Policy,
    pub(crate) secret: String,
    pub(crate) token: Option<String>,
}

/// A secret the stack holds.
#[derive(Debug, Clone)]
pub(crate) struct Secret {
    pub(crate) name: String,
    pub(crate) arn: String,
    pub(crate) key: Option<String>,
}

/// What the proxy knows of the stack.
#[derive(Debug, Default)]
pub(crate) struct Rules {
    pub(crate) callers: HashMap<String, Caller>,
    pub(crate) bucket_policies: HashMap<String, Policy>,
    pub(crate) bucket_keys: HashMap<String, String>,
    pub(crate) topic_policies: HashMap<String, Policy>,
    pub(crate) topic_keys: HashMap<String, String>,
    pub(crate) secrets: Vec<Secret>,
    pub(crate) composite_alarms: BTreeMap<String, Value>,
    pub(crate) saved_queries: Vec<Value>,
    pub(crate) refusals: Vec<String>,
    /// S3 keys (by prefix) answered `503 SlowDown` for the next so many requests.
    pub(crate) throttles: Vec<(String, usize)>,
    /// S3 keys (by prefix) whose next so many whole GETs stop half-way through the body.
    pub(crate) cuts: Vec<(String, usize)>,
}

impl Rules {
    fn secret_arn(&self, id: &str) -> String {
        self.secrets
            .iter()
            .find(|s| s.name == id || s.arn == id)
            .map_or_else(|| format!("arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{id}"), |s| s.arn.clone())
    }
}

/// Starts the proxy in front of moto's `moto` (`http://127.0.0.1:PORT`); returns its URL.
pub(crate) fn start(moto: &str, rules: Arc<Mutex<Rules>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port on 127.0.0.1");
    let url = format!("http://{}", listener.local_addr().expect("a bound listener has an address"));
    let moto = moto.trim_start_matches("http://").to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (moto, rules) = (moto.clone(), rules.clone());
            std::thread::spawn(move || {
                let _ = serve(stream, &moto, &rules);
            });
        }
    });
    url
}

/// One request per connection: read, decide, answer, close.
fn serve(client: TcpStream, moto: &str, rules: &Mutex<Rules>) -> std::io::Result<()> {
    let mut writer = client.try_clone()?;
    let mut reader = BufReader::new(client);
    let Some(http) = read_request(&mut reader, &mut writer)? else { return Ok(()) };
    let answer = handle(&http, moto, rules)?;
    writer.write_all(&answer)?;
    writer.flush()
}

fn read_request(reader: &mut impl BufRead, writer: &mut impl Write) -> std::io::Result<Option<Http>> {
    let mut first = String::new();
    if reader.read_line(&mut first)? == 0 {
        return Ok(None);
    }
    let mut parts = first.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let target = parts.next().unwrap_or_default().to_string();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let get = |headers: &[(String, String)], name: &str| {
        headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone())
    };
    if get(&headers, "expect").is_some_and(|e| e.eq_ignore_ascii_case("100-continue")) {
        writer.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        writer.flush()?;
        headers.retain(|(k, _)| !k.eq_ignore_ascii_case("expect"));
    }
    let mut body = Vec::new();
    if get(&headers, "transfer-encoding").is_some_and(|t| t.eq_ignore_ascii_case("chunked")) {
        // Kept as it came (framing included): moto reads the same header.
        loop {
            let mut size_line = String::new();
            reader.read_line(&mut size_line)?;
            body.extend_from_slice(size_line.as_bytes());
            let size = usize::from_str_radix(size_line.trim().split(';').next().unwrap_or("0"), 16).unwrap_or(0);
            if size == 0 {
                loop {
                    let mut trailer = String::new();
                    reader.read_line(&mut trailer)?;
                    body.extend_from_slice(trailer.as_bytes());
                    if trailer.trim().is_empty() {
                        break;
                    }
                }
                break;
            }
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk)?;
            body.extend_from_slice(&chunk);
        }
    } else if let Some(length) = get(&headers, "content-length").and_then(|v| v.parse::<usize>().ok()) {
        body = vec![0; length];
        reader.read_exact(&mut body)?;
    }
    let (path, query) = target.split_once('?').map_or((target.clone(), String::new()), |(p, q)| (p.into(), q.into()));
    Ok(Some(Http { method, path, query, headers, body }))
}

fn handle(http: &Http, moto: &str, rules: &Mutex<Rules>) -> std::io::Result<Vec<u8>> {
    let Some((key_id, region, service)) = http.credential() else { return forward_unsigned(http, moto) };
    let Some(caller) = rules.lock().unwrap().callers.get(&key_id).cloned() else {
        // An unknown key: moto refuses it as AWS would.
        return forward_unsigned(http, moto);
    };
    let signer = Signer { key_id: &key_id, caller: &caller, region: &region, service: &service };
    if service == "monitoring" && http.header("smithy-protocol").is_some() {
        return cloudwatch(http, moto, rules, &signer);
    }
    if service == "logs" && matches!(http.target(), Some("PutQueryDefinition" | "DescribeQueryDefinitions")) {
        return saved_queries(http, rules, &signer);
    }
    if service == "s3"
        && let (_, Some(key)) = s3_target(http)
        && let Some(t) = rules.lock().unwrap().throttles.iter_mut().find(|(p, n)| key.starts_with(p.as_str()) && *n > 0)
    {
        t.1 -= 1;
        return Ok(slow_down(http));
    }
    let (needs, after) = {
        let r = rules.lock().unwrap();
        needs(http, &service, &r)
    };
    for (need, resource_policy) in &needs {
        if let Err(message) = authorize(rules, &caller, need, resource_policy.as_ref()) {
            return Ok(refusal(&service, http, &message));
        }
    }
    let answer = forward_signed(http, moto, &signer)?;
    if service != "s3" || !matches!(http.method.as_str(), "GET" | "HEAD") {
        return Ok(answer);
    }
    let (bucket, Some(key)) = s3_target(http) else { return Ok(answer) };
    let bucket = bucket.unwrap_or_default();
    match status(&answer) {
        // S3 tells a caller that a key does not exist only if it may list the key's prefix.
        404 => {
            let list = Need {
                action: "s3:ListBucket".into(),
                resource: format!("arn:aws:s3:::{bucket}"),
                context: vec![("s3:prefix".into(), key.clone()), ("aws:SecureTransport".into(), "true".into())],
            };
            let bucket_policy = rules.lock().unwrap().bucket_policies.get(&bucket).cloned();
            let allowed = matches!(
                policy::decide(Some(&caller.policy), bucket_policy.as_ref(), &request(&caller, &list)),
                Decision::Allowed(_)
            );
            if !allowed {
                let message = format!(
                    "User: {} is not authorized to perform: {} on resource: \"arn:aws:s3:::{bucket}/{key}\" (the key does not exist, and the caller may not s3:ListBucket its prefix)",
                    caller.arn,
                    needs.first().map_or("s3:GetObject", |(n, _)| n.action.as_str())
                );
                record(rules, &format!("s3:ListBucket arn:aws:s3:::{bucket} s3:prefix={key}"));
                return Ok(refusal("s3", http, &message));
            }
        }
        // Reading an object needs kms:Decrypt of the key it was written with: the one S3 names
        // in the answer (an object written with another key), else the bucket's.
        200 | 206 if http.method == "GET" => {
            let own = header(&answer, "x-amz-server-side-encryption-aws-kms-key-id").map(|id| {
                let arn = if id.starts_with("arn:") { id } else { format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/{id}") };
                key_use("kms:Decrypt", &arn, "s3")
            });
            if let Some(need) = own.or(after)
                && let Err(message) = authorize(rules, &caller, &need, None)
            {
                return Ok(refusal("s3", http, &message));
            }
            if http.header("range").is_none()
                && let Some(c) =
                    rules.lock().unwrap().cuts.iter_mut().find(|(p, n)| key.starts_with(p.as_str()) && *n > 0)
            {
                c.1 -= 1;
                // The headers announce every byte; half of them come, then the connection closes.
                let body = body(&answer).len();
                return Ok(answer[..answer.len() - body + body / 2].to_vec());
            }
        }
        _ => {}
    }
    Ok(answer)
}

/// What a request needs (each with the resource policy that applies), and what a successful
/// S3 read needs after the fact (the key's use, once the object is known to exist).
fn needs(http: &Http, service: &str, rules: &Rules) -> (Vec<(Need, Option<Policy>)>, Option<Need>) {
    if service == "s3" {
        let need = s3_need(http);
        let bucket = s3_target(http).0.unwrap_or_default();
        let policy = rules.bucket_policies.get(&bucket).cloned();
        let key = rules.bucket_keys.get(&bucket).cloned();
        let mut out = vec![(need.clone(), policy)];
        let mut after = None;
        if let Some(key) = key {
            match need.action.as_str() {
                "s3:PutObject" => {
                    let named =
                        need.context.iter().find(|(k, _)| k == "s3:x-amz-server-side-encryption-aws-kms-key-id");
                    let key = named.map_or(key, |(_, v)| v.clone());
                    out.push((key_use("kms:GenerateDataKey", &key, "s3"), None));
                }
                "s3:GetObject" | "s3:GetObjectVersion" => after = Some(key_use("kms:Decrypt", &key, "s3")),
                _ => {}
            }
        }
        return (out, after);
    }
    let need = service_need(service, http, |id| rules.secret_arn(id));
    let mut out = Vec::new();
    match need.action.as_str() {
        "sns:Publish" => {
            if let Some(key) = rules.topic_keys.get(&need.resource) {
                out.push((key_use("kms:GenerateDataKey", key, "sns"), None));
                out.push((key_use("kms:Decrypt", key, "sns"), None));
            }
            let policy = rules.topic_policies.get(&need.resource).cloned();
            out.insert(0, (need, policy));
        }
        "secretsmanager:GetSecretValue" => {
            let key = rules.secrets.iter().find(|s| s.arn == need.resource).and_then(|s| s.key.clone());
            out.push((need, None));
            if let Some(key) = key {
                out.push((key_use("kms:Decrypt", &key, "secretsmanager"), None));
            }
        }
        _ => out.push((need, None)),
    }
    (out, None)
}

fn request(caller: &Caller, need: &Need) -> Request {
    Request {
        caller: Who::Aws(caller.arn.clone()),
        action: need.action.clone(),
        resource: need.resource.clone(),
        context: need.context.clone(),
    }
}

fn record(rules: &Mutex<Rules>, what: &str) {
    rules.lock().unwrap().refusals.push(what.to_string());
}

/// `Err` with AWS's message when the caller's policy and the resource's do not allow `need`.
fn authorize(rules: &Mutex<Rules>, caller: &Caller, need: &Need, resource: Option<&Policy>) -> Result<(), String> {
    let (action, target) = (&need.action, &need.resource);
    let why = match policy::decide(Some(&caller.policy), resource, &request(caller, need)) {
        Decision::Allowed(_) => return Ok(()),
        Decision::Denied(sid) => {
            format!("with an explicit deny (statement {})", sid.as_deref().unwrap_or("without a Sid"))
        }
        Decision::NotAllowed => format!("because no identity-based policy allows the {action} action"),
    };
    record(rules, &format!("{action} {target}"));
    Err(format!("User: {} is not authorized to perform: {action} on resource: {target} {why}", caller.arn))
}

/// A refusal in the service's own protocol.
/// S3's `503 SlowDown`, as it throttles a prefix.
fn slow_down(http: &Http) -> Vec<u8> {
    let body = if http.method == "HEAD" {
        String::new()
    } else {
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message><RequestId>lakewatch-harness</RequestId></Error>".to_string()
    };
    let mut out = format!(
        "HTTP/1.1 503 Slow Down\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body.as_bytes());
    out
}

fn refusal(service: &str, http: &Http, message: &str) -> Vec<u8> {
    let xml = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;");
    let (status, content_type, body) = match service {
        "s3" => (
            403,
            "application/xml",
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code><Message>{}</Message><RequestId>lakewatch-harness</RequestId></Error>",
                xml(message)
            ),
        ),
        "sns" | "sts" | "iam" => (
            403,
            "text/xml",
            format!(
                "<ErrorResponse><Error><Type>Sender</Type><Code>AuthorizationError</Code><Message>{}</Message></Error><RequestId>lakewatch-harness</RequestId></ErrorResponse>",
                xml(message)
            ),
        ),
        _ => (
            400,
            "application/x-amz-json-1.1",
            json!({"__type": "AccessDeniedException", "Message": message, "message": message}).to_string(),
        ),
    };
    let body = if http.method == "HEAD" { String::new() } else { body };
    let extra = if content_type.contains("json") { "x-amzn-ErrorType: AccessDeniedException\r\n" } else { "" };
    let mut out = format!(
        "HTTP/1.1 {status} Refused\r\nContent-Type: {content_type}\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body.as_bytes());
    out
}

/// Who signs a forwarded request, for which region and service.
struct Signer<'a> {
    key_id: &'a str,
    caller: &'a Caller,
    region: &'a str,
    service: &'a str,
}

impl Signer<'_> {
    /// The request line and headers for moto, signed over what moto will see.
    fn head(
        &self,
        method: &str,
        path: &str,
        query: &str,
        headers: &[(String, String)],
        body: &[u8],
        moto: &str,
    ) -> String {
        let get = |n: &str| headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(n)).map(|(_, v)| v.clone());
        let mut signed = vec![("host".to_string(), moto.to_string())];
        for name in ["x-amz-date", "x-amz-security-token", "x-amz-content-sha256", "x-amz-target"] {
            if let Some(v) = get(name) {
                signed.push((name.to_string(), v));
            }
        }
        if self.caller.token.is_some() && get("x-amz-security-token").is_none() {
            signed.push(("x-amz-security-token".into(), self.caller.token.clone().unwrap_or_default()));
        }
        let payload = get("x-amz-content-sha256").unwrap_or_else(|| sha256_hex(body));
        let amz_date = get("x-amz-date").unwrap_or_default();
        let auth = authorization(
            &ToSign {
                method,
                path,
                query,
                headers: &signed,
                payload_hash: &payload,
                amz_date: &amz_date,
                region: self.region,
                service: self.service,
            },
            self.key_id,
            &self.caller.secret,
        );
        let target = if query.is_empty() { path.to_string() } else { format!("{path}?{query}") };
        let mut head =
            format!("{method} {target} HTTP/1.1\r\nHost: {moto}\r\nAuthorization: {auth}\r\nConnection: close\r\n");
        let skip = ["host", "authorization", "connection"];
        for (k, v) in headers {
            if !skip.iter().any(|s| k.eq_ignore_ascii_case(s)) {
                head.push_str(&format!("{k}: {v}\r\n"));
            }
        }
        if self.caller.token.is_some() && get("x-amz-security-token").is_none() {
            head.push_str(&format!("x-amz-security-token: {}\r\n", self.caller.token.clone().unwrap_or_default()));
        }
        head.push_str("\r\n");
        head
    }
}

fn forward_signed(http: &Http, moto: &str, signer: &Signer<'_>) -> std::io::Result<Vec<u8>> {
    let (path, query) = (decoded(&http.path), decoded_query(&http.query));
    // moto hashes a form body as Python re-encodes the fields it parsed: send it that way.
    let form = http.header("content-type").is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
    let (body, headers) = if form {
        let body = sigv4::form_as_moto_reads_it(&http.body);
        let mut headers = http.headers.clone();
        for (k, v) in &mut headers {
            if k.eq_ignore_ascii_case("content-length") {
                *v = body.len().to_string();
            }
        }
        (body, headers)
    } else {
        (http.body.clone(), http.headers.clone())
    };
    let head = signer.head(&http.method, &path, &query, &headers, &body, moto);
    let mut raw = head.into_bytes();
    raw.extend_from_slice(&body);
    exchange(moto, &raw)
}

fn forward_unsigned(http: &Http, moto: &str) -> std::io::Result<Vec<u8>> {
    let target = if http.query.is_empty() { http.path.clone() } else { format!("{}?{}", http.path, http.query) };
    let mut head = format!("{} {target} HTTP/1.1\r\n", http.method);
    for (k, v) in &http.headers {
        if !k.eq_ignore_ascii_case("connection") {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    head.push_str("Connection: close\r\n\r\n");
    let mut raw = head.into_bytes();
    raw.extend_from_slice(&http.body);
    exchange(moto, &raw)
}

/// Sends one request to `addr` and reads the answer to its end; the answer's `Connection`
/// header says `close`, as the proxy closes every connection after one answer.
pub(crate) fn exchange(addr: &str, raw: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut upstream = TcpStream::connect(addr)?;
    upstream.write_all(raw)?;
    upstream.flush()?;
    let mut answer = Vec::new();
    upstream.read_to_end(&mut answer)?;
    let Some(end) = answer.windows(4).position(|w| w == b"\r\n\r\n") else { return Ok(answer) };
    let head = String::from_utf8_lossy(&answer[..end]).to_string();
    let mut out = String::new();
    for line in head.split("\r\n") {
        if !line.to_ascii_lowercase().starts_with("connection:") {
            out.push_str(line);
            out.push_str("\r\n");
        }
    }
    out.push_str("Connection: close\r\n\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(&answer[end + 4..]);
    Ok(bytes)
}

/// An answer's status code.
pub(crate) fn status(answer: &[u8]) -> u16 {
    let line = answer.split(|b| *b == b'\n').next().unwrap_or_default();
    String::from_utf8_lossy(line).split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0)
}

/// A header of an answer.
fn header(answer: &[u8], name: &str) -> Option<String> {
    let end = answer.windows(4).position(|w| w == b"\r\n\r\n")?;
    String::from_utf8_lossy(&answer[..end]).lines().skip(1).find_map(|line| {
        let (k, v) = line.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_string())
    })
}

/// An answer's body.
pub(crate) fn body(answer: &[u8]) -> &[u8] {
    answer.windows(4).position(|w| w == b"\r\n\r\n").map_or(&[][..], |end| &answer[end + 4..])
}

fn json_answer(status: u16, content_type: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

fn cbor_answer(status: u16, value: Value) -> Vec<u8> {
    let mut bytes = Vec::new();
    let _ = ciborium::into_writer(&crate::cbor::to_cbor(None, value), &mut bytes);
    let mut out = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: application/cbor\r\nsmithy-protocol: rpc-v2-cbor\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        bytes.len()
    )
    .into_bytes();
    out.extend_from_slice(&bytes);
    out
}

/// CloudWatch in RPC v2 CBOR: authorized here, sent to moto as JSON (signed as the caller), and
/// composite alarms, which moto lacks, kept here.
fn cloudwatch(http: &Http, moto: &str, rules: &Mutex<Rules>, signer: &Signer<'_>) -> std::io::Result<Vec<u8>> {
    let operation = http.path.rsplit('/').next().unwrap_or_default().to_string();
    let request = if http.body.is_empty() {
        json!({})
    } else {
        crate::cbor::to_json(ciborium::from_reader(http.body.as_slice()).map_err(std::io::Error::other)?)
    };
    let mut need = service_need("monitoring", http, |id| id.to_string());
    need.resource = cloudwatch_resource(&operation, &request);
    if let Err(message) = authorize(rules, signer.caller, &need, None) {
        return Ok(cbor_answer(403, json!({"__type": "AccessDenied", "message": message})));
    }
    if operation == "PutCompositeAlarm" {
        let name = request.get("AlarmName").and_then(Value::as_str).unwrap_or_default().to_string();
        rules.lock().unwrap().composite_alarms.insert(name, request);
        return Ok(cbor_answer(200, json!({})));
    }
    let text = request.to_string();
    let headers = vec![
        ("Content-Type".to_string(), "application/x-amz-json-1.0".to_string()),
        ("X-Amz-Target".to_string(), format!("GraniteServiceVersion20100801.{operation}")),
        ("X-Amz-Date".to_string(), http.header("x-amz-date").unwrap_or_default().to_string()),
        ("Content-Length".to_string(), text.len().to_string()),
    ];
    let head = signer.head("POST", "/", "", &headers, text.as_bytes(), moto);
    let answer = exchange(moto, &[head.as_bytes(), text.as_bytes()].concat())?;
    let mut value: Value = serde_json::from_slice(body(&answer)).unwrap_or_else(|_| json!({}));
    if operation == "DescribeAlarms" {
        let names: Vec<String> = request
            .get("AlarmNames")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
            .unwrap_or_default();
        let kept = rules.lock().unwrap().composite_alarms.clone();
        let composites: Vec<Value> =
            kept.into_iter().filter(|(n, _)| names.is_empty() || names.contains(n)).map(|(_, a)| a).collect();
        if let Some(map) = value.as_object_mut() {
            map.insert("CompositeAlarms".into(), Value::Array(composites));
        }
    }
    Ok(cbor_answer(status(&answer), value))
}

/// CloudWatch Logs' saved queries, which moto lacks: authorized, then kept here.
fn saved_queries(http: &Http, rules: &Mutex<Rules>, signer: &Signer<'_>) -> std::io::Result<Vec<u8>> {
    let need = service_need("logs", http, |id| id.to_string());
    if let Err(message) = authorize(rules, signer.caller, &need, None) {
        return Ok(refusal("logs", http, &message));
    }
    let request: Value = serde_json::from_slice(&http.body).unwrap_or_else(|_| json!({}));
    let mut r = rules.lock().unwrap();
    let answer = if http.target() == Some("PutQueryDefinition") {
        let id = request
            .get("queryDefinitionId")
            .and_then(Value::as_str)
            .map_or_else(|| format!("q-{}", r.saved_queries.len() + 1), str::to_string);
        let mut saved = request.clone();
        saved["queryDefinitionId"] = json!(id);
        r.saved_queries.retain(|q| q["queryDefinitionId"] != json!(id));
        r.saved_queries.push(saved);
        json!({"queryDefinitionId": id})
    } else {
        let prefix = request.get("queryDefinitionNamePrefix").and_then(Value::as_str).unwrap_or_default();
        let found: Vec<&Value> = r
            .saved_queries
            .iter()
            .filter(|q| q.get("name").and_then(Value::as_str).is_some_and(|n| n.starts_with(prefix)))
            .collect();
        json!({"queryDefinitions": found})
    };
    Ok(json_answer(200, "application/x-amz-json-1.1", answer.to_string().as_bytes()))
}
