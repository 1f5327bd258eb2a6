//! A stateful fake of the Linq contact-card API (see `shared/LINQ_API.md`).
//! (Filled in by the API issue.)

pub mod image_host;
