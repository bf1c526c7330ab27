//! `loa submit CAMPAIGN --user NAME` and `loa approve CAMPAIGN --user NAME`: four-eyes
//! approval of the exact content (issue 17, docs/approval.md).
//!
//! Both load the campaign as it is now on disk and name it by its approval hash
//! ([`crate::campaign::approval_hash`]): what is approved is that version and no other.
//! `submit` needs the role operator or above, `approve` approver or above, and an account
//! that did not request this version. The account's password is read as `loa retry --user`
//! reads it (standard input when it is not a terminal, else a prompt). The ledger writes
//! the audit row naming the account with the request or approval itself.

use std::io::Write as _;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use chrono::Utc;

use super::Global;
use crate::account::Role;
use crate::campaign::{Campaign, DataScan, Workspace, approval_hash, approvers_needed};
use crate::store::{ApprovalStep, Store};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The campaign id (`campaign:` in its file).
    pub campaign: String,
    /// Act as this staff account (its password is read from standard input, or asked for on
    /// a terminal); the audit trail names it.
    #[arg(long, value_name = "NAME")]
    pub user: String,
}

/// One version of a campaign as it is on disk now.
struct Version {
    hash: String,
    needed: u8,
}

/// `loa submit`: requests approval of the version on disk.
pub(super) async fn submit(global: &Global, args: &Args) -> Result<ExitCode> {
    let store = Store::open_existing(&global.database_url).await?;
    let Some(version) = version(global, &args.campaign)? else {
        return Ok(ExitCode::FAILURE);
    };
    let account = super::user::act_as(&store, Some(&args.user), Role::Operator).await?;
    let step = ApprovalStep {
        campaign: &args.campaign,
        hash: &version.hash,
        account: &account,
        needed: version.needed,
    };
    store
        .request_approval(&step, Utc::now().timestamp_millis())
        .await?;
    writeln!(
        std::io::stdout().lock(),
        "Đã gửi yêu cầu duyệt {} (phiên bản {}); cần {} người duyệt khác {account}.",
        args.campaign,
        version.hash,
        version.needed
    )?;
    Ok(ExitCode::SUCCESS)
}

/// `loa approve`: approves the version on disk, which someone else must have requested.
pub(super) async fn approve(global: &Global, args: &Args) -> Result<ExitCode> {
    let store = Store::open_existing(&global.database_url).await?;
    let Some(version) = version(global, &args.campaign)? else {
        return Ok(ExitCode::FAILURE);
    };
    let account = super::user::act_as(&store, Some(&args.user), Role::Approver).await?;
    let step = ApprovalStep {
        campaign: &args.campaign,
        hash: &version.hash,
        account: &account,
        needed: version.needed,
    };
    let now = store.approve(&step, Utc::now().timestamp_millis()).await?;
    let mut out = std::io::stdout().lock();
    if now.is_approved() {
        writeln!(
            out,
            "Đã duyệt {} (phiên bản {}): chiến dịch gửi phiên bản này.",
            args.campaign, version.hash
        )?;
    } else {
        writeln!(
            out,
            "Đã ghi nhận duyệt của {account} cho {} (phiên bản {}); còn cần thêm người duyệt \
             thứ hai (approval: second_above).",
            args.campaign, version.hash
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The version of `id` on disk; `None` after printing the workspace's errors (a campaign
/// that does not load cannot be approved).
fn version(global: &Global, id: &str) -> Result<Option<Version>> {
    let (ws, diags) = super::load_quietly(
        global,
        std::slice::from_ref(&global.campaigns),
        DataScan::Headers,
    );
    if super::report(&diags) {
        return Ok(None);
    }
    let ws = ws.ok_or_else(|| anyhow::anyhow!("the workspace did not load"))?;
    let campaign = find(&ws, id)?;
    let hash = approval_hash(campaign, &ws.templates)?;
    let needed = approvers_needed(campaign, &ws.renderer)
        .with_context(|| format!("counting the recipients of {id}"))?;
    Ok(Some(Version { hash, needed }))
}

fn find<'a>(ws: &'a Workspace, id: &str) -> Result<&'a Campaign> {
    ws.campaign(id).ok_or_else(|| {
        let ids = ws.campaigns.iter().map(|c| c.id.as_str());
        anyhow::anyhow!(
            "there is no campaign {id:?} in the campaign folder; {}",
            crate::campaign::suggest(id, ids)
        )
    })
}
