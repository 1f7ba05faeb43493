//! Thin main: parse arguments, run, map the outcome to an exit status.
//! A broken pipe (`| head`) is not an error.

mod cli;
mod cmd;
mod exit;

use clap::Parser;
use exit::Exit;
use std::process::ExitCode;

/// Parsing builds and drops millions of small records per fleet; glibc's
/// malloc spent a quarter of the run in them (measured in the fleet bench).
/// Built `no_thp` (Cargo.toml): with huge pages every purged page touched
/// again cost a zeroed 2 MiB page, 39% of a full BGP table's CPU.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
