//! The `loa` binary: parse the command line, run it, map the outcome to an exit code.

#![forbid(unsafe_code)]

use std::process::ExitCode;

/// mimalloc instead of the system allocator: the dispatcher allocates small, short-lived
/// values on every thread (rows, rendered parts, requests), where glibc's malloc spent a
/// fifth of the daemon's time in its own locking and consolidation.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    loa::cli::main()
}
