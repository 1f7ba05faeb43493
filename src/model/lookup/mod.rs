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
//! Sysctls are the host's where the bundle kept them (`route_localnet`,
//! `rp_filter`, `accept_local`, `src_valid_mark`, `send_redirects`,
//! `forwarding`), else the defaults `Host` assumed and said (forwarding
//! unknown is taken as on); 0.0.0.0/8 and the reverse-path error follow
//! the host's kernel version. What a dump cannot tell is assumed at its
//! default: `ignore_routes_with_linkdown=0`,
//! no neighbour entries, `use_tempaddr=0`, the default address-label table.
//!
//! This file holds the types and the entry points (`Host::lookup`,
//! `lookup_reply`); `ipv4.rs` and `ipv6.rs` the per-family routes, `walk.rs`
//! the rule walk and table lookups, `source.rs` source selection.

mod ipv4;
mod ipv6;
mod source;
mod walk;

pub(crate) use source::SaddrCache;

use super::{Host, RouteEntry, RuleEntry, fam_idx};
use crate::grammar::intern::Name;
use crate::grammar::{Family, RouteType, RuleAction, Selector, Table};
use serde::Serialize;
use std::borrow::Cow;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

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
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct NextHopChoice {
    pub dev: Name,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gateway: Option<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight: Option<u32>,
    /// The packet's source when the flow hashes to this nexthop (with no
    /// source given, each nexthop selects its own).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src: Option<IpAddr>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Hit {
    #[serde(rename = "type")]
    pub kind: RouteType,
    /// The egress device (`lo` for local destinations).
    pub dev: Name,
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
    pub dev: Name,
    pub rp_filter: super::system::RpFilter,
    pub passed: bool,
    /// The reverse lookup's route: every device its nexthops use.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reverse_devs: Vec<Name>,
    /// The reverse lookup found no route.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reverse_error: Option<KernelError>,
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
    /// `rule` decided it in the rule walk, which read no rule after it: a
    /// flow whose selectors meet rules `0..=rule` alike gets this answer
    /// (not so for a `throw`'s `Network is unreachable`, or an answer found
    /// without the walk).
    #[serde(skip)]
    pub by_rule: bool,
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
            by_rule: false,
        }
    }
}

// ----------------------------------------------------------------- internals

const SCOPE_UNIVERSE: u8 = 0;
const SCOPE_LINK: u8 = 253;
const SCOPE_HOST: u8 = 254;

/// The kernel's `flowi` for one FIB lookup.
#[derive(Clone)]
struct Flowi<'a> {
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
    pre: Option<&'a Sels>,
    /// With `pre`: the only rules that can match this destination, in
    /// order (the walk skips the rest: an EKS node's 30,000 `from POD`
    /// rules never match a reply from the node's own address).
    cands: Option<&'a [u32]>,
    /// With `pre`: each `goto` rule's target (`ReplyRules::gotos`).
    gotos: &'a [(u32, u32)],
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

/// Each rule's selectors as one source's replies meet them: a list shared
/// with every source settled alike, and the few rules settled otherwise
/// for this one over it (`ReplyTemplate::rules`: a list of its own per
/// address of a host with a rule per address was N² bytes, 1.2 GB at
/// 20,000 addresses).
#[derive(Debug, Clone)]
pub struct Sels {
    base: Arc<[RuleSel]>,
    /// (rule, selectors), ascending.
    over: Box<[(u32, RuleSel)]>,
}

impl Sels {
    fn new(base: Arc<[RuleSel]>, over: Box<[(u32, RuleSel)]>) -> Self {
        debug_assert!(over.is_sorted_by_key(|x| x.0));
        Sels { base, over }
    }

    pub fn len(&self) -> usize {
        self.base.len()
    }

    pub fn is_empty(&self) -> bool {
        self.base.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &RuleSel> + '_ {
        (0..self.len()).map(|i| &self[i])
    }
}

impl std::ops::Index<usize> for Sels {
    type Output = RuleSel;

    fn index(&self, i: usize) -> &RuleSel {
        // Mostly none over: one test, no search.
        if !self.over.is_empty()
            && let Ok(k) = self.over.binary_search_by_key(&(i as u32), |x| x.0)
        {
            return &self.over[k].1;
        }
        &self.base[i]
    }
}

impl PartialEq for Sels {
    fn eq(&self, o: &Self) -> bool {
        self.len() == o.len() && self.iter().eq(o.iter())
    }
}

/// The rules as replies from one local address meet them, settled once
/// for all their destinations (`Host::reply_rules`).
#[derive(Debug, Clone, PartialEq)]
pub struct ReplyRules {
    src: IpAddr,
    /// Forwarded replies (a pod's): the device they arrive by.
    iif: Option<String>,
    sel: Sels,
    /// Rules that match whatever the destination (or may: `not` rules).
    always: Vec<u32>,
    /// Each `goto` rule (by index) with the rule it jumps to (`u32::MAX`:
    /// none), found once instead of by a scan of the rules per jump.
    gotos: Arc<[(u32, u32)]>,
    /// `src` is one of the host's addresses, which held `addrs` entries
    /// (`__ip_dev_find` finds it: an output lookup's source check passes
    /// without a search per lookup).
    src_owned: Option<usize>,
    /// Rules that match only inside their `to`: per prefix length of `to`
    /// (ascending), the masked addresses (sorted, for a binary search:
    /// cheaper than hashing for the few a host has) with their rules.
    by_to: Arc<[(u8, ToRules)]>,
}

/// The rules as replies from the host's addresses meet them, settled once
/// for every source (`Host::reply_template`): `ReplyTemplate::rules` then
/// reads only the rules whose `from` names the source. A host with a
/// `from ADDR lookup T` rule per address settled every rule per address.
pub struct ReplyTemplate {
    fam: Family,
    /// Each rule's selectors for a source that no `from` but `from all`
    /// holds.
    sel: Arc<[RuleSel]>,
    /// Each rule's selectors as if its `from` held the source.
    but_from: Vec<RuleSel>,
    /// The rules with a `from` other than `all`, by the addresses it holds.
    from: PrefixIndex,
    /// `ReplyRules`' lists for `sel`.
    always: Vec<u32>,
    by_to: Arc<[(u8, ToRules)]>,
    gotos: Arc<[(u32, u32)]>,
}

/// Prefixes by the addresses they hold: one of a single address by it, the
/// others in a list (a host has a `from ADDR` rule per address, a fix plan
/// one per address of a link: scanning them all per address was N²).
#[derive(Default)]
pub(crate) struct PrefixIndex {
    exact: HashMap<IpAddr, Vec<u32>, foldhash::fast::RandomState>,
    wide: Vec<(u32, ipnet::IpNet)>,
}

impl PrefixIndex {
    /// Prefix `n`, as item `i`.
    pub(crate) fn push(&mut self, i: u32, n: ipnet::IpNet) {
        if n.prefix_len() == n.max_prefix_len() {
            self.exact.entry(n.addr()).or_default().push(i);
        } else {
            self.wide.push((i, n));
        }
    }

    /// Every prefix pushed (an address's once).
    pub(crate) fn prefixes(&self) -> impl Iterator<Item = ipnet::IpNet> + '_ {
        self.exact
            .keys()
            .map(|&a| ipnet::IpNet::from(a))
            .chain(self.wide.iter().map(|w| w.1))
    }

    /// The items whose prefix holds `a`, ascending.
    pub(crate) fn holding(&self, a: IpAddr) -> Vec<u32> {
        let mut out: Vec<u32> = self.exact.get(&a).cloned().unwrap_or_default();
        out.extend(
            self.wide
                .iter()
                .filter(|(_, n)| n.contains(&a))
                .map(|&(i, _)| i),
        );
        out.sort_unstable();
        out
    }
}

/// The rules of one `to` prefix length, by masked address (sorted).
type ToRules = Vec<(u128, Vec<u32>)>;

impl ReplyRules {
    /// Each rule's selectors as replies from the source meet them.
    pub fn sel(&self) -> &Sels {
        &self.sel
    }

    /// The rules that may match some reply (their `from` and `iif` match,
    /// or `not` rules), ascending: from the lists the walk reads, not a
    /// scan of every rule (a host with a rule per address has thousands
    /// that never match one address's replies).
    pub fn met(&self) -> Vec<usize> {
        let mut out: Vec<usize> = self.always.iter().map(|&i| i as usize).collect();
        for (_, rules) in self.by_to.iter() {
            for (_, v) in rules {
                out.extend(v.iter().map(|&i| i as usize));
            }
        }
        out.sort_unstable();
        out
    }
}

impl ReplyTemplate {
    /// How `rules` meet their source: replies from two sources with equal
    /// keys get equal answers from the rules for every destination. The
    /// rules settled otherwise than this template does for a source no
    /// `from` names (index and selectors each): as long as what tells
    /// sources apart, not as the rule list (a key per address of a host
    /// with a rule per address was N² bytes).
    pub fn key(&self, rules: &ReplyRules) -> Vec<u8> {
        let mut out = Vec::new();
        if Arc::ptr_eq(&rules.sel.base, &self.sel) {
            // Made of this template: only the rules over it can differ.
            for (i, a) in rules.sel.over.iter() {
                if *a != self.sel[*i as usize] {
                    key_push(&mut out, *i as usize, a);
                }
            }
            return out;
        }
        for (i, (a, b)) in rules.sel.iter().zip(self.sel.iter()).enumerate() {
            if a != b {
                key_push(&mut out, i, a);
            }
        }
        // A list of another length (another host's) differs at its end.
        if rules.sel.len() != self.sel.len() {
            out.extend_from_slice(&u32::MAX.to_le_bytes());
            out.extend_from_slice(&(rules.sel.len() as u32).to_le_bytes());
        }
        out
    }

    /// `host.reply_rules(src)`, `host` being the host this was made of.
    pub fn rules(&self, host: &Host, src: IpAddr) -> ReplyRules {
        self.rules_held(host, src).0
    }

    /// `rules` and their `key`, found from the rules whose `from` holds
    /// `src` (comparing every rule with the template per address was N²).
    pub fn rules_keyed(&self, host: &Host, src: IpAddr) -> (ReplyRules, Vec<u8>) {
        let (rules, held) = self.rules_held(host, src);
        let Some(held) = held else {
            let key = self.key(&rules);
            return (rules, key);
        };
        let mut key = Vec::new();
        // Ascending, as `key` scans them.
        for i in held {
            let i = i as usize;
            if rules.sel[i] != self.sel[i] {
                key_push(&mut key, i, &rules.sel[i]);
            }
        }
        (rules, key)
    }

    /// `rules`, with the rules settled otherwise than the template's
    /// (ascending; none: settled rule by rule, another family's source).
    fn rules_held(&self, host: &Host, src: IpAddr) -> (ReplyRules, Option<Vec<u32>>) {
        if Family::of(&src) != self.fam {
            return (host.reply_rules(src), None);
        }
        let rules = &host.rules[fam_idx(self.fam)];
        // The rules whose `from` holds `src`, settled over the template's.
        let held = self.from.holding(src);
        let mut over: Vec<(u32, RuleSel)> = Vec::with_capacity(held.len());
        let mut always_too = Vec::new();
        let mut to_rules = false;
        for &i in &held {
            let s = self.but_from[i as usize];
            over.push((i, s));
            let r = &rules[i as usize].rule;
            if s.base && !r.not {
                match r.to {
                    None => always_too.push(i),
                    Some(_) => to_rules = true,
                }
            }
        }
        let sel = Sels::new(self.sel.clone(), over.into());
        let (always, by_to) = if to_rules {
            Host::rule_lists(rules, &sel)
        } else if always_too.is_empty() {
            (self.always.clone(), self.by_to.clone())
        } else {
            let mut a = Vec::with_capacity(self.always.len() + always_too.len());
            a.extend_from_slice(&self.always);
            a.extend_from_slice(&always_too);
            a.sort_unstable();
            (a, self.by_to.clone())
        };
        let rules = ReplyRules {
            src,
            iif: None,
            sel,
            always,
            gotos: self.gotos.clone(),
            by_to,
            src_owned: host.src_owned(src),
        };
        (rules, Some(held))
    }
}

/// Rule `i` settled as `s`, into a `ReplyTemplate::key`.
fn key_push(out: &mut Vec<u8>, i: usize, s: &RuleSel) {
    out.extend_from_slice(&(i as u32).to_le_bytes());
    out.push(s.base as u8 | (s.cond as u8) << 1 | (s.has_conditional as u8) << 2);
}

/// The rules indexed for many forwarded sources (a node's pods, each with
/// its own `from POD lookup N` rule): rules whose `from` is one address, by
/// that address; the others in order; and each rule's class (rules equal
/// but for `from` share one).
pub struct SourceIndex {
    exact: HashMap<IpAddr, Vec<u32>, foldhash::fast::RandomState>,
    rest: Vec<u32>,
    class: Vec<u32>,
}

/// How a source's replies meet the rules, by rule class (`Host::forward_key`).
pub type ForwardKey = Vec<(u32, RuleSel)>;

/// Room for a reply's candidate rules on the stack (`reply_candidates`).
const CANDS_INLINE: usize = 64;

/// How a lookup runs: with a trace or not, with the rules settled or not.
#[derive(Clone, Copy)]
struct Opts<'a> {
    trace: bool,
    pre: Option<&'a Sels>,
    cands: Option<&'a [u32]>,
    gotos: &'a [(u32, u32)],
    /// The flow's source is known to be one of the host's addresses.
    src_owned: bool,
    /// The rule walk's and the table's answer, found by another source's
    /// lookup (`Host::lookup_reply_on`): not walked again.
    found: Option<&'a Found<'a>>,
}

/// What an IPv4 reply lookup's rule walk and table lookup found: the part
/// of `fib_lookup` the source does not change where the rules meet two
/// sources alike (up to the deciding rule). Only `fib_select_path` and
/// what follows read the source: a leaf switch's 16 uplink addresses ask
/// the same 16-way route of each of its 100,000 prefixes.
#[derive(Debug, Clone, Copy)]
pub struct Found<'a> {
    /// The deciding rule, and whether the walk decided there.
    pub rule: Option<usize>,
    pub by_rule: bool,
    pub table: &'a Table,
    /// The route's index in `table`.
    pub route: usize,
    pub conditional: &'a [u32],
}

/// A FIB result: the table the walk found it in (held, not looked up
/// again), the route, and its usable nexthops (empty: single path).
struct FibResult<'h> {
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
    /// `Lookup::by_rule`.
    by_rule: bool,
}

impl Walk {
    /// Records what rule `i` did, when the lookup keeps a trace.
    fn step(&mut self, fl: &Flowi<'_>, i: usize, step: Step) {
        if fl.trace {
            self.trace.push((i, step));
        }
    }

    /// Rule `i` decided with route `route` of `table`.
    fn decided(&mut self, fl: &Flowi<'_>, i: usize, table: Table, route: usize) {
        self.step(fl, i, Step::Decided);
        self.rule = Some(i);
        self.by_rule = true;
        self.route = Some(RouteRef {
            table: table.clone(),
            index: route,
        });
        self.table = Some(table);
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
            by_rule: self.by_rule,
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
    r.scope()
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

/// The device `Name` of nexthop `nh` of a route (`None`: the route's own),
/// shared with the route rather than copied into the answer.
fn nh_dev(r: &crate::grammar::Route, nh: Option<usize>) -> Option<&Name> {
    match nh.and_then(|i| r.nexthops.get(i)) {
        Some(n) => n.dev.as_ref(),
        None => r.dev.as_ref(),
    }
}

/// A hit's device: `d`, else `lo` (a route with no device).
fn dev_or_lo(d: Option<&Name>) -> Name {
    d.cloned().unwrap_or_else(|| Name::new("lo"))
}

fn is_dead(flags: &crate::grammar::Flags) -> bool {
    flags.contains("dead")
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
                gotos: &[],
                src_owned: false,
                found: None,
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
        self.rules_for(src, None, proto)
    }

    /// The rules as replies from `src` that arrive by `iif` to be
    /// forwarded (a pod's, by its veth) meet them: what `lookup_reply`
    /// takes.
    pub fn forward_rules(&self, src: IpAddr, iif: &str) -> ReplyRules {
        self.rules_for(src, Some(iif), None)
    }

    fn rules_for(&self, src: IpAddr, iif: Option<&str>, proto: Option<u8>) -> ReplyRules {
        let mut flow = Flow::to(src).from(src);
        flow.ipproto = proto;
        flow.iif = iif.map(str::to_string);
        let fl = self.fl(&flow, iif.unwrap_or("lo"), None);
        let rules = &self.rules[fam_idx(fl.fam)];
        let sel: Arc<[RuleSel]> = rules
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
        let sel = Sels::new(sel, Box::default());
        let (always, by_to) = Self::rule_lists(rules, &sel);
        ReplyRules {
            src,
            iif: iif.map(str::to_string),
            sel,
            always,
            gotos: Self::gotos(rules),
            by_to,
            src_owned: self.src_owned(src),
        }
    }

    /// `ReplyRules::src_owned` for `src`.
    fn src_owned(&self, src: IpAddr) -> Option<usize> {
        self.addrs_of(src)
            .next()
            .is_some()
            .then_some(self.addrs.len())
    }

    /// `ReplyRules::gotos` of `rules`.
    fn gotos(rules: &[RuleEntry]) -> Arc<[(u32, u32)]> {
        rules
            .iter()
            .enumerate()
            .filter(|(_, re)| re.rule.action == RuleAction::Goto)
            .map(|(i, re)| {
                let t = walk::goto_target(rules, &re.rule);
                (i as u32, t.map_or(u32::MAX, |t| t as u32))
            })
            .collect()
    }

    /// `ReplyRules::always` and `by_to` for rules met as `sel`.
    fn rule_lists(rules: &[RuleEntry], sel: &Sels) -> (Vec<u32>, Arc<[(u8, ToRules)]>) {
        let mut always = Vec::new();
        let mut by_to: HashMap<(u8, u128), Vec<u32>, foldhash::fast::RandomState> =
            HashMap::default();
        for (i, (re, s)) in rules.iter().zip(sel.iter()).enumerate() {
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
        let mut keyed: Vec<((u8, u128), Vec<u32>)> = by_to.into_iter().collect();
        keyed.sort_unstable();
        let mut by_to: Vec<(u8, ToRules)> = Vec::new();
        for ((p, k), v) in keyed {
            match by_to.last_mut() {
                Some((lp, ks)) if *lp == p => ks.push((k, v)),
                _ => by_to.push((p, vec![(k, v)])),
            }
        }
        (always, by_to.into())
    }

    /// The rules of family `fam` settled for replies from any of the
    /// host's addresses, but for `from` (`ReplyTemplate::rules`).
    pub fn reply_template(&self, fam: Family) -> ReplyTemplate {
        let any = match fam {
            Family::Inet => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            Family::Inet6 => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        };
        let flow = Flow::to(any).from(any);
        let fl = self.fl(&flow, "lo", None);
        let rules = &self.rules[fam_idx(fam)];
        let mut from = PrefixIndex::default();
        // Sized first: a plan's model has a rule per address (grown, the
        // map was rehashed a dozen times per step judged).
        from.exact.reserve(
            rules
                .iter()
                .filter(|re| {
                    re.rule
                        .from
                        .is_some_and(|f| f.prefix_len() == f.max_prefix_len())
                })
                .count(),
        );
        let but_from: Vec<RuleSel> = rules
            .iter()
            .map(|re| self.rule_sel_but_from(re, &fl))
            .collect();
        let mut sel = but_from.clone();
        for (i, re) in rules.iter().enumerate() {
            let Some(f) = re.rule.from else { continue };
            if f.prefix_len() == 0 && Family::of(&f.addr()) == fam {
                // `from all`: held by every source.
                continue;
            }
            sel[i].base = false;
            from.push(i as u32, f);
        }
        let sel: Arc<[RuleSel]> = sel.into();
        let (always, by_to) = Self::rule_lists(rules, &Sels::new(sel.clone(), Box::default()));
        ReplyTemplate {
            fam,
            sel,
            but_from,
            from,
            always,
            by_to,
            gotos: Self::gotos(rules),
        }
    }

    /// The rules of family `fam` indexed by source (`forward_key`).
    pub fn source_index(&self, fam: Family) -> SourceIndex {
        let full = if fam == Family::Inet { 32 } else { 128 };
        let mut exact: HashMap<IpAddr, Vec<u32>, _> = HashMap::default();
        let mut rest = Vec::new();
        for (i, re) in self.rules[fam_idx(fam)].iter().enumerate() {
            match re.rule.from {
                Some(f) if f.prefix_len() == full && !re.rule.not => {
                    exact.entry(f.addr()).or_default().push(i as u32)
                }
                // A rule reading neither the source nor the iif meets every
                // pod alike (their flows differ in nothing else): not in
                // any key (an EKS node's 15,000 `to POD` rules).
                None if re.rule.iif.is_none() => {}
                _ => rest.push(i as u32),
            }
        }
        let class = self.rule_classes(fam_idx(fam));
        SourceIndex { exact, rest, class }
    }

    /// Each rule's class in family `fi`: rules equal but for `from` (and
    /// where they were read) share one, numbered in order of first
    /// appearance. Sources whose rules differ only in such `from`s meet
    /// the rules alike (`forward_key`, the fix's judge).
    pub fn rule_classes(&self, fi: usize) -> Vec<u32> {
        let rules = &self.rules[fi];
        // Equal behaviours share a priority: in a list in priority order (the
        // kernel's) each class lies within one priority's run, compared
        // pairwise where short, instead of hashing every rule on every step.
        if !rules
            .windows(2)
            .all(|w| w[0].rule.priority <= w[1].rule.priority)
        {
            return classes_hashed(rules, 0).0;
        }
        let mut out = Vec::with_capacity(rules.len());
        let mut next = 0u32;
        let mut i = 0;
        while i < rules.len() {
            let p = rules[i].rule.priority;
            let end = i + rules[i..]
                .iter()
                .take_while(|r| r.rule.priority == p)
                .count();
            let run = &rules[i..end];
            if run.len() > 8 {
                let (c, n) = classes_hashed(run, next);
                out.extend(c);
                next = n;
            } else {
                for (k, re) in run.iter().enumerate() {
                    let b = behaviour(re);
                    match (0..k).find(|&j| behaviour(&run[j]) == b) {
                        Some(j) => out.push(out[i + j]),
                        None => {
                            out.push(next);
                            next += 1;
                        }
                    }
                }
            }
            i = end;
        }
        out
    }

    /// How replies from `src` arriving by `iif` meet the rules that read
    /// the source or the iif, by rule class: two sources with equal keys
    /// (and `iif`s alike) get the same answer for every destination,
    /// whatever address their own `from` rules name. Reads only the rules that can match `src`: a node with
    /// 15,000 pods has 15,000 `from POD` rules.
    pub fn forward_key(&self, idx: &SourceIndex, src: IpAddr, iif: &str) -> ForwardKey {
        let mut flow = Flow::to(src).from(src);
        flow.iif = Some(iif.to_string());
        let fl = self.fl(&flow, iif, None);
        let rules = &self.rules[fam_idx(fl.fam)];
        let mut cands: Vec<u32> = idx.rest.clone();
        if let Some(v) = idx.exact.get(&src) {
            cands.extend_from_slice(v);
            cands.sort_unstable();
        }
        cands
            .into_iter()
            .filter_map(|i| {
                let re = &rules[i as usize];
                let s = self.rule_sel(re, &fl);
                (s.base || re.rule.not).then(|| (idx.class[i as usize], s))
            })
            .collect()
    }

    /// The rules of `rules` that can match a reply to `dst`, in order:
    /// `always` itself when no `to` rule holds `dst` (most lookups), else
    /// merged into `inline` (or `heap` when longer): no allocation per
    /// lookup. `inline` is made (zeroed) only when it is used.
    fn reply_candidates<'a>(
        rules: &'a ReplyRules,
        dst: IpAddr,
        inline: &'a mut Option<[u32; CANDS_INLINE]>,
        heap: &'a mut Vec<u32>,
    ) -> &'a [u32] {
        let mut found: [&[u32]; 4] = [&[]; 4];
        let mut n = 0;
        let mut extra = 0;
        for (p, keys) in rules.by_to.iter() {
            let k = super::table::key(dst, *p);
            if let Ok(j) = keys.binary_search_by(|x| x.0.cmp(&k)) {
                let v = &keys[j].1[..];
                if n == found.len() {
                    // More prefix lengths hold `dst` than `found` keeps:
                    // the general merge.
                    return Self::reply_candidates_vec(rules, dst, heap);
                }
                found[n] = v;
                n += 1;
                extra += v.len();
            }
        }
        if n == 0 {
            return &rules.always;
        }
        let total = rules.always.len() + extra;
        if total > CANDS_INLINE {
            return Self::reply_candidates_vec(rules, dst, heap);
        }
        let out = inline.insert([0; CANDS_INLINE]);
        let mut len = rules.always.len();
        out[..len].copy_from_slice(&rules.always);
        // Each of the few `to` rules into its place (a sort of the whole
        // cost more).
        for &x in found[..n].iter().flat_map(|v| v.iter()) {
            let at = out[..len].partition_point(|&y| y < x);
            out.copy_within(at..len, at + 1);
            out[at] = x;
            len += 1;
        }
        &out[..len]
    }

    /// `reply_candidates` into a vector.
    fn reply_candidates_vec<'a>(
        rules: &ReplyRules,
        dst: IpAddr,
        heap: &'a mut Vec<u32>,
    ) -> &'a [u32] {
        heap.clear();
        heap.extend_from_slice(&rules.always);
        for (p, keys) in rules.by_to.iter() {
            let k = super::table::key(dst, *p);
            if let Ok(j) = keys.binary_search_by(|x| x.0.cmp(&k)) {
                heap.extend_from_slice(&keys[j].1);
            }
        }
        heap.sort_unstable();
        heap
    }

    /// `lookup(&Flow::to(dst).from(src))` for `rules = reply_rules(src)`,
    /// without the rule walk's steps (`trace` is left empty): the verdicts
    /// look up every piece of the space for every endpoint.
    pub fn lookup_reply(&self, rules: &ReplyRules, dst: IpAddr) -> Lookup {
        self.reply_with(rules, dst, None)
    }

    /// `lookup_reply`, on the route `found` where one is given (and the
    /// rules are settled for the flow): no rule walk, no table lookup.
    fn reply_with(&self, rules: &ReplyRules, dst: IpAddr, found: Option<&Found<'_>>) -> Lookup {
        // Every analysis is made of these: the per-host time budget.
        crate::budget::check();
        // Made in place (`Flow::to(dst).from(src)` moved it twice).
        let flow = Flow {
            src: Some(rules.src),
            iif: rules.iif.clone(),
            ..Flow::to(dst)
        };
        let fam = flow.family();
        let pre = (Family::of(&rules.src) == fam
            && rules.sel.len() == self.rules[fam_idx(fam)].len())
        .then_some(&rules.sel);
        let found = found.filter(|_| pre.is_some());
        let mut inline = None;
        let mut heap = Vec::new();
        let cands = pre
            .filter(|_| found.is_none())
            .map(|_| Self::reply_candidates(rules, dst, &mut inline, &mut heap));
        self.lookup_with(
            &flow,
            Opts {
                trace: false,
                pre,
                cands,
                gotos: &rules.gotos,
                src_owned: rules.src_owned == Some(self.addrs.len()),
                found,
            },
        )
    }

    /// Whether an IPv4 flow by route `r` prefers the legs whose own source
    /// is the flow's, so that flows from two sources may leave apart: a
    /// classic multipath route (not a nexthop object's, hashed before any
    /// such choice [6.18: `from` a leg's own source by `nhid` leaves by
    /// another leg]) on a kernel that prefers them.
    pub fn prefers_own_source(&self, r: &crate::grammar::Route) -> bool {
        r.family == Family::Inet
            && r.nexthops.len() > 1
            && r.nhid().is_none()
            && self.kernel.multipath_prefers_source()
    }

    /// `lookup_reply(rules, dst)` where another source's reply to `dst`,
    /// under rules its replies meet as `rules` does up to the deciding one,
    /// found the route `found` (an IPv4 unicast route): only the source's
    /// own part is done again (its checks, `fib_select_path` and after).
    pub fn lookup_reply_on(&self, rules: &ReplyRules, dst: IpAddr, found: &Found<'_>) -> Lookup {
        // An IPv4 output lookup's (`output4` reads it), of a route there.
        let usable = Family::of(&dst) == Family::Inet
            && rules.iif.is_none()
            && self
                .table(Family::Inet, found.table)
                .is_some_and(|t| found.route < t.routes.len());
        self.reply_with(rules, dst, usable.then_some(found))
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
            (Family::Inet, false) => self.input4(flow, opts),
            (Family::Inet6, true) => self.output6(flow, opts),
            (Family::Inet6, false) => self.input6(flow, opts),
        }
    }

    fn fl<'a>(&self, flow: &'a Flow, iif: &'a str, oif: Option<&'a str>) -> Flowi<'a> {
        Flowi {
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
            gotos: &[],
        }
    }

    fn hit_of(kind: RouteType, dev: Name, gateway: Option<IpAddr>, src: Option<IpAddr>) -> Hit {
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
}

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

/// `ipproto` words as /etc/protocols names them.
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

/// `rule_classes` of `rules` by hashing, numbered from `first`; with the
/// next free number.
fn classes_hashed(rules: &[RuleEntry], first: u32) -> (Vec<u32>, u32) {
    let mut seen = HashMap::<_, _, foldhash::fast::RandomState>::default();
    let c = rules
        .iter()
        .map(|re| {
            let n = first + seen.len() as u32;
            *seen.entry(behaviour(re)).or_insert(n)
        })
        .collect();
    (c, first + seen.len() as u32)
}

/// A rule's every field but `from` and `line`, borrowed (no clone per rule
/// per step), with its resolved table and TOS.
fn behaviour(re: &RuleEntry) -> impl std::hash::Hash + Eq + '_ {
    behaviour_at(re, Some(&re.rule.priority))
}

/// `behaviour` but for the priority: where no `goto` reads priorities, two
/// rules alike but for theirs do alike wherever the rule walk meets them.
pub(crate) fn behaviour_but_priority(re: &RuleEntry) -> impl std::hash::Hash + Eq + '_ {
    behaviour_at(re, None)
}

/// `behaviour` with `priority` for the rule's. The pattern names every
/// field of `Rule`, so a new one does not compile until it is placed here.
fn behaviour_at<'r>(
    re: &'r RuleEntry,
    priority: Option<&'r u32>,
) -> impl std::hash::Hash + Eq + 'r {
    let crate::grammar::Rule {
        line: _,
        from: _,
        family,
        priority: _,
        not,
        to,
        tos,
        fwmark,
        fwmask,
        iif,
        oif,
        l3mdev,
        uidrange,
        ipproto,
        sport,
        dport,
        tun_id,
        action,
        table,
        goto,
        unresolved,
        suppress_prefixlength,
        suppress_ifgroup,
        realms,
        nat,
        protocol,
        dscp,
        flowlabel,
        unknown,
    } = &re.rule;
    (
        (
            family, priority, not, to, tos, fwmark, fwmask, iif, oif, l3mdev,
        ),
        (uidrange, ipproto, sport, dport, tun_id, action, table, goto),
        (unresolved, suppress_prefixlength, suppress_ifgroup, realms),
        (nat, protocol, dscp, flowlabel, unknown),
        (&re.table, re.tos),
    )
}
