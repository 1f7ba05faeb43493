//! Network-namespace helpers for tests that need a live kernel: a skip check
//! (root, `ip`, permission to create namespaces), a namespace that deletes
//! itself on drop, and `ip` / other commands run inside one.
//!
//! Include with `#[path = "support/netns.rs"] mod netns;`. Each test uses a
//! part, hence the `dead_code` allowance.
#![allow(dead_code)]

use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

/// Why namespace tests cannot run here, or `None` when they can: not root,
/// no `ip`, or `ip netns add` refused (containers without CAP_SYS_ADMIN, no
/// writable /run/netns, …). Probes by creating and deleting a namespace.
pub fn skip_reason() -> Option<String> {
    if !is_root() {
        return Some("not running as root".into());
    }
    match Command::new("ip").arg("-V").output() {
        Ok(o) if o.status.success() => {}
        Ok(o) => {
            return Some(format!(
                "`ip -V` failed: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            ));
        }
        Err(e) => return Some(format!("`ip` (iproute2) not found: {e}")),
    }
    match Netns::new("aro-gt-probe") {
        Ok(ns) => {
            drop(ns);
            None
        }
        Err(e) => Some(format!("network namespaces not permitted: {e}")),
    }
}

/// Prints the conventional skip line; the caller then returns (and passes).
pub fn skip(why: &str) {
    eprintln!("skipped: {why}");
}

fn is_root() -> bool {
    // The effective uid is the second field of `Uid:` in /proc/self/status.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|u| u.split_whitespace().nth(1).map(|e| e == "0"))
        })
        .unwrap_or(false)
}

/// A named network namespace, `PREFIX-PID-N`, deleted on drop (also when
/// the test panics).
pub struct Netns {
    name: String,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

impl Netns {
    /// Creates `PREFIX-<pid>-<n>`; the pid keeps concurrent test processes
    /// apart and lets leftovers of a killed run be told from live ones.
    pub fn new(prefix: &str) -> Result<Netns, String> {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("{prefix}-{}-{n}", std::process::id());
        run(Command::new("ip").args(["netns", "add", &name]))?;
        Ok(Netns { name })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// `ip -n NAME ARGS…`; stdout on success, else the command and its stderr.
    pub fn ip(&self, args: &[&str]) -> Result<String, String> {
        let out = run(Command::new("ip").arg("-n").arg(&self.name).args(args))?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// `ip netns exec NAME ARGV…` (sysctl, a shell, …).
    pub fn exec(&self, argv: &[&str]) -> Result<Output, String> {
        run(Command::new("ip")
            .args(["netns", "exec", &self.name])
            .args(argv))
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

/// Runs a command; a non-zero exit becomes `Err("CMD: STDERR")`.
pub fn run(cmd: &mut Command) -> Result<Output, String> {
    let shown = format!("{cmd:?}");
    let out = cmd.output().map_err(|e| format!("{shown}: {e}"))?;
    if out.status.success() {
        Ok(out)
    } else {
        Err(format!(
            "{shown}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}
