//! The JSON Schema of the desired-state file (what `linq-cards schema` prints and
//! `schema/linq-cards.schema.json` holds). (Filled in by the foundation issue.)

pub fn schema_json() -> String {
    String::from("{}\n")
}
