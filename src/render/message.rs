//! One message rendered for one channel: the parts that channel sends (docs/templates.md#files).
//!
//! E-mail: `subject`, `text`, optional `html`. Zalo ZNS: `zns.yaml` parameters. Webhooks
//! (SMS gateways, relays): `text` from `sms.tera` when the folder has one, else from
//! `text.tera` ([`text_file`]), and the channel's `body` template, which also sees `address`,
//! `message_id`, `subject` and `text`.

use serde_json::Value;

use super::{RenderError, Renderer, ZnsMessage};
use crate::channel_kind::ChannelKind;

/// The rendered parts; which are present depends on the channel kind.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rendered {
    pub subject: Option<String>,
    pub text: Option<String>,
    pub html: Option<String>,
    pub zns: Option<ZnsMessage>,
    /// The exact request body for a webhook with a `body` template.
    pub body: Option<String>,
}

/// What a message is rendered for: which template, which channel, to whom.
pub struct Target<'a> {
    pub kind: ChannelKind,
    pub template: &'a str,
    pub body_template: Option<&'a str>,
    pub address: &'a str,
    pub message_id: &'a str,
}

/// The file a channel's text comes from in the template folder `template`.
///
/// An SMS holds 160 GSM-7 characters per segment (70 in UCS-2), an e-mail's plain part as
/// many as it needs: one `text.tera` for both made either the e-mail terse or the SMS several
/// segments long. So a webhook (an SMS gateway) reads `sms.tera` when the folder has one and
/// falls back to `text.tera`, which e-mail always reads. `loa validate` asks the same question
/// here, so it checks the file that will be sent.
pub(crate) fn text_file(renderer: &Renderer, kind: ChannelKind, template: &str) -> &'static str {
    match kind {
        ChannelKind::Webhook if renderer.has(&format!("{template}/sms.tera")) => "sms.tera",
        _ => "text.tera",
    }
}

/// Renders every part `target`'s channel sends, all of them under one budget of
/// [`super::limits`] (depth, loop turns, time).
pub fn render(
    renderer: &Renderer,
    target: &Target<'_>,
    ctx: &mut tera::Context,
) -> Result<Rendered, RenderError> {
    super::limits::bounded(|| render_parts(renderer, target, ctx))
}

fn render_parts(
    renderer: &Renderer,
    target: &Target<'_>,
    ctx: &mut tera::Context,
) -> Result<Rendered, RenderError> {
    let part = |p: &str| format!("{}/{p}", target.template);
    let optional = |p: &str, ctx: &tera::Context| -> Result<Option<String>, RenderError> {
        let name = part(p);
        if renderer.has(&name) {
            renderer.render(&name, ctx).map(Some)
        } else {
            Ok(None)
        }
    };
    let mut out = Rendered::default();
    match target.kind {
        ChannelKind::Smtp => {
            out.subject = optional("subject.tera", ctx)?.map(|s| one_line(&s));
            out.text = optional("text.tera", ctx)?;
            out.html = optional("html.tera", ctx)?;
        }
        ChannelKind::ZaloZns => out.zns = Some(renderer.render_zns(target.template, ctx)?),
        ChannelKind::Webhook => {
            out.subject = optional("subject.tera", ctx)?.map(|s| one_line(&s));
            out.text = optional(text_file(renderer, target.kind, target.template), ctx)?;
        }
    }
    if let Some(body) = target.body_template {
        ctx.insert("address", target.address);
        ctx.insert("message_id", target.message_id);
        ctx.insert(
            "subject",
            &out.subject
                .clone()
                .map(Value::String)
                .unwrap_or(Value::Null),
        );
        ctx.insert("text", &out.text.clone().unwrap_or_default());
        out.body = Some(renderer.render(&format!("{body}/body.tera"), ctx)?);
    }
    Ok(out)
}

/// A subject is one header line: line breaks from the template or the data are folded into
/// spaces so that no value can add a header (docs/reliability.md#r17, header injection).
fn one_line(s: &str) -> String {
    s.split(['\r', '\n'])
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::one_line;

    #[test]
    fn a_subject_with_line_breaks_becomes_one_line() {
        assert_eq!(
            one_line("Nhắc đóng BHYT\r\nBcc: victim@example.test\n"),
            "Nhắc đóng BHYT Bcc: victim@example.test"
        );
    }
}
