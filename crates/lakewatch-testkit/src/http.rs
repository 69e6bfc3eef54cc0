//! HTTP servers on 127.0.0.1 for the sources' tests: a scripted one (one answer per request, in
//! order, one request per connection) and one that answers each request with a handler (the
//! fake APIs of the collector runs and their benchmark). What they were asked is kept for
//! assertions.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// A scripted answer: status, extra headers, body (and a lie about its length, to cut it short).
#[derive(Debug, Clone)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: String,
    /// A `content-length` to claim instead of the body's (to cut a body short).
    pub claimed_length: Option<usize>,
}

/// `200` with a JSON body.
pub fn ok(body: &str) -> Answer {
    Answer { status: 200, headers: vec![], body: body.into(), claimed_length: None }
}

/// A status with extra headers and a short JSON body.
pub fn status(code: u16, headers: &[(&str, &str)]) -> Answer {
    let headers = headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    Answer { status: code, headers, body: "{\"message\": \"try again\"}".into(), claimed_length: None }
}

/// What the server saw: request line and headers.
#[derive(Debug, Clone)]
pub struct Seen {
    /// Path and query.
    pub target: String,
    /// Header lines.
    pub headers: Vec<String>,
}

/// Serves the script in order, one answer per request, one request per connection; returns
/// the base URL (`http://127.0.0.1:PORT`) and the requests seen.
pub fn server(script: Vec<Answer>) -> (String, Arc<Mutex<Vec<Seen>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let script = Arc::new(Mutex::new(VecDeque::from(script)));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let Some(answer) = script.lock().unwrap().pop_front() else { return };
            answer_one(stream, &answer, &log);
        }
    });
    (url, seen)
}

fn answer_one(mut stream: TcpStream, a: &Answer, log: &Mutex<Vec<Seen>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut start = String::new();
    reader.read_line(&mut start).unwrap();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        if line.trim().is_empty() {
            break;
        }
        headers.push(line.trim().to_string());
    }
    let target = start.split_whitespace().nth(1).unwrap_or_default().to_string();
    log.lock().unwrap().push(Seen { target, headers });
    let length = a.claimed_length.unwrap_or(a.body.len());
    let mut head = format!(
        "HTTP/1.1 {} X\r\ncontent-type: application/json\r\ncontent-length: {length}\r\nconnection: close\r\n",
        a.status
    );
    for (k, v) in &a.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    let _ = stream.write_all(format!("{head}\r\n{}", a.body).as_bytes());
    let _ = stream.flush();
}

/// A handler's view of a request: path and query, and header lines.
pub type Handler = dyn Fn(&Seen) -> Answer + Send + Sync;

/// Serves every request with `handler`, each connection on its own thread, after `latency` (a
/// network's, injected); returns the base URL and the requests seen. Connections are kept
/// alive, as a real API's are.
pub fn serve(latency: std::time::Duration, handler: Arc<Handler>) -> (String, Arc<Mutex<Vec<Seen>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (handler, log) = (handler.clone(), log.clone());
            std::thread::spawn(move || keep_alive(stream, latency, &*handler, &log));
        }
    });
    (url, seen)
}

/// The next request's line target and header lines on a kept-alive connection; `None` once the
/// peer closes it.
pub(crate) fn read_head(reader: &mut BufReader<TcpStream>) -> Option<Seen> {
    let mut start = String::new();
    if reader.read_line(&mut start).unwrap_or(0) == 0 {
        return None;
    }
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return None;
        }
        if line.trim().is_empty() {
            break;
        }
        headers.push(line.trim().to_string());
    }
    Some(Seen { target: start.split_whitespace().nth(1).unwrap_or_default().to_string(), headers })
}

fn keep_alive(stream: TcpStream, latency: std::time::Duration, handler: &Handler, log: &Mutex<Vec<Seen>>) {
    let Ok(mut writer) = stream.try_clone() else { return };
    let mut reader = BufReader::new(stream);
    while let Some(seen) = read_head(&mut reader) {
        std::thread::sleep(latency);
        let a = handler(&seen);
        log.lock().unwrap().push(seen);
        let mut head = format!(
            "HTTP/1.1 {} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
            a.status,
            a.claimed_length.unwrap_or(a.body.len())
        );
        for (k, v) in &a.headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        if writer.write_all(format!("{head}\r\n{}", a.body).as_bytes()).is_err() || a.claimed_length.is_some() {
            return;
        }
    }
}
