//! Verdicts: for every endpoint (a global address on a non-loopback link
//! that is up), where replies to every destination of its peer space leave.
//! Exact, not sampled: the destination space is cut at the boundaries of
//! every prefix a route, rule or address names; within one piece every
//! lookup has the same answer, so one representative per piece decides it.

pub mod ec2rl;
pub mod fix;
pub mod host;
pub mod impact;
pub mod space;
#[cfg(test)]
mod testhosts;

use crate::grammar::{Family, RouteType, Table};
use crate::model::{Host, KernelError, Origin, fam_idx, lookup::is_link_local};
pub use impact::Impact;
use serde::{Deserialize, Serialize};
use space::Range;
use std::cell::OnceCell;

/// Hash maps keyed by small values on the per-host path: foldhash, not
/// SipHash (which was 4% of a fleet scan).
type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
type FastSet<K> = std::collections::HashSet<K, foldhash::fast::RandomState>;
use std::net::IpAddr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Ok,
    NoRoute,
    Asymmetric,
    Error,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Asymmetric => "asymmetric",
            Verdict::NoRoute => "no-route",
            Verdict::Error => "error",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scope {
    /// The destination is in the endpoint link's own connected prefix.
    SameSubnet,
    /// The destination is on another link (its connected prefix, or a
    /// direct route to a prefix).
    CrossSubnet,
    /// The destination is reached through a gateway on another link, or
    /// through a direct default route (a tunnel such as wg-quick's wg0).
    OffLink,
}

/// A captured line, verbatim, with where it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quote {
    pub file: String,
    pub line: u32,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Leak {
    /// Collapsed CIDR ranges: the first `MAX_DESTINATIONS`. The host's own
    /// and broadcast addresses inside a range may be included; never-peers
    /// (loopback, link-local, multicast, 0.0.0.0/8, 240/4) are not.
    pub destinations: Vec<String>,
    /// How many CIDR blocks `destinations` leaves out.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub destinations_omitted: u64,
    /// The same set, said briefly: `0.0.0.0/0 except 10.0.0.0/8, …`.
    pub summary: String,
    pub scope: Scope,
    pub egress: String,
    pub gateway: Option<IpAddr>,
    /// Some flows leave by another nexthop of a multipath route.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hash_dependent: bool,
    /// With `hash_dependent`: every leg the kernel may hash a reply to, the
    /// endpoint's own link included (`egress`/`gateway` name the first
    /// leg elsewhere).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub legs: Vec<Leg>,
    pub rule: Option<Quote>,
    /// The deciding route (the widest, when several routes decide).
    pub route: Option<Quote>,
    /// How many routes decide these destinations.
    pub routes: usize,
    /// The replies' IP protocols this leak is for, where rules on
    /// `ipproto` make replies of some protocols leave differently
    /// (`other`: a protocol no rule names); absent: every protocol.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocols: Option<Vec<String>>,
    /// What happens to the traffic (`impact::assess`).
    pub impact: Impact,
    /// What drops it, in words (`rp_filter=1 (strict): net.ipv4.conf.eth1.rp_filter`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dropped_by: Option<String>,
    #[serde(skip)]
    pub size: u128,
    /// The deciding routes have a nexthop (live or dead) on the
    /// endpoint's own link: reverse-path filtering accepts the request
    /// (set only where the link's rp_filter is strict).
    #[serde(skip)]
    pub own_leg: bool,
}

/// One nexthop of a multipath route.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Leg {
    pub dev: String,
    pub gateway: Option<IpAddr>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoRoute {
    pub destinations: Vec<String>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub destinations_omitted: u64,
    pub summary: String,
    pub error: KernelError,
    pub rule: Option<Quote>,
    pub route: Option<Quote>,
    pub routes: usize,
    /// As `Leak::protocols`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocols: Option<Vec<String>>,
    /// As `Leak::impact`: the request dropped by reverse-path filtering,
    /// else the reply dropped by the host itself.
    pub impact: Impact,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dropped_by: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    pub address: IpAddr,
    pub prefixlen: u8,
    pub interface: String,
    pub family: Family,
    pub secondary: bool,
    /// `up`, or why the address takes no requests.
    pub state: EndpointState,
    /// Container bridge or veth: its peer space is its own prefixes only.
    pub internal: bool,
    /// `None` when the address takes no requests.
    pub verdict: Option<Verdict>,
    /// An earlier endpoint on the same link whose replies route exactly as
    /// this one's (the rules meet both addresses alike): its leaks, routes
    /// and conditional rules are this one's too, and are not repeated here.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub same_as: Option<IpAddr>,
    /// Asymmetric for replies of these IP protocols only (rules on
    /// `ipproto`; `other`: a protocol no rule names); absent: for every
    /// protocol, or not asymmetric.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocols: Option<Vec<String>>,
    /// The worst impact of its leaks and no-route ranges (absent: none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub impact: Option<Impact>,
    pub leaks: Vec<Leak>,
    pub no_route: Vec<NoRoute>,
    /// Rules whose selectors the dumps cannot settle for a reply.
    pub conditional: Vec<Quote>,
}

/// Whether an address takes requests: `up`, or why not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EndpointState {
    Up,
    /// Its link is administratively down.
    Down,
    /// Its link has no carrier.
    NoCarrier,
    /// Duplicate address detection has not passed (`tentative`, `dadfailed`).
    Tentative,
}

impl EndpointState {
    pub fn as_str(self) -> &'static str {
        match self {
            EndpointState::Up => "up",
            EndpointState::Down => "down",
            EndpointState::NoCarrier => "no-carrier",
            EndpointState::Tentative => "tentative",
        }
    }
}

/// Which links count as internal (container bridges and veths).
#[derive(Debug, Clone)]
pub struct LinkClass {
    pub internal: Vec<String>,
    pub uplink: Vec<String>,
}

impl Default for LinkClass {
    fn default() -> Self {
        LinkClass {
            internal: [
                "docker*",
                "br-*",
                "virbr*",
                "cni*",
                "cali*",
                "flannel*",
                "veth*",
                "vxlan.calico",
                "kube-*",
                "lxcbr*",
                "lxdbr*",
                "podman*",
                "cilium_*",
                "weave*",
                "vethwe*",
                // AWS VPC CNI pods' host veths, Cilium's, Calico's IPIP
                // tunnel, NodeLocal DNSCache.
                "eni*",
                "lxc*",
                "tunl0",
                "nodelocaldns",
            ]
            .map(String::from)
            .to_vec(),
            uplink: Vec::new(),
        }
    }
}

/// `*` matches any run of characters; everything else literally.
pub fn glob(pat: &str, s: &str) -> bool {
    match pat.split_once('*') {
        None => pat == s,
        Some((head, tail)) => {
            let Some(rest) = s.strip_prefix(head) else {
                return false;
            };
            if tail.is_empty() {
                return true;
            }
            (0..=rest.len())
                .filter(|&i| rest.is_char_boundary(i))
                .any(|i| glob(tail, &rest[i..]))
        }
    }
}

impl LinkClass {
    pub fn is_internal(&self, name: &str) -> bool {
        if self.uplink.iter().any(|p| glob(p, name)) {
            return false;
        }
        self.internal.iter().any(|p| glob(p, name))
    }
}

/// Destinations that are never peers: loopback, unspecified, link-local,
/// multicast, limited broadcast, reserved, IPv4-mapped.
fn never_peers(fam: Family) -> Vec<Range> {
    // 0.0.0.0/8, 127.0.0.0/8, 169.254.0.0/16, 224.0.0.0/4, 240.0.0.0/4;
    // ::/128, ::1/128, ::ffff:0:0/96, fe80::/10, ff00::/8 (as numbers: no
    // text to parse for every host).
    let blocks: [(u128, u8); 5] = match fam {
        Family::Inet => [
            (0, 8),
            (127 << 24, 8),
            (0xa9fe << 16, 16),
            (0xe << 28, 4),
            (0xf << 28, 4),
        ],
        Family::Inet6 => [
            (0, 128),
            (1, 128),
            (0xffff << 32, 96),
            (0xfe80 << 112, 10),
            (0xff << 120, 8),
        ],
    };
    blocks.map(|(s, p)| Range::block(fam, s, p)).to_vec()
}

fn quote(host: &Host, o: Origin, fallback: impl FnOnce() -> String) -> Quote {
    if o.is_assumed() {
        return Quote {
            file: "assumed".into(),
            line: 0,
            text: fallback(),
        };
    }
    Quote {
        file: host
            .sources
            .get(o.source as usize)
            .map(|s| s.name.clone())
            .unwrap_or_default(),
        line: o.line,
        text: host.quote(o),
    }
}

pub fn rule_quote(host: &Host, fam: Family, i: usize) -> Quote {
    let r = &host.rules[fam_idx(fam)][i];
    quote(host, r.origin, || r.rule.to_string())
}

/// Quotes like `quote`, from an index of each file's line starts built on
/// first use: `Host::quote` walks its file from the top for every quote,
/// and a host quotes the same few rules and routes for every leak.
struct Quoter<'h> {
    host: &'h Host,
    starts: Vec<OnceCell<Vec<usize>>>,
    /// Each rule's quote, once made (per family).
    rules: [Vec<OnceCell<Quote>>; 2],
}

impl<'h> Quoter<'h> {
    fn new(host: &'h Host) -> Self {
        Quoter {
            host,
            starts: host.sources.iter().map(|_| OnceCell::new()).collect(),
            rules: host
                .rules
                .each_ref()
                .map(|r| r.iter().map(|_| OnceCell::new()).collect()),
        }
    }

    /// `Host::quote`: the lines `str::lines` gives, each trimmed at its end.
    fn text(&self, o: Origin) -> String {
        let Some(s) = self.host.sources.get(o.source as usize) else {
            return String::new();
        };
        let text = &s.text;
        let starts = self.starts[o.source as usize].get_or_init(|| {
            // `str::lines` yields no line after a final newline, none for "".
            let mut v = Vec::with_capacity(text.len() / 40 + 1);
            if !text.is_empty() {
                v.push(0);
            }
            v.extend(
                memchr::memchr_iter(b'\n', text.as_bytes())
                    .map(|i| i + 1)
                    .filter(|&i| i < text.len()),
            );
            v
        });
        let first = o.line.saturating_sub(1) as usize;
        let count = (o.end_line.max(o.line) - o.line + 1) as usize;
        let mut out = String::new();
        for i in (first..starts.len()).take(count) {
            if i > first {
                out.push('\n');
            }
            let end = starts.get(i + 1).copied().unwrap_or(text.len());
            // The slice keeps its `\n` (and `\r`): trim_end drops them too.
            out.push_str(text[starts[i]..end].trim_end());
        }
        out
    }

    fn quote(&self, o: Origin, fallback: impl FnOnce() -> String) -> Quote {
        if o.is_assumed() {
            return Quote {
                file: "assumed".into(),
                line: 0,
                text: fallback(),
            };
        }
        Quote {
            file: self
                .host
                .sources
                .get(o.source as usize)
                .map(|s| s.name.clone())
                .unwrap_or_default(),
            line: o.line,
            text: self.text(o),
        }
    }

    fn rule(&self, fam: Family, i: usize) -> Quote {
        let r = &self.host.rules[fam_idx(fam)][i];
        self.rules[fam_idx(fam)][i]
            .get_or_init(|| self.quote(r.origin, || r.rule.to_string()))
            .clone()
    }
}

/// A piece's outcome for one endpoint, by what the report shows: equal
/// outcomes form one leak entry whatever route decided each piece (a BGP
/// table's routes via one gateway are one leak, not one per route).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Outcome {
    /// Leaves by the endpoint's own link.
    Ok,
    /// Not a peer, and too small to matter: the host's own and broadcast
    /// addresses (a local or broadcast answer). A range may span it.
    Skip,
    /// A never-peer range (loopback, link-local, multicast, 0.0.0.0/8,
    /// 240/4, …): no range of destinations spans it, and summaries pass
    /// over it.
    Never,
    /// Not a peer because it belongs to another endpoint: an internal link's
    /// prefix (or, for an internal endpoint, anything outside its own).
    /// Replies there leave their own way, so no range of this endpoint may
    /// span it (the kernel would contradict the range's egress or error).
    Foreign,
    Leak {
        scope: Scope,
        /// The egress device, as an index into the family's device names.
        egress: u32,
        gateway: Option<IpAddr>,
        hash: bool,
        /// With `hash`: the legs, as an index into `Memo::legs`.
        legs: u32,
        rule: Option<u32>,
        /// The deciding route's table, as an index into `Memo::tables`.
        table: Option<u32>,
        /// `Leak::own_leg`.
        own_leg: bool,
    },
    NoRoute {
        error: KernelError,
        rule: Option<u32>,
        table: Option<u32>,
    },
}

/// A multipath leg: (device index, gateway).
type LegKey = (u32, Option<IpAddr>);

/// A route of the model: (index into `Memo::tables`, index in that table).
type RouteKey = (u32, u32);

/// One reply lookup's answer, as much of it as a verdict reads. It does not
/// depend on the endpoint, only on how the rules meet its address.
#[derive(Debug)]
struct Raw {
    answer: RawAnswer,
    rule: Option<u32>,
    route: Option<RouteKey>,
    /// The route is a direct route to a prefix (not a default): a leak by
    /// it is cross-subnet.
    direct_prefix: bool,
    /// Rules reached whose selectors the dumps cannot settle.
    conditional: Box<[u32]>,
}

#[derive(Debug)]
enum RawAnswer {
    /// Local, broadcast, multicast: not a reply that leaves.
    NotUnicast,
    Err(KernelError),
    Hit {
        dev: u32,
        gateway: Option<IpAddr>,
        /// Every nexthop (device, gateway) of a multipath route.
        nexthops: Box<[(u32, Option<IpAddr>)]>,
        hash: bool,
    },
}

/// The lookups one family's endpoints share: endpoints whose addresses meet
/// the rules alike get the same answer for every destination, so each kind
/// of piece is looked up once per such group, not once per endpoint (a
/// host with 10,000 addresses has a handful of groups).
#[derive(Default)]
struct Memo {
    names: Vec<String>,
    name_idx: FastMap<String, u32>,
    internal: Vec<Option<bool>>,
    tables: Vec<Table>,
    /// The leg lists of hash-dependent leaks (device index, gateway), each
    /// once.
    legs: Vec<Box<[LegKey]>>,
    /// Per group of endpoints (keyed by `ReplyRules::key`): the answer of
    /// each kind of piece (`u32::MAX` until looked up) into `raws`.
    groups: FastMap<GroupKey, usize>,
    lookups: Vec<(Vec<u32>, Vec<Raw>)>,
}

/// Whether device `i` of `names` is a container link (cached per device
/// in `cache`).
fn is_internal_dev(
    cache: &mut Vec<Option<bool>>,
    names: &[String],
    i: u32,
    class: &LinkClass,
) -> bool {
    let i = i as usize;
    if cache.len() <= i {
        cache.resize(i + 1, None);
    }
    *cache[i].get_or_insert_with(|| class.is_internal(&names[i]))
}

/// How an endpoint's address meets the rules (and, where IPv6 routes are
/// source-specific, the address itself).
type GroupKey = (Vec<crate::model::lookup::RuleSel>, Option<IpAddr>);

impl Memo {
    fn name(&mut self, n: &str) -> u32 {
        if let Some(&i) = self.name_idx.get(n) {
            return i;
        }
        let i = self.names.len() as u32;
        self.names.push(n.to_string());
        self.name_idx.insert(n.to_string(), i);
        i
    }

    fn legs(&mut self, l: &[LegKey]) -> u32 {
        match self.legs.iter().position(|x| **x == *l) {
            Some(i) => i as u32,
            None => {
                self.legs.push(l.into());
                (self.legs.len() - 1) as u32
            }
        }
    }

    fn table(&mut self, t: &Table) -> u32 {
        match self.tables.iter().position(|x| x == t) {
            Some(i) => i as u32,
            None => {
                self.tables.push(t.clone());
                (self.tables.len() - 1) as u32
            }
        }
    }

    /// The raw answer for a piece of `kind` starting at `start`, looked up
    /// once per group.
    fn raw(
        &mut self,
        host: &Host,
        fam: Family,
        g: usize,
        rules: &crate::model::lookup::ReplyRules,
        kind: usize,
        start: u128,
    ) -> u32 {
        let k = self.lookups[g].0[kind];
        if k != u32::MAX {
            return k;
        }
        let l = host.lookup_reply(rules, space::addr(fam, start));
        let route = l
            .route
            .as_ref()
            .map(|r| (self.table(&r.table), r.index as u32));
        let answer = match &l.result {
            Err(e) => RawAnswer::Err(*e),
            Ok(h) if !matches!(h.kind, RouteType::Unicast) => RawAnswer::NotUnicast,
            Ok(h) => RawAnswer::Hit {
                dev: self.name(&h.dev),
                gateway: h.gateway,
                nexthops: h
                    .nexthops
                    .iter()
                    .map(|n| (self.name(&n.dev), n.gateway))
                    .collect(),
                hash: h.hash_dependent,
            },
        };
        let direct_prefix = match &answer {
            RawAnswer::Hit {
                gateway, nexthops, ..
            } => {
                gateway.is_none()
                    && nexthops.is_empty()
                    && l.route
                        .as_ref()
                        .and_then(|r| host.table(fam, &r.table)?.routes.get(r.index))
                        .is_none_or(|e| e.route.dst.prefix_len() > 0)
            }
            _ => false,
        };
        let (known, raws) = &mut self.lookups[g];
        raws.push(Raw {
            answer,
            rule: l.rule.map(|i| i as u32),
            route,
            direct_prefix,
            conditional: l.conditional.iter().map(|&i| i as u32).collect(),
        });
        let id = (raws.len() - 1) as u32;
        known[kind] = id;
        id
    }
}

/// The connected prefixes of each link (from its addresses).
fn connected(host: &Host, fam: Family) -> Vec<(&str, ipnet::IpNet)> {
    host.addrs
        .iter()
        .filter(|a| a.addr.family == fam)
        .filter_map(|a| {
            let len = a.addr.prefixlen;
            let base = a.addr.peer.unwrap_or(a.addr.local);
            ipnet::IpNet::new(base, len)
                .ok()
                .map(|n| (a.link.as_str(), n.trunc()))
        })
        .collect()
}

/// The prefixes whose bounds are where a lookup's answer can change: every
/// route's, every rule's `to`, the connected prefixes, the host's own
/// addresses, the never-peers. Repeats included.
fn cut_blocks(host: &Host, fam: Family, conn: &[(&str, ipnet::IpNet)]) -> Vec<Range> {
    let mut blocks = Vec::new();
    for t in host.tables[fam_idx(fam)].values() {
        blocks.extend(t.routes.iter().map(|e| Range::of(&e.route.dst)));
    }
    blocks.extend(
        host.rules[fam_idx(fam)]
            .iter()
            .filter_map(|r| r.rule.to.as_ref())
            .map(Range::of),
    );
    blocks.extend(conn.iter().map(|(_, n)| Range::of(n)));
    let full = if fam == Family::Inet { 32 } else { 128 };
    blocks.extend(
        host.addrs
            .iter()
            .filter(|a| a.addr.family == fam)
            .filter_map(|a| ipnet::IpNet::new(a.addr.local, full).ok())
            .map(|n| Range::of(&n)),
    );
    blocks.extend(never_peers(fam));
    blocks
}

/// Sorted, merged ranges: membership by binary search.
#[derive(Debug, Default, Clone)]
struct RangeSet(Vec<Range>);

impl RangeSet {
    fn new(mut v: Vec<Range>) -> Self {
        v.sort_unstable();
        let mut out: Vec<Range> = Vec::with_capacity(v.len());
        for r in v {
            match out.last_mut() {
                Some(l) if r.start <= l.end => l.end = l.end.max(r.end),
                _ => out.push(r),
            }
        }
        RangeSet(out)
    }

    fn contains(&self, x: u128) -> bool {
        let i = self.0.partition_point(|r| r.end <= x);
        self.0.get(i).is_some_and(|r| r.contains(x))
    }
}

/// What every endpoint of one family shares: the pieces' boundaries, the
/// connected prefixes (and whether their link is internal), the never-peers,
/// and which pieces are alike.
pub(crate) struct Space<'h> {
    fam: Family,
    pts: Vec<u128>,
    /// For each piece, its kind: the smallest prefix of `blocks` that holds
    /// it (its index; `blocks.len()` when none does). Prefixes nest or are
    /// disjoint, so the prefixes holding a piece are that one and those
    /// around it; a lookup reads its destination only through the route
    /// and rule prefixes holding it, and the rest of an outcome through the
    /// connected and never-peer ones: pieces of one kind have one outcome,
    /// looked up once (a /8 route around a /16 one makes two pieces of a
    /// kind, before and after it; about half the lookups of a scan).
    kind: Vec<u32>,
    /// How many kinds there are (`blocks.len() + 1`).
    kinds: usize,
    /// Every connected prefix, merged.
    any_conn: RangeSet,
    /// Each link's connected prefixes, merged.
    link_conn: FastMap<&'h str, RangeSet>,
    /// The connected prefixes of internal links, with their link.
    internal: Vec<(&'h str, Range)>,
    never: RangeSet,
    /// The host's container links, addressed or not.
    internal_devs: FastSet<&'h str>,
}

impl<'h> Space<'h> {
    pub(crate) fn new(host: &'h Host, fam: Family, class: &LinkClass) -> Self {
        Self::cut(host, fam, class, None)
    }

    /// The space cut for `host` and `other` at once (the same links and
    /// addresses, other rules and routes): within one piece both models
    /// answer every lookup alike (`fix` compares them piece by piece).
    pub(crate) fn union(host: &'h Host, other: &Host, fam: Family, class: &LinkClass) -> Self {
        Self::cut(host, fam, class, Some(other))
    }

    fn cut(host: &'h Host, fam: Family, class: &LinkClass, other: Option<&Host>) -> Self {
        let conn = connected(host, fam);
        let top = space::top(fam);
        let mut blocks = cut_blocks(host, fam, &conn);
        if let Some(o) = other {
            blocks.extend(cut_blocks(o, fam, &conn));
        }
        let mut pts: Vec<u128> = std::iter::once(0)
            .chain(blocks.iter().flat_map(|r| [r.start, r.end]))
            .filter(|&p| p < top)
            .collect();
        pts.sort_unstable();
        pts.dedup();
        // Outer prefixes before the inner ones starting with them.
        blocks.sort_unstable_by(|a, b| a.start.cmp(&b.start).then(b.end.cmp(&a.end)));
        blocks.dedup();
        let mut kind = Vec::with_capacity(pts.len());
        let mut open: Vec<(u128, u32)> = Vec::new();
        let mut next = 0;
        for &x in &pts {
            while open.last().is_some_and(|&(end, _)| end <= x) {
                open.pop();
            }
            while let Some(b) = blocks.get(next).filter(|b| b.start <= x) {
                open.push((b.end, next as u32));
                next += 1;
            }
            kind.push(open.last().map_or(blocks.len() as u32, |&(_, k)| k));
        }
        let conn: Vec<(&'h str, Range, bool)> = conn
            .iter()
            .map(|&(l, n)| (l, Range::of(&n), class.is_internal(l)))
            .collect();
        let mut by_link: FastMap<&'h str, Vec<Range>> = Default::default();
        for &(l, r, _) in &conn {
            by_link.entry(l).or_default().push(r);
        }
        Space {
            fam,
            pts,
            kind,
            kinds: blocks.len() + 1,
            any_conn: RangeSet::new(conn.iter().map(|c| c.1).collect()),
            link_conn: by_link
                .into_iter()
                .map(|(l, v)| (l, RangeSet::new(v)))
                .collect(),
            internal: conn
                .iter()
                .filter(|c| c.2)
                .map(|&(l, r, _)| (l, r))
                .collect(),
            never: RangeSet::new(never_peers(fam)),
            internal_devs: host
                .links
                .iter()
                .map(|l| l.name.as_str())
                .filter(|n| class.is_internal(n))
                .collect(),
        }
    }

    /// A reply from an address on `iface` that leaves by `dev` via `gw`
    /// goes straight into a container link from outside the containers:
    /// delivered on the host (a container link's own replies to another
    /// one are a leak like any other).
    pub(crate) fn delivered_to_container(
        &self,
        iface: &str,
        dev: &str,
        gw: Option<IpAddr>,
    ) -> bool {
        gw.is_none() && self.internal_devs.contains(dev) && !self.internal_devs.contains(iface)
    }

    /// The pieces, as (start, end, kind).
    fn pieces(&self) -> impl Iterator<Item = (u128, u128, usize)> + '_ {
        let top = space::top(self.fam);
        self.pts.iter().enumerate().map(move |(i, &start)| {
            let end = self.pts.get(i + 1).copied().unwrap_or(top);
            (start, end, self.kind[i] as usize)
        })
    }
}

/// One endpoint's view of its family's space: its own link's prefixes, and
/// the prefixes of internal links (container bridges): requests from there
/// arrive on that link, so they are no other endpoint's peers.
struct Peers {
    own: RangeSet,
    internal: RangeSet,
    /// The endpoint is itself internal: anything outside its own prefixes
    /// is foreign.
    is_internal: bool,
}

impl Peers {
    fn new(sp: &Space<'_>, ep: &Endpoint) -> Self {
        Peers {
            own: sp
                .link_conn
                .get(ep.interface.as_str())
                .cloned()
                .unwrap_or_default(),
            internal: RangeSet::new(
                sp.internal
                    .iter()
                    .filter(|(l, _)| *l != ep.interface)
                    .map(|&(_, r)| r)
                    .collect(),
            ),
            is_internal: ep.internal,
        }
    }

    fn is_own(&self, x: u128) -> bool {
        self.own.contains(x)
    }

    /// `Skip` or `Foreign` when the piece starting at `x` needs no lookup.
    fn without_lookup(&self, sp: &Space<'_>, x: u128) -> Option<Outcome> {
        if sp.never.contains(x) {
            return Some(Outcome::Skip);
        }
        let is_own = self.is_own(x);
        let foreign = if self.is_internal {
            !is_own
        } else {
            !is_own && self.internal.contains(x)
        };
        foreign.then_some(Outcome::Foreign)
    }
}

/// The device the reply leaves by when it is not `iface`: the route's, or
/// the first multipath nexthop's on another device. A leg straight into a
/// container link (no gateway: a pod's /32 to its veth) is delivered on the
/// host, not a leak.
fn other_dev<'a>(h: &'a crate::model::Hit, iface: &str, sp: &Space<'_>) -> Option<&'a str> {
    let leaks =
        |d: &str, gw: Option<IpAddr>| d != iface && !sp.delivered_to_container(iface, d, gw);
    if h.nexthops.is_empty() {
        leaks(&h.dev, h.gateway).then_some(h.dev.as_str())
    } else {
        h.nexthops
            .iter()
            .find(|n| leaks(&n.dev, n.gateway))
            .map(|n| n.dev.as_str())
    }
}

/// At most this many CIDR blocks are listed per leak; the rest are counted
/// (`destinations_omitted`): a BGP table's leak would list every route.
pub const MAX_DESTINATIONS: usize = 4096;

/// Analyses one endpoint over its whole peer space.
/// `memo`: look up one piece of each kind only (off: every piece, which
/// the tests compare with).
#[allow(clippy::too_many_arguments)]
fn analyse(
    host: &Host,
    class: &LinkClass,
    q: &Quoter<'_>,
    ep: &mut Endpoint,
    sp: &Space<'_>,
    m: &mut Memo,
    g: usize,
    rules: &crate::model::lookup::ReplyRules,
    memo: bool,
) {
    let fam = ep.family;
    let peers = Peers::new(sp, ep);
    let iface = m.name(&ep.interface);
    // Strict reverse-path filtering accepts a request whose reply route has
    // any nexthop on the link, dead ones too (fib_info_nh_uses_dev).
    let strict = fam == Family::Inet && host.sysctls.rp_filter(&ep.interface).strict();
    // Each distinct outcome once; pieces name theirs by index (equal
    // outcomes, equal indexes): pieces compare as numbers.
    let mut outcomes: Vec<Outcome> = Vec::new();
    let mut index: FastMap<Outcome, u32> = Default::default();
    let mut intern = |o: Outcome| -> u32 {
        *index.entry(o).or_insert_with(|| {
            outcomes.push(o);
            (outcomes.len() - 1) as u32
        })
    };
    let (never, foreign) = (intern(Outcome::Never), intern(Outcome::Foreign));
    // (range, outcome, deciding route): adjacent pieces with the same
    // outcome and route are one.
    let mut pieces: Vec<(Range, u32, Option<RouteKey>)> = Vec::new();
    let mut conditional: Vec<u32> = Vec::new();
    let mut cond_seen: Vec<bool> = Vec::new();
    for (start, end, kind) in sp.pieces() {
        let piece = Range { start, end };
        let (outcome, route) = match peers.without_lookup(sp, start) {
            // `without_lookup`'s Skip is a never-peer.
            Some(Outcome::Skip) => (never, None),
            Some(_) => (foreign, None),
            None => {
                let rid = if memo {
                    m.raw(host, fam, g, rules, kind, start)
                } else {
                    // Every piece looked up: a kind of its own.
                    m.lookups[g].0[kind] = u32::MAX;
                    m.raw(host, fam, g, rules, kind, start)
                };
                let raw = &m.lookups[g].1[rid as usize];
                for &c in &raw.conditional {
                    let c = c as usize;
                    if cond_seen.len() <= c {
                        cond_seen.resize(c + 1, false);
                    }
                    if !std::mem::replace(&mut cond_seen[c], true) {
                        conditional.push(c as u32);
                    }
                }
                let table = raw.route.map(|r| r.0);
                let own_leg = strict
                    && raw
                        .route
                        .and_then(|k| {
                            host.table(fam, &m.tables[k.0 as usize])?
                                .routes
                                .get(k.1 as usize)
                        })
                        .is_some_and(|e| {
                            e.route
                                .nexthops
                                .iter()
                                .any(|n| n.dev.as_deref() == Some(ep.interface.as_str()))
                        });
                let mut pending_legs: Option<Vec<LegKey>> = None;
                let mut o = match &raw.answer {
                    RawAnswer::Err(error) => Outcome::NoRoute {
                        error: *error,
                        rule: raw.rule,
                        table,
                    },
                    RawAnswer::NotUnicast => Outcome::Skip,
                    RawAnswer::Hit {
                        dev,
                        gateway,
                        nexthops,
                        hash,
                    } => {
                        let legs: &[(u32, Option<IpAddr>)] = if nexthops.is_empty() {
                            &[(*dev, *gateway)]
                        } else {
                            nexthops
                        };
                        // Straight into a container link (addressed or not:
                        // a VPC CNI pod's /32 to its `eni…` veth): delivered
                        // on the host, not a peer of this link (`other_dev`).
                        let mut into_container = false;
                        let other = legs.iter().copied().find(|&(d, gw)| {
                            let c = d != iface
                                && gw.is_none()
                                && !ep.internal
                                && is_internal_dev(&mut m.internal, &m.names, d, class);
                            into_container |= c;
                            d != iface && !c
                        });
                        match other {
                            None if into_container => Outcome::Foreign,
                            None => Outcome::Ok,
                            Some((egress, gateway)) => {
                                if *hash {
                                    pending_legs = Some(legs.to_vec());
                                }
                                // A direct route to a prefix puts it on the
                                // other link; a direct *default* (`default
                                // dev wg0`, a tunnel) reaches what lies
                                // beyond it: off-link.
                                let scope = if peers.is_own(start) {
                                    Scope::SameSubnet
                                } else if raw.direct_prefix || sp.any_conn.contains(start) {
                                    Scope::CrossSubnet
                                } else {
                                    Scope::OffLink
                                };
                                Outcome::Leak {
                                    scope,
                                    egress,
                                    gateway,
                                    hash: *hash,
                                    legs: u32::MAX,
                                    rule: raw.rule,
                                    table,
                                    own_leg,
                                }
                            }
                        }
                    }
                };
                let route = raw.route;
                if let (Outcome::Leak { legs, .. }, Some(l)) = (&mut o, pending_legs) {
                    *legs = m.legs(&l);
                }
                (intern(o), route)
            }
        };
        match pieces.last_mut() {
            Some((r, o, rt)) if *o == outcome && *rt == route && r.end == start => r.end = end,
            _ => pieces.push((piece, outcome, route)),
        }
    }
    // Group pieces by outcome for the report. Destinations outside the peer
    // space (the host's own addresses, broadcasts, multicast) between two
    // pieces of one outcome join them: `10.0.1.0/24`, not fourteen ranges.
    // Other endpoints' prefixes (`Foreign`) do not: they end a run as `Ok`
    // does.
    struct Group {
        outcome: u32,
        ranges: Vec<Range>,
        /// The deciding routes, repeats included (counted at the end).
        routes: Vec<RouteKey>,
    }
    let mut groups: Vec<Group> = Vec::new();
    let mut group_of: Vec<u32> = vec![u32::MAX; outcomes.len()];
    let mut last: Option<u32> = None;
    for &(r, o, route) in &pieces {
        match outcomes[o as usize] {
            Outcome::Skip => continue,
            Outcome::Ok | Outcome::Foreign | Outcome::Never => {
                last = None;
                continue;
            }
            _ => {}
        }
        let gi = match group_of[o as usize] {
            u32::MAX => {
                groups.push(Group {
                    outcome: o,
                    ranges: Vec::new(),
                    routes: Vec::new(),
                });
                group_of[o as usize] = (groups.len() - 1) as u32;
                (groups.len() - 1) as u32
            }
            gi => gi,
        };
        let grp = &mut groups[gi as usize];
        if grp.routes.last() != route.as_ref() {
            grp.routes.extend(route);
        }
        match last {
            Some(lg) if lg == gi => {
                if let Some(prev) = grp.ranges.last_mut() {
                    prev.end = r.end;
                }
            }
            _ => grp.ranges.push(r),
        }
        last = Some(gi);
    }
    let route_of = |k: RouteKey| -> Option<&crate::model::RouteEntry> {
        host.table(fam, &m.tables[k.0 as usize])?
            .routes
            .get(k.1 as usize)
    };
    let route_dst = |k: RouteKey| route_of(k).map(|e| Range::of(&e.route.dst));
    for mut grp in groups {
        let o = outcomes[grp.outcome as usize];
        let size: u128 = grp.ranges.iter().map(|r| r.end - r.start).sum();
        grp.routes.sort_unstable();
        grp.routes.dedup();
        // The route quoted for the leak: the one with the widest prefix
        // (the default route over the more specific ones).
        let main_route = grp
            .routes
            .iter()
            .copied()
            .filter_map(|k| route_dst(k).map(|r| (k, r)))
            .max_by(|a, b| {
                (a.1.end - a.1.start)
                    .cmp(&(b.1.end - b.1.start))
                    .then(b.0.cmp(&a.0))
            });
        let (destinations, omitted, summary) = describe(
            fam,
            &grp.ranges,
            main_route.map(|x| x.1),
            &pieces,
            &outcomes,
            grp.outcome,
            route_dst,
        );
        let quote_route = |k: Option<(RouteKey, Range)>| {
            k.and_then(|(k, _)| {
                let e = route_of(k)?;
                Some(q.quote(e.origin, || e.route.to_string()))
            })
        };
        let routes = grp.routes.len();
        match o {
            Outcome::Leak {
                scope,
                egress,
                gateway,
                hash,
                legs,
                rule,
                own_leg,
                ..
            } => ep.leaks.push(Leak {
                destinations,
                destinations_omitted: omitted,
                summary,
                scope,
                egress: m.names[egress as usize].clone(),
                gateway,
                hash_dependent: hash,
                legs: m
                    .legs
                    .get(legs as usize)
                    .into_iter()
                    .flat_map(|l| l.iter())
                    .map(|&(d, gateway)| Leg {
                        dev: m.names[d as usize].clone(),
                        gateway,
                    })
                    .collect(),
                rule: rule.map(|i| q.rule(fam, i as usize)),
                route: quote_route(main_route),
                routes,
                protocols: None,
                impact: Impact::Delivered,
                dropped_by: None,
                size,
                own_leg,
            }),
            Outcome::NoRoute { error, rule, .. } => ep.no_route.push(NoRoute {
                destinations,
                destinations_omitted: omitted,
                summary,
                error,
                rule: rule.map(|i| q.rule(fam, i as usize)),
                route: quote_route(main_route),
                routes,
                protocols: None,
                impact: Impact::ReplyDropped,
                dropped_by: None,
            }),
            _ => {}
        }
    }
    ep.conditional = conditional
        .into_iter()
        .map(|i| q.rule(fam, i as usize))
        .collect();
    settle(ep);
}

/// Orders an analysed endpoint's leaks (the biggest first; ties by scope
/// then egress, for stable reports) and sets its verdict from them.
fn settle(ep: &mut Endpoint) {
    ep.leaks.sort_by(|a, b| {
        b.size
            .cmp(&a.size)
            .then(a.scope.cmp(&b.scope))
            .then(a.egress.cmp(&b.egress))
    });
    ep.verdict = Some(if !ep.leaks.is_empty() {
        Verdict::Asymmetric
    } else if !ep.no_route.is_empty() {
        Verdict::NoRoute
    } else {
        Verdict::Ok
    });
}

/// `list`'s text for `n` items of which `shown` are the first (up to) six.
fn list_text(shown: &[String], n: usize) -> String {
    let mut s = shown.join(", ");
    if n > 6 {
        s.push_str(&format!(", … ({n} in all)"));
    }
    s
}

/// The CIDR text of each range's blocks: the first `MAX_DESTINATIONS`, and
/// how many more there are.
fn cidr_strings(fam: Family, ranges: &[Range]) -> (Vec<String>, u64) {
    let mut blocks = ranges.iter().flat_map(|r| space::blocks(fam, *r));
    let shown: Vec<String> = blocks
        .by_ref()
        .take(MAX_DESTINATIONS)
        .map(|(s, p)| space::net_string(fam, s, p))
        .collect();
    (shown, blocks.count() as u64)
}

/// The CIDR list of an outcome's ranges (bounded: the first ones and a
/// count of the rest), and a short form relative to the widest deciding
/// route's prefix: the prefix itself when nothing of it with a different
/// outcome remains, else `PREFIX except …` when that is shorter.
/// `pieces` name their outcomes by index into `outcomes`; `o` is this one's.
fn describe(
    fam: Family,
    ranges: &[Range],
    route: Option<Range>,
    pieces: &[(Range, u32, Option<RouteKey>)],
    outcomes: &[Outcome],
    o: u32,
    route_dst: impl Fn(RouteKey) -> Option<Range>,
) -> (Vec<String>, u64, String) {
    let list = |v: &[String], n: usize| list_text(&v[..v.len().min(6)], n);
    let Some(pr) = route else {
        let (exact, more) = cidr_strings(fam, ranges);
        let s = list(&exact, exact.len() + more as usize);
        return (exact, more, s);
    };
    // Pieces inside the route's prefix with another (real) outcome.
    // Other outcomes inside the prefix, named by their own routes' prefixes
    // (a piece without a route by itself); runs absorb excluded pieces.
    let mut others: Vec<Range> = Vec::new();
    let mut open = false;
    // The pieces are in order: those overlapping the prefix are a run.
    let first = pieces.partition_point(|(r, _, _)| r.end <= pr.start);
    for &(r, xi, route) in pieces[first..]
        .iter()
        .take_while(|(r, _, _)| r.start < pr.end)
    {
        if matches!(outcomes[xi as usize], Outcome::Skip | Outcome::Never) {
            continue;
        }
        if xi == o {
            open = false;
            continue;
        }
        let own = route.and_then(&route_dst);
        let r = match own {
            Some(rr) if rr.start >= pr.start && rr.end <= pr.end && rr != pr => rr,
            _ => Range {
                start: r.start.max(pr.start),
                end: r.end.min(pr.end),
            },
        };
        match others.last_mut() {
            Some(l) if l.start <= r.start && l.end >= r.end => {}
            Some(l) if open || l.end >= r.start => l.end = l.end.max(r.end),
            _ => others.push(r),
        }
        open = true;
    }
    let prefix = space::blocks(fam, pr)
        .next()
        .map(|(s, p)| space::net_string(fam, s, p))
        .unwrap_or_default();
    let covered = ranges
        .iter()
        .all(|r| r.start >= pr.start && r.end <= pr.end);
    let (exact, more) = cidr_strings(fam, ranges);
    if others.is_empty() && covered {
        // The summary names the route's prefix; the list holds its peers.
        return (exact, more, prefix);
    }
    let total = exact.len() + more as usize;
    if !covered {
        let s = list(&exact, total);
        return (exact, more, s);
    }
    // Only the count of the exceptions and the first six are needed.
    let mut except = others.iter().flat_map(|r| space::blocks(fam, *r));
    let shown: Vec<String> = except
        .by_ref()
        .take(6)
        .map(|(s, p)| space::net_string(fam, s, p))
        .collect();
    let n = shown.len() + except.count();
    let s = if n < total {
        format!("{prefix} except {}", list_text(&shown, n))
    } else {
        list(&exact, total)
    };
    (exact, more, s)
}

/// An endpoint for each global address on a non-loopback link, not yet
/// analysed.
fn endpoint_of(host: &Host, a: &crate::model::AddrInfo, class: &LinkClass) -> Option<Endpoint> {
    let link = host.link(&a.link);
    if link.is_some_and(|l| l.loopback) || a.link == "lo" {
        return None;
    }
    let global = a.addr.scope.as_ref().is_none_or(|s| s.number() == Some(0));
    if !global || is_link_local(a.addr.local) || a.addr.local.is_loopback() {
        return None;
    }
    let state = match link {
        Some(l) if !l.up => EndpointState::Down,
        Some(l) if !l.carrier => EndpointState::NoCarrier,
        _ if a.addr.has_flag("tentative") || a.addr.has_flag("dadfailed") => {
            EndpointState::Tentative
        }
        _ => EndpointState::Up,
    };
    Some(Endpoint {
        address: a.addr.local,
        prefixlen: a.addr.prefixlen,
        interface: a.link.clone(),
        family: a.addr.family,
        secondary: a.secondary(),
        state,
        internal: class.is_internal(&a.link),
        verdict: None,
        same_as: None,
        protocols: None,
        impact: None,
        leaks: Vec::new(),
        no_route: Vec::new(),
        conditional: Vec::new(),
    })
}

/// The endpoints of a host, analysed.
pub fn endpoints(host: &Host, class: &LinkClass) -> Vec<Endpoint> {
    endpoints_with(host, class, true).0
}

/// Each family's space, when some endpoint was analysed in it.
pub(crate) type Spaces<'h> = [Option<Space<'h>>; 2];

/// `endpoints`, and the spaces it cut (`fix::advise_in` reuses them).
pub(crate) fn endpoints_spaces<'h>(
    host: &'h Host,
    class: &LinkClass,
) -> (Vec<Endpoint>, Spaces<'h>) {
    endpoints_with(host, class, true)
}

fn endpoints_with<'h>(
    host: &'h Host,
    class: &LinkClass,
    memo: bool,
) -> (Vec<Endpoint>, Spaces<'h>) {
    let q = Quoter::new(host);
    let mut out = Vec::new();
    let mut spaces: Spaces<'h> = [None, None];
    for fam in [Family::Inet, Family::Inet6] {
        let sp = &mut spaces[fam_idx(fam)];
        let mut m = Memo::default();
        let by_source = SourceKeyed::of(host, fam);
        // (group, link, internal) → the endpoint analysed first.
        let mut first: FastMap<(usize, String, bool), usize> = Default::default();
        for a in host.addrs.iter().filter(|a| a.addr.family == fam) {
            let Some(mut ep) = endpoint_of(host, a, class) else {
                continue;
            };
            if ep.state == EndpointState::Up && host.have_routes[fam_idx(fam)] {
                let sp = sp.get_or_insert_with(|| Space::new(host, fam, class));
                let rules = host.reply_rules(ep.address);
                let special = by_source.keys(sp, &ep);
                let key = (rules.key(), special.then_some(ep.address));
                let n = m.groups.len();
                let g = *m.groups.entry(key).or_insert(n);
                if g == m.lookups.len() {
                    m.lookups.push((vec![u32::MAX; sp.kinds], Vec::new()));
                }
                match first.get(&(g, ep.interface.clone(), ep.internal)) {
                    Some(&i) if memo => {
                        let e: &Endpoint = &out[i];
                        ep.verdict = e.verdict;
                        ep.protocols = e.protocols.clone();
                        ep.same_as = Some(e.address);
                    }
                    _ => {
                        analyse(host, class, &q, &mut ep, sp, &mut m, g, &rules, memo);
                        // Only the protocols whose replies meet the rules
                        // otherwise than other protocols' need a pass (an
                        // `ipproto tcp dport 443` rule never matches a reply
                        // whose ports are unknown).
                        let protos: Vec<(u8, String)> = named_protocols(host, fam, &rules)
                            .into_iter()
                            .filter(|(p, _)| host.protocol_matters(ep.address, *p))
                            .collect();
                        if !protos.is_empty() {
                            // `other`: a protocol no rule names (255 is
                            // reserved: no rule's), its ipproto rules settled.
                            let mut passes = Vec::new();
                            let others = [(255u8, "other".to_string())];
                            for (p, name) in others.into_iter().chain(protos) {
                                let rp = host.reply_rules_proto(ep.address, Some(p));
                                let key = (rp.key(), special.then_some(ep.address));
                                let n = m.groups.len();
                                let gp = *m.groups.entry(key).or_insert(n);
                                if gp == m.lookups.len() {
                                    m.lookups.push((vec![u32::MAX; sp.kinds], Vec::new()));
                                }
                                let mut e = ep.clone();
                                e.leaks.clear();
                                e.no_route.clear();
                                e.conditional.clear();
                                analyse(host, class, &q, &mut e, sp, &mut m, gp, &rp, memo);
                                passes.push((name, e));
                            }
                            merge_protocols(&mut ep, passes);
                        }
                        first.insert((g, ep.interface.clone(), ep.internal), out.len());
                    }
                }
            }
            out.push(ep);
        }
    }
    (out, spaces)
}

/// The IP protocols that rules which may match replies from the address
/// of `rules` select on (`ipproto`), by number, with their names.
fn named_protocols(
    host: &Host,
    fam: Family,
    rules: &crate::model::lookup::ReplyRules,
) -> Vec<(u8, String)> {
    let mut out: Vec<(u8, String)> = Vec::new();
    for (re, sel) in host.rules[fam_idx(fam)].iter().zip(rules.key()) {
        let Some(p) = re.rule.ipproto.as_deref() else {
            continue;
        };
        if !(sel.base() || re.rule.not) {
            continue;
        }
        if let Some(n) = crate::model::lookup::ipproto_number(p)
            && !out.iter().any(|x| x.0 == n)
        {
            out.push((n, p.to_string()));
        }
    }
    out
}

/// One endpoint's analyses per reply protocol merged: a leak (or no-route
/// range) found for every protocol is told once; one found for some only
/// names them (`protocols`).
fn merge_protocols(ep: &mut Endpoint, passes: Vec<(String, Endpoint)>) {
    let n = passes.len();
    let mut leaks: Vec<(Leak, Vec<String>)> = Vec::new();
    let mut drops: Vec<(NoRoute, Vec<String>)> = Vec::new();
    let mut conditional: Vec<Quote> = Vec::new();
    let mut leaking: Vec<String> = Vec::new();
    for (name, e) in passes {
        if !e.leaks.is_empty() {
            leaking.push(name.clone());
        }
        for l in e.leaks {
            match leaks.iter_mut().find(|(x, _)| *x == l) {
                Some((_, names)) => names.push(name.clone()),
                None => leaks.push((l, vec![name.clone()])),
            }
        }
        for d in e.no_route {
            match drops.iter_mut().find(|(x, _)| *x == d) {
                Some((_, names)) => names.push(name.clone()),
                None => drops.push((d, vec![name.clone()])),
            }
        }
        for c in e.conditional {
            if !conditional.contains(&c) {
                conditional.push(c);
            }
        }
    }
    ep.leaks = leaks
        .into_iter()
        .map(|(mut l, names)| {
            l.protocols = (names.len() < n).then_some(names);
            l
        })
        .collect();
    ep.no_route = drops
        .into_iter()
        .map(|(mut d, names)| {
            d.protocols = (names.len() < n).then_some(names);
            d
        })
        .collect();
    ep.conditional = conditional;
    ep.protocols = (!leaking.is_empty() && leaking.len() < n).then_some(leaking);
    settle(ep);
}

/// Where the answers to a reply depend on its source address itself, not
/// only on how the rules meet it: then endpoints share no lookups.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SourceKeyed {
    /// IPv6 routes with a source prefix (subtrees searched by source).
    src_routes: bool,
    /// IPv4 classic multipath prefers the nexthops whose own source (a
    /// primary address) is the reply's.
    multipath4: bool,
}

impl SourceKeyed {
    pub(crate) fn of(host: &Host, fam: Family) -> Self {
        let any = |f: &dyn Fn(&crate::grammar::Route) -> bool| {
            host.tables[fam_idx(fam)]
                .values()
                .any(|t| t.routes.iter().any(|e| f(&e.route)))
        };
        SourceKeyed {
            src_routes: fam == Family::Inet6
                && any(&|r| r.from.is_some_and(|f| f.prefix_len() > 0)),
            multipath4: fam == Family::Inet && any(&|r| r.nexthops.len() > 1),
        }
    }

    /// Either model's dependence (a fix compares two).
    pub(crate) fn or(self, o: SourceKeyed) -> Self {
        SourceKeyed {
            src_routes: self.src_routes || o.src_routes,
            multipath4: self.multipath4 || o.multipath4,
        }
    }

    /// Whether `ep`'s replies must be looked up for its own address.
    pub(crate) fn keys(self, sp: &Space<'_>, ep: &Endpoint) -> bool {
        self.src_routes
            || (self.multipath4 && !ep.secondary)
            || sp.never.contains(space::num(ep.address))
    }
}

/// `eps` with each `same_as` endpoint given its twin's leaks, no-route
/// ranges and conditional rules in full (and `same_as` cleared): what each
/// endpoint's own analysis would have said.
pub fn expanded(eps: &[Endpoint]) -> Vec<Endpoint> {
    eps.iter()
        .map(|e| {
            let mut x = e.clone();
            if let Some(twin) = e.same_as.and_then(|a| {
                eps.iter()
                    .find(|t| t.address == a && t.same_as.is_none() && t.interface == e.interface)
            }) {
                x.leaks = twin.leaks.clone();
                x.no_route = twin.no_route.clone();
                x.conditional = twin.conditional.clone();
                x.protocols = twin.protocols.clone();
                x.impact = twin.impact;
                x.same_as = None;
            }
            x
        })
        .collect()
}

/// `asymmetric` if any endpoint is; else `no-route` if any is; else `ok`.
pub fn host_verdict(eps: &[Endpoint]) -> Verdict {
    eps.iter()
        .filter_map(|e| e.verdict)
        .max()
        .unwrap_or(Verdict::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An internal link's prefix is no peer of another endpoint, and
    /// replies there leave by that link: no range of the other endpoint may
    /// span it (kernel_diff's verdict phase found `0.0.0.0/0 except …` leaks
    /// via eth0 that swallowed docker0's 172.17.0.0/16).
    #[test]
    fn ranges_do_not_span_internal_prefixes() {
        use crate::grammar::{Ctx, DumpKind};
        use crate::model::Input;
        let input = |name: &str, kind, text: &str| Input {
            name: name.into(),
            text: text.into(),
            kind,
            ctx: Ctx::default(),
        };
        let addr = "\
1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN
    inet 127.0.0.1/8 scope host lo
2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP
    inet 10.0.0.10/24 brd 10.0.0.255 scope global eth0
3: eth1: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP
    inet 10.0.1.10/24 brd 10.0.1.255 scope global eth1
4: docker0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP
    inet 172.17.0.1/16 brd 172.17.255.255 scope global docker0
";
        let route = "\
default via 10.0.0.1 dev eth0
10.0.0.0/24 dev eth0 proto kernel scope link src 10.0.0.10
10.0.1.0/24 dev eth1 proto kernel scope link src 10.0.1.10
172.17.0.0/16 dev docker0 proto kernel scope link src 172.17.0.1
";
        let host = Host::build(
            vec![
                input("ip_addr.txt", DumpKind::IpAddr, addr),
                input("ip_route.txt", DumpKind::IpRoute, route),
            ],
            &Default::default(),
        );
        let eps = endpoints(&host, &LinkClass::default());
        let docker: ipnet::IpNet = "172.17.0.0/16".parse().unwrap();
        let eth1 = eps.iter().find(|e| e.interface == "eth1").unwrap();
        assert_eq!(eth1.verdict, Some(Verdict::Asymmetric));
        for l in &eth1.leaks {
            for d in &l.destinations {
                let n: ipnet::IpNet = d.parse().unwrap();
                assert!(
                    !n.contains(&docker.network()) && !docker.contains(&n.network()),
                    "{d} (leak via {}) spans docker0's prefix",
                    l.egress
                );
            }
        }
        let docker0 = eps.iter().find(|e| e.interface == "docker0").unwrap();
        assert_eq!(docker0.verdict, Some(Verdict::Ok));
    }

    /// Pieces of one kind have one outcome: analysing one of each gives
    /// what analysing them all gives.
    #[test]
    fn pieces_of_a_kind_share_outcomes() {
        use testhosts::{Rng, random_host};
        let class = LinkClass::default();
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for _ in 0..3000 {
            let h = random_host(&mut rng);
            assert_eq!(
                expanded(&endpoints_with(&h, &class, true).0),
                endpoints_with(&h, &class, false).0
            );
        }
    }

    /// `lookup_reply` is `lookup` of the reply flow, less the trace.
    #[test]
    fn reply_lookups_are_lookups() {
        use crate::model::Flow;
        use testhosts::{Rng, random_host};
        let class = LinkClass::default();
        let mut rng = Rng(0x5851_f42d_4c95_7f2d);
        for _ in 0..500 {
            let h = random_host(&mut rng);
            for fam in [Family::Inet, Family::Inet6] {
                let sp = Space::new(&h, fam, &class);
                for a in h.addrs.iter().filter(|a| a.addr.family == fam) {
                    let rules = h.reply_rules(a.addr.local);
                    for (start, _, _) in sp.pieces() {
                        let dst = space::addr(fam, start);
                        let mut want = h.lookup(&Flow::to(dst).from(a.addr.local));
                        want.trace.clear();
                        assert_eq!(
                            h.lookup_reply(&rules, dst),
                            want,
                            "{dst} from {}",
                            a.addr.local
                        );
                    }
                }
            }
        }
    }

    /// Leak and no-route lists name peers only: no CIDR of theirs overlaps
    /// a never-peer range (127/8, 224/4, fe80::/10, …), while the host's own
    /// addresses may sit inside one.
    #[test]
    fn destination_lists_hold_no_never_peers() {
        use testhosts::{Rng, random_host};
        let class = LinkClass::default();
        let mut rng = Rng(0x5eed_0000_0127_0008);
        let mut lists = 0;
        for _ in 0..500 {
            let h = random_host(&mut rng);
            for e in endpoints(&h, &class) {
                let never = never_peers(e.family);
                let dests = e
                    .leaks
                    .iter()
                    .flat_map(|l| &l.destinations)
                    .chain(e.no_route.iter().flat_map(|n| &n.destinations));
                for d in dests {
                    lists += 1;
                    let r = Range::of(&d.parse::<ipnet::IpNet>().expect("a CIDR"));
                    assert!(
                        never.iter().all(|n| r.end <= n.start || r.start >= n.end),
                        "{} lists {d}",
                        e.address
                    );
                }
            }
        }
        assert!(lists > 1000, "only {lists} destinations checked");
    }

    #[test]
    fn never_peers_are_the_prefixes() {
        let r = |s: &str| Range::of(&s.parse().unwrap());
        let v4 = [
            "0.0.0.0/8",
            "127.0.0.0/8",
            "169.254.0.0/16",
            "224.0.0.0/4",
            "240.0.0.0/4",
        ];
        let v6 = [
            "::/128",
            "::1/128",
            "::ffff:0:0/96",
            "fe80::/10",
            "ff00::/8",
        ];
        assert_eq!(never_peers(Family::Inet), v4.map(r).to_vec());
        assert_eq!(never_peers(Family::Inet6), v6.map(r).to_vec());
    }

    #[test]
    fn globs() {
        assert!(glob("docker*", "docker0"));
        assert!(glob("br-*", "br-1a2b"));
        assert!(!glob("br-*", "br0"));
        assert!(glob("*peer", "eth3peer"));
        assert!(glob("eth0", "eth0"));
    }
}
