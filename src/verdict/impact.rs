//! What a leak does to the traffic (docs/verdicts.md, "Impact"): whether
//! the request is dropped before the host answers (reverse-path filtering
//! on the endpoint's link), the reply is dropped after it leaves (a cloud
//! network's anti-spoofing check, or no route on the host), or the reply
//! is delivered by another path.
//!
//! Reverse-path filtering (`fib_validate_source`) looks the request's
//! source up exactly as the reply is looked up (source the endpoint,
//! destination the peer, iif lo, mark 0 — marks are not in a bundle): a
//! leak is a range whose reply leaves by another link, so under strict
//! mode (1) its requests are dropped unless the deciding route has a
//! nexthop on the endpoint's link; under loose mode (2) only ranges
//! without a route are. IPv6 has no such filter in the FIB.
//!
//! EC2 drops a packet that leaves an ENI with a source address the ENI
//! does not hold (the source/destination check, on by default and not
//! visible in a bundle).

use super::{Endpoint, FastMap, Leak, LeaksIter, LinkClass, Verdict};
use crate::grammar::Family;
use crate::model::Host;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// What happens to the traffic of a leaked or unroutable range, mildest
/// first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Impact {
    /// The reply reaches the peer by another path: the connection works
    /// unless a stateful firewall, NAT or conntrack on the path objects.
    Delivered,
    /// The reply is lost: the platform drops it, or the host has no route.
    ReplyDropped,
    /// The request never reaches the endpoint: reverse-path filtering on
    /// its link drops it.
    RequestDropped,
}

impl Impact {
    pub fn as_str(self) -> &'static str {
        match self {
            Impact::Delivered => "delivered",
            Impact::ReplyDropped => "reply-dropped",
            Impact::RequestDropped => "request-dropped",
        }
    }

    /// Traffic is lost: the host is broken for these peers.
    pub fn is_broken(self) -> bool {
        self != Impact::Delivered
    }
}

pub use super::fix::Platform;

/// Whether `dev` is an EC2 network interface (an ENI as the guest names
/// it), not a container link, a tunnel or a bridge: the check applies to
/// packets leaving by an ENI only (a tunnel carries them inside its own).
fn is_eni(host: &Host, dev: &str, class: &LinkClass) -> bool {
    let named = ["eth", "ens", "enp", "enX"].iter().any(|p| {
        dev.strip_prefix(p)
            .is_some_and(|rest| !rest.is_empty() && !rest.contains(['.', '@']))
    });
    named
        && !class.is_internal(dev)
        && host
            .link(dev)
            .is_none_or(|l| !l.loopback && !l.point_to_point && l.master.is_none())
}

/// A leak (by address) given an impact and what drops it.
type Changed = (*const Leak, Impact, Option<String>);

/// Sets every leak's and no-route range's impact, and each endpoint's
/// worst (a `same_as` endpoint takes its twin's).
pub fn assess(host: &Host, eps: &mut [Endpoint], class: &LinkClass, platform: Platform) {
    // Leaks shared by endpoints (`Endpoint::leaks`) that get the same
    // impact stay shared: each changed leak once per (leak, impact).
    // The map holds the old leak too: its address stays its own.
    let mut changed: FastMap<Changed, [Arc<Leak>; 2]> = Default::default();
    // Shared lists (`Leaks::Off`) with a leak not said delivered yet.
    let mut delivered: FastMap<*const Arc<Leak>, bool> = Default::default();
    for ep in eps.iter_mut() {
        if ep.verdict.is_none() || ep.same_as.is_some() {
            continue;
        }
        let rp = (ep.family == Family::Inet).then(|| host.sysctls.rp_filter(&ep.interface));
        let rp_on = rp.as_ref().filter(|r| r.mode != 0);
        let by_rp = |r: &crate::model::system::RpFilter| r.on(&ep.interface);
        // Off EC2 and without strict filtering every leak is delivered: a
        // shared list that says so already is read once, not by each of
        // its endpoints (a concentrator's 4,000 of 4,000 leaks each).
        let plain = !platform.ec2 && !rp_on.is_some_and(|r| r.strict());
        let as_is = plain
            && ep.leaks.shared().is_some()
            && !(ep.leaks).any_where(&mut delivered, |l| {
                (l.impact, &l.dropped_by) != (Impact::Delivered, &None)
            });
        // Made a list of its own only where a leak changes.
        let mut swaps: Vec<(usize, Arc<Leak>)> = Vec::new();
        let leaks = if as_is {
            LeaksIter::of(&[])
        } else {
            ep.leaks.iter()
        };
        for (k, l) in leaks.enumerate() {
            let (impact, by) = match rp_on {
                Some(r) if r.strict() && !l.own_leg => (Impact::RequestDropped, Some(by_rp(r))),
                // Only the VPC drops a reply that leaves (each leak's legs
                // read per endpoint: a concentrator's links²).
                _ if !platform.ec2 => (Impact::Delivered, None),
                _ => {
                    // The legs that leave elsewhere (`egress` alone when
                    // the route is single-path), without a list per leak.
                    let mut elsewhere = l
                        .legs
                        .iter()
                        .filter(|g| g.dev != ep.interface && !class.is_internal(&g.dev))
                        .map(|g| g.dev.as_str())
                        .peekable();
                    let alone = elsewhere.peek().is_none().then_some(l.egress.as_str());
                    let dropped = elsewhere.chain(alone).find(|d| {
                        is_eni(host, d, class) && !host.addrs_of(ep.address).any(|a| a.link == *d)
                    });
                    match dropped {
                        Some(d) => (
                            Impact::ReplyDropped,
                            Some(format!(
                                "the VPC's source/destination check: replies from {}'s address leave {d}",
                                ep.interface
                            )),
                        ),
                        None => (Impact::Delivered, None),
                    }
                }
            };
            if (l.impact, &l.dropped_by) != (impact, &by) {
                let new = changed
                    .entry((Arc::as_ptr(l), impact, by))
                    .or_insert_with_key(|(_, impact, by)| {
                        let mut x = Leak::clone(l);
                        (x.impact, x.dropped_by) = (*impact, by.clone());
                        [l.clone(), Arc::new(x)]
                    })[1]
                    .clone();
                swaps.push((k, new));
            }
        }
        if !swaps.is_empty() {
            let own = ep.leaks.to_mut();
            for (k, l) in swaps {
                own[k] = l;
            }
        }
        for n in &mut ep.no_route {
            (n.impact, n.dropped_by) = match rp_on {
                Some(r) => (Impact::RequestDropped, Some(by_rp(r))),
                None => (
                    Impact::ReplyDropped,
                    Some(format!("the host: no route ({})", n.error)),
                ),
            };
        }
        let leaks = match as_is {
            true => ep.leaks.first().map(|_| Impact::Delivered),
            false => ep.leaks.iter().map(|l| l.impact).max(),
        };
        ep.impact = leaks
            .into_iter()
            .chain(ep.no_route.iter().map(|n| n.impact))
            .max();
    }
    // Twins: the same link and rules, so the same fate.
    for (i, t) in super::twins(eps).into_iter().enumerate() {
        if eps[i].same_as.is_some() {
            eps[i].impact = t.and_then(|t| eps[t].impact);
        }
    }
}

/// The host's worst impact.
pub fn host_impact(eps: &[Endpoint]) -> Option<Impact> {
    eps.iter()
        .filter(|e| e.verdict.is_some_and(|v| v != Verdict::Ok))
        .filter_map(|e| e.impact)
        .max()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grammar::{Ctx, DumpKind};
    use crate::model::{Input, System};

    const ADDR: &str = "\
1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN
    inet 127.0.0.1/8 scope host lo
2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 9001 qdisc mq state UP
    inet 10.0.0.10/24 brd 10.0.0.255 scope global eth0
3: eth1: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 9001 qdisc mq state UP
    inet 10.0.1.10/24 brd 10.0.1.255 scope global eth1
    inet 10.0.1.11/24 brd 10.0.1.255 scope global secondary eth1
4: wg0: <POINTOPOINT,NOARP,UP,LOWER_UP> mtu 1420 qdisc noqueue state UNKNOWN
    inet 10.9.0.1/24 scope global wg0
";
    const ROUTE: &str = "\
default via 10.0.0.1 dev eth0
10.0.0.0/24 dev eth0 proto kernel scope link src 10.0.0.10
10.0.1.0/24 dev eth1 proto kernel scope link src 10.0.1.10
10.9.0.0/24 dev wg0 proto kernel scope link src 10.9.0.1
192.168.0.0/16 dev wg0
";

    fn host(route: &str, sysctl: &str, release: Option<&str>) -> Host {
        let input = |name: &str, kind, text: &str| Input {
            name: name.into(),
            text: text.into(),
            kind,
            ctx: Ctx::default(),
            lines_before: 0,
        };
        let mut sys = System::default();
        if !sysctl.is_empty() {
            sys.add_sysctl_text("sysctl.txt", sysctl);
        }
        if let Some(r) = release {
            sys.add_uname("uname", r);
        }
        Host::build_with(
            vec![
                input("ip_addr.txt", DumpKind::IpAddr, ADDR),
                input("ip_route.txt", DumpKind::IpRoute, route),
            ],
            &Default::default(),
            sys,
        )
    }

    fn assessed(h: &Host, ec2: bool) -> Vec<Endpoint> {
        let class = LinkClass::default();
        let mut eps = super::super::endpoints(h, &class);
        assess(h, &mut eps, &class, Platform { ec2 });
        eps
    }

    fn ep<'a>(eps: &'a [Endpoint], a: &str) -> &'a Endpoint {
        eps.iter().find(|e| e.address.to_string() == a).unwrap()
    }

    #[test]
    fn strict_rp_filter_drops_requests_of_every_leak() {
        let h = host(
            ROUTE,
            "net.ipv4.conf.all.rp_filter = 0\nnet.ipv4.conf.eth1.rp_filter = 1\n",
            None,
        );
        let eps = assessed(&h, false);
        let e = ep(&eps, "10.0.1.10");
        assert_eq!(e.impact, Some(Impact::RequestDropped));
        let l = e.leaks.iter().find(|l| l.egress == "eth0").unwrap();
        assert_eq!(l.impact, Impact::RequestDropped);
        let by = l.dropped_by.as_deref().unwrap();
        assert_eq!(
            by,
            "rp_filter=1 on eth1 (strict; net.ipv4.conf.eth1.rp_filter = 1)"
        );
        // The twin on the same link shares the fate.
        assert_eq!(ep(&eps, "10.0.1.11").impact, Some(Impact::RequestDropped));
        // eth0's rp_filter is off (all=0, no own value, no default): its
        // leaks (to eth1's subnet, to wg0) are delivered.
        assert_eq!(ep(&eps, "10.0.0.10").impact, Some(Impact::Delivered));
    }

    #[test]
    fn loose_or_all_maximum() {
        // all=2 beats the device's 1: loose, so routable leaks are delivered.
        let h = host(
            ROUTE,
            "net.ipv4.conf.all.rp_filter = 2\nnet.ipv4.conf.eth1.rp_filter = 1\n",
            None,
        );
        let eps = assessed(&h, false);
        let e = ep(&eps, "10.0.1.10");
        assert!(e.leaks.iter().all(|l| l.impact == Impact::Delivered));
        assert_eq!(e.impact, Some(Impact::Delivered));
        // all=1 with the device at 0: strict.
        let h = host(
            ROUTE,
            "net.ipv4.conf.all.rp_filter = 1\nnet.ipv4.conf.eth1.rp_filter = 0\n",
            None,
        );
        assert_eq!(
            ep(&assessed(&h, false), "10.0.1.10").impact,
            Some(Impact::RequestDropped)
        );
    }

    #[test]
    fn loose_rp_filter_drops_requests_without_a_route() {
        let route = "\
10.0.0.0/24 dev eth0 proto kernel scope link src 10.0.0.10
10.0.1.0/24 dev eth1 proto kernel scope link src 10.0.1.10
10.9.0.0/24 dev wg0 proto kernel scope link src 10.9.0.1
";
        let h = host(route, "net.ipv4.conf.all.rp_filter = 2\n", None);
        let e = ep(&assessed(&h, false), "10.0.1.10").clone();
        assert!(!e.no_route.is_empty());
        assert!(
            e.no_route
                .iter()
                .all(|n| n.impact == Impact::RequestDropped)
        );
        // rp_filter off: the request arrives and the reply has no route.
        let h = host(route, "net.ipv4.conf.all.rp_filter = 0\n", None);
        let e = ep(&assessed(&h, false), "10.0.1.10").clone();
        assert!(e.no_route.iter().all(|n| n.impact == Impact::ReplyDropped));
        assert!(
            e.no_route[0]
                .dropped_by
                .as_deref()
                .unwrap()
                .starts_with("the host: no route")
        );
    }

    #[test]
    fn ec2_drops_replies_leaving_another_eni_but_not_a_tunnel() {
        let h = host(ROUTE, "net.ipv4.conf.all.rp_filter = 0\n", None);
        let eps = assessed(&h, true);
        let e = ep(&eps, "10.0.1.10");
        let out_eth0 = e.leaks.iter().find(|l| l.egress == "eth0").unwrap();
        assert_eq!(out_eth0.impact, Impact::ReplyDropped);
        assert!(
            out_eth0
                .dropped_by
                .as_deref()
                .unwrap()
                .contains("source/destination check")
        );
        let out_wg = e.leaks.iter().find(|l| l.egress == "wg0").unwrap();
        assert_eq!(
            out_wg.impact,
            Impact::Delivered,
            "a tunnel carries the reply in its own packet"
        );
        // Not EC2: delivered.
        let eps = assessed(&h, false);
        assert!(
            ep(&eps, "10.0.1.10")
                .leaks
                .iter()
                .all(|l| l.impact == Impact::Delivered)
        );
    }

    #[test]
    fn strict_accepts_a_multipath_route_with_a_leg_on_the_link() {
        let route = "\
default proto static
	nexthop via 10.0.0.1 dev eth0 weight 1
	nexthop via 10.0.1.1 dev eth1 weight 1
10.0.0.0/24 dev eth0 proto kernel scope link src 10.0.0.10
10.0.1.0/24 dev eth1 proto kernel scope link src 10.0.1.10
10.9.0.0/24 dev wg0 proto kernel scope link src 10.9.0.1
";
        let h = host(route, "net.ipv4.conf.all.rp_filter = 1\n", None);
        let e = ep(&assessed(&h, false), "10.0.1.11").clone();
        let l = e
            .leaks
            .iter()
            .find(|l| l.hash_dependent)
            .expect("a multipath leak");
        assert_eq!(
            l.impact,
            Impact::Delivered,
            "fib_info_nh_uses_dev: any leg on eth1 passes"
        );
    }

    #[test]
    fn the_distribution_default_is_assumed_and_said() {
        let h = host(
            ROUTE,
            "",
            Some("Linux h 4.18.0-513.5.1.el8_9.x86_64 #1 SMP"),
        );
        assert_eq!(h.sysctls.rp_filter("eth1").mode, 1);
        assert!(h.sysctls.rp_filter("eth1").assumed);
        assert!(
            h.assumptions
                .iter()
                .any(|a| a.text.contains("rp_filter not collected") && a.text.contains("1 assumed"))
        );
        assert_eq!(
            ep(&assessed(&h, false), "10.0.1.10").impact,
            Some(Impact::RequestDropped)
        );
        let h = host(ROUTE, "", Some("6.8.0-1009-aws"));
        assert_eq!(h.sysctls.rp_filter("eth1").mode, 2);
        let h = host(ROUTE, "", Some("6.1.0-18-cloud-amd64"));
        assert_eq!(h.sysctls.rp_filter("eth1").mode, 0);
        assert!(
            h.assumptions
                .iter()
                .any(|a| a.text.contains("0 assumed, the kernel's default"))
        );
        // Collected sysctls without rp_filter: still assumed, and said.
        let h = host(
            ROUTE,
            "net.ipv4.ip_forward = 0\n",
            Some("5.14.0-362.el9.x86_64"),
        );
        assert_eq!(h.sysctls.rp_filter("eth1").mode, 2);
        // Collected rp_filter: nothing assumed.
        let h = host(
            ROUTE,
            "net.ipv4.conf.eth1.rp_filter = 0\n",
            Some("4.18.0-513.el8.x86_64"),
        );
        assert_eq!(h.sysctls.rp_filter("eth1").mode, 0);
        assert!(!h.assumptions.iter().any(|a| a.text.contains("rp_filter")));
    }

    #[test]
    fn netfilter_ipv6_rpfilter_is_told_not_modelled() {
        let mut sys = System::default();
        // IPv4 only: iptables' rpfilter, an nft fib rule for ip.
        sys.add_netfilter(
            "iptables-save",
            "-A PREROUTING -m rpfilter --invert -j DROP\n",
        );
        sys.add_netfilter(
            "nft_list_ruleset",
            "table ip raw {\n chain pre {\n  fib saddr . iif oif missing drop\n }\n}\n",
        );
        sys.add_netfilter(
            "ip6tables-save",
            "# -A PREROUTING -m rpfilter --invert -j DROP\n",
        );
        assert_eq!(sys.ipv6_rpfilter, None);
        sys.add_netfilter(
            "sos_commands/networking/ip6tables_-t_raw_-nvL",
            "Chain PREROUTING (policy ACCEPT 0 packets, 0 bytes)\n pkts bytes target prot opt in out source destination\n    0     0 DROP       all      *      *       ::/0  ::/0  rpfilter invert\n",
        );
        assert_eq!(
            sys.ipv6_rpfilter.as_deref(),
            Some("sos_commands/networking/ip6tables_-t_raw_-nvL")
        );
        let h = Host::build_with(Vec::new(), &Default::default(), sys);
        assert!(h.assumptions.iter().any(|a| a.text.starts_with(
            "netfilter's IPv6 reverse-path filter is loaded (sos_commands/networking/ip6tables_-t_raw_-nvL)"
        )));
    }

    #[test]
    fn ipv6_has_no_fib_reverse_path_filter() {
        let addr = "\
2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 9001 qdisc mq state UP
    inet6 2001:db8:0:1::10/64 scope global
3: eth1: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 9001 qdisc mq state UP
    inet6 2001:db8:0:2::10/64 scope global
";
        let route = "\
2001:db8:0:1::/64 dev eth0 proto kernel metric 256 pref medium
2001:db8:0:2::/64 dev eth1 proto kernel metric 256 pref medium
default via fe80::1 dev eth0 metric 1024 pref medium
";
        let input = |name: &str, kind, text: &str| Input {
            name: name.into(),
            text: text.into(),
            kind,
            ctx: Ctx::default(),
            lines_before: 0,
        };
        let mut sys = System::default();
        sys.add_sysctl_text("sysctl.txt", "net.ipv4.conf.all.rp_filter = 1\n");
        let h = Host::build_with(
            vec![
                input("ip_addr.txt", DumpKind::IpAddr, addr),
                input("ip6_route.txt", DumpKind::IpRoute, route),
            ],
            &Default::default(),
            sys,
        );
        let eps = assessed(&h, false);
        let e = ep(&eps, "2001:db8:0:2::10");
        assert!(!e.leaks.is_empty());
        assert_eq!(e.impact, Some(Impact::Delivered));
        // The same host on EC2: the reply leaves eth0 with eth1's address.
        let eps = assessed(&h, true);
        assert_eq!(
            ep(&eps, "2001:db8:0:2::10").impact,
            Some(Impact::ReplyDropped)
        );
    }
}
