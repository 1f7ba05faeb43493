//! Source address selection: `inet_select_addr` (IPv4) and
//! `ipv6_dev_get_saddr` (IPv6, RFC 6724).

use super::*;
use std::sync::Mutex;

/// The IPv4 source each nexthop selects, as the kernel caches it per
/// nexthop (`nh_saddr`, refreshed when addresses change): a multipath
/// route asks it of every leg on every lookup, and a leaf switch routes
/// 100,000 prefixes over the same 16 legs. Keyed by the address of the
/// device `Name`'s allocation (every `Name` keyed is kept, so no address
/// is reused while the cache lives), the gateway and the scope; one host
/// is analysed on one thread, so the lock is never contended.
#[derive(Debug, Default)]
pub(crate) struct SaddrCache(Mutex<Saddrs>);

#[derive(Debug, Default, Clone)]
struct Saddrs {
    map: HashMap<(usize, Option<IpAddr>, u8), Option<IpAddr>, foldhash::fast::RandomState>,
    names: Vec<Name>,
    /// The last multipath route's legs asked: a table's routes over the
    /// same legs are asked in a row, and a compare is cheaper than a hash
    /// per leg.
    last: LastLegs,
}

/// A route's legs (device key, gateway), its scope, and each leg's source.
#[derive(Debug, Default, Clone)]
struct LastLegs {
    keys: Vec<(usize, Option<IpAddr>)>,
    scope: u8,
    srcs: Vec<Option<IpAddr>>,
}

impl SaddrCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, Saddrs> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A clone of a host (a fix plan's step) keeps the answers: a step
/// changes rules and routes, never addresses, links or sysctls.
impl Clone for SaddrCache {
    fn clone(&self) -> SaddrCache {
        SaddrCache(Mutex::new(self.lock().clone()))
    }
}

impl Host {
    /// `inet_select_addr` for a nexthop on `dev` (`None`: `lo`) via `gw`,
    /// remembered per host while its addresses and links are unchanged.
    pub(super) fn nh_saddr(
        &self,
        dev: Option<&Name>,
        gw: Option<IpAddr>,
        scope: u8,
    ) -> Option<IpAddr> {
        match self.index() {
            Some(ix) => self.saddr_in(&mut ix.nh_saddr.lock(), dev, gw, scope),
            None => self.inet_select_addr(dev.map_or("lo", |d| d.as_str()), gw, scope),
        }
    }

    /// The legs of `r` among `legs` whose own source (`nh_saddr`) is `s`,
    /// asked under one lock: a 16-way route asks every leg on every lookup.
    pub(super) fn legs_sourcing(
        &self,
        r: &crate::grammar::Route,
        legs: &[usize],
        scope: u8,
        s: IpAddr,
    ) -> Vec<usize> {
        let leg = |i: usize| (nh_dev(r, Some(i)), nh_of(r, Some(i)).1);
        let Some(ix) = self.index() else {
            let own = |&i: &usize| {
                let (dev, gw) = leg(i);
                self.nh_saddr(dev, gw, scope) == Some(s)
            };
            return legs.iter().copied().filter(own).collect();
        };
        let mut c = ix.nh_saddr.lock();
        let key = |i: usize| {
            let (dev, gw) = leg(i);
            (dev.map_or(0, Name::addr), gw)
        };
        let n = r.nexthops.len();
        let same = c.last.scope == scope
            && c.last.keys.len() == n
            && c.last.keys.iter().enumerate().all(|(i, k)| *k == key(i));
        if !same {
            let srcs = (0..n)
                .map(|i| {
                    let (dev, gw) = leg(i);
                    self.saddr_in(&mut c, dev, gw, scope)
                })
                .collect();
            c.last = LastLegs {
                keys: (0..n).map(key).collect(),
                scope,
                srcs,
            };
        }
        legs.iter()
            .copied()
            .filter(|&i| c.last.srcs[i] == Some(s))
            .collect()
    }

    /// `nh_saddr` in the cache `c`, added when new.
    fn saddr_in(
        &self,
        c: &mut Saddrs,
        dev: Option<&Name>,
        gw: Option<IpAddr>,
        scope: u8,
    ) -> Option<IpAddr> {
        let key = (dev.map_or(0, Name::addr), gw, scope);
        if let Some(&a) = c.map.get(&key) {
            return a;
        }
        let a = self.inet_select_addr(dev.map_or("lo", |d| d.as_str()), gw, scope);
        c.map.insert(key, a);
        c.names.extend(dev.cloned());
        a
    }

    /// inet_select_addr: the first primary address on `dev` whose scope
    /// fits, preferring one in the gateway's subnet (no gateway: the first
    /// one); else the first fitting primary address of any device in
    /// device order (loopback first), link-scope ones excluded. With
    /// `route_localnet` on `dev` (all or its own) its host-scope addresses
    /// (127.0.0.1 on lo) count as link scope there (localnet_scope) [6.18:
    /// `ip route get X oif lo` answers `src 127.0.0.1` with
    /// lo.route_localnet=1].
    pub(super) fn inet_select_addr(
        &self,
        dev: &str,
        gw: Option<IpAddr>,
        scope: u8,
    ) -> Option<IpAddr> {
        let localnet_scope = if self.sysctls.route_localnet(dev) {
            SCOPE_LINK
        } else {
            SCOPE_HOST
        };
        let fits = |a: &crate::model::AddrInfo| {
            a.addr.local.is_ipv4() && !a.secondary() && addr_scope(a).min(localnet_scope) <= scope
        };
        let mut first = None;
        for a in self.addrs_on(dev).filter(|a| fits(a)) {
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
            self.addrs_on(d)
                .filter(|a| a.addr.local.is_ipv4() && !a.secondary())
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
    pub(super) fn ipv6_saddr(&self, dst_dev: Option<&str>, daddr: IpAddr) -> Option<IpAddr> {
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
            for a in self.addrs_on(&link.name) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grammar::{Ctx, DumpKind};
    use crate::model::Input;

    /// A nexthop's source is kept once asked, and asked again after the
    /// sysctls change: `route_localnet` on `lo` makes 127.0.0.1 a link-scope
    /// source there, else the first global address of another device.
    #[test]
    fn nexthop_sources_are_kept_until_the_sysctls_change() {
        let addr = "\
1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN group default qlen 1000
    inet 127.0.0.1/8 scope host lo
2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc mq state UP group default qlen 1000
    inet 10.0.0.10/24 scope global eth0
";
        let mut h = Host::build(
            vec![Input {
                name: "ip_addr.txt".into(),
                text: addr.into(),
                kind: DumpKind::IpAddr,
                ctx: Ctx::default(),
                lines_before: 0,
            }],
            &Default::default(),
        );
        let lo = Name::new("lo");
        let eth0 = Name::new("eth0");
        let ask = |h: &Host, dev: &Name| h.nh_saddr(Some(dev), None, SCOPE_LINK);
        let ten: IpAddr = "10.0.0.10".parse().unwrap();
        let local: IpAddr = "127.0.0.1".parse().unwrap();
        assert_eq!(ask(&h, &lo), Some(ten));
        assert_eq!(ask(&h, &lo), Some(ten), "kept");
        assert_eq!(ask(&h, &eth0), Some(ten));
        let step = h.clone();
        h.sysctls_mut()
            .insert("net.ipv4.conf.lo.route_localnet", "1");
        assert_eq!(ask(&h, &lo), Some(local));
        assert_eq!(h.inet_select_addr("lo", None, SCOPE_LINK), Some(local));
        assert_eq!(ask(&step, &lo), Some(ten), "a clone keeps its own");
        assert_eq!(ask(&h, &eth0), Some(ten));
    }

    /// A reply from a primary address by a classic IPv4 multipath route
    /// leaves by that address's leg from 6.16 on (checked on 6.18 in
    /// namespace aro-bh-s33nh: four uplinks' /31s, `from 10.254.K.1` always
    /// `dev swpK`), by any leg before (the hash alone); by a nexthop
    /// object's route by any leg on every kernel (same namespace: `from
    /// 10.254.2.1` by `nhid` left by swp3).
    #[test]
    fn multipath_prefers_the_sources_leg_from_6_16_and_never_by_nhid() {
        let addr = "\
2: swp0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 9100 state UP
    inet 10.254.0.1/31 scope global swp0
3: swp1: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 9100 state UP
    inet 10.254.1.1/31 scope global swp1
";
        let route = "\
10.200.0.1 proto bgp metric 20
\tnexthop via 10.254.0.0 dev swp0 weight 1
\tnexthop via 10.254.1.0 dev swp1 weight 1
10.200.0.2 nhid 10 proto bgp metric 20
\tnexthop via 10.254.0.0 dev swp0 weight 1
\tnexthop via 10.254.1.0 dev swp1 weight 1
10.254.0.0/31 dev swp0 proto kernel scope link src 10.254.0.1
10.254.1.0/31 dev swp1 proto kernel scope link src 10.254.1.1
local 10.254.0.1 dev swp0 table local proto kernel scope host src 10.254.0.1
local 10.254.1.1 dev swp1 table local proto kernel scope host src 10.254.1.1
";
        let mut h = crate::verdict::testhosts::host_of(&[
            ("ip_addr.txt", DumpKind::IpAddr, addr),
            ("ip_route.txt", DumpKind::IpRoute, route),
        ]);
        let src: IpAddr = "10.254.1.1".parse().unwrap();
        let legs = |h: &Host, dst: &str| {
            let l = h.lookup_reply(&h.reply_rules(src), dst.parse().unwrap());
            let hit = l.result.expect("a route");
            let mut devs: Vec<String> = hit.nexthops.iter().map(|n| n.dev.to_string()).collect();
            if devs.is_empty() {
                devs.push(hit.dev.to_string());
            }
            (devs, hit.hash_dependent)
        };
        let both = (vec!["swp0".to_string(), "swp1".to_string()], true);
        for (kernel, classic) in [
            ((6, 18, 0), (vec!["swp1".to_string()], false)),
            ((6, 16, 0), (vec!["swp1".to_string()], false)),
            ((6, 15, 11), both.clone()),
            ((5, 14, 0), both.clone()),
        ] {
            h.kernel = crate::model::KernelVersion::new(kernel.0, kernel.1, kernel.2);
            assert_eq!(legs(&h, "10.200.0.1"), classic, "{kernel:?}");
            assert_eq!(legs(&h, "10.200.0.2"), both, "{kernel:?}, nhid");
            let r = |dst: &str| {
                let t = h
                    .table(Family::Inet, &crate::grammar::Table::Id(254))
                    .unwrap();
                let i = t.routes.iter().position(|e| e.route.dst.to_string() == dst);
                h.prefers_own_source(&t.routes[i.unwrap()].route)
            };
            assert_eq!(r("10.200.0.1/32"), !classic.1, "{kernel:?}");
            assert!(!r("10.200.0.2/32"), "{kernel:?}, nhid");
        }
    }
}
