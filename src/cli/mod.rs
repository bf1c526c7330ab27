//! The command line: one file per subcommand; global options shared by all
//! (docs/cli.md#global-options).
//!
//! Raw arguments become a validated [`Cli`] once; each command returns an exit code:
//! 0 when all is well, 1 when the input has problems or the work failed, 2 for usage errors.

mod approval;
mod argv;
mod format;
mod plan;
mod plan_ics;
mod plan_sms;
mod preview;
mod prune;
mod report;
mod retry;
mod run;
mod simulate;
mod status;
mod user;
mod validate;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::campaign::{DataScan, Diagnostics, EnvPolicy, LoadOptions, Workspace};

#[derive(Debug, Parser)]
#[command(
    name = "loa",
    version,
    about = "Plans, schedules and delivers communications campaigns"
)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command understands; each is also an environment variable.
#[derive(Debug, clap::Args)]
pub(crate) struct Global {
    /// Database URL: sqlite://FILE (default sqlite://loa.db); PostgreSQL is not supported yet.
    #[arg(
        long,
        global = true,
        env = "LOA_DATABASE_URL",
        default_value = "sqlite://loa.db"
    )]
    pub database_url: String,
    /// Folder of campaign files.
    #[arg(
        long,
        global = true,
        env = "LOA_CAMPAIGNS",
        default_value = "campaigns"
    )]
    pub campaigns: PathBuf,
    /// Folder of templates.
    #[arg(
        long,
        global = true,
        env = "LOA_TEMPLATES",
        default_value = "templates"
    )]
    pub templates: PathBuf,
    /// Deliver every channel to files in DIR instead of the network.
    #[arg(long, global = true, env = "LOA_OUTBOX", value_name = "DIR")]
    pub outbox: Option<PathBuf>,
    /// Address of the HTTP server of `loa run`.
    #[arg(
        long,
        global = true,
        env = "LOA_LISTEN",
        default_value = "127.0.0.1:8080"
    )]
    pub listen: String,
    /// More folders audience data files may be read from, comma-separated (by default only
    /// the folder of the campaign file and its subfolders).
    #[arg(
        long,
        global = true,
        env = "LOA_DATA_DIRS",
        value_delimiter = ',',
        value_name = "DIRS"
    )]
    pub data_dirs: Vec<PathBuf>,
    /// Whether `--database-url` was written on the command line (not taken from
    /// LOA_DATABASE_URL or the default): `simulate` refuses it there.
    #[arg(skip)]
    pub database_url_given: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check campaigns, data, templates and channels; exit 1 on any error.
    Validate(validate::Args),
    /// Every occurrence with its step, channel and recipient count.
    Plan(plan::Args),
    /// The exact rendered message for one recipient.
    Preview(preview::Args),
    /// Run the campaign in virtual time, delivering to the outbox.
    ///
    /// Its ledger is a scratch SQLite file under the outbox,
    /// <OUTBOX>/.simulate/<CAMPAIGN>.db, made new on each run and printed at the end (read it
    /// with `loa --database-url sqlite://<that file> status`). The real ledger is never
    /// touched: --database-url on the command line is refused here, and LOA_DATABASE_URL
    /// is not used.
    Simulate(simulate::Args),
    /// The daemon: schedules, enqueues, delivers.
    Run(run::Args),
    /// Message counts by step, channel and state.
    Status(status::Args),
    /// One row per message.
    Report(report::Args),
    /// Put failed (or expired) messages back in the queue.
    Retry(retry::Args),
    /// Clear the personal data of messages that ended more than N days ago.
    Prune(prune::Args),
    /// Staff accounts of the dashboard: add, passwd, disable, list.
    User(user::Args),
    /// Request approval of a campaign as its files are now (role operator or above).
    Submit(approval::Args),
    /// Approve a campaign as its files are now, as another account than the requester
    /// (role approver or above).
    Approve(approval::Args),
}

/// Entry point used by `main.rs`.
pub fn main() -> ExitCode {
    let mut command = Cli::command();
    command.build();
    let args = argv::own_options_after_command(&command, std::env::args_os().collect());
    let matches = command.get_matches_from(args);
    let mut cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    cli.global.database_url_given = given_on_command_line(&matches, "database_url");
    init_logging();
    if let Err(e) = crate::campaign::set_data_dirs(&cli.global.data_dirs) {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    let result = match &cli.command {
        Command::Validate(a) => validate::run(&cli.global, a),
        Command::Plan(a) => plan::run(&cli.global, a),
        Command::Preview(a) => preview::run(&cli.global, a),
        Command::Simulate(a) => block_on(simulate::run(&cli.global, a)),
        Command::Run(a) => block_on(run::run(&cli.global, a)),
        Command::Status(a) => block_on(status::run(&cli.global, a)),
        Command::Report(a) => block_on(report::run(&cli.global, a)),
        Command::Retry(a) => block_on(retry::run(&cli.global, a)),
        Command::Prune(a) => block_on(prune::run(&cli.global, a)),
        Command::User(a) => block_on(user::run(&cli.global, a)),
        Command::Submit(a) => block_on(approval::submit(&cli.global, a)),
        Command::Approve(a) => block_on(approval::approve(&cli.global, a)),
    };
    match result {
        Ok(code) => code,
        // The reader of our output went away (`loa plan … | head`): what it wanted it has,
        // so the command ends quietly and successfully, as ripgrep and `cat` do.
        Err(e) if broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Whether the global option `id` was written on the command line, before or after the
/// subcommand.
fn given_on_command_line(matches: &clap::ArgMatches, id: &str) -> bool {
    let here = matches.value_source(id) == Some(clap::parser::ValueSource::CommandLine);
    here || matches
        .subcommand()
        .is_some_and(|(_, sub)| given_on_command_line(sub, id))
}

/// Whether `e` comes from writing to a pipe whose reader has gone. serde_json and csv
/// hide the I/O error they wrap from the error chain, so they are asked directly.
fn broken_pipe(e: &anyhow::Error) -> bool {
    use std::io::{Error, ErrorKind};
    e.chain().any(|cause| {
        let kind = if let Some(e) = cause.downcast_ref::<Error>() {
            Some(e.kind())
        } else if let Some(e) = cause.downcast_ref::<serde_json::Error>() {
            e.io_error_kind()
        } else if let Some(e) = cause.downcast_ref::<csv::Error>() {
            match e.kind() {
                csv::ErrorKind::Io(e) => Some(e.kind()),
                _ => None,
            }
        } else {
            None
        };
        kind == Some(ErrorKind::BrokenPipe)
    })
}

/// Threads for blocking work (file writes, fsync, DNS lookups, the CSV reader) at most.
/// Tokio's default of 512 was reached by `loa simulate`, whose outbox writes a file per
/// message: each thread kept its own allocator heap, and 517 threads took the peak RSS of
/// a 2,000,000-student simulation to 141 MiB (issue 19).
const MAX_BLOCKING_THREADS: usize = 32;

fn block_on<F: std::future::Future<Output = anyhow::Result<ExitCode>>>(
    f: F,
) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(MAX_BLOCKING_THREADS)
        .build()?;
    let result = runtime.block_on(f);
    // Dropping a runtime waits for its blocking threads however long they take (a file
    // still being read, say); the command is done, so that wait is bounded.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    result
}

/// Log lines to stderr; `LOA_LOG` (or `RUST_LOG`) sets the level, default `info`.
fn init_logging() {
    let filter = std::env::var("LOA_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".into());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .try_init();
}

/// Loads the workspace for a command that reads but sends nothing: missing environment
/// variables are only warnings there, since no channel is contacted.
pub(crate) fn load_quietly(
    global: &Global,
    paths: &[PathBuf],
    data: DataScan,
) -> (Option<Workspace>, Diagnostics) {
    Workspace::load(
        paths,
        &global.templates,
        LoadOptions {
            env: EnvPolicy::Optional,
            data,
        },
    )
}

/// Loads the one campaign in `file` for a reading command; `None` after printing errors.
pub(crate) fn load_campaign_file(
    global: &Global,
    file: &std::path::Path,
) -> anyhow::Result<Option<Workspace>> {
    let (ws, diags) = load_quietly(global, &[file.to_path_buf()], DataScan::Headers);
    if report(&diags) {
        return Ok(None);
    }
    let ws = ws.ok_or_else(|| anyhow::anyhow!("the workspace did not load"))?;
    anyhow::ensure!(
        !ws.campaigns.is_empty(),
        "no campaign in {}",
        file.display()
    );
    Ok(Some(ws))
}

/// Fails unless the ledger knows `campaign` (a misspelt id used to print zero counts and
/// exit 0), suggesting the nearest id.
pub(crate) async fn known_campaign(
    store: &crate::store::Store,
    global: &Global,
    campaign: &str,
) -> anyhow::Result<()> {
    let ids: Vec<String> = store
        .campaign_rows()
        .await?
        .into_iter()
        .map(|c| c.id)
        .collect();
    if ids.iter().any(|id| id == campaign) {
        return Ok(());
    }
    anyhow::bail!(
        "the ledger {} has no campaign {campaign:?}; {}",
        global.database_url,
        nearest(campaign, &ids, "campaigns")
    )
}

/// Fails unless the ledger knows `step` of `campaign`, suggesting the nearest step id.
pub(crate) async fn known_step(
    store: &crate::store::Store,
    campaign: &str,
    step: &str,
) -> anyhow::Result<()> {
    let steps = store.steps_of(campaign).await?;
    if steps.iter().any(|s| s == step) {
        return Ok(());
    }
    anyhow::bail!(
        "campaign {campaign:?} has no step {step:?} in the ledger; {}",
        nearest(step, &steps, "steps")
    )
}

/// "did you mean `x`?", else what there is.
fn nearest(name: &str, known: &[String], what: &str) -> String {
    let hint = crate::campaign::suggest(name, known.iter().map(String::as_str));
    if hint.starts_with("did you mean") {
        hint
    } else if known.is_empty() {
        format!("it has no {what} yet")
    } else {
        format!("it has these {what}: {}", known.join(", "))
    }
}

/// Prints diagnostics to stderr; true when there was an error. A reader that has gone
/// (`loa validate 2>&1 | head`) ends the listing, where `eprintln!` would panic.
pub(crate) fn report(diags: &Diagnostics) -> bool {
    use std::io::Write;
    let mut err = std::io::stderr().lock();
    for d in &diags.0 {
        if writeln!(err, "{d}").is_err() {
            break;
        }
    }
    diags.has_errors()
}
