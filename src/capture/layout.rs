//! Collector layouts: which kept members belong to which host, and which
//! file feeds each dump. Layouts are recognised from their markers
//! (`sos_commands/`, `mod_out/run/`, `insights_commands/`, `networking/`
//! beside `system/instance-id.txt`, supportconfig `network.txt`), then plain
//! folders by file name, then files by content (dumps, transcripts).

use super::plain::{SystemFile, classify_name, classify_system_name};
use super::source::{Entry, Notice, Visitor, Want};
use crate::grammar::{self, Ctx, DumpKind, Family, Table, TableSel, lines};
use crate::model::{Input, System};
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Collector {
    Sos,
    Supportconfig,
    Insights,
    Eks,
    Ec2rl,
    Plain,
    Transcript,
}

impl Collector {
    pub fn as_str(self) -> &'static str {
        match self {
            Collector::Sos => "sos",
            Collector::Supportconfig => "supportconfig",
            Collector::Insights => "insights",
            Collector::Eks => "eks",
            Collector::Ec2rl => "ec2rl",
            Collector::Plain => "plain",
            Collector::Transcript => "transcript",
        }
    }
}

/// One host's captures, ready for the model.
#[derive(Debug)]
pub struct HostCapture {
    /// The host root's path relative to the bundle (`host/netns:NAME` for a
    /// captured network namespace).
    pub id: String,
    pub collector: Collector,
    pub hostname: Option<String>,
    pub instance_id: Option<String>,
    pub inputs: Vec<Input>,
    /// Dumps the collector did not capture (missing, never empty).
    pub missing: Vec<Missing>,
    /// Other facts worth telling (filtered files, ignored duplicates).
    pub notes: Vec<String>,
    /// Problems reading this host's files.
    pub notices: Vec<Notice>,
    /// ec2rl's own `asymmetricroute.log`: (path, text).
    pub ec2rl_log: Option<(String, String)>,
    /// The kernel version and sysctls the collector kept.
    pub system: System,
}

impl HostCapture {
    pub fn new(id: String, collector: Collector) -> Self {
        HostCapture {
            id,
            collector,
            hostname: None,
            instance_id: None,
            inputs: Vec::new(),
            missing: Vec::new(),
            notes: Vec::new(),
            notices: Vec::new(),
            ec2rl_log: None,
            system: System::default(),
        }
    }

    /// The files that feed each dump, for tests and `--explain`.
    pub fn feeds(&self) -> Vec<(DumpKind, Option<Family>, &str)> {
        self.inputs
            .iter()
            .map(|i| (i.kind, i.ctx.family, i.name.as_str()))
            .collect()
    }
}

/// Path components under which nothing but the named files matters.
const COLLECTOR_DIRS: &[&str] = &[
    "sos_commands",
    "sos_logs",
    "sos_reports",
    "sos_strings",
    "proc",
    "sys",
    "etc",
    "var",
    "usr",
    "lib",
    "lib64",
    "boot",
    "run",
    "mod_out",
    "insights_commands",
    "insights_data",
    "ipamd",
    "sysctls",
    "system",
    "kernel",
    "opt",
    "root",
    "home",
    "cni",
    "containerd",
    "docker",
    "kubelet",
    "storage",
    "gathered_out",
    "meta",
    "blobs",
];

fn basename(p: &str) -> &str {
    p.rsplit('/').next().unwrap_or(p)
}

fn dirname(p: &str) -> &str {
    p.rfind('/').map_or("", |i| &p[..i])
}

/// A file that tells of the host's kernel (version, sysctls) in some
/// collector's layout.
fn is_system_file(path: &str) -> bool {
    let b = basename(path);
    classify_system_name(b).is_some()
        || matches!(
            b,
            "kernelversion.log" | "sysctl.log" | "basic-environment.txt" | "env.txt"
        )
        || path.contains("proc/sys/net/")
}

fn is_identity_file(path: &str) -> bool {
    let b = basename(path);
    matches!(
        b,
        "hostname" | "hostname_-f" | "HOSTNAME" | "instance-id.txt" | "instance-id" | "Main.log"
    )
}

/// A kept member with what it is to which host.
struct Member {
    entry: Entry,
    root: String,
    collector: Collector,
    role: Role,
}

/// An open unit (an archive, the top-level input): its kept members, the
/// notices about its files, and the host roots already released.
struct Unit {
    members: Vec<Member>,
    notices: Vec<Notice>,
    released: std::collections::HashSet<String>,
}

/// The visitor: decides what to keep, and groups kept members into hosts
/// as soon as the walk has left a host's root (walks are sorted and tar
/// members come folder by folder), or its archive ends.
pub struct Grouper<F: FnMut(HostCapture)> {
    units: Vec<Unit>,
    /// Hosts nested in an ec2rl run's `gathered_out/`, held for their run.
    held: Vec<HostCapture>,
    /// Kernel versions read so far, by host root: a captured network
    /// namespace runs its host's kernel (its sysctls are its own, and not
    /// collected).
    kernels: Vec<(String, crate::model::KernelVersion, String)>,
    emit: F,
    pub notices: Vec<Notice>,
}

impl<F: FnMut(HostCapture)> Grouper<F> {
    pub fn new(emit: F) -> Self {
        Grouper {
            units: Vec::new(),
            held: Vec::new(),
            kernels: Vec::new(),
            emit,
            notices: Vec::new(),
        }
    }

    pub fn finish(&mut self) {
        for h in std::mem::take(&mut self.held) {
            (self.emit)(h);
        }
    }
}

impl<F: FnMut(HostCapture)> Visitor for Grouper<F> {
    fn wants(&mut self, path: &str) -> Want {
        let b = basename(path);
        let lower = b.to_ascii_lowercase();
        if classify_name(b).is_some()
            || matches!(b, "ifconfig.log" | "iproute.log" | "asymmetricroute.log")
            || is_system_file(path)
            || is_identity_file(path)
            || lower == "network.txt"
            || (lower.starts_with("network-") && lower.ends_with(".txt"))
        {
            return Want::Keep;
        }
        if lower.ends_with(".gpg") {
            // `sos report --encrypt` output: say so rather than skip silently.
            self.notice(Notice {
                file: path.to_string(),
                message: "encrypted (.gpg): cannot be read without its key".into(),
            });
            return Want::Skip;
        }
        if path.split('/').any(|c| COLLECTOR_DIRS.contains(&c)) {
            return Want::Skip;
        }
        let binary_ext = [
            ".so", ".bin", ".png", ".jpg", ".gif", ".pdf", ".gz", ".xz", ".zst", ".bz2", ".zip",
            ".rpm", ".deb", ".pcap", ".json.gz", ".sha256", ".md5", ".asc", ".gpg",
        ];
        if binary_ext.iter().any(|e| lower.ends_with(e)) {
            return Want::Skip;
        }
        Want::Sniff
    }

    fn entry(&mut self, e: Entry) {
        // What does not belong to any host is dropped at once.
        let Some((root, collector, role)) = role_of(&e.path, &e.data) else {
            return;
        };
        if matches!(
            role,
            Role::System(SystemFile::Uname) | Role::SupportconfigEnv
        ) {
            let mut sys = System::default();
            read_system(&mut sys, &role, &e.path, &grammar::decode(&e.data).0);
            if let Some((v, _)) = sys.kernel {
                self.kernels.push((root.clone(), v, e.path.clone()));
            }
        }
        let Some(u) = self.units.last_mut() else {
            return;
        };
        // Hosts whose root the walk has left are complete: release them.
        let done: Vec<String> = u
            .members
            .iter()
            .map(|m| &m.root)
            .filter(|r| **r != root && !r.is_empty() && !e.path.starts_with(&format!("{r}/")))
            .cloned()
            .collect();
        if u.released.contains(&root) {
            u.notices.push(Notice {
                file: e.path.clone(),
                message: format!(
                    "files of host {root} are not together in the archive: it is reported in parts"
                ),
            });
        }
        u.members.push(Member {
            entry: e,
            root,
            collector,
            role,
        });
        if !done.is_empty() {
            self.release(&done);
        }
    }

    fn notice(&mut self, n: Notice) {
        match self.units.last_mut() {
            Some(u) => u.notices.push(n),
            None => self.notices.push(n),
        }
    }

    fn unit_start(&mut self, _path: &str) {
        self.units.push(Unit {
            members: Vec::new(),
            notices: Vec::new(),
            released: Default::default(),
        });
    }

    fn unit_end(&mut self, _path: &str) {
        let Some(u) = self.units.pop() else { return };
        let held = std::mem::take(&mut self.held);
        self.emit_group(u.members, u.notices, held);
    }
}

impl<F: FnMut(HostCapture)> Grouper<F> {
    /// Groups and emits the members of the given roots of the innermost unit.
    fn release(&mut self, roots: &[String]) {
        let Some(u) = self.units.last_mut() else {
            return;
        };
        let (out, keep): (Vec<Member>, Vec<Member>) = std::mem::take(&mut u.members)
            .into_iter()
            .partition(|m| roots.contains(&m.root));
        u.members = keep;
        let (notices, keep_n): (Vec<Notice>, Vec<Notice>) = std::mem::take(&mut u.notices)
            .into_iter()
            .partition(|n| roots.iter().any(|r| n.file.starts_with(&format!("{r}/"))));
        u.notices = keep_n;
        u.released.extend(roots.iter().cloned());
        // A released ec2rl run takes the sosreport it gathered with it.
        let (held, keep_h): (Vec<HostCapture>, Vec<HostCapture>) =
            std::mem::take(&mut self.held).into_iter().partition(|h| {
                roots
                    .iter()
                    .any(|r| h.id.starts_with(&format!("{r}/gathered_out/")))
            });
        self.held = keep_h;
        self.emit_group(out, notices, held);
    }

    fn emit_group(&mut self, members: Vec<Member>, notices: Vec<Notice>, held: Vec<HostCapture>) {
        let (hosts, stray) = group(members, notices, held);
        for n in stray {
            self.notice(n);
        }
        let nested = !self.units.is_empty();
        for mut h in hosts {
            if h.system.kernel.is_none()
                && let Some((parent, _)) = h.id.split_once("/netns:")
                && let Some((_, v, path)) = self.kernels.iter().find(|k| k.0 == parent)
            {
                h.system.kernel = Some((*v, path.clone()));
            }
            if nested && h.id.contains("/gathered_out/") {
                self.held.push(h);
            } else {
                (self.emit)(h);
            }
        }
    }
}

/// What one kept member is to its host.
#[derive(Debug, Clone, PartialEq)]
enum Role {
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

fn role_of(path: &str, data: &[u8]) -> Option<(String, Collector, Role)> {
    let comps: Vec<&str> = path.split('/').collect();
    let b = basename(path);
    let pos = |name: &str| comps.iter().position(|c| *c == name);
    if let Some(i) = pos("sos_commands") {
        let root = comps[..i].join("/");
        let rest = &comps[i + 1..];
        match rest {
            ["networking", "namespaces", ns, file] => {
                let inner = file
                    .strip_prefix(&format!("ip_netns_exec_{ns}_"))
                    .unwrap_or(file);
                let (k, c) = sos_dump(inner)?;
                return Some((
                    format!("{root}/netns:{ns}"),
                    Collector::Sos,
                    Role::Dump(k, c),
                ));
            }
            // sos's nftables and networking plugins: `nft -a list ruleset`,
            // `ip6tables -t raw -nvL` (firewalld's IPv6_rpfilter lives there).
            ["nftables", file] | ["networking", file]
                if classify_system_name(file) == Some(SystemFile::Netfilter) =>
            {
                return Some((root, Collector::Sos, Role::System(SystemFile::Netfilter)));
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
                return Some((root, Collector::Sos, Role::Dump(k, c)));
            }
            ["host", "hostname"] | ["general", "hostname"] => {
                return Some((root, Collector::Sos, Role::Hostname));
            }
            ["kernel", "uname_-a"] => {
                return Some((root, Collector::Sos, Role::System(SystemFile::Uname)));
            }
            ["kernel", "sysctl_-a"] => {
                return Some((root, Collector::Sos, Role::System(SystemFile::Sysctl)));
            }

            _ => return None,
        }
    }
    // A collector's copy of /proc/sys/net (sos): the tree's root is the host.
    if let Some(i) = comps.windows(3).position(|w| w == ["proc", "sys", "net"]) {
        return Some((comps[..i].join("/"), Collector::Plain, Role::ProcSys));
    }
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
fn sos_rank(name: &str) -> u32 {
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

fn first_command(text: &str) -> Option<lines::Command> {
    text.lines()
        .take(20)
        .find_map(|l| match lines::classify(l) {
            lines::Class::Command(c) => Some(c),
            _ => None,
        })
}

/// Two or more `ip` commands of different output in one file.
fn is_transcript(text: &str) -> bool {
    let mut kinds = 0;
    // Only a line with a prompt character before an `ip` word can be one
    // (dump lines start with digits, addresses or type words).
    let maybe_prompt = |l: &str| {
        let t = l.trim_start();
        t.starts_with(['#', '$', '[', '%', '>', '/'])
            || t.starts_with("ip ")
            || t.contains("$ ")
            || t.contains("# ")
    };
    // A command line holds the word `ip` (or `…/ip`) and a word after it:
    // visit only the lines where `ip` is followed by white space, found
    // with memchr's substring search, instead of splitting every line.
    let bytes = text.as_bytes();
    let mut next_line = 0;
    for at in memchr::memmem::find_iter(bytes, b"ip") {
        if at < next_line || !text[at + 2..].starts_with(char::is_whitespace) {
            continue;
        }
        let start = memchr::memrchr(b'\n', &bytes[..at]).map_or(0, |i| i + 1);
        let end = memchr::memchr(b'\n', &bytes[at..]).map_or(bytes.len(), |i| at + i);
        next_line = end;
        let l = text[start..end]
            .strip_suffix('\r')
            .unwrap_or(&text[start..end]);
        if !maybe_prompt(l) {
            continue;
        }
        if let lines::Class::Command(c) = lines::classify(l)
            && c.kind.is_some()
        {
            kinds += 1;
            if kinds >= 2 {
                return true;
            }
        }
    }
    false
}

/// An unknown file is a dump only if it reads as one: a few records, no
/// errors, and the marks a real dump has (devices, gateways, link lines).
fn sniff(text: &str) -> Option<DumpKind> {
    let kind = grammar::detect(text)?;
    let head: String = text.lines().take(80).collect::<Vec<_>>().join("\n");
    let d = grammar::parse(&head, kind, &Ctx::default());
    if d.is_empty() || d.diagnostics.len() * 4 > d.len() {
        return None;
    }
    let real = match kind {
        DumpKind::IpAddr => d
            .links()
            .iter()
            .any(|l| l.flags.is_some() || !l.addrs.is_empty()),
        DumpKind::IpRule => true,
        DumpKind::IpRoute => d
            .routes()
            .iter()
            .any(|r| r.dev.is_some() || r.gateway.is_some() || !r.nexthops.is_empty()),
    };
    real.then_some(kind)
}

/// Splits a multi-command file into one input per `ip` command section.
/// Other lines are blanked, so line numbers stay those of the file.
pub fn sections(name: &str, text: &str) -> Vec<(Input, lines::Command)> {
    let mut out: Vec<(usize, usize, lines::Command)> = Vec::new();
    let lines_v: Vec<&str> = text.split('\n').collect();
    let mut current: Option<(usize, lines::Command)> = None;
    for (i, l) in lines_v.iter().enumerate() {
        let t = l.trim_end_matches('\r');
        let boundary = t.starts_with("#==[") || is_prompt(t);
        if !boundary {
            continue;
        }
        if let Some((s, c)) = current.take() {
            out.push((s, i, c));
        }
        if let lines::Class::Command(c) = lines::classify(t)
            && c.kind.is_some()
            && c.table != Some(TableSel::Cache)
            && !c.json
        {
            current = Some((i, c));
        }
    }
    if let Some((s, c)) = current.take() {
        out.push((s, lines_v.len(), c));
    }
    out.into_iter()
        .map(|(s, e, c)| {
            let mut masked = String::with_capacity(text.len());
            for (i, l) in lines_v.iter().enumerate() {
                if i >= s && i < e {
                    masked.push_str(l);
                }
                if i + 1 < lines_v.len() {
                    masked.push('\n');
                }
            }
            let table = match &c.table {
                Some(TableSel::One(t)) => Some(t.clone()),
                _ => None,
            };
            let input = Input {
                name: format!("{name}:{}", s + 1),
                text: masked,
                kind: c.kind.unwrap_or(DumpKind::IpRoute),
                ctx: Ctx {
                    family: c.family,
                    table,
                },
            };
            (input, c)
        })
        .collect()
}

/// A shell prompt line or a supportconfig command header: `$ cmd`,
/// `# /usr/sbin/ip addr`, `[root@h ~]# cmd`, `user@h:~$ cmd`.
fn is_prompt(t: &str) -> bool {
    if matches!(lines::classify(t), lines::Class::Command(_)) {
        return true;
    }
    let s = t.trim_start();
    let s = if s.starts_with('[') {
        s.find(']').map_or(s, |i| &s[i + 1..])
    } else {
        s
    };
    let mut w = s.split_whitespace();
    let Some(head) = w.next() else { return false };
    let prompt_head = head == "$"
        || head.ends_with('$') && head.contains('@')
        || head.ends_with('#') && head.len() <= 2;
    prompt_head
        && w.next().is_some_and(|c| {
            c.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"/_.-".contains(&b))
        })
}

/// Groups one unit's members into hosts.
fn group(
    members: Vec<Member>,
    notices: Vec<Notice>,
    held: Vec<HostCapture>,
) -> (Vec<HostCapture>, Vec<Notice>) {
    let mut by_root: BTreeMap<String, Vec<(Entry, Collector, Role)>> = BTreeMap::new();
    for m in members {
        by_root
            .entry(m.root)
            .or_default()
            .push((m.entry, m.collector, m.role));
    }
    // A lone identity file (etc/hostname of an unrelated tree) is no host.
    by_root.retain(|_, v| {
        v.iter()
            .any(|(_, _, r)| matches!(r, Role::Dump(..) | Role::Sections | Role::Ec2rlLog))
    });
    let mut hosts: Vec<HostCapture> = Vec::new();
    // Identity files sit at a host root's own level or below its root.
    for (root, members) in by_root {
        hosts.push(assemble(root, members));
    }
    // An ec2rl run's gathered sosreport is the same machine: merge.
    let mut out: Vec<HostCapture> = Vec::new();
    let mut nested: Vec<HostCapture> = held;
    for h in hosts {
        if h.id.contains("/gathered_out/") {
            nested.push(h);
        } else {
            out.push(h);
        }
    }
    for n in nested {
        let parent = out.iter_mut().find(|p| {
            p.collector == Collector::Ec2rl && n.id.starts_with(&format!("{}/gathered_out/", p.id))
        });
        match parent {
            Some(p) if !n.id.contains("/netns:") => merge_ec2rl(p, n),
            Some(p) => {
                // A namespace of the gathered sosreport belongs to the run.
                let mut n = n;
                let ns = n.id.rsplit('/').next().unwrap_or_default().to_string();
                n.id = format!("{}/{ns}", p.id);
                n.instance_id = p.instance_id.clone();
                out.push(n);
            }
            None => out.push(n),
        }
    }
    // Notices go to the host whose root holds the file.
    let mut stray = Vec::new();
    for n in notices {
        match out
            .iter_mut()
            .filter(|h| n.file.starts_with(&h.id))
            .max_by_key(|h| h.id.len())
        {
            Some(h) => h.notices.push(n),
            None => stray.push(n),
        }
    }
    (out, stray)
}

/// The sosreport gathered by an ec2rl run replaces the run's own dumps
/// (it has `ip rule`); the run keeps its instance id and its own verdict.
fn merge_ec2rl(run: &mut HostCapture, sos: HostCapture) {
    run.notes.push(format!(
        "dumps taken from the sosreport the run gathered: {}",
        sos.id
    ));
    run.inputs = sos.inputs;
    run.missing = sos.missing;
    if sos.system.kernel.is_some() {
        run.system.kernel = sos.system.kernel;
    }
    if !sos.system.sysctls.is_empty() {
        run.system.sysctls = sos.system.sysctls;
        run.system.sysctl_files = sos.system.sysctl_files;
    }
    run.hostname = sos.hostname.or(run.hostname.take());
    run.notices.extend(sos.notices);
    run.notes.extend(sos.notes);
}

fn assemble(root: String, members: Vec<(Entry, Collector, Role)>) -> HostCapture {
    let collector = members
        .iter()
        .map(|m| m.1)
        .min()
        .unwrap_or(Collector::Plain);
    let mut h = HostCapture::new(root, collector);
    let mut dumps: Vec<(Entry, DumpKind, Ctx)> = Vec::new();
    for (e, coll, role) in members {
        // In a collector's tree, loose copies (extracted root symlinks) are ignored.
        if collector != coll && coll == Collector::Plain && matches!(role, Role::Dump(..)) {
            continue;
        }
        let (text, _) = grammar::decode(&e.data);
        match role {
            Role::Dump(k, c) => dumps.push((e, k, c)),
            Role::Sections => {
                for (input, _) in sections(&e.path, &text) {
                    h.inputs.push(input);
                }
                if h.collector == Collector::Supportconfig
                    && let Some(name) = supportconfig_hostname(&text)
                {
                    h.hostname.get_or_insert(name);
                }
            }
            Role::Hostname => {
                let name = text.lines().map(str::trim).find(|l| !l.is_empty());
                if let Some(n) = name
                    && n.len() < 256
                    && !n.contains(' ')
                {
                    h.hostname.get_or_insert(n.to_string());
                }
            }
            Role::InstanceId => {
                let id = text.trim();
                if id.starts_with("i-") && id.len() < 64 {
                    h.instance_id = Some(id.to_string());
                }
            }
            Role::Ec2rlMain => {
                if let Some(p) = text.find("InstanceID=") {
                    let id: String = text[p + 11..]
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                        .collect();
                    if id.starts_with("i-") {
                        h.instance_id = Some(id);
                    }
                }
            }
            Role::Ec2rlLog => h.ec2rl_log = Some((e.path.clone(), text.into_owned())),
            Role::System(_) | Role::ProcSys | Role::SupportconfigEnv => {
                h.notes
                    .extend(read_system(&mut h.system, &role, &e.path, &text));
            }
        }
    }
    // One file per dump: the collector's preferred one; per-table route dumps add up.
    dumps.sort_by(|a, b| (sos_rank(&a.0.path), &a.0.path).cmp(&(sos_rank(&b.0.path), &b.0.path)));
    let mut seen: Vec<(DumpKind, Option<Family>, Option<Table>)> = Vec::new();
    for (e, k, c) in dumps {
        let key = (k, c.family, c.table.clone());
        let dup = seen
            .iter()
            .any(|s| *s == key || (k == DumpKind::IpAddr && s.0 == DumpKind::IpAddr));
        if dup {
            h.notes.push(format!(
                "{}: another {} dump was used instead",
                e.path,
                k.as_str()
            ));
            continue;
        }
        seen.push(key);
        let (text, _) = grammar::decode(&e.data);
        h.inputs.push(Input {
            name: e.path,
            text: text.into_owned(),
            kind: k,
            ctx: c,
        });
    }
    if h.collector == Collector::Supportconfig
        && let Some(n) = basename(h.id.split("/netns:").next().unwrap_or(&h.id))
            .strip_prefix("scc_")
            .or_else(|| basename(&h.id).strip_prefix("nts_"))
    {
        // scc_<host>_<yymmdd>_<HHMM>
        let parts: Vec<&str> = n.rsplitn(3, '_').collect();
        if parts.len() == 3 {
            h.hostname.get_or_insert(parts[2].to_string());
        }
    }
    h.missing = missing(&h);
    if h.collector == Collector::Insights {
        h.notes
            .push("insights-core may filter ip_route_show_table_all: routes can be missing".into());
    }
    h
}

/// Reads a kernel file (by its role) into `sys`; returns notes on what
/// could not be read.
fn read_system(sys: &mut System, role: &Role, path: &str, text: &str) -> Vec<String> {
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

fn supportconfig_hostname(text: &str) -> Option<String> {
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

/// A dump the host's collector did not capture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Missing {
    /// `ip addr`, `ip rule` / `ip -6 rule` (by family), or every `ip route`
    /// dump; with why the collector lacks it, where it is its way.
    Dump {
        kind: DumpKind,
        family: Option<Family>,
        why: &'static str,
    },
    /// A table a rule names that was never dumped (supportconfig dumps
    /// the tables its loop over `ip rule`'s 5th field finds).
    Table { table: Table, rule: u32 },
}

impl Missing {
    /// A route dump (all routes, or one table's).
    pub fn is_routes(&self) -> bool {
        matches!(
            self,
            Missing::Dump {
                kind: DumpKind::IpRoute,
                ..
            } | Missing::Table { .. }
        )
    }
}

impl std::fmt::Display for Missing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Missing::Dump { kind, family, why } => {
                let cmd = match (kind, family) {
                    (DumpKind::IpAddr, _) => "ip addr",
                    (DumpKind::IpRule, Some(Family::Inet6)) => "ip -6 rule",
                    (DumpKind::IpRule, _) => "ip rule",
                    (DumpKind::IpRoute, _) => "ip route",
                };
                write!(f, "{cmd}{why}")
            }
            Missing::Table { table, rule } => {
                write!(f, "ip route show table {table} (named by rule {rule})")
            }
        }
    }
}

/// What the host's collector did not capture.
fn missing(h: &HostCapture) -> Vec<Missing> {
    let has = |k: DumpKind, f: Option<Family>| {
        h.inputs.iter().any(|i| {
            i.kind == k
                && (f.is_none()
                    || i.ctx.family == f
                    || i.ctx.family.is_none() && k == DumpKind::IpRoute)
        })
    };
    let rule = |f: Family| {
        h.inputs
            .iter()
            .any(|i| i.kind == DumpKind::IpRule && i.ctx.family.unwrap_or(Family::Inet) == f)
    };
    let by = match h.collector {
        Collector::Ec2rl => " (ec2rl does not capture it)",
        Collector::Insights => " (Insights archives have no such spec)",
        Collector::Eks => " (the EKS log collector captures ifconfig, not ip addr)",
        Collector::Supportconfig => " (supportconfig runs no ip -6 rule)",
        _ => "",
    };
    let mut m = Vec::new();
    let dump = |kind, family, why| Missing::Dump { kind, family, why };
    if !has(DumpKind::IpAddr, None) {
        m.push(dump(DumpKind::IpAddr, None, by));
    }
    if !rule(Family::Inet) {
        m.push(dump(DumpKind::IpRule, Some(Family::Inet), by));
    }
    if !rule(Family::Inet6) {
        m.push(dump(DumpKind::IpRule, Some(Family::Inet6), by));
    }
    if !has(DumpKind::IpRoute, None) {
        m.push(dump(DumpKind::IpRoute, None, ""));
    }
    if h.collector == Collector::Supportconfig {
        // Tables named by rules but never dumped (supportconfig's 5th-field loop).
        let dumped: Vec<Table> = h
            .inputs
            .iter()
            .filter(|i| i.kind == DumpKind::IpRoute)
            .filter_map(|i| i.ctx.table.clone())
            .collect();
        for i in h.inputs.iter().filter(|i| i.kind == DumpKind::IpRule) {
            let d = grammar::parse(&i.text, DumpKind::IpRule, &i.ctx);
            for r in d.rules() {
                if let Some(t) = &r.table {
                    let builtin = matches!(t, Table::Id(Table::MAIN));
                    let told = m
                        .iter()
                        .any(|x| matches!(x, Missing::Table { table, .. } if table == t));
                    if !builtin && !dumped.contains(t) && !told {
                        m.push(Missing::Table {
                            table: t.clone(),
                            rule: r.priority,
                        });
                    }
                }
            }
        }
    }
    m
}
