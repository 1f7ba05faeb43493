//! Offline replay of live-kernel answers (no root needed): every folder under
//! `tests/kernel-cases/` holds one host's dumps as captured from a network
//! namespace by `tests/kernel_diff.rs` (ip_addr.txt, ip_rule.txt,
//! ip6_rule.txt, ip_route.txt, ip6_route.txt) and a `cases.json` listing
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
            if let Err(what) = kernel::compare(&c.flow, &l, &c.kernel) {
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
