//! The `loa` binary's allocator, shared with the delivery benchmark (`#[path]`) so its
//! figures are the daemon's.
//!
//! mimalloc instead of the system allocator: the dispatcher allocates small, short-lived
//! values on every thread (rows, rendered parts, requests), where glibc's malloc spent a
//! fifth of the daemon's time in its own locking and consolidation.

#![allow(unsafe_code)]

use libmimalloc_sys::{mi_option_set_default, mi_option_t};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_arena_eager_commit` in mimalloc v3's `mi_option_e` (`mimalloc.h`); the
/// `libmimalloc-sys` crate names only the stable options. The test below fails if an
/// upgrade moves it.
const ARENA_EAGER_COMMIT: mi_option_t = 4;

/// Commit arena memory as it is used instead of all at once. On Linux mimalloc's default
/// (2: eager where the OS overcommits) commits each 1 GiB arena whole, and its purges then
/// only mark freed pages `MADV_FREE`, which the kernel leaves counted in the resident set
/// until memory runs short: 100,000 webhooks peaked at 123–167 MB with the default and
/// 102–118 MB with lazy commit, at the same speed (8 paired runs, 2026-12-04).
///
/// It runs as a constructor, before `main`, because the first arena is reserved at the
/// first allocation and std allocates before `main` calls anything. Only the default is
/// changed: `MIMALLOC_ARENA_EAGER_COMMIT` in the environment still wins.
#[ctor::ctor(unsafe)]
fn commit_on_demand() {
    // SAFETY: mi_option_set_default stores an integer in mimalloc's static option table;
    // it allocates nothing, needs no initialisation and touches no Rust runtime state.
    unsafe { mi_option_set_default(ARENA_EAGER_COMMIT, 0) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use libmimalloc_sys::mi_option_get;
    use std::process::Command;

    const NAME: &str = "MIMALLOC_ARENA_EAGER_COMMIT";

    fn eager_commit() -> std::os::raw::c_long {
        // SAFETY: reads mimalloc's option table; no preconditions.
        unsafe { mi_option_get(ARENA_EAGER_COMMIT) }
    }

    /// Without the variable the constructor's 0 holds. With it, mimalloc's value for that
    /// name is what `ARENA_EAGER_COMMIT` reads, so the index is the option of that name:
    /// the test runs itself again with the variable set to prove it.
    #[test]
    fn arenas_commit_on_demand_unless_the_environment_says_otherwise() {
        if let Ok(value) = std::env::var(NAME) {
            assert_eq!(eager_commit().to_string(), value);
            return;
        }
        assert_eq!(eager_commit(), 0);
        let name =
            "allocator::tests::arenas_commit_on_demand_unless_the_environment_says_otherwise";
        let child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", name, "--test-threads=1"])
            .env(NAME, "3")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&child.stdout);
        assert!(child.status.success(), "{stdout}");
        assert!(stdout.contains("1 passed"), "{stdout}");
    }
}
