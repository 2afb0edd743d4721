//! The subcommands.

use std::io::Read;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use peerpx_aggregates::account::{password_problem, Registration};
use peerpx_aggregates::{AccountCommand, InstanceCommand, Role};
use peerpx_projections::log::metadata;
use peerpx_projections::{accounts, migrate, now_millis, Commands, Db};
use tokio::net::TcpListener;

use crate::config::{AdminCommand, Cli, Command, ServeArgs, StoreArgs};
use crate::node::{default_media_workers, Node, NodeConfig, Store};

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => serve(&cli.store, args).await,
        Command::Migrate => {
            let url = cli.store.url();
            if url.starts_with("sqlite:") {
                std::fs::create_dir_all(&cli.store.data_dir).with_context(|| {
                    format!(
                        "cannot create data directory {}",
                        cli.store.data_dir.display()
                    )
                })?;
            }
            let db = Db::connect(&url).await?;
            let applied = migrate::run(&db).await?;
            println!("{} migration(s) applied", applied.len());
            Ok(())
        }
        Command::Replay { projection } => replay(&cli.store, projection.as_deref()).await,
        Command::Admin(command) => admin(&cli.store, command).await,
        Command::Gc { grace_secs } => gc(&cli.store, grace_secs).await,
    }
}

/// `peerpx gc`: removes the blocks no photo reaches, older than the grace period.
async fn gc(args: &StoreArgs, grace_secs: u64) -> anyhow::Result<()> {
    use peerpx_api::gc;
    let store = Store::open(&args.data_dir, &args.url()).await?;
    let blocks = gc::blocks_dir(&args.data_dir);
    let report = gc::collect(
        &store.projector,
        &store.db,
        &blocks,
        Duration::from_secs(grace_secs),
    )
    .await?;
    println!(
        "removed {} block(s), {} bytes; kept {} block(s), {} bytes ({} unreferenced but younger \
         than {grace_secs} s); {} live file(s)",
        report.removed_blocks,
        report.removed_bytes,
        report.kept_blocks,
        report.kept_bytes,
        report.young_blocks,
        report.live_roots,
    );
    if report.missing_blocks > 0 {
        eprintln!(
            "warning: {} block(s) that live photos need are missing from {}",
            report.missing_blocks,
            blocks.display()
        );
    }
    store.db.close().await;
    Ok(())
}

async fn serve(store: &StoreArgs, args: ServeArgs) -> anyhow::Result<()> {
    if args.protocol == "http" {
        tracing::warn!(
            "serving with --protocol http: public URLs are plain http; use only for local testing"
        );
    }
    if args.allow_private_addresses {
        tracing::warn!(
            "serving with --allow-private-addresses: federation may reach loopback and private addresses; use only for local testing"
        );
    }
    let config = NodeConfig {
        token_lifetime: (args.token_lifetime_secs > 0)
            .then(|| Duration::from_secs(args.token_lifetime_secs)),
        login_failures_per_account: args.login_failures_per_account,
        login_attempts_per_ip: args.login_attempts_per_ip,
        login_window: Duration::from_secs(args.login_window_secs),
        max_profile_image_bytes: args.max_profile_image_mb * 1024 * 1024,
        max_upload_bytes: args.max_upload_mb * 1024 * 1024,
        max_upload_pixels: args.max_upload_megapixels * 1_000_000,
        media_workers: args.media_workers.unwrap_or_else(default_media_workers),
        max_media_per_status: args.max_media_per_status,
        allow_private_addresses: args.allow_private_addresses,
        authorized_fetch: args.authorized_fetch,
        delivery_give_up: Duration::from_secs(args.delivery_give_up_hours * 3600),
        protocol: args.protocol.clone(),
        ..NodeConfig::new(store.data_dir.clone(), Some(store.url()), &args.domain)
    };
    let listener = TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let node = Node::start(config, listener).await?;
    println!(
        "peerpx is serving {}://{} on http://{}",
        args.protocol, args.domain, node.addr
    );
    shutdown_signal().await;
    tracing::info!("shutting down: finishing requests in flight");
    node.shutdown().await?;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
}

async fn replay(store: &StoreArgs, only: Option<&str>) -> anyhow::Result<()> {
    let store = Store::open(&store.data_dir, &store.url()).await?;
    let started = Instant::now();
    let report = store.projector.replay(only).await?;
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "rebuilt {} from {} events in {elapsed:.2} s ({:.0} events/s), checkpoint {}",
        report.projections.join(", "),
        report.events,
        report.events as f64 / elapsed.max(1e-9),
        report.position
    );
    Ok(())
}

/// Reads a password from standard input, checks it against the rules and hashes it.
async fn read_password_hash() -> anyhow::Result<String> {
    let password = read_password()?;
    peerpx_api::auth::hash_password(password)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))
}

fn read_password() -> anyhow::Result<String> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .context("cannot read the password from standard input")?;
    let password = text.lines().next().unwrap_or_default().to_string();
    if let Some(problem) = password_problem(&password) {
        bail!("{problem}");
    }
    Ok(password)
}

async fn admin(store: &StoreArgs, command: AdminCommand) -> anyhow::Result<()> {
    let store = Store::open(&store.data_dir, &store.url()).await?;
    let commands = Commands::new(store.log.clone());
    let meta = || metadata(None, "cli");
    let position = match command {
        AdminCommand::CreateUser {
            name,
            email,
            admin,
            password_stdin: _,
        } => {
            let password_hash = read_password_hash().await?;
            if accounts::email_taken(&store.db, &email).await? {
                bail!("the email address {email} is already used by another account");
            }
            let key = tokio::task::spawn_blocking(peerpx_federation::keys::generate).await??;
            let registration = Registration {
                id: peerpx_api::auth::new_id(),
                username: name.clone(),
                email,
                password_hash,
                locale: "en".into(),
                reason: None,
                role: if admin { Role::Admin } else { Role::User },
                approved: true,
                at: now_millis(),
                key: Some(key),
            };
            let p = commands
                .account(&name, AccountCommand::Register(registration), meta())
                .await
                .map_err(|e| anyhow::anyhow!("cannot create {name}: {e}"))?;
            println!("created {}{name}", if admin { "admin " } else { "" });
            p
        }
        AdminCommand::Approve { name } => {
            let p = commands
                .account(&name, AccountCommand::Approve { at: now_millis() }, meta())
                .await
                .map_err(|e| anyhow::anyhow!("cannot approve {name}: {e}"))?;
            println!("approved {name}");
            p
        }
        AdminCommand::SetPassword {
            name,
            password_stdin: _,
        } => {
            let password_hash = read_password_hash().await?;
            let p = commands
                .account(
                    &name,
                    AccountCommand::ChangePassword {
                        password_hash,
                        at: now_millis(),
                    },
                    meta(),
                )
                .await
                .map_err(|e| anyhow::anyhow!("cannot change the password of {name}: {e}"))?;
            // A new password ends every session: revoke the account's tokens.
            if let Some(account) = accounts::by_username(&store.db, &name).await? {
                let revoked = sqlx::query(&store.db.sql(
                    "UPDATE oauth_tokens SET revoked_at = ? WHERE account_id = ? AND revoked_at IS NULL",
                ))
                .bind(now_millis())
                .bind(account.id)
                .execute(&store.db.pool)
                .await?;
                println!(
                    "password of {name} changed; {} token(s) revoked",
                    revoked.rows_affected()
                );
            }
            p
        }
        AdminCommand::SetRole { name, role } => {
            let role = match role.as_str() {
                "admin" => Role::Admin,
                "moderator" => Role::Moderator,
                _ => Role::User,
            };
            let p = commands
                .account(
                    &name,
                    AccountCommand::ChangeRole {
                        role,
                        at: now_millis(),
                    },
                    meta(),
                )
                .await
                .map_err(|e| anyhow::anyhow!("cannot change the role of {name}: {e}"))?;
            println!("{name} is now {}", role.as_str());
            p
        }
        AdminCommand::SetRegistrations { mode } => {
            let mode = mode.parse().map_err(|e| anyhow::anyhow!("{e}"))?;
            let p = commands
                .instance(
                    InstanceCommand::SetRegistrationsMode {
                        mode,
                        at: now_millis(),
                    },
                    meta(),
                )
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("registrations are now {}", mode.as_str());
            p
        }
    };
    // Apply the new events to the read models now; a serving node would also pick them up.
    if position > 0 {
        store.projector.catch_up().await?;
    }
    store.db.close().await;
    Ok(())
}
