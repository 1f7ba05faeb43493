//! `asymroute-offline fix PATH [--host ID]`: one host's verified fix as a
//! shell script that applies it or, with `undo`, takes it back.

use crate::cli::FixArgs;
use crate::exit::Exit;
use asymroute_offline::verdict::LinkClass;
use asymroute_offline::verdict::fix::FixStatus;
use asymroute_offline::verdict::host::{self, HostReport};
use std::io::Write;

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
    let cap = match super::one_host(&a.path, a.host.as_deref(), "fix") {
        Ok(c) => c,
        Err(e) => return Ok(e),
    };
    let r = host::analyse(cap, &class);
    // The script is made whole, written at once and flushed here, so a
    // closed pipe is an error returned (and ended quietly), not lost at exit.
    let mut out = std::io::stdout().lock();
    let mut emit = |r: &HostReport| -> std::io::Result<()> {
        out.write_all(script(r).as_bytes())?;
        out.flush()
    };
    match r.fix_status {
        FixStatus::None => {
            eprintln!(
                "asymroute-offline: fix: {}: no safe fix: {}",
                r.host, r.fix_reason
            );
            Ok(Exit::Findings)
        }
        FixStatus::NotNeeded => {
            emit(&r)?;
            Ok(Exit::Clean)
        }
        FixStatus::Verified => {
            emit(&r)?;
            Ok(Exit::Clean)
        }
        FixStatus::Partial => {
            emit(&r)?;
            eprintln!(
                "asymroute-offline: fix: {}: partial: {}",
                r.host, r.fix_reason
            );
            Ok(Exit::Incomplete)
        }
    }
}
