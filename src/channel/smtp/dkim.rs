//! The DKIM signature of the channel's `dkim:` (RFC 6376): which headers it covers and
//! how it is canonicalised. lettre signs; the parent module signs off the async workers.

use anyhow::bail;
use lettre::message::dkim::{DkimCanonicalization, DkimCanonicalizationType, DkimConfig};
use lettre::message::header::HeaderName;

use crate::campaign;
use crate::channel::email::Sender;

/// The headers a DKIM signature covers (`h=`), besides the channel's own `headers:`.
/// RFC 8058 asks for both `List-Unsubscribe` headers; a header a message lacks is listed
/// all the same, so that nobody can add it on the way without breaking the signature.
/// Not `Content-Type`: lettre writes it with the body's parts, outside the headers it
/// signs, so listing it would break every signature (the body hash covers the parts).
const SIGNED_HEADERS: [&str; 9] = [
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "MIME-Version",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "X-Loa-Message",
];

/// The signing configuration of `dkim`, relaxed/relaxed (a relay that refolds a header
/// does not break it). Fails on a key that does not parse, naming the field.
pub(super) fn dkim_config(dkim: &campaign::Dkim, sender: &Sender) -> anyhow::Result<DkimConfig> {
    if dkim.key.expose().trim().is_empty() {
        bail!("`dkim.key` is empty: put the private key in the variable it names");
    }
    let key = campaign::dkim_signing_key(dkim.key.expose(), dkim.algorithm)
        .map_err(|why| anyhow::anyhow!("`dkim.key` does not parse: {why}"))?;
    let mut headers: Vec<HeaderName> = SIGNED_HEADERS
        .iter()
        .map(|h| HeaderName::new_from_ascii_str(h))
        .collect();
    headers.extend(sender.headers.iter().map(|(name, _)| name.clone()));
    Ok(DkimConfig::new(
        dkim.selector.clone(),
        dkim.domain.clone(),
        key,
        headers,
        DkimCanonicalization {
            header: DkimCanonicalizationType::Relaxed,
            body: DkimCanonicalizationType::Relaxed,
        },
    ))
}
