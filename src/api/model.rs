//! Wire types of the Linq API. They keep the JSON names and ignore unknown fields.

use serde::{Deserialize, Serialize};

/// A contact card as the API returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactCard {
    pub phone_number: String,
    #[serde(default)]
    pub first_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
    #[serde(default)]
    pub is_active: bool,
}

#[cfg(test)]
impl ContactCard {
    /// A live card for tests.
    pub(crate) fn sample(
        phone_number: &str,
        first_name: &str,
        last_name: Option<&str>,
        image_url: Option<&str>,
        is_active: bool,
    ) -> ContactCard {
        ContactCard {
            phone_number: phone_number.into(),
            first_name: first_name.into(),
            last_name: last_name.map(Into::into),
            image_url: image_url.map(Into::into),
            is_active,
        }
    }
}

/// `GET /v3/contact_card` response body (also the `--live-snapshot` format).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactCardList {
    pub contact_cards: Vec<ContactCard>,
}

/// One entry of `GET /v3/phone_numbers`; other fields are ignored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhoneNumberInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<serde_json::Value>,
    pub phone_number: String,
}

/// `GET /v3/phone_numbers` response body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhoneNumberList {
    pub phone_numbers: Vec<PhoneNumberInfo>,
}

/// `POST /v3/contact_card` body: every managed field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateCard {
    pub phone_number: String,
    pub first_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
}

/// `PATCH /v3/contact_card?phone_number=...` body: only the fields that change.
/// Unset fields are skipped, which is exactly a partial update.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardFields {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
}

impl CardFields {
    pub fn is_empty(&self) -> bool {
        self.first_name.is_none() && self.last_name.is_none() && self.image_url.is_none()
    }
}
