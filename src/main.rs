//! Thin main: parse arguments, run, map the outcome to an exit status.
//! A broken pipe (`| head`) is not an error.

use asymroute_offline::{cli, cmd, exit::Exit};
use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match cmd::run(cli) {
        Ok(code) => code.into(),
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("asymroute-offline: {err}");
            Exit::Error.into()
        }
    }
}
