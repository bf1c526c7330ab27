//! Options on either side of the command's name: `loa --grace-minutes 5 run` is read as
//! `loa run --grace-minutes 5` (docs/cli.md#global-options).
//!
//! The global options ([`super::Global`]) are clap's `global = true` and are understood
//! anywhere already. A command's own options are clap's only after its name, which people
//! (and systemd units, where the options are often written first) do not expect; so before
//! clap reads the line, a command's own options written before its name move just after
//! it. Only options the command knows move: anything else stays where it was, for clap to
//! refuse with its usual message. Only long options (`--name`, `--name=value`) are
//! concerned: loa's commands have no short ones.

use std::ffi::OsString;

use clap::Command;

/// `args` (the program name first) with the options of the command named in them that
/// were written before its name moved just after it. `cli` must be built
/// ([`Command::build`]), so that each option says whether it takes a value.
pub(super) fn own_options_after_command(cli: &Command, mut args: Vec<OsString>) -> Vec<OsString> {
    let Some((at, command)) = find_command(cli, &args) else {
        return args;
    };
    let mut moved = Vec::new();
    let mut i = 1;
    while i < at {
        let Some((name, inline_value)) = long_option(&args[i]) else {
            i += 1;
            continue;
        };
        if find_long(cli, name).is_some() {
            i += 1;
            continue;
        }
        let Some(own) = find_long(command, name) else {
            i += 1;
            continue;
        };
        let len = if takes_value(own) && !inline_value && i + 1 < at {
            2
        } else {
            1
        };
        moved.push(i..i + len);
        i += len;
    }
    if moved.is_empty() {
        return args;
    }
    let tokens: Vec<OsString> = moved
        .iter()
        .flat_map(|r| args[r.clone()].to_vec())
        .collect();
    for r in moved.iter().rev() {
        args.drain(r.clone());
    }
    let name_at = at - tokens.len();
    args.splice(name_at + 1..name_at + 1, tokens);
    args
}

/// Where the command's name is in `args`, and the command: the first word that is neither
/// an option nor the value of a global option and names a command.
fn find_command<'a>(cli: &'a Command, args: &[OsString]) -> Option<(usize, &'a Command)> {
    let mut i = 1;
    while i < args.len() {
        let token = args[i].to_str()?;
        if token == "--" {
            return None;
        }
        if let Some((name, inline_value)) = long_option(&args[i]) {
            let skip_value = find_long(cli, name).is_some_and(takes_value) && !inline_value;
            i += if skip_value { 2 } else { 1 };
            continue;
        }
        if let Some(command) = cli.find_subcommand(token) {
            return Some((i, command));
        }
        i += 1;
    }
    None
}

/// The name of a long option token and whether its value is written in it (`--name=v`).
fn long_option(token: &OsString) -> Option<(&str, bool)> {
    let long = token.to_str()?.strip_prefix("--")?;
    match long.split_once('=') {
        Some((name, _)) => Some((name, true)),
        None if long.is_empty() => None,
        None => Some((long, false)),
    }
}

fn find_long<'a>(command: &'a Command, name: &str) -> Option<&'a clap::Arg> {
    command.get_arguments().find(|a| a.get_long() == Some(name))
}

fn takes_value(arg: &clap::Arg) -> bool {
    arg.get_action().takes_values()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn reorder(line: &str) -> String {
        let mut cli = super::super::Cli::command();
        cli.build();
        let args = line.split(' ').map(OsString::from).collect();
        own_options_after_command(&cli, args)
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn a_commands_own_options_before_its_name_move_after_it() {
        assert_eq!(
            reorder("loa --grace-minutes 5 run"),
            "loa run --grace-minutes 5"
        );
        assert_eq!(
            reorder(
                "loa --listen 127.0.0.1:9 --public-url=https://x --grace-minutes 5 run --poll 1s"
            ),
            "loa --listen 127.0.0.1:9 run --public-url=https://x --grace-minutes 5 --poll 1s"
        );
        assert_eq!(
            reorder("loa --format json plan f.yaml"),
            "loa plan --format json f.yaml"
        );
    }

    #[test]
    fn global_options_their_values_and_unknown_options_stay_where_they_are() {
        for line in [
            "loa --campaigns run run",
            "loa --campaigns=c plan f.yaml --format json",
            "loa run --grace-minutes 5",
            "loa --grace-minutes 5 plan f.yaml",
            "loa --no-such-option run",
            "loa -- --grace-minutes 5 run",
            "loa --grace-minutes 5",
        ] {
            assert_eq!(reorder(line), line);
        }
    }
}
