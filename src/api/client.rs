//! The HTTP client: one async method per endpoint. (Filled in by the API issue;
//! the signatures below are the seam the rest of the program uses.)

use crate::api::{CardFields, ClientError, ContactCard, CreateCard, PhoneNumberInfo};

/// A client bound to one base URL and token.
#[derive(Debug, Clone)]
pub struct Client;

fn todo_err() -> ClientError {
    ClientError::Network {
        message: "client not implemented yet".into(),
        timeout: false,
    }
}

impl Client {
    /// `GET /v3/contact_card`: every card of the account.
    pub async fn list_cards(&self) -> Result<Vec<ContactCard>, ClientError> {
        Err(todo_err())
    }

    /// `GET /v3/contact_card?phone_number=...`: one card (404/2012 when none).
    pub async fn get_card(&self, _phone_number: &str) -> Result<ContactCard, ClientError> {
        Err(todo_err())
    }

    /// `POST /v3/contact_card`: first-time setup (or set-up again of an inactive card).
    pub async fn create_card(&self, _body: &CreateCard) -> Result<ContactCard, ClientError> {
        Err(todo_err())
    }

    /// `PATCH /v3/contact_card?phone_number=...`: only the fields in `body` change.
    pub async fn update_card(
        &self,
        _phone_number: &str,
        _body: &CardFields,
    ) -> Result<ContactCard, ClientError> {
        Err(todo_err())
    }

    /// `GET /v3/phone_numbers`: the numbers on the account.
    pub async fn list_phone_numbers(&self) -> Result<Vec<PhoneNumberInfo>, ClientError> {
        Err(todo_err())
    }
}
