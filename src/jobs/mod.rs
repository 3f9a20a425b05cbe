//! Background jobs every instance runs beside its routes: the outbox
//! sender, the reminder scheduler and pruning. Each is a loop of the same
//! shape ([`repeat`]: do the work, log a failure, wait for the next time),
//! started and stopped together by [`Jobs`] from `startup`. Like the
//! routes, they call services and storage; their state is in the database,
//! so several instances run them side by side.

pub mod mail_sender;
pub mod prune;
pub mod scheduler;

use std::fmt::Display;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::state::AppState;

/// When a job runs again.
pub struct Wait {
    period: Duration,
    /// Woken early (the sender, when a request queued mail).
    wake: Option<Arc<Notify>>,
}

impl Wait {
    pub fn every(period: Duration) -> Self {
        Self { period, wake: None }
    }

    /// Also as soon as `wake` is notified.
    pub fn or_woken(self, wake: Arc<Notify>) -> Self {
        Self {
            wake: Some(wake),
            ..self
        }
    }

    async fn next(&self) {
        match &self.wake {
            Some(wake) => tokio::select! {
                () = wake.notified() => {}
                () = tokio::time::sleep(self.period) => {}
            },
            None => tokio::time::sleep(self.period).await,
        }
    }
}

/// Runs `work` now and then at every `wait`, for the life of the instance.
/// A failed round is logged and the job goes on: its next round retries.
pub async fn repeat<F, Fut, E>(name: &'static str, wait: Wait, mut work: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: Display,
{
    loop {
        if let Err(error) = work().await {
            tracing::warn!(job = name, error = %error, "a background job failed; it runs again at its next time");
        }
        wait.next().await;
    }
}

/// This instance's running jobs.
pub struct Jobs(Vec<JoinHandle<()>>);

impl Jobs {
    /// Starts pruning, the mail sender (unless mail polling is off) and the
    /// scheduler (when `schedule_poll` is set).
    pub fn start(state: &AppState, schedule_poll: Option<Duration>) -> Self {
        let mut running = vec![
            tokio::spawn(prune::run(state.db.clone(), state.clock.clone())),
            tokio::spawn(mail_sender::run(
                state.db.clone(),
                state.clock.clone(),
                state.sender.clone(),
            )),
        ];
        if let Some(poll) = schedule_poll {
            running.push(tokio::spawn(scheduler::run(
                state.db.clone(),
                state.clock.clone(),
                state.mail.clone(),
                state.schedule_outcomes.clone(),
                poll,
            )));
        }
        Self(running)
    }

    /// Stops every job (at its next await point).
    pub fn stop(self) {
        for job in self.0 {
            job.abort();
        }
    }
}
