//! Random hosts for the verdicts' equivalence tests (test builds only).

use crate::grammar::{Ctx, DumpKind, Family};
use crate::model::{Host, Input};
use std::fmt::Write;

pub(crate) struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub fn chance(&mut self, pct: u64) -> bool {
        self.below(100) < pct
    }
}

/// A concentrator's `ip addr` (without `lo`) and `ip route` (main) text:
/// an uplink `eth0`, 198.51.100.10/24 with its default, and `n`
/// point-to-point links `pppK` sharing `10.255.0.1`, each with its peer's
/// /32 (`100.64.K/200.(2 + K%200)`) and, where `routed(K)`, a /29 of
/// `100.96/16` routed via the peer.
pub(crate) fn ppp_dumps(n: usize, routed: impl Fn(usize) -> bool) -> (String, String) {
    let mut addr = String::from(
        "2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 state UP\n    inet 198.51.100.10/24 brd 198.51.100.255 scope global eth0\n",
    );
    let mut route = String::from(
        "default via 198.51.100.1 dev eth0\n198.51.100.0/24 dev eth0 proto kernel scope link src 198.51.100.10\n",
    );
    for k in 0..n {
        let peer = format!("100.64.{}.{}", k / 200, 2 + k % 200);
        let _ = write!(
            addr,
            "{}: ppp{k}: <POINTOPOINT,MULTICAST,NOARP,UP,LOWER_UP> mtu 1492 state UNKNOWN\n    inet 10.255.0.1 peer {peer}/32 scope global ppp{k}\n",
            k + 3
        );
        let _ = writeln!(
            route,
            "{peer} dev ppp{k} proto kernel scope link src 10.255.0.1"
        );
        if routed(k) {
            let _ = writeln!(
                route,
                "100.96.{}.{}/29 via {peer} dev ppp{k} proto static",
                k / 32,
                (k % 32) * 8
            );
        }
    }
    (addr, route)
}

/// A random host in dump text: three links with IPv4 (and some IPv6)
/// addresses, default or custom rules (exact and subnet sources, `not`,
/// `to`, `goto` aimed at the priorities fixes use, per-link tables as
/// amazon-ec2-net-utils makes them), routes in main, the per-link tables
/// and sometimes an explicit local table (AnyIP prefixes, throws,
/// specific main routes inside local prefixes).
pub(crate) fn random_host(rng: &mut Rng) -> Host {
    let links = [
        "eth0",
        "eth1",
        if rng.chance(30) { "docker0" } else { "eth2" },
    ];
    // A /32 address has no prefix route: its link's endpoints can be
    // fine while another's are not (fixes then leave some untouched).
    let plen: Vec<u8> = (0..3)
        .map(|_| if rng.chance(30) { 32 } else { 24 })
        .collect();
    let mut addr = String::from(
        "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN\n    inet 127.0.0.1/8 scope host lo\n",
    );
    let mut v4: Vec<(usize, String)> = Vec::new();
    for (i, l) in links.iter().enumerate() {
        let _ = writeln!(
            addr,
            "{}: {l}: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 state UP",
            i + 2
        );
        for k in 0..1 + rng.below(2) {
            let a = format!("10.{i}.0.{}", 10 + k);
            let sec = if k > 0 { " secondary" } else { "" };
            let brd = if plen[i] == 24 {
                format!(" brd 10.{i}.0.255")
            } else {
                String::new()
            };
            let _ = writeln!(addr, "    inet {a}/{}{brd} scope global{sec} {l}", plen[i]);
            v4.push((i, a));
        }
        if rng.chance(50) {
            let _ = writeln!(addr, "    inet6 2001:db8:{i}::10/64 scope global");
        }
    }
    let pick_src = |rng: &mut Rng| -> String {
        match rng.below(4) {
            0 => "all".into(),
            1 => format!("10.{}.0.0/24", rng.below(3)),
            _ => v4[rng.below(v4.len() as u64) as usize].1.clone(),
        }
    };
    let mut rule = String::new();
    let custom = rng.chance(60);
    if custom {
        rule.push_str("0:\tfrom all lookup local\n");
        let mut prios: Vec<u32> = (0..rng.below(7))
            .map(|_| {
                [9999, 10000, 10001, 10002, 10003, 100, 200, 300, 32000][rng.below(9) as usize]
            })
            .collect();
        prios.sort();
        for p in prios {
            let from = pick_src(rng);
            let not = if rng.chance(10) { "not " } else { "" };
            let to = if rng.chance(20) {
                format!(" to 172.16.{}.0/24", rng.below(2))
            } else {
                String::new()
            };
            let action = match rng.below(6) {
                0 | 1 if p < 10000 => {
                    format!(
                        "goto {}",
                        [10000, 10001, 10002, 10003, 32000][rng.below(5) as usize]
                    )
                }
                1 => "lookup main".into(),
                2 => "blackhole".into(),
                _ => format!("lookup {}", 10000 + rng.below(4)),
            };
            // Selectors a reply's dumps cannot settle, now and then.
            let sel = match rng.below(12) {
                0 => " fwmark 0x1",
                1 => " iif eth1",
                2 => " iif lo",
                3 => " oif eth0",
                4 => " uidrange 0-2000",
                5 => " ipproto tcp dport 443",
                6 => " tos 0x10",
                _ => "",
            };
            let _ = writeln!(rule, "{p}:\t{not}from {from}{to}{sel} {action}");
        }
        if rng.chance(20) {
            rule.push_str("1000:\tfrom all lookup [l3mdev-table]\n");
        }
        rule.push_str("32766:\tfrom all lookup main\n32767:\tfrom all lookup default\n");
    }
    let mut route = String::new();
    let gw_link = rng.below(3);
    let _ = writeln!(
        route,
        "default via 10.{gw_link}.0.1 dev {} onlink",
        links[gw_link as usize]
    );
    if rng.chance(30) {
        let o = (gw_link + 1) % 3;
        let _ = writeln!(
            route,
            "default via 10.{o}.0.1 dev {} metric 200 onlink",
            links[o as usize]
        );
    }
    for (i, l) in links.iter().enumerate() {
        if plen[i] == 24 {
            let _ = writeln!(
                route,
                "10.{i}.0.0/24 dev {l} proto kernel scope link src 10.{i}.0.10"
            );
        }
        if rng.chance(40) {
            let _ = writeln!(
                route,
                "default via 10.{i}.0.1 dev {l} table {} onlink",
                10000 + i
            );
        }
        if rng.chance(30) {
            let _ = writeln!(route, "10.{i}.0.0/24 dev {l} table {}", 10000 + i);
        }
    }
    let dsts = [
        "172.16.0.0/24",
        "172.16.1.0/24",
        "10.9.0.0/24",
        "10.9.0.0/16",
        "10.9.0.1/32",
        "192.168.0.0/16",
        "192.168.1.0/24",
    ];
    for _ in 0..rng.below(5) {
        let l = rng.below(3);
        let dst = dsts[rng.below(dsts.len() as u64) as usize];
        let table = match rng.below(5) {
            0 => format!(" table {}", 10000 + rng.below(4)),
            _ => String::new(),
        };
        let _ = writeln!(
            route,
            "{dst} via 10.{l}.0.1 dev {}{table} onlink",
            links[l as usize]
        );
    }
    if rng.chance(50) {
        for (i, a) in &v4 {
            let _ = writeln!(
                route,
                "local {a} dev {} table local proto kernel scope host src {a}",
                links[*i]
            );
        }
        route.push_str(
            "local 127.0.0.0/8 dev lo table local proto kernel scope host src 127.0.0.1\n",
        );
        if rng.chance(40) {
            route.push_str("local 10.9.0.0/24 dev lo table local\n");
        }
        if rng.chance(30) {
            let dst = ["192.168.0.0/16", "192.168.1.0/24", "10.9.0.0/16"][rng.below(3) as usize];
            let _ = writeln!(route, "throw {dst} table local");
        }
        if rng.chance(20) {
            // `main` more specific than `local` everywhere in its prefix.
            let (a, b) = (rng.below(3) as usize, rng.below(3) as usize);
            let _ = writeln!(
                route,
                "192.168.1.0/24 via 10.{a}.0.1 dev {} table local onlink",
                links[a]
            );
            for half in ["192.168.1.0/25", "192.168.1.128/25"] {
                let _ = writeln!(route, "{half} via 10.{b}.0.1 dev {} onlink", links[b]);
            }
        }
        if rng.chance(30) {
            let l = rng.below(3);
            let dst = dsts[rng.below(dsts.len() as u64) as usize];
            let _ = writeln!(
                route,
                "{dst} via 10.{l}.0.1 dev {} table local onlink",
                links[l as usize]
            );
        }
    }
    if rng.chance(30) {
        let (a, b) = (rng.below(3), rng.below(3));
        let dst = ["10.70.0.0/16", "default", "172.16.0.0/24"][rng.below(3) as usize];
        let table = if dst == "default" { " table 10003" } else { "" };
        // A nexthop-object group hashes with no source preference.
        let nhid = if rng.chance(50) { " nhid 40" } else { "" };
        let _ = writeln!(
            route,
            "{dst}{nhid}{table}\n\tnexthop via 10.{a}.0.1 dev {} weight 1 onlink\n\tnexthop via 10.{b}.0.1 dev {} weight 2 onlink",
            links[a as usize], links[b as usize]
        );
    }
    let mut route6 = String::new();
    if rng.chance(70) {
        for (i, l) in links.iter().enumerate() {
            let _ = writeln!(route6, "2001:db8:{i}::/64 dev {l} metric 256");
        }
        let g = rng.below(3);
        let _ = writeln!(
            route6,
            "default via 2001:db8:{g}::1 dev {} metric 1024",
            links[g as usize]
        );
        if rng.chance(40) {
            // A source-specific route (a subtree under its destination).
            let (d, f) = (rng.below(3), rng.below(3));
            let _ = writeln!(
                route6,
                "2001:db8:99::/48 from 2001:db8:{f}::/64 via 2001:db8:{d}::1 dev {} metric 1024",
                links[d as usize]
            );
        }
        if rng.chance(30) {
            let _ = writeln!(
                route6,
                "2001:db8:99::/48 via 2001:db8:{g}::1 dev {} metric 1024",
                links[g as usize]
            );
        }
    }
    let input = |name: &str, kind, fam: Option<Family>, text: String| Input {
        name: name.into(),
        text,
        kind,
        ctx: Ctx {
            family: fam,
            table: None,
        },
        lines_before: 0,
    };
    let mut inputs = vec![
        input("ip_addr.txt", DumpKind::IpAddr, None, addr),
        input("ip_route.txt", DumpKind::IpRoute, Some(Family::Inet), route),
    ];
    if custom {
        inputs.push(input(
            "ip_rule.txt",
            DumpKind::IpRule,
            Some(Family::Inet),
            rule,
        ));
    }
    if !route6.is_empty() {
        inputs.push(input(
            "ip6_route.txt",
            DumpKind::IpRoute,
            Some(Family::Inet6),
            route6,
        ));
    }
    Host::build(inputs, &Default::default())
}

/// A host of captured dumps: (file name, kind, text), families as the
/// text says, but for an `ip6_…` file's: IPv6, as a collector's name
/// says (`0: from all lookup local` alone is read as IPv4).
pub(crate) fn host_of(files: &[(&str, DumpKind, &str)]) -> Host {
    let inputs = files
        .iter()
        .map(|&(name, kind, text)| Input {
            name: name.into(),
            text: text.into(),
            kind,
            ctx: Ctx {
                family: name.starts_with("ip6_").then_some(Family::Inet6),
                ..Ctx::default()
            },
            lines_before: 0,
        })
        .collect();
    Host::build(inputs, &Default::default())
}

/// A multihomed router: each of 3 upstreams' tables (101–103, each 300
/// to 600 routes from one pool of nested and repeated prefixes, some
/// tables sharing most of theirs) chosen by a rule per address, a few
/// small tables, and main with the links and as many routes: tables large
/// enough to be merged, not sorted (`peers::cut_blocks`), and narrow ones
/// that share prefixes (`narrow::holders`).
pub(crate) fn random_upstream_tables(rng: &mut Rng) -> Host {
    let mut addr = String::new();
    let mut rule = String::from("0:\tfrom all lookup local\n");
    let mut route = String::new();
    for k in 0..3 {
        let _ = writeln!(
            addr,
            "{}: eth{k}: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 state UP\n    inet 10.{k}.0.2/24 scope global eth{k}",
            k + 2
        );
        let _ = writeln!(rule, "{}:\tfrom 10.{k}.0.2 lookup {}", 1000 + k, 101 + k);
        let _ = writeln!(
            route,
            "10.{k}.0.0/24 dev eth{k} proto kernel scope link src 10.{k}.0.2\nlocal 10.{k}.0.2 dev eth{k} table local proto kernel scope host src 10.{k}.0.2"
        );
    }
    let pool: Vec<String> = (0..700)
        .map(|_| match rng.below(10) {
            0 => format!("{}.0.0.0/8", 11 + rng.below(8)),
            1 | 2 => format!("{}.{}.0.0/16", 11 + rng.below(8), rng.below(4)),
            _ => format!(
                "{}.{}.{}.0/24",
                11 + rng.below(8),
                rng.below(4),
                rng.below(64)
            ),
        })
        .collect();
    let tables: [u64; 5] = [101, 102, 103, 254, 7 + rng.below(3)];
    for (k, t) in tables.iter().enumerate() {
        let n = if k == 4 {
            1 + rng.below(8)
        } else {
            300 + rng.below(300)
        };
        let gw = k % 3;
        for _ in 0..n {
            let p = &pool[rng.below(pool.len() as u64) as usize];
            let table = if *t == 254 {
                String::new()
            } else {
                format!(" table {t}")
            };
            let _ = writeln!(
                route,
                "{p} via 10.{gw}.0.1 dev eth{gw}{table} proto bgp metric 20"
            );
        }
        if k < 3 {
            let _ = writeln!(
                route,
                "default via 10.{gw}.0.1 dev eth{gw} table {t} proto static"
            );
        }
    }
    rule.push_str("32766:\tfrom all lookup main\n32767:\tfrom all lookup default\n");
    host_of(&[
        ("ip_addr.txt", DumpKind::IpAddr, &addr),
        ("ip_rule.txt", DumpKind::IpRule, &rule),
        ("ip_route.txt", DumpKind::IpRoute, &route),
    ])
}

#[test]
fn random_hosts_parse_cleanly() {
    let mut rng = Rng(7);
    for _ in 0..300 {
        let h = random_host(&mut rng);
        for s in &h.sources {
            if let Some(d) = s.dump.diagnostics.first() {
                panic!("{}: {} `{}`\n{}", s.name, d.message, d.text, s.text);
            }
        }
    }
}

/// A host with eth0 (10.0.0.10/16, the default route's link) and eth1
/// (10.1.0.10/16), and `n` more addresses on eth1, the k-th `at(k)`
/// addresses above 10.1.0.0, each with its own `from ADDR lookup 1000+k`
/// rule and table, whose default goes `via` `dflt` (`10.1.0.1 dev eth1`:
/// replies stay; `10.0.0.1 dev eth0`: they leak); `extra`: more routes of
/// `main`.
pub(crate) fn per_address_rules(
    n: usize,
    at: impl Fn(usize) -> usize,
    dflt: &str,
    extra: &str,
) -> Host {
    per_address_tables(n, at, dflt, extra, |_| String::new())
}

/// `per_address_rules`, with the route lines `own(k)` in address `k`'s
/// table too (as `ip route show table all` prints them: each names its
/// table, 1000 + k).
pub(crate) fn per_address_tables(
    n: usize,
    at: impl Fn(usize) -> usize,
    dflt: &str,
    extra: &str,
    own: impl Fn(usize) -> String,
) -> Host {
    per_address_selected(n, at, dflt, extra, own, "")
}

/// `per_address_tables`, each rule with the selectors `sel` too
/// (` fwmark 0x1`: one the dumps cannot settle for a reply).
pub(crate) fn per_address_selected(
    n: usize,
    at: impl Fn(usize) -> usize,
    dflt: &str,
    extra: &str,
    own: impl Fn(usize) -> String,
    sel: &str,
) -> Host {
    use std::fmt::Write;
    let mut addr = String::from(
        "2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc mq state UP group default qlen 1000\n    inet 10.0.0.10/16 scope global eth0\n3: eth1: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc mq state UP group default qlen 1000\n    inet 10.1.0.10/16 scope global eth1\n",
    );
    let mut rule = String::from("0:\tfrom all lookup local\n");
    let mut route = format!(
        "default via 10.0.0.1 dev eth0\n10.0.0.0/16 dev eth0 proto kernel scope link src 10.0.0.10\n10.1.0.0/16 dev eth1 proto kernel scope link src 10.1.0.10\nlocal 10.0.0.10 dev eth0 table local proto kernel scope host src 10.0.0.10\nlocal 10.1.0.10 dev eth1 table local proto kernel scope host src 10.1.0.10\n{extra}"
    );
    for k in 0..n {
        let o = at(k);
        let a = format!("10.1.{}.{}", o / 256, o % 256);
        let t = 1000 + k;
        let _ = writeln!(addr, "    inet {a}/16 scope global secondary eth1");
        let _ = writeln!(rule, "{t}:\tfrom {a}{sel} lookup {t}");
        let _ = writeln!(
            route,
            "default via {dflt} table {t}\n10.1.0.0/16 dev eth1 table {t} scope link\nlocal {a} dev eth1 table local proto kernel scope host src 10.1.0.10"
        );
        route.push_str(&own(k));
    }
    rule.push_str("32766:\tfrom all lookup main\n32767:\tfrom all lookup default\n");
    host_of(&[
        ("ip_addr.txt", DumpKind::IpAddr, &addr),
        ("ip_rule.txt", DumpKind::IpRule, &rule),
        ("ip_route.txt", DumpKind::IpRoute, &route),
    ])
}

/// `n` addresses on eth1 each a /32 primary of its own, and no rule of
/// the host's: in eth1's subnet with a multipath route to 172.16.0.0/12,
/// or (`vips`) in 192.0.0.0/16 under a multipath default route (a load
/// balancer's service addresses). IPv4 multipath answers each by its own
/// address.
pub(crate) fn primaries_of_their_own(n: usize, vips: bool) -> Host {
    let mut addr = String::from(
        "2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc mq state UP group default qlen 1000\n    inet 10.0.0.10/16 scope global eth0\n3: eth1: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc mq state UP group default qlen 1000\n    inet 10.1.0.10/16 scope global eth1\n",
    );
    let (dflt, mp) = match vips {
        false => (
            "default via 10.0.0.1 dev eth0\n",
            "172.16.0.0/12 proto static metric 10",
        ),
        true => ("", "default proto static"),
    };
    let mut route = format!(
        "{dflt}10.0.0.0/16 dev eth0 proto kernel scope link src 10.0.0.10\n10.1.0.0/16 dev eth1 proto kernel scope link src 10.1.0.10\n{mp}\n\tnexthop via 10.0.0.1 dev eth0 weight 1\n\tnexthop via 10.1.0.1 dev eth1 weight 1\nlocal 10.0.0.10 dev eth0 table local proto kernel scope host src 10.0.0.10\nlocal 10.1.0.10 dev eth1 table local proto kernel scope host src 10.1.0.10\n"
    );
    for k in 0..n {
        let a = match vips {
            false => format!("10.1.{}.{}", (20 + k) / 256, (20 + k) % 256),
            true => format!("192.0.{}.{}", k / 256, k % 256),
        };
        let _ = writeln!(addr, "    inet {a}/32 scope global eth1");
        let _ = writeln!(
            route,
            "local {a} dev eth1 table local proto kernel scope host src {a}"
        );
    }
    host_of(&[
        ("ip_addr.txt", DumpKind::IpAddr, &addr),
        ("ip_route.txt", DumpKind::IpRoute, &route),
    ])
}

/// A leaf switch of a BGP fabric: `links` uplinks (`swpK`, 10.254.K.1/31,
/// the spine at 10.254.K.0) and `n` /32 routes each multipath over all of
/// them; every seventh has its last leg dead. With `rules`, a `fwmark`
/// rule (a selector the dumps cannot settle) before `main` names a table
/// holding a route of its own, so the rule walk is not the merged lookup.
pub(crate) fn leaf_switch(links: usize, n: usize, rules: bool) -> Host {
    let mut addr = String::from(
        "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 state UNKNOWN\n    inet 127.0.0.1/8 scope host lo\n",
    );
    let mut route = String::new();
    for k in 0..links {
        let _ = write!(
            addr,
            "{}: swp{k}: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 9100 state UP\n    inet 10.254.{k}.1/31 scope global swp{k}\n",
            k + 2
        );
        let _ = writeln!(
            route,
            "10.254.{k}.0/31 dev swp{k} proto kernel scope link src 10.254.{k}.1\nlocal 10.254.{k}.1 dev swp{k} table local proto kernel scope host src 10.254.{k}.1"
        );
    }
    for i in 0..n {
        let _ = write!(route, "10.200.{}.{} proto bgp metric 20", i / 256, i % 256);
        for k in 0..links {
            let dead = if i % 7 == 0 && k + 1 == links {
                " dead linkdown"
            } else {
                ""
            };
            let _ = write!(
                route,
                "\n\tnexthop via 10.254.{k}.0 dev swp{k} weight 1{dead}"
            );
        }
        route.push('\n');
    }
    let mut rule = String::from("0:\tfrom all lookup local\n");
    if rules {
        rule.push_str("100:\tfrom all fwmark 0x1 lookup 100\n");
        route.push_str("10.200.0.0/24 via 10.254.0.0 dev swp0 table 100\n");
    }
    rule.push_str("32766:\tfrom all lookup main\n32767:\tfrom all lookup default\n");
    host_of(&[
        ("ip_addr.txt", DumpKind::IpAddr, &addr),
        ("ip_rule.txt", DumpKind::IpRule, &rule),
        ("ip_route.txt", DumpKind::IpRoute, &route),
    ])
}

/// A random host with a table per address (`Narrow`'s kind): `n` addresses
/// on eth1, each with a `from` rule (now and then a subnet's, a selector
/// the dumps cannot settle, or `not`) and a table of its own, whose routes
/// come from a small pool of nested and repeated prefixes by either link:
/// so tables share prefixes, hold one another's, repeat `main`'s, and a
/// table no rule names holds some.
pub(crate) fn random_narrow_host(rng: &mut Rng) -> Host {
    narrow_host(rng, false)
}

/// `random_narrow_host` with each eth1 address a /32 primary of its own and
/// some routes (in `main` and in the tables) multipath over both links:
/// IPv4 multipath answers each address by itself (a group of its own).
pub(crate) fn random_narrow_multipath_host(rng: &mut Rng) -> Host {
    narrow_host(rng, true)
}

fn narrow_host(rng: &mut Rng, mp: bool) -> Host {
    let n = 4 + rng.below(24) as usize;
    let mut addr = String::from(
        "2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 state UP\n    inet 10.0.0.10/16 scope global eth0\n3: eth1: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 state UP\n    inet 10.1.0.10/16 scope global eth1\n",
    );
    let mut rule = String::from("0:\tfrom all lookup local\n");
    let mut route = String::from(
        "default via 10.0.0.1 dev eth0\n10.0.0.0/16 dev eth0 proto kernel scope link src 10.0.0.10\n10.1.0.0/16 dev eth1 proto kernel scope link src 10.1.0.10\nlocal 10.0.0.10 dev eth0 table local proto kernel scope host src 10.0.0.10\nlocal 10.1.0.10 dev eth1 table local proto kernel scope host src 10.1.0.10\n",
    );
    let pool = |rng: &mut Rng| -> String {
        match rng.below(6) {
            0 => format!("172.16.{}.0/24", rng.below(3)),
            1 => "172.16.0.0/16".into(),
            2 => "10.9.0.0/16".into(),
            3 => format!("10.1.{}.0/24", rng.below(2)),
            _ => format!("172.16.{}.{}", rng.below(3), rng.below(8)),
        }
    };
    let via = |rng: &mut Rng| {
        if rng.chance(50) {
            "via 10.0.0.1 dev eth0"
        } else {
            "via 10.1.0.1 dev eth1"
        }
    };
    let routes = |rng: &mut Rng, out: &mut String, table: &str, most: u64| {
        pool_routes(rng, out, most, pool, |rng, p| {
            if mp && rng.chance(40) {
                format!(
                    "{p}{table} proto static\n\tnexthop via 10.0.0.1 dev eth0 weight 1\n\tnexthop via 10.1.0.1 dev eth1 weight 1"
                )
            } else {
                format!("{p} {}{table}", via(rng))
            }
        })
    };
    let spread = 1 + rng.below(3) as usize;
    for k in 0..n {
        let o = 20 + spread * k;
        let a = format!("10.1.{}.{}", o / 256, o % 256);
        let t = 1000 + k;
        if mp {
            let _ = writeln!(addr, "    inet {a}/32 scope global eth1");
            let _ = writeln!(
                route,
                "local {a} dev eth1 table local proto kernel scope host src {a}"
            );
        } else {
            let _ = writeln!(addr, "    inet {a}/16 scope global secondary eth1");
            let _ = writeln!(
                route,
                "local {a} dev eth1 table local proto kernel scope host src 10.1.0.10"
            );
        }
        let from = if rng.chance(10) {
            format!("10.1.0.{}/30", (o % 256) & !3)
        } else {
            a.clone()
        };
        let not = if rng.chance(5) { "not " } else { "" };
        let sel = if rng.chance(10) { " fwmark 0x1" } else { "" };
        let _ = writeln!(rule, "{t}:\t{not}from {from}{sel} lookup {t}");
        if rng.chance(80) {
            let _ = writeln!(route, "default {} table {t}", via(rng));
        }
        routes(rng, &mut route, &format!(" table {t}"), 4);
    }
    routes(rng, &mut route, "", 3);
    routes(rng, &mut route, " table 77", 3);
    rule.push_str("32766:\tfrom all lookup main\n32767:\tfrom all lookup default\n");
    let (rule6, route6) = if rng.chance(50) {
        narrow_v6(rng, &mut addr, n)
    } else {
        Default::default()
    };
    host_of(&[
        ("ip_addr.txt", DumpKind::IpAddr, &addr),
        ("ip_rule.txt", DumpKind::IpRule, &rule),
        ("ip_route.txt", DumpKind::IpRoute, &route),
        ("ip6_rule.txt", DumpKind::IpRule, &rule6),
        ("ip6_route.txt", DumpKind::IpRoute, &route6),
    ])
}

/// `random_narrow_host`'s IPv6 half: `n` addresses on eth1 (their lines
/// into `addr`), each with its rule and table, the tables' routes from a
/// pool of nested and repeated prefixes; the rule and route dumps.
fn narrow_v6(rng: &mut Rng, addr: &mut String, n: usize) -> (String, String) {
    let _ = writeln!(addr, "    inet6 2001:db8:1::10/64 scope global ");
    let mut rule = String::from("0:\tfrom all lookup local\n");
    let mut route = String::from(
        "2001:db8:1::/64 dev eth1 proto kernel metric 256 pref medium\ndefault via 2001:db8:1::1 dev eth1 metric 1024 pref medium\nlocal 2001:db8:1::10 dev eth1 table local proto kernel metric 0 pref medium\n",
    );
    let pool = |rng: &mut Rng| -> String {
        match rng.below(5) {
            0 => "2001:db8:99::/64".into(),
            1 => "2001:db8:98::/48".into(),
            2 => format!("2001:db8:99::{:x}/120", rng.below(2) << 8),
            _ => format!("2001:db8:99::{:x}", rng.below(8)),
        }
    };
    // By eth1's router, by eth0 (replies leak), or unreachable.
    let routes = |rng: &mut Rng, out: &mut String, table: &str, most: u64| {
        pool_routes(rng, out, most, pool, |rng, p| {
            let r = match rng.below(3) {
                0 => format!("{p} via 2001:db8:1::1 dev eth1"),
                1 => format!("{p} via fe80::1 dev eth0"),
                _ => format!("unreachable {p} dev lo"),
            };
            format!("{r}{table} metric 1024 pref medium")
        })
    };
    for k in 0..n {
        let a = format!("2001:db8:1::{:x}", 0x100 + k);
        let t = 2000 + k;
        let _ = writeln!(addr, "    inet6 {a}/64 scope global ");
        let _ = writeln!(
            route,
            "local {a} dev eth1 table local proto kernel metric 0 pref medium"
        );
        let _ = writeln!(rule, "{t}:\tfrom {a} lookup {t}");
        if rng.chance(70) {
            let _ = writeln!(
                route,
                "2001:db8:1::/64 dev eth1 table {t} metric 1024 pref medium"
            );
        }
        routes(rng, &mut route, &format!(" table {t}"), 4);
    }
    routes(rng, &mut route, "", 3);
    routes(rng, &mut route, " table 77", 2);
    // Source routes (`from`), in main and in the tables: answers to their
    // destinations depend on the source itself.
    if rng.chance(40) {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..1 + rng.below(3) {
            let dst = pool(rng);
            let from = match rng.below(3) {
                0 => "2001:db8:1::/64".to_string(),
                1 => format!(
                    "2001:db8:1::{:x}/126",
                    0x100 + 4 * rng.below(n as u64 / 4 + 1)
                ),
                _ => format!("2001:db8:1::{:x}", 0x100 + rng.below(n as u64)),
            };
            let table = match rng.below(3) {
                0 => String::new(),
                1 => " table 77".to_string(),
                _ => format!(" table {}", 2000 + rng.below(n as u64)),
            };
            let via = match rng.chance(50) {
                true => "via 2001:db8:1::1 dev eth1",
                false => "via fe80::1 dev eth0",
            };
            if seen.insert((dst.clone(), from.clone(), table.clone())) {
                let _ = writeln!(
                    route,
                    "{dst} from {from} {via}{table} metric 1024 pref medium"
                );
            }
        }
    }
    rule.push_str("32766:\tfrom all lookup main\n");
    (rule, route)
}

/// Up to `most` route lines into `out` (`line` of each prefix), their
/// prefixes from `pool`, each once (a table holds a prefix once).
fn pool_routes(
    rng: &mut Rng,
    out: &mut String,
    most: u64,
    pool: impl Fn(&mut Rng) -> String,
    line: impl Fn(&mut Rng, &str) -> String,
) {
    let mut seen = std::collections::HashSet::new();
    for _ in 0..rng.below(most) {
        let p = pool(rng);
        if seen.insert(p.clone()) {
            let _ = writeln!(out, "{}", line(rng, &p));
        }
    }
}

/// A random concentrator: eth0's default route, and 10–40 point-to-point
/// links sharing one local address (`10.255.0.1 peer 100.64.0.N`), some
/// with a /29 routed via the peer; now and then a link with a /29 of its
/// own (another route inside it), a multipath route with a leg on a link,
/// an `unreachable` route, a `docker0`, a second eth0 address, and a rule
/// for the shared address with a table of its own, a `fwmark` rule for
/// replies to the peers (conditional: the dumps cannot settle it). Half of them have
/// IPv6 links too: an address and a /64 each (now and then two links in
/// one), some routed /56s, and now and then a source route. Its links' endpoints
/// are one group of replies each differing from the others in a few
/// pieces (`analyse::delta`), and some in more.
pub(crate) fn random_concentrator(rng: &mut Rng) -> Host {
    let n = 10 + rng.below(31) as usize;
    let mut addr = String::from(
        "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN\n    inet 127.0.0.1/8 scope host lo\n2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 state UP\n    inet 198.51.100.10/24 brd 198.51.100.255 scope global eth0\n",
    );
    let mut route = String::from(
        "default via 198.51.100.1 dev eth0\n198.51.100.0/24 dev eth0 proto kernel scope link src 198.51.100.10\n",
    );
    let mut local = String::from(
        "local 198.51.100.10 dev eth0 table local proto kernel scope host src 198.51.100.10\nbroadcast 198.51.100.255 dev eth0 table local proto kernel scope link src 198.51.100.10\n",
    );
    if rng.chance(30) {
        addr.push_str("    inet 198.51.100.11/24 scope global secondary eth0\n");
        local.push_str(
            "local 198.51.100.11 dev eth0 table local proto kernel scope host src 198.51.100.10\n",
        );
    }
    if rng.chance(30) {
        addr.push_str("3: docker0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 state UP\n    inet 172.17.0.1/16 scope global docker0\n");
        route.push_str("172.17.0.0/16 dev docker0 proto kernel scope link src 172.17.0.1\n");
        local.push_str(
            "local 172.17.0.1 dev docker0 table local proto kernel scope host src 172.17.0.1\n",
        );
    }
    for k in 0..n {
        let l = format!("ppp{k}");
        let peer = format!("100.64.{}.{}", k / 200, 2 + k % 200);
        let _ = writeln!(
            addr,
            "{}: {l}: <POINTOPOINT,MULTICAST,NOARP,UP,LOWER_UP> mtu 1492 state UNKNOWN",
            k + 10
        );
        if rng.chance(8) {
            // A prefix of its own, with another link's route inside it.
            let _ = writeln!(addr, "    inet 100.65.{k}.1/29 scope global {l}");
            let _ = writeln!(
                route,
                "100.65.{k}.0/29 dev {l} proto kernel scope link src 100.65.{k}.1"
            );
            let _ = writeln!(
                local,
                "local 100.65.{k}.1 dev {l} table local proto kernel scope host src 100.65.{k}.1"
            );
            if rng.chance(50) && k > 0 {
                let _ = writeln!(route, "100.65.{k}.4/30 via 100.64.0.2 dev ppp0");
            }
            continue;
        }
        let _ = writeln!(addr, "    inet 10.255.0.1 peer {peer}/32 scope global {l}");
        let _ = writeln!(
            route,
            "{peer} dev {l} proto kernel scope link src 10.255.0.1"
        );
        let _ = writeln!(
            local,
            "local 10.255.0.1 dev {l} table local proto kernel scope host src 10.255.0.1"
        );
        if rng.chance(30) {
            let _ = writeln!(route, "100.96.{k}.0/29 via {peer} dev {l} proto static");
        }
        if rng.chance(10) {
            let _ = writeln!(
                route,
                "100.97.{k}.0/24 proto static\n\tnexthop via {peer} dev {l} weight 1\n\tnexthop via 198.51.100.1 dev eth0 weight 1"
            );
        }
        if rng.chance(10) {
            let _ = writeln!(route, "unreachable 100.98.{k}.0/24");
        }
    }
    // IPv6: an address and a /64 per link, some routed /56s, now and then
    // two links in one /64 and a source route.
    let mut route6 = String::new();
    if rng.chance(50) {
        addr.push_str("    inet6 2001:db8:ffff::10/64 scope global\n");
        route6.push_str("2001:db8:ffff::/64 dev eth0 proto kernel metric 256\ndefault via 2001:db8:ffff::1 dev eth0 metric 1024\n");
        let mut links6 = Vec::new();
        for k in 0..n {
            // Links of their own (`pppNx`), after the IPv4 ones.
            let shared = k > 0 && rng.chance(10);
            let p = if shared { k - 1 } else { k };
            links6.push((k, p));
            let _ = writeln!(
                addr,
                "{}: ppp{k}x: <POINTOPOINT,MULTICAST,NOARP,UP,LOWER_UP> mtu 1492 state UNKNOWN\n    inet6 2001:db8:{p:x}::{:x}/64 scope global",
                1000 + k,
                k + 1
            );
            if !shared {
                let _ = writeln!(
                    route6,
                    "2001:db8:{p:x}::/64 dev ppp{k}x proto kernel metric 256"
                );
            }
            if rng.chance(30) {
                let _ = writeln!(
                    route6,
                    "2001:db8:100:{k:x}00::/56 via 2001:db8:{p:x}::ff dev ppp{k}x metric 1024"
                );
            }
        }
        if rng.chance(30) {
            route6.push_str(
                "2001:db8:99::/48 from 2001:db8:3::/64 via 2001:db8:3::ff dev ppp3x metric 1024\n",
            );
        }
    }
    let mut rule = String::from("0:\tfrom all lookup local\n");
    if rng.chance(30) {
        // A rule the dumps cannot settle, met by replies to the peers only.
        rule.push_str("40:\tfrom all to 100.64.0.0/16 fwmark 0x1 lookup 200\n");
        route.push_str("100.64.0.0/16 via 198.51.100.1 dev eth0 table 200\n");
    }
    if rng.chance(30) {
        rule.push_str("100:\tfrom 10.255.0.1 lookup 100\n");
        route.push_str("100.99.0.0/16 via 198.51.100.1 dev eth0 table 100\n");
        if rng.chance(50) {
            route.push_str("100.96.0.0/29 via 100.64.0.2 dev ppp0 table 100\n");
        }
    }
    rule.push_str("32766:\tfrom all lookup main\n32767:\tfrom all lookup default\n");
    route.push_str(&local);
    let mut files = vec![
        ("ip_addr.txt", DumpKind::IpAddr, addr.as_str()),
        ("ip_rule.txt", DumpKind::IpRule, rule.as_str()),
        ("ip_route.txt", DumpKind::IpRoute, route.as_str()),
    ];
    if !route6.is_empty() {
        files.push(("ip6_route.txt", DumpKind::IpRoute, route6.as_str()));
    }
    host_of(&files)
}

#[test]
fn random_concentrators_parse_cleanly() {
    let mut rng = Rng(30);
    for _ in 0..50 {
        let h = random_concentrator(&mut rng);
        for s in &h.sources {
            if let Some(d) = s.dump.diagnostics.first() {
                panic!("{}: {} `{}`\n{}", s.name, d.message, d.text, s.text);
            }
        }
    }
}
