//! A deployment's security, run for real: the SAM template's buckets, keys, topics and secrets
//! created in moto, a principal per IAM role holding exactly that role's statements (with every
//! `${...}` resolved for the test account and bucket), and IAM enforced.
//!
//! moto enforces identity policies once `INITIAL_NO_AUTH_ACTION_COUNT` is reached (the harness
//! sets it to 0 through moto's `/moto-api/reset-auth`), but it checks only the action, the
//! signature, and S3 resources. The [`proxy`] in front of it adds what a real account would
//! also refuse: other services' resources, condition keys, S3's 403 for a missing key without
//! `s3:ListBucket`, KMS use, resource policies. Point a function at [`Stack::endpoint`] with a
//! principal's credentials and it meets the account the template describes.
//!
//! Adding a function is adding its role to `template.yaml`: every `AWS::IAM::Role` becomes a
//! principal, found by the role's or the function's logical id.

pub mod policy;
mod proxy;
pub mod request;
mod sigv4;
pub mod template;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use aws_sdk_s3::types::{
    BucketVersioningStatus, ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
    ServerSideEncryptionRule, VersioningConfiguration,
};
use serde_json::{Value, json};

use crate::Moto;
pub use policy::{Caller, Decision, Policy, Request};
use proxy::{Rules, Secret};
pub use template::{ACCOUNT, Names, REGION, Template};

/// Credentials of one principal in the emulated account.
#[derive(Debug, Clone)]
pub struct Principal {
    /// What IAM calls it: `arn:aws:sts::123456789012:assumed-role/ValidatorRole/lambda`.
    pub arn: String,
    /// Access key id.
    pub key_id: String,
    /// Secret access key.
    pub secret: String,
    /// Session token (an assumed role's).
    pub token: Option<String>,
    /// The policy it holds, as the template states it.
    pub policy: Policy,
}

impl Principal {
    /// The environment a Lambda binary reads to run as this principal against `endpoint`.
    pub fn env(&self, endpoint: &str) -> Vec<(String, String)> {
        let mut env = vec![
            ("AWS_ENDPOINT_URL".to_string(), endpoint.to_string()),
            ("AWS_REGION".to_string(), REGION.to_string()),
            ("AWS_ACCESS_KEY_ID".to_string(), self.key_id.clone()),
            ("AWS_SECRET_ACCESS_KEY".to_string(), self.secret.clone()),
        ];
        if let Some(token) = &self.token {
            env.push(("AWS_SESSION_TOKEN".to_string(), token.clone()));
        }
        env
    }

    /// An AWS configuration for this principal against `endpoint`.
    pub async fn aws(&self, endpoint: &str) -> aws_config::SdkConfig {
        let creds = aws_credential_types::Credentials::new(&self.key_id, &self.secret, self.token.clone(), None, "iam");
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(endpoint)
            .region(aws_config::Region::new(REGION))
            .credentials_provider(creds)
            .load()
            .await
    }
}

/// The template deployed into moto, with IAM enforced.
#[derive(Debug)]
pub struct Stack {
    moto: Moto,
    endpoint: String,
    template: Template,
    names: Names,
    rules: Arc<Mutex<Rules>>,
    principals: HashMap<String, Principal>,
    admin: Principal,
}

/// The admin the harness itself uses for setup and inspection: every action on everything.
const ADMIN: &str = "lakewatch-harness-admin";

impl Stack {
    /// Deploys `template` (its buckets, KMS keys, topics, secrets and roles) with `parameters`
    /// into a new moto server, and turns IAM enforcement on.
    ///
    /// # Panics
    /// When the template names what the harness cannot resolve or evaluate (the message says
    /// what), or moto does not answer.
    pub async fn deploy(template: &Path, parameters: &[(&str, &str)]) -> Stack {
        let template = Template::load(template).unwrap_or_else(|e| panic!("{e}"));
        let names = template.names(parameters).unwrap_or_else(|e| panic!("{e}"));
        let moto = Moto::start();
        let rules = Arc::new(Mutex::new(Rules::default()));
        let endpoint = proxy::start(&moto.endpoint, rules.clone());
        let admin_policy =
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]});
        let admin = user(&moto.endpoint, ADMIN, &admin_policy);
        let mut stack = Stack { moto, endpoint, template, names, rules, principals: HashMap::new(), admin };
        stack.register(&stack.admin.clone());
        stack.create_resources().await;
        stack.enforce(true);
        stack
    }

    /// lakewatch's own `template.yaml` with the lake bucket `lake`.
    pub async fn lakewatch() -> Stack {
        let template = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../template.yaml"));
        Stack::deploy(template, &[("LakeBucketName", "lake"), ("EdgarUserAgent", "Example Capital ops@example.com")])
            .await
    }

    /// Where functions send their requests (the proxy in front of moto).
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// What a resource's `Ref` resolved to (a topic's or a secret's ARN, a bucket's name).
    pub fn reference(&self, logical: &str) -> &str {
        self.names.refs.get(logical).map(String::as_str).unwrap_or_else(|| panic!("no resource `{logical}`"))
    }

    /// The template and what its names resolve to, for tests of its parsed policies.
    pub fn template(&self) -> (&Template, &Names) {
        (&self.template, &self.names)
    }

    /// The principal of an IAM role, or of the role a function names (`Role: !GetAtt X.Arn`).
    pub fn principal(&self, logical: &str) -> &Principal {
        if let Some(p) = self.principals.get(logical) {
            return p;
        }
        let role = self
            .template
            .raw(logical)
            .and_then(|f| f.get("Properties")?.get("Role"))
            .and_then(|r| match r {
                serde_norway::Value::Tagged(t) => t.value.as_str().map(|s| s.trim_end_matches(".Arn").to_string()),
                _ => None,
            })
            .unwrap_or_else(|| panic!("`{logical}` is neither a role nor a function with a `Role: !GetAtt ROLE.Arn`"));
        &self.principals[&role]
    }

    /// Every role's principal, by the role's logical id.
    pub fn principals(&self) -> &HashMap<String, Principal> {
        &self.principals
    }

    /// The harness's admin, for setting up data and reading results.
    pub async fn admin(&self) -> aws_config::SdkConfig {
        self.admin.aws(&self.endpoint).await
    }

    /// Sets the buckets' policies aside (for what was written before they existed, or by a path
    /// they do not see, like replication from another account); give them back with
    /// [`Stack::restore_bucket_policies`].
    pub fn lift_bucket_policies(&self) -> HashMap<String, policy::Policy> {
        std::mem::take(&mut self.rules.lock().unwrap().bucket_policies)
    }

    /// Puts back what [`Stack::lift_bucket_policies`] set aside.
    pub fn restore_bucket_policies(&self, policies: HashMap<String, policy::Policy>) {
        self.rules.lock().unwrap().bucket_policies = policies;
    }

    /// A principal that holds `document` (a policy document whose `${AWS::Region}`,
    /// `${AWS::AccountId}` and `${AWS::Partition}` are resolved), like an operator's user.
    pub fn user(&mut self, name: &str, document: &str) -> Principal {
        let text = template::substitute(document, |n| {
            self.names.refs.get(n).cloned().ok_or_else(|| format!("nothing resolves `${{{n}}}`"))
        })
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        let document: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        self.enforce(false);
        let principal = user(&self.moto.endpoint, name, &document);
        self.enforce(true);
        self.register(&principal);
        principal
    }

    /// The requests the stack refused so far, as `action resource`.
    pub fn refusals(&self) -> Vec<String> {
        self.rules.lock().unwrap().refusals.clone()
    }

    /// Answers the next `requests` S3 requests on keys under `prefix` with `503 SlowDown`, as S3
    /// throttles a hot prefix (the SDK's own retries count as requests).
    pub fn throttle(&self, prefix: &str, requests: usize) {
        self.rules.lock().unwrap().throttles.push((prefix.to_string(), requests));
    }

    /// Stops the next `reads` whole GETs of keys under `prefix` half-way through the body, as a
    /// connection reset does: the headers announce every byte, half of them come.
    pub fn cut_bodies(&self, prefix: &str, reads: usize) {
        self.rules.lock().unwrap().cuts.push((prefix.to_string(), reads));
    }

    /// Creates a KMS key outside the stack (another team's, or a vendor's writer's) and returns
    /// its ARN: no role of the stack may use it.
    pub fn foreign_key(&self) -> String {
        let auth = format!(
            "AWS4-HMAC-SHA256 Credential=setup/20250101/{REGION}/kms/aws4_request, SignedHeaders=host, Signature=x"
        );
        let headers = [
            ("X-Amz-Target", "TrentService.CreateKey"),
            ("Content-Type", "application/x-amz-json-1.1"),
            ("Authorization", auth.as_str()),
        ];
        self.enforce(false);
        let answer = raw_call(&self.moto.endpoint, &headers, "{}");
        self.enforce(true);
        let created: Value = serde_json::from_str(&answer).unwrap_or_else(|e| panic!("KMS CreateKey: {e}: {answer}"));
        created["KeyMetadata"]["Arn"].as_str().unwrap_or_default().to_string()
    }

    fn register(&self, p: &Principal) {
        let caller = proxy::Caller {
            arn: p.arn.clone(),
            policy: p.policy.clone(),
            secret: p.secret.clone(),
            token: p.token.clone(),
        };
        self.rules.lock().unwrap().callers.insert(p.key_id.clone(), caller);
    }

    fn enforce(&self, on: bool) {
        let count = if on { "0" } else { "inf" };
        let raw = format!(
            "POST /moto-api/reset-auth HTTP/1.1\r\nHost: moto\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{count}",
            count.len()
        );
        let answer = proxy::exchange(self.moto.endpoint.trim_start_matches("http://"), raw.as_bytes()).unwrap();
        assert_eq!(proxy::status(&answer), 200, "moto's reset-auth: {}", String::from_utf8_lossy(&answer));
    }

    fn properties(&self, logical: &str) -> Value {
        self.template.properties(logical, &self.names).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Creates what the functions call (keys, buckets, topics, secrets) and the roles' principals;
    /// resources the functions never call (queues, log groups) get their names and ARNs only.
    async fn create_resources(&mut self) {
        let aws = self.admin().await;
        let s3 = crate::s3_client(&aws);
        let sns = aws_sdk_sns::Client::new(&aws);
        let secrets = aws_sdk_secretsmanager::Client::new(&aws);
        let resources = self.template.resources();
        // Names of what needs no creation, so that anything may refer to them.
        for (id, kind) in &resources {
            let (reference, arn) = match kind.as_str() {
                "AWS::IAM::Role" => (id.clone(), format!("arn:aws:iam::{ACCOUNT}:role/{id}")),
                "AWS::SQS::Queue" => {
                    let name = self
                        .template
                        .raw(id)
                        .and_then(|r| r.get("Properties")?.get("QueueName")?.as_str().map(str::to_string));
                    let name = name.unwrap_or_else(|| id.clone());
                    (
                        format!("https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{name}"),
                        format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"),
                    )
                }
                "AWS::Logs::LogGroup" => {
                    let name = self
                        .template
                        .raw(id)
                        .and_then(|r| r.get("Properties")?.get("LogGroupName")?.as_str().map(str::to_string));
                    let name = name.unwrap_or_else(|| id.clone());
                    (name.clone(), format!("arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{name}:*"))
                }
                "AWS::Serverless::Function" => {
                    let name = self
                        .template
                        .raw(id)
                        .and_then(|r| r.get("Properties")?.get("FunctionName")?.as_str().map(str::to_string));
                    let name = name.unwrap_or_else(|| id.clone());
                    (name.clone(), format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"))
                }
                _ => continue,
            };
            self.names.resource(id, &reference, &arn);
        }
        for id in self.template.of_type("AWS::KMS::Key") {
            let answer = raw_call(
                &self.moto.endpoint,
                &[
                    ("X-Amz-Target", "TrentService.CreateKey"),
                    ("Content-Type", "application/x-amz-json-1.1"),
                    (
                        "Authorization",
                        &format!(
                            "AWS4-HMAC-SHA256 Credential=setup/20250101/{REGION}/kms/aws4_request, SignedHeaders=host, Signature=x"
                        ),
                    ),
                ],
                "{}",
            );
            let created: Value =
                serde_json::from_str(&answer).unwrap_or_else(|e| panic!("KMS CreateKey: {e}: {answer}"));
            let (key_id, arn) = (&created["KeyMetadata"]["KeyId"], &created["KeyMetadata"]["Arn"]);
            self.names.resource(&id, key_id.as_str().unwrap(), arn.as_str().unwrap());
        }
        for id in self.template.of_type("AWS::SecretsManager::Secret") {
            let p = self.properties(&id);
            let name = p["Name"].as_str().unwrap_or(&id).to_string();
            let key = p.get("KmsKeyId").and_then(Value::as_str).map(|k| self.key_arn(k));
            let out = secrets
                .create_secret()
                .name(&name)
                .set_kms_key_id(key.clone())
                .secret_string(p["SecretString"].as_str().unwrap_or("{}"))
                .send()
                .await
                .unwrap_or_else(|e| panic!("creating secret {name}: {e:?}"));
            let arn = out.arn().unwrap().to_string();
            self.names.resource(&id, &arn, &arn);
            self.rules.lock().unwrap().secrets.push(Secret { name, arn, key });
        }
        for id in self.template.of_type("AWS::SNS::Topic") {
            let p = self.properties(&id);
            let name = p["TopicName"].as_str().unwrap_or(&id).to_string();
            let arn = sns.create_topic().name(&name).send().await.unwrap().topic_arn().unwrap().to_string();
            self.names.resource(&id, &arn, &arn);
            if let Some(key) = p.get("KmsMasterKeyId").and_then(Value::as_str) {
                let key = self.key_arn(key);
                self.rules.lock().unwrap().topic_keys.insert(arn, key);
            }
        }
        for id in self.template.of_type("AWS::S3::Bucket") {
            let p = self.properties(&id);
            let name =
                p["BucketName"].as_str().unwrap_or_else(|| panic!("{id}: the harness needs a BucketName")).to_string();
            s3.create_bucket().bucket(&name).send().await.unwrap();
            if p["VersioningConfiguration"]["Status"] == "Enabled" {
                let versioning = VersioningConfiguration::builder().status(BucketVersioningStatus::Enabled).build();
                s3.put_bucket_versioning().bucket(&name).versioning_configuration(versioning).send().await.unwrap();
            }
            let default =
                &p["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"];
            if let Some(key) = default["KMSMasterKeyID"].as_str() {
                let key = self.key_arn(key);
                let by_default = ServerSideEncryptionByDefault::builder()
                    .sse_algorithm(ServerSideEncryption::AwsKms)
                    .kms_master_key_id(&key)
                    .build()
                    .unwrap();
                let rule =
                    ServerSideEncryptionRule::builder().apply_server_side_encryption_by_default(by_default).build();
                let config = ServerSideEncryptionConfiguration::builder().rules(rule).build().unwrap();
                s3.put_bucket_encryption()
                    .bucket(&name)
                    .server_side_encryption_configuration(config)
                    .send()
                    .await
                    .unwrap();
                self.rules.lock().unwrap().bucket_keys.insert(name.clone(), key);
            }
            self.names.resource(&id, &name, &format!("arn:aws:s3:::{name}"));
        }
        for id in self.template.of_type("AWS::S3::BucketPolicy") {
            let p = self.properties(&id);
            let policy = Policy::new(&p["PolicyDocument"]).unwrap_or_else(|e| panic!("{id}: {e}"));
            self.rules.lock().unwrap().bucket_policies.insert(p["Bucket"].as_str().unwrap().to_string(), policy);
        }
        for id in self.template.of_type("AWS::SNS::TopicPolicy") {
            let p = self.properties(&id);
            let policy = Policy::new(&p["PolicyDocument"]).unwrap_or_else(|e| panic!("{id}: {e}"));
            for topic in p["Topics"].as_array().into_iter().flatten().filter_map(Value::as_str) {
                self.rules.lock().unwrap().topic_policies.insert(topic.to_string(), policy.clone());
            }
        }
        for id in self.template.of_type("AWS::IAM::Role") {
            let p = self.properties(&id);
            let statements: Vec<Value> = p["Policies"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|policy| policy["PolicyDocument"]["Statement"].as_array().cloned().unwrap_or_default())
                .collect();
            let principal = role(&self.moto.endpoint, &id, &json!({"Version": "2012-10-17", "Statement": statements}));
            self.register(&principal);
            self.principals.insert(id, principal);
        }
        // A SAM function with inline `Policies` (statements of its own) has a role of its own.
        for id in self.template.of_type("AWS::Serverless::Function") {
            let p = self.properties(&id);
            let statements: Vec<Value> = p["Policies"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|policy| policy["Statement"].as_array().cloned().unwrap_or_default())
                .collect();
            if !statements.is_empty() {
                let name = format!("{id}Role");
                let principal =
                    role(&self.moto.endpoint, &name, &json!({"Version": "2012-10-17", "Statement": statements}));
                self.register(&principal);
                self.principals.insert(id, principal);
            }
        }
    }

    /// A key's ARN from what a property names it by (its id or its ARN).
    fn key_arn(&self, key: &str) -> String {
        if key.starts_with("arn:") {
            return key.to_string();
        }
        let id = self.names.refs.iter().find(|(_, v)| v.as_str() == key).map(|(k, _)| k.clone());
        id.and_then(|id| self.names.attributes.get(&(id, "Arn".into())).cloned())
            .unwrap_or_else(|| format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/{key}"))
    }
}

/// The same statements for moto: moto authorizes every service but S3 against the resource
/// `*` and evaluates no condition, so it gets them without those, and the proxy checks them.
/// moto also names CloudWatch's actions by the service's signing name (`monitoring:`), so
/// each `cloudwatch:` action is granted under that name too.
fn for_moto(document: &Value) -> Value {
    let statements: Vec<Value> = document["Statement"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            let mut s = s.clone();
            let actions: Vec<String> = match &s["Action"] {
                Value::String(a) => vec![a.clone()],
                Value::Array(list) => list.iter().filter_map(Value::as_str).map(str::to_string).collect(),
                _ => Vec::new(),
            };
            if let Some(map) = s.as_object_mut() {
                map.remove("Condition");
                let aliases =
                    actions.iter().filter_map(|a| a.strip_prefix("cloudwatch:")).map(|a| format!("monitoring:{a}"));
                let all: Vec<String> = actions.iter().cloned().chain(aliases).collect();
                if map.contains_key("Action") {
                    map.insert("Action".into(), json!(all));
                }
                if !actions.iter().all(|a| a.starts_with("s3:")) {
                    map.insert("Resource".into(), json!("*"));
                }
            }
            s
        })
        .collect();
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// An IAM user with `document` as its inline policy, and its access key (while IAM is off).
fn user(moto: &str, name: &str, document: &Value) -> Principal {
    let policy = Policy::new(document).unwrap_or_else(|e| panic!("{name}: {e}"));
    query(moto, &[("Action", "CreateUser"), ("UserName", name)]);
    let moto_policy = for_moto(document).to_string();
    query(
        moto,
        &[("Action", "PutUserPolicy"), ("UserName", name), ("PolicyName", name), ("PolicyDocument", &moto_policy)],
    );
    let key = query(moto, &[("Action", "CreateAccessKey"), ("UserName", name)]);
    Principal {
        arn: format!("arn:aws:iam::{ACCOUNT}:user/{name}"),
        key_id: tag(&key, "AccessKeyId"),
        secret: tag(&key, "SecretAccessKey"),
        token: None,
        policy,
    }
}

/// An IAM role named `name` with `document` as its inline policy, assumed as Lambda would
/// assume it (a session named `lambda`), while IAM is off.
fn role(moto: &str, name: &str, document: &Value) -> Principal {
    let policy = Policy::new(document).unwrap_or_else(|e| panic!("{name}: {e}"));
    let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]}).to_string();
    query(moto, &[("Action", "CreateRole"), ("RoleName", name), ("AssumeRolePolicyDocument", &trust)]);
    let moto_policy = for_moto(document).to_string();
    query(
        moto,
        &[("Action", "PutRolePolicy"), ("RoleName", name), ("PolicyName", name), ("PolicyDocument", &moto_policy)],
    );
    let arn = format!("arn:aws:iam::{ACCOUNT}:role/{name}");
    let session = query(
        moto,
        &[("Action", "AssumeRole"), ("RoleArn", &arn), ("RoleSessionName", "lambda"), ("Version", "2011-06-15")],
    );
    Principal {
        arn: format!("arn:aws:sts::{ACCOUNT}:assumed-role/{name}/lambda"),
        key_id: tag(&session, "AccessKeyId"),
        secret: tag(&session, "SecretAccessKey"),
        token: Some(tag(&session, "SessionToken")),
        policy,
    }
}

/// An IAM or STS query-protocol call (form body), unsigned: IAM is off during setup.
fn query(moto: &str, params: &[(&str, &str)]) -> String {
    let mut form: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{k}={}", percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC)))
        .collect();
    if !params.iter().any(|(k, _)| *k == "Version") {
        form.push("Version=2010-05-08".into());
    }
    let service = if params.iter().any(|(_, v)| *v == "AssumeRole") { "sts" } else { "iam" };
    let body = form.join("&");
    let auth = format!(
        "AWS4-HMAC-SHA256 Credential=setup/20250101/{REGION}/{service}/aws4_request, SignedHeaders=host, Signature=x"
    );
    let answer =
        raw_call(moto, &[("Content-Type", "application/x-www-form-urlencoded"), ("Authorization", &auth)], &body);
    assert!(!answer.contains("<Error>"), "{params:?}: {answer}");
    answer
}

fn raw_call(moto: &str, headers: &[(&str, &str)], body: &str) -> String {
    let addr = moto.trim_start_matches("http://");
    let mut raw = format!("POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n", body.len());
    for (k, v) in headers {
        raw.push_str(&format!("{k}: {v}\r\n"));
    }
    raw.push_str("\r\n");
    raw.push_str(body);
    let answer = proxy::exchange(addr, raw.as_bytes()).unwrap_or_else(|e| panic!("moto: {e}"));
    String::from_utf8_lossy(proxy::body(&answer)).to_string()
}

/// The text of the first `<name>` element.
fn tag(xml: &str, name: &str) -> String {
    let open = format!("<{name}>");
    let start = xml.find(&open).map(|i| i + open.len()).unwrap_or_else(|| panic!("no <{name}> in {xml}"));
    let end = xml[start..].find("</").map(|i| i + start).unwrap_or(xml.len());
    xml[start..end].to_string()
}
