//! One shell command under GNU time (`/usr/bin/time`), for the benches
//! (`fleet.rs`, `hosts.rs`): included with `#[path]`; each reads a part,
//! hence the `dead_code` allowance.
#![allow(dead_code)]

use std::process::Command;

/// What GNU time measured of one run.
#[derive(Debug, Clone, Copy)]
pub struct Run {
    pub wall: f64,
    /// User + system CPU seconds.
    pub cpu: f64,
    /// Peak RSS, KiB.
    pub rss_kib: u64,
}

/// Runs `cmd` in `sh` (its own redirections, else its output discarded)
/// `runs` times and keeps the best run by `by`; `None` when GNU time could
/// not run or said nothing.
pub fn best(cmd: &str, runs: usize, by: impl Fn(&Run) -> f64) -> Option<Run> {
    let mut best: Option<Run> = None;
    for _ in 0..runs {
        let o = Command::new("/usr/bin/time")
            .args(["-f", "%e %U %S %M", "sh", "-c"])
            .arg(format!("{{ {cmd} ; }} >/dev/null 2>/dev/null"))
            .output()
            .ok()?;
        let err = String::from_utf8_lossy(&o.stderr);
        let mut it = err.lines().last().unwrap_or("").split_whitespace();
        let mut num = || it.next().and_then(|s| s.parse::<f64>().ok());
        let (wall, user, sys, rss) = (num()?, num()?, num()?, num()?);
        let r = Run {
            wall,
            cpu: user + sys,
            rss_kib: rss as u64,
        };
        if best.is_none_or(|b| by(&r) < by(&b)) {
            best = Some(r);
        }
    }
    best
}
