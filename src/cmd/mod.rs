//! Subcommands: each resolves its raw clap arguments into settings and runs.

pub mod parse;
pub mod route_get;

use crate::cli::{Cli, Command};
use crate::exit::Exit;

pub fn run(cli: Cli) -> std::io::Result<Exit> {
    match cli.command {
        Command::Parse(args) => parse::run(&args),
        Command::RouteGet(args) => route_get::run(&args),
    }
}
