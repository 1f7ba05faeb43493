//! Verdicts: for every endpoint (a global address on a non-loopback link
//! that is up), where replies to every destination of its peer space leave.
//! Exact, not sampled: the destination space is cut at the boundaries of
//! every prefix a route, rule or address names; within one piece every
//! lookup has the same answer, so one representative per piece decides it.

mod analyse;
pub mod ec2rl;
mod endpoint;
pub mod fix;
pub mod host;
pub mod impact;
mod links;
mod narrow;
mod peers;
pub mod pods;
mod quote;
pub mod space;
#[cfg(test)]
pub(crate) mod testhosts;

use crate::grammar::Family;
use crate::model::{Host, fam_idx, lookup::is_link_local};
pub use analyse::MAX_DESTINATIONS;
use analyse::{Analysed, Memo, Outcome, analyse, settle};
pub use endpoint::{
    Endpoint, EndpointState, Leak, LeakList, Leaks, LeaksIter, Leg, NoRoute, Quote, Scope, Verdict,
};
pub use impact::Impact;
pub use links::{LinkClass, glob};
use peers::{Peers, Space, other_dev};
use quote::Quoter;

/// Hash maps keyed by small values on the per-host path: foldhash, not
/// SipHash (which was 4% of a fleet scan).
type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
type FastSet<K> = std::collections::HashSet<K, foldhash::fast::RandomState>;

/// An endpoint for each global address on a non-loopback link, not yet
/// analysed.
fn endpoint_of(host: &Host, a: &crate::model::AddrInfo, class: &LinkClass) -> Option<Endpoint> {
    let link = host.link(&a.link);
    if link.is_some_and(|l| l.loopback) || a.link == "lo" {
        return None;
    }
    let global = a.addr.scope.as_ref().is_none_or(|s| s.number() == Some(0));
    // A 127/8 address on a link takes requests from that link only where
    // route_localnet lets 127/8 cross it (`Peers::localnet`).
    let localnet = is_localnet(host, a);
    if !global || is_link_local(a.addr.local) || (a.addr.local.is_loopback() && !localnet) {
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
        secondary: a.secondary(),
        state,
        internal: class.is_internal(&a.link),
        ..unassessed(
            a.addr.local,
            a.addr.prefixlen,
            a.link.clone(),
            a.addr.family,
        )
    })
}

/// An endpoint not yet analysed: up, primary, not internal, no findings.
pub(crate) fn unassessed(
    address: std::net::IpAddr,
    prefixlen: u8,
    interface: String,
    family: Family,
) -> Endpoint {
    Endpoint {
        address,
        prefixlen,
        interface,
        family,
        secondary: false,
        state: EndpointState::Up,
        internal: false,
        verdict: None,
        same_as: None,
        protocols: None,
        impact: None,
        leaks: Leaks::default(),
        no_route: Vec::new(),
        conditional: Vec::new(),
    }
}

/// An IPv4 127/8 address on a non-loopback link whose `route_localnet`
/// (its own or `all`) is on: the link carries 127/8, so the address is an
/// endpoint and its own prefix holds peers.
pub(crate) fn is_localnet(host: &Host, a: &crate::model::AddrInfo) -> bool {
    matches!(a.addr.local, std::net::IpAddr::V4(v) if v.is_loopback())
        && a.link != "lo"
        && host.link(&a.link).is_none_or(|l| !l.loopback)
        && host.sysctls.route_localnet(&a.link)
}

/// The endpoints of a host, analysed.
pub fn endpoints(host: &Host, class: &LinkClass) -> Vec<Endpoint> {
    endpoints_with(host, class, true).0
}

/// Each family's space, when some endpoint was analysed in it.
pub(crate) type Spaces<'h> = [Option<Space<'h>>; 2];

/// `endpoints`, the spaces it cut and the lookups it made on them
/// (`fix::advise_in` reuses both).
pub(crate) fn endpoints_spaces<'h>(
    host: &'h Host,
    class: &LinkClass,
) -> (Vec<Endpoint>, Spaces<'h>, [Option<Analysed>; 2]) {
    endpoints_with(host, class, true)
}

fn endpoints_with<'h>(
    host: &'h Host,
    class: &LinkClass,
    memo: bool,
) -> (Vec<Endpoint>, Spaces<'h>, [Option<Analysed>; 2]) {
    let q = Quoter::new(host);
    let mut out = Vec::new();
    let mut spaces: Spaces<'h> = [None, None];
    let mut analysed = [None, None];
    for fam in [Family::Inet, Family::Inet6] {
        let sp = &mut spaces[fam_idx(fam)];
        let mut m = Memo::default();
        let by_source = SourceKeyed::of(host, fam);
        let mut template = None;
        let with_proto: Vec<usize> = (host.rules[fam_idx(fam)].iter().enumerate())
            .filter(|(_, r)| r.rule.ipproto.is_some())
            .map(|(i, _)| i)
            .collect();
        if by_source.src_routes {
            m.src_dsts = Some(source_route_dsts(&[host], fam));
        }
        // (group, link, internal) → the endpoint analysed first.
        let mut first: FastMap<(usize, String, bool), usize> = Default::default();
        // (how the rules meet the source, link, internal) → the endpoint
        // analysed first, with the answers it met that depend on its
        // address: another address whose replies get those alike routes
        // alike (a host with a multipath route and an address per link,
        // IPv6 addresses under a source route).
        let mut plain: FastMap<(Vec<u8>, String, bool), (usize, Met)> = Default::default();
        for a in host.addrs.iter().filter(|a| a.addr.family == fam) {
            let Some(mut ep) = endpoint_of(host, a, class) else {
                continue;
            };
            if ep.state == EndpointState::Up && host.have_routes[fam_idx(fam)] {
                let sp = sp.get_or_insert_with(|| Space::new(host, fam, class));
                let tmpl = template.get_or_insert_with(|| host.reply_template(fam));
                let (rules, key) = tmpl.rules_keyed(host, ep.address);
                let shares = by_source.share(sp, &ep);
                let g = group(&mut m, (host, sp), &rules, key.clone(), ep.address, shares);
                m.group_of.entry(ep.address).or_insert(g);
                let plain_key =
                    (shares != Share::Nothing).then(|| (key, ep.interface.clone(), ep.internal));
                let twin = first
                    .get(&(g, ep.interface.clone(), ep.internal))
                    .copied()
                    .or_else(|| {
                        let (i, met) = plain.get(plain_key.as_ref()?)?;
                        m.same_answers(host, fam, g, &rules, met).then_some(*i)
                    });
                match twin {
                    Some(i) if memo => {
                        let e: &Endpoint = &out[i];
                        ep.verdict = e.verdict;
                        ep.protocols = e.protocols.clone();
                        ep.same_as = Some(e.address);
                    }
                    _ => {
                        analyse(host, class, &q, &mut ep, sp, &mut m, g, &rules, memo, None);
                        let mut met_by_source = m.met_by_source.take();
                        // Only the protocols whose replies meet the rules
                        // otherwise than other protocols' need a pass (an
                        // `ipproto tcp dport 443` rule never matches a reply
                        // whose ports are unknown).
                        let protos: Vec<(u8, String)> =
                            named_protocols(host, fam, &rules, &with_proto)
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
                                let gp = group(
                                    &mut m,
                                    (host, sp),
                                    &rp,
                                    tmpl.key(&rp),
                                    ep.address,
                                    shares,
                                );
                                let mut e = ep.clone();
                                e.leaks = Leaks::default();
                                e.no_route.clear();
                                e.conditional.clear();
                                analyse(host, class, &q, &mut e, sp, &mut m, gp, &rp, memo, None);
                                // Another protocol's answers are not compared.
                                if m.met_by_source.as_ref().is_none_or(|v| !v.is_empty()) {
                                    met_by_source = None;
                                }
                                passes.push((name, e));
                            }
                            merge_protocols(&mut ep, passes);
                        }
                        first.insert((g, ep.interface.clone(), ep.internal), out.len());
                        if let (Some(k), Some(met)) = (plain_key, met_by_source) {
                            plain.entry(k).or_insert((out.len(), met));
                        }
                    }
                }
            }
            out.push(ep);
        }
        analysed[fam_idx(fam)] = m.into_analysed();
    }
    (out, spaces, analysed)
}

/// The destinations of the IPv6 routes with a `from` in `hosts` (family
/// `fam`): where a reply's answer may depend on its source itself.
fn source_route_dsts(hosts: &[&Host], fam: Family) -> peers::RangeSet {
    peers::RangeSet::new(
        hosts
            .iter()
            .flat_map(|h| h.tables[fam_idx(fam)].values())
            .flat_map(|t| t.routes.iter())
            .filter(|e| e.route.from().is_some_and(|f| f.prefix_len() > 0))
            .map(|e| space::Range::of(&e.route.dst))
            .collect(),
    )
}

/// The answers an analysis met that depend on its address
/// (`Memo::met_by_source`).
type Met = Vec<(u32, u128, u32)>;

/// The group of replies from `src` that meet the rules as `key` says
/// (`ReplyTemplate::key`), added when new, sharing `shares` (a
/// group of its own unless all answers are shared: `SourceKeyed::keys`).
/// Groups keyed alike meet the same rules, so consult the same tables.
fn group(
    m: &mut Memo<'_>,
    (host, sp): (&Host, &Space<'_>),
    rules: &crate::model::lookup::ReplyRules,
    key: Vec<u8>,
    src: std::net::IpAddr,
    shares: Share,
) -> usize {
    let key = (key, (shares != Share::All).then_some(src));
    if let Some(&g) = m.groups.get(&key) {
        return g;
    }
    if m.answers.narrow.is_none() {
        m.answers.narrow = sp.narrow.clone();
    }
    let mine = sp.narrow.as_ref().map(|n| n.tables_of(host, sp.fam, rules));
    let g = m.answers.add_group(
        sp.kinds,
        (shares != Share::Nothing).then_some(key.0.as_slice()),
        shares == Share::OwnSource,
        mine,
    );
    m.groups.insert(key, g);
    g
}

/// Which answers a group of replies shares with other groups (those
/// decided before the rules they differ on: `analyse::Answers`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Share {
    All,
    /// Not those that depend on the address itself (`Shape::by_source`):
    /// a primary address's replies by an IPv4 multipath route, any
    /// address's to a destination of an IPv6 route with a `from`.
    OwnSource,
    /// None: every answer may depend on the address (a never-peer source).
    Nothing,
}

/// The IP protocols that rules which may match replies from the address
/// of `rules` select on (`ipproto`), by number, with their names.
/// `with_proto`: the rules that have an `ipproto` (not a scan of every rule
/// per address).
fn named_protocols(
    host: &Host,
    fam: Family,
    rules: &crate::model::lookup::ReplyRules,
    with_proto: &[usize],
) -> Vec<(u8, String)> {
    let mut out: Vec<(u8, String)> = Vec::new();
    for &i in with_proto {
        let (re, sel) = (&host.rules[fam_idx(fam)][i], rules.sel()[i]);
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
        for l in e.leaks.into_vec() {
            let l = std::sync::Arc::unwrap_or_clone(l);
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
            std::sync::Arc::new(l)
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
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct SourceKeyed {
    /// IPv6 routes with a source prefix (subtrees searched by source).
    src_routes: bool,
    /// IPv4 classic multipath prefers the nexthops whose own source (a
    /// primary address) is the reply's (`Host::prefers_own_source`).
    multipath4: bool,
}

impl SourceKeyed {
    pub(crate) fn of(host: &Host, fam: Family) -> Self {
        Self::of_routes(
            host,
            fam,
            host.tables[fam_idx(fam)]
                .values()
                .flat_map(|t| t.routes.iter().map(|e| &e.route)),
        )
    }

    /// What `routes` (of family `fam`) make answers depend on, on `host`'s
    /// kernel.
    pub(crate) fn of_routes<'r>(
        host: &Host,
        fam: Family,
        routes: impl Iterator<Item = &'r crate::grammar::Route>,
    ) -> Self {
        let mut k = SourceKeyed::default();
        for r in routes {
            k.src_routes |= fam == Family::Inet6 && r.from().is_some_and(|f| f.prefix_len() > 0);
            // (`prefers_own_source` holds of IPv4 routes only.)
            k.multipath4 |= host.prefers_own_source(r);
            if k.src_routes || k.multipath4 {
                break;
            }
        }
        k
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
        self.share(sp, ep) != Share::All
    }

    /// Which answers `ep`'s replies share with other addresses': every
    /// answer may depend on a never-peer address; those of IPv4 multipath
    /// routes on a primary one, those to IPv6 source routes' destinations
    /// on any.
    fn share(self, sp: &Space<'_>, ep: &Endpoint) -> Share {
        if sp.never.contains(space::num(ep.address)) {
            Share::Nothing
        } else if self.src_routes || (self.multipath4 && !ep.secondary) {
            Share::OwnSource
        } else {
            Share::All
        }
    }
}

/// `eps` with each `same_as` endpoint given its twin's leaks, no-route
/// ranges and conditional rules in full (and `same_as` cleared): what each
/// endpoint's own analysis would have said.
pub fn expanded(eps: &[Endpoint]) -> Vec<Endpoint> {
    let twin = twins(eps);
    eps.iter()
        .zip(twin)
        .map(|(e, t)| {
            let mut x = e.clone();
            if let Some(twin) = t.map(|i| &eps[i]) {
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

/// For each endpoint, the index of the one its `same_as` names (the same
/// address on the same link, analysed itself): looked up in a map, as a
/// host may have 10,000 twins.
pub(crate) fn twins(eps: &[Endpoint]) -> Vec<Option<usize>> {
    let analysed: FastMap<(std::net::IpAddr, &str), usize> = eps
        .iter()
        .enumerate()
        .filter(|(_, e)| e.same_as.is_none())
        .map(|(i, e)| ((e.address, e.interface.as_str()), i))
        .collect();
    eps.iter()
        .map(|e| {
            e.same_as
                .and_then(|a| analysed.get(&(a, e.interface.as_str())).copied())
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
    use super::peers::never_peers;
    use super::space::Range;
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
            lines_before: 0,
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
                let n = *d;
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

    /// Endpoints whose rules differ share only the answers decided before
    /// the first rule they differ on. The captures are the kernel's (a
    /// namespace, iproute2 6.1): there `ip route get 10.9.0.5 from
    /// 10.1.0.20` answers `via 10.1.0.1 dev eth1 table 200`, and from
    /// 10.1.0.10 `Network is unreachable`, table 100's `throw` being the
    /// last rule met that looked the destination up. That `throw` is rule 1,
    /// before the rule 10.1.0.20 has of its own, but it does not decide:
    /// the walk goes on past it.
    #[test]
    fn groups_share_answers_decided_before_they_differ() {
        use crate::grammar::DumpKind;
        let addr = "\
1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN group default qlen 1000
    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00
    inet 127.0.0.1/8 scope host lo
       valid_lft forever preferred_lft forever
2: eth0@if2: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP group default qlen 1000
    link/ether de:56:6e:02:a4:0d brd ff:ff:ff:ff:ff:ff link-netns aro-s19-throw-p
    inet 10.0.0.10/16 scope global eth0
       valid_lft forever preferred_lft forever
3: eth1@if3: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP group default qlen 1000
    link/ether 1e:be:5e:7f:03:56 brd ff:ff:ff:ff:ff:ff link-netns aro-s19-throw-p
    inet 10.1.0.10/16 scope global eth1
       valid_lft forever preferred_lft forever
    inet 10.1.0.20/16 scope global secondary eth1
       valid_lft forever preferred_lft forever
";
        let rule = "\
0:\tfrom all lookup local
100:\tfrom all lookup 100
1000:\tfrom 10.1.0.20 lookup 200
32766:\tfrom all lookup main
32767:\tfrom all lookup default
";
        let route = "\
throw 10.9.0.0/16 table 100 
10.9.0.0/16 via 10.1.0.1 dev eth1 table 200 
10.0.0.0/16 dev eth0 proto kernel scope link src 10.0.0.10 
10.1.0.0/16 dev eth1 proto kernel scope link src 10.1.0.10 
local 10.0.0.10 dev eth0 table local proto kernel scope host src 10.0.0.10 
broadcast 10.0.255.255 dev eth0 table local proto kernel scope link src 10.0.0.10 
local 10.1.0.10 dev eth1 table local proto kernel scope host src 10.1.0.10 
local 10.1.0.20 dev eth1 table local proto kernel scope host src 10.1.0.10 
broadcast 10.1.255.255 dev eth1 table local proto kernel scope link src 10.1.0.10 
local 127.0.0.0/8 dev lo table local proto kernel scope host src 127.0.0.1 
local 127.0.0.1 dev lo table local proto kernel scope host src 127.0.0.1 
broadcast 127.255.255.255 dev lo table local proto kernel scope link src 127.0.0.1 
";
        let host = testhosts::host_of(&[
            ("ip_addr.txt", DumpKind::IpAddr, addr),
            ("ip_rule.txt", DumpKind::IpRule, rule),
            ("ip_route.txt", DumpKind::IpRoute, route),
        ]);
        let class = LinkClass::default();
        let eps = expanded(&endpoints_with(&host, &class, true).0);
        assert_eq!(eps, endpoints_with(&host, &class, false).0);
        let net: ipnet::IpNet = "10.9.0.0/16".parse().unwrap();
        let unreachable = |a: &str| {
            let e = eps.iter().find(|e| e.address.to_string() == a).unwrap();
            e.no_route.iter().any(|n| n.destinations.contains(&net))
        };
        assert!(unreachable("10.1.0.10"));
        assert!(unreachable("10.0.0.10"));
        assert!(!unreachable("10.1.0.20"));
    }

    /// A host whose every address has its own `from ADDR lookup T` rule has
    /// a group per address, and a kind of piece per address (its local
    /// route): the replies to those are decided by rule 0 (`lookup local`)
    /// and looked up once, not once per group (N², 4,000 addresses took
    /// 4.3 CPU-s and 1.2 GB).
    #[test]
    fn source_routing_per_address_is_looked_up_once_per_kind() {
        let n = 200;
        let host = testhosts::per_address_rules(n, |k| 20 + k, "10.1.0.1 dev eth1", "");
        let _b = crate::budget::start(None);
        let told = analyse::quiet::TOLD.with(|t| t.get());
        let eps = endpoints(&host, &LinkClass::default());
        let lookups = crate::budget::ticks();
        // The addresses whose rules send their replies back by their link
        // are told so without a walk over the pieces their addresses cut
        // (N² pieces): all of eth1's secondaries (eth0's is the first).
        let told = analyse::quiet::TOLD.with(|t| t.get()) - told;
        assert_eq!(told, n);
        assert_eq!(
            expanded(&eps),
            endpoints_with(&host, &LinkClass::default(), false).0
        );
        assert_eq!(eps.len(), n + 2);
        assert!(eps.iter().all(|e| e.verdict.is_some()));
        // Each group: its own table's few kinds; the others' once.
        assert!(
            lookups < 20 * n as u32,
            "{lookups} lookups for {n} addresses"
        );
    }

    /// As above, each address's table leaking by eth0: no address is
    /// quiet, and each walks the space. Its 200 addresses in a row are a
    /// run of pieces whose replies `lookup local` decides for every group:
    /// taken whole (`SkipRun`), not once per piece per address (N²: 20,000
    /// such addresses took 9 CPU-s). A few addresses elsewhere, and an
    /// `unreachable` route inside the run, cut it.
    #[test]
    fn runs_of_local_pieces_are_walked_once() {
        // In a row, and every third address (the gaps between them are
        // pieces of the subnet's kind: a mixed run).
        for step in [1, 3] {
            runs_are_walked_once(step);
        }
    }

    fn runs_are_walked_once(step: usize) {
        let n = 200;
        // Three apart from the rest.
        let at = |k| if k < n { 20 + step * k } else { 1000 + 7 * k };
        let host = testhosts::per_address_rules(
            n + 3,
            at,
            "10.0.0.1 dev eth0",
            "unreachable 10.1.0.100/30\n",
        );
        let walked = analyse::WALKED.with(|w| w.get());
        let eps = endpoints(&host, &LinkClass::default());
        let walked = analyse::WALKED.with(|w| w.get()) - walked;
        assert_eq!(
            expanded(&eps),
            endpoints_with(&host, &LinkClass::default(), false).0
        );
        assert_eq!(eps.len(), n + 5);
        // Every eth1 address leaks by eth0, by its own rule.
        assert!(
            eps.iter()
                .filter(|e| e.interface == "eth1" && e.address.to_string() != "10.1.0.10")
                .all(|e| e.verdict == Some(Verdict::Asymmetric))
        );
        // A piece-by-piece walk takes n² steps (~40,000).
        assert!(walked < 40 * n, "{walked} steps for {n} addresses");
    }

    /// A leaf switch's uplink addresses are groups of their own (IPv4
    /// multipath prefers each one's own leg), whose rules meet the walk
    /// alike: each looks up the route another found, not the tables again,
    /// and the report is the piece-by-piece walk's. Each such lookup is
    /// compared with a whole one (`Memo::raw`, test builds).
    /// Before 6.16 the legs prefer no source: the uplinks' replies share
    /// every answer, and none is looked up again.
    #[test]
    fn a_leaf_switchs_uplinks_look_up_the_routes_another_found() {
        for (rules, old) in [(false, false), (true, false), (false, true)] {
            let (links, n) = (6, 300);
            let mut host = testhosts::leaf_switch(links, n, rules);
            if old {
                host.kernel = crate::model::KernelVersion::new(6, 1, 0);
            }
            let class = LinkClass::default();
            let on = analyse::ON_ROUTE.with(|w| w.get());
            let eps = endpoints(&host, &class);
            let on = analyse::ON_ROUTE.with(|w| w.get()) - on;
            assert_eq!(expanded(&eps), endpoints_with(&host, &class, false).0);
            // All but the first uplink's group, on (nearly) every route.
            if old {
                assert_eq!(on, 0);
            } else {
                assert!(on >= (links - 1) * n, "{on} lookups on a found route");
            }
            let up: Vec<_> = eps
                .iter()
                .filter(|e| e.interface.starts_with("swp"))
                .collect();
            assert_eq!(up.len(), links);
            assert!(up.iter().all(|e| e.verdict == Some(Verdict::Asymmetric)));
        }
    }

    /// A concentrator's links share one address and one group of replies;
    /// each link's report differs from the others' in its own pieces, and
    /// is read off the group's template (`analyse::delta`). Every report
    /// is the piece-by-piece walk's, and most were read off.
    #[test]
    fn delta_reports_are_the_whole_walks() {
        let mut rng = testhosts::Rng(30);
        let class = LinkClass::default();
        let (mut eps_n, mut read, mut v6, mut cond) = (0, 0, 0, 0);
        for _ in 0..60 {
            let host = testhosts::random_concentrator(&mut rng);
            let before = analyse::delta::READ_OFF.with(|r| r.get());
            let eps = expanded(&endpoints_with(&host, &class, true).0);
            read += analyse::delta::READ_OFF.with(|r| r.get()) - before;
            eps_n += eps.len();
            v6 += eps.iter().filter(|e| e.family == Family::Inet6).count();
            cond += eps.iter().filter(|e| !e.conditional.is_empty()).count();
            assert_eq!(eps, endpoints_with(&host, &class, false).0);
        }
        assert!(
            read * 2 > eps_n && v6 > 500 && cond > 100,
            "{read} of {eps_n} endpoints read off, {v6} IPv6, {cond} with conditional rules"
        );
    }

    /// 200 addresses each a /32 primary of its own, under a multipath route
    /// and no rule of the host's: each is a group of its own (IPv4
    /// multipath prefers the legs whose source is the reply's) that meets
    /// the rules as the reference does, and `local` merged into `main`
    /// decides their local pieces without a rule walk (`READS_ALL`). They
    /// take the runs of local pieces whole all the same (10,000 such
    /// addresses walked each other's: 2.6 CPU-s, 7.6 at 20,000). Outside
    /// the link's subnet, under a multipath default (a load balancer's
    /// service addresses), they lie between two pieces of the default's
    /// kind, in a peer segment of their own: taken whole between them
    /// (13.7 CPU-s at 20,000).
    #[test]
    fn primaries_of_their_own_take_runs_of_local_pieces_whole() {
        let n = 200;
        for host in [
            testhosts::primaries_of_their_own(n, false),
            testhosts::primaries_of_their_own(n, true),
        ] {
            let class = LinkClass::default();
            let walked = analyse::WALKED.with(|w| w.get());
            let eps = endpoints(&host, &class);
            let walked = analyse::WALKED.with(|w| w.get()) - walked;
            assert_eq!(eps.len(), n + 2);
            assert!(
                eps.iter()
                    .all(|e| !e.secondary && e.verdict == Some(Verdict::Asymmetric))
            );
            assert_eq!(expanded(&eps), endpoints_with(&host, &class, false).0);
            // A piece-by-piece walk takes n² steps (~40,000).
            assert!(walked < 40 * n, "{walked} steps for {n} addresses");
        }
    }

    /// Each address's table with a route of its own (a /32 in 172.16/16):
    /// the replies of another address never consult that table, so for
    /// them its route's piece is a piece of the prefix around it
    /// (`Narrow`). Each address's group looked up, and walked, every other
    /// table's piece: N² (10,000 addresses took 32 CPU-s and 2.8 GB).
    fn own_route(k: usize) -> String {
        format!(
            "172.16.{}.{} via 10.1.0.1 dev eth1 table {}\n",
            k / 256,
            k % 256,
            1000 + k
        )
    }

    #[test]
    fn tables_of_their_own_are_looked_up_by_their_groups_alone() {
        let n = 200;
        let host = testhosts::per_address_tables(n, |k| 20 + k, "10.1.0.1 dev eth1", "", own_route);
        let class = LinkClass::default();
        let _b = crate::budget::start(None);
        let told = analyse::quiet::TOLD.with(|t| t.get());
        let eps = endpoints(&host, &class);
        let lookups = crate::budget::ticks();
        // Every secondary on eth1 is told quiet: its table sends all back by
        // eth1.
        let told = analyse::quiet::TOLD.with(|t| t.get()) - told;
        assert_eq!(told, n);
        assert_eq!(expanded(&eps), endpoints_with(&host, &class, false).0);
        assert!(
            lookups < 20 * n as u32,
            "{lookups} lookups for {n} addresses"
        );
    }

    /// As above, each table's default leaking by eth0 but its own route:
    /// each address walks, and leaks everywhere but to its own /32. Its
    /// walk takes the other tables' pieces as one (`Narrow::jump`).
    /// Around them: a route of `main` holding them; a table no rule names
    /// with address 5's prefix (no longer one table's); address 1's /16
    /// holding address 2's /24 (nested: every group's).
    #[test]
    fn tables_of_their_own_are_walked_by_their_groups_alone() {
        let n = 200;
        let own = |k: usize| {
            let mut r = own_route(k);
            match k {
                1 => r.push_str("172.17.0.0/16 via 10.0.0.1 dev eth0 table 1001\n"),
                2 => r.push_str("172.17.1.0/24 via 10.1.0.1 dev eth1 table 1002\n"),
                _ => {}
            }
            r
        };
        let extra =
            "172.16.0.0/16 via 10.0.0.1 dev eth0\n172.16.0.5 via 10.1.0.1 dev eth1 table 77\n";
        let host = testhosts::per_address_tables(n, |k| 20 + k, "10.0.0.1 dev eth0", extra, own);
        let class = LinkClass::default();
        let walked = analyse::WALKED.with(|w| w.get());
        let eps = endpoints(&host, &class);
        let walked = analyse::WALKED.with(|w| w.get()) - walked;
        assert_eq!(expanded(&eps), endpoints_with(&host, &class, false).0);
        // Whether replies from `a` to `dst` leak.
        let leaks = |a: &str, dst: &str| {
            let dst: std::net::IpAddr = dst.parse().unwrap();
            let e = eps.iter().find(|e| e.address.to_string() == a).unwrap();
            e.leaks
                .iter()
                .flat_map(|l| l.destinations.iter())
                .any(|d| d.contains(&dst))
        };
        // Address k (10.1.0.(20 + k)) keeps its own /32 on eth1.
        assert!(!leaks("10.1.0.23", "172.16.0.3") && leaks("10.1.0.23", "172.16.0.4"));
        assert!(leaks("10.1.0.24", "172.16.0.3") && !leaks("10.1.0.24", "172.16.0.4"));
        // Address 1's /16 leaks, but address 2's /24 inside it.
        assert!(leaks("10.1.0.21", "172.17.1.1") && !leaks("10.1.0.22", "172.17.1.1"));
        assert!(leaks("10.1.0.22", "172.17.2.1"));
        // A piece-by-piece walk takes ~4n² steps (160,000).
        assert!(walked < 40 * n, "{walked} steps for {n} addresses");
    }

    /// An IPv4 multipath route answers a primary address's replies by the
    /// address itself, so each primary is a group of its own: a host with
    /// 10,000 addresses on 500 links (2,500 primaries) and a multipath
    /// default route at a higher metric took 85 CPU-s, 6 GB and a 900 MB
    /// report. Where no reply meets the multipath route, the primaries of a
    /// link are analysed once, and share the other routes' answers.
    #[test]
    fn primaries_meeting_no_multipath_route_are_twins() {
        use crate::grammar::DumpKind;
        use std::fmt::Write;
        let links = 20;
        let mut addr = String::new();
        let mut route = String::from(
            "default via 10.0.0.1 dev dum0 \ndefault proto static metric 10 \n\tnexthop via 10.0.0.1 dev dum0 weight 1 \n\tnexthop via 10.0.1.1 dev dum0 weight 1 \n",
        );
        for l in 0..links {
            let _ = writeln!(
                addr,
                "{}: dum{l}: <BROADCAST,NOARP,UP,LOWER_UP> mtu 1500 qdisc noqueue state UNKNOWN group default qlen 1000",
                l + 2
            );
            for k in 0..3 {
                let net = format!("10.{l}.{k}");
                let _ = writeln!(addr, "    inet {net}.10/24 scope global dum{l}");
                let _ = writeln!(
                    route,
                    "{net}.0/24 dev dum{l} proto kernel scope link src {net}.10 \nlocal {net}.10 dev dum{l} table local proto kernel scope host src {net}.10 "
                );
            }
        }
        let host = testhosts::host_of(&[
            ("ip_addr.txt", DumpKind::IpAddr, &addr),
            ("ip_route.txt", DumpKind::IpRoute, &route),
        ]);
        let class = LinkClass::default();
        let _b = crate::budget::start(None);
        let (eps, _, _) = endpoints_with(&host, &class, true);
        let lookups = crate::budget::ticks();
        assert_eq!(eps.len(), links * 3);
        assert!(eps.iter().all(|e| !e.secondary && e.verdict.is_some()));
        assert_eq!(eps.iter().filter(|e| e.same_as.is_none()).count(), links);
        assert!(lookups < 2 * (links * 3) as u32 * 10, "{lookups} lookups");
        assert_eq!(expanded(&eps), endpoints_with(&host, &class, false).0);
    }

    /// IPv6 routes with a `from` answer by the source itself, so each
    /// address is a group of its own; addresses of a link whose replies get
    /// the same answers there are twins all the same (2,000 addresses under
    /// a source route wrote a 9 MB report, each analysed apart).
    #[test]
    fn addresses_under_one_source_route_are_twins() {
        use crate::grammar::DumpKind;
        use std::fmt::Write;
        let n = 30;
        let mut addr = String::from(
            "2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc mq state UP group default qlen 1000\n    inet6 2001:db8::10/64 scope global \n3: eth1: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc mq state UP group default qlen 1000\n",
        );
        let mut route = String::from(
            "2001:db8::/64 dev eth0 proto kernel metric 256 pref medium\n2001:db8:1::/64 dev eth1 proto kernel metric 256 pref medium\n2001:db8:99::/48 from 2001:db8:1::/64 via 2001:db8:1::1 dev eth1 metric 1024 pref medium\ndefault via 2001:db8::1 dev eth0 metric 1024 pref medium\n",
        );
        for k in 0..n {
            let _ = writeln!(addr, "    inet6 2001:db8:1::{:x}/64 scope global ", k + 16);
            let _ = writeln!(
                route,
                "local 2001:db8:1::{:x} dev eth1 table local proto kernel metric 0 pref medium",
                k + 16
            );
        }
        let host = testhosts::host_of(&[
            ("ip_addr.txt", DumpKind::IpAddr, &addr),
            ("ip6_route.txt", DumpKind::IpRoute, &route),
        ]);
        let class = LinkClass::default();
        let (eps, _, _) = endpoints_with(&host, &class, true);
        let eth1: Vec<&Endpoint> = eps.iter().filter(|e| e.interface == "eth1").collect();
        assert_eq!(eth1.len(), n);
        assert_eq!(eth1.iter().filter(|e| e.same_as.is_some()).count(), n - 1);
        assert_eq!(expanded(&eps), endpoints_with(&host, &class, false).0);
    }

    /// Pieces of one kind have one outcome: analysing one of each gives
    /// what analysing them all gives.
    #[test]
    fn pieces_of_a_kind_share_outcomes() {
        use testhosts::{Rng, random_host};
        let class = LinkClass::default();
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let told = analyse::quiet::TOLD.with(|t| t.get());
        for _ in 0..3000 {
            let h = random_host(&mut rng);
            assert_eq!(
                expanded(&endpoints_with(&h, &class, true).0),
                endpoints_with(&h, &class, false).0
            );
        }
        // Some were told quiet without a walk (`analyse::quiet`).
        let told = analyse::quiet::TOLD.with(|t| t.get()) - told;
        assert!(told > 50, "{told} told quiet");
    }

    /// As above, on hosts with a table per address (`Narrow`): a group
    /// sees another's table's pieces as the piece around them.
    #[test]
    fn pieces_of_narrow_tables_share_outcomes() {
        let class = LinkClass::default();
        let mut rng = testhosts::Rng(0x5851_f42d_4c95_7f2d);
        // Hosts with narrow tables, per family.
        let mut narrow = [0, 0];
        // IPv6 ones with source routes (`from`): answers by the source.
        let mut by_source = 0;
        for _ in 0..400 {
            let h = testhosts::random_narrow_host(&mut rng);
            assert!(h.sources.iter().all(|s| s.dump.diagnostics.is_empty()));
            let (eps, spaces, _) = endpoints_with(&h, &class, true);
            for (n, s) in narrow.iter_mut().zip(&spaces) {
                *n += s.as_ref().is_some_and(|s| s.narrow.is_some()) as usize;
            }
            by_source += (spaces[1].as_ref().is_some_and(|s| s.narrow.is_some())
                && SourceKeyed::of(&h, Family::Inet6).src_routes) as usize;
            assert_eq!(expanded(&eps), endpoints_with(&h, &class, false).0);
        }
        assert!(
            narrow[0] > 200 && narrow[1] > 100 && by_source > 30,
            "{narrow:?} {by_source}"
        );
    }

    /// As above, with each address a /32 primary under multipath routes
    /// (in `main` and in the tables): groups that agree with the reference
    /// up to a multipath answer's rule look their replies up on the route
    /// another found, kinds projected as each group sees them.
    #[test]
    fn narrow_tables_and_multipath_look_up_found_routes_as_a_whole_walk() {
        let class = LinkClass::default();
        let mut rng = testhosts::Rng(0x9e37_79b9_7f4a_7c15);
        let (mut narrow, mut on) = (0, 0);
        for _ in 0..200 {
            let h = testhosts::random_narrow_multipath_host(&mut rng);
            assert!(h.sources.iter().all(|s| s.dump.diagnostics.is_empty()));
            let before = analyse::ON_ROUTE.with(|w| w.get());
            let (eps, spaces, _) = endpoints_with(&h, &class, true);
            on += analyse::ON_ROUTE.with(|w| w.get()) - before;
            narrow += spaces[0].as_ref().is_some_and(|s| s.narrow.is_some()) as usize;
            assert_eq!(expanded(&eps), endpoints_with(&h, &class, false).0);
        }
        assert!(
            narrow > 150 && on > 1000,
            "{narrow} narrow, {on} on found routes"
        );
    }

    /// The rules settled from the template are those settled rule by rule,
    /// from the host's own addresses and from one it does not own.
    #[test]
    fn reply_templates_settle_rules_alike() {
        use std::net::IpAddr;
        use testhosts::{Rng, random_host};
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        for _ in 0..500 {
            let h = random_host(&mut rng);
            for (fam, foreign) in [
                (Family::Inet, IpAddr::from([192, 0, 2, 77])),
                (Family::Inet6, "2001:db8::77".parse().unwrap()),
            ] {
                let t = h.reply_template(fam);
                let own = h.addrs.iter().map(|a| a.addr.local);
                for src in own.chain([foreign]) {
                    assert_eq!(t.rules(&h, src), h.reply_rules(src), "from {src}");
                    let (r, key) = t.rules_keyed(&h, src);
                    assert_eq!(key, t.key(&r), "from {src}");
                }
                // Where two sources' rules part, from their keys: as the
                // rule lists compared rule by rule tell it (TCP replies'
                // lists too).
                let own: Vec<IpAddr> = h
                    .addrs
                    .iter()
                    .map(|a| a.addr.local)
                    .filter(|a| Family::of(a) == fam)
                    .collect();
                let lists: Vec<_> = own
                    .iter()
                    .flat_map(|&a| [h.reply_rules(a), h.reply_rules_proto(a, Some(6))])
                    .collect();
                for x in &lists {
                    for y in &lists {
                        let n = x
                            .sel()
                            .iter()
                            .zip(y.sel().iter())
                            .take_while(|(a, b)| a == b)
                            .count();
                        let want = (n < x.sel().len()).then_some(n as u32);
                        let got = analyse::first_difference(&t.key(x), &t.key(y));
                        assert_eq!(got, want);
                    }
                }
            }
        }
    }

    /// `lookup_reply` is `lookup` of the reply flow, less the trace: from
    /// the host's own addresses, and from one it does not own (the source
    /// check `ReplyRules` settles for owned ones is then made per lookup).
    #[test]
    fn reply_lookups_are_lookups() {
        use crate::model::Flow;
        use std::net::IpAddr;
        use testhosts::{Rng, random_host};
        let class = LinkClass::default();
        let mut rng = Rng(0x5851_f42d_4c95_7f2d);
        for _ in 0..500 {
            let h = random_host(&mut rng);
            for (fam, foreign) in [
                (Family::Inet, IpAddr::from([192, 0, 2, 77])),
                (Family::Inet6, "2001:db8::77".parse().unwrap()),
            ] {
                let sp = Space::new(&h, fam, &class);
                let own = h.addrs.iter().filter(|a| a.addr.family == fam);
                for src in own.map(|a| a.addr.local).chain([foreign]) {
                    let rules = h.reply_rules(src);
                    for (start, _, _) in sp.pieces() {
                        let dst = space::addr(fam, start);
                        let mut want = h.lookup(&Flow::to(dst).from(src));
                        want.trace.clear();
                        assert_eq!(h.lookup_reply(&rules, dst), want, "{dst} from {src}");
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
                    let r = Range::of(d);
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
