//! Collector layouts: which kept members belong to which host, and which
//! file feeds each dump. Layouts are recognised from their markers
//! (`sos_commands/`, `mod_out/run/`, `insights_commands/`, `networking/`
//! beside `system/instance-id.txt`, supportconfig `network.txt`), then plain
//! folders by file name, then files by content (dumps, transcripts).

pub use super::transcript::sections;

use super::plain::{SystemFile, classify_name, ends_ci, starts_ci};
use super::roles::{
    Role, basename, is_collector_dir, is_identity_file, is_system_file, proc_sys_file, read_system,
    role_of, sos_rank, supportconfig_hostname,
};
use super::source::{Entry, Notice, Visitor, Want};
use crate::grammar::{self, Ctx, DumpKind, Family, Table};
use crate::model::system::proc_sys_read;
use crate::model::{Input, System};
use serde::Serialize;

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

/// One host's kept members, grouped: what the grouping thread hands on.
/// `assemble` reads them into a `HostCapture` (decoding, cutting
/// transcripts into sections, reading sysctls) on the thread that calls
/// it, a worker in a scan: the one grouping thread, which no added core
/// shortens, keeps only what needs other hosts (which members are whose,
/// ec2rl's gathered sosreport, a namespace's kernel).
#[derive(Debug)]
pub struct GroupedHost {
    /// As `HostCapture::id`.
    pub id: String,
    pub collector: Collector,
    /// The members, all of one root (`id` before the bundle's name was put
    /// in front).
    members: Vec<Member>,
    /// Read at grouping: a namespace of an ec2rl run's gathered sosreport
    /// takes the run's.
    pub instance_id: Option<String>,
    notices: Vec<Notice>,
    /// The kernel of the host whose namespace this is, for when the
    /// namespace's own files tell none.
    inherited: Option<(crate::model::KernelVersion, String)>,
    /// Sosreports an ec2rl run gathered, merged into it in this order.
    gathered: Vec<GroupedHost>,
}

impl GroupedHost {
    /// About the bytes it holds: what a queue of hosts weighs. Each member
    /// counts its path and some bookkeeping too: a Kubernetes node's
    /// sosreport is 16,500 files of a few bytes each.
    pub fn size(&self) -> usize {
        let own: usize = self
            .members
            .iter()
            .map(|m| m.entry.data.len() + m.entry.path.len() + m.root.len() + 64)
            .sum();
        own + self.gathered.iter().map(GroupedHost::size).sum::<usize>()
    }

    /// The host's captures, read from its members.
    pub fn assemble(self) -> HostCapture {
        let root = self.members.first().map(|m| m.root.clone());
        let GroupedHost {
            id,
            collector,
            members,
            instance_id,
            notices,
            inherited,
            gathered,
        } = self;
        let mut h = assemble(root.unwrap_or_default(), collector, members);
        h.id = id;
        h.instance_id = instance_id;
        for sos in gathered {
            merge_ec2rl(&mut h, sos.assemble());
        }
        // Notices were placed after the merge: they follow the gathered ones.
        h.notices.extend(notices);
        if h.system.kernel.is_none() {
            h.system.kernel = inherited;
        }
        h
    }
}

/// A kept member with what it is to which host.
#[derive(Debug)]
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
    /// The distinct roots of `members`: what each new member is checked
    /// against (checking every member was quadratic in a host's files on
    /// the one thread that groups: a sosreport keeps thousands).
    roots: Vec<String>,
    notices: Vec<Notice>,
    /// Hashes of the released roots (`root_key`): a fleet's top folder
    /// releases every host, so 8 bytes each rather than the path.
    released: std::collections::HashSet<u64>,
}

/// A released root's key: SipHash with fixed keys, so runs agree; two roots
/// of one archive colliding (odds ~n²/2⁶⁵) would only add a notice.
fn root_key(root: &str) -> u64 {
    use std::hash::{BuildHasher, BuildHasherDefault};
    BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default().hash_one(root)
}

/// The visitor: decides what to keep, and groups kept members into hosts
/// as soon as the walk has left a host's root (walks are sorted and tar
/// members come folder by folder), or its archive ends.
pub struct Grouper<F: FnMut(GroupedHost)> {
    units: Vec<Unit>,
    /// Hosts nested in an ec2rl run's `gathered_out/`, held for their run.
    held: Vec<GroupedHost>,
    /// Kernel versions read so far, by host root: a captured network
    /// namespace runs its host's kernel (its sysctls are its own, and not
    /// collected).
    /// Each with the depth of the unit it was read in, and dropped when its
    /// host or unit is done, so that it does not grow with the fleet.
    kernels: Vec<(String, crate::model::KernelVersion, String, usize)>,
    emit: F,
    pub notices: Vec<Notice>,
}

impl<F: FnMut(GroupedHost)> Grouper<F> {
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

/// Whether a member of this path is worth reading, and what to tell of
/// it (an encrypted sosreport). A function of the path alone, so any
/// thread may ask it (`fan`).
pub(super) fn want_of(path: &str) -> (Want, Option<Notice>) {
    let b = basename(path);
    // Names compared without case, and without a lower-case copy: this
    // runs for every member of every archive.
    let ends = |end: &str| ends_ci(b, end);
    // A copy of /proc/sys/net: only the settings the model reads (6 of a
    // link's ~55 files) are read.
    if let Some((_, setting)) = proc_sys_file(path) {
        let want = if proc_sys_read(setting) {
            Want::Keep
        } else {
            Want::Skip
        };
        return (want, None);
    }
    if is_system_file(path)
        || classify_name(b).is_some()
        || matches!(b, "ifconfig.log" | "iproute.log" | "asymmetricroute.log")
        || is_identity_file(path)
        || b.eq_ignore_ascii_case("network.txt")
        || (starts_ci(b, "network-") && ends(".txt"))
    {
        return (Want::Keep, None);
    }
    if ends(".gpg") {
        // `sos report --encrypt` output: say so rather than skip silently.
        let n = Notice {
            file: path.to_string(),
            message: "encrypted (.gpg): cannot be read without its key".into(),
        };
        return (Want::Skip, Some(n));
    }
    if path.split('/').any(is_collector_dir) {
        return (Want::Skip, None);
    }
    let binary_ext = [
        ".so", ".bin", ".png", ".jpg", ".gif", ".pdf", ".gz", ".xz", ".zst", ".bz2", ".zip",
        ".rpm", ".deb", ".pcap", ".json.gz", ".sha256", ".md5", ".asc", ".gpg",
    ];
    if binary_ext.iter().any(|e| ends(e)) {
        return (Want::Skip, None);
    }
    (Want::Sniff, None)
}

/// What a kept member is to its host (root, collector, role), and the
/// kernel version it tells, where it does: a function of the member alone
/// (path and bytes), so it may be worked out on any thread (`fan`).
#[derive(Debug)]
pub(super) struct Placed {
    root: String,
    collector: Collector,
    role: Role,
    kernel: Option<crate::model::KernelVersion>,
}

/// `Visitor::read_on`: a large file of an unknown name is read whole when
/// its first bytes are a capture (a transcript, a dump), as a small one is
/// kept when all of it is. A function of its path and head alone.
pub(super) fn read_on(path: &str, head: &[u8]) -> bool {
    role_of(path, head).is_some()
}

/// `None` for a member that belongs to no host (dropped at once).
pub(super) fn classify(e: &Entry) -> Option<Placed> {
    let (root, collector, role) = role_of(&e.path, &e.data)?;
    let mut kernel = None;
    if matches!(
        role,
        Role::System(SystemFile::Uname) | Role::SupportconfigEnv
    ) {
        let mut sys = System::default();
        read_system(&mut sys, &role, &e.path, &grammar::decode(&e.data).0);
        kernel = sys.kernel.map(|(v, _)| v);
    }
    Some(Placed {
        root,
        collector,
        role,
        kernel,
    })
}

impl<F: FnMut(GroupedHost)> Visitor for Grouper<F> {
    fn wants(&mut self, path: &str) -> Want {
        let (want, told) = want_of(path);
        if let Some(n) = told {
            self.notice(n);
        }
        want
    }

    fn read_on(&mut self, path: &str, head: &[u8]) -> bool {
        read_on(path, head)
    }

    fn entry(&mut self, e: Entry) {
        // What does not belong to any host is dropped at once.
        if let Some(p) = classify(&e) {
            self.place(e, p);
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
            roots: Vec::new(),
            notices: Vec::new(),
            released: Default::default(),
        });
    }

    fn unit_end(&mut self, _path: &str) {
        let Some(u) = self.units.pop() else { return };
        let held = std::mem::take(&mut self.held);
        self.emit_group(u.members, u.notices, held);
        let depth = self.units.len();
        self.kernels.retain(|k| k.3 <= depth);
    }
}

impl<F: FnMut(GroupedHost)> Grouper<F> {
    /// Adds a classified member to the innermost unit, and releases the
    /// hosts whose root the walk has left.
    pub(super) fn place(&mut self, e: Entry, p: Placed) {
        let Placed {
            root,
            collector,
            role,
            kernel,
        } = p;
        if let Some(v) = kernel {
            let depth = self.units.len();
            self.kernels.push((root.clone(), v, e.path.clone(), depth));
        }
        let Some(u) = self.units.last_mut() else {
            return;
        };
        // Hosts whose root the walk has left are complete: release them.
        let done: Vec<String> = u
            .roots
            .iter()
            .filter(|r| {
                **r != root
                    && !r.is_empty()
                    && !e
                        .path
                        .strip_prefix(r.as_str())
                        .is_some_and(|rest| rest.starts_with('/'))
            })
            .cloned()
            .collect();
        if !u.roots.contains(&root) {
            u.roots.push(root.clone());
        }
        // No hash while nothing is released (a sosreport: one root).
        if !u.released.is_empty() && u.released.contains(&root_key(&root)) {
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

    /// Groups and emits the members of the given roots of the innermost unit.
    fn release(&mut self, roots: &[String]) {
        let Some(u) = self.units.last_mut() else {
            return;
        };
        let (out, keep): (Vec<Member>, Vec<Member>) = std::mem::take(&mut u.members)
            .into_iter()
            .partition(|m| roots.contains(&m.root));
        u.members = keep;
        u.roots.retain(|r| !roots.contains(r));
        let (notices, keep_n): (Vec<Notice>, Vec<Notice>) = std::mem::take(&mut u.notices)
            .into_iter()
            .partition(|n| roots.iter().any(|r| n.file.starts_with(&format!("{r}/"))));
        u.notices = keep_n;
        u.released.extend(roots.iter().map(|r| root_key(r)));
        // A released ec2rl run takes the sosreport it gathered with it.
        let (held, keep_h): (Vec<GroupedHost>, Vec<GroupedHost>) =
            std::mem::take(&mut self.held).into_iter().partition(|h| {
                roots
                    .iter()
                    .any(|r| h.id.starts_with(&format!("{r}/gathered_out/")))
            });
        self.held = keep_h;
        self.emit_group(out, notices, held);
        // Their namespaces were released with them, or before.
        self.kernels.retain(|k| !roots.contains(&k.0));
    }

    fn emit_group(&mut self, members: Vec<Member>, notices: Vec<Notice>, held: Vec<GroupedHost>) {
        let (hosts, stray) = group(members, notices, held);
        for n in stray {
            self.notice(n);
        }
        let nested = !self.units.is_empty();
        for mut h in hosts {
            // The first kernel found stands (a held namespace is looked up
            // again under its run's id), and only where its own files tell
            // none (`assemble`).
            if h.inherited.is_none()
                && let Some((parent, _)) = h.id.split_once("/netns:")
                && let Some((_, v, path, _)) = self.kernels.iter().find(|k| k.0 == parent)
            {
                h.inherited = Some((*v, path.clone()));
            }
            if nested && h.id.contains("/gathered_out/") {
                self.held.push(h);
            } else {
                (self.emit)(h);
            }
        }
    }
}

/// Groups one unit's members into hosts.
fn group(
    members: Vec<Member>,
    notices: Vec<Notice>,
    held: Vec<GroupedHost>,
) -> (Vec<GroupedHost>, Vec<Notice>) {
    // Members by root, in root order, each root's in the order read: a
    // stable sort in place, then the runs cut off from the end. A unit of
    // one host (an archive: a sosreport's 16,500 files) is handed on as it
    // stands, without a copy on this thread.
    let mut members = members;
    members.sort_by(|a, b| a.root.cmp(&b.root));
    let mut runs: Vec<Vec<Member>> = Vec::new();
    while let Some(last) = members.last() {
        let start = members.partition_point(|m| m.root < last.root);
        runs.push(match start {
            0 => std::mem::take(&mut members),
            _ => members.split_off(start),
        });
    }
    let mut hosts: Vec<GroupedHost> = Vec::new();
    for run in runs.into_iter().rev() {
        // A lone identity file (etc/hostname of an unrelated tree) is no host.
        // Identity files sit at a host root's own level or below its root.
        let host = run
            .iter()
            .any(|m| matches!(m.role, Role::Dump(..) | Role::Sections | Role::Ec2rlLog));
        if host {
            hosts.push(grouped(run));
        }
    }
    // An ec2rl run's gathered sosreport is the same machine: merge.
    let mut out: Vec<GroupedHost> = Vec::new();
    let mut nested: Vec<GroupedHost> = held;
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
            Some(p) if !n.id.contains("/netns:") => p.gathered.push(n),
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

/// One root's members as a host, read no further than its instance id
/// (which a namespace of a gathered sosreport takes from its run).
fn grouped(members: Vec<Member>) -> GroupedHost {
    let collector = members
        .iter()
        .map(|m| m.collector)
        .min()
        .unwrap_or(Collector::Plain);
    let mut instance_id = None;
    for Member { entry: e, role, .. } in &members {
        match role {
            Role::InstanceId => {
                let (text, _) = grammar::decode(&e.data);
                let id = text.trim();
                if id.starts_with("i-") && id.len() < 64 {
                    instance_id = Some(id.to_string());
                }
            }
            Role::Ec2rlMain => {
                let (text, _) = grammar::decode(&e.data);
                if let Some(p) = text.find("InstanceID=") {
                    let id: String = text[p + 11..]
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                        .collect();
                    if id.starts_with("i-") {
                        instance_id = Some(id);
                    }
                }
            }
            _ => {}
        }
    }
    GroupedHost {
        id: members.first().map(|m| m.root.clone()).unwrap_or_default(),
        collector,
        members,
        instance_id,
        notices: Vec::new(),
        inherited: None,
        gathered: Vec::new(),
    }
}

/// Reads one root's members (all but the instance id, see `grouped`).
fn assemble(root: String, collector: Collector, members: Vec<Member>) -> HostCapture {
    let mut h = HostCapture::new(root, collector);
    let mut dumps: Vec<(Entry, DumpKind, Ctx)> = Vec::new();
    for Member {
        entry: e,
        collector: coll,
        role,
        ..
    } in members
    {
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
            // Read at grouping (`grouped`).
            Role::InstanceId | Role::Ec2rlMain => {}
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
        h.inputs.push(Input {
            text: grammar::decode_owned(e.data),
            name: e.path,
            kind: k,
            ctx: c,
            lines_before: 0,
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
