//! `asymroute-offline fix PATH [--host ID]`: one host's verified fix as a
//! shell script that applies it or, with `undo`, takes it back.

use crate::capture::{self, HostCapture, Limits};
use crate::cli::FixArgs;
use crate::exit::Exit;
use crate::verdict::fix::FixStatus;
use crate::verdict::host::{self, HostReport};
use crate::verdict::{LinkClass, glob};
use std::io::Write;

/// Whether `pat` names the host: its id, hostname or instance id, exactly
/// or as a glob; a bare name also matches the id's last path component.
fn matches(pat: &str, c: &HostCapture) -> bool {
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

/// Text for a one-line shell comment.
fn comment(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

/// The script: `apply` and `undo` functions, the first by default.
pub fn script(r: &HostReport) -> String {
    let mut s = String::from("#!/bin/sh\n");
    let who = match (&r.hostname, &r.instance_id) {
        (Some(n), Some(i)) => format!(" ({n}, {i})"),
        (Some(n), None) | (None, Some(n)) => format!(" ({n})"),
        _ => String::new(),
    };
    s.push_str(&format!(
        "# asymroute-offline fix for {}{}\n",
        comment(&r.host),
        comment(&who)
    ));
    s.push_str(&format!(
        "# fix {}: {}\n",
        r.fix_status.as_str(),
        comment(&r.fix_reason)
    ));
    if !r.fix_unverified.is_empty() {
        s.push_str(&format!(
            "# left asymmetric (not fixed here): {}\n",
            r.fix_unverified.join(", ")
        ));
    }
    s.push_str(
        "#\n# These commands change the running kernel only: a reboot or a network\n\
         # restart loses them. Make them permanent in the host's network\n\
         # configuration once they are confirmed.\n\
         #\n#   sh fix.sh        apply the fix\n#   sh fix.sh undo   take it back\n\
         set -e\n\napply() {\n",
    );
    if r.fix.is_empty() {
        s.push_str("    : nothing to apply\n");
    }
    for (i, f) in r.fix.iter().enumerate() {
        s.push_str(&format!("    # step {}\n", i + 1));
        for n in &f.notes {
            s.push_str(&format!("    # {}\n", comment(n)));
        }
        for c in &f.commands {
            s.push_str(&format!("    {c}\n"));
        }
    }
    s.push_str("}\n\nundo() {\n");
    if r.fix.is_empty() {
        s.push_str("    : nothing to take back\n");
    }
    for (i, f) in r.fix.iter().enumerate().rev() {
        s.push_str(&format!("    # step {}\n", i + 1));
        for c in &f.undo {
            s.push_str(&format!("    {c}\n"));
        }
    }
    s.push_str(
        "}\n\ncase \"${1:-apply}\" in\n    apply) apply ;;\n    undo) undo ;;\n    \
         *) echo \"usage: $0 [apply|undo]\" >&2; exit 2 ;;\nesac\n",
    );
    s
}

pub fn run(a: &FixArgs) -> std::io::Result<Exit> {
    let mut class = LinkClass::default();
    class.internal.extend(a.internal.iter().cloned());
    class.uplink = a.uplink.clone();
    let mut chosen: Vec<HostCapture> = Vec::new();
    let mut all: Vec<String> = Vec::new();
    let scanned = capture::scan(&a.path, Limits::default(), |c| {
        all.push(c.id.clone());
        let keep = match &a.host {
            Some(p) => matches(p, &c),
            None => true,
        };
        // Only two are ever needed: one to fix, one to say it is ambiguous.
        if keep && chosen.len() < 2 {
            chosen.push(c);
        } else if keep {
            chosen.push(HostCapture::new(c.id.clone(), c.collector));
        }
    });
    if let Err(e) = scanned {
        eprintln!("asymroute-offline: {}: {e}", a.path.display());
        return Ok(Exit::Error);
    }
    let list = |ids: &[String]| {
        let mut s: Vec<String> = ids.iter().take(20).map(|i| format!("  {i}")).collect();
        if ids.len() > 20 {
            s.push(format!("  … ({} in all)", ids.len()));
        }
        s.join("\n")
    };
    if chosen.len() != 1 {
        let what = match (&a.host, chosen.is_empty()) {
            (_, true) if all.is_empty() => {
                eprintln!(
                    "asymroute-offline: fix: no host captures found in {}",
                    a.path.display()
                );
                return Ok(Exit::Error);
            }
            (Some(p), true) => format!("no host matches --host {p}; the hosts are:"),
            (Some(p), false) => format!("--host {p} matches several hosts; name one of:"),
            (None, _) => "the bundle holds several hosts; name one with --host:".into(),
        };
        let ids: Vec<String> = if chosen.is_empty() {
            all
        } else {
            chosen.iter().map(|c| c.id.clone()).collect()
        };
        eprintln!("asymroute-offline: fix: {what}\n{}", list(&ids));
        return Ok(Exit::Error);
    }
    let r = host::analyse(chosen.remove(0), &class);
    let mut out = std::io::stdout().lock();
    match r.fix_status {
        FixStatus::None => {
            eprintln!(
                "asymroute-offline: fix: {}: no safe fix: {}",
                r.host, r.fix_reason
            );
            Ok(Exit::Findings)
        }
        FixStatus::NotNeeded => {
            out.write_all(script(&r).as_bytes())?;
            Ok(Exit::Clean)
        }
        FixStatus::Verified => {
            out.write_all(script(&r).as_bytes())?;
            Ok(Exit::Clean)
        }
        FixStatus::Partial => {
            out.write_all(script(&r).as_bytes())?;
            eprintln!(
                "asymroute-offline: fix: {}: partial: {}",
                r.host, r.fix_reason
            );
            Ok(Exit::Incomplete)
        }
    }
}
