//! The host model: links, addresses, policy rules and routing tables rebuilt
//! from one host's parsed dumps, with where each fact came from, and the
//! kernel's route lookup over them (`lookup`).

pub mod lookup;
pub mod system;
pub mod table;
pub mod text;

pub use lookup::{Flow, Hit, KernelError, Lookup};
pub use system::{KernelVersion, Sysctls, System};
pub use table::FibTable;
pub use text::Text;

use crate::grammar::{
    self, Ctx, Dump, DumpKind, Family, Flags, Link, Name, Route, RouteType, Rule, RuleAction, Table,
};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

/// Where a fact came from: a source file of the host and a line range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Origin {
    pub source: u32,
    pub line: u32,
    pub end_line: u32,
}

impl Origin {
    /// A fact the model assumed (default rules, rebuilt local routes).
    pub const ASSUMED: Origin = Origin {
        source: u32::MAX,
        line: 0,
        end_line: 0,
    };
    pub fn is_assumed(&self) -> bool {
        self.source == u32::MAX
    }
}

/// One captured file (or transcript section) of the host.
#[derive(Debug, Clone)]
pub struct Source {
    pub name: String,
    /// Route dumps of a full table are held packed (`Text::packed`).
    pub text: Text,
    pub kind: DumpKind,
    /// `Input::lines_before`: origins count the file's lines, `text` holds
    /// those after it.
    pub lines_before: u32,
    /// The parsed dump, less its routes: those are moved into the host's
    /// tables (copying them cost a tenth of a fleet scan).
    pub dump: Dump,
    /// Records the dump held (links, rules or routes), routes included.
    pub records: usize,
}

#[derive(Debug, Clone)]
pub struct RouteEntry {
    pub route: Route,
    /// The source file (`Origin::source`); the lines are the route's own
    /// (`origin`: a full table is millions of these, and the lines held
    /// twice were 8 bytes a route).
    pub source: u32,
    /// The TOS selector as a number (0 = any).
    pub tos: u8,
}

impl RouteEntry {
    /// A route the model assumed (`Origin::ASSUMED`).
    pub fn assumed(route: Route) -> RouteEntry {
        RouteEntry {
            route,
            source: Origin::ASSUMED.source,
            tos: 0,
        }
    }

    /// Where the route was captured: its file and its own lines.
    pub fn origin(&self) -> Origin {
        if self.source == Origin::ASSUMED.source {
            return Origin::ASSUMED;
        }
        Origin {
            source: self.source,
            line: self.route.line,
            end_line: self.route.end_line,
        }
    }

    /// Kernel default metric when the dump printed none (IPv4: 0; IPv6 user
    /// routes print theirs always).
    pub fn metric(&self) -> u32 {
        self.route.metric.unwrap_or(0)
    }
}

#[derive(Debug, Clone)]
pub struct RuleEntry {
    pub rule: Rule,
    pub origin: Origin,
    /// Resolved `lookup` table.
    pub table: Option<Table>,
    pub tos: Option<u8>,
    /// The rule has selectors a reply's dumps cannot settle
    /// (`Selector::conditional`): found once, not per source's replies (a
    /// host with a rule per address settles every rule per address).
    pub conditional: bool,
}

impl RuleEntry {
    pub fn new(rule: Rule, origin: Origin, table: Option<Table>, tos: Option<u8>) -> Self {
        let conditional = rule.selectors().any(crate::grammar::Selector::conditional);
        RuleEntry {
            conditional,
            rule,
            origin,
            table,
            tos,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct LinkInfo {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<u32>,
    /// Admin up (`UP`).
    pub up: bool,
    /// Carrier (`LOWER_UP`, not `NO-CARRIER`).
    pub carrier: bool,
    pub loopback: bool,
    /// Whether the flags were captured at all (`ip -o addr` prints none).
    pub flags_known: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub master: Option<String>,
    /// `group` (0 = default) for `suppress_ifgroup`.
    pub group: u32,
    /// The table of a VRF device (`-d`: `vrf table N`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vrf_table: Option<u32>,
    /// `POINTOPOINT` or `NOARP` (a tunnel: wg0, tailscale0, tun0): packets
    /// go straight out of it, no neighbour is resolved.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub point_to_point: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct AddrInfo {
    pub link: String,
    pub addr: grammar::Address,
    #[serde(skip)]
    pub origin: Origin,
}

impl AddrInfo {
    pub fn secondary(&self) -> bool {
        self.addr.has_flag("secondary") || self.addr.has_flag("temporary")
    }
}

#[derive(Debug, Default, Clone)]
pub struct Host {
    pub sources: Vec<Source>,
    pub links: Vec<LinkInfo>,
    pub addrs: Vec<AddrInfo>,
    pub rules: [Vec<RuleEntry>; 2],
    pub tables: [BTreeMap<Table, FibTable>; 2],
    /// Facts the model had to assume, for the report.
    pub assumptions: Vec<Assumption>,
    /// Which dumps were present, per family.
    pub have_rules: [bool; 2],
    pub have_routes: [bool; 2],
    pub have_addrs: bool,
    /// Facts about the whole FIB the kernel keeps as flags.
    pub fib: FibFlags,
    /// The kernel version the lookup mirrors: the bundle's, else
    /// `KernelVersion::CURRENT`.
    pub kernel: KernelVersion,
    /// The host's `net.` sysctls (empty when none were collected: the
    /// kernel's defaults apply). Shared: a fix plan's model is a clone of
    /// the host per step, and a Kubernetes node keeps thousands of them.
    pub sysctls: std::sync::Arc<Sysctls>,
    /// Addresses and links by key, built on first use (`Host::index`).
    pub(crate) index: std::sync::OnceLock<Index>,
}

/// A fact the model assumed because the bundle lacks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assumption {
    /// The family whose lookups it bears on (`None`: both).
    pub family: Option<Family>,
    /// The kernel version, a sysctl or a loaded filter: told, but no verdict
    /// is incomplete for it (it bears on rare addresses, or on the impact).
    pub system: bool,
    pub text: String,
}

fn fam_of(fi: usize) -> Family {
    if fi == 0 { Family::Inet } else { Family::Inet6 }
}

/// The host's addresses by address and links by name: every lookup asks
/// which device owns its source, and a host may have 10,000 addresses.
#[derive(Debug, Default, Clone)]
pub(crate) struct Index {
    /// What it was built from (a host changed since is scanned instead).
    addrs_len: usize,
    links_len: usize,
    /// Each address's entries in `addrs`, in order.
    by_addr: HashMap<IpAddr, Vec<u32>, foldhash::fast::RandomState>,
    /// Each link name's first entry in `links`.
    by_link: HashMap<String, u32, foldhash::fast::RandomState>,
    /// The entries of `addrs` on each link, in order: a route lookup
    /// selects a source among a device's addresses (`inet_select_addr`),
    /// for each nexthop of a multipath route.
    on_link: HashMap<String, Vec<u32>, foldhash::fast::RandomState>,
    /// The addresses' broadcast addresses (`brd`).
    broadcasts: std::collections::HashSet<IpAddr, foldhash::fast::RandomState>,
    /// Each nexthop's IPv4 source as asked (`Host::nh_saddr`): it depends
    /// only on what the index was built from and the sysctls.
    pub(crate) nh_saddr: lookup::SaddrCache,
}

/// Per-namespace FIB flags the kernel derives from what was configured,
/// rebuilt from the dumps.
#[derive(Debug, Default, Clone)]
pub struct FibFlags {
    /// fib_has_custom_rules: the rule list is not the kernel's default one.
    /// Without custom IPv4 rules `local` is merged into `main`, and
    /// fib_validate_source only rejects the host's own addresses.
    pub custom_rules: [bool; 2],
    /// fib_has_custom_local_routes: some IPv4 `local` route was added by
    /// hand (not `proto kernel`).
    pub custom_local4: bool,
    /// fib_rules_require_fldissect: some IPv4 rule selects on ipproto/ports.
    pub l4_rules4: bool,
    /// fib_num_tclassid_users: some IPv4 route names a realm (then every
    /// received packet's source is looked up in reverse).
    pub realms4: bool,
}

pub fn fam_idx(f: Family) -> usize {
    match f {
        Family::Inet => 0,
        Family::Inet6 => 1,
    }
}

/// One input to the model: a dump text with its kind and context.
#[derive(Debug, Clone)]
pub struct Input {
    pub name: String,
    pub text: String,
    pub kind: DumpKind,
    pub ctx: Ctx,
    /// Lines of the file before `text`: a transcript's section is its own
    /// lines, numbered as in the file.
    pub lines_before: u32,
}

/// The four built-in tables keep their ids; names that one dump prints and
/// another prints as numbers (`ip -N`) are reconciled where the bundle pairs them.
fn normalize_table(t: &Table, names: &HashMap<String, u32>) -> Table {
    match t {
        Table::Name(n) => names
            .get(n.as_str())
            .map_or_else(|| t.clone(), |&id| Table::Id(id)),
        id => id.clone(),
    }
}

fn parse_tos(s: &str) -> Option<u8> {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u8::from_str_radix(h, 16).ok(),
        None => s.parse().ok(),
    }
}

/// Files a route dump's routes into the host's tables as they are parsed
/// (`grammar::parse_routes_to`), never holding them all twice.
struct Filing<'a> {
    tables: &'a mut [BTreeMap<Table, FibTable>; 2],
    have_routes: &'a mut [bool; 2],
    table_names: &'a HashMap<String, u32>,
    source: u32,
    skip_v6: bool,
    /// Routes the dump held, skipped ones too.
    routes: usize,
    /// At most the routes the dump holds (`expect`).
    most: usize,
    /// The tables the dump started, whether any took room for many
    /// routes (`ROOM_AT`), and the most routes one of them holds.
    started: Vec<(usize, Table)>,
    roomy: bool,
    largest: usize,
}

/// Routes a table of a dump holds before it takes room for the rest.
const ROOM_AT: usize = 4096;

impl grammar::RouteSink for Filing<'_> {
    fn expect(&mut self, n: usize) {
        self.most = n;
    }

    fn take(&mut self, routes: std::vec::Drain<'_, Route>) {
        // Routes of one table come in a run (the kernel dumps a table at a
        // time): a table the batch starts takes room for its run, so a
        // small one is made at its size, not grown.
        let batch = routes.as_slice();
        let mut run = vec![1; batch.len()];
        for i in (1..batch.len()).rev() {
            let (a, b) = (&batch[i - 1], &batch[i]);
            if (a.family, &a.table) == (b.family, &b.table) {
                run[i - 1] = run[i] + 1;
            }
        }
        for (i, mut route) in routes.enumerate() {
            self.routes += 1;
            if route.family == Family::Inet6 && self.skip_v6 {
                continue;
            }
            let fi = fam_idx(route.family);
            self.have_routes[fi] = true;
            route.table = normalize_table(&route.table, self.table_names);
            let t = self.tables[fi].entry(route.table.clone()).or_default();
            if t.is_empty() {
                self.started.push((fi, route.table.clone()));
                t.reserve(run[i]);
            }
            // A full table grown by doubling is copied as it grows, and
            // its old room is held while it is. A table that reaches
            // `ROOM_AT` routes takes room for the rest of the dump: the
            // first one all of it (a dump is mostly one large table), a
            // later one up to twice the largest (a full table per
            // upstream: each about the first's size).
            if t.len() == ROOM_AT {
                let rest = self.most.saturating_sub(self.routes - 1);
                let room = if self.roomy {
                    rest.min(2 * self.largest)
                } else {
                    rest
                };
                t.reserve(room);
                self.roomy = true;
            }
            t.push(RouteEntry {
                tos: route.tos().and_then(parse_tos).unwrap_or(0),
                source: self.source,
                route,
            });
            if t.len() > ROOM_AT {
                self.largest = self.largest.max(t.len());
            }
        }
    }
}

impl Filing<'_> {
    /// Gives back the room the dump's tables did not fill. A small table
    /// keeps none (a host with a table per address has thousands; one
    /// whose routes came in two batches grew); a large one up to four
    /// times its routes: room taken and never touched costs no memory,
    /// only addresses, and giving it back copies the routes.
    fn done(&mut self) {
        for (fi, t) in &self.started {
            if let Some(t) = self.tables[*fi].get_mut(t) {
                t.shrink_to(if t.len() < ROOM_AT { 1 } else { 4 });
            }
        }
    }
}

impl Host {
    /// Parses and assembles a host from its dumps, with no kernel version
    /// or sysctls known (`build_with`).
    pub fn build(inputs: Vec<Input>, table_names: &HashMap<String, u32>) -> Host {
        Host::build_with(inputs, table_names, System::default())
    }

    /// Parses and assembles a host from its dumps and what the bundle says
    /// of its kernel. Never fails: what is missing becomes an assumption,
    /// what is unparsed a diagnostic.
    pub fn build_with(
        inputs: Vec<Input>,
        table_names: &HashMap<String, u32>,
        system: System,
    ) -> Host {
        let mut h = Host::default();
        h.set_system(system);
        // An `ip -6 route` dump supersedes the IPv6 half of a mixed `table all`.
        let v6_route_dump = inputs
            .iter()
            .any(|i| i.kind == DumpKind::IpRoute && i.ctx.family == Some(Family::Inet6));
        // Each link name's entry in `links` (a dump per link per address
        // family may name it again).
        let mut link_at: HashMap<String, usize, foldhash::fast::RandomState> = HashMap::default();
        for (si, input) in inputs.into_iter().enumerate() {
            let si = si as u32;
            // Routes are filed into their tables as they are parsed.
            let mut filed = None;
            let dump = match input.kind {
                DumpKind::IpRoute => {
                    let mut to = Filing {
                        tables: &mut h.tables,
                        have_routes: &mut h.have_routes,
                        table_names,
                        source: si,
                        // IPv6 routes in an IPv4 dump are skipped when an
                        // IPv6 dump is there.
                        skip_v6: v6_route_dump && input.ctx.family != Some(Family::Inet6),
                        routes: 0,
                        most: 0,
                        started: Vec::new(),
                        roomy: false,
                        largest: 0,
                    };
                    let dump = grammar::parse_routes_to(
                        &input.text,
                        &input.ctx,
                        input.lines_before,
                        &mut to,
                    );
                    to.done();
                    filed = Some(to.routes);
                    dump
                }
                _ => grammar::parse_after(&input.text, input.kind, &input.ctx, input.lines_before),
            };
            let records = filed.unwrap_or_else(|| dump.len());
            match input.kind {
                DumpKind::IpAddr => {
                    h.have_addrs |= !dump.links().is_empty() || dump.failed.is_none();
                    for l in dump.links() {
                        h.add_link(l, si, &mut link_at);
                    }
                }
                DumpKind::IpRule => {
                    for r in dump.rules() {
                        let fam = r.family.or(input.ctx.family).unwrap_or(Family::Inet);
                        h.have_rules[fam_idx(fam)] = true;
                        let table = r.table.as_ref().map(|t| normalize_table(t, table_names));
                        h.rules[fam_idx(fam)].push(RuleEntry::new(
                            r.clone(),
                            Origin {
                                source: si,
                                line: r.line,
                                end_line: r.line,
                            },
                            table,
                            r.tos.as_deref().and_then(parse_tos),
                        ));
                    }
                    if dump.failed.is_none()
                        && dump.rules().is_empty()
                        && let Some(f) = input.ctx.family
                    {
                        h.have_rules[fam_idx(f)] = true;
                    }
                }
                DumpKind::IpRoute => {}
            }
            h.sources.push(Source {
                name: input.name,
                // A route dump's lines are only quoted from now on; the
                // other dumps are read whole again (ec2rl's module).
                text: match input.kind {
                    DumpKind::IpRoute => Text::packed(input.text),
                    _ => input.text.into(),
                },
                kind: input.kind,
                lines_before: input.lines_before,
                dump,
                records,
            });
        }
        h.complete();
        h
    }

    /// Takes the kernel version and sysctls; what is missing is assumed at
    /// the current kernel and its defaults, and said.
    fn set_system(&mut self, system: System) {
        match system.kernel {
            Some((v, _)) => self.kernel = v,
            None => {
                self.kernel = KernelVersion::CURRENT;
                self.assume_system(format!(
                    "kernel version not collected (uname): Linux {} assumed",
                    KernelVersion::CURRENT
                ));
            }
        }
        let mut sysctls = system.sysctls;
        sysctls.settle();
        if sysctls.is_empty() {
            self.assume_system(
                "sysctls not collected (sysctl -a): the kernel's defaults assumed (route_localnet=0, accept_local=0, src_valid_mark=0)"
                    .into(),
            );
        }
        if let Some(f) = &system.ipv6_rpfilter {
            self.assume_system(format!(
                "netfilter's IPv6 reverse-path filter is loaded ({f}): it drops IPv6 requests whose replies would leave by another link; not modelled (IPv6 leaks are called delivered, they may be request-dropped)"
            ));
        }
        // Reverse-path filtering decides whether requests arrive at all:
        // where the bundle lacks it, the distribution's default is assumed.
        if !sysctls.has_setting("rp_filter") {
            let distro = system.release.as_deref().and_then(system::distro_rp_filter);
            let text = match distro {
                Some((v, why)) => {
                    sysctls.assume("net.ipv4.conf.default.rp_filter", &v.to_string());
                    format!(
                        "rp_filter not collected (sysctl -a): {v} assumed for every link ({why}; kernel {})",
                        system.release.as_deref().unwrap_or("?")
                    )
                }
                None => "rp_filter not collected (sysctl -a): 0 assumed, the kernel's default (distributions often set 1 or 2, under which requests from leaked ranges are dropped)".into(),
            };
            self.assume_system(text);
        }
        self.sysctls = std::sync::Arc::new(sysctls);
    }

    fn assume(&mut self, family: Option<Family>, text: String) {
        self.assumptions.push(Assumption {
            family,
            system: false,
            text,
        });
    }

    fn assume_system(&mut self, text: String) {
        self.assumptions.push(Assumption {
            family: None,
            system: true,
            text,
        });
    }

    fn add_link(
        &mut self,
        l: &Link,
        source: u32,
        link_at: &mut HashMap<String, usize, foldhash::fast::RandomState>,
    ) {
        // `ip -o addr` and `ip link` may both describe a link: merge by name.
        let pos = link_at.get(&l.name).copied();
        let vrf_table = l.details.iter().find_map(|d| {
            let mut w = d.split_whitespace();
            (w.next() == Some("vrf") && w.next() == Some("table"))
                .then(|| w.next().and_then(|t| t.parse().ok()))
                .flatten()
        });
        let info = LinkInfo {
            name: l.name.clone(),
            index: l.index,
            up: l.flags.is_none() || l.has_flag("UP"),
            carrier: l.flags.is_none() || (l.has_flag("LOWER_UP") && !l.has_flag("NO-CARRIER")),
            loopback: l.has_flag("LOOPBACK") || l.name == "lo",
            flags_known: l.flags.is_some(),
            master: l.master.clone(),
            group: match l.group.as_deref() {
                None | Some("default") => 0,
                Some(g) => g.parse().unwrap_or(u32::MAX),
            },
            vrf_table,
            point_to_point: l.has_flag("POINTOPOINT") || l.has_flag("NOARP"),
        };
        match pos {
            Some(i) if !self.links[i].flags_known || info.flags_known => {
                let keep_idx = self.links[i].index;
                self.links[i] = LinkInfo {
                    index: info.index.or(keep_idx),
                    ..info
                };
            }
            Some(_) => {}
            None => {
                link_at.insert(l.name.clone(), self.links.len());
                self.links.push(info);
            }
        }
        // The link's addresses so far (only a link described twice has any:
        // `ip -o addr` and `ip link`), and this block's: a scan of every
        // address per address was quadratic (10,000 on one link: 0.15 s).
        let mut seen: std::collections::HashSet<(IpAddr, u8), foldhash::fast::RandomState> =
            Default::default();
        if pos.is_some() {
            seen.extend(
                self.addrs
                    .iter()
                    .filter(|x| x.link == l.name)
                    .map(|x| (x.addr.local, x.addr.prefixlen)),
            );
        }
        for a in &l.addrs {
            if seen.insert((a.local, a.prefixlen)) {
                self.addrs.push(AddrInfo {
                    link: l.name.clone(),
                    addr: a.clone(),
                    origin: Origin {
                        source,
                        line: a.line,
                        end_line: a.line,
                    },
                });
            }
        }
    }

    /// Fills what the dumps lack with what the kernel would have, and says so.
    fn complete(&mut self) {
        for (fi, fam) in [(0, "IPv4"), (1, "IPv6")] {
            let defaults = DEFAULT_RULES[fi];
            if !self.have_rules[fi] {
                let cmd = if fi == 0 { "ip rule" } else { "ip -6 rule" };
                self.assume(
                    Some(fam_of(fi)),
                    format!("{cmd} not collected: the kernel's default {fam} rules assumed"),
                );
                for &(prio, table) in defaults {
                    let mut r = Rule::new(0, prio);
                    r.action = RuleAction::Lookup;
                    r.table = Some(Table::Id(table));
                    r.family = Some(if fi == 0 { Family::Inet } else { Family::Inet6 });
                    self.rules[fi].push(RuleEntry::new(
                        r,
                        Origin::ASSUMED,
                        Some(Table::Id(table)),
                        None,
                    ));
                }
            }
            // Rules are kept sorted by priority; equal priorities keep dump order.
            self.rules[fi].sort_by_key(|r| r.rule.priority);
            let has_local = self.tables[fi]
                .get(&Table::Id(Table::LOCAL))
                .is_some_and(|t| !t.is_empty());
            if self.have_routes[fi] && !has_local && self.have_addrs {
                self.assume(
                    Some(fam_of(fi)),
                    format!("{fam} local table not in the route dump: rebuilt from the addresses"),
                );
                self.rebuild_local(fi);
            }
            for t in self.tables[fi].values_mut() {
                t.finish();
            }
            let default = DEFAULT_RULES[fi];
            let rules = &self.rules[fi];
            self.fib.custom_rules[fi] = rules.len() != default.len()
                || rules.iter().zip(default).any(|(r, &(prio, table))| {
                    r.rule.priority != prio
                        || r.table != Some(Table::Id(table))
                        || !is_plain_lookup(&r.rule)
                });
        }
        self.infer_admin_down();
        let ifgroup_rules = self
            .rules
            .iter()
            .flatten()
            .any(|r| r.rule.suppress_ifgroup.is_some());
        if ifgroup_rules && self.links.iter().any(|l| !l.flags_known) {
            self.assume(
                None,
                "link groups not captured (`ip -o addr`): suppress_ifgroup rules take every link as group 0"
                    .into(),
            );
        }
        self.fib.l4_rules4 = self.rules[0]
            .iter()
            .any(|r| r.rule.ipproto.is_some() || r.rule.sport.is_some() || r.rule.dport.is_some());
        self.fib.custom_local4 = self.tables[0].values().any(|t| {
            t.routes.iter().any(|e| {
                e.route.kind() == RouteType::Local
                    && !e.origin().is_assumed()
                    && e.route.protocol() != Some(grammar::RouteProtocol::Kernel)
            })
        });
        self.fib.realms4 = self.tables[0].values().any(|t| {
            t.routes.iter().any(|e| {
                e.route.realms().is_some() || e.route.nexthops.iter().any(|n| n.realms().is_some())
            })
        });
    }

    /// `ip -o addr` prints no link flags. A link that is admin-up and holds
    /// a primary IPv4 address with a prefix route (not /32, not
    /// `noprefixroute`) always has that `proto kernel` route in some table;
    /// when the IPv4 route dump lists no non-local route through the link
    /// at all, the kernel removed them: the link is admin-down. So is a
    /// link with a `dead` nexthop.
    fn infer_admin_down(&mut self) {
        let mut down = Vec::new();
        for (li, l) in self.links.iter().enumerate() {
            if l.flags_known || l.loopback {
                continue;
            }
            // fib_add_ifaddr gives an up link's primary address a prefix
            // route (unless /32 or noprefixroute) and, below /31, a subnet
            // `broadcast` route in table local.
            let captured_local = self.tables[0]
                .get(&Table::Id(Table::LOCAL))
                .is_some_and(|t| t.routes.iter().any(|e| !e.origin().is_assumed()));
            let has_prefix_addr = self.have_routes[0]
                && self.addrs.iter().any(|a| {
                    a.link == l.name
                        && a.addr.local.is_ipv4()
                        && !a.secondary()
                        && a.addr.peer.is_none()
                        && ((a.addr.prefixlen < 32 && !a.addr.has_flag("noprefixroute"))
                            || (a.addr.prefixlen < 31 && captured_local))
                });
            // Multipath nexthops through a down link stay, flagged `dead`.
            let live_on = |d: &Option<Name>, flags: &Flags| {
                d.as_deref() == Some(l.name.as_str()) && !flags.contains("dead")
            };
            let routed = self.tables[0].values().any(|t| {
                t.routes.iter().any(|e| {
                    let r = &e.route;
                    r.kind() != RouteType::Local
                        && !e.origin().is_assumed()
                        && (live_on(&r.dev, &r.flags)
                            || r.nexthops.iter().any(|n| live_on(&n.dev, &n.flags)))
                })
            });
            // fib_sync_down_dev flags nexthops `dead` only when their
            // device goes admin-down (carrier loss only sets `linkdown`).
            let dead_on = |d: &Option<Name>, flags: &Flags| {
                d.as_deref() == Some(l.name.as_str()) && flags.contains("dead")
            };
            let has_dead = self.tables.iter().flat_map(|t| t.values()).any(|t| {
                t.routes.iter().any(|e| {
                    let r = &e.route;
                    dead_on(&r.dev, &r.flags)
                        || r.nexthops.iter().any(|n| dead_on(&n.dev, &n.flags))
                })
            });
            if (has_prefix_addr && !routed) || has_dead {
                down.push(li);
            }
        }
        for li in down {
            let l = &mut self.links[li];
            l.up = false;
            let text = format!(
                "{}: link flags not captured; admin-down assumed (no live route through it)",
                l.name
            );
            self.assume(None, text);
        }
    }

    /// The local table as the kernel fills it from addresses.
    fn rebuild_local(&mut self, fi: usize) {
        let mut t = FibTable::default();
        let fam = if fi == 0 { Family::Inet } else { Family::Inet6 };
        let mut add = |kind: RouteType, dst: ipnet::IpNet, dev: &str, src: Option<IpAddr>| {
            // What the kernel adds for an address (fib_add_ifaddr), made
            // as the record the grammar gives for `local DST dev DEV`.
            let mut r = Route::new(0, fam, dst, kind, Table::Id(Table::LOCAL));
            r.dev = Some(Name::new(dev));
            r.prefsrc = src;
            t.push(RouteEntry::assumed(r));
        };
        for a in &self.addrs {
            let local = a.addr.local;
            if (fi == 0) != local.is_ipv4() {
                continue;
            }
            let host = ipnet::IpNet::new(local, if fi == 0 { 32 } else { 128 }).ok();
            if let Some(h) = host {
                add(RouteType::Local, h, &a.link, Some(local));
            }
            if let Some(b) = a.addr.broadcast
                && let Ok(n) = ipnet::IpNet::new(b, 32)
            {
                add(RouteType::Broadcast, n, &a.link, Some(local));
            }
        }
        if fi == 0
            && let Ok(n) = "127.0.0.0/8".parse()
        {
            add(
                RouteType::Local,
                n,
                "lo",
                Some("127.0.0.1".parse().unwrap()),
            );
        }
        self.tables[fi].insert(Table::Id(Table::LOCAL), t);
    }

    /// The sysctls to change; answers kept in the index are dropped.
    pub fn sysctls_mut(&mut self) -> &mut system::Sysctls {
        self.index = Default::default();
        std::sync::Arc::make_mut(&mut self.sysctls)
    }

    /// The index of addresses and links, unless they changed since it
    /// was built.
    pub(crate) fn index(&self) -> Option<&Index> {
        let ix = self.index.get_or_init(|| {
            let mut by_addr: HashMap<IpAddr, Vec<u32>, _> = HashMap::default();
            for (i, a) in self.addrs.iter().enumerate() {
                by_addr.entry(a.addr.local).or_default().push(i as u32);
            }
            let mut by_link: HashMap<String, u32, _> = HashMap::default();
            for (i, l) in self.links.iter().enumerate() {
                by_link.entry(l.name.clone()).or_insert(i as u32);
            }
            let mut on_link: HashMap<String, Vec<u32>, _> = HashMap::default();
            for (i, a) in self.addrs.iter().enumerate() {
                match on_link.get_mut(a.link.as_str()) {
                    Some(v) => v.push(i as u32),
                    None => {
                        on_link.insert(a.link.clone(), vec![i as u32]);
                    }
                }
            }
            let broadcasts = self.addrs.iter().filter_map(|a| a.addr.broadcast).collect();
            Index {
                addrs_len: self.addrs.len(),
                links_len: self.links.len(),
                by_addr,
                by_link,
                on_link,
                broadcasts,
                nh_saddr: Default::default(),
            }
        });
        (ix.addrs_len == self.addrs.len() && ix.links_len == self.links.len()).then_some(ix)
    }

    /// Whether an address of the host has `a` as its broadcast address.
    pub(crate) fn is_addr_broadcast(&self, a: IpAddr) -> bool {
        match self.index() {
            Some(ix) => ix.broadcasts.contains(&a),
            None => self.addrs.iter().any(|x| x.addr.broadcast == Some(a)),
        }
    }

    /// The entries of `addrs` holding address `a`, in order.
    pub(crate) fn addrs_of(&self, a: IpAddr) -> impl DoubleEndedIterator<Item = &AddrInfo> {
        let (indexed, scan) = match self.index() {
            Some(ix) => (ix.by_addr.get(&a).map(Vec::as_slice), None),
            None => (
                None,
                Some(self.addrs.iter().filter(move |x| x.addr.local == a)),
            ),
        };
        indexed
            .into_iter()
            .flatten()
            .map(|&i| &self.addrs[i as usize])
            .chain(scan.into_iter().flatten())
    }

    /// The entries of `addrs` on link `dev`, in order.
    pub(crate) fn addrs_on<'a>(&'a self, dev: &'a str) -> impl Iterator<Item = &'a AddrInfo> {
        let (indexed, scan) = match self.index() {
            Some(ix) => (ix.on_link.get(dev).map(Vec::as_slice), None),
            None => (None, Some(self.addrs.iter().filter(move |x| x.link == dev))),
        };
        indexed
            .into_iter()
            .flatten()
            .map(|&i| &self.addrs[i as usize])
            .chain(scan.into_iter().flatten())
    }

    pub fn link(&self, name: &str) -> Option<&LinkInfo> {
        match self.index() {
            Some(ix) => ix.by_link.get(name).map(|&i| &self.links[i as usize]),
            None => self.links.iter().find(|l| l.name == name),
        }
    }

    /// Is `a` one of the host's addresses (on any link, up or down)?
    pub fn is_local_addr(&self, a: IpAddr) -> bool {
        self.addrs_of(a).next().is_some()
    }

    pub fn addr_link(&self, a: IpAddr) -> Option<&str> {
        self.addrs_of(a).next().map(|x| x.link.as_str())
    }

    /// `file:line` of a fact, or `assumed`.
    pub fn locate(&self, o: Origin) -> String {
        if o.is_assumed() {
            return "assumed".into();
        }
        match self.sources.get(o.source as usize) {
            Some(s) => format!("{}:{}", s.name, o.line),
            None => "?".into(),
        }
    }

    /// The captured lines of a fact, verbatim (continuation lines included).
    pub fn quote(&self, o: Origin) -> String {
        if o.is_assumed() {
            return String::new();
        }
        let Some(s) = self.sources.get(o.source as usize) else {
            return String::new();
        };
        s.text.lines(
            o.line.saturating_sub(1 + s.lines_before) as usize,
            (o.end_line.max(o.line) - o.line + 1) as usize,
        )
    }

    pub fn table(&self, fam: Family, t: &Table) -> Option<&FibTable> {
        self.tables[fam_idx(fam)].get(t)
    }
}

/// The kernel's rules of a new namespace, per family (priority, table):
/// what a host without `ip rule` is assumed to have, and what makes the
/// rules "custom" when they differ (fib_has_custom_rules).
const DEFAULT_RULES: [&[(u32, u32)]; 2] = [
    &[
        (0, Table::LOCAL),
        (32766, Table::MAIN),
        (32767, Table::DEFAULT),
    ],
    &[(0, Table::LOCAL), (32766, Table::MAIN)],
];

/// A rule that only says `from all lookup T` (the shape of the defaults).
fn is_plain_lookup(r: &Rule) -> bool {
    r.action == RuleAction::Lookup
        && !r.not
        && r.from.is_none_or(|f| f.prefix_len() == 0)
        && r.to.is_none_or(|f| f.prefix_len() == 0)
        && r.selects_addresses_only()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Routes filed into their tables as the dump is parsed: each table
    /// holds its routes in dump order, takes room for the rest once it is
    /// large (no room past four times its routes is kept, none in a small
    /// table), and the dump's records are counted. A full table per
    /// upstream (each about the first's size), a small table before a
    /// large one, and IPv6 routes in an IPv4 dump where an IPv6 dump is
    /// there (skipped, but counted).
    #[test]
    fn routes_are_filed_into_their_tables_as_parsed() {
        use std::fmt::Write;
        let input = |name: &str, text: String, fam: Option<Family>| Input {
            name: name.into(),
            text,
            kind: DumpKind::IpRoute,
            ctx: Ctx {
                family: fam,
                ..Ctx::default()
            },
            lines_before: 0,
        };
        let n = 3 * ROOM_AT;
        let (mut v4, mut v6) = (String::new(), String::new());
        let _ = writeln!(v4, "10.255.0.0/16 via 10.0.0.1 dev eth0 table 7");
        for t in [101, 102, 103] {
            for i in 0..n {
                let _ = writeln!(
                    v4,
                    "11.{}.{}.0/24 via 10.0.0.1 dev eth0 table {t} proto bgp",
                    i / 256,
                    i % 256
                );
            }
        }
        for i in 0..n {
            let _ = writeln!(v4, "12.{}.{}.0/24 via 10.0.0.1 dev eth0", i / 256, i % 256);
        }
        let _ = writeln!(v4, "2001:db8:ff::/48 via 2001:db8::1 dev eth0");
        let _ = writeln!(v6, "2001:db8:1::/48 via 2001:db8::1 dev eth0");
        let h = Host::build(
            vec![
                input("ip_route.txt", v4, None),
                input("ip6_route.txt", v6, Some(Family::Inet6)),
            ],
            &Default::default(),
        );
        let v4t = &h.tables[0];
        for (t, first) in [
            (Table::Id(101), 11),
            (Table::Id(102), 11),
            (Table::Id(103), 11),
            (Table::main(), 12),
        ] {
            let t = &v4t[&t];
            assert_eq!(t.len(), n);
            let want: Vec<String> = (0..n)
                .map(|i| format!("{first}.{}.{}.0/24", i / 256, i % 256))
                .collect();
            let got: Vec<String> = t.routes.iter().map(|e| e.route.dst.to_string()).collect();
            assert_eq!(got, want);
            assert!(
                t.routes.capacity() <= 4 * t.len(),
                "{}",
                t.routes.capacity()
            );
        }
        assert_eq!(v4t[&Table::Id(7)].len(), 1);
        // Small tables keep no room (a host with a table per address).
        assert_eq!(v4t[&Table::Id(7)].routes.capacity(), 1);
        assert_eq!(
            h.sources[0].records,
            4 * n + 2,
            "the skipped IPv6 route counted"
        );
        let v6t: Vec<String> = h.tables[1]
            .values()
            .flat_map(|t| t.routes.iter().map(|e| e.route.dst.to_string()))
            .collect();
        assert!(v6t.contains(&"2001:db8:1::/48".to_string()));
        assert!(!v6t.contains(&"2001:db8:ff::/48".to_string()));
        let e = &v4t[&Table::main()].routes[5];
        let o = e.origin();
        assert_eq!(
            (o.source, o.line, o.end_line),
            (0, e.route.line, e.route.end_line)
        );
        // The route's lines are its origin's, held once (a full table's
        // record was 216 bytes with them twice).
        assert!(std::mem::size_of::<RouteEntry>() <= 208);
        let assumed = RouteEntry::assumed(e.route.clone());
        assert_eq!(assumed.origin(), Origin::ASSUMED);
    }

    /// A link two dumps describe (`ip addr` and `ip -o addr`), or an
    /// address a block lists twice, keeps each address once, in the order
    /// first seen.
    #[test]
    fn addresses_described_twice_are_kept_once() {
        let input = |name: &str, text: &str| Input {
            name: name.into(),
            text: text.into(),
            kind: DumpKind::IpAddr,
            ctx: Ctx::default(),
            lines_before: 0,
        };
        let full = "\
2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc mq state UP group default qlen 1000
    inet 10.0.0.10/24 scope global eth0
    inet 10.0.0.11/24 scope global secondary eth0
    inet 10.0.0.11/24 scope global secondary eth0
3: eth1: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc mq state UP group default qlen 1000
    inet 10.0.1.10/24 scope global eth1
";
        let oneline = "\
2: eth0    inet 10.0.0.10/24 scope global eth0\\       valid_lft forever preferred_lft forever
2: eth0    inet 10.0.0.12/24 scope global secondary eth0\\       valid_lft forever preferred_lft forever
3: eth1    inet 10.0.1.10/25 scope global eth1\\       valid_lft forever preferred_lft forever
";
        let h = Host::build(
            vec![input("ip_addr.txt", full), input("ip_o_addr.txt", oneline)],
            &Default::default(),
        );
        let got: Vec<String> = h
            .addrs
            .iter()
            .map(|a| format!("{} {}/{}", a.link, a.addr.local, a.addr.prefixlen))
            .collect();
        assert_eq!(
            got,
            [
                "eth0 10.0.0.10/24",
                "eth0 10.0.0.11/24",
                "eth1 10.0.1.10/24",
                "eth0 10.0.0.12/24",
                "eth1 10.0.1.10/25",
            ]
        );
        assert_eq!(h.links.len(), 2);
    }
}
