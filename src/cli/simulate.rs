//! `loa simulate FILE`: the whole campaign in virtual time, delivered to the outbox.
//!
//! Every occurrence between `--from` and `--to` is enqueued at its own instant against today's
//! data and dispatched at once to files (`--outbox`, default `outbox/`). A scratch database
//! under the outbox keeps the real ledger untouched: `--database-url` on the command line is
//! refused rather than ignored, and the scratch ledger's place is printed with the status
//! table at the end.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};
use chrono::{DateTime, NaiveDate, Utc};
use indicatif::{ProgressBar, ProgressStyle};

use super::Global;
use crate::campaign::Workspace;
use crate::dispatch::enqueue::enqueue_due;
use crate::dispatch::{Dispatcher, Settings};
use crate::schedule;
use crate::store::Store;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The campaign file.
    pub file: PathBuf,
    /// First day to simulate (default: the start of the period).
    #[arg(long, value_parser = schedule::parse_date)]
    pub from: Option<NaiveDate>,
    /// Last day to simulate, inclusive (default: the end of the period).
    #[arg(long, value_parser = schedule::parse_date)]
    pub to: Option<NaiveDate>,
}

pub(super) async fn run(global: &Global, args: &Args) -> Result<ExitCode> {
    let Some(ws) = super::load_campaign_file(global, &args.file)? else {
        return Ok(ExitCode::FAILURE);
    };
    let outbox = global
        .outbox
        .clone()
        .unwrap_or_else(|| PathBuf::from("outbox"));
    let db = outbox
        .join(".simulate")
        .join(format!("{}.db", ws.campaigns[0].id));
    // Honouring it could replay a simulation into the real ledger (its occurrences would
    // then count as sent), so the scratch ledger stays where it is and the user is told.
    if global.database_url_given {
        anyhow::bail!(
            "simulate keeps its own scratch ledger, {}, and never writes to the one \
             --database-url names; drop --database-url here and read the simulation with \
             `loa --database-url sqlite://{} status`",
            db.display(),
            db.display()
        );
    }
    let store = scratch_ledger(&outbox, &db, &ws.campaigns[0].id).await?;
    crate::dispatch::register::register(&store, &ws).await?;
    let ws = Arc::new(rehearsed(ws));
    let dispatcher = dispatcher(&store, &ws, &outbox).await?;
    replay(&store, &ws, &dispatcher, instants(&ws, args.from, args.to)?).await?;
    let campaign = &ws.campaigns[0];
    let rows = store.status(Some(&campaign.id)).await?;
    let mut out = std::io::stdout().lock();
    write!(out, "{}", super::status::table(&rows))?;
    writeln!(
        out,
        "Các tin nhắn nằm trong {}/{}/",
        outbox.display(),
        campaign.id
    )?;
    writeln!(
        out,
        "Sổ ghi của lần mô phỏng: sqlite://{} (loa --database-url sqlite://{} status)",
        db.display(),
        db.display()
    )?;
    Ok(ExitCode::SUCCESS)
}

/// A fresh ledger at `db` and an empty outbox folder for `campaign`: each simulation starts
/// from nothing.
async fn scratch_ledger(outbox: &Path, db: &Path, campaign: &str) -> Result<Store> {
    let _ = std::fs::remove_dir_all(outbox.join(campaign));
    std::fs::create_dir_all(db.parent().context("outbox path")?)?;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    Store::open(&format!("sqlite://{}", db.display())).await
}

/// The daemon's dispatcher writing to `outbox`, without rate limits (nothing leaves the
/// machine) and with unsubscribe links signed by a key of the scratch ledger, so they look
/// as the daemon's will.
async fn dispatcher(store: &Store, ws: &Arc<Workspace>, outbox: &Path) -> Result<Dispatcher> {
    let now = chrono::Utc::now().timestamp_millis();
    let settings = Settings {
        rate_limits: false,
        unsubscribe_key: Some(crate::web::unsubscribe_key(store, None, now).await?),
        ..Settings::default()
    };
    let tokens = Arc::new(crate::dispatch::tokens::DbTokens::new(store.clone()));
    Dispatcher::new(
        store.clone(),
        Arc::clone(ws),
        Some(outbox),
        tokens,
        settings,
    )
}

/// Enqueues and delivers each occurrence at its own instant, in order, with a progress bar.
async fn replay(
    store: &Store,
    ws: &Arc<Workspace>,
    dispatcher: &Dispatcher,
    instants: Vec<DateTime<Utc>>,
) -> Result<()> {
    let tz = ws.campaigns[0].calendar.tz;
    let bar = ProgressBar::new(instants.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} lần gửi  {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let not_before = instants.first().copied();
    for t in instants {
        bar.set_message(super::format::local_time(&t.with_timezone(&tz)));
        enqueue_due(store, ws, 0, t, not_before, Duration::MAX).await?;
        while dispatcher.run_once(t).await?.claimed > 0 {}
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(())
}

/// The workspace as the dispatcher's gate sees it in a rehearsal: the campaign as if its
/// `status:` were `active`. One simulates a `draft` (the default) or `paused` campaign to
/// see what it will send once let go, so simulate sent them before the gate was shared with
/// the daemon's pump and still does. Operator holds need nothing here: they are kept in
/// the real ledger, and the scratch one has none.
fn rehearsed(mut ws: Workspace) -> Workspace {
    for c in &mut ws.campaigns {
        c.status = crate::campaign::Status::Active;
    }
    ws
}

/// Every distinct send instant of the campaign's steps within the days asked, in order.
fn instants(
    ws: &Workspace,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> Result<Vec<DateTime<Utc>>> {
    let c = &ws.campaigns[0];
    let mut out = Vec::new();
    for step in &c.steps {
        for o in schedule::occurrences(&c.calendar, &step.schedule)?.kept {
            let day = o.at.date_naive();
            if from.is_none_or(|f| day >= f) && to.is_none_or(|e| day <= e) {
                out.push(o.at.with_timezone(&Utc));
            }
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}
