//! What an HTTP request to an AWS service asks of IAM: the service (from the signature's
//! credential scope), the action and resource, and the condition keys. Also the permissions a
//! request needs beyond its own action: a KMS key's use when S3, SNS or Secrets Manager encrypt
//! or decrypt for the caller.

use serde_json::Value;

use super::template::{ACCOUNT, REGION};

/// The parts of an HTTP request the harness reads.
#[derive(Debug, Clone)]
pub struct Http {
    /// `GET`.
    pub method: String,
    /// The path, as sent.
    pub path: String,
    /// The query, as sent, without `?`.
    pub query: String,
    /// Header names and values as sent.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Http {
    /// A header's value (names match in any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// A query parameter, decoded.
    pub fn param(&self, name: &str) -> Option<String> {
        self.query.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (k == name).then(|| percent_decode(v))
        })
    }

    /// The signature's access key id, region and service.
    pub fn credential(&self) -> Option<(String, String, String)> {
        let auth = self.header("authorization")?;
        let scope = auth.split("Credential=").nth(1)?.split(',').next()?;
        let parts: Vec<&str> = scope.split('/').collect();
        (parts.len() == 5).then(|| (parts[0].to_string(), parts[2].to_string(), parts[3].to_string()))
    }

    /// `X-Amz-Target`'s operation (`GetSecretValue` of `secretsmanager.GetSecretValue`).
    pub fn target(&self) -> Option<&str> {
        self.header("x-amz-target").and_then(|t| t.rsplit('.').next())
    }

    /// A form body's field (the query protocol), decoded.
    pub fn form(&self, name: &str) -> Option<String> {
        std::str::from_utf8(&self.body).ok()?.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            (k == name).then(|| percent_decode(&v.replace('+', " ")))
        })
    }

    /// A JSON body's field.
    pub fn json(&self, name: &str) -> Option<String> {
        let v: Value = serde_json::from_slice(&self.body).ok()?;
        v.get(name)?.as_str().map(str::to_string)
    }
}

/// `%XX` escapes decoded.
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Some(b) = std::str::from_utf8(&bytes[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One permission a request needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Need {
    /// `s3:GetObject`.
    pub action: String,
    /// The resource's ARN.
    pub resource: String,
    /// Condition keys.
    pub context: Vec<(String, String)>,
}

impl Need {
    fn new(action: &str, resource: &str) -> Self {
        Need { action: action.into(), resource: resource.into(), context: Vec::new() }
    }
}

/// An S3 request by path: the bucket and the (decoded) key.
pub fn s3_target(http: &Http) -> (Option<String>, Option<String>) {
    let path = http.path.trim_start_matches('/');
    match path.split_once('/') {
        Some((bucket, key)) if !key.is_empty() => (Some(percent_decode(bucket)), Some(percent_decode(key))),
        _ if !path.is_empty() => (Some(percent_decode(path.trim_end_matches('/'))), None),
        _ => (None, None),
    }
}

/// The S3 action of a request (path style).
pub fn s3_need(http: &Http) -> Need {
    let has = |p: &str| http.query.split('&').any(|q| q.split('=').next() == Some(p));
    let m = http.method.as_str();
    let (bucket, key) = s3_target(http);
    let mut need = match (&bucket, &key) {
        (None, _) => Need::new("s3:ListAllMyBuckets", "*"),
        (Some(b), None) => {
            let arn = format!("arn:aws:s3:::{b}");
            let action = match m {
                "GET" if has("versions") => "s3:ListBucketVersions",
                "GET" if has("versioning") => "s3:GetBucketVersioning",
                "GET" if has("encryption") => "s3:GetEncryptionConfiguration",
                "GET" if has("policy") => "s3:GetBucketPolicy",
                "GET" | "HEAD" => "s3:ListBucket",
                "PUT" if has("versioning") => "s3:PutBucketVersioning",
                "PUT" if has("encryption") => "s3:PutEncryptionConfiguration",
                "PUT" if has("notification") => "s3:PutBucketNotification",
                "PUT" if has("policy") => "s3:PutBucketPolicy",
                "PUT" => "s3:CreateBucket",
                "POST" if has("delete") => "s3:DeleteObject",
                "DELETE" => "s3:DeleteBucket",
                _ => "s3:UnknownBucketOperation",
            };
            let mut need = Need::new(action, &arn);
            if action == "s3:ListBucket"
                && let Some(prefix) = http.param("prefix")
            {
                need.context.push(("s3:prefix".into(), prefix));
            }
            need
        }
        (Some(b), Some(k)) => {
            let arn = format!("arn:aws:s3:::{b}/{k}");
            let versioned = has("versionId");
            let action = match m {
                "GET" | "HEAD" if versioned => "s3:GetObjectVersion",
                "GET" | "HEAD" => "s3:GetObject",
                "PUT" | "POST" => "s3:PutObject",
                "DELETE" if versioned => "s3:DeleteObjectVersion",
                "DELETE" => "s3:DeleteObject",
                _ => "s3:UnknownObjectOperation",
            };
            let mut need = Need::new(action, &arn);
            for header in ["x-amz-server-side-encryption", "x-amz-server-side-encryption-aws-kms-key-id"] {
                if let Some(v) = http.header(header) {
                    need.context.push((format!("s3:{header}"), v.to_string()));
                }
            }
            need
        }
    };
    // A deployed function calls S3 over TLS; the harness speaks plain HTTP only because moto is
    // local. A test of the TLS rule sets this key itself (see the template's unit tests).
    need.context.push(("aws:SecureTransport".into(), "true".into()));
    need
}

/// The action, resource and context of a request to `service` (other than S3).
pub fn service_need(service: &str, http: &Http, secret_arn: impl Fn(&str) -> String) -> Need {
    let operation = |fallback: &str| http.target().map(str::to_string).unwrap_or_else(|| fallback.to_string());
    let mut need = match service {
        "secretsmanager" => {
            let op = operation("Unknown");
            let resource = http.json("SecretId").or_else(|| http.json("Name")).map_or("*".into(), |id| secret_arn(&id));
            Need::new(&format!("secretsmanager:{op}"), &resource)
        }
        "sns" => {
            let op = http.form("Action").unwrap_or_default();
            let resource = http.form("TopicArn").or_else(|| http.form("TargetArn")).unwrap_or_else(|| "*".into());
            Need::new(&format!("sns:{op}"), &resource)
        }
        "monitoring" => {
            let op = http.path.rsplit('/').next().unwrap_or_default().to_string();
            Need::new(&format!("cloudwatch:{op}"), "*")
        }
        "logs" => Need::new(&format!("logs:{}", operation("Unknown")), "*"),
        "kms" => Need::new(&format!("kms:{}", operation("Unknown")), "*"),
        "sts" => Need::new(&format!("sts:{}", http.form("Action").unwrap_or_default()), "*"),
        other => Need::new(&format!("{other}:{}", operation("Unknown")), "*"),
    };
    need.context.push(("aws:SecureTransport".into(), "true".into()));
    need
}

/// The resource of a CloudWatch operation, from its (JSON) request.
pub fn cloudwatch_resource(operation: &str, request: &Value) -> String {
    let field = |k: &str| request.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
    match operation {
        "GetDashboard" | "PutDashboard" | "DeleteDashboards" => {
            format!("arn:aws:cloudwatch::{ACCOUNT}:dashboard/{}", field("DashboardName"))
        }
        "PutMetricAlarm" | "PutCompositeAlarm" => {
            format!("arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{}", field("AlarmName"))
        }
        "DescribeAlarms" => format!("arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:*"),
        _ => "*".into(),
    }
}

/// A KMS key's use that a request needs of its caller, through `service`.
pub fn key_use(action: &str, key_arn: &str, service: &str) -> Need {
    let mut need = Need::new(action, key_arn);
    need.context.push(("kms:ViaService".into(), format!("{service}.{REGION}.amazonaws.com")));
    need.context.push(("aws:SecureTransport".into(), "true".into()));
    need
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(method: &str, path: &str, query: &str) -> Http {
        Http { method: method.into(), path: path.into(), query: query.into(), headers: vec![], body: vec![] }
    }

    #[test]
    fn s3_requests_become_actions_on_arns() {
        let cases = [
            (
                "GET",
                "/lake/data/ticks/minute/date%3D2025-11-26/bars.parquet",
                "",
                "s3:GetObject",
                "arn:aws:s3:::lake/data/ticks/minute/date=2025-11-26/bars.parquet",
                None,
            ),
            (
                "HEAD",
                "/lake/data/x.parquet",
                "versionId=v1",
                "s3:GetObjectVersion",
                "arn:aws:s3:::lake/data/x.parquet",
                None,
            ),
            (
                "PUT",
                "/lake/lakewatch/state/x.json",
                "x-id=PutObject",
                "s3:PutObject",
                "arn:aws:s3:::lake/lakewatch/state/x.json",
                None,
            ),
            (
                "DELETE",
                "/lake/lakewatch/staging/minute/p",
                "x-id=DeleteObject",
                "s3:DeleteObject",
                "arn:aws:s3:::lake/lakewatch/staging/minute/p",
                None,
            ),
            (
                "GET",
                "/lake",
                "list-type=2&prefix=data%2Fticks%2Fdaily%2F",
                "s3:ListBucket",
                "arn:aws:s3:::lake",
                Some("data/ticks/daily/"),
            ),
            ("GET", "/lake/", "list-type=2", "s3:ListBucket", "arn:aws:s3:::lake", None),
        ];
        for (method, path, query, action, resource, prefix) in cases {
            let need = s3_need(&http(method, path, query));
            assert_eq!((need.action.as_str(), need.resource.as_str()), (action, resource), "{method} {path}?{query}");
            let got = need.context.iter().find(|(k, _)| k == "s3:prefix").map(|(_, v)| v.as_str());
            assert_eq!(got, prefix);
        }
    }
}
