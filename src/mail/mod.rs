//! Account e-mail. A request that causes a mail composes it here and queues
//! it in `mail_outbox` inside its own transaction (`db::mail::enqueue`);
//! [`sender`] sends what is queued, over SMTP or into `.eml` files.
//!
//! No mail carries health data: only the product's name, the account's
//! display name and address, a link built from `PAINLINE_PUBLIC_URL` and
//! when it expires.

pub mod compose;
pub mod sender;

pub use sender::Mailer;
