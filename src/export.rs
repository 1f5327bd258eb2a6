//! Live account -> desired-state YAML, sorted by number. (Filled in by the plan issue.)
