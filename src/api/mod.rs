//! A thin, typed client for the Linq contact-card API (see `shared/LINQ_API.md`).
//!
//! One async method per endpoint; no retries here: each write costs one of the
//! number's 3 per 10 minutes, so deciding to retry belongs to `apply`.

pub mod client;
pub mod error;
pub mod model;

pub use client::{Client, ClientOptions};
pub use error::{ApiError, ClientError, ErrorCode};
pub use model::{
    CardFields, ContactCard, ContactCardList, CreateCard, PhoneNumberInfo, PhoneNumberList,
};
