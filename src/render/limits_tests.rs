//! Recursion refused at load ([`super::cycle`]) and the render bounds ([`super::limits`]).

use std::fs;
use std::path::Path;

use tera::Context;

use super::*;

fn workspace(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    for (file, text) in files {
        let path = dir.path().join(file);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).unwrap_or_else(|e| panic!("mkdir {parent:?}: {e}"));
        }
        fs::write(&path, text).unwrap_or_else(|e| panic!("write {path:?}: {e}"));
    }
    dir
}

fn load(root: &Path) -> Result<Renderer, Vec<TemplateError>> {
    Renderer::load(root)
}

fn errors(files: &[(&str, &str)]) -> Vec<TemplateError> {
    let dir = workspace(files);
    match load(dir.path()) {
        Ok(_) => panic!("load succeeded"),
        Err(errors) => errors,
    }
}

fn loaded(files: &[(&str, &str)]) -> Renderer {
    let dir = workspace(files);
    load(dir.path()).unwrap_or_else(|e| panic!("load failed: {e:#?}"))
}

/// Renders on a thread with the stack of tokio's blocking pool (2 MiB), where the
/// dispatcher renders: a stack overflow there would abort the test binary.
fn render_on_small_stack(renderer: Renderer, name: &str) -> Result<String, RenderError> {
    let name = name.to_string();
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || renderer.render(&name, &Context::new()))
        .unwrap_or_else(|e| panic!("spawn: {e}"))
        .join()
        .unwrap_or_else(|_| panic!("the render panicked"))
}

#[test]
fn a_template_that_includes_itself_is_refused_at_load_with_its_line() {
    let found = errors(&[("a/text.tera", "Xin chào\n{% include \"a/text.tera\" %}\n")]);
    assert_eq!(found.len(), 1, "{found:#?}");
    let e = &found[0];
    assert!(e.file.ends_with("a/text.tera"), "{e}");
    assert_eq!(e.line, Some(2), "{e}");
    assert!(e.message.contains("a/text.tera refers to itself"), "{e}");
    assert!(e.hint.as_deref().unwrap_or("").contains("{% for"), "{e}");
}

#[test]
fn templates_that_include_each_other_are_refused_once_with_the_chain() {
    let found = errors(&[
        ("a/text.tera", "{% include \"shared/x.tera\" %}"),
        ("shared/x.tera", "x\n\n{% include \"shared/y.tera\" %}"),
        ("shared/y.tera", "y {% include \"shared/x.tera\" %}"),
    ]);
    assert_eq!(found.len(), 1, "{found:#?}");
    let e = &found[0];
    assert!(e.file.ends_with("shared/y.tera"), "{e}");
    assert_eq!(e.line, Some(1), "{e}");
    assert!(
        e.message
            .contains("shared/x.tera → shared/y.tera → shared/x.tera"),
        "{e}"
    );
}

#[test]
fn a_recursive_macro_is_refused_even_with_a_base_case() {
    let found = errors(&[
        (
            "shared/m.tera",
            "{% macro down(n) %}{{ n }}\n{% if n > 0 %}{{ self::down(n=n - 1) }}{% endif %}{% endmacro down %}",
        ),
        (
            "a/text.tera",
            "{% import \"shared/m.tera\" as m %}{{ m::down(n=3) }}",
        ),
    ]);
    assert_eq!(found.len(), 1, "{found:#?}");
    let e = &found[0];
    assert!(e.file.ends_with("shared/m.tera"), "{e}");
    assert_eq!(e.line, Some(2), "{e}");
    assert!(e.message.contains("macro down (shared/m.tera)"), "{e}");
}

#[test]
fn macros_of_two_files_calling_each_other_are_refused() {
    let found = errors(&[
        (
            "shared/p.tera",
            "{% import \"shared/q.tera\" as q %}{% macro p() %}{{ q::q() }}{% endmacro p %}",
        ),
        (
            "shared/q.tera",
            "{% import \"shared/p.tera\" as p %}{% macro q() %}{{ p::p() }}{% endmacro q %}",
        ),
        (
            "a/text.tera",
            "{% import \"shared/p.tera\" as p %}{{ p::p() }}",
        ),
    ]);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(found[0].message.contains("in a loop"), "{}", found[0]);
}

#[test]
fn includes_and_macros_without_a_loop_still_load_and_render() {
    let renderer = loaded(&[
        ("shared/footer.tera", "— Phòng BHXH"),
        (
            "shared/m.tera",
            "{% macro item(x) %}[{{ x }}]{% endmacro item %}{% macro list(xs) %}{% for x in xs %}{{ self::item(x=x) }}{% endfor %}{% endmacro list %}",
        ),
        (
            "a/text.tera",
            "{% import \"shared/m.tera\" as m %}{{ m::list(xs=[1, 2]) }} {% include \"shared/footer.tera\" %}{% for i in range(end=2) %}{% include \"shared/footer.tera\" %}{% endfor %}",
        ),
    ]);
    let out = renderer.render("a/text.tera", &Context::new());
    assert_eq!(
        out.as_deref(),
        Ok("[1][2] — Phòng BHXH— Phòng BHXH— Phòng BHXH")
    );
}

#[test]
fn nested_loops_of_100000_by_100000_stop_at_the_turn_bound() {
    let renderer = loaded(&[(
        "a/text.tera",
        "{% for i in range(end=100000) %}{% for j in range(end=100000) %}{% endfor %}{% endfor %}",
    )]);
    let error = render_on_small_stack(renderer, "a/text.tera").unwrap_err();
    let RenderError::LimitExceeded { template, limit } = &error else {
        panic!("not a limit: {error}");
    };
    assert_eq!(template, "a/text.tera");
    // Whichever comes first on this machine: the turn count or the clock.
    assert!(
        limit.contains("loop turns") || limit.contains("longer than"),
        "{limit}"
    );
    assert!(
        error.to_string().contains("the message is not sent"),
        "{error}"
    );
}

#[test]
fn includes_nested_deeper_than_the_bound_fail_without_overflowing_the_stack() {
    let mut files: Vec<(String, String)> = (0..60)
        .map(|i| {
            (
                format!("shared/t{i}.tera"),
                format!("{i} {{% include \"shared/t{}.tera\" %}}", i + 1),
            )
        })
        .collect();
    files.push(("shared/t60.tera".into(), "end".into()));
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(f, t)| (f.as_str(), t.as_str()))
        .collect();
    let renderer = loaded(&refs);
    let error = render_on_small_stack(renderer.clone(), "shared/t0.tera").unwrap_err();
    assert!(
        matches!(&error, RenderError::LimitExceeded { limit, .. } if limit.contains("nested more than 32")),
        "{error}"
    );
    // Below the bound, the same chain renders.
    let out = render_on_small_stack(renderer, "shared/t40.tera");
    assert_eq!(
        out.as_deref(),
        Ok("40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59 end")
    );
}

#[test]
fn macros_nested_deeper_than_the_bound_fail_without_overflowing_the_stack() {
    let mut text = String::new();
    for i in 0..60 {
        text.push_str(&format!(
            "{{% macro m{i}() %}}{{{{ self::m{}() }}}}{{% endmacro m{i} %}}",
            i + 1
        ));
    }
    text.push_str("{% macro m60() %}end{% endmacro m60 %}");
    let renderer = loaded(&[
        ("shared/m.tera", text.as_str()),
        (
            "a/text.tera",
            "{% import \"shared/m.tera\" as m %}{{ m::m0() }}",
        ),
        (
            "b/text.tera",
            "{% import \"shared/m.tera\" as m %}{{ m::m40() }}",
        ),
    ]);
    let error = render_on_small_stack(renderer.clone(), "a/text.tera").unwrap_err();
    assert!(
        matches!(&error, RenderError::LimitExceeded { limit, .. } if limit.contains("nested more than 32")),
        "{error}"
    );
    assert_eq!(
        render_on_small_stack(renderer, "b/text.tera").as_deref(),
        Ok("end")
    );
}

#[tokio::test]
async fn off_thread_returns_the_render_and_its_limit_errors() {
    let renderer = std::sync::Arc::new(loaded(&[
        ("a/text.tera", "Xin chào"),
        (
            "b/text.tera",
            "{% for i in range(end=100000) %}{% for j in range(end=100000) %}{% endfor %}{% endfor %}",
        ),
    ]));
    let r = std::sync::Arc::clone(&renderer);
    let ok = off_thread(move || r.render("a/text.tera", &Context::new())).await;
    assert_eq!(ok.as_deref(), Ok("Xin chào"));
    let r = std::sync::Arc::clone(&renderer);
    let slow = off_thread(move || r.render("b/text.tera", &Context::new())).await;
    assert!(
        matches!(slow, Err(RenderError::LimitExceeded { .. })),
        "{slow:?}"
    );
}

/// A render stuck outside Tera's checks (here, a sleep) is abandoned, not awaited: the
/// async side gets the over-time error while the blocking thread finishes on its own.
/// (Real time: tokio's paused clock does not advance while a blocking task runs.)
#[tokio::test]
async fn off_thread_abandons_a_render_that_outlives_its_time() {
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let stuck = off_thread(move || {
        // Held until the test lets go, after it has its answer.
        let _ = rx.recv_timeout(std::time::Duration::from_secs(60));
        Ok(())
    })
    .await;
    assert!(
        matches!(&stuck, Err(RenderError::LimitExceeded { limit, .. }) if limit.contains("longer than 2 s")),
        "{stuck:?}"
    );
    let _ = tx.send(());
}
