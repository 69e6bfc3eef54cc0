//! Test support shared by the Lambdas' tests (a dev-dependency only): the moto AWS emulator
//! (PyPI `moto[server]`, installed by `.ci/run`) started on a free port of 127.0.0.1, and an AWS
//! configuration that talks to it; and a scripted HTTP server for the market-data sources
//! (`http`); a CBOR-to-JSON bridge that lets the CloudWatch SDK talk to moto (`cbor`); a minimal Lambda Runtime API to run a Lambda binary as Lambda would (`lambda`); an OTLP receiver for the trace tests (`otlp`); an interceptor counting a client's requests and bytes read, for the benchmarks (`requests`); and the IAM harness (`iam`): the SAM template deployed into moto with IAM enforced as a real account enforces it.

pub mod cbor;
pub mod http;
pub mod iam;
pub mod lambda;
pub mod otlp;
pub mod requests;
pub mod telegram;

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A moto server, stopped on drop. Each test starts its own, so each starts from nothing.
#[derive(Debug)]
pub struct Moto {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
}

impl Moto {
    /// Starts a server and waits until it accepts connections.
    ///
    /// # Panics
    /// When python3 or moto is missing, or the server does not start within 30 s.
    pub fn start() -> Moto {
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).unwrap_or(0);
        let child = Command::new("python3")
            .args(["-m", "moto.server", "-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 is needed to run the moto server");
        let mut moto = Moto { child, endpoint: format!("http://127.0.0.1:{port}") };
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = moto.child.try_wait() {
                panic!("the moto server exited ({status}): `pip install 'moto[server]'` (bash .ci/run does)");
            }
            assert!(started.elapsed() < Duration::from_secs(30), "the moto server did not start on port {port}");
            std::thread::sleep(Duration::from_millis(100));
        }
        moto
    }

    /// An AWS configuration for this server: region us-east-1, static test credentials.
    pub async fn aws(&self) -> aws_config::SdkConfig {
        let creds = aws_credential_types::Credentials::new("test", "test", None, None, "moto");
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(&self.endpoint)
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(creds)
            .load()
            .await
    }

    /// An S3 client for this server (buckets by path, as moto serves them).
    pub async fn s3(&self) -> aws_sdk_s3::Client {
        s3_client(&self.aws().await)
    }
}

/// An S3 client for `aws` with buckets addressed by path, as emulators serve them.
pub fn s3_client(aws: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(path_style(aws).build())
}

/// [`s3_client`] with its requests counted by `requests`.
pub fn counted_s3_client(aws: &aws_config::SdkConfig, requests: &requests::Requests) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(path_style(aws).interceptor(requests.clone()).build())
}

fn path_style(aws: &aws_config::SdkConfig) -> aws_sdk_s3::config::Builder {
    aws_sdk_s3::config::Builder::from(aws).force_path_style(true)
}

/// Creates `bucket` with versioning on, as a lake that keeps its corrections is.
pub async fn versioned_bucket(s3: &aws_sdk_s3::Client, bucket: &str) {
    use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
    s3.create_bucket().bucket(bucket).send().await.expect("create the bucket");
    let versioning = VersioningConfiguration::builder().status(BucketVersioningStatus::Enabled).build();
    s3.put_bucket_versioning().bucket(bucket).versioning_configuration(versioning).send().await.expect("versioning");
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
