//! Property tests of `Host::lookup` against a naive reference, on random
//! hosts built from dump text (so the grammar and the model's indexes are in
//! the loop): three links with one IPv4 and one IPv6 subnet each, random
//! routes of every simple type in `main` and tables 100–102, random rules
//! (from/to, `not`, fwmark with mask, tos, lookup, suppress_prefixlength,
//! goto, nop, blackhole/unreachable/prohibit). The reference scans every
//! route linearly — longest prefix, then TOS (IPv4), then metric, then dump
//! order — and walks the rules as docs/kernel-semantics.md ("The walk") says. It does not
//! cover what the live differential test (`kernel_diff.rs`) checks against
//! the kernel: oif/iif, multipath, source selection, martians.
//!
//! Invariants: a result's device is a link of the host or `lo`; a local
//! address as destination (no source) is always `local`; the lookup is
//! deterministic.
//!
//! `PROPTEST_CASES=N` scales the run (default: a few seconds in debug).

use asymroute_offline::grammar::{Ctx, DumpKind, Family, RouteType};
use asymroute_offline::model::{Flow, Host, Input, KernelError};
use proptest::prelude::*;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

const LINKS: [&str; 3] = ["eth0", "eth1", "eth2"];
const TABLES: [u32; 4] = [254, 100, 101, 102];

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1500);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// ------------------------------------------------------------------ hosts

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Via,
    Dev,
    Blackhole,
    Unreachable,
    Prohibit,
    Throw,
}

#[derive(Debug, Clone)]
struct RRoute {
    table: usize,
    /// Index into the prefix pool of the family.
    prefix: usize,
    kind: Kind,
    link: usize,
    metric: Option<u32>,
    tos: bool,
}

#[derive(Debug, Clone)]
enum Action {
    Lookup(usize),
    Goto(u32),
    Nop,
    Blackhole,
    Unreachable,
    Prohibit,
}

#[derive(Debug, Clone)]
struct RRule {
    prio: u32,
    from: Option<usize>,
    to: Option<usize>,
    not: bool,
    fwmark: Option<(u32, Option<u32>)>,
    tos: bool,
    action: Action,
    suppress: bool,
}

#[derive(Debug, Clone)]
struct RHost {
    routes: [Vec<RRoute>; 2],
    rules: [Vec<RRule>; 2],
}

/// Prefixes that overlap a lot: the links' subnets, their supernets and
/// subnets, a few documentation ranges, the default route.
fn pool(v6: bool) -> Vec<ipnet::IpNet> {
    let s: &[&str] = if v6 {
        &[
            "::/0",
            "2001:db8::/32",
            "2001:db8::/48",
            "2001:db8:0:1::/64",
            "2001:db8:0:1::/80",
            "2001:db8:0:2::/64",
            "2001:db8:0:3::/64",
            "2001:db8:0:3::10/128",
            "2001:db8:0:1:8000::/65",
            "2001:db8:ff::/48",
            "2001:db8:ff:1::/64",
            "2001:db8:ff::7/128",
        ]
    } else {
        &[
            "0.0.0.0/0",
            "10.0.0.0/8",
            "10.0.0.0/16",
            "10.0.1.0/24",
            "10.0.1.0/25",
            "10.0.1.128/25",
            "10.0.2.0/24",
            "10.0.3.0/24",
            "10.0.3.10/32",
            "10.0.2.64/26",
            "192.0.2.0/24",
            "192.0.2.128/25",
            "198.51.100.0/24",
            "198.51.100.7/32",
            // Holds 0.0.0.0: an IPv4 `from` rule compares a missing source as 0.
            "0.0.0.0/8",
        ]
    };
    s.iter().map(|p| p.parse().unwrap()).collect()
}

fn route() -> impl Strategy<Value = RRoute> {
    (
        0..TABLES.len(),
        0..15usize,
        prop_oneof![
            4 => Just(Kind::Via),
            2 => Just(Kind::Dev),
            1 => Just(Kind::Blackhole),
            1 => Just(Kind::Unreachable),
            1 => Just(Kind::Prohibit),
            1 => Just(Kind::Throw),
        ],
        0..LINKS.len(),
        prop::option::of(prop::sample::select(vec![0u32, 5, 100, 1024])),
        prop::bool::weighted(0.15),
    )
        .prop_map(|(table, prefix, kind, link, metric, tos)| RRoute {
            table,
            prefix,
            kind,
            link,
            metric,
            tos,
        })
}

fn rule() -> impl Strategy<Value = RRule> {
    let action = prop_oneof![
        6 => (0..TABLES.len()).prop_map(Action::Lookup),
        1 => (1u32..400).prop_map(Action::Goto),
        1 => Just(Action::Nop),
        1 => Just(Action::Blackhole),
        1 => Just(Action::Unreachable),
        1 => Just(Action::Prohibit),
    ];
    (
        (1u32..200).prop_map(|p| p * 10),
        prop::option::of(0..15usize),
        prop::option::of(0..15usize),
        prop::bool::weighted(0.1),
        prop::option::of((1u32..4, prop::option::of(Just(0x3u32)))),
        prop::bool::weighted(0.1),
        action,
        prop::bool::weighted(0.15),
    )
        .prop_map(
            |(prio, from, to, not, fwmark, tos, action, suppress)| RRule {
                prio,
                from,
                to,
                not,
                fwmark,
                tos,
                action,
                suppress,
            },
        )
}

fn rhost() -> impl Strategy<Value = RHost> {
    (
        prop::collection::vec(route(), 0..14),
        prop::collection::vec(route(), 0..14),
        prop::collection::vec(rule(), 0..6),
        prop::collection::vec(rule(), 0..6),
    )
        .prop_map(|(r4, r6, u4, u6)| RHost {
            routes: [r4, r6],
            rules: [u4, u6],
        })
}

fn addr4(link: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 0, link as u8 + 1, 10)
}
fn addr6(link: usize) -> Ipv6Addr {
    Ipv6Addr::new(0x2001, 0xdb8, 0, link as u16 + 1, 0, 0, 0, 0x10)
}
fn gw(v6: bool, link: usize) -> IpAddr {
    if v6 {
        IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, link as u16 + 1, 0, 0, 0, 1))
    } else {
        IpAddr::V4(Ipv4Addr::new(10, 0, link as u8 + 1, 1))
    }
}

fn table_word(t: u32) -> String {
    match t {
        254 => "main".into(),
        n => n.to_string(),
    }
}

/// The dumps iproute2 would print for the host.
fn dumps(h: &RHost) -> Vec<Input> {
    let mut addr = String::from(
        "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN group default qlen 1000\n    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00\n    inet 127.0.0.1/8 scope host lo\n       valid_lft forever preferred_lft forever\n    inet6 ::1/128 scope host \n       valid_lft forever preferred_lft forever\n",
    );
    for (i, l) in LINKS.iter().enumerate() {
        addr.push_str(&format!(
            "{}: {l}: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP group default qlen 1000\n    link/ether 02:00:00:00:00:0{i} brd ff:ff:ff:ff:ff:ff\n    inet {}/24 brd 10.0.{}.255 scope global {l}\n       valid_lft forever preferred_lft forever\n    inet6 {}/64 scope global \n       valid_lft forever preferred_lft forever\n",
            i + 2,
            addr4(i),
            i + 1,
            addr6(i)
        ));
    }
    let mut inputs = vec![Input {
        name: "ip_addr.txt".into(),
        text: addr,
        kind: DumpKind::IpAddr,
        ctx: Ctx::default(),
        lines_before: 0,
    }];
    for v6 in [false, true] {
        let fi = usize::from(v6);
        let pool = pool(v6);
        let mut rt = String::new();
        // Kernel routes from the addresses, then the random ones.
        for (i, l) in LINKS.iter().enumerate() {
            if v6 {
                rt.push_str(&format!(
                    "2001:db8:0:{}::/64 dev {l} proto kernel metric 256 pref medium\n",
                    i + 1
                ));
            } else {
                rt.push_str(&format!(
                    "10.0.{}.0/24 dev {l} proto kernel scope link src {}\n",
                    i + 1,
                    addr4(i)
                ));
            }
        }
        for r in &h.routes[fi] {
            let p = pool[r.prefix % pool.len()];
            let dst = if p.prefix_len() == 0 {
                "default".to_string()
            } else {
                p.to_string()
            };
            let l = LINKS[r.link];
            let body = match r.kind {
                Kind::Via => format!("{dst} via {} dev {l}", gw(v6, r.link)),
                Kind::Dev => format!("{dst} dev {l} scope link"),
                Kind::Blackhole => format!("blackhole {dst}"),
                Kind::Unreachable => format!("unreachable {dst}"),
                Kind::Prohibit => format!("prohibit {dst}"),
                Kind::Throw => format!("throw {dst}"),
            };
            let body = if v6
                && matches!(
                    r.kind,
                    Kind::Blackhole | Kind::Unreachable | Kind::Prohibit | Kind::Throw
                ) {
                format!("{body} dev lo")
            } else {
                body
            };
            let body = if v6 {
                body.replace(" scope link", "")
            } else {
                body
            };
            let tos = if r.tos && !v6 { " tos 0x10" } else { "" };
            let table = match TABLES[r.table] {
                254 => String::new(),
                n => format!(" table {n}"),
            };
            let metric = match (r.metric, v6) {
                (Some(m), _) => format!(" metric {m}"),
                (None, true) => " metric 1024".into(),
                (None, false) => String::new(),
            };
            let pref = if v6 { " pref medium" } else { "" };
            // iproute2 prints `tos` right after the destination.
            let (d, rest) = body
                .split_once(' ')
                .map_or((body.as_str(), ""), |(a, b)| (a, b));
            let line = if matches!(d, "blackhole" | "unreachable" | "prohibit" | "throw") {
                let (p2, rest2) = rest.split_once(' ').unwrap_or((rest, ""));
                format!("{d} {p2}{tos} {rest2}{table}{metric}{pref}")
            } else {
                format!("{d}{tos} {rest}{table}{metric}{pref}")
            };
            rt.push_str(line.replace("  ", " ").trim_end());
            rt.push('\n');
        }
        // The local table as the kernel fills it.
        for (i, l) in LINKS.iter().enumerate() {
            if v6 {
                rt.push_str(&format!(
                    "local {} dev {l} table local proto kernel metric 0 pref medium\n",
                    addr6(i)
                ));
            } else {
                rt.push_str(&format!(
                    "local {a} dev {l} table local proto kernel scope host src {a}\nbroadcast 10.0.{n}.255 dev {l} table local proto kernel scope link src {a}\n",
                    a = addr4(i),
                    n = i + 1
                ));
            }
        }
        if v6 {
            rt.push_str("local ::1 dev lo table local proto kernel metric 0 pref medium\n");
        } else {
            rt.push_str("local 127.0.0.0/8 dev lo table local proto kernel scope host src 127.0.0.1\nlocal 127.0.0.1 dev lo table local proto kernel scope host src 127.0.0.1\n");
        }
        let mut ru = String::from("0:\tfrom all lookup local\n");
        let mut rules = h.rules[fi].clone();
        rules.sort_by_key(|r| r.prio);
        for r in &rules {
            let mut s = format!("{}:\t", r.prio);
            if r.not {
                s.push_str("not ");
            }
            // iproute2 prints a zero-length `from` as `all` and omits such a `to`.
            match r
                .from
                .map(|p| pool[p % pool.len()])
                .filter(|p| p.prefix_len() > 0)
            {
                Some(p) => s.push_str(&format!("from {p} ")),
                None => s.push_str("from all "),
            }
            if let Some(p) =
                r.to.map(|p| pool[p % pool.len()])
                    .filter(|p| p.prefix_len() > 0)
            {
                s.push_str(&format!("to {p} "));
            }
            if r.tos {
                s.push_str("tos 0x10 ");
            }
            if let Some((m, mask)) = r.fwmark {
                match mask {
                    Some(k) => s.push_str(&format!("fwmark {m:#x}/{k:#x} ")),
                    None => s.push_str(&format!("fwmark {m:#x} ")),
                }
            }
            match &r.action {
                Action::Lookup(t) => {
                    s.push_str(&format!("lookup {}", table_word(TABLES[*t])));
                    if r.suppress {
                        s.push_str(" suppress_prefixlength 0");
                    }
                }
                Action::Goto(p) => {
                    let resolved =
                        rules.iter().any(|x| x.prio == *p) || *p == 32766 || (*p == 32767 && !v6);
                    s.push_str(&format!("goto {p}"));
                    if !resolved {
                        s.push_str(" [unresolved]");
                    }
                }
                Action::Nop => s.push_str("nop"),
                Action::Blackhole => s.push_str("blackhole"),
                Action::Unreachable => s.push_str("unreachable"),
                Action::Prohibit => s.push_str("prohibit"),
            }
            ru.push_str(&s);
            ru.push('\n');
        }
        ru.push_str("32766:\tfrom all lookup main\n");
        if !v6 {
            ru.push_str("32767:\tfrom all lookup default\n");
        }
        let fam = if v6 { Family::Inet6 } else { Family::Inet };
        let ctx = Ctx {
            family: Some(fam),
            table: None,
        };
        inputs.push(Input {
            name: if v6 { "ip6_rule.txt" } else { "ip_rule.txt" }.into(),
            text: ru,
            kind: DumpKind::IpRule,
            ctx: ctx.clone(),
            lines_before: 0,
        });
        inputs.push(Input {
            name: if v6 { "ip6_route.txt" } else { "ip_route.txt" }.into(),
            text: rt,
            kind: DumpKind::IpRoute,
            ctx,
            lines_before: 0,
        });
    }
    inputs
}

// ------------------------------------------------------------- reference

/// What the reference answers: the route's type, device and gateway, or an error.
#[derive(Debug, Clone, PartialEq)]
enum Ans {
    Route(String, String, Option<IpAddr>),
    Err(KernelError),
}

/// One route of the reference, in dump order.
struct Rt {
    table: u32,
    dst: ipnet::IpNet,
    kind: Kind,
    local: bool,
    bcast: bool,
    dev: String,
    gw: Option<IpAddr>,
    metric: u32,
    tos: u8,
}

/// The reference's view of the host, from the same random description.
fn ref_routes(h: &RHost, v6: bool) -> Vec<Rt> {
    let pool = pool(v6);
    let mut out = Vec::new();
    let mut push = |table, dst: &str, kind, local, dev: &str, metric, bcast| {
        out.push(Rt {
            table,
            dst: dst.parse().unwrap(),
            kind,
            local,
            bcast,
            dev: dev.into(),
            gw: None,
            metric,
            tos: 0,
        })
    };
    for (i, l) in LINKS.iter().enumerate() {
        if v6 {
            push(
                254,
                &format!("2001:db8:0:{}::/64", i + 1),
                Kind::Dev,
                false,
                l,
                256,
                false,
            );
        } else {
            push(
                254,
                &format!("10.0.{}.0/24", i + 1),
                Kind::Dev,
                false,
                l,
                0,
                false,
            );
        }
    }
    for (i, l) in LINKS.iter().enumerate() {
        if v6 {
            push(
                255,
                &format!("{}/128", addr6(i)),
                Kind::Dev,
                true,
                l,
                0,
                false,
            );
        } else {
            push(
                255,
                &format!("{}/32", addr4(i)),
                Kind::Dev,
                true,
                l,
                0,
                false,
            );
            push(
                255,
                &format!("10.0.{}.255/32", i + 1),
                Kind::Dev,
                false,
                l,
                0,
                true,
            );
        }
    }
    if v6 {
        push(255, "::1/128", Kind::Dev, true, "lo", 0, false);
    } else {
        push(255, "127.0.0.0/8", Kind::Dev, true, "lo", 0, false);
        push(255, "127.0.0.1/32", Kind::Dev, true, "lo", 0, false);
    }
    for r in &h.routes[usize::from(v6)] {
        out.push(Rt {
            table: TABLES[r.table],
            dst: pool[r.prefix % pool.len()],
            kind: r.kind,
            local: false,
            bcast: false,
            dev: match r.kind {
                Kind::Via | Kind::Dev => LINKS[r.link].into(),
                _ => "lo".into(),
            },
            gw: (r.kind == Kind::Via).then(|| gw(v6, r.link)),
            metric: r.metric.unwrap_or(if v6 { 1024 } else { 0 }),
            tos: if r.tos && !v6 { 0x10 } else { 0 },
        });
    }
    out
}

enum TRes {
    None,
    Throw,
    Hit(usize),
}

/// Linear scan of one table (or of local+main merged): the longest prefix
/// holding `dst` whose TOS fits; among those, TOS-specific first, then the
/// lowest metric, then dump order.
fn scan(rts: &[Rt], tables: &[u32], dst: IpAddr, tos: u8) -> TRes {
    let cands: Vec<usize> = (0..rts.len())
        .filter(|&i| tables.contains(&rts[i].table))
        .filter(|&i| rts[i].dst.contains(&dst))
        .filter(|&i| rts[i].tos == 0 || rts[i].tos == tos)
        .collect();
    let Some(best_len) = cands.iter().map(|&i| rts[i].dst.prefix_len()).max() else {
        return TRes::None;
    };
    let mut at: Vec<usize> = cands
        .into_iter()
        .filter(|&i| rts[i].dst.prefix_len() == best_len)
        .collect();
    // Merged local+main: local's aliases come first at equal prefixes.
    at.sort_by_key(|&i| {
        (
            std::cmp::Reverse(rts[i].table),
            std::cmp::Reverse(rts[i].tos),
            rts[i].metric,
            i,
        )
    });
    let i = at[0];
    match rts[i].kind {
        Kind::Throw => TRes::Throw,
        _ => TRes::Hit(i),
    }
}

fn answer(rts: &[Rt], i: usize) -> Ans {
    let r = &rts[i];
    match r.kind {
        Kind::Blackhole => Ans::Err(KernelError::Inval),
        Kind::Unreachable => Ans::Err(KernelError::HostUnreach),
        Kind::Prohibit => Ans::Err(KernelError::Access),
        Kind::Throw => unreachable!(),
        _ if r.local => Ans::Route("local".into(), "lo".into(), None),
        _ if r.bcast => Ans::Route("broadcast".into(), r.dev.clone(), None),
        _ => Ans::Route("unicast".into(), r.dev.clone(), r.gw),
    }
}

fn reference(h: &RHost, v6: bool, flow: &Flow) -> Ans {
    let rts = ref_routes(h, v6);
    let fi = usize::from(v6);
    let pool = pool(v6);
    if !v6
        && let Some(s) = flow.src
        && !(0..LINKS.len()).any(|i| IpAddr::V4(addr4(i)) == s)
    {
        return Ans::Err(KernelError::NetUnreach);
    }
    let mut rules: Vec<RRule> = h.rules[fi].clone();
    rules.sort_by_key(|r| r.prio);
    if !v6 && rules.is_empty() {
        // No custom rules: local merged into main, then default.
        return match scan(&rts, &[255, 254], flow.dst, flow.tos) {
            TRes::Hit(i) => answer(&rts, i),
            _ => Ans::Err(KernelError::NetUnreach),
        };
    }
    // (priority, rule) with the defaults around the random ones.
    let local = RRule {
        prio: 0,
        from: None,
        to: None,
        not: false,
        fwmark: None,
        tos: false,
        action: Action::Lookup(usize::MAX),
        suppress: false,
    };
    let main = RRule {
        prio: 32766,
        action: Action::Lookup(0),
        ..local.clone()
    };
    let mut all = vec![local];
    all.extend(rules);
    all.push(main);
    let zero = if v6 {
        IpAddr::V6(Ipv6Addr::UNSPECIFIED)
    } else {
        IpAddr::V4(Ipv4Addr::UNSPECIFIED)
    };
    let mut i = 0;
    while i < all.len() {
        let r = &all[i];
        let from_ok = match r.from {
            None => true,
            Some(p) => {
                let p = pool[p % pool.len()];
                match flow.src {
                    Some(s) => p.contains(&s),
                    // IPv4 compares 0.0.0.0; IPv6 without a source only `from all`.
                    None => !v6 && p.contains(&zero) || p.prefix_len() == 0,
                }
            }
        };
        let to_ok =
            r.to.is_none_or(|p| pool[p % pool.len()].contains(&flow.dst));
        let mark_ok = r
            .fwmark
            .is_none_or(|(m, mask)| (m ^ flow.mark) & mask.unwrap_or(u32::MAX) == 0);
        let tos_ok = !r.tos || flow.tos == 0x10;
        let matched = (from_ok && to_ok && mark_ok && tos_ok) != r.not;
        if !matched {
            i += 1;
            continue;
        }
        match &r.action {
            Action::Goto(p) => {
                match all
                    .iter()
                    .position(|x| x.prio == *p)
                    .filter(|_| *p > r.prio)
                {
                    Some(t) => i = t,
                    None => i += 1,
                }
                continue;
            }
            Action::Nop => {}
            Action::Blackhole => return Ans::Err(KernelError::Inval),
            Action::Unreachable => return Ans::Err(KernelError::NetUnreach),
            Action::Prohibit => return Ans::Err(KernelError::Access),
            Action::Lookup(t) => {
                let table = if *t == usize::MAX { 255 } else { TABLES[*t] };
                if let TRes::Hit(k) = scan(&rts, &[table], flow.dst, flow.tos) {
                    let suppressed = r.suppress
                        && rts[k].dst.prefix_len() == 0
                        && !matches!(
                            rts[k].kind,
                            Kind::Blackhole | Kind::Unreachable | Kind::Prohibit
                        );
                    if !suppressed {
                        return answer(&rts, k);
                    }
                }
            }
        }
        i += 1;
    }
    Ans::Err(KernelError::NetUnreach)
}

fn model(host: &Host, flow: &Flow) -> Ans {
    match host.lookup(flow).result {
        Ok(h) => Ans::Route(h.kind.as_str().to_string(), h.dev.to_string(), h.gateway),
        Err(e) => Ans::Err(e),
    }
}

// ---------------------------------------------------------------- flows

fn flow_strategy() -> impl Strategy<Value = (bool, usize, u32, Option<usize>, u32, bool)> {
    (
        any::<bool>(),
        0..15usize,
        any::<u32>(),
        prop::option::of(0..5usize),
        0u32..4,
        prop::bool::weighted(0.2),
    )
}

/// A destination inside (or near) a pool prefix, and an optional source:
/// one of the links' addresses, or (index 3/4) an address the host lacks.
fn make_flow(v6: bool, p: usize, salt: u32, src: Option<usize>, mark: u32, tos: bool) -> Flow {
    let pool = pool(v6);
    let net = pool[p % pool.len()];
    let dst = match net {
        ipnet::IpNet::V4(n) => {
            let span = if n.prefix_len() == 0 {
                u32::MAX
            } else {
                (1u64 << (32 - n.prefix_len())) as u32 - 1
            };
            let a = u32::from(n.network()) | (salt & span);
            // Stay clear of multicast/broadcast/0/loopback (not modelled here).
            let a = if a >> 28 >= 0xe || a >> 24 == 0 || a >> 24 == 127 {
                0x0a00_0000 | (a & 0xffff)
            } else {
                a
            };
            IpAddr::V4(Ipv4Addr::from(a))
        }
        ipnet::IpNet::V6(n) => {
            let span = if n.prefix_len() == 0 {
                u128::MAX
            } else {
                (1u128 << (128 - n.prefix_len())) - 1
            };
            let a = u128::from(n.network()) | ((u128::from(salt) * 0x1_0001) & span);
            // Stay inside 2001:db8::/32 (no link-local, multicast, ::1).
            let a = if a >> 96 != 0x2001_0db8 {
                0x2001_0db8_u128 << 96 | (a & 0xffff)
            } else {
                a
            };
            IpAddr::V6(Ipv6Addr::from(a))
        }
    };
    let src = src.map(|i| match (v6, i) {
        (false, 0..=2) => IpAddr::V4(addr4(i)),
        (true, 0..=2) => IpAddr::V6(addr6(i)),
        (false, _) => IpAddr::V4(Ipv4Addr::new(198, 51, 100, 200)),
        (true, _) => IpAddr::V6("2001:db8:dead::1".parse().unwrap()),
    });
    let mut f = Flow::to(dst);
    f.src = src;
    f.mark = mark;
    f.tos = if tos { 0x10 } else { 0 };
    f
}

fn devs_ok(host: &Host, l: &asymroute_offline::model::Lookup) -> bool {
    match &l.result {
        Ok(h) => {
            let known = |d: &str| d == "lo" || host.link(d).is_some();
            known(&h.dev) && h.nexthops.iter().all(|n| known(&n.dev))
        }
        Err(_) => true,
    }
}

proptest! {
    #![proptest_config(config())]

    /// The model agrees with the naive reference on every flow.
    #[test]
    fn agrees_with_reference(h in rhost(), flows in prop::collection::vec(flow_strategy(), 1..24)) {
        let host = Host::build(dumps(&h), &HashMap::new());
        for s in &host.sources {
            prop_assert!(s.dump.diagnostics.is_empty(), "{}: {:?}\n{}", s.name, s.dump.diagnostics, s.text);
        }
        for (v6, p, salt, src, mark, tos) in flows {
            let f = make_flow(v6, p, salt, src, mark, tos);
            let want = reference(&h, v6, &f);
            let got = model(&host, &f);
            prop_assert_eq!(&got, &want, "flow {:?}\nrules:\n{}\nroutes:\n{}", f,
                host.sources.iter().filter(|s| s.kind == DumpKind::IpRule).map(|s| s.text.to_string()).collect::<String>(),
                host.sources.iter().filter(|s| s.kind == DumpKind::IpRoute).map(|s| s.text.to_string()).collect::<String>());
        }
    }

    /// Invariants: devices exist, local destinations are local, lookups are
    /// deterministic.
    #[test]
    fn invariants(h in rhost(), flows in prop::collection::vec(flow_strategy(), 1..24)) {
        let host = Host::build(dumps(&h), &HashMap::new());
        for (v6, p, salt, src, mark, tos) in flows {
            let f = make_flow(v6, p, salt, src, mark, tos);
            let l = host.lookup(&f);
            prop_assert!(devs_ok(&host, &l), "{f:?}: {l:?}");
            prop_assert_eq!(&l, &host.lookup(&f));
        }
        for a in &host.addrs {
            let mut f = Flow::to(a.addr.local);
            f.src = None;
            let l = host.lookup(&f);
            let kind = l.result.as_ref().map(|h| h.kind.clone());
            prop_assert_eq!(kind, Ok(RouteType::Local), "{} on {}: {:?}", a.addr.local, a.link, l);
        }
    }
}
