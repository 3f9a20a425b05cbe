//! Typed settings, parsed once at start-up and passed around as a value.

use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use base64::Engine;
use rand::RngCore;

/// Raw settings as they arrive from flags or the environment.
#[derive(Debug, Clone, clap::Args)]
pub struct SettingsArgs {
    /// Listen address.
    #[arg(long, env = "PAINLINE_BIND", default_value = "127.0.0.1:8080")]
    pub bind: String,
    /// `sqlite://PATH` or `postgres://…`.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://data/painline.db"
    )]
    pub database_url: String,
    /// HMAC key for access tokens, at least 32 bytes.
    #[arg(long, env = "PAINLINE_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// Access-token lifetime in seconds.
    #[arg(long, env = "PAINLINE_ACCESS_TTL", default_value_t = 900)]
    pub access_ttl: i64,
    /// Refresh-token lifetime in seconds.
    #[arg(long, env = "PAINLINE_REFRESH_TTL", default_value_t = 2_592_000)]
    pub refresh_ttl: i64,
    /// Seconds a request's head, and then its body, may take to arrive
    /// before the client is cut off (408).
    #[arg(long, env = "PAINLINE_REQUEST_TIMEOUT", default_value_t = 10)]
    pub request_timeout: u64,
    /// Serve `/metrics` on this HOST:PORT only (not on `PAINLINE_BIND`), so
    /// it need not be public.
    #[arg(long, env = "PAINLINE_METRICS_BIND")]
    pub metrics_bind: Option<String>,
    /// Seconds after its first use in which a refresh token presented
    /// again gets a fresh pair instead of revoking its login (0 = strict).
    #[arg(long, env = "PAINLINE_REFRESH_GRACE", default_value_t = 10)]
    pub refresh_grace: i64,
    /// Sign-ups one client (an address; an IPv6 /64) may make within an
    /// hour; each mails an address it chose.
    #[arg(long, env = "PAINLINE_SIGNUPS_PER_HOUR", default_value_t = 20)]
    pub signups_per_hour: u32,
    /// Streamed exports (JSON, FHIR) this instance runs at once; more get
    /// 503 with `Retry-After`. Each holds well under 1 MiB.
    #[arg(long, env = "PAINLINE_MAX_EXPORTS", default_value_t = 8)]
    pub max_exports: usize,
    /// Comma-separated dashboard origins allowed by CORS.
    #[arg(long, env = "PAINLINE_CORS_ORIGINS")]
    pub cors_origins: Option<String>,
    /// Log filter (tracing `EnvFilter` syntax).
    #[arg(long, env = "PAINLINE_LOG", default_value = "info")]
    pub log: String,
    /// Comma-separated addresses of reverse proxies whose `X-Forwarded-For` is believed.
    #[arg(long, env = "PAINLINE_TRUSTED_PROXIES")]
    pub trusted_proxies: Option<String>,
    /// Database connections per instance (0: from the machine's cores).
    #[arg(long, env = "PAINLINE_DB_POOL_SIZE", default_value_t = 0)]
    pub db_pool_size: u32,
    /// HTTP worker threads (0 = one per core).
    #[arg(long, env = "PAINLINE_WORKERS", default_value_t = 0)]
    pub workers: usize,
    /// Serve the reference therapist dashboard at `/dashboard/`: `on` or `off`.
    #[arg(long, env = "PAINLINE_DASHBOARD", default_value = "on")]
    pub dashboard: String,
    /// SMTP relay for account e-mail, in lettre's URL form
    /// (`smtps://user:pass@host`, `smtp://host:587?tls=required`,
    /// `smtp://host:25`); without it, mail is written as .eml files.
    #[arg(long, env = "PAINLINE_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// Sender of account e-mail [default: Painline <no-reply@HOST>, HOST
    /// from the public URL].
    #[arg(long, env = "PAINLINE_MAIL_FROM")]
    pub mail_from: Option<String>,
    /// Base of the links in e-mails (never taken from a request's Host)
    /// [default: http:// and the listen address].
    #[arg(long, env = "PAINLINE_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Who may register as a therapist through the API: `closed` (accounts
    /// are made with `painline therapist add`) or `open` (anyone).
    #[arg(
        long,
        env = "PAINLINE_THERAPIST_SIGNUP",
        value_enum,
        default_value_t = TherapistSignup::Closed
    )]
    pub therapist_signup: TherapistSignup,
    /// Seconds between an instance's looks for due mail (it also sends at
    /// once what its own requests queue); 0: this instance sends no mail,
    /// another one does.
    #[arg(long, env = "PAINLINE_MAIL_POLL", default_value_t = 5)]
    pub mail_poll: u64,
    /// Folder of the .eml files when there is no SMTP relay; default
    /// `outbox/` beside the SQLite file (`data/outbox/`), else `data/outbox`.
    #[arg(long, env = "PAINLINE_OUTBOX_DIR")]
    pub outbox_dir: Option<PathBuf>,
}

/// Who may register as a therapist through `POST /v1/auth/register`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TherapistSignup {
    /// Only `painline therapist add` makes therapist accounts.
    Closed,
    /// Anyone may register as a therapist (a demo, a single practitioner).
    Open,
}

/// How account e-mail leaves.
#[derive(Clone)]
pub enum MailTransportSetting {
    /// lettre's SMTP URL (it may hold credentials: never printed).
    Smtp(String),
    /// One .eml file per mail in this folder.
    Files(PathBuf),
}

impl std::fmt::Debug for MailTransportSetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Smtp(_) => f.write_str("Smtp(…)"),
            Self::Files(dir) => f.debug_tuple("Files").field(dir).finish(),
        }
    }
}

/// Account e-mail settings.
#[derive(Debug, Clone)]
pub struct MailSettings {
    pub transport: MailTransportSetting,
    /// `Name <address>`, checked.
    pub from: String,
    /// Without a trailing slash.
    pub public_url: String,
    /// How often each instance looks for due mail (it is also woken when a
    /// request of its own queues one); `None`: this instance sends none
    /// (its mail waits for another instance).
    pub poll: Option<std::time::Duration>,
    /// How often each instance's scheduler looks for due reminders and
    /// digests (a minute); `None`: this instance schedules none.
    pub schedule_poll: Option<std::time::Duration>,
}

impl MailSettings {
    /// Checks each setting the way it will be used, naming the bad one.
    pub fn resolve(
        smtp_url: Option<String>,
        from: Option<String>,
        public_url: &str,
        outbox_dir: PathBuf,
    ) -> Result<Self, ConfigError> {
        let transport = match smtp_url.filter(|u| !u.trim().is_empty()) {
            Some(url) => {
                // Parsed here only to refuse a bad URL at start-up; the
                // message names the problem, never the URL (credentials).
                lettre::SmtpTransport::from_url(url.trim()).map_err(|e| {
                    ConfigError::new(
                        "PAINLINE_SMTP_URL",
                        format!("is not an SMTP URL lettre understands ({e})"),
                    )
                })?;
                MailTransportSetting::Smtp(url.trim().to_owned())
            }
            None => MailTransportSetting::Files(outbox_dir),
        };
        let public_url = public_url.trim().trim_end_matches('/').to_owned();
        let from = from
            .filter(|f| !f.trim().is_empty())
            .unwrap_or_else(|| default_sender(&public_url));
        from.parse::<lettre::message::Mailbox>().map_err(|e| {
            ConfigError::new(
                "PAINLINE_MAIL_FROM",
                format!("'{from}' is not a mailbox such as Painline <no-reply@example.org> ({e})"),
            )
        })?;
        let host = public_url
            .strip_prefix("https://")
            .or_else(|| public_url.strip_prefix("http://"))
            .unwrap_or_default();
        if host.is_empty() || host.contains(['?', '#', ' ']) {
            return Err(ConfigError::new(
                "PAINLINE_PUBLIC_URL",
                format!(
                    "'{public_url}' is not an http(s) URL such as https://painline.example.org"
                ),
            ));
        }
        Ok(Self {
            transport,
            from,
            public_url,
            poll: Some(std::time::Duration::from_secs(5)),
            schedule_poll: Some(std::time::Duration::from_secs(60)),
        })
    }
}

/// `painline.example.org` of `https://painline.example.org:8443/app`.
pub fn host_of(public_url: &str) -> &str {
    let rest = public_url.split_once("://").map_or(public_url, |(_, r)| r);
    let host = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    match host.rsplit_once(':') {
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name,
        _ => host,
    }
}

/// `Painline <no-reply@HOST>` with the host of `public_url`; `localhost`
/// when that host cannot be the domain of an address (an IP literal).
fn default_sender(public_url: &str) -> String {
    let host = host_of(public_url);
    let sender = format!("Painline <no-reply@{host}>");
    if !host.is_empty() && sender.parse::<lettre::message::Mailbox>().is_ok() {
        sender
    } else {
        "Painline <no-reply@localhost>".to_owned()
    }
}

/// Whether mail links to `public_url` reach only this machine (a loopback
/// or unspecified address, or `localhost`): worth a warning when mail goes
/// to real people over SMTP.
pub fn public_url_is_local(public_url: &str) -> bool {
    let host = host_of(public_url);
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<IpAddr>() {
        Ok(ip) => ip.is_loopback() || ip.is_unspecified(),
        Err(_) => bare.eq_ignore_ascii_case("localhost") || bare.ends_with(".localhost"),
    }
}

/// Where the data lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite(PathBuf),
    Postgres(String),
}

impl DatabaseUrl {
    pub fn parse(raw: &str) -> Result<Self, ConfigError> {
        let raw = raw.trim();
        if let Some(path) = raw
            .strip_prefix("sqlite://")
            .or_else(|| raw.strip_prefix("sqlite:"))
        {
            if path.is_empty() {
                return Err(ConfigError::new(
                    "DATABASE_URL",
                    "sqlite:// needs a file path",
                ));
            }
            Ok(Self::Sqlite(PathBuf::from(path)))
        } else if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            Ok(Self::Postgres(raw.to_owned()))
        } else {
            let scheme = raw.split(':').next().unwrap_or_default();
            Err(ConfigError::new(
                "DATABASE_URL",
                format!("unknown scheme '{scheme}' (expected sqlite:// or postgres://)"),
            ))
        }
    }
}

/// The secret that signs access tokens. Its `Debug` never prints the key.
#[derive(Clone)]
pub struct JwtSecret(Vec<u8>);

impl JwtSecret {
    pub const MIN_LEN: usize = 32;

    pub fn new(bytes: Vec<u8>) -> Result<Self, ConfigError> {
        if bytes.len() < Self::MIN_LEN {
            return Err(ConfigError::new(
                "PAINLINE_JWT_SECRET",
                format!(
                    "must be at least {} bytes, got {}",
                    Self::MIN_LEN,
                    bytes.len()
                ),
            ));
        }
        Ok(Self(bytes))
    }

    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for JwtSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JwtSecret(…)")
    }
}

/// Validated settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub bind: String,
    pub database: DatabaseUrl,
    pub jwt_secret: JwtSecret,
    pub access_ttl: i64,
    pub refresh_ttl: i64,
    pub refresh_grace: i64,
    /// Sign-ups one client may make within an hour.
    pub signups_per_hour: u32,
    /// Streamed exports this instance runs at once.
    pub max_exports: usize,
    /// How long a request's head, and then its body, may take to arrive.
    pub request_timeout: std::time::Duration,
    /// Where `/metrics` is served when not on `bind`.
    pub metrics_bind: Option<String>,
    pub cors_origins: Vec<String>,
    pub log: String,
    pub trusted_proxies: Vec<IpAddr>,
    pub db_pool_size: u32,
    pub workers: usize,
    /// Serve the dashboard at `/dashboard/`.
    pub dashboard: bool,
    pub mail: MailSettings,
    pub therapist_signup: TherapistSignup,
}

/// A start-up failure, naming the offending setting when one is to blame.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{setting}: {message}")]
    Setting {
        setting: &'static str,
        message: String,
    },
    /// No setting can fix it (the system's random source, a library's set-up).
    #[error("{0}")]
    Startup(String),
}

impl ConfigError {
    pub fn new(setting: &'static str, message: impl Into<String>) -> Self {
        Self::Setting {
            setting,
            message: message.into(),
        }
    }

    pub fn startup(message: impl Into<String>) -> Self {
        Self::Startup(message.into())
    }
}

impl SettingsArgs {
    /// Validates everything that can be checked without the database, and in
    /// SQLite mode creates the data folder and the generated JWT secret.
    pub fn resolve(self) -> Result<Settings, ConfigError> {
        let database = DatabaseUrl::parse(&self.database_url)?;
        within(
            "PAINLINE_ACCESS_TTL",
            self.access_ttl,
            60..=86_400,
            " seconds",
        )?;
        within(
            "PAINLINE_REFRESH_TTL",
            self.refresh_ttl,
            300..=31_536_000,
            " seconds",
        )?;
        within(
            "PAINLINE_REQUEST_TIMEOUT",
            self.request_timeout,
            1..=300,
            " seconds",
        )?;
        within(
            "PAINLINE_REFRESH_GRACE",
            self.refresh_grace,
            0..=300,
            " seconds",
        )?;
        within("PAINLINE_DB_POOL_SIZE", self.db_pool_size, 0..=200, "")?;
        within("PAINLINE_MAX_EXPORTS", self.max_exports, 1..=1_000, "")?;
        within(
            "PAINLINE_SIGNUPS_PER_HOUR",
            self.signups_per_hour,
            1..=1_000_000,
            "",
        )?;
        host_port("PAINLINE_BIND", &self.bind)?;
        if let Some(metrics) = &self.metrics_bind {
            host_port("PAINLINE_METRICS_BIND", metrics)?;
        }
        let trusted_proxies = split_list(self.trusted_proxies.as_deref())
            .map(|s| {
                s.parse::<IpAddr>().map_err(|_| {
                    ConfigError::new(
                        "PAINLINE_TRUSTED_PROXIES",
                        format!("'{s}' is not an IP address"),
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let cors_origins = split_list(self.cors_origins.as_deref())
            .map(|origin| {
                if origin.starts_with("http://") || origin.starts_with("https://") {
                    Ok(origin.trim_end_matches('/').to_owned())
                } else {
                    Err(ConfigError::new(
                        "PAINLINE_CORS_ORIGINS",
                        format!("'{origin}' is not an http(s) origin"),
                    ))
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        let dashboard = match self.dashboard.trim().to_ascii_lowercase().as_str() {
            "on" | "true" | "1" => true,
            "off" | "false" | "0" => false,
            other => {
                return Err(ConfigError::new(
                    "PAINLINE_DASHBOARD",
                    format!("'{other}' is not on or off"),
                ))
            }
        };
        tracing_subscriber::EnvFilter::try_new(&self.log)
            .map_err(|e| ConfigError::new("PAINLINE_LOG", e.to_string()))?;

        if let DatabaseUrl::Sqlite(path) = &database {
            prepare_sqlite_folder(path)?;
        }
        let outbox_dir = self.outbox_dir.unwrap_or_else(|| match &database {
            DatabaseUrl::Sqlite(path) => path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."))
                .join("outbox"),
            DatabaseUrl::Postgres(_) => PathBuf::from("data/outbox"),
        });
        let public_url = self
            .public_url
            .filter(|u| !u.trim().is_empty())
            .unwrap_or_else(|| format!("http://{}", self.bind.trim()));
        let mut mail =
            MailSettings::resolve(self.smtp_url, self.mail_from, &public_url, outbox_dir)?;
        mail.poll = (self.mail_poll > 0).then(|| std::time::Duration::from_secs(self.mail_poll));
        let jwt_secret = match (self.jwt_secret, &database) {
            (Some(secret), _) => JwtSecret::new(secret.into_bytes())?,
            (None, DatabaseUrl::Sqlite(path)) => load_or_create_secret(path)?,
            (None, DatabaseUrl::Postgres(_)) => {
                return Err(ConfigError::new(
                    "PAINLINE_JWT_SECRET",
                    "is required with PostgreSQL (instances must share one key)",
                ))
            }
        };
        let db_pool_size = match self.db_pool_size {
            0 => default_pool_size(cores(), matches!(database, DatabaseUrl::Postgres(_))),
            n => n,
        };
        Ok(Settings {
            bind: self.bind,
            jwt_secret,
            access_ttl: self.access_ttl,
            refresh_ttl: self.refresh_ttl,
            refresh_grace: self.refresh_grace,
            signups_per_hour: self.signups_per_hour,
            max_exports: self.max_exports,
            metrics_bind: self.metrics_bind,
            database,
            request_timeout: std::time::Duration::from_secs(self.request_timeout),
            cors_origins,
            log: self.log,
            trusted_proxies,
            db_pool_size,
            workers: self.workers,
            dashboard,
            mail,
            therapist_signup: self.therapist_signup,
        })
    }
}

/// `value` of `setting` lies in `range` (`unit` follows the bounds in the message).
fn within<T>(
    setting: &'static str,
    value: T,
    range: std::ops::RangeInclusive<T>,
    unit: &str,
) -> Result<(), ConfigError>
where
    T: PartialOrd + std::fmt::Display,
{
    if range.contains(&value) {
        return Ok(());
    }
    Err(ConfigError::new(
        setting,
        format!(
            "must be between {} and {}{unit}",
            range.start(),
            range.end()
        ),
    ))
}

/// A listen address: `HOST:PORT` (a name is resolved when binding).
fn host_port(setting: &'static str, value: &str) -> Result<(), ConfigError> {
    if value.parse::<std::net::SocketAddr>().is_err() && !value.contains(':') {
        return Err(ConfigError::new(
            setting,
            format!("'{value}' is not HOST:PORT"),
        ));
    }
    Ok(())
}

fn split_list(raw: Option<&str>) -> impl Iterator<Item = &str> {
    raw.unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

fn prepare_sqlite_folder(db_path: &Path) -> Result<(), ConfigError> {
    if let Some(dir) = db_path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| {
            ConfigError::new(
                "DATABASE_URL",
                format!("cannot create {}: {e}", dir.display()),
            )
        })?;
    }
    Ok(())
}

/// In SQLite mode the secret lives beside the database file as `jwt-secret`
/// (mode 0600), generated on first start so a fresh machine needs no setup.
fn load_or_create_secret(db_path: &Path) -> Result<JwtSecret, ConfigError> {
    let dir = db_path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let file = dir.join("jwt-secret");
    let setting = "PAINLINE_JWT_SECRET";
    match std::fs::read_to_string(&file) {
        Ok(text) => JwtSecret::new(text.trim().as_bytes().to_vec()).map_err(|_| {
            ConfigError::new(
                setting,
                format!("{} holds fewer than 32 bytes", file.display()),
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut key = [0u8; 48];
            rand::rngs::OsRng.fill_bytes(&mut key);
            let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key);
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut handle = options.open(&file).map_err(|e| {
                ConfigError::new(setting, format!("cannot create {}: {e}", file.display()))
            })?;
            handle
                .write_all(encoded.as_bytes())
                .and_then(|()| handle.sync_all())
                .map_err(|e| {
                    ConfigError::new(setting, format!("cannot write {}: {e}", file.display()))
                })?;
            JwtSecret::new(encoded.into_bytes())
        }
        Err(e) => Err(ConfigError::new(
            setting,
            format!("cannot read {}: {e}", file.display()),
        )),
    }
}

/// The machine's cores (2 when it cannot be told).
fn cores() -> u32 {
    std::thread::available_parallelism().map_or(2, |n| u32::try_from(n.get()).unwrap_or(2))
}

/// Connections per instance when `PAINLINE_DB_POOL_SIZE` is 0. PostgreSQL:
/// 8 per core, at least 16 and at most 32 (three instances stay under
/// PostgreSQL's default `max_connections` of 100; a write holds its connection
/// while PostgreSQL waits for the disk, and commits that wait together
/// share one flush, so the pool needs more connections than cores;
/// measured in bench/RESULTS.md). SQLite: 2 per core, at least 4 (readers
/// only, in-process; writes have a thread of their own).
pub fn default_pool_size(cores: u32, postgres: bool) -> u32 {
    if postgres {
        cores.saturating_mul(8).clamp(16, 32)
    } else {
        cores.saturating_mul(2).clamp(4, 32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolved(args: &[&str]) -> Settings {
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            settings: SettingsArgs,
        }
        let dir = tempfile_dir();
        let db = format!("--database-url=sqlite://{}/painline.db", dir.display());
        let all: Vec<&str> = ["painline", db.as_str()]
            .into_iter()
            .chain(args.iter().copied())
            .collect();
        let cli = <Cli as clap::Parser>::try_parse_from(all).unwrap();
        let settings = cli.settings.resolve().unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        settings
    }

    /// A fresh folder under the system's temporary directory.
    fn tempfile_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("painline-config-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn the_public_url_and_the_sender_follow_the_listen_address() {
        let defaults = resolved(&["--bind=10.1.2.3:9000"]);
        assert_eq!(defaults.mail.public_url, "http://10.1.2.3:9000");
        assert_eq!(defaults.mail.from, "Painline <no-reply@10.1.2.3>");
        assert_eq!(defaults.therapist_signup, TherapistSignup::Closed);
        let public = resolved(&["--public-url=https://painline.clinic.example/"]);
        assert_eq!(public.mail.public_url, "https://painline.clinic.example");
        assert_eq!(
            public.mail.from,
            "Painline <no-reply@painline.clinic.example>"
        );
        let chosen = resolved(&[
            "--public-url=https://painline.clinic.example",
            "--mail-from=Clinic <desk@clinic.example>",
            "--therapist-signup=open",
        ]);
        assert_eq!(chosen.mail.from, "Clinic <desk@clinic.example>");
        assert_eq!(chosen.therapist_signup, TherapistSignup::Open);
        // An IPv6 listen address cannot be an address's domain.
        let v6 = resolved(&["--bind=[::1]:8080"]);
        assert_eq!(v6.mail.public_url, "http://[::1]:8080");
        assert_eq!(v6.mail.from, "Painline <no-reply@localhost>");
    }

    #[test]
    fn links_that_reach_only_this_machine_are_recognised() {
        for local in [
            "http://127.0.0.1:8080",
            "http://localhost:8080",
            "http://[::1]:8080",
            "http://0.0.0.0:8080",
            "https://app.localhost",
        ] {
            assert!(public_url_is_local(local), "{local}");
        }
        for public in [
            "https://painline.clinic.example",
            "http://192.168.1.20:8080",
        ] {
            assert!(!public_url_is_local(public), "{public}");
        }
    }

    #[test]
    fn the_pool_is_sized_from_the_cores() {
        // PostgreSQL: 8 a core, 16 to 32; SQLite: 2 a core, 4 to 32.
        for (cores, postgres, size) in [
            (1, true, 16),
            (2, true, 16),
            (4, true, 32),
            (16, true, 32),
            (1, false, 4),
            (2, false, 4),
            (8, false, 16),
            (64, false, 32),
        ] {
            assert_eq!(
                default_pool_size(cores, postgres),
                size,
                "{cores} {postgres}"
            );
        }
    }

    #[test]
    fn database_urls_pick_the_backend_from_the_scheme() {
        assert_eq!(
            DatabaseUrl::parse("sqlite://data/x.db").ok(),
            Some(DatabaseUrl::Sqlite("data/x.db".into()))
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:///tmp/x.db").ok(),
            Some(DatabaseUrl::Sqlite("/tmp/x.db".into()))
        );
        assert!(matches!(
            DatabaseUrl::parse("postgresql://u@h/db"),
            Ok(DatabaseUrl::Postgres(_))
        ));
        let err = DatabaseUrl::parse("mysql://x").err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("DATABASE_URL: unknown scheme 'mysql' (expected sqlite:// or postgres://)")
        );
    }

    #[test]
    fn short_secrets_are_refused_and_never_printed() {
        assert!(JwtSecret::new(vec![b'a'; 31]).is_err());
        let secret = JwtSecret::new(vec![b'a'; 32]).ok();
        assert_eq!(format!("{secret:?}"), "Some(JwtSecret(…))");
    }

    #[test]
    fn the_generated_secret_is_private_and_stable() {
        let dir = tempfile::tempdir().ok();
        let Some(dir) = dir else { panic!("no tempdir") };
        let db = dir.path().join("painline.db");
        let first = load_or_create_secret(&db).ok().map(|s| s.expose().to_vec());
        let second = load_or_create_secret(&db).ok().map(|s| s.expose().to_vec());
        assert!(first.is_some());
        assert_eq!(first, second);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("jwt-secret"))
                .map(|m| m.permissions().mode() & 0o777)
                .ok();
            assert_eq!(mode, Some(0o600));
        }
    }
}
