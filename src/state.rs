//! What every handler and job can reach: built once in `startup`, shared
//! by workers. Services never see it: handlers pass them the pieces they
//! need.

use std::net::IpAddr;
use std::sync::Arc;

use prometheus::IntCounterVec;

use crate::auth::throttle::Window;
use crate::auth::{PasswordHasher, TokenService};
use crate::clock::Clock;
use crate::config::TherapistSignup;
use crate::db::Db;
use crate::mail::transport::Mailer;
use crate::mail::MailContext;
use crate::service::export::ExportSlots;
use crate::service::logbook::ZoneHints;
use crate::service::overview::FiguresCache;
use crate::service::trends::AnswerCache;

pub struct AppState {
    pub db: Db,
    pub tokens: TokenService,
    pub hasher: PasswordHasher,
    pub clock: Clock,
    pub trusted_proxies: Vec<IpAddr>,
    /// Whether `POST /v1/auth/register` accepts the role `therapist`.
    pub therapist_signup: TherapistSignup,
    /// Sign-ups one client may make (`PAINLINE_SIGNUPS_PER_HOUR`).
    pub sign_ups: Window,
    /// How long a request's head, and then its body, may take to arrive.
    pub request_timeout: std::time::Duration,
    /// The streamed exports running here, owned by `service::export`.
    pub exports: ExportSlots,
    /// Rendered trends and daily series, owned by `service::trends`.
    pub answers: AnswerCache,
    /// Figures of the therapist's overview, owned by `service::overview`.
    pub overview_figures: FiguresCache,
    /// Patients' time zones as last read, owned by `service::logbook`.
    pub zones: ZoneHints,
    /// What services need to queue account e-mail.
    pub mail: MailContext,
    /// The outbox sender (`jobs::mail_sender`): transport and counters.
    pub sender: Arc<Mailer>,
    /// What the scheduler's due reminders and digests led to (`jobs::scheduler`).
    pub schedule_outcomes: IntCounterVec,
}
