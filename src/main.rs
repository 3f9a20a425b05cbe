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
    /// Write a consistent copy of the SQLite database to PATH while the
    /// service runs and takes writes (mode 0600; never overwrites a file),
    /// then check it with SQLite's integrity check. PostgreSQL: use pg_dump.
    Backup {
        /// A file that does not exist yet.
        path: std::path::PathBuf,
    },
    /// After the database was restored from a copy by other means than
    /// `painline backup` (pg_restore, a file-system snapshot): gives it a
    /// new generation, so the phones' sync cursors from before are refused
    /// and the phones sync again from the start instead of skipping changes.
    AfterRestore,
    /// With the service stopped: put the copy at SOURCE (made by `painline
    /// backup`) in place of the SQLite database, checked first, and give it
    /// a new generation, so phones sync again from the start.
    Restore {
        /// The copy to restore.
        source: std::path::PathBuf,
    },
    /// Manage therapist accounts (with PAINLINE_THERAPIST_SIGNUP=closed,
    /// the default, this is the only way to make one).
    Therapist {
        #[command(subcommand)]
        command: TherapistCommand,
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

#[derive(Debug, Subcommand)]
enum TherapistCommand {
    /// Create a therapist account and mail its owner a link to choose the
    /// password (valid 7 days; through the outbox, so without SMTP it is an
    /// .eml file).
    Add {
        /// The therapist's e-mail address.
        #[arg(long)]
        email: String,
        /// The name patients see.
        #[arg(long)]
        name: String,
        /// IANA time zone of the therapist's digests [default: UTC].
        #[arg(long)]
        timezone: Option<String>,
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

async fn backup(settings: painline::config::Settings, path: &std::path::Path) -> ExitCode {
    // No migrations: a backup is what one takes before an upgrade.
    let db = match painline::db::Db::connect(&settings.database, 2) {
        Ok(db) => db,
        Err(e) => return fail(format!("backup: DATABASE_URL: {e}")),
    };
    match painline::service::backup::sqlite_copy(&db, path).await {
        Ok(done) => {
            println!(
                "backup written: {} ({} bytes, mode 0600, integrity check ok)",
                done.path.display(),
                done.bytes
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail(format!("backup: {e}")),
    }
}

/// A refusal in the words of the command line: each bad field by its
/// option's name, else the error and its causes.
fn describe(error: &painline::service::ServiceError) -> String {
    use painline::domain::DomainError;
    use painline::service::ServiceError;
    match error {
        ServiceError::Domain(DomainError::Invalid(fields)) => fields
            .iter()
            .map(|f| {
                let option = match f.field.as_str() {
                    "display_name" => "--name",
                    "email" => "--email",
                    "timezone" => "--timezone",
                    other => other,
                };
                format!("{option} {}", f.message)
            })
            .collect::<Vec<_>>()
            .join("; "),
        ServiceError::Domain(DomainError::EmailTaken) => {
            "an account with this e-mail exists already".to_owned()
        }
        other => painline::error::chain(other),
    }
}

fn restore(source: &std::path::Path, target: &std::path::Path) -> ExitCode {
    if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Err(e) = std::fs::create_dir_all(dir) {
            return fail(format!("restore: cannot create {}: {e}", dir.display()));
        }
    }
    match painline::service::backup::restore(source, target) {
        Ok(done) => {
            println!(
                "restored: {} ({} bytes) from {}; phones sync again from the start \
                 at their next sync; start the service",
                done.path.display(),
                done.bytes,
                source.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail(format!("restore: {e}")),
    }
}

async fn after_restore(settings: &painline::config::Settings) -> ExitCode {
    let db = match connect_and_migrate(settings) {
        Ok(db) => db,
        Err(e) => return fail(e),
    };
    let renewed = db.write(painline::db::records::renew_generation).await;
    match renewed {
        Ok(generation) => {
            println!(
                "the database is generation {generation} now: phones sync again from the start \
                 at their next sync (their cursors from before the restore are refused)"
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail(format!("after-restore: {}", painline::error::chain(&e))),
    }
}

async fn add_therapist(
    settings: painline::config::Settings,
    email: &str,
    name: &str,
    timezone: Option<&str>,
) -> ExitCode {
    let outbox = match &settings.mail.transport {
        painline::config::MailTransportSetting::Files(dir) => Some(dir.clone()),
        painline::config::MailTransportSetting::Smtp(_) => None,
    };
    let state = match painline::startup::build_state(&settings, Clock::system()) {
        Ok(state) => state,
        Err(e) => return fail(e),
    };
    let added = painline::service::account_email::add_therapist(
        &state.db,
        &state.clock,
        &state.hasher,
        &state.mail,
        email,
        name,
        timezone,
    )
    .await;
    let user = match added {
        Ok(user) => user,
        Err(e) => return fail(format!("therapist add: {}", describe(&e))),
    };
    println!(
        "therapist account created: {} ({}), id {}",
        user.email, user.display_name, user.id
    );
    // Sent now when it can be; otherwise the running service sends it.
    let sent = painline::jobs::mail_sender::send_due(&state.db, &state.clock, &state.sender).await;
    match (sent, outbox) {
        (Ok(n), Some(dir)) if n > 0 => println!(
            "the link to choose a password (valid 7 days) is in a mail written to {}",
            dir.display()
        ),
        (Ok(n), None) if n > 0 => {
            println!("the link to choose a password (valid 7 days) was mailed to {email}")
        }
        _ => println!(
            "the mail with the link to choose a password is queued; \
             the running service sends it (and retries) as soon as it can"
        ),
    }
    ExitCode::SUCCESS
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
    if let Command::Backup { .. } | Command::Restore { .. } = &command {
        // Before the settings are resolved, which would create a data
        // folder, an empty database and a key where there were none.
        use painline::service::backup::BackupError;
        let (verb, postgres) = match &command {
            Command::Backup { .. } => ("backup", BackupError::Postgres),
            _ => ("restore", BackupError::RestorePostgres),
        };
        match DatabaseUrl::parse(&cli.settings.database_url) {
            Ok(DatabaseUrl::Postgres(_)) => return fail(format!("{verb}: {postgres}")),
            Ok(DatabaseUrl::Sqlite(path)) if verb == "backup" && !path.is_file() => {
                return fail(format!("backup: {}", BackupError::NoDatabase(path)));
            }
            Ok(DatabaseUrl::Sqlite(path)) => {
                if let Command::Restore { source } = &command {
                    return restore(source, &path);
                }
            }
            Err(e) => return fail(e),
        }
    }
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
    if let Command::AfterRestore = command {
        return after_restore(&settings).await;
    }
    if let Command::Backup { path } = &command {
        return backup(settings, path).await;
    }
    if let Command::Therapist {
        command:
            TherapistCommand::Add {
                email,
                name,
                timezone,
            },
    } = &command
    {
        return add_therapist(settings, email, name, timezone.as_deref()).await;
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
