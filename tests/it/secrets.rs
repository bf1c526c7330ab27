//! R22 (docs/reliability.md#r22): secrets live only in the environment and are shown as
//! `[REDACTED]` by every formatter loa has for them — the loaded model's `Debug`, `preview`,
//! the outbox files.

use std::path::Path;

use loa::campaign::{DataScan, EnvPolicy, LoadOptions, Workspace};

const SMTP_PASSWORD: &str = "smtp-canary-pass-93514";
const ZALO_TOKEN: &str = "zalo-canary-token-57201";
const SMS_TOKEN: &str = "sms-canary-token-88410";
const SMS_HMAC: &str = "sms-canary-hmac-11873";

fn env(name: &str) -> Option<String> {
    match name {
        "LOA_SMTP_URL" => Some(format!("smtp://loa:{SMTP_PASSWORD}@127.0.0.1:2525")),
        "ZALO_ACCESS_TOKEN" => Some(ZALO_TOKEN.into()),
        "SMS_TOKEN" => Some(SMS_TOKEN.into()),
        "SMS_HMAC" => Some(SMS_HMAC.into()),
        _ => None,
    }
}

fn assert_no_secret(what: &str, text: &str) {
    for secret in [SMTP_PASSWORD, ZALO_TOKEN, SMS_TOKEN, SMS_HMAC] {
        assert!(!text.contains(secret), "{what} shows {secret}");
    }
}

#[test]
fn the_loaded_campaign_prints_its_secrets_as_redacted() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let opts = LoadOptions {
        env: EnvPolicy::Required,
        data: DataScan::Headers,
    };
    let (ws, diags) = Workspace::load_with_env(
        &[root.join("campaigns")],
        &root.join("templates"),
        opts,
        &env,
    );
    let ws = ws.unwrap_or_else(|| panic!("{diags}"));
    let c = &ws.campaigns[0];
    // The secrets did arrive: they are what the channels send with.
    let zalo = c.channels.values().find_map(|ch| ch.access_token.as_ref());
    assert_eq!(zalo.map(|s| s.expose()), Some(ZALO_TOKEN));
    let printed = format!("{:?}", c.channels);
    assert!(printed.contains("[REDACTED]"));
    assert_no_secret("the channels' Debug", &printed);
}

#[test]
fn preview_and_the_outbox_never_show_a_secret() {
    let ws = crate::support::workspace::Workspace::example();
    let secrets: Vec<(&str, String)> =
        ["LOA_SMTP_URL", "ZALO_ACCESS_TOKEN", "SMS_TOKEN", "SMS_HMAC"]
            .into_iter()
            .map(|name| (name, env(name).unwrap()))
            .collect();
    let secrets: Vec<(&str, &str)> = secrets.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let run = |args: &[&str]| {
        let out = ws.loa_with(args, &secrets);
        assert!(out.0.status.success(), "{args:?}: {}", out.stderr());
        out.stdout() + &out.stderr()
    };
    let file = "campaigns/bhyt-hssv-2026-2027.yaml";
    for channel in ["sms", "zalo", "email"] {
        let shown = run(&[
            "preview",
            file,
            "--step",
            "parent-notice",
            "--recipient",
            "HS00010",
            "--channel",
            channel,
        ]);
        assert_no_secret(&format!("preview on {channel}"), &shown);
    }
    let simulated = run(&["simulate", file]);
    assert_no_secret("simulate", &simulated);
    let mut files = 0;
    for entry in walk(&ws.path("outbox")) {
        let text = std::fs::read_to_string(&entry).unwrap_or_default();
        assert_no_secret(&entry.display().to_string(), &text);
        files += 1;
    }
    assert!(files > 100, "only {files} outbox files");
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// A `_FILE` variable of the HTTP side that names a file loa cannot read stops `loa run`
/// before it listens, naming the variable and the file, rather than leaving the
/// dashboard off.
#[test]
fn the_daemon_refuses_to_start_when_a_key_file_cannot_be_read() {
    let ws = crate::support::workspace::Workspace::example();
    let gone = ws.path("no-such-token").display().to_string();
    // On a port of the system's choosing: it must refuse before it listens.
    let args = ["--outbox", "outbox", "--listen", "127.0.0.1:0", "run"];
    let env = [("LOA_ADMIN_TOKEN_FILE", gone.as_str())];
    let out = ws.loa_within(&args, &env, std::time::Duration::from_secs(30));
    let err = out.stderr();
    assert!(!out.0.status.success());
    assert!(
        err.contains(&format!(
            "LOA_ADMIN_TOKEN_FILE names {gone}, which cannot be read"
        )),
        "{err}"
    );
}
