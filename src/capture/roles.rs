//! What each path of a bundle is: the collector directories nothing but
//! named files matters in, each kept member's host root, collector and role
//! (by layout marker, then name, then content), and the readers of kernel
//! files by role. Apart from `layout` so grouping and assembling hosts read
//! without the per-collector path tables.

use super::layout::Collector;
use super::plain::{SystemFile, classify_name, classify_system_name};
use super::transcript::{first_command, is_transcript, sniff};
use crate::grammar::{self, Ctx, DumpKind, Family};
use crate::model::System;
use crate::model::system::{proc_sys_net, proc_sys_read};

/// Path components under which nothing but the named files matters. A
/// `match`, not a list to search: it is asked of every part of every
/// member's path that no name above kept.
pub(super) fn is_collector_dir(part: &str) -> bool {
    matches!(
        part,
        "sos_commands"
            | "sos_logs"
            | "sos_reports"
            | "sos_strings"
            | "proc"
            | "sys"
            | "etc"
            | "var"
            | "usr"
            | "lib"
            | "lib64"
            | "boot"
            | "run"
            | "mod_out"
            | "insights_commands"
            | "insights_data"
            | "ipamd"
            | "sysctls"
            | "system"
            | "kernel"
            | "opt"
            | "root"
            | "home"
            | "cni"
            | "containerd"
            | "docker"
            | "kubelet"
            | "storage"
            | "gathered_out"
            | "meta"
            | "blobs"
    )
}

/// Whether a part of `path` is `sos_commands`. The substring search comes
/// first, with its searcher made once: this asks every kept member.
fn has_sos_commands(path: &str) -> bool {
    static SOS: std::sync::OnceLock<memchr::memmem::Finder<'static>> = std::sync::OnceLock::new();
    SOS.get_or_init(|| memchr::memmem::Finder::new("sos_commands"))
        .find(path.as_bytes())
        .is_some()
        && path.split('/').any(|c| c == "sos_commands")
}

pub(super) fn basename(p: &str) -> &str {
    p.rsplit('/').next().unwrap_or(p)
}

fn dirname(p: &str) -> &str {
    p.rfind('/').map_or("", |i| &p[..i])
}

/// A file that tells of the host's kernel (its version, `sysctl -a`) in some
/// collector's layout (a `/proc/sys/net` copy is told by `want_of`).
pub(super) fn is_system_file(path: &str) -> bool {
    let b = basename(path);
    classify_system_name(b).is_some()
        || matches!(
            b,
            "kernelversion.log" | "sysctl.log" | "basic-environment.txt" | "env.txt"
        )
}

pub(super) fn is_identity_file(path: &str) -> bool {
    let b = basename(path);
    matches!(
        b,
        "hostname" | "hostname_-f" | "HOSTNAME" | "instance-id.txt" | "instance-id" | "Main.log"
    )
}

/// What one kept member is to its host.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Role {
    /// A dump file, with its kind and context.
    Dump(DumpKind, Ctx),
    /// A file holding several commands' output (transcript, network.txt).
    Sections,
    Hostname,
    InstanceId,
    Ec2rlMain,
    Ec2rlLog,
    /// `uname -a` / `uname -r` output, or `sysctl -a` output.
    System(SystemFile),
    /// One `/proc/sys/net/…` file (its path is the key).
    ProcSys,
    /// A supportconfig file of command blocks holding `uname -a`
    /// (basic-environment.txt) or `sysctl -a` (env.txt).
    SupportconfigEnv,
}

/// A member of a sosreport's `sos_commands/`: what of it is read.
fn sos_role(path: &str) -> Option<(String, Collector, Role)> {
    let comps: Vec<&str> = path.split('/').collect();
    let i = comps.iter().position(|c| *c == "sos_commands")?;
    let root = comps[..i].join("/");
    let rest = &comps[i + 1..];
    match rest {
        ["networking", "namespaces", ns, file] => {
            let inner = file
                .strip_prefix(&format!("ip_netns_exec_{ns}_"))
                .unwrap_or(file);
            let (k, c) = sos_dump(inner)?;
            Some((
                format!("{root}/netns:{ns}"),
                Collector::Sos,
                Role::Dump(k, c),
            ))
        }
        // sos's nftables and networking plugins: `nft -a list ruleset`,
        // `ip6tables -t raw -nvL` (firewalld's IPv6_rpfilter lives there).
        ["nftables", file] | ["networking", file]
            if classify_system_name(file) == Some(SystemFile::Netfilter) =>
        {
            Some((root, Collector::Sos, Role::System(SystemFile::Netfilter)))
        }
        ["networking", file] => {
            if let Some(after) = file.strip_prefix("ip_netns_exec_") {
                // sos 3.x kept namespace files beside the others.
                let ip = after.find("_ip_")?;
                let ns = &after[..ip];
                let (k, c) = sos_dump(&after[ip + 1..])?;
                return Some((
                    format!("{root}/netns:{ns}"),
                    Collector::Sos,
                    Role::Dump(k, c),
                ));
            }
            let (k, c) = sos_dump(file)?;
            Some((root, Collector::Sos, Role::Dump(k, c)))
        }
        ["host", "hostname"] | ["general", "hostname"] => {
            Some((root, Collector::Sos, Role::Hostname))
        }
        ["kernel", "uname_-a"] => Some((root, Collector::Sos, Role::System(SystemFile::Uname))),
        ["kernel", "sysctl_-a"] => Some((root, Collector::Sos, Role::System(SystemFile::Sysctl))),

        _ => None,
    }
}

/// A copied `/proc/sys/net` file's host root and setting: the path before
/// the first `proc/sys/net/` that starts a part of it, and after.
pub(super) fn proc_sys_file(path: &str) -> Option<(&str, &str)> {
    let mut from = 0;
    while let Some(at) = proc_sys_net(&path[from..]).map(|i| from + i) {
        if at == 0 || path.as_bytes()[at - 1] == b'/' {
            let setting = &path[at + "proc/sys/net/".len()..];
            return Some((&path[..at.saturating_sub(1)], setting));
        }
        // Inside a part (`xproc/sys/net/`): look on past it.
        from = at + 1;
    }
    None
}

pub(super) fn role_of(path: &str, data: &[u8]) -> Option<(String, Collector, Role)> {
    if has_sos_commands(path) {
        return sos_role(path);
    }
    // A collector's copy of /proc/sys/net (sos): the tree's root is the
    // host. Found without splitting the path: a Kubernetes node's
    // sosreport keeps 16,500 such files.
    if let Some((root, setting)) = proc_sys_file(path) {
        return proc_sys_read(setting).then(|| (root.to_string(), Collector::Plain, Role::ProcSys));
    }
    let comps: Vec<&str> = path.split('/').collect();
    let b = basename(path);
    let pos = |name: &str| comps.iter().position(|c| *c == name);
    if let Some(i) = pos("mod_out") {
        let root = comps[..i].join("/");
        if comps.get(i + 1) == Some(&"run") && comps.len() == i + 3 {
            return match b {
                "ifconfig.log" => Some((
                    root,
                    Collector::Ec2rl,
                    Role::Dump(DumpKind::IpAddr, Ctx::default()),
                )),
                "iproute.log" => Some((
                    root,
                    Collector::Ec2rl,
                    Role::Dump(DumpKind::IpRoute, Ctx::default()),
                )),
                "asymmetricroute.log" => Some((root, Collector::Ec2rl, Role::Ec2rlLog)),
                "kernelversion.log" => {
                    Some((root, Collector::Ec2rl, Role::System(SystemFile::Uname)))
                }
                "sysctl.log" => Some((root, Collector::Ec2rl, Role::System(SystemFile::Sysctl))),
                _ => None,
            };
        }
        return None;
    }
    if b == "Main.log" {
        return Some((dirname(path).to_string(), Collector::Ec2rl, Role::Ec2rlMain));
    }
    if let Some(i) = pos("insights_commands") {
        let root = comps[..i].join("/");
        return match b {
            "ip_addr" => Some((
                root,
                Collector::Insights,
                Role::Dump(DumpKind::IpAddr, Ctx::default()),
            )),
            "ip_route_show_table_all" => Some((
                root,
                Collector::Insights,
                Role::Dump(DumpKind::IpRoute, Ctx::default()),
            )),
            "hostname_-f" | "hostname" => Some((root, Collector::Insights, Role::Hostname)),
            "uname_-a" | "uname" => {
                Some((root, Collector::Insights, Role::System(SystemFile::Uname)))
            }
            "sysctl_-a" | "sysctl" => {
                Some((root, Collector::Insights, Role::System(SystemFile::Sysctl)))
            }
            _ => None,
        };
    }
    let parent = comps.len().checked_sub(2).map(|i| comps[i]);
    if parent == Some("networking") && matches!(b, "iprule.txt" | "iproute.txt") {
        let root = comps[..comps.len() - 2].join("/");
        let kind = if b == "iprule.txt" {
            DumpKind::IpRule
        } else {
            DumpKind::IpRoute
        };
        return Some((root, Collector::Eks, Role::Dump(kind, Ctx::default())));
    }
    // EKS log collector: `kernel/uname.txt` (uname -a), `sysctls/sysctl_all.txt`;
    // a `system/uname*.txt` as some versions name it. Labelled plain: they
    // do not make a tree an EKS bundle.
    let eks_system = match (parent, b) {
        (Some("kernel"), "uname.txt") => Some(SystemFile::Uname),
        (Some("system"), n) if n.starts_with("uname") && n.ends_with(".txt") => {
            Some(SystemFile::Uname)
        }
        (Some("sysctls"), n) if n.starts_with("sysctl") && n.ends_with(".txt") => {
            Some(SystemFile::Sysctl)
        }
        _ => None,
    };
    if let Some(k) = eks_system {
        return Some((
            comps[..comps.len() - 2].join("/"),
            Collector::Plain,
            Role::System(k),
        ));
    }
    if parent == Some("system") && b == "instance-id.txt" {
        return Some((
            comps[..comps.len() - 2].join("/"),
            Collector::Eks,
            Role::InstanceId,
        ));
    }
    if parent == Some("etc") && matches!(b, "hostname" | "HOSTNAME") {
        return Some((
            comps[..comps.len() - 2].join("/"),
            Collector::Plain,
            Role::Hostname,
        ));
    }
    let lower = b.to_ascii_lowercase();
    if (lower == "network.txt" || (lower.starts_with("network-") && lower.ends_with(".txt")))
        && data.windows(4).take(1 << 20).any(|w| w == b"#==[")
    {
        let dir = dirname(path).to_string();
        let root = match lower
            .strip_prefix("network-")
            .and_then(|r| r.strip_suffix(".txt"))
        {
            Some(ns) => format!("{dir}/netns:{ns}"),
            None => dir,
        };
        return Some((root, Collector::Supportconfig, Role::Sections));
    }
    if matches!(lower.as_str(), "basic-environment.txt" | "env.txt")
        && data.windows(4).take(1 << 20).any(|w| w == b"#==[")
    {
        return Some((
            dirname(path).to_string(),
            Collector::Plain,
            Role::SupportconfigEnv,
        ));
    }
    if let Some(k) = classify_system_name(b) {
        return Some((dirname(path).to_string(), Collector::Plain, Role::System(k)));
    }
    if b == "hostname" {
        return Some((dirname(path).to_string(), Collector::Plain, Role::Hostname));
    }
    // The instance id as IMDS gives it (`curl …/meta-data/instance-id > instance-id`).
    if matches!(b, "instance-id" | "instance-id.txt") {
        return Some((
            dirname(path).to_string(),
            Collector::Plain,
            Role::InstanceId,
        ));
    }
    let (text, _) = grammar::decode(data);
    if let Some((k, mut c)) = classify_name(b) {
        // A header line naming the command refines what the name said.
        if let Some(cmd) = first_command(&text) {
            c.family = c.family.or(cmd.family);
        }
        if is_transcript(&text) {
            return Some((dirname(path).to_string(), Collector::Plain, Role::Sections));
        }
        return Some((
            dirname(path).to_string(),
            Collector::Plain,
            Role::Dump(k, c),
        ));
    }
    // Unknown name: the content decides.
    if is_transcript(&text) {
        return Some((path.to_string(), Collector::Transcript, Role::Sections));
    }
    let kind = sniff(&text)?;
    Some((
        dirname(path).to_string(),
        Collector::Plain,
        Role::Dump(kind, Ctx::default()),
    ))
}

/// sos file names across versions (3.0–4.x).
fn sos_dump(file: &str) -> Option<(DumpKind, Ctx)> {
    let ctx = |family| Ctx {
        family,
        table: None,
    };
    Some(match file {
        "ip_-d_address" | "ip_address" | "ip_-o_addr" | "ip_addr" | "ip_-d_address_show"
        | "ip_address_show" | "ip_addr_show" => (DumpKind::IpAddr, ctx(None)),
        "ip_-4_rule_list" | "ip_-4_rule" | "ip_rule_list" | "ip_rule" | "ip_rule_show" => {
            (DumpKind::IpRule, ctx(Some(Family::Inet)))
        }
        "ip_-6_rule_list" | "ip_-6_rule" => (DumpKind::IpRule, ctx(Some(Family::Inet6))),
        "ip_route_show_table_all" | "ip_route" => (DumpKind::IpRoute, ctx(None)),
        "ip_-6_route_show_table_all" => (DumpKind::IpRoute, ctx(Some(Family::Inet6))),
        _ => return None,
    })
}

/// Preference among sos files for the same dump (insights-core's order).
pub(super) fn sos_rank(name: &str) -> u32 {
    let b = basename(name);
    let b = b.rsplit_once("_ip_").map_or(b, |(_, r)| r);
    match b {
        "ip_-d_address" | "-d_address" | "-d_address_show" => 0,
        "ip_address" | "address" | "address_show" => 1,
        "ip_-o_addr" | "-o_addr" => 2,
        "ip_-4_rule_list" | "-4_rule_list" => 0,
        "ip_-4_rule" | "-4_rule" => 1,
        "ip_-6_rule_list" | "-6_rule_list" => 0,
        _ => 5,
    }
}

/// Reads a kernel file (by its role) into `sys`; returns notes on what
/// could not be read.
pub(super) fn read_system(sys: &mut System, role: &Role, path: &str, text: &str) -> Vec<String> {
    let mut notes = Vec::new();
    match role {
        Role::System(SystemFile::Uname) if !sys.add_uname(path, text) => {
            notes.push(format!("{path}: no kernel release found"));
        }
        Role::System(SystemFile::Sysctl) => notes.extend(sys.add_sysctl_text(path, text)),
        Role::System(SystemFile::Netfilter) => sys.add_netfilter(path, text),
        Role::ProcSys => sys.add_proc_file(path, text),
        Role::SupportconfigEnv => {
            for (cmd, out) in command_blocks(text) {
                let mut w = cmd.split_whitespace();
                let prog = w.next().map(basename);
                let args: Vec<&str> = w.collect();
                match (prog, args.as_slice()) {
                    (Some("uname"), ["-a"] | ["-r"]) => {
                        sys.add_uname(path, &out);
                    }
                    (Some("sysctl"), ["-a"]) => notes.extend(sys.add_sysctl_text(path, &out)),
                    _ => {}
                }
            }
        }
        _ => {}
    }
    notes
}

/// supportconfig's command blocks: `#==[ Command ]===…#`, then
/// `# /path/cmd args`, then the output up to the next `#==[` header.
/// Yields (command, output).
fn command_blocks(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut lines = text.lines().peekable();
    while let Some(l) = lines.next() {
        if !l.trim_start().starts_with("#==[ Command ]") {
            continue;
        }
        let Some(cmd) = lines.next().and_then(|c| c.trim().strip_prefix('#')) else {
            continue;
        };
        let mut body = String::new();
        while let Some(n) = lines.peek() {
            if n.trim_start().starts_with("#==[") {
                break;
            }
            body.push_str(n);
            body.push('\n');
            lines.next();
        }
        out.push((cmd.trim().to_string(), body));
    }
    out
}

pub(super) fn supportconfig_hostname(text: &str) -> Option<String> {
    let mut lines = text.lines();
    while let Some(l) = lines.next() {
        let t = l.trim();
        if t.starts_with("# ") && (t.ends_with("/hostname") || t == "# hostname") {
            return lines
                .next()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty() && !s.contains(' '));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::source::Want;

    /// A /proc/sys/net file's root: the path before the first `proc/sys/net/`
    /// that starts a part, unless `sos_commands` decides.
    #[test]
    fn proc_sys_net_roots() {
        let root = |p: &str| role_of(p, b"1\n").map(|(r, c, role)| (r, c, role == Role::ProcSys));
        let sysctl = |r: &str| Some((r.to_string(), Collector::Plain, true));
        assert_eq!(
            root("b/sosreport-h/proc/sys/net/ipv4/conf/eth0/rp_filter"),
            sysctl("b/sosreport-h")
        );
        assert_eq!(root("proc/sys/net/ipv4/ip_forward"), sysctl(""));
        assert_eq!(root("a//proc/sys/net/ipv4/ip_forward"), sysctl("a/"));
        // Not at a part's start: the next one decides.
        assert_eq!(
            root("a/xproc/sys/net/b/proc/sys/net/ipv4/ip_forward"),
            sysctl("a/xproc/sys/net/b")
        );
        // Under sos_commands the sos rules decide (this is no dump of theirs).
        assert_eq!(root("h/sos_commands/proc/sys/net/ipv4/ip_forward"), None);
        assert_eq!(root("h/proc/sys/network/x"), None);
        // A setting the model does not read is neither read nor placed.
        let want = |p: &str| crate::capture::layout::want_of(p).0;
        let unread = "b/sosreport-h/proc/sys/net/ipv6/conf/eth0/disable_ipv6";
        assert_eq!(root(unread), None);
        assert_eq!(want(unread), Want::Skip);
        assert_eq!(
            want("b/sosreport-h/proc/sys/net/ipv4/conf/eth0/arp_ignore"),
            Want::Skip
        );
        assert_eq!(
            want("b/sosreport-h/proc/sys/net/ipv4/conf/eth0/rp_filter"),
            Want::Keep
        );
        assert_eq!(
            want("b/sosreport-h/proc/sys/net/ipv4/ip_forward"),
            Want::Keep
        );
    }
}
