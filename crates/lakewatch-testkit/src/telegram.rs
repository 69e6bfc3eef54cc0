//! A fake Telegram Bot API on 127.0.0.1 speaking its documented shapes: `POST
//! /bot{token}/sendMessage` with a JSON body answers `{"ok": true, "result": {...}}`, or, as a
//! chat is scripted to, 429 with `parameters.retry_after`, 403 (the bot was blocked) or 500.
//! Every request is recorded with the time it arrived, for assertions on what each chat got
//! and when.

use std::collections::{HashMap, VecDeque};
use std::io::{BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// How a chat answers, one entry per request in order; `Ok` once the script is used up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// 200.
    Ok,
    /// 429 with `retry_after` seconds.
    TooMany(u16),
    /// 403: "bot was blocked by the user".
    Blocked,
    /// 500.
    Broken,
}

/// One `sendMessage` call.
#[derive(Debug, Clone)]
pub struct Sent {
    /// `chat_id`.
    pub chat: i64,
    /// `text`.
    pub text: String,
    /// `parse_mode`.
    pub parse_mode: Option<String>,
    /// What it was answered.
    pub reply: Reply,
    /// When it arrived.
    pub at: Instant,
}

/// The fake API: its base URL, the token it accepts, and what it was sent.
#[derive(Debug, Clone)]
pub struct FakeTelegram {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The bot token it accepts (any other: 401).
    pub token: String,
    sent: Arc<Mutex<Vec<Sent>>>,
    script: Arc<Mutex<HashMap<i64, VecDeque<Reply>>>>,
    webhooks: Arc<Mutex<Vec<serde_json::Value>>>,
}

impl FakeTelegram {
    /// Starts serving.
    pub fn start(token: &str) -> FakeTelegram {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a port");
        let url = format!("http://{}", listener.local_addr().expect("an address"));
        let fake = FakeTelegram {
            url,
            token: token.to_string(),
            sent: Arc::default(),
            script: Arc::default(),
            webhooks: Arc::default(),
        };
        let server = fake.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let server = server.clone();
                std::thread::spawn(move || server.serve(stream));
            }
        });
        fake
    }

    /// `chat` answers its next requests with `replies`, in order.
    pub fn script(&self, chat: i64, replies: &[Reply]) {
        self.script.lock().unwrap().entry(chat).or_default().extend(replies.iter().copied());
    }

    /// Every `sendMessage` so far.
    pub fn sent(&self) -> Vec<Sent> {
        self.sent.lock().unwrap().clone()
    }

    /// Every `setWebhook` request body so far.
    pub fn webhooks(&self) -> Vec<serde_json::Value> {
        self.webhooks.lock().unwrap().clone()
    }

    /// The messages `chat` got (answered 200).
    pub fn delivered(&self, chat: i64) -> Vec<String> {
        self.sent().into_iter().filter(|s| s.chat == chat && s.reply == Reply::Ok).map(|s| s.text).collect()
    }

    fn serve(&self, stream: TcpStream) {
        let Ok(mut writer) = stream.try_clone() else { return };
        let mut reader = BufReader::new(stream);
        while let Some(seen) = crate::http::read_head(&mut reader) {
            let length = seen
                .headers
                .iter()
                .filter_map(|h| h.split_once(':'))
                .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                .and_then(|(_, v)| v.trim().parse().ok())
                .unwrap_or(0usize);
            let mut body = vec![0; length];
            if reader.read_exact(&mut body).is_err() {
                return;
            }
            let path = seen.target;
            let (status, answer) = self.answer(&path, &body);
            let head = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                answer.len()
            );
            if writer.write_all(format!("{head}{answer}").as_bytes()).is_err() {
                return;
            }
        }
    }

    fn answer(&self, path: &str, body: &[u8]) -> (u16, String) {
        let Some(method) = path.strip_prefix(&format!("/bot{}/", self.token)) else {
            return (401, r#"{"ok":false,"error_code":401,"description":"Unauthorized"}"#.into());
        };
        let Ok(request) = serde_json::from_slice::<serde_json::Value>(body) else {
            return (400, r#"{"ok":false,"error_code":400,"description":"Bad Request: invalid JSON"}"#.into());
        };
        if method == "setWebhook" {
            let url = request["url"].as_str().unwrap_or_default();
            if !url.starts_with("https://") {
                return (400, r#"{"ok":false,"error_code":400,"description":"Bad Request: bad webhook: An HTTPS URL must be provided for webhook"}"#.into());
            }
            self.webhooks.lock().unwrap().push(request);
            return (200, r#"{"ok":true,"result":true,"description":"Webhook was set"}"#.into());
        }
        if method != "sendMessage" {
            return (404, r#"{"ok":false,"error_code":404,"description":"Not Found"}"#.into());
        }
        let chat = request["chat_id"].as_i64().unwrap_or_default();
        let text = request["text"].as_str().unwrap_or_default().to_string();
        if text.encode_utf16().count() > 4096 {
            return (400, r#"{"ok":false,"error_code":400,"description":"Bad Request: message is too long"}"#.into());
        }
        let reply = self.script.lock().unwrap().get_mut(&chat).and_then(VecDeque::pop_front).unwrap_or(Reply::Ok);
        self.sent.lock().unwrap().push(Sent {
            chat,
            text: text.clone(),
            parse_mode: request["parse_mode"].as_str().map(str::to_string),
            reply,
            at: Instant::now(),
        });
        match reply {
            Reply::Ok => (
                200,
                serde_json::json!({"ok": true, "result": {"message_id": 1, "date": 0, "chat": {"id": chat, "type": "group"}, "text": text}})
                    .to_string(),
            ),
            Reply::TooMany(after) => (
                429,
                format!(r#"{{"ok":false,"error_code":429,"description":"Too Many Requests: retry after {after}","parameters":{{"retry_after":{after}}}}}"#),
            ),
            Reply::Blocked => (403, r#"{"ok":false,"error_code":403,"description":"Forbidden: bot was blocked by the user"}"#.into()),
            Reply::Broken => (500, r#"{"ok":false,"error_code":500,"description":"Internal Server Error"}"#.into()),
        }
    }
}
