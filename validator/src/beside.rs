//! What the checks and alerts read beside an object: the contract with the calendar's
//! overrides, the universe, the volume history, halts, corporate actions, bar norms, the version
//! before and the incident statuses. Each is a round trip (the version before, a whole object):
//! they are read at once, while the object itself is.

use std::sync::Arc;

use lakewatch_core::reference::{CorporateActions, Halts};
use lakewatch_core::{Contract, Partition};
use lakewatch_notice::incident::Incidents;

use crate::decide::Order;
use crate::event::ObjectRef;
use crate::norms::Norms;
use crate::ports::{Alerts, IoError, Lake};
use crate::previous::Earlier;
use crate::service::Validator;
use crate::universe::Expected;
use crate::volume::History;

/// What was read beside an object. Each `*_problem` is a lake file that could not be used: a
/// `config` finding.
pub(crate) struct Beside {
    /// The dataset's contract, with the calendar overrides of the lake.
    pub contract: Contract,
    pub calendar_problem: Option<String>,
    pub expected: Expected,
    pub history: Option<History>,
    pub halts: Option<Arc<Halts>>,
    pub halts_problem: Option<String>,
    pub actions: Option<Arc<CorporateActions>>,
    pub actions_problem: Option<String>,
    pub norms: Option<Norms>,
    /// The version before, as chosen before the object's read told its `LastModified`.
    pub earlier: Earlier,
    pub incidents: Arc<Incidents>,
    pub incidents_problem: Option<String>,
}

impl<L: Lake + Sync, A: Alerts + Sync> Validator<L, A> {
    /// Reads what the checks and alerts of `object` need beside it, placed by `order` as far as
    /// it is known before the object is read.
    pub(crate) async fn read_beside(
        &self,
        object: &ObjectRef,
        contract: &Contract,
        partition: &Partition,
        state_key: &str,
        version: &str,
        order: &Order,
    ) -> Result<Beside, IoError> {
        let bucket = object.bucket.as_str();
        let (contract, calendar_problem) = self.calendars.resolve(&self.lake, bucket, contract).await?;
        let c = &contract;
        let (expected, history, (halts, halts_problem), (actions, actions_problem), norms, earlier, incidents) = tokio::try_join!(
            self.universes.expected(&self.lake, bucket, c),
            self.volume_history(bucket, c, partition),
            self.halts.of(&self.lake, bucket, c, partition),
            self.actions.of(&self.lake, bucket, c),
            self.bar_norms(bucket, c, partition),
            self.previous(object, c, state_key, version, order),
            self.incidents.read(&self.lake, bucket, &self.options.state_prefix),
        )?;
        let (incidents, incidents_problem) = incidents;
        Ok(Beside {
            contract,
            calendar_problem,
            expected,
            history,
            halts,
            halts_problem,
            actions,
            actions_problem,
            norms,
            earlier,
            incidents,
            incidents_problem,
        })
    }
}
