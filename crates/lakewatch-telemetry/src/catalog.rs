//! The telemetry catalog: every metric, dimension and log event lakewatch emits, in one place.
//! Dashboards, alarms and queries are generated from and checked against it; `docs/telemetry.md`
//! is rendered from it (a test fails when the file is stale).

use crate::emf::{Resolution, Unit};

/// A declared dimension. Values are low-cardinality identifiers, never symbols or keys.
#[derive(Debug, Clone, Copy)]
pub struct DimensionSpec {
    /// Name, as in EMF documents.
    pub name: &'static str,
    /// What its values are.
    pub values: &'static str,
}

/// A declared metric.
#[derive(Debug, Clone, Copy)]
pub struct MetricSpec {
    /// PascalCase name.
    pub name: &'static str,
    /// Unit.
    pub unit: Unit,
    /// Storage resolution.
    pub resolution: Resolution,
    /// Dimension set (always with `service`).
    pub dimensions: &'static [&'static str],
    /// Who emits it.
    pub emitter: &'static str,
    /// What it measures.
    pub description: &'static str,
}

/// A declared log event: a stable `event` name with typed fields.
#[derive(Debug, Clone, Copy)]
pub struct EventSpec {
    /// snake_case event name (the `event` field).
    pub name: &'static str,
    /// Log level.
    pub level: &'static str,
    /// Fields beyond the common ones: (name, type).
    pub fields: &'static [(&'static str, &'static str)],
    /// When it is logged.
    pub description: &'static str,
}

/// Fields on every log line (the Powertools for AWS Lambda names).
pub const COMMON_FIELDS: &[(&str, &str)] = &[
    ("level", "string"),
    ("message", "string"),
    ("timestamp", "ISO-8601 UTC, ms"),
    ("service", "string"),
    ("event", "string"),
    ("cold_start", "bool"),
    ("function_name", "string"),
    ("function_arn", "string"),
    ("function_memory_size", "int"),
    ("function_request_id", "string"),
    ("xray_trace_id", "string"),
    ("correlation_id", "string"),
    ("sampling_rate", "float"),
];

/// Every dimension.
pub const DIMENSIONS: &[DimensionSpec] = &[
    DimensionSpec {
        name: "service",
        values: "`validator` (its sweep too), `collector_daily`, `collector_minute`, `collector_fundamentals`, `chat`",
    },
    DimensionSpec { name: "dataset", values: "a contract's `dataset`, e.g. `minute_bars`" },
    DimensionSpec {
        name: "check",
        values: "`schema`, `completeness`, `gaps`, `duplicates`, `integrity`, `outliers`, `volume`, `restatements`, `config`",
    },
    DimensionSpec { name: "severity", values: "`info`, `warning`, `error`, `critical`" },
    DimensionSpec { name: "collector", values: "`daily`, `minute`, `fundamentals`" },
    DimensionSpec { name: "reason", values: "why a notice was held: `muted`, `acked`" },
    DimensionSpec {
        name: "command",
        values: "a chat command: `ack`, `mute`, `unmute`, `expected`, `clear`, `incidents`, `missing`, `report`, `help`",
    },
];

const S: Resolution = Resolution::Standard;

/// `ColdStart`: 1 on the first invocation of an execution environment, in its own document.
pub const COLD_START: MetricSpec = MetricSpec {
    name: "ColdStart",
    unit: Unit::Count,
    resolution: S,
    dimensions: &["service"],
    emitter: "all",
    description: "1 on the first invocation of an execution environment, in its own document",
};

/// `Heartbeat`: 1 per invocation; alarms treat missing data as breaching.
pub const HEARTBEAT: MetricSpec = MetricSpec {
    name: "Heartbeat",
    unit: Unit::Count,
    resolution: S,
    dimensions: &["service"],
    emitter: "validator, sweep, collectors",
    description: "1 per invocation; alarms treat missing data as breaching",
};

/// `ObjectsValidated`: objects validated.
pub const OBJECTS_VALIDATED: MetricSpec = MetricSpec {
    name: "ObjectsValidated",
    unit: Unit::Count,
    resolution: S,
    dimensions: &["service", "dataset"],
    emitter: "validator",
    description: "objects validated",
};

/// `RowsChecked`: rows read from validated objects.
pub const ROWS_CHECKED: MetricSpec = MetricSpec {
    name: "RowsChecked",
    unit: Unit::Count,
    resolution: S,
    dimensions: &["service", "dataset"],
    emitter: "validator",
    description: "rows read from validated objects",
};

/// `BytesRead`: object bytes read.
pub const BYTES_READ: MetricSpec = MetricSpec {
    name: "BytesRead",
    unit: Unit::Bytes,
    resolution: S,
    dimensions: &["service", "dataset"],
    emitter: "validator",
    description: "object bytes read",
};

/// `ValidationDuration`: time to decode and check one object.
pub const VALIDATION_DURATION: MetricSpec = MetricSpec {
    name: "ValidationDuration",
    unit: Unit::Milliseconds,
    resolution: S,
    dimensions: &["service", "dataset"],
    emitter: "validator",
    description: "time to decode and check one object",
};

/// `CompletenessRatio`: present / expected bars of an intraday partition.
pub const COMPLETENESS_RATIO: MetricSpec = MetricSpec {
    name: "CompletenessRatio",
    unit: Unit::None,
    resolution: S,
    dimensions: &["service", "dataset"],
    emitter: "validator",
    description: "present / expected bars of an intraday partition",
};

/// `GapCount`: missing bars plus missing sessions.
pub const GAP_COUNT: MetricSpec = MetricSpec {
    name: "GapCount",
    unit: Unit::Count,
    resolution: S,
    dimensions: &["service", "dataset"],
    emitter: "validator",
    description: "missing bars plus missing sessions",
};

/// `OutlierCount`: return outliers.
pub const OUTLIER_COUNT: MetricSpec = MetricSpec {
    name: "OutlierCount",
    unit: Unit::Count,
    resolution: S,
    dimensions: &["service", "dataset"],
    emitter: "validator",
    description: "return outliers",
};

/// `Findings`: findings by check and severity.
pub const FINDINGS: MetricSpec = MetricSpec {
    name: "Findings",
    unit: Unit::Count,
    resolution: S,
    dimensions: &["service", "dataset", "check", "severity"],
    emitter: "validator",
    description: "findings by check and severity",
};

/// `UnreadableObjects`: objects that could not be decoded.
pub const UNREADABLE_OBJECTS: MetricSpec = MetricSpec {
    name: "UnreadableObjects",
    unit: Unit::Count,
    resolution: S,
    dimensions: &["service", "dataset"],
    emitter: "validator",
    description: "objects that could not be decoded",
};

/// `AlertsPublished`: SNS alerts sent.
pub const ALERTS_PUBLISHED: MetricSpec = MetricSpec {
    name: "AlertsPublished",
    unit: Unit::Count,
    resolution: S,
    dimensions: &["service", "dataset", "severity"],
    emitter: "validator, sweep",
    description: "SNS alerts sent",
};

/// `AlertsResolved`: SNS resolved messages sent.
pub const ALERTS_RESOLVED: MetricSpec = MetricSpec {
    name: "AlertsResolved",
    unit: Unit::Count,
    resolution: S,
    dimensions: &["service", "dataset"],
    emitter: "validator, sweep",
    description: "SNS resolved messages sent",
};

/// `AlertsHeld`: notices not sent because of an incident status (`reason`: `muted` or `acked`).
pub const ALERTS_HELD: MetricSpec = MetricSpec {
    name: "AlertsHeld",
    unit: Unit::Count,
    resolution: S,
    dimensions: &["service", "dataset", "reason"],
    emitter: "validator, sweep",
    description: "notices held by a mute or an acknowledgement",
};

/// `ChatWebhookRejected`: webhook requests refused (401) for a missing or wrong secret token.
pub const CHAT_WEBHOOK_REJECTED: MetricSpec = MetricSpec {
    name: "ChatWebhookRejected",
    unit: Unit::Count,
    resolution: S,
    dimensions: &["service"],
    emitter: "chat",
    description: "webhook requests refused (401): no or a wrong secret token",
};

/// `ChatCommands`: chat commands run, by command.
pub const CHAT_COMMANDS: MetricSpec = MetricSpec {
    name: "ChatCommands",
    unit: Unit::Count,
    resolution: S,
    dimensions: &["service", "command"],
    emitter: "chat",
    description: "chat commands run",
};

/// `ChatMessagesSent`: notices and digests sent to chats.
pub const CHAT_MESSAGES_SENT: MetricSpec = MetricSpec {
    name: "ChatMessagesSent",
    unit: Unit::Count,
    resolution: S,
    dimensions: &["service"],
    emitter: "chat",
    description: "alert messages (a notice, or a digest of a burst) sent to chats",
};

/// `ChatSendFailures`: alert messages a chat did not get (the reason is in `chat_send_failed`).
pub const CHAT_SEND_FAILURES: MetricSpec = MetricSpec {
    name: "ChatSendFailures",
    unit: Unit::Count,
    resolution: S,
    dimensions: &["service"],
    emitter: "chat",
    description: "alert messages a chat did not get (blocked, rate-limited past the deadline, failing); `chat_send_failed` says which and why",
};

/// `MissingPartitions`: partitions past their deadline that never arrived.
pub const MISSING_PARTITIONS: MetricSpec = MetricSpec {
    name: "MissingPartitions",
    unit: Unit::Count,
    resolution: S,
    dimensions: &["service", "dataset"],
    emitter: "sweep",
    description: "partitions past their deadline that never arrived",
};

/// `SweepsCompleted`: the sweep's own heartbeat.
pub const SWEEPS_COMPLETED: MetricSpec = MetricSpec {
    name: "SweepsCompleted",
    unit: Unit::Count,
    resolution: S,
    dimensions: &["service"],
    emitter: "sweep",
    description: "1 per sweep that went through every bucket and dataset without a failure",
};

/// `SweepFailures`: datasets a sweep could not check.
pub const SWEEP_FAILURES: MetricSpec = MetricSpec {
    name: "SweepFailures",
    unit: Unit::Count,
    resolution: S,
    dimensions: &["service", "dataset"],
    emitter: "sweep",
    description: "datasets a sweep could not check (listing, footers, state or topic failing); the others went on",
};

/// `CollectedRows`: rows written.
pub const COLLECTED_ROWS: MetricSpec = MetricSpec {
    name: "CollectedRows",
    unit: Unit::Count,
    resolution: S,
    dimensions: &["service", "collector"],
    emitter: "collectors",
    description: "rows written",
};

/// `SymbolsSucceeded`: symbols collected.
pub const SYMBOLS_SUCCEEDED: MetricSpec = MetricSpec {
    name: "SymbolsSucceeded",
    unit: Unit::Count,
    resolution: S,
    dimensions: &["service", "collector"],
    emitter: "collectors",
    description: "symbols collected",
};

/// `SymbolsFailed`: symbols that failed this run.
pub const SYMBOLS_FAILED: MetricSpec = MetricSpec {
    name: "SymbolsFailed",
    unit: Unit::Count,
    resolution: S,
    dimensions: &["service", "collector"],
    emitter: "collectors",
    description: "symbols that failed this run",
};

/// `ApiLatency`: market-data API request latency.
pub const API_LATENCY: MetricSpec = MetricSpec {
    name: "ApiLatency",
    unit: Unit::Milliseconds,
    resolution: S,
    dimensions: &["service", "collector"],
    emitter: "collectors",
    description: "market-data API request latency",
};

/// `ApiRetries`: retried API requests.
pub const API_RETRIES: MetricSpec = MetricSpec {
    name: "ApiRetries",
    unit: Unit::Count,
    resolution: S,
    dimensions: &["service", "collector"],
    emitter: "collectors",
    description: "retried API requests",
};

/// `ApiThrottles`: HTTP 429 responses.
pub const API_THROTTLES: MetricSpec = MetricSpec {
    name: "ApiThrottles",
    unit: Unit::Count,
    resolution: S,
    dimensions: &["service", "collector"],
    emitter: "collectors",
    description: "HTTP 429 responses",
};

/// `BytesWritten`: bytes written to the lake.
pub const BYTES_WRITTEN: MetricSpec = MetricSpec {
    name: "BytesWritten",
    unit: Unit::Bytes,
    resolution: S,
    dimensions: &["service", "collector"],
    emitter: "collectors",
    description: "bytes written to the lake",
};

/// `ObjectsWritten`: objects written to the lake.
pub const OBJECTS_WRITTEN: MetricSpec = MetricSpec {
    name: "ObjectsWritten",
    unit: Unit::Count,
    resolution: S,
    dimensions: &["service", "collector"],
    emitter: "collectors",
    description: "objects written to the lake",
};

/// `DataLag`: now minus the newest bar collected.
pub const DATA_LAG: MetricSpec = MetricSpec {
    name: "DataLag",
    unit: Unit::Seconds,
    resolution: S,
    dimensions: &["service", "collector"],
    emitter: "collectors",
    description: "now minus the newest bar collected",
};

/// Every metric.
pub const METRICS: &[MetricSpec] = &[
    COLD_START,
    HEARTBEAT,
    OBJECTS_VALIDATED,
    ROWS_CHECKED,
    BYTES_READ,
    VALIDATION_DURATION,
    COMPLETENESS_RATIO,
    GAP_COUNT,
    OUTLIER_COUNT,
    FINDINGS,
    UNREADABLE_OBJECTS,
    ALERTS_PUBLISHED,
    ALERTS_RESOLVED,
    ALERTS_HELD,
    CHAT_WEBHOOK_REJECTED,
    CHAT_COMMANDS,
    CHAT_MESSAGES_SENT,
    CHAT_SEND_FAILURES,
    MISSING_PARTITIONS,
    SWEEPS_COMPLETED,
    SWEEP_FAILURES,
    COLLECTED_ROWS,
    SYMBOLS_SUCCEEDED,
    SYMBOLS_FAILED,
    API_LATENCY,
    API_RETRIES,
    API_THROTTLES,
    BYTES_WRITTEN,
    OBJECTS_WRITTEN,
    DATA_LAG,
];

/// Every log event.
pub const EVENTS: &[EventSpec] = &[
    EventSpec {
        name: "partition_validated",
        level: "INFO",
        fields: &[
            ("dataset", "string"),
            ("key", "string"),
            ("version", "string"),
            ("rows", "int"),
            ("findings", "int"),
            ("checks", "string"),
            ("max_severity", "string"),
            ("duration_ms", "float"),
            ("report", "string"),
        ],
        description: "an object version was validated and its report written",
    },
    EventSpec {
        name: "object_unreadable",
        level: "ERROR",
        fields: &[("dataset", "string"), ("key", "string"), ("error", "string")],
        description: "an object could not be decoded or was too large; an alert follows",
    },
    EventSpec {
        name: "object_skipped",
        level: "INFO",
        fields: &[("bucket", "string"), ("key", "string"), ("reason", "string")],
        description: "an object was not validated: a duplicate delivery, no contract, a bucket not allowed",
    },
    EventSpec {
        name: "object_failed",
        level: "ERROR",
        fields: &[("bucket", "string"), ("key", "string"), ("error", "string"), ("retryable", "bool")],
        description: "an object could not be validated (S3 or SNS failed, or it was deleted); retried when retryable",
    },
    EventSpec {
        name: "event_unreadable",
        level: "ERROR",
        fields: &[("message_id", "string"), ("error", "string")],
        description: "an SQS message is not an object-created event; it goes back to the queue",
    },
    EventSpec {
        name: "sweep_failed",
        level: "ERROR",
        fields: &[("bucket", "string"), ("dataset", "string"), ("error", "string")],
        description: "one dataset of a sweep could not be checked; the sweep went on with the others",
    },
    EventSpec {
        name: "objects_deferred",
        level: "WARN",
        fields: &[("count", "number"), ("remaining_ms", "number"), ("slowest_ms", "number")],
        description: "objects not started because the slowest object so far would not finish before the deadline; delivered again",
    },
    EventSpec {
        name: "older_version_skipped",
        level: "INFO",
        fields: &[("key", "string"), ("version", "string"), ("newest", "string")],
        description: "a version older than the newest applied: reported, its partition's alert state left as it is",
    },
    EventSpec {
        name: "alert_published",
        level: "WARN",
        fields: &[
            ("dataset", "string"),
            ("partition", "string"),
            ("checks", "string"),
            ("severity", "string"),
            ("dedup_keys", "list of strings"),
        ],
        description: "an SNS alert was sent",
    },
    EventSpec {
        name: "alert_resolved",
        level: "INFO",
        fields: &[("dataset", "string"), ("partition", "string"), ("checks", "string")],
        description: "a resolved message was sent",
    },
    EventSpec {
        name: "alert_held",
        level: "INFO",
        fields: &[
            ("dataset", "string"),
            ("partition", "string"),
            ("reason", "string"),
            ("mute", "string"),
            ("dedup_keys", "list of strings"),
        ],
        description: "a notice was not sent: a mute holds it for its digest, or someone acknowledged its incident",
    },
    EventSpec {
        name: "mute_digest_sent",
        level: "INFO",
        fields: &[("dataset", "string"), ("mute", "string"), ("held", "int")],
        description: "a mute ended and its digest of the notices it held was sent",
    },
    EventSpec {
        name: "incidents_unusable",
        level: "ERROR",
        fields: &[("bucket", "string"), ("error", "string")],
        description: "the incidents document cannot be read or parsed; statuses are not honoured until it is fixed",
    },
    EventSpec {
        name: "webhook_rejected",
        level: "WARN",
        fields: &[("reason", "string")],
        description: "a webhook request without the secret token, or with a wrong one: 401, nothing read or written",
    },
    EventSpec {
        name: "update_ignored",
        level: "INFO",
        fields: &[("update_id", "int"), ("reason", "string")],
        description: "an update answered 200 and not acted on: a duplicate delivery, another update type, plain text, or a body that is not an update",
    },
    EventSpec {
        name: "chat_refused",
        level: "WARN",
        fields: &[("chat", "int"), ("user", "int"), ("name", "string")],
        description: "a command from a chat or user not on the allow-list; the chat gets one polite refusal",
    },
    EventSpec {
        name: "command_run",
        level: "INFO",
        fields: &[("command", "string"), ("chat", "int"), ("user", "int"), ("name", "string")],
        description: "a chat command was run and answered",
    },
    EventSpec {
        name: "docs_failed",
        level: "WARN",
        fields: &[("dataset", "string"), ("key", "string"), ("error", "string")],
        description: "the data docs were not updated for a version (a page or its summary could not be written); the validation and its alert went on",
    },
    EventSpec {
        name: "chat_send_failed",
        level: "ERROR",
        fields: &[("channel", "string"), ("to", "string"), ("reason", "string"), ("error", "string")],
        description: "a channel's destination (a Telegram chat) did not get an alert message (it blocked the bot, or the channel kept failing); the other destinations did",
    },
    EventSpec {
        name: "symbol_failed",
        level: "ERROR",
        fields: &[("collector", "string"), ("symbol", "string"), ("error", "string"), ("attempts", "int")],
        description: "one symbol failed; the batch goes on",
    },
    EventSpec {
        name: "staged_part_left",
        level: "WARN",
        fields: &[("collector", "string"), ("key", "string"), ("error", "string")],
        description: "a staged part already in the session object could not be deleted; the next run retries and the lake's lifecycle rule expires it",
    },
    EventSpec {
        name: "collection_finished",
        level: "INFO",
        fields: &[
            ("collector", "string"),
            ("session", "date"),
            ("status", "string"),
            ("succeeded", "int"),
            ("failed", "int"),
            ("rows", "int"),
        ],
        description: "a collector run ended (`complete` or `partial`)",
    },
    EventSpec {
        name: "partition_missing",
        level: "WARN",
        fields: &[("dataset", "string"), ("session", "date"), ("expected", "int"), ("present", "int")],
        description: "the sweep found a partition past its deadline",
    },
    EventSpec {
        name: "traces_off",
        level: "INFO",
        fields: &[("endpoint", "string")],
        description: "the OTLP endpoint did not take an export; traces stay off in this execution environment",
    },
];

/// A declared span: what `tracing` span names mean in a trace.
#[derive(Debug, Clone, Copy)]
pub struct SpanSpec {
    /// Span name.
    pub name: &'static str,
    /// Its parent span.
    pub parent: &'static str,
    /// What it covers.
    pub description: &'static str,
}

/// Every span.
pub const SPANS: &[SpanSpec] = &[
    SpanSpec {
        name: "invocation",
        parent: "the X-Ray trace Lambda started",
        description: "one Lambda invocation; attributes `faas.invocation_id`, `faas.coldstart`",
    },
    SpanSpec { name: "partition", parent: "invocation", description: "one object validated (validator)" },
    SpanSpec { name: "check", parent: "partition", description: "one check run on a partition (`check` attribute)" },
    SpanSpec {
        name: "batch",
        parent: "invocation",
        description: "one batch of symbols of a collector (fetched and written), or the minute session's assembly; objects written carry its W3C `traceparent` in their S3 metadata",
    },
];

/// Checks one captured stdout line against the catalog: a log line's `event` is declared and
/// each of its fields is a common field or one the event declares. EMF documents and lines that
/// are not JSON objects pass (the EMF linter checks the former).
pub fn check_log_line(line: &str) -> Result<(), String> {
    let Ok(serde_json::Value::Object(fields)) = serde_json::from_str::<serde_json::Value>(line) else { return Ok(()) };
    if fields.contains_key("_aws") {
        return Ok(());
    }
    let Some(name) = fields.get("event").and_then(|e| e.as_str()) else { return Ok(()) };
    let spec = EVENTS.iter().find(|e| e.name == name).ok_or_else(|| format!("event `{name}` is not in the catalog"))?;
    for key in fields.keys() {
        if !COMMON_FIELDS.iter().any(|(n, _)| n == key) && !spec.fields.iter().any(|(n, _)| n == key) {
            return Err(format!("event `{name}` has field `{key}`, which the catalog does not declare"));
        }
    }
    Ok(())
}

/// `docs/telemetry.md`, rendered from the catalog.
pub fn markdown() -> String {
    let mut md = String::from(
        "# Telemetry catalog\n\nGenerated from `crates/lakewatch-telemetry/src/catalog.rs`; do not edit.\n\
         Regenerate with `UPDATE_DOCS=1 cargo test -p lakewatch-telemetry`.\n\n## Dimensions\n\n| name | values |\n|---|---|\n",
    );
    for d in DIMENSIONS {
        md.push_str(&format!("| `{}` | {} |\n", d.name, d.values));
    }
    md.push_str(
        "\n## Metrics\n\n| name | unit | resolution | dimensions | emitted by | meaning |\n|---|---|---|---|---|---|\n",
    );
    for m in METRICS {
        let res = match m.resolution {
            Resolution::Standard => "60 s",
            Resolution::High => "1 s",
        };
        md.push_str(&format!(
            "| `{}` | {} | {res} | {} | {} | {} |\n",
            m.name,
            m.unit.as_str(),
            m.dimensions.iter().map(|d| format!("`{d}`")).collect::<Vec<_>>().join(", "),
            m.emitter,
            m.description
        ));
    }
    md.push_str("\n## Spans\n\n| span | parent | covers |\n|---|---|---|\n");
    for s in SPANS {
        md.push_str(&format!("| `{}` | {} | {} |\n", s.name, s.parent, s.description));
    }
    md.push_str("\n## Log events\n\nEvery line carries: ");
    md.push_str(&COMMON_FIELDS.iter().map(|(n, _)| format!("`{n}`")).collect::<Vec<_>>().join(", "));
    md.push_str(".\n\n| event | level | fields | when |\n|---|---|---|---|\n");
    for e in EVENTS {
        let fields = e.fields.iter().map(|(n, t)| format!("`{n}` ({t})")).collect::<Vec<_>>().join(", ");
        md.push_str(&format!("| `{}` | {} | {fields} | {} |\n", e.name, e.level, e.description));
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_dimensions_declared() {
        let mut names: Vec<&str> = METRICS.iter().map(|m| m.name).chain(EVENTS.iter().map(|e| e.name)).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(names.len(), before, "duplicate names in the catalog");
        for m in METRICS {
            assert!(m.dimensions.first() == Some(&"service"), "{} lacks the service dimension", m.name);
            for d in m.dimensions {
                assert!(DIMENSIONS.iter().any(|x| x.name == *d), "{}: dimension `{d}` is not declared", m.name);
            }
            assert!(m.name.chars().next().is_some_and(|c| c.is_ascii_uppercase()) && m.name.is_ascii(), "{}", m.name);
        }
        for e in EVENTS {
            assert!(e.name.chars().all(|c| c.is_ascii_lowercase() || c == '_'), "{}", e.name);
        }
    }

    #[test]
    fn docs_telemetry_md_is_fresh() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/telemetry.md");
        let want = markdown();
        #[allow(clippy::disallowed_methods)] // a test switch, not configuration
        let update = std::env::var("UPDATE_DOCS").is_ok();
        if update {
            std::fs::write(&path, &want).unwrap();
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(have == want, "docs/telemetry.md is stale: run `UPDATE_DOCS=1 cargo test -p lakewatch-telemetry`");
    }
}
