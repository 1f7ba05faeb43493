//! Subcommands: each resolves its raw clap arguments into settings and runs.

pub mod fix;
pub mod parse;
pub mod route_get;
pub mod scan;

use crate::cli::{Cli, Command};
use crate::exit::Exit;

pub fn run(cli: Cli) -> std::io::Result<Exit> {
    match cli.command {
        None => scan::run(&cli.scan),
        Some(Command::Scan(args)) => scan::run(&args),
        Some(Command::Parse(args)) => parse::run(&args),
        Some(Command::RouteGet(args)) => route_get::run(&args),
        Some(Command::Fix(args)) => fix::run(&args),
        Some(Command::Generate(args)) => generate(&args.what),
    }
}

/// Completions and the man page, from the clap definition.
fn generate(what: &str) -> std::io::Result<Exit> {
    use clap::CommandFactory;
    let mut cmd = Cli::command();
    let mut out = std::io::stdout();
    if what == "man" {
        clap_mangen::Man::new(cmd).render(&mut out)?;
        return Ok(Exit::Clean);
    }
    let shell: clap_complete::Shell = match what.parse() {
        Ok(s) => s,
        Err(_) => {
            eprintln!(
                "asymroute-offline: generate: expected man, bash, zsh, fish, elvish or powershell"
            );
            return Ok(Exit::Error);
        }
    };
    clap_complete::generate(shell, &mut cmd, "asymroute-offline", &mut out);
    Ok(Exit::Clean)
}
