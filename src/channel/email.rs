//! The RFC 5322 message for one e-mail, built with lettre's builder; shared by the SMTP
//! channel and the outbox, so that `--outbox` files are byte-for-byte what would be sent
//! (apart from `Date` and the MIME boundary).
//!
//! - `multipart/alternative` with text and HTML when the template has `html.tera`, plain
//!   text otherwise; UTF-8, transfer encoding chosen by lettre (7bit, quoted-printable or
//!   base64).
//! - Header values go through lettre's `HeaderValue::new`, which RFC 2047-encodes anything
//!   outside printable ASCII (CR and LF included) and folds the line, so no value from a
//!   template or the data can start a header (docs/reliability.md#r17).
//!   `HeaderValue::dangerous_new_pre_encoded` is never used.
//! - `Message-ID: <{message_id}@{domain of From}>` and `X-Loa-Message: {message_id}`,
//!   identical on every retry (docs/reliability.md#rule-11).
//! - `List-Unsubscribe: <url>` and `List-Unsubscribe-Post: List-Unsubscribe=One-Click`
//!   when the dispatcher gives an unsubscribe URL (RFC 2369, RFC 8058).
//! - One recipient per message, no `Cc`/`Bcc` (docs/reliability.md#r18).

use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::{Address, Message};

use super::{ChannelError, Outgoing, check_message_id, mask_address};

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

/// The built message; its envelope comes from its headers.
pub(crate) struct Built {
    pub message: Message,
}

impl Built {
    pub(crate) fn formatted(&self) -> Vec<u8> {
        self.message.formatted()
    }
}

/// Builds the e-mail for `msg`. Errors are permanent: the same input fails the same way.
pub(crate) fn build(sender: &Sender, msg: &Outgoing) -> Result<Built, ChannelError> {
    check_message_id(&msg.message_id)?;
    let to: Address = msg.address.trim().parse().map_err(|_| {
        ChannelError::permanent(format!(
            "{} is not an e-mail address",
            mask_address(&msg.address)
        ))
    })?;
    let header = |name: &'static str, value: String| {
        HeaderValue::new(HeaderName::new_from_ascii_str(name), value)
    };
    let mut b = Message::builder()
        .from(sender.from.clone())
        .to(Mailbox::new(None, to))
        .message_id(Some(format!("<{}@{}>", msg.message_id, sender.domain())))
        .raw_header(header("X-Loa-Message", msg.message_id.clone()));
    if let Some(subject) = &msg.rendered.subject {
        b = b.subject(subject.clone());
    }
    if let Some(url) = &msg.unsubscribe_url {
        b = b
            .raw_header(header("List-Unsubscribe", format!("<{}>", url.trim())))
            .raw_header(header(
                "List-Unsubscribe-Post",
                "List-Unsubscribe=One-Click".to_string(),
            ));
    }
    for (name, value) in &sender.headers {
        b = b.raw_header(HeaderValue::new(name.clone(), value.clone()));
    }
    let text = msg.rendered.text.clone();
    let html = msg.rendered.html.clone();
    let message = match (text, html) {
        (Some(text), Some(html)) => b.multipart(MultiPart::alternative_plain_html(text, html)),
        (Some(text), None) => b.singlepart(SinglePart::plain(text)),
        (None, Some(html)) => b.singlepart(SinglePart::html(html)),
        (None, None) => {
            return Err(ChannelError::permanent(
                "the rendered e-mail has neither text nor html",
            ));
        }
    }
    .map_err(|e| ChannelError::permanent(format!("cannot build the e-mail: {e}")))?;
    Ok(Built { message })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::message::Rendered;

    fn outgoing(subject: &str) -> Outgoing {
        Outgoing {
            message_id: "bhyt-m1".into(),
            campaign: "c".into(),
            step: "s".into(),
            channel: "email".into(),
            address: "nguyen@example.com".into(),
            attempt: 1,
            rendered: Rendered {
                subject: Some(subject.into()),
                text: Some("Kính gửi phụ huynh".into()),
                html: None,
                zns: None,
                body: None,
            },
            unsubscribe_url: None,
        }
    }

    fn raw(sender: &Sender, msg: &Outgoing) -> String {
        String::from_utf8(build(sender, msg).unwrap().formatted()).unwrap()
    }

    fn header_lines<'a>(raw: &'a str, name: &str) -> Vec<&'a str> {
        let head = raw.split("\r\n\r\n").next().unwrap();
        head.split("\r\n")
            .filter(|l| {
                l.len() > name.len()
                    && l[..name.len()].eq_ignore_ascii_case(name)
                    && l.as_bytes()[name.len()] == b':'
            })
            .collect()
    }

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

    #[test]
    fn a_line_break_in_the_subject_cannot_add_a_header() {
        let s = Sender::new("BHXH <tt@example.vn>", []).unwrap();
        let raw = raw(
            &s,
            &outgoing("Nhắc\r\nBcc: victim@example.test\r\nX-Evil: 1"),
        );
        assert_eq!(header_lines(&raw, "Subject").len(), 1, "{raw}");
        assert!(header_lines(&raw, "Bcc").is_empty(), "{raw}");
        assert!(header_lines(&raw, "X-Evil").is_empty(), "{raw}");
    }

    #[test]
    fn the_message_id_uses_the_from_domain() {
        let s = Sender::new("BHXH <tt@example.vn>", []).unwrap();
        let raw = raw(&s, &outgoing("x"));
        assert_eq!(
            header_lines(&raw, "Message-ID"),
            ["Message-ID: <bhyt-m1@example.vn>"]
        );
        assert_eq!(
            header_lines(&raw, "X-Loa-Message"),
            ["X-Loa-Message: bhyt-m1"]
        );
        assert!(header_lines(&raw, "List-Unsubscribe").is_empty());
    }

    #[test]
    fn configured_headers_are_added_but_cannot_replace_ours() {
        let s = Sender::new("tt@example.vn", [("Reply-To", "hotro@example.vn")]).unwrap();
        assert_eq!(header_lines(&raw(&s, &outgoing("x")), "Reply-To").len(), 1);
        assert!(Sender::new("tt@example.vn", [("Bcc", "x@example.vn")]).is_err());
        assert!(Sender::new("tt@example.vn", [("Bad Name", "x")]).is_err());
    }

    #[test]
    fn a_bad_recipient_or_empty_message_is_permanent() {
        let s = Sender::new("tt@example.vn", []).unwrap();
        let mut m = outgoing("x");
        m.address = "not-an-address".into();
        assert!(matches!(build(&s, &m), Err(ChannelError::Permanent { .. })));
        let mut m = outgoing("x");
        m.rendered.text = None;
        assert!(matches!(build(&s, &m), Err(ChannelError::Permanent { .. })));
    }
}
