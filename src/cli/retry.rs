//! `loa retry CAMPAIGN [--step S] [--state failed] [--user NAME]`: puts messages back in the
//! queue; with `--user`, as that staff account (role `operator` or above, its password read
//! from standard input or asked for), which the audit row then names.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;
use chrono::Utc;

use super::Global;
use super::format::thousands;
use crate::account::Role;
use crate::store::{AuditAction, AuditEntry, MessageState, Store};

#[derive(Debug, clap::Args)]
pub struct Args {
    pub campaign: String,
    #[arg(long)]
    pub step: Option<String>,
    /// Which messages to re-queue: failed (default) or expired.
    #[arg(long, default_value = MessageState::Failed.as_str(), value_parser = retryable())]
    pub state: MessageState,
    /// Act as this staff account (role operator or above; its password is read from standard
    /// input, or asked for on a terminal): the audit trail names it instead of the system user.
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,
}

/// The states `--state` accepts, listed by `--help` and in clap's error for another word.
fn retryable() -> impl clap::builder::TypedValueParser<Value = MessageState> {
    use clap::builder::TypedValueParser as _;
    let words = [MessageState::Failed, MessageState::Expired].map(MessageState::as_str);
    clap::builder::PossibleValuesParser::new(words)
        .map(|word| word.parse().expect("one of the possible values"))
}

pub(super) async fn run(global: &Global, args: &Args) -> Result<ExitCode> {
    let store = Store::open_existing(&global.database_url).await?;
    super::known_campaign(&store, global, &args.campaign).await?;
    if let Some(step) = &args.step {
        super::known_step(&store, &args.campaign, step).await?;
    }
    let actor = super::user::act_as(&store, args.user.as_deref(), Role::Operator).await?;
    let n = store
        .retry(
            &args.campaign,
            args.step.as_deref(),
            args.state,
            Utc::now().timestamp_millis(),
        )
        .await?;
    // One audit row per action, from the command line as from the dashboard
    // (docs/reliability.md#r15).
    let hash = store
        .campaign_row(&args.campaign)
        .await?
        .map(|c| c.content_hash);
    let detail = format!(
        "{} {} message(s) re-queued{}",
        n,
        args.state,
        args.step
            .as_deref()
            .map(|s| format!(" in step {s}"))
            .unwrap_or_default()
    );
    let entry = AuditEntry {
        actor: &actor,
        action: AuditAction::Retry,
        campaign: Some(&args.campaign),
        content_hash: hash.as_deref(),
        audience: Some(n),
        detail: Some(&detail),
    };
    store.audit(&entry, Utc::now().timestamp_millis()).await?;
    writeln!(
        std::io::stdout().lock(),
        "{} tin nhắn ({}) được đưa lại vào hàng đợi.",
        thousands(n),
        args.state
    )?;
    Ok(ExitCode::SUCCESS)
}
