//! Fix advice: for a host's asymmetric endpoints, a typed plan of `ip route`
//! / `ip rule` operations that makes their replies leave by their own link
//! and changes no other reply, proven on the model before it is printed.
//!
//! A plan, per link and family with asymmetric endpoints:
//! - a table free on this host (in no dump, named by no rule), numbered by
//!   the host's convention where it has one (amazon-ec2-net-utils' per-link
//!   tables: offset + device number);
//! - one `from A lookup T` rule per endpoint, at a free priority before
//!   every rule that decides the endpoint's leaking replies;
//! - in T, the fewest prefixes whose longest match gives each destination
//!   what it needs: the endpoint's own link (directly inside its subnets,
//!   else via the link's router) where replies leak today, `throw` (the rule
//!   walk goes on as before) where they do not. A destination with no route
//!   in T also goes on, so T holds only what must differ;
//! - routes in an order the kernel accepts: the connected prefix holding
//!   the gateway before the routes via it (`fib_check_nh` looks the gateway
//!   up in the table), `onlink` where no prefix of the link holds it.
//!
//! The proof: the plan is applied to a copy of the model under the kernel's
//! acceptance rules (`File exists`, gateway validation, deleting what is
//! absent), then every endpoint of the families it touches is looked up
//! over every piece of the destination space in both models: each leak must
//! now leave by the endpoint's own link, every other answer (own link,
//! container links, errors) must stay the same. Alternatives (one table per
//! endpoint, earlier priorities) are tried before a link is given up; what
//! is left is told as `partial` or `none`, with the reason.

use super::analyse::{Analysed, Jump, Known, MET_MAX, NO_KIND, SkipRun, run_at, run_holding};
use super::peers::PeerWalk;
use super::{
    Endpoint, LinkClass, Outcome, Peers, SourceKeyed, Space, Spaces, Verdict, other_dev, space,
};
use crate::grammar::{Family, Name, Route, RouteType, Rule, RuleAction, Scope as RtScope, Table};
use crate::model::lookup::RuleSel;
use crate::model::lookup::{ReplyRules, is_link_local};
use crate::model::{FibTable, Host, KernelError, Origin, RouteEntry, RuleEntry, fam_idx};
use serde::{Deserialize, Serialize};
use space::Range;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::net::IpAddr;

/// How far the advice goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FixStatus {
    /// Every asymmetric endpoint is symmetric once `fix` is applied, and no
    /// other reply changes (on the model, under the kernel's rules).
    Verified,
    /// `fix` repairs some endpoints; the reason says which are left and why.
    Partial,
    /// No safe fix: the reason says why.
    None,
    /// Nothing leaks.
    NotNeeded,
}

impl FixStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            FixStatus::Verified => "verified",
            FixStatus::Partial => "partial",
            FixStatus::None => "none",
            FixStatus::NotNeeded => "not-needed",
        }
    }
}

/// One operation on the routing state, as `ip` performs it.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    AddRoute(Route),
    DelRoute(Route),
    AddRule(Family, Rule),
    DelRule(Family, Rule),
}

impl Op {
    pub fn family(&self) -> Family {
        match self {
            Op::AddRoute(r) | Op::DelRoute(r) => r.family,
            Op::AddRule(f, _) | Op::DelRule(f, _) => *f,
        }
    }

    /// The operation that takes this one back.
    pub fn undo(&self) -> Op {
        match self {
            Op::AddRoute(r) => Op::DelRoute(r.clone()),
            Op::DelRoute(r) => Op::AddRoute(r.clone()),
            Op::AddRule(f, r) => Op::DelRule(*f, r.clone()),
            Op::DelRule(f, r) => Op::AddRule(*f, r.clone()),
        }
    }

    /// `undo().command()`, without the copy of the route or rule.
    pub fn undo_command(&self) -> String {
        match self {
            Op::AddRoute(r) => route_command("del", r),
            Op::DelRoute(r) => route_command("add", r),
            Op::AddRule(f, r) => rule_command("del", *f, r),
            Op::DelRule(f, r) => rule_command("add", *f, r),
        }
    }

    /// The `ip` command line.
    pub fn command(&self) -> String {
        match self {
            Op::AddRoute(r) => route_command("add", r),
            Op::DelRoute(r) => route_command("del", r),
            Op::AddRule(f, r) => rule_command("add", *f, r),
            Op::DelRule(f, r) => rule_command("del", *f, r),
        }
    }
}

/// One step of a fix: the commands for one link and family, run in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fix {
    pub commands: Vec<String>,
    /// What the step rests on (a platform convention, a new table).
    pub notes: Vec<String>,
    /// Commands that remove exactly what `commands` added, in order.
    pub undo: Vec<String>,
    #[serde(skip)]
    pub ops: Vec<Op>,
}

impl Fix {
    pub(crate) fn new(ops: Vec<Op>, notes: Vec<String>) -> Fix {
        Fix {
            commands: ops.iter().map(Op::command).collect(),
            undo: ops.iter().rev().map(Op::undo_command).collect(),
            notes,
            ops,
        }
    }
}

/// Facts about the host's platform that the dumps do not hold.
#[derive(Debug, Clone, Copy, Default)]
pub struct Platform {
    /// The bundle shows an EC2 instance (ec2rl, EKS, an instance id): the
    /// IPv4 router of a subnet is its base address + 1.
    pub ec2: bool,
}

/// A host's fix advice.
#[derive(Debug, Clone)]
pub struct Advice {
    pub status: FixStatus,
    pub reason: String,
    /// Verified steps only.
    pub steps: Vec<Fix>,
    /// Endpoints still asymmetric once `steps` are applied.
    pub unverified: Vec<String>,
}

fn ip(f: Family) -> &'static str {
    match f {
        Family::Inet => "ip",
        Family::Inet6 => "ip -6",
    }
}

/// The metric `ip route add` gives when none is named.
fn default_metric(f: Family) -> u32 {
    match f {
        Family::Inet => 0,
        Family::Inet6 => 1024,
    }
}

fn metric(r: &Route) -> u32 {
    r.metric.unwrap_or(default_metric(r.family))
}

fn is_onlink(flags: &crate::grammar::Flags) -> bool {
    flags.contains("onlink")
}

/// `ip route add|del …`: every attribute the route has, so that a deleted
/// route is restored as it was and a delete names exactly one route.
/// Written into one string (no `format!` per attribute: a fleet host's fix
/// has ~25 commands and their undo).
fn route_command(verb: &str, r: &Route) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(96);
    s.push_str(ip(r.family));
    s.push_str(" route ");
    s.push_str(verb);
    s.push(' ');
    if r.kind() != RouteType::Unicast {
        s.push_str(r.kind().as_str());
        s.push(' ');
    }
    if r.dst.prefix_len() == 0 {
        s.push_str("default");
    } else {
        space::push_net(&mut s, &r.dst);
    }
    // `write!` into a String cannot fail.
    if let Some(f) = &r.from() {
        s.push_str(" from ");
        space::push_net(&mut s, f);
    }
    if let Some(t) = r.tos() {
        let _ = write!(s, " tos {t}");
    }
    if r.nexthops.is_empty() {
        if let Some(g) = r.gateway {
            s.push_str(" via ");
            space::push_ip(&mut s, g);
        }
        if let Some(d) = &r.dev {
            s.push_str(" dev ");
            s.push_str(d);
        }
        if is_onlink(&r.flags) {
            s.push_str(" onlink");
        }
    }
    if let Some(p) = &r.protocol() {
        let _ = write!(s, " proto {p}");
    }
    // `ip` gives a unicast IPv4 route without a gateway link scope, others
    // global; IPv6 has no route scopes. Only another scope is named.
    if r.family == Family::Inet
        && let Some(sc) = &r.scope()
    {
        let implied = match (&r.kind(), r.gateway.is_some() || !r.nexthops.is_empty()) {
            (RouteType::Unicast, false) => RtScope::Link,
            (RouteType::Local, _) => RtScope::Host,
            (RouteType::Broadcast | RouteType::Multicast | RouteType::Anycast, _) => RtScope::Link,
            _ => RtScope::Universe,
        };
        if *sc != implied {
            let _ = write!(s, " scope {sc}");
        }
    }
    // An IPv6 delete without a metric takes the lowest-metric route of the
    // prefix (the kernel's connected one, say): name it always.
    if metric(r) != default_metric(r.family) || (verb == "del" && r.family == Family::Inet6) {
        let _ = write!(s, " metric {}", metric(r));
    }
    if let Some(p) = r.prefsrc {
        s.push_str(" src ");
        space::push_ip(&mut s, p);
    }
    for m in r.metrics() {
        let _ = write!(
            s,
            " {}{} {}",
            m.name,
            if m.lock { " lock" } else { "" },
            m.value
        );
    }
    if let Some(p) = &r.pref {
        let _ = write!(s, " pref {p}");
    }
    for n in &r.nexthops {
        s.push_str(" nexthop");
        if let Some(g) = n.gateway {
            s.push_str(" via ");
            space::push_ip(&mut s, g);
        }
        if let Some(d) = &n.dev {
            s.push_str(" dev ");
            s.push_str(d);
        }
        if let Some(w) = n.weight {
            let _ = write!(s, " weight {w}");
        }
        if is_onlink(&n.flags) {
            s.push_str(" onlink");
        }
    }
    s.push_str(" table ");
    push_table(&mut s, &r.table);
    s
}

/// A table as `ip` takes it: its number, or its name.
fn push_table(s: &mut String, t: &Table) {
    match t {
        Table::Id(n) => {
            use std::fmt::Write;
            let _ = write!(s, "{n}");
        }
        Table::Name(n) => s.push_str(n),
    }
}

/// `ip rule add|del from A lookup T priority P` (the selectors this module
/// writes and deletes).
fn rule_command(verb: &str, f: Family, r: &Rule) -> String {
    // A host prefix is written as its address.
    let host = |s: &mut String, n: &ipnet::IpNet| {
        if n.prefix_len() == n.max_prefix_len() {
            space::push_ip(s, n.addr());
        } else {
            space::push_net(s, n);
        }
    };
    let mut s = String::with_capacity(64);
    s.push_str(ip(f));
    s.push_str(" rule ");
    s.push_str(verb);
    if r.not {
        s.push_str(" not");
    }
    match &r.from {
        Some(n) => {
            s.push_str(" from ");
            host(&mut s, n);
        }
        None => s.push_str(" from all"),
    }
    if let Some(n) = &r.to {
        s.push_str(" to ");
        host(&mut s, n);
    }
    if let Some(t) = &r.table {
        s.push_str(" lookup ");
        push_table(&mut s, t);
    }
    use std::fmt::Write;
    let _ = write!(s, " priority {}", r.priority);
    s
}

// ------------------------------------------------------- kernel acceptance

pub(crate) const EEXIST: &str = "RTNETLINK answers: File exists";

/// The route `ip route add` would find as the same key: IPv4 (prefix, TOS,
/// metric), IPv6 (prefix, source prefix, metric).
fn same_key(a: &Route, b: &Route) -> bool {
    a.dst.trunc() == b.dst.trunc()
        && metric(a) == metric(b)
        && match a.family {
            Family::Inet => a.tos().unwrap_or("0") == b.tos().unwrap_or("0"),
            Family::Inet6 => a.from() == b.from(),
        }
}

/// An IPv6 link-local address (fe80::/10): a gateway that needs only its device.
fn v6_link_local(g: IpAddr) -> bool {
    g.is_ipv6() && is_link_local(g)
}

/// `fib_check_nh` / `ip6_route_check_nh` on a gateway without `onlink`:
/// the route's own table must answer the gateway with a route without a
/// gateway out of the route's device — IPv4: any of link or host scope
/// (the lookup passes over the others); IPv6: its best match (longest
/// prefix, then lowest metric). The kernel may also find one by a full
/// lookup, which plans never rely on (and IPv4 `main` is only ever looked
/// up that way: without a rule for it, nothing is credited).
fn gateway_valid(h: &Host, r: &Route, g: IpAddr) -> bool {
    let fi = fam_idx(r.family);
    if r.family == Family::Inet
        && r.table == Table::Id(Table::MAIN)
        && !h.rules[fi]
            .iter()
            .any(|x| x.rule.action == RuleAction::Lookup && x.table == Some(Table::Id(Table::MAIN)))
    {
        return false;
    }
    h.table(r.family, &r.table).is_some_and(|t| {
        holds_gateway(
            t.routes.iter().map(|e| &e.route),
            r.family,
            r.dev.as_deref(),
            g,
        )
    })
}

/// Whether a table of these routes answers gateway `g` with a route without
/// a gateway out of `dev` (`gateway_valid`'s test of one table).
fn holds_gateway<'a>(
    routes: impl Iterator<Item = &'a Route>,
    fam: Family,
    dev: Option<&str>,
    g: IpAddr,
) -> bool {
    let direct = |x: &Route| {
        x.kind() == RouteType::Unicast
            && x.gateway.is_none()
            && x.nexthops.is_empty()
            && x.dev.as_deref() == dev
    };
    let mut holding = routes.filter(|x| x.dst.contains(&g));
    match fam {
        Family::Inet => holding
            .any(|x| direct(x) && matches!(x.scope(), Some(RtScope::Link) | Some(RtScope::Host))),
        // The best match: longest prefix, then lowest metric (the kernel
        // may prefer the flow's oif among equals; not credited).
        Family::Inet6 => holding
            .filter(|x| x.kind() != RouteType::Throw)
            .min_by_key(|x| (std::cmp::Reverse(x.dst.prefix_len()), metric(x)))
            .is_some_and(direct),
    }
}

/// Whether `g` is a broadcast, network-wide broadcast or multicast IPv4
/// address of the host (what `inet_addr_type` calls not unicast). Asked
/// per route a step adds: a concentrator's `local` table and addresses
/// are 4,000 each, so both are read by their indexes where they hold.
fn v4_not_unicast(h: &Host, g: IpAddr) -> bool {
    let IpAddr::V4(v) = g else { return false };
    let not_unicast = |e: &RouteEntry| {
        matches!(e.route.kind(), RouteType::Broadcast | RouteType::Multicast)
            && e.route.dst.contains(&g)
    };
    v.is_multicast()
        || v.is_broadcast()
        || h.is_addr_broadcast(g)
        || h.table(Family::Inet, &Table::Id(Table::LOCAL))
            .is_some_and(|t| match t.indexed() {
                true => {
                    (t.candidates(g)).any(|(_, a)| a.iter().any(|&i| not_unicast(&t.routes[i])))
                }
                false => t.routes.iter().any(not_unicast),
            })
}

/// Why `ip route add` refuses a route's gateway, and whether the model is
/// sure of it: a refusal for want of a route it credits is only
/// `Unproven` (the kernel may find one by a full lookup), so a duplicate
/// key is answered first (`apply_op`).
enum GatewayRefusal {
    Certain(&'static str),
    Unproven(&'static str),
}

const INVALID: &str = "Error: Nexthop has invalid gateway.";

/// What `ip route add` answers about a route's gateway (docs/kernel-acceptance.md §2).
fn gateway_accepted(h: &Host, r: &Route, g: IpAddr) -> Result<(), GatewayRefusal> {
    use GatewayRefusal::{Certain, Unproven};
    let dev_up = r
        .dev
        .as_deref()
        .and_then(|d| h.link(d))
        .is_some_and(|l| l.up);
    let onlink = is_onlink(&r.flags);
    match r.family {
        Family::Inet if v4_not_unicast(h, g) => Err(Certain(INVALID)),
        _ if onlink && r.dev.is_none() => {
            Err(Certain("Error: Nexthop device required for onlink."))
        }
        Family::Inet if onlink && !dev_up => Err(Certain("Error: Nexthop device is not up.")),
        // An onlink gateway must be a unicast address: not the host's own.
        Family::Inet if onlink && h.is_local_addr(g) => Err(Certain(INVALID)),
        Family::Inet if onlink => Ok(()),
        Family::Inet if gateway_valid(h, r, g) => Ok(()),
        Family::Inet => Err(Unproven(INVALID)),
        Family::Inet6 if v6_link_local(g) && r.dev.is_none() => {
            Err(Certain("Error: Egress device not specified."))
        }
        // A link-local address is the host's own only on its device (the
        // host's entries holding it, by its index: a scan of every address
        // per route was a tenth of planning 10,000 IPv6 addresses).
        Family::Inet6
            if h.addrs_of(g)
                .any(|a| !v6_link_local(g) || r.dev.as_deref() == Some(a.link.as_str())) =>
        {
            Err(Certain("Error: Gateway can not be a local address."))
        }
        // Link-local gateways need their device only.
        Family::Inet6 if v6_link_local(g) => Ok(()),
        Family::Inet6 if onlink => {
            // Main's best match for the gateway, the default route aside,
            // must not be a unicast route on another device.
            let elsewhere = h
                .table(Family::Inet6, &Table::Id(Table::MAIN))
                .and_then(|t| {
                    t.routes
                        .iter()
                        .filter(|e| e.route.dst.prefix_len() > 0 && e.route.dst.contains(&g))
                        .min_by_key(|e| {
                            (
                                std::cmp::Reverse(e.route.dst.prefix_len()),
                                metric(&e.route),
                            )
                        })
                })
                .is_some_and(|e| {
                    !matches!(
                        e.route.kind(),
                        RouteType::Unreachable
                            | RouteType::Prohibit
                            | RouteType::BlackHole
                            | RouteType::Throw
                    ) && (e.route.kind() != RouteType::Unicast || e.route.dev != r.dev)
                });
            if elsewhere {
                Err(Unproven(
                    "Error: Nexthop has invalid gateway or device mismatch.",
                ))
            } else {
                Ok(())
            }
        }
        Family::Inet6 if gateway_valid(h, r, g) => Ok(()),
        Family::Inet6 => Err(Unproven("RTNETLINK answers: No route to host")),
    }
}

/// Whether an existing rule is what `ip rule add|del` of `new` names
/// (`rule_exists` / `rule_find`): every selector `new` gives must match,
/// one it does not give matches anything; `not` is not compared. A rule
/// the kernel made (`proto kernel`) is not one a user adds (but deletes).
fn rule_named(existing: &Rule, new: &Rule, adding: bool) -> bool {
    fn given<T: PartialEq>(n: &Option<T>, e: &Option<T>) -> bool {
        n.is_none() || n == e
    }
    let x = existing;
    // The kernel's own default rules, as a plain `ip rule` prints them.
    let kernel_default = x.protocol.is_none()
        && !x.not
        && x.from.is_none()
        && x.to.is_none()
        && x.selects_addresses_only()
        && matches!(
            (x.priority, &x.table),
            (0, Some(Table::Id(Table::LOCAL)))
                | (32766, Some(Table::Id(Table::MAIN)))
                | (32767, Some(Table::Id(Table::DEFAULT)))
        );
    !(adding && kernel_default)
        && existing.priority == new.priority
        && x.action == new.action
        && !matches!(x.protocol, Some(crate::grammar::RouteProtocol::Kernel))
        && given(&new.from, &x.from)
        && given(&new.to, &x.to)
        // Every selector (`Selector::ALL`), as `ip rule` prints it.
        && new
            .selectors()
            .all(|sel| new.selector_text(sel) == x.selector_text(sel))
        && given(&new.table, &x.table)
        && given(&new.goto, &x.goto)
}

/// Applies one operation to the model as the kernel would, or says what the
/// kernel answers when it refuses it.
pub fn apply_op(h: &mut Host, op: &Op) -> Result<(), String> {
    if let Applied::Table(fi, t) = apply_unfinished(h, op)? {
        finish_tables(h, &[(fi, t)]);
    }
    Ok(())
}

/// What `apply_unfinished` changed.
enum Applied {
    /// A table's routes (family, table), its index not rebuilt yet.
    Table(usize, Table),
    /// A rule inserted at (family, position).
    RuleAt(usize, usize),
    Rules,
}

impl Applied {
    fn table(self) -> Option<(usize, Table)> {
        match self {
            Applied::Table(fi, t) => Some((fi, t)),
            _ => None,
        }
    }
}

/// Rebuilds the index of each table in `changed` (`FibTable::finish`).
fn finish_tables<'a>(h: &mut Host, changed: impl IntoIterator<Item = &'a (usize, Table)>) {
    for (fi, t) in changed {
        if let Some(t) = h.tables[*fi].get_mut(t) {
            t.finish();
        }
    }
}

/// `apply_op`, leaving the index of the table it changes (returned) to be
/// rebuilt by the caller: a step adds 5–8 routes to one table, and nothing
/// here reads a table's index (the key and gateway checks scan its
/// routes), so it is rebuilt once per step, before any lookup.
fn apply_unfinished(h: &mut Host, op: &Op) -> Result<Applied, String> {
    let fi = fam_idx(op.family());
    match op {
        Op::AddRoute(r) => {
            let devs = r
                .dev
                .iter()
                .chain(r.nexthops.iter().filter_map(|n| n.dev.as_ref()));
            for d in devs {
                if h.link(d).is_none() {
                    return Err(format!("Cannot find device \"{d}\""));
                }
            }
            // The kernel checks the nexthop before the key; where the model
            // refuses a gateway only for want of a route it credits (the
            // kernel may find one by a full lookup), the key decides first.
            let unproven = match r.gateway.map(|g| gateway_accepted(h, r, g)) {
                Some(Err(GatewayRefusal::Certain(e))) => return Err(e.into()),
                Some(Err(GatewayRefusal::Unproven(e))) => Some(e),
                _ => None,
            };
            if h.table(r.family, &r.table)
                .is_some_and(|t| t.routes.iter().any(|e| same_key(&e.route, r)))
            {
                return Err(EEXIST.into());
            }
            if let Some(e) = unproven {
                return Err(e.into());
            }
            let t = h.tables[fi].entry(r.table.clone()).or_default();
            t.push(RouteEntry::assumed(r.clone()));
            h.have_routes[fi] = true;
            return Ok(Applied::Table(fi, r.table.clone()));
        }
        Op::DelRoute(r) => {
            let Some(t) = h.tables[fi].get_mut(&r.table) else {
                return Err("RTNETLINK answers: No such process".into());
            };
            // Every attribute given must match; no metric (IPv4: also 0)
            // matches any, the lowest first; IPv6 ignores the type.
            let pos = (0..t.routes.len())
                .filter(|&i| {
                    let x = &t.routes[i].route;
                    // IPv6 deletes always name the metric (`route_command`).
                    let any_metric = r.family == Family::Inet && r.metric.unwrap_or(0) == 0;
                    x.dst.trunc() == r.dst.trunc()
                        && (any_metric || metric(x) == metric(r))
                        && match r.family {
                            Family::Inet => {
                                x.tos().unwrap_or("0") == r.tos().unwrap_or("0")
                                    && x.kind() == r.kind()
                            }
                            Family::Inet6 => x.from() == r.from(),
                        }
                        && (r.gateway.is_none() || x.gateway == r.gateway)
                        && (r.dev.is_none() || x.dev == r.dev)
                        && (r.prefsrc.is_none() || x.prefsrc == r.prefsrc)
                        && (r.protocol().is_none() || x.protocol() == r.protocol())
                })
                .min_by_key(|&i| metric(&t.routes[i].route));
            let Some(pos) = pos else {
                return Err("RTNETLINK answers: No such process".into());
            };
            t.remove(pos);
            return Ok(Applied::Table(fi, r.table.clone()));
        }
        Op::AddRule(_, r) => {
            if h.rules[fi].iter().any(|x| rule_named(&x.rule, r, true)) {
                return Err(EEXIST.into());
            }
            // A rule goes after those of its priority (`fib_nl_newrule`).
            let pos = h.rules[fi]
                .iter()
                .position(|x| x.rule.priority > r.priority)
                .unwrap_or(h.rules[fi].len());
            // A user's rule, not one of the kernel's defaults (`rule_named`).
            let mut rule = r.clone();
            rule.protocol
                .get_or_insert(crate::grammar::RouteProtocol::Boot);
            h.rules[fi].insert(
                pos,
                RuleEntry::new(rule, Origin::ASSUMED, r.table.clone(), None),
            );
            // The rule list is no longer the kernel's default one: IPv4
            // `local` and `main` stop being merged.
            h.fib.custom_rules[fi] = true;
            return Ok(Applied::RuleAt(fi, pos));
        }
        Op::DelRule(_, r) => {
            let Some(pos) = h.rules[fi]
                .iter()
                .position(|x| rule_named(&x.rule, r, false))
            else {
                return Err("RTNETLINK answers: No such file or directory".into());
            };
            h.rules[fi].remove(pos);
            h.fib.custom_rules[fi] = true;
        }
    }
    Ok(Applied::Rules)
}

/// `ip rule add` of each of `rules` in family `fi` of `h`, in order, as
/// `apply_unfinished` does one, merged into the list in one pass (a plan
/// adds a rule per address of a link: inserting each into the list, and
/// looking for it there first, was N²). The positions they took, in
/// ascending order; or the first one refused (its index) and why, with
/// none added. The list must be in priority order (`by_priority`).
fn add_rules(h: &mut Host, fi: usize, rules: &[&Rule]) -> Result<Vec<usize>, (usize, String)> {
    let list = &h.rules[fi];
    // As `apply_unfinished` adds it: a user's rule (`rule_named`).
    let new: Vec<Rule> = rules
        .iter()
        .map(|r| {
            let mut r = (*r).clone();
            r.protocol
                .get_or_insert(crate::grammar::RouteProtocol::Boot);
            r
        })
        .collect();
    // A rule names another of its own priority only, and one with a `from`
    // only another with that `from`: the rules of each priority met, the
    // list's and those added before, by `from` (where no priority is free,
    // 40,000 rules share a few: each compared with all before was N²).
    let mut same: super::FastMap<(u32, Option<ipnet::IpNet>), Vec<&Rule>> = Default::default();
    let mut met: super::FastSet<u32> = Default::default();
    for (i, &r) in rules.iter().enumerate() {
        if met.insert(r.priority) {
            let lo = list.partition_point(|x| x.rule.priority < r.priority);
            let hi = list.partition_point(|x| x.rule.priority <= r.priority);
            for x in &list[lo..hi] {
                same.entry((x.rule.priority, x.rule.from))
                    .or_default()
                    .push(&x.rule);
            }
        }
        let exists = match r.from {
            Some(_) => same
                .get(&(r.priority, r.from))
                .is_some_and(|v| v.iter().any(|x| rule_named(x, r, true))),
            None => same
                .iter()
                .filter(|((p, _), _)| *p == r.priority)
                .any(|(_, v)| v.iter().any(|x| rule_named(x, r, true))),
        };
        if exists {
            return Err((i, EEXIST.into()));
        }
        // Added as the kernel keeps it (`new`), asked as the command names it.
        same.entry((r.priority, r.from)).or_default().push(&new[i]);
    }
    // Each goes after the rules of its priority, those added before it
    // included (`fib_nl_newrule`).
    let mut order: Vec<usize> = (0..new.len()).collect();
    order.sort_by_key(|&i| new[i].priority);
    let old = std::mem::take(&mut h.rules[fi]);
    let mut out = Vec::with_capacity(old.len() + new.len());
    let mut at = Vec::with_capacity(new.len());
    let mut old = old.into_iter().peekable();
    for i in order {
        let p = new[i].priority;
        while let Some(x) = old.next_if(|x| x.rule.priority <= p) {
            out.push(x);
        }
        at.push(out.len());
        let table = rules[i].table.clone();
        out.push(RuleEntry::new(new[i].clone(), Origin::ASSUMED, table, None));
    }
    out.extend(old);
    h.rules[fi] = out;
    // The rule list is no longer the kernel's default one.
    h.fib.custom_rules[fi] = true;
    Ok(at)
}

/// Whether `rules` are in priority order, as the kernel keeps them (not so
/// in an edited dump).
fn by_priority(rules: &[RuleEntry]) -> bool {
    rules
        .windows(2)
        .all(|w| w[0].rule.priority <= w[1].rule.priority)
}

/// The model after `ops`, or the first refused command and the kernel's answer.
pub fn apply(host: &Host, ops: &[Op]) -> Result<Host, String> {
    let mut h = Host {
        links: host.links.clone(),
        addrs: host.addrs.clone(),
        rules: host.rules.clone(),
        tables: host.tables.clone(),
        have_rules: host.have_rules,
        have_routes: host.have_routes,
        have_addrs: host.have_addrs,
        fib: host.fib.clone(),
        kernel: host.kernel,
        sysctls: host.sysctls.clone(),
        ..Host::default()
    };
    let mut changed: Vec<(usize, Table)> = Vec::new();
    for op in ops {
        let t = apply_unfinished(&mut h, op).map_err(|e| format!("`{}`: {e}", op.command()))?;
        changed.extend(t.table().filter(|t| !changed.contains(t)));
    }
    finish_tables(&mut h, &changed);
    Ok(h)
}

// ----------------------------------------------------------------- judging

/// One reply lookup's answer, as the comparison needs it: the route type
/// and every (device, gateway) it may leave by, or the error.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Answer {
    Route(RouteType, Vec<(Name, Option<IpAddr>)>),
    Error(KernelError),
}

impl Answer {
    #[cfg(test)]
    fn of(h: &Host, rules: &ReplyRules, dst: IpAddr) -> Answer {
        Answer::from_result(h.lookup_reply(rules, dst).result)
    }

    /// `of`, from a lookup kept for other uses (`Captured`).
    fn of_kept(l: &KeptLookup) -> Answer {
        Answer::from_result(l.result.clone())
    }

    fn from_result(result: Result<crate::model::Hit, KernelError>) -> Answer {
        match result {
            Err(e) => Answer::Error(e),
            Ok(hit) => {
                let mut legs: Vec<(Name, Option<IpAddr>)> = if hit.nexthops.is_empty() {
                    vec![(hit.dev, hit.gateway)]
                } else {
                    hit.nexthops
                        .into_iter()
                        .map(|n| (n.dev, n.gateway))
                        .collect()
                };
                legs.sort();
                legs.dedup();
                Answer::Route(hit.kind, legs)
            }
        }
    }

    /// A unicast reply that may leave by another link than `iface` (not
    /// straight into a container link: `other_dev`).
    fn leaks(&self, iface: &str, sp: &Space<'_>) -> bool {
        matches!(self, Answer::Route(RouteType::Unicast, legs)
            if legs.iter().any(|(d, g)| d != iface && !sp.delivered_to_container(iface, d, *g)))
    }

    fn text(&self) -> String {
        match self {
            Answer::Error(e) => e.message().to_string(),
            Answer::Route(k, legs) => {
                let l: Vec<String> = legs
                    .iter()
                    .map(|(d, g)| match g {
                        Some(g) => format!("via {g} dev {d}"),
                        None => format!("dev {d}"),
                    })
                    .collect();
                match k {
                    RouteType::Unicast => l.join(", "),
                    k => format!("{k} {}", l.join(", ")),
                }
            }
        }
    }
}

fn ep_name(e: &Endpoint) -> String {
    format!("{} on {}", e.address, e.interface)
}

/// What a step changed that endpoints' replies may meet (`Reach::affects`).
struct Reach<'a> {
    /// Every endpoint: the first rule unmerged (or merged) IPv4 `local`
    /// and `main`, or a table changed while they are merged, or a `goto`
    /// aims at a rule added or deleted.
    all: bool,
    /// The rules added or deleted.
    rules: Vec<RuleEntry>,
    /// The rules that look up a table that got or lost routes.
    reading: Vec<&'a RuleEntry>,
    /// Each list's rules that may match a source by what their `from`
    /// holds (a plan's step adds a rule per address of a link: asking each
    /// of every endpoint was N²).
    by_source: [BySource; 2],
}

/// Rules (indices into a list) by the sources they may match: those whose
/// `from` names addresses by them, the rest (`from all`, `not`) for every
/// source.
#[derive(Default)]
struct BySource {
    any: Vec<u32>,
    from: crate::model::lookup::PrefixIndex,
}

impl BySource {
    fn of<'r>(rules: impl Iterator<Item = &'r RuleEntry>) -> Self {
        let mut b = BySource::default();
        for (i, re) in rules.enumerate() {
            match re.rule.from {
                Some(f) if f.prefix_len() > 0 && !re.rule.not => b.from.push(i as u32, f),
                _ => b.any.push(i as u32),
            }
        }
        b
    }

    /// Those that may match a reply from `a` (others cannot: their `from`
    /// does not hold it).
    fn holding(&self, a: IpAddr) -> impl Iterator<Item = usize> + '_ {
        self.any
            .iter()
            .copied()
            .chain(self.from.holding(a))
            .map(|i| i as usize)
    }
}

/// Whether `ops` add or delete routes of IPv4 `local`, `main` or
/// `default`: the tables a lookup reads without custom rules
/// (`merged_lookup4`).
fn touches_merged(ops: &[Op]) -> bool {
    ops.iter().any(|o| match o {
        Op::AddRoute(r) | Op::DelRoute(r) => {
            r.family == Family::Inet
                && matches!(
                    r.table,
                    Table::Id(Table::LOCAL | Table::MAIN | Table::DEFAULT)
                )
        }
        _ => false,
    })
}

/// Short `local` prefixes past this many: not looked through
/// (`unmerge_neutral` says no).
const MAX_SHORT_LOCAL: usize = 64;

/// Whether IPv4 `local` merged into `main` (no custom rules) answers every
/// reply as the rules `local`, …, `main`, `default` do apart, for a source
/// no other rule matches. Merged, the longest prefix of both tables wins
/// (`local`'s at equal lengths); apart, any match in `local` comes first.
/// So they part only where `local` holds a destination by a shorter prefix
/// than a route of `main` inside it. Besides: a `local` table of other
/// routes than `local` and `broadcast` ones, a `throw` or `local` route in
/// `main` (a source made local by `main`, `local_dev`), or reject routes
/// in `main` with a `default` table (merged, the kernel asks `default`
/// after any error of `main`'s): not looked into, taken as parting.
fn unmerge_neutral(h: &Host) -> bool {
    let table = |t: u32| h.table(Family::Inet, &Table::Id(t));
    let local = table(Table::LOCAL).map_or(&[][..], |t| &t.routes[..]);
    let main = table(Table::MAIN).map_or(&[][..], |t| &t.routes[..]);
    let dflt = table(Table::DEFAULT).is_some_and(|t| !t.routes.is_empty());
    if local
        .iter()
        .any(|r| !matches!(r.route.kind(), RouteType::Local | RouteType::Broadcast))
    {
        return false;
    }
    let short: Vec<&ipnet::IpNet> = local
        .iter()
        .map(|r| &r.route.dst)
        .filter(|n| n.prefix_len() < 32)
        .collect();
    if short.len() > MAX_SHORT_LOCAL {
        return false;
    }
    main.iter().all(|r| {
        let ok_kind = match r.route.kind() {
            RouteType::Local | RouteType::Throw => false,
            RouteType::Unreachable | RouteType::Prohibit | RouteType::BlackHole => !dflt,
            _ => true,
        };
        let n = &r.route.dst;
        let inside = || {
            short
                .iter()
                .any(|s| s.prefix_len() < n.prefix_len() && s.contains(&n.network()))
        };
        ok_kind && !inside()
    })
}

/// The endpoints a step may change a reply of (`Reach::candidates`),
/// ascending: one address's, as `by_address` holds them, or a list.
enum Candidates<'b> {
    Run(&'b [(u128, u32)]),
    List(Vec<usize>),
}

impl Candidates<'_> {
    fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        let (run, list) = match self {
            Candidates::Run(r) => (*r, &[][..]),
            Candidates::List(l) => (&[][..], &l[..]),
        };
        run.iter()
            .map(|&(_, i)| i as usize)
            .chain(list.iter().copied())
    }

    #[cfg(test)]
    fn contains(&self, i: &usize) -> bool {
        self.iter().any(|x| x == *i)
    }
}

impl<'a> Reach<'a> {
    /// What `ops` changed in family `fam` of `after`, found once for all
    /// endpoints (a host with a rule per address has thousands of each).
    /// `merged_tables`: `touches_merged(ops)`. `neutral`: whether
    /// unmerging (or merging) IPv4 `local` and `main` changes no reply
    /// (`unmerge_neutral`), asked only where the step does so and leaves
    /// those tables and `default` as they were.
    fn new(
        fib_before: &crate::model::FibFlags,
        after: &'a Host,
        fam: Family,
        ops: &[Op],
        merged_tables: bool,
        neutral: impl FnOnce() -> bool,
    ) -> Self {
        let fi = fam_idx(fam);
        // Only IPv4's lookups read it (an IPv6 host's first rule made every
        // endpoint judged again, in each step tried until one with a rule
        // was accepted).
        let flips = fam == Family::Inet && fib_before.custom_rules[0] != after.fib.custom_rules[0];
        let mut reach = Reach {
            // Every endpoint where the flip may change a reply: a
            // concentrator's first rule, for its uplink, judged its 4,000
            // links' endpoints on every piece (links²).
            all: flips && (merged_tables || !neutral()),
            rules: Vec::new(),
            reading: Vec::new(),
            by_source: Default::default(),
        };
        let gotos: BTreeSet<u32> = after.rules[fi]
            .iter()
            .filter(|x| x.rule.action == RuleAction::Goto)
            .filter_map(|x| x.rule.goto)
            .collect();
        let mut tables: Vec<&Table> = Vec::new();
        for op in ops.iter().filter(|o| o.family() == fam) {
            match op {
                // Each once: a step's routes are mostly in one table, and
                // every rule of the host is checked against these.
                Op::AddRoute(r) | Op::DelRoute(r) if !tables.contains(&&r.table) => {
                    tables.push(&r.table)
                }
                Op::AddRoute(_) | Op::DelRoute(_) => {}
                // A rule this module adds or deletes is never a `goto`; one
                // deleted may have read a changed table: it is matched here.
                Op::AddRule(_, r) | Op::DelRule(_, r) => {
                    reach.all |= gotos.contains(&r.priority);
                    let entry = RuleEntry::new(r.clone(), Origin::ASSUMED, r.table.clone(), None);
                    reach.rules.push(entry);
                }
            }
        }
        if !tables.is_empty() {
            // While merged, lookups read `local`, `main` and `default`
            // without the rules; other tables only the rules that name them
            // read (`reading`).
            if fam == Family::Inet && !fib_before.custom_rules[fi] && merged_tables {
                reach.all = true;
            }
            reach.reading = after.rules[fi]
                .iter()
                .filter(|r| {
                    r.rule.action == RuleAction::Lookup
                        && (r.rule.l3mdev || r.table.as_ref().is_some_and(|t| tables.contains(&t)))
                })
                .collect();
        }
        reach.by_source = [
            BySource::of(reach.rules.iter()),
            BySource::of(reach.reading.iter().copied()),
        ];
        reach
    }

    /// The endpoints (ascending) the step may change a reply of, of those
    /// `by_address` lists: without a rule for every source, only those its
    /// rules' `from`s hold (each endpoint asked per step was endpoints ×
    /// steps). Each is asked (`affects`) only when it is its turn to be
    /// judged: a step refused by its first endpoint asked thousands for
    /// nothing where all share one address (a concentrator's 4,000 links).
    fn candidates<'b>(&self, by_address: &'b [(u128, u32)]) -> Candidates<'b> {
        let [rules, reading] = &self.by_source;
        let every = self.all || !rules.any.is_empty() || !reading.any.is_empty();
        // One address's endpoints (the `from`s hold that address alone):
        // read where they stand, ascending already, as far as they are
        // judged (a concentrator's refused steps listed its 4,000 links'
        // endpoints each).
        if !every {
            let mut run: Option<&[(u128, u32)]> = None;
            let one = rules
                .from
                .prefixes()
                .chain(reading.from.prefixes())
                .all(|n| {
                    let (lo, hi) = (space::num(n.network()), space::num(n.broadcast()));
                    let at = by_address.partition_point(|x| x.0 < lo);
                    let end = at + by_address[at..].partition_point(|x| x.0 <= hi);
                    let slice = &by_address[at..end];
                    let single = slice.first().map(|x| x.0) == slice.last().map(|x| x.0);
                    single && std::ptr::eq(*run.get_or_insert(slice), slice)
                });
            if one {
                return Candidates::Run(run.unwrap_or_default());
            }
        }
        let mut out: Vec<usize> = if every {
            by_address.iter().map(|&(_, i)| i as usize).collect()
        } else {
            let mut v = Vec::new();
            for n in rules.from.prefixes().chain(reading.from.prefixes()) {
                let (lo, hi) = (space::num(n.network()), space::num(n.broadcast()));
                let at = by_address.partition_point(|x| x.0 < lo);
                v.extend(
                    by_address[at..]
                        .iter()
                        .take_while(|x| x.0 <= hi)
                        .map(|&(_, i)| i as usize),
                );
            }
            v
        };
        // In the addresses' order, each address's endpoints ascending: a
        // concentrator's 4,000 links sharing one address come before the
        // uplink's, and sorting them per step was a tenth of its planning.
        // Dense lists are marked off in a table instead.
        let max = out.iter().copied().max().unwrap_or(0);
        if out.len() > 64 && out.len() * 8 > max {
            let mut listed = vec![false; max + 1];
            for &i in &out {
                listed[i] = true;
            }
            out.clear();
            out.extend((0..=max).filter(|&i| listed[i]));
        } else {
            out.sort_unstable();
            out.dedup();
        }
        Candidates::List(out)
    }

    /// Whether the step can change any reply of `e` (in `after`): a rule
    /// added or deleted may match its replies (or is a `goto`'s target), a
    /// table that got or lost routes is looked up by a rule its replies may
    /// meet (without custom rules: `local`, `main`, `default`), or the
    /// first rule unmerged IPv4 `local` and `main`. Otherwise every lookup
    /// of `e` is the same in both.
    fn affects(&self, after: &Host, e: &Endpoint) -> bool {
        let [rules, reading] = &self.by_source;
        self.all
            || rules
                .holding(e.address)
                .any(|i| after.rule_may_match_reply(&self.rules[i], e.address))
            || reading
                .holding(e.address)
                .any(|i| after.rule_may_match_reply(self.reading[i], e.address))
    }
}

/// What the accepted plan does to one endpoint, against the host as
/// captured: a leak left (with an example), a reply that was fine and
/// changed (the first one).
#[derive(Debug, Clone, Default)]
struct EpState {
    still: Option<String>,
    changed: Option<String>,
}

/// How replies from `e` under `rules` walk the rules of `h` (classes
/// `class`): endpoints with one key get one answer for every destination.
fn walk_key(
    h: &Host,
    class: &[u32],
    by_address: SourceKeyed,
    sp: &Space<'_>,
    rules: &ReplyRules,
    e: &Endpoint,
) -> JudgeKey {
    // Those the walk reads (`met`): the rules of `h`.
    debug_assert!(rules.sel().len() == h.rules[fam_idx(sp.fam)].len());
    (
        rules
            .met()
            .into_iter()
            .map(|i| (class[i], rules.sel()[i]))
            .collect(),
        by_address.keys(sp, e).then_some(e.address),
    )
}

/// The captured host's reply lookups in one family, made once for the
/// whole plan: the planner (`wants`) and the judge of every step read the
/// same ones (a step's space refines the analysis's, whose pieces of a kind
/// the captured host answers alike), instead of looking each destination
/// up again per step.
struct Captured {
    fam: Family,
    /// The host's rules by behaviour (`Host::rule_classes`).
    class: Vec<u32>,
    by_address: SourceKeyed,
    /// The host's rules settled for its replies (`Host::reply_template`).
    template: crate::model::lookup::ReplyTemplate,
    /// Per walk key: the lookup of each kind of the analysis's space
    /// (`u32::MAX` until made), into `lookups`.
    slots: Slots,
    lookups: KeptLookups,
    /// Each lookup's `Answer`, once the judge asks.
    answers: Vec<std::cell::OnceCell<Answer>>,
    /// Per endpoint (address, secondary: what its slot reads of it), its
    /// reply rules in the host and their slot: the planner and every step's
    /// judge ask again.
    eps: super::FastMap<(IpAddr, bool), (std::rc::Rc<ReplyRules>, usize)>,
    /// The analysis's lookups by group of its endpoints (`Analysed::answers`,
    /// into `lookups`), and each slot's group: a slot's first endpoint's (the
    /// lookups of a slot's endpoints are alike).
    analysed: super::analyse::Answers,
    group_of: super::FastMap<IpAddr, usize>,
    slot_group: Vec<Option<usize>>,
    /// Runs of pieces whose shared answer comes from `local` and is not
    /// unicast (`SkipRun`): every piece of them accepts anything, for a
    /// slot whose group takes them from the analysis's reference.
    any_runs: Option<Vec<super::analyse::SkipRun>>,
    /// `wants`' labels by kind, with the lookup each came of, all `None`
    /// between calls (a host with an address per group filled one per
    /// endpoint, addresses × kinds).
    known: Vec<Option<(u8, u32)>>,
    /// Labels read off a template of each slot's (`template`).
    layouts: template::Layouts,
    /// The pieces of each mixed run's (`any_runs`) other kind.
    others: super::analyse::RunOthers,
    /// Per rule of the host (by index), the highest priority up to it: a
    /// run decided by rules up to `depth` comes before the plan's rules
    /// where this is below their first (`Shortcut::same`).
    prio_upto: Vec<u32>,
}

/// What the planner and the judge read of a `Lookup`.
#[derive(Clone, PartialEq, Eq)]
pub(super) struct KeptLookup {
    pub(super) result: Result<crate::model::Hit, KernelError>,
    pub(super) rule: Option<usize>,
    pub(super) table: Option<Table>,
    /// The route found has several nexthops that prefer the reply's source
    /// (`Host::prefers_own_source`): the answer may depend on the address.
    pub(super) multipath: bool,
}

/// By the fields that tell a host's lookups apart (equal lookups hash
/// alike; `Eq` compares the rest): hashing every field of a `Hit` was most
/// of `KeptLookups::intern`. The route's `src` too: 10,000 addresses each
/// a /32 primary have a `local` route each with its own, alike but for it
/// (a chain of 10,000 values under one hash).
impl std::hash::Hash for KeptLookup {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.rule.hash(h);
        match &self.result {
            Ok(hit) => {
                hit.dev.hash(h);
                hit.gateway.hash(h);
                hit.src.hash(h);
                hit.prefsrc.hash(h);
            }
            Err(e) => e.hash(h),
        }
    }
}

impl KeptLookup {
    pub(super) fn of(l: crate::model::lookup::Lookup, multipath: bool) -> Self {
        KeptLookup {
            result: l.result,
            rule: l.rule,
            table: l.table,
            multipath,
        }
    }
}

/// Whether `l` found a route of `h` whose legs prefer the flow's source
/// (`Host::prefers_own_source`): the answer may depend on the address.
fn chose_multipath(h: &Host, fam: Family, l: &crate::model::lookup::Lookup) -> bool {
    l.route
        .as_ref()
        .and_then(|r| h.table(fam, &r.table)?.routes.get(r.index))
        .is_some_and(|e| h.prefers_own_source(&e.route))
}

/// Each distinct lookup once, by index: a full table's 867k kinds of piece
/// get a handful of answers (360 bytes and a few allocations each, ~400 MB
/// when each was kept).
pub(super) type KeptLookups = Interned<KeptLookup>;

/// Each distinct value once, by index (`intern`).
pub(super) struct Interned<T> {
    list: Vec<T>,
    /// By hash (`T`'s), the last one interned with it; those before it
    /// with the same hash by `next`. A value is kept once, in `list` (a map
    /// keyed by the value held a copy of each, and rehashed every one as it
    /// grew).
    index: super::FastMap<u64, u32>,
    next: Vec<u32>,
    hasher: foldhash::fast::RandomState,
    /// The last one interned: pieces in a row mostly get the previous
    /// piece's answer, compared with it before hashing.
    last: u32,
}

impl<T> Default for Interned<T> {
    fn default() -> Self {
        Interned {
            list: Vec::new(),
            index: Default::default(),
            next: Vec::new(),
            hasher: Default::default(),
            last: 0,
        }
    }
}

impl<T: std::hash::Hash + Eq> Interned<T> {
    pub(super) fn intern(&mut self, l: T) -> u32 {
        use std::hash::BuildHasher;
        if self.list.get(self.last as usize) == Some(&l) {
            return self.last;
        }
        let new = self.list.len() as u32;
        // One hash per value, new or not.
        let h = self.hasher.hash_one(&l);
        let prev = match self.index.entry(h) {
            std::collections::hash_map::Entry::Occupied(mut o) => {
                let mut i = *o.get();
                while i != u32::MAX {
                    if self.list[i as usize] == l {
                        self.last = i;
                        return i;
                    }
                    i = self.next[i as usize];
                }
                o.insert(new)
            }
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(new);
                u32::MAX
            }
        };
        self.list.push(l);
        self.next.push(prev);
        self.last = new;
        new
    }

    fn len(&self) -> usize {
        self.list.len()
    }
}

impl Captured {
    /// `analysed`: the lookups the analysis made in `host` and family
    /// `fam`, on the space the planner is given (none: all made here).
    fn new(host: &Host, fam: Family, analysed: Option<Analysed>) -> Self {
        let a = analysed.unwrap_or_default();
        Captured {
            fam,
            class: host.rule_classes(fam_idx(fam)),
            by_address: SourceKeyed::of(host, fam),
            template: host.reply_template(fam),
            slots: Slots::default(),
            answers: vec![Default::default(); a.lookups.len()],
            lookups: a.lookups,
            eps: Default::default(),
            analysed: a.answers,
            group_of: a.group_of,
            slot_group: Vec::new(),
            any_runs: None,
            known: Vec::new(),
            layouts: Default::default(),
            others: Default::default(),
            prio_upto: host.rules[fam_idx(fam)]
                .iter()
                .scan(0, |m, r| {
                    *m = r.rule.priority.max(*m);
                    Some(*m)
                })
                .collect(),
        }
    }

    /// `any_runs`, found on first use, taken out (`wants` gives them
    /// back), and how far slot `slot`'s group agrees with the analysis's
    /// reference (none: no group, no runs).
    fn runs_for(
        &mut self,
        orig: &Space<'_>,
        slot: usize,
    ) -> Option<(Vec<super::analyse::SkipRun>, u32)> {
        let g = (*self.slot_group.get(slot)?)?;
        let (agree, _) = self.analysed.reach(g);
        let (analysed, lookups) = (&self.analysed, &self.lookups);
        let runs = self.any_runs.get_or_insert_with(|| {
            super::analyse::runs_of(&orig.kind, |kind| {
                let (k, d, by_source) = analysed.shared_by(kind)?;
                let l = &lookups.list[k as usize];
                let any = !by_source
                    && l.table == Some(Table::Id(Table::LOCAL))
                    && l.result
                        .as_ref()
                        .is_ok_and(|h| h.kind != RouteType::Unicast);
                any.then_some(d)
            })
        });
        Some((std::mem::take(runs), agree))
    }

    /// The kinds only some groups tell apart, and the narrow tables slot
    /// `slot`'s group consults (`Narrow`; none: it tells every kind apart).
    fn narrow_for(
        &self,
        slot: usize,
    ) -> Option<(std::sync::Arc<super::narrow::Narrow>, std::sync::Arc<[u32]>)> {
        let g = (*self.slot_group.get(slot)?)?;
        let n = self.analysed.narrow.clone()?;
        Some((n, self.analysed.mine(g)?))
    }

    /// Replies from `e`: their rules in `host` and their slot (`slot`).
    fn ep(
        &mut self,
        host: &Host,
        orig: &Space<'_>,
        e: &Endpoint,
    ) -> (std::rc::Rc<ReplyRules>, usize) {
        if let Some((r, slot)) = self.eps.get(&(e.address, e.secondary)) {
            return (r.clone(), *slot);
        }
        let rules = self.template.rules(host, e.address);
        let slot = self.slot(host, orig, &rules, e);
        if self.slot_group.len() <= slot {
            self.slot_group.resize(slot + 1, None);
        }
        if self.slot_group[slot].is_none() {
            self.slot_group[slot] = self.group_of.get(&e.address).copied();
        }
        let rules = std::rc::Rc::new(rules);
        self.eps
            .insert((e.address, e.secondary), (rules.clone(), slot));
        (rules, slot)
    }

    /// The slot of replies from `e` (`rules`), the kinds being `orig`'s.
    fn slot(&mut self, host: &Host, orig: &Space<'_>, rules: &ReplyRules, e: &Endpoint) -> usize {
        let key = walk_key(host, &self.class, self.by_address, orig, rules, e);
        self.slots.of(key, orig.kinds)
    }

    /// The lookup for a piece of `orig`'s `kind` starting at `dst`, into
    /// `lookups` (`lookup`, `answer`).
    fn get(
        &mut self,
        host: &Host,
        slot: usize,
        rules: &ReplyRules,
        kind: usize,
        dst: IpAddr,
    ) -> u32 {
        // The analysis's, where it has one: not copied into the slot (a
        // host with a slot per address copied the shared answers into each,
        // addresses × kinds). Asked first: the slot holds only the others.
        if let Some(&Some(g)) = self.slot_group.get(slot)
            && let Some(k) = self.analysed.get(g, kind)
        {
            return k;
        }
        if let Some(k) = self.slots.get(slot, kind) {
            return k;
        }
        let l = host.lookup_reply(rules, dst);
        let multipath = chose_multipath(host, self.fam, &l);
        let k = self.lookups.intern(KeptLookup::of(l, multipath));
        self.answers
            .resize_with(self.lookups.len(), Default::default);
        self.slots.set(slot, kind, k);
        k
    }

    fn lookup(&self, k: u32) -> &KeptLookup {
        &self.lookups.list[k as usize]
    }

    fn answer(&self, k: u32) -> &Answer {
        self.answers[k as usize].get_or_init(|| Answer::of_kept(self.lookup(k)))
    }
}

/// Reply answers shared while judging one step: endpoints whose rules
/// behave alike (the same rules, but for their `from`, match their replies
/// in the same way) get the same answer for every destination, so each
/// kind of piece is looked up once per such group and model, not once per
/// endpoint (a link with 20 addresses gets 20 `from A lookup T` rules).
/// The captured host's answers come from `Captured`.
struct Judge<'a, 'h> {
    models: [&'a Host; 2],
    /// The space cut for both models.
    sp: &'a Space<'h>,
    /// The space `captured` is kept by (`sp` refines it).
    orig: &'a Space<'h>,
    captured: &'a mut Captured,
    /// The fixed model's rules by behaviour (`Host::rule_classes`).
    class: Vec<u32>,
    /// The fixed model's rules settled for its replies (a plan's step adds
    /// a rule per address: settling every rule per address was N²), made
    /// once more than two endpoints are judged (`fixed_rules`).
    template: Option<crate::model::lookup::ReplyTemplate>,
    asked: usize,
    /// The fixed model's (walk key, the answer of each kind into
    /// `answers`).
    slots: Slots,
    /// Each distinct answer once, with whether its route has several
    /// nexthops: a host whose addresses each have a slot of their own made
    /// one per address and kind (10,000 addresses with a table each: 8 GB).
    answers: Interned<(Answer, bool)>,
    /// Where the reply's source matters beyond the rules (IPv6 source
    /// routes, IPv4 multipath's preferred source).
    by_address: SourceKeyed,
    /// The destinations of either model's IPv6 routes with a `from`: where
    /// a reply's answer may depend on its address itself.
    src_dsts: Option<super::peers::RangeSet>,
    /// What the walk found for the first endpoint walked per (captured
    /// rule walk, fixed rule walk, link, internal, loopback) among those
    /// keyed by their address, with the answers it met that depend on the
    /// address (none: too many to keep): another address with those
    /// answers alike walks alike (`Met`; 8,000 IPv6 addresses under a
    /// source route were walked one by one over 16,000 pieces).
    twins: super::FastMap<TwinKey, (Walked, Option<MetList>, Option<JumpSig>)>,
    /// The fixed model's rule classes but for priorities, for `walked`'s and
    /// `twins`' keys (none: a `goto` reads priorities). A plan's `from ADDR
    /// lookup T` rules, one per address at priorities of their own, are
    /// alike.
    unprioritised: Option<Unprioritised>,
    /// Endpoints walked as a twin, and told apart from theirs by the
    /// answers that depend on the address.
    #[cfg(test)]
    twin_hits: usize,
    #[cfg(test)]
    twin_misses: usize,
    /// What the walk over the pieces found, per `WalkedKey`: all it reads
    /// of an endpoint, so the 20 addresses of a link are walked once, not
    /// 20 times (10k addresses: 175M pieces judged in one step), their
    /// plan rules' priorities apart.
    walked: super::FastMap<WalkedKey, Walked>,
    /// Where the fixed model's answers are the captured host's
    /// (`Shortcut`).
    shortcut: Option<Shortcut<'a>>,
    /// By a mixed run's start (`SkipRun`): the one kind of `sp` its other
    /// kind's pieces are, or `NO_KIND` where they are of several
    /// (`run_kind`).
    run_kinds: super::FastMap<u32, u32>,
}

/// The fixed model as the captured host and what the plan added, where
/// that is only tables of its own and plain `from ADDR lookup T` rules for
/// them (no other rule looks them up, no goto is aimed at the rules,
/// nothing deleted; see `Plan::plain`). A reply from `A` then walks the
/// captured host's rules and tables but for the plan's rules whose `from`
/// holds `A`, so the fixed model answers it as the captured host did:
/// - where the captured lookup found a route by a rule before the first
///   of those (the rules before it are the host's), or
/// - where those rules' tables hold no route for the destination but
///   `throw`s: they send the walk on (`TableResult::NoMatch`, `Throw`).
///
/// IPv4 `local` and `main` are one trie without custom rules
/// (`merged_lookup4`): once the plan's first rule unmerges them, a route
/// found in `local` is found alike (its prefixes before `main`'s longer
/// ones that answer nothing), and elsewhere only where `local` holds no
/// prefix of the destination at all. The rest of an answer reads the
/// chosen route and the addresses only (`output4`, `finish6`). About half
/// the fixed model's lookups of a scan.
struct Shortcut<'a> {
    /// The captured host's `local` was merged into `main`, the model's not.
    unmerged: bool,
    local: Option<&'a FibTable>,
    /// The plan's rules: `from`, priority, table (in `model`).
    rules: &'a [(ipnet::IpNet, u32, Table)],
    model: &'a Host,
    fam: Family,
    /// The accepted steps' rules by the addresses their `from` holds
    /// (`PlanIndex`; a plan adds a rule per address of a link: `meets` was
    /// one scan of them per endpoint), and the step's own, numbered on.
    accepted: &'a crate::model::lookup::PrefixIndex,
    step: crate::model::lookup::PrefixIndex,
}

/// The accepted steps' plan rules (`Plan::plan_rules`) indexed once, not
/// again for every step: a plan for 500 links takes 500 steps and adds a
/// rule per address.
#[derive(Default)]
struct PlanIndex {
    /// By `from`, numbered as in the rules.
    from: crate::model::lookup::PrefixIndex,
    /// How many rules are in.
    len: usize,
}

impl PlanIndex {
    fn extend(&mut self, rules: &[(ipnet::IpNet, u32, Table)]) {
        for (i, (n, _, _)) in rules.iter().enumerate().skip(self.len) {
            self.from.push(i as u32, *n);
        }
        self.len = self.len.max(rules.len());
    }
}

/// What the host's own rules and links refer to in one family: where a
/// plan's table or rule meets one of these, no `Shortcut` is made.
struct HostRefs {
    /// The tables the host's rules look up.
    tables: HashSet<Table>,
    /// The priorities the host's `goto`s aim at.
    gotos: HashSet<u32>,
    /// The VRFs' tables (their `l3mdev` rule looks them up).
    vrfs: HashSet<u32>,
}

impl HostRefs {
    fn of(host: &Host, fi: usize) -> HostRefs {
        let rules = &host.rules[fi];
        HostRefs {
            tables: rules.iter().filter_map(|x| x.table.clone()).collect(),
            gotos: rules
                .iter()
                .filter(|x| x.rule.action == RuleAction::Goto)
                .filter_map(|x| x.rule.goto)
                .collect(),
            vrfs: host.links.iter().filter_map(|l| l.vrf_table).collect(),
        }
    }

    /// Whether a step that adds the tables `tables` and the rules `rules`
    /// to a plan of plain rules (`Plan::plain`) leaves it one a
    /// `Shortcut` reads: no rule of the host looks its tables up, none is
    /// a VRF's, no `goto` aims at its rules, and every rule's table is in
    /// `model`. What an accepted step was found to be stays so: the host's
    /// rules do not change while the plan is plain.
    fn clear(
        &self,
        model: &Host,
        fam: Family,
        tables: &[Table],
        rules: &[(ipnet::IpNet, u32, Table)],
    ) -> bool {
        tables
            .iter()
            .all(|t| !self.tables.contains(t) && t.id().is_none_or(|i| !self.vrfs.contains(&i)))
            && rules
                .iter()
                .all(|r| !self.gotos.contains(&r.1) && model.table(fam, &r.2).is_some())
    }
}

/// The plan's rules that replies from one address meet (`Shortcut`): the
/// first one's priority, and their tables.
struct Meets<'a> {
    first: u32,
    tables: Vec<&'a FibTable>,
}

impl<'a> Shortcut<'a> {
    /// `Shortcut` for family `fam` of `model`, made of `host` by adding
    /// `rules` (from, priority, table) and the tables `created` only, the
    /// accepted steps' as `accepted` holds them, with `clear` the step's own
    /// (`HostRefs::clear`; the accepted ones' were found so as they were
    /// accepted: a check of every table and rule per step was links²).
    fn of(
        host: &'a Host,
        model: &'a Host,
        fam: Family,
        rules: &'a [(ipnet::IpNet, u32, Table)],
        accepted: &'a PlanIndex,
        clear: bool,
    ) -> Option<Shortcut<'a>> {
        // Only IPv4 lookups read the flag (`fib_lookup`, `local_dev`); a
        // rule added sets it.
        let (h, m) = (host.fib.custom_rules[0], model.fib.custom_rules[0]);
        if fam == Family::Inet && !m && (h || !rules.is_empty()) || !clear {
            return None;
        }
        let unmerged = fam == Family::Inet && !h && m;
        let new = rules.get(accepted.len..).unwrap_or_default();
        let mut step = crate::model::lookup::PrefixIndex::default();
        for (i, (n, _, _)) in new.iter().enumerate() {
            step.push((accepted.len + i) as u32, *n);
        }
        Some(Shortcut {
            unmerged,
            local: host.table(fam, &Table::Id(Table::LOCAL)),
            rules,
            model,
            fam,
            accepted: &accepted.from,
            step,
        })
    }

    /// The plan's rules replies from `a` meet.
    fn meets(&self, a: IpAddr) -> Meets<'a> {
        let mut m = Meets {
            first: u32::MAX,
            tables: Vec::new(),
        };
        // In the rules' order, as a scan of them gave: the step's come
        // after the accepted ones.
        for i in self
            .accepted
            .holding(a)
            .into_iter()
            .chain(self.step.holding(a))
        {
            let (_, p, t) = &self.rules[i as usize];
            m.first = m.first.min(*p);
            m.tables
                .push(self.model.table(self.fam, t).expect("a plan rule's table"));
        }
        m
    }

    /// Whether the fixed model answers a reply to `dst` (whose rules meet
    /// `m`) as the captured `host` did in `l`.
    fn same(&self, host: &Host, fam: Family, m: &Meets<'_>, l: &KeptLookup, dst: IpAddr) -> bool {
        let found_before = l.result.is_ok()
            && if self.unmerged {
                l.table == Some(Table::Id(Table::LOCAL))
            } else {
                l.rule
                    .is_some_and(|r| host.rules[fam_idx(fam)][r].rule.priority < m.first)
            };
        let none = |t: &FibTable| {
            t.candidates(dst).all(|(_, ix)| {
                ix.iter()
                    .all(|&i| t.routes[i].route.kind() == RouteType::Throw)
            })
        };
        found_before
            || (m.tables.iter().all(|t| none(t))
                && !(self.unmerged
                    && self
                        .local
                        .is_some_and(|t| t.candidates(dst).next().is_some())))
    }
}

/// A fixed model's answer that is the captured host's lookup of this index.
const CAPTURED: u32 = 1 << 31;

/// `judge_ep_in`'s walk, before the endpoint's name goes into its text.
#[derive(Clone)]
struct Walked {
    still: Option<String>,
    /// "to DST would change: BEFORE → AFTER".
    changed: Option<String>,
}

type JudgeKey = (Vec<(u32, RuleSel)>, Option<IpAddr>);

type TwinKey = (Vec<(u32, RuleSel)>, Vec<(u32, RuleSel)>, String, bool, bool);

type MetList = std::rc::Rc<Vec<Met>>;

/// What a walk's narrow jumps (`Narrow::jump`) read of the address: the
/// narrow tables its captured group consults and where the plan's tables
/// it meets cut the space (`plan_cuts`). A twin's walk is another's only
/// where these agree too: a piece taken as another is not in `Met`.
type JumpSig = (std::sync::Arc<[u32]>, std::rc::Rc<[u128]>);

/// A walk's key (`Judge::walked`): the captured slot, the fixed model's
/// rule walk (`Judge::twin_walk`) and its slot's address, link, internal,
/// loopback.
type WalkedKey = (
    usize,
    Vec<(u32, RuleSel)>,
    Option<IpAddr>,
    String,
    bool,
    bool,
);

/// A piece a walk judged whose answers may depend on the reply's address:
/// its kind in the judged space and in the captured one, its start, the
/// captured lookup and the fixed model's answer (`Judge::answer`).
#[derive(Clone, Copy)]
struct Met {
    kind: usize,
    okind: usize,
    start: u128,
    captured: u32,
    fixed: u32,
}

/// Rule classes (`Host::rule_classes`) numbered again by
/// `behaviour_but_priority`, as they are asked for.
#[derive(Default)]
struct Unprioritised {
    of_class: super::FastMap<u32, u32>,
    /// By the hash of their behaviour: (a rule, its number).
    by_hash: super::FastMap<u64, Vec<(usize, u32)>>,
    hasher: foldhash::fast::RandomState,
}

impl Unprioritised {
    /// The number of rule `i` of `rules` (class `class`).
    fn of(&mut self, rules: &[RuleEntry], i: usize, class: u32) -> u32 {
        use crate::model::lookup::behaviour_but_priority as b;
        use std::hash::BuildHasher;
        if let Some(&n) = self.of_class.get(&class) {
            return n;
        }
        let next = self.of_class.len() as u32;
        let alike = self
            .by_hash
            .entry(self.hasher.hash_one(b(&rules[i])))
            .or_default();
        let n = match alike.iter().find(|(r, _)| b(&rules[*r]) == b(&rules[i])) {
            Some(&(_, n)) => n,
            None => {
                alike.push((i, next));
                next
            }
        };
        self.of_class.insert(class, n);
        n
    }
}

/// `Slots` of at most this many answers in all (and the first two) are
/// vectors from the start.
const DENSE_SLOTS: usize = 1 << 20;

/// Per walk key, the answer of each kind, by key: a host whose addresses
/// are each their own key (IPv6 source routes) has thousands, searched one
/// by one per endpoint before. Most of those slots get a handful of answers
/// (`Judge::twins`): kept in a map until they are many (a vector of every
/// kind per slot was 4 bytes × addresses × kinds).
#[derive(Default)]
struct Slots {
    list: Vec<(JudgeKey, Known)>,
    index: super::FastMap<JudgeKey, usize>,
    kinds: usize,
}

impl Slots {
    /// The slot of `key`, made (no answer yet for any of the `kinds`) when
    /// new.
    fn of(&mut self, key: JudgeKey, kinds: usize) -> usize {
        self.kinds = kinds;
        if let Some(&i) = self.index.get(&key) {
            return i;
        }
        let i = self.list.len();
        // The first slots a vector each (read by index, not hashed: a full
        // table's million kinds), two of any size and up to 4 MB in all.
        let answers = if i < 2 || (i + 1) * kinds <= DENSE_SLOTS {
            Known::Many(vec![u32::MAX; kinds])
        } else {
            Known::default()
        };
        self.list.push((key.clone(), answers));
        self.index.insert(key, i);
        i
    }

    fn get(&self, slot: usize, kind: usize) -> Option<u32> {
        self.list[slot].1.get(kind)
    }

    fn set(&mut self, slot: usize, kind: usize, k: u32) {
        self.list[slot].1.set(kind, k, self.kinds);
    }
}

impl<'a, 'h> Judge<'a, 'h> {
    // What the plan knows of the step travels as arguments.
    #[allow(clippy::too_many_arguments)]
    fn new(
        captured: &'a mut Captured,
        before: &'a Host,
        after: &'a Host,
        sp: &'a Space<'h>,
        orig: &'a Space<'h>,
        class: Vec<u32>,
        shortcut: Option<Shortcut<'a>>,
        added: Option<SourceKeyed>,
    ) -> Self {
        // `added`: what the routes `after` holds beyond `before`'s make
        // answers depend on (a scan of every table per step: steps × links).
        let by_address = captured
            .by_address
            .or(added.unwrap_or_else(|| SourceKeyed::of(after, sp.fam)));
        // Every planning test checks it against a scan of the tables.
        #[cfg(test)]
        assert_eq!(
            by_address,
            captured.by_address.or(SourceKeyed::of(after, sp.fam))
        );
        let src_dsts = by_address
            .src_routes
            .then(|| super::source_route_dsts(&[before, after], sp.fam));
        let goto = after.rules[fam_idx(sp.fam)]
            .iter()
            .any(|r| r.rule.action == RuleAction::Goto);
        Judge {
            models: [before, after],
            sp,
            orig,
            by_address,
            src_dsts,
            unprioritised: (!goto).then(Unprioritised::default),
            captured,
            class,
            template: None,
            asked: 0,
            slots: Slots::default(),
            answers: Default::default(),
            walked: Default::default(),
            twins: Default::default(),
            #[cfg(test)]
            twin_hits: 0,
            #[cfg(test)]
            twin_misses: 0,
            shortcut,
            run_kinds: Default::default(),
        }
    }

    /// The one kind of `sp` that mixed run `r`'s pieces of its other kind
    /// are (`orig`'s pieces, cut further in `sp`), if one: found once per
    /// step.
    fn run_kind(&mut self, r: SkipRun) -> Option<usize> {
        let (sp, orig) = (self.sp, self.orig);
        let k = *self.run_kinds.entry(r.start).or_insert_with(|| {
            let (from, to) = (
                orig.pts[r.first as usize],
                orig.pts.get(r.last as usize + 1),
            );
            let mut kind = None;
            let mut o = r.first as usize;
            for i in sp.pts.partition_point(|&p| p < from)..sp.pts.len() {
                let start = sp.pts[i];
                if to.is_some_and(|&t| start >= t) {
                    break;
                }
                while orig.pts.get(o + 1).is_some_and(|&p| p <= start) {
                    o += 1;
                }
                if orig.kind[o] == r.other && *kind.get_or_insert(sp.kind[i]) != sp.kind[i] {
                    return NO_KIND;
                }
            }
            kind.unwrap_or(NO_KIND)
        });
        (k != NO_KIND).then_some(k as usize)
    }

    /// The fixed model's rules for replies from `a`: settled rule by rule
    /// for the first two endpoints (a refused step is often told by one),
    /// then by a template of the model's rules made once (every rule's
    /// selectors and an index of their sources: 17% of a 1,000-link host
    /// whose refused steps each judged one or two endpoints).
    fn fixed_rules(&mut self, a: IpAddr) -> ReplyRules {
        self.asked += 1;
        if self.template.is_none() && self.asked <= 2 {
            return self.models[1].reply_rules(a);
        }
        let (model, fam) = (self.models[1], self.sp.fam);
        self.template
            .get_or_insert_with(|| model.reply_template(fam))
            .rules(model, a)
    }

    /// The fixed model's slot of replies from `e` under `rules`.
    fn slot(&mut self, rules: &ReplyRules, e: &Endpoint) -> usize {
        let key = walk_key(
            self.models[1],
            &self.class,
            self.by_address,
            self.sp,
            rules,
            e,
        );
        self.slots.of(key, self.sp.kinds)
    }

    /// The fixed model's answer for a piece of `kind` starting at `dst`:
    /// into `answers`, or `CAPTURED` and the captured host's lookup
    /// `captured` when `Shortcut` says they are the same (`meets`: the
    /// plan's rules the reply meets).
    fn answer(
        &mut self,
        slot: usize,
        rules: &ReplyRules,
        kind: usize,
        dst: IpAddr,
        captured: u32,
        meets: Option<&Meets<'_>>,
    ) -> u32 {
        if let Some(k) = self.slots.get(slot, kind) {
            return k;
        }
        let same = |c: &u32| {
            self.shortcut.as_ref().zip(meets).is_some_and(|(s, m)| {
                s.same(
                    self.models[0],
                    self.sp.fam,
                    m,
                    self.captured.lookup(*c),
                    dst,
                )
            })
        };
        let k = match Some(captured).filter(same) {
            Some(c) => {
                // Every planning test checks the answer against a lookup.
                #[cfg(test)]
                assert_eq!(
                    Answer::of(self.models[1], rules, dst),
                    Answer::of_kept(self.captured.lookup(c)),
                    "the shortcut's answer to {dst}"
                );
                debug_assert!(c < CAPTURED - 1);
                c | CAPTURED
            }
            None => {
                let l = self.models[1].lookup_reply(rules, dst);
                let multipath = chose_multipath(self.models[1], self.sp.fam, &l);
                self.answers
                    .intern((Answer::from_result(l.result), multipath))
            }
        };
        self.slots.set(slot, kind, k);
        k
    }

    /// How replies under `rules` walk the fixed model's rules, for `walked`
    /// and `twins`: the slot key's rules, numbered without their priorities
    /// where no `goto` reads them.
    fn twin_walk(&mut self, rules: &ReplyRules) -> Vec<(u32, RuleSel)> {
        let m = &self.models[1].rules[fam_idx(self.sp.fam)];
        rules
            .met()
            .into_iter()
            .map(|i| {
                let (c, s) = (self.class[i], rules.sel()[i]);
                let n = match &mut self.unprioritised {
                    Some(u) => u.of(m, i, c),
                    None => c,
                };
                (n, s)
            })
            .collect()
    }

    /// The fixed model's answer `ai` (`answer`), and whether its route has
    /// several nexthops.
    fn fixed(&self, ai: u32) -> (&Answer, bool) {
        if ai & CAPTURED != 0 {
            let k = ai & !CAPTURED;
            (self.captured.answer(k), self.captured.lookup(k).multipath)
        } else {
            let (a, multipath) = &self.answers.list[ai as usize];
            (a, *multipath)
        }
    }
}

/// Compares endpoint `e`'s replies in `before` and `after`, piece by piece
/// of `sp` (cut for both).
#[cfg(test)]
fn judge_ep(before: &Host, after: &Host, sp: &Space<'_>, e: &Endpoint) -> EpState {
    let mut captured = Captured::new(before, sp.fam, None);
    let class = after.rule_classes(fam_idx(sp.fam));
    judge_ep_in(
        &mut Judge::new(&mut captured, before, after, sp, sp, class, None, None),
        e,
    )
}

/// `judge_ep` with the answers shared through `j`.
fn judge_ep_in(j: &mut Judge<'_, '_>, e: &Endpoint) -> EpState {
    let (rb, sb) = j.captured.ep(j.models[0], j.orig, e);
    let ra = j.fixed_rules(e.address);
    let sa = j.slot(&ra, e);
    // Everything the walk reads of `e` (`Peers::new`, the slots, the link).
    let localnet = matches!(e.address, IpAddr::V4(v) if v.is_loopback());
    // The fixed model's rule walk without priorities: a plan's step adds a
    // rule per address of a link, each its own slot, alike but for its
    // priority (each address was walked apart: links × pieces a step).
    let walk = j.twin_walk(&ra);
    let key = (
        sb,
        walk.clone(),
        j.slots.list[sa].0.1,
        e.interface.clone(),
        e.internal,
        localnet,
    );
    let w = match j.walked.get(&key) {
        Some(w) => w.clone(),
        None => {
            // Keyed by its address, but for the answers that depend on it
            // walked as another address was: the same where those agree.
            let twin = (j.by_address.share(j.sp, e) == super::Share::OwnSource).then(|| {
                (
                    j.captured.slots.list[sb].0.0.clone(),
                    walk,
                    e.interface.clone(),
                    e.internal,
                    localnet,
                )
            });
            let meets = j.shortcut.as_ref().map(|s| s.meets(e.address));
            let jumps = meets.as_ref().and_then(|m| narrow_jumps(j, sb, m));
            let sig = jumps.as_ref().map(|(_, s)| s.clone());
            let known = twin
                .as_ref()
                .and_then(|t| j.twins.get(t))
                .and_then(|(w, met, sig)| Some((w.clone(), met.clone()?, sig.clone())));
            let alike = known.as_ref().map(|(_, met, theirs)| {
                sig == *theirs && same_met(j, (sb, &rb), (sa, &ra), meets.as_ref(), met)
            });
            #[cfg(test)]
            if let (Some((_, _, Some(_))), Some(true)) = (&known, alike) {
                TWINS_JUMPED.with(|t| t.set(t.get() + 1));
            }
            #[cfg(test)]
            match alike {
                Some(true) => j.twin_hits += 1,
                Some(false) => j.twin_misses += 1,
                None => {}
            }
            let w = match known {
                Some((w, _, _)) if alike == Some(true) => w,
                _ => {
                    let mut met = twin.as_ref().map(|_| Vec::new());
                    let w = walk_pieces(
                        j,
                        e,
                        (sb, &*rb),
                        (sa, &ra),
                        (meets.as_ref(), jumps),
                        &mut met,
                    );
                    if let Some(t) = twin {
                        let met = met.filter(|m| m.len() <= MET_MAX).map(std::rc::Rc::new);
                        j.twins.entry(t).or_insert((w.clone(), met, sig));
                    }
                    w
                }
            };
            j.walked.insert(key, w.clone());
            w
        }
    };
    EpState {
        still: w.still,
        changed: w
            .changed
            .map(|c| format!("replies from {} {c}", ep_name(e))),
    }
}

/// The narrow tables of captured slot `sb`'s group (`Narrow`), with what
/// a walk's jumps over them read (`JumpSig`) for replies that meet the
/// plan's rules as `m` says; none: the walk takes no such jump.
fn narrow_jumps(
    j: &Judge<'_, '_>,
    sb: usize,
    m: &Meets<'_>,
) -> Option<(std::sync::Arc<super::narrow::Narrow>, JumpSig)> {
    let (nw, mine) = j.captured.narrow_for(sb)?;
    Some((nw, (mine, plan_cuts(&m.tables)?.into())))
}

/// Whether replies from an address (slots `sb`, `sa`; meeting the plan's
/// rules as `meets` says) get the answers `met` that another address's walk
/// met where answers may depend on the address: then its walk is that one's
/// (every other answer is alike by its slots' rule walks, and a walk reads
/// nothing else of the address than `judge_ep_in`'s key and `JumpSig`).
fn same_met(
    j: &mut Judge<'_, '_>,
    (sb, rb): (usize, &ReplyRules),
    (sa, ra): (usize, &ReplyRules),
    meets: Option<&Meets<'_>>,
    met: &[Met],
) -> bool {
    met.iter().all(|m| {
        let dst = space::addr(j.sp.fam, m.start);
        let k = j.captured.get(j.models[0], sb, rb, m.okind, dst);
        // Lookups from two addresses differ by their source at least.
        if k != m.captured && j.captured.answer(k) != j.captured.answer(m.captured) {
            return false;
        }
        let ai = j.answer(sa, ra, m.kind, dst, k, meets);
        ai == m.fixed || j.fixed(ai).0 == j.fixed(m.fixed).0
    })
}

/// Compares `e`'s replies before (slot `sb` of the captured host) and
/// after (slot `sa` of the fixed model), piece by piece, their rules
/// meeting the plan's as `meets` says, taking the narrow jumps `jumps`
/// (`narrow_jumps`); into `met`, the pieces judged whose answers may
/// depend on the address (`Met`).
fn walk_pieces(
    j: &mut Judge<'_, '_>,
    e: &Endpoint,
    (sb, rb): (usize, &ReplyRules),
    (sa, ra): (usize, &ReplyRules),
    (meets, jumps): (
        Option<&Meets<'_>>,
        Option<(std::sync::Arc<super::narrow::Narrow>, JumpSig)>,
    ),
    met: &mut Option<Vec<Met>>,
) -> Walked {
    let (sp, orig) = (j.sp, j.orig);
    let peers = Peers::new(sp, e);
    let mut walk = PeerWalk::new(&peers, sp);
    let mut seen = vec![false; sp.kinds];
    let mut out = Walked {
        still: None,
        changed: None,
    };
    // The piece of `orig` holding each piece of `sp` (its bounds are among
    // `sp`'s).
    let mut o = 0;
    // Held apart while the walk asks `j` for answers.
    let dsts = j.src_dsts.take();
    let mut src_dsts = dsts.as_ref().map(super::peers::Cursor::new);
    // Runs of captured pieces that `local` answers for this slot's group as
    // for the analysis's reference (`SkipRun`), decided before the plan's
    // first rule that the reply meets: the fixed model answers them alike
    // (`Shortcut::same`), so none of them leaks or changes, and the walk
    // passes over them (10,000 addresses, each its own slot, walked each
    // other's local pieces: addresses²). Their answers do not depend on
    // the address (`runs_for`: none by an IPv6 source route), so a twin
    // passes over them alike.
    let runs = match (&j.shortcut, meets) {
        (Some(s), Some(m)) => {
            // The rules (by index) before the plan's first one it meets.
            let before = match s.unmerged {
                true => u32::MAX,
                false => j.captured.prio_upto.partition_point(|&p| p < m.first) as u32,
            };
            j.captured
                .runs_for(orig, sb)
                .map(|(rs, agree)| (rs, agree.min(before)))
        }
        _ => None,
    };
    let mut run_i = 0;
    // The narrow tables of the captured slot's group (`Narrow`), and where
    // the plan's tables the reply meets cut the space (their prefixes'
    // bounds; none past `MAX_CUTS`). A piece taken as another is not met
    // (`Met`): a twin walks alike only where these agree (`JumpSig`).
    let narrow = jumps.map(|(nw, (mine, cuts))| (nw, mine, cuts));
    let mut narrow_i = 0;
    let top = space::top(sp.fam);
    let n = sp.pts.len();
    let mut i = 0;
    while i < n {
        let (start, kind) = (sp.pts[i], sp.kind[i] as usize);
        // By a search past a jump (20,000 /32 primaries' local pieces
        // stepped over one by one, per address, after each run).
        super::peers::advance(orig.pts.get(1..).unwrap_or_default(), &mut o, |&p| {
            p <= start
        });
        if let Some((rs, below)) = &runs
            && let Some(r) = run_holding(rs, &mut run_i, o, *below)
        {
            let at = o as u32;
            let upto = match r.other {
                NO_KIND => Some(r.end),
                _ if at < r.first => Some(r.first),
                _ if at > r.last => Some(r.end),
                // Between the other kind's pieces: all of them seen, the
                // rest of the run adds nothing.
                _ if j.run_kind(r).is_some_and(|k| seen[k]) => Some(r.end),
                // Up to the other kind's next piece.
                _ if orig.kind[o] != r.other => Some(j.captured.others.next(r, &orig.kind, at)),
                _ => None,
            };
            if let Some(upto) = upto {
                let next = match orig.pts.get(upto as usize) {
                    Some(&end) => i + sp.pts[i..].partition_point(|&p| p < end),
                    None => n,
                };
                // Every planning test checks what the walk passed over.
                #[cfg(test)]
                {
                    JUDGE_RUNS_TAKEN.with(|t| t.set(t.get() + 1));
                    if dsts.is_some() {
                        JUDGE_SOURCE_RUNS.with(|t| t.set(t.get() + 1));
                    }
                    let other = (r.other, &seen[..]);
                    passed_over_alike(j, e, (sb, rb), (sa, ra), meets, i..next, other);
                }
                i = next;
                continue;
            }
        }
        let (mut start, mut kind) = (start, kind);
        let mut next = i + 1;
        // Pieces of kinds only other groups tell apart (`Narrow::jump`)
        // that no table of the plan's the reply meets cuts: both models
        // answer them as one, judged at the first of a kind not seen.
        if let Some((nw, mine, cuts)) = &narrow
            && orig.pts[o] == start
            && let Some((_, last)) = nw.jump(&mut narrow_i, o, mine, &orig.pts, || {
                walk.segment_end(start)
            })
        {
            let end = orig.pts.get(last).copied().unwrap_or(top);
            if cuts
                .get(cuts.partition_point(|&c| c <= start))
                .is_none_or(|&c| c >= end)
            {
                next = i + sp.pts[i..].partition_point(|&p| p < end);
                #[cfg(test)]
                {
                    JUDGE_NARROW_TAKEN.with(|t| t.set(t.get() + 1));
                    if met.is_some() {
                        JUDGE_MET_NARROW.with(|t| t.set(t.get() + 1));
                    }
                    narrow_alike(j, (sb, rb), (sa, ra), meets, i..next);
                }
                match (i..next).find(|&p| !seen[sp.kind[p] as usize]) {
                    Some(p) => {
                        (start, kind) = (sp.pts[p], sp.kind[p] as usize);
                        super::peers::advance(
                            orig.pts.get(1..).unwrap_or_default(),
                            &mut o,
                            |&q| q <= start,
                        );
                    }
                    None => {
                        i = next;
                        continue;
                    }
                }
            }
        }
        i = next;
        // A kind seen is passed over before its piece's peers are asked
        // (a skipped piece does not mark its kind seen).
        if seen[kind] {
            continue;
        }
        let pre = walk.without_lookup(start);
        if matches!(pre, Some(Outcome::Skip)) {
            continue;
        }
        seen[kind] = true;
        let dst = space::addr(sp.fam, start);
        let okind = orig.kind[o] as usize;
        let k = j.captured.get(j.models[0], sb, rb, okind, dst);
        let ai = j.answer(sa, ra, kind, dst, k, meets);
        let (a, fixed_multipath) = j.fixed(ai);
        if let Some(list) = met.as_mut()
            && match sp.fam {
                Family::Inet => fixed_multipath || j.captured.lookup(k).multipath,
                Family::Inet6 => src_dsts.as_mut().is_some_and(|d| d.contains(start)),
            }
        {
            list.push(Met {
                kind,
                okind,
                start,
                captured: k,
                fixed: ai,
            });
            // Too many to compare (a full table of multipath routes).
            if list.len() > MET_MAX {
                *met = None;
            }
        }
        let b = j.captured.answer(k);
        if pre.is_none() && b.leaks(&e.interface, sp) {
            let fixed =
                matches!(a, Answer::Route(RouteType::Unicast, _)) && !a.leaks(&e.interface, sp);
            if !fixed && out.still.is_none() {
                out.still = Some(format!("to {dst}: {}", a.text()));
            }
        } else if a != b && out.changed.is_none() {
            out.changed = Some(format!(
                "to {dst} would change: {} → {}",
                b.text(),
                a.text()
            ));
        }
        if out.still.is_some() && out.changed.is_some() {
            break;
        }
    }
    if let Some((rs, _)) = runs {
        j.captured.any_runs = Some(rs);
    }
    j.src_dsts = dsts;
    out
}

/// The pieces `range` of the judged space that a walk passed over: each
/// of the run's other kind (`other`) seen already (`seen`), or answered
/// alike by both models, and not leaking.
#[cfg(test)]
fn passed_over_alike(
    j: &mut Judge<'_, '_>,
    e: &Endpoint,
    (sb, rb): (usize, &ReplyRules),
    (sa, ra): (usize, &ReplyRules),
    meets: Option<&Meets<'_>>,
    range: std::ops::Range<usize>,
    (other, seen): (u32, &[bool]),
) {
    let (sp, orig) = (j.sp, j.orig);
    for i in range {
        let o = orig.pts.partition_point(|&p| p <= sp.pts[i]) - 1;
        if orig.kind[o] == other {
            assert!(seen[sp.kind[i] as usize], "passed over an unseen kind");
            continue;
        }
        let (dst, k, ai) = piece_answers(j, (sb, rb), (sa, ra), meets, i);
        let (a, b) = (j.fixed(ai).0.clone(), j.captured.answer(k).clone());
        assert_eq!(a, b, "passed over {dst} from {}", e.address);
        assert!(!b.leaks(&e.interface, sp), "passed over {dst}: it leaks");
    }
}

/// Piece `i` of the judged space: its start, the captured slot's lookup
/// and the fixed model's answer (`Judge::answer`), as a walk asks them.
#[cfg(test)]
fn piece_answers(
    j: &mut Judge<'_, '_>,
    (sb, rb): (usize, &ReplyRules),
    (sa, ra): (usize, &ReplyRules),
    meets: Option<&Meets<'_>>,
    i: usize,
) -> (IpAddr, u32, u32) {
    let (sp, orig) = (j.sp, j.orig);
    let start = sp.pts[i];
    let o = orig.pts.partition_point(|&p| p <= start) - 1;
    let dst = space::addr(sp.fam, start);
    let k = j
        .captured
        .get(j.models[0], sb, rb, orig.kind[o] as usize, dst);
    let ai = j.answer(sa, ra, sp.kind[i] as usize, dst, k, meets);
    (dst, k, ai)
}

/// A plan's tables with more routes than this in all are not read for
/// their cuts (`plan_cuts`).
const MAX_CUTS: usize = 256;

/// Where the routes of `tables` start and end (the address after each),
/// sorted; none where they have more than `MAX_CUTS` routes.
fn plan_cuts(tables: &[&FibTable]) -> Option<Vec<u128>> {
    if tables.iter().map(|t| t.routes.len()).sum::<usize>() > MAX_CUTS {
        return None;
    }
    let mut cuts: Vec<u128> = tables
        .iter()
        .flat_map(|t| t.routes.iter())
        .flat_map(|r| {
            let b = Range::of(&r.route.dst);
            [b.start, b.end]
        })
        .collect();
    cuts.sort_unstable();
    cuts.dedup();
    Some(cuts)
}

/// The pieces `range` of the judged space, taken as one (`Narrow::jump`):
/// each answered as the first by both models.
#[cfg(test)]
fn narrow_alike(
    j: &mut Judge<'_, '_>,
    (sb, rb): (usize, &ReplyRules),
    (sa, ra): (usize, &ReplyRules),
    meets: Option<&Meets<'_>>,
    range: std::ops::Range<usize>,
) {
    let mut first: Option<(Answer, Answer)> = None;
    for i in range {
        let (dst, _, ai) = piece_answers(j, (sb, rb), (sa, ra), meets, i);
        // Asked of the model itself: not the slot's answer by kind.
        let a = Answer::of(j.models[1], ra, dst);
        assert_eq!(&a, j.fixed(ai).0, "the fixed model's answer to {dst}");
        let b = Answer::of(j.models[0], rb, dst);
        match &first {
            None => first = Some((a, b)),
            Some(f) => assert_eq!(f, &(a, b), "taken as one: {dst}"),
        }
    }
}

/// The plan accepted so far: the model after its steps, and what they do
/// to each endpoint.
struct Plan<'h> {
    model: Host,
    state: Vec<EpState>,
    /// The captured host's lookups per family, made on first use.
    captured: [Option<Captured>; 2],
    /// The analysis's lookups per family, until `captured` takes them.
    analysed: [Option<Analysed>; 2],
    /// Per family, the prefixes of the routes and rule `to`s the accepted
    /// steps added that the model still holds: where its cuts may differ
    /// from the host's. Kept, not found again from every prefix ever
    /// added: a host with 500 links takes 500 steps.
    held: [BTreeSet<ipnet::IpNet>; 2],
    /// The prefixes the step being judged adds.
    fresh: [Vec<ipnet::IpNet>; 2],
    /// Per family, `Host::rule_classes` of the model's rules as the accepted
    /// steps left them (a step without rule operations keeps them).
    classes: [Option<Vec<u32>>; 2],
    /// The rules the step being judged inserted: (family, position), in
    /// order (`try_step` takes them out when it is refused).
    inserted: Vec<(usize, usize)>,
    /// Per family, whether the accepted steps only added tables and plain
    /// `from ADDR lookup T` rules for them (`Shortcut`), and those rules
    /// (from, priority, table) and tables.
    plain: [bool; 2],
    plan_rules: [Vec<(ipnet::IpNet, u32, Table)>; 2],
    plan_tables: [Vec<Table>; 2],
    /// `plan_rules` indexed.
    plan_index: [PlanIndex; 2],
    /// Per family, whether the accepted steps' tables and rules leave a
    /// plain plan one a `Shortcut` reads (`HostRefs::clear`).
    clear: [bool; 2],
    /// Per family, what the host's rules and links refer to, made on
    /// first use.
    host_refs: [Option<HostRefs>; 2],
    /// Per family, what the accepted steps' routes make answers depend on,
    /// and whether one deleted a route.
    keyed: [SourceKeyed; 2],
    deleted: [bool; 2],
    /// Per family, the endpoints with a verdict by address (`Reach::candidates`).
    by_address: [Vec<(u128, u32)>; 2],
    /// `unmerge_neutral` of the model, made on first use; dropped by a
    /// step that changes IPv4 `local`, `main` or `default`.
    unmerge_neutral: Option<bool>,
    /// Per family, the analysis's space as the last step judged refined it.
    refined: [Option<Refined<'h>>; 2],
}

/// A space `Space::refine` made for a step, kept for the next: a step
/// whose prefixes it cuts at already is judged on it (a concentrator's
/// refused steps each copied and renumbered every piece: links²).
struct Refined<'h> {
    /// The space refined (its address: the plan's callers give one).
    from: *const Space<'h>,
    /// The ranges it was refined at, sorted and deduplicated as `refine`
    /// does.
    at: Vec<Range>,
    sp: Space<'h>,
}

impl Refined<'_> {
    /// Whether refining `from` at `extra` (sorted and deduplicated as
    /// `at`) makes this one: the same space refined, `extra` holds every
    /// range of `at`, and the rest are cut at already (so the blocks, the
    /// pieces and their kinds are the same).
    fn serves(&self, from: &Space<'_>, extra: &[Range]) -> bool {
        if !std::ptr::eq(self.from.cast(), from) {
            return false;
        }
        let mut k = 0;
        for r in extra {
            if self.at.get(k) == Some(r) {
                k += 1;
            } else if !self.sp.holds_block(r) {
                return false;
            }
        }
        k == self.at.len()
    }
}

/// Where the items inserted into a list of `len` items (after them all)
/// stand, ascending: `at` holds each one's position as it was inserted, in
/// order. The last one is where it was put; each earlier one is the
/// `p`-th of the items the later ones leave (found in a Fenwick tree).
fn final_positions(len: usize, at: &[usize]) -> Vec<usize> {
    // tree[i] (1-based) counts the items left in (i - lowbit(i), i].
    let mut tree: Vec<usize> = (0..=len).map(|i| i & i.wrapping_neg()).collect();
    let top = if len == 0 { 0 } else { 1 << len.ilog2() };
    let mut out: Vec<usize> = Vec::with_capacity(at.len());
    for &p in at.iter().rev() {
        // The (p + 1)-th item left, by binary lifting.
        let (mut pos, mut want, mut step) = (0, p + 1, top);
        while step > 0 {
            if pos + step <= len && tree[pos + step] < want {
                pos += step;
                want -= tree[pos];
            }
            step >>= 1;
        }
        // `pos + 1` (1-based) is it: taken out of the tree.
        let mut i = pos + 1;
        while i <= len {
            tree[i] -= 1;
            i += i & i.wrapping_neg();
        }
        out.push(pos);
    }
    out.sort_unstable();
    out
}

/// Whether `n` is a route's prefix in some table of `m`, or a rule's `to`
/// (`tos`: those of `m`'s rules, sorted).
fn in_model(m: &Host, fam: Family, n: &ipnet::IpNet, tos: &[Range]) -> bool {
    let fi = fam_idx(fam);
    m.tables[fi]
        .values()
        .any(|t| !t.aliases(n.network(), n.prefix_len()).is_empty())
        || tos.binary_search(&Range::of(n)).is_ok()
}

/// The `to` prefixes of `m`'s rules in `fam`, sorted (`in_model`).
fn rule_tos(m: &Host, fam: Family) -> Vec<Range> {
    let mut v: Vec<Range> = m.rules[fam_idx(fam)]
        .iter()
        .filter_map(|x| x.rule.to.as_ref().map(Range::of))
        .collect();
    v.sort_unstable();
    v
}

/// `Plan::captured[fi]`, made on first use from the analysis's lookups
/// (`Plan::analysed[fi]`).
fn captured_in<'c>(
    captured: &'c mut [Option<Captured>; 2],
    analysed: &mut [Option<Analysed>; 2],
    host: &Host,
    fam: Family,
) -> &'c mut Captured {
    let fi = fam_idx(fam);
    captured[fi].get_or_insert_with(|| Captured::new(host, fam, analysed[fi].take()))
}

impl<'h> Plan<'h> {
    fn new(host: &Host, eps: &[Endpoint], analysed: [Option<Analysed>; 2]) -> Self {
        Plan {
            model: apply(host, &[]).expect("no operation to refuse"),
            captured: [None, None],
            analysed,
            held: Default::default(),
            fresh: Default::default(),
            classes: [None, None],
            inserted: Vec::new(),
            plain: [true, true],
            plan_rules: [Vec::new(), Vec::new()],
            plan_tables: [Vec::new(), Vec::new()],
            plan_index: Default::default(),
            clear: [true, true],
            host_refs: [None, None],
            keyed: Default::default(),
            deleted: [false, false],
            unmerge_neutral: None,
            refined: [None, None],
            by_address: [Family::Inet, Family::Inet6].map(|f| {
                let mut v: Vec<(u128, u32)> = eps
                    .iter()
                    .enumerate()
                    .filter(|(_, e)| e.family == f && e.verdict.is_some())
                    .map(|(i, e)| (space::num(e.address), i as u32))
                    .collect();
                v.sort_unstable();
                v
            }),
            state: eps
                .iter()
                .map(|e| EpState {
                    still: (e.verdict == Some(Verdict::Asymmetric)).then(|| "(untouched)".into()),
                    changed: None,
                })
                .collect(),
        }
    }

    /// Adds `step` to the plan when the kernel would take its commands, it
    /// leaves the endpoints `members` symmetric and changes no other reply;
    /// otherwise leaves the plan as it was and says why. Only endpoints the
    /// step can affect are looked at again; only what it touches is saved
    /// to roll back (a clone of the whole model per attempt cost a tenth of
    /// a fleet scan).
    /// `orig`: each family's space as the analysis cut it (none: cut here).
    // The planner's state travels as arguments: one call, one step.
    #[allow(clippy::too_many_arguments)]
    fn try_step(
        &mut self,
        host: &Host,
        eps: &[Endpoint],
        class: &LinkClass,
        step: &[Op],
        members: &[usize],
        orig: [Option<&Space<'h>>; 2],
    ) -> Result<(), String> {
        let m = &mut self.model;
        // Every planning test checks that a refused step leaves the rules
        // as they were.
        #[cfg(test)]
        let rules_before = format!("{:?}", m.rules);
        let saved_fib = (m.fib.clone(), m.have_routes);
        let mut saved_tables: Vec<(usize, Table, Option<FibTable>)> = Vec::new();
        // A rule added is taken out again by its position (`inserted`); the
        // list is copied only where a rule is deleted.
        let mut saved_rules: Vec<(usize, Vec<RuleEntry>)> = Vec::new();
        for op in step {
            let fi = fam_idx(op.family());
            match op {
                Op::AddRoute(r) | Op::DelRoute(r) => {
                    if !saved_tables
                        .iter()
                        .any(|(f, t, _)| *f == fi && *t == r.table)
                    {
                        saved_tables.push((
                            fi,
                            r.table.clone(),
                            m.tables[fi].get(&r.table).cloned(),
                        ));
                    }
                }
                Op::AddRule(..) => {}
                Op::DelRule(..) => {
                    if !saved_rules.iter().any(|(f, _)| *f == fi) {
                        saved_rules.push((fi, m.rules[fi].clone()));
                    }
                }
            }
        }
        let verdict = self.judge_step(host, eps, class, step, members, &saved_fib.0, orig);
        if verdict.is_err() {
            let m = &mut self.model;
            for (fi, t, old) in saved_tables {
                match old {
                    Some(x) => {
                        m.tables[fi].insert(t, x);
                    }
                    None => {
                        m.tables[fi].remove(&t);
                    }
                }
            }
            // The rules added, taken out in one pass (each taken out alone
            // moved the list's tail; a copy of the list to put back cost as
            // much per refused step).
            for fi in 0..2 {
                if saved_rules.iter().any(|(f, _)| *f == fi) {
                    continue;
                }
                let at: Vec<usize> = self
                    .inserted
                    .iter()
                    .filter(|x| x.0 == fi)
                    .map(|x| x.1)
                    .collect();
                if at.is_empty() {
                    continue;
                }
                let out = final_positions(m.rules[fi].len(), &at);
                let (mut k, mut i) = (0, 0);
                m.rules[fi].retain(|_| {
                    let drop = out.get(k) == Some(&i);
                    k += drop as usize;
                    i += 1;
                    !drop
                });
            }
            for (fi, r) in saved_rules {
                m.rules[fi] = r;
            }
            (m.fib, m.have_routes) = saved_fib;
            #[cfg(test)]
            assert_eq!(format!("{:?}", m.rules), rules_before);
        }
        verdict
    }

    /// Applies `step` to the model and judges it (`try_step`).
    #[allow(clippy::too_many_arguments)]
    fn judge_step(
        &mut self,
        host: &Host,
        eps: &[Endpoint],
        class: &LinkClass,
        step: &[Op],
        members: &[usize],
        fib_before: &crate::model::FibFlags,
        orig: [Option<&Space<'h>>; 2],
    ) -> Result<(), String> {
        // On a refusal `try_step` puts back every table the step touched,
        // so none is left without its index.
        let mut changed: Vec<(usize, Table)> = Vec::new();
        self.inserted.clear();
        self.fresh = Default::default();
        let merged_tables = touches_merged(step);
        if merged_tables {
            self.unmerge_neutral = None;
        }
        // The prefixes each family's model holds once the step is in
        // (`held`), kept if the step is.
        let mut new_held: [Option<BTreeSet<ipnet::IpNet>>; 2] = [None, None];
        // The plan as `Shortcut` reads it, with the step.
        let (mut plain, mut plan_rules, mut plan_tables) = (
            self.plain,
            self.plan_rules.clone(),
            self.plan_tables.clone(),
        );
        let mut clear = self.clear;
        // What the plan's routes make answers depend on, with the step's,
        // and whether some route was deleted (`Judge::new`).
        let (mut keyed, mut deleted) = (self.keyed, self.deleted);
        for op in step {
            let fi = fam_idx(op.family());
            match op {
                Op::AddRoute(r) => {
                    keyed[fi] =
                        keyed[fi].or(SourceKeyed::of_routes(host, r.family, std::iter::once(r)))
                }
                Op::DelRoute(_) => deleted[fi] = true,
                _ => {}
            }
        }
        for op in step {
            let fi = fam_idx(op.family());
            match op {
                Op::AddRoute(r) if self.model.table(r.family, &r.table).is_none() => {
                    plan_tables[fi].push(r.table.clone());
                }
                Op::AddRoute(r) if plan_tables[fi].contains(&r.table) => {}
                Op::AddRule(_, r)
                    if r.action == RuleAction::Lookup
                        && !r.not
                        && r.to.is_none()
                        && r.selects_addresses_only()
                        && r.table.as_ref().is_some_and(|t| {
                            plan_tables[fi].contains(t)
                                || step.iter().any(|o| {
                                    matches!(o, Op::AddRoute(x) if x.family == op.family() && x.table == *t)
                                })
                        }) =>
                {
                    match (r.from, &r.table) {
                        (Some(n), Some(t)) => plan_rules[fi].push((n, r.priority, t.clone())),
                        _ => plain[fi] = false,
                    }
                }
                _ => plain[fi] = false,
            }
        }
        let refused = |op: &Op, e: &str| format!("the kernel would refuse `{}`: {e}", op.command());
        // A step that only adds: its routes, then each family's rules, in
        // their order (the same model: routes and rules are accepted apart,
        // and rules of a priority keep the order they were added in), so
        // that a chunk's rules are merged into the list at once, not once
        // per group (links × rules).
        let adds_only = step
            .iter()
            .all(|o| matches!(o, Op::AddRoute(_) | Op::AddRule(..)));
        let order: Vec<&Op> = if adds_only {
            let rules = |f: Family| {
                step.iter()
                    .filter(move |o| matches!(o, Op::AddRule(..)) && o.family() == f)
            };
            step.iter()
                .filter(|o| matches!(o, Op::AddRoute(_)))
                .chain(rules(Family::Inet))
                .chain(rules(Family::Inet6))
                .collect()
        } else {
            step.iter().collect()
        };
        let mut k = 0;
        while k < order.len() {
            // A run of rules added in one family: merged into the list at
            // once (`add_rules`).
            let run: Vec<&Rule> = order[k..]
                .iter()
                .map_while(|o| match o {
                    Op::AddRule(f, r) if *f == order[k].family() => Some(r),
                    _ => None,
                })
                .collect();
            let n = run.len();
            let fi = fam_idx(order[k].family());
            if n > 1 && by_priority(&self.model.rules[fi]) {
                let at = add_rules(&mut self.model, fi, &run)
                    .map_err(|(i, e)| refused(order[k + i], &e))?;
                self.inserted.extend(at.into_iter().map(|p| (fi, p)));
                for r in run {
                    self.fresh[fi].extend(r.to.map(|t| t.trunc()));
                }
                k += n;
                continue;
            }
            let op = order[k];
            k += 1;
            match apply_unfinished(&mut self.model, op).map_err(|e| refused(op, &e))? {
                Applied::Table(fi, t) if !changed.iter().any(|(f, x)| *f == fi && *x == t) => {
                    changed.push((fi, t));
                }
                Applied::RuleAt(fi, pos) => self.inserted.push((fi, pos)),
                _ => {}
            }
            let fi = fam_idx(op.family());
            match op {
                Op::AddRoute(r) => self.fresh[fi].push(r.dst.trunc()),
                Op::AddRule(_, r) => self.fresh[fi].extend(r.to.map(|t| t.trunc())),
                _ => {}
            }
        }
        finish_tables(&mut self.model, &changed);
        let model = &self.model;
        // The endpoints judged again, and what the plan with the step does
        // to them (the others' states stay: a copy of every state per step
        // was endpoints × steps).
        let mut states: Vec<(usize, EpState)> = Vec::new();
        let mut sorted_members = members.to_vec();
        sorted_members.sort_unstable();
        let is_member = |i: &usize| sorted_members.binary_search(i).is_ok();
        // The first endpoint whose replies the step would change: what a
        // refusal says, and none judged after it. In each family the
        // others' endpoints come first, then the members': a step refused
        // for what it does to another link's endpoint walked its members
        // for nothing (each refused step of a host of 1,000 links).
        let mut first_changed: Option<usize> = None;
        for fam in [Family::Inet, Family::Inet6] {
            if !step.iter().any(|o| o.family() == fam) {
                continue;
            }
            let fi = fam_idx(fam);
            let neutral = &mut self.unmerge_neutral;
            let reach = Reach::new(fib_before, model, fam, step, merged_tables, || {
                *neutral.get_or_insert_with(|| unmerge_neutral(model))
            });
            let candidates = reach.candidates(&self.by_address[fi]);
            // Others, then members; each asked whether the step affects it
            // when its turn comes.
            let others = candidates.iter().filter(|i| !is_member(i));
            let mine = candidates.iter().filter(|i| is_member(i));
            let mut order = (others.chain(mine))
                .filter(|&i| reach.affects(model, &eps[i]))
                .peekable();
            // None affected: nothing to judge in this family.
            if order.peek().is_none() {
                continue;
            }
            let cut;
            let given = orig[fi];
            let orig = match given {
                Some(o) => o,
                None => {
                    cut = Space::new(host, fam, class);
                    &cut
                }
            };
            // The model's cuts are the host's and those of the prefixes
            // the plan added that it still holds: the analysis's space
            // refined at those (`Space::union` of both models from
            // scratch cost 7% of a fleet scan).
            // A step that deletes may take a held prefix away; else those
            // held stay, and only the step's own are looked for.
            let deletes = step
                .iter()
                .any(|o| o.family() == fam && matches!(o, Op::DelRoute(..) | Op::DelRule(..)));
            let tos = rule_tos(model, fam);
            let mut holds = self.held[fi].clone();
            if deletes {
                holds.retain(|n| in_model(model, fam, n, &tos));
            }
            for n in &self.fresh[fi] {
                if !holds.contains(n) && in_model(model, fam, n, &tos) {
                    holds.insert(*n);
                }
            }
            let extra = super::peers::sorted_blocks(holds.iter().map(Range::of).collect());
            new_held[fi] = Some(holds);
            let made;
            let sp = match given {
                Some(o) => {
                    let cache = &mut self.refined[fi];
                    if cache.as_ref().is_some_and(|c| c.serves(o, &extra)) {
                        #[cfg(test)]
                        REFINED_KEPT.with(|t| t.set(t.get() + 1));
                    } else {
                        *cache = o.refine(&extra).map(|sp| Refined {
                            from: o,
                            at: extra,
                            sp,
                        });
                    }
                    match cache {
                        Some(c) => &c.sp,
                        None => {
                            made = Space::union(host, model, fam, class);
                            &made
                        }
                    }
                }
                None => {
                    made = orig
                        .refine(&extra)
                        .unwrap_or_else(|| Space::union(host, model, fam, class));
                    &made
                }
            };
            // Every planning test checks the refined space against the cut.
            #[cfg(test)]
            {
                let u = Space::union(host, model, fam, class);
                assert_eq!((&sp.pts, &sp.kind, sp.kinds), (&u.pts, &u.kind, u.kinds));
            }
            // Kept by the analysis's space: a lookup made for one step
            // serves the next.
            let captured = captured_in(&mut self.captured, &mut self.analysed, host, fam);
            let rules_change = step
                .iter()
                .any(|o| o.family() == fam && matches!(o, Op::AddRule(..) | Op::DelRule(..)));
            let class = if rules_change {
                model.rule_classes(fi)
            } else {
                self.classes[fi]
                    .get_or_insert_with(|| model.rule_classes(fi))
                    .clone()
            };
            if plain[fi] {
                let refs = self.host_refs[fi].get_or_insert_with(|| HostRefs::of(host, fi));
                clear[fi] = self.clear[fi]
                    && refs.clear(
                        model,
                        fam,
                        &plan_tables[fi][self.plan_tables[fi].len()..],
                        &plan_rules[fi][self.plan_rules[fi].len()..],
                    );
            }
            let shortcut = plain[fi]
                .then(|| {
                    Shortcut::of(
                        host,
                        model,
                        fam,
                        &plan_rules[fi],
                        &self.plan_index[fi],
                        clear[fi],
                    )
                })
                .flatten();
            // Only routes added since the host: its own keys and those of
            // the routes added.
            let added = (!deleted[fi]).then_some(keyed[fi]);
            let mut judge = Judge::new(captured, host, model, sp, orig, class, shortcut, added);
            for i in order {
                #[cfg(test)]
                STEP_JUDGED.with(|t| t.set(t.get() + 1));
                let s = judge_ep_in(&mut judge, &eps[i]);
                let changed = s.changed.is_some();
                states.push((i, s));
                if changed {
                    first_changed = Some(i);
                    break;
                }
            }
            // Every planning test checks that the endpoints `Reach` passed
            // over are judged as before.
            #[cfg(test)]
            for (i, e) in eps.iter().enumerate() {
                let judged = candidates.contains(&i) && reach.affects(model, e);
                if e.family == fam && e.verdict.is_some() && !judged {
                    // (An endpoint not judged yet holds a placeholder.)
                    let (now, was) = (judge_ep_in(&mut judge, e), &self.state[i]);
                    assert_eq!(now.still.is_some(), was.still.is_some(), "{}", ep_name(e));
                    assert_eq!(now.changed, was.changed, "{}", ep_name(e));
                }
            }
            if first_changed.is_some() {
                break;
            }
        }
        states.sort_unstable_by_key(|s| s.0);
        if let Some(c) = first_changed {
            let at = states.binary_search_by_key(&c, |s| s.0).expect("judged");
            return Err(states[at].1.changed.clone().expect("changed"));
        }
        let state_of = |i: usize| match states.binary_search_by_key(&i, |s| s.0) {
            Ok(at) => &states[at].1,
            Err(_) => &self.state[i],
        };
        if let Some((i, s)) = members
            .iter()
            .find_map(|&i| state_of(i).still.as_ref().map(|s| (i, s)))
        {
            return Err(format!("{} would still leak {s}", ep_name(&eps[i])));
        }
        for (i, s) in states {
            self.state[i] = s;
        }
        for (held, new) in self.held.iter_mut().zip(new_held) {
            if let Some(n) = new {
                *held = n;
            }
        }
        (self.plain, self.plan_rules, self.plan_tables) = (plain, plan_rules, plan_tables);
        self.clear = clear;
        (self.keyed, self.deleted) = (keyed, deleted);
        for (ix, rules) in self.plan_index.iter_mut().zip(&self.plan_rules) {
            ix.extend(rules);
        }
        for op in step {
            if matches!(op, Op::AddRule(..) | Op::DelRule(..)) {
                self.classes[fam_idx(op.family())] = None;
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------- planning

/// What a destination may get in the fix table: the labels it accepts.
const THROW: u8 = 1;
const DIRECT: u8 = 2;
const VIA: u8 = 4;
const ANY: u8 = THROW | DIRECT | VIA;

/// Where `wants` writes each piece's label: one byte a piece (`Vec<u8>`:
/// a group's endpoints' are ANDed at memory speed), or as the layout's
/// runs (`Labels`: an endpoint planned alone, at a cost by how often its
/// labels change; a byte a piece was pieces × endpoints for a link of
/// 20,000 addresses).
trait LabelSink: Default + PartialEq + std::fmt::Debug {
    /// How many pieces are labelled.
    fn len(&self) -> usize;
    /// Pieces up to `upto` labelled `m` (none where they are already).
    fn fill(&mut self, upto: usize, m: u8);
    /// As `fill`, the label read off lookup `_k` (`NO_LOOKUP`: none).
    fn fill_by(&mut self, upto: usize, m: u8, _k: u32) {
        self.fill(upto, m)
    }
    /// The pieces from `self.len()` on, of kinds `kinds`, labelled `ANY`,
    /// but those of kind `other` (at `others`, ascending: a mixed run's
    /// other kind), labelled `m`, as the piece before them was (of lookup
    /// `k`).
    fn fill_others(&mut self, kinds: &[u32], other: u32, others: &[u32], m: u8, k: u32);
}

/// No lookup: a label its peer segment or a run settled.
const NO_LOOKUP: u32 = u32::MAX;

impl LabelSink for Vec<u8> {
    fn len(&self) -> usize {
        self.len()
    }

    fn fill(&mut self, upto: usize, m: u8) {
        // One piece mostly: a push, not a resize (a `memset` call).
        if self.len() + 1 == upto {
            self.push(m);
        } else if upto > self.len() {
            self.resize(upto, m);
        }
    }

    fn fill_others(&mut self, kinds: &[u32], other: u32, others: &[u32], m: u8, _k: u32) {
        let end = self.len() + kinds.len();
        if others.len() * 8 > kinds.len() {
            // Many (addresses apart, a gap between each two): one pass.
            self.extend(kinds.iter().map(|&k| if k == other { m } else { ANY }));
        } else {
            for &p in others {
                self.resize(p as usize, ANY);
                self.push(m);
            }
            self.resize(end, ANY);
        }
    }
}

/// The runs a layout is made of: (the run's end, a piece index; its
/// label), ascending, each label other than the one before it. A piece
/// that accepts anything (`ANY`) joins the run before it, and a first run
/// of them takes the label after it (never-peers and the host's own
/// addresses then cut nothing).
#[derive(Default, Debug, PartialEq)]
struct Labels(Vec<(u32, u8)>);

impl LabelSink for Labels {
    fn len(&self) -> usize {
        self.0.last().map_or(0, |l| l.0 as usize)
    }

    fn fill(&mut self, upto: usize, m: u8) {
        if upto <= self.len() {
            return;
        }
        let upto = upto as u32;
        match self.0.last_mut() {
            Some(l) if l.1 == m || m == ANY => l.0 = upto,
            Some(l) if l.1 == ANY => *l = (upto, m),
            _ => self.0.push((upto, m)),
        }
    }

    fn fill_others(&mut self, kinds: &[u32], _other: u32, _others: &[u32], _m: u8, _k: u32) {
        // After a piece labelled `m`, the run's `m` and `ANY` pieces are
        // one run with it.
        #[cfg(test)]
        OTHERS_FILLED.with(|t| t.set(t.get() + !_others.is_empty() as usize));
        self.fill(self.len() + kinds.len(), ANY);
    }
}

/// How replies leave by a link: its router, or straight out (a tunnel).
#[derive(Debug, Clone, PartialEq)]
struct Gateway {
    /// `None`: `default dev wg0`, a link without routers.
    addr: Option<IpAddr>,
    onlink: bool,
    note: Option<String>,
    /// The link's longest connected prefix holding `addr` (global, not
    /// onlink): a table routing via it needs that prefix first, for the
    /// kernel's gateway check.
    subnet: Option<ipnet::IpNet>,
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
            // One address (most such rules): by the host's index, not a
            // scan of its addresses per rule.
            let link = if from.prefix_len() == from.max_prefix_len() {
                host.addrs_of(from.addr()).next()?
            } else {
                host.addrs.iter().find(|a| from.contains(&a.addr.local))?
            }
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

/// How the host numbers its per-link tables, read once per family: every
/// candidate step picks a table, and a host may have a rule per address.
struct Numbering {
    /// The first `from ADDR lookup T` rule's (link, table) (`conventions`).
    first: Option<(String, u32)>,
    /// amazon-ec2-net-utils' 10000 + device number, when nothing says else.
    ec2: bool,
}

impl Numbering {
    fn of(host: &Host, fam: Family, platform: Platform) -> Self {
        let first = conventions(host, fam).into_iter().next();
        Numbering {
            first: first.map(|(l, t, _)| (l, t)),
            ec2: platform.ec2,
        }
    }
}

/// Table ids in use on the host: in a dump (either family), named by a
/// rule, or a VRF's.
fn used_tables(host: &Host) -> BTreeSet<u32> {
    let mut used: BTreeSet<u32> = [0, Table::DEFAULT, Table::MAIN, Table::LOCAL].into();
    for fi in 0..2 {
        used.extend(host.tables[fi].keys().filter_map(Table::id));
        used.extend(
            host.rules[fi]
                .iter()
                .filter_map(|r| r.table.as_ref().and_then(Table::id)),
        );
    }
    used.extend(host.links.iter().filter_map(|l| l.vrf_table));
    used
}

/// A free table for `dev`: the host's per-link numbering where it has one
/// (else amazon-ec2-net-utils' 10000 + device number on EC2), else the next
/// id above those in use.
fn pick_table(host: &Host, dev: &str, numbering: &Numbering, taken: &BTreeSet<u32>) -> u32 {
    let free = |t: u32| !taken.contains(&t);
    let n = dev_number(host, dev);
    let hint = match &numbering.first {
        Some((l, t)) => t
            .checked_sub(dev_number(host, l))
            .and_then(|o| o.checked_add(n)),
        None if numbering.ec2 => Some(10000 + n),
        None => None,
    };
    if let Some(t) = hint.filter(|&t| free(t) && t > 0 && t < u32::MAX) {
        return t;
    }
    // From the top: at most the four reserved ids passed over (a scan of
    // every table was tables × endpoints where each gets its own).
    let above = taken
        .iter()
        .rev()
        .copied()
        .find(|t| ![0, Table::DEFAULT, Table::MAIN, Table::LOCAL].contains(t))
        .map_or(100, |m| m.saturating_add(1));
    (above..u32::MAX).find(|&t| free(t)).unwrap_or(above)
}

/// The prefixes of `dev`'s addresses in `fam` (its connected subnets),
/// without host prefixes.
fn own_nets(host: &Host, fam: Family, dev: &str) -> Vec<ipnet::IpNet> {
    host.addrs_on(dev)
        .filter(|a| a.addr.family == fam)
        .filter_map(subnet_of)
        .collect()
}

/// The subnet an address makes connected (its peer's for a point-to-point
/// one), none for a full-length prefix.
fn subnet_of(a: &crate::model::AddrInfo) -> Option<ipnet::IpNet> {
    let n = ipnet::IpNet::new(a.addr.peer.unwrap_or(a.addr.local), a.addr.prefixlen)
        .ok()?
        .trunc();
    (n.prefix_len() < n.max_prefix_len()).then_some(n)
}

/// A link's connected subnets (`own_nets`, each once), asked per route
/// whether they hold an address: a link may have thousands of addresses.
struct Subnets {
    nets: Vec<ipnet::IpNet>,
    set: HashSet<ipnet::IpNet>,
    /// The prefix lengths present, each once.
    lens: Vec<u8>,
}

impl Subnets {
    fn of(host: &Host, fam: Family, dev: &str) -> Self {
        let mut nets = own_nets(host, fam, dev);
        nets.sort_unstable();
        nets.dedup();
        let mut lens: Vec<u8> = nets.iter().map(|n| n.prefix_len()).collect();
        lens.sort_unstable();
        lens.dedup();
        Subnets {
            set: nets.iter().copied().collect(),
            nets,
            lens,
        }
    }

    /// The longest subnet holding `a`.
    fn longest(&self, a: IpAddr) -> Option<ipnet::IpNet> {
        self.lens.iter().rev().find_map(|&l| {
            let n = ipnet::IpNet::new(a, l).ok()?.trunc();
            self.set.contains(&n).then_some(n)
        })
    }
}

/// Each subnet of the host's addresses of family `fam` with the links
/// that have it (`pick_gateway`'s links in one segment).
fn subnet_links(host: &Host, fam: Family) -> HashMap<ipnet::IpNet, Vec<&str>> {
    let mut m: HashMap<ipnet::IpNet, Vec<&str>> = HashMap::new();
    // A concentrator's 4,000 links share one local /32.
    let mut seen: super::FastSet<(ipnet::IpNet, &str)> = Default::default();
    for a in host.addrs.iter().filter(|a| a.addr.family == fam) {
        if let Some(n) = subnet_of(a)
            && seen.insert((n, a.link.as_str()))
        {
            m.entry(n).or_default().push(a.link.as_str());
        }
    }
    m
}

/// A route's legs: (device, gateway, `onlink`), its one or its nexthops.
fn route_legs(r: &Route) -> impl Iterator<Item = (Option<&str>, Option<IpAddr>, bool)> {
    let one = r
        .nexthops
        .is_empty()
        .then(|| (r.dev.as_deref(), r.gateway, is_onlink(&r.flags)));
    let nhs = r
        .nexthops
        .iter()
        .map(|n| (n.dev.as_deref(), n.gateway, is_onlink(&n.flags)));
    one.into_iter().chain(nhs)
}

/// A router a route names: its first leg with the shortest prefix among
/// those through `dev` to `gateway` (`Routers`).
struct RouterLeg<'h> {
    dev: Option<&'h str>,
    gateway: IpAddr,
    plen: u32,
    /// The leg's place among all the routes' legs (ties go to the first).
    order: usize,
    onlink: bool,
}

/// The routers one family's routes name, read once: `pick_gateway` read
/// every route for every link (links × routes: a concentrator's 4,000
/// links with a route each, or a full table on a router of many links).
struct Routers<'h> {
    legs: Vec<RouterLeg<'h>>,
    /// Legs by device.
    by_dev: HashMap<&'h str, Vec<usize>>,
    /// Legs whose router is not IPv6 link-local, by its address.
    by_addr: Vec<(u128, usize)>,
    /// The devices of direct unicast default routes (`default dev wg0`).
    direct_default: HashSet<&'h str>,
}

impl<'h> Routers<'h> {
    fn of(host: &'h Host, fam: Family) -> Self {
        let mut legs: Vec<RouterLeg<'h>> = Vec::new();
        let mut at: HashMap<(Option<&'h str>, IpAddr), usize> = HashMap::new();
        let mut direct_default = HashSet::new();
        let mut order = 0;
        for t in host.tables[fam_idx(fam)].values() {
            for e in t.routes.iter() {
                let r = &e.route;
                if r.kind() != RouteType::Unicast {
                    continue;
                }
                if r.dst.prefix_len() == 0
                    && r.gateway.is_none()
                    && r.nexthops.is_empty()
                    && let Some(d) = r.dev.as_deref()
                {
                    direct_default.insert(d);
                }
                for (dev, g, onlink) in route_legs(r) {
                    let Some(gateway) = g else { continue };
                    let plen = u32::from(r.dst.prefix_len());
                    order += 1;
                    match at.entry((dev, gateway)) {
                        std::collections::hash_map::Entry::Occupied(o) => {
                            let l = &mut legs[*o.get()];
                            // Only a shorter prefix offers this router better.
                            if plen < l.plen {
                                (l.plen, l.order, l.onlink) = (plen, order, onlink);
                            }
                        }
                        std::collections::hash_map::Entry::Vacant(v) => {
                            v.insert(legs.len());
                            legs.push(RouterLeg {
                                dev,
                                gateway,
                                plen,
                                order,
                                onlink,
                            });
                        }
                    }
                }
            }
        }
        let mut by_dev: HashMap<&'h str, Vec<usize>> = HashMap::new();
        let mut by_addr = Vec::new();
        for (i, l) in legs.iter().enumerate() {
            if let Some(d) = l.dev {
                by_dev.entry(d).or_default().push(i);
            }
            if !v6_link_local(l.gateway) {
                by_addr.push((space::num(l.gateway), i));
            }
        }
        by_addr.sort_unstable();
        Routers {
            legs,
            by_dev,
            by_addr,
            direct_default,
        }
    }

    /// The router a link's replies should use and whether it is `onlink`:
    /// one on `dev` by prefix length, then one in its subnets (`mine`),
    /// then a link-local router of a link in the same subnet (on the same
    /// segment: this link reaches it too); the first leg of the lowest
    /// rank, as a walk of every route in order finds it. None: none but
    /// the host's own addresses.
    fn best(
        &self,
        host: &Host,
        dev: &str,
        mine: &Subnets,
        subnet_links: &HashMap<ipnet::IpNet, Vec<&str>>,
    ) -> Option<(IpAddr, bool)> {
        let in_own = |g: IpAddr| mine.longest(g).is_some();
        let link_local = v6_link_local;
        // (rank, leg order, router, onlink)
        let mut best: Option<(u32, usize, IpAddr, bool)> = None;
        let mut offer = |rank: u32, l: &RouterLeg<'_>, onlink: bool| {
            if !host.is_local_addr(l.gateway)
                && best.is_none_or(|(b, o, _, _)| (rank, l.order) < (b, o))
            {
                best = Some((rank, l.order, l.gateway, onlink));
            }
        };
        for l in self.on(dev) {
            let g = l.gateway;
            offer(l.plen, l, l.onlink || !(in_own(g) || link_local(g)));
        }
        for n in &mine.nets {
            let (lo, hi) = (space::num(n.network()), space::num(n.broadcast()));
            let from = self.by_addr.partition_point(|x| x.0 < lo);
            for &(_, i) in self.by_addr[from..].iter().take_while(|x| x.0 <= hi) {
                let l = &self.legs[i];
                if l.dev != Some(dev) {
                    offer(1000 + l.plen, l, false);
                }
            }
            if link_local(n.network()) {
                continue;
            }
            for &other in subnet_links.get(n).into_iter().flatten() {
                if other == dev {
                    continue;
                }
                for l in self.on(other).filter(|l| link_local(l.gateway)) {
                    offer(2000 + l.plen, l, false);
                }
            }
        }
        best.map(|(_, _, g, onlink)| (g, onlink))
    }

    /// The legs through `dev`.
    fn on<'a>(&'a self, dev: &str) -> impl Iterator<Item = &'a RouterLeg<'h>> + 'a {
        let legs = &self.legs;
        self.by_dev
            .get(dev)
            .into_iter()
            .flatten()
            .map(move |&i| &legs[i])
    }
}

/// The router replies from `dev` should use: one the dumps show on that
/// link (a default route's first), else one another link uses inside this
/// link's subnet, else a direct default (a tunnel), else on EC2 the VPC
/// router (IPv4 subnet base + 1).
fn pick_gateway(
    host: &Host,
    fam: Family,
    dev: &str,
    platform: Platform,
    subnet_links: &HashMap<ipnet::IpNet, Vec<&str>>,
    routers: &Routers<'_>,
) -> Option<Gateway> {
    let mine = Subnets::of(host, fam, dev);
    let link_local = v6_link_local;
    if let Some((g, onlink)) = routers.best(host, dev, &mine, subnet_links) {
        return Some(Gateway {
            addr: Some(g),
            onlink,
            note: None,
            subnet: (!onlink && !link_local(g))
                .then(|| mine.longest(g))
                .flatten(),
        });
    }
    let direct_default = routers.direct_default.contains(dev);
    if direct_default {
        return Some(Gateway {
            addr: None,
            onlink: false,
            note: None,
            subnet: None,
        });
    }
    if host.link(dev).is_some_and(|l| l.point_to_point) {
        return Some(Gateway {
            addr: None,
            onlink: false,
            note: Some(format!(
                "{dev} is point-to-point (POINTOPOINT/NOARP): replies go straight into it"
            )),
            subnet: None,
        });
    }
    if platform.ec2 && fam == Family::Inet {
        let net = mine
            .nets
            .iter()
            .filter(|n| n.prefix_len() <= 28)
            .min_by_key(|n| n.prefix_len())?;
        let IpAddr::V4(base) = net.network() else {
            return None;
        };
        let g = IpAddr::V4((u32::from(base) + 1).into());
        return Some(Gateway {
            addr: Some(g),
            onlink: false,
            subnet: mine.longest(g),
            note: Some(format!(
                "{g} is the VPC router of {net} by the platform's convention (EC2: subnet base + 1); the dumps show no router on {dev}"
            )),
        });
    }
    None
}

/// The label lookup `l` gives a piece for endpoint `e`'s replies, where
/// its peer segment does not settle it, and the priority of the rule that
/// decides its leak (`u32::MAX`: no leak). `own`: whether the piece is in
/// the endpoint's own prefixes.
fn label_of(
    host: &Host,
    sp: &Space<'_>,
    l: &KeptLookup,
    e: &Endpoint,
    gw: Option<&Gateway>,
    own: impl FnOnce() -> bool,
) -> (u8, u32) {
    let fi = fam_idx(e.family);
    let m = match &l.result {
        Err(_) => THROW,
        // Local and broadcast answers come from `local`, whose rule
        // (priority 0) precedes the fix's.
        Ok(h) if h.kind != RouteType::Unicast => {
            if l.table == Some(Table::Id(Table::LOCAL)) {
                ANY
            } else {
                THROW
            }
        }
        Ok(h) if other_dev(h, &e.interface, sp).is_some() => {
            let p = l.rule.map_or(32766, |i| host.rules[fi][i].rule.priority);
            return (if own() { DIRECT } else { VIA }, p);
        }
        // Straight into a container link: it stays so.
        Ok(h) if h.dev != e.interface || h.nexthops.iter().any(|n| n.dev != e.interface) => THROW,
        Ok(h) => {
            let single = h.nexthops.is_empty();
            let mut m = THROW;
            if single && h.gateway.is_none() {
                m |= DIRECT;
            }
            if single && gw.is_some_and(|g| g.addr == h.gateway) {
                m |= VIA;
            }
            m
        }
    };
    (m, u32::MAX)
}

/// The labels each piece of `sp` accepts for endpoint `e`'s replies, and
/// the priority of the first rule that decides a leak (the fix's rule
/// must come before it); none once a piece is labelled `stop` (a link
/// without a router stops at the first piece that needs one: half of a
/// concentrator's 4,000 links walked every piece to find so).
/// The lookups are kept in `cap` (for the judge of the steps).
fn wants<L: LabelSink>(
    host: &Host,
    sp: &Space<'_>,
    cap: &mut Captured,
    e: &Endpoint,
    gw: Option<&Gateway>,
    stop: Option<u8>,
) -> Option<(L, u32)> {
    let (rules, slot) = cap.ep(host, sp, e);
    let ask = Ask {
        host,
        sp,
        e,
        gw,
        stop,
        rules: &rules,
        slot,
    };
    // Off the slot's template, where the endpoint differs from it in a few
    // pieces (a concentrator's links each walked every link's pieces).
    if let Some(read) = template::read_off(cap, &ask) {
        #[cfg(test)]
        template::check(read.as_ref(), wants_walk(cap, &ask));
        return read;
    }
    let walked = wants_walk(cap, &ask);
    template::walked(cap, &ask);
    walked
}

/// What labelling an endpoint's pieces reads (`wants`): the host and its
/// space, the endpoint, its link's router, the label to stop at, and the
/// endpoint's reply rules and slot.
#[derive(Clone, Copy)]
struct Ask<'a, 'h> {
    host: &'a Host,
    sp: &'a Space<'h>,
    e: &'a Endpoint,
    gw: Option<&'a Gateway>,
    stop: Option<u8>,
    rules: &'a ReplyRules,
    slot: usize,
}

/// `wants` by a walk of every piece.
fn wants_walk<L: LabelSink>(cap: &mut Captured, a: &Ask<'_, '_>) -> Option<(L, u32)> {
    let Ask {
        host,
        sp,
        e,
        gw,
        stop,
        rules,
        slot,
    } = *a;
    let peers = Peers::new(sp, e);
    let mut walk = PeerWalk::new(&peers, sp);
    let mut known = std::mem::take(&mut cap.known);
    known.resize(sp.kinds, None);
    // The kinds labelled, to clear again.
    let mut labelled: Vec<u32> = Vec::new();
    let mut first_decider = u32::MAX;
    let mut out = L::default();
    // Runs of pieces that `local` answers for this endpoint's group as for
    // the analysis's reference: each accepts anything (a host with 20,000
    // addresses in a row asked each of them per address).
    let runs = cap.runs_for(sp, slot);
    let mut run_i = 0;
    // Pieces of kinds only other groups tell apart: the kind around them.
    let narrow = cap.narrow_for(slot);
    let mut narrow_i = 0;
    let top = space::top(sp.fam);
    // A mixed run being walked: up to this piece, pieces of kinds but
    // this one accept anything; the other kind's pieces (`RunOthers`).
    let (mut mixed_end, mut mixed_other) = (0, NO_KIND as usize);
    let mut others: std::rc::Rc<[u32]> = std::rc::Rc::new([]);
    let n = sp.pts.len();
    let mut i = 0;
    let mut stopped = false;
    while i < n {
        let (start, mut kind) = (sp.pts[i], sp.kind[i] as usize);
        if i < mixed_end && kind != mixed_other {
            // Up to the other kind's next piece at once.
            let j = others[others.partition_point(|&p| (p as usize) < i)..]
                .first()
                .map_or(mixed_end, |&p| p as usize);
            out.fill(j, ANY);
            i = j;
            continue;
        }
        let jump = runs.as_ref().and_then(|(rs, agree)| {
            run_at(
                rs,
                &mut run_i,
                (&sp.pts, &sp.kind),
                top,
                i,
                *agree,
                || walk.segment_end(start),
                &mut cap.others,
            )
        });
        if let Some(j) = jump {
            #[cfg(test)]
            RUNS_TAKEN.with(|t| t.set(t.get() + 1));
            let class = walk.without_lookup(start);
            let m = match class {
                Some(Outcome::Skip) | None => ANY,
                Some(_) => THROW,
            };
            match j {
                Jump::Skip(last) => {
                    out.fill(last, m);
                    i = last;
                    continue;
                }
                // Never-peers or foreign throughout.
                Jump::Mixed(r) if class.is_some() => {
                    out.fill(r.end as usize, m);
                    i = r.end as usize;
                    continue;
                }
                Jump::Mixed(r) => {
                    (mixed_end, mixed_other) = (r.end as usize, r.other as usize);
                    others = cap.others.of(r, &sp.kind);
                    if kind != mixed_other {
                        continue;
                    }
                }
            }
        }
        // The pieces this step labels: this one, or those up to the next
        // piece of a kind the group tells apart (within a peer segment).
        let mut upto = i + 1;
        if i >= mixed_end
            && let Some((nw, mine)) = &narrow
            && let Some((base, last)) =
                nw.jump(&mut narrow_i, i, mine, &sp.pts, || walk.segment_end(start))
        {
            #[cfg(test)]
            NARROW_TAKEN.with(|t| t.set(t.get() + 1));
            (kind, upto) = (base, last);
        }
        i = upto;
        let (m, k) = match walk.without_lookup(start) {
            Some(Outcome::Skip) => (ANY, NO_LOOKUP),
            Some(_) => (THROW, NO_LOOKUP),
            None => match known[kind] {
                Some(m) => m,
                None => {
                    let k = cap.get(host, slot, rules, kind, space::addr(e.family, start));
                    let (m, p) = label_of(host, sp, cap.lookup(k), e, gw, || walk.is_own(start));
                    first_decider = first_decider.min(p);
                    known[kind] = Some((m, k));
                    labelled.push(kind as u32);
                    (m, k)
                }
            },
        };
        if stop == Some(m) && upto > out.len() {
            stopped = true;
            break;
        }
        out.fill_by(upto, m, k);
        // A mixed run's other kind answers alike throughout: the rest of
        // the run at once.
        if i < mixed_end && kind == mixed_other {
            let rest = &others[others.partition_point(|&p| (p as usize) < i)..];
            out.fill_others(&sp.kind[i..mixed_end], mixed_other as u32, rest, m, k);
            i = mixed_end;
        }
    }
    if let Some((r, _)) = runs {
        cap.any_runs = Some(r);
    }
    for k in labelled {
        known[k as usize] = None;
    }
    cap.known = known;
    (!stopped).then_some((out, first_decider))
}

#[cfg(test)]
thread_local! {
    /// Runs of pieces `wants` took whole on this thread (tests count them).
    static RUNS_TAKEN: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    /// Runs of pieces a judge's walk passed over (`passed_over`).
    static JUDGE_RUNS_TAKEN: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    /// Runs of other groups' narrow tables' pieces a judge's walk took as
    /// one.
    static JUDGE_NARROW_TAKEN: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    /// Those of them in walks that keep what they met for twins (`Met`).
    static JUDGE_MET_NARROW: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    /// Runs passed over where IPv6 source routes make answers depend on
    /// the address.
    static JUDGE_SOURCE_RUNS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    /// Endpoints judged as a twin whose walk took narrow jumps (`JumpSig`).
    static TWINS_JUMPED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    /// Mixed runs' other pieces `Labels` took as one run.
    static OTHERS_FILLED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    /// Pieces of other groups' narrow tables `wants` took as one.
    static NARROW_TAKEN: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    /// Plans judged a step at a time (no `plan_in_chunks`).
    static ONE_BY_ONE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// Chunks `plan_in_chunks` judged: (accepted, refused, steps in them).
    static BATCHES: std::cell::Cell<(usize, usize, usize)> =
        const { std::cell::Cell::new((0, 0, 0)) };
    /// Endpoints the judge of a step walked (`Plan::judge_step`).
    static STEP_JUDGED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    /// Steps judged on the space the step before was (`Refined`).
    static REFINED_KEPT: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// The fewest (prefix, label) entries whose longest match gives every
/// piece a label it accepts, no entry meaning THROW (the walk goes on);
/// `forced`: a prefix that must resolve to a DIRECT entry (the connected
/// prefix the gateway check needs). `None` when some piece accepts nothing.
///
/// A dynamic programme over the prefix trie: at each prefix, either no
/// entry (its parent's label carries on) or one of the three labels, then
/// the same question for both halves. Only prefixes that hold a bound
/// between pieces are split, so the work is the number of bounds times
/// the address width.
fn entries(
    fam: Family,
    segs: &[(u128, u128, u8)],
    forced: Option<(u128, u8)>,
) -> Option<Vec<(u128, u8, u8)>> {
    if segs.iter().any(|s| s.2 == 0) {
        return None;
    }
    let bits = space::bits(fam) as u8;
    let mut dp = Dp {
        bits,
        segs,
        forced: forced.unwrap_or((0, u8::MAX)),
        // Halves no entry needs are let go as they are solved (`close`):
        // what is kept grows with the entries, not the segments.
        nodes: Vec::new(),
        levels: Vec::new(),
    };
    // The root holds the forced prefix (when it is below the top).
    let f = forced.is_some_and(|(fs, _)| fs < space::top(fam));
    let root = dp.node(0, 0, 0, segs.len(), f);
    let mut out = Vec::new();
    dp.collect(root, 0, 0, THROW, &mut out);
    Some(out)
}

/// A label's slot in a node's per-inherited-label arrays.
fn slot(l: u8) -> usize {
    match l {
        THROW => 0,
        DIRECT => 1,
        _ => 2,
    }
}

const LABELS: [u8; 3] = [THROW, DIRECT, VIA];

/// The node of an unsplit prefix, per mask of its segments: no entry for
/// an inherited label the mask accepts, else one entry, the first of VIA,
/// DIRECT, THROW it accepts (THROW when none).
const LEAF: [Node; 8] = {
    let mut out = [Node {
        first: NO_KIDS,
        mask: 0,
        cost: [0; 3],
        choice: [0; 3],
    }; 8];
    let mut mask = 0;
    while mask < 8 {
        let m = mask as u8;
        out[mask].mask = m;
        let mut k = 0;
        while k < 3 {
            let inh = LABELS[k];
            if m & inh == 0 {
                out[mask].cost[k] = 1;
                out[mask].choice[k] = if m & VIA != 0 {
                    VIA
                } else if m & DIRECT != 0 {
                    DIRECT
                } else {
                    THROW
                };
            }
            k += 1;
        }
        mask += 1;
    }
    out
};

/// `Node::choice`'s bit saying the halves need entries of their own.
const SPLIT: u8 = 0x80;

/// A prefix of the trie, solved for each label it may inherit. 20 bytes:
/// a full table's plan makes ~4M of them per link and family, most let go
/// as soon as they are solved (`Dp::close`). The prefix
/// itself is not kept (`collect` walks down from the root), nor the
/// second half, which is the node made just before this one.
#[derive(Clone, Copy)]
struct Node {
    /// The first half (`NO_KIDS`: not split).
    first: u32,
    /// Entries needed at and below it, per inherited label.
    cost: [u32; 3],
    /// The labels every segment meeting the prefix accepts.
    mask: u8,
    /// Per inherited label, its own entry's label (0: none), with `SPLIT`.
    choice: [u8; 3],
}

const NO_KIDS: u32 = u32::MAX;

/// A split prefix passed on the way down (`Dp::node`), solved on the way
/// back up: one of its halves is an unsplit prefix, made apart.
#[derive(Clone, Copy)]
struct Level {
    plen: u8,
    /// It holds the forced prefix (in its other half).
    holds_forced: bool,
    /// The unsplit half is the first: its node's index (made on the way
    /// down, before the second half's). Else the second: its segment's mask.
    leaf_first: bool,
    leaf: u32,
}

struct Dp<'a> {
    bits: u8,
    segs: &'a [(u128, u128, u8)],
    /// (start, length); the length `u8::MAX` when there is none.
    forced: (u128, u8),
    nodes: Vec<Node>,
    /// `node`'s levels on the way down, the deepest last.
    levels: Vec<Level>,
}

impl Dp<'_> {
    /// Solves the prefix `s/plen` for every inherited label (bottom-up:
    /// each prefix once, no memo). `segs[lo..hi]` are the segments meeting
    /// it (found in the parent's, not searched for in all of them); `f`:
    /// the forced prefix is this one or inside it.
    ///
    /// Most splits have one half that meets a single segment (the bounds
    /// of a prefix nest in one of its halves: an IPv6 address's /128 in
    /// its /64 is 64 such levels): those are walked down in a loop, their
    /// single-segment halves made on the spot, and solved on the way back
    /// up; only a split with bounds in both halves recurses. The nodes come
    /// out as the plain recursion makes them (`collect` reads that order).
    fn node(
        &mut self,
        mut s: u128,
        mut plen: u8,
        mut lo: usize,
        mut hi: usize,
        mut f: bool,
    ) -> usize {
        let bits = self.bits;
        let (fs, fp) = self.forced;
        let base = self.levels.len();
        // The deepest node made and where its subtree starts in `nodes`.
        let (mut deepest, mut start) = loop {
            let is_forced = f && plen == fp;
            // The mask of a prefix that is split is its halves' (every
            // segment meeting it meets one of them), not a walk over all its
            // segments at every depth.
            if (hi - lo <= 1 && !f) || plen >= bits {
                let leaf = self.leaf(lo, hi);
                break (leaf, leaf);
            }
            let here = &self.segs[lo..hi];
            let half = 1u128 << (bits - plen - 1);
            let mid = s + half;
            // The first half meets the segments starting before `mid`, the
            // second those ending after it.
            // Mostly every bound is in one half: no search then.
            let (a_hi, b_lo) = if here[0].1 >= mid {
                (lo + 1, if here[0].1 == mid { lo + 1 } else { lo })
            } else if here[hi - lo - 1].0 < mid {
                (hi, hi - 1)
            } else {
                (
                    lo + here.partition_point(|x| x.0 < mid),
                    lo + here.partition_point(|x| x.1 <= mid),
                )
            };
            // Which half holds the forced prefix (none at or below it).
            let holds = f && !is_forced;
            let (fa, fb) = (holds && fs < mid, holds && fs >= mid);
            let unsplit = |n: usize, fx: bool| (n <= 1 && !fx) || plen + 1 >= bits;
            let (a_leaf, b_leaf) = (unsplit(a_hi - lo, fa), unsplit(hi - b_lo, fb));
            if a_leaf && !b_leaf && !is_forced {
                let a = self.leaf(lo, a_hi);
                self.levels.push(Level {
                    plen,
                    holds_forced: holds,
                    leaf_first: true,
                    leaf: a as u32,
                });
                (s, plen, lo, f) = (mid, plen + 1, b_lo, fb);
            } else if b_leaf && !a_leaf && !is_forced {
                self.levels.push(Level {
                    plen,
                    holds_forced: holds,
                    leaf_first: false,
                    leaf: self.segs[b_lo..hi].iter().fold(ANY, |m, x| m & x.2) as u32,
                });
                (plen, hi, f) = (plen + 1, a_hi, fa);
            } else {
                let start = self.nodes.len();
                let a = if a_leaf {
                    self.leaf(lo, a_hi)
                } else {
                    self.node(s, plen + 1, lo, a_hi, fa)
                };
                let b = if b_leaf {
                    self.leaf(b_lo, hi)
                } else {
                    self.node(mid, plen + 1, b_lo, hi, fb)
                };
                let n = self.split(a, b, is_forced, holds);
                break (self.close(n, start), start);
            }
        };
        while self.levels.len() > base {
            let l = self.levels.pop().expect("a level above base");
            let (a, b) = if l.leaf_first {
                // Made on the way down, before all below it.
                start = l.leaf as usize;
                (l.leaf as usize, deepest)
            } else {
                let b = self.nodes.len();
                self.nodes.push(LEAF[l.leaf as usize]);
                (deepest, b)
            };
            debug_assert!(l.plen < bits);
            let n = self.split(a, b, false, l.holds_forced);
            deepest = self.close(n, start);
        }
        deepest
    }

    /// Split node `n`, the last made, whose subtree starts at `start`:
    /// where no inherited label has it split, `collect` never reads its
    /// halves, and they are let go (`n` takes `start`'s place). A full
    /// table's plan needs a few entries: its ~6 million nodes were 124 MB
    /// while it was solved.
    fn close(&mut self, n: usize, start: usize) -> usize {
        debug_assert_eq!(n + 1, self.nodes.len());
        let node = self.nodes[n];
        if node.choice.iter().any(|c| c & SPLIT != 0) {
            return n;
        }
        self.nodes.truncate(start);
        self.nodes.push(Node {
            first: NO_KIDS,
            ..node
        });
        start
    }

    /// The node of an unsplit prefix meeting `segs[lo..hi]`.
    fn leaf(&mut self, lo: usize, hi: usize) -> usize {
        let mask = self.segs[lo..hi].iter().fold(ANY, |m, x| m & x.2);
        self.nodes.push(LEAF[mask as usize]);
        self.nodes.len() - 1
    }

    /// The node of a split prefix whose halves are nodes `a` and `b` (`b`
    /// the last made): `is_forced`, it is the forced prefix; `holds_forced`,
    /// the forced prefix is inside it.
    fn split(&mut self, a: usize, b: usize, is_forced: bool, holds_forced: bool) -> usize {
        debug_assert_eq!(b + 1, self.nodes.len());
        let (na, nb) = (&self.nodes[a], &self.nodes[b]);
        let mask = na.mask & nb.mask;
        // Entries the halves need under each inherited label.
        let below = [0, 1, 2].map(|k| na.cost[k] + nb.cost[k]);
        // No entry needed where the label fits every segment (not at or
        // above the forced prefix, which must get its own entry).
        let free = !holds_forced && !is_forced;
        let mut n = Node {
            first: u32::try_from(a).unwrap_or(NO_KIDS),
            mask,
            cost: [0; 3],
            choice: [0; 3],
        };
        // Each label's own entry, whatever the inherited one.
        let own = [0, 1, 2].map(|k| {
            if free && mask & LABELS[k] != 0 {
                (1, LABELS[k])
            } else {
                (1 + below[k], LABELS[k] | SPLIT)
            }
        });
        for (k, inh) in LABELS.into_iter().enumerate() {
            // The options in order, the first of the lowest cost kept:
            // no entry, then VIA, DIRECT, THROW (none the inherited one).
            let (mut cost, mut choice) = if is_forced {
                if inh == DIRECT {
                    (below[k], SPLIT)
                } else {
                    (1 + below[slot(DIRECT)], DIRECT | SPLIT)
                }
            } else if free && mask & inh != 0 {
                (0, 0)
            } else {
                (below[k], SPLIT)
            };
            if !is_forced && cost > 0 {
                for j in [2, 1, 0] {
                    if j != k && own[j].0 < cost {
                        (cost, choice) = own[j];
                    }
                }
            }
            n.cost[k] = cost;
            n.choice[k] = choice;
        }
        self.nodes.push(n);
        self.nodes.len() - 1
    }

    /// Node `i`, the prefix `s/plen`: its entries, given the label `inh`
    /// it inherits.
    fn collect(&self, i: usize, s: u128, plen: u8, inh: u8, out: &mut Vec<(u128, u8, u8)>) {
        let n = &self.nodes[i];
        let ch = n.choice[slot(inh)] & !SPLIT;
        if ch != 0 {
            out.push((s, plen, ch));
        }
        if n.choice[slot(inh)] & SPLIT != 0 && n.first != NO_KIDS {
            // The second half is the node made just before this one.
            let ni = if ch == 0 { inh } else { ch };
            let half = 1u128 << (self.bits - plen - 1);
            self.collect(n.first as usize, s, plen + 1, ni, out);
            self.collect(i - 1, s + half, plen + 1, ni, out);
        }
    }
}

fn net(fam: Family, start: u128, plen: u8) -> ipnet::IpNet {
    ipnet::IpNet::new(space::addr(fam, start), plen).expect("valid prefix")
}

/// The routes of a fix table for `dev`, in an order the kernel accepts:
/// direct ones (the gateway's prefix among them) before those via the
/// router, each kind shortest prefix first.
fn table_ops(
    fam: Family,
    dev: &str,
    table: u32,
    gw: Option<&Gateway>,
    ents: &[(u128, u8, u8)],
) -> Vec<Op> {
    let mut routes: Vec<(u8, u8, Route)> = ents
        .iter()
        .map(|&(s, p, l)| {
            let dst = net(fam, s, p);
            let r = match (l, gw) {
                (DIRECT, _) => direct_route(fam, dst, table, dev),
                // Entries via the router exist only where it is known.
                (VIA, Some(g)) => via_route(fam, dst, table, dev, g),
                _ => {
                    let mut r = Route::new(0, fam, dst, RouteType::Throw, Table::Id(table));
                    if fam == Family::Inet6 {
                        r.metric = Some(default_metric(fam));
                    }
                    r
                }
            };
            let rank = match l {
                DIRECT => 0,
                VIA => 1,
                _ => 2,
            };
            (rank, p, r)
        })
        .collect();
    routes.sort_by_key(|(rank, p, _)| (*rank, *p));
    routes
        .into_iter()
        .map(|(_, _, r)| Op::AddRoute(r))
        .collect()
}

/// Free priorities for `e`'s rule, best first: just before the first rule
/// that decides one of its leaks, then before each earlier rule its
/// replies may meet (a `goto` over the first, a `to` rule). Where none is
/// free, a priority the plan's own rules took below the first decider:
/// the kernel puts a rule after those of its priority (`fib_nl_newrule`),
/// and the plan's rules (`from` another address) never match these
/// replies. 20,000 addresses each with a rule at 1000–21000 left fewer
/// free priorities before `main` than addresses to fix.
/// `rules`: the host's rules of `e`'s family by the sources they may match.
fn priorities(
    host: &Host,
    rules: &BySource,
    e: &Endpoint,
    first_decider: u32,
    taken: &mut Priorities,
) -> Vec<u32> {
    let fi = fam_idx(e.family);
    let mut out: Vec<u32> = taken.below(first_decider).into_iter().collect();
    let mut earlier: Vec<u32> = rules
        .holding(e.address)
        .map(|i| &host.rules[fi][i])
        .filter(|r| r.rule.priority > 0 && r.rule.priority < first_decider)
        .filter(|r| host.rule_may_match_reply(r, e.address))
        .map(|r| r.rule.priority)
        .collect();
    earlier.sort_unstable_by(|a, b| b.cmp(a));
    for p in earlier {
        if let Some(q) = taken.below(p)
            && !out.contains(&q)
        {
            out.push(q);
        }
        if out.len() >= 4 {
            break;
        }
    }
    if out.is_empty() {
        out.extend(taken.ours_below(first_decider));
    }
    out
}

fn fam_name(f: Family) -> &'static str {
    match f {
        Family::Inet => "IPv4",
        Family::Inet6 => "IPv6",
    }
}

/// `e` is the twin (`same_as`) of another endpoint of `group`: in the host
/// as captured their replies route alike.
fn is_twin_in(eps: &[Endpoint], group: &[usize], e: &Endpoint) -> bool {
    e.same_as.is_some_and(|a| {
        group
            .iter()
            .any(|&j| eps[j].address == a && eps[j].interface == e.interface)
    })
}

/// Rule priorities in use, with the highest free one below a priority
/// found by skipping runs of used ones: a plan's step takes one per address
/// of a link, each just below the last (scanning down through them for
/// each address was N²).
#[derive(Default)]
struct Priorities {
    taken: BTreeSet<u32>,
    /// Those the plan's rules took (`insert`).
    ours: BTreeSet<u32>,
    /// For a priority taken, one below it with every priority between
    /// taken too (priorities are given back only with what `down` learnt
    /// since: `put_back`).
    down: super::FastMap<u32, u32>,
    marks: Marks<PrioUndo>,
}

/// What `Priorities` put back: a priority taken, one taken by the plan,
/// a `down` entry as it was.
enum PrioUndo {
    Taken(u32),
    Ours(u32),
    Down(u32, Option<u32>),
}

/// What was put in since each open mark, to take out again: an attempt
/// or a chunk refused leaves the priorities and tables taken as they were
/// (a copy of them per attempt was attempts × rules).
struct Marks<T> {
    log: Vec<T>,
    at: Vec<usize>,
}

impl<T> Default for Marks<T> {
    fn default() -> Self {
        Marks {
            log: Vec::new(),
            at: Vec::new(),
        }
    }
}

impl<T> Marks<T> {
    fn note(&mut self, x: T) {
        if !self.at.is_empty() {
            self.log.push(x);
        }
    }

    fn begin(&mut self) {
        self.at.push(self.log.len());
    }

    /// What was put in since the last mark stays (for the mark before it,
    /// if any, to take out).
    fn keep(&mut self) {
        self.at.pop();
        if self.at.is_empty() {
            self.log.clear();
        }
    }

    /// What was put in since the last mark, in order.
    fn since(&mut self) -> Vec<T> {
        let m = self.at.pop().expect("a mark");
        self.log.split_off(m)
    }
}

impl Priorities {
    /// `p` taken by a rule of the plan.
    fn insert(&mut self, p: u32) {
        if self.taken.insert(p) {
            self.marks.note(PrioUndo::Taken(p));
        }
        if self.ours.insert(p) {
            self.marks.note(PrioUndo::Ours(p));
        }
    }

    /// Back to what it was at the last mark.
    fn put_back(&mut self) {
        for u in self.marks.since().into_iter().rev() {
            match u {
                PrioUndo::Taken(p) => {
                    self.taken.remove(&p);
                }
                PrioUndo::Ours(p) => {
                    self.ours.remove(&p);
                }
                PrioUndo::Down(x, Some(q)) => {
                    self.down.insert(x, q);
                }
                PrioUndo::Down(x, None) => {
                    self.down.remove(&x);
                }
            }
        }
    }

    /// The highest priority below `p` that a rule of the plan took.
    fn ours_below(&self, p: u32) -> Option<u32> {
        // From 1 (0 is `local`'s); `range` panics on an empty one.
        (p > 1).then(|| self.ours.range(1..p).next_back().copied())?
    }

    /// The highest free priority below `p` (from 1: 0 is `local`'s).
    fn below(&mut self, p: u32) -> Option<u32> {
        let mut q = p.checked_sub(1)?;
        let mut path = Vec::new();
        while q > 0 && self.taken.contains(&q) {
            path.push(q);
            q = self.down.get(&q).copied().unwrap_or(q - 1);
        }
        for x in path {
            let was = self.down.insert(x, q);
            if was != Some(q) {
                self.marks.note(PrioUndo::Down(x, was));
            }
        }
        (q > 0).then_some(q)
    }
}

/// A candidate step for some endpoints of one link: its operations.
struct Candidate {
    ops: Vec<Op>,
    notes: Vec<String>,
}

/// The routes of one fix table for endpoints `group` (all on one link and
/// family) and where each one's rule must go: what every attempt at their
/// step shares, whatever priority and table it takes.
struct Layout {
    ents: Vec<(u128, u8, u8)>,
    /// Per endpoint of the group, the first rule that decides a leak.
    deciders: Vec<u32>,
}

fn layout(
    host: &Host,
    sp: &Space<'_>,
    cap: &mut Captured,
    eps: &[Endpoint],
    group: &[usize],
    gw: Option<&Gateway>,
) -> Result<Layout, String> {
    let fam = eps[group[0]].family;
    let mut deciders = Vec::new();
    let no_router = || {
        Err(
            "no router in the dumps (no route via a gateway on the link or inside its subnet)"
                .into(),
        )
    };
    let runs = if let [i] = group {
        // One endpoint's labels are never 0, so the check for an empty
        // one below cannot come first: without a router, the first piece
        // that needs one settles it.
        let Some((w, d)) =
            wants::<Labels>(host, sp, cap, &eps[*i], gw, gw.is_none().then_some(VIA))
        else {
            return no_router();
        };
        deciders.push(d);
        w
    } else {
        let mut acc: Option<Vec<u8>> = None;
        let mut done: Vec<(IpAddr, u32)> = Vec::new();
        for &i in group {
            // A twin wants what its first wants (and has its decider).
            if let Some(d) = eps[i]
                .same_as
                .filter(|_| is_twin_in(eps, group, &eps[i]))
                .and_then(|a| done.iter().find(|x| x.0 == a))
            {
                deciders.push(d.1);
                continue;
            }
            let (w, d) =
                wants::<Vec<u8>>(host, sp, cap, &eps[i], gw, None).expect("labels without a stop");
            done.push((eps[i].address, d));
            deciders.push(d);
            acc = Some(match acc {
                None => w,
                Some(a) => a.into_iter().zip(w).map(|(x, y)| x & y).collect(),
            });
        }
        let acc = acc.unwrap_or_default();
        let mut runs = Labels::default();
        let mut k = 0;
        while k < acc.len() {
            // Pieces of one mask in a row at once.
            let m = acc[k];
            k += acc[k..]
                .iter()
                .position(|&x| x != m)
                .unwrap_or(acc.len() - k);
            runs.fill(k, m);
        }
        runs
    };
    let top = space::top(fam);
    let mut from = 0;
    let mut segs: Vec<(u128, u128, u8)> = Vec::with_capacity(runs.0.len());
    for &(upto, m) in &runs.0 {
        let end = sp.pts.get(upto as usize).copied().unwrap_or(top);
        segs.push((sp.pts[from], end, m));
        from = upto as usize;
    }
    if segs.iter().any(|s| s.2 == 0) {
        return Err("its endpoints' replies need different tables".into());
    }
    let needs_router = segs.iter().any(|s| s.2 == VIA);
    if needs_router && gw.is_none() {
        return no_router();
    }
    // The connected prefix holding the gateway goes in first, for the
    // kernel's gateway check.
    let forced = gw
        .filter(|g| needs_router && !g.onlink)
        .and_then(|g| g.subnet)
        .map(|n| (space::num(n.network()), n.prefix_len()));
    let ents = entries(fam, &segs, forced).ok_or("its endpoints' replies need different tables")?;
    Ok(Layout { ents, deciders })
}

/// The step for endpoints `group` sharing one new table laid out as `lay`,
/// each rule at its `level`-th priority candidate.
// The planner's state travels as arguments: one call, one step.
#[allow(clippy::too_many_arguments)]
fn candidate(
    host: &Host,
    eps: &[Endpoint],
    group: &[usize],
    lay: &Layout,
    gw: Option<&Gateway>,
    numbering: &Numbering,
    level: usize,
    tables_taken: &BTreeSet<u32>,
    // The attempt's own: taken here for its rules as they are placed (an
    // attempt that fails is dropped with it).
    taken: &mut Priorities,
    rules: &BySource,
) -> Result<Candidate, String> {
    let e0 = &eps[group[0]];
    let (fam, dev) = (e0.family, e0.interface.as_str());
    let (ents, deciders) = (&lay.ents, &lay.deciders);
    let table = pick_table(host, dev, numbering, tables_taken);
    let mut ops = table_ops(fam, dev, table, gw, ents);
    for (k, &i) in group.iter().enumerate() {
        let e = &eps[i];
        let cands = priorities(host, rules, e, deciders[k], taken);
        let Some(&p) = cands
            .get(level)
            .or(if level == 0 { None } else { cands.last() })
        else {
            return Err(format!(
                "no free rule priority before the rule that decides the replies of {}",
                ep_name(e)
            ));
        };
        taken.insert(p);
        let mut r = Rule::new(0, p);
        r.family = Some(fam);
        r.from = ipnet::IpNet::new(e.address, if fam == Family::Inet { 32 } else { 128 }).ok();
        r.action = RuleAction::Lookup;
        r.table = Some(Table::Id(table));
        ops.push(Op::AddRule(fam, r));
    }
    let mut notes = Vec::new();
    if let Some(n) = gw.and_then(|g| g.note.clone()) {
        notes.push(n);
    }
    notes.push(format!(
        "table {table} is new (free on this host); the rule(s) come before priority {}, which decides these replies today",
        deciders.iter().min().copied().unwrap_or(32766)
    ));
    Ok(Candidate { ops, notes })
}

/// A plain `from PREFIX lookup N` rule: no other selector.
fn plain_from(r: &Rule) -> bool {
    r.action == RuleAction::Lookup
        && !r.not
        && r.from.is_some()
        && r.to.is_none()
        && r.selects_addresses_only()
}

/// The endpoint's own table and its rule's priority: a plain `from …
/// lookup N` rule holding its address, N a numbered table that every rule
/// naming it gives to addresses of the endpoint's link only.
fn own_table(host: &Host, e: &Endpoint) -> Option<(u32, u32)> {
    let rules = &host.rules[fam_idx(e.family)];
    let r = rules
        .iter()
        .find(|r| plain_from(&r.rule) && r.rule.from.is_some_and(|f| f.contains(&e.address)))?;
    let n = r.table.as_ref()?.id()?;
    if [Table::MAIN, Table::LOCAL, Table::DEFAULT, Table::UNSPEC].contains(&n) {
        return None;
    }
    let only_this_link = rules
        .iter()
        .filter(|x| x.table.as_ref().and_then(Table::id) == Some(n))
        .all(|x| {
            plain_from(&x.rule)
                && x.rule.from.is_some_and(|f| {
                    host.addrs
                        .iter()
                        .filter(|a| f.contains(&a.addr.local))
                        .all(|a| a.link == e.interface)
                })
        });
    only_this_link.then_some((n, r.rule.priority))
}

/// The route of `gw` for `dst` in `table` (or straight out of `dev`).
fn via_route(fam: Family, dst: ipnet::IpNet, table: u32, dev: &str, gw: &Gateway) -> Route {
    let mut r = Route::new(0, fam, dst, RouteType::Unicast, Table::Id(table));
    r.dev = Some(dev.into());
    match gw.addr {
        Some(g) => {
            r.gateway = Some(g);
            if gw.onlink {
                r.flags.push("onlink");
            }
        }
        None if fam == Family::Inet => r.set_scope(Some(RtScope::Link)),
        None => {}
    }
    if fam == Family::Inet6 {
        r.metric = Some(default_metric(fam));
    }
    r
}

fn direct_route(fam: Family, dst: ipnet::IpNet, table: u32, dev: &str) -> Route {
    let mut r = Route::new(0, fam, dst, RouteType::Unicast, Table::Id(table));
    r.dev = Some(dev.into());
    match fam {
        Family::Inet => r.set_scope(Some(RtScope::Link)),
        Family::Inet6 => r.metric = Some(default_metric(fam)),
    }
    r
}

/// Repairs the endpoints' own table (amazon-ec2-net-utils' per-link one):
/// each route there that sends their replies out of another link is
/// replaced by one via their own link, a `throw` that lets them fall to
/// another table is deleted, a missing default is added. Only when their
/// own rule is what decides every leak.
fn repair(
    host: &Host,
    sp: &Space<'_>,
    cap: &mut Captured,
    eps: &[Endpoint],
    group: &[usize],
    gw: Option<&Gateway>,
) -> Option<Candidate> {
    let e0 = &eps[group[0]];
    let (fam, dev) = (e0.family, e0.interface.as_str());
    let fi = fam_idx(fam);
    let (n, prio) = own_table(host, e0)?;
    if group
        .iter()
        .any(|&i| own_table(host, &eps[i]).map(|x| x.0) != Some(n))
    {
        return None;
    }
    let table = host.table(fam, &Table::Id(n));
    let own_nets = own_nets(host, fam, dev);
    let mut culprits: Vec<usize> = Vec::new();
    let (mut missing_via, mut missing_direct) = (false, false);
    for &i in group {
        let e = &eps[i];
        // A twin's replies are its first's: nothing new to find.
        if is_twin_in(eps, group, e) {
            continue;
        }
        let peers = Peers::new(sp, e);
        let mut walk = PeerWalk::new(&peers, sp);
        let (rules, slot) = cap.ep(host, sp, e);
        let mut seen = vec![false; sp.kinds];
        for (start, _, kind) in sp.pieces() {
            if walk.without_lookup(start).is_some() || std::mem::replace(&mut seen[kind], true) {
                continue;
            }
            let dst = space::addr(fam, start);
            let k = cap.get(host, slot, &rules, kind, dst);
            let l = cap.lookup(k);
            let Ok(h) = &l.result else { continue };
            if h.kind != RouteType::Unicast || other_dev(h, dev, sp).is_none() {
                continue;
            }
            // Decided before the own rule: repairing its table cannot help.
            if l.rule
                .is_none_or(|r| host.rules[fi][r].rule.priority < prio)
            {
                return None;
            }
            let hit = table.and_then(|t| {
                t.candidates(dst)
                    .next()
                    .and_then(|(_, a)| a.first().copied())
            });
            match hit.map(|k| (k, &table.expect("a hit's table").routes[k].route)) {
                Some((k, r)) if r.kind() == RouteType::Throw => culprits.push(k),
                Some((k, r)) if r.kind() == RouteType::Unicast && r.tos().is_none() => {
                    let other = r.dev.as_deref().is_some_and(|d| d != dev)
                        || r.nexthops.iter().any(|x| x.dev.as_deref() != Some(dev));
                    if !other {
                        return None;
                    }
                    culprits.push(k);
                }
                Some(_) => return None,
                None if walk.is_own(start) => missing_direct = true,
                None => missing_via = true,
            }
        }
    }
    culprits.sort_unstable();
    culprits.dedup();
    let t_routes: &[RouteEntry] = table.map_or(&[], |t| &t.routes);
    let mut dels = Vec::new();
    let mut directs: Vec<Route> = Vec::new();
    let mut vias: Vec<Route> = Vec::new();
    for &k in &culprits {
        let r = &t_routes[k].route;
        dels.push(Op::DelRoute(r.clone()));
        if r.kind() == RouteType::Unicast {
            let mut x = if own_nets
                .iter()
                .any(|o| o.contains(&r.dst.network()) && o.prefix_len() <= r.dst.prefix_len())
            {
                direct_route(fam, r.dst, n, dev)
            } else {
                via_route(fam, r.dst, n, dev, gw?)
            };
            x.metric = r.metric.or(x.metric);
            vias.push(x);
        }
    }
    let has_key = |x: &Route| {
        t_routes
            .iter()
            .enumerate()
            .any(|(k, e)| !culprits.contains(&k) && same_key(&e.route, x))
    };
    if missing_direct {
        for o in &own_nets {
            let x = direct_route(fam, *o, n, dev);
            if !has_key(&x) {
                directs.push(x);
            }
        }
    }
    if missing_via {
        let dflt = ipnet::IpNet::new(space::addr(fam, 0), 0).expect("default prefix");
        let x = via_route(fam, dflt, n, dev, gw?);
        if has_key(&x) || vias.iter().any(|v| same_key(v, &x)) {
            return None;
        }
        vias.push(x);
    }
    // The gateway check looks the gateway up in this table.
    if let Some(g) = gw.filter(|g| !g.onlink).and_then(|g| g.addr)
        && vias.iter().any(|v| v.gateway.is_some())
        && !v6_link_local(g)
    {
        // What the table holds once the culprits are gone and the direct
        // routes are in, as the kernel's check sees it.
        let after = t_routes
            .iter()
            .enumerate()
            .filter(|(k, _)| !culprits.contains(k))
            .map(|(_, e)| &e.route)
            .chain(&directs);
        let held = holds_gateway(after, fam, Some(dev), g);
        if !held {
            let o = own_nets
                .iter()
                .filter(|o| o.contains(&g))
                .max_by_key(|o| o.prefix_len())?;
            let x = direct_route(fam, *o, n, dev);
            if has_key(&x) {
                return None;
            }
            directs.push(x);
        }
    }
    if dels.is_empty() && directs.is_empty() && vias.is_empty() {
        return None;
    }
    let ops: Vec<Op> = dels
        .into_iter()
        .chain(directs.into_iter().map(Op::AddRoute))
        .chain(vias.into_iter().map(Op::AddRoute))
        .collect();
    let mut notes = Vec::new();
    if let Some(x) = gw.and_then(|g| g.note.clone()) {
        notes.push(x);
    }
    notes.push(format!(
        "table {n} is {dev}'s own (its rule at priority {prio}); what sends its replies out of another link there is replaced"
    ));
    Some(Candidate { ops, notes })
}

/// amazon-ec2-net-utils' layout: a `from ADDR lookup 10000 + N` rule for
/// an address of device N (an EC2 instance, whatever the collector).
pub(crate) fn netutils(host: &Host) -> bool {
    [Family::Inet, Family::Inet6].into_iter().any(|f| {
        conventions(host, f)
            .iter()
            .any(|(l, t, _)| *t == 10000 + dev_number(host, l))
    })
}

/// Fix advice for a host whose endpoints are `eps` (`endpoints` of `host`).
pub fn advise(host: &Host, eps: &[Endpoint], class: &LinkClass, platform: Platform) -> Advice {
    advise_in(host, eps, class, platform, &[None, None], [None, None])
}

/// `advise`, given the spaces `endpoints` cut for `eps` (none: cut here)
/// and the lookups it made on them.
pub(crate) fn advise_in(
    host: &Host,
    eps: &[Endpoint],
    class: &LinkClass,
    platform: Platform,
    spaces: &Spaces<'_>,
    analysed: [Option<Analysed>; 2],
) -> Advice {
    let platform = Platform {
        ec2: platform.ec2 || netutils(host),
    };
    // Groups: (link, family) with asymmetric endpoints, in endpoint order.
    let mut groups: Vec<(String, Family, Vec<usize>)> = Vec::new();
    // Endpoints that leak for some reply protocols only: the plan is
    // checked on protocol-less replies, which would call them fixed.
    let mut by_protocol: Vec<usize> = Vec::new();
    // Both found in maps: a host of 500 links has 10,000 twins.
    let twins = super::twins(eps);
    let mut group_of: super::FastMap<(&str, Family), usize> = Default::default();
    let mut by_list = Default::default();
    for (i, e) in eps.iter().enumerate() {
        if e.verdict != Some(Verdict::Asymmetric) {
            continue;
        }
        let own = twins[i].map_or(e, |t| &eps[t]);
        if own.protocols.is_some() || own.leaks.any_where(&mut by_list, |l| l.protocols.is_some()) {
            by_protocol.push(i);
            continue;
        }
        let g = *group_of
            .entry((e.interface.as_str(), e.family))
            .or_insert_with(|| {
                groups.push((e.interface.clone(), e.family, Vec::new()));
                groups.len() - 1
            });
        groups[g].2.push(i);
    }
    if groups.is_empty() && by_protocol.is_empty() {
        return Advice {
            status: FixStatus::NotNeeded,
            reason: "no endpoint's replies leave by another link".into(),
            steps: Vec::new(),
            unverified: Vec::new(),
        };
    }
    let cut = [Family::Inet, Family::Inet6].map(|f| {
        (spaces[fam_idx(f)].is_none() && groups.iter().any(|g| g.1 == f))
            .then(|| Space::new(host, f, class))
    });
    let numbering = [Family::Inet, Family::Inet6].map(|f| Numbering::of(host, f, platform));
    let tables_taken = used_tables(host);
    let prios_taken: [Priorities; 2] = host.rules.each_ref().map(|rs| Priorities {
        taken: rs.iter().map(|r| r.rule.priority).collect(),
        ..Default::default()
    });
    let by_source = host.rules.each_ref().map(|rs| BySource::of(rs.iter()));
    let subnets = [Family::Inet, Family::Inet6].map(|f| subnet_links(host, f));
    let routers = [Family::Inet, Family::Inet6].map(|f| Routers::of(host, f));
    let mut plan = Plan::new(host, eps, analysed);
    // The space each family's lookups are kept by (`Captured`).
    let orig = [0, 1].map(|fi| spaces[fi].as_ref().or(cut[fi].as_ref()));
    let mut g = Groups {
        host,
        eps,
        class,
        groups: &groups,
        gws: groups
            .iter()
            .map(|(dev, fam, _)| {
                let fi = fam_idx(*fam);
                pick_gateway(host, *fam, dev, platform, &subnets[fi], &routers[fi])
            })
            .collect(),
        orig,
        numbering,
        by_source,
        layouts: groups.iter().map(|_| HashMap::new()).collect(),
    };
    let mut taken = Taken {
        tables: tables_taken,
        added: Marks::default(),
        prios: prios_taken,
    };
    let Planned { steps, failures } = if batching() {
        plan_in_chunks(&mut g, &mut plan, &mut taken)
    } else {
        plan_groups(&mut g, &mut plan, &mut taken, true, 0..groups.len(), None)
    };
    let steps: Vec<Fix> = steps.into_iter().map(|s| s.1).collect();
    let failures = failures.into_iter().map(|f| (f.1, f.2, f.3)).collect();
    let mut failures = told(failures);
    let asym: usize = groups.iter().map(|g| g.2.len()).sum();
    // What the accepted steps leave leaking (in a family no step touches:
    // every asymmetric endpoint).
    let mut unverified: Vec<String> = groups
        .iter()
        .flat_map(|g| g.2.iter())
        .filter(|&&i| plan.state[i].still.is_some())
        .map(|&i| ep_name(&eps[i]))
        .collect();
    if !by_protocol.is_empty() {
        let names: Vec<String> = by_protocol.iter().map(|&i| ep_name(&eps[i])).collect();
        failures.push(format!(
            "{}: replies leak for some IP protocols only (ipproto rules); no fix is planned for them (it would have to select on ipproto, and is not checked per protocol)",
            listed(&names)
        ));
        unverified.extend(names);
    }
    let (status, reason) = if failures.is_empty() && unverified.is_empty() {
        (
            FixStatus::Verified,
            format!(
                "{} asymmetric endpoint(s) symmetric once applied, no other reply changed (checked on the model under the kernel's rules for ip route/rule add)",
                asym
            ),
        )
    } else if steps.is_empty() {
        (FixStatus::None, failures.join("; "))
    } else {
        (
            FixStatus::Partial,
            format!(
                "left asymmetric: {}; {}",
                listed(&unverified),
                failures.join("; ")
            ),
        )
    };
    Advice {
        status,
        reason,
        steps,
        unverified,
    }
}

/// What planning a host's groups of asymmetric endpoints reads: each
/// group's router, and the table layouts of its parts, made once for all
/// attempts (a search of them was parts² where each endpoint is one).
struct Groups<'a> {
    host: &'a Host,
    eps: &'a [Endpoint],
    class: &'a LinkClass,
    /// (link, family, endpoints), in endpoint order.
    groups: &'a [(String, Family, Vec<usize>)],
    gws: Vec<Option<Gateway>>,
    orig: [Option<&'a Space<'a>>; 2],
    numbering: [Numbering; 2],
    by_source: [BySource; 2],
    layouts: Vec<HashMap<Vec<usize>, Result<Layout, String>>>,
}

/// The tables and rule priorities taken (the host's and the plan's).
struct Taken {
    tables: BTreeSet<u32>,
    /// The tables taken since each mark.
    added: Marks<u32>,
    prios: [Priorities; 2],
}

impl Taken {
    /// A mark that what is taken after it can be put back to.
    fn begin(&mut self) {
        self.added.begin();
        self.prios.iter_mut().for_each(|p| p.marks.begin());
    }

    /// What was taken since the last mark stays.
    fn keep(&mut self) {
        self.added.keep();
        self.prios.iter_mut().for_each(|p| p.marks.keep());
    }

    /// Back to what was taken at the last mark.
    fn put_back(&mut self) {
        for t in self.added.since() {
            self.tables.remove(&t);
        }
        self.prios.iter_mut().for_each(Priorities::put_back);
    }

    /// What a step's `ops` take (one family's).
    fn took(&mut self, ops: &[Op], fi: usize) {
        for o in ops {
            match o {
                Op::AddRoute(r) => {
                    if let Some(t) = r.table.id()
                        && self.tables.insert(t)
                    {
                        self.added.note(t);
                    }
                }
                Op::AddRule(_, r) => self.prios[fi].insert(r.priority),
                _ => {}
            }
        }
    }
}

/// The steps planned and the groups left without one, in the groups'
/// order.
struct Planned {
    /// (group, the step).
    steps: Vec<(usize, Fix)>,
    /// (group, link, family, why).
    failures: Vec<(usize, String, Family, String)>,
}

/// The groups planned as `plan_groups` judging each step as it is added
/// plans them, judging many steps at once: a chunk of groups' attempts
/// made without a judge, then judged as one step. All the groups are the
/// first chunk; where a chunk is refused, chunks of 1, 2, 4, … steps
/// follow from its start until one step is refused alone: that group is
/// then planned with a judge (its first attempt known refused), and the
/// chunks go on after it at the size last accepted, doubling. One at a
/// time, a host of 500 links judged 500 steps, each reading every rule and
/// endpoint again (links × rules); starting again from the whole rest
/// after each refused step, 80 refused among 500 judged the rest 80 times.
/// Each step accepted in a chunk is taken as accepted alone
/// (`a_batch_plans_what_one_step_at_a_time_plans`).
fn plan_in_chunks<'a>(g: &mut Groups<'a>, plan: &mut Plan<'a>, taken: &mut Taken) -> Planned {
    let (host, eps, class, orig) = (g.host, g.eps, g.class, g.orig);
    let mut out = Planned {
        steps: Vec::new(),
        failures: Vec::new(),
    };
    let n = g.groups.len();
    // Sizes count steps: groups without an attempt (no router) have none.
    let (mut from, mut size) = (0, usize::MAX);
    // The size of the last chunk accepted.
    let mut pace = 1;
    while from < n {
        // Attempts take tables and priorities as they are made: kept only
        // where the chunk is accepted.
        taken.begin();
        let mut p = Planned {
            steps: Vec::new(),
            failures: Vec::new(),
        };
        let mut to = from;
        while to < n && p.steps.len() < size {
            let q = plan_groups(g, plan, taken, false, to..to + 1, None);
            p.steps.extend(q.steps);
            p.failures.extend(q.failures);
            to += 1;
        }
        let judged = if p.steps.is_empty() {
            Ok(())
        } else {
            let ops: Vec<Op> = p
                .steps
                .iter()
                .flat_map(|s| s.1.ops.iter().cloned())
                .collect();
            let members: Vec<usize> = p
                .steps
                .iter()
                .flat_map(|s| g.groups[s.0].2.iter().copied())
                .collect();
            let judged = plan.try_step(host, eps, class, &ops, &members, orig);
            #[cfg(test)]
            BATCHES.with(|b| {
                let (ok, no, steps) = b.get();
                let steps = steps + p.steps.len();
                b.set(if judged.is_ok() {
                    (ok + 1, no, steps)
                } else {
                    (ok, no + 1, steps)
                })
            });
            judged
        };
        match judged {
            Ok(()) => {
                taken.keep();
                pace = p.steps.len().max(1);
                size = pace.saturating_mul(2);
                out.steps.extend(p.steps);
                out.failures.extend(p.failures);
                from = to;
            }
            // From one step again, doubling: a step refused near `from`
            // costs little to find, one far from it a few chunks.
            Err(_) if p.steps.len() > 1 => {
                taken.put_back();
                size = 1;
            }
            Err(why) => {
                taken.put_back();
                // Refused alone: the groups before it in the chunk have no
                // step (they took nothing).
                let stop = p.steps[0].0;
                out.failures
                    .extend(p.failures.into_iter().filter(|f| f.0 < stop));
                let q = plan_groups(g, plan, taken, true, stop..stop + 1, Some(why));
                out.steps.extend(q.steps);
                out.failures.extend(q.failures);
                from = stop + 1;
                size = pace;
            }
        }
    }
    out
}

/// Plans the groups in order, each by its first attempt that the plan
/// accepts: its own table repaired, when that is what decides; else one
/// table for the link's endpoints, else one per endpoint, with rules at
/// the latest free priorities, then earlier ones. `judge`: each step is
/// judged as it is added (`Plan::try_step`); without, every attempt that
/// can be made is taken as accepted, for the caller to judge at once.
/// `refused`: the first attempt that can be made is known to be refused,
/// for this reason (judged in a chunk alone).
fn plan_groups<'a>(
    g: &mut Groups<'a>,
    plan: &mut Plan<'a>,
    taken: &mut Taken,
    judge: bool,
    which: std::ops::Range<usize>,
    mut refused: Option<String>,
) -> Planned {
    let (host, eps, class, orig) = (g.host, g.eps, g.class, g.orig);
    let mut out = Planned {
        steps: Vec::new(),
        failures: Vec::new(),
    };
    let mut try_step = |plan: &mut Plan<'a>, ops: &[Op], members: &[usize]| {
        if let Some(why) = refused.take() {
            return Err(why);
        }
        if judge {
            plan.try_step(host, eps, class, ops, members, orig)
        } else {
            Ok(())
        }
    };
    for gi in which {
        let (dev, fam, members) = &g.groups[gi];
        let fi = fam_idx(*fam);
        let sp = orig[fi].expect("space of a group's family");
        let gw = g.gws[gi].as_ref();
        let mut why: Option<String> = None;
        let mut done = false;
        let shapes: Vec<Vec<Vec<usize>>> = if members.len() > 1 {
            vec![
                vec![members.clone()],
                members.iter().map(|&i| vec![i]).collect(),
            ]
        } else {
            vec![vec![members.clone()]]
        };
        let cap = captured_in(&mut plan.captured, &mut plan.analysed, host, *fam);
        if let Some(c) = repair(host, sp, cap, eps, members, gw) {
            match try_step(plan, &c.ops, members) {
                Ok(()) => {
                    out.steps.push((gi, Fix::new(c.ops, c.notes)));
                    continue;
                }
                Err(e) => why = Some(e),
            }
        }
        let layouts = &mut g.layouts[gi];
        'attempts: for level in 0..3 {
            for shape in &shapes {
                let mut ops = Vec::new();
                let mut notes = Vec::new();
                let mut noted: HashSet<String> = HashSet::new();
                taken.begin();
                let mut ok = true;
                for part in shape {
                    if !layouts.contains_key(part) {
                        let cap = captured_in(&mut plan.captured, &mut plan.analysed, host, *fam);
                        layouts.insert(part.clone(), layout(host, sp, cap, eps, part, gw));
                    }
                    let lay = &layouts[part];
                    let made = match lay {
                        Ok(lay) => candidate(
                            host,
                            eps,
                            part,
                            lay,
                            gw,
                            &g.numbering[fi],
                            level,
                            &taken.tables,
                            &mut taken.prios[fi],
                            &g.by_source[fi],
                        ),
                        Err(e) => Err(e.clone()),
                    };
                    match made {
                        Ok(c) => {
                            taken.took(&c.ops, fi);
                            ops.extend(c.ops);
                            for n in c.notes {
                                if noted.insert(n.clone()) {
                                    notes.push(n);
                                }
                            }
                        }
                        Err(e) => {
                            why.get_or_insert(e);
                            ok = false;
                            break;
                        }
                    }
                }
                if !ok {
                    taken.put_back();
                    continue;
                }
                if let Err(e) = try_step(plan, &ops, members) {
                    why = Some(e);
                    taken.put_back();
                    continue;
                }
                taken.keep();
                out.steps.push((gi, Fix::new(ops, notes)));
                done = true;
                break 'attempts;
            }
        }
        if !done {
            out.failures.push((
                gi,
                dev.clone(),
                *fam,
                why.unwrap_or_else(|| "no candidate fix".into()),
            ));
        }
    }
    out
}

/// Whether the groups' attempts are judged in chunks (`plan_in_chunks`;
/// tests compare the plans without).
fn batching() -> bool {
    #[cfg(test)]
    if ONE_BY_ONE.with(|o| o.get()) {
        return false;
    }
    true
}

/// Each distinct failure once, with the links it is of (`listed`): the
/// first-seen order kept (a host of 500 links without routers said the
/// same of each, 50 KB).
fn told(failures: Vec<(String, Family, String)>) -> Vec<String> {
    let mut whys: Vec<(Family, String, Vec<String>)> = Vec::new();
    let mut at: HashMap<(Family, String), usize> = HashMap::new();
    for (dev, fam, why) in failures {
        match at.entry((fam, why)) {
            std::collections::hash_map::Entry::Occupied(o) => whys[*o.get()].2.push(dev),
            std::collections::hash_map::Entry::Vacant(v) => {
                whys.push((fam, v.key().1.clone(), vec![dev]));
                v.insert(whys.len() - 1);
            }
        }
    }
    whys.into_iter()
        .map(|(fam, why, devs)| format!("{} ({}): {why}", listed(&devs), fam_name(fam)))
        .collect()
}

/// Endpoint names for a reason, the first `REASON_NAMES` and a count of
/// the rest: `fix_unverified` lists them all (a host of 20,000 addresses
/// left unfixed made a 400 KB reason, a CSV cell and a line of `--explain`).
fn listed(names: &[String]) -> String {
    let mut s = names[..names.len().min(REASON_NAMES)].join(", ");
    if names.len() > REASON_NAMES {
        s.push_str(&format!(" and {} more", names.len() - REASON_NAMES));
    }
    s
}

const REASON_NAMES: usize = 8;

mod template;

#[cfg(test)]
mod tests;
