//! Logs Insights queries: the saved queries (one file each under `queries/`) and the dashboards'
//! log widgets, and a parser for the subset of the query language they use, so that a renamed
//! log field or event fails a test instead of returning an empty table at 3 a.m.
//!
//! The subset: `fields`, `display`, `filter`, `stats ... by ...`, `sort`, `limit`, commands
//! separated by `|`; `#` comments; strings, numbers, `/regex/`, lists `[...]`, function calls,
//! `as` aliases, comparison and boolean operators.

use std::collections::BTreeSet;

/// Which functions' log groups a query reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Groups {
    /// The validator's.
    Validator,
    /// The three collectors'.
    Collectors,
    /// All four.
    All,
}

/// A saved query.
#[derive(Debug, Clone, Copy)]
pub struct Query {
    /// File stem and saved-query name (under the `lakewatch/` folder).
    pub name: &'static str,
    /// What it answers, for the header comment.
    pub purpose: &'static str,
    /// The log groups it reads.
    pub groups: Groups,
    /// The query, one command per line.
    pub text: &'static str,
}

/// Every saved query.
pub const QUERIES: &[Query] = &[
    Query {
        name: "errors-by-function",
        purpose: "ERROR lines by function and event, and Lambda timeouts: where to look first",
        groups: Groups::All,
        text: "fields @timestamp, @log, function_name, event, error\n\
               | filter level = \"ERROR\" or @message like /Task timed out/\n\
               | stats count(*) as errors by @log, event\n\
               | sort errors desc",
    },
    Query {
        name: "slowest-invocations",
        purpose: "the slowest invocations, from Lambda's REPORT lines",
        groups: Groups::All,
        text: "filter @type = \"REPORT\"\n\
               | fields @timestamp, @log, @requestId, @duration, @billedDuration, @maxMemoryUsed\n\
               | sort @duration desc\n\
               | limit 25",
    },
    Query {
        name: "cold-starts",
        purpose: "cold starts and their init duration per function and hour",
        groups: Groups::All,
        text: "filter @type = \"REPORT\" and ispresent(@initDuration)\n\
               | stats count(*) as cold_starts, avg(@initDuration) as avg_init_ms, max(@initDuration) as max_init_ms by @log, bin(1h)\n\
               | sort cold_starts desc",
    },
    Query {
        name: "failed-symbols-by-error",
        purpose: "symbols a collector could not fetch, grouped by collector and error",
        groups: Groups::Collectors,
        text: "filter event = \"symbol_failed\"\n\
               | stats count(*) as failures, count_distinct(symbol) as symbols by collector, error\n\
               | sort failures desc",
    },
    Query {
        name: "recent-failed-symbols",
        purpose: "the latest failed symbols, one line each",
        groups: Groups::Collectors,
        text: "filter event = \"symbol_failed\"\n\
               | fields @timestamp, collector, symbol, error, attempts\n\
               | sort @timestamp desc\n\
               | limit 50",
    },
    Query {
        name: "findings-by-dataset-and-check",
        purpose: "validated partitions with findings, by dataset, checks and worst severity",
        groups: Groups::Validator,
        text: "filter event = \"partition_validated\" and findings > 0\n\
               | stats count(*) as partitions, sum(findings) as total_findings by dataset, checks, max_severity\n\
               | sort total_findings desc",
    },
    Query {
        name: "recent-findings",
        purpose: "the latest partitions with findings, with their report",
        groups: Groups::Validator,
        text: "filter event = \"partition_validated\" and findings > 0\n\
               | fields @timestamp, dataset, key, checks, findings, max_severity, report\n\
               | sort @timestamp desc\n\
               | limit 50",
    },
    Query {
        name: "alerts-sent-and-resolved",
        purpose: "alerts sent and resolved per dataset and day",
        groups: Groups::Validator,
        text: "filter event in [\"alert_published\", \"alert_resolved\"]\n\
               | stats count(*) as messages by event, dataset, bin(1d)\n\
               | sort messages desc",
    },
    Query {
        name: "missing-partitions",
        purpose: "partitions past their deadline that had not landed when the sweep ran",
        groups: Groups::Validator,
        text: "filter event = \"partition_missing\"\n\
               | fields @timestamp, dataset, session, expected, present\n\
               | sort @timestamp desc\n\
               | limit 50",
    },
];

/// What a query refers to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parsed {
    /// Log fields read (not `@` fields, not aliases the query defines).
    pub fields: BTreeSet<String>,
    /// `@` fields read.
    pub system_fields: BTreeSet<String>,
    /// Strings compared with the `event` field.
    pub events: BTreeSet<String>,
    /// Commands, in order.
    pub commands: Vec<String>,
}

/// Why a query does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("query `{query}`: {reason}")]
pub struct QueryError {
    /// The query's name.
    pub query: String,
    /// What is wrong.
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    Str(String),
    Number,
    Regex,
    Op(String),
    Open(char),
    Close(char),
    Comma,
    Pipe,
}

/// Functions the subset allows.
const FUNCTIONS: &[&str] = &[
    "count",
    "count_distinct",
    "sum",
    "avg",
    "min",
    "max",
    "pct",
    "bin",
    "ispresent",
    "isempty",
    "isblank",
    "concat",
    "strlen",
    "toupper",
    "tolower",
    "floor",
    "ceil",
    "abs",
    "latest",
    "earliest",
];
const KEYWORDS: &[&str] = &["and", "or", "not", "in", "like", "as", "by", "asc", "desc"];
const COMMANDS: &[&str] = &["fields", "display", "filter", "stats", "sort", "limit"];
/// The `@` fields Logs Insights discovers that these queries may use.
pub const SYSTEM_FIELDS: &[&str] = &[
    "@timestamp",
    "@message",
    "@log",
    "@logStream",
    "@requestId",
    "@type",
    "@duration",
    "@billedDuration",
    "@maxMemoryUsed",
    "@memorySize",
    "@initDuration",
];

fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '#' => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            c if c.is_whitespace() => i += 1,
            '"' | '\'' => {
                let start = i + 1;
                i += 1;
                while i < chars.len() && chars[i] != c {
                    i += if chars[i] == '\\' { 2 } else { 1 };
                }
                if i >= chars.len() {
                    return Err(format!("unterminated string starting at character {start}"));
                }
                out.push(Token::Str(chars[start..i].iter().collect()));
                i += 1;
            }
            '/' if matches!(out.last(), Some(Token::Ident(k)) if k == "like") => {
                i += 1;
                while i < chars.len() && chars[i] != '/' {
                    i += if chars[i] == '\\' { 2 } else { 1 };
                }
                if i >= chars.len() {
                    return Err("unterminated /regex/".into());
                }
                out.push(Token::Regex);
                i += 1;
            }
            '(' | '[' => {
                out.push(Token::Open(c));
                i += 1;
            }
            ')' | ']' => {
                out.push(Token::Close(c));
                i += 1;
            }
            ',' => {
                out.push(Token::Comma);
                i += 1;
            }
            '|' => {
                out.push(Token::Pipe);
                i += 1;
            }
            '=' | '!' | '<' | '>' | '+' | '-' | '*' | '/' | '%' => {
                let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
                let op = if matches!(two.as_str(), "!=" | "<=" | ">=" | "==") { two } else { c.to_string() };
                if op == "!" {
                    return Err("`!` must be followed by `=`".into());
                }
                i += op.chars().count();
                out.push(Token::Op(op));
            }
            c if c.is_ascii_digit() => {
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                    i += 1;
                }
                out.push(Token::Number);
            }
            c if c.is_ascii_alphabetic() || c == '_' || c == '@' => {
                let start = i;
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || matches!(chars[i], '_' | '.' | '@')) {
                    i += 1;
                }
                out.push(Token::Ident(chars[start..i].iter().collect()));
            }
            other => return Err(format!("unexpected character `{other}`")),
        }
    }
    Ok(out)
}

/// Parses a query of the subset and says which fields and events it names.
pub fn parse(name: &str, text: &str) -> Result<Parsed, QueryError> {
    let err = |reason: String| QueryError { query: name.to_string(), reason };
    let tokens = tokenize(text).map_err(err)?;
    let mut parsed = Parsed::default();
    let mut aliases: BTreeSet<String> = BTreeSet::new();
    for command in tokens.split(|t| *t == Token::Pipe) {
        let Some((Token::Ident(head), rest)) = command.split_first() else {
            return Err(err("an empty command (a stray `|`)".into()));
        };
        if !COMMANDS.contains(&head.as_str()) {
            return Err(err(format!("`{head}` is not a command of the subset ({})", COMMANDS.join(", "))));
        }
        if rest.is_empty() {
            return Err(err(format!("`{head}` needs arguments")));
        }
        let mut depth: Vec<char> = Vec::new();
        for (i, t) in rest.iter().enumerate() {
            match t {
                Token::Open(c) => depth.push(*c),
                Token::Close(c) => {
                    let want = if *c == ')' { '(' } else { '[' };
                    if depth.pop() != Some(want) {
                        return Err(err(format!("unbalanced `{c}` in `{head}`")));
                    }
                }
                Token::Ident(word) => {
                    let next = rest.get(i + 1);
                    let prev = i.checked_sub(1).and_then(|p| rest.get(p));
                    if matches!(next, Some(Token::Open('('))) {
                        if !FUNCTIONS.contains(&word.as_str()) {
                            return Err(err(format!("`{word}` is not a function of the subset")));
                        }
                    } else if KEYWORDS.contains(&word.as_str()) {
                    } else if matches!(prev, Some(Token::Ident(k)) if k == "as") {
                        aliases.insert(word.clone());
                    } else if word.starts_with('@') {
                        if !SYSTEM_FIELDS.contains(&word.as_str()) {
                            return Err(err(format!("`{word}` is not a Logs Insights field")));
                        }
                        parsed.system_fields.insert(word.clone());
                    } else if !aliases.contains(word) {
                        parsed.fields.insert(word.clone());
                    }
                    if word == "event" {
                        let values = match (next, rest.get(i + 2)) {
                            (Some(Token::Op(op)), Some(Token::Str(s))) if op == "=" || op == "!=" => vec![s.clone()],
                            (Some(Token::Ident(k)), Some(Token::Open('['))) if k == "in" => rest[i + 3..]
                                .iter()
                                .take_while(|t| !matches!(t, Token::Close(']')))
                                .filter_map(|t| if let Token::Str(s) = t { Some(s.clone()) } else { None })
                                .collect(),
                            _ => Vec::new(),
                        };
                        parsed.events.extend(values);
                    }
                }
                Token::Str(_) | Token::Number | Token::Regex | Token::Op(_) | Token::Comma | Token::Pipe => {}
            }
        }
        if let Some(open) = depth.pop() {
            return Err(err(format!("unclosed `{open}` in `{head}`")));
        }
        if head == "limit" && !matches!(rest, [Token::Number]) {
            return Err(err("`limit` takes one number".into()));
        }
        parsed.commands.push(head.clone());
    }
    Ok(parsed)
}

/// The file `queries/{name}.query`: a header comment, then the query.
pub fn file(query: &Query, log_groups: &[String]) -> String {
    format!(
        "# {}\n# purpose: {}\n# log groups: {}\n{}\n",
        query.name,
        query.purpose,
        log_groups.join(", "),
        query.text.lines().map(str::trim).collect::<Vec<_>>().join("\n")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_subset_parses_and_names_its_fields_and_events() {
        let p = parse(
            "t",
            "# a comment\nfilter event in [\"a\", \"b\"] and findings > 0 or @message like /x|y/\n\
             | stats count(*) as n, sum(rows) as total by dataset, bin(1h)\n| sort n desc\n| limit 5",
        )
        .unwrap();
        assert_eq!(p.fields, ["dataset", "event", "findings", "rows"].map(String::from).into());
        assert_eq!(p.events, ["a", "b"].map(String::from).into());
        assert_eq!(p.system_fields, ["@message"].map(String::from).into());
        assert_eq!(p.commands, ["filter", "stats", "sort", "limit"]);
    }

    #[test]
    fn broken_queries_are_named_with_the_reason() {
        let e = |text: &str| parse("q", text).unwrap_err().to_string();
        assert_eq!(e("fields a | | sort a"), "query `q`: an empty command (a stray `|`)");
        assert_eq!(e("filter event = \"x"), "query `q`: unterminated string starting at character 16");
        assert_eq!(e("stats count(* by a"), "query `q`: unclosed `(` in `stats`");
        assert_eq!(
            e("fields a | grep b"),
            "query `q`: `grep` is not a command of the subset (fields, display, filter, stats, sort, limit)"
        );
        assert_eq!(e("filter @duratoin > 1"), "query `q`: `@duratoin` is not a Logs Insights field");
        assert_eq!(e("stats cnt(*) by a"), "query `q`: `cnt` is not a function of the subset");
        assert_eq!(e("fields a | limit x"), "query `q`: `limit` takes one number");
    }

    #[test]
    fn every_saved_query_parses() {
        for q in QUERIES {
            parse(q.name, q.text).unwrap();
        }
    }
}
