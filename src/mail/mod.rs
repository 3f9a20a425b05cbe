//! Account e-mail. A request that causes a mail composes it here and queues
//! it in `mail_outbox` inside its own transaction (`db::mail::enqueue`);
//! the sender (`jobs::mail_sender`) sends what is queued through the
//! [`transport`], over SMTP or into `.eml` files.
//!
//! No mail carries health data: only the product's name, the account's
//! display name and address, a link built from `PAINLINE_PUBLIC_URL` and
//! when it expires.

pub mod compose;
pub mod transport;

use std::sync::Arc;

use prometheus::IntCounterVec;
use tokio::sync::Notify;

/// What a use case needs to queue mail: the sender's address, the base of
/// links, and a way to wake this instance's sender once the mail is queued.
#[derive(Clone)]
pub struct MailContext {
    /// The configured sender, `Name <address>`.
    pub from: String,
    /// Base of links, without a trailing slash.
    pub public_url: String,
    /// Mail really reaches people (SMTP is configured): then an account
    /// must prove its address before it joins a care team. With the `.eml`
    /// folder nobody could, so nothing waits for it.
    pub delivers: bool,
    /// Account mail dropped because its address had its budget
    /// (`painline_mail_dropped_total`, by kind).
    pub dropped: IntCounterVec,
    wake: Arc<Notify>,
}

impl MailContext {
    pub fn new(
        from: String,
        public_url: String,
        delivers: bool,
        dropped: IntCounterVec,
        wake: Arc<Notify>,
    ) -> Self {
        Self {
            from,
            public_url,
            delivers,
            dropped,
            wake,
        }
    }

    /// Tells this instance's sender that a mail was queued.
    pub fn wake(&self) {
        self.wake.notify_one();
    }
}
