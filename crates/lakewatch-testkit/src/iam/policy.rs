//! IAM policy evaluation for what lakewatch's policies use: `Action`/`NotAction`, `Resource`,
//! `Principal` (`*`, `AWS`, `Service`), and the condition operators `String*`, `Arn*`, `Bool`
//! and `Null`, each with `IfExists`. An explicit deny wins, then an allow; otherwise the request
//! is not allowed. A policy that uses anything else is refused when it is parsed, so the
//! harness never guesses.

use serde_json::Value;

/// Who makes a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// An IAM principal: a user's ARN or an assumed-role session's
    /// (`arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`).
    Aws(String),
    /// An AWS service acting for itself (`s3.amazonaws.com`).
    Service(String),
}

/// One request as IAM sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Who.
    pub caller: Caller,
    /// `s3:GetObject`.
    pub action: String,
    /// The resource's ARN.
    pub resource: String,
    /// Condition keys present in the request (`s3:prefix`, `aws:SecureTransport`, ...).
    pub context: Vec<(String, String)>,
}

impl Request {
    /// A request by `caller` with no condition keys.
    pub fn new(caller: Caller, action: &str, resource: &str) -> Self {
        Request { caller, action: action.into(), resource: resource.into(), context: Vec::new() }
    }

    /// The same request with one more condition key.
    pub fn with(mut self, key: &str, value: &str) -> Self {
        self.context.push((key.into(), value.into()));
        self
    }

    fn value(&self, key: &str) -> Option<&str> {
        self.context.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v.as_str())
    }
}

/// What one policy says of a request, with the `Sid` of the statement that decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// A statement allows it.
    Allowed(Option<String>),
    /// A statement denies it.
    Denied(Option<String>),
    /// No statement concerns it.
    NotAllowed,
}

/// A parsed policy document.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    statements: Vec<Value>,
}

const OPERATORS: [&str; 12] = [
    "StringEquals",
    "StringNotEquals",
    "StringEqualsIgnoreCase",
    "StringLike",
    "StringNotLike",
    "ArnEquals",
    "ArnNotEquals",
    "ArnLike",
    "ArnNotLike",
    "Bool",
    "Null",
    "NumericEquals",
];

impl Policy {
    /// A policy from a document (`{"Statement": [...]}`) or a list of statements.
    pub fn new(document: &Value) -> Result<Policy, String> {
        let statements = match document.get("Statement").unwrap_or(document) {
            Value::Array(list) => list.clone(),
            one @ Value::Object(_) => vec![one.clone()],
            other => return Err(format!("a policy holds a list of statements, not {other}")),
        };
        for s in &statements {
            let sid = s.get("Sid").and_then(Value::as_str).unwrap_or("(no Sid)");
            for key in s.as_object().into_iter().flat_map(|o| o.keys()) {
                if !["Sid", "Effect", "Principal", "Action", "NotAction", "Resource", "Condition"]
                    .contains(&key.as_str())
                {
                    return Err(format!("statement {sid}: the harness does not evaluate `{key}`"));
                }
            }
            if !matches!(s.get("Effect").and_then(Value::as_str), Some("Allow" | "Deny")) {
                return Err(format!("statement {sid}: Effect must be Allow or Deny"));
            }
            for op in s.get("Condition").and_then(Value::as_object).into_iter().flat_map(|c| c.keys()) {
                if !OPERATORS.contains(&op.strip_suffix("IfExists").unwrap_or(op)) {
                    return Err(format!("statement {sid}: the harness does not evaluate condition operator `{op}`"));
                }
            }
        }
        Ok(Policy { statements })
    }

    /// The statements, as written.
    pub fn statements(&self) -> &[Value] {
        &self.statements
    }

    /// The statement with this `Sid`.
    pub fn statement(&self, sid: &str) -> Option<&Value> {
        self.statements.iter().find(|s| s.get("Sid").and_then(Value::as_str) == Some(sid))
    }

    /// What this policy says of `request`.
    pub fn evaluate(&self, request: &Request) -> Decision {
        let mut allowed = None;
        for s in &self.statements {
            if !concerns(s, request) {
                continue;
            }
            let sid = s.get("Sid").and_then(Value::as_str).map(str::to_string);
            if s.get("Effect").and_then(Value::as_str) == Some("Deny") {
                return Decision::Denied(sid);
            }
            allowed.get_or_insert(sid);
        }
        allowed.map_or(Decision::NotAllowed, Decision::Allowed)
    }
}

/// The final word of an identity policy and an optional resource policy for a caller of the
/// resource's own account: any explicit deny, else any allow.
pub fn decide(identity: Option<&Policy>, resource: Option<&Policy>, request: &Request) -> Decision {
    let decisions: Vec<Decision> = [identity, resource].into_iter().flatten().map(|p| p.evaluate(request)).collect();
    if let Some(deny) = decisions.iter().find(|d| matches!(d, Decision::Denied(_))) {
        return deny.clone();
    }
    decisions.into_iter().find(|d| matches!(d, Decision::Allowed(_))).unwrap_or(Decision::NotAllowed)
}

fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(list)) => list.iter().flat_map(|x| strings(Some(x))).collect(),
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Bool(b)) => vec![b.to_string()],
        Some(Value::Number(n)) => vec![n.to_string()],
        _ => Vec::new(),
    }
}

fn concerns(s: &Value, r: &Request) -> bool {
    let action = match (s.get("Action"), s.get("NotAction")) {
        (Some(a), _) => strings(Some(a)).iter().any(|p| glob(p, &r.action, true)),
        (None, Some(n)) => !strings(Some(n)).iter().any(|p| glob(p, &r.action, true)),
        (None, None) => false,
    };
    let resource = s.get("Resource").is_none_or(|v| strings(Some(v)).iter().any(|p| glob(p, &r.resource, false)));
    let principal = s.get("Principal").is_none_or(|p| principal_matches(p, &r.caller));
    action && resource && principal && conditions_hold(s.get("Condition"), r)
}

fn principal_matches(p: &Value, caller: &Caller) -> bool {
    if p.as_str() == Some("*") {
        return true;
    }
    match caller {
        Caller::Service(name) => strings(p.get("Service")).iter().any(|s| s == name),
        Caller::Aws(arn) => strings(p.get("AWS")).iter().any(|want| aws_principal_is(want, arn)),
    }
}

/// Whether the principal `want` (as a policy names it) is the caller `arn`.
fn aws_principal_is(want: &str, arn: &str) -> bool {
    if want == "*" || want == arn {
        return true;
    }
    let account = |a: &str| a.split(':').nth(4).map(str::to_string);
    if want.ends_with(":root") && account(want) == account(arn) {
        return true;
    }
    // A role names every session of itself.
    match (want.split_once(":role/"), arn.split_once(":assumed-role/")) {
        (Some((_, role)), Some((_, session))) => {
            account(want) == account(arn) && session.split('/').next() == Some(role.rsplit('/').next().unwrap_or(role))
        }
        _ => false,
    }
}

fn conditions_hold(conditions: Option<&Value>, r: &Request) -> bool {
    let Some(conditions) = conditions.and_then(Value::as_object) else { return true };
    conditions.iter().all(|(op, keys)| {
        let (op, if_exists) = op.strip_suffix("IfExists").map_or((op.as_str(), false), |o| (o, true));
        keys.as_object().into_iter().flatten().all(|(key, expected)| {
            let expected = strings(Some(expected));
            let Some(actual) = r.value(key) else {
                return match op {
                    "Null" => expected.iter().any(|e| e == "true"),
                    _ if if_exists => true,
                    // A negated operator holds for a key the request does not have.
                    _ => op.contains("Not"),
                };
            };
            let any = |f: &dyn Fn(&str) -> bool| expected.iter().any(|e| f(e));
            match op {
                "StringEquals" | "NumericEquals" => any(&|e| e == actual),
                "StringNotEquals" => !any(&|e| e == actual),
                "StringEqualsIgnoreCase" => any(&|e| e.eq_ignore_ascii_case(actual)),
                "StringLike" | "ArnEquals" | "ArnLike" => any(&|e| glob(e, actual, false)),
                "StringNotLike" | "ArnNotEquals" | "ArnNotLike" => !any(&|e| glob(e, actual, false)),
                "Bool" => any(&|e| e.eq_ignore_ascii_case(actual)),
                "Null" => any(&|e| e == "false"),
                _ => false,
            }
        })
    })
}

/// IAM's wildcards: `*` any run of characters, `?` any one.
pub fn glob(pattern: &str, text: &str, ignore_case: bool) -> bool {
    let fold = |s: &str| if ignore_case { s.to_ascii_lowercase() } else { s.to_string() };
    let (p, t): (Vec<char>, Vec<char>) = (fold(pattern).chars().collect(), fold(text).chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const ROLE: &str = "arn:aws:sts::123456789012:assumed-role/DailyCollectorRole/lambda";

    fn role() -> Caller {
        Caller::Aws(ROLE.into())
    }

    #[test]
    fn wildcards_match_as_iam_matches() {
        let cases = [
            ("s3:Get*", "s3:GetObject", true, true),
            ("S3:getobject", "s3:GetObject", true, true),
            ("arn:aws:s3:::lake/data/*", "arn:aws:s3:::lake/data/ticks/x.parquet", false, true),
            ("arn:aws:s3:::lake/data/*", "arn:aws:s3:::lake/reference/x", false, false),
            ("data/*", "data/", false, true),
            ("data/*", "data", false, false),
            ("a?c", "abc", false, true),
            ("*", "", false, true),
        ];
        for (pattern, text, ignore_case, want) in cases {
            assert_eq!(glob(pattern, text, ignore_case), want, "{pattern} ~ {text}");
        }
    }

    #[test]
    fn a_prefix_condition_limits_a_listing_and_a_missing_key_never_matches_it() {
        let p = Policy::new(&json!([{
            "Sid": "ListOwnPrefixes", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::lake",
            "Condition": {"StringLike": {"s3:prefix": ["data/ticks/daily/*", "reference/*"]}}
        }]))
        .unwrap();
        let list = |prefix: Option<&str>| {
            let r = Request::new(role(), "s3:ListBucket", "arn:aws:s3:::lake");
            p.evaluate(&match prefix {
                Some(v) => r.with("s3:prefix", v),
                None => r,
            })
        };
        assert_eq!(
            list(Some("data/ticks/daily/AAPL/2025/ticks.parquet")),
            Decision::Allowed(Some("ListOwnPrefixes".into()))
        );
        assert_eq!(list(Some("lakewatch/state/")), Decision::NotAllowed);
        assert_eq!(list(None), Decision::NotAllowed, "a listing of the whole bucket has no s3:prefix");
    }

    #[test]
    fn deny_wins_and_negated_operators_hold_for_absent_keys() {
        let bucket = Policy::new(&json!({"Statement": [
            {"Sid": "RefuseWithoutTls", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
             "Resource": "arn:aws:s3:::lake/*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
            {"Sid": "RefuseOtherKeys", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
             "Resource": "arn:aws:s3:::lake/*",
             "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption-aws-kms-key-id": "arn:key"},
                           "Null": {"s3:x-amz-server-side-encryption-aws-kms-key-id": "false"}}},
            {"Sid": "IfExistsHoldsWhenAbsent", "Effect": "Deny", "Principal": "*", "Action": "s3:DeleteObject",
             "Resource": "arn:aws:s3:::lake/*",
             "Condition": {"StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption-aws-kms-key-id": "arn:key"}}},
            {"Sid": "Strict", "Effect": "Deny", "Principal": "*", "Action": "s3:GetObject",
             "Resource": "arn:aws:s3:::lake/secret/*",
             "Condition": {"StringNotEquals": {"aws:SourceVpce": "vpce-1"}}}
        ]}))
        .unwrap();
        let put = Request::new(role(), "s3:PutObject", "arn:aws:s3:::lake/data/x");
        assert_eq!(bucket.evaluate(&put.clone().with("aws:SecureTransport", "true")), Decision::NotAllowed);
        assert_eq!(
            bucket.evaluate(&put.clone().with("aws:SecureTransport", "false")),
            Decision::Denied(Some("RefuseWithoutTls".into()))
        );
        let other_key = put
            .clone()
            .with("aws:SecureTransport", "true")
            .with("s3:x-amz-server-side-encryption-aws-kms-key-id", "arn:other");
        assert_eq!(bucket.evaluate(&other_key), Decision::Denied(Some("RefuseOtherKeys".into())));
        let delete = Request::new(role(), "s3:DeleteObject", "arn:aws:s3:::lake/data/x");
        assert_eq!(
            bucket.evaluate(&delete),
            Decision::Denied(Some("IfExistsHoldsWhenAbsent".into())),
            "…IfExists holds for an absent key"
        );
        let get = Request::new(role(), "s3:GetObject", "arn:aws:s3:::lake/secret/x");
        assert_eq!(
            bucket.evaluate(&get),
            Decision::Denied(Some("Strict".into())),
            "StringNotEquals holds for an absent key"
        );

        let identity = Policy::new(&json!([{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}])).unwrap();
        let denied = decide(Some(&identity), Some(&bucket), &put.with("aws:SecureTransport", "false"));
        assert_eq!(denied, Decision::Denied(Some("RefuseWithoutTls".into())), "an explicit deny beats an allow");
    }

    #[test]
    fn principals_name_users_roles_accounts_and_services() {
        let topic = Policy::new(&json!([
            {"Sid": "ValidatorPublishes", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:role/ValidatorRole"},
             "Action": "sns:Publish", "Resource": "arn:aws:sns:us-east-1:123456789012:lakewatch-alerts"},
            {"Sid": "AlarmsPublish", "Effect": "Allow", "Principal": {"Service": "cloudwatch.amazonaws.com"},
             "Action": "sns:Publish", "Resource": "arn:aws:sns:us-east-1:123456789012:lakewatch-alerts",
             "Condition": {"ArnLike": {"aws:SourceArn": "arn:aws:cloudwatch:us-east-1:123456789012:alarm:lakewatch-*"}}}
        ]))
        .unwrap();
        let publish =
            |caller: Caller| Request::new(caller, "sns:Publish", "arn:aws:sns:us-east-1:123456789012:lakewatch-alerts");
        let validator = Caller::Aws("arn:aws:sts::123456789012:assumed-role/ValidatorRole/lambda".into());
        assert_eq!(topic.evaluate(&publish(validator)), Decision::Allowed(Some("ValidatorPublishes".into())));
        assert_eq!(topic.evaluate(&publish(role())), Decision::NotAllowed, "another role is not the validator");
        let alarm = publish(Caller::Service("cloudwatch.amazonaws.com".into()));
        assert_eq!(topic.evaluate(&alarm.clone()), Decision::NotAllowed, "no source ARN, no publish");
        let ours =
            alarm.clone().with("aws:SourceArn", "arn:aws:cloudwatch:us-east-1:123456789012:alarm:lakewatch-platform");
        assert_eq!(topic.evaluate(&ours), Decision::Allowed(Some("AlarmsPublish".into())));
        let theirs = alarm.with("aws:SourceArn", "arn:aws:cloudwatch:us-east-1:123456789012:alarm:billing");
        assert_eq!(topic.evaluate(&theirs), Decision::NotAllowed);
        assert!(aws_principal_is("arn:aws:iam::123456789012:root", ROLE));
        assert!(!aws_principal_is("arn:aws:iam::999999999999:root", ROLE));
    }

    #[test]
    fn what_the_harness_cannot_evaluate_is_refused_when_parsed() {
        let e = Policy::new(&json!([{"Effect": "Allow", "Action": "s3:*", "Resource": "*",
            "Condition": {"DateGreaterThan": {"aws:CurrentTime": "2026-01-01T00:00:00Z"}}}]))
        .unwrap_err();
        assert_eq!(e, "statement (no Sid): the harness does not evaluate condition operator `DateGreaterThan`");
        let e =
            Policy::new(&json!([{"Sid": "X", "Effect": "Allow", "NotResource": "*", "Action": "s3:*"}])).unwrap_err();
        assert_eq!(e, "statement X: the harness does not evaluate `NotResource`");
    }
}
