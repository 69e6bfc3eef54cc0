//! Wall time per phase of a validation, taken from the spans `lakewatch_core::validate` opens
//! (`previous`, `decode`, `index`, one `check` span per check, `report`): core has no clock,
//! so the bench times them from outside, as a tracing layer.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tracing::span::{Attributes, Id};
use tracing::{Subscriber, field};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

/// Milliseconds per phase, summed over the spans of that name since the last [`PhaseClock::take`].
/// A check's phase is named after it (`check:outliers`).
#[derive(Debug, Clone, Default)]
pub(super) struct PhaseClock {
    totals: Arc<Mutex<BTreeMap<String, f64>>>,
}

/// The phases of a validation, in the order they run.
const PHASES: [&str; 5] = ["previous", "decode", "index", "check", "report"];

struct Started {
    phase: String,
    at: Instant,
}

impl PhaseClock {
    /// The totals so far, and a fresh start.
    pub(super) fn take(&self) -> BTreeMap<String, f64> {
        self.totals.lock().map(|mut t| std::mem::take(&mut *t)).unwrap_or_default()
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for PhaseClock {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let name = attrs.metadata().name();
        if !PHASES.contains(&name) {
            return;
        }
        let mut phase = name.to_string();
        attrs.record(&mut |f: &field::Field, v: &dyn std::fmt::Debug| {
            if f.name() == "check" {
                phase = format!("check:{v:?}");
            }
        });
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(Started { phase, at: Instant::now() });
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        let extensions = span.extensions();
        let Some(started) = extensions.get::<Started>() else { return };
        if let Ok(mut totals) = self.totals.lock() {
            *totals.entry(started.phase.clone()).or_default() += started.at.elapsed().as_secs_f64() * 1e3;
        }
    }
}

#[cfg(test)]
mod tests {
    use tracing_subscriber::layer::SubscriberExt as _;

    use super::PhaseClock;

    #[test]
    fn validation_phases_and_each_check_are_timed_and_nothing_else() {
        let clock = PhaseClock::default();
        let subscriber = tracing_subscriber::registry().with(clock.clone());
        tracing::subscriber::with_default(subscriber, || {
            let _d = tracing::info_span!("decode").entered();
            drop(_d);
            let _c = tracing::info_span!("check", check = %"outliers").entered();
            drop(_c);
            let _o = tracing::info_span!("partition", key = "k").entered();
        });
        let phases = clock.take();
        assert_eq!(phases.keys().collect::<Vec<_>>(), ["check:outliers", "decode"]);
        assert!(clock.take().is_empty(), "take starts afresh");
    }
}
