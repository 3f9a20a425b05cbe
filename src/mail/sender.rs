//! The background sender: every instance runs one. It claims due mails
//! from the outbox under a lease (so two instances never send one mail at
//! once), sends each, and records the outcome. A failed attempt is retried
//! with exponential back-off; a mail that still fails a day after it was
//! queued is given up and counted.

use std::sync::Arc;

use chrono::{Duration, NaiveDateTime};
use lettre::address::Envelope;
use lettre::transport::smtp::extension::ClientId;
use lettre::{SmtpTransport, Transport};
use prometheus::{IntCounter, IntCounterVec, Opts};
use tokio::sync::Notify;

use crate::config::{ConfigError, MailSettings, MailTransportSetting};
use crate::db::mail::{self, DueMail};
use crate::db::DbError;
use crate::state::AppState;

/// How long an instance may take to send the mails it claimed.
const LEASE: Duration = Duration::minutes(2);
/// Mails claimed at once.
const BATCH: i64 = 10;
/// The first retry waits this long; each next one twice as long…
const FIRST_RETRY: Duration = Duration::seconds(30);
/// …up to this.
const LONGEST_RETRY: Duration = Duration::hours(1);
/// A mail still failing this long after it was queued is given up.
pub const GIVE_UP_AFTER: Duration = Duration::hours(24);
/// Sent or given-up mails are deleted after this long.
pub const KEEP: Duration = Duration::days(7);

enum Way {
    Smtp(SmtpTransport),
    /// One `<outbox id>.eml` per mail, readable by the owner only: a mail
    /// holds a one-time link.
    Files(std::path::PathBuf),
}

/// Sends mail; shared by the request handlers (to wake it) and the loop.
pub struct Mailer {
    way: Way,
    /// The configured sender, `Name <address>`.
    pub from: String,
    /// Base of links, without a trailing slash.
    pub public_url: String,
    poll: Option<std::time::Duration>,
    wake: Notify,
    sent: IntCounterVec,
    failed: IntCounter,
    given_up: IntCounter,
    /// What each due reminder or digest led to (`service::schedules`).
    pub schedule_outcomes: IntCounterVec,
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
                    .hello_name(ClientId::Domain(
                        super::compose::host_of(&settings.public_url).to_owned(),
                    ))
                    .build(),
            ),
            MailTransportSetting::Files(dir) => Way::Files(dir.clone()),
        };
        let counter = |name: &str, help: &str| {
            IntCounter::new(name, help)
                .map_err(|e| ConfigError::startup(format!("cannot set up metrics: {e}")))
        };
        Ok(Self {
            way,
            from: settings.from.clone(),
            public_url: settings.public_url.clone(),
            poll: settings.poll,
            wake: Notify::new(),
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
            schedule_outcomes: IntCounterVec::new(
                Opts::new(
                    "painline_schedule_outcomes_total",
                    "Due reminders and digests, by what they led to: queued, or skipped \
                     (already_logged, unverified, missed_day, no_alerts)",
                ),
                &["kind", "outcome"],
            )
            .map_err(|e| ConfigError::startup(format!("cannot set up metrics: {e}")))?,
        })
    }

    /// The counters, for `/metrics`.
    pub fn counters(&self) -> Vec<Box<dyn prometheus::core::Collector>> {
        vec![
            Box::new(self.sent.clone()),
            Box::new(self.failed.clone()),
            Box::new(self.given_up.clone()),
            Box::new(self.schedule_outcomes.clone()),
        ]
    }

    /// Tells this instance's sender that a mail was queued.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Sends one formatted message (blocking: SMTP talks over the network).
    fn deliver(&self, mail: &DueMail) -> Result<(), String> {
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
            Way::Files(dir) => write_eml(dir, &mail.id, &mail.message)
                .map_err(|e| format!("{}: {e}", dir.display())),
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

/// When to try again after `attempts` failures (1, 2, …), or `None` to give up.
pub fn retry_at(
    created_at: NaiveDateTime,
    attempts: i32,
    now: NaiveDateTime,
) -> Option<NaiveDateTime> {
    let doublings = u32::try_from(attempts.saturating_sub(1))
        .unwrap_or(0)
        .min(16);
    let wait = (FIRST_RETRY * 2_i32.pow(doublings)).min(LONGEST_RETRY);
    let at = now + wait;
    (at - created_at < GIVE_UP_AFTER).then_some(at)
}

/// Sends what is due until nothing is, then waits to be woken or for the
/// next poll. Runs for the life of the instance.
pub async fn run(state: actix_web::web::Data<AppState>) {
    let mailer: Arc<Mailer> = state.mail.clone();
    let Some(poll) = mailer.poll else {
        return;
    };
    loop {
        if let Err(err) = send_due(&state).await {
            tracing::warn!(error = %err, "mail sender: the outbox could not be read");
        }
        tokio::select! {
            () = mailer.wake.notified() => {}
            () = tokio::time::sleep(poll) => {}
        }
    }
}

/// Claims and sends due mails until none is left; returns how many went out.
pub async fn send_due(state: &AppState) -> Result<usize, DbError> {
    let mut sent = 0;
    loop {
        let now = state.clock.now_naive();
        let due = state
            .db
            .write(move |conn| mail::claim_due(conn, now, now + LEASE, BATCH))
            .await?;
        if due.is_empty() {
            return Ok(sent);
        }
        for mail in due {
            let mailer = state.mail.clone();
            let (mail, outcome) = tokio::task::spawn_blocking(move || {
                let outcome = mailer.deliver(&mail);
                (mail, outcome)
            })
            .await
            .map_err(|e| DbError::Unavailable(Box::new(e)))?;
            let now = state.clock.now_naive();
            let id = mail.id.clone();
            match outcome {
                Ok(()) => {
                    state
                        .db
                        .write(move |conn| mail::mark_sent(conn, &id, now))
                        .await?;
                    state.mail.sent.with_label_values(&[&mail.kind]).inc();
                    sent += 1;
                    tracing::info!(mail_id = %mail.id, kind = %mail.kind, "mail sent");
                }
                Err(error) => {
                    let retry = retry_at(mail.created_at, mail.attempts + 1, now);
                    let message = error.chars().take(500).collect::<String>();
                    state
                        .db
                        .write(move |conn| mail::mark_failed(conn, &id, now, retry, &message))
                        .await?;
                    state.mail.failed.inc();
                    match retry {
                        Some(at) => tracing::warn!(
                            mail_id = %mail.id, kind = %mail.kind, attempts = mail.attempts + 1,
                            retry_at = %at, error = %error, "mail not sent; will retry"
                        ),
                        None => {
                            state.mail.given_up.inc();
                            tracing::error!(
                                mail_id = %mail.id, kind = %mail.kind, attempts = mail.attempts + 1,
                                error = %error, "mail given up"
                            );
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minutes: i64) -> NaiveDateTime {
        chrono::DateTime::UNIX_EPOCH.naive_utc() + Duration::minutes(29_000_000 + minutes)
    }

    #[test]
    fn retries_back_off_and_give_up_after_a_day() {
        let queued = at(0);
        assert_eq!(
            retry_at(queued, 1, at(0)),
            Some(at(0) + Duration::seconds(30))
        );
        assert_eq!(retry_at(queued, 2, at(1)), Some(at(2)));
        assert_eq!(retry_at(queued, 3, at(2)), Some(at(4)));
        // Never more than an hour apart.
        assert_eq!(retry_at(queued, 30, at(600)), Some(at(660)));
        // A retry that would fall a day after queueing is not made.
        assert_eq!(retry_at(queued, 40, at(23 * 60 + 30)), None);
    }
}
