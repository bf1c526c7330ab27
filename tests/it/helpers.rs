//! Running the `loa` binary on a copy of the example workspace.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const EXAMPLE: &str = "campaigns/bhyt-hssv-2026-2027.yaml";

/// A temporary copy of `campaigns/` and `templates/`, removed when dropped.
pub struct Workspace {
    pub dir: tempfile::TempDir,
}

impl Workspace {
    pub fn example() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        copy_dir(&root.join("campaigns"), &dir.path().join("campaigns"));
        copy_dir(&root.join("templates"), &dir.path().join("templates"));
        Self { dir }
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

    /// Runs `loa ARGS` in the workspace with a clean environment for loa's variables.
    pub fn loa(&self, args: &[&str]) -> Run {
        self.loa_with(args, &[])
    }

    /// [`Workspace::loa`] with `env` set as well.
    pub fn loa_with(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_loa"));
        cmd.args(args).current_dir(self.dir.path());
        for var in [
            "LOA_SMTP_URL",
            "ZALO_ACCESS_TOKEN",
            "SMS_GATEWAY_URL",
            "SMS_TOKEN",
            "SMS_HMAC",
            "LOA_OUTBOX",
            "LOA_CAMPAIGNS",
            "LOA_TEMPLATES",
        ] {
            cmd.env_remove(var);
            cmd.env_remove(format!("{var}_FILE"));
        }
        cmd.envs(env.iter().copied());
        Run(cmd.output().expect("run loa"))
    }
}

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
