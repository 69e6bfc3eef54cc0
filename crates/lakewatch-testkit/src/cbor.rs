//! A bridge from the Smithy RPC v2 CBOR protocol, which the Rust CloudWatch SDK speaks, to the
//! AWS JSON 1.0 protocol moto implements for CloudWatch (getmoto/moto#9195: no CBOR). Each
//! request's CBOR body is turned into JSON and posted to moto with the operation as its
//! `X-Amz-Target`; moto's JSON answer goes back as CBOR, with timestamps as CBOR tag 1. The
//! CloudWatch operations themselves (what is stored, what is returned) are moto's.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};

use ciborium::value::Value as Cbor;
use serde_json::Value as Json;

/// Starts the bridge in front of moto's `endpoint`; returns its own `http://127.0.0.1:PORT`.
pub fn cloudwatch_bridge(moto: &str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let moto = moto.trim_start_matches("http://").to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let moto = moto.clone();
            std::thread::spawn(move || {
                let _ = relay(stream, &moto);
            });
        }
    });
    url
}

/// One HTTP/1.1 message: the first line, the headers (lowercase names) and the body.
type Message = (String, Vec<(String, String)>, Vec<u8>);

fn read_message(reader: &mut impl BufRead) -> std::io::Result<Option<Message>> {
    let mut first = String::new();
    if reader.read_line(&mut first)? == 0 {
        return Ok(None);
    }
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let length = headers.iter().find(|(k, _)| k == "content-length").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    Ok(Some((first.trim_end().to_string(), headers, body)))
}

fn relay(stream: TcpStream, moto: &str) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut out = stream;
    while let Some((first, headers, body)) = read_message(&mut reader)? {
        let operation = first.split(' ').nth(1).and_then(|p| p.rsplit('/').next()).unwrap_or_default().to_string();
        let json = if body.is_empty() {
            Json::Object(Default::default())
        } else {
            to_json(ciborium::from_reader(body.as_slice()).map_err(std::io::Error::other)?)
        };
        let json = json.to_string();
        let authorization = headers.iter().find(|(k, _)| k == "authorization").map(|(_, v)| v.as_str()).unwrap_or("");
        // Each message in one write: pieces written apart wait on the peer's delayed ACK (40 ms).
        let mut upstream = TcpStream::connect(moto)?;
        let request = format!(
            "POST / HTTP/1.1\r\nHost: {moto}\r\nContent-Type: application/x-amz-json-1.0\r\nX-Amz-Target: GraniteServiceVersion20100801.{operation}\r\nAuthorization: {authorization}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{json}",
            json.len()
        );
        upstream.write_all(request.as_bytes())?;
        let mut upstream = BufReader::new(upstream);
        let (status_line, _, answer) = read_message(&mut upstream)?.unwrap_or_default();
        let status = status_line.split(' ').nth(1).unwrap_or("500").to_string();
        let answer: Json = serde_json::from_slice(&answer).unwrap_or(Json::Object(Default::default()));
        let mut bytes = Vec::new();
        ciborium::into_writer(&to_cbor(None, answer), &mut bytes).map_err(std::io::Error::other)?;
        let mut answer = format!(
            "HTTP/1.1 {status} X\r\nContent-Type: application/cbor\r\nsmithy-protocol: rpc-v2-cbor\r\nContent-Length: {}\r\n\r\n",
            bytes.len()
        )
        .into_bytes();
        answer.extend_from_slice(&bytes);
        out.write_all(&answer)?;
        out.flush()?;
    }
    Ok(())
}

pub(crate) fn to_json(v: Cbor) -> Json {
    match v {
        Cbor::Null => Json::Null,
        Cbor::Bool(b) => Json::Bool(b),
        Cbor::Integer(i) => Json::from(i128::from(i) as i64),
        Cbor::Float(f) => serde_json::Number::from_f64(f).map_or(Json::Null, Json::Number),
        Cbor::Text(s) => Json::String(s),
        Cbor::Tag(_, inner) => to_json(*inner),
        Cbor::Array(a) => Json::Array(a.into_iter().map(to_json).collect()),
        Cbor::Map(m) => {
            Json::Object(m.into_iter().filter_map(|(k, v)| k.into_text().ok().map(|k| (k, to_json(v)))).collect())
        }
        _ => Json::Null,
    }
}

/// An error's code as the SDK matches it: CloudWatch is `awsQueryCompatible`, so errors carry
/// their query-protocol codes (`DashboardNotFoundError` is `ResourceNotFound`).
fn error_shape(code: &str) -> String {
    let code = code.rsplit('#').next().unwrap_or(code);
    let code = if code == "DashboardNotFoundError" { "ResourceNotFound" } else { code };
    format!("com.amazonaws.cloudwatch#{code}")
}

/// JSON to CBOR; numbers under a `...Timestamp` key become epoch seconds (CBOR tag 1).
pub(crate) fn to_cbor(key: Option<&str>, v: Json) -> Cbor {
    match v {
        Json::Null => Cbor::Null,
        Json::Bool(b) => Cbor::Bool(b),
        Json::Number(n) if key.is_some_and(|k| k.ends_with("Timestamp")) => {
            Cbor::Tag(1, Box::new(Cbor::Float(n.as_f64().unwrap_or_default())))
        }
        Json::Number(n) => match n.as_i64() {
            Some(i) => Cbor::Integer(i.into()),
            None => Cbor::Float(n.as_f64().unwrap_or_default()),
        },
        Json::String(s) if key == Some("__type") => Cbor::Text(error_shape(&s)),
        Json::String(s) => Cbor::Text(s),
        Json::Array(a) => Cbor::Array(a.into_iter().map(|x| to_cbor(key, x)).collect()),
        Json::Object(o) => {
            Cbor::Map(o.into_iter().map(|(k, v)| (Cbor::Text(k.clone()), to_cbor(Some(&k), v))).collect())
        }
    }
}
