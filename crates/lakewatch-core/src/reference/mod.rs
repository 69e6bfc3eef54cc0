//! Reference data kept in the lake beside the bars: the universe (with listing dates), and the
//! files that explain what the bars show (trading halts, corporate actions). Parsing is pure;
//! the callers read the bytes. A malformed file is an error naming the file, the line and the
//! field; the validator turns it into a `config` finding and the other checks still run.

pub mod actions;
pub mod halts;
pub mod table;
pub mod universe;

pub use actions::{CORPORATE_ACTIONS_KEY, CorporateActions, Split};
pub use halts::{Halt, Halts, halts_key};
pub use universe::{Listing, Universe};
