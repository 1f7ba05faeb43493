//! Offline replay of live-kernel answers (no root needed): every folder under
//! `tests/kernel-cases/` holds one host's dumps as captured from a network
//! namespace by `tests/kernel_diff.rs` (ip_addr.txt, ip_rule.txt,
//! ip6_rule.txt, ip_route.txt, ip6_route.txt; and, in the folders captured since it sets
//! reverse-path sysctls, `sysctl.txt` and `uname`) and a `cases.json` listing
//! flows with the kernel's `ip route get` answer. Each flow is looked up with
//! `Host::lookup` and compared field by field as the differential test does.
//! Most folders are disagreements the differential test found (their
//! `note` says what the model used to answer); the rest are agreeing hosts
//! kept as a fixed corpus.

#[path = "support/kernel.rs"]
mod kernel;

use kernel::CaseFile;
use std::path::PathBuf;

fn case_dirs() -> Vec<PathBuf> {
    kernel::case_dirs(&["cases.json"])
}

#[test]
fn kernel_cases_replay() {
    let dirs = case_dirs();
    assert!(!dirs.is_empty(), "no cases under tests/kernel-cases");
    let mut failures = Vec::new();
    let mut compared = [0usize; 2];
    for dir in &dirs {
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        let host = kernel::load_host(dir);
        let diags = kernel::diagnostics(&host);
        assert!(diags.is_empty(), "{name}: parse diagnostics: {diags:#?}");
        let text = std::fs::read_to_string(dir.join("cases.json")).unwrap();
        let cf: CaseFile =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}/cases.json: {e}"));
        assert!(!cf.cases.is_empty(), "{name}: no cases");
        for c in &cf.cases {
            if c.flow.incomparable().is_some() {
                continue;
            }
            let l = host.lookup(&c.flow.flow());
            if kernel::undecidable(&host, &c.flow, &l).is_some() {
                continue;
            }
            compared[usize::from(c.flow.dst.is_ipv6())] += 1;
            // The reported source depends on the per-CPU route cache: not
            // compared (the device and gateway are).
            let mut flow = c.flow.clone();
            if kernel::shared_nexthop_prefsrc(&host, &c.flow, &l, &c.kernel) {
                flow.src = c.kernel.prefsrc;
            }
            if let Err(what) = kernel::compare(&flow, &l, &c.kernel) {
                failures.push(format!(
                    "{name}: `ip {}`: {what}{}",
                    c.flow.command(),
                    c.note
                        .as_deref()
                        .map(|n| format!(" (found as: {n})"))
                        .unwrap_or_default()
                ));
            }
        }
    }
    eprintln!(
        "kernel_cases: {} hosts, {} IPv4 + {} IPv6 flows replayed",
        dirs.len(),
        compared[0],
        compared[1]
    );
    assert!(
        failures.is_empty(),
        "{} flow(s) disagree with the recorded kernel answers:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Multipath answers name the legs the kernel can take, no more and no
/// fewer: where one route answered hash-dependent for at least
/// `MIN_FLOWS` recorded flows that differ only in destination or ports
/// (so the hash varies), the legs the kernel took are the offline legs.
/// Flow-by-flow comparison only checks the kernel's leg is among them; this
/// catches a leg the kernel never takes (IPv4's source preference) too.
#[test]
fn multipath_legs_are_the_kernels() {
    const MIN_FLOWS: usize = 40;
    type Leg = (String, Option<std::net::IpAddr>);
    /// (flow but destination and ports, route, offline legs).
    type Key = (String, String, Vec<Leg>);
    /// The legs the kernel took, and over how many flows.
    type Seen = (std::collections::BTreeSet<Leg>, usize);
    let mut checked = 0;
    let mut failures = Vec::new();
    for dir in case_dirs() {
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        let host = kernel::load_host(&dir);
        let text = std::fs::read_to_string(dir.join("cases.json")).unwrap();
        let cf: CaseFile = serde_json::from_str(&text).unwrap();
        let mut groups: std::collections::BTreeMap<Key, Seen> = Default::default();
        for c in &cf.cases {
            if c.flow.incomparable().is_some() || c.kernel.error.is_some() {
                continue;
            }
            let l = host.lookup(&c.flow.flow());
            let Ok(h) = &l.result else { continue };
            if !h.hash_dependent {
                continue;
            }
            let mut f = c.flow.clone();
            f.dst = if f.dst.is_ipv6() {
                std::net::Ipv6Addr::UNSPECIFIED.into()
            } else {
                std::net::Ipv4Addr::UNSPECIFIED.into()
            };
            (f.sport, f.dport, f.tcp_dport) = (None, None, None);
            let mut legs: Vec<Leg> = h
                .nexthops
                .iter()
                .map(|n| (n.dev.to_string(), n.gateway))
                .collect();
            legs.sort();
            let g = groups
                .entry((f.command(), format!("{:?}", l.route), legs))
                .or_default();
            g.0.insert((c.kernel.dev.clone().unwrap_or_default(), c.kernel.gateway));
            g.1 += 1;
        }
        for ((flow, _, legs), (seen, n)) in groups {
            if n < MIN_FLOWS {
                continue;
            }
            checked += 1;
            let offline: std::collections::BTreeSet<Leg> = legs.into_iter().collect();
            if offline != seen {
                failures.push(format!(
                    "{name}: `ip {flow}` over {n} flows: offline legs {offline:?}, kernel took {seen:?}"
                ));
            }
        }
    }
    eprintln!("multipath legs: {checked} groups of at least {MIN_FLOWS} flows");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Before Linux 5.3 (commit 96125bf9985a), `ipv4_is_zeronet()` took all of
/// 0.0.0.0/8 as martian: the same host read as an older kernel refuses
/// every 0/8 source or destination the 6.18 kernel routed (from the kernel
/// source; no such kernel runs here).
#[test]
fn zeronet_martian_before_5_3() {
    use asymroute_offline::model::{Host, KernelVersion, System};
    let dir = kernel::case_dirs(&["cases.json"])
        .into_iter()
        .find(|d| d.ends_with("handmade-v4-zeronet-routable"))
        .expect("the 0/8 case folder");
    let (inputs, _) = asymroute_offline::capture::load_plain_host(&dir).unwrap();
    let text = std::fs::read_to_string(dir.join("cases.json")).unwrap();
    let cf: CaseFile = serde_json::from_str(&text).unwrap();
    for (v, routable) in [
        (KernelVersion::new(5, 2, 21), false),
        (KernelVersion::new(5, 3, 0), true),
    ] {
        let system = System {
            kernel: Some((v, "uname".into())),
            ..System::default()
        };
        let host = Host::build_with(inputs.clone(), &Default::default(), system);
        assert_eq!(host.kernel, v);
        let mut zeronet = 0;
        for c in &cf.cases {
            let zero = |a: std::net::IpAddr| match a {
                std::net::IpAddr::V4(v) => v.octets()[0] == 0 && !v.is_unspecified(),
                _ => false,
            };
            if !(zero(c.flow.dst) || c.flow.src.is_some_and(zero)) {
                continue;
            }
            zeronet += 1;
            let l = host.lookup(&c.flow.flow());
            if routable {
                assert!(
                    kernel::compare(&c.flow, &l, &c.kernel).is_ok(),
                    "{v}: {c:?}"
                );
            } else {
                assert_eq!(
                    l.result.err().map(|e| e.message()),
                    Some("Invalid argument"),
                    "{v}: `ip {}`",
                    c.flow.command()
                );
            }
        }
        assert!(zeronet >= 10, "{zeronet}");
    }
}
