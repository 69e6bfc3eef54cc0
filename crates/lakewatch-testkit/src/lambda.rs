//! A minimal Lambda Runtime API on 127.0.0.1, to run a Lambda binary as Lambda would: the
//! binary's `GET /runtime/invocation/next` calls arrive as [`Call::Next`], the test answers them
//! with [`give`], and the binary's responses arrive as [`Call::Response`].

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc::Sender;
use std::time::Instant;

/// What the binary asked or said.
#[derive(Debug)]
pub enum Call {
    /// It waits for an event, on this connection, since this instant.
    Next(Instant, TcpStream),
    /// It posted `{path} {body}` (a response or an error) at this instant.
    Response(Instant, String),
}

/// Starts the API; returns its port (for `AWS_LAMBDA_RUNTIME_API=127.0.0.1:PORT`).
pub fn runtime_api(tx: Sender<Call>) -> std::io::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let tx = tx.clone();
            std::thread::spawn(move || serve(stream, &tx));
        }
    });
    Ok(port)
}

fn serve(stream: TcpStream, tx: &Sender<Call>) -> Option<()> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    loop {
        let mut start = String::new();
        if reader.read_line(&mut start).ok()? == 0 {
            return Some(());
        }
        let at = Instant::now();
        let path = start.split_whitespace().nth(1)?.to_string();
        let (mut len, mut chunked) = (0usize, false);
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).ok()?;
            let l = line.trim_end().to_ascii_lowercase();
            if l.is_empty() {
                break;
            }
            if let Some(v) = l.strip_prefix("content-length:") {
                len = v.trim().parse().unwrap_or(0);
            }
            chunked |= l.starts_with("transfer-encoding:") && l.contains("chunked");
        }
        let mut body = vec![0; len];
        reader.read_exact(&mut body).ok()?;
        if chunked {
            loop {
                let mut size = String::new();
                reader.read_line(&mut size).ok()?;
                let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
                let mut chunk = vec![0; n + 2];
                reader.read_exact(&mut chunk).ok()?;
                body.extend_from_slice(&chunk[..n]);
                if n == 0 {
                    break;
                }
            }
        }
        if path.ends_with("/invocation/next") {
            tx.send(Call::Next(at, stream.try_clone().ok()?)).ok()?;
        } else {
            let mut w = stream.try_clone().ok()?;
            w.write_all(b"HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\n\r\n").ok()?;
            tx.send(Call::Response(at, format!("{path} {}", String::from_utf8_lossy(&body)))).ok()?;
        }
    }
}

/// Hands invocation `id` the JSON `event`, with a deadline `budget_ms` from now.
pub fn give(mut stream: TcpStream, id: usize, event: &str, budget_ms: u64) -> std::io::Result<()> {
    #[allow(clippy::disallowed_methods)] // the Runtime API stamps a real deadline
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let deadline = now.as_millis() as u64 + budget_ms;
    // One write, without Nagle's delay: `write!` on the socket wrote each piece on its own, and
    // the pieces after the first waited for the binary's delayed ACK (40 ms on Linux), counted
    // in every warm duration measured through this API.
    stream.set_nodelay(true)?;
    let answer = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nlambda-runtime-aws-request-id: req-{id}\r\n\
         lambda-runtime-deadline-ms: {deadline}\r\nlambda-runtime-invoked-function-arn: arn:aws:lambda:us-east-1:123456789012:function:lakewatch\r\n\
         lambda-runtime-trace-id: Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0\r\n\
         content-length: {}\r\n\r\n{event}",
        event.len()
    );
    stream.write_all(answer.as_bytes())
}

/// A Lambda binary running against its own Runtime API, invoked one event at a time.
#[derive(Debug)]
pub struct Function {
    child: std::process::Child,
    calls: std::sync::mpsc::Receiver<Call>,
    invoked: usize,
}

impl Function {
    /// Starts `binary` with exactly `env` (and the Runtime API's own variables).
    ///
    /// # Panics
    /// When the binary does not start.
    pub fn start(binary: &str, name: &str, env: &[(String, String)]) -> Function {
        let (tx, calls) = std::sync::mpsc::channel();
        let api = runtime_api(tx).expect("a port for the Runtime API");
        let child = std::process::Command::new(binary)
            .env_clear()
            .env("AWS_LAMBDA_RUNTIME_API", format!("127.0.0.1:{api}"))
            .env("AWS_LAMBDA_FUNCTION_NAME", name)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("OTEL_TRACES_EXPORTER", "none")
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {binary}: {e}"));
        Function { child, calls, invoked: 0 }
    }

    /// Invokes the function with `event` and `budget_ms` to its deadline: its response, or the
    /// error it reported.
    ///
    /// # Panics
    /// When the binary asks for no event, or answers nothing, within 120 s.
    pub fn invoke(&mut self, event: &str, budget_ms: u64) -> Result<serde_json::Value, String> {
        let wait = std::time::Duration::from_secs(120);
        let Ok(Call::Next(_, stream)) = self.calls.recv_timeout(wait) else {
            panic!("the function asked for no event")
        };
        self.invoked += 1;
        give(stream, self.invoked, event, budget_ms).expect("handing the event over");
        let Ok(Call::Response(_, body)) = self.calls.recv_timeout(wait) else {
            panic!("the function answered nothing")
        };
        let (path, body) = body.split_once(' ').unwrap_or((&body, ""));
        if path.ends_with("/response") {
            Ok(serde_json::from_str(body).unwrap_or(serde_json::Value::String(body.to_string())))
        } else {
            Err(body.to_string())
        }
    }

    /// Stops the function; returns what it wrote to stdout.
    pub fn stop(mut self) -> String {
        let _ = self.child.kill();
        let mut out = String::new();
        if let Some(mut stdout) = self.child.stdout.take() {
            let _ = stdout.read_to_string(&mut out);
        }
        let _ = self.child.wait();
        out
    }
}
