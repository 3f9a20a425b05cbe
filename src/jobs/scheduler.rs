//! The reminder and digest scheduler of this instance: handles what is due
//! (`service::schedules::run_due`), counts what each due schedule led to,
//! then sleeps until the next minute (or the configured poll).

use std::time::{Duration, Instant};

use prometheus::{IntCounterVec, Opts};

use crate::clock::Clock;
use crate::db::Db;
use crate::mail::MailContext;
use crate::service::schedules::{run_due, Outcome};
use crate::service::ServiceError;

/// `painline_schedule_outcomes_total`: due reminders and digests by what
/// they led to.
pub fn outcomes_counter() -> prometheus::Result<IntCounterVec> {
    IntCounterVec::new(
        Opts::new(
            "painline_schedule_outcomes_total",
            "Due reminders and digests, by what they led to: queued, or skipped \
             (already_logged, unverified, missed_day, no_alerts)",
        ),
        &["kind", "outcome"],
    )
}

pub async fn run(db: Db, clock: Clock, mail: MailContext, outcomes: IntCounterVec, poll: Duration) {
    super::repeat("scheduler", super::Wait::every(poll), || {
        wake_up(&db, &clock, &mail, &outcomes)
    })
    .await;
}

async fn wake_up(
    db: &Db,
    clock: &Clock,
    mail: &MailContext,
    counter: &IntCounterVec,
) -> Result<(), ServiceError> {
    let started = Instant::now();
    let (mut due, mut queued) = (0, 0);
    let ran = run_due(db, clock, mail, |kind, outcome| {
        counter
            .with_label_values(&[kind.as_str(), outcome.as_str()])
            .inc();
        due += 1;
        queued += usize::from(outcome == Outcome::Queued);
    })
    .await;
    let elapsed_ms = started.elapsed().as_secs_f64() * 1e3;
    if due == 0 {
        tracing::debug!(elapsed_ms, "scheduler woke; nothing due");
    } else {
        tracing::info!(due, queued, elapsed_ms, "scheduler woke");
    }
    ran
}
