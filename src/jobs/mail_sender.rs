//! The background sender: every instance runs one. It claims due mails
//! from the outbox under a lease (so two instances never send one mail at
//! once), sends each, and records the outcome. A failed attempt is retried
//! with exponential back-off; a mail that still fails a day after it was
//! queued is given up and counted.

use std::sync::Arc;

use chrono::{Duration, NaiveDateTime};

use crate::clock::Clock;
use crate::db::mail;
use crate::db::{Db, DbError};
use crate::mail::transport::{Mailer, Outgoing};

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
/// next poll. Runs for the life of the instance; without a poll (an
/// instance that only queues) it ends at once.
pub async fn run(db: Db, clock: Clock, mailer: Arc<Mailer>) {
    let Some(poll) = mailer.poll() else {
        return;
    };
    let wait = super::Wait::every(poll).or_woken(mailer.wake_handle());
    super::repeat("mail sender", wait, || async {
        send_due(&db, &clock, &mailer).await.map(|_sent| ())
    })
    .await;
}

/// Claims and sends due mails until none is left; returns how many went out.
pub async fn send_due(db: &Db, clock: &Clock, mailer: &Arc<Mailer>) -> Result<usize, DbError> {
    let mut sent = 0;
    loop {
        let now = clock.now_naive();
        let due = db
            .write(move |conn| mail::claim_due(conn, now, now + LEASE, BATCH))
            .await?;
        if due.is_empty() {
            return Ok(sent);
        }
        for mail in due {
            let transport = mailer.clone();
            let (mail, outcome) = tokio::task::spawn_blocking(move || {
                let outcome = transport.deliver(&Outgoing {
                    id: &mail.id,
                    sender: &mail.sender,
                    recipient: &mail.recipient,
                    message: &mail.message,
                });
                (mail, outcome)
            })
            .await
            .map_err(|e| DbError::Unavailable(Box::new(e)))?;
            let now = clock.now_naive();
            let id = mail.id.clone();
            match outcome {
                Ok(()) => {
                    db.write(move |conn| mail::mark_sent(conn, &id, now))
                        .await?;
                    mailer.counters.sent.with_label_values(&[&mail.kind]).inc();
                    sent += 1;
                    tracing::info!(mail_id = %mail.id, kind = %mail.kind, "mail sent");
                }
                Err(error) => {
                    let retry = retry_at(mail.created_at, mail.attempts + 1, now);
                    let message = error.chars().take(500).collect::<String>();
                    db.write(move |conn| mail::mark_failed(conn, &id, now, retry, &message))
                        .await?;
                    mailer.counters.failed.inc();
                    match retry {
                        Some(at) => tracing::warn!(
                            mail_id = %mail.id, kind = %mail.kind, attempts = mail.attempts + 1,
                            retry_at = %at, error = %error, "mail not sent; will retry"
                        ),
                        None => {
                            mailer.counters.given_up.inc();
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
