//! Fixes: for each asymmetric endpoint, the `ip route` / `ip rule` commands
//! that make its replies leave by its own link — a table per link holding
//! its default route and connected prefixes, and a `from A` rule ahead of
//! whatever decides today — in the host's own conventions (existing per-link
//! tables and priorities, e.g. amazon-ec2-net-utils' 10000 + device number).
//! `verify` applies them to a copy of the model and re-runs the analysis.

use super::{Endpoint, LinkClass, Verdict, endpoints};
use crate::grammar::{self, Ctx, DumpKind, Family, RuleAction, Table};
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
                while host.tables[fam_idx(fam)].contains_key(&Table::Id(t))
                    && !conv.iter().any(|c| c.1 == t)
                {
                    t += 1;
                }
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
        match gw {
            Some(g) => cmds.push(format!(
                "{ip} route add default via {g} dev {dev} table {table}"
            )),
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
            cmds.push(format!(
                "{ip} route add {p} dev {dev} proto kernel scope link src {src} table {table}"
            ));
        }
        for e in eps.iter().filter(|e| {
            e.interface == dev && e.family == fam && e.verdict == Some(Verdict::Asymmetric)
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
                    h.tables[fi].entry(t.clone()).or_default().push(RouteEntry {
                        route,
                        origin: Origin::ASSUMED,
                        tos: 0,
                    });
                    if let Some(tb) = h.tables[fi].get_mut(&t) {
                        tb.finish();
                    }
                    h.have_routes[fi] = true;
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
                    h.rules[fi].insert(
                        pos,
                        RuleEntry {
                            table: rule.table.clone(),
                            tos: None,
                            rule,
                            origin: Origin::ASSUMED,
                        },
                    );
                }
            }
        }
    }
    h
}

/// Endpoints that the fixes leave asymmetric (empty when they work).
pub fn verify(host: &Host, fixes: &[Fix], class: &LinkClass) -> Vec<String> {
    if fixes.is_empty() {
        return Vec::new();
    }
    let fixed = apply(host, fixes);
    endpoints(&fixed, class)
        .into_iter()
        .filter(|e| e.verdict == Some(Verdict::Asymmetric))
        .map(|e| format!("{} on {}", e.address, e.interface))
        .collect()
}
