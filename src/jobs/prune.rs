//! Pruning: expired throttling rows, refresh tokens, logins, one-time links,
//! idempotent answers, sent mail and unsubscribe tokens are deleted. Every
//! instance does it; the deletes are idempotent.

use std::time::Duration;

use crate::clock::Clock;
use crate::db::{self, accounts, Db, DbError};
use crate::jobs::mail_sender::KEEP;
use crate::service::schedules::UNSUBSCRIBE_VALID;

/// How often the deletes run.
const EVERY: Duration = Duration::from_secs(300);

pub async fn run(db: Db, clock: Clock) {
    super::repeat("pruning", super::Wait::every(EVERY), || prune(&db, &clock)).await;
}

/// One round; logs how many rows went.
pub async fn prune(db: &Db, clock: &Clock) -> Result<(), DbError> {
    let now = clock.now_naive();
    let rows = db
        .write(move |conn| -> Result<usize, DbError> {
            Ok(accounts::prune_expired(conn, now)?
                + db::mail::prune(conn, now - KEEP)?
                + db::mail::prune_tokens(conn, now)?
                + db::logins::prune(conn, now - chrono::Duration::days(1))?
                + db::schedules::prune_unsubscribe(conn, now - UNSUBSCRIBE_VALID)?
                + db::mail::prune_requests(conn, now - chrono::Duration::days(1))?)
        })
        .await?;
    tracing::debug!(rows, "pruned");
    Ok(())
}
