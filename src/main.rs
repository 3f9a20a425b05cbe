use std::process::ExitCode;

use clap::{Parser, Subcommand};
use painline::clock::Clock;
use painline::config::SettingsArgs;
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
}

/// Prints one line (driver messages can span several) and exits non-zero.
fn fail(message: impl std::fmt::Display) -> ExitCode {
    let message = message.to_string();
    let one_line = message.split_whitespace().collect::<Vec<_>>().join(" ");
    eprintln!("painline: {one_line}");
    ExitCode::from(2)
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
