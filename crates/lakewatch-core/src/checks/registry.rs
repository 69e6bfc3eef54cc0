//! The one list of checks, expanded by [`registry!`] into everything a check needs elsewhere:
//! its `CheckId` and name, its finding kinds (`Kind`, with the check each belongs to), its field
//! in a contract's `[checks]` table, its place in `Checks::run`, and the check of per-kind
//! severity overrides against the right check. The list itself is in `checks/mod.rs`.
//!
//! Each entry declares its module (`pub mod <name>;`, the file `checks/<name>.rs`), which
//! provides `Spec` (its table, with `severity` and `kinds`) and `impl CheckSpec for Spec`: the
//! default accepts any table (override `validate` for thresholds) and finds nothing; a check
//! overrides `group` for what it finds in a group of whole symbols, `whole` for what needs the
//! whole partition (its schema, rows, symbols, nulls).

use std::collections::BTreeMap;

use super::{CheckError, CheckInput, Whole};
use crate::contract::Contract;
use crate::finding::{Finding, Kind, Severity};

/// What the registry asks of a check's `[checks.<name>]` table.
pub trait CheckSpec {
    /// Per-kind severity overrides.
    fn kinds(&self) -> &BTreeMap<Kind, Severity>;

    /// Checks the table against the rest of the contract; the message names the field.
    fn validate(&self, _contract: &Contract) -> Result<(), String> {
        Ok(())
    }

    /// What the check finds in a group of whole symbols (every row of each symbol in it, a
    /// partition ordered by symbol being checked group by group; an unordered one is one group).
    fn group(&self, _input: &CheckInput<'_>) -> Result<Vec<Finding>, CheckError> {
        Ok(Vec::new())
    }

    /// What the check finds in the whole partition at once, once, after its groups.
    fn whole(&self, _input: &Whole<'_>) -> Result<Vec<Finding>, CheckError> {
        Ok(Vec::new())
    }
}

/// Expands the check list: `own` checks are the validator's (findings without a contract table),
/// `checks` are modules of `checks/`, each with its doc line and its kinds.
macro_rules! registry {
    (
        own: [$($own:ident = $own_name:literal => [$($own_kind:ident = $own_kind_name:literal),* $(,)?]),* $(,)?],
        checks: [$(#[doc = $doc:literal] $check:ident = $module:ident => [$($kind:ident = $kind_name:literal),* $(,)?]),* $(,)?] $(,)?
    ) => {
        $(pub mod $module;)*

        /// The checks lakewatch runs, in report order. `config` is the validator's own: a
        /// universe, calendar or contract file it could not use, named in the finding.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum CheckId { $(#[doc = $own_name] $own,)* $(#[doc = $doc] $check,)* }

        impl CheckId {
            /// The snake_case name, as in reports and contracts.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$own => $own_name,)* $(Self::$check => stringify!($module),)* }
            }
        }

        /// What exactly a finding is about. Each kind belongs to one check.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum Kind {
            $($( #[doc = concat!("`", $own_kind_name, "`")] #[serde(rename = $own_kind_name)] $own_kind, )*)*
            $($( #[doc = concat!("`", $kind_name, "`")] #[serde(rename = $kind_name)] $kind, )*)*
        }

        impl Kind {
            /// Every kind, grouped by check.
            pub const ALL: &'static [Kind] = &[$($(Kind::$own_kind,)*)* $($(Kind::$kind,)*)*];

            /// The check that reports this kind.
            pub fn check(self) -> CheckId {
                match self { $($(Kind::$own_kind => CheckId::$own,)*)* $($(Kind::$kind => CheckId::$check,)*)* }
            }

            /// The snake_case name used in reports, alerts and contracts.
            pub fn as_str(self) -> &'static str {
                match self { $($(Kind::$own_kind => $own_kind_name,)*)* $($(Kind::$kind => $kind_name,)*)* }
            }
        }

        /// The `[checks]` table of a contract: which checks run, with which thresholds.
        #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct Checks {
            $(
                #[doc = $doc]
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub $module: Option<$module::Spec>,
            )*
        }

        impl Checks {
            /// Runs `check` if the contract configures it (`None` when it does not).
            fn evaluate(&self, check: CheckId, input: &CheckInput<'_>) -> Outcome {
                match check {
                    $(CheckId::$own => (check, None),)*
                    $(CheckId::$check => traced(check, self.$module.as_ref(), |s| CheckSpec::group(s, input)),)*
                }
            }

            /// Each configured check's table.
            fn specs(&self) -> Vec<(CheckId, &dyn CheckSpec)> {
                let mut out: Vec<(CheckId, &dyn CheckSpec)> = Vec::new();
                $(if let Some(s) = &self.$module { out.push((CheckId::$check, s)); })*
                out
            }

            /// The checks this table configures, in report order.
            pub fn configured(&self) -> Vec<CheckId> {
                self.specs().into_iter().map(|(c, _)| c).collect()
            }

            /// Every check a contract can configure, in report order.
            pub const CONFIGURABLE: &'static [CheckId] = &[$(CheckId::$check,)*];
        }
    };
}

pub(crate) use registry;

#[cfg(test)]
mod tests {
    use crate::checks::{CheckId, Checks};
    use crate::finding::Kind;

    #[test]
    fn every_check_has_kinds_a_table_and_its_own_names() {
        for check in Checks::CONFIGURABLE {
            assert!(Kind::ALL.iter().any(|k| k.check() == *check), "{check} has no kind");
            // The contract table is named as the check is.
            let table: Checks = toml::from_str(&format!("[{check}]\nseverity = \"warning\"\n")).unwrap_or_else(|e| {
                // Some tables need more than a severity; the field must still be known.
                assert!(!e.to_string().contains("unknown field"), "{check}: {e}");
                Checks::default()
            });
            let _ = table;
        }
        let mut names: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Kind::ALL.len(), "kind names are unique");
        assert_eq!(Kind::Config.check(), CheckId::Config);
        assert!(!Checks::CONFIGURABLE.contains(&CheckId::Config), "config is the validator's own");
    }

    #[test]
    fn a_table_is_checked_against_its_own_check() {
        let contract = crate::Contracts::embedded().get("minute_bars").unwrap().clone();
        // (the [checks] table, the error)
        let cases = [
            (
                "[gaps]\nseverity = \"error\"\nkinds = { nulls = \"warning\" }\n",
                Some("gaps.kinds: `nulls` is a completeness finding, not a gaps one"),
            ),
            (
                "[volume]\nseverity = \"error\"\nsessions = 5\nmin_sessions = 6\nmax_deviation = 0.3\n",
                Some("volume.min_sessions (6) must be between 1 and sessions (5)"),
            ),
            ("[duplicates]\nseverity = \"error\"\n", None),
        ];
        for (table, want) in cases {
            let checks: Checks = toml::from_str(table).unwrap();
            assert_eq!(checks.validate(&contract).err().as_deref(), want, "{table}");
        }
        let mut bare = contract.clone();
        bare.ohlcv = None;
        for check in ["integrity", "outliers"] {
            let mut only = bare.checks.clone();
            if check == "integrity" {
                only.outliers = None
            } else {
                only.integrity = None
            }
            let err = only.validate(&bare).unwrap_err();
            assert_eq!(err, format!("{check}.ohlcv: the check needs an `ohlcv` table naming the bar columns"));
        }
    }
}
