//! Plans: the data (`model`), the pure decision (`diff`), the digest, the
//! blast-radius guard, saved plan files and the stale-plan checks.

pub mod diff;
pub mod digest;
pub mod file;
pub mod guard;
pub mod model;
pub mod stale;

pub use diff::{compute, image_pairs, ImageWork, PlanError, PlanOptions};
pub use model::{Action, Change, Field, LiveFields, Plan, Reason, Summary, Warning};
