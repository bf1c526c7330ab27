//! Everything the integration tests share: the folder a test runs `loa` in (a copy of the
//! example workspace or a generated campaign) and one-shot `loa` commands there; test
//! servers for the channels (a real SMTP server, an HTTP sink) and small builders; for the
//! daemon tests, `loa run` as a child process and a reader of its SQLite ledger; for the
//! web tests, loa's HTTP side in-process.

pub mod browser;
pub mod campaign;
pub mod daemon;
pub mod http_sink;
pub mod ledger;
pub mod mime;
pub mod postgres;
pub mod smtp_sink;
pub mod web;
pub mod workspace;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
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
        dkim: None,
        timeout: Duration::from_secs(15),
        concurrency: loa::campaign::default_concurrency(kind),
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

/// The seed of a randomised test: `LOA_TEST_SEED` to replay a run, else from the clock.
/// Print it, so a failure can be replayed.
pub fn seed() -> u64 {
    std::env::var("LOA_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        })
}

/// A small seeded generator (splitmix64): reproducible draws without a `rand` dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A count of things going on at once, and the most there ever were.
#[derive(Default)]
pub struct Gauge {
    now: AtomicUsize,
    most: AtomicUsize,
}

impl Gauge {
    /// Counts one more until the returned guard is dropped.
    pub fn enter(self: &Arc<Self>) -> GaugeGuard {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
        GaugeGuard(Arc::clone(self))
    }

    pub fn most(&self) -> usize {
        self.most.load(Ordering::SeqCst)
    }
}

pub struct GaugeGuard(Arc<Gauge>);

impl Drop for GaugeGuard {
    fn drop(&mut self) {
        self.0.now.fetch_sub(1, Ordering::SeqCst);
    }
}
