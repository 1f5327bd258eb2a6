//! The JSON plan: exactly `plan::model`'s serde form (SPEC "The JSON plan"),
//! pretty-printed, one trailing newline. The same bytes are the saved plan.

use std::io::{self, Write};

use crate::plan::Plan;

pub fn render_json(plan: &Plan, out: &mut impl Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, plan).map_err(io::Error::other)?;
    out.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot() {
        let mut out = Vec::new();
        render_json(&super::super::sample_plan(), &mut out).expect("render");
        let text = String::from_utf8(out).expect("utf-8");
        insta::assert_snapshot!(text);
    }

    #[test]
    fn shape_is_specs() {
        let mut out = Vec::new();
        render_json(&super::super::sample_plan(), &mut out).expect("render");
        let v: serde_json::Value = serde_json::from_slice(&out).expect("json");
        assert_eq!(v["format_version"], 1);
        assert_eq!(v["plan_digest"].as_str().map(str::len), Some(64));
        let create = &v["changes"][0];
        assert_eq!(create["action"], "create");
        assert_eq!(create["reason"], "missing");
        assert!(create["before"].is_null());
        assert!(create.get("fields").is_none());
        assert_eq!(create["after"]["phone_number"], "+12223334444");
        let update = &v["changes"][2];
        assert_eq!(update["action"], "update");
        assert!(update.get("reason").is_none());
        assert_eq!(
            update["fields"],
            serde_json::json!(["first_name", "image_url"])
        );
        assert!(update["after"].get("phone_number").is_none());
        assert_eq!(update["before"]["is_active"], true);
        assert_eq!(
            v["summary"],
            serde_json::json!({"create": 2, "update": 2, "unchanged": 1, "unmanaged": 1})
        );
        // Read back, it is the same plan.
        let back: crate::plan::Plan = serde_json::from_value(v).expect("plan");
        assert_eq!(back, super::super::sample_plan());
    }
}
