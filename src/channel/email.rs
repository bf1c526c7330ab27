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
/// The sender every message of a channel shares, checked in [`crate::mail`] so that
/// `loa validate` checks `from` and `headers` with the same code.
pub(crate) use crate::mail::Sender;

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
