//! Fixes: for each asymmetric endpoint, the `ip route` / `ip rule` commands
//! that make its replies leave by its own link — a table per link holding
//! its default route and connected prefixes, and a `from A` rule ahead of
//! whatever decides today — in the host's own conventions (existing per-link
//! tables and priorities, e.g. amazon-ec2-net-utils' 10000 + device number).
//! `verify` applies them to a copy of the model and re-runs the analysis
//! (verdicts only) where they changed it.

use super::{Endpoint, LinkClass, Space, Spaces, Verdict, has_leak, space};
use crate::grammar::{self, Ctx, DumpKind, Family, RouteType, RuleAction, Table};
use crate::model::{Host, Origin, RouteEntry, RuleEntry, fam_idx};
use std::net::IpAddr;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Fix {
    pub commands: Vec<String>,
    /// What the fix had to assume (a gateway, a table number).
    pub notes: Vec<String>,
}

/// The device number in `eth1`, `ens6`, `enp0s3` (last digits), else the index.
fn dev_number(host: &Host, dev: &str) -> u32 {
    let digits: String = dev
        .chars()
        .rev()
        .take_while(|c| c.is_ascii_digit())
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    digits
        .parse()
        .ok()
        .or_else(|| host.link(dev).and_then(|l| l.index))
        .unwrap_or(0)
}

/// Existing `from ADDR lookup T` rules for the host's own addresses:
/// (link, table id, priority).
fn conventions(host: &Host, fam: Family) -> Vec<(String, u32, u32)> {
    host.rules[fam_idx(fam)]
        .iter()
        .filter(|r| r.rule.action == RuleAction::Lookup && !r.rule.not)
        .filter_map(|r| {
            let from = r.rule.from?;
            let link = host
                .addrs
                .iter()
                .find(|a| from.contains(&a.addr.local))?
                .link
                .clone();
            let t = r.table.as_ref()?.id()?;
            (t != Table::MAIN && t != Table::LOCAL && t != Table::DEFAULT).then_some((
                link,
                t,
                r.rule.priority,
            ))
        })
        .collect()
}

fn gateway_on(host: &Host, fam: Family, dev: &str) -> Option<IpAddr> {
    let mut best: Option<(u8, IpAddr)> = None;
    for t in host.tables[fam_idx(fam)].values() {
        for e in &t.routes {
            let r = &e.route;
            let hops: Vec<(Option<&str>, Option<IpAddr>)> = if r.nexthops.is_empty() {
                vec![(r.dev.as_deref(), r.gateway)]
            } else {
                r.nexthops
                    .iter()
                    .map(|n| (n.dev.as_deref(), n.gateway))
                    .collect()
            };
            for (d, g) in hops {
                if d == Some(dev)
                    && let Some(g) = g
                {
                    let rank = r.dst.prefix_len();
                    if best.is_none_or(|(b, _)| rank < b) {
                        best = Some((rank, g));
                    }
                }
            }
        }
    }
    best.map(|(_, g)| g)
}

/// Whether `table` already holds a unicast route to `dst` out of `dev` via `gw`.
fn has_route(
    host: &Host,
    fam: Family,
    table: u32,
    dst: ipnet::IpNet,
    dev: &str,
    gw: Option<IpAddr>,
) -> bool {
    host.table(fam, &Table::Id(table)).is_some_and(|t| {
        t.routes.iter().any(|e| {
            let r = &e.route;
            r.dst == dst
                && r.dev.as_deref() == Some(dev)
                && r.gateway == gw
                && r.nexthops.is_empty()
                && matches!(r.kind, crate::grammar::RouteType::Unicast)
        })
    })
}

/// Whether a plain `from ADDR lookup TABLE` rule already exists at `prio` or
/// before it (it only lacked routes in its table).
fn has_rule(host: &Host, fam: Family, addr: IpAddr, table: u32, prio: u32) -> bool {
    let full = if fam == Family::Inet { 32 } else { 128 };
    host.rules[fam_idx(fam)].iter().any(|r| {
        let x = &r.rule;
        x.action == RuleAction::Lookup
            && !x.not
            && x.priority <= prio
            && r.table == Some(Table::Id(table))
            && x.from
                .is_some_and(|f| f.addr() == addr && f.prefix_len() == full)
            && x.to.is_none()
            && x.tos.is_none()
            && x.fwmark.is_none()
            && x.iif.is_none()
            && x.oif.is_none()
            && !x.l3mdev
            && x.uidrange.is_none()
            && x.ipproto.is_none()
            && x.sport.is_none()
            && x.dport.is_none()
            && x.tun_id.is_none()
            && x.suppress_prefixlength.is_none()
            && x.suppress_ifgroup.is_none()
    })
}

/// Whether some table sends everything out of `dev` without a gateway.
fn direct_default_on(host: &Host, fam: Family, dev: &str) -> bool {
    host.tables[fam_idx(fam)].values().any(|t| {
        t.routes.iter().any(|e| {
            let r = &e.route;
            r.dst.prefix_len() == 0
                && r.gateway.is_none()
                && r.nexthops.is_empty()
                && r.dev.as_deref() == Some(dev)
                && matches!(r.kind, crate::grammar::RouteType::Unicast)
        })
    })
}

/// The commands, one `Fix` per (link, family) with asymmetric endpoints.
pub fn fixes(host: &Host, eps: &[Endpoint]) -> Vec<Fix> {
    let mut out = Vec::new();
    let mut groups: Vec<(String, Family)> = Vec::new();
    for e in eps
        .iter()
        .filter(|e| e.verdict == Some(Verdict::Asymmetric))
    {
        if !groups.contains(&(e.interface.clone(), e.family)) {
            groups.push((e.interface.clone(), e.family));
        }
    }
    // Tables this fix creates, so two links never share one (eth0 and wg0
    // have the same device number).
    let mut created: Vec<(Family, u32)> = Vec::new();
    for (dev, fam) in groups {
        let ip = if fam == Family::Inet { "ip" } else { "ip -6" };
        let conv = conventions(host, fam);
        let mut notes = Vec::new();
        let n = dev_number(host, &dev);
        // Table: the link's existing one, else the host's offset + device number.
        let table = conv
            .iter()
            .find(|(l, _, _)| *l == dev)
            .map(|c| c.1)
            .unwrap_or_else(|| {
                let offset = conv
                    .first()
                    .map(|(l, t, _)| t.saturating_sub(dev_number(host, l)))
                    .unwrap_or(10000);
                let mut t = offset + n;
                while (host.tables[fam_idx(fam)].contains_key(&Table::Id(t))
                    && !conv.iter().any(|c| c.1 == t))
                    || created.contains(&(fam, t))
                {
                    t += 1;
                }
                created.push((fam, t));
                t
            });
        let leaks_deciders: Vec<u32> = eps
            .iter()
            .filter(|e| e.interface == dev && e.family == fam)
            .flat_map(|e| &e.leaks)
            .filter_map(|l| l.rule.as_ref())
            .filter_map(|q| q.text.split(':').next().and_then(|p| p.trim().parse().ok()))
            .filter(|&p: &u32| p > 0)
            .collect();
        let mut prio = conv
            .iter()
            .find(|(l, _, _)| *l == dev)
            .map(|c| c.2)
            .or_else(|| conv.iter().map(|c| c.2).min())
            .unwrap_or(10000 + n);
        if let Some(&m) = leaks_deciders.iter().min()
            && prio >= m
        {
            prio = m.saturating_sub(1).max(1);
        }
        let gw = gateway_on(host, fam, &dev);
        let mut cmds = Vec::new();
        let default = ipnet::IpNet::new(space::addr(fam, 0), 0).expect("default prefix");
        match gw {
            // What the table already holds is not added again (`File exists`).
            Some(g) if has_route(host, fam, table, default, &dev, Some(g)) => {}
            Some(g) => cmds.push(format!(
                "{ip} route add default via {g} dev {dev} table {table}"
            )),
            // A tunnel routes without a gateway (`default dev wg0`).
            None if direct_default_on(host, fam, &dev) => {
                if !has_route(host, fam, table, default, &dev, None) {
                    cmds.push(format!("{ip} route add default dev {dev} table {table}"))
                }
            }
            None => {
                notes.push(format!("no gateway on {dev} in the dumps: replace GATEWAY with the router of its subnet"));
                cmds.push(format!(
                    "{ip} route add default via GATEWAY dev {dev} table {table}"
                ));
            }
        }
        let mut prefixes: Vec<(ipnet::IpNet, IpAddr)> = Vec::new();
        for a in host
            .addrs
            .iter()
            .filter(|a| a.link == dev && a.addr.family == fam && !a.secondary())
        {
            if let Ok(net) =
                ipnet::IpNet::new(a.addr.peer.unwrap_or(a.addr.local), a.addr.prefixlen)
            {
                let net = net.trunc();
                if !prefixes.iter().any(|(p, _)| *p == net)
                    && net.prefix_len() < if fam == Family::Inet { 32 } else { 128 }
                {
                    prefixes.push((net, a.addr.local));
                }
            }
        }
        for (p, src) in &prefixes {
            if !has_route(host, fam, table, *p, &dev, None) {
                cmds.push(format!(
                    "{ip} route add {p} dev {dev} proto kernel scope link src {src} table {table}"
                ));
            }
        }
        for e in eps.iter().filter(|e| {
            e.interface == dev
                && e.family == fam
                && e.verdict == Some(Verdict::Asymmetric)
                && !has_rule(host, fam, e.address, table, prio)
        }) {
            cmds.push(format!(
                "{ip} rule add from {} lookup {table} priority {prio}",
                e.address
            ));
        }
        out.push(Fix {
            commands: cmds,
            notes,
        });
    }
    out
}

/// Applies fixes to a copy of the model: routes into their tables, rules in
/// priority order (after existing rules of the same priority, as the kernel adds them).
pub fn apply(host: &Host, fixes: &[Fix]) -> Host {
    let mut h = host.clone();
    apply_to(&mut h, fixes);
    h
}

/// What `apply_to` changed, per family: the tables that received routes,
/// the prefixes added (routes, rule `to`s) and the rules inserted.
#[derive(Default)]
struct Applied {
    tables: [Vec<Table>; 2],
    prefixes: [Vec<ipnet::IpNet>; 2],
    rules: [Vec<RuleEntry>; 2],
}

fn apply_to(h: &mut Host, fixes: &[Fix]) -> Applied {
    let mut done = Applied::default();
    for f in fixes {
        for c in &f.commands {
            let six = c.starts_with("ip -6 ");
            let fam = if six { Family::Inet6 } else { Family::Inet };
            let body = c.trim_start_matches("ip -6 ").trim_start_matches("ip ");
            let ctx = Ctx {
                family: Some(fam),
                table: None,
            };
            if let Some(r) = body.strip_prefix("route add ") {
                let d = grammar::parse(r, DumpKind::IpRoute, &ctx);
                if let Some(route) = d.routes().first().cloned() {
                    let t = route.table.clone();
                    let fi = fam_idx(fam);
                    done.prefixes[fi].push(route.dst);
                    h.tables[fi].entry(t.clone()).or_default().push(RouteEntry {
                        route,
                        origin: Origin::ASSUMED,
                        tos: 0,
                    });
                    if let Some(tb) = h.tables[fi].get_mut(&t) {
                        tb.finish();
                    }
                    h.have_routes[fi] = true;
                    done.tables[fi].push(t);
                }
            } else if let Some(r) = body.strip_prefix("rule add ") {
                // `from A lookup T priority P` → `P: from A lookup T`
                let (sel, prio) = r.rsplit_once(" priority ").unwrap_or((r, "0"));
                let d = grammar::parse(&format!("{prio}:\t{sel}"), DumpKind::IpRule, &ctx);
                if let Some(rule) = d.rules().first().cloned() {
                    let fi = fam_idx(fam);
                    let pos = h.rules[fi]
                        .iter()
                        .position(|x| x.rule.priority > rule.priority)
                        .unwrap_or(h.rules[fi].len());
                    let entry = RuleEntry {
                        table: rule.table.clone(),
                        tos: None,
                        rule,
                        origin: Origin::ASSUMED,
                    };
                    done.prefixes[fi].extend(entry.rule.to);
                    done.rules[fi].push(entry.clone());
                    h.rules[fi].insert(pos, entry);
                    // The rule list is no longer the kernel's default one:
                    // IPv4 `local` and `main` stop being merged.
                    h.fib.custom_rules[fi] = true;
                }
            }
        }
    }
    done
}

/// Whether unmerging IPv4 `local` and `main` (the first custom rule) changes
/// no lookup: the merged trie takes the longest prefix across both, the
/// rule walk all of `local` first. They agree when no `main` route is more
/// specific than a `local` route it overlaps, and `local` throws nothing
/// (a throw there goes on to `main` in the walk, to `default` merged).
fn merge_is_moot(h: &Host) -> bool {
    let routes = |id: u32| {
        h.table(Family::Inet, &Table::Id(id))
            .map_or(&[][..], |t| &t.routes[..])
    };
    let (local, main) = (routes(Table::LOCAL), routes(Table::MAIN));
    local.iter().all(|l| {
        let (ld, lr) = (l.route.dst, space::Range::of(&l.route.dst));
        l.route.kind != RouteType::Throw
            && main.iter().all(|m| {
                let mr = space::Range::of(&m.route.dst);
                let overlap = mr.start < lr.end && lr.start < mr.end;
                !overlap || m.route.dst.prefix_len() <= ld.prefix_len()
            })
    })
}

/// Endpoints that the fixes leave asymmetric (empty when they work), as
/// `endpoints` on `apply`'s model would find them, in its order.
///
/// Only what a fix can change is analysed again, on a copy of the model
/// without the captured texts (a lookup reads none), and each endpoint only
/// until its first leak. An endpoint keeps its verdict from `eps` when
/// every lookup of its analysis is provably the same in the fixed model:
/// - its family has no command (a lookup reads only its own family's
///   rules, tables and FIB flags, besides the shared links and addresses);
/// - or the pieces are the same, so are the FIB flags lookups read and the
///   route presence (or unmerging `local` and `main` changes nothing), no
///   inserted rule can match its replies (nor is one a `goto` target), and
///   no rule that can match them looks up a table that got routes (without
///   custom IPv4 rules: `local`, `main`, `default`).
pub fn verify(host: &Host, eps: &[Endpoint], fixes: &[Fix], class: &LinkClass) -> Vec<String> {
    verify_in(host, eps, fixes, class, &[None, None])
}

/// `verify`, given the spaces `endpoints` cut for `eps` (none: cut here).
pub(crate) fn verify_in(
    host: &Host,
    eps: &[Endpoint],
    fixes: &[Fix],
    class: &LinkClass,
    spaces: &Spaces<'_>,
) -> Vec<String> {
    if fixes.is_empty() {
        return Vec::new();
    }
    let touched = |fam: Family| {
        fixes
            .iter()
            .flat_map(|f| &f.commands)
            .any(|c| c.starts_with("ip -6 ") == (fam == Family::Inet6))
    };
    let asymmetric = |fam: Family| {
        eps.iter()
            .filter(move |e| e.family == fam && e.verdict == Some(Verdict::Asymmetric))
            .map(|e| format!("{} on {}", e.address, e.interface))
    };
    if !touched(Family::Inet) && !touched(Family::Inet6) {
        return asymmetric(Family::Inet)
            .chain(asymmetric(Family::Inet6))
            .collect();
    }
    let mut fixed = Host {
        links: host.links.clone(),
        addrs: host.addrs.clone(),
        have_rules: host.have_rules,
        have_routes: host.have_routes,
        have_addrs: host.have_addrs,
        fib: host.fib.clone(),
        ..Host::default()
    };
    for fam in [Family::Inet, Family::Inet6]
        .into_iter()
        .filter(|&f| touched(f))
    {
        let fi = fam_idx(fam);
        fixed.rules[fi] = host.rules[fi].clone();
        fixed.tables[fi] = host.tables[fi].clone();
    }
    let applied = apply_to(&mut fixed, fixes);
    let mut out = Vec::new();
    for fam in [Family::Inet, Family::Inet6] {
        let fi = fam_idx(fam);
        let eps = eps.iter().filter(|e| e.family == fam);
        let name = |e: &Endpoint| format!("{} on {}", e.address, e.interface);
        if !touched(fam) {
            out.extend(asymmetric(fam));
            continue;
        }
        let cut_here;
        let orig = match &spaces[fi] {
            Some(sp) => sp,
            None => {
                cut_here = Space::new(host, fam, class);
                &cut_here
            }
        };
        let prefixes = &applied.prefixes[fi];
        // The fixed model's space: the same when the fix adds no prefix.
        let same_space = orig.same_with(prefixes);
        let mut fixed_space: Option<Space<'_>> = None;
        let (tables, added) = (&applied.tables[fi], &applied.rules[fi]);
        // Of the FIB flags a rule sets, IPv4 lookups read `custom_rules`
        // (whether `local` and `main` are merged); IPv6 ones read none.
        let same_flags = fam == Family::Inet6
            || fixed.fib.custom_rules[fi] == host.fib.custom_rules[fi]
            || merge_is_moot(&fixed);
        let same_model = same_flags
            && fixed.have_routes[fi] == host.have_routes[fi]
            && !fixed.rules[fi].iter().any(|r| {
                r.rule.action == RuleAction::Goto
                    && added.iter().any(|a| r.rule.goto == Some(a.rule.priority))
            })
            && orig.same_pieces_with(prefixes);
        // The tables a lookup from `src` may read that got routes.
        let reads_changed = |src: IpAddr| {
            if fam == Family::Inet && !host.fib.custom_rules[fi] {
                return [Table::LOCAL, Table::MAIN, Table::DEFAULT]
                    .iter()
                    .any(|&t| tables.contains(&Table::Id(t)));
            }
            host.rules[fi].iter().any(|r| {
                r.rule.action == RuleAction::Lookup
                    && !r.rule.l3mdev
                    && r.table.as_ref().is_some_and(|t| tables.contains(t))
                    && host.rule_may_match_reply(r, src)
            })
        };
        let unchanged = |e: &Endpoint| {
            same_model
                && !added
                    .iter()
                    .any(|r| fixed.rule_may_match_reply(r, e.address))
                && !reads_changed(e.address)
        };
        out.extend(
            eps.filter(|e| {
                if e.state != "up" || !fixed.have_routes[fi] {
                    false
                } else if unchanged(e) {
                    e.verdict == Some(Verdict::Asymmetric)
                } else {
                    let sp = match same_space {
                        true => orig,
                        false => fixed_space.get_or_insert_with(|| Space::new(&fixed, fam, class)),
                    };
                    has_leak(&fixed, e, sp)
                }
            })
            .map(name),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Input;
    use crate::verdict::testhosts::{Rng, random_host};

    /// What `verify` must give: every endpoint of the whole fixed model.
    fn full(host: &Host, fx: &[Fix], class: &LinkClass) -> Vec<String> {
        if fx.is_empty() {
            return Vec::new();
        }
        super::super::endpoints(&apply(host, fx), class)
            .into_iter()
            .filter(|e| e.verdict == Some(Verdict::Asymmetric))
            .map(|e| format!("{} on {}", e.address, e.interface))
            .collect()
    }

    /// `verify`'s shortcuts give what analysing the whole fixed model gives.
    #[test]
    fn verify_matches_full_reanalysis() {
        let class = LinkClass::default();
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        let mut with_fixes = 0;
        for _ in 0..5000 {
            let host = random_host(&mut rng);
            let (eps, spaces) = super::super::endpoints_spaces(&host, &class);
            let fx = fixes(&host, &eps);
            with_fixes += usize::from(!fx.is_empty());
            let want = full(&host, &fx, &class);
            assert_eq!(verify(&host, &eps, &fx, &class), want, "{fx:?}");
            assert_eq!(verify_in(&host, &eps, &fx, &class, &spaces), want);
        }
        assert!(with_fixes > 1000, "{with_fixes} hosts with fixes");
    }

    /// eth1's /32 has no prefix route, so eth0's endpoint is fine and keeps
    /// no fix; eth1's gets a rule, which unmerges `local` and `main`. Then
    /// `local`'s throw goes on to `main` (192.168.0.0/16 via eth1) where the
    /// merged trie went to `default` (no route): eth0's verdict changes.
    #[test]
    fn unmerging_local_and_main_is_seen() {
        let text = |name: &str, kind, text: &str| Input {
            name: name.into(),
            text: text.into(),
            kind,
            ctx: Ctx {
                family: Some(Family::Inet),
                table: None,
            },
        };
        let addr = "\
1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN
    inet 127.0.0.1/8 scope host lo
2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 state UP
    inet 10.0.0.10/24 brd 10.0.0.255 scope global eth0
3: eth1: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 state UP
    inet 10.1.0.10/32 scope global eth1
";
        let route = "\
default via 10.0.0.1 dev eth0
10.0.0.0/24 dev eth0 proto kernel scope link src 10.0.0.10
192.168.0.0/16 via 10.1.0.1 dev eth1 onlink
local 10.0.0.10 dev eth0 table local proto kernel scope host src 10.0.0.10
local 10.1.0.10 dev eth1 table local proto kernel scope host src 10.1.0.10
throw 192.168.0.0/16 table local
";
        let h = Host::build(
            vec![
                text("ip_addr.txt", DumpKind::IpAddr, addr),
                text("ip_route.txt", DumpKind::IpRoute, route),
            ],
            &Default::default(),
        );
        let class = LinkClass::default();
        let eps = super::super::endpoints(&h, &class);
        let fx = fixes(&h, &eps);
        let want = full(&h, &fx, &class);
        assert!(want.iter().any(|e| e.ends_with(" on eth0")), "{want:?}");
        assert_eq!(verify(&h, &eps, &fx, &class), want);
    }
}
