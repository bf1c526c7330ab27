//! Campaign registration: the ledger's `campaign` rows follow the loaded workspace, each
//! with the content hash of its file, and the daemon's audit trail (docs/reliability.md#r15) records every
//! launch and every new version.

use anyhow::{Context as _, Result};
use chrono::Utc;

use crate::campaign::Workspace;
use crate::store::{AuditAction, AuditEntry, CampaignRow, Store};

/// Records what was loaded, with a content hash of each campaign file.
pub async fn register(store: &Store, ws: &Workspace) -> Result<()> {
    for row in rows(ws)? {
        store.upsert_campaign(&row).await?;
    }
    Ok(())
}

/// [`register`] for the daemon, which also writes an audit row (docs/reliability.md#r15) for each campaign it
/// launches (first loaded) or runs in a new version (its file changed): who, when, the
/// content hash, and the status it runs with. A restart on the same files writes none.
pub(crate) async fn register_audited(store: &Store, ws: &Workspace) -> Result<()> {
    let now = Utc::now().timestamp_millis();
    for row in rows(ws)? {
        let before = store.campaign_row(&row.id).await?;
        let action = match &before {
            None => Some(AuditAction::Launch),
            Some(b) if b.content_hash != row.content_hash => Some(AuditAction::Edit),
            Some(_) => None,
        };
        store.upsert_campaign(&row).await?;
        if let Some(action) = action {
            let detail = format!("loa run loaded {} (status {})", row.file, row.status);
            let entry = AuditEntry {
                actor: "loa run",
                action,
                campaign: Some(&row.id),
                content_hash: Some(&row.content_hash),
                audience: None,
                detail: Some(&detail),
            };
            store.audit(&entry, now).await?;
        }
    }
    Ok(())
}

fn rows(ws: &Workspace) -> Result<Vec<CampaignRow>> {
    ws.campaigns
        .iter()
        .map(|c| {
            let text =
                std::fs::read(&c.file).with_context(|| format!("reading {}", c.file.display()))?;
            Ok(CampaignRow {
                id: c.id.clone(),
                title: c.title.clone(),
                status: c.status.as_str().into(),
                content_hash: crate::store::content_hash(&text),
                file: c.file.display().to_string(),
            })
        })
        .collect()
}
