//! Kernel test of the pod verdicts (issue 12): VPC CNI nodes, each built in
//! its own network namespace (`aro-kd-<pid>-<n>`, its ENIs and pod veths
//! paired into a peer namespace; both removed by a guard), with 2–3 ENIs in
//! one subnet or in several, pods on each ENI (`POD dev eni… scope link`,
//! `from all to POD lookup main` at 512, `from POD lookup N` at 1536 for a
//! secondary ENI's pods, table N with `GW dev ethN scope link` and
//! `default via GW dev ethN`), and the faults seen in the field drawn at
//! random: a pod's `from` rule missing or naming another ENI's table, a
//! table without its default, a `to POD` rule missing, main keeping a
//! secondary ENI's connected route, the connmark rule at 1024, rp_filter
//! on ENIs and veths, forwarding off on a veth. Dumps, `sysctl -a` and
//! `uname -r` are captured into a plain host folder and the model built
//! from it.
//!
//! For every pod P on veth V, bound to uplink U, and destinations D from
//! its group's reported ranges (first, middle and last address of each
//! block) and a fixed list (public addresses, each subnet's gateway and
//! hosts, other subnets): the kernel's `ip -j route get D from P iif V`
//! (no traffic is sent) must equal the offline `Host::lookup` of that
//! flow, and the pod's group must say what the kernel did: a reply out by
//! U is in no range, one out by another link is in a leak by that link, an
//! error is in a no-route range with that error. Then the request, `ip -j
//! route get P from D iif U`, must be refused exactly where the group puts
//! D in a `request-dropped` range (martians both sides refuse aside).
//!
//! Disagreeing hosts are saved under `target/tmp/kernel-pods/failed/` (all
//! hosts with `ASYMROUTE_KERNEL_PODS_SAVE=DIR`) as `tests/kernel-cases/`
//! folders (`cases.json` for `kernel_cases.rs`, `pods.json` replayed below
//! without root). `ASYMROUTE_KERNEL_PODS=large` builds 60 hosts instead of
//! 16; `ASYMROUTE_KERNEL_PODS_SEED=N` changes the draw.

#[path = "support/kernel.rs"]
mod kernel;
#[path = "support/rng.rs"]
mod rng;

use asymroute_offline::capture::{self, Limits};
use asymroute_offline::model::Host;
use asymroute_offline::verdict::pods::{self, PodGroup};
use asymroute_offline::verdict::{Impact, LinkClass, fix, host, impact};
use ipnet::IpNet;
use kernel::{Answer, FlowSpec, Ns};
use rng::Rng;
use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

#[derive(Debug, Default)]
struct Counts {
    /// Hosts whose report's fix touched pods, applied in the namespace.
    fixed_hosts: usize,
    /// Pod replies that leaked or were refused before the fix and leave by
    /// their uplink after it, in the kernel.
    fixed_replies: usize,
    /// Reply probes asked again after the fix.
    after_probes: usize,
    hosts: usize,
    pods: usize,
    replies: usize,
    leaked: usize,
    no_route: usize,
    requests: usize,
    dropped: usize,
    martian: usize,
    bad: Vec<String>,
}

/// A host drawn at random: the `ip` commands, sysctls, and its pods.
struct Script {
    links: Vec<String>,
    cmds: Vec<String>,
    before: Vec<String>,
    after: Vec<String>,
    /// (pod address, veth).
    pods: Vec<(Ipv4Addr, String)>,
}

fn draw(r: &mut Rng) -> Script {
    let enis = if r.chance(0.4) { 3 } else { 2 };
    let same_subnet = r.chance(0.4);
    let subnet = |k: usize| if same_subnet { 1 } else { k as u8 + 1 };
    let gw = |k: usize| Ipv4Addr::new(10, 1, subnet(k), 1);
    let mut links: Vec<String> = (0..enis).map(|k| format!("eth{k}")).collect();
    let mut cmds = Vec::new();
    for k in 0..enis {
        cmds.push(format!(
            "addr add 10.1.{}.{}/24 dev eth{k}",
            subnet(k),
            10 * (k + 1)
        ));
    }
    cmds.push(format!("route add default via {} dev eth0", gw(0)));
    for k in 1..enis {
        // The VPC CNI deletes the connected route a secondary ENI adds to
        // main; keep it sometimes.
        if r.chance(0.6) {
            cmds.push(format!("route del 10.1.{}.0/24 dev eth{k}", subnet(k)));
        }
        let t = k + 1;
        cmds.push(format!(
            "route add {} dev eth{k} scope link table {t}",
            gw(k)
        ));
        if r.chance(0.85) {
            cmds.push(format!(
                "route add default via {} dev eth{k} table {t}",
                gw(k)
            ));
        }
    }
    if r.chance(0.7) {
        cmds.push("rule add fwmark 0x80/0x80 lookup main pref 1024".into());
    }
    let n = r.range(3, 9) as usize;
    let mut pods = Vec::new();
    for i in 0..n {
        let k = r.below(enis as u64) as usize;
        let p = Ipv4Addr::new(10, 1, subnet(k), 50 + i as u8);
        let veth = format!("eni{:07x}", r.below(1 << 28));
        links.push(veth.clone());
        cmds.push(format!("route add {p} dev {veth} scope link"));
        if r.chance(0.9) {
            cmds.push(format!("rule add from all to {p} lookup main pref 512"));
        }
        if k > 0 {
            let t = if r.chance(0.05) {
                r.below(enis as u64) as usize + 1
            } else {
                k + 1
            };
            if r.chance(0.85) {
                cmds.push(format!("rule add from {p} lookup {t} pref 1536"));
            }
        }
        pods.push((p, veth));
    }
    let w = |k: &str, name: &str, v: u8| format!("sysctl -q -w net.ipv4.conf.{k}.{name}={v}");
    let mut before = vec![
        "sysctl -q -w net.ipv6.conf.all.disable_ipv6=1".to_string(),
        "sysctl -q -w net.ipv6.conf.default.disable_ipv6=1".to_string(),
        "sysctl -q -w net.ipv4.ip_forward=1".to_string(),
        w("all", "rp_filter", *r.pick(&[0u8, 0, 1, 2])),
        w("default", "rp_filter", *r.pick(&[0u8, 1, 2])),
    ];
    if r.chance(0.2) {
        before.push(w("all", "send_redirects", 0));
        before.push(w("default", "send_redirects", 0));
    }
    let mut after = Vec::new();
    for l in &links {
        if r.chance(0.3) {
            after.push(w(l, "rp_filter", *r.pick(&[0u8, 1, 2])));
        }
        if l.starts_with("eni") && r.chance(0.08) {
            after.push(w(l, "forwarding", 0));
        }
    }
    Script {
        links,
        cmds,
        before,
        after,
        pods,
    }
}

fn never_peer(a: Ipv4Addr) -> bool {
    let o = a.octets();
    o[0] == 0 || o[0] == 127 || (o[0] == 169 && o[1] == 254) || o[0] >= 224
}

fn inside(list: &[String], d: IpAddr) -> bool {
    list.iter()
        .filter_map(|c| c.parse::<IpNet>().ok())
        .any(|n| n.contains(&d))
}

fn group_of(groups: &[PodGroup], p: IpAddr) -> Option<&PodGroup> {
    groups.iter().find(|g| inside(&g.addresses, p))
}

const FIXED: &[&str] = &[
    "8.8.8.8",
    "1.1.1.1",
    "10.1.1.1",
    "10.1.1.200",
    "10.1.2.1",
    "10.1.2.200",
    "10.1.3.1",
    "10.1.3.200",
    "10.1.4.9",
    "10.2.0.5",
    "172.16.0.1",
    "192.168.1.1",
];

/// The reply and request flows asked for each pod.
fn plan(host: &Host, groups: &[PodGroup], pods: &[(Ipv4Addr, String)]) -> Vec<FlowSpec> {
    let pod_addrs: BTreeSet<Ipv4Addr> = pods.iter().map(|p| p.0).collect();
    let mut out = Vec::new();
    for (p, veth) in pods {
        let Some(g) = group_of(groups, IpAddr::V4(*p)) else {
            continue;
        };
        let mut dsts: Vec<Ipv4Addr> = FIXED.iter().map(|s| s.parse().unwrap()).collect();
        for list in g
            .leaks
            .iter()
            .map(|l| &l.destinations)
            .chain(g.no_route.iter().map(|n| &n.destinations))
        {
            for c in list.iter().take(16) {
                if let IpNet::V4(n) = *c {
                    let (lo, hi) = (u32::from(n.network()), u32::from(n.broadcast()));
                    for x in [lo, lo + (hi - lo) / 2, hi] {
                        dsts.push(Ipv4Addr::from(x));
                    }
                }
            }
        }
        let mut seen = BTreeSet::new();
        for d in dsts {
            if never_peer(d)
                || host.is_local_addr(d.into())
                || pod_addrs.contains(&d)
                || !seen.insert(d)
            {
                continue;
            }
            let mut reply = FlowSpec::to(IpAddr::V4(d));
            reply.src = Some(IpAddr::V4(*p));
            reply.iif = Some(veth.clone());
            out.push(reply);
            let mut request = FlowSpec::to(IpAddr::V4(*p));
            request.src = Some(IpAddr::V4(d));
            request.iif = Some(g.uplink.clone());
            out.push(request);
        }
    }
    out
}

/// Judges one probe against the model and the pod's group.
fn judge(
    host: &Host,
    groups: &[PodGroup],
    f: &FlowSpec,
    k: &Answer,
    counts: &mut Counts,
) -> Result<(), String> {
    let l = host.lookup(&f.flow());
    if kernel::undecidable(host, f, &l).is_none() {
        kernel::compare(f, &l, k).map_err(|e| format!("lookup: {e}"))?;
    }
    let class = LinkClass::default();
    let iif = f.iif.as_deref().unwrap_or("");
    let (pod, peer, reply) = if class.is_internal(iif) {
        (f.src.expect("a source"), f.dst, true)
    } else {
        (f.dst, f.src.expect("a source"), false)
    };
    let g = group_of(groups, pod).ok_or("no group holds the pod")?;
    let leak = g
        .leaks
        .iter()
        .find(|x| x.destinations.iter().any(|n| n.contains(&peer)));
    let nr = g
        .no_route
        .iter()
        .find(|x| x.destinations.iter().any(|n| n.contains(&peer)));
    let ranges = || {
        format!(
            "group {} of {}: leaks {:?}, no-route {:?}",
            g.addresses.join(","),
            g.uplink,
            g.leaks
                .iter()
                .map(|l| format!("{} → {} {}", l.summary, l.egress, l.impact.as_str()))
                .collect::<Vec<_>>(),
            g.no_route
                .iter()
                .map(|n| format!("{} {} {}", n.summary, n.error, n.impact.as_str()))
                .collect::<Vec<_>>()
        )
    };
    if reply {
        counts.replies += 1;
        match (&k.error, k.kind.as_deref(), k.dev.as_deref()) {
            (Some(e), _, _) => {
                counts.no_route += 1;
                match nr {
                    Some(n) if n.error.message() == e => Ok(()),
                    _ => Err(format!(
                        "verdict: kernel `{e}`, not in such a no-route range; {}",
                        ranges()
                    )),
                }
            }
            (None, Some(t), _) if t != "unicast" => Ok(()),
            (None, _, Some(dev)) if class.is_internal(dev) => Ok(()),
            (None, _, Some(dev)) if dev == g.uplink => match (leak, nr) {
                (None, None) => Ok(()),
                _ => Err(format!(
                    "verdict: kernel leaves by the uplink {dev}, reported otherwise; {}",
                    ranges()
                )),
            },
            (None, _, Some(dev)) => {
                counts.leaked += 1;
                match leak {
                    Some(x) if x.egress == dev || x.legs.iter().any(|g| g.dev == dev) => Ok(()),
                    _ => Err(format!(
                        "verdict: kernel leaks by {dev}, not reported; {}",
                        ranges()
                    )),
                }
            }
            _ => Err("kernel answer without device".into()),
        }
    } else {
        counts.requests += 1;
        let veth_forwards = host.sysctls.forwarding(&g.veth).is_none_or(|x| x.0);
        if !veth_forwards {
            return Ok(());
        }
        let expected = leak.is_some_and(|x| x.impact == Impact::RequestDropped)
            || nr.is_some_and(|x| x.impact == Impact::RequestDropped);
        let dropped = k.error.is_some();
        if dropped && !expected && l.result.is_err() && l.source_check.is_none() {
            counts.martian += 1;
            return Ok(());
        }
        counts.dropped += usize::from(dropped);
        if dropped != expected {
            return Err(format!(
                "impact: kernel {}, report {}; {}",
                k.error.as_deref().unwrap_or("accepts"),
                if expected {
                    "request-dropped"
                } else {
                    "not dropped"
                },
                ranges()
            ));
        }
        Ok(())
    }
}

fn analysed(host: &Host) -> Vec<PodGroup> {
    pods::pods(host, &LinkClass::default(), impact::Platform::default()).groups
}

fn run_host(
    n: usize,
    r: &mut Rng,
    dir: &Path,
    failed: &Path,
    counts: &mut Counts,
) -> Result<(), String> {
    let s = draw(r);
    let ns = Ns::create(n)?;
    let mut script = s.before.clone();
    script.push("ip link set lo up".into());
    for (i, l) in s.links.iter().enumerate() {
        script.push(format!(
            "ip link add {l} type veth peer name p{i} netns {}",
            ns.peer
        ));
        script.push(format!("ip link set {l} up"));
        script.push(format!("ip -n {} link set p{i} up", ns.peer));
    }
    script.extend(s.after.iter().cloned());
    script.extend(s.cmds.iter().map(|c| format!("ip {c}")));
    kernel::set_up_and_capture(&ns, &script, dir)?;
    let host = kernel::load_host(dir);
    let groups = analysed(&host);
    counts.hosts += 1;
    counts.pods += s.pods.len();
    let flows = plan(&host, &groups, &s.pods);
    let lines: Vec<String> = flows.iter().map(FlowSpec::command).collect();
    let answers = ns.batch(false, &["-j"], &lines)?;
    let mut cases = Vec::new();
    let mut bad = false;
    for (f, res) in flows.iter().zip(&answers) {
        let k = Answer::from_batch(res);
        let note = match judge(&host, &groups, f, &k, counts) {
            Ok(()) => None,
            Err(e) => {
                bad = true;
                counts
                    .bad
                    .push(format!("host {n}: ip {}: {e}", f.command()));
                Some(e)
            }
        };
        cases.push(kernel::Case {
            flow: f.clone(),
            kernel: k,
            note,
        });
    }
    // The report's fix, as a support engineer would run it, then the
    // replies asked again: the kernel must answer as the model with the
    // fix applied, whose pod verdicts `plan_fix` checked.
    let mut caps = Vec::new();
    capture::scan(dir, Limits::default(), |c| caps.push(c)).map_err(|e| e.to_string())?;
    let report = host::analyse(caps.remove(0), &LinkClass::default());
    let pod_steps = report.fix.iter().any(|f| {
        f.notes
            .iter()
            .any(|n| n.contains("pod(s) get the VPC CNI's layout back"))
    });
    if pod_steps {
        counts.fixed_hosts += 1;
        let lines: Vec<String> = report
            .fix
            .iter()
            .flat_map(|f| &f.commands)
            .map(|c| c.strip_prefix("ip ").unwrap_or(c).to_string())
            .collect();
        for (l, res) in lines.iter().zip(ns.batch(false, &[], &lines)?) {
            if let kernel::BatchResult::Err(e) = res {
                bad = true;
                counts
                    .bad
                    .push(format!("host {n}: fix: ip {l}: refused: {e}"));
            }
        }
        let ops: Vec<fix::Op> = report.fix.iter().flat_map(|f| f.ops.clone()).collect();
        let after = fix::apply(&host, &ops).map_err(|e| format!("fix on the model: {e}"))?;
        let after_groups = analysed(&after);
        let replies: Vec<&FlowSpec> = flows
            .iter()
            .filter(|f| f.iif.as_deref().is_some_and(|i| i.starts_with("eni")))
            .collect();
        let lines: Vec<String> = replies.iter().map(|f| f.command()).collect();
        let again = ns.batch(false, &["-j"], &lines)?;
        for ((f, res), before) in replies.iter().zip(&again).zip(
            flows
                .iter()
                .zip(&answers)
                .filter(|(f, _)| f.iif.as_deref().is_some_and(|i| i.starts_with("eni")))
                .map(|(_, r)| Answer::from_batch(r)),
        ) {
            let k = Answer::from_batch(res);
            counts.after_probes += 1;
            let mut c = Counts::default();
            if let Err(e) = judge(&after, &after_groups, f, &k, &mut c) {
                bad = true;
                counts
                    .bad
                    .push(format!("host {n}: after the fix: ip {}: {e}", f.command()));
            }
            let up = group_of(&after_groups, f.src.unwrap()).map(|g| g.uplink.as_str());
            if (before.error.is_some() || before.dev.as_deref() != up)
                && k.error.is_none()
                && k.dev.as_deref() == up
            {
                counts.fixed_replies += 1;
            }
        }
    }
    if let Some(to) = kernel::keep_dir("ASYMROUTE_KERNEL_PODS_SAVE", bad, failed) {
        kernel::save_case(
            dir,
            &to.join(format!("pods-vpc-cni-{n}")),
            &format!("kernel_pods host {n}"),
            &script,
            "pods.json",
            "Pod probes of a VPC CNI node: replies (ip route get D from POD iif VETH) and requests (ip route get POD from D iif UPLINK), the kernel's answers, and whether the pod verdicts agreed (note)",
            &cases,
        );
    }
    Ok(())
}

#[test]
fn pod_verdicts_agree_with_the_kernel() {
    if let Some(why) = kernel::skip_reason() {
        eprintln!("skipped: {why}");
        return;
    }
    kernel::sweep_stale();
    let large = std::env::var("ASYMROUTE_KERNEL_PODS").as_deref() == Ok("large");
    let seed: u64 = std::env::var("ASYMROUTE_KERNEL_PODS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x0001_20d5);
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let run = tmp.join(format!("kernel-pods/run-{}", std::process::id()));
    let failed = tmp.join("kernel-pods/failed");
    let mut r = Rng(seed);
    let mut counts = Counts::default();
    for n in 0..if large { 60 } else { 16 } {
        let dir = run.join(format!("host-{n}"));
        if let Err(e) = run_host(n, &mut r, &dir, &failed, &mut counts) {
            panic!("host {n}: {e}");
        }
    }
    let _ = std::fs::remove_dir_all(&run);
    eprintln!(
        "kernel_pods: {} hosts, {} pods, {} reply probes ({} leaked, {} refused), {} request probes ({} dropped by the kernel, {} martians); fix applied on {} hosts, {} replies asked again, {} of them repaired; {} disagreements",
        counts.hosts,
        counts.pods,
        counts.replies,
        counts.leaked,
        counts.no_route,
        counts.requests,
        counts.dropped,
        counts.martian,
        counts.fixed_hosts,
        counts.after_probes,
        counts.fixed_replies,
        counts.bad.len()
    );
    assert!(counts.replies > 300, "too few probes: {counts:?}");
    assert!(
        counts.fixed_replies > 20,
        "too few repaired replies: {counts:?}"
    );
    assert!(
        counts.leaked > 20,
        "too few leaks to mean anything: {counts:?}"
    );
    assert!(
        counts.bad.is_empty(),
        "{} disagreement(s) with the kernel (hosts saved under {}):\n{}",
        counts.bad.len(),
        failed.display(),
        counts
            .bad
            .iter()
            .take(40)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// Recorded pod probes (`tests/kernel-cases/*/pods.json`), replayed without
/// root.
#[test]
fn recorded_pods_replay() {
    let mut counts = Counts::default();
    let (hosts, _, bad) = kernel::replay_cases("pods.json", analysed, |host, groups, c| {
        judge(host, groups, &c.flow, &c.kernel, &mut counts)
    });
    eprintln!(
        "kernel_pods replay: {hosts} hosts, {} replies, {} requests",
        counts.replies, counts.requests
    );
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}
