//! `loa user add | passwd | disable | list` through the real binary (issue 17,
//! docs/accounts.md): passwords piped on standard input, only Argon2id hashes in the ledger,
//! names and passwords checked with a hint, one audit row per change, and neither a
//! password nor a hash on any output.

use loa::account::{self, Password, PasswordHash};
use sqlx::Connection as _;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};

use crate::support::workspace::Workspace;

const FIRST: &str = "mật khẩu đầu tiên 2026";
const SECOND: &str = "mật khẩu thứ hai 2026";

/// (role, password hash, disabled) of account `name`, read straight from the ledger.
async fn stored(ws: &Workspace, name: &str) -> (String, String, bool) {
    let options = SqliteConnectOptions::new().filename(ws.db());
    let mut conn = SqliteConnection::connect_with(&options).await.unwrap();
    sqlx::query_as(
        "SELECT role, password_hash, disabled_at IS NOT NULL FROM account WHERE name = ?",
    )
    .bind(name)
    .fetch_one(&mut conn)
    .await
    .unwrap()
}

async fn audit(ws: &Workspace) -> Vec<(String, String, String)> {
    let options = SqliteConnectOptions::new().filename(ws.db());
    let mut conn = SqliteConnection::connect_with(&options).await.unwrap();
    sqlx::query_as("SELECT actor, action, detail FROM audit ORDER BY id")
        .fetch_all(&mut conn)
        .await
        .unwrap()
}

fn verifies(hash: &str, password: &str) -> bool {
    account::verify(
        &Password::given(password.into()),
        &PasswordHash::from_stored(hash.into()),
    )
}

#[tokio::test]
async fn an_account_is_added_listed_given_a_new_password_and_disabled() {
    let ws = Workspace::empty();
    let mut outputs = String::new();
    let mut run = |args: &[&str], input: &str| {
        let r = ws.loa_input(args, input);
        outputs.push_str(&r.stdout());
        outputs.push_str(&r.stderr());
        r
    };
    // `add` creates the ledger: accounts may come before the first `loa run`.
    let added = run(
        &["user", "add", "lan.nguyen", "--role", "operator"],
        &format!("{FIRST}\n"),
    );
    assert!(added.ok().contains("lan.nguyen"), "{}", added.stdout());
    let (role, hash, disabled) = stored(&ws, "lan.nguyen").await;
    assert_eq!((role.as_str(), disabled), ("operator", false));
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(verifies(&hash, FIRST));

    let again = run(
        &["user", "add", "lan.nguyen", "--role", "admin"],
        &format!("{FIRST}\n"),
    );
    assert_eq!(again.code(), 1);
    assert!(
        again.stderr().contains("already exists") && again.stderr().contains("loa user passwd"),
        "{}",
        again.stderr()
    );

    let list = run(&["user", "list"], "").ok();
    assert!(
        list.contains("lan.nguyen") && list.contains("operator"),
        "{list}"
    );
    assert!(list.contains("hoạt động"), "{list}");

    // A Windows line end is not part of the password.
    run(&["user", "passwd", "lan.nguyen"], &format!("{SECOND}\r\n")).ok();
    let (_, new_hash, _) = stored(&ws, "lan.nguyen").await;
    assert!(verifies(&new_hash, SECOND) && !verifies(&new_hash, FIRST));

    let off = run(&["user", "disable", "lan.nguyen"], "").ok();
    assert!(off.contains("vô hiệu hoá"), "{off}");
    assert!(stored(&ws, "lan.nguyen").await.2);
    let list = run(&["user", "list"], "").ok();
    assert!(list.contains("vô hiệu hoá"), "{list}");
    // Disabling twice says so and writes nothing more.
    run(&["user", "disable", "lan.nguyen"], "").ok();

    let rows = audit(&ws).await;
    let seen: Vec<(&str, &str)> = rows
        .iter()
        .map(|(_, action, detail)| (action.as_str(), detail.as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            ("user_add", "account lan.nguyen, role operator"),
            ("user_passwd", "account lan.nguyen"),
            ("user_disable", "account lan.nguyen"),
        ]
    );
    assert!(rows.iter().all(|(actor, _, _)| actor.starts_with("cli:")));
    for secret in [FIRST, SECOND, "argon2", &hash, &new_hash] {
        assert!(!outputs.contains(secret), "{secret:?} shown:\n{outputs}");
    }
}

#[test]
fn bad_names_roles_and_passwords_are_refused_with_the_rule() {
    let ws = Workspace::empty();
    let bad_name = ws.loa_input(&["user", "add", "Lan Nguyen", "--role", "viewer"], "x\n");
    assert_eq!(bad_name.code(), 2);
    let err = bad_name.stderr();
    assert!(
        err.contains("account name") && err.contains("e.g. lan.nguyen"),
        "{err}"
    );
    let reserved = ws.loa_input(&["user", "add", "token", "--role", "admin"], "x\n");
    assert!(
        reserved.stderr().contains("reserved"),
        "{}",
        reserved.stderr()
    );

    let bad_role = ws.loa_input(&["user", "add", "lan", "--role", "root"], "x\n");
    assert_eq!(bad_role.code(), 2);
    assert!(
        bad_role
            .stderr()
            .contains("[possible values: viewer, operator, approver, admin]"),
        "{}",
        bad_role.stderr()
    );

    let short = ws.loa_input(&["user", "add", "lan", "--role", "viewer"], "ngắn\n");
    assert_eq!(short.code(), 1);
    assert!(short.stderr().contains("at least 10"), "{}", short.stderr());
    let none = ws.loa_input(&["user", "add", "lan", "--role", "viewer"], "");
    assert_eq!(none.code(), 1);
    assert!(
        none.stderr().contains("no password on standard input"),
        "{}",
        none.stderr()
    );
    // A refused first account leaves no empty ledger behind.
    assert!(!ws.db().exists(), "a ledger was created for nothing");
    ws.loa_input(
        &["user", "add", "lan", "--role", "viewer"],
        &format!("{FIRST}\n"),
    )
    .ok();
    assert!(ws.db().exists());

    let ghost = ws.loa_input(&["user", "passwd", "ghost"], &format!("{FIRST}\n"));
    assert_eq!(ghost.code(), 1);
    assert!(
        ghost.stderr().contains("no account \"ghost\""),
        "{}",
        ghost.stderr()
    );
    let ghost = ws.loa(&["user", "disable", "ghost"]);
    assert_eq!(ghost.code(), 1);
    assert!(
        ghost.stderr().contains("loa user list"),
        "{}",
        ghost.stderr()
    );
}

#[test]
fn list_passwd_and_disable_need_an_existing_ledger() {
    let ws = Workspace::empty();
    for args in [vec!["user", "list"], vec!["user", "disable", "lan"]] {
        let r = ws.loa(&args);
        assert_eq!(r.code(), 1, "{args:?}");
        assert!(r.stderr().contains("there is no ledger"), "{}", r.stderr());
    }
    assert!(!ws.db().exists());
}

#[tokio::test]
async fn retry_with_user_acts_as_an_operator_account_whose_password_matches() {
    use crate::support::workspace::EXAMPLE;
    const CAMPAIGN: &str = "bhyt-hssv-2026-2027";
    let ws = Workspace::example();
    ws.loa(&["simulate", EXAMPLE, "--to", "2026-09-07"]).ok();
    let db = "sqlite://outbox/.simulate/bhyt-hssv-2026-2027.db";
    let loa = |args: &[&str], input: &str| {
        let mut all = vec!["--database-url", db];
        all.extend_from_slice(args);
        ws.loa_input(&all, input)
    };
    for (name, role) in [("lan", "operator"), ("xem", "viewer"), ("cu", "admin")] {
        loa(
            &["user", "add", name, "--role", role],
            &format!("{FIRST}\n"),
        )
        .ok();
    }
    loa(&["user", "disable", "cu"], "").ok();
    let retry = |user: &str, input: &str| loa(&["retry", CAMPAIGN, "--user", user], input);
    let refused = [
        (
            retry("lan", "mật khẩu sai 2026\n"),
            "wrong password for account \"lan\"",
        ),
        (
            retry("xem", &format!("{FIRST}\n")),
            "needs the role operator",
        ),
        (retry("cu", &format!("{FIRST}\n")), "is disabled"),
        (
            retry("ghost", &format!("{FIRST}\n")),
            "no account \"ghost\"",
        ),
        (retry("lan", ""), "no password on standard input"),
    ];
    for (run, why) in &refused {
        assert_eq!(run.code(), 1, "{why}: {}", run.stdout());
        assert!(run.stderr().contains(why), "{why}: {}", run.stderr());
        assert!(!run.stderr().contains(FIRST), "{}", run.stderr());
    }
    retry("lan", &format!("{FIRST}\n")).ok();
    let options =
        SqliteConnectOptions::new().filename(ws.path("outbox/.simulate/bhyt-hssv-2026-2027.db"));
    let mut conn = SqliteConnection::connect_with(&options).await.unwrap();
    let retries: Vec<(String,)> =
        sqlx::query_as("SELECT actor FROM audit WHERE action = 'retry' ORDER BY id")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    assert_eq!(retries, [("lan".to_owned(),)]);
}
