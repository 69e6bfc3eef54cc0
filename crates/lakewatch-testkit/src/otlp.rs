//! A minimal OTLP/HTTP receiver on 127.0.0.1 that decodes the protobuf it is sent: what the
//! trace tests export to.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::Duration;

pub use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
pub use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;

/// One HTTP request the receiver took.
#[derive(Debug)]
pub struct Request {
    /// Request path (`/v1/traces`).
    pub path: String,
    /// Headers, names lowercased.
    pub headers: HashMap<String, String>,
    /// The body.
    pub body: Vec<u8>,
}

impl Request {
    /// The body as an OTLP trace export.
    pub fn spans(&self) -> Result<Vec<Span>, prost::DecodeError> {
        let export = ExportTraceServiceRequest::decode(self.body.as_slice())?;
        Ok(export.resource_spans.into_iter().flat_map(|r| r.scope_spans).flat_map(|s| s.spans).collect())
    }
}

/// Starts a receiver that answers 200 to every request (or never, when `answer` is false);
/// returns its endpoint (`http://127.0.0.1:PORT`) and the requests it takes.
pub fn otlp_receiver(answer: bool) -> (String, Receiver<Request>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
    let endpoint = format!("http://{}", listener.local_addr().expect("local address"));
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let tx = tx.clone();
            std::thread::spawn(move || serve(stream, answer, &tx));
        }
    });
    (endpoint, rx)
}

fn serve(stream: TcpStream, answer: bool, tx: &Sender<Request>) -> Option<()> {
    let mut writer = stream.try_clone().ok()?;
    let mut reader = BufReader::new(stream);
    loop {
        let mut start = String::new();
        if reader.read_line(&mut start).ok()? == 0 {
            return Some(());
        }
        let path = start.split_whitespace().nth(1).unwrap_or_default().to_string();
        let mut headers = HashMap::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).ok()?;
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
            }
        }
        let len: usize = headers.get("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
        let mut body = vec![0; len];
        reader.read_exact(&mut body).ok()?;
        let _ = tx.send(Request { path, headers, body });
        if !answer {
            std::thread::sleep(Duration::from_secs(30));
            return Some(());
        }
        writer
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n")
            .ok()?;
    }
}

/// Lowercase hex of an id.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
