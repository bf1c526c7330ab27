//! The folder a test runs `loa` in, removed when dropped: a copy of the example workspace
//! (`campaigns/` and `templates/` of this repository, what a newcomer sees after a fresh
//! clone) or one that [`CampaignBuilder`](super::campaign::CampaignBuilder) generates;
//! and one-shot `loa` commands run in it with loa's variables cleared.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The example campaign, relative to [`Workspace::example`].
pub const EXAMPLE: &str = "campaigns/bhyt-hssv-2026-2027.yaml";

/// Every variable through which the environment running the tests could change what loa
/// does; cleared (with its `_FILE` form) before each `loa` a test starts, which then sets
/// only what it means to.
const LOA_VARIABLES: [&str; 13] = [
    "LOA_APPROVAL",
    "LOA_SMTP_URL",
    "ZALO_ACCESS_TOKEN",
    "SMS_GATEWAY_URL",
    "SMS_TOKEN",
    "SMS_HMAC",
    "LOA_OUTBOX",
    "LOA_CAMPAIGNS",
    "LOA_TEMPLATES",
    "LOA_DATABASE_URL",
    "LOA_FAILPOINT",
    "RUST_LOG",
    "LOA_LOG",
];

/// Removes [`LOA_VARIABLES`] from `cmd`'s environment.
pub fn clear_loa_env(cmd: &mut Command) {
    for var in LOA_VARIABLES {
        cmd.env_remove(var);
        cmd.env_remove(format!("{var}_FILE"));
    }
}

/// A temporary folder; removed when dropped.
pub struct Workspace {
    pub dir: tempfile::TempDir,
}

impl Workspace {
    /// An empty folder, for a test that writes its own campaign.
    pub fn empty() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// A copy of this repository's `campaigns/` and `templates/`.
    pub fn example() -> Self {
        let ws = Self::empty();
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        copy_dir(&root.join("campaigns"), &ws.path("campaigns"));
        copy_dir(&root.join("templates"), &ws.path("templates"));
        ws
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).expect("read file")
    }

    pub fn write(&self, rel: &str, text: &str) {
        std::fs::write(self.path(rel), text).expect("write file");
    }

    /// The SQLite ledger `loa run` writes by default.
    pub fn db(&self) -> PathBuf {
        self.path("loa.db")
    }

    /// Where [`Daemon`](super::daemon::Daemon) appends the daemon's output.
    pub fn log(&self) -> PathBuf {
        self.path("daemon.log")
    }

    /// Runs `loa ARGS` in the workspace with a clean environment for loa's variables.
    pub fn loa(&self, args: &[&str]) -> Run {
        self.loa_with(args, &[])
    }

    /// [`Workspace::loa`] with `env` set as well.
    pub fn loa_with(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut cmd = self.command(args, env);
        Run(cmd.output().expect("run loa"))
    }

    /// [`Workspace::loa`] with `input` on its standard input (a pipe, not a terminal).
    pub fn loa_input(&self, args: &[&str], input: &str) -> Run {
        use std::io::Write as _;
        let mut child = self
            .command(args, &[])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start loa");
        let mut stdin = child.stdin.take().expect("stdin");
        // A command that refuses early may not read it all: a broken pipe is its answer.
        let _ = stdin.write_all(input.as_bytes());
        drop(stdin);
        Run(child.wait_with_output().expect("output"))
    }

    /// [`Workspace::loa_with`] for a command that might not end (a daemon that must refuse
    /// to start, a render that must be stopped): the test fails after `limit`, having
    /// killed it, so that it cannot hang the suite.
    pub fn loa_within(&self, args: &[&str], env: &[(&str, &str)], limit: Duration) -> Run {
        let mut child = self
            .command(args, env)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start loa");
        let started = Instant::now();
        while child.try_wait().expect("wait").is_none() {
            if started.elapsed() > limit {
                let _ = child.kill();
                panic!("loa {args:?} kept running for {limit:?}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Run(child.wait_with_output().expect("output"))
    }

    /// Starts `loa ARGS` in the workspace, its output discarded, for a test that watches the
    /// process while it runs.
    pub fn spawn_loa(&self, args: &[&str]) -> std::process::Child {
        self.command(args, &[])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start loa")
    }

    fn command(&self, args: &[&str], env: &[(&str, &str)]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_loa"));
        cmd.args(args).current_dir(self.root());
        clear_loa_env(&mut cmd);
        cmd.envs(env.iter().copied());
        cmd
    }
}

/// The output of one `loa` command.
pub struct Run(pub Output);

impl Run {
    pub fn code(&self) -> i32 {
        self.0.status.code().unwrap_or(-1)
    }

    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.0.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).into_owned()
    }

    /// Asserts success and returns stdout.
    pub fn ok(&self) -> String {
        assert_eq!(
            self.code(),
            0,
            "loa failed:\nstdout:\n{}\nstderr:\n{}",
            self.stdout(),
            self.stderr()
        );
        self.stdout()
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir").flatten() {
        let p = entry.path();
        let target = to.join(entry.file_name());
        if p.is_dir() {
            copy_dir(&p, &target);
        } else {
            std::fs::copy(&p, &target).expect("copy");
        }
    }
}
