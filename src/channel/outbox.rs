//! The outbox: every channel delivers to files instead of the network (`--outbox`,
//! docs/cli.md#outbox).
//!
//! `<dir>/<campaign>/<step>/<channel>/<message_id>.eml` holds the complete RFC 5322 message
//! built by [`super::email`]; `.json` holds what a webhook or Zalo channel would send:
//! `{"body": <the request body, as JSON when it parses, else the string>, "request":
//! {"method", "url", "headers"}}`, with credentials in headers and URL replaced by
//! `[REDACTED]` (the Zalo `access_token` is never even looked up).
//!
//! Files are written to a temporary name in the same folder, flushed to disk and renamed, so
//! a crash leaves either the old file or the new one, never half of one. Writing the same
//! message again replaces the file: delivering to the outbox is idempotent.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use futures::future::BoxFuture;
use serde_json::{Map, Value, json};
use tokio::io::AsyncWriteExt;

use super::email::{self, Sender};
use super::webhook::{self, Prepared};
use super::{Channel, ChannelError, Outgoing, REDACTED, Receipt, check_message_id, zalo};
use crate::campaign::{self, ChannelKind};

enum Kind {
    Email(Sender),
    Webhook(webhook::Spec),
    Zalo(zalo::Spec),
}

pub(crate) struct OutboxChannel {
    dir: PathBuf,
    campaign: String,
    kind: Kind,
}

impl OutboxChannel {
    /// Checks the channel as the network channel would (From, headers, URLs), without
    /// needing any secret that only the network uses.
    pub(crate) fn new(ch: &campaign::Channel, dir: &Path, campaign: &str) -> anyhow::Result<Self> {
        let kind = match ch.kind {
            ChannelKind::Smtp => {
                let from = ch
                    .from
                    .as_deref()
                    .ok_or_else(|| anyhow::anyhow!("an smtp channel needs `from`"))?;
                Kind::Email(Sender::new(
                    from,
                    ch.headers.iter().map(|(k, v)| (k.as_str(), v.expose())),
                )?)
            }
            ChannelKind::Webhook => Kind::Webhook(webhook::Spec::lenient(ch)?),
            ChannelKind::ZaloZns => Kind::Zalo(zalo::Spec::new(ch)?),
        };
        Ok(Self {
            dir: dir.to_path_buf(),
            campaign: campaign.to_string(),
            kind,
        })
    }

    /// Where `msg` goes, without the extension.
    fn path(&self, msg: &Outgoing) -> Result<PathBuf, ChannelError> {
        check_message_id(&msg.message_id)?;
        let mut p = self.dir.clone();
        for part in [&self.campaign, &msg.step, &msg.channel] {
            let safe = !part.is_empty()
                && part != "."
                && part != ".."
                && !part.contains(['/', '\\', '\0']);
            if !safe {
                return Err(ChannelError::permanent(format!(
                    "{part:?} cannot be a folder name in the outbox"
                )));
            }
            p.push(part);
        }
        p.push(&msg.message_id);
        Ok(p)
    }

    async fn deliver(&self, msg: &Outgoing) -> Result<Receipt, ChannelError> {
        let base = self.path(msg)?;
        let (ext, bytes) = match &self.kind {
            Kind::Email(sender) => ("eml", email::build(sender, msg)?.formatted()),
            Kind::Webhook(spec) => (
                "json",
                request_file(&spec.prepare(msg, webhook::unix_now())?),
            ),
            Kind::Zalo(spec) => ("json", request_file(&spec.prepare(msg, REDACTED)?)),
        };
        let path = base.with_extension(ext);
        write_atomically(&path, &bytes).await.map_err(|e| {
            // The outbox folder is ours: a write failure will not heal by itself per message.
            ChannelError::paused(format!("cannot write {}: {e}", path.display()))
        })?;
        Ok(Receipt { provider_id: None })
    }
}

impl Channel for OutboxChannel {
    fn send<'a>(&'a self, msg: &'a Outgoing) -> BoxFuture<'a, Result<Receipt, ChannelError>> {
        Box::pin(self.deliver(msg))
    }
}

/// The `.json` file for one request (docs/cli.md#outbox).
fn request_file(req: &Prepared) -> Vec<u8> {
    let body = serde_json::from_str::<Value>(&req.body)
        .unwrap_or_else(|_| Value::String(req.body.clone()));
    let headers: Map<String, Value> = req
        .masked_headers()
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    let file = json!({
        "body": body,
        "request": {
            "method": req.method,
            "url": req.masked_url(),
            "headers": headers,
        },
    });
    let mut out = serde_json::to_vec_pretty(&file).expect("JSON values serialise");
    out.push(b'\n');
    out
}

/// Writes `bytes` to `path` through a temporary file in the same folder and a rename.
pub(crate) async fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = path.parent().unwrap_or(Path::new("."));
    tokio::fs::create_dir_all(dir).await?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(
        ".{name}.{}-{}.tmp",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = async {
        let mut f = tokio::fs::File::create(&tmp).await?;
        f.write_all(bytes).await?;
        f.sync_all().await?;
        drop(f);
        tokio::fs::rename(&tmp, path).await
    }
    .await;
    if result.is_err() {
        let _ = tokio::fs::remove_file(&tmp).await;
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn writing_twice_replaces_the_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/m1.json");
        write_atomically(&path, b"first").await.unwrap();
        write_atomically(&path, b"second").await.unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["m1.json"]);
    }
}
