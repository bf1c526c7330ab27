//! `loa user add NAME --role ROLE | passwd NAME | disable NAME | list`: the staff accounts
//! of the dashboard (issue 17, docs/accounts.md).
//!
//! A password is read from standard input when it is not a terminal (its first line), and
//! asked for twice without echo on the terminal otherwise; only its Argon2id hash reaches
//! the ledger ([`crate::account`]). Every change writes one audit row, by `cli:<user>` as
//! `loa retry` does, naming the account it changed. `add` creates the ledger if there is
//! none yet (accounts may be set up before the first `loa run`); the others need one.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use chrono::{TimeZone as _, Utc};
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};

use super::Global;
use crate::account::{self, Password, PasswordHash, Role};
use crate::store::{AccountRow, AuditAction, AuditEntry, Store};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: UserCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum UserCommand {
    /// Add a staff account; its password is read from standard input, or asked for on a
    /// terminal.
    Add {
        /// The account's name: 1 to 64 of a-z, 0-9, '.', '_', '-' (e.g. lan.nguyen).
        #[arg(value_parser = name())]
        name: String,
        /// What the account may do: viewer, operator, approver or admin (each role also
        /// does what the ones before it do).
        #[arg(long, value_parser = role())]
        role: Role,
    },
    /// Set a new password (read as for `add`); the account's dashboard sessions end.
    Passwd {
        /// The account's name: 1 to 64 of a-z, 0-9, '.', '_', '-' (e.g. lan.nguyen).
        #[arg(value_parser = name())]
        name: String,
    },
    /// Disable an account: it cannot log in, and its dashboard sessions end at their next
    /// request. The name stays taken (the audit trail names it).
    Disable {
        /// The account's name: 1 to 64 of a-z, 0-9, '.', '_', '-' (e.g. lan.nguyen).
        #[arg(value_parser = name())]
        name: String,
    },
    /// Every account with its role and state.
    List,
}

/// An account name as `NAME` accepts it, checked by [`account::check_name`].
fn name() -> impl clap::builder::TypedValueParser<Value = String> {
    |s: &str| account::check_name(s).map(|()| s.to_owned())
}

/// The roles `--role` accepts, listed by `--help` and in clap's error for another word.
fn role() -> impl clap::builder::TypedValueParser<Value = Role> {
    use clap::builder::TypedValueParser as _;
    clap::builder::PossibleValuesParser::new(Role::ALL.map(Role::as_str))
        .map(|word| word.parse().expect("one of the possible values"))
}

pub(super) async fn run(global: &Global, args: &Args) -> Result<ExitCode> {
    match &args.command {
        UserCommand::Add { name, role } => add(global, name, *role).await,
        UserCommand::Passwd { name } => passwd(global, name).await,
        UserCommand::Disable { name } => disable(global, name).await,
        UserCommand::List => list(global).await,
    }
}

async fn add(global: &Global, name: &str, role: Role) -> Result<ExitCode> {
    // A taken name is said before a password is asked for that would be thrown away; a new
    // ledger is created only once the password is good, so a refused one leaves no empty
    // ledger behind.
    let existing = Store::open_existing(&global.database_url).await;
    if let Ok(store) = &existing
        && store.account(name).await?.is_some()
    {
        return Err(crate::store::AccountError::Exists(name.to_owned()).into());
    }
    let hash = new_password_hash().await?;
    let store = match existing {
        Ok(store) => store,
        Err(_) => Store::open(&global.database_url).await?,
    };
    store.add_account(name, role, &hash, now()).await?;
    let detail = format!("account {name}, role {role}");
    audit(&store, AuditAction::UserAdd, &detail).await?;
    writeln!(
        std::io::stdout().lock(),
        "Đã tạo tài khoản {name} (vai trò {role})."
    )?;
    Ok(ExitCode::SUCCESS)
}

async fn passwd(global: &Global, name: &str) -> Result<ExitCode> {
    let store = Store::open_existing(&global.database_url).await?;
    if store.account(name).await?.is_none() {
        return Err(crate::store::AccountError::Unknown(name.to_owned()).into());
    }
    let hash = new_password_hash().await?;
    store.set_password(name, &hash, now()).await?;
    audit(&store, AuditAction::UserPasswd, &format!("account {name}")).await?;
    writeln!(
        std::io::stdout().lock(),
        "Đã đổi mật khẩu của tài khoản {name}; các phiên đăng nhập cũ đã kết thúc."
    )?;
    Ok(ExitCode::SUCCESS)
}

async fn disable(global: &Global, name: &str) -> Result<ExitCode> {
    let store = Store::open_existing(&global.database_url).await?;
    let now_disabled = store.disable_account(name, now()).await?;
    let mut out = std::io::stdout().lock();
    if !now_disabled {
        writeln!(out, "Tài khoản {name} đã bị vô hiệu hoá từ trước.")?;
        return Ok(ExitCode::SUCCESS);
    }
    audit(&store, AuditAction::UserDisable, &format!("account {name}")).await?;
    writeln!(
        out,
        "Đã vô hiệu hoá tài khoản {name}; các phiên đăng nhập của nó kết thúc ở lần truy cập tới."
    )?;
    let admins = store.accounts().await?;
    if !admins
        .iter()
        .any(|a| a.role == Role::Admin && !a.is_disabled())
    {
        writeln!(
            out,
            "Lưu ý: không còn tài khoản admin nào hoạt động; tạo bằng `loa user add TÊN --role admin`."
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

async fn list(global: &Global) -> Result<ExitCode> {
    let store = Store::open_existing(&global.database_url).await?;
    let accounts = store.accounts().await?;
    let mut out = std::io::stdout().lock();
    if accounts.is_empty() {
        writeln!(
            out,
            "Chưa có tài khoản nào (LOA_ADMIN_TOKEN vẫn mở được bảng điều khiển); \
             tạo bằng `loa user add TÊN --role admin`."
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    write!(out, "{}", table(&accounts))?;
    Ok(ExitCode::SUCCESS)
}

/// Name, role, state and times, in Vietnam's time; never the hash.
fn table(accounts: &[AccountRow]) -> String {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header([
        "Tài khoản",
        "Vai trò",
        "Trạng thái",
        "Tạo lúc",
        "Đổi mật khẩu",
    ]);
    for a in accounts {
        let state = match a.disabled_at {
            Some(at) => format!("vô hiệu hoá {}", local(at)),
            None => "hoạt động".to_owned(),
        };
        t.add_row([
            a.name.clone(),
            a.role.to_string(),
            state,
            local(a.created_at),
            local(a.password_at),
        ]);
    }
    format!("{t}\n")
}

/// `07/09/2026 08:00` in Asia/Ho_Chi_Minh.
fn local(at: i64) -> String {
    chrono_tz::Asia::Ho_Chi_Minh
        .timestamp_millis_opt(at)
        .single()
        .map_or_else(
            || at.to_string(),
            |t| t.format("%d/%m/%Y %H:%M").to_string(),
        )
}

fn now() -> i64 {
    Utc::now().timestamp_millis()
}

/// One audit row by whoever runs the command.
async fn audit(store: &Store, action: AuditAction, detail: &str) -> Result<()> {
    let actor = cli_actor();
    let entry = AuditEntry {
        actor: &actor,
        action,
        campaign: None,
        content_hash: None,
        audience: None,
        detail: Some(detail),
    };
    store.audit(&entry, now()).await.map(|_| ())
}

/// The audit trail's name for a command run with `--user NAME`: the account's, once its
/// password (read as for `add`, asked for once) matches, the account is enabled and its
/// role allows `needed`; without `--user`, `cli:<system user>`.
pub(super) async fn act_as(store: &Store, user: Option<&str>, needed: Role) -> Result<String> {
    let Some(name) = user else {
        return Ok(cli_actor());
    };
    account::check_name(name).map_err(anyhow::Error::msg)?;
    let Some(found) = store.account(name).await? else {
        return Err(crate::store::AccountError::Unknown(name.to_owned()).into());
    };
    anyhow::ensure!(
        !found.is_disabled(),
        "account {name:?} is disabled; `loa user list` shows the accounts"
    );
    let prompt = format!("Mật khẩu của {name} (password): ");
    let stored = found.password_hash.clone();
    let matches = tokio::task::spawn_blocking(move || {
        read_password(&prompt).map(|given| account::verify(&given, &stored))
    })
    .await??;
    anyhow::ensure!(matches, "wrong password for account {name:?}");
    anyhow::ensure!(
        found.role.allows(needed),
        "account {name:?} is a {}; this command needs the role {needed} or above          (docs/accounts.md#roles)",
        found.role
    );
    Ok(found.name)
}

/// `cli:<system user>`: who the audit trail names for a command run without `--user`.
fn cli_actor() -> String {
    format!(
        "cli:{}",
        std::env::var("USER").unwrap_or_else(|_| "loa".into())
    )
}

/// A password to check: the first line of standard input when it is not a terminal, else
/// asked for once without echo.
fn read_password(prompt: &str) -> Result<Password> {
    if std::io::stdin().is_terminal() {
        let given =
            rpassword::prompt_password(prompt).context("reading the password from the terminal")?;
        return Ok(Password::given(given));
    }
    Ok(Password::given(first_line()?))
}

/// The first line of standard input, without its line end; an error when there is none.
fn first_line() -> Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the password from standard input")?;
    let line = line.strip_suffix('\n').unwrap_or(&line);
    let line = line.strip_suffix('\r').unwrap_or(line);
    anyhow::ensure!(
        !line.is_empty(),
        "no password on standard input: pipe it in on one line, e.g. \
         `printf '%s\\n' \"$PASSWORD\" | loa …`, or run the command in a terminal to be asked"
    );
    Ok(line.to_owned())
}

/// A new password, read and checked, then hashed off the async threads.
async fn new_password_hash() -> Result<PasswordHash> {
    let password = tokio::task::spawn_blocking(read_new_password).await??;
    tokio::task::spawn_blocking(move || account::hash(&password)).await?
}

/// The first line of standard input when it is not a terminal; else asked for twice on
/// the terminal, without echo.
fn read_new_password() -> Result<Password> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        let first = rpassword::prompt_password("Mật khẩu mới (new password): ")
            .context("reading the password from the terminal")?;
        let password = Password::new(first).map_err(anyhow::Error::msg)?;
        let again = rpassword::prompt_password("Nhập lại (again): ")
            .context("reading the password from the terminal")?;
        anyhow::ensure!(
            Password::given(again) == password,
            "the two passwords differ; nothing was changed"
        );
        return Ok(password);
    }
    Password::new(first_line()?).map_err(anyhow::Error::msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_shows_names_roles_and_states_but_no_hash() {
        let hash = account::hash(&Password::new("một mật khẩu dài".into()).unwrap()).unwrap();
        let row = |name: &str, role, disabled_at| AccountRow {
            name: name.into(),
            role,
            password_hash: hash.clone(),
            created_at: 1_788_742_800_000,
            password_at: 1_788_742_800_000,
            disabled_at,
        };
        let text = table(&[
            row("lan", Role::Operator, None),
            row("binh", Role::Viewer, Some(1_788_746_400_000)),
        ]);
        assert!(text.contains("lan") && text.contains("operator"), "{text}");
        assert!(text.contains("vô hiệu hoá 07/09/2026 09:00"), "{text}");
        assert!(text.contains("07/09/2026 08:00"), "{text}");
        assert!(!text.contains("argon2"), "{text}");
    }
}
