//! Contract files that do not parse: the validator serves with the others and tells the owner.
//! Each sweep compares the files left out at cold start with what subscribers were told (a
//! state document, `{state}config/contracts.json` in the first allowed bucket, with the same
//! outbox as the partitions): a `config` alert naming each file and why when that set changes,
//! and a `resolved` message once a cold start loads them all. Meanwhile objects no contract
//! routes are retried, not skipped (`service.rs`): they may belong to a broken file's dataset.

use chrono::{DateTime, Utc};
use lakewatch_telemetry::Invocation;
use lakewatch_telemetry::catalog as m;
use serde::{Deserialize, Serialize};

use crate::alert;
use crate::document::{Change, update};
use crate::incidents::{Gate, record_held};
use crate::outbox::{Lease, Outbox, flush};
use lakewatch_notice::Notice;

use crate::ports::{Alerts, IoError, Lake};
use crate::service::Validator;

/// What subscribers were told of the contract files.
#[derive(Debug, Default, Serialize, Deserialize)]
struct ConfigState {
    /// The problems alerted, as named.
    #[serde(default)]
    open: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "lakewatch_notice::sns::outbox")]
    outbox: Vec<Notice>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    lease: Option<Lease>,
}

impl Outbox for ConfigState {
    fn outbox(&mut self) -> &mut Vec<Notice> {
        &mut self.outbox
    }
    fn lease(&mut self) -> &mut Option<Lease> {
        &mut self.lease
    }
}

impl<L: Lake + Sync, A: Alerts + Sync> Validator<L, A> {
    /// Alerts when the contract files left out differ from what subscribers were told, and
    /// resolves once none is.
    pub(crate) async fn tell_config(&self, inv: &mut Invocation, as_of: DateTime<Utc>) -> Result<(), IoError> {
        let Some(bucket) = self.options.buckets.first() else { return Ok(()) };
        let key = format!("{}config/contracts.json", self.options.state_prefix);
        let operation = "save config state";
        let outbox = update(&self.lake, bucket, &key, operation, |state: Option<ConfigState>| {
            let mut state = state.unwrap_or_default();
            if state.open == self.broken {
                return Change::Keep(state.outbox);
            }
            let message = if self.broken.is_empty() {
                alert::config_resolved(bucket, &state.open)
            } else {
                alert::config(bucket, &self.broken)
            };
            state.open = self.broken.clone();
            state.outbox.push(message);
            let outbox = state.outbox.clone();
            Change::Save(state, outbox)
        })
        .await?;
        if outbox.is_empty() {
            return Ok(());
        }
        let (incidents, _) = self.incidents.read(&self.lake, bucket, &self.options.state_prefix).await?;
        let gate = Gate { incidents: &incidents, state_prefix: &self.options.state_prefix };
        flush::<_, _, ConfigState>(&self.lake, &self.alerts, &gate, bucket, &key, operation, as_of, |message, route| {
            if record_held(inv, message, route) {
                return;
            }
            let resolved = message.notice.is_resolved();
            let metric = if resolved { &m::ALERTS_RESOLVED } else { &m::ALERTS_PUBLISHED };
            let _ = inv.record(metric, &[("dataset", "lakewatch")], 1.0);
        })
        .await
    }
}
