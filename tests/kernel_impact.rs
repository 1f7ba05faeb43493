//! Kernel test of the impact verdicts (issue 13's proof): does reverse-path
//! filtering drop a request exactly where the report says `request-dropped`?
//!
//! Hosts of the verdict tests' shapes (two links in one subnet; different
//! subnets; amazon-ec2-net-utils tables complete and broken; wg-quick;
//! docker links; VPC CNI pods with their `to POD` / `from POD` rules and
//! `eni…` veths; a fwmark rule; a multipath default; unreachable, blackhole
//! and prohibit routes; no default route) are built each in its own network
//! namespace (`aro-kd-<pid>-<n>`, the far ends of its veth links in a peer
//! namespace; both removed by a guard, even on panic), under every pair of
//! `net.ipv4.conf.all.rp_filter` and `net.ipv4.conf.default.rp_filter` in
//! {0, 1, 2} (set before the links exist, so `default` seeds them), with
//! some links given their own value, and `accept_local`, `src_valid_mark`
//! and `send_redirects` varied. Their dumps, `sysctl -a` (the
//! `net.ipv4.conf` keys) and `uname -r` are captured into a plain host
//! folder and the model is built from it as the scan builds it.
//!
//! For every IPv4 endpoint A on link I, peers P are drawn from every
//! reported leak and no-route range (first, middle and last address of each
//! CIDR block) and from a fixed list (public addresses, every connected
//! prefix, the routes' prefixes, gateways, pods), kept when they are A's
//! peers (not the host's own, not a never-peer, not another container
//! link's, not an address whose reply goes straight into a container link:
//! a pod's, which the verdicts do not count as this endpoint's peer). The kernel's `ip -j route get A from P iif I` (no traffic is
//! sent) must equal the offline `Host::lookup` of the same flow (error text,
//! type, device), and it must fail exactly when the report puts P in a
//! range whose impact is `request-dropped` — except where both the kernel
//! and the model refuse P as a martian (a broadcast address of a subnet;
//! not reverse-path filtering). Flows with a mark (the fwmark hosts) are
//! compared as lookups only: verdicts assume mark 0.
//!
//! Disagreeing hosts are written under `target/tmp/kernel-impact/failed/`
//! (every host, with `ASYMROUTE_KERNEL_IMPACT_SAVE=DIR`, under DIR)
//! in the layout of `tests/kernel-cases/` (dumps, `setup.txt`, `cases.json`
//! for `kernel_cases.rs`, `impacts.json` for the replay below); copied
//! there, they are replayed without root by `recorded_impacts_replay`.
//!
//! Size: the default run builds 3 (all, default) pairs per shape (~35
//! hosts, ~10 s); `ASYMROUTE_KERNEL_IMPACT=large` every pair (~100 hosts);
//! `ASYMROUTE_KERNEL_IMPACT_SEED=N` changes the draw. Without root, `ip` or
//! network namespaces the live test prints `skipped: …` and passes.

#[path = "support/kernel.rs"]
mod kernel;
#[path = "support/rng.rs"]
mod rng;

use asymroute_offline::model::Host;
use asymroute_offline::verdict::{self, Endpoint, Impact, LinkClass, impact};
use ipnet::{IpNet, Ipv4Net};
use kernel::{Answer, FlowSpec, Ns};
use rng::Rng;
use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

/// A host shape: its uplinks (veths to the peer namespace) and the `ip`
/// commands that configure it.
struct Shape {
    name: &'static str,
    links: &'static [&'static str],
    setup: &'static [&'static str],
    /// Probe also with this mark (a fwmark rule's).
    mark: Option<u32>,
}

const SHAPES: &[Shape] = &[
    Shape {
        name: "samesub",
        links: &["eth0", "eth1"],
        setup: &[
            "addr add 10.1.0.10/24 dev eth0",
            "addr add 10.1.0.20/24 dev eth1",
            "route add default via 10.1.0.1 dev eth0",
            "route add default via 10.1.0.1 dev eth1 metric 101",
        ],
        mark: None,
    },
    Shape {
        name: "diffsub",
        links: &["eth0", "eth1"],
        setup: &[
            "addr add 10.1.1.10/24 dev eth0",
            "addr add 10.1.2.20/24 dev eth1",
            "route add default via 10.1.1.1 dev eth0",
        ],
        mark: None,
    },
    Shape {
        name: "netutils-ok",
        links: &["eth0", "eth1"],
        setup: &[
            "addr add 10.1.1.10/24 dev eth0",
            "addr add 10.1.2.20/24 dev eth1",
            "route add default via 10.1.1.1 dev eth0",
            "route add default via 10.1.1.1 dev eth0 table 10001",
            "route add 10.1.1.0/24 dev eth0 table 10001",
            "rule add from 10.1.1.10 lookup 10001 pref 10001",
            "route add default via 10.1.2.1 dev eth1 table 10002",
            "route add 10.1.2.0/24 dev eth1 table 10002",
            "rule add from 10.1.2.20 lookup 10002 pref 10002",
        ],
        mark: None,
    },
    Shape {
        name: "netutils-broken",
        links: &["eth0", "eth1"],
        setup: &[
            "addr add 10.1.1.10/24 dev eth0",
            "addr add 10.1.2.20/24 dev eth1",
            "route add default via 10.1.1.1 dev eth0",
            "route add default via 10.1.1.1 dev eth0 table 10001",
            "route add 10.1.1.0/24 dev eth0 table 10001",
            "rule add from 10.1.1.10 lookup 10001 pref 10001",
            "route add 10.1.2.0/24 dev eth1 table 10002",
            "rule add from 10.1.2.20 lookup 10002 pref 10002",
        ],
        mark: None,
    },
    Shape {
        name: "wg-quick",
        links: &["eth0", "eth1", "wg0"],
        setup: &[
            "addr add 10.1.1.10/24 dev eth0",
            "addr add 10.1.2.20/24 dev eth1",
            "addr add 10.9.0.2/32 dev wg0",
            "route add default via 10.1.1.1 dev eth0",
            "route add default dev wg0 table 51820",
            "rule add not fwmark 0xca6c lookup 51820 pref 32765",
            "rule add lookup main suppress_prefixlength 0 pref 32764",
        ],
        mark: Some(0xca6c),
    },
    Shape {
        name: "docker",
        links: &["eth0", "eth1", "docker0", "br-5f2a"],
        setup: &[
            "addr add 10.1.1.10/24 dev eth0",
            "addr add 10.1.2.20/24 dev eth1",
            "addr add 172.17.0.1/16 dev docker0",
            "addr add 172.18.0.1/16 dev br-5f2a",
            "route add default via 10.1.1.1 dev eth0",
        ],
        mark: None,
    },
    Shape {
        name: "vpc-cni",
        links: &["eth0", "eth1", "eni1a2b3c", "eni4d5e6f"],
        setup: &[
            "addr add 10.1.1.10/24 dev eth0",
            "addr add 10.1.1.20/24 dev eth1",
            "route add default via 10.1.1.1 dev eth0",
            "route add 10.1.1.50 dev eni1a2b3c scope link",
            "route add 10.1.1.60 dev eni4d5e6f scope link",
            "rule add from all to 10.1.1.50 lookup main pref 512",
            "rule add from all to 10.1.1.60 lookup main pref 512",
            "rule add from 10.1.1.60 lookup 2 pref 1536",
            "route add 10.1.1.1 dev eth1 scope link table 2",
            "route add default via 10.1.1.1 dev eth1 table 2",
        ],
        mark: None,
    },
    Shape {
        name: "fwmark",
        links: &["eth0", "eth1"],
        setup: &[
            "addr add 10.1.1.10/24 dev eth0",
            "addr add 10.1.2.20/24 dev eth1",
            "route add default via 10.1.1.1 dev eth0",
            "rule add fwmark 0x1 lookup 100 pref 100",
            "route add default via 10.1.2.1 dev eth1 table 100",
        ],
        mark: Some(1),
    },
    Shape {
        name: "multipath",
        links: &["eth0", "eth1", "eth2"],
        setup: &[
            "addr add 10.1.1.10/24 dev eth0",
            "addr add 10.1.2.20/24 dev eth1",
            "addr add 10.1.3.30/24 dev eth2",
            "route add default nexthop via 10.1.1.1 dev eth0 nexthop via 10.1.2.1 dev eth1",
        ],
        mark: None,
    },
    Shape {
        name: "route-types",
        links: &["eth0", "eth1"],
        setup: &[
            "addr add 10.1.1.10/24 dev eth0",
            "addr add 10.1.2.20/24 dev eth1",
            "route add default via 10.1.1.1 dev eth0",
            "route add unreachable 198.51.100.0/24",
            "route add blackhole 203.0.113.0/24",
            "route add prohibit 192.0.2.0/24",
            "route add 100.64.0.0/10 via 10.1.2.1 dev eth1",
        ],
        mark: None,
    },
    Shape {
        name: "no-default",
        links: &["eth0", "eth1"],
        setup: &[
            "addr add 10.1.1.10/24 dev eth0",
            "addr add 10.1.2.20/24 dev eth1",
            "route add 10.200.0.0/16 via 10.1.1.1 dev eth0",
        ],
        mark: None,
    },
];

/// Peers every endpoint is asked about, beside its reported ranges.
const FIXED_PEERS: &[&str] = &[
    "8.8.8.8",
    "1.1.1.1",
    "198.51.100.7",
    "203.0.113.9",
    "192.0.2.33",
    "100.64.1.1",
    "10.200.3.4",
    "10.1.0.5",
    "10.1.1.1",
    "10.1.1.5",
    "10.1.1.50",
    "10.1.1.60",
    "10.1.1.200",
    "10.1.2.1",
    "10.1.2.5",
    "10.1.3.5",
    "10.9.0.9",
    "172.17.0.5",
    "172.18.0.5",
];

#[derive(Default, Debug)]
struct Counts {
    hosts: usize,
    probes: usize,
    dropped: usize,
    martian: usize,
    lookups_bad: Vec<String>,
    impact_bad: Vec<String>,
}

fn never_peer(a: Ipv4Addr) -> bool {
    let o = a.octets();
    o[0] == 0 || o[0] == 127 || (o[0] == 169 && o[1] == 254) || o[0] >= 224
}

/// The endpoint's analysed view (a `same_as` endpoint with its twin's
/// ranges).
fn assessed(host: &Host) -> Vec<Endpoint> {
    let class = LinkClass::default();
    let mut eps = verdict::endpoints(host, &class);
    impact::assess(host, &mut eps, &class, impact::Platform::default());
    verdict::expanded(&eps)
}

/// Whether the report says requests from `p` to `ep` are dropped.
fn reported_dropped(ep: &Endpoint, p: IpAddr) -> bool {
    let inside = |list: &[IpNet]| list.iter().any(|n| n.contains(&p));
    ep.leaks
        .iter()
        .any(|l| l.impact == Impact::RequestDropped && inside(&l.destinations))
        || ep
            .no_route
            .iter()
            .any(|n| n.impact == Impact::RequestDropped && inside(&n.destinations))
}

/// Whether `p` is one of `ep`'s peers: not the host's own, not a
/// never-peer, and inside its own prefixes when `ep` is a container link's
/// (else outside every other container link's).
fn is_peer(host: &Host, ep: &Endpoint, p: Ipv4Addr) -> bool {
    let class = LinkClass::default();
    if never_peer(p) || host.is_local_addr(p.into()) {
        return false;
    }
    let conn = |internal: bool| {
        host.addrs
            .iter()
            .filter(|a| a.addr.family == asymroute_offline::grammar::Family::Inet)
            .filter(|a| class.is_internal(&a.link) == internal)
            .filter_map(|a| {
                Ipv4Net::new(a.addr.local.to_string().parse().ok()?, a.addr.prefixlen)
                    .ok()
                    .map(|n| (a.link.clone(), n.trunc()))
            })
            .collect::<Vec<_>>()
    };
    // A reply sent straight into a container link (a pod's /32 to its
    // `eni…` veth) is delivered on the host: the address is that link's
    // peer, not this endpoint's (the verdicts' peer space).
    if !ep.internal {
        let flow = asymroute_offline::model::Flow::to(p.into()).from(ep.address);
        if let Ok(h) = host.lookup(&flow).result
            && h.gateway.is_none()
            && h.dev != ep.interface
            && class.is_internal(&h.dev)
        {
            return false;
        }
    }
    if ep.internal {
        return conn(true)
            .iter()
            .any(|(l, n)| *l == ep.interface && n.contains(&p));
    }
    !conn(true)
        .iter()
        .any(|(l, n)| *l != ep.interface && n.contains(&p))
}

/// The inbound flows asked for one host.
fn plan(host: &Host, eps: &[Endpoint], mark: Option<u32>) -> Vec<FlowSpec> {
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for ep in eps.iter().filter(|e| e.verdict.is_some()) {
        let IpAddr::V4(a) = ep.address else { continue };
        let mut peers: Vec<Ipv4Addr> = FIXED_PEERS.iter().map(|p| p.parse().unwrap()).collect();
        let ranges = ep
            .leaks
            .iter()
            .map(|l| &l.destinations)
            .chain(ep.no_route.iter().map(|n| &n.destinations));
        for list in ranges {
            for c in list.iter().take(16) {
                if let IpNet::V4(n) = *c {
                    let (lo, hi) = (u32::from(n.network()), u32::from(n.broadcast()));
                    for x in [lo, lo + (hi - lo) / 2, hi] {
                        peers.push(Ipv4Addr::from(x));
                    }
                }
            }
        }
        for p in peers {
            if !is_peer(host, ep, p) || !seen.insert((a, p, ep.interface.clone())) {
                continue;
            }
            let mut f = FlowSpec::to(IpAddr::V4(a));
            f.src = Some(IpAddr::V4(p));
            f.iif = Some(ep.interface.clone());
            out.push(f.clone());
            if let Some(m) = mark {
                f.mark = Some(m);
                out.push(f);
            }
        }
    }
    out
}

/// Judges one probe: `Ok(true)` when the kernel dropped it, `Ok(false)`
/// when not, `Err` with what disagrees. `martian` counts refusals both
/// sides make that are not reverse-path filtering.
fn judge(
    host: &Host,
    eps: &[Endpoint],
    f: &FlowSpec,
    k: &Answer,
    counts: &mut Counts,
) -> Result<bool, String> {
    let l = host.lookup(&f.flow());
    if kernel::undecidable(host, f, &l).is_none() {
        kernel::compare(f, &l, k).map_err(|e| format!("lookup: {e}"))?;
    }
    if f.mark.is_some() {
        return Ok(k.error.is_some());
    }
    let ep = eps
        .iter()
        .find(|e| e.address == f.dst && Some(&e.interface) == f.iif.as_ref())
        .ok_or("no such endpoint")?;
    let p = f.src.expect("a source");
    let expected = reported_dropped(ep, p);
    let dropped = k.error.is_some();
    if dropped && !expected && l.result.is_err() && l.source_check.is_none() {
        counts.martian += 1;
        return Ok(true);
    }
    if dropped != expected {
        return Err(format!(
            "impact: kernel {}, report {} (endpoint {} on {}: leaks {:?}, no-route {:?})",
            k.error.as_deref().unwrap_or("accepts"),
            if expected {
                "request-dropped"
            } else {
                "not dropped"
            },
            ep.address,
            ep.interface,
            ep.leaks
                .iter()
                .map(|l| format!("{} → {} {}", l.summary, l.egress, l.impact.as_str()))
                .collect::<Vec<_>>(),
            ep.no_route
                .iter()
                .map(|n| format!("{} {}", n.summary, n.impact.as_str()))
                .collect::<Vec<_>>(),
        ));
    }
    Ok(dropped)
}

fn link_script(shape: &Shape, peer: &str) -> Vec<String> {
    let mut s = vec!["ip link set lo up".to_string()];
    for (i, l) in shape.links.iter().enumerate() {
        s.push(format!(
            "ip link add {l} type veth peer name p{i} netns {peer}"
        ));
        s.push(format!("ip link set {l} up"));
        s.push(format!("ip -n {peer} link set p{i} up"));
    }
    s
}

/// The sysctl commands of one host: `all` and `default` first (devices
/// created after take `default`), then what the links get of their own.
fn sysctls(shape: &Shape, all: u8, dflt: u8, r: &mut Rng) -> (Vec<String>, Vec<String>) {
    let w = |k: &str, v: u8| format!("sysctl -q -w net.ipv4.conf.{k}={v}");
    let mut before = vec![
        "sysctl -q -w net.ipv6.conf.all.disable_ipv6=1".to_string(),
        "sysctl -q -w net.ipv6.conf.default.disable_ipv6=1".to_string(),
        w("all.rp_filter", all),
        w("default.rp_filter", dflt),
    ];
    if r.chance(0.15) {
        before.push(w("all.accept_local", 1));
    }
    if r.chance(0.15) {
        before.push(w("all.send_redirects", 0));
        before.push(w("default.send_redirects", 0));
    }
    if shape.mark.is_some() && r.chance(0.5) {
        before.push(w("all.src_valid_mark", 1));
    }
    let mut after = Vec::new();
    for l in shape.links {
        if r.chance(0.5) {
            after.push(w(&format!("{l}.rp_filter"), r.below(3) as u8));
        }
        if r.chance(0.1) {
            after.push(w(&format!("{l}.accept_local"), 1));
        }
        if shape.mark.is_some() && r.chance(0.2) {
            after.push(w(&format!("{l}.src_valid_mark"), 1));
        }
    }
    (before, after)
}

/// Builds one host, captures it into `dir`, asks the kernel, judges.
#[allow(clippy::too_many_arguments)]
fn run_host(
    n: usize,
    shape: &Shape,
    all: u8,
    dflt: u8,
    r: &mut Rng,
    dir: &Path,
    failed: &Path,
    counts: &mut Counts,
) -> Result<(), String> {
    let ns = Ns::create(n)?;
    let (before, after) = sysctls(shape, all, dflt, r);
    let mut script: Vec<String> = before;
    script.extend(link_script(shape, &ns.peer));
    script.extend(after);
    script.extend(shape.setup.iter().map(|c| format!("ip {c}")));
    kernel::set_up_and_capture(&ns, &script, dir).map_err(|e| format!("{}: {e}", shape.name))?;
    let host = kernel::load_host(dir);
    let eps = assessed(&host);
    let flows = plan(&host, &eps, shape.mark);
    let lines: Vec<String> = flows.iter().map(FlowSpec::command).collect();
    let answers = ns.batch(false, &["-j"], &lines)?;
    counts.hosts += 1;
    let mut cases = Vec::new();
    let mut bad = false;
    for (f, res) in flows.iter().zip(&answers) {
        let k = Answer::from_batch(res);
        counts.probes += 1;
        let note = match judge(&host, &eps, f, &k, counts) {
            Ok(d) => {
                counts.dropped += usize::from(d);
                None
            }
            Err(e) => {
                bad = true;
                let line = format!(
                    "{} (all={all} default={dflt}): ip {}: {e}",
                    shape.name,
                    f.command()
                );
                if e.starts_with("lookup") {
                    counts.lookups_bad.push(line);
                } else {
                    counts.impact_bad.push(line);
                }
                Some(e)
            }
        };
        cases.push(kernel::Case {
            flow: f.clone(),
            kernel: k,
            note,
        });
    }
    if let Some(to) = kernel::keep_dir("ASYMROUTE_KERNEL_IMPACT_SAVE", bad, failed) {
        let kernel_release = std::fs::read_to_string(dir.join("uname")).unwrap_or_default();
        let header = format!(
            "kernel_impact host {n}: {} with all.rp_filter={all} default.rp_filter={dflt}, kernel {}",
            shape.name,
            kernel_release.trim()
        );
        let description = format!(
            "Inbound probes (ip route get A from P iif I) of a {} host, rp_filter all={all} default={dflt}: the kernel's answer, and whether the report's impact agreed (note)",
            shape.name
        );
        kernel::save_case(
            dir,
            &to.join(format!("{}-all{all}-default{dflt}-{n}", shape.name)),
            &header,
            &script,
            "impacts.json",
            &description,
            &cases,
        );
    }
    Ok(())
}

#[test]
fn impacts_agree_with_the_kernel() {
    if let Some(why) = kernel::skip_reason() {
        eprintln!("skipped: {why}");
        return;
    }
    kernel::sweep_stale();
    let large = std::env::var("ASYMROUTE_KERNEL_IMPACT").as_deref() == Ok("large");
    let seed: u64 = std::env::var("ASYMROUTE_KERNEL_IMPACT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x1313);
    let run = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("kernel-impact")
        .join(format!("run-{}", std::process::id()));
    let failed = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("kernel-impact/failed");
    let mut r = Rng(seed);
    let mut counts = Counts::default();
    let mut pairs: Vec<(u8, u8)> = (0..3).flat_map(|a| (0..3).map(move |d| (a, d))).collect();
    let mut n = 0;
    for shape in SHAPES {
        r.shuffle(&mut pairs);
        let take = if large { pairs.len() } else { 3 };
        for &(all, dflt) in &pairs[..take] {
            n += 1;
            let dir = run.join(format!("{}-{n}", shape.name));
            if let Err(e) = run_host(n, shape, all, dflt, &mut r, &dir, &failed, &mut counts) {
                panic!("host {n}: {e}");
            }
        }
    }
    let _ = std::fs::remove_dir_all(&run);
    eprintln!(
        "kernel_impact: {} hosts, {} inbound probes ({} dropped by the kernel, {} of them martians), {} lookup and {} impact disagreements",
        counts.hosts,
        counts.probes,
        counts.dropped,
        counts.martian,
        counts.lookups_bad.len(),
        counts.impact_bad.len()
    );
    assert!(counts.probes > 500, "too few probes: {counts:?}");
    assert!(
        counts.dropped > 50,
        "too few drops to mean anything: {counts:?}"
    );
    let all: Vec<&String> = counts
        .lookups_bad
        .iter()
        .chain(&counts.impact_bad)
        .collect();
    assert!(
        all.is_empty(),
        "{} disagreement(s) with the kernel (hosts saved under {}):\n{}",
        all.len(),
        failed.display(),
        all.iter()
            .take(40)
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// Recorded inbound probes (`tests/kernel-cases/*/impacts.json`), replayed
/// without root: the model's lookup and the report's impact still agree
/// with what the kernel answered.
#[test]
fn recorded_impacts_replay() {
    let mut counts = Counts::default();
    let (hosts, probes, bad) = kernel::replay_cases("impacts.json", assessed, |host, eps, c| {
        judge(host, eps, &c.flow, &c.kernel, &mut counts).map(|_| ())
    });
    eprintln!("kernel_impact replay: {hosts} hosts, {probes} probes");
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}
