//! One Lambda invocation around a handler: telemetry started, the handler run with a budget
//! that ends before the deadline, telemetry flushed whatever happened.

use std::sync::Mutex;
use std::time::Duration;

use crate::{Invocation, InvocationInfo, Telemetry};
use chrono::{DateTime, Utc};
use tracing::Instrument;

/// Time kept back from the deadline to flush metrics and traces.
pub const FLUSH_MARGIN: Duration = Duration::from_millis(300);

/// Why an invocation failed.
#[derive(Debug, thiserror::Error)]
pub enum InvokeError<E> {
    /// The handler failed.
    #[error(transparent)]
    Handler(E),
    /// The handler was stopped to flush before the deadline.
    #[error("stopped {margin_ms} ms before the deadline to flush telemetry; the event will be delivered again")]
    Deadline {
        /// The margin kept.
        margin_ms: u128,
    },
    /// The telemetry lock was poisoned by a panic.
    #[error("telemetry is unusable after a panic")]
    Poisoned,
}

/// Runs `handler` for one invocation at `now`: inside the `invocation` span, stopped
/// [`FLUSH_MARGIN`] before `info.deadline`, and flushed (EMF documents, spans) before returning.
pub async fn invoke<T, E>(
    telemetry: &Mutex<Telemetry>,
    info: InvocationInfo,
    now: DateTime<Utc>,
    handler: impl AsyncFnOnce(&mut Invocation) -> Result<T, E>,
) -> Result<T, InvokeError<E>> {
    let deadline = info.deadline;
    let mut inv = telemetry.lock().map_err(|_| InvokeError::Poisoned)?.start(info);
    let budget = deadline
        .map(|d| (d - now).to_std().unwrap_or_default().saturating_sub(FLUSH_MARGIN))
        .unwrap_or(Duration::from_secs(900));
    let span = inv.span().clone();
    let result = tokio::time::timeout(budget, handler(&mut inv).instrument(span)).await;
    telemetry.lock().map_err(|_| InvokeError::Poisoned)?.finish(inv);
    match result {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(InvokeError::Handler(e)),
        Err(_) => Err(InvokeError::Deadline { margin_ms: FLUSH_MARGIN.as_millis() }),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::Settings;
    use crate::catalog::HEARTBEAT;

    use super::*;

    #[tokio::test]
    async fn a_handler_that_would_overrun_the_deadline_is_stopped_and_its_metrics_flushed() {
        let out = Arc::new(Mutex::new(Vec::<u8>::new()));
        let now: DateTime<Utc> = "2025-11-28T21:00:00Z".parse().unwrap();
        let telemetry =
            Mutex::new(Telemetry::new(Settings::local("validator"), out.clone(), Arc::new(move || now)).unwrap());
        let info = InvocationInfo {
            request_id: "req-1".into(),
            deadline: Some(now + chrono::Duration::milliseconds(400)),
            ..InvocationInfo::default()
        };
        let result: Result<(), InvokeError<String>> = invoke(&telemetry, info, now, async |inv: &mut Invocation| {
            inv.record(&HEARTBEAT, &[], 1.0).map_err(|e| e.to_string())?;
            tokio::time::sleep(Duration::from_secs(30)).await;
            Ok(())
        })
        .await;
        assert!(matches!(result, Err(InvokeError::Deadline { .. })), "{result:?}");
        let text = String::from_utf8(out.lock().unwrap().clone()).unwrap();
        assert!(text.contains("\"Heartbeat\":1.0"), "metrics recorded before the stop are flushed: {text}");
        assert!(text.contains("\"ColdStart\":1.0"), "{text}");
    }
}
