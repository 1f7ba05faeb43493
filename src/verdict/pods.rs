//! Pods as forwarded endpoints (docs/verdicts.md, "Pods"). A pod whose
//! address the host routes straight into a container link (the AWS VPC
//! CNI's `POD dev eni… scope link`, Cilium's `lxc…`) receives its requests
//! by an uplink — the ENI that holds the pod's address — and its replies
//! arrive by the veth to be forwarded: they must leave by that uplink, or
//! the VPC drops them. The uplink is the one the pod's `from POD lookup N`
//! rule names (the device of table N's default route), else the uplink
//! whose subnet holds the pod's address (the VPC CNI writes no rule for
//! pods on the primary ENI).
//!
//! Each reply is looked up as the kernel forwards it (`ip route get DST
//! from POD iif VETH`): pods whose rules meet their replies alike (the
//! same rules but for their `from`, `Host::forward_key`) share one
//! analysis, and are reported as one group of collapsed ranges, not one
//! line per pod. Other pods, the host's own addresses, container links'
//! prefixes and never-peers are not a pod's peers.

use super::analyse::{Memo, analyse};
use super::peers::{RangeSet, Space};
use super::quote::Quoter;
use super::space::{self, Range};
use super::{FastMap, Impact, Leak, LinkClass, NoRoute, Quote, Verdict};
use crate::grammar::{Family, RouteType, RuleAction, Table};
use crate::model::{Host, fam_idx};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// How a pod's uplink was told.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PodBinding {
    /// Its `from POD lookup N` rule: the device of table N's default route
    /// (or of N's other routes when the default is gone).
    Rule,
    /// No such rule: the uplink whose subnet holds the pod's address.
    Subnet,
}

/// Pods that share an uplink and an analysis: one line of the report
/// (written by `report::wire`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PodGroup {
    pub family: Family,
    /// How many pods.
    pub pods: usize,
    /// Their addresses, collapsed into CIDR blocks (the first
    /// `MAX_DESTINATIONS`).
    pub addresses: Vec<String>,
    /// The link their requests arrive by, and their replies must leave by.
    pub uplink: String,
    pub bound_by: PodBinding,
    /// The table their `from POD lookup N` rules name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
    /// One pod's `from POD lookup N` rule.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<Quote>,
    /// The host veth of that pod (replies arrive by it).
    pub veth: String,
    pub verdict: Verdict,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub impact: Option<Impact>,
    #[serde(default)]
    pub leaks: Vec<std::sync::Arc<Leak>>,
    #[serde(default)]
    pub no_route: Vec<NoRoute>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditional: Vec<Quote>,
}

/// A pod: its address and the container link its route names.
struct Pod<'h> {
    addr: IpAddr,
    veth: &'h str,
}

/// The pods of family `fam`: full-length unicast routes of the main table
/// without a gateway into a container link, to an address that is not
/// the host's own.
fn find<'h>(host: &'h Host, fam: Family, class: &LinkClass) -> Vec<Pod<'h>> {
    let full = if fam == Family::Inet { 32 } else { 128 };
    let Some(main) = host.table(fam, &Table::Id(Table::MAIN)) else {
        return Vec::new();
    };
    let mut seen: super::FastSet<IpAddr> = Default::default();
    let mut out = Vec::new();
    for e in main.routes.iter() {
        let r = &e.route;
        let (Some(dev), None) = (r.dev.as_deref(), r.gateway) else {
            continue;
        };
        if r.dst.prefix_len() != full
            || r.kind() != RouteType::Unicast
            || !r.nexthops.is_empty()
            || !class.is_internal(dev)
            || host.is_local_addr(r.dst.addr())
            || !seen.insert(r.dst.addr())
        {
            continue;
        }
        out.push(Pod {
            addr: r.dst.addr(),
            veth: dev,
        });
    }
    out
}

/// The uplinks: up, non-loopback, not container links, with an address of
/// the family.
fn uplinks<'h>(host: &'h Host, fam: Family, class: &LinkClass) -> Vec<(&'h str, Range)> {
    super::peers::connected(host, fam)
        .into_iter()
        .filter(|(l, _)| !class.is_internal(l) && host.link(l).is_none_or(|x| !x.loopback && x.up))
        .map(|(l, n)| (l, Range::of(&n)))
        .collect()
}

/// The device a table's routes leave by: its default route's, else its
/// other routes' (the VPC CNI's `GW dev ethN scope link`), if they agree.
fn table_dev<'h>(host: &'h Host, fam: Family, t: &Table, class: &LinkClass) -> Option<&'h str> {
    let fib = host.table(fam, t)?;
    let dev_of = |e: &'h crate::model::RouteEntry| -> Option<&'h str> {
        let r = &e.route;
        r.dev
            .as_deref()
            .or_else(|| r.nexthops.first().and_then(|n| n.dev.as_deref()))
            .filter(|d| !class.is_internal(d) && *d != "lo")
    };
    let unicast = || {
        fib.routes
            .iter()
            .filter(|e| e.route.kind() == RouteType::Unicast)
    };
    if let Some(d) = unicast()
        .filter(|e| e.route.dst.prefix_len() == 0)
        .find_map(dev_of)
    {
        return Some(d);
    }
    let mut devs = unicast().filter_map(dev_of);
    let first = devs.next()?;
    devs.all(|d| d == first).then_some(first)
}

/// One pod's binding: (uplink, how, table, the rule's index).
type Binding<'h> = (&'h str, PodBinding, Option<Table>, Option<usize>);

fn bind<'h>(
    host: &'h Host,
    fam: Family,
    class: &LinkClass,
    ups: &[(&'h str, Range)],
    from_rules: &FastMap<IpAddr, usize>,
    pod: &Pod<'_>,
) -> Option<Binding<'h>> {
    let x = space::num(pod.addr);
    let holding: Vec<&'h str> = ups
        .iter()
        .filter(|(_, r)| r.contains(x))
        .map(|(l, _)| *l)
        .collect();
    if let Some(&i) = from_rules.get(&pod.addr) {
        let re = &host.rules[fam_idx(fam)][i];
        if let Some(t) = &re.table
            && let Some(d) = table_dev(host, fam, t, class)
        {
            // One uplink alone holds the address (the VPC gives a pod an
            // address of its ENI's subnet): a rule naming another's table
            // is the fault, not the binding.
            match holding.as_slice() {
                [one] if *one != d => {
                    return Some((one, PodBinding::Subnet, Some(t.clone()), Some(i)));
                }
                _ => return Some((d, PodBinding::Rule, Some(t.clone()), Some(i))),
            }
        }
    }
    let up = match holding.as_slice() {
        [] => return None,
        [one] => *one,
        // Several uplinks in one subnet: the VPC CNI binds a pod without
        // a rule to the primary ENI, where main's default leaves (main is
        // read only here: it holds every pod's route).
        many => table_dev(host, fam, &Table::Id(Table::MAIN), class)
            .filter(|d| many.contains(d))
            .unwrap_or(many[0]),
    };
    let (t, i) = match from_rules.get(&pod.addr) {
        Some(&i) => (host.rules[fam_idx(fam)][i].table.clone(), Some(i)),
        None => (None, None),
    };
    Some((up, PodBinding::Subnet, t, i))
}

/// What the pods of a host say: their groups, notes, and the repairs of
/// the groups that leak (not yet verified: `plan_fix`).
#[derive(Default)]
pub struct Pods {
    pub groups: Vec<PodGroup>,
    pub notes: Vec<String>,
    pub(crate) repairs: Vec<Repair>,
    /// The addresses of the pods whose group is `Ok` (`plan_fix` compares
    /// them before and after a repair; the groups' text is capped and
    /// collapsed).
    ok: super::FastSet<IpAddr>,
}

/// The operations that would give a leaking group's pods the CNI's
/// layout: their uplink's table with its default, and each pod's `from POD
/// lookup N` rule naming that table.
pub(crate) struct Repair {
    pods: Vec<IpAddr>,
    what: String,
    ops: Vec<super::fix::Op>,
    notes: Vec<String>,
}

/// The pods of `host`, analysed.
pub fn pods(host: &Host, class: &LinkClass, platform: super::fix::Platform) -> Pods {
    let mut out = Pods::default();
    let q = Quoter::new(host);
    for fam in [Family::Inet, Family::Inet6] {
        if !host.have_routes[fam_idx(fam)] {
            continue;
        }
        let found = find(host, fam, class);
        if found.is_empty() {
            continue;
        }
        let full = space::bits(fam) as u8;
        // Each pod's first `from POD lookup N` rule.
        let mut from_rules: FastMap<IpAddr, usize> = Default::default();
        for (i, re) in host.rules[fam_idx(fam)].iter().enumerate() {
            if let (Some(f), RuleAction::Lookup, false) =
                (re.rule.from, &re.rule.action, re.rule.not)
                && f.prefix_len() == full
            {
                from_rules.entry(f.addr()).or_insert(i);
            }
        }
        let ups = uplinks(host, fam, class);
        let idx = host.source_index(fam);
        let sp = Space::new(host, fam, class);
        // Other pods are no pod's peers (pod to pod stays on the host).
        let others = RangeSet::new(
            found
                .iter()
                .map(|p| Range::block(fam, space::num(p.addr), full))
                .collect(),
        );
        type Key<'h> = (
            &'h str,
            PodBinding,
            Option<Table>,
            crate::model::lookup::ForwardKey,
            Vec<Option<i64>>,
            Option<IpAddr>,
        );
        let mut groups: FastMap<Key<'_>, usize> = Default::default();
        // Per group: its pods, its representative and binding.
        let mut members: Vec<(Vec<u128>, usize, Binding<'_>)> = Vec::new();
        let mut unbound = 0usize;
        let src_routes = fam == Family::Inet6
            && host.tables[fam_idx(fam)].values().any(|t| {
                t.routes
                    .iter()
                    .any(|e| e.route.from().is_some_and(|f| f.prefix_len() > 0))
            });
        for (pi, p) in found.iter().enumerate() {
            let Some(b) = bind(host, fam, class, &ups, &from_rules, p) else {
                unbound += 1;
                continue;
            };
            // The veth's settings that a forwarded reply meets.
            let s = &host.sysctls;
            let conf = vec![
                s.forwarding(p.veth).map(|f| i64::from(f.0)),
                Some(s.rp_filter(p.veth).mode),
                Some(i64::from(s.accept_local(p.veth))),
                Some(i64::from(s.src_valid_mark(p.veth))),
                Some(i64::from(s.send_redirects(p.veth))),
                Some(i64::from(s.route_localnet(p.veth))),
            ];
            let key: Key<'_> = (
                b.0,
                b.1,
                b.2.clone(),
                host.forward_key(&idx, p.addr, p.veth),
                conf,
                src_routes.then_some(p.addr),
            );
            let n = members.len();
            let g = *groups.entry(key).or_insert(n);
            if g == n {
                members.push((Vec::new(), pi, b));
            }
            members[g].0.push(space::num(p.addr));
        }
        if unbound > 0 {
            out.notes.push(format!(
                "{unbound} {} pod address(es) routed into container links lie in no uplink's subnet and have no `from POD lookup N` rule: no uplink to hold their replies to, not analysed",
                if fam == Family::Inet { "IPv4" } else { "IPv6" }
            ));
        }
        // An uplink that does not forward refuses every request to its pods
        // (EHOSTUNREACH): not an asymmetry, but said.
        let mut per_uplink: FastMap<&str, usize> = Default::default();
        for (addrs, _, b) in &members {
            *per_uplink.entry(b.0).or_default() += addrs.len();
        }
        let mut ups_told: Vec<(&str, usize)> = per_uplink.into_iter().collect();
        ups_told.sort_unstable();
        for (u, n) in ups_told {
            if let Some((false, key)) = host.sysctls.forwarding(u) {
                out.notes.push(format!(
                    "{u} does not forward ({key} = 0): requests to its {n} pod(s) are refused"
                ));
            }
        }
        if fam == Family::Inet
            && !members.is_empty()
            && !host.sysctls.has_setting("forwarding")
            && host.sysctls.get("net.ipv4.ip_forward").is_none()
        {
            out.notes.push(
                "forwarding not collected (sysctl -a): assumed on for the pods' veths and uplinks (a node that routes pods forwards)".into(),
            );
        }
        let mut m = Memo::default();
        for (addrs, rep, b) in members {
            let p = &found[rep];
            let (uplink, bound_by, table, rule) = b;
            let mut ep = super::unassessed(p.addr, full, uplink.to_string(), fam);
            let rules = host.forward_rules(p.addr, p.veth);
            // Forwarded, from the pod's veth: shares nothing, and its
            // answers are not reserved (a node has a group per pod).
            let g = m.answers.add_group(sp.kinds, None, false, None);
            analyse(
                host,
                class,
                &q,
                &mut ep,
                &sp,
                &mut m,
                g,
                &rules,
                true,
                Some(&others),
            );
            super::impact::assess(host, std::slice::from_mut(&mut ep), class, platform);
            // The veth does not forward: every reply is refused
            // (EHOSTUNREACH) whatever the routes; whether rp_filter on the
            // uplink drops a request first is not assessed (it would take
            // the routes the refusal hides).
            if let Some((false, key)) = host.sysctls.forwarding(p.veth) {
                for n in &mut ep.no_route {
                    n.impact = Impact::ReplyDropped;
                    n.dropped_by = Some(format!("the host: {key} = 0 (forwarding off)"));
                }
                ep.impact = ep.no_route.iter().map(|n| n.impact).max();
            }
            if ep.verdict != Some(Verdict::Ok) && fam == Family::Inet {
                let pods: Vec<IpAddr> = addrs.iter().map(|&a| space::addr(fam, a)).collect();
                let what = format!(
                    "pods {}{} of {uplink}",
                    p.addr,
                    if pods.len() > 1 { " …" } else { "" }
                );
                match repair(
                    host,
                    fam,
                    class,
                    platform,
                    uplink,
                    table.as_ref(),
                    &from_rules,
                    &pods,
                ) {
                    Ok((ops, notes)) => out.repairs.push(Repair {
                        pods,
                        what,
                        ops,
                        notes,
                    }),
                    Err(why) => out
                        .notes
                        .push(format!("no fix planned for the {what}: {why}")),
                }
            }
            let verdict = ep.verdict.unwrap_or(Verdict::Ok);
            if verdict == Verdict::Ok {
                out.ok.extend(addrs.iter().map(|&a| space::addr(fam, a)));
            }
            let ranges = collapse(fam, addrs);
            out.groups.push(PodGroup {
                family: fam,
                pods: ranges.1,
                addresses: ranges.0,
                uplink: uplink.to_string(),
                bound_by,
                table: table.map(|t| t.to_string()),
                rule: rule.map(|i| q.rule(fam, i)),
                veth: p.veth.to_string(),
                verdict,
                impact: ep.impact,
                leaks: ep.leaks.into_vec(),
                no_route: ep.no_route,
                conditional: ep.conditional,
            });
        }
    }
    out.groups.sort_by(|a, b| {
        b.verdict
            .cmp(&a.verdict)
            .then(fam_idx(a.family).cmp(&fam_idx(b.family)))
            .then(a.uplink.cmp(&b.uplink))
            .then(a.addresses.first().cmp(&b.addresses.first()))
    });
    out
}

/// Pod addresses as CIDR blocks (at most `MAX_DESTINATIONS` listed), and
/// how many pods.
fn collapse(fam: Family, mut addrs: Vec<u128>) -> (Vec<String>, usize) {
    addrs.sort_unstable();
    addrs.dedup();
    let n = addrs.len();
    let mut ranges: Vec<Range> = Vec::new();
    for a in addrs {
        match ranges.last_mut() {
            Some(r) if r.end == a => r.end = a + 1,
            _ => ranges.push(Range {
                start: a,
                end: a + 1,
            }),
        }
    }
    let mut out = Vec::new();
    for r in ranges {
        for (s, p) in space::blocks(fam, r) {
            if out.len() == super::MAX_DESTINATIONS {
                return (out, n);
            }
            out.push(space::net_string(fam, s, p));
        }
    }
    (out, n)
}

/// The host's reason with its pods' worst group told: after the
/// endpoints' when they have a problem of their own, else first.
pub fn reason(endpoints: String, ep_verdict: Verdict, pods: &[PodGroup]) -> String {
    let bad: Vec<&PodGroup> = pods.iter().filter(|p| p.verdict != Verdict::Ok).collect();
    let Some(p) = bad.first() else {
        return endpoints;
    };
    let first = p.addresses.first().map(String::as_str).unwrap_or("?");
    let addrs = if p.addresses.len() > 1 {
        format!("{first}, …")
    } else {
        first.to_string()
    };
    let table = p
        .table
        .as_ref()
        .map(|t| format!(", table {t}"))
        .unwrap_or_default();
    let what = match p.leaks.first() {
        Some(l) => {
            let mut egress: Vec<&str> = Vec::new();
            for l in &p.leaks {
                if !egress.contains(&l.egress.as_str()) {
                    egress.push(&l.egress);
                }
            }
            format!("→ {}", egress.join(", "))
                + &match l.impact {
                    Impact::ReplyDropped => " (replies dropped by the VPC)".to_string(),
                    Impact::RequestDropped => " (requests dropped by rp_filter)".to_string(),
                    Impact::Delivered => String::new(),
                }
        }
        None => match p.no_route.first() {
            Some(n) => format!(
                ": {} to {}",
                n.error,
                n.destinations
                    .first()
                    .map_or_else(|| "?".into(), super::endpoint::cidr_text)
            ),
            None => String::new(),
        },
    };
    let more: usize = bad.iter().skip(1).map(|p| p.pods).sum();
    let more = match more {
        0 => String::new(),
        n => format!("; +{n} more pod(s)"),
    };
    let broken = if p.impact.is_some_and(Impact::is_broken) {
        "broken: "
    } else {
        ""
    };
    let text = format!(
        "{broken}{} pod(s) of {} ({addrs}{table}) {what}{more}",
        p.pods, p.uplink
    );
    if ep_verdict == Verdict::Ok {
        format!("{text}; {endpoints}")
    } else {
        format!("{endpoints}; {text}")
    }
}

/// The repair of one leaking group: its uplink's table (the one its rule
/// names when that leaves by the uplink, else the lowest numbered table
/// whose routes leave by it), the table's default where missing (via the
/// gateway of its `GW dev UPLINK scope link` route, or on EC2 the subnet's
/// router), and each pod's `from POD lookup N` rule, replacing one that
/// names another table.
#[allow(clippy::too_many_arguments)]
fn repair(
    host: &Host,
    fam: Family,
    class: &LinkClass,
    platform: super::fix::Platform,
    uplink: &str,
    table: Option<&Table>,
    from_rules: &FastMap<IpAddr, usize>,
    pods: &[IpAddr],
) -> Result<(Vec<super::fix::Op>, Vec<String>), String> {
    use super::fix::Op;
    use crate::grammar::{Route, Rule};
    let fi = fam_idx(fam);
    let main = Table::Id(Table::MAIN);
    if table_dev(host, fam, &main, class) == Some(uplink) {
        return Err(format!(
            "{uplink} is where main's default leaves (the primary ENI): its pods need no rule, and what sends their replies elsewhere is main's, shared with the host"
        ));
    }
    let numbered = |t: &Table| {
        t.id().is_some_and(|n| {
            ![Table::MAIN, Table::LOCAL, Table::DEFAULT, Table::UNSPEC].contains(&n)
        })
    };
    let t = match table.filter(|t| numbered(t) && table_dev(host, fam, t, class) == Some(uplink)) {
        Some(t) => t.clone(),
        None => host.tables[fi]
            .keys()
            .filter(|t| numbered(t) && table_dev(host, fam, t, class) == Some(uplink))
            .min_by_key(|t| t.id())
            .cloned()
            .ok_or_else(|| format!("no table's routes leave by {uplink}"))?,
    };
    let mut ops = Vec::new();
    let mut notes = Vec::new();
    let fib = host.table(fam, &t);
    let has_default = fib.is_some_and(|f| {
        f.routes
            .iter()
            .any(|e| e.route.dst.prefix_len() == 0 && e.route.kind() == RouteType::Unicast)
    });
    if !has_default {
        let full = space::bits(fam) as u8;
        let gw = fib
            .and_then(|f| {
                f.routes.iter().find(|e| {
                    let r = &e.route;
                    r.dst.prefix_len() == full
                        && r.gateway.is_none()
                        && r.dev.as_deref() == Some(uplink)
                        && r.kind() == RouteType::Unicast
                })
            })
            .map(|e| e.route.dst.addr());
        let gw = match gw {
            Some(g) => g,
            None if platform.ec2 => {
                let net = super::peers::connected(host, fam)
                    .into_iter()
                    .find(|(l, _)| *l == uplink)
                    .map(|(_, n)| n)
                    .ok_or_else(|| format!("{uplink} has no address"))?;
                notes.push(format!(
                    "the VPC's router of {net} is its base address + 1 (EC2's convention)"
                ));
                space::addr(fam, space::num(net.network()) + 1)
            }
            None => return Err(format!("table {t} has no default and names no gateway")),
        };
        let dst = ipnet::IpNet::new(space::addr(fam, 0), 0).map_err(|e| e.to_string())?;
        let mut r = Route::new(0, fam, dst, RouteType::Unicast, t.clone());
        r.dev = Some(uplink.into());
        r.gateway = Some(gw);
        ops.push(Op::AddRoute(r));
    }
    // The priority the CNI gives these rules: that of the rules already
    // naming the table, else 1536.
    let rules = &host.rules[fi];
    let prio = rules
        .iter()
        .find(|re| re.table.as_ref() == Some(&t) && re.rule.from.is_some())
        .map_or(1536, |re| re.rule.priority);
    let full = space::bits(fam) as u8;
    for &p in pods {
        let existing = from_rules.get(&p).map(|&i| &rules[i]);
        if existing.is_some_and(|re| re.table.as_ref() == Some(&t)) {
            continue;
        }
        if let Some(re) = existing {
            ops.push(Op::DelRule(fam, re.rule.clone()));
        }
        let mut r = Rule::new(0, existing.map_or(prio, |re| re.rule.priority));
        r.family = Some(fam);
        r.from = ipnet::IpNet::new(p, full).ok();
        r.action = RuleAction::Lookup;
        r.table = Some(t.clone());
        ops.push(Op::AddRule(fam, r));
    }
    Ok((ops, notes))
}

/// The pods' part of the fix: each leaking group's repair, applied after
/// the endpoints' steps on a copy of the model, is kept when its pods are
/// then symmetric, no pod that was fine leaks, and no endpoint's replies
/// change. A host whose pods still leak is not fixed.
pub fn plan_fix(
    host: &Host,
    class: &LinkClass,
    platform: super::fix::Platform,
    pods: &mut Pods,
    advice: &mut super::fix::Advice,
) {
    use super::fix::{FixStatus, apply_op};
    let bad: Vec<&PodGroup> = pods
        .groups
        .iter()
        .filter(|p| p.verdict != Verdict::Ok)
        .collect();
    if bad.is_empty() {
        return;
    }
    let bad_pods: usize = bad.iter().map(|p| p.pods).sum();
    let mut model = host.clone();
    let endpoint_ops = advice.steps.iter().flat_map(|f| &f.ops);
    let base_ok = endpoint_ops
        .map(|op| apply_op(&mut model, op))
        .all(|r| r.is_ok());
    let mut fixed = 0usize;
    if base_ok {
        let eps_before = super::endpoints(&model, class);
        let mut ok_before = self::pods(&model, class, platform).ok;
        for r in std::mem::take(&mut pods.repairs) {
            let mut m = model.clone();
            // A table's default restored for an earlier group of the same
            // uplink is there already: not added twice.
            let mut ops = Vec::new();
            let mut refused = None;
            for op in r.ops {
                match apply_op(&mut m, &op) {
                    Ok(()) => ops.push(op),
                    Err(e)
                        if matches!(op, super::fix::Op::AddRoute(_)) && e == super::fix::EEXIST => {
                    }
                    Err(e) => {
                        refused = Some(e);
                        break;
                    }
                }
            }
            if let Some(e) = refused {
                pods.notes.push(format!(
                    "no fix for the {}: the kernel would refuse it ({e})",
                    r.what
                ));
                continue;
            }
            let ok_after = self::pods(&m, class, platform).ok;
            let repaired = r.pods.iter().all(|p| ok_after.contains(p));
            let kept = ok_before.iter().all(|p| ok_after.contains(p));
            if !(repaired && kept && super::endpoints(&m, class) == eps_before) {
                pods.notes.push(format!(
                    "no fix for the {}: restoring their rules and table did not make them symmetric on the model, or changed other replies",
                    r.what
                ));
                continue;
            }
            fixed += r.pods.len();
            // An earlier group's step (its table's default) repaired these too.
            if ops.is_empty() {
                model = m;
                ok_before = ok_after;
                continue;
            }
            let mut notes = r.notes;
            notes.push(format!(
                "{} pod(s) get the VPC CNI's layout back: their replies leave by their ENI (the CNI rewrites these when a pod starts)",
                r.pods.len()
            ));
            advice.steps.push(super::fix::Fix::new(ops, notes));
            model = m;
            ok_before = ok_after;
        }
    }
    let left = bad_pods.saturating_sub(fixed);
    let what = if left == 0 {
        format!(
            "{fixed} leaking pod(s) symmetric once applied, no other reply changed (checked on the model)"
        )
    } else {
        format!("{left} pod(s) still leak (see the notes); {fixed} fixed")
    };
    advice.status = match (advice.status, left == 0) {
        (FixStatus::NotNeeded | FixStatus::Verified, true) => FixStatus::Verified,
        (FixStatus::Partial, _) => FixStatus::Partial,
        (_, _) if !advice.steps.is_empty() => FixStatus::Partial,
        _ => FixStatus::None,
    };
    advice.reason = if advice.reason.is_empty() || bad_pods == 0 {
        what
    } else {
        format!("{}; {what}", advice.reason)
    };
    if left > 0 {
        for p in bad {
            advice.unverified.push(format!(
                "pods {} of {}",
                p.addresses.first().map(String::as_str).unwrap_or("?"),
                p.uplink
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grammar::{Ctx, DumpKind};
    use crate::model::Input;

    fn host(rules: &str, routes: &str, sysctl: &str) -> Host {
        let input = |name: &str, kind, text: &str| Input {
            name: name.into(),
            text: text.into(),
            kind,
            ctx: Ctx::default(),
            lines_before: 0,
        };
        let mut addr = String::from(
            "\
1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN
    inet 127.0.0.1/8 scope host lo
2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 9001 qdisc mq state UP
    inet 10.1.1.10/24 brd 10.1.1.255 scope global eth0
3: eth1: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 9001 qdisc mq state UP
    inet 10.1.2.20/24 brd 10.1.2.255 scope global eth1
",
        );
        for i in 0..8 {
            addr.push_str(&format!(
                "{}: eni{i:04}@if3: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 9001 qdisc noqueue state UP\n",
                i + 4
            ));
        }
        let mut h = Host::build(
            vec![
                input("ip_addr.txt", DumpKind::IpAddr, &addr),
                input("ip_rule.txt", DumpKind::IpRule, rules),
                input("ip_route.txt", DumpKind::IpRoute, routes),
            ],
            &Default::default(),
        );
        let (s, _) = crate::model::system::Sysctls::parse(sysctl);
        h.sysctls_mut().extend(s);
        h
    }

    /// Pods 10.1.2.60–63 on eth1 (table 2), 10.1.1.50 on eth0 (no rule).
    fn routes(table2_default: bool) -> String {
        let mut r = String::from(
            "\
default via 10.1.1.1 dev eth0
10.1.1.0/24 dev eth0 proto kernel scope link src 10.1.1.10
10.1.1.50 dev eni0000 scope link
10.1.2.60 dev eni0001 scope link
10.1.2.61 dev eni0002 scope link
10.1.2.62 dev eni0003 scope link
10.1.2.63 dev eni0004 scope link
10.1.2.1 dev eth1 table 2 scope link
",
        );
        if table2_default {
            r.push_str("default via 10.1.2.1 dev eth1 table 2\n");
        }
        r
    }

    fn rules(from: &[&str]) -> String {
        let mut r = String::from("0:\tfrom all lookup local\n");
        for p in [
            "10.1.1.50",
            "10.1.2.60",
            "10.1.2.61",
            "10.1.2.62",
            "10.1.2.63",
        ] {
            r.push_str(&format!("512:\tfrom all to {p} lookup main\n"));
        }
        for p in from {
            r.push_str(&format!("1536:\tfrom {p} lookup 2\n"));
        }
        r.push_str("32766:\tfrom all lookup main\n32767:\tfrom all lookup default\n");
        r
    }

    fn analysed(h: &Host) -> Pods {
        pods(
            h,
            &LinkClass::default(),
            super::super::fix::Platform { ec2: true },
        )
    }

    #[test]
    fn bound_pods_are_grouped_and_ok() {
        let all = ["10.1.2.60", "10.1.2.61", "10.1.2.62", "10.1.2.63"];
        let h = host(&rules(&all), &routes(true), "");
        let p = analysed(&h);
        assert_eq!(p.groups.len(), 2, "{:?}", p.groups);
        let eth1 = p.groups.iter().find(|g| g.uplink == "eth1").unwrap();
        assert_eq!(eth1.pods, 4);
        assert_eq!(eth1.addresses, ["10.1.2.60/30"]);
        assert_eq!(eth1.bound_by, PodBinding::Rule);
        assert_eq!(eth1.table.as_deref(), Some("2"));
        assert_eq!(eth1.verdict, Verdict::Ok);
        let eth0 = p.groups.iter().find(|g| g.uplink == "eth0").unwrap();
        assert_eq!(eth0.bound_by, PodBinding::Subnet);
        assert_eq!(eth0.verdict, Verdict::Ok);
    }

    #[test]
    fn a_table_without_its_default_leaks_its_pods() {
        let all = ["10.1.2.60", "10.1.2.61", "10.1.2.62", "10.1.2.63"];
        let h = host(&rules(&all), &routes(false), "");
        let p = analysed(&h);
        let eth1 = p.groups.iter().find(|g| g.uplink == "eth1").unwrap();
        assert_eq!(eth1.verdict, Verdict::Asymmetric);
        assert_eq!(eth1.pods, 4);
        let l = &eth1.leaks[0];
        assert_eq!(l.egress, "eth0");
        assert_eq!(l.impact, Impact::ReplyDropped);
        assert!(l.summary.starts_with("0.0.0.0/0 except"), "{}", l.summary);
    }

    #[test]
    fn a_missing_rule_leaks_one_pod() {
        let h = host(
            &rules(&["10.1.2.60", "10.1.2.61", "10.1.2.63"]),
            &routes(true),
            "",
        );
        let p = analysed(&h);
        let bad: Vec<&PodGroup> = p
            .groups
            .iter()
            .filter(|g| g.verdict == Verdict::Asymmetric)
            .collect();
        assert_eq!(bad.len(), 1, "{:?}", p.groups);
        assert_eq!(bad[0].addresses, ["10.1.2.62/32"]);
        assert_eq!(bad[0].uplink, "eth1");
        assert_eq!(bad[0].bound_by, PodBinding::Subnet);
        assert_eq!(bad[0].leaks[0].egress, "eth0");
        // The three bound pods stay one group: their rules differ in `from` only.
        let ok = p
            .groups
            .iter()
            .find(|g| g.uplink == "eth1" && g.verdict == Verdict::Ok);
        assert_eq!(ok.map(|g| g.pods), Some(3));
    }

    #[test]
    fn a_veth_that_does_not_forward_refuses_replies() {
        let all = ["10.1.2.60", "10.1.2.61", "10.1.2.62", "10.1.2.63"];
        let h = host(
            &rules(&all),
            &routes(true),
            "net.ipv4.ip_forward = 1\nnet.ipv4.conf.eni0002.forwarding = 0\n",
        );
        let p = analysed(&h);
        let off = p
            .groups
            .iter()
            .find(|g| g.addresses == ["10.1.2.61/32"])
            .expect("the pod behind eni0002 alone");
        assert_eq!(off.verdict, Verdict::NoRoute);
        let n = &off.no_route[0];
        assert_eq!(n.error, crate::model::KernelError::HostUnreach);
        assert_eq!(n.impact, Impact::ReplyDropped);
        assert!(n.dropped_by.as_deref().unwrap().contains("forwarding"));
    }

    #[test]
    fn pods_outside_every_subnet_without_a_rule_are_told() {
        let r = routes(true) + "192.168.7.7 dev eni0005 scope link\n";
        let h = host(&rules(&["10.1.2.60"]), &r, "");
        let p = analysed(&h);
        assert!(
            p.notes
                .iter()
                .any(|n| n.starts_with("1 IPv4 pod address(es)")),
            "{:?}",
            p.notes
        );
        assert!(
            !p.groups
                .iter()
                .any(|g| g.addresses.iter().any(|a| a.starts_with("192.168.")))
        );
    }
}
