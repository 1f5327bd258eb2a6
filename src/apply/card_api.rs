//! The seams the apply engine runs against: [`CardApi`] (the four contact-card
//! calls) and [`ImageJudge`] (is a live CDN image our source picture?). The
//! real [`Client`] implements `CardApi` by delegation; tests script both.

use std::future::Future;

use crate::api::{CardFields, Client, ClientError, ContactCard, CreateCard};
use crate::image::{ImageVerdict, ImageVerdicts};

/// The contact-card calls apply makes. One call each; no retries here.
pub trait CardApi: Send + Sync {
    /// `POST /v3/contact_card`.
    fn create(
        &self,
        body: &CreateCard,
    ) -> impl Future<Output = Result<ContactCard, ClientError>> + Send;
    /// `PATCH /v3/contact_card?phone_number=`.
    fn update(
        &self,
        phone_number: &str,
        body: &CardFields,
    ) -> impl Future<Output = Result<ContactCard, ClientError>> + Send;
    /// `GET /v3/contact_card?phone_number=`.
    fn get(
        &self,
        phone_number: &str,
    ) -> impl Future<Output = Result<ContactCard, ClientError>> + Send;
    /// `GET /v3/contact_card`.
    fn list(&self) -> impl Future<Output = Result<Vec<ContactCard>, ClientError>> + Send;
}

impl CardApi for Client {
    fn create(
        &self,
        body: &CreateCard,
    ) -> impl Future<Output = Result<ContactCard, ClientError>> + Send {
        self.create_card(body)
    }

    fn update(
        &self,
        phone_number: &str,
        body: &CardFields,
    ) -> impl Future<Output = Result<ContactCard, ClientError>> + Send {
        self.update_card(phone_number, body)
    }

    fn get(
        &self,
        phone_number: &str,
    ) -> impl Future<Output = Result<ContactCard, ClientError>> + Send {
        self.get_card(phone_number)
    }

    fn list(&self) -> impl Future<Output = Result<Vec<ContactCard>, ClientError>> + Send {
        self.list_cards()
    }
}

/// Whether the file's source image and a live CDN copy are the same picture.
/// Apply asks only after a `2014`, when it read a card the plan never saw.
pub trait ImageJudge: Send + Sync {
    fn same_picture(&self, source: &str, live: &str) -> impl Future<Output = ImageVerdict> + Send;
}

/// Judges by what the plan already knows: verdicts computed before planning,
/// and plain URL equality for pairs nobody checked.
impl ImageJudge for ImageVerdicts {
    fn same_picture(&self, source: &str, live: &str) -> impl Future<Output = ImageVerdict> + Send {
        std::future::ready(self.verdict(source, live))
    }
}
