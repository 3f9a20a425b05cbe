use std::process::ExitCode;

use clap::{Parser, Subcommand};
use painline::clock::Clock;
use painline::config::{DatabaseUrl, SettingsArgs};
use painline::startup::{connect_and_migrate, Application};

/// Painline: lower-back-pain logbook API.
#[derive(Debug, Parser)]
#[command(name = "painline", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    settings: SettingsArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Apply migrations and serve the API (the default).
    Serve,
    /// Apply the embedded migrations and exit.
    Migrate,
    /// Print the OpenAPI document (YAML) and exit.
    Openapi,
    /// Create (or bring up to date) a demo therapist and three linked
    /// patients with six months of data, and exit. Safe to run again.
    SeedDemo {
        /// Seed a PostgreSQL database too (the demo accounts share a
        /// published password, so production databases are refused by default).
        #[arg(long)]
        allow_postgres: bool,
    },
    /// Write the benchmark's data set (therapists, linked patients and two
    /// years of history each) into an empty database, and exit.
    SeedBench {
        #[arg(long, default_value_t = 50)]
        therapists: usize,
        #[arg(long, default_value_t = 20)]
        patients_per_therapist: usize,
        #[arg(long, default_value_t = 730)]
        days: u64,
        /// Patients written at once.
        #[arg(long, default_value_t = 4)]
        parallel: usize,
        /// Where to write the manifest (accounts, ids, week-old cursors) as JSON.
        #[arg(long)]
        manifest: std::path::PathBuf,
        /// Seed a PostgreSQL database too (the accounts share a published password).
        #[arg(long)]
        allow_postgres: bool,
    },
}

/// Prints one line (driver messages can span several) and exits non-zero.
fn fail(message: impl std::fmt::Display) -> ExitCode {
    let message = message.to_string();
    let one_line = message.split_whitespace().collect::<Vec<_>>().join(" ");
    eprintln!("painline: {one_line}");
    ExitCode::from(2)
}

/// The seed commands create accounts with a published password: a
/// PostgreSQL database (production) only when asked for explicitly.
fn refuse_postgres(
    command: &str,
    settings: &painline::config::Settings,
    allowed: bool,
) -> Option<ExitCode> {
    (matches!(settings.database, DatabaseUrl::Postgres(_)) && !allowed).then(|| {
        fail(format!(
            "{command}: its accounts have a published password; \
             pass --allow-postgres to create them in a PostgreSQL database"
        ))
    })
}

async fn seed_demo(settings: painline::config::Settings) -> ExitCode {
    let state = match painline::startup::build_state(&settings, Clock::system()) {
        Ok(state) => state,
        Err(e) => return fail(e),
    };
    match painline::demo::seed(&state).await {
        Ok(summary) => {
            println!(
                "demo data ready: {} accounts and {} links created, {} objects written, {} already there",
                summary.accounts_created,
                summary.links_created,
                summary.objects_written,
                summary.objects_unchanged
            );
            for (role, email) in painline::demo::logins() {
                println!(
                    "  {role:<9} {email}  password: {}",
                    painline::demo::PASSWORD
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(format!("seed-demo failed: {e}")),
    }
}

async fn seed_bench(
    settings: painline::config::Settings,
    size: painline::benchdata::Size,
    manifest: &std::path::Path,
) -> ExitCode {
    let state = match painline::startup::build_state(&settings, Clock::system()) {
        Ok(state) => state,
        Err(e) => return fail(e),
    };
    let started = std::time::Instant::now();
    let seeded = match painline::benchdata::seed(&state, size).await {
        Ok(seeded) => seeded,
        Err(e) => return fail(format!("seed-bench failed: {e}")),
    };
    let json = match serde_json::to_vec_pretty(&seeded) {
        Ok(json) => json,
        Err(e) => return fail(e),
    };
    if let Err(e) = std::fs::write(manifest, json) {
        return fail(format!("cannot write {}: {e}", manifest.display()));
    }
    println!(
        "bench data ready: {} therapists, {} patients, {} objects in {:.0} s; manifest {}",
        seeded.therapists.len(),
        seeded.patients.len(),
        seeded.objects_written,
        started.elapsed().as_secs_f64(),
        manifest.display()
    );
    ExitCode::SUCCESS
}

#[actix_web::main]
async fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => e.exit(), // --help, --version
        Err(e) => {
            let text = e.to_string();
            let first = text.lines().next().unwrap_or_default();
            return fail(first.trim_start_matches("error: "));
        }
    };
    let command = match cli.command.unwrap_or(Command::Serve) {
        Command::Openapi => {
            print!("{}", painline::openapi::yaml());
            return ExitCode::SUCCESS;
        }
        other => other,
    };
    let settings = match cli.settings.resolve() {
        Ok(settings) => settings,
        Err(e) => return fail(e),
    };
    painline::telemetry::init(&settings.log);
    if let Command::Migrate = command {
        return match connect_and_migrate(&settings) {
            Ok(_) => {
                tracing::info!("migrations applied");
                ExitCode::SUCCESS
            }
            Err(e) => fail(e),
        };
    }
    if let Command::SeedDemo { allow_postgres } = command {
        if let Some(refused) = refuse_postgres("seed-demo", &settings, allow_postgres) {
            return refused;
        }
        return seed_demo(settings).await;
    }
    if let Command::SeedBench {
        therapists,
        patients_per_therapist,
        days,
        parallel,
        manifest,
        allow_postgres,
    } = command
    {
        if let Some(refused) = refuse_postgres("seed-bench", &settings, allow_postgres) {
            return refused;
        }
        let size = painline::benchdata::Size {
            therapists,
            patients_per_therapist,
            days,
            parallel,
        };
        return seed_bench(settings, size, &manifest).await;
    }
    let bind = settings.bind.clone();
    let app = match Application::build(settings, Clock::system()) {
        Ok(app) => app,
        Err(e) => return fail(e),
    };
    tracing::info!(bind = %bind, port = app.port(), "painline listening");
    match app.run_until_stopped().await {
        Ok(()) => {
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(e) => fail(format!("server error: {e}")),
    }
}
