//! Sends N messages over ONE SMTP connection (`concurrency: 1`) through loa's SMTP channel and
//! prints the rate. Not a test: a measurement to run by hand in release mode, e.g.
//!
//! ```text
//! /usr/sbin/smtp-sink -u nobody -c 127.0.0.1:2525 1000 &
//! cargo run --release --example bench_smtp -- 20000 2525
//! ```
//!
//! With stock lettre 0.11.23 (no TCP_NODELAY) one connection manages ~23 msgs/s
//! (BENCHMARKS.md); the channel's own NODELAY socket should be well above 1,000 msgs/s.
//!
//! `LOA_BENCH_DKIM_KEY=tests/fixtures/dkim-test-rsa.pem` signs every message (RSA) with
//! that key, to see what DKIM costs.

use std::sync::Arc;
use std::time::{Duration, Instant};

use indexmap::IndexMap;
use loa::campaign::{Channel, ChannelKind, Dkim, DkimAlgorithm, Secret};
use loa::channel::{self, MemoryTokenStore, Outgoing};
use loa::render::message::Rendered;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let n: usize = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(10_000);
    let port: u16 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(2525);
    let ch = Channel {
        name: "email".into(),
        kind: ChannelKind::Smtp,
        url: Some(Secret::new(format!("smtp://127.0.0.1:{port}"))),
        from: Some("Bảo hiểm xã hội <noreply@truong.example>".into()),
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
        recipient_field: "email".into(),
        concurrency: 1,
        dkim: std::env::var("LOA_BENCH_DKIM_KEY")
            .ok()
            .map(|path| -> anyhow::Result<Dkim> {
                Ok(Dkim {
                    domain: "truong.example".into(),
                    selector: "bench".into(),
                    key: Secret::new(std::fs::read_to_string(path)?),
                    algorithm: DkimAlgorithm::Rsa,
                })
            })
            .transpose()?,
        timeout: Duration::from_secs(15),
    };
    let sender = channel::build(&ch, None, "bench", Arc::new(MemoryTokenStore::new()))?;
    let text = "Kính gửi phụ huynh em Nguyễn Văn An, lớp 10A1: nhà trường nhắc gia đình \
                tham gia bảo hiểm y tế học sinh năm học 2026–2027 trước ngày 31/12/2026.";
    let mut msg = Outgoing {
        message_id: String::new(),
        campaign: "bench".into(),
        step: "bench".into(),
        channel: "email".into(),
        address: "ph@example.vn".into(),
        attempt: 1,
        rendered: Rendered {
            subject: Some("Nhắc đóng BHYT học sinh năm học 2026–2027".into()),
            text: Some(text.into()),
            ..Rendered::default()
        },
        unsubscribe_url: None,
    };
    let start = Instant::now();
    let mut failed = 0usize;
    for i in 0..n {
        msg.message_id = format!("bench-{i}");
        if let Err(e) = sender.send(&msg).await {
            failed += 1;
            if failed <= 3 {
                eprintln!("message {i}: {e}");
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{n} messages over one connection in {secs:.2} s: {:.0} msgs/s ({failed} failed)",
        n as f64 / secs
    );
    anyhow::ensure!(
        failed == 0,
        "{failed} of {n} messages failed; the rate above is meaningless"
    );
    Ok(())
}
