//! Verdicts against the kernel (issue 5's proof), shared by `kernel_diff.rs`
//! (live: a phase per random host asks its namespace) and
//! `kernel_verdicts.rs` (offline replay of `tests/kernel-cases/*/verdicts.json`
//! and of the plain `from A` flows of every `cases.json`).
//!
//! For an endpoint A on link I and a destination D, the kernel's
//! `ip -j route get D from A` (a reply from an unbound socket: no iif, oif,
//! mark, tos) is judged against what `verdict::endpoints` reported for A:
//! * D in a leak's ranges: the kernel's device is the leak's egress and its
//!   gateway the leak's (so not I), and the scope fits what the kernel
//!   answered; for a hash-dependent leak any nexthop device of the route,
//!   I included;
//! * D in a no-route range: the kernel's error is the range's;
//! * D in no reported range: the kernel's device is I.
//!
//! Not judged: D outside A's peer space (DESIGN.md "Verdicts", recomputed
//! here from that text, not from src/verdict/), and D the kernel itself calls
//! `local`/`broadcast`/`anycast`/`multicast` (not peers; reported ranges may
//! span them) — provided the offline lookup agrees it is not unicast.
//!
//! Included with `#[path]` next to `support/kernel.rs` (as module `kernel`).
#![allow(dead_code)]

use crate::kernel::{Answer, FlowSpec};
use asymroute_offline::grammar::{Family, RouteType};
use asymroute_offline::model::{Flow, Host};
use asymroute_offline::verdict::{Endpoint, LinkClass, Scope};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

/// What the verdict says of a destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Leak,
    NoRoute,
    Ok,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Leak, Kind::NoRoute, Kind::Ok];
    pub fn idx(self) -> usize {
        self as usize
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Leak => "leak",
            Kind::NoRoute => "no-route",
            Kind::Ok => "ok",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Judged {
    Checked(Kind),
    Skipped(&'static str),
    Bad(Kind, String),
}

// ------------------------------------------------------------ peer space

fn num(a: IpAddr) -> u128 {
    match a {
        IpAddr::V4(v) => u32::from(v) as u128,
        IpAddr::V6(v) => u128::from(v),
    }
}

fn addr(v6: bool, n: u128) -> IpAddr {
    if v6 {
        IpAddr::V6(Ipv6Addr::from(n))
    } else {
        IpAddr::V4(Ipv4Addr::from(n as u32))
    }
}

/// Inclusive bounds of a prefix.
fn bounds(n: &IpNet) -> (u128, u128) {
    (num(n.network()), num(n.broadcast()))
}

/// DESIGN.md: loopback, unspecified, link-local, multicast, limited
/// broadcast and reserved, IPv4-mapped: never peers.
fn never_peers(v6: bool) -> Vec<IpNet> {
    let l: &[&str] = if v6 {
        &[
            "::/128",
            "::1/128",
            "::ffff:0:0/96",
            "fe80::/10",
            "ff00::/8",
        ]
    } else {
        &[
            "0.0.0.0/8",
            "127.0.0.0/8",
            "169.254.0.0/16",
            "224.0.0.0/4",
            "240.0.0.0/4",
        ]
    };
    l.iter().map(|s| s.parse().unwrap()).collect()
}

/// The connected prefixes of a link (those of its addresses).
fn connected(host: &Host, v6: bool, link: Option<&str>) -> Vec<IpNet> {
    host.addrs
        .iter()
        .filter(|a| a.addr.local.is_ipv6() == v6 && link.is_none_or(|l| a.link == l))
        .filter_map(|a| {
            IpNet::new(a.addr.peer.unwrap_or(a.addr.local), a.addr.prefixlen)
                .ok()
                .map(|n| n.trunc())
        })
        .collect()
}

/// An endpoint's peer space (DESIGN.md "Verdicts"): for an internal link
/// (container bridge, veth) its own connected prefixes only; for any other,
/// every destination but the never-peers and the prefixes of internal links
/// (which stay peers where they are also the link's own).
pub struct PeerSpace {
    internal: bool,
    own: Vec<IpNet>,
    never: Vec<IpNet>,
    /// Other links' prefixes when they are internal.
    internal_links: Vec<IpNet>,
    /// Every address of the host (the kernel calls them local).
    local: BTreeSet<IpAddr>,
    /// A 127/8 endpoint (on a link with route_localnet): its own prefixes
    /// are peers though 127/8 is a never-peer.
    localnet: bool,
}

impl PeerSpace {
    pub fn of(host: &Host, ep: &Endpoint, class: &LinkClass) -> PeerSpace {
        let v6 = ep.address.is_ipv6();
        let own = connected(host, v6, Some(&ep.interface));
        let mut internal_links = Vec::new();
        if !ep.internal {
            let mut links: Vec<&str> = host.addrs.iter().map(|a| a.link.as_str()).collect();
            links.sort_unstable();
            links.dedup();
            for l in links {
                if l != ep.interface && class.is_internal(l) {
                    internal_links.extend(connected(host, v6, Some(l)));
                }
            }
        }
        PeerSpace {
            internal: ep.internal,
            own,
            never: never_peers(v6),
            internal_links,
            local: host.addrs.iter().map(|a| a.addr.local).collect(),
            localnet: matches!(ep.address, IpAddr::V4(v) if v.is_loopback()),
        }
    }

    /// A never-peer, unless one of a 127/8 endpoint's own prefixes.
    fn never(&self, d: IpAddr) -> bool {
        self.never.iter().any(|n| n.contains(&d))
            && !(self.localnet && self.own.iter().any(|n| n.contains(&d)))
    }

    pub fn contains(&self, d: IpAddr) -> bool {
        let own = self.own.iter().any(|n| n.contains(&d));
        let never = self.never(d);
        let internal = self.internal_links.iter().any(|n| n.contains(&d));
        let wanted = if self.internal { own } else { own || !internal };
        wanted && !never && !self.local.contains(&d)
    }

    /// Whether a reported range speaks for `d`: anything but the never-peers
    /// and the host's own addresses. A range may span those (a short CIDR
    /// list), but not another link's prefix whose replies leave otherwise.
    pub fn claimable(&self, d: IpAddr) -> bool {
        !self.never(d) && !self.local.contains(&d)
    }

    /// The parts of the space that are not peers, to step around.
    fn holes(&self) -> impl Iterator<Item = (u128, u128)> + '_ {
        self.never.iter().chain(&self.internal_links).map(bounds)
    }
}

// ------------------------------------------------------------ judging

fn parse_ranges(v: &[IpNet]) -> Vec<IpNet> {
    v.to_vec()
}

/// Judges the kernel's answer for `ip route get dst from ep.address`
/// against the endpoint's verdict.
pub fn judge(host: &Host, ep: &Endpoint, class: &LinkClass, dst: IpAddr, k: &Answer) -> Judged {
    if ep.verdict.is_none() {
        return Judged::Skipped("endpoint takes no requests");
    }
    let space = PeerSpace::of(host, ep, class);
    if !space.claimable(dst) {
        return Judged::Skipped("not a peer");
    }
    let leaks: Vec<usize> = (0..ep.leaks.len())
        .filter(|&i| {
            parse_ranges(&ep.leaks[i].destinations)
                .iter()
                .any(|n| n.contains(&dst))
        })
        .collect();
    let nr: Vec<usize> = (0..ep.no_route.len())
        .filter(|&i| {
            parse_ranges(&ep.no_route[i].destinations)
                .iter()
                .any(|n| n.contains(&dst))
        })
        .collect();
    let kind = match (leaks.len(), nr.len()) {
        (0, 0) if !space.contains(dst) => return Judged::Skipped("not a peer"),
        (0, 0) => Kind::Ok,
        (1, 0) => Kind::Leak,
        (0, 1) => Kind::NoRoute,
        _ => {
            return Judged::Bad(
                if leaks.is_empty() {
                    Kind::NoRoute
                } else {
                    Kind::Leak
                },
                format!(
                    "{dst} is in {} leak and {} no-route ranges at once",
                    leaks.len(),
                    nr.len()
                ),
            );
        }
    };
    let offline = host.lookup(&Flow::to(dst).from(ep.address));
    let kkind = k.kind.as_deref().unwrap_or("unicast");
    if k.error.is_none() && kkind != "unicast" {
        // Not a peer by the kernel's own word; the model must agree.
        return match &offline.result {
            Ok(h) if h.kind == RouteType::Unicast => Judged::Bad(
                kind,
                format!(
                    "kernel calls {dst} {kkind}, the model unicast via {}",
                    h.dev
                ),
            ),
            _ => Judged::Skipped("kernel: not unicast"),
        };
    }
    let kdev = k.dev.as_deref().unwrap_or("");
    let kernel_says = || match &k.error {
        Some(e) => format!("kernel: {e}"),
        None => format!(
            "kernel: dev {kdev}{}",
            k.gateway.map(|g| format!(" via {g}")).unwrap_or_default()
        ),
    };
    let bad = |what: String| Judged::Bad(kind, format!("{what}; {}", kernel_says()));
    // Straight into a container link (no gateway) from outside the
    // containers: delivered on the host, a destination of no peer (a VPC CNI
    // pod's /32 inside the ENI's own subnet).
    if k.error.is_none()
        && k.gateway.is_none()
        && !ep.internal
        && kdev != ep.interface
        && class.is_internal(kdev)
    {
        return match kind {
            Kind::Ok => Judged::Skipped("into a container link"),
            _ => bad(format!(
                "{dst} reported, but delivered into container link {kdev}"
            )),
        };
    }
    match kind {
        Kind::Ok => {
            if k.error.is_some() || kdev != ep.interface {
                return bad(format!(
                    "{dst} in no reported range (replies leave by {})",
                    ep.interface
                ));
            }
        }
        Kind::NoRoute => {
            let r = &ep.no_route[nr[0]];
            // Some flows only: the kernel's hash picked a leg that passes.
            let passing_leg = r.hash_dependent
                && k.error.is_none()
                && offline
                    .result
                    .as_ref()
                    .is_ok_and(|h| h.dev == kdev || h.nexthops.iter().any(|n| n.dev == kdev));
            if !passing_leg && k.error.as_deref() != Some(r.error.message()) {
                return bad(format!("{dst} reported no-route ({})", r.error));
            }
        }
        Kind::Leak => {
            let l = &ep.leaks[leaks[0]];
            if k.error.is_some() {
                return bad(format!("{dst} reported leaking by {}", l.egress));
            }
            if l.hash_dependent {
                let mut devs: Vec<&str> = Vec::new();
                if let Ok(h) = &offline.result {
                    devs.push(&h.dev);
                    devs.extend(h.nexthops.iter().map(|n| n.dev.as_str()));
                }
                if !devs.contains(&kdev) {
                    return bad(format!(
                        "{dst} reported hash-dependent leak, nexthops {devs:?}"
                    ));
                }
            } else if kdev != l.egress || k.gateway != l.gateway || kdev == ep.interface {
                return bad(format!(
                    "{dst} reported leaking by {}{}",
                    l.egress,
                    l.gateway.map(|g| format!(" via {g}")).unwrap_or_default()
                ));
            }
            // Scope, from the kernel's answer: in the endpoint link's own
            // prefix; else in another link's; else through a gateway, or a
            // direct route (a prefix is on that link, a default is a tunnel).
            let v6 = dst.is_ipv6();
            let direct_default = offline
                .route
                .as_ref()
                .and_then(|r| {
                    let fam = if v6 { Family::Inet6 } else { Family::Inet };
                    host.table(fam, &r.table)?.routes.get(r.index)
                })
                .is_some_and(|e| e.route.dst.prefix_len() == 0);
            let want = if connected(host, v6, Some(&ep.interface))
                .iter()
                .any(|n| n.contains(&dst))
            {
                Some(Scope::SameSubnet)
            } else if connected(host, v6, None).iter().any(|n| n.contains(&dst)) {
                Some(Scope::CrossSubnet)
            } else if l.hash_dependent {
                // The kernel's nexthop may be another than the reported one.
                None
            } else if k.gateway.is_some() || direct_default {
                Some(Scope::OffLink)
            } else {
                Some(Scope::CrossSubnet)
            };
            if want.is_some_and(|w| w != l.scope) {
                return bad(format!(
                    "{dst} reported with scope {:?}, the kernel's answer makes it {want:?}",
                    l.scope
                ));
            }
        }
    }
    Judged::Checked(kind)
}

// ------------------------------------------------------------ sampling

/// How many destinations a host's endpoints are asked about.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// CIDR blocks sampled per leak or no-route range list (first, last and
    /// random others); each gives its first, a middle and its last peer.
    pub cidrs: usize,
    /// Destinations in no reported range, per endpoint.
    pub ok: usize,
}

/// First, middle and last peer of a block, stepping around non-peers; and
/// the middle of every internal link's prefix inside it (not peers, but the
/// block claims them).
fn block_samples(n: &IpNet, space: &PeerSpace) -> Vec<IpAddr> {
    let v6 = n.addr().is_ipv6();
    let (lo, hi) = bounds(n);
    let mid = lo + (hi - lo) / 2;
    let mut c: BTreeSet<u128> = [lo, lo.saturating_add(1), mid, hi.saturating_sub(1), hi]
        .into_iter()
        .collect();
    for (s, e) in space.holes() {
        if s > lo && s <= hi {
            c.insert(s - 1);
        }
        if e >= lo && e < hi {
            c.insert(e + 1);
        }
    }
    let ok: Vec<u128> = c
        .into_iter()
        .filter(|&x| x >= lo && x <= hi && space.contains(addr(v6, x)))
        .collect();
    let mut out = Vec::new();
    if let (Some(&f), Some(&l)) = (ok.first(), ok.last()) {
        out.push(f);
        if let Some(&m) = ok.iter().min_by_key(|&&x| x.abs_diff(mid)) {
            out.push(m);
        }
        out.push(l);
    }
    for m in &space.internal_links {
        let (s, e) = bounds(m);
        let x = s + (e - s) / 2;
        if x >= lo && x <= hi && space.claimable(addr(v6, x)) {
            out.push(x);
        }
    }
    out.sort_unstable();
    out.dedup();
    out.into_iter().map(|x| addr(v6, x)).collect()
}

/// Destinations anyone might ask about: the edges and middles of every
/// prefix the host names, its gateways, and random TEST-NET / documentation
/// and public addresses.
fn candidates(host: &Host, v6: bool, rnd: &mut dyn FnMut() -> u64) -> Vec<IpAddr> {
    let mut out: BTreeSet<IpAddr> = BTreeSet::new();
    let mut edges = |n: &IpNet| {
        if n.prefix_len() == 0 {
            return;
        }
        let (lo, hi) = bounds(n);
        let top = if v6 { u128::MAX } else { u32::MAX as u128 };
        for x in [
            lo.checked_sub(1),
            Some(lo),
            lo.checked_add(1),
            Some(lo + (hi - lo) / 2),
            hi.checked_sub(1),
            Some(hi),
            hi.checked_add(1).filter(|&x| x <= top),
        ]
        .into_iter()
        .flatten()
        {
            out.insert(addr(v6, x));
        }
    };
    for t in host.tables[usize::from(v6)].values() {
        for e in t.routes.iter() {
            edges(&e.route.dst);
        }
    }
    for r in &host.rules[usize::from(v6)] {
        for p in r.rule.from.iter().chain(r.rule.to.iter()) {
            edges(p);
        }
    }
    for n in connected(host, v6, None) {
        edges(&n);
    }
    for t in host.tables[usize::from(v6)].values() {
        for e in t.routes.iter() {
            let rt = &e.route;
            out.extend(rt.gateway.iter().copied());
            out.extend(rt.nexthops.iter().filter_map(|n| n.gateway));
        }
    }
    if v6 {
        for _ in 0..6 {
            let x = (0x2001_0db8u128 << 96) | (rnd() as u128) << 32 | rnd() as u128 & 0xffff;
            out.insert(addr(true, x));
        }
        for _ in 0..3 {
            let x = (0x2u128 << 124) | ((rnd() as u128) << 64 | rnd() as u128) >> 4;
            out.insert(addr(true, x));
        }
    } else {
        for base in [0xc000_0200u32, 0xc633_6400, 0xcb00_7100] {
            for _ in 0..2 {
                out.insert(IpAddr::V4(Ipv4Addr::from(base | (rnd() as u32 & 0xff))));
            }
        }
        for _ in 0..4 {
            out.insert(IpAddr::V4(Ipv4Addr::from(rnd() as u32)));
        }
    }
    out.into_iter().filter(|a| a.is_ipv6() == v6).collect()
}

/// Picks `k` of `v`: the first, the last, and random others.
fn pick_some<T: Clone>(v: &[T], k: usize, rnd: &mut dyn FnMut() -> u64) -> Vec<T> {
    if v.len() <= k {
        return v.to_vec();
    }
    let mut idx: BTreeSet<usize> = [0, v.len() - 1].into_iter().collect();
    while idx.len() < k.max(2) {
        idx.insert((rnd() % v.len() as u64) as usize);
    }
    idx.into_iter().map(|i| v[i].clone()).collect()
}

/// The `route get D from A` flows to ask for every endpoint with a verdict.
pub fn plan(
    host: &Host,
    eps: &[Endpoint],
    class: &LinkClass,
    lim: Limits,
    rnd: &mut dyn FnMut() -> u64,
) -> Vec<FlowSpec> {
    let cands = [candidates(host, false, rnd), candidates(host, true, rnd)];
    let mut out = Vec::new();
    let mut seen: BTreeSet<(IpAddr, IpAddr)> = BTreeSet::new();
    for ep in eps.iter().filter(|e| e.verdict.is_some()) {
        let space = PeerSpace::of(host, ep, class);
        let mut dsts: Vec<IpAddr> = Vec::new();
        let mut reported: Vec<IpNet> = Vec::new();
        let lists = ep
            .leaks
            .iter()
            .map(|l| &l.destinations)
            .chain(ep.no_route.iter().map(|n| &n.destinations));
        for list in lists {
            let blocks = parse_ranges(list);
            reported.extend(blocks.iter().copied());
            for b in pick_some(&blocks, lim.cidrs, rnd) {
                dsts.extend(block_samples(&b, &space));
            }
        }
        let mut ok: Vec<IpAddr> = cands[usize::from(ep.address.is_ipv6())]
            .iter()
            .copied()
            .filter(|d| space.contains(*d) && !reported.iter().any(|n| n.contains(d)))
            .collect();
        // Shuffle, then keep the first `ok`.
        for i in (1..ok.len()).rev() {
            ok.swap(i, (rnd() % (i as u64 + 1)) as usize);
        }
        ok.truncate(lim.ok);
        dsts.extend(ok);
        for d in dsts {
            if seen.insert((ep.address, d)) {
                let mut f = FlowSpec::to(d);
                f.src = Some(ep.address);
                out.push(f);
            }
        }
    }
    out
}

// ------------------------------------------------------------ stored cases

/// One kernel answer for a reply from an endpoint, kept as a regression.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VCase {
    pub from: IpAddr,
    pub interface: String,
    pub dst: IpAddr,
    pub kernel: Answer,
    /// What the verdict used to say, for cases kept as regressions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VCaseFile {
    pub description: String,
    pub cases: Vec<VCase>,
}

/// Writes a verdicts.json.
pub fn write_vcases(path: &Path, cf: &VCaseFile) -> std::io::Result<()> {
    crate::kernel::write_case_lines(path, &cf.description, &cf.cases)
}

/// The endpoint a stored case names.
pub fn endpoint<'a>(eps: &'a [Endpoint], from: IpAddr, interface: &str) -> Option<&'a Endpoint> {
    eps.iter()
        .find(|e| e.address == from && e.interface == interface)
}

// ------------------------------------------------------------ counts

/// Checks per family (IPv4, IPv6) and kind, and what was not judged.
#[derive(Debug, Default, Clone)]
pub struct Counts {
    pub checked: [[usize; 3]; 2],
    pub skipped: [usize; 2],
    /// Why not judged, both families.
    pub skipped_by: std::collections::BTreeMap<&'static str, usize>,
    pub bad: [usize; 2],
    pub endpoints: [usize; 2],
    /// Of which on internal links (own prefixes only).
    pub internal: [usize; 2],
}

impl Counts {
    pub fn add(&mut self, v6: bool, j: &Judged) {
        let f = usize::from(v6);
        match j {
            Judged::Checked(k) => self.checked[f][k.idx()] += 1,
            Judged::Skipped(why) => {
                self.skipped[f] += 1;
                *self.skipped_by.entry(why).or_default() += 1;
            }
            Judged::Bad(k, _) => {
                self.checked[f][k.idx()] += 1;
                self.bad[f] += 1;
            }
        }
    }

    /// Counts an endpoint with a verdict.
    pub fn endpoint(&mut self, e: &Endpoint) {
        let f = usize::from(e.address.is_ipv6());
        self.endpoints[f] += 1;
        self.internal[f] += usize::from(e.internal);
    }

    pub fn total(&self) -> usize {
        self.checked.iter().flatten().sum()
    }
}

impl std::fmt::Display for Counts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, fam) in ["IPv4", "IPv6"].iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(
                f,
                "{fam}: {} endpoints ({} internal), ",
                self.endpoints[i], self.internal[i]
            )?;
            for k in Kind::ALL {
                write!(f, "{} {}, ", self.checked[i][k.idx()], k.as_str())?;
            }
            write!(
                f,
                "{} not judged, {} disagreeing",
                self.skipped[i], self.bad[i]
            )?;
        }
        if !self.skipped_by.is_empty() {
            write!(f, "; not judged: {:?}", self.skipped_by)?;
        }
        Ok(())
    }
}
