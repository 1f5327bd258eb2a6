//! Document tree -> [`DesiredState`] plus every diagnostic (pure).
//! (Filled in by the foundation issue.)

use std::path::Path;

use super::{load::Document, DesiredState, LoadOptions};
use crate::diag::Diagnostic;

pub fn validate(
    path: &Path,
    _doc: &Document,
    _opts: LoadOptions,
) -> Result<DesiredState, Vec<Diagnostic>> {
    Err(vec![Diagnostic::file_error(
        path,
        "validation is not implemented yet",
    )])
}
