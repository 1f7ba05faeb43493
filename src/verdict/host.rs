//! One host's report: its captures through the model to endpoint verdicts,
//! what made it incomplete, the ec2rl-equivalent, fixes (checked by applying
//! them to the model), and every diagnostic with its file.

use super::ec2rl::{self, Ec2rl};
use super::fix::{self, Fix, FixStatus};
use super::impact::{self, Impact};
use super::{Endpoint, LeaksIter, LinkClass, Verdict, endpoints_spaces, host_verdict};
use crate::capture::{Collector, GroupedHost, HostCapture, Missing};
use crate::grammar::{DumpKind, Family, RouteType, Severity, Table};
use crate::model::{AddrInfo, Host, KernelError, LinkInfo, fam_idx};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileDiagnostic {
    pub file: String,
    pub line: u32,
    pub column: u32,
    pub severity: Severity,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRef {
    pub dump: DumpKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub family: Option<Family>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
    pub file: String,
}

/// Written as JSON by `report::wire` (its tables of leaks), read back
/// by `wire::read_host` (or from `wire::inline`'s shape).
#[derive(Debug, Clone, Deserialize)]
pub struct HostReport {
    pub host: String,
    pub hostname: Option<String>,
    pub instance_id: Option<String>,
    pub collector: Collector,
    pub verdict: Verdict,
    /// The worst impact of its endpoints' leaks and no-route ranges
    /// (absent: none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub impact: Option<Impact>,
    /// Why the verdict rests on assumptions or partial data (empty: complete).
    pub incomplete: Vec<String>,
    /// One line for the table.
    pub reason: String,
    /// (Absent when read: `wire::read_host` reads them beside.)
    #[serde(default)]
    pub endpoints: Vec<Endpoint>,
    /// Pods routed into container links, as forwarded endpoints, grouped
    /// (`verdict::pods`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pods: Vec<super::pods::PodGroup>,
    pub ec2rl: Ec2rl,
    /// The verified steps of the fix, to run in order (see `fix_status`).
    pub fix: Vec<Fix>,
    pub fix_status: FixStatus,
    /// Why the fix is as it is: what was checked, or what is left and why.
    pub fix_reason: String,
    /// Endpoints still asymmetric once `fix` is applied to the model
    /// (empty when the fix was verified).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fix_unverified: Vec<String>,
    pub files: Vec<FileRef>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    pub diagnostics: Vec<FileDiagnostic>,
}

impl HostReport {
    pub fn is_incomplete(&self) -> bool {
        !self.incomplete.is_empty()
    }

    /// `broken` when traffic is lost (a request or reply dropped),
    /// `degraded` when every leaked reply is delivered by another path.
    pub fn impact_word(&self) -> Option<&'static str> {
        self.impact
            .map(|i| if i.is_broken() { "broken" } else { "degraded" })
    }

    /// `asymmetric`, or `asymmetric (incomplete)`.
    pub fn verdict_label(&self) -> String {
        if self.is_incomplete() && self.verdict != Verdict::Error {
            format!("{} (incomplete)", self.verdict.as_str())
        } else {
            self.verdict.as_str().to_string()
        }
    }
}

/// Without `ip addr` (EKS), the local table still names every address and
/// its device, and main's `proto kernel` routes give the prefix lengths.
fn infer_addresses(host: &mut Host) -> bool {
    let mut found = Vec::new();
    for fam in [Family::Inet, Family::Inet6] {
        let fi = fam_idx(fam);
        let Some(local) = host.tables[fi].get(&Table::Id(Table::LOCAL)) else {
            continue;
        };
        let main = host.tables[fi].get(&Table::Id(Table::MAIN));
        for e in local.routes.iter() {
            let r = &e.route;
            let full = if fam == Family::Inet { 32 } else { 128 };
            if r.kind() != RouteType::Local
                || r.dst.prefix_len() != full
                || r.dst.addr().is_loopback()
            {
                continue;
            }
            let Some(dev) = r.dev.as_deref().filter(|d| *d != "lo").map(str::to_string) else {
                continue;
            };
            let a = r.dst.addr();
            let plen = main
                .into_iter()
                .flat_map(|m| m.routes.iter())
                .filter(|m| {
                    m.route.dev.as_deref() == Some(dev.as_str())
                        && m.route.gateway.is_none()
                        && m.route.dst.contains(&a)
                })
                .map(|m| m.route.dst.prefix_len())
                .max()
                .unwrap_or(full);
            // As `ip addr` would print it: `inet A/LEN scope global DEV`.
            let mut addr = crate::grammar::Address::new(0, a, None, plen);
            addr.scope = Some(crate::grammar::Scope::parse("global"));
            addr.label = Some(dev.clone());
            found.push(AddrInfo {
                link: dev.clone(),
                addr,
                origin: e.origin(),
            });
            if host.link(&dev).is_none() {
                host.links.push(LinkInfo {
                    name: dev,
                    index: None,
                    up: true,
                    carrier: true,
                    loopback: false,
                    flags_known: false,
                    master: None,
                    group: 0,
                    vrf_table: None,
                    point_to_point: false,
                });
            }
        }
    }
    let any = !found.is_empty();
    host.addrs.extend(found);
    any
}

/// The host model as the scan builds it from a capture's dumps: addresses
/// are inferred from the local table when `ip addr` was not collected
/// (EKS); the flag says they were. `route-get` answers from this model too.
pub fn model(inputs: Vec<crate::model::Input>, system: crate::model::System) -> (Host, bool) {
    let mut host = Host::build_with(inputs, &HashMap::new(), system);
    let have_any_routes = host.have_routes.iter().any(|x| *x);
    let inferred = !host.have_addrs && have_any_routes && infer_addresses(&mut host);
    (host, inferred)
}

/// A bug in the analysis costs one host, not the fleet: a panic becomes an
/// `error` row naming it (the panic hook has printed where), and the scan
/// goes on with the next host.
pub fn analyse_guarded(cap: HostCapture, class: &LinkClass) -> HostReport {
    guarded(cap, None, |cap| analyse(cap, class))
}

/// `analyse_guarded` within a time budget: past `limit` the host becomes an
/// `error` row naming the limit.
pub fn analyse_within(cap: HostCapture, class: &LinkClass, limit: Option<Duration>) -> HostReport {
    guarded(cap, limit, |cap| analyse(cap, class))
}

/// `analyse_within` of a host still to be read from its members (on this
/// thread): a panic while reading them costs this host alone too.
pub fn analyse_grouped(g: GroupedHost, class: &LinkClass, limit: Option<Duration>) -> HostReport {
    let (host, instance_id, collector) = (g.id.clone(), g.instance_id.clone(), g.collector);
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| g.assemble())) {
        Ok(cap) => analyse_within(cap, class, limit),
        Err(panic) => failed(panic, host, None, instance_id, collector, Vec::new()),
    }
}

fn guarded(
    cap: HostCapture,
    limit: Option<Duration>,
    f: impl FnOnce(HostCapture) -> HostReport,
) -> HostReport {
    let host = cap.id.clone();
    let hostname = cap.hostname.clone();
    let instance_id = cap.instance_id.clone();
    let collector = cap.collector;
    let files = file_refs(&cap);
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _budget = crate::budget::start(limit);
        f(cap)
    }));
    match run {
        Ok(report) => report,
        Err(panic) => failed(panic, host, hostname, instance_id, collector, files),
    }
}

/// The `error` row of a host whose analysis panicked or ran out of time.
fn failed(
    panic: Box<dyn std::any::Any + Send>,
    host: String,
    hostname: Option<String>,
    instance_id: Option<String>,
    collector: Collector,
    files: Vec<FileRef>,
) -> HostReport {
    let (what, message) = match panic.downcast_ref::<crate::budget::Exceeded>() {
        Some(e) => {
            let what = format!(
                "analysis stopped after the per-host time limit of {} s (--host-timeout)",
                e.0.as_secs_f64()
            );
            (what.clone(), format!("{what}: the host was not analysed"))
        }
        None => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            (
                format!("internal error: {what}"),
                format!(
                    "internal error while analysing this host (a bug, please report it with the host's files): {what}"
                ),
            )
        }
    };
    HostReport {
        host: host.clone(),
        hostname,
        instance_id,
        collector,
        verdict: Verdict::Error,
        impact: None,
        incomplete: vec![message.clone()],
        reason: what,
        endpoints: Vec::new(),
        pods: Vec::new(),
        ec2rl: ec2rl::Ec2rl {
            status: None,
            message: "not computed: the analysis failed".into(),
            logged: None,
        },
        fix: Vec::new(),
        fix_status: FixStatus::None,
        fix_reason: "not computed: the analysis failed".into(),
        fix_unverified: Vec::new(),
        files,
        notes: Vec::new(),
        diagnostics: vec![FileDiagnostic {
            file: host.clone(),
            line: 0,
            column: 0,
            severity: Severity::Error,
            message,
        }],
    }
}

fn file_refs(cap: &HostCapture) -> Vec<FileRef> {
    cap.inputs
        .iter()
        .map(|i| FileRef {
            dump: i.kind,
            family: i.ctx.family,
            table: i.ctx.table.as_ref().map(|t| t.to_string()),
            file: i.name.clone(),
        })
        .collect()
}

pub fn analyse(cap: HostCapture, class: &LinkClass) -> HostReport {
    let ec2rl_log = cap.ec2rl_log.as_ref().map(|(_, t)| t.clone());
    let files = file_refs(&cap);
    let mut incomplete: Vec<String> = Vec::new();
    let mut diagnostics: Vec<FileDiagnostic> = cap
        .notices
        .iter()
        .map(|n| FileDiagnostic {
            file: n.file.clone(),
            line: 0,
            column: 0,
            severity: Severity::Error,
            message: n.message.clone(),
        })
        .collect();
    for n in &cap.notices {
        incomplete.push(format!("{}: {}", n.file, n.message));
    }
    let (host, inferred) = model(cap.inputs, cap.system);
    let mut absent: Vec<String> = Vec::new();
    for s in &host.sources {
        let errors = s
            .dump
            .diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count();
        if errors > 0 {
            incomplete.push(format!("{}: {errors} line(s) not parsed", s.name));
        }
        // A command always prints something (`ip rule` at least its three
        // default rules): an empty file is a capture that went wrong.
        if s.text.is_blank() {
            incomplete.push(format!("{}: empty: the dump holds no output", s.name));
            diagnostics.push(FileDiagnostic {
                file: s.name.clone(),
                line: 1,
                column: 1,
                severity: Severity::Error,
                message: format!("empty {} dump: no output captured", s.kind.as_str()),
            });
        }
        if let Some(f) = &s.dump.failed {
            // `ip route show table T` of a table that holds no route: the
            // kernel says so with an error, but the dump is complete.
            let no_table = s.kind == DumpKind::IpRoute
                && s.records == 0
                && f.text.contains("FIB table does not exist");
            if no_table {
                absent.push(format!(
                    "{}:{}: {} (the table is empty)",
                    s.name, f.line, f.text
                ));
            } else {
                incomplete.push(format!(
                    "{}:{}: the command failed: {}",
                    s.name, f.line, f.text
                ));
            }
        }
        for d in &s.dump.diagnostics {
            diagnostics.push(FileDiagnostic {
                file: s.name.clone(),
                line: d.line,
                column: d.column,
                severity: d.severity,
                message: match &d.expected {
                    Some(e) => format!("{} (expected {e}): `{}`", d.message, d.text),
                    None => format!("{}: `{}`", d.message, d.text),
                },
            });
        }
    }
    let have_any_routes = host.have_routes.iter().any(|x| *x);
    if inferred {
        incomplete.push(
            "ip addr not collected: addresses inferred from the local table, links assumed up"
                .into(),
        );
    }
    let (eps, spaces, lookups) = endpoints_spaces(&host, class);
    let fams_used: Vec<Family> = [Family::Inet, Family::Inet6]
        .into_iter()
        .filter(|f| eps.iter().any(|e| e.family == *f && e.verdict.is_some()))
        .collect();
    let mut notes = cap.notes.clone();
    for a in &host.assumptions {
        // The kernel version and sysctls assumed are told, not held
        // against the verdict (they bear on rare addresses only).
        if a.system {
            notes.push(a.text.clone());
            continue;
        }
        let used = match a.family {
            Some(f) => fams_used.contains(&f),
            None => !fams_used.is_empty(),
        };
        if used {
            incomplete.push(a.text.clone());
        }
    }
    for m in &cap.missing {
        // Rule and address gaps are told above, in terms of what was assumed.
        if matches!(m, Missing::Table { .. }) {
            incomplete.push(format!("not collected: {m}"));
        }
    }
    for fam in [Family::Inet, Family::Inet6] {
        let unanalysed = eps
            .iter()
            .any(|e| e.family == fam && e.state == super::EndpointState::Up && e.verdict.is_none());
        if unanalysed {
            incomplete.push(format!(
                "no {} routes in the dumps: {} endpoints not analysed",
                if fam == Family::Inet { "IPv4" } else { "IPv6" },
                if fam == Family::Inet { "IPv4" } else { "IPv6" }
            ));
        }
    }
    notes.extend(absent);
    if cap.collector == Collector::Insights && have_any_routes {
        incomplete.push("Insights may have filtered ip_route_show_table_all".into());
        notes.retain(|n| !n.starts_with("insights-core may filter"));
    }
    let analysed = eps.iter().any(|e| e.verdict.is_some());
    let verdict = if !analysed && (!have_any_routes || eps.is_empty()) {
        Verdict::Error
    } else {
        host_verdict(&eps)
    };
    let ec2rl = ec2rl::equivalent(&host, ec2rl_log.as_deref());
    let platform = fix::Platform {
        ec2: matches!(cap.collector, Collector::Ec2rl | Collector::Eks)
            || cap
                .instance_id
                .as_deref()
                .is_some_and(|i| i.starts_with("i-"))
            || cap
                .hostname
                .as_deref()
                .is_some_and(|n| ec2_hostname(n, &host))
            || fix::netutils(&host),
    };
    let mut eps = eps;
    impact::assess(&host, &mut eps, class, platform);
    let mut pod_report = super::pods::pods(&host, class, platform);
    let pods = &pod_report.groups;
    let impact = impact::host_impact(&eps).max(pods.iter().filter_map(|p| p.impact).max());
    let ep_verdict = verdict;
    let verdict = match verdict {
        Verdict::Error => verdict,
        v => v.max(pods.iter().map(|p| p.verdict).max().unwrap_or(Verdict::Ok)),
    };
    if eps.iter().any(|e| !e.leaks.is_empty()) || pods.iter().any(|p| !p.leaks.is_empty()) {
        notes.push(if platform.ec2 {
            "EC2: the VPC's source/destination check is assumed on (its setting is not in the bundle): replies leaving an ENI with another ENI's address are dropped".into()
        } else {
            "platform not identified as a cloud instance (no ec2rl, EKS, instance id, EC2 hostname or ec2-net-utils): no network anti-spoofing check assumed; leaked replies are taken as delivered".into()
        });
    }
    let mut advice = fix::advise_in(&host, &eps, class, platform, &spaces, lookups);
    super::pods::plan_fix(&host, class, platform, &mut pod_report, &mut advice);
    notes.extend(pod_report.notes);
    let pods = pod_report.groups;
    let reason = super::pods::reason(
        reason(&eps, ep_verdict, &host, &cap.missing),
        ep_verdict,
        &pods,
    );
    HostReport {
        host: cap.id,
        hostname: cap.hostname,
        instance_id: cap.instance_id,
        collector: cap.collector,
        verdict,
        impact,
        incomplete,
        reason,
        endpoints: eps,
        pods,
        ec2rl,
        fix: advice.steps,
        fix_status: advice.status,
        fix_reason: advice.reason,
        fix_unverified: advice.unverified,
        files,
        notes,
        diagnostics,
    }
}

/// An EC2 instance's DHCP hostname: `ip-10-0-1-10.ec2.internal`,
/// `ip-172-31-16-10.us-west-2.compute.internal`, or the bare
/// `ip-10-0-1-10` naming one of the host's own addresses.
fn ec2_hostname(name: &str, host: &Host) -> bool {
    let (first, domain) = name.split_once('.').unwrap_or((name, ""));
    let Some(dashed) = first.strip_prefix("ip-") else {
        return false;
    };
    if domain == "ec2.internal" || domain.ends_with(".compute.internal") {
        return true;
    }
    dashed
        .replace('-', ".")
        .parse::<std::net::Ipv4Addr>()
        .is_ok_and(|a| host.is_local_addr(a.into()))
}

/// `a, b, c` and, past `max`, `+N more`.
fn bounded(items: &[&str], max: usize) -> String {
    let mut s = items[..items.len().min(max)].join(", ");
    if items.len() > max {
        s.push_str(&format!(" +{} more", items.len() - max));
    }
    s
}

/// `; +N more endpoints` when the row stands for more than the one shown.
fn more_endpoints(n: usize) -> String {
    match n {
        0 | 1 => String::new(),
        2 => "; +1 more endpoint".into(),
        n => format!("; +{} more endpoints", n - 1),
    }
}

/// The kernel's error for a dropped reply, as what dropped it.
fn plain_error(kernel: KernelError) -> &'static str {
    match kernel {
        KernelError::Access => "prohibit route",
        KernelError::HostUnreach => "unreachable route",
        KernelError::Inval => "blackhole",
        KernelError::NetUnreach => "no route",
        other => other.message(),
    }
}

/// `broken: …` for the worst range whose traffic is lost beyond the
/// verdict's own words: requests dropped by reverse-path filtering, or
/// replies the platform drops (a reply without a route is what `no-route`
/// already says).
fn broken_lead(eps: &[Endpoint], host: &Host) -> Option<String> {
    let mut best: Option<(Impact, u128, String)> = None;
    let mut consider = |impact: Impact, size: u128, text: String| {
        if best.as_ref().is_none_or(|b| (impact, size) > (b.0, b.1)) {
            best = Some((impact, size, text));
        }
    };
    let mut dropped = Default::default();
    for e in eps.iter().filter(|e| e.same_as.is_none()) {
        // The setting that dropped them, briefly (`dropped_by` has its key).
        let rp = || {
            let mode = host.sysctls.rp_filter(&e.interface).mode;
            format!("rp_filter={mode} on {}", e.interface)
        };
        let some = e
            .leaks
            .any_where(&mut dropped, |l| l.impact != Impact::Delivered);
        let leaks = if some {
            e.leaks.iter()
        } else {
            LeaksIter::of(&[])
        };
        for l in leaks {
            match l.impact {
                Impact::RequestDropped => consider(
                    l.impact,
                    l.size,
                    format!("broken: requests from {} dropped by {}", l.summary, rp()),
                ),
                Impact::ReplyDropped => consider(
                    l.impact,
                    l.size,
                    format!(
                        "broken: replies to {} dropped by the VPC ({}'s address leaves {})",
                        l.summary, e.interface, l.egress
                    ),
                ),
                Impact::Delivered => {}
            }
        }
        for n in &e.no_route {
            if n.impact == Impact::RequestDropped {
                consider(
                    n.impact,
                    0,
                    format!("broken: requests from {} dropped by {}", n.summary, rp()),
                );
            }
        }
    }
    best.map(|b| b.2)
}

fn reason(eps: &[Endpoint], verdict: Verdict, host: &Host, missing: &[Missing]) -> String {
    let plain = reason_plain(eps, verdict, host, missing);
    match broken_lead(eps, host) {
        Some(lead) if matches!(verdict, Verdict::Asymmetric | Verdict::NoRoute) => {
            format!("{lead}; {plain}")
        }
        _ => plain,
    }
}

fn reason_plain(eps: &[Endpoint], verdict: Verdict, host: &Host, missing: &[Missing]) -> String {
    match verdict {
        Verdict::Error => {
            if host.sources.is_empty() {
                "no ip addr / ip rule / ip route dump found".into()
            } else if !host.have_routes.iter().any(|x| *x) {
                let empty: Vec<&str> = host
                    .sources
                    .iter()
                    .filter(|s| s.kind == DumpKind::IpRoute && s.text.is_blank())
                    .map(|s| s.name.as_str())
                    .collect();
                let dumps: Vec<&str> = host
                    .sources
                    .iter()
                    .filter(|s| s.kind == DumpKind::IpRoute)
                    .map(|s| s.name.as_str())
                    .collect();
                if !empty.is_empty() {
                    format!("no routes: {} empty", empty.join(", "))
                } else if !dumps.is_empty() {
                    format!("no routes in {}", dumps.join(", "))
                } else {
                    let m: Vec<String> = missing
                        .iter()
                        .filter(|m| m.is_routes())
                        .map(|m| m.to_string())
                        .collect();
                    format!("no routes: {} not collected", m.join(", "))
                }
            } else {
                "no endpoint found (no global address on an up link)".into()
            }
        }
        Verdict::Ok => {
            let n = eps.iter().filter(|e| e.verdict.is_some()).count();
            format!("{n} endpoint(s) symmetric")
        }
        Verdict::Asymmetric => {
            let bad: Vec<&Endpoint> = eps
                .iter()
                .filter(|e| e.verdict == Some(Verdict::Asymmetric))
                .collect();
            // Lead with the endpoint whose biggest leak covers the most of
            // its family's space (all default-route traffic first).
            let share = |e: &Endpoint| {
                let top = super::space::top(e.family) as f64;
                e.leaks.first().map_or(0.0, |l| l.size as f64 / top)
            };
            // The first of the biggest (ties keep the report's order).
            let e = bad
                .iter()
                .copied()
                .reduce(|best, x| if share(x) > share(best) { x } else { best })
                .expect("an asymmetric endpoint");
            let mut scopes: Vec<&str> = Vec::new();
            let mut egress: Vec<&str> = Vec::new();
            // A concentrator's endpoint leaks to its 3,999 other links.
            let mut seen: super::FastSet<&str> = Default::default();
            for l in &e.leaks {
                let s = match l.scope {
                    super::Scope::SameSubnet => "same-subnet",
                    super::Scope::CrossSubnet => "cross-subnet",
                    super::Scope::OffLink => "off-link",
                };
                if !scopes.contains(&s) {
                    scopes.push(s);
                }
                if seen.insert(&l.egress) {
                    egress.push(&l.egress);
                }
            }
            // Asymmetric for some reply protocols only (ipproto rules).
            let protos = match &e.protocols {
                Some(p) if !p.iter().any(|x| x == "other") => format!(
                    " for {} replies",
                    p.iter()
                        .map(|x| x.to_uppercase())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                Some(_) => " for some protocols' replies".to_string(),
                None => String::new(),
            };
            format!(
                "{} on {} → {} ({}){protos}{}",
                e.address,
                e.interface,
                bounded(&egress, 3),
                scopes.join(", "),
                more_endpoints(bad.len())
            )
        }
        Verdict::NoRoute => {
            let bad: Vec<&Endpoint> = eps
                .iter()
                .filter(|e| e.verdict == Some(Verdict::NoRoute))
                .collect();
            let e = bad[0];
            let n = &e.no_route[0];
            format!(
                "{} on {}: {} to {}{}",
                e.address,
                e.interface,
                plain_error(n.error),
                n.destinations
                    .first()
                    .map_or_else(|| "?".into(), super::endpoint::cidr_text),
                more_endpoints(bad.len())
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_words() {
        assert_eq!(bounded(&["eth1", "eth2"], 3), "eth1, eth2");
        assert_eq!(bounded(&["a", "b", "c", "d", "e"], 3), "a, b, c +2 more");
        assert_eq!(more_endpoints(1), "");
        assert_eq!(more_endpoints(2), "; +1 more endpoint");
        assert_eq!(more_endpoints(5), "; +4 more endpoints");
        assert_eq!(plain_error(KernelError::Access), "prohibit route");
        assert_eq!(plain_error(KernelError::HostUnreach), "unreachable route");
        assert_eq!(plain_error(KernelError::Inval), "blackhole");
    }

    #[test]
    fn ec2_hostnames() {
        let host = Host::build(
            vec![crate::model::Input {
                name: "ip_addr.txt".into(),
                text: "2: eth0: <UP,LOWER_UP> mtu 9001\n    inet 10.0.1.10/24 scope global eth0\n"
                    .into(),
                kind: DumpKind::IpAddr,
                ctx: Default::default(),
                lines_before: 0,
            }],
            &HashMap::new(),
        );
        assert!(ec2_hostname("ip-10-0-1-10", &host));
        assert!(ec2_hostname(
            "ip-172-31-16-10.us-west-2.compute.internal",
            &host
        ));
        assert!(ec2_hostname("ip-10-9-9-9.ec2.internal", &host));
        assert!(!ec2_hostname("ip-10-9-9-9", &host));
        assert!(!ec2_hostname("web-1.example.com", &host));
        assert!(!ec2_hostname("ip-10-0-1-10x", &host));
    }

    #[test]
    fn a_panic_costs_one_host_not_the_fleet() {
        let mut cap = HostCapture::new("fleet.tar.gz/i-0abc".into(), Collector::Plain);
        cap.hostname = Some("web-1".into());
        cap.instance_id = Some("i-0abc".into());
        let r = guarded(cap, None, |_| panic!("index out of bounds: the len is 3"));
        assert_eq!(r.verdict, Verdict::Error);
        assert_eq!(r.host, "fleet.tar.gz/i-0abc");
        assert_eq!(r.instance_id.as_deref(), Some("i-0abc"));
        assert_eq!(
            r.reason,
            "internal error: index out of bounds: the len is 3"
        );
        assert_eq!(r.diagnostics.len(), 1);
        assert!(r.is_incomplete());
        let r = guarded(HostCapture::new("h".into(), Collector::Plain), None, |c| {
            let n = c.id.len();
            panic!("formatted {n}")
        });
        assert_eq!(r.reason, "internal error: formatted 1");
    }
}
