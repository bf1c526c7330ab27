//! An e-mail channel's sender: its `from` mailbox and the extra `headers:` every message
//! carries, checked once. Shared by the SMTP channel, the outbox and `loa validate`.

use lettre::Address;
use lettre::message::Mailbox;
use lettre::message::header::HeaderName;

/// Headers the channel sets itself; `headers:` in the campaign may not replace them.
const RESERVED: [&str; 14] = [
    "from",
    "to",
    "cc",
    "bcc",
    "subject",
    "date",
    "message-id",
    "sender",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
    "x-loa-message",
    "list-unsubscribe",
    "list-unsubscribe-post",
];

/// What every message of one channel shares: the sender and extra headers.
#[derive(Debug, Clone)]
pub(crate) struct Sender {
    pub from: Mailbox,
    /// `headers:` of the channel (e.g. `Reply-To`), already checked.
    pub headers: Vec<(HeaderName, String)>,
}

impl Sender {
    /// Checks the channel's `from` and `headers` once, when the channel is built.
    pub(crate) fn new<'a>(
        from: &str,
        headers: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> anyhow::Result<Self> {
        let from = parse_mailbox(from)?;
        let mut out = Vec::new();
        for (name, value) in headers {
            if RESERVED.contains(&name.to_ascii_lowercase().as_str()) {
                anyhow::bail!("header {name:?} is set by loa and cannot be configured");
            }
            let header = HeaderName::new_from_ascii(name.to_string())
                .map_err(|_| anyhow::anyhow!("{name:?} is not a valid header name"))?;
            out.push((header, value.to_string()));
        }
        Ok(Self { from, headers: out })
    }

    /// The domain of the From address, for `Message-ID`.
    pub(crate) fn domain(&self) -> &str {
        self.from.email.domain()
    }
}

/// Parses `"BHXH <tt@example.vn>"`, `"Bảo hiểm xã hội" <tt@example.vn>` or `tt@example.vn`.
pub(crate) fn parse_mailbox(s: &str) -> anyhow::Result<Mailbox> {
    let s = s.trim();
    // A line break in From would end the header (or be refused by the relay): RFC 5322 §2.2.
    if s.chars().any(char::is_control) {
        anyhow::bail!("From contains a line break or another control character");
    }
    if let Ok(m) = s.parse::<Mailbox>() {
        return Ok(m);
    }
    // lettre's parser is strict about display names; take `name <addr>` apart ourselves so
    // that unquoted Vietnamese names work too.
    if let Some(open) = s.rfind('<')
        && s.ends_with('>')
    {
        let name = s[..open].trim().trim_matches('"').trim();
        let addr: Address = s[open + 1..s.len() - 1]
            .trim()
            .parse()
            .map_err(|e| anyhow::anyhow!("bad From address in {s:?}: {e}"))?;
        let name = (!name.is_empty()).then(|| name.to_string());
        return Ok(Mailbox::new(name, addr));
    }
    anyhow::bail!("bad From {s:?}: write `Name <address@domain>` or `address@domain`")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vietnamese_display_names_are_accepted_quoted_or_not() {
        for from in [
            "BHXH <tt@example.vn>",
            "Bảo hiểm xã hội Việt Nam <tt@example.vn>",
            "\"Bảo hiểm xã hội\" <tt@example.vn>",
            "tt@example.vn",
        ] {
            let s = Sender::new(from, []).unwrap();
            assert_eq!(s.from.email.to_string(), "tt@example.vn", "{from}");
        }
        assert!(Sender::new("no address", []).is_err());
    }
}
