//! Verdicts: for every endpoint (a global address on a non-loopback link
//! that is up), where replies to every destination of its peer space leave.
//! Exact, not sampled: the destination space is cut at the boundaries of
//! every prefix a route, rule or address names; within one piece every
//! lookup has the same answer, so one representative per piece decides it.

pub mod ec2rl;
pub mod fix;
pub mod host;
pub mod space;

use crate::grammar::{Family, RouteType, Table};
use crate::model::{Flow, Host, KernelError, Origin, fam_idx, lookup::is_link_local};
use serde::Serialize;
use space::{Range, cidrs};
use std::net::IpAddr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Quote {
    pub file: String,
    pub line: u32,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Leak {
    /// Collapsed CIDR ranges (local and multicast destinations inside the
    /// deciding route's prefix are not peers and may be included).
    pub destinations: Vec<String>,
    /// The same set, said briefly: `0.0.0.0/0 except 10.0.0.0/8, …`.
    pub summary: String,
    pub scope: Scope,
    pub egress: String,
    pub gateway: Option<IpAddr>,
    /// Some flows leave by another nexthop of a multipath route.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub hash_dependent: bool,
    pub rule: Option<Quote>,
    pub route: Option<Quote>,
    #[serde(skip)]
    pub size: u128,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NoRoute {
    pub destinations: Vec<String>,
    pub summary: String,
    pub error: &'static str,
    pub rule: Option<Quote>,
    pub route: Option<Quote>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Endpoint {
    pub address: IpAddr,
    pub prefixlen: u8,
    pub interface: String,
    pub family: Family,
    pub secondary: bool,
    /// `up`, or why the address takes no requests (`down`, `no-carrier`, `tentative`).
    pub state: &'static str,
    /// Container bridge or veth: its peer space is its own prefixes only.
    pub internal: bool,
    /// `None` when the address takes no requests.
    pub verdict: Option<Verdict>,
    pub leaks: Vec<Leak>,
    pub no_route: Vec<NoRoute>,
    /// Rules whose selectors the dumps cannot settle for a reply.
    pub conditional: Vec<Quote>,
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
    let r = |s: &str| Range::of(&s.parse().expect("static prefix"));
    match fam {
        Family::Inet => [
            "0.0.0.0/8",
            "127.0.0.0/8",
            "169.254.0.0/16",
            "224.0.0.0/4",
            "240.0.0.0/4",
        ]
        .map(r)
        .to_vec(),
        Family::Inet6 => [
            "::/128",
            "::1/128",
            "::ffff:0:0/96",
            "fe80::/10",
            "ff00::/8",
        ]
        .map(r)
        .to_vec(),
    }
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

fn route_quote(host: &Host, fam: Family, table: &Table, idx: usize) -> Option<Quote> {
    let t = host.table(fam, table)?;
    let e = &t.routes[idx];
    Some(quote(host, e.origin, || e.route.to_string()))
}

/// One piece's outcome, the key adjacent pieces merge on.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    /// Leaves by the endpoint's own link, by this route.
    Ok(Option<(Table, usize)>),
    /// Not a peer, and too small or too special to matter: the host's own
    /// and broadcast addresses, multicast, loopback. A range may span it.
    Skip,
    /// Not a peer because it belongs to another endpoint: an internal link's
    /// prefix (or, for an internal endpoint, anything outside its own).
    /// Replies there leave their own way, so no range of this endpoint may
    /// span it (the kernel would contradict the range's egress or error).
    Foreign,
    Leak {
        scope: Scope,
        egress: String,
        gateway: Option<IpAddr>,
        hash: bool,
        rule: Option<usize>,
        route: Option<(Table, usize)>,
    },
    NoRoute {
        error: KernelError,
        rule: Option<usize>,
        route: Option<(Table, usize)>,
    },
}

/// The connected prefixes of each link (from its addresses).
fn connected(host: &Host, fam: Family) -> Vec<(String, ipnet::IpNet)> {
    host.addrs
        .iter()
        .filter(|a| a.addr.family == fam)
        .filter_map(|a| {
            let len = a.addr.prefixlen;
            let base = a.addr.peer.unwrap_or(a.addr.local);
            ipnet::IpNet::new(base, len)
                .ok()
                .map(|n| (a.link.clone(), n.trunc()))
        })
        .collect()
}

/// Every boundary where a lookup's answer can change.
fn cut_points(host: &Host, fam: Family) -> Vec<u128> {
    let mut pts = vec![0u128];
    let mut add = |n: &ipnet::IpNet| {
        let r = Range::of(n);
        pts.push(r.start);
        pts.push(r.end);
    };
    for t in host.tables[fam_idx(fam)].values() {
        for e in &t.routes {
            add(&e.route.dst);
        }
    }
    for r in &host.rules[fam_idx(fam)] {
        if let Some(to) = &r.rule.to {
            add(to);
        }
    }
    for (_, n) in connected(host, fam) {
        add(&n);
    }
    for a in host.addrs.iter().filter(|a| a.addr.family == fam) {
        if let Ok(n) = ipnet::IpNet::new(a.addr.local, if fam == Family::Inet { 32 } else { 128 }) {
            add(&n);
        }
    }
    for r in never_peers(fam) {
        pts.push(r.start);
        pts.push(r.end);
    }
    let top = space::top(fam);
    pts.retain(|&p| p < top);
    pts.sort_unstable();
    pts.dedup();
    pts
}

/// Analyses one endpoint over its whole peer space.
fn analyse(
    host: &Host,
    ep: &mut Endpoint,
    pts: &[u128],
    conn: &[(String, ipnet::IpNet)],
    class: &LinkClass,
) {
    let fam = ep.family;
    let top = space::top(fam);
    let never = never_peers(fam);
    let own: Vec<Range> = conn
        .iter()
        .filter(|(l, _)| *l == ep.interface)
        .map(|(_, n)| Range::of(n))
        .collect();
    // The prefixes of internal links (container bridges): requests from
    // there arrive on that link, so they are no other endpoint's peers.
    let internal: Vec<Range> = conn
        .iter()
        .filter(|(l, _)| *l != ep.interface && class.is_internal(l))
        .map(|(_, n)| Range::of(n))
        .collect();
    let mut pieces: Vec<(Range, Outcome)> = Vec::new();
    let mut conditional: Vec<usize> = Vec::new();
    for (i, &start) in pts.iter().enumerate() {
        let end = pts.get(i + 1).copied().unwrap_or(top);
        let piece = Range { start, end };
        let is_never = never.iter().any(|r| r.contains(start));
        let is_own = own.iter().any(|r| r.contains(start));
        let foreign = if ep.internal {
            !is_own
        } else {
            !is_own && internal.iter().any(|r| r.contains(start))
        };
        let outcome = if is_never {
            Outcome::Skip
        } else if foreign {
            Outcome::Foreign
        } else {
            let dst = space::addr(fam, start);
            let l = host.lookup(&Flow::to(dst).from(ep.address));
            for &c in &l.conditional {
                if !conditional.contains(&c) {
                    conditional.push(c);
                }
            }
            let route = l.route.as_ref().map(|r| (r.table.clone(), r.index));
            match l.result {
                Err(error) => Outcome::NoRoute {
                    error,
                    rule: l.rule,
                    route,
                },
                Ok(h) if !matches!(h.kind, RouteType::Unicast) => Outcome::Skip,
                Ok(h) => {
                    let devs: Vec<&str> = if h.nexthops.is_empty() {
                        vec![h.dev.as_str()]
                    } else {
                        h.nexthops.iter().map(|n| n.dev.as_str()).collect()
                    };
                    match devs.iter().find(|d| **d != ep.interface) {
                        None => Outcome::Ok(route.clone()),
                        Some(other) => {
                            let gateway = if h.nexthops.is_empty() {
                                h.gateway
                            } else {
                                h.nexthops
                                    .iter()
                                    .find(|n| n.dev == *other)
                                    .and_then(|n| n.gateway)
                            };
                            // A direct route to a prefix puts it on the other
                            // link; a direct *default* (`default dev wg0`, a
                            // tunnel) reaches what lies beyond it: off-link.
                            let direct_prefix = gateway.is_none()
                                && route
                                    .as_ref()
                                    .and_then(|(t, i)| host.table(fam, t)?.routes.get(*i))
                                    .is_none_or(|e| e.route.dst.prefix_len() > 0);
                            let scope = if own.iter().any(|r| r.contains(start)) {
                                Scope::SameSubnet
                            } else if direct_prefix
                                || conn.iter().any(|(_, n)| Range::of(n).contains(start))
                            {
                                Scope::CrossSubnet
                            } else {
                                Scope::OffLink
                            };
                            Outcome::Leak {
                                scope,
                                egress: other.to_string(),
                                gateway,
                                hash: h.hash_dependent,
                                rule: l.rule,
                                route,
                            }
                        }
                    }
                }
            }
        };
        match pieces.last_mut() {
            Some((r, o)) if *o == outcome && r.end == start => r.end = end,
            _ => pieces.push((piece, outcome)),
        }
    }
    // Group pieces by outcome for the report. Destinations outside the peer
    // space (the host's own addresses, broadcasts, multicast) between two
    // pieces of one outcome join them: `10.0.1.0/24`, not fourteen ranges.
    // Other endpoints' prefixes (`Foreign`) do not: they end a run as `Ok`
    // does.
    let mut leaks: Vec<(Outcome, Vec<Range>)> = Vec::new();
    let mut last: Option<(usize, bool)> = None; // (group, only skips since)
    let pieces_all = pieces.clone();
    for (r, o) in pieces {
        match o {
            Outcome::Skip => continue,
            Outcome::Ok(_) | Outcome::Foreign => {
                last = None;
                continue;
            }
            _ => {}
        }
        let g = match leaks.iter().position(|(x, _)| *x == o) {
            Some(g) => g,
            None => {
                leaks.push((o, Vec::new()));
                leaks.len() - 1
            }
        };
        match last {
            Some((lg, _)) if lg == g => {
                if let Some(prev) = leaks[g].1.last_mut() {
                    prev.end = r.end;
                }
            }
            _ => leaks[g].1.push(r),
        }
        last = Some((g, true));
    }
    for (o, ranges) in leaks {
        let size: u128 = ranges.iter().map(|r| r.end - r.start).sum();
        let route_range = match &o {
            Outcome::Leak {
                route: Some((t, i)),
                ..
            }
            | Outcome::NoRoute {
                route: Some((t, i)),
                ..
            } => host
                .table(fam, t)
                .map(|tb| Range::of(&tb.routes[*i].route.dst)),
            _ => None,
        };
        let (destinations, summary) =
            describe(fam, &ranges, route_range, &pieces_all, &o, |t, i| {
                host.table(fam, t)
                    .map(|tb| Range::of(&tb.routes[i].route.dst))
            });
        match o {
            Outcome::Leak {
                scope,
                egress,
                gateway,
                hash,
                rule,
                route,
            } => ep.leaks.push(Leak {
                destinations,
                summary,
                scope,
                egress,
                gateway,
                hash_dependent: hash,
                rule: rule.map(|i| rule_quote(host, fam, i)),
                route: route.and_then(|(t, i)| route_quote(host, fam, &t, i)),
                size,
            }),
            Outcome::NoRoute { error, rule, route } => ep.no_route.push(NoRoute {
                destinations,
                summary,
                error: error.message(),
                rule: rule.map(|i| rule_quote(host, fam, i)),
                route: route.and_then(|(t, i)| route_quote(host, fam, &t, i)),
            }),
            _ => {}
        }
    }
    // The biggest leaks first; ties by scope then egress, for stable reports.
    ep.leaks.sort_by(|a, b| {
        b.size
            .cmp(&a.size)
            .then(a.scope.cmp(&b.scope))
            .then(a.egress.cmp(&b.egress))
    });
    ep.conditional = conditional
        .into_iter()
        .map(|i| rule_quote(host, fam, i))
        .collect();
    ep.verdict = Some(if !ep.leaks.is_empty() {
        Verdict::Asymmetric
    } else if !ep.no_route.is_empty() {
        Verdict::NoRoute
    } else {
        Verdict::Ok
    });
}

/// The CIDR list of an outcome's ranges, and a short form relative to the
/// deciding route's prefix: the prefix itself when nothing of it with a
/// different outcome remains, else `PREFIX except …` when that is shorter.
fn describe(
    fam: Family,
    ranges: &[Range],
    route: Option<Range>,
    pieces: &[(Range, Outcome)],
    o: &Outcome,
    route_dst: impl Fn(&Table, usize) -> Option<Range>,
) -> (Vec<String>, String) {
    let exact: Vec<String> = ranges
        .iter()
        .flat_map(|r| cidrs(fam, *r))
        .map(|n| n.to_string())
        .collect();
    let list = |v: &[String]| {
        let shown: Vec<&str> = v.iter().take(6).map(String::as_str).collect();
        let more = if v.len() > 6 {
            format!(", … ({} in all)", v.len())
        } else {
            String::new()
        };
        format!("{}{more}", shown.join(", "))
    };
    let Some(pr) = route else {
        let s = list(&exact);
        return (exact, s);
    };
    // Pieces inside the route's prefix with another (real) outcome.
    // Other outcomes inside the prefix, named by their own routes' prefixes
    // (a piece without a route by itself); runs absorb excluded pieces.
    let mut others: Vec<Range> = Vec::new();
    let mut open = false;
    for (r, x) in pieces {
        if r.end <= pr.start || r.start >= pr.end {
            continue;
        }
        if matches!(x, Outcome::Skip) {
            continue;
        }
        if x == o {
            open = false;
            continue;
        }
        let own = match x {
            Outcome::Ok(Some((t, i)))
            | Outcome::Leak {
                route: Some((t, i)),
                ..
            }
            | Outcome::NoRoute {
                route: Some((t, i)),
                ..
            } => route_dst(t, *i),
            _ => None,
        };
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
    let prefix = cidrs(fam, pr)
        .first()
        .map(|n| n.to_string())
        .unwrap_or_default();
    let covered = ranges
        .iter()
        .all(|r| r.start >= pr.start && r.end <= pr.end);
    if others.is_empty() && covered {
        return (vec![prefix.clone()], prefix);
    }
    let except: Vec<String> = others
        .iter()
        .flat_map(|r| cidrs(fam, *r))
        .map(|n| n.to_string())
        .collect();
    let s = if covered && except.len() < exact.len() {
        format!("{prefix} except {}", list(&except))
    } else {
        list(&exact)
    };
    (exact, s)
}

/// The endpoints of a host, analysed.
pub fn endpoints(host: &Host, class: &LinkClass) -> Vec<Endpoint> {
    let mut out = Vec::new();
    for fam in [Family::Inet, Family::Inet6] {
        let pts = cut_points(host, fam);
        let conn = connected(host, fam);
        for a in host.addrs.iter().filter(|a| a.addr.family == fam) {
            let link = host.link(&a.link);
            if link.is_some_and(|l| l.loopback) || a.link == "lo" {
                continue;
            }
            let global = a.addr.scope.as_ref().is_none_or(|s| s.number() == Some(0));
            if !global || is_link_local(a.addr.local) || a.addr.local.is_loopback() {
                continue;
            }
            let state = match link {
                Some(l) if !l.up => "down",
                Some(l) if !l.carrier => "no-carrier",
                _ if a.addr.has_flag("tentative") || a.addr.has_flag("dadfailed") => "tentative",
                _ => "up",
            };
            let mut ep = Endpoint {
                address: a.addr.local,
                prefixlen: a.addr.prefixlen,
                interface: a.link.clone(),
                family: fam,
                secondary: a.secondary(),
                state,
                internal: class.is_internal(&a.link),
                verdict: None,
                leaks: Vec::new(),
                no_route: Vec::new(),
                conditional: Vec::new(),
            };
            if state == "up" && host.have_routes[fam_idx(fam)] {
                analyse(host, &mut ep, &pts, &conn, class);
            }
            out.push(ep);
        }
    }
    out
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

    #[test]
    fn globs() {
        assert!(glob("docker*", "docker0"));
        assert!(glob("br-*", "br-1a2b"));
        assert!(!glob("br-*", "br0"));
        assert!(glob("*peer", "eth3peer"));
        assert!(glob("eth0", "eth0"));
    }
}
