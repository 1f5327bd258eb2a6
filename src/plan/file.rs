//! Saved plans (`plan --out`, `apply --plan`): writing them, and reading them
//! back with a clear refusal for a file that is not a plan, has another
//! `format_version`, or was edited after it was made (its digest no longer
//! matches its changes).

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::plan::digest;
use crate::plan::model::{Plan, FORMAT_VERSION};

#[derive(Debug, thiserror::Error)]
pub enum PlanFileError {
    // The I/O error is part of the message, not a `source`: `{:#}` would
    // otherwise print it twice.
    #[error("cannot read plan file {}: {error}", .path.display())]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("cannot write plan file {}: {error}", .path.display())]
    Write {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{} is not a linq-cards plan file: {detail}", .path.display())]
    NotAPlan { path: PathBuf, detail: String },
    #[error("{} has plan format_version {found}; this linq-cards (version {}) reads format_version {}", .path.display(), env!("CARGO_PKG_VERSION"), FORMAT_VERSION)]
    OtherVersion { path: PathBuf, found: String },
    #[error("{}: plan_digest does not match its changes (the file was edited after plan made it); run plan again", .path.display())]
    DigestMismatch { path: PathBuf },
}

/// Write the plan as pretty JSON. The file is written beside its final name
/// and renamed into place, so a crash never leaves half a plan.
pub fn save(plan: &Plan, path: &Path) -> Result<(), PlanFileError> {
    let write_err = |error| PlanFileError::Write {
        path: path.to_path_buf(),
        error,
    };
    let mut text = serde_json::to_vec_pretty(plan).expect("a plan always serializes");
    text.push(b'\n');
    write_atomic(path, &text).map_err(write_err)?;
    Ok(())
}

/// Write a file beside its final name and rename it into place, so that a
/// failure never leaves half a file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::other("not a file name"))?;
    let tmp = dir.join(format!(
        ".{}.tmp{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = std::fs::File::create(&tmp)
        .and_then(|mut f| f.write_all(bytes).and_then(|()| f.sync_all()))
        .and_then(|()| std::fs::rename(&tmp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Read a saved plan.
pub fn load(path: &Path) -> Result<Plan, PlanFileError> {
    let text = std::fs::read_to_string(path).map_err(|error| PlanFileError::Read {
        path: path.to_path_buf(),
        error,
    })?;
    parse(path, &text)
}

/// Parse plan file contents; `path` is only used in messages.
pub fn parse(path: &Path, text: &str) -> Result<Plan, PlanFileError> {
    let not_a_plan = |detail: String| PlanFileError::NotAPlan {
        path: path.to_path_buf(),
        detail,
    };
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| not_a_plan(format!("not JSON ({e})")))?;
    let Some(obj) = value.as_object() else {
        return Err(not_a_plan("not a JSON object".into()));
    };
    // The version is checked before the shape, so that a newer plan is
    // reported as such rather than as a confusing missing key.
    match obj.get("format_version") {
        None => return Err(not_a_plan("no format_version key".into())),
        Some(v) if v.as_u64() == Some(u64::from(FORMAT_VERSION)) => {}
        Some(v) => {
            return Err(PlanFileError::OtherVersion {
                path: path.to_path_buf(),
                found: v.to_string(),
            })
        }
    }
    let plan: Plan = serde_json::from_value(value).map_err(|e| not_a_plan(e.to_string()))?;
    if digest::compute(&plan.changes) != plan.plan_digest {
        return Err(PlanFileError::DigestMismatch {
            path: path.to_path_buf(),
        });
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::CardFields;
    use crate::plan::model::{Action, Change, ChangeBody, Summary};

    fn sample() -> Plan {
        let changes = vec![Change {
            phone_number: "+12223334444".into(),
            action: Action::Update,
            reason: None,
            fields: Some(vec![crate::plan::Field::FirstName]),
            before: None,
            after: ChangeBody {
                phone_number: None,
                fields: CardFields {
                    first_name: Some("Acme".into()),
                    ..CardFields::default()
                },
            },
            notes: vec![],
        }];
        Plan {
            format_version: FORMAT_VERSION,
            tool_version: "0.1.0".into(),
            plan_digest: digest::compute(&changes),
            changes,
            unchanged: vec![],
            unmanaged: vec![],
            warnings: vec![],
            summary: Summary::default(),
            api_url: Some("https://api.linqapp.com/api/partner".into()),
            account_fingerprint: Some("ab".repeat(32)),
        }
    }

    #[test]
    fn round_trip() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("plan.json");
        save(&sample(), &path).expect("save");
        assert_eq!(load(&path).expect("load"), sample());
        // Nothing but the plan is left behind.
        assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 1);
    }

    #[test]
    fn refusals() {
        let good = serde_json::to_value(sample()).expect("json");
        let mut v2 = good.clone();
        v2["format_version"] = 2.into();
        let mut edited = good.clone();
        edited["changes"][0]["after"]["first_name"] = "Evil".into();
        let mut no_changes = good.clone();
        no_changes
            .as_object_mut()
            .expect("object")
            .remove("changes");
        let cases: Vec<(&str, String, &str)> = vec![
            (
                "yaml",
                "cards: []".into(),
                "is not a linq-cards plan file: not JSON",
            ),
            ("array", "[]".into(), "not a JSON object"),
            (
                "other json",
                r#"{"contact_cards": []}"#.into(),
                "no format_version",
            ),
            ("v2", v2.to_string(), "has plan format_version 2"),
            ("edited", edited.to_string(), "does not match its changes"),
            (
                "missing key",
                no_changes.to_string(),
                "missing field `changes`",
            ),
        ];
        for (what, text, want) in cases {
            let err = parse(Path::new("p.json"), &text).expect_err(what);
            let msg = err.to_string();
            assert!(msg.contains(want), "{what}: {msg}");
            assert!(msg.contains("p.json"), "{what}: {msg}");
        }
    }

    #[test]
    fn unreadable_and_unwritable() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err = load(&dir.path().join("nope.json")).expect_err("missing");
        assert!(err.to_string().contains("cannot read plan file"), "{err}");
        let err = save(&sample(), &dir.path().join("no/such/dir/p.json")).expect_err("dir");
        assert!(err.to_string().contains("cannot write plan file"), "{err}");
    }
}
