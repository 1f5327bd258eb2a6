//! The plan as plain data. Its serde form is SPEC's JSON plan contract
//! (`plan --format json`, `plan --out`); keys may be added, never change meaning.

use serde::{Deserialize, Serialize};

use crate::api::{CardFields, ContactCard};

/// Version of the JSON plan format.
pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Create,
    Update,
}

/// Why a card is created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Reason {
    /// The number has no card.
    Missing,
    /// The number has a card with `is_active: false`.
    Inactive,
}

/// A managed card field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    FirstName,
    LastName,
    ImageUrl,
}

impl Field {
    pub const ALL: [Field; 3] = [Field::FirstName, Field::LastName, Field::ImageUrl];

    pub fn as_str(self) -> &'static str {
        match self {
            Field::FirstName => "first_name",
            Field::LastName => "last_name",
            Field::ImageUrl => "image_url",
        }
    }

    /// This field of a live card as the plan saw it.
    pub fn live_value(self, live: &LiveFields) -> Option<&str> {
        match self {
            Field::FirstName => Some(live.first_name.as_str()),
            Field::LastName => live.last_name.as_deref(),
            Field::ImageUrl => live.image_url.as_deref(),
        }
    }

    /// This field of a request body; `None` when the body leaves it unset.
    pub fn planned_value(self, body: &CardFields) -> Option<&str> {
        match self {
            Field::FirstName => body.first_name.as_deref(),
            Field::LastName => body.last_name.as_deref(),
            Field::ImageUrl => body.image_url.as_deref(),
        }
    }
}

/// A live card as the plan saw it (`before`), without its number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveFields {
    pub first_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
    pub is_active: bool,
}

impl From<&ContactCard> for LiveFields {
    fn from(c: &ContactCard) -> Self {
        LiveFields {
            first_name: c.first_name.clone(),
            last_name: c.last_name.clone(),
            image_url: c.image_url.clone(),
            is_active: c.is_active,
        }
    }
}

/// One planned write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub phone_number: String,
    pub action: Action,
    /// Create only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
    /// Update only: exactly the fields the PATCH sends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<Vec<Field>>,
    /// The live card as the plan saw it (`null` when there was none).
    pub before: Option<LiveFields>,
    /// Exactly the body that will be sent (minus `phone_number` on an update).
    pub after: ChangeBody,
    /// Human notes on why, e.g. "different picture"; renderers show them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// The body of a change: for a create it carries the phone number too, so that
/// it is exactly the POST body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeBody {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    #[serde(flatten)]
    pub fields: CardFields,
}

/// Something worth saying that is not a change (DNSControl's REPORT).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Warning {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    pub message: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub unchanged: usize,
    pub unmanaged: usize,
}

/// A whole plan. The optional trailing keys are what a saved plan needs so that
/// `apply --plan` can refuse a plan made for another API URL or account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub format_version: u32,
    pub tool_version: String,
    pub plan_digest: String,
    pub changes: Vec<Change>,
    pub unchanged: Vec<String>,
    pub unmanaged: Vec<String>,
    pub warnings: Vec<Warning>,
    pub summary: Summary,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_url: Option<String>,
    /// SHA-256 (hex) of the account's sorted phone numbers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_fingerprint: Option<String>,
}

impl Plan {
    pub fn has_changes(&self) -> bool {
        !self.changes.is_empty()
    }
}
