//! `lakewatch incident`: acknowledge, mute, expect, clear and list incident statuses in a local
//! lake or a bucket, as the chat commands do. The statuses live in one document under the state
//! prefix (`lakewatch_notice::incident`); a bucket's is changed with conditional writes, a
//! document that does not parse is refused and left as it is.

use std::path::Path;

use anyhow::{Context as _, Result, bail};
use chrono::{DateTime, Utc};
use lakewatch_notice::incident::command::{Command, parse};
use lakewatch_notice::incident::{IncidentError, Incidents, Who, incidents_key};
use lakewatch_telemetry::console::line;
use lakewatch_validator::incidents::{change_incidents, load_incidents};
use lakewatch_validator::s3::S3Lake;

use crate::Outcome;
use crate::lake::{LakeArgs, Where};

/// `lakewatch incident (ack|mute|unmute|expected|clear|list) ARGS… (--root DIR | --bucket B)`
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The command and its arguments: `ack minute_bars/date=2025-11-28/gaps on it`,
    /// `mute minute_bars [gaps] until 2025-12-01 why…`, `unmute minute_bars [gaps]`,
    /// `expected (KEY | DATASET SYMBOL KIND) until DATE why…`, `clear (KEY | DATASET SYMBOL KIND)`,
    /// `list`.
    #[arg(required = true, num_args = 1..)]
    words: Vec<String>,
    #[command(flatten)]
    lake: LakeArgs,
    /// Where lakewatch keeps its state, as the validator's LAKEWATCH_STATE_PREFIX.
    #[arg(long, default_value = crate::lake::STATE_PREFIX)]
    state_prefix: String,
    /// Who you are, as the log records it (default: `cli:$USER`).
    #[arg(long = "as")]
    by: Option<String>,
    /// The time of the change (RFC 3339 or a date; default now).
    #[arg(long, value_parser = crate::parse_as_of)]
    as_of: Option<DateTime<Utc>>,
}

pub(crate) fn run(args: Args) -> Result<Outcome> {
    let at = args.as_of.unwrap_or_else(|| lakewatch_telemetry::console::wall_clock()());
    let words: Vec<&str> = args.words.iter().map(String::as_str).collect();
    let (command, why) = parse(&words, at.date_naive()).map_err(|e| anyhow::anyhow!("{e}"))?;
    #[allow(clippy::disallowed_methods)] // this command's one setting outside its flags: who you are
    let user = || std::env::var("USER").unwrap_or_else(|_| "unknown".into());
    let by = args.by.clone().unwrap_or_else(|| format!("cli:{}", user()));
    let who = Who { by, at, why };
    let key = incidents_key(&args.state_prefix);
    let outcome = match args.lake.lake()? {
        Where::Root(root) => local(&root.join(&key), &command, &who)?,
        Where::Bucket(bucket, endpoint) => in_bucket(bucket, endpoint, &args.state_prefix, &command, &who)?,
    };
    match outcome {
        Ok(lines) => {
            for l in lines {
                line(&l);
            }
            Ok(Outcome::Clean)
        }
        Err(e) => bail!("{e}"),
    }
}

/// What a command prints: the change made, or every status for `list`.
fn said(command: &Command, doc: &Incidents, done: String) -> Vec<String> {
    match command {
        Command::List if doc.describe().is_empty() => vec!["no incident statuses".into()],
        Command::List => doc.describe(),
        _ => vec![done],
    }
}

/// The document in a local lake, changed in place (written whole, then renamed over the old).
fn local(path: &Path, command: &Command, who: &Who) -> Result<Result<Vec<String>, IncidentError>> {
    let shown = path.display().to_string();
    let mut doc = match std::fs::read(path) {
        Ok(bytes) => match Incidents::parse(&bytes, &shown) {
            Ok(doc) => doc,
            Err(e) => return Ok(Err(e)),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Incidents::default(),
        Err(e) => bail!("{shown}: cannot read ({e})"),
    };
    let done = match doc.apply(command, who) {
        Ok(done) => done,
        Err(e) => return Ok(Err(e)),
    };
    if *command != Command::List {
        let dir = path.parent().context("no folder")?;
        std::fs::create_dir_all(dir).with_context(|| format!("{}: cannot create", dir.display()))?;
        let temp = path.with_extension("json.tmp");
        std::fs::write(&temp, doc.to_bytes()).with_context(|| format!("{}: cannot write", temp.display()))?;
        std::fs::rename(&temp, path).with_context(|| format!("{shown}: cannot write"))?;
    }
    Ok(Ok(said(command, &doc, done)))
}

/// The document in a bucket: read for `list`, else changed with a conditional write.
fn in_bucket(
    bucket: &str,
    endpoint_url: Option<&str>,
    state_prefix: &str,
    command: &Command,
    who: &Who,
) -> Result<Result<Vec<String>, IncidentError>> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let lake = S3Lake::new(crate::sweep::s3_client(endpoint_url).await);
        if *command == Command::List {
            return Ok(load_incidents(&lake, bucket, state_prefix)
                .await?
                .map(|doc| said(command, &doc, String::new())));
        }
        let changed = change_incidents(&lake, bucket, state_prefix, |doc| {
            let done = doc.apply(command, who)?;
            Ok(said(command, doc, done))
        })
        .await?;
        Ok(changed)
    })
}
