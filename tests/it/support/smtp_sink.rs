//! A real SMTP server on 127.0.0.1 for tests: greeting, EHLO/HELO, AUTH PLAIN, MAIL, RCPT,
//! DATA (with dot-unstuffing), RSET, NOOP, QUIT. It records every accepted message and
//! injects failures by rule:
//!
//! - the next `refuse_greetings(n)` connections get `421` at the greeting and are closed;
//! - a recipient whose local part starts with `perm550-`, `perm551-`, `perm553-`, `temp450-`,
//!   `temp451-`, `temp452-`, `temp421-` (then closes) is refused at RCPT with that code;
//!   `data554-` / `data451-` / `data454-` are refused after the message's final dot;
//! - with `fail_rate(p, seed)`, a fraction `p` of RCPTs get `451`, decided by a seeded PRNG
//!   so a failing run can be replayed;
//! - with `transient_mix(mix)`, seeded transient replies at three stages
//!   (docs/reliability.md#r4): `421` at the greeting (per connection), `451` at RCPT and `454`
//!   after DATA (per recipient and try, so a run replays with the same seed whatever the
//!   interleaving).
//!
//! Every accepted message is kept with the instant it was accepted (the rate test counts them per
//! window, docs/reliability.md#r5) and its `X-Loa-Message` id (the checkers of R1 and R2
//! compare ids: docs/reliability.md#r1, #r2).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::{TcpListener, TcpStream};

use super::Gauge;

#[derive(Debug, Clone)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    /// The message as the client meant it: dot-unstuffed, CRLF line ends, no final dot.
    pub data: Vec<u8>,
    /// When the final dot was answered with 250.
    pub at: Instant,
}

impl Received {
    pub fn text(&self) -> String {
        String::from_utf8(self.data.clone()).expect("UTF-8 message")
    }

    /// The `X-Loa-Message` header: loa's id of the message.
    pub fn loa_id(&self) -> Option<String> {
        let text = String::from_utf8_lossy(&self.data);
        let head = text.split("\r\n\r\n").next().unwrap_or("");
        head.lines()
            .find_map(|l| l.strip_prefix("X-Loa-Message:"))
            .map(|v| v.trim().to_string())
    }
}

/// Probabilities of the transient replies of `transient_mix`, and the seed.
#[derive(Debug, Clone, Copy)]
pub struct Mix {
    /// `421` instead of the greeting, then close (per connection).
    pub greeting: f64,
    /// `451` at RCPT (per recipient and try).
    pub rcpt: f64,
    /// `454` after the final dot (per recipient and try).
    pub data: f64,
    pub seed: u64,
}

#[derive(Default)]
struct State {
    received: Vec<Received>,
    /// Commands seen, in order, across all connections (e.g. `RSET`, `MAIL`).
    commands: Vec<String>,
    refuse_greetings: usize,
    fail_rate: Option<(f64, u64)>,
    credentials: Option<(String, String)>,
    /// Close each connection silently after this many accepted messages (an idle timeout).
    close_after: Option<usize>,
    mix: Option<Mix>,
    /// Connections opened so far (the greeting draw's key).
    opened: u64,
    /// Transactions per recipient so far (the RCPT and DATA draws' key).
    tries: HashMap<String, u64>,
    /// Replies injected by `transient_mix`, by code.
    injected: BTreeMap<u16, usize>,
}

pub struct SmtpSink {
    pub port: u16,
    state: Arc<Mutex<State>>,
    connections: Arc<AtomicUsize>,
    /// Connections open now, and the most ever open at once.
    open: Arc<Gauge>,
}

impl SmtpSink {
    pub async fn start() -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(State::default()));
        let connections = Arc::new(AtomicUsize::new(0));
        let open = Arc::new(Gauge::default());
        let (st, count, gauge) = (state.clone(), connections.clone(), open.clone());
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                let (st, is_open) = (st.clone(), gauge.enter());
                tokio::spawn(async move {
                    let _ = session(socket, st).await;
                    drop(is_open);
                });
            }
        });
        SmtpSink {
            port,
            state,
            connections,
            open,
        }
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    pub fn refuse_greetings(&self, n: usize) {
        self.state.lock().unwrap().refuse_greetings = n;
    }

    pub fn fail_rate(&self, p: f64, seed: u64) {
        self.state.lock().unwrap().fail_rate = Some((p, seed.max(1)));
    }

    /// Close every connection, without a word, after `n` accepted messages.
    pub fn close_after(&self, n: usize) {
        self.state.lock().unwrap().close_after = Some(n);
    }

    /// Seeded transient replies at the greeting, at RCPT and after DATA.
    pub fn transient_mix(&self, mix: Mix) {
        self.state.lock().unwrap().mix = Some(mix);
    }

    /// How many of each code `transient_mix` injected.
    pub fn injected(&self) -> BTreeMap<u16, usize> {
        self.state.lock().unwrap().injected.clone()
    }

    /// Require AUTH PLAIN with these credentials.
    pub fn require_auth(&self, user: &str, password: &str) {
        self.state.lock().unwrap().credentials = Some((user.into(), password.into()));
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }

    /// How many messages were accepted so far (cheaper than `received().len()`).
    pub fn received_count(&self) -> usize {
        self.state.lock().unwrap().received.len()
    }

    pub fn commands(&self) -> Vec<String> {
        self.state.lock().unwrap().commands.clone()
    }

    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// The most connections that were ever open at the same time.
    pub fn most_open_at_once(&self) -> usize {
        self.open.most()
    }
}

/// The reply a recipient's prefix asks for at `stage` ("rcpt" or "data"), if any.
fn rule(address: &str, stage: &str) -> Option<(u16, bool)> {
    let local = address.split('@').next().unwrap_or("");
    let (prefix, _) = local.split_once('-')?;
    let (kind, code) = prefix.split_at(prefix.len().checked_sub(3)?);
    let code: u16 = code.parse().ok()?;
    let at = match kind {
        "perm" | "temp" => "rcpt",
        "data" => "data",
        _ => return None,
    };
    (at == stage).then_some((code, code == 421))
}

/// A uniform draw in [0, 1) from the seed and a key (splitmix64 over an FNV-1a hash).
fn draw(seed: u64, key: &str) -> f64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    let mut z = seed ^ h;
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

impl State {
    /// True when the mix says this connection's greeting is a 421.
    fn refuse_greeting(&mut self) -> bool {
        self.opened += 1;
        let Some(m) = self.mix else { return false };
        let hit = draw(m.seed, &format!("greeting {}", self.opened)) < m.greeting;
        if hit {
            *self.injected.entry(421).or_default() += 1;
        }
        hit
    }

    /// Starts a try for `addr` at RCPT; true when the mix refuses it with 451.
    fn refuse_rcpt(&mut self, addr: &str) -> bool {
        let n = self.tries.entry(addr.to_string()).or_default();
        *n += 1;
        let n = *n;
        let Some(m) = self.mix else { return false };
        let hit = draw(m.seed, &format!("rcpt {addr} {n}")) < m.rcpt;
        if hit {
            *self.injected.entry(451).or_default() += 1;
        }
        hit
    }

    /// True when the mix refuses this try's data with 454.
    fn refuse_data(&mut self, to: &[String]) -> bool {
        let Some(m) = self.mix else { return false };
        let Some(addr) = to.first() else { return false };
        let n = self.tries.get(addr).copied().unwrap_or(0);
        let hit = draw(m.seed, &format!("data {addr} {n}")) < m.data;
        if hit {
            *self.injected.entry(454).or_default() += 1;
        }
        hit
    }
}

fn next_random(seed: &mut u64) -> f64 {
    // xorshift64*: small, seeded, good enough for fault injection.
    *seed ^= *seed >> 12;
    *seed ^= *seed << 25;
    *seed ^= *seed >> 27;
    (seed.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
}

async fn session(socket: TcpStream, st: Arc<Mutex<State>>) -> std::io::Result<()> {
    let (r, w) = socket.into_split();
    let mut r = BufReader::new(r);
    let mut w = BufWriter::new(w);
    let refuse = {
        let mut s = st.lock().unwrap();
        let refuse = s.refuse_greetings > 0 || s.refuse_greeting();
        s.refuse_greetings = s.refuse_greetings.saturating_sub(1);
        refuse
    };
    if refuse {
        w.write_all(b"421 4.7.0 sink busy, try again later\r\n")
            .await?;
        w.flush().await?;
        tokio::time::sleep(Duration::from_millis(20)).await;
        return Ok(());
    }
    w.write_all(b"220 sink.test ESMTP loa test sink\r\n")
        .await?;
    w.flush().await?;
    let mut from = String::new();
    let mut to: Vec<String> = Vec::new();
    let mut authed = false;
    let mut accepted = 0usize;
    let mut line = Vec::new();
    loop {
        line.clear();
        if r.read_until(b'\n', &mut line).await? == 0 {
            return Ok(());
        }
        let cmd = String::from_utf8_lossy(&line).trim_end().to_string();
        let verb = cmd
            .split([' ', ':'])
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        let needs_auth = st.lock().unwrap().credentials.clone();
        st.lock().unwrap().commands.push(verb.clone());
        let reply: String = match verb.as_str() {
            "EHLO" => {
                let auth = if needs_auth.is_some() {
                    "250-AUTH PLAIN\r\n"
                } else {
                    ""
                };
                format!(
                    "250-sink.test\r\n{auth}250-8BITMIME\r\n250-SMTPUTF8\r\n250 SIZE 10000000\r\n"
                )
            }
            "HELO" => "250 sink.test\r\n".into(),
            "AUTH" => {
                let given = cmd.split_whitespace().nth(2).map(super::mime::base64);
                let ok = match (&needs_auth, given) {
                    (Some((u, p)), Some(b)) => b == format!("\0{u}\0{p}").into_bytes(),
                    _ => false,
                };
                authed = ok;
                if ok {
                    "235 2.7.0 ok\r\n"
                } else {
                    "535 5.7.8 authentication failed\r\n"
                }
                .into()
            }
            "MAIL" if needs_auth.is_some() && !authed => {
                "530 5.7.0 authentication required\r\n".into()
            }
            "MAIL" => {
                from = between_angles(&cmd);
                to.clear();
                "250 2.1.0 ok\r\n".into()
            }
            "RCPT" => {
                let addr = between_angles(&cmd);
                let random_fail = {
                    let mut s = st.lock().unwrap();
                    let mixed = rule(&addr, "rcpt").is_none() && s.refuse_rcpt(&addr);
                    mixed
                        || match &mut s.fail_rate {
                            Some((p, seed)) => {
                                let p = *p;
                                next_random(seed) < p
                            }
                            None => false,
                        }
                };
                match rule(&addr, "rcpt") {
                    Some((code, close)) => {
                        w.write_all(
                            format!("{code} 4.0.0 <{addr}>: scripted refusal\r\n").as_bytes(),
                        )
                        .await?;
                        w.flush().await?;
                        if close {
                            return Ok(());
                        }
                        continue;
                    }
                    None if random_fail => "451 4.3.0 scripted random failure\r\n".into(),
                    None => {
                        to.push(addr);
                        "250 2.1.5 ok\r\n".into()
                    }
                }
            }
            "DATA" if to.is_empty() => "503 5.5.1 no valid recipients\r\n".into(),
            "DATA" => {
                w.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await?;
                w.flush().await?;
                let data = read_data(&mut r).await?;
                let refusal = to.iter().find_map(|a| rule(a, "data"));
                if let Some((code, _)) = refusal {
                    format!("{code} scripted refusal after DATA\r\n")
                } else if st.lock().unwrap().refuse_data(&to) {
                    to.clear();
                    "454 4.7.0 scripted transient failure, try again later\r\n".into()
                } else {
                    accepted += 1;
                    let (reply, close) = {
                        let mut s = st.lock().unwrap();
                        s.received.push(Received {
                            from: from.clone(),
                            to: std::mem::take(&mut to),
                            data,
                            at: Instant::now(),
                        });
                        let reply = format!("250 2.0.0 Ok: queued as Q{}\r\n", s.received.len());
                        (reply, s.close_after == Some(accepted))
                    };
                    if close {
                        w.write_all(reply.as_bytes()).await?;
                        w.flush().await?;
                        return Ok(());
                    }
                    reply
                }
            }
            "RSET" => {
                from.clear();
                to.clear();
                "250 2.0.0 ok\r\n".into()
            }
            "NOOP" => "250 2.0.0 ok\r\n".into(),
            "QUIT" => {
                w.write_all(b"221 2.0.0 bye\r\n").await?;
                w.flush().await?;
                return Ok(());
            }
            _ => "502 5.5.2 command not recognised\r\n".into(),
        };
        w.write_all(reply.as_bytes()).await?;
        w.flush().await?;
    }
}

fn between_angles(cmd: &str) -> String {
    match (cmd.find('<'), cmd.rfind('>')) {
        (Some(a), Some(b)) if a < b => cmd[a + 1..b].to_string(),
        _ => String::new(),
    }
}

/// Reads DATA lines up to the lone dot, removing the stuffed dot of RFC 5321 §4.5.2.
async fn read_data<R: AsyncBufReadExt + Unpin>(r: &mut R) -> std::io::Result<Vec<u8>> {
    let mut data = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        if r.read_until(b'\n', &mut line).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        if line == b".\r\n" {
            break;
        }
        let unstuffed = line.strip_prefix(b".").unwrap_or(&line);
        data.extend_from_slice(unstuffed);
    }
    // lettre always ends the message with CRLF before the final dot; keep the message's own
    // last line end, which the client added for the terminator, out of the record.
    if data.ends_with(b"\r\n") {
        data.truncate(data.len() - 2);
    }
    Ok(data)
}
