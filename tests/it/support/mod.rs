//! Test servers for the channels (a real SMTP server, an HTTP sink) and small builders.

pub mod http_sink;
pub mod mime;
pub mod smtp_sink;

use std::time::Duration;

use indexmap::IndexMap;
use loa::campaign::{Channel, ChannelKind, Secret};
use loa::channel::Outgoing;
use loa::render::message::Rendered;

/// A channel as validation would produce it, with nothing but the kind set.
pub fn channel(name: &str, kind: ChannelKind) -> Channel {
    Channel {
        name: name.into(),
        kind,
        url: None,
        from: None,
        access_token: None,
        refresh_token: None,
        app_id: None,
        app_secret: None,
        endpoint: None,
        method: "POST".into(),
        body: None,
        headers: IndexMap::new(),
        secret: None,
        rate: None,
        recipient_field: kind.default_recipient_field().into(),
        timeout: Duration::from_secs(15),
    }
}

pub fn smtp_channel(url: &str, from: &str) -> Channel {
    Channel {
        url: Some(Secret::new(url)),
        from: Some(from.into()),
        ..channel("email", ChannelKind::Smtp)
    }
}

/// An e-mail with text and HTML.
pub fn email(message_id: &str, to: &str, subject: &str) -> Outgoing {
    Outgoing {
        message_id: message_id.into(),
        campaign: "bhyt-hssv-2026-2027".into(),
        step: "coverage-weekly".into(),
        channel: "email".into(),
        address: to.into(),
        attempt: 1,
        rendered: Rendered {
            subject: Some(subject.into()),
            text: Some("Kính gửi Thầy/Cô,\n.\n..dòng bắt đầu bằng dấu chấm\nTrân trọng.".into()),
            html: Some("<p>Kính gửi <b>Thầy/Cô</b></p>".into()),
            zns: None,
            body: None,
        },
        unsubscribe_url: None,
    }
}
