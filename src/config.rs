//! Configuration: flags, then `PEERPX_*` environment variables, then a TOML file, then defaults.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::parser::ValueSource;
use clap::{ArgMatches, Args, Parser, Subcommand, ValueEnum};
use serde::Deserialize;

#[derive(Parser, Debug)]
#[command(name = "peerpx", version, about = "A federated photo-sharing node")]
pub struct Cli {
    #[command(flatten)]
    pub store: StoreArgs,
    /// A TOML file with any of the options below (flags and environment variables win over it).
    #[arg(long, env = "PEERPX_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Log format: human-readable text or one JSON object per line. Filter with RUST_LOG.
    #[arg(
        long,
        env = "PEERPX_LOG_FORMAT",
        value_enum,
        default_value = "text",
        global = true
    )]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Args, Debug, Clone)]
pub struct StoreArgs {
    /// Where the node keeps its files (and its SQLite database unless --database-url says otherwise).
    #[arg(
        long,
        env = "PEERPX_DATA_DIR",
        default_value = "./peerpx-data",
        global = true
    )]
    pub data_dir: PathBuf,
    /// sqlite://FILE, postgres://USER@HOST/DB or mysql://USER@HOST/DB. Default: SQLite in the data dir.
    #[arg(long, env = "PEERPX_DATABASE_URL", global = true)]
    pub database_url: Option<String>,
}

impl StoreArgs {
    pub fn url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| peerpx_projections::db::default_sqlite_url(&self.data_dir))
    }
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the node: the HTTP API, OAuth and the projections.
    Serve(ServeArgs),
    /// Apply database migrations and exit.
    Migrate,
    /// Drop read models and rebuild them from the event log.
    Replay {
        /// Only this read model (accounts, instance).
        #[arg(long)]
        projection: Option<String>,
    },
    /// Administration that works whether or not a node is serving the same database.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Remove stored blocks that no photo refers to any more (deleted photos, deleted posts,
    /// failed uploads). Safe beside a serving node: uploads in progress wait for it.
    Gc {
        /// Keep unreferenced blocks younger than this many seconds.
        #[arg(long, default_value_t = peerpx_storage::gc::DEFAULT_GRACE_SECS)]
        grace_secs: u64,
    },
}

#[derive(Subcommand, Debug)]
pub enum AdminCommand {
    /// Create an approved account; the password is read from standard input.
    CreateUser {
        name: String,
        #[arg(long)]
        email: String,
        /// Give the account the admin role.
        #[arg(long)]
        admin: bool,
        /// Read the password from standard input (required: passwords never go on the command line).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// Approve an account waiting for approval.
    Approve { name: String },
    /// Set an account's password (read from standard input) and sign it out everywhere.
    SetPassword {
        name: String,
        /// Read the password from standard input (required: passwords never go on the command line).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// Give an account the user, moderator or admin role.
    SetRole {
        name: String,
        #[arg(value_parser = ["user", "moderator", "admin"])]
        role: String,
    },
    /// Set who may register: open, approval or closed.
    SetRegistrations {
        #[arg(value_parser = ["open", "approval", "closed"])]
        mode: String,
    },
}

#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "PEERPX_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Public host[:port] of the node, used in every id (`@user@DOMAIN`) and URL.
    #[arg(long, env = "PEERPX_DOMAIN", default_value = "localhost:8080")]
    pub domain: String,
    /// Scheme of public URLs: https in production, http for local testing.
    #[arg(long, env = "PEERPX_PROTOCOL", default_value = "https", value_parser = ["https", "http"])]
    pub protocol: String,
    /// Access tokens expire after this many seconds; 0 means never (Mastodon's behaviour).
    #[arg(long, env = "PEERPX_TOKEN_LIFETIME_SECS", default_value_t = 0)]
    pub token_lifetime_secs: u64,
    /// Failed logins allowed per account within the login window.
    #[arg(long, env = "PEERPX_LOGIN_FAILURES_PER_ACCOUNT", default_value_t = 10)]
    pub login_failures_per_account: u32,
    /// Login attempts allowed per IP address within the login window.
    #[arg(long, env = "PEERPX_LOGIN_ATTEMPTS_PER_IP", default_value_t = 30)]
    pub login_attempts_per_ip: u32,
    /// The login rate-limit window, in seconds.
    #[arg(long, env = "PEERPX_LOGIN_WINDOW_SECS", default_value_t = 300)]
    pub login_window_secs: u64,
    /// Largest avatar or header upload, in megabytes.
    #[arg(long, env = "PEERPX_MAX_PROFILE_IMAGE_MB", default_value_t = 8)]
    pub max_profile_image_mb: usize,
    /// Largest photo upload, in megabytes.
    #[arg(long, env = "PEERPX_MAX_UPLOAD_MB", default_value_t = 40)]
    pub max_upload_mb: u64,
    /// Largest photo, in decoded megapixels (a guard against decompression bombs).
    #[arg(long, env = "PEERPX_MAX_UPLOAD_MEGAPIXELS", default_value_t = 100)]
    pub max_upload_megapixels: u64,
    /// Photos processed at once; further uploads wait their turn (default: the number of cores).
    #[arg(long, env = "PEERPX_MEDIA_WORKERS")]
    pub media_workers: Option<usize>,
    /// Most photos attached to one post.
    #[arg(long, env = "PEERPX_MAX_MEDIA_PER_STATUS", default_value_t = 10)]
    pub max_media_per_status: usize,
    /// Let federation fetch from and deliver to loopback, private and link-local addresses
    /// (refused by default, after DNS resolution); for multi-node tests on one machine only.
    #[arg(long, env = "PEERPX_ALLOW_PRIVATE_ADDRESSES")]
    pub allow_private_addresses: bool,
    /// Authorized-fetch mode: serve ActivityPub actors, objects and collections only to requests
    /// with a valid HTTP signature from a domain this node does not block (as Mastodon's
    /// AUTHORIZED_FETCH); pages for people, WebFinger and NodeInfo stay open.
    #[arg(long, env = "PEERPX_AUTHORIZED_FETCH")]
    pub authorized_fetch: bool,
    /// Stop retrying an activity's delivery this many hours after it was queued.
    #[arg(long, env = "PEERPX_DELIVERY_GIVE_UP_HOURS", default_value_t = 48, value_parser = clap::value_parser!(u64).range(1..))]
    pub delivery_give_up_hours: u64,
}

/// The TOML file: every key optional, named as the long flag with `_` for `-`.
#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    pub log_format: Option<LogFormat>,
    pub listen: Option<String>,
    pub domain: Option<String>,
    pub protocol: Option<String>,
    pub token_lifetime_secs: Option<u64>,
    pub login_failures_per_account: Option<u32>,
    pub login_attempts_per_ip: Option<u32>,
    pub login_window_secs: Option<u64>,
    pub max_profile_image_mb: Option<usize>,
    pub max_upload_mb: Option<u64>,
    pub max_upload_megapixels: Option<u64>,
    pub media_workers: Option<usize>,
    pub max_media_per_status: Option<usize>,
    pub allow_private_addresses: Option<bool>,
    pub authorized_fetch: Option<bool>,
    pub delivery_give_up_hours: Option<u64>,
}

impl FileConfig {
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config file {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("invalid config file {}", path.display()))
    }
}

/// True when neither a flag nor an environment variable gave the value.
fn unset(m: &ArgMatches, id: &str) -> bool {
    !matches!(
        m.value_source(id),
        Some(ValueSource::CommandLine | ValueSource::EnvVariable)
    )
}

fn fill<T>(target: &mut T, m: &ArgMatches, id: &str, file: Option<T>) {
    if let Some(v) = file {
        if unset(m, id) {
            *target = v;
        }
    }
}

/// Parses the command line and merges the config file under it.
pub fn parse() -> anyhow::Result<Cli> {
    use clap::{CommandFactory, FromArgMatches};
    let matches = Cli::command().get_matches();
    let mut cli = Cli::from_arg_matches(&matches)?;
    let Some(path) = cli.config.clone() else {
        return Ok(cli);
    };
    let f = FileConfig::load(&path)?;
    fill(&mut cli.store.data_dir, &matches, "data_dir", f.data_dir);
    if unset(&matches, "database_url") && f.database_url.is_some() {
        cli.store.database_url = f.database_url;
    }
    fill(&mut cli.log_format, &matches, "log_format", f.log_format);
    if let (Command::Serve(s), Some(("serve", m))) = (&mut cli.command, matches.subcommand()) {
        fill(&mut s.listen, m, "listen", f.listen);
        fill(&mut s.domain, m, "domain", f.domain);
        fill(&mut s.protocol, m, "protocol", f.protocol);
        fill(
            &mut s.token_lifetime_secs,
            m,
            "token_lifetime_secs",
            f.token_lifetime_secs,
        );
        fill(
            &mut s.login_failures_per_account,
            m,
            "login_failures_per_account",
            f.login_failures_per_account,
        );
        fill(
            &mut s.login_attempts_per_ip,
            m,
            "login_attempts_per_ip",
            f.login_attempts_per_ip,
        );
        fill(
            &mut s.login_window_secs,
            m,
            "login_window_secs",
            f.login_window_secs,
        );
        fill(
            &mut s.max_profile_image_mb,
            m,
            "max_profile_image_mb",
            f.max_profile_image_mb,
        );
        fill(&mut s.max_upload_mb, m, "max_upload_mb", f.max_upload_mb);
        fill(
            &mut s.max_upload_megapixels,
            m,
            "max_upload_megapixels",
            f.max_upload_megapixels,
        );
        if unset(m, "media_workers") && f.media_workers.is_some() {
            s.media_workers = f.media_workers;
        }
        fill(
            &mut s.max_media_per_status,
            m,
            "max_media_per_status",
            f.max_media_per_status,
        );
        fill(
            &mut s.allow_private_addresses,
            m,
            "allow_private_addresses",
            f.allow_private_addresses,
        );
        fill(
            &mut s.authorized_fetch,
            m,
            "authorized_fetch",
            f.authorized_fetch,
        );
        fill(
            &mut s.delivery_give_up_hours,
            m,
            "delivery_give_up_hours",
            f.delivery_give_up_hours,
        );
    }
    Ok(cli)
}
