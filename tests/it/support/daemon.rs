//! `loa run` as a child process on a generated workspace: started with test-scale tuning,
//! killed with SIGKILL, its log appended to `daemon.log` in the workspace.

use std::fs::OpenOptions;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::workspace::{Workspace, clear_loa_env};

/// Tuning for a test: second-scale retries and leases, a fast poll.
#[derive(Debug, Clone)]
pub struct Tuning {
    pub retry_base: &'static str,
    pub retry_cap: &'static str,
    pub retry_factor: f64,
    pub retry_jitter: f64,
    pub max_attempts: u32,
    pub lease: &'static str,
    pub poll: &'static str,
    pub enqueue_batch: Option<usize>,
}

impl Default for Tuning {
    fn default() -> Self {
        Self {
            retry_base: "1s",
            retry_cap: "30s",
            retry_factor: 2.0,
            retry_jitter: 0.2,
            max_attempts: 12,
            lease: "3s",
            poll: "200ms",
            enqueue_batch: None,
        }
    }
}

impl Tuning {
    fn args(&self) -> Vec<String> {
        let mut a: Vec<String> = [
            ("--retry-base", self.retry_base.to_string()),
            ("--retry-cap", self.retry_cap.to_string()),
            ("--retry-factor", self.retry_factor.to_string()),
            ("--retry-jitter", self.retry_jitter.to_string()),
            ("--max-attempts", self.max_attempts.to_string()),
            ("--lease", self.lease.to_string()),
            ("--poll", self.poll.to_string()),
        ]
        .into_iter()
        .flat_map(|(k, v)| [k.to_string(), v])
        .collect();
        if let Some(n) = self.enqueue_batch {
            a.extend(["--enqueue-batch".to_string(), n.to_string()]);
        }
        a
    }

    /// The poll interval in seconds, for the figures' tolerances.
    pub fn poll_secs(&self) -> f64 {
        duration(self.poll).as_secs_f64()
    }

    pub fn lease_secs(&self) -> f64 {
        duration(self.lease).as_secs_f64()
    }
}

fn duration(s: &str) -> Duration {
    loa::campaign::parse_duration(s).expect("a test duration")
}

/// A running `loa run`; killed (SIGKILL) when dropped.
pub struct Daemon {
    child: Child,
    pub started: Instant,
}

impl Daemon {
    /// Starts `loa run` in `ws` with `tuning`; `failpoint` arms `LOA_FAILPOINT`. Its HTTP
    /// side listens on a port of the system's choosing.
    pub fn start(ws: &Workspace, tuning: &Tuning, failpoint: Option<&str>) -> Daemon {
        Self::spawn(ws, tuning, failpoint, None, &[])
    }

    /// Like [`Daemon::start`], with more environment variables (`LOA_ADMIN_TOKEN`, …) and
    /// no failpoint; [`Daemon::port`] says where its HTTP side listens.
    pub fn start_with(ws: &Workspace, tuning: &Tuning, env: &[(&str, &str)]) -> Daemon {
        Self::spawn(ws, tuning, None, None, env)
    }

    /// Like [`Daemon::start`], with the HTTP side on 127.0.0.1:`port`, which is also the
    /// public URL of its unsubscribe links.
    pub fn serving(ws: &Workspace, tuning: &Tuning, port: u16) -> Daemon {
        Self::spawn(ws, tuning, None, Some(port), &[])
    }

    /// Like [`Daemon::serving`], with more environment variables (`LOA_ADMIN_TOKEN`, …).
    pub fn serving_with(
        ws: &Workspace,
        tuning: &Tuning,
        port: u16,
        env: &[(&str, &str)],
    ) -> Daemon {
        Self::spawn(ws, tuning, None, Some(port), env)
    }

    /// Like [`Daemon::serving_with`], under a limit of `files` open files (soft and hard):
    /// started through `sh -c 'ulimit -n …; exec loa …'`, so the pid is still loa's.
    pub fn serving_limited(
        ws: &Workspace,
        tuning: &Tuning,
        port: u16,
        env: &[(&str, &str)],
        files: u64,
    ) -> Daemon {
        Self::spawn_limited(ws, tuning, None, Some(port), env, Some(files))
    }

    fn spawn(
        ws: &Workspace,
        tuning: &Tuning,
        failpoint: Option<&str>,
        port: Option<u16>,
        env: &[(&str, &str)],
    ) -> Daemon {
        Self::spawn_limited(ws, tuning, failpoint, port, env, None)
    }

    fn spawn_limited(
        ws: &Workspace,
        tuning: &Tuning,
        failpoint: Option<&str>,
        port: Option<u16>,
        env: &[(&str, &str)],
        files: Option<u64>,
    ) -> Daemon {
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(ws.log())
            .expect("daemon log");
        let mut cmd = loa_command(files);
        clear_loa_env(&mut cmd);
        let listen = format!("127.0.0.1:{}", port.unwrap_or(0));
        cmd.current_dir(ws.root())
            .args(["--listen", listen.as_str(), "run"])
            .args(tuning.args())
            .env("LOA_LOG", "info")
            // These daemons test delivery, not four-eyes approval: they run with approval
            // off, as a small office would (`loa run --approval off`, docs/approval.md).
            // The approval tests (daemon_approval.rs) turn it on through `env`.
            .env("LOA_APPROVAL", "off")
            // The sinks are on loopback, which webhooks and Zalo may reach only when allowed
            // (docs/reliability.md#r13); `env` may say otherwise.
            .env("LOA_ALLOW_NETWORKS", "127.0.0.0/8")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log);
        if let Some(name) = failpoint {
            cmd.env("LOA_FAILPOINT", name);
        }
        if let Some(port) = port {
            cmd.env("LOA_PUBLIC_URL", format!("http://127.0.0.1:{port}"));
        }
        cmd.envs(env.iter().copied());
        let child = cmd.spawn().expect("start loa run");
        Daemon {
            child,
            started: Instant::now(),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The start of the lease owner name this process writes (`Settings::default`:
    /// `loa-<pid>-<start time>`).
    pub fn owner_prefix(&self) -> String {
        format!("loa-{}-", self.pid())
    }

    /// The port the HTTP side of a daemon started on port 0 ([`Daemon::start`]) listens on,
    /// read from its log's "HTTP listening" line; None if it has not said so within `limit`.
    /// Unlike a port from [`free_port`], no other test can take it first.
    pub async fn listening_port(&self, ws: &Workspace, limit: Duration) -> Option<u16> {
        let mut port = None;
        until(limit, Duration::from_millis(50), || {
            let text = std::fs::read_to_string(ws.log()).unwrap_or_default();
            port = text
                .lines()
                .find(|l| l.contains("HTTP listening"))
                .and_then(|l| l.split("127.0.0.1:").nth(1))
                .and_then(|rest| {
                    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                    digits.parse().ok()
                });
            std::future::ready(port.is_some())
        })
        .await;
        port
    }

    /// [`Daemon::listening_port`] within 30 s, or the test fails showing the log.
    pub async fn port(&self, ws: &Workspace) -> u16 {
        self.listening_port(ws, Duration::from_secs(30))
            .await
            .unwrap_or_else(|| panic!("no HTTP port in the log:\n{}", log_tail(ws, 20)))
    }

    /// SIGKILL, then reap.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends SIGTERM (through `kill(1)`).
    pub fn terminate(&self) {
        let sent = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -TERM {} failed", self.pid());
    }

    /// Waits up to `limit` for the process to exit by itself.
    pub async fn exited_within(&mut self, limit: Duration) -> Option<ExitStatus> {
        let end = Instant::now() + limit;
        while Instant::now() < end {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return Some(status);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        None
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The `loa` binary, or, under a limit of `files` open files (soft and hard), `sh -c
/// 'ulimit -n …; exec loa …'`, so that the pid is still loa's.
fn loa_command(files: Option<u64>) -> Command {
    match files {
        None => Command::new(env!("CARGO_BIN_EXE_loa")),
        Some(n) => {
            let mut sh = Command::new("sh");
            sh.args(["-c", &format!("ulimit -n {n} && exec \"$0\" \"$@\"")])
                .arg(env!("CARGO_BIN_EXE_loa"));
            sh
        }
    }
}

/// The daemon log, for failure messages (last `lines` lines).
pub fn log_tail(ws: &Workspace, lines: usize) -> String {
    let text = std::fs::read_to_string(ws.log()).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Polls `check` every `every` until it is true or `limit` has passed; true if it became true.
pub async fn until<F, Fut>(limit: Duration, every: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let end = Instant::now() + limit;
    loop {
        if check().await {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        tokio::time::sleep(every).await;
    }
}

/// A loopback port nobody listens on now, for a test that must know a port before the
/// daemon starts (the public URL of its links, a restart on the same port) or a port
/// nobody answers on; another test may take it first, so prefer [`Daemon::port`].
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// A campaign of `n` people on an SMTP channel limited to 4 messages per second, a new
/// sink, and the daemon `start` runs on it, caught after its first four messages.
pub async fn sending_slowly(
    n: usize,
    start: impl FnOnce(&Workspace) -> Daemon,
) -> (crate::support::smtp_sink::SmtpSink, Workspace, Daemon) {
    let sink = crate::support::smtp_sink::SmtpSink::start().await;
    let ws = crate::support::campaign::CampaignBuilder::new(n)
        .smtp("mail", &sink.url(), &["rate: 4/s"])
        .step("s1", &["mail"])
        .build();
    let daemon = start(&ws);
    let sending = until(
        Duration::from_secs(30),
        Duration::from_millis(20),
        || async { sink.received_count() >= 4 },
    )
    .await;
    assert!(sending, "not sending:\n{}", log_tail(&ws, 30));
    (sink, ws, daemon)
}
