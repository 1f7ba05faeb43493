//! Subcommands: each resolves its raw clap arguments into settings and runs.

pub mod fix;
pub mod parse;
pub mod route_get;
pub mod scan;

use crate::capture::{self, HostCapture, Limits};
use crate::cli::{Cli, Command};
use crate::exit::Exit;
use crate::verdict::glob;
use std::path::Path;

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

/// Whether `pat` names the host: its id, hostname or instance id, exactly
/// or as a glob; a bare name also matches the id's last path component.
fn names_host(pat: &str, c: &HostCapture) -> bool {
    let last = c.id.rsplit('/').next().unwrap_or(&c.id);
    [
        Some(c.id.as_str()),
        Some(last),
        c.hostname.as_deref(),
        c.instance_id.as_deref(),
    ]
    .into_iter()
    .flatten()
    .any(|n| glob(pat, n))
}

/// The one host of the bundle at `path` that `pat` names (any host when the
/// bundle holds one), read as `scan` reads it. Otherwise says why on stderr
/// (nothing found; no match or several, with the candidates) and gives the
/// exit status.
pub(crate) fn one_host(path: &Path, pat: Option<&str>, cmd: &str) -> Result<HostCapture, Exit> {
    let mut chosen: Vec<HostCapture> = Vec::new();
    let mut all: Vec<String> = Vec::new();
    let scanned = capture::scan(path, Limits::default(), |c| {
        all.push(c.id.clone());
        if pat.is_none_or(|p| names_host(p, &c)) {
            // Only one is kept whole: the rest only say it is ambiguous.
            if chosen.is_empty() {
                chosen.push(c);
            } else {
                chosen.push(HostCapture::new(c.id.clone(), c.collector));
            }
        }
    });
    if let Err(e) = scanned {
        eprintln!("asymroute-offline: {}: {e}", path.display());
        return Err(Exit::Error);
    }
    if chosen.len() == 1 {
        return Ok(chosen.remove(0));
    }
    if all.is_empty() {
        eprintln!(
            "asymroute-offline: {cmd}: no host captures found in {} (looked for ip addr / ip rule / ip route dumps in every collector layout)",
            path.display()
        );
        return Err(Exit::Error);
    }
    let what = match (pat, chosen.is_empty()) {
        (Some(p), true) => format!("no host matches --host {p}; the hosts are:"),
        (Some(p), false) => format!("--host {p} matches several hosts; name one of:"),
        (None, _) => "the bundle holds several hosts; name one with --host:".into(),
    };
    let ids: Vec<String> = if chosen.is_empty() {
        all
    } else {
        chosen.into_iter().map(|c| c.id).collect()
    };
    let mut list: Vec<String> = ids.iter().take(20).map(|i| format!("  {i}")).collect();
    if ids.len() > 20 {
        list.push(format!("  … ({} in all)", ids.len()));
    }
    eprintln!("asymroute-offline: {cmd}: {what}\n{}", list.join("\n"));
    Err(Exit::Error)
}
