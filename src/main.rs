//! The `loa` binary: parse the command line, run it, map the outcome to an exit code.

#![deny(unsafe_code)]

use std::process::ExitCode;

mod allocator;

fn main() -> ExitCode {
    loa::cli::main()
}
