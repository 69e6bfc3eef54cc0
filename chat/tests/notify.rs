//! Alerts to chats against a fake Telegram Bot API speaking its documented shapes: a burst is
//! one digest per chat, a 429 is retried after its `retry_after`, a chat that blocked the bot
//! does not stop the others, a 5xx is retried, and the deadline bounds every wait. A second
//! channel beside Telegram gets the same batch in its own words, and its failures stop nobody.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use lakewatch_chat::bot_api::HttpBot;
use lakewatch_chat::channels::telegram::Telegram;
use lakewatch_chat::channels::{Channel, Sending};
use lakewatch_chat::handler::handle;
use lakewatch_chat::memory::MemoryStore;
use lakewatch_chat::ports::SendError;
use lakewatch_chat::service::{Chat, Options};
use lakewatch_notice::{Notice, NoticeKind, Severity, sns};
use lakewatch_telemetry::{InvocationInfo, Settings, Telemetry};
use lakewatch_testkit::telegram::{FakeTelegram, Reply};
use serde_json::{Value, json};

const DESK: i64 = -100_123;
const ONCALL: i64 = 42;

struct Harness {
    telegram: FakeTelegram,
    chat: Chat<MemoryStore>,
    telemetry: Telemetry,
    out: Arc<Mutex<Vec<u8>>>,
    now: DateTime<Utc>,
}

impl Harness {
    fn new(alert_chats: &[i64]) -> Self {
        Self::with(alert_chats, Vec::new())
    }

    /// Telegram to `alert_chats`, then `others`.
    fn with(alert_chats: &[i64], others: Vec<Box<dyn Channel>>) -> Self {
        let now: DateTime<Utc> = "2025-11-28T21:00:00Z".parse().unwrap();
        let telegram = FakeTelegram::start("1:TOKEN");
        let bot = HttpBot::new(&telegram.url, "1:TOKEN".into()).unwrap();
        let options = Options {
            state_prefix: "lakewatch/state/".into(),
            allowed_chats: BTreeSet::from([DESK]),
            allowed_users: BTreeSet::new(),
            per_minute: 10,
        };
        let mut channels: Vec<Box<dyn Channel>> = vec![Box::new(Telegram { bot, chats: alert_chats.to_vec() })];
        channels.extend(others);
        let chat = Chat::new(MemoryStore::default(), "secret".into(), options, channels);
        let out = Arc::new(Mutex::new(Vec::new()));
        let telemetry = Telemetry::new(Settings::local("chat"), out.clone(), Arc::new(move || now)).unwrap();
        Harness { telegram, chat, telemetry, out, now }
    }

    /// Delivers `notices` as the alert queue does (SNS envelopes in SQS bodies), with `budget`
    /// to the deadline.
    async fn deliver(&mut self, notices: &[Notice], budget: Duration) -> Value {
        let records: Vec<Value> = notices
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let envelope = json!({"Type": "Notification", "Message": sns::render(n).body});
                json!({"messageId": format!("m{i}"), "eventSource": "aws:sqs", "body": envelope.to_string()})
            })
            .collect();
        let _guard = tracing::dispatcher::set_default(&self.telemetry.dispatch());
        let mut inv = self.telemetry.start(InvocationInfo { request_id: "r".into(), ..InvocationInfo::default() });
        let out = handle(&self.chat, &json!({"Records": records}), &mut inv, self.now, Some(self.now + budget)).await;
        self.telemetry.finish(inv);
        out.unwrap()
    }

    /// (destination, reason) of each `chat_send_failed` line.
    fn failures(&self) -> Vec<(String, String)> {
        String::from_utf8(self.out.lock().unwrap().clone())
            .unwrap()
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|l| l["event"] == "chat_send_failed")
            .map(|l| (l["to"].as_str().unwrap().to_string(), l["reason"].as_str().unwrap().to_string()))
            .collect()
    }
}

fn alert(i: usize) -> Notice {
    let partition = format!("symbol=S{i}/year=2025");
    let mut n = Notice::new(
        NoticeKind::Alert,
        Severity::Error,
        "daily_bars",
        &partition,
        format!("daily_bars {partition}: gaps"),
        format!("daily_bars/{partition}/v1/1"),
    );
    n.alerts = vec![lakewatch_notice::CheckCount {
        check: "gaps".into(),
        severity: Some(Severity::Error),
        findings: 3,
        kinds: [("missing_sessions".to_string(), 3)].into(),
        dedup_key: lakewatch_notice::dedup_key("daily_bars", &partition, "gaps"),
    }];
    n
}

#[tokio::test]
async fn one_alert_reads_as_itself_and_a_burst_of_40_is_one_digest_per_chat() {
    let mut h = Harness::new(&[DESK, ONCALL]);
    h.deliver(&[alert(1)], Duration::seconds(30)).await;
    let one = h.telegram.delivered(DESK);
    assert_eq!(one.len(), 1);
    assert!(
        one[0].starts_with("🔴 *ERROR* daily\\_bars symbol\\=S1/year\\=2025: gaps\ngaps: 3 \\(missing\\_sessions 3\\)"),
        "{}",
        one[0]
    );
    assert!(h.telegram.sent().iter().all(|s| s.parse_mode.as_deref() == Some("MarkdownV2")));

    let burst: Vec<Notice> = (1..=40).map(alert).collect();
    let answer = h.deliver(&burst, Duration::seconds(30)).await;
    assert_eq!(answer, json!({"batchItemFailures": []}));
    for chat in [DESK, ONCALL] {
        let got = h.telegram.delivered(chat);
        assert_eq!(got.len(), 2, "the single alert, then one digest for the burst: {got:?}");
        assert!(got[1].starts_with("🗂 *40 notices: 40 alert\\(s\\), 0 resolved*"), "{}", got[1]);
        assert!(got[1].contains("symbol\\=S40/year\\=2025"), "every alert is named: {}", got[1]);
    }
    assert!(h.failures().is_empty());
}

#[tokio::test]
async fn a_429_is_retried_after_retry_after_and_the_deadline_bounds_the_wait() {
    let mut h = Harness::new(&[DESK]);
    h.telegram.script(DESK, &[Reply::TooMany(1)]);
    h.deliver(&[alert(1)], Duration::seconds(30)).await;
    let sent = h.telegram.sent();
    assert_eq!(sent.iter().map(|s| s.reply).collect::<Vec<_>>(), [Reply::TooMany(1), Reply::Ok]);
    let waited = sent[1].at - sent[0].at;
    assert!(waited >= std::time::Duration::from_millis(1000), "retried after {waited:?}");
    assert_eq!(h.telegram.delivered(DESK).len(), 1);

    // A retry_after past the deadline is not waited for: counted, logged, the invocation ends.
    h.telegram.script(DESK, &[Reply::TooMany(60)]);
    let started = std::time::Instant::now();
    h.deliver(&[alert(2)], Duration::seconds(10)).await;
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "{:?}", started.elapsed());
    assert_eq!(h.failures(), [(DESK.to_string(), "rate_limited".to_string())]);
}

#[tokio::test]
async fn a_chat_that_blocked_the_bot_is_skipped_and_the_others_still_get_the_alert() {
    let mut h = Harness::new(&[ONCALL, DESK]);
    h.telegram.script(ONCALL, &[Reply::Blocked]);
    h.deliver(&[alert(1)], Duration::seconds(30)).await;
    assert_eq!(h.telegram.delivered(DESK).len(), 1);
    assert!(h.telegram.delivered(ONCALL).is_empty());
    assert_eq!(h.failures(), [(ONCALL.to_string(), "blocked".to_string())]);
    assert_eq!(h.telegram.sent().iter().filter(|s| s.chat == ONCALL).count(), 1, "a 403 is not retried");
}

#[tokio::test]
async fn a_5xx_is_retried_and_a_chat_that_keeps_failing_is_counted() {
    let mut h = Harness::new(&[DESK, ONCALL]);
    h.telegram.script(DESK, &[Reply::Broken, Reply::Broken]);
    h.telegram.script(ONCALL, &[Reply::Broken, Reply::Broken, Reply::Broken]);
    h.deliver(&[alert(1)], Duration::seconds(30)).await;
    assert_eq!(h.telegram.delivered(DESK).len(), 1, "third time lucky");
    assert!(h.telegram.delivered(ONCALL).is_empty());
    assert_eq!(h.failures(), [(ONCALL.to_string(), "failed".to_string())]);
}

/// A channel as a new file in `channels/` would add one: its own rendering, its own
/// destinations, its own failures.
#[derive(Debug, Default)]
struct Pager {
    pages: Arc<Mutex<Vec<(String, String)>>>,
}

impl Channel for Pager {
    fn name(&self) -> &'static str {
        "pager"
    }

    fn destinations(&self) -> Vec<String> {
        vec!["primary".into(), "gone".into()]
    }

    fn render(&self, notices: &[Notice]) -> Option<String> {
        (!notices.is_empty()).then(|| format!("{} lakewatch notice(s)", notices.len()))
    }

    fn send<'a>(&'a self, to: &'a str, text: &'a str) -> Sending<'a> {
        Box::pin(async move {
            if to == "gone" {
                return Err(SendError::Blocked("no such service".into()));
            }
            self.pages.lock().unwrap().push((to.to_string(), text.to_string()));
            Ok(())
        })
    }
}

#[tokio::test]
async fn another_channel_gets_the_same_batch_in_its_own_words_and_its_failures_stop_nobody() {
    let pager = Pager::default();
    let pages = pager.pages.clone();
    let mut h = Harness::with(&[DESK], vec![Box::new(pager)]);
    let burst: Vec<Notice> = (1..=3).map(alert).collect();
    h.deliver(&burst, Duration::seconds(30)).await;
    assert_eq!(*pages.lock().unwrap(), [("primary".to_string(), "3 lakewatch notice(s)".to_string())]);
    let desk = h.telegram.delivered(DESK);
    assert_eq!(desk.len(), 1);
    assert!(desk[0].starts_with("🗂 *3 notices"), "{}", desk[0]);
    assert_eq!(h.failures(), [("gone".to_string(), "blocked".to_string())]);
    let lines = String::from_utf8(h.out.lock().unwrap().clone()).unwrap();
    assert!(lines.lines().any(|l| l.contains(r#""channel":"pager""#) && l.contains("chat_send_failed")), "{lines}");
}
