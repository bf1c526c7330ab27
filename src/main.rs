//! The `loa` binary: parse the command line, run it, map the outcome to an exit code.

#![forbid(unsafe_code)]

use std::process::ExitCode;

fn main() -> ExitCode {
    loa::cli::main()
}
