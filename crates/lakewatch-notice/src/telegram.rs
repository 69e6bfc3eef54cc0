//! A [`Notice`] as a Telegram message: MarkdownV2 text for a phone, the counts first, every
//! value escaped, at most [`MAX_TEXT`] characters; and a burst of notices as one digest.
//!
//! Telegram counts a message's length after parsing its entities; this module bounds the raw
//! text, escapes included, in UTF-16 code units, so the message always fits.

use crate::{Notice, NoticeKind, Severity};

/// The Bot API's limit for one message's text.
pub const MAX_TEXT: usize = 4096;
/// Findings quoted per (check, kind): a phone shows a few, the report has them all.
const PER_KIND: usize = 3;
/// A quoted finding's message is cut at this many characters.
const MAX_LINE: usize = 200;
/// Missing symbols named.
const MAX_MISSING: usize = 30;
/// A title is cut at this many characters (a partition names at most a key).
const MAX_TITLE: usize = 300;

/// `text` with every character MarkdownV2 reserves escaped.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if matches!(
            c,
            '_' | '*'
                | '['
                | ']'
                | '('
                | ')'
                | '~'
                | '`'
                | '>'
                | '#'
                | '+'
                | '-'
                | '='
                | '|'
                | '{'
                | '}'
                | '.'
                | '!'
                | '\\'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A URL inside a MarkdownV2 inline link (only `)` and `\` are escaped there).
pub fn link(url: &str) -> String {
    url.replace('\\', "\\\\").replace(')', "\\)")
}

/// `text` as inline code (only `` ` `` and `\` are escaped there).
pub fn code(text: &str) -> String {
    let mut out = String::from("`");
    for c in text.chars() {
        if c == '`' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('`');
    out
}

/// Length as Telegram counts it, in UTF-16 code units.
fn units(text: &str) -> usize {
    text.encode_utf16().count()
}

fn icon(notice: &Notice) -> &'static str {
    match (notice.notice, notice.severity) {
        (NoticeKind::Resolved, _) => "✅",
        (NoticeKind::Expired, _) => "⌛",
        (NoticeKind::Missing, _) => "⏰",
        (NoticeKind::Digest, _) => "🗂",
        (NoticeKind::Alert, Severity::Critical | Severity::Error) => "🔴",
        (NoticeKind::Alert, Severity::Warning) => "🟠",
        (NoticeKind::Alert, Severity::Info) => "🔵",
    }
}

/// `s`, cut to `n` characters with an ellipsis.
fn cut(s: &str, n: usize) -> String {
    if s.chars().count() <= n { s.to_string() } else { format!("{}…", s.chars().take(n - 1).collect::<String>()) }
}

/// The message for one notice: the headline, the counts per check and kind, the missing
/// symbols, a few findings of each kind, the incidents' keys (to `/ack`), and the report.
pub fn render(notice: &Notice) -> String {
    let mut lines =
        vec![format!("{} *{}* {}", icon(notice), crate::sns::label(notice), escape(&cut(&notice.title, MAX_TITLE)))];
    for a in notice.alerts.iter().filter(|a| a.findings > 0) {
        let kinds: Vec<String> = a.kinds.iter().map(|(k, n)| format!("{k} {n}")).collect();
        lines.push(escape(&format!("{}: {} ({})", a.check, a.findings, kinds.join(", "))));
    }
    if let Some(total) = notice.missing_total {
        let named: Vec<&str> = notice.missing.iter().take(MAX_MISSING).map(String::as_str).collect();
        let more = total.saturating_sub(named.len() as u64);
        let tail = if more > 0 { format!(" and {more} more") } else { String::new() };
        lines.push(escape(&format!("missing {total}: {}{tail}", named.join(", "))));
    }
    if let Some(held) = &notice.held_back {
        lines.push(format!("_{}_", escape(&held.note)));
    }
    let mut shown: std::collections::BTreeMap<(&str, &str), usize> = Default::default();
    let mut quoted = Vec::new();
    for f in &notice.findings {
        let n = shown.entry((&f.check, &f.kind)).or_default();
        *n += 1;
        if *n <= PER_KIND {
            let who = f.symbol.as_deref().map(|s| format!("{s}: ")).unwrap_or_default();
            quoted.push(format!("• {}", escape(&cut(&format!("{who}{}", f.message), MAX_LINE))));
        }
    }
    if !quoted.is_empty() {
        lines.push(String::new());
        lines.extend(quoted);
    }
    let keys = notice.dedup_keys();
    let mut tail = Vec::new();
    if !keys.is_empty() && !notice.notice.is_resolved() {
        tail.push(format!("{} {}", escape("key:"), keys.iter().map(|k| code(k)).collect::<Vec<_>>().join(" ")));
    }
    if let Some(report) = &notice.report {
        tail.push(format!("{} {}", escape("report:"), code(report)));
    }
    match &notice.page {
        Some(page) if page.starts_with("https://") => tail.push(format!("[open the page]({})", link(page))),
        Some(page) => tail.push(format!("{} {}", escape("page:"), code(page))),
        None => {}
    }
    fit(lines, tail)
}

/// A burst of notices as one message: a line per notice, newest last, within the limit.
pub fn digest(notices: &[Notice]) -> String {
    let alerts = notices.iter().filter(|n| !n.notice.is_resolved()).count();
    let head = format!(
        "🗂 *{}*",
        escape(&format!("{} notices: {alerts} alert(s), {} resolved", notices.len(), notices.len() - alerts))
    );
    let lines: Vec<String> = std::iter::once(head)
        .chain(notices.iter().map(|n| {
            let findings: u64 = n.alerts.iter().map(|a| a.findings).sum();
            let count = if findings > 0 { format!(" ({findings} findings)") } else { String::new() };
            format!(
                "{} *{}* {}",
                icon(n),
                crate::sns::label(n),
                escape(&format!("{}{count}", cut(&n.title, MAX_TITLE)))
            )
        }))
        .collect();
    fit(lines, Vec::new())
}

/// Lines already in MarkdownV2 as one message within [`MAX_TEXT`] (the last dropped, and
/// counted, if need be).
pub fn message(lines: Vec<String>) -> String {
    fit(lines, Vec::new())
}

/// `lines` then `tail`, dropping lines from the end of `lines` (and saying how many) until the
/// whole fits [`MAX_TEXT`].
fn fit(lines: Vec<String>, tail: Vec<String>) -> String {
    let join = |lines: &[String], dropped: usize| {
        let mut all: Vec<String> = lines.to_vec();
        if dropped > 0 {
            all.push(escape(&format!("… {dropped} more line(s): see the report")));
        }
        all.extend(tail.iter().cloned());
        all.join("\n")
    };
    let mut keep = lines.len();
    loop {
        let text = join(&lines[..keep], lines.len() - keep);
        if units(&text) <= MAX_TEXT {
            return text;
        }
        if keep <= 1 {
            // Unreachable with titles cut to MAX_TITLE; bounded all the same.
            return lines.first().map(|l| l.chars().take(MAX_TEXT / 2).collect()).unwrap_or_default();
        }
        keep -= 1;
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::{CheckCount, Sample};

    const RESERVED: &str = "_*[]()~`>#+-=|{}.!\\";

    /// Whether `text` is valid MarkdownV2 as far as escaping goes: outside code spans every
    /// reserved character is escaped or opens/closes an entity this module writes (`*`, `_`).
    fn well_escaped(text: &str) -> bool {
        let mut chars = text.chars();
        let mut in_code = false;
        let (mut bold, mut italic) = (0, 0);
        while let Some(c) = chars.next() {
            match (in_code, c) {
                (_, '\\') if chars.next().is_none() => return false,
                (_, '\\') => {}
                (_, '`') => in_code = !in_code,
                (true, _) => {}
                (false, '*') => bold += 1,
                (false, '_') => italic += 1,
                (false, c) if RESERVED.contains(c) => return false,
                _ => {}
            }
        }
        !in_code && bold % 2 == 0 && italic % 2 == 0
    }

    fn notice(findings: usize, message: &str) -> Notice {
        let mut n = Notice::new(
            NoticeKind::Alert,
            Severity::Error,
            "minute_bars",
            "date=2025-11-28",
            "minute_bars date=2025-11-28: gaps, integrity",
            "id",
        );
        n.alerts = vec![
            CheckCount {
                check: "gaps".into(),
                severity: Some(Severity::Error),
                findings: findings as u64,
                kinds: [("missing_bars".to_string(), findings as u64)].into(),
                dedup_key: "minute_bars/date=2025-11-28/gaps".into(),
            },
            CheckCount {
                check: "integrity".into(),
                severity: Some(Severity::Error),
                findings: 1,
                kinds: [("ohlc_order".to_string(), 1)].into(),
                dedup_key: "minute_bars/date=2025-11-28/integrity".into(),
            },
        ];
        n.findings = (0..findings)
            .map(|i| Sample {
                check: "gaps".into(),
                kind: "missing_bars".into(),
                severity: Severity::Error,
                message: format!("{message} {i}"),
                symbol: Some("BRK.B".into()),
                rest: Default::default(),
            })
            .collect();
        n.report = Some("s3://lake/lakewatch/reports/minute_bars/date=2025-11-28/v1.json".into());
        n
    }

    #[test]
    fn reserved_characters_are_escaped() {
        // (text, escaped)
        let cases = [
            ("date=2025-11-28", "date\\=2025\\-11\\-28"),
            ("BRK.B (a*b) [x]_y!", "BRK\\.B \\(a\\*b\\) \\[x\\]\\_y\\!"),
            ("a\\b `c` #d +e |f {g} ~h >i", "a\\\\b \\`c\\` \\#d \\+e \\|f \\{g\\} \\~h \\>i"),
            ("Société Générale 🚀", "Société Générale 🚀"),
        ];
        for (text, want) in cases {
            assert_eq!(escape(text), want, "{text}");
        }
        assert_eq!(code("a`b\\c"), "`a\\`b\\\\c`");
        // The checker the other tests rely on refuses what Telegram refuses.
        for bad in ["a.b", "`open", "*bold", "a\\", "x_y"] {
            assert!(!well_escaped(bad), "{bad}");
        }
    }

    #[test]
    fn the_page_is_a_link_when_it_is_on_the_web_and_code_when_it_is_in_s3() {
        let mut n = notice(1, "gap");
        n.page = Some("https://docs.example.com/minute_bars/date=2025-11-28/index.html?a=(b)".into());
        let text = render(&n);
        assert_eq!(
            text.lines().last(),
            Some("[open the page](https://docs.example.com/minute_bars/date=2025-11-28/index.html?a=(b\\))")
        );
        n.page = Some("s3://lake/lakewatch/reports/minute_bars/date=2025-11-28/index.html".into());
        let text = render(&n);
        assert_eq!(
            text.lines().last(),
            Some("page: `s3://lake/lakewatch/reports/minute_bars/date=2025-11-28/index.html`")
        );
        assert!(well_escaped(&text), "{text}");
    }

    #[test]
    fn an_alert_reads_counts_first_then_findings_then_the_keys_to_ack() {
        let text = render(&notice(5, "BRK.B is missing 3 bars from 10:02 to 10:04"));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "🔴 *ERROR* minute\\_bars date\\=2025\\-11\\-28: gaps, integrity");
        assert_eq!(lines[1], "gaps: 5 \\(missing\\_bars 5\\)");
        assert_eq!(lines[2], "integrity: 1 \\(ohlc\\_order 1\\)");
        let quoted: Vec<&&str> = lines.iter().filter(|l| l.starts_with('•')).collect();
        assert_eq!(quoted.len(), PER_KIND, "a few per kind: {text}");
        assert_eq!(*quoted[0], "• BRK\\.B: BRK\\.B is missing 3 bars from 10:02 to 10:04 0");
        assert!(
            text.contains("key: `minute_bars/date=2025-11-28/gaps` `minute_bars/date=2025-11-28/integrity`"),
            "{text}"
        );
        assert!(text.ends_with("report: `s3://lake/lakewatch/reports/minute_bars/date=2025-11-28/v1.json`"), "{text}");
        assert!(well_escaped(&text), "{text}");
    }

    #[test]
    fn a_resolution_and_a_missing_partition_read_as_such() {
        let mut resolved = notice(0, "");
        resolved.notice = NoticeKind::Resolved;
        resolved.severity = Severity::Info;
        let text = render(&resolved);
        assert!(text.starts_with("✅ *RESOLVED* minute\\_bars"), "{text}");
        assert!(!text.contains("key:"), "nothing to ack: {text}");
        let mut missing = notice(0, "");
        missing.notice = NoticeKind::Missing;
        missing.missing = (0..40).map(|i| format!("S{i}")).collect();
        missing.missing_total = Some(120);
        let text = render(&missing);
        assert!(text.starts_with("⏰ *ERROR*"), "{text}");
        assert!(text.contains("missing 120: S0, S1,") && text.contains("S29 and 90 more"), "{text}");
        assert!(!text.contains("S30"), "{text}");
    }

    #[test]
    fn a_huge_alert_fits_one_message_and_still_ends_with_its_keys() {
        let text = render(&notice(5_000, &"x.".repeat(400)));
        assert!(units(&text) <= MAX_TEXT, "{}", units(&text));
        assert!(text.contains("gaps: 5000"), "the counts survive: {text}");
        assert!(text.contains("report:"), "{text}");
        assert!(well_escaped(&text));
        let mut long = notice(3, "m");
        long.title = "🚀".repeat(5_000);
        let text = render(&long);
        assert!(units(&text) <= MAX_TEXT && well_escaped(&text), "{}", units(&text));
    }

    #[test]
    fn a_burst_is_one_digest_within_the_limit() {
        let burst: Vec<Notice> = (0..400)
            .map(|i| {
                let mut n = notice(i % 7, "m");
                n.title = format!("minute_bars date=2025-11-{:02}: gaps", i % 28 + 1);
                if i % 5 == 0 {
                    n.notice = NoticeKind::Resolved;
                }
                n
            })
            .collect();
        let text = digest(&burst);
        assert!(units(&text) <= MAX_TEXT, "{}", units(&text));
        assert!(text.starts_with("🗂 *400 notices: 320 alert\\(s\\), 80 resolved*"), "{text}");
        assert!(text.contains("more line\\(s\\): see the report"), "{text}");
        assert!(well_escaped(&text), "{text}");
    }

    proptest! {
        #[test]
        fn any_notice_renders_well_escaped_within_the_limit(
            title in "\\PC{0,400}",
            message in "\\PC{0,300}",
            symbol in "[A-Z._\\-*]{1,12}",
            findings in 0usize..300,
        ) {
            let mut n = notice(findings, &message);
            n.title = title;
            for f in &mut n.findings {
                f.symbol = Some(symbol.clone());
            }
            let text = render(&n);
            prop_assert!(units(&text) <= MAX_TEXT);
            prop_assert!(well_escaped(&text), "{}", text);
        }
    }
}
