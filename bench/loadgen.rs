//! The benchmark's load generator (`cargo run --release --example loadgen`).
//!
//! Open-loop and fixed-rate, as wrk2 is: request `i` of a run is due at
//! `start + i / rate`. A request its connection could only send late,
//! because the previous answer had not come, is timed from its due time, so
//! a stalled server is charged for the requests it kept waiting
//! (coordinated omission); one sent on time is timed from when it was sent
//! (tokio's timer wakes up to a millisecond late, and that is the
//! generator's delay, not the server's).
//! Unlike oha and wrk2 it gives every request its own caller: load is
//! spread over many patients' tokens as real phones would spread it, and
//! one run can mix reads, writes and logins. `bench/harness.sh` checks it
//! against oha on `/healthz`.
//!
//! `loadgen scenarios …` runs the scenarios of issue 10 against a server
//! seeded by `painline seed-bench` and prints one JSON object per line;
//! `loadgen raw-sqlite …` measures the raw single-row insert ceiling of
//! SQLite with the service's pragmas.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use diesel::connection::SimpleConnection;
use diesel::{Connection, RunQueryDsl, SqliteConnection};
use hdrhistogram::Histogram;
use reqwest::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use reqwest::Method;
use serde::Deserialize;
use serde_json::json;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Drive a running server through the scenarios.
    Scenarios(ScenarioArgs),
    /// Single-row inserts, one per transaction, into a fresh SQLite file
    /// with the service's pragmas (WAL, synchronous=FULL).
    RawSqlite {
        #[arg(long)]
        file: PathBuf,
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
    },
}

#[derive(clap::Args)]
struct ScenarioArgs {
    #[arg(long)]
    base: String,
    /// The manifest written by `painline seed-bench`.
    #[arg(long)]
    manifest: PathBuf,
    /// The server's process id, for its CPU time and peak RSS.
    #[arg(long)]
    server_pid: u32,
    /// The PostgreSQL postmaster's process id: the CPU time of it and
    /// its children (the backends) is reported per request too.
    #[arg(long)]
    db_pid: Option<u32>,
    /// Comma-separated scenario names, or `all`.
    #[arg(long, default_value = "all")]
    only: String,
    /// Seconds per step of the search for the highest rate.
    #[arg(long, default_value_t = 4.0)]
    step_seconds: f64,
    /// Seconds of the run at the stated rate.
    #[arg(long, default_value_t = 10.0)]
    stated_seconds: f64,
    /// Skip the search and run at this rate instead of the stated one
    /// (for profiling one scenario).
    #[arg(long)]
    fixed_rate: Option<f64>,
}

#[derive(Deserialize)]
struct Manifest {
    password: String,
    therapists: Vec<Account>,
    patients: Vec<Patient>,
}

#[derive(Deserialize)]
struct Account {
    email: String,
}

#[derive(Deserialize, Clone)]
struct Patient {
    email: String,
    first_day: String,
    last_day: String,
    week_cursor: i64,
}

/// One request to send; the caller's token is chosen by the scenario.
struct Call {
    method: Method,
    path: String,
    token: Option<Arc<HeaderValue>>,
    body: Option<String>,
    /// A login (counted apart in mixes).
    login: bool,
}

/// The latencies and failures of one run.
struct Outcome {
    hist: Histogram<u64>,
    logins: Histogram<u64>,
    sent: u64,
    errors: u64,
    statuses: BTreeMap<u16, u64>,
    elapsed: Duration,
}

impl Outcome {
    fn new() -> Self {
        Self {
            hist: new_hist(),
            logins: new_hist(),
            sent: 0,
            errors: 0,
            statuses: BTreeMap::new(),
            elapsed: Duration::ZERO,
        }
    }

    fn merge(&mut self, other: Outcome) {
        self.hist.add(&other.hist).ok();
        self.logins.add(&other.logins).ok();
        self.sent += other.sent;
        self.errors += other.errors;
        for (status, n) in other.statuses {
            *self.statuses.entry(status).or_default() += n;
        }
        self.elapsed = self.elapsed.max(other.elapsed);
    }

    fn ms(&self, q: f64) -> f64 {
        self.hist.value_at_quantile(q) as f64 / 1000.0
    }

    fn achieved(&self) -> f64 {
        self.sent as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

fn new_hist() -> Histogram<u64> {
    // Microseconds, 1 µs to 100 s, three significant digits.
    match Histogram::new_with_bounds(1, 100_000_000, 3) {
        Ok(hist) => hist,
        Err(e) => panic!("histogram bounds: {e}"),
    }
}

type Generator = Arc<dyn Fn(u64) -> Call + Send + Sync>;

/// Sends `rate` requests a second for `seconds` over `connections`
/// connections; connection `k` sends requests `k, k + C, k + 2C, …`.
async fn run(base: &str, rate: f64, seconds: f64, connections: usize, make: Generator) -> Outcome {
    let total = (rate * seconds).round().max(1.0) as u64;
    let start = tokio::time::Instant::now() + Duration::from_millis(20);
    let mut tasks = Vec::new();
    for k in 0..connections as u64 {
        let make = make.clone();
        let base = base.to_owned();
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .pool_max_idle_per_host(1)
                .timeout(Duration::from_secs(30))
                .build();
            let mut out = Outcome::new();
            let Ok(client) = client else {
                out.errors += 1;
                return out;
            };
            let mut i = k;
            while i < total {
                let due = start + Duration::from_secs_f64(i as f64 / rate);
                // Latency counts from the due time when this connection was
                // still busy with an earlier answer (the server kept the
                // request waiting), and from the timer's wake-up otherwise:
                // tokio's timer fires up to a millisecond late, and that is
                // the generator's delay, not the server's.
                let sent_from = if tokio::time::Instant::now() >= due {
                    due
                } else {
                    tokio::time::sleep_until(due).await;
                    tokio::time::Instant::now()
                };
                let call = make(i);
                let login = call.login;
                let status = send(&client, &base, call, &mut out).await;
                let latency = tokio::time::Instant::now().saturating_duration_since(sent_from);
                let micros = (latency.as_micros() as u64).max(1);
                let hist = if login {
                    &mut out.logins
                } else {
                    &mut out.hist
                };
                hist.saturating_record(micros);
                out.sent += 1;
                *out.statuses.entry(status).or_default() += 1;
                if !(200..300).contains(&status) {
                    out.errors += 1;
                }
                i += connections as u64;
            }
            out.elapsed = start.elapsed();
            out
        }));
    }
    let mut all = Outcome::new();
    for task in tasks {
        if let Ok(out) = task.await {
            all.merge(out);
        }
    }
    all
}

/// Closed loop: each of `connections` sends its next request as soon as
/// the previous answer is in, for `seconds`; latency from sending. The
/// throughput is what the server and database sustain, not a chosen rate.
async fn run_closed(base: &str, seconds: f64, connections: usize, make: Generator) -> Outcome {
    let deadline = tokio::time::Instant::now() + Duration::from_secs_f64(seconds);
    let counter = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let started = tokio::time::Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (make, base, counter) = (make.clone(), base.to_owned(), counter.clone());
        tasks.push(tokio::spawn(async move {
            let mut out = Outcome::new();
            let Ok(client) = reqwest::Client::builder()
                .pool_max_idle_per_host(1)
                .timeout(Duration::from_secs(30))
                .build()
            else {
                out.errors += 1;
                return out;
            };
            while tokio::time::Instant::now() < deadline {
                let i = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let sent = tokio::time::Instant::now();
                let status = send(&client, &base, make(i), &mut out).await;
                let micros = (sent.elapsed().as_micros() as u64).max(1);
                out.hist.saturating_record(micros);
                out.sent += 1;
                *out.statuses.entry(status).or_default() += 1;
                if !(200..300).contains(&status) {
                    out.errors += 1;
                }
            }
            out
        }));
    }
    let mut all = Outcome::new();
    for task in tasks {
        if let Ok(out) = task.await {
            all.merge(out);
        }
    }
    all.elapsed = started.elapsed();
    all
}

/// Sends `call` and reads the whole answer; its status (0: no answer).
async fn send(client: &reqwest::Client, base: &str, call: Call, out: &mut Outcome) -> u16 {
    let mut request = client.request(call.method, format!("{base}{}", call.path));
    if let Some(token) = &call.token {
        request = request.header(AUTHORIZATION, token.as_ref().clone());
    }
    if let Some(body) = call.body {
        request = request.header(CONTENT_TYPE, "application/json").body(body);
    }
    match request.send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            // Read the whole body: the answer is not complete before.
            if response.bytes().await.is_err() {
                out.errors += 1;
            }
            status
        }
        Err(_) => 0,
    }
}

/// CPU seconds of a process and its children (a postmaster and its
/// backends); NaN without a process.
fn tree_cpu_seconds(pid: Option<u32>) -> f64 {
    let Some(pid) = pid else { return f64::NAN };
    let mut total = cpu_seconds(pid);
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(child) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            let parent = std::fs::read_to_string(format!("/proc/{child}/stat"))
                .ok()
                .and_then(|stat| {
                    let after = stat.rsplit_once(')')?.1.to_owned();
                    after.split_whitespace().nth(1)?.parse::<u32>().ok()
                });
            if parent == Some(pid) {
                total += cpu_seconds(child);
            }
        }
    }
    total
}

/// A counter of the server's `/metrics` (NaN when it cannot be read).
async fn metric(base: &str, name: &str) -> f64 {
    let Ok(response) = reqwest::get(format!("{base}/metrics")).await else {
        return f64::NAN;
    };
    let text = response.text().await.unwrap_or_default();
    text.lines()
        .find_map(|line| {
            line.strip_prefix(name)?
                .strip_prefix(' ')?
                .trim()
                .parse()
                .ok()
        })
        .unwrap_or(f64::NAN)
}

/// CPU seconds (user + system) the process has used so far.
fn cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return f64::NAN;
    };
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    // Fields 14 and 15 of stat(5); `after` starts at field 3.
    let ticks = |n: usize| fields.get(n - 3).and_then(|v| v.parse::<f64>().ok());
    match (ticks(14), ticks(15)) {
        (Some(u), Some(s)) => (u + s) / 100.0,
        _ => f64::NAN,
    }
}

/// Resets the peak RSS (`VmHWM`) of the process.
fn reset_peak_rss(pid: u32) {
    let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
}

fn peak_rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

async fn login(base: &str, email: &str, password: &str) -> Result<Arc<HeaderValue>, BoxError> {
    let reply: serde_json::Value = reqwest::Client::new()
        .post(format!("{base}/v1/auth/login"))
        .json(&json!({ "email": email, "password": password }))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let token = reply["tokens"]["access_token"]
        .as_str()
        .ok_or("login answered no access token")?;
    Ok(Arc::new(HeaderValue::from_str(&format!("Bearer {token}"))?))
}

async fn logins(
    base: &str,
    emails: &[String],
    password: &str,
) -> Result<Vec<Arc<HeaderValue>>, BoxError> {
    let mut tokens = Vec::with_capacity(emails.len());
    for email in emails {
        tokens.push(login(base, email, password).await?);
    }
    Ok(tokens)
}

/// What a scenario sends; a second stream runs alongside when `beside` is set.
struct Scenario {
    name: &'static str,
    what: String,
    connections: usize,
    /// The search for the highest rate starts here and stops at `ceiling`.
    first_rate: f64,
    ceiling: f64,
    stated_rate: f64,
    make: Generator,
    beside: Option<(f64, usize, Generator)>,
    /// Closed loop (no rate: as fast as answers come) for the stated seconds.
    closed: bool,
}

fn pick<T: Clone>(items: &[T], i: u64) -> T {
    items[(i as usize) % items.len()].clone()
}

/// A new pain entry on one of the patient's last 365 days, spread by `i`
/// (Knuth's multiplicative hash, so it does not follow the caller's
/// `i % patients`): a run adds about one entry a day per patient, as phones
/// that catch up do, rather than thousands on one day, which no phone
/// writes and which would then weigh on every later read of that day.
fn put_entry(patient: &Patient, token: Arc<HeaderValue>, i: u64) -> Call {
    let last: chrono::NaiveDate = patient.last_day.parse().unwrap_or_default();
    let back = chrono::Days::new((i.wrapping_mul(2_654_435_761) >> 8) % 365);
    let date = last.checked_sub_days(back).unwrap_or(last);
    Call {
        method: Method::PUT,
        path: format!("/v1/me/pain-entries/{}", uuid::Uuid::new_v4()),
        token: Some(token),
        body: Some(
            json!({
                "date": date,
                "pain_level": i % 11,
                "regions": ["lower_back_center"],
            })
            .to_string(),
        ),
        login: false,
    }
}

fn get(path: String, token: Arc<HeaderValue>) -> Call {
    Call {
        method: Method::GET,
        path,
        token: Some(token),
        body: None,
        login: false,
    }
}

fn login_call(email: &str, password: &str) -> Call {
    Call {
        method: Method::POST,
        path: "/v1/auth/login".into(),
        token: None,
        body: Some(json!({ "email": email, "password": password }).to_string()),
        login: true,
    }
}

/// Patients `from..from + n` of the manifest; a small data set (a smoke
/// run) wraps around and shares patients.
fn some_patients(m: &Manifest, from: usize, n: usize) -> Vec<Patient> {
    let len = m.patients.len().max(1);
    m.patients
        .iter()
        .cycle()
        .skip(from % len)
        .take(n.min(len))
        .cloned()
        .collect()
}

/// Patients `from..from + n` of the manifest, with their tokens.
async fn cohort(
    base: &str,
    m: &Manifest,
    from: usize,
    n: usize,
) -> Result<Vec<(Patient, Arc<HeaderValue>)>, BoxError> {
    let patients = some_patients(m, from, n);
    let emails: Vec<String> = patients.iter().map(|p| p.email.clone()).collect();
    let tokens = logins(base, &emails, &m.password).await?;
    Ok(patients.into_iter().zip(tokens).collect())
}

/// The scenarios named in `wanted` (or all); only their callers log in.
async fn scenarios(base: &str, m: &Manifest, wanted: &[&str]) -> Result<Vec<Scenario>, BoxError> {
    let want = |name: &str| wanted.contains(&"all") || wanted.contains(&name);
    let password = m.password.clone();
    let mut list = Vec::new();
    if want("floor") {
        list.push(Scenario {
            name: "floor",
            what: "GET /healthz".into(),
            connections: 64,
            first_rate: 1000.0,
            ceiling: 256_000.0,
            stated_rate: 5000.0,
            make: Arc::new(|_| Call {
                method: Method::GET,
                path: "/healthz".into(),
                token: None,
                body: None,
                login: false,
            }),
            beside: None,
            closed: false,
        });
    }
    if want("put_64") {
        let writers = Arc::new(cohort(base, m, 0, 64).await?);
        list.push(Scenario {
            name: "put_64",
            what: "PUT a new pain entry, 64 patients".into(),
            connections: 64,
            first_rate: 250.0,
            ceiling: 32_000.0,
            stated_rate: 1000.0,
            make: Arc::new(move |i| {
                let (p, t) = pick(&writers, i);
                put_entry(&p, t, i)
            }),
            beside: None,
            closed: false,
        });
    }
    if want("put_1") {
        let single = Arc::new(cohort(base, m, m.patients.len() - 1, 1).await?);
        list.push(Scenario {
            name: "put_1",
            what: "PUT a new pain entry, one patient".into(),
            connections: 16,
            first_rate: 250.0,
            ceiling: 32_000.0,
            stated_rate: 500.0,
            make: Arc::new(move |i| {
                let (p, t) = pick(&single, i);
                put_entry(&p, t, i)
            }),
            beside: None,
            closed: false,
        });
    }
    if want("put_closed") {
        let writers = Arc::new(cohort(base, m, 0, 64).await?);
        list.push(Scenario {
            name: "put_closed",
            what: "PUT a new pain entry, 64 patients, 32 connections, closed loop".into(),
            connections: 32,
            first_rate: 0.0,
            ceiling: 0.0,
            stated_rate: 0.0,
            make: Arc::new(move |i| {
                let (p, t) = pick(&writers, i);
                put_entry(&p, t, i)
            }),
            beside: None,
            closed: true,
        });
    }
    if want("trends_2y") {
        let readers = Arc::new(cohort(base, m, 100, 64).await?);
        list.push(Scenario {
            name: "trends_2y",
            what: "GET /v1/me/trends over 730 days, 64 patients, repeated reads".into(),
            connections: 64,
            first_rate: 50.0,
            ceiling: 16_000.0,
            stated_rate: 200.0,
            make: Arc::new(move |i| {
                let (p, t) = pick(&readers, i);
                get(
                    format!("/v1/me/trends?from={}&to={}", p.first_day, p.last_day),
                    t,
                )
            }),
            beside: None,
            closed: false,
        });
    }
    if want("trends_2y_cold") {
        // Every request a range not asked recently (the end moves back a
        // day per round of the cohort; ranges repeat after 64 × 360
        // requests, when the bounded cache has long dropped them), so
        // answers are computed: the compute path, apart from the repeated
        // reads above.
        let readers = Arc::new(cohort(base, m, 100, 64).await?);
        // Counts across runs (the search's steps and the stated run), so a
        // later run never repeats an earlier one's ranges.
        let asked = Arc::new(std::sync::atomic::AtomicU64::new(0));
        list.push(Scenario {
            name: "trends_2y_cold",
            what: "GET /v1/me/trends over 730 days, a range not asked before, 64 patients".into(),
            connections: 64,
            first_rate: 50.0,
            ceiling: 16_000.0,
            stated_rate: 200.0,
            make: Arc::new(move |_| {
                let i = asked.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let (p, t) = pick(&readers, i);
                let back = chrono::Days::new(i / readers.len() as u64 % 360);
                let last: chrono::NaiveDate = p.last_day.parse().unwrap_or_default();
                let to = last.checked_sub_days(back).unwrap_or(last);
                let from = to.checked_sub_days(chrono::Days::new(729)).unwrap_or(to);
                get(format!("/v1/me/trends?from={from}&to={to}"), t)
            }),
            beside: None,
            closed: false,
        });
    }
    if want("overview_20") {
        let therapist_emails: Vec<String> = m.therapists.iter().map(|t| t.email.clone()).collect();
        let therapists = Arc::new(logins(base, &therapist_emails, &password).await?);
        list.push(Scenario {
            name: "overview_20",
            what: "GET /v1/patients, 50 therapists with 20 patients each".into(),
            connections: 64,
            first_rate: 50.0,
            ceiling: 16_000.0,
            stated_rate: 500.0,
            make: Arc::new(move |i| get("/v1/patients".into(), pick(&therapists, i))),
            beside: None,
            closed: false,
        });
    }
    if want("sync_week") {
        let phones = Arc::new(cohort(base, m, 200, 64).await?);
        list.push(Scenario {
            name: "sync_week",
            what: "GET /v1/me/changes from a week-old cursor, 64 patients".into(),
            connections: 64,
            first_rate: 250.0,
            ceiling: 32_000.0,
            stated_rate: 1000.0,
            make: Arc::new(move |i| {
                let (p, t) = pick(&phones, i);
                get(
                    format!("/v1/me/changes?cursor={}&limit=100", p.week_cursor),
                    t,
                )
            }),
            beside: None,
            closed: false,
        });
    }
    let me = Arc::new(if want("me") || want("me_login_flood") {
        cohort(base, m, 300, 64).await?
    } else {
        Vec::new()
    });
    let login_emails: Arc<Vec<String>> = Arc::new(
        some_patients(m, 400, 200)
            .into_iter()
            .map(|p| p.email)
            .collect(),
    );
    let me_alone = me.clone();
    if want("me") {
        list.push(Scenario {
            name: "me",
            what: "GET /v1/me, 64 patients (no logins)".into(),
            connections: 64,
            first_rate: 1000.0,
            ceiling: 64_000.0,
            stated_rate: 1000.0,
            make: Arc::new(move |i| get("/v1/me".into(), pick(&me_alone, i).1)),
            beside: None,
            closed: false,
        });
    }
    if want("me_login_flood") {
        let (flood_emails, flood_password) = (login_emails.clone(), password.clone());
        list.push(Scenario {
            name: "me_login_flood",
            what: "GET /v1/me, 64 patients, while 40 logins/s run".into(),
            connections: 64,
            first_rate: 1000.0,
            ceiling: 64_000.0,
            stated_rate: 1000.0,
            make: Arc::new(move |i| get("/v1/me".into(), pick(&me, i).1)),
            beside: Some((
                40.0,
                16,
                Arc::new(move |i| login_call(&pick(&flood_emails, i), &flood_password)),
            )),
            closed: false,
        });
    }
    if want("mix_90_9_1") {
        let mixed = Arc::new(cohort(base, m, 600, 200).await?);
        let (mix_emails, mix_password) = (login_emails, password);
        list.push(Scenario {
        name: "mix_90_9_1",
        what: "90% reads (list, week of changes, 90-day trends, /v1/me), 9% PUT, 1% login; 200 patients"
            .into(),
        connections: 64,
        first_rate: 250.0,
        ceiling: 32_000.0,
        stated_rate: 1000.0,
        make: Arc::new(move |i| {
            let (p, t) = pick(&mixed, i / 7);
            match i % 100 {
                0 => login_call(&pick(&mix_emails, i / 100), &mix_password),
                1..=9 => put_entry(&p, t, i),
                n => match n % 4 {
                    0 => get("/v1/me/pain-entries?limit=50".into(), t),
                    1 => get(format!("/v1/me/changes?cursor={}&limit=100", p.week_cursor), t),
                    2 => get("/v1/me/trends".into(), t),
                    _ => get("/v1/me".into(), t),
                },
            }
        }),
        beside: None,
        closed: false,
    });
    }
    Ok(list)
}

/// A run is good when it kept up, p99 ≤ 10 ms, and nothing failed.
fn good(out: &Outcome, rate: f64) -> bool {
    out.errors == 0 && out.ms(0.99) <= 10.0 && out.achieved() >= 0.95 * rate
}

/// Seconds each scenario runs at its first rate before anything is measured.
const WARM_UP_SECONDS: f64 = 2.0;

/// Runs the scenario at `rate` for `seconds`, with its side stream (the
/// login flood) alongside; the side's failures count, its latencies are
/// the `logins` histogram.
async fn run_scenario(base: &str, s: &Scenario, rate: f64, seconds: f64) -> Outcome {
    if s.closed {
        return run_closed(base, seconds, s.connections, s.make.clone()).await;
    }
    let main = run(base, rate, seconds, s.connections, s.make.clone());
    match &s.beside {
        None => main.await,
        Some((side_rate, conns, make)) => {
            let side = run(base, *side_rate, seconds, *conns, make.clone());
            let (mut out, side) = tokio::join!(main, side);
            out.logins = side.logins;
            out.errors += side.errors;
            for (status, n) in side.statuses {
                *out.statuses.entry(status).or_default() += n;
            }
            out
        }
    }
}

/// The highest rate (of a doubling ladder, then three bisections) whose
/// run is good; `None` when even the first rate is not.
async fn search(base: &str, s: &Scenario, step: f64) -> (Option<f64>, Vec<serde_json::Value>) {
    let mut steps = Vec::new();
    let try_rate = |rate: f64| async move {
        let out = run_scenario(base, s, rate, step).await;
        (good(&out, rate), out)
    };
    let (mut lo, mut hi): (Option<f64>, Option<f64>) = (None, None);
    let mut rate = s.first_rate;
    while rate <= s.ceiling {
        let (ok, out) = try_rate(rate).await;
        steps.push(step_json(rate, &out, ok));
        if ok {
            lo = Some(rate);
            rate *= 2.0;
        } else {
            hi = Some(rate);
            break;
        }
    }
    if let (Some(mut l), Some(mut h)) = (lo, hi) {
        for _ in 0..3 {
            let mid = ((l + h) / 2.0).round();
            let (ok, out) = try_rate(mid).await;
            steps.push(step_json(mid, &out, ok));
            if ok {
                l = mid;
            } else {
                h = mid;
            }
        }
        lo = Some(l);
    }
    (lo, steps)
}

fn step_json(rate: f64, out: &Outcome, ok: bool) -> serde_json::Value {
    json!({
        "rate": rate,
        "achieved": out.achieved().round(),
        "p99_ms": out.ms(0.99),
        "errors": out.errors,
        "good": ok,
    })
}

async fn scenarios_main(args: ScenarioArgs) -> Result<(), BoxError> {
    let ScenarioArgs {
        base,
        manifest,
        server_pid: pid,
        db_pid,
        only,
        step_seconds: step,
        stated_seconds: stated,
        fixed_rate,
    } = args;
    let m: Manifest = serde_json::from_slice(&std::fs::read(&manifest)?)?;
    let wanted: Vec<&str> = only.split(',').map(str::trim).collect();
    let mut list = scenarios(&base, &m, &wanted).await?;
    if let Some(rate) = fixed_rate {
        for s in &mut list {
            s.stated_rate = rate;
        }
    }
    for s in &list {
        // Warm-up, not measured: the scenario's connections, the server's
        // pool and the database's caches for these callers' data. Without
        // it the first step of a search measured opening connections.
        let _ = run_scenario(&base, s, s.first_rate, WARM_UP_SECONDS).await;
        reset_peak_rss(pid);
        let (max_rate, steps) = match fixed_rate {
            _ if s.closed => (None, Vec::new()),
            Some(_) => (None, Vec::new()),
            None => search(&base, s, step).await,
        };
        let statements_before = metric(&base, "painline_db_queries_total").await;
        let (cpu_before, db_before) = (cpu_seconds(pid), tree_cpu_seconds(db_pid));
        let started = Instant::now();
        let out = run_scenario(&base, s, s.stated_rate, stated).await;
        let wall = started.elapsed().as_secs_f64();
        let cpu = cpu_seconds(pid) - cpu_before;
        let db_cpu = tree_cpu_seconds(db_pid) - db_before;
        let statements = metric(&base, "painline_db_queries_total").await - statements_before;
        let requests = out.sent + out.logins.len();
        let line = json!({
            "scenario": s.name,
            "what": s.what,
            "connections": s.connections,
            "max_rate_p99_10ms": max_rate,
            "stated_rate": s.stated_rate,
            "achieved": out.achieved().round(),
            "p50_ms": out.ms(0.50),
            "p99_ms": out.ms(0.99),
            "p999_ms": out.ms(0.999),
            "max_ms": out.hist.max() as f64 / 1000.0,
            "login_p99_ms": (!out.logins.is_empty()).then(|| out.logins.value_at_quantile(0.99) as f64 / 1000.0),
            "logins": out.logins.len(),
            "cpu_s_per_1k": if requests > 0 { cpu / requests as f64 * 1000.0 } else { f64::NAN },
            "server_cpu_cores": cpu / wall,
            "db_cpu_s_per_1k": if requests > 0 && db_cpu.is_finite() { Some(db_cpu / requests as f64 * 1000.0) } else { None },
            "closed_loop": s.closed,
            "statements_per_request": if requests > 0 && statements.is_finite() { Some(statements / requests as f64) } else { None },
            "peak_rss_mib": peak_rss_mib(pid),
            "errors": out.errors,
            "statuses": out.statuses,
            "steps": steps,
        });
        println!("{line}");
    }
    Ok(())
}

fn raw_sqlite(file: PathBuf, seconds: f64) -> Result<(), BoxError> {
    let _ = std::fs::remove_file(&file);
    let url = file.to_string_lossy().to_string();
    let mut conn = SqliteConnection::establish(&url)?;
    conn.batch_execute(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;
         CREATE TABLE t (id TEXT PRIMARY KEY NOT NULL, patient TEXT NOT NULL, data TEXT NOT NULL);",
    )?;
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let started = Instant::now();
    let mut n = 0u64;
    while Instant::now() < deadline {
        conn.immediate_transaction(|c| {
            diesel::sql_query("INSERT INTO t (id, patient, data) VALUES (?, ?, ?)")
                .bind::<diesel::sql_types::Text, _>(uuid::Uuid::new_v4().to_string())
                .bind::<diesel::sql_types::Text, _>("patient")
                .bind::<diesel::sql_types::Text, _>(r#"{"regions":["lower_back_center"]}"#)
                .execute(c)
        })?;
        n += 1;
    }
    let rate = n as f64 / started.elapsed().as_secs_f64();
    println!(
        "{}",
        json!({ "raw_sqlite_inserts_per_s": rate.round(), "inserts": n })
    );
    Ok(())
}

fn main() -> Result<(), BoxError> {
    match Cli::parse().command {
        Command::RawSqlite { file, seconds } => raw_sqlite(file, seconds),
        Command::Scenarios(args) => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(scenarios_main(args)),
    }
}
