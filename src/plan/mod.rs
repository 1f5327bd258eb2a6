//! Plans: the data (`model`), the pure decision (`diff`), and the digest.

pub mod model;

pub use model::{Action, Change, Field, LiveFields, Plan, Reason, Summary, Warning};
