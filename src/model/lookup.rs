//! The kernel's route lookup, offline (docs: kernel-semantics.md): the IPv4
//! source check, the policy-rule walk (selectors, `not`, goto/nop, suppress,
//! fall-through on no match and `throw`), longest prefix → TOS → metric
//! inside a table, route types and their errors, multipath and source choice.

use super::{Host, RouteEntry, RuleEntry, fam_idx};
use crate::grammar::{Family, RouteType, RuleAction, Table};
use serde::Serialize;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A flow as `ip route get` takes it. `iif` absent or `lo` is a locally
/// generated packet (an output lookup); another `iif` is a forwarded one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Flow {
    pub dst: IpAddr,
    pub src: Option<IpAddr>,
    pub iif: Option<String>,
    pub oif: Option<String>,
    pub mark: u32,
    pub tos: u8,
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
        self.iif.as_deref().is_none_or(|i| i == "lo")
    }
}

/// The kernel's answer when there is no route, in its own words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
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
}

impl KernelError {
    pub fn message(self) -> &'static str {
        match self {
            KernelError::NetUnreach => "Network is unreachable",
            KernelError::HostUnreach => "No route to host",
            KernelError::Access => "Permission denied",
            KernelError::Inval => "Invalid argument",
            KernelError::NoDev => "No such device",
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
    /// Every live nexthop when there is more than one.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nexthops: Vec<NextHopChoice>,
    /// The egress depends on a flow hash (multipath, IPv6 routers of equal
    /// metric): `dev`/`gateway` are the first candidate only.
    pub hash_dependent: bool,
    /// No route matched but an `oif` was given: the kernel assumes on-link.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub onlink_assumed: bool,
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
        }
    }
}

fn zero(f: Family) -> IpAddr {
    match f {
        Family::Inet => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        Family::Inet6 => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    }
}

fn is_lbcast(a: IpAddr) -> bool {
    a == IpAddr::V4(Ipv4Addr::BROADCAST)
}

fn is_zeronet(a: IpAddr) -> bool {
    matches!(a, IpAddr::V4(v) if v.octets()[0] == 0)
}

/// Outcome of one table lookup.
enum TableResult {
    NoMatch,
    Throw,
    Reject(usize, KernelError),
    Found(usize, Vec<usize>),
}

impl Host {
    /// The kernel's route lookup for `flow`.
    pub fn lookup(&self, flow: &Flow) -> Lookup {
        let fam = flow.family();
        if let Some(s) = flow.src
            && Family::of(&s) != fam
        {
            return Lookup::err(KernelError::Inval);
        }
        if flow.is_output() {
            self.output(flow, fam)
        } else {
            self.input(flow, fam)
        }
    }

    fn output(&self, flow: &Flow, fam: Family) -> Lookup {
        let dst = flow.dst;
        if fam == Family::Inet
            && let Some(s) = flow.src
        {
            if s.is_multicast() || is_lbcast(s) || is_zeronet(s) {
                return Lookup::err(KernelError::Inval);
            }
            if flow.oif.is_none() && (dst.is_multicast() || is_lbcast(dst)) {
                // Multicast / limited broadcast leave by the source's device.
                let Some(dev) = self.local_dev(s) else {
                    return Lookup::err(KernelError::NetUnreach);
                };
                return self.direct(
                    flow,
                    dev,
                    if dst.is_multicast() {
                        RouteType::Multicast
                    } else {
                        RouteType::Broadcast
                    },
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
            if fam == Family::Inet && (is_lbcast(dst) || is_local_multicast(dst)) {
                let kind = if is_lbcast(dst) {
                    RouteType::Broadcast
                } else {
                    RouteType::Multicast
                };
                return self.direct(flow, oif.clone(), kind);
            }
        }
        if dst.is_unspecified() && fam == Family::Inet {
            let mut l = self.direct(flow, "lo".into(), RouteType::Local);
            if let Ok(h) = &mut l.result {
                h.src = Some(flow.src.unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST)));
            }
            return l;
        }
        let mut l = self.walk(flow, fam, "lo");
        match &mut l.result {
            Err(_) if flow.oif.is_some() => {
                // "Apparently, routing tables are wrong. Assume, that the
                // destination is on link." (ip_route_output_key_hash_rcu)
                let dev = flow.oif.clone().unwrap_or_default();
                let src = flow.src.or_else(|| self.select_src(&dev, None, dst));
                l.result = Ok(Hit {
                    kind: RouteType::Unicast,
                    dev,
                    gateway: None,
                    src,
                    prefsrc: None,
                    nexthops: Vec::new(),
                    hash_dependent: false,
                    onlink_assumed: true,
                });
                l.rule = None;
                l.table = None;
                l.route = None;
            }
            Ok(h) => {
                if fam == Family::Inet && h.kind == RouteType::Unicast {
                    if dst.is_multicast() {
                        h.kind = RouteType::Multicast;
                    } else if is_lbcast(dst) {
                        h.kind = RouteType::Broadcast;
                    }
                }
            }
            Err(_) => {}
        }
        l
    }

    fn input(&self, flow: &Flow, fam: Family) -> Lookup {
        let iif = flow.iif.as_deref().unwrap_or("lo");
        let Some(link) = self.link(iif) else {
            return Lookup::err(KernelError::NoDev);
        };
        if !link.up {
            return Lookup::err(KernelError::NetUnreach);
        }
        if fam == Family::Inet {
            let s = flow.src.unwrap_or(zero(fam));
            if is_lbcast(flow.dst) {
                return self.direct(flow, iif.into(), RouteType::Broadcast);
            }
            if s.is_multicast() || is_lbcast(s) || is_zeronet(s) || is_zeronet(flow.dst) {
                return Lookup::err(KernelError::Inval);
            }
            // A packet from one of our own addresses is a martian.
            if self.local_dev(s).is_some() {
                return Lookup::err(KernelError::Inval);
            }
        }
        self.walk(flow, fam, iif)
    }

    /// A result built without the FIB (multicast/broadcast shortcuts).
    fn direct(&self, flow: &Flow, dev: String, kind: RouteType) -> Lookup {
        let src = flow.src.or_else(|| self.select_src(&dev, None, flow.dst));
        Lookup {
            result: Ok(Hit {
                kind,
                dev,
                gateway: None,
                src,
                prefsrc: None,
                nexthops: Vec::new(),
                hash_dependent: false,
                onlink_assumed: false,
            }),
            rule: None,
            table: None,
            route: None,
            trace: Vec::new(),
            conditional: Vec::new(),
        }
    }

    /// `__ip_dev_find`: the device owning a local address, falling back to
    /// the local table (loopback subnets, AnyIP `local` routes).
    fn local_dev(&self, a: IpAddr) -> Option<String> {
        if let Some(l) = self.addr_link(a) {
            return Some(l.to_string());
        }
        let t = self.table(Family::of(&a), &Table::Id(Table::LOCAL))?;
        for (_, idxs) in t.candidates(a) {
            if let Some(&i) = idxs.first() {
                let r = &t.routes[i].route;
                if r.kind == RouteType::Local {
                    return r.dev.clone().or(Some("lo".into()));
                }
                return None;
            }
        }
        None
    }

    /// Walks the policy rules (fib_rules_lookup).
    fn walk(&self, flow: &Flow, fam: Family, iif: &str) -> Lookup {
        let rules = &self.rules[fam_idx(fam)];
        let mut l = Lookup::err(KernelError::NetUnreach);
        let mut i = 0;
        let mut hops = 0;
        while i < rules.len() {
            hops += 1;
            if hops > rules.len() * 2 + 8 {
                break;
            }
            let re = &rules[i];
            let (matched, conditional) = self.rule_matches(re, flow, iif);
            if conditional {
                l.conditional.push(i);
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
                            l.trace.push((i, Step::Goto));
                            i = t;
                        }
                        None => {
                            l.trace.push((i, Step::UnresolvedGoto));
                            i += 1;
                        }
                    }
                    continue;
                }
                RuleAction::Nop => {
                    l.trace.push((i, Step::Nop));
                    i += 1;
                    continue;
                }
                RuleAction::Lookup => {}
                other => {
                    l.trace.push((i, Step::Decided));
                    l.rule = Some(i);
                    l.result = Err(match other {
                        RuleAction::Unreachable => KernelError::NetUnreach,
                        RuleAction::Prohibit => KernelError::Access,
                        _ => KernelError::Inval,
                    });
                    return l;
                }
            }
            let Some(table) = self.rule_table(re, flow) else {
                l.trace.push((i, Step::NoRoute));
                i += 1;
                continue;
            };
            let res = match self.table(fam, &table) {
                Some(t) => self.table_lookup(t, flow, fam),
                None => TableResult::NoMatch,
            };
            match res {
                TableResult::NoMatch => {
                    l.trace.push((i, Step::NoRoute));
                }
                TableResult::Throw => {
                    l.trace.push((i, Step::Throw));
                }
                TableResult::Reject(ri, e) => {
                    l.trace.push((i, Step::Decided));
                    l.rule = Some(i);
                    l.route = Some(RouteRef {
                        table: table.clone(),
                        index: ri,
                    });
                    l.table = Some(table);
                    l.result = Err(e);
                    return l;
                }
                TableResult::Found(ri, live) => {
                    let t = self.table(fam, &table).expect("table exists");
                    let entry = &t.routes[ri];
                    if self.suppressed(re, entry, &live) {
                        l.trace.push((i, Step::Suppressed));
                        i += 1;
                        continue;
                    }
                    // IPv6 `from` rules with no source: the source the kernel
                    // would pick must match the rule (fib6_rule_saddr).
                    let hit = self.hit(entry, &live, flow, fam);
                    if fam == Family::Inet6
                        && flow.src.is_none()
                        && let Some(from) = r.from
                        && !hit.src.is_some_and(|s| from.contains(&s))
                    {
                        l.trace.push((i, Step::NoRoute));
                        i += 1;
                        continue;
                    }
                    l.trace.push((i, Step::Decided));
                    l.rule = Some(i);
                    l.route = Some(RouteRef {
                        table: table.clone(),
                        index: ri,
                    });
                    l.table = Some(table);
                    l.result = Ok(hit);
                    return l;
                }
            }
            i += 1;
        }
        l
    }

    /// (matches, depends on selectors a reply's dumps cannot settle).
    fn rule_matches(&self, re: &RuleEntry, flow: &Flow, iif: &str) -> (bool, bool) {
        let r = &re.rule;
        let fam = flow.family();
        let base = (|| {
            if let Some(i) = &r.iif
                && (i.detached || !self.dev_matches(&i.name, iif))
            {
                return false;
            }
            if let Some(from) = &r.from {
                match flow.src {
                    Some(s) if !from.contains(&s) => {
                        return false;
                    }
                    // IPv4: saddr 0 compared as a number; IPv6: settled after
                    // the table lookup (fib6_rule_saddr).
                    None if fam == Family::Inet && !from.contains(&zero(fam)) => {
                        return false;
                    }
                    _ => {}
                }
            }
            if let Some(to) = &r.to
                && !to.contains(&flow.dst)
            {
                return false;
            }
            true
        })();
        let has_conditional = r.fwmark.is_some()
            || r.uidrange.is_some()
            || r.ipproto.is_some()
            || r.sport.is_some()
            || r.dport.is_some()
            || r.oif.is_some()
            || r.tos.is_some()
            || r.tun_id.is_some()
            || r.l3mdev;
        let cond = (|| {
            if let Some(m) = r.fwmark {
                let mask = r.fwmask.unwrap_or(u32::MAX);
                if (m ^ flow.mark) & mask != 0 {
                    return false;
                }
            }
            if let Some(o) = &r.oif {
                match &flow.oif {
                    Some(f) if !o.detached && self.dev_matches(&o.name, f) => {}
                    _ => return false,
                }
            }
            if let Some((a, b)) = r.uidrange
                && (flow.uid < a || flow.uid > b)
            {
                return false;
            }
            if let Some(t) = &r.tos {
                match re.tos {
                    Some(v) if v == flow.tos => {}
                    _ => {
                        let _ = t;
                        return false;
                    }
                }
            }
            if let Some(p) = &r.ipproto
                && flow.ipproto != ipproto_number(p)
            {
                return false;
            }
            for (range, port) in [(&r.sport, flow.sport), (&r.dport, flow.dport)] {
                if let Some(pr) = range {
                    let p = port.unwrap_or(0) as u32;
                    let ok = match pr.mask {
                        Some(m) => (p & m) == (pr.start & m),
                        None => p >= pr.start && p <= pr.end,
                    };
                    if !ok {
                        return false;
                    }
                }
            }
            if r.tun_id.is_some() {
                return false;
            }
            if r.l3mdev && self.flow_vrf(flow).is_none() {
                return false;
            }
            true
        })();
        let m = base && cond;
        (m != r.not, base && has_conditional)
    }

    /// A rule's device selector matches the device or its VRF master.
    fn dev_matches(&self, rule_dev: &str, dev: &str) -> bool {
        rule_dev == dev
            || self
                .link(dev)
                .and_then(|l| l.master.as_deref())
                .is_some_and(|m| {
                    m == rule_dev && self.link(m).is_some_and(|x| x.vrf_table.is_some())
                })
    }

    /// The VRF (l3mdev) table of the flow's oif or iif.
    fn flow_vrf(&self, flow: &Flow) -> Option<u32> {
        let dev = flow
            .oif
            .as_deref()
            .or(flow.iif.as_deref().filter(|i| *i != "lo"))?;
        let l = self.link(dev)?;
        l.vrf_table
            .or_else(|| self.link(l.master.as_deref()?)?.vrf_table)
    }

    fn rule_table(&self, re: &RuleEntry, flow: &Flow) -> Option<Table> {
        if re.rule.l3mdev {
            return self.flow_vrf(flow).map(Table::Id);
        }
        re.table.clone()
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
            let dev = match live.first() {
                Some(&i) => entry.route.nexthops.get(i).and_then(|n| n.dev.as_deref()),
                None => entry.route.dev.as_deref(),
            };
            if dev
                .and_then(|d| self.link(d))
                .is_some_and(|l| l.group == group)
            {
                return true;
            }
        }
        false
    }

    /// Longest prefix → TOS → metric (fib_table_lookup / fib6_table_lookup).
    fn table_lookup(&self, t: &super::FibTable, flow: &Flow, fam: Family) -> TableResult {
        for (_, idxs) in t.candidates(flow.dst) {
            let mut best: Option<(usize, Vec<usize>)> = None;
            for &i in idxs {
                let e = &t.routes[i];
                let r = &e.route;
                if e.tos != 0 && e.tos != flow.tos {
                    continue;
                }
                if fam == Family::Inet6 {
                    // Source-specific routes (subtrees): the source must fall in `from`.
                    if let Some(from) = r.from
                        && from.prefix_len() > 0
                        && !flow.src.is_some_and(|s| from.contains(&s))
                    {
                        continue;
                    }
                }
                if r.kind == RouteType::Throw {
                    if best.is_none() {
                        return TableResult::Throw;
                    }
                    continue;
                }
                if let Some(err) = KernelError::of_route_type(&r.kind) {
                    if best.is_none() {
                        return TableResult::Reject(i, err);
                    }
                    continue;
                }
                let Some(live) = self.live_nexthops(e, flow) else {
                    continue;
                };
                match &best {
                    None => best = Some((i, live)),
                    Some((b, _)) if fam == Family::Inet6 => {
                        // A more specific `from` wins, then metric, then router preference.
                        let rb = &t.routes[*b].route;
                        let key = |x: &crate::grammar::Route| {
                            (
                                std::cmp::Reverse(x.from.map_or(0, |f| f.prefix_len())),
                                x.metric.unwrap_or(1024),
                                std::cmp::Reverse(pref_rank(x.pref.as_deref())),
                            )
                        };
                        if key(r) < key(rb) {
                            best = Some((i, live));
                        }
                    }
                    Some(_) => {}
                }
                if fam == Family::Inet {
                    break;
                }
            }
            if let Some((i, live)) = best {
                return TableResult::Found(i, live);
            }
        }
        TableResult::NoMatch
    }

    /// Usable nexthops of a route: `dead` ones are skipped, `linkdown` ones
    /// kept (ignore_routes_with_linkdown=0), and with an `oif` only those on it.
    /// `None` when none is usable. An empty vector means a single-path route.
    fn live_nexthops(&self, e: &RouteEntry, flow: &Flow) -> Option<Vec<usize>> {
        let r = &e.route;
        if r.nexthops.is_empty() {
            if r.flags.iter().any(|f| f == "dead") {
                return None;
            }
            if let Some(o) = &flow.oif
                && r.dev.as_deref() != Some(o.as_str())
                && !matches!(r.kind, RouteType::Local | RouteType::Broadcast)
            {
                return None;
            }
            return Some(Vec::new());
        }
        let live: Vec<usize> = r
            .nexthops
            .iter()
            .enumerate()
            .filter(|(_, n)| !n.flags.iter().any(|f| f == "dead"))
            .filter(|(_, n)| {
                flow.oif
                    .as_ref()
                    .is_none_or(|o| n.dev.as_deref() == Some(o.as_str()))
            })
            .map(|(i, _)| i)
            .collect();
        (!live.is_empty()).then_some(live)
    }

    fn hit(&self, e: &RouteEntry, live: &[usize], flow: &Flow, fam: Family) -> Hit {
        let r = &e.route;
        let mut nexthops: Vec<NextHopChoice> = live
            .iter()
            .filter_map(|&i| r.nexthops.get(i))
            .map(|n| NextHopChoice {
                dev: n.dev.clone().unwrap_or_default(),
                gateway: n.gateway,
                weight: n.weight,
            })
            .collect();
        let (dev, gateway) = match nexthops.first() {
            Some(n) => (n.dev.clone(), n.gateway),
            None => (r.dev.clone().unwrap_or_else(|| "lo".into()), r.gateway),
        };
        let hash_dependent = nexthops.len() > 1 && flow.oif.is_none();
        if nexthops.len() <= 1 {
            nexthops.clear();
        }
        let (dev, gateway) = match r.kind {
            // Local destinations are delivered through loopback (or the VRF).
            RouteType::Local => {
                let master = self
                    .link(&dev)
                    .and_then(|l| l.master.as_deref())
                    .filter(|m| self.link(m).is_some_and(|x| x.vrf_table.is_some()));
                (master.unwrap_or("lo").to_string(), None)
            }
            _ => (dev, gateway),
        };
        let src = if flow.is_output() {
            flow.src.or(r.prefsrc).or_else(|| match r.kind {
                RouteType::Local => Some(flow.dst),
                _ => self.select_src(&dev, gateway, flow.dst),
            })
        } else {
            flow.src
        };
        let _ = fam;
        Hit {
            kind: r.kind.clone(),
            dev,
            gateway,
            src,
            prefsrc: r.prefsrc,
            nexthops,
            hash_dependent,
            onlink_assumed: false,
        }
    }

    /// inet_select_addr / a simplified RFC 6724: a primary address on the
    /// device in the gateway's (or destination's) subnet, else the first
    /// primary one there, else a global one elsewhere.
    pub fn select_src(&self, dev: &str, gateway: Option<IpAddr>, dst: IpAddr) -> Option<IpAddr> {
        let fam = Family::of(&dst);
        let target = gateway.unwrap_or(dst);
        let usable = |a: &&super::AddrInfo| {
            a.addr.family == fam
                && !a.secondary()
                && !a.addr.has_flag("tentative")
                && !a.addr.has_flag("dadfailed")
        };
        let on_dev: Vec<&super::AddrInfo> = self
            .addrs
            .iter()
            .filter(|a| a.link == dev)
            .filter(usable)
            .collect();
        let in_subnet = |a: &&&super::AddrInfo| {
            ipnet::IpNet::new(a.addr.local, a.addr.prefixlen).is_ok_and(|n| n.contains(&target))
        };
        if fam == Family::Inet6 {
            let global = |a: &&&super::AddrInfo| !is_link_local(a.addr.local);
            let want_ll = is_link_local(dst);
            let mut cands: Vec<&&super::AddrInfo> = on_dev
                .iter()
                .filter(|a| {
                    if want_ll {
                        is_link_local(a.addr.local)
                    } else {
                        global(a)
                    }
                })
                .collect();
            cands.sort_by_key(|a| {
                (
                    a.addr.has_flag("deprecated"),
                    std::cmp::Reverse(common_prefix(a.addr.local, dst)),
                )
            });
            if let Some(a) = cands.first() {
                return Some(a.addr.local);
            }
        } else {
            if let Some(a) = on_dev.iter().find(in_subnet) {
                return Some(a.addr.local);
            }
            if let Some(a) = on_dev.first() {
                return Some(a.addr.local);
            }
        }
        self.addrs
            .iter()
            .filter(usable)
            .find(|a| {
                !self.link(&a.link).is_some_and(|l| l.loopback)
                    && !is_link_local(a.addr.local)
                    && a.addr.scope.as_ref().is_none_or(|s| s.number() == Some(0))
            })
            .map(|a| a.addr.local)
    }
}

fn is_local_multicast(a: IpAddr) -> bool {
    matches!(a, IpAddr::V4(v) if v.octets()[0] == 224 && v.octets()[1] == 0 && v.octets()[2] == 0)
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

fn pref_rank(p: Option<&str>) -> u8 {
    match p {
        Some("high") => 2,
        Some("low") => 0,
        _ => 1,
    }
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
