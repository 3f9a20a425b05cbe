//! The transport of account e-mail: SMTP from `PAINLINE_SMTP_URL`, or one
//! private `.eml` file per mail under the outbox folder. The outbox sender
//! (`jobs::mail_sender`) hands it what is due.

use std::sync::Arc;

use lettre::address::Envelope;
use lettre::transport::smtp::extension::ClientId;
use lettre::{SmtpTransport, Transport};
use prometheus::{IntCounter, IntCounterVec, Opts};
use tokio::sync::Notify;

use super::compose::host_of;
use super::MailContext;
use crate::config::{ConfigError, MailSettings, MailTransportSetting};

enum Way {
    Smtp(SmtpTransport),
    /// One `<outbox id>.eml` per mail, readable by the owner only: a mail
    /// holds a one-time link.
    Files(std::path::PathBuf),
}

/// Sends mail: the transport, the wake-up the services' [`MailContext`]
/// shares, and the counters.
pub struct Mailer {
    way: Way,
    context: MailContext,
    poll: Option<std::time::Duration>,
    wake: Arc<Notify>,
    pub counters: Counters,
}

/// What the sender counts (`/metrics`).
pub struct Counters {
    pub sent: IntCounterVec,
    pub failed: IntCounter,
    pub given_up: IntCounter,
}

/// One mail to deliver, as the outbox holds it.
pub struct Outgoing<'a> {
    pub id: &'a str,
    /// Envelope sender and recipient (bare addresses).
    pub sender: &'a str,
    pub recipient: &'a str,
    /// The whole message, RFC 5322.
    pub message: &'a str,
}

impl Mailer {
    pub fn new(settings: &MailSettings) -> Result<Self, ConfigError> {
        let way = match &settings.transport {
            MailTransportSetting::Smtp(url) => Way::Smtp(
                SmtpTransport::from_url(url)
                    .map_err(|e| {
                        ConfigError::new("PAINLINE_SMTP_URL", format!("cannot be used ({e})"))
                    })?
                    .timeout(Some(std::time::Duration::from_secs(30)))
                    // EHLO with the public name, not the machine's.
                    .hello_name(ClientId::Domain(host_of(&settings.public_url).to_owned()))
                    .build(),
            ),
            MailTransportSetting::Files(dir) => Way::Files(dir.clone()),
        };
        let counter = |name: &str, help: &str| {
            IntCounter::new(name, help)
                .map_err(|e| ConfigError::startup(format!("cannot set up metrics: {e}")))
        };
        let wake = Arc::new(Notify::new());
        let dropped = IntCounterVec::new(
            Opts::new(
                "painline_mail_dropped_total",
                "Account mails not queued because their address had 5 in the hour or 20 in the day, by kind",
            ),
            &["kind"],
        )
        .map_err(|e| ConfigError::startup(format!("cannot set up metrics: {e}")))?;
        Ok(Self {
            way,
            context: MailContext::new(
                settings.from.clone(),
                settings.public_url.clone(),
                matches!(settings.transport, MailTransportSetting::Smtp(_)),
                dropped,
                wake.clone(),
            ),
            poll: settings.poll,
            wake,
            counters: Counters {
                sent: IntCounterVec::new(
                    Opts::new(
                        "painline_mail_sent_total",
                        "Mails handed to the relay (or written), by kind",
                    ),
                    &["kind"],
                )
                .map_err(|e| ConfigError::startup(format!("cannot set up metrics: {e}")))?,
                failed: counter(
                    "painline_mail_failed_attempts_total",
                    "Attempts to send a mail that failed (each is retried)",
                )?,
                given_up: counter(
                    "painline_mail_given_up_total",
                    "Mails given up after failing for 24 hours",
                )?,
            },
        })
    }

    /// How often the sender looks without being woken; `None`: it sends nothing.
    pub fn poll(&self) -> Option<std::time::Duration> {
        self.poll
    }

    /// What wakes the sender.
    pub fn wake_handle(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// What the services need to queue mail and wake this sender.
    pub fn context(&self) -> &MailContext {
        &self.context
    }

    /// The counters, for `/metrics`.
    pub fn counters(&self) -> Vec<Box<dyn prometheus::core::Collector>> {
        vec![
            Box::new(self.counters.sent.clone()),
            Box::new(self.counters.failed.clone()),
            Box::new(self.counters.given_up.clone()),
            Box::new(self.context.dropped.clone()),
        ]
    }

    /// Sends one formatted message (blocking: SMTP talks over the network).
    pub fn deliver(&self, mail: &Outgoing<'_>) -> Result<(), String> {
        let sender = mail.sender.parse().map_err(|e| format!("sender: {e}"))?;
        let recipient = mail
            .recipient
            .parse()
            .map_err(|e| format!("recipient: {e}"))?;
        let envelope = Envelope::new(Some(sender), vec![recipient]).map_err(|e| e.to_string())?;
        match &self.way {
            Way::Smtp(smtp) => smtp
                .send_raw(&envelope, mail.message.as_bytes())
                .map(|_| ())
                .map_err(|e| e.to_string()),
            Way::Files(dir) => {
                write_eml(dir, mail.id, mail.message).map_err(|e| format!("{}: {e}", dir.display()))
            }
        }
    }
}

/// Writes the message as `<id>.eml` (0600, in a 0700 folder), whole or not
/// at all; a retry of the same mail writes the same file again.
fn write_eml(dir: &std::path::Path, id: &str, message: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let partial = dir.join(format!(".{id}.eml.partial"));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&partial)?;
    file.write_all(message.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&partial, dir.join(format!("{id}.eml")))
}
