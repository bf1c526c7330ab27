//! `loa validate [PATH…]`: every problem in the campaigns, data and templates, at once.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;

use super::Global;
use super::format::thousands;
use crate::campaign::{DataScan, EnvPolicy, LoadOptions, Workspace};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Campaign files or folders (default: the --campaigns folder).
    pub paths: Vec<PathBuf>,
}

pub(super) fn run(global: &Global, args: &Args) -> Result<ExitCode> {
    let paths = if args.paths.is_empty() {
        vec![global.campaigns.clone()]
    } else {
        args.paths.clone()
    };
    // Under --outbox no channel reaches the network, so a missing secret is only a warning.
    let env = if global.outbox.is_some() {
        EnvPolicy::Optional
    } else {
        EnvPolicy::Required
    };
    let (ws, diags) = Workspace::load(
        &paths,
        &global.templates,
        LoadOptions {
            env,
            data: DataScan::Full,
        },
    );
    super::report(&diags);
    let (errors, warnings) = (diags.error_count(), diags.warning_count());
    match ws {
        Some(ws) if errors == 0 => {
            // Written, not printed: a reader that goes away early ends the command quietly
            // (docs/cli.md#global-options), where `println!` would panic.
            let mut out = std::io::stdout().lock();
            for c in &ws.campaigns {
                writeln!(
                    out,
                    "ok  {}  {} ({}, {} steps, {} audiences, {} channels)",
                    c.file.display(),
                    c.id,
                    c.status.as_str(),
                    c.steps.len(),
                    c.audiences.len(),
                    c.channels.len()
                )?;
            }
            if warnings > 0 {
                writeln!(out, "{} warning(s)", thousands(warnings as u64))?;
            }
            Ok(ExitCode::SUCCESS)
        }
        _ => {
            // Ignored when stderr's reader has gone: the exit code still says it failed.
            let _ = writeln!(
                std::io::stderr().lock(),
                "{} error(s), {} warning(s)",
                thousands(errors as u64),
                thousands(warnings as u64)
            );
            Ok(ExitCode::FAILURE)
        }
    }
}
