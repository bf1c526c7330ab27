//! `loa run`: the daemon — schedules, enqueues and delivers until SIGINT/SIGTERM.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, Result};

use super::Global;
use crate::campaign::{DataScan, EnvPolicy, LoadOptions, Workspace};
use crate::daemon::{self, DaemonSettings};
use crate::dispatch::{Dispatcher, Settings};
use crate::store::Store;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Public base URL of this daemon, for unsubscribe links in e-mails.
    #[arg(long, env = "LOA_PUBLIC_URL", default_value = "http://127.0.0.1:8080")]
    pub public_url: String,
    /// Minutes after its time an occurrence first seen by the daemon is still sent; older
    /// ones are recorded as missed.
    #[arg(long, default_value_t = 60)]
    pub grace_minutes: u64,
}

pub async fn run(global: &Global, args: &Args) -> Result<ExitCode> {
    let env = if global.outbox.is_some() {
        EnvPolicy::Optional
    } else {
        EnvPolicy::Required
    };
    let (ws, diags) = Workspace::load(
        std::slice::from_ref(&global.campaigns),
        &global.templates,
        LoadOptions {
            env,
            data: DataScan::Headers,
        },
    );
    if super::report(&diags) {
        return Ok(ExitCode::FAILURE);
    }
    let ws = Arc::new(ws.context("the workspace did not load")?);
    let store = Store::open(&global.database_url).await?;
    let settings = Settings {
        public_url: args.public_url.clone(),
        ..Settings::default()
    };
    let owner = settings.owner.clone();
    let tokens = Arc::new(crate::dispatch::tokens::DbTokens::new(store.clone()));
    let dispatcher = Dispatcher::new(
        store.clone(),
        Arc::clone(&ws),
        global.outbox.as_deref(),
        tokens,
        settings,
    )?;
    if let Some(dir) = &global.outbox {
        eprintln!(
            "loa: delivering to files under {} (--outbox); Ctrl-C to stop",
            dir.display()
        );
    }
    let daemon_settings = DaemonSettings {
        grace: std::time::Duration::from_secs(args.grace_minutes * 60),
        ..DaemonSettings::default()
    };
    daemon::run(
        store,
        ws,
        dispatcher,
        daemon_settings,
        &owner,
        daemon::shutdown_signal(),
    )
    .await?;
    Ok(ExitCode::SUCCESS)
}
