//! The webhook as Telegram and strangers call it: the secret token, retried updates, chats not
//! allowed, floods, malformed updates, and the incident commands changing the lake. The lake is
//! the crate's in-memory store (it counts every call, so "nothing read or written" is checked);
//! replies come back inline, as Telegram runs them.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use lakewatch_chat::memory::MemoryStore;
use lakewatch_chat::service::{Chat, Options};
use lakewatch_notice::incident::Incidents;
use lakewatch_telemetry::{InvocationInfo, Settings, Telemetry};
use serde_json::{Value, json};

const SECRET: &str = "webhook_s3cret-token";
const GROUP: i64 = -100_123;
const ALICE: i64 = 42;
const INCIDENTS: &str = "lakewatch/state/incidents.json";

struct Harness {
    store: MemoryStore,
    chat: Chat<MemoryStore>,
    telemetry: Telemetry,
    out: Arc<Mutex<Vec<u8>>>,
    now: DateTime<Utc>,
}

impl Harness {
    fn new() -> Self {
        Self::with_rate(10)
    }

    fn with_rate(per_minute: usize) -> Self {
        let now: DateTime<Utc> = "2025-11-28T20:00:00Z".parse().unwrap();
        let store = MemoryStore::default();
        let options = Options {
            state_prefix: "lakewatch/state/".into(),
            allowed_chats: BTreeSet::from([GROUP]),
            allowed_users: BTreeSet::new(),
            per_minute,
        };
        // Replies go inline: the webhook sends nothing through a channel.
        let chat = Chat::new(store.clone(), SECRET.into(), options, Vec::new());
        let out = Arc::new(Mutex::new(Vec::new()));
        let telemetry = Telemetry::new(Settings::local("chat"), out.clone(), Arc::new(move || now)).unwrap();
        Harness { store, chat, telemetry, out, now }
    }

    /// The Function URL event of a POST with `secret` (if any) and `body`.
    async fn post(&mut self, secret: Option<&str>, body: &str) -> Value {
        let mut headers = json!({"content-type": "application/json"});
        if let Some(s) = secret {
            headers["x-telegram-bot-api-secret-token"] = json!(s);
        }
        let event = json!({"version": "2.0", "rawPath": "/", "headers": headers, "body": body, "isBase64Encoded": false,
            "requestContext": {"http": {"method": "POST", "sourceIp": "149.154.167.197"}}});
        let _guard = tracing::dispatcher::set_default(&self.telemetry.dispatch());
        let mut inv = self.telemetry.start(InvocationInfo { request_id: "r".into(), ..InvocationInfo::default() });
        let response = self.chat.webhook(&event, &mut inv, self.now).await;
        self.telemetry.finish(inv);
        response
    }

    /// A message from `user` in `chat`.
    async fn say(&mut self, update_id: u32, chat: i64, user: i64, text: &str) -> Value {
        let body = json!({"update_id": update_id, "message": {"message_id": update_id, "date": 1764360000,
            "chat": {"id": chat, "type": if chat < 0 { "supergroup" } else { "private" }, "title": "desk"},
            "from": {"id": user, "is_bot": false, "first_name": "Alice", "username": "alice"}, "text": text}});
        self.post(Some(SECRET), &body.to_string()).await
    }

    fn stdout(&self) -> String {
        String::from_utf8(self.out.lock().unwrap().clone()).unwrap()
    }

    fn events(&self, name: &str) -> Vec<Value> {
        self.stdout()
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|l| l["event"] == name)
            .collect()
    }
}

/// The reply text a response asks Telegram to send, if any.
fn reply(response: &Value) -> Option<String> {
    let body = response["body"].as_str()?;
    let method: Value = serde_json::from_str(body).ok()?;
    assert_eq!(method["method"], "sendMessage");
    assert_eq!(method["parse_mode"], "MarkdownV2");
    method["text"].as_str().map(str::to_string)
}

#[tokio::test]
async fn without_the_secret_a_request_gets_401_and_nothing_is_read_or_written() {
    let mut h = Harness::new();
    let ack = json!({"update_id": 1, "message": {"message_id": 1, "date": 1, "chat": {"id": GROUP, "type": "group"},
        "text": "/ack minute_bars/date=2025-11-28/gaps"}})
    .to_string();
    for secret in [None, Some("webhook_s3cret-tokeN"), Some(""), Some("webhook_s3cret-token-and-more")] {
        let response = h.post(secret, &ack).await;
        assert_eq!(response["statusCode"], 401, "{secret:?}");
        assert_eq!(response["body"], "");
    }
    assert_eq!(h.store.calls(), 0, "nothing read or written");
    assert_eq!(h.events("webhook_rejected").len(), 4);
    let metrics = h.stdout().lines().filter(|l| l.contains("ChatWebhookRejected")).count();
    assert_eq!(metrics, 4, "one metric per refusal");
}

#[tokio::test]
async fn a_retried_update_is_answered_once() {
    let mut h = Harness::new();
    let first = h.say(7, GROUP, ALICE, "/ack minute_bars/date=2025-11-28/gaps on it").await;
    assert_eq!(reply(&first).as_deref(), Some("✅ ack minute\\_bars/date\\=2025\\-11\\-28/gaps"));
    let again = h.say(7, GROUP, ALICE, "/ack minute_bars/date=2025-11-28/gaps on it").await;
    assert_eq!(
        (again["statusCode"].as_u64(), reply(&again)),
        (Some(200), None),
        "Telegram's retry is acknowledged, not run"
    );
    let doc = Incidents::parse(&h.store.get(INCIDENTS).unwrap(), INCIDENTS).unwrap();
    assert_eq!(doc.log.len(), 1);
    assert_eq!((doc.log[0].who.by.as_str(), doc.log[0].who.why.as_str()), ("telegram:42 (@alice)", "on it"));
}

#[tokio::test]
async fn a_chat_not_allowed_is_refused_once_politely_and_changes_nothing() {
    let mut h = Harness::new();
    let stranger = -100_999;
    let first = h.say(1, stranger, 666, "/mute minute_bars until 2025-12-01").await;
    let text = reply(&first).unwrap();
    assert!(text.starts_with("Sorry, this chat may not run lakewatch commands\\."), "{text}");
    assert!(text.contains("\\-100999"), "names the chat id to allow: {text}");
    let second = h.say(2, stranger, 666, "/mute minute_bars until 2025-12-01").await;
    assert_eq!(reply(&second), None, "one refusal, then silence");
    assert_eq!(h.store.get(INCIDENTS), None, "nothing changed");
    assert_eq!(h.events("chat_refused").len(), 2, "each attempt is logged");
}

#[tokio::test]
async fn incident_commands_change_the_lake_and_wrong_arguments_get_the_usage() {
    let mut h = Harness::new();
    let r = h.say(1, GROUP, ALICE, "/mute@lakewatch_bot minute_bars gaps until 2025-12-01 vendor migration").await;
    assert_eq!(reply(&r).as_deref(), Some("✅ mute minute\\_bars\\.gaps until 2025\\-12\\-01"));
    let r = h.say(2, GROUP, ALICE, "/expected minute_bars AAPL halt until 2025-11-28").await;
    assert_eq!(reply(&r).as_deref(), Some("✅ expected minute\\_bars AAPL halt until 2025\\-11\\-28"));
    let r = h.say(3, GROUP, ALICE, "/incidents").await;
    let text = reply(&r).unwrap();
    assert!(text.contains("mute minute\\_bars gaps until 2025\\-12\\-01 by telegram:42 \\(@alice\\)"), "{text}");
    assert!(text.contains("expected minute\\_bars AAPL halt until 2025\\-11\\-28"), "{text}");
    let doc = Incidents::parse(&h.store.get(INCIDENTS).unwrap(), INCIDENTS).unwrap();
    assert_eq!((doc.mutes.len(), doc.expected.len()), (1, 1));

    let r = h.say(4, GROUP, ALICE, "/mute minute_bars until next week").await;
    assert_eq!(
        reply(&r).as_deref(),
        Some(
            "\\`next\\` is not a date \\(YYYY\\-MM\\-DD\\); usage: /mute <dataset\\> \\[check\\] until <YYYY\\-MM\\-DD\\> \\[why…\\]"
        )
    );
    let r = h.say(5, GROUP, ALICE, "just chatting").await;
    assert_eq!(reply(&r), None, "plain text is not a command");
    let r = h.say(6, GROUP, ALICE, "/help").await;
    assert!(reply(&r).unwrap().contains("`/ack <dedup key> [why]`"), "{r}");
    let commands: Vec<String> =
        h.events("command_run").iter().map(|e| e["command"].as_str().unwrap().to_string()).collect();
    assert_eq!(commands, ["mute", "expected", "incidents", "help"]);

    // A document someone broke by hand is named and never overwritten.
    h.store.put(INCIDENTS, b"{\"mutes\": 1}");
    let r = h.say(7, GROUP, ALICE, "/ack minute_bars/date=2025-11-28/gaps").await;
    assert!(
        reply(&r).unwrap().starts_with("s3://lake/lakewatch/state/incidents\\.json: not an incidents document"),
        "{r}"
    );
    assert_eq!(h.store.get(INCIDENTS).unwrap(), b"{\"mutes\": 1}");
}

#[tokio::test]
async fn a_flood_from_one_user_is_slowed_and_the_others_are_not() {
    let mut h = Harness::with_rate(3);
    let mut answers = Vec::new();
    for id in 1..=5 {
        answers.push(reply(&h.say(id, GROUP, ALICE, "/incidents").await).unwrap());
    }
    assert!(answers[..3].iter().all(|a| a == "no incident statuses"), "{answers:?}");
    assert!(
        answers[3..].iter().all(|a| a.starts_with("Slow down, please: at most 3 commands a minute")),
        "{answers:?}"
    );
    let bob = reply(&h.say(6, GROUP, 43, "/incidents").await).unwrap();
    assert_eq!(bob, "no incident statuses", "another user has their own minute");
}

#[tokio::test]
async fn malformed_updates_get_200_and_a_log_line_so_telegram_stops_retrying() {
    let mut h = Harness::new();
    for body in ["not json at all", "{\"update_id\": 5, \"message_reaction\": {\"chat\": {\"id\": 1}}}", "[]", ""] {
        let response = h.post(Some(SECRET), body).await;
        assert_eq!((response["statusCode"].as_u64(), reply(&response)), (Some(200), None), "{body}");
    }
    assert_eq!(h.events("update_ignored").len(), 4);
    for line in h.stdout().lines() {
        lakewatch_telemetry::catalog::check_log_line(line).unwrap();
    }
    assert!(lakewatch_telemetry::lint::lint(&h.stdout(), None).is_empty());
}

#[tokio::test]
async fn report_summarises_the_newest_report_of_a_partition_and_missing_lists_the_sweeps_findings() {
    let mut h = Harness::new();
    let report = "lakewatch/reports/minute_bars/date=2025-11-28/v3.json";
    h.store.put(
        "lakewatch/state/partitions/minute_bars/date=2025-11-28.json",
        json!({"key": "data/ticks/minute/date=2025-11-28/bars.parquet", "newest": {"id": "v3", "report": format!("s3://lake/{report}")}})
            .to_string()
            .as_bytes(),
    );
    h.store.put(
        report,
        json!({"rows": 81900, "symbols": 210, "stats": {"by_severity": {"error": 2, "info": 12}},
            "findings": [
                {"check": "gaps", "kind": "missing_bars", "severity": "error", "symbol": "AAPL", "message": "AAPL is missing 5 bars from 10:02 to 10:06"},
                {"check": "integrity", "kind": "ohlc_order", "severity": "error", "message": "high below low in 1 bar"},
                {"check": "gaps", "kind": "no_trades", "severity": "info", "message": "GE has no bars in 62 minutes"}]})
        .to_string()
        .as_bytes(),
    );
    let text = reply(&h.say(1, GROUP, ALICE, "/report minute_bars date=2025-11-28").await).unwrap();
    assert_eq!(
        text,
        "*minute\\_bars date\\=2025\\-11\\-28* 81900 rows, 210 symbols\nfindings: error 2, info 12\n\
         gaps/missing\\_bars: 1\ngaps/no\\_trades: 1\nintegrity/ohlc\\_order: 1\n\
         • AAPL is missing 5 bars from 10:02 to 10:06\n• high below low in 1 bar\n\
         report: `s3://lake/lakewatch/reports/minute_bars/date=2025-11-28/v3.json`"
    );
    let text = reply(&h.say(2, GROUP, ALICE, "/report minute_bars date=2025-11-27").await).unwrap();
    assert!(text.starts_with("no report for minute\\_bars date\\=2025\\-11\\-27"), "{text}");

    h.store.put("lakewatch/state/sweep/lake/daily_bars.json", br#"{"open": {"2025-11-26": ["AMZN", "META"]}}"#);
    h.store.put("lakewatch/state/sweep/lake/minute_bars.json", br#"{"open": {}}"#);
    let text = reply(&h.say(3, GROUP, ALICE, "/missing").await).unwrap();
    assert_eq!(text, "*daily\\_bars*\n2025\\-11\\-26: 2 missing: AMZN, META");
    let text = reply(&h.say(4, GROUP, ALICE, "/missing minute_bars").await).unwrap();
    assert_eq!(text, "nothing missing in minute\\_bars as of the last sweep");
}

#[tokio::test]
async fn status_counts_open_alerts_missing_sessions_the_last_sweep_and_the_statuses() {
    let mut h = Harness::new();
    for p in ["date=2025-11-26", "date=2025-11-27", "date=2025-11-28"] {
        h.store.put(&format!("lakewatch/state/open/minute_bars/{p}.json"), b"{}");
    }
    h.store.put("lakewatch/state/open/daily_bars/symbol=AAPL/year=2025.json", b"{}");
    h.store.put("lakewatch/state/sweep/lake/daily_bars.json", br#"{"open": {"2025-11-26": ["AMZN"]}}"#);
    h.store
        .put("lakewatch/state/status/sweep.json", br#"{"at": "2025-11-28T19:45:00Z", "failed": [], "complete": true}"#);
    // The collectors' checkpoints: the newest by date is the last run, written when listed.
    let at = |t: &str| t.parse::<DateTime<Utc>>().unwrap();
    let daily = br#"{"collector": "daily", "session": "2025-11-28", "done": ["AAPL", "MSFT"], "failed": {"TSLA": {"error": "HTTP 500", "attempts": 3}}}"#;
    h.store.put_at("lakewatch/checkpoints/daily/2025-11-27.json", b"{}", at("2025-11-27T16:25:00Z"));
    h.store.put_at("lakewatch/checkpoints/daily/2025-11-28.json", daily, at("2025-11-28T16:25:00Z"));
    let fundamentals = br#"{"collector": "fundamentals", "session": "2024-12-31", "done": ["AAPL"], "failed": {}}"#;
    h.store.put_at("lakewatch/checkpoints/fundamentals/2024-12-31.json", fundamentals, at("2025-11-28T19:10:00Z"));
    reply(&h.say(1, GROUP, ALICE, "/ack minute_bars/date=2025-11-28/gaps").await).unwrap();
    let text = reply(&h.say(2, GROUP, ALICE, "/status").await).unwrap();
    assert_eq!(
        text,
        "*lakewatch status*\n\
         open alerts in daily\\_bars: 1 \\(symbol\\=AAPL/year\\=2025\\)\n\
         open alerts in minute\\_bars: 3 \\(date\\=2025\\-11\\-28, date\\=2025\\-11\\-27, date\\=2025\\-11\\-26\\)\n\
         sessions missing in daily\\_bars: 1 \\(/missing daily\\_bars\\)\n\
         last sweep: 2025\\-11\\-28 19:45 UTC \\(15 min ago\\), every dataset checked\n\
         collector daily: session 2025\\-11\\-28, 3 h ago, 2 collected, 1 failed\n\
         collector minute: no run yet\n\
         collector fundamentals: session 2024\\-12\\-31, 50 min ago, 1 collected, 0 failed\n\
         incidents: 1 acknowledged, 0 muted, 0 expected \\(/incidents lists them\\)"
    );
}
