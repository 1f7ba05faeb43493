//! The kernel's route lookup, offline (docs/kernel-semantics.md), checked
//! against live kernels by `tests/kernel_diff.rs`. It follows the kernel's
//! own functions, which are named where they are mirrored:
//!
//! * IPv4 output: `ip_route_output_key_hash_rcu` (source check, multicast and
//!   broadcast shortcuts, the oif on-link fallback), `fib_select_path`,
//!   `__mkroute_output` (type override, loopback-source check).
//! * IPv4 input (`iif`): `ip_route_input_slow` (martians, broadcast and local
//!   input, `fib_validate_source`'s reverse lookup).
//! * IPv6 output and input: `ip6_route_output_flags`, `ip6_route_input_lookup`,
//!   `ip6_pol_route` / `rt6_select` (per-node scoring by device and router
//!   preference, strict interface matching), source-specific subtrees.
//! * Rules: `fib_rules_lookup`, `fib4_rule_*`, `fib6_rule_*`.
//! * Inside a table: longest prefix → TOS → metric (`fib_table_lookup`).
//! * Source selection: `inet_select_addr`, `ipv6_dev_get_saddr` (RFC 6724).
//!
//! Sysctls are the host's where the bundle kept them (`route_localnet`),
//! else the kernel's defaults; 0.0.0.0/8 follows the host's kernel version.
//! What a dump cannot tell is assumed at its default: `rp_filter=0`,
//! forwarding on, `accept_local=0`, `ignore_routes_with_linkdown=0`, no
//! neighbour entries, `use_tempaddr=0`, the default address-label table.

use super::{Host, RouteEntry, RuleEntry, fam_idx};
use crate::grammar::{Family, RouteType, RuleAction, Selector, Table};
use serde::Serialize;
use std::borrow::Cow;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A flow as `ip route get` takes it. Without `iif` it is a locally
/// generated packet (an output lookup); with one — `lo` included, as
/// `ip route get … iif lo` does — it is a received packet (an input lookup).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Flow {
    pub dst: IpAddr,
    pub src: Option<IpAddr>,
    pub iif: Option<String>,
    pub oif: Option<String>,
    pub mark: u32,
    pub tos: u8,
    /// The socket's uid (output lookups only: a received packet has no
    /// socket and the kernel uses uid 0 for it).
    pub uid: u32,
    pub ipproto: Option<u8>,
    pub sport: Option<u16>,
    pub dport: Option<u16>,
}

impl Flow {
    pub fn to(dst: IpAddr) -> Flow {
        Flow {
            dst,
            src: None,
            iif: None,
            oif: None,
            mark: 0,
            tos: 0,
            uid: 0,
            ipproto: None,
            sport: None,
            dport: None,
        }
    }

    pub fn from(mut self, src: IpAddr) -> Flow {
        self.src = Some(src);
        self
    }

    pub fn family(&self) -> Family {
        Family::of(&self.dst)
    }

    fn is_output(&self) -> bool {
        self.iif.is_none()
    }

    /// The source the kernel sees: `0.0.0.0` / `::` is "no source".
    fn saddr(&self) -> Option<IpAddr> {
        self.src.filter(|s| !s.is_unspecified())
    }
}

/// The kernel's answer when there is no route, in its own words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
pub enum KernelError {
    /// ENETUNREACH: no rule or route matched, a rule `unreachable`, a non-local IPv4 source.
    #[serde(rename = "Network is unreachable")]
    NetUnreach,
    /// EHOSTUNREACH: an `unreachable` route.
    #[serde(rename = "No route to host")]
    HostUnreach,
    /// EACCES: `prohibit`.
    #[serde(rename = "Permission denied")]
    Access,
    /// EINVAL: `blackhole`, martians.
    #[serde(rename = "Invalid argument")]
    Inval,
    /// ENODEV: an `oif` that does not exist.
    #[serde(rename = "No such device")]
    NoDev,
    /// EXDEV: reverse-path filtering refused a received packet's source
    /// (kernels before 6.13; since, `Inval`).
    #[serde(rename = "Invalid cross-device link")]
    XDev,
}

impl KernelError {
    pub fn message(self) -> &'static str {
        match self {
            KernelError::NetUnreach => "Network is unreachable",
            KernelError::HostUnreach => "No route to host",
            KernelError::Access => "Permission denied",
            KernelError::Inval => "Invalid argument",
            KernelError::NoDev => "No such device",
            KernelError::XDev => "Invalid cross-device link",
        }
    }

    fn of_route_type(t: &RouteType) -> Option<KernelError> {
        match t {
            RouteType::Unreachable => Some(KernelError::HostUnreach),
            RouteType::Prohibit => Some(KernelError::Access),
            RouteType::BlackHole | RouteType::Nat | RouteType::ExternalResolve => {
                Some(KernelError::Inval)
            }
            _ => None,
        }
    }
}

impl std::fmt::Display for KernelError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message())
    }
}

/// One live nexthop of the chosen route.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NextHopChoice {
    pub dev: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gateway: Option<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight: Option<u32>,
    /// The packet's source when the flow hashes to this nexthop (with no
    /// source given, each nexthop selects its own).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src: Option<IpAddr>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hit {
    #[serde(rename = "type")]
    pub kind: RouteType,
    /// The egress device (`lo` for local destinations).
    pub dev: String,
    pub gateway: Option<IpAddr>,
    /// The packet's source: the flow's, else the route's `src`, else the
    /// address the kernel would select on the egress device.
    pub src: Option<IpAddr>,
    /// The route's `src` attribute.
    pub prefsrc: Option<IpAddr>,
    /// Every nexthop the flow may take when there is more than one.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nexthops: Vec<NextHopChoice>,
    /// The egress depends on a flow hash (multipath): `dev`/`gateway`/`src`
    /// are the first candidate only.
    pub hash_dependent: bool,
    /// No route matched but an `oif` was given: the kernel assumes on-link.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub onlink_assumed: bool,
    /// With some flow hashes the kernel answers this error instead (a
    /// received packet whose source the reverse lookup refuses for some
    /// nexthops' devices only; a 127/8 source that only some nexthops'
    /// devices take, by route_localnet). `nexthops` lists the ones that pass.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hash_error: Option<KernelError>,
}

/// Reverse-path filtering of a received packet's source, as the lookup
/// applied it (only where the receiving device's rp_filter is on).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceCheck {
    /// The receiving device.
    pub dev: String,
    pub rp_filter: super::system::RpFilter,
    pub passed: bool,
    /// The reverse lookup's route: every device its nexthops use.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reverse_devs: Vec<String>,
    /// The reverse lookup found no route.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reverse_error: Option<KernelError>,
}

/// Why fib_validate_source refused a source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refused {
    /// A martian: the host's own address, or a non-unicast reverse route.
    Martian,
    /// Reverse-path filtering (-EXDEV before 6.13).
    Rpf,
}

/// fib_validate_source's answer, with the rp_filter check to report.
#[derive(Debug, Clone)]
struct Validated {
    result: Result<(), Refused>,
    check: Option<SourceCheck>,
}

impl Validated {
    fn pass(check: Option<SourceCheck>) -> Validated {
        Validated {
            result: Ok(()),
            check,
        }
    }

    fn refuse(why: Refused, check: Option<SourceCheck>) -> Validated {
        Validated {
            result: Err(why),
            check,
        }
    }

    fn error(&self, kernel: super::KernelVersion) -> KernelError {
        match self.result {
            Err(Refused::Rpf) => kernel.rp_filter_error(),
            _ => KernelError::Inval,
        }
    }

    /// The lookup with this check: a refusal replaces its result with the
    /// kernel's error.
    fn apply(self, kernel: super::KernelVersion, mut l: Lookup) -> Lookup {
        if self.result.is_err() {
            l.result = Err(self.error(kernel));
        }
        l.source_check = self.check;
        l
    }
}

/// A reference to a route: its table and index in the host model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RouteRef {
    pub table: Table,
    pub index: usize,
}

/// What a rule did during the walk, for explanations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Step {
    /// Its table had no route (or was empty/missing): the walk went on.
    NoRoute,
    Throw,
    Suppressed,
    Nop,
    UnresolvedGoto,
    Goto,
    Decided,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Lookup {
    pub result: Result<Hit, KernelError>,
    /// The deciding rule (index into `host.rules[family]`).
    pub rule: Option<usize>,
    pub table: Option<Table>,
    pub route: Option<RouteRef>,
    /// Rules that matched, in walk order, with what they did.
    pub trace: Vec<(usize, Step)>,
    /// Rules reached whose match depends on facts the dumps cannot give for
    /// a reply (fwmark, uidrange, ipproto, ports, oif, tos, tun_id, l3mdev).
    pub conditional: Vec<usize>,
    /// A received packet's reverse-path filtering (rp_filter on).
    pub source_check: Option<SourceCheck>,
}

impl Lookup {
    fn err(e: KernelError) -> Lookup {
        Lookup {
            result: Err(e),
            rule: None,
            table: None,
            route: None,
            trace: Vec::new(),
            conditional: Vec::new(),
            source_check: None,
        }
    }
}

// ----------------------------------------------------------------- internals

const SCOPE_UNIVERSE: u8 = 0;
const SCOPE_LINK: u8 = 253;
const SCOPE_HOST: u8 = 254;

/// The kernel's `flowi` for one FIB lookup.
#[derive(Clone)]
struct Fl<'a> {
    fam: Family,
    dst: IpAddr,
    /// `None`: 0.0.0.0 / `::` (IPv6: RT6_LOOKUP_F_HAS_SADDR unset).
    src: Option<IpAddr>,
    /// `lo` for locally generated packets (LOOPBACK_IFINDEX).
    iif: &'a str,
    oif: Option<&'a str>,
    mark: u32,
    tos: u8,
    uid: u32,
    ipproto: Option<u8>,
    sport: Option<u16>,
    dport: Option<u16>,
    /// IPv6: the device `rt6_select` scores routes against (the oif of an
    /// output lookup, the iif of an input one).
    score_dev: Option<&'a str>,
    /// IPv6: RT6_LOOKUP_F_IFACE, only routes via `score_dev` qualify.
    strict: bool,
    /// Record the rule walk's steps (`Lookup::trace`).
    trace: bool,
    /// The rules' selectors for this flow, settled but for `to`.
    pre: Option<&'a [RuleSel]>,
    /// With `pre`: the only rules that can match this destination, in
    /// order (the walk skips the rest: an EKS node's 30,000 `from POD`
    /// rules never match a reply from the node's own address).
    cands: Option<&'a [u32]>,
}

/// A rule's selectors against a flow, all but `to` (the one that reads the
/// destination).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RuleSel {
    /// `iif` and `from` match.
    base: bool,
    /// The selectors a reply's dumps cannot settle match.
    cond: bool,
    /// The rule has such selectors.
    has_conditional: bool,
}

impl RuleSel {
    /// The rule's `iif` and `from` match: it may match some destination
    /// (a `not` rule may match whatever this says).
    pub fn base(&self) -> bool {
        self.base
    }
}

/// The rules as replies from one local address meet them, settled once
/// for all their destinations (`Host::reply_rules`).
#[derive(Debug, Clone)]
pub struct ReplyRules {
    src: IpAddr,
    sel: Vec<RuleSel>,
    /// Rules that match whatever the destination (or may: `not` rules).
    always: Vec<u32>,
    /// Rules that match only inside their `to`, by `to`'s prefix length
    /// and masked address.
    by_to: HashMap<(u8, u128), Vec<u32>, foldhash::fast::RandomState>,
    to_plens: Vec<u8>,
}

impl ReplyRules {
    /// How the rules meet the source: replies from two sources with equal
    /// keys get equal answers from the rules for every destination.
    pub fn key(&self) -> Vec<RuleSel> {
        self.sel.clone()
    }
}

/// How a lookup runs: with a trace or not, with the rules settled or not.
#[derive(Clone, Copy)]
struct Opts<'a> {
    trace: bool,
    pre: Option<&'a [RuleSel]>,
    cands: Option<&'a [u32]>,
}

/// A FIB result: the table the walk found it in (held, not looked up
/// again), the route, and its usable nexthops (empty: single path).
struct Res<'h> {
    fib: &'h super::FibTable,
    route: usize,
    live: Vec<usize>,
}

/// What the rule walk records besides the result.
#[derive(Default)]
struct Walk {
    rule: Option<usize>,
    table: Option<Table>,
    route: Option<RouteRef>,
    trace: Vec<(usize, Step)>,
    conditional: Vec<usize>,
    /// The last `throw` met (rule, table, route): when no later rule
    /// decides, it is what sent the walk to `Network is unreachable`.
    thrown: Option<(usize, Table, usize)>,
}

impl Walk {
    /// Records what rule `i` did, when the lookup keeps a trace.
    fn step(&mut self, fl: &Fl<'_>, i: usize, step: Step) {
        if fl.trace {
            self.trace.push((i, step));
        }
    }

    fn finish(self, result: Result<Hit, KernelError>) -> Lookup {
        Lookup {
            result,
            rule: self.rule,
            table: self.table,
            route: self.route,
            trace: self.trace,
            conditional: self.conditional,
            source_check: None,
        }
    }
}

/// Outcome of one table lookup.
enum TableResult {
    NoMatch,
    /// A `throw` route (its index) sends the walk on.
    Throw(usize),
    Reject(usize, KernelError),
    Found(usize, Vec<usize>),
}

fn is_lbcast(a: IpAddr) -> bool {
    a == IpAddr::V4(Ipv4Addr::BROADCAST)
}

/// ipv4_is_zeronet on the host's kernel: 0.0.0.0/8 before Linux 5.3,
/// 0.0.0.0 alone since (`KernelVersion::zeronet_routable`).
fn is_zeronet(kernel: super::KernelVersion, a: IpAddr) -> bool {
    match a {
        IpAddr::V4(v) if kernel.zeronet_routable() => v.is_unspecified(),
        IpAddr::V4(v) => v.octets()[0] == 0,
        IpAddr::V6(_) => false,
    }
}

fn is_loopback4(a: IpAddr) -> bool {
    matches!(a, IpAddr::V4(v) if v.is_loopback())
}

/// ipv4_is_local_multicast: 224.0.0.0/24.
fn is_local_multicast(a: IpAddr) -> bool {
    matches!(a, IpAddr::V4(v) if v.octets()[0] == 224 && v.octets()[1] == 0 && v.octets()[2] == 0)
}

/// rt6_need_strict: multicast, link-local and loopback destinations are
/// only routed by routes through the flow's interface.
fn need_strict6(a: IpAddr) -> bool {
    match a {
        IpAddr::V6(v) => v.is_multicast() || is_link_local(a) || v.is_loopback(),
        IpAddr::V4(_) => false,
    }
}

pub fn is_link_local(a: IpAddr) -> bool {
    match a {
        IpAddr::V4(v) => v.is_link_local(),
        IpAddr::V6(v) => (v.segments()[0] & 0xffc0) == 0xfe80,
    }
}

fn common_prefix(a: IpAddr, b: IpAddr) -> u32 {
    match (a, b) {
        (IpAddr::V6(x), IpAddr::V6(y)) => (u128::from(x) ^ u128::from(y)).leading_zeros(),
        (IpAddr::V4(x), IpAddr::V4(y)) => (u32::from(x) ^ u32::from(y)).leading_zeros(),
        _ => 0,
    }
}

/// IPV6_DECODE_PREF of a route's `pref`: low 1, medium 2, high 3.
fn pref_rank(p: Option<&str>) -> i32 {
    match p {
        Some("high") => 3,
        Some("low") => 1,
        _ => 2,
    }
}

/// `__ipv6_addr_src_scope(__ipv6_addr_type(a))`: -1 for `::`, 2 for
/// link-local and `::1`, 5 site-local, 14 global (ULA included), the
/// multicast scope field, 0 for reserved space.
fn v6_scope(a: Ipv6Addr) -> i32 {
    let s = a.segments();
    let st = u32::from(s[0]) << 16 | u32::from(s[1]);
    if st & 0xe000_0000 != 0 && st & 0xe000_0000 != 0xe000_0000 {
        return 14;
    }
    if st & 0xff00_0000 == 0xff00_0000 {
        return i32::from(s[0] & 0xf);
    }
    if st & 0xffc0_0000 == 0xfe80_0000 {
        return 2;
    }
    if st & 0xffc0_0000 == 0xfec0_0000 {
        return 5;
    }
    if st & 0xfe00_0000 == 0xfc00_0000 {
        return 14;
    }
    let v = u128::from(a);
    if v >> 64 == 0 {
        if (v >> 32) as u32 == 0 {
            return match v as u32 {
                0 => -1,
                1 => 2,
                _ => 14,
            };
        }
        if (v >> 32) as u32 == 0xffff {
            return 14;
        }
    }
    0
}

/// The default IPv6 address-label table (net/ipv6/addrlabel.c, RFC 6724).
fn v6_label(a: Ipv6Addr) -> u32 {
    let v = u128::from(a);
    let in_net = |net: u128, plen: u32| plen == 0 || (v ^ net) >> (128 - plen) == 0;
    let table: [(u128, u32, u32); 10] = [
        (1, 128, 0),
        (0, 96, 3),
        (0xffff_0000_0000, 96, 4),
        (0x2001_0010u128 << 96, 28, 7),
        (0x2001_0000u128 << 96, 32, 6),
        (0x2002u128 << 112, 16, 2),
        (0x3ffeu128 << 112, 16, 12),
        (0xfec0u128 << 112, 10, 11),
        (0xfc00u128 << 112, 7, 5),
        (0, 0, 1),
    ];
    table
        .iter()
        .filter(|(n, p, _)| in_net(*n, *p))
        .max_by_key(|(_, p, _)| *p)
        .map_or(1, |(_, _, l)| *l)
}

fn route_scope(r: &crate::grammar::Route) -> u8 {
    r.scope
        .as_ref()
        .and_then(|s| s.number())
        .map_or(SCOPE_UNIVERSE, |n| n.min(255) as u8)
}

fn addr_scope(a: &super::AddrInfo) -> u8 {
    a.addr
        .scope
        .as_ref()
        .and_then(|s| s.number())
        .map_or(SCOPE_UNIVERSE, |n| n.min(255) as u8)
}

/// The device and gateway of nexthop `nh` of a route (`None`: the route's own).
fn nh_of(r: &crate::grammar::Route, nh: Option<usize>) -> (Option<&str>, Option<IpAddr>) {
    match nh.and_then(|i| r.nexthops.get(i)) {
        Some(n) => (n.dev.as_deref(), n.gateway),
        None => (r.dev.as_deref(), r.gateway),
    }
}

fn is_dead(flags: &[String]) -> bool {
    flags.iter().any(|f| f == "dead")
}

impl Host {
    /// The kernel's route lookup for `flow`.
    pub fn lookup(&self, flow: &Flow) -> Lookup {
        self.lookup_with(
            flow,
            Opts {
                trace: true,
                pre: None,
                cands: None,
            },
        )
    }

    /// The rules as locally generated replies from `src` (no oif, mark,
    /// uid, TOS or ports) meet them, but for their `to`: what
    /// `lookup_reply` takes.
    pub fn reply_rules(&self, src: IpAddr) -> ReplyRules {
        self.reply_rules_proto(src, None)
    }

    /// Whether replies from `src` of IP protocol `proto` can meet a rule
    /// on that protocol that other protocols' replies do not: one whose
    /// other selectors hold for a reply (an `ipproto tcp dport 443` rule
    /// never does: a reply's ports are unknown).
    pub fn protocol_matters(&self, src: IpAddr, proto: u8) -> bool {
        let mut flow = Flow::to(src).from(src);
        flow.ipproto = Some(proto);
        let fl = self.fl(&flow, "lo", None);
        self.rules[fam_idx(fl.fam)].iter().any(|re| {
            re.rule.ipproto.as_deref().and_then(ipproto_number) == Some(proto) && {
                let s = self.rule_sel(re, &fl);
                s.cond && (s.base || re.rule.not)
            }
        })
    }

    /// `reply_rules` for replies of IP protocol `proto` (a TCP, UDP or
    /// ICMP socket's): `ipproto` selectors are then settled, not
    /// conditional. `None`: a protocol that no rule names.
    pub fn reply_rules_proto(&self, src: IpAddr, proto: Option<u8>) -> ReplyRules {
        let mut flow = Flow::to(src).from(src);
        flow.ipproto = proto;
        let fl = self.fl(&flow, "lo", None);
        let rules = &self.rules[fam_idx(fl.fam)];
        let sel: Vec<RuleSel> = rules
            .iter()
            .map(|re| {
                let mut s = self.rule_sel(re, &fl);
                if proto.is_some() {
                    s.has_conditional = re
                        .rule
                        .selectors()
                        .any(|x| x.conditional() && x != Selector::Ipproto);
                }
                s
            })
            .collect();
        let mut always = Vec::new();
        let mut by_to: HashMap<(u8, u128), Vec<u32>, _> = HashMap::default();
        for (i, (re, s)) in rules.iter().zip(&sel).enumerate() {
            // rule_outcome: without its base a rule matches only if `not`.
            match (re.rule.not, s.base, re.rule.to) {
                (true, _, _) | (false, true, None) => always.push(i as u32),
                (false, true, Some(to)) => by_to
                    .entry((
                        to.prefix_len(),
                        super::table::key(to.network(), to.prefix_len()),
                    ))
                    .or_default()
                    .push(i as u32),
                (false, false, _) => {}
            }
        }
        let mut to_plens: Vec<u8> = by_to.keys().map(|k| k.0).collect();
        to_plens.sort_unstable();
        to_plens.dedup();
        ReplyRules {
            src,
            sel,
            always,
            by_to,
            to_plens,
        }
    }

    /// The rules of `rules` that can match a reply to `dst`, in order
    /// (borrowed when no rule has a `to`: most hosts, every lookup).
    fn reply_candidates(rules: &ReplyRules, dst: IpAddr) -> Cow<'_, [u32]> {
        if rules.to_plens.is_empty() {
            return Cow::Borrowed(&rules.always);
        }
        let mut out = rules.always.clone();
        let before = out.len();
        for &p in &rules.to_plens {
            if let Some(v) = rules.by_to.get(&(p, super::table::key(dst, p))) {
                out.extend_from_slice(v);
            }
        }
        if out.len() > before {
            out.sort_unstable();
        }
        Cow::Owned(out)
    }

    /// `lookup(&Flow::to(dst).from(src))` for `rules = reply_rules(src)`,
    /// without the rule walk's steps (`trace` is left empty): the verdicts
    /// look up every piece of the space for every endpoint.
    pub fn lookup_reply(&self, rules: &ReplyRules, dst: IpAddr) -> Lookup {
        // Every analysis is made of these: the per-host time budget.
        crate::budget::check();
        let flow = Flow::to(dst).from(rules.src);
        let fam = flow.family();
        let pre = (Family::of(&rules.src) == fam
            && rules.sel.len() == self.rules[fam_idx(fam)].len())
        .then_some(&rules.sel[..]);
        let cands = pre.map(|_| Self::reply_candidates(rules, dst));
        self.lookup_with(
            &flow,
            Opts {
                trace: false,
                pre,
                cands: cands.as_deref(),
            },
        )
    }

    fn lookup_with(&self, flow: &Flow, opts: Opts<'_>) -> Lookup {
        let fam = flow.family();
        if let Some(s) = flow.src
            && Family::of(&s) != fam
        {
            return Lookup::err(KernelError::Inval);
        }
        match (fam, flow.is_output()) {
            (Family::Inet, true) => self.output4(flow, opts),
            (Family::Inet, false) => self.input4(flow, opts.trace),
            (Family::Inet6, true) => self.output6(flow, opts),
            (Family::Inet6, false) => self.input6(flow, opts.trace),
        }
    }

    fn fl<'a>(&self, flow: &'a Flow, iif: &'a str, oif: Option<&'a str>) -> Fl<'a> {
        Fl {
            fam: flow.family(),
            dst: flow.dst,
            src: flow.saddr(),
            iif,
            oif,
            mark: flow.mark,
            tos: flow.tos,
            // A received packet has no socket: sock_net_uid(net, NULL) = 0.
            uid: if flow.is_output() { flow.uid } else { 0 },
            ipproto: flow.ipproto,
            sport: flow.sport,
            dport: flow.dport,
            score_dev: None,
            strict: false,
            trace: true,
            pre: None,
            cands: None,
        }
    }

    fn hit_of(kind: RouteType, dev: String, gateway: Option<IpAddr>, src: Option<IpAddr>) -> Hit {
        Hit {
            kind,
            dev,
            gateway,
            src,
            prefsrc: None,
            nexthops: Vec::new(),
            hash_dependent: false,
            onlink_assumed: false,
            hash_error: None,
        }
    }

    /// The VRF master of a device, if it is enslaved to one.
    fn vrf_master(&self, dev: &str) -> Option<&str> {
        self.link(dev)
            .and_then(|l| l.master.as_deref())
            .filter(|m| self.link(m).is_some_and(|x| x.vrf_table.is_some()))
    }

    fn is_loopback_dev(&self, dev: &str) -> bool {
        dev == "lo" || self.link(dev).is_some_and(|l| l.loopback)
    }

    // ------------------------------------------------------------ IPv4 output

    /// ip_route_output_key_hash_rcu.
    fn output4(&self, flow: &Flow, opts: Opts<'_>) -> Lookup {
        let dst = flow.dst;
        let mut src = flow.saddr();
        if let Some(s) = src {
            if s.is_multicast() || is_lbcast(s) || is_zeronet(self.kernel, s) {
                return Lookup::err(KernelError::Inval);
            }
            if flow.oif.is_none() && (dst.is_multicast() || is_lbcast(dst)) {
                // Multicast / limited broadcast leave by the source's device.
                let Some(dev) = self.local_dev(s) else {
                    return Lookup::err(KernelError::NetUnreach);
                };
                return self.mkroute_output4(
                    flow,
                    Walk::default(),
                    RouteType::Unicast,
                    dev.to_string(),
                    None,
                    s,
                    None,
                );
            }
            if self.local_dev(s).is_none() {
                return Lookup::err(KernelError::NetUnreach);
            }
        }
        if let Some(oif) = &flow.oif {
            let Some(link) = self.link(oif) else {
                return Lookup::err(KernelError::NoDev);
            };
            if !link.up {
                return Lookup::err(KernelError::NetUnreach);
            }
            if is_local_multicast(dst) || is_lbcast(dst) || flow.ipproto == Some(2) {
                let s = src.or_else(|| self.inet_select_addr(oif, None, SCOPE_LINK));
                return self.mkroute_output4(
                    flow,
                    Walk::default(),
                    RouteType::Unicast,
                    oif.clone(),
                    None,
                    s.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
                    None,
                );
            }
            if src.is_none() {
                if dst.is_multicast() {
                    src = self.inet_select_addr(oif, None, SCOPE_UNIVERSE);
                } else if dst.is_unspecified() {
                    src = self.inet_select_addr(oif, None, SCOPE_HOST);
                }
            }
        }
        if dst.is_unspecified() {
            let s = src.unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
            let mut h = Self::hit_of(RouteType::Local, "lo".into(), None, Some(s));
            h.prefsrc = None;
            return Walk::default().finish(Ok(h));
        }
        let mut fl = self.fl(flow, "lo", flow.oif.as_deref());
        fl.src = src;
        fl.trace = opts.trace;
        // The settled rules hold for the flow's own source only.
        fl.pre = opts.pre.filter(|_| src == flow.saddr());
        fl.cands = opts.cands.filter(|_| fl.pre.is_some());
        let mut walk = Walk::default();
        let res = match self.fib_lookup(&fl, &mut walk) {
            Ok(r) => r,
            Err(e) => {
                let Some(oif) = &flow.oif else {
                    return walk.finish(Err(e));
                };
                // "Apparently, routing tables are wrong. Assume, that the
                // destination is on link." Any error, even a prohibit rule.
                let s = src.or_else(|| self.inet_select_addr(oif, None, SCOPE_LINK));
                let mut l = self.mkroute_output4(
                    flow,
                    Walk {
                        trace: walk.trace,
                        conditional: walk.conditional,
                        ..Walk::default()
                    },
                    RouteType::Unicast,
                    oif.clone(),
                    None,
                    s.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
                    None,
                );
                if let Ok(h) = &mut l.result {
                    h.onlink_assumed = true;
                }
                return l;
            }
        };
        let t = res.fib;
        let e = &t.routes[res.route];
        let r = &e.route;
        if r.kind == RouteType::Local {
            let s = src.or(r.prefsrc).unwrap_or(dst);
            let dev = r
                .dev
                .as_deref()
                .and_then(|d| self.vrf_master(d))
                .unwrap_or("lo")
                .to_string();
            let mut l = self.mkroute_output4(
                flow,
                walk,
                RouteType::Local,
                dev,
                None,
                s,
                Some(r.dst.prefix_len()),
            );
            if let Ok(h) = &mut l.result {
                h.prefsrc = r.prefsrc;
            }
            return l;
        }
        // fib_select_path: a multipath route is hashed when no oif is given.
        // fib_select_multipath (v6.15+) scores nexthops: +2 when its own
        // source (nh_saddr, inet_select_addr on its device, never the
        // route's `src`) is the flow's, +1 when the hash falls in its
        // range; so with a source some nexthop owns, only those can win,
        // else the hash decides among all [verified on 6.18: a primary
        // address always leaves by its own leg; a secondary address, or
        // one on a third device, by either]. A nexthop-object route
        // (`nhid`) is hashed by nexthop_path_fib_result before any scoring:
        // no source preference at all [verified]. Equal-metric defaults
        // (fib_select_default) keep the first alias when no neighbour is known.
        let scope = route_scope(r);
        let nh_src = |i: Option<usize>| -> Option<IpAddr> {
            r.prefsrc.or_else(|| {
                let (dev, gw) = nh_of(r, i);
                self.inet_select_addr(dev.unwrap_or("lo"), gw, scope)
            })
        };
        let mut cands: Vec<usize> = res.live.clone();
        if flow.oif.is_none() && cands.len() > 1 {
            if let Some(s) = src.filter(|_| r.nhid.is_none()) {
                let own: Vec<usize> = cands
                    .iter()
                    .copied()
                    .filter(|&i| {
                        let (dev, gw) = nh_of(r, Some(i));
                        self.inet_select_addr(dev.unwrap_or("lo"), gw, scope) == Some(s)
                    })
                    .collect();
                if !own.is_empty() {
                    cands = own;
                }
            }
        } else {
            cands.truncate(1);
        }
        // __mkroute_output refuses a 127/8 source on a device without
        // route_localnet: where only some candidates' devices have it, the
        // hash decides between those legs and the error [6.18: `from
        // 127.0.0.1` over eth0 + eth3 with eth3.route_localnet=1 answers
        // `dev eth3`].
        let mut refused_some = false;
        if cands.len() > 1 {
            let pass: Vec<usize> = cands
                .iter()
                .copied()
                .filter(|&i| {
                    let s = src.or_else(|| nh_src(Some(i)));
                    let dev = nh_of(r, Some(i)).0.unwrap_or("lo");
                    !s.is_some_and(|s| self.loopback_src_refused(s, dev))
                })
                .collect();
            if !pass.is_empty() && pass.len() < cands.len() {
                cands = pass;
                refused_some = true;
            }
        }
        let first = cands.first().copied();
        let s = src.or_else(|| nh_src(first));
        let dev = nh_of(r, first).0;
        let gw = self.rt_gw4(r, first);
        let mut l = self.mkroute_output4(
            flow,
            walk,
            r.kind.clone(),
            dev.unwrap_or("lo").to_string(),
            gw,
            s.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
            Some(r.dst.prefix_len()),
        );
        if let Ok(h) = &mut l.result {
            h.prefsrc = r.prefsrc;
            if refused_some {
                h.hash_error = Some(KernelError::Inval);
            }
            if cands.len() > 1 || refused_some {
                h.hash_dependent = true;
                h.nexthops = cands
                    .iter()
                    .map(|&i| {
                        let n = &r.nexthops[i];
                        // A broadcast or multicast keeps a gateway only as
                        // mkroute_output4 decided for the first candidate.
                        let keep = h.kind == RouteType::Unicast || h.gateway.is_some();
                        NextHopChoice {
                            dev: n.dev.clone().unwrap_or_default(),
                            gateway: self.rt_gw4(r, Some(i)).filter(|_| keep),
                            weight: n.weight,
                            src: src.or_else(|| nh_src(Some(i))),
                        }
                    })
                    .collect();
            }
        }
        l
    }

    /// __mkroute_output's loopback-source check: a 127/8 source leaves only
    /// by a loopback or VRF device, or one with route_localnet (its own or
    /// `all`).
    fn loopback_src_refused(&self, src: IpAddr, dev: &str) -> bool {
        is_loopback4(src)
            && !self.is_loopback_dev(dev)
            && self.link(dev).is_none_or(|l| l.vrf_table.is_none())
            && !self.sysctls.route_localnet(dev)
    }

    /// __mkroute_output: the loopback-source check, the type the
    /// destination forces and the nexthop a multicast/broadcast keeps.
    /// `fib_plen` is the matched route's prefix length (`None`: no FIB result).
    #[allow(clippy::too_many_arguments)]
    fn mkroute_output4(
        &self,
        flow: &Flow,
        walk: Walk,
        kind: RouteType,
        dev: String,
        gateway: Option<IpAddr>,
        src: IpAddr,
        fib_plen: Option<u8>,
    ) -> Lookup {
        let dst = flow.dst;
        if self.loopback_src_refused(src, &dev) {
            return walk.finish(Err(KernelError::Inval));
        }
        let (kind, gateway) = if is_lbcast(dst) {
            (RouteType::Broadcast, None)
        } else if dst.is_multicast() {
            // "If multicast route do not exist use default one, but do not
            // gateway in this case."
            (
                RouteType::Multicast,
                gateway.filter(|_| fib_plen.is_some_and(|p| p >= 4)),
            )
        } else if is_zeronet(self.kernel, dst) {
            return walk.finish(Err(KernelError::Inval));
        } else if kind == RouteType::Broadcast {
            (kind, None)
        } else {
            (kind, gateway)
        };
        let src = (!src.is_unspecified()).then_some(src);
        walk.finish(Ok(Self::hit_of(kind, dev, gateway, src)))
    }

    // ------------------------------------------------------------- IPv4 input

    /// ip_route_input_slow (and ip_route_input_rcu's multicast branch).
    fn input4(&self, flow: &Flow, trace: bool) -> Lookup {
        let iif = flow.iif.as_deref().unwrap_or("lo");
        let Some(link) = self.link(iif) else {
            return Lookup::err(KernelError::NoDev);
        };
        let dst = flow.dst;
        let src = flow.saddr();
        let s = src.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        let inval = || Lookup::err(KernelError::Inval);
        if dst.is_multicast() {
            // Only groups the device joined are received; every up IPv4
            // device is in 224.0.0.1 (all-hosts), other groups need a socket.
            let ours = dst == IpAddr::V4(Ipv4Addr::new(224, 0, 0, 1)) && link.up;
            // ip_mc_validate_source: a 127/8 source needs route_localnet.
            let loopback = is_loopback4(s) && !self.sysctls.route_localnet(iif);
            if !ours || s.is_multicast() || is_lbcast(s) || loopback {
                return inval();
            }
            let v = match src {
                Some(_) => self.validate_source(flow, iif, s, None, None),
                None => Validated::pass(None),
            };
            let l = Walk::default().finish(Ok(Self::hit_of(
                RouteType::Multicast,
                "lo".into(),
                None,
                src,
            )));
            return v.apply(self.kernel, l);
        }
        if s.is_multicast() || is_lbcast(s) {
            return inval();
        }
        let brd_input = |walk: Walk| -> Lookup {
            let v = match src {
                Some(_) => self.validate_source(flow, iif, s, None, None),
                None => Validated::pass(None),
            };
            let dev = self.vrf_master(iif).unwrap_or("lo").to_string();
            v.apply(
                self.kernel,
                walk.finish(Ok(Self::hit_of(RouteType::Broadcast, dev, None, src))),
            )
        };
        if is_lbcast(dst) || (src.is_none() && dst.is_unspecified()) {
            return brd_input(Walk::default());
        }
        if is_zeronet(self.kernel, s) || is_zeronet(self.kernel, dst) {
            return inval();
        }
        // Loopback addresses arrive from outside only where the receiving
        // device (or `all`) has route_localnet=1.
        if (is_loopback4(dst) || is_loopback4(s)) && !self.sysctls.route_localnet(iif) {
            return inval();
        }
        let mut fl = self.fl(flow, iif, None);
        fl.trace = trace;
        let mut walk = Walk::default();
        let res = match self.fib_lookup(&fl, &mut walk) {
            Ok(r) => r,
            // Forwarding is assumed on (else every miss is EHOSTUNREACH).
            Err(e) => return walk.finish(Err(e)),
        };
        let r = &res.fib.routes[res.route].route;
        match r.kind {
            RouteType::Broadcast => return brd_input(walk),
            RouteType::Local => {
                let v = self.validate_source(flow, iif, s, Some(dst), None);
                if v.result.is_err() {
                    return v.apply(self.kernel, walk.finish(Err(KernelError::Inval)));
                }
                let dev = r
                    .dev
                    .as_deref()
                    .and_then(|d| self.vrf_master(d))
                    .unwrap_or("lo")
                    .to_string();
                let mut h = Self::hit_of(RouteType::Local, dev, None, src);
                h.prefsrc = r.prefsrc;
                return v.apply(self.kernel, walk.finish(Ok(h)));
            }
            RouteType::Unicast => {}
            _ => return walk.finish(Err(KernelError::Inval)),
        }
        // ip_mkroute_input: a multipath route is hashed (no source
        // preference), then the source is validated against the chosen
        // nexthop's device — which may pass for one nexthop and not another.
        let all: Vec<Option<usize>> = if res.live.is_empty() {
            vec![None]
        } else {
            res.live.iter().map(|&i| Some(i)).collect()
        };
        let checks: Vec<(Option<usize>, Validated)> = all
            .iter()
            .map(|&i| {
                let dev = nh_of(r, i).0.unwrap_or("lo");
                (i, self.validate_source(flow, iif, s, Some(dst), Some(dev)))
            })
            .collect();
        let ok: Vec<Option<usize>> = checks
            .iter()
            .filter(|c| c.1.result.is_ok())
            .map(|c| c.0)
            .collect();
        // The first refusal explains an error; the first pass a success.
        let refused = checks.iter().find(|c| c.1.result.is_err()).map(|c| &c.1);
        let Some(&first) = ok.first() else {
            let v = refused.expect("every nexthop refused").clone();
            return v.apply(self.kernel, walk.finish(Err(KernelError::Inval)));
        };
        let passed = checks
            .iter()
            .find(|c| c.0 == first)
            .map(|c| c.1.clone())
            .expect("a passing nexthop");
        let dev = nh_of(r, first).0.unwrap_or("lo");
        let mut h = Self::hit_of(
            RouteType::Unicast,
            dev.to_string(),
            self.rt_gw4(r, first),
            src,
        );
        h.prefsrc = r.prefsrc;
        if all.len() > 1 {
            h.hash_dependent = true;
            let live: Vec<usize> = ok.iter().flatten().copied().collect();
            h.nexthops = self.choices(r, &live, |_| src);
            for (c, &i) in h.nexthops.iter_mut().zip(&live) {
                c.gateway = self.rt_gw4(r, Some(i));
            }
            if let Some(v) = refused {
                h.hash_error = Some(v.error(self.kernel));
            }
        }
        passed.apply(self.kernel, walk.finish(Ok(h)))
    }

    /// fib_validate_source / __fib_validate_source: may a packet from
    /// `src` to `dst`, received on `iif`, be accepted (forwarded out `oif`,
    /// or delivered locally when `None`)?
    ///
    /// With rp_filter off on `iif` (the larger of `all` and its own), no
    /// realms, and the packet not leaving by the device it came in on
    /// (with `send_redirects` on), the kernel takes a short path:
    /// `accept_local` accepts anything; without custom rules or local
    /// routes only the host's own addresses are refused. Otherwise it looks
    /// `src` up in reverse (daddr `src`, saddr `dst`, iif `oif` or lo, the
    /// packet's mark only with `src_valid_mark`, ports swapped where rules
    /// read them): no route passes unless rp_filter is on; a non-unicast
    /// answer is a martian (a `local` one passes with `accept_local`); an
    /// answer with any nexthop on `iif` passes; else strict mode (1)
    /// refuses, and loose mode (2) and off pass.
    fn validate_source(
        &self,
        flow: &Flow,
        iif: &str,
        src: IpAddr,
        dst: Option<IpAddr>,
        oif: Option<&str>,
    ) -> Validated {
        let flags = &self.fib;
        let sys = &self.sysctls;
        let rp = sys.rp_filter(iif);
        let accept_local = sys.accept_local(iif);
        let redirects = oif == Some(iif) && sys.send_redirects(iif);
        if rp.mode == 0 && !flags.realms4 && !redirects {
            if accept_local {
                return Validated::pass(None);
            }
            // "With custom local routes in place, checking local addresses
            // only will be too optimistic, with custom rules, checking
            // local addresses only can be too strict."
            if !flags.custom_rules[0] && !flags.custom_local4 {
                return if self.is_local_addr(src) {
                    Validated::refuse(Refused::Martian, None)
                } else {
                    Validated::pass(None)
                };
            }
        }
        let mut fl = self.fl(flow, oif.unwrap_or("lo"), None);
        // The reverse lookup's walk is not reported.
        fl.trace = false;
        fl.dst = src;
        fl.src = dst.filter(|d| !d.is_unspecified());
        fl.mark = if sys.src_valid_mark(iif) {
            flow.mark
        } else {
            0
        };
        fl.uid = 0;
        if flags.l4_rules4 {
            fl.sport = flow.dport;
            fl.dport = flow.sport;
        } else {
            fl.ipproto = None;
            fl.sport = None;
            fl.dport = None;
        }
        let check = |passed: bool, reverse: Result<Vec<String>, KernelError>| {
            (rp.mode != 0).then(|| SourceCheck {
                dev: iif.to_string(),
                rp_filter: rp.clone(),
                passed,
                reverse_devs: reverse.clone().unwrap_or_default(),
                reverse_error: reverse.err(),
            })
        };
        let mut walk = Walk::default();
        let res = match self.fib_lookup(&fl, &mut walk) {
            Ok(r) => r,
            // last_resort: only rp_filter refuses an unroutable source.
            Err(e) if rp.mode != 0 => return Validated::refuse(Refused::Rpf, check(false, Err(e))),
            Err(_) => return Validated::pass(None),
        };
        let r = &res.fib.routes[res.route].route;
        match r.kind {
            RouteType::Unicast => {}
            RouteType::Local if accept_local => {}
            _ => return Validated::refuse(Refused::Martian, None),
        }
        // fib_info_nh_uses_dev: every nexthop counts, dead ones too.
        let devs: Vec<String> = if r.nexthops.is_empty() {
            r.dev.iter().cloned().collect()
        } else {
            r.nexthops.iter().filter_map(|n| n.dev.clone()).collect()
        };
        let dev_match = devs.iter().any(|d| d == iif)
            || (r.kind == RouteType::Local && self.is_loopback_dev(iif));
        if dev_match {
            return Validated::pass(check(true, Ok(devs)));
        }
        let no_addr = !self
            .addrs
            .iter()
            .any(|a| a.link == iif && a.addr.family == Family::Inet);
        if (no_addr && rp.mode != 0) || rp.strict() {
            return Validated::refuse(Refused::Rpf, check(false, Ok(devs)));
        }
        Validated::pass(check(true, Ok(devs)))
    }

    // ------------------------------------------------------------------ IPv6

    /// ip6_route_output_flags: no source check, no on-link fallback; an oif
    /// with no source (or a multicast/link-local/loopback destination)
    /// makes the interface strict, else it only scores.
    fn output6(&self, flow: &Flow, opts: Opts<'_>) -> Lookup {
        if let Some(oif) = &flow.oif
            && self.link(oif).is_none()
        {
            return Lookup::err(KernelError::NoDev);
        }
        let mut fl = self.fl(flow, "lo", flow.oif.as_deref());
        fl.trace = opts.trace;
        fl.pre = opts.pre;
        fl.cands = opts.cands;
        fl.score_dev = flow.oif.as_deref();
        fl.strict = need_strict6(flow.dst) || (flow.oif.is_some() && fl.src.is_none());
        self.finish6(flow, fl)
    }

    /// ip6_route_input_lookup: the iif scores routes (strict for
    /// multicast/link-local/loopback destinations).
    fn input6(&self, flow: &Flow, trace: bool) -> Lookup {
        let iif = flow.iif.as_deref().unwrap_or("lo");
        if self.link(iif).is_none() {
            return Lookup::err(KernelError::NoDev);
        }
        let mut fl = self.fl(flow, iif, None);
        fl.trace = trace;
        fl.score_dev = Some(iif);
        fl.strict = need_strict6(flow.dst);
        self.finish6(flow, fl)
    }

    fn finish6(&self, flow: &Flow, fl: Fl<'_>) -> Lookup {
        let mut walk = Walk::default();
        let res = match self.fib_lookup(&fl, &mut walk) {
            Ok(r) => r,
            Err(e) => return walk.finish(Err(e)),
        };
        let r = &res.fib.routes[res.route].route;
        let first = res.live.first().copied();
        let (dev, gw) = nh_of(r, first);
        let dev = dev.unwrap_or("lo");
        let output = flow.is_output();
        // ip6_route_get_saddr: the route's src, else RFC 6724 selection with
        // the route's nexthop device (the real device even for local routes).
        let sel = |dev: &str| -> Option<IpAddr> {
            if !output {
                return flow.src;
            }
            flow.saddr()
                .or(r.prefsrc)
                .or_else(|| self.ipv6_saddr(Some(dev), flow.dst))
        };
        let (kind_dev, gateway) = match r.kind {
            // ip6_rt_get_dev_rcu: local and anycast go through loopback (or the VRF).
            RouteType::Local | RouteType::Anycast => {
                (self.vrf_master(dev).unwrap_or("lo").to_string(), None)
            }
            _ => (dev.to_string(), gw),
        };
        // A nexthop-object route selects its source on the device of the
        // group's first member whatever leg the hash takes
        // (fib6_info_nh_dev → nexthop_fib6_nh: entry 0) [verified].
        let group_dev = r
            .nhid
            .and_then(|_| r.nexthops.first())
            .and_then(|n| n.dev.as_deref());
        let mut h = Self::hit_of(
            r.kind.clone(),
            kind_dev,
            gateway,
            sel(group_dev.unwrap_or(dev)),
        );
        h.prefsrc = r.prefsrc;
        if res.live.len() > 1 {
            h.hash_dependent = true;
            h.nexthops = self.choices(r, &res.live, |i| {
                sel(group_dev.unwrap_or_else(|| nh_of(r, Some(i)).0.unwrap_or("lo")))
            });
        }
        walk.finish(Ok(h))
    }

    fn choices(
        &self,
        r: &crate::grammar::Route,
        live: &[usize],
        src: impl Fn(usize) -> Option<IpAddr>,
    ) -> Vec<NextHopChoice> {
        live.iter()
            .filter_map(|&i| r.nexthops.get(i).map(|n| (i, n)))
            .map(|(i, n)| NextHopChoice {
                dev: n.dev.clone().unwrap_or_default(),
                gateway: n.gateway,
                weight: n.weight,
                src: src(i),
            })
            .collect()
    }

    // ------------------------------------------------------------- the walk

    /// The gateway an IPv4 nexthop really uses (rt_set_nexthop keeps it only
    /// for a link-scope nexthop). fib_check_nh_v4_gw resolves the gateway
    /// with the nexthop's device as oif: a gateway that is an address of
    /// that very device hits its `local` route, the nexthop gets host scope
    /// and packets go out directly (`onlink` nexthops keep link scope).
    fn rt_gw4(&self, r: &crate::grammar::Route, nh: Option<usize>) -> Option<IpAddr> {
        let (gw, flags) = match nh.and_then(|i| r.nexthops.get(i)) {
            Some(n) => (n.gateway, &n.flags),
            None => (r.gateway, &r.flags),
        };
        let dev = nh_of(r, nh).0;
        let onlink = flags.iter().any(|f| f == "onlink");
        gw.filter(|g| {
            onlink || !g.is_ipv4() || !self.addrs_of(*g).any(|a| Some(a.link.as_str()) == dev)
        })
    }

    /// `__ip_dev_find`: the device owning a local address (the address
    /// hash lists the newest first: with one address on several devices,
    /// the last in the dump is the best guess), falling back to the local
    /// table (loopback subnets, AnyIP `local` routes).
    fn local_dev(&self, a: IpAddr) -> Option<&str> {
        if let Some(x) = self.addrs_of(a).next_back() {
            return Some(&x.link);
        }
        let flow = Flow::to(a);
        let fl = self.fl(&flow, "lo", None);
        // Without custom IPv4 rules the local table is the merged trie, so a
        // `local` route in main (AnyIP) makes its addresses local too.
        let (t, res) = if a.is_ipv4() && !self.fib.custom_rules[0] {
            let (_, t, res) = self.local_main4(&fl)?;
            (t, res)
        } else {
            let t = self.table(Family::of(&a), &Table::Id(Table::LOCAL))?;
            (t, self.table_lookup(t, &fl))
        };
        match res {
            TableResult::Found(i, _) => {
                let r = &t.routes[i].route;
                (r.kind == RouteType::Local).then(|| r.dev.as_deref().unwrap_or("lo"))
            }
            _ => None,
        }
    }

    /// fib_lookup / fib6_rule_lookup.
    fn fib_lookup(&self, fl: &Fl<'_>, w: &mut Walk) -> Result<Res<'_>, KernelError> {
        if fl.fam == Family::Inet && !self.fib.custom_rules[0] {
            return self.merged_lookup4(fl, w);
        }
        self.walk(fl, w)
    }

    /// Without custom IPv4 rules the kernel keeps `local` merged into `main`
    /// (one trie: longest prefix across both, local's aliases first at
    /// equal prefixes), then asks `default`.
    fn merged_lookup4<'h>(&'h self, fl: &Fl<'_>, w: &mut Walk) -> Result<Res<'h>, KernelError> {
        let rule_of = |t: &Table| {
            self.rules[0]
                .iter()
                .position(|r| r.table.as_ref() == Some(t) && r.rule.action == RuleAction::Lookup)
        };
        let mut done = |table: Table,
                        fib: &'h super::FibTable,
                        ri: usize,
                        r: Result<Vec<usize>, KernelError>| {
            let rule = rule_of(&table);
            if let Some(i) = rule {
                w.step(fl, i, Step::Decided);
            }
            w.rule = rule;
            w.table = Some(table.clone());
            w.route = Some(RouteRef { table, index: ri });
            r.map(|live| Res {
                fib,
                route: ri,
                live,
            })
        };
        match self.local_main4(fl) {
            Some((t, fib, TableResult::Reject(i, e))) => return done(t, fib, i, Err(e)),
            Some((t, fib, TableResult::Found(i, live))) => return done(t, fib, i, Ok(live)),
            _ => {}
        }
        let dflt = Table::Id(Table::DEFAULT);
        if let Some(t) = self.table(Family::Inet, &dflt) {
            match self.table_lookup(t, fl) {
                TableResult::Reject(i, e) => return done(dflt, t, i, Err(e)),
                TableResult::Found(i, live) => return done(dflt, t, i, Ok(live)),
                _ => {}
            }
        }
        Err(KernelError::NetUnreach)
    }

    /// One fib_table_lookup of the merged local+main trie: the longest
    /// prefix across both, `local`'s aliases first at equal prefixes. The
    /// two tables' prefix lengths (each longest first) are merged as they
    /// are walked: no list is built per lookup.
    fn local_main4(&self, fl: &Fl<'_>) -> Option<(Table, &super::FibTable, TableResult)> {
        const LOCAL: Table = Table::Id(Table::LOCAL);
        const MAIN: Table = Table::Id(Table::MAIN);
        let local = self.table(Family::Inet, &LOCAL);
        let main = self.table(Family::Inet, &MAIN);
        let (mut lp, mut mp) = (
            local.map_or(&[][..], |t| t.plens()),
            main.map_or(&[][..], |t| t.plens()),
        );
        loop {
            let p = match (lp.first(), mp.first()) {
                (None, None) => break,
                (Some(&a), None) => a,
                (None, Some(&b)) => b,
                (Some(&a), Some(&b)) => a.max(b),
            };
            // A table without this prefix length has no alias for it.
            let in_local = lp.first() == Some(&p);
            let in_main = mp.first() == Some(&p);
            if in_local {
                lp = &lp[1..];
            }
            if in_main {
                mp = &mp[1..];
            }
            for (tid, t, has) in [(LOCAL, local, in_local), (MAIN, main, in_main)] {
                let Some(t) = t.filter(|_| has) else { continue };
                match self.aliases4(t, t.aliases(fl.dst, p), fl) {
                    TableResult::NoMatch => {}
                    other => return Some((tid, t, other)),
                }
            }
        }
        None
    }

    /// Walks the policy rules (fib_rules_lookup).
    fn walk(&self, fl: &Fl<'_>, w: &mut Walk) -> Result<Res<'_>, KernelError> {
        let rules = &self.rules[fam_idx(fl.fam)];
        let mut i = 0;
        let mut hops = 0;
        loop {
            // The next rule at or after `i` that can match (all of them
            // without settled selectors).
            i = match fl.cands {
                Some(c) => match c.get(c.partition_point(|&x| (x as usize) < i)) {
                    Some(&x) => x as usize,
                    None => break,
                },
                None if i < rules.len() => i,
                None => break,
            };
            hops += 1;
            if hops > rules.len() * 2 + 8 {
                break;
            }
            let re = &rules[i];
            let (matched, conditional) = match fl.pre {
                Some(pre) => Self::rule_outcome(re, pre[i], fl.dst),
                None => self.rule_matches(re, fl),
            };
            if conditional {
                w.conditional.push(i);
            }
            if !matched {
                i += 1;
                continue;
            }
            let r = &re.rule;
            match &r.action {
                RuleAction::Goto => {
                    let target = r.goto.and_then(|p| {
                        rules
                            .iter()
                            .position(|x| x.rule.priority == p && p > r.priority)
                    });
                    match target {
                        Some(t) => {
                            w.step(fl, i, Step::Goto);
                            i = t;
                        }
                        None => {
                            w.step(fl, i, Step::UnresolvedGoto);
                            i += 1;
                        }
                    }
                    continue;
                }
                RuleAction::Nop => {
                    w.step(fl, i, Step::Nop);
                    i += 1;
                    continue;
                }
                RuleAction::Lookup => {}
                other => {
                    w.step(fl, i, Step::Decided);
                    w.rule = Some(i);
                    return Err(match other {
                        RuleAction::Unreachable => KernelError::NetUnreach,
                        RuleAction::Prohibit => KernelError::Access,
                        _ => KernelError::Inval,
                    });
                }
            }
            let Some(table) = self.rule_table(re, fl) else {
                w.step(fl, i, Step::NoRoute);
                i += 1;
                continue;
            };
            let Some(t) = self.table(fl.fam, &table) else {
                w.step(fl, i, Step::NoRoute);
                i += 1;
                continue;
            };
            match self.table_lookup(t, fl) {
                TableResult::NoMatch => w.step(fl, i, Step::NoRoute),
                TableResult::Throw(ri) => {
                    w.step(fl, i, Step::Throw);
                    w.thrown = Some((i, table.into_owned(), ri));
                }
                TableResult::Reject(ri, e) => {
                    w.step(fl, i, Step::Decided);
                    w.rule = Some(i);
                    let table = table.into_owned();
                    w.route = Some(RouteRef {
                        table: table.clone(),
                        index: ri,
                    });
                    w.table = Some(table);
                    return Err(e);
                }
                TableResult::Found(ri, live) => {
                    if self.suppressed(re, &t.routes[ri], &live) {
                        w.step(fl, i, Step::Suppressed);
                        i += 1;
                        continue;
                    }
                    w.step(fl, i, Step::Decided);
                    w.rule = Some(i);
                    let table = table.into_owned();
                    w.route = Some(RouteRef {
                        table: table.clone(),
                        index: ri,
                    });
                    w.table = Some(table);
                    return Ok(Res {
                        fib: t,
                        route: ri,
                        live,
                    });
                }
            }
            i += 1;
        }
        if let Some((i, table, ri)) = w.thrown.take() {
            w.rule = Some(i);
            w.route = Some(RouteRef {
                table: table.clone(),
                index: ri,
            });
            w.table = Some(table);
        }
        Err(KernelError::NetUnreach)
    }

    /// Whether rule `re` can match some reply the verdicts look up: an
    /// output lookup from the local address `src` (no oif, mark, uid, TOS or
    /// ports) to any destination — its `to` is taken to match, and a `not`
    /// rule may match anything.
    pub fn rule_may_match_reply(&self, re: &RuleEntry, src: IpAddr) -> bool {
        if re.rule.not {
            return true;
        }
        let dst = re.rule.to.map_or(src, |to| to.network());
        let flow = Flow::to(dst).from(src);
        let fl = self.fl(&flow, "lo", None);
        self.rule_matches(re, &fl).0
    }

    /// (matches, depends on selectors a reply's dumps cannot settle).
    fn rule_matches(&self, re: &RuleEntry, fl: &Fl<'_>) -> (bool, bool) {
        Self::rule_outcome(re, self.rule_sel(re, fl), fl.dst)
    }

    /// `rule_matches` from the selectors settled without the destination
    /// and the destination (the rule's `to`).
    fn rule_outcome(re: &RuleEntry, sel: RuleSel, dst: IpAddr) -> (bool, bool) {
        let base = sel.base && re.rule.to.is_none_or(|to| to.contains(&dst));
        let m = base && sel.cond;
        (m != re.rule.not, base && sel.has_conditional)
    }

    /// A rule's selectors against a flow, but for `to`.
    fn rule_sel(&self, re: &RuleEntry, fl: &Fl<'_>) -> RuleSel {
        let r = &re.rule;
        let base = (|| {
            if let Some(i) = &r.iif
                && (i.detached || !self.dev_matches(&i.name, fl.iif))
            {
                return false;
            }
            if let Some(from) = &r.from {
                match fl.src {
                    Some(s) if !from.contains(&s) => return false,
                    Some(_) => {}
                    // IPv4 compares saddr 0 as a number. IPv6 without a
                    // source matches only `from all`: fib6_rule_match defers
                    // the check only for FIB_RULE_FIND_SADDR rules, which
                    // iproute2 never creates.
                    None => {
                        let zero_ok = match fl.fam {
                            Family::Inet => from.contains(&IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
                            Family::Inet6 => from.prefix_len() == 0,
                        };
                        if !zero_ok {
                            return false;
                        }
                    }
                }
            }
            true
        })();
        let has_conditional = r.selectors().any(Selector::conditional);
        // Every selector of `Selector::ALL`; the match is exhaustive, so a
        // new selector must be decided here.
        let cond = r.selectors().all(|s| match s {
            // With `from`, in `base`.
            Selector::Iif => true,
            Selector::Fwmark => {
                let mask = r.fwmask.unwrap_or(u32::MAX);
                r.fwmark.is_some_and(|m| (m ^ fl.mark) & mask == 0)
            }
            Selector::Oif => match (&r.oif, fl.oif) {
                (Some(o), Some(f)) => !o.detached && self.dev_matches(&o.name, f),
                _ => false,
            },
            Selector::Uidrange => r.uidrange.is_some_and(|(a, b)| fl.uid >= a && fl.uid <= b),
            Selector::Tos => re.tos == Some(fl.tos),
            Selector::Ipproto => r
                .ipproto
                .as_deref()
                .is_some_and(|p| fl.ipproto == ipproto_number(p)),
            Selector::Sport | Selector::Dport => {
                let (range, port) = if s == Selector::Sport {
                    (&r.sport, fl.sport)
                } else {
                    (&r.dport, fl.dport)
                };
                range.is_some_and(|pr| {
                    let p = port.unwrap_or(0) as u32;
                    match pr.mask {
                        Some(m) => (p & m) == (pr.start & m),
                        None => p >= pr.start && p <= pr.end,
                    }
                })
            }
            // A flow from a tunnel's metadata: never a lookup's.
            Selector::TunId => false,
            Selector::L3mdev => self.flow_vrf(fl).is_some(),
            // fib4_rule_match / fib6_rule_match: the flow's DSCP (its TOS
            // byte without the ECN bits) under the rule's mask.
            Selector::Dscp => r
                .dscp_value()
                .is_some_and(|(v, m)| (v ^ (fl.tos >> 2)) & m == 0),
            // IPv6 only: `ip route get` and a reply carry flow label 0.
            Selector::Flowlabel => r.flowlabel_value().is_some_and(|(v, m)| v & m == 0),
        });
        RuleSel {
            base,
            cond,
            has_conditional,
        }
    }

    /// A rule's device selector matches the device or its VRF master.
    fn dev_matches(&self, rule_dev: &str, dev: &str) -> bool {
        rule_dev == dev || self.vrf_master(dev) == Some(rule_dev)
    }

    /// The VRF (l3mdev) table of the flow's oif or iif.
    fn flow_vrf(&self, fl: &Fl<'_>) -> Option<u32> {
        let dev = fl.oif.or((fl.iif != "lo").then_some(fl.iif))?;
        let l = self.link(dev)?;
        l.vrf_table
            .or_else(|| self.link(l.master.as_deref()?)?.vrf_table)
    }

    /// The table a rule looks up (borrowed: a walk consults many).
    fn rule_table<'r>(&self, re: &'r RuleEntry, fl: &Fl<'_>) -> Option<Cow<'r, Table>> {
        if re.rule.l3mdev {
            return self.flow_vrf(fl).map(|id| Cow::Owned(Table::Id(id)));
        }
        re.table.as_ref().map(Cow::Borrowed)
    }

    /// fib4_rule_suppress / fib6_rule_suppress.
    fn suppressed(&self, re: &RuleEntry, entry: &RouteEntry, live: &[usize]) -> bool {
        let r = &re.rule;
        if let Some(n) = r.suppress_prefixlength
            && u32::from(entry.route.dst.prefix_len()) <= n
        {
            return true;
        }
        if let Some(g) = &r.suppress_ifgroup {
            let group: u32 = if g == "default" {
                0
            } else {
                g.parse().unwrap_or(u32::MAX)
            };
            // IPv4 looks at nexthop 0's device, IPv6 at the chosen one's.
            let nh = if entry.route.family == Family::Inet {
                (!entry.route.nexthops.is_empty()).then_some(0)
            } else {
                live.first().copied()
            };
            let dev = nh_of(&entry.route, nh).0;
            if dev
                .and_then(|d| self.link(d))
                .is_some_and(|l| l.group == group)
            {
                return true;
            }
        }
        false
    }

    fn table_lookup(&self, t: &super::FibTable, fl: &Fl<'_>) -> TableResult {
        match fl.fam {
            Family::Inet => {
                for &p in t.plens() {
                    match self.aliases4(t, t.aliases(fl.dst, p), fl) {
                        TableResult::NoMatch => {}
                        other => return other,
                    }
                }
                TableResult::NoMatch
            }
            Family::Inet6 => self.table_lookup6(t, fl),
        }
    }

    /// fib_table_lookup over one prefix's aliases (sorted TOS, metric): TOS
    /// must match (0 matches any), an error type answers at once, a route
    /// answers when one of its nexthops is usable (not dead, on the oif).
    fn aliases4(&self, t: &super::FibTable, idxs: &[usize], fl: &Fl<'_>) -> TableResult {
        for &i in idxs {
            let e = &t.routes[i];
            if e.tos != 0 && e.tos != fl.tos {
                continue;
            }
            let r = &e.route;
            if r.kind == RouteType::Throw {
                return TableResult::Throw(i);
            }
            if let Some(err) = KernelError::of_route_type(&r.kind) {
                return TableResult::Reject(i, err);
            }
            if r.nexthops.is_empty() {
                if is_dead(&r.flags) {
                    continue;
                }
                if let Some(o) = fl.oif
                    && r.dev.as_deref() != Some(o)
                {
                    continue;
                }
                return TableResult::Found(i, Vec::new());
            }
            let live: Vec<usize> = r
                .nexthops
                .iter()
                .enumerate()
                .filter(|(_, n)| !is_dead(&n.flags))
                .filter(|(_, n)| fl.oif.is_none_or(|o| n.dev.as_deref() == Some(o)))
                .map(|(i, _)| i)
                .collect();
            if !live.is_empty() {
                return TableResult::Found(i, live);
            }
        }
        TableResult::NoMatch
    }

    /// fib6_table_lookup: the nodes to try, then rt6_select on each, until
    /// one selects a route.
    fn table_lookup6(&self, t: &super::FibTable, fl: &Fl<'_>) -> TableResult {
        let mut found = None;
        self.nodes6(t, fl, |node| {
            found = self.select6(t, node, fl);
            found.is_some()
        });
        found.unwrap_or(TableResult::NoMatch)
    }

    /// rt6_select on one node, and what its route answers.
    fn select6(&self, t: &super::FibTable, node: &[usize], fl: &Fl<'_>) -> Option<TableResult> {
        let (i, live) = self.rt6_select(t, node, fl)?;
        let r = &t.routes[i].route;
        if r.kind == RouteType::Throw {
            return Some(TableResult::Throw(i));
        }
        if let Some(err) = KernelError::of_route_type(&r.kind) {
            return Some(TableResult::Reject(i, err));
        }
        Some(TableResult::Found(i, live))
    }

    /// The fib6 nodes a lookup visits, each as its routes in list order,
    /// given to `visit` in turn until it returns true (they are made as
    /// they are visited: most lookups stop at the first).
    /// Routes with a `from` live in a subtree under their destination node.
    /// fib6_node_lookup skips a destination node whose subtree has no
    /// prefix holding the source — even the node's own routes without
    /// `from` [verified], unless it is the default route's (the table
    /// root) — but once a node was found, backtracking
    /// (fib6_backtrack) visits the subtree's shorter source prefixes and
    /// then the destination node's own routes.
    fn nodes6(&self, t: &super::FibTable, fl: &Fl<'_>, mut visit: impl FnMut(&[usize]) -> bool) {
        let src = fl.src.unwrap_or(IpAddr::V6(Ipv6Addr::UNSPECIFIED));
        let mut started = false;
        for &p in t.plens() {
            let idxs = t.aliases(fl.dst, p);
            if idxs.is_empty() {
                continue;
            }
            let from = |i: usize| t.routes[i].route.from.filter(|f| f.prefix_len() > 0);
            if idxs.iter().all(|&i| from(i).is_none()) {
                // No subtree: the node is its own routes, all of them.
                if visit(idxs) {
                    return;
                }
                started = true;
                continue;
            }
            let own: Vec<usize> = idxs
                .iter()
                .copied()
                .filter(|&i| from(i).is_none())
                .collect();
            let mut subs: Vec<ipnet::IpNet> = idxs.iter().filter_map(|&i| from(i)).collect();
            subs.retain(|f| f.contains(&src));
            subs.sort_by_key(|f| std::cmp::Reverse(f.prefix_len()));
            subs.dedup();
            // The table root is where fib6_node_lookup lands when nothing
            // matched: its own routes are always tried.
            if !started && subs.is_empty() && p != 0 {
                continue;
            }
            for f in subs {
                let node: Vec<usize> = idxs
                    .iter()
                    .copied()
                    .filter(|&i| from(i) == Some(f))
                    .collect();
                if visit(&node) {
                    return;
                }
            }
            if !own.is_empty() && visit(&own) {
                return;
            }
            started = true;
        }
    }

    /// rt6_select / find_rr_leaf: among one node's routes (metric order),
    /// the first metric group is scored — router preference, then the
    /// nexthop being on `score_dev` (required when strict) — and the first
    /// best wins; when none qualifies, all later routes are scored together.
    /// Returns the route and its candidate nexthops (ECMP siblings).
    fn rt6_select(
        &self,
        t: &super::FibTable,
        node: &[usize],
        fl: &Fl<'_>,
    ) -> Option<(usize, Vec<usize>)> {
        let score = |r: &crate::grammar::Route, nh: Option<usize>| -> Option<i32> {
            let flags = match nh.and_then(|i| r.nexthops.get(i)) {
                Some(n) => &n.flags,
                None => &r.flags,
            };
            if is_dead(flags) {
                return None;
            }
            let dev = nh_of(r, nh).0.unwrap_or("lo");
            let on_dev = fl.score_dev.is_none_or(|d| d == dev);
            if !on_dev && fl.strict {
                return None;
            }
            Some((i32::from(on_dev) * 2) | (pref_rank(r.pref.as_deref()) << 2))
        };
        let first_metric = t.routes[*node.first()?].metric();
        let cont = node
            .iter()
            .position(|&i| t.routes[i].metric() != first_metric)
            .unwrap_or(node.len());
        let best = |routes: &[usize]| -> Option<(usize, Option<usize>)> {
            let mut best: Option<((usize, Option<usize>), i32)> = None;
            // (route, nexthop) entries in list order; siblings are adjacent.
            let entries = routes.iter().flat_map(|&i| {
                let n = t.routes[i].route.nexthops.len();
                let single = (n == 0).then_some((i, None));
                single.into_iter().chain((0..n).map(move |k| (i, Some(k))))
            });
            for (i, nh) in entries {
                if let Some(m) = score(&t.routes[i].route, nh)
                    && best.is_none_or(|(_, b)| m > b)
                {
                    best = Some(((i, nh), m));
                }
            }
            best.map(|(e, _)| e)
        };
        let (i, nh) = best(&node[..cont]).or_else(|| best(&node[cont..]))?;
        let r = &t.routes[i].route;
        let Some(chosen) = nh else {
            return Some((i, Vec::new()));
        };
        // fib6_select_path: the hash may pick any live sibling; when strict,
        // only those on the device. A nexthop-object group qualifies by any
        // member (rt6_nh_find_match), then nexthop_path_fib6_result hashes
        // over every member: the oif or iif no longer counts [verified:
        // `oif eth1` leaves by the eth0 member for some flows].
        let mut live: Vec<usize> = vec![chosen];
        live.extend((0..r.nexthops.len()).filter(|&k| k != chosen).filter(|&k| {
            if r.nhid.is_some() {
                !is_dead(&r.nexthops[k].flags)
            } else {
                score(r, Some(k)).is_some()
            }
        }));
        Some((i, live))
    }

    // ------------------------------------------------------ source selection

    /// inet_select_addr: the first primary address on `dev` whose scope
    /// fits, preferring one in the gateway's subnet (no gateway: the first
    /// one); else the first fitting primary address of any device in
    /// device order (loopback first), link-scope ones excluded. With
    /// `route_localnet` on `dev` (all or its own) its host-scope addresses
    /// (127.0.0.1 on lo) count as link scope there (localnet_scope) [6.18:
    /// `ip route get X oif lo` answers `src 127.0.0.1` with
    /// lo.route_localnet=1].
    fn inet_select_addr(&self, dev: &str, gw: Option<IpAddr>, scope: u8) -> Option<IpAddr> {
        let localnet_scope = if self.sysctls.route_localnet(dev) {
            SCOPE_LINK
        } else {
            SCOPE_HOST
        };
        let fits = |a: &super::AddrInfo| {
            a.addr.local.is_ipv4() && !a.secondary() && addr_scope(a).min(localnet_scope) <= scope
        };
        let mut first = None;
        for a in self.addrs.iter().filter(|a| a.link == dev && fits(a)) {
            let subnet_of = |g: IpAddr| {
                let base = a.addr.peer.unwrap_or(a.addr.local);
                ipnet::IpNet::new(base, a.addr.prefixlen).is_ok_and(|n| n.contains(&g))
            };
            if gw.is_none_or(subnet_of) {
                return Some(a.addr.local);
            }
            first.get_or_insert(a.addr.local);
        }
        if first.is_some() {
            return first;
        }
        let in_dev_select = |d: &str| {
            self.addrs
                .iter()
                .filter(|a| a.link == d && a.addr.local.is_ipv4() && !a.secondary())
                .find(|a| addr_scope(a) != SCOPE_LINK && addr_scope(a) <= scope)
                .map(|a| a.addr.local)
        };
        let master = self.vrf_master(dev);
        if let Some(m) = master
            && let Some(a) = in_dev_select(m)
        {
            return Some(a);
        }
        self.links
            .iter()
            .filter(|l| self.vrf_master(&l.name) == master)
            .find_map(|l| in_dev_select(&l.name))
    }

    /// ipv6_dev_get_saddr (RFC 6724): for a multicast, link-local or
    /// unspecified destination only the outgoing device's addresses are
    /// candidates, else every device's; the rules are compared in order —
    /// same address, appropriate scope, not deprecated, on the outgoing
    /// device, matching label, not temporary, longest matching prefix — and
    /// the first best candidate wins.
    fn ipv6_saddr(&self, dst_dev: Option<&str>, daddr: IpAddr) -> Option<IpAddr> {
        let IpAddr::V6(d) = daddr else {
            return None;
        };
        let dscope = v6_scope(d);
        let use_oif = dst_dev.is_some() && (d.is_multicast() || dscope <= 2);
        let dlabel = v6_label(d);
        let mut best: Option<(IpAddr, [i64; 8])> = None;
        for link in &self.links {
            if use_oif && Some(link.name.as_str()) != dst_dev {
                continue;
            }
            for a in self.addrs.iter().filter(|a| a.link == link.name) {
                let IpAddr::V6(c) = a.addr.local else {
                    continue;
                };
                let tentative = a.addr.has_flag("tentative") && !a.addr.has_flag("optimistic");
                if tentative
                    || a.addr.has_flag("dadfailed")
                    || c.is_unspecified()
                    || c.is_multicast()
                {
                    continue;
                }
                let cs = v6_scope(c);
                let special = c.is_loopback()
                    || (u128::from(c) >> 32) == 0
                    || (u128::from(c) >> 32) == 0xffff;
                let key = [
                    i64::from(c == d),
                    i64::from(if cs >= dscope { -cs } else { cs - 128 }),
                    i64::from(
                        special
                            || !(a.addr.has_flag("deprecated") || a.addr.has_flag("optimistic")),
                    ),
                    i64::from(dst_dev.is_none_or(|x| x == link.name)),
                    i64::from(v6_label(c) == dlabel),
                    i64::from(!a.addr.has_flag("temporary")),
                    i64::from(common_prefix(a.addr.local, daddr).min(u32::from(a.addr.prefixlen))),
                    i64::from(!a.addr.has_flag("optimistic")),
                ];
                if best.as_ref().is_none_or(|(_, b)| key > *b) {
                    best = Some((a.addr.local, key));
                }
            }
        }
        best.map(|(a, _)| a)
    }

    /// The source the kernel picks for a destination leaving by `dev` via
    /// `gateway` (no route `src`): `inet_select_addr` for IPv4 (global
    /// scope), RFC 6724 for IPv6.
    pub fn select_src(&self, dev: &str, gateway: Option<IpAddr>, dst: IpAddr) -> Option<IpAddr> {
        match dst {
            IpAddr::V4(_) => self.inet_select_addr(dev, gateway, SCOPE_UNIVERSE),
            IpAddr::V6(_) => self.ipv6_saddr(Some(dev), dst),
        }
    }
}

/// `ipproto` words as /etc/protocols names them.
/// RTM_GETROUTE builds an IPv4 flow as UDP (inet_rtm_getroute) and an
/// IPv6 one with protocol 0 (inet6_rtm_getroute), so `ipproto udp` rules
/// match a plain IPv4 `ip route get`. With one, the kernel takes TCP, UDP
/// and ICMP (IPv4) or ICMPv6 (IPv6) only, and answers `Unsupported ip
/// proto` to the rest (rtm_getroute_parse_ip_proto). Checked on 6.18.
pub fn get_route_ipproto(p: Option<&str>, v6: bool) -> Result<Option<u8>, String> {
    let Some(p) = p else {
        return Ok((!v6).then_some(17));
    };
    let n = ipproto_number(p).ok_or_else(|| format!("unknown --ipproto {p}"))?;
    let accepted = matches!(n, 6 | 17) || (n == 1 && !v6) || (n == 58 && v6);
    if !accepted {
        return Err(format!(
            "--ipproto {p}: Unsupported ip proto (as the kernel answers `ip route get`: tcp, udp and {} only)",
            if v6 { "ipv6-icmp" } else { "icmp" }
        ));
    }
    Ok(Some(n))
}

pub fn ipproto_number(p: &str) -> Option<u8> {
    Some(match p {
        "icmp" => 1,
        "igmp" => 2,
        "tcp" => 6,
        "udp" => 17,
        "gre" => 47,
        "esp" => 50,
        "ah" => 51,
        "ipv6-icmp" | "icmpv6" => 58,
        "sctp" => 132,
        "udplite" => 136,
        n => return n.strip_prefix("ipproto-").unwrap_or(n).parse().ok(),
    })
}
