//! Subcommands: each resolves its raw clap arguments into settings and runs.

pub mod fix;
pub mod merge;
pub mod parse;
pub mod route_get;
pub mod scan;

use crate::cli::{Cli, Command};
use crate::exit::Exit;
use asymroute_offline::capture::{self, HostCapture, Limits};
use asymroute_offline::verdict::glob;
use std::path::Path;

pub fn run(cli: Cli) -> std::io::Result<Exit> {
    match cli.command {
        None => scan::run(&cli.scan),
        Some(Command::Scan(args)) => scan::run(&args),
        Some(Command::Parse(args)) => parse::run(&args),
        Some(Command::RouteGet(args)) => route_get::run(&args),
        Some(Command::Fix(args)) => fix::run(&args),
        Some(Command::Merge(args)) => merge::run(&args),
        Some(Command::Generate(args)) => generate(&args.what),
    }
}

/// Completions and the man page, from the clap definition. Both are made
/// in memory and written at once: a closed pipe (`| head`) ends the run
/// quietly instead of panicking inside the generator.
fn generate(what: &str) -> std::io::Result<Exit> {
    use clap::CommandFactory;
    use std::io::Write;
    let mut cmd = Cli::command();
    let mut out: Vec<u8> = Vec::new();
    if what == "man" {
        man_page(&cmd, &mut out)?;
    } else {
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
    }
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(&out)?;
    stdout.flush()?;
    Ok(Exit::Clean)
}

/// One man page for the whole tool: the scan's options, then a section
/// per command (no page of its own to point to), examples and the exit
/// status in sections of their own.
fn man_page(cmd: &clap::Command, out: &mut Vec<u8>) -> std::io::Result<()> {
    let man = clap_mangen::Man::new(cmd.clone());
    man.render_title(out)?;
    man.render_name_section(out)?;
    man.render_synopsis_section(out)?;
    man.render_description_section(out)?;
    man.render_options_section(out)?;
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = sub.get_name();
        let sub = sub.clone().bin_name(format!("asymroute-offline {name}"));
        let page = clap_mangen::Man::new(sub);
        let mut part = Vec::new();
        page.render_synopsis_section(&mut part)?;
        page.render_description_section(&mut part)?;
        page.render_options_section(&mut part)?;
        let text = String::from_utf8_lossy(&part)
            .replacen(
                ".SH SYNOPSIS",
                &format!(".SH \"COMMAND {}\"", name.to_uppercase()),
                1,
            )
            .replace(".SH DESCRIPTION", ".SS Description")
            .replace(".SH OPTIONS", ".SS Options");
        out.extend_from_slice(text.as_bytes());
    }
    out.extend_from_slice(
        b".SH EXAMPLES\n\
.nf\n\
asymroute-offline ./bundle/\n\
asymroute-offline fleet.tar.xz -o report.json\n\
asymroute-offline ./tickets/1234/ --format markdown --explain\n\
asymroute-offline fix ./bundle/ --host web-3 > fix.sh\n\
asymroute-offline route-get ./bundle/ --host web-3 --from 172.16.1.16 --to 8.8.8.8\n\
asymroute-offline parse sos_commands/networking/ip_-4_rule_list --json\n\
.fi\n\
.SH \"EXIT STATUS\"\n\
.TP\n0\nEvery host ok and complete.\n\
.TP\n1\nSome host asymmetric or no-route (route-get: the kernel would answer an error; fix: no safe fix).\n\
.TP\n2\nUsage or I/O error: nothing analysed.\n\
.TP\n3\nNo findings, but some host incomplete or in error, or some input unreadable (fix: a partial fix).\n",
    );
    man.render_version_section(out)?;
    Ok(())
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
