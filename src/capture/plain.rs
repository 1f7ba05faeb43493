//! A plain per-host folder: dump kind and family from the file name where it
//! tells (`ip_addr`, `ip-rule.txt`, `ip6_route.txt`, `ip_-6_route_show_table_all`,
//! `ip_route_show_table_10001`), else from the content.

use crate::grammar::{self, Ctx, DumpKind, Family, Table};
use crate::model::{Input, System};
use std::path::Path;

/// Files larger than this are not dumps (and would cost memory).
pub const MAX_DUMP_BYTES: u64 = 64 * 1024 * 1024;

/// Kind, family and table a file name promises, if it promises anything.
pub fn classify_name(name: &str) -> Option<(DumpKind, Ctx)> {
    // Every dump's name holds `ip` (its first word, or `iprule`,
    // `iproute`): the thousands of other files of a sosreport stop here,
    // before any allocation.
    let base = name.rsplit('/').next().unwrap_or(name).as_bytes();
    if !base
        .windows(2)
        .any(|w| w[0].eq_ignore_ascii_case(&b'i') && w[1].eq_ignore_ascii_case(&b'p'))
    {
        return None;
    }
    let n = name.to_ascii_lowercase();
    let stem = n.rsplit('/').next().unwrap_or(&n);
    let words: Vec<&str> = stem
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let has = |w: &str| words.contains(&w);
    let v6 = has("6") || has("ip6") || has("ipv6") || stem.starts_with("ip6");
    let family = if v6 {
        Some(Family::Inet6)
    } else if has("4") {
        Some(Family::Inet)
    } else {
        None
    };
    let kind = if has("rule") || has("ru") || stem.contains("iprule") {
        DumpKind::IpRule
    } else if has("route") || has("ro") || has("r") || stem.contains("iproute") {
        DumpKind::IpRoute
    } else if has("addr") || has("address") || has("a") || has("link") || stem.contains("ipaddr") {
        DumpKind::IpAddr
    } else {
        return None;
    };
    if !words.first().is_some_and(|w| w.starts_with("ip"))
        && !stem.contains("iprule")
        && !stem.contains("iproute")
    {
        return None;
    }
    let mut table = None;
    if let Some(p) = words.iter().position(|w| *w == "table")
        && let Some(t) = words.get(p + 1).filter(|t| !matches!(**t, "all" | "cache"))
    {
        table = Some(Table::parse(t));
    }
    Some((kind, Ctx { family, table }))
}

/// Whether `s` starts with `start`, ASCII case ignored (no lower-case
/// copy: names of every member are asked).
pub(super) fn starts_ci(s: &str, start: &str) -> bool {
    s.len() >= start.len() && s.as_bytes()[..start.len()].eq_ignore_ascii_case(start.as_bytes())
}

/// Whether `s` ends with `end`, ASCII case ignored.
pub(super) fn ends_ci(s: &str, end: &str) -> bool {
    s.len() >= end.len() && s.as_bytes()[s.len() - end.len()..].eq_ignore_ascii_case(end.as_bytes())
}

/// A file that tells of the host's kernel rather than its routing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SystemFile {
    /// `uname -a` or `uname -r` output.
    Uname,
    /// `sysctl -a` output (`key = value`).
    Sysctl,
    /// A netfilter listing (`nft list ruleset`, `ip6tables -t raw -nvL`,
    /// `ip6tables-save`): read only for an IPv6 reverse-path filter.
    Netfilter,
}

/// The kernel files a plain folder may hold, by name: `uname`,
/// `uname_-a`, `uname-a.txt` …; `sysctl_-a`, `sysctl.txt`,
/// `sysctl-a.txt` …
pub fn classify_system_name(name: &str) -> Option<SystemFile> {
    let b = name.rsplit('/').next().unwrap_or(name);
    // Every name below starts with one of these: other names (thousands
    // of files in a sosreport) stop before the lower-case copy.
    if !["uname", "sysctl", "nft_", "ip6tables"]
        .into_iter()
        .any(|p| starts_ci(b, p))
    {
        return None;
    }
    let b = b.to_ascii_lowercase();
    let stem = b.strip_suffix(".txt").unwrap_or(&b);
    match stem {
        "uname" | "uname_-a" | "uname-a" | "uname_a" | "uname_-r" | "uname-r" => {
            Some(SystemFile::Uname)
        }
        "sysctl" | "sysctl_-a" | "sysctl-a" | "sysctl_a" | "sysctl_all" | "sysctl-all" => {
            Some(SystemFile::Sysctl)
        }
        s if s.starts_with("nft_") && s.contains("list_ruleset") || s.starts_with("ip6tables") => {
            Some(SystemFile::Netfilter)
        }
        _ => None,
    }
}

/// Reads a plain host folder's kernel files (`uname`, `sysctl -a`): the
/// kernel version and sysctls, and notes on what could not be read.
pub fn load_plain_system(dir: &Path) -> std::io::Result<(System, Vec<String>)> {
    let mut sys = System::default();
    let mut notes = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(dir)?
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for p in entries {
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let Some(kind) = classify_system_name(&name) else {
            continue;
        };
        let Ok(meta) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        if !meta.is_file() || meta.len() > MAX_DUMP_BYTES {
            continue;
        }
        let bytes = match std::fs::read(&p) {
            Ok(b) => b,
            Err(e) => {
                notes.push(format!("{name}: {e}"));
                continue;
            }
        };
        let (text, _) = grammar::decode(&bytes);
        match kind {
            SystemFile::Uname => {
                if !sys.add_uname(&name, &text) {
                    notes.push(format!("{name}: no kernel release found"));
                }
            }
            SystemFile::Sysctl => notes.extend(sys.add_sysctl_text(&name, &text)),
            SystemFile::Netfilter => sys.add_netfilter(&name, &text),
        }
    }
    Ok((sys, notes))
}

/// Reads one plain host folder into model inputs (sorted by file name).
pub fn load_plain_host(dir: &Path) -> std::io::Result<(Vec<Input>, Vec<String>)> {
    let mut inputs = Vec::new();
    let mut notes = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(dir)?
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for p in entries {
        let Ok(meta) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        if !meta.is_file() {
            continue;
        }
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        if meta.len() > MAX_DUMP_BYTES {
            notes.push(format!(
                "{name}: {} bytes, over the size cap: skipped",
                meta.len()
            ));
            continue;
        }
        // Kernel files are `load_plain_system`'s: not read twice.
        if classify_system_name(&name).is_some() {
            continue;
        }
        let bytes = match std::fs::read(&p) {
            Ok(b) => b,
            Err(e) => {
                notes.push(format!("{name}: {e}"));
                continue;
            }
        };
        let (text, _) = grammar::decode(&bytes);
        let (kind, ctx) = match classify_name(&name) {
            Some(k) => k,
            None => match grammar::detect(&text) {
                Some(k) => (k, Ctx::default()),
                None => continue,
            },
        };
        inputs.push(Input {
            name,
            text: text.into_owned(),
            kind,
            ctx,
            lines_before: 0,
        });
    }
    Ok((inputs, notes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        let k = |n: &str| classify_name(n).map(|(k, c)| (k, c.family, c.table));
        assert_eq!(k("ip_addr.txt"), Some((DumpKind::IpAddr, None, None)));
        assert_eq!(
            k("ip6_route.txt"),
            Some((DumpKind::IpRoute, Some(Family::Inet6), None))
        );
        assert_eq!(
            k("ip_-6_rule_list"),
            Some((DumpKind::IpRule, Some(Family::Inet6), None))
        );
        assert_eq!(
            k("ip_-4_rule"),
            Some((DumpKind::IpRule, Some(Family::Inet), None))
        );
        assert_eq!(
            k("ip_route_show_table_all"),
            Some((DumpKind::IpRoute, None, None))
        );
        assert_eq!(
            k("ip_route_show_table_10001"),
            Some((DumpKind::IpRoute, None, Some(Table::Id(10001))))
        );
        assert_eq!(k("ip-a.txt"), Some((DumpKind::IpAddr, None, None)));
        assert_eq!(k("iprule.txt"), Some((DumpKind::IpRule, None, None)));
        assert_eq!(k("ip_-d_address"), Some((DumpKind::IpAddr, None, None)));
        assert_eq!(k("notes.txt"), None);
        assert_eq!(k("sysctl_-a"), None);
        assert_eq!(k("uname-a.txt"), None);
        assert_eq!(k("hostname"), None);
        // The shortcut on `ip`: any case, the file's own name only.
        assert_eq!(k("IP_ROUTE.TXT"), Some((DumpKind::IpRoute, None, None)));
        assert_eq!(k("x/IPRule"), Some((DumpKind::IpRule, None, None)));
        assert_eq!(k("ip_route/rp_filter"), None);
        assert_eq!(k("ip/route"), None);
    }
}
