//! The sample fleet (`samples/`, built from real hosts in network namespaces
//! by `samples/make-samples.sh`): every host is found, with the collector,
//! verdict, incompleteness, endpoint verdicts, leak scopes and
//! ec2rl-equivalent the scenario calls for, and each fix, applied to the
//! model, leaves no asymmetric endpoint. The expectations below are the
//! table of `samples/README.md`; each was checked against the kernel with
//! `ip route get` in the scenario's namespace (`make-samples.sh --check`).

use asymroute_offline::capture::{self, HostCapture, Limits};
use asymroute_offline::model::Host;
use asymroute_offline::verdict::fix::FixStatus;
use asymroute_offline::verdict::host::{self, HostReport};
use asymroute_offline::verdict::{LinkClass, Scope, Verdict, endpoints, fix};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use Scope::{CrossSubnet as Cross, OffLink as Off, SameSubnet as Same};
use Verdict::{Asymmetric as Asym, Ok};

/// One endpoint: address, verdict (`None`: not analysed), leak scopes.
type Ep = (&'static str, Option<Verdict>, &'static [Scope]);

struct Expect {
    host: &'static str,
    scenario: &'static str,
    collector: &'static str,
    verdict: Verdict,
    incomplete: bool,
    hostname: Option<&'static str>,
    instance_id: Option<&'static str>,
    /// ec2rl-equivalent status, and a piece of its message.
    ec2rl: (Option<&'static str>, &'static str),
    /// What ec2rl itself logged, when the bundle has its log.
    logged: Option<&'static str>,
    endpoints: &'static [Ep],
    /// The fix has no placeholder (every link's gateway is in the dumps).
    /// How far the fix goes (`ipv6-two-links`' eth1 has no router in its dumps).
    fix_status: FixStatus,
    /// A piece of a rule that must be reported as conditional.
    conditional: Option<&'static str>,
}

const TS: &str = "2024-05-02T10_15_42.123456";
const NO_DUP: &str = "No duplicate subnets found";

fn expectations() -> Vec<Expect> {
    vec![
        Expect {
            host: "sosreport-samesub-2024-05-02-hxkqzpa",
            scenario: "classic EC2: two ENIs in one subnet, no rules",
            collector: "sos",
            verdict: Asym,
            incomplete: false,
            hostname: Some("samesub"),
            instance_id: None,
            ec2rl: (Some("FAILURE"), "More than one interface has an un-matched"),
            logged: None,
            endpoints: &[
                ("172.31.16.10", Some(Ok), &[]),
                ("172.31.16.20", Some(Asym), &[Same, Off]),
            ],
            fix_status: FixStatus::Verified,
            conditional: None,
        },
        Expect {
            host: "ec2rl/2024-05-02T10_15_42.123456",
            scenario: "ENIs in different subnets, no rules",
            collector: "ec2rl",
            verdict: Asym,
            incomplete: true,
            hostname: None,
            instance_id: Some("i-0d1ff5b0e7c0a0002"),
            ec2rl: (Some("SUCCESS"), NO_DUP),
            logged: Some(NO_DUP),
            endpoints: &[
                ("10.0.1.10", Some(Asym), &[Cross]),
                ("10.0.2.20", Some(Asym), &[Cross, Off]),
            ],
            fix_status: FixStatus::Verified,
            conditional: None,
        },
        Expect {
            host: "scc_netutils-same_240502_1015",
            scenario: "amazon-ec2-net-utils, all links in one subnet",
            collector: "supportconfig",
            verdict: Ok,
            incomplete: false,
            hostname: Some("netutils-same"),
            instance_id: None,
            // The `metric` printed before `brd` is ec2rl's 4th field: no duplicates.
            ec2rl: (Some("SUCCESS"), NO_DUP),
            logged: None,
            endpoints: &[
                ("172.31.32.10", Some(Ok), &[]),
                ("172.31.32.20", Some(Ok), &[]),
                ("172.31.32.30", Some(Ok), &[]),
            ],
            fix_status: FixStatus::NotNeeded,
            conditional: None,
        },
        Expect {
            host: "netutils-split",
            scenario: "amazon-ec2-net-utils, links in different subnets (dual stack)",
            collector: "plain",
            verdict: Asym,
            incomplete: false,
            hostname: None,
            instance_id: None,
            ec2rl: (Some("SUCCESS"), NO_DUP),
            logged: None,
            endpoints: &[
                ("10.0.1.10", Some(Asym), &[Cross]),
                ("10.0.2.20", Some(Ok), &[]),
                ("10.0.3.30", Some(Ok), &[]),
                ("2001:db8:1::10", Some(Asym), &[Cross]),
                ("2001:db8:2::20", Some(Ok), &[]),
                ("2001:db8:3::30", Some(Ok), &[]),
            ],
            fix_status: FixStatus::Verified,
            conditional: None,
        },
        Expect {
            host: "eks_i-0e3c5a7b9d1f20405_2024-05-02_1015-UTC_0.7.3",
            scenario: "a rule pointing at an empty table",
            collector: "eks",
            verdict: Asym,
            incomplete: true,
            hostname: None,
            instance_id: Some("i-0e3c5a7b9d1f20405"),
            ec2rl: (None, "ip addr not collected"),
            logged: None,
            endpoints: &[
                ("192.168.10.10", Some(Ok), &[]),
                ("192.168.10.20", Some(Asym), &[Same, Off]),
            ],
            fix_status: FixStatus::Verified,
            conditional: None,
        },
        Expect {
            host: "insights-single-homed-20240502101542",
            scenario: "symmetric single-homed host",
            collector: "insights",
            verdict: Ok,
            incomplete: true,
            hostname: Some("single-homed"),
            instance_id: None,
            ec2rl: (Some("SUCCESS"), NO_DUP),
            logged: None,
            endpoints: &[("172.31.5.10", Some(Ok), &[])],
            fix_status: FixStatus::NotNeeded,
            conditional: None,
        },
        Expect {
            host: "ipv6-two-links.txt",
            scenario: "IPv6 on two links, no IPv6 rules",
            collector: "transcript",
            verdict: Asym,
            incomplete: false,
            hostname: None,
            instance_id: None,
            ec2rl: (Some("SUCCESS"), NO_DUP),
            logged: None,
            endpoints: &[
                ("10.1.0.10", Some(Ok), &[]),
                ("2001:db8:a::10", Some(Asym), &[Cross]),
                ("2001:db8:b::20", Some(Asym), &[Cross, Off]),
            ],
            fix_status: FixStatus::Partial,
            conditional: None,
        },
        Expect {
            host: "fleet.tar.gz/secondary-ips.tgz/secondary-ips",
            scenario: "secondary IPs without rules",
            collector: "plain",
            verdict: Asym,
            incomplete: false,
            hostname: None,
            instance_id: None,
            ec2rl: (
                Some("SUCCESS"),
                "Only one interface will use the default rule",
            ),
            logged: None,
            endpoints: &[
                ("10.0.1.10", Some(Ok), &[]),
                ("10.0.1.11", Some(Ok), &[]),
                ("10.0.1.20", Some(Ok), &[]),
                ("10.0.1.21", Some(Asym), &[Same, Off]),
                ("10.0.1.22", Some(Asym), &[Same, Off]),
            ],
            fix_status: FixStatus::Verified,
            conditional: None,
        },
        Expect {
            host: "fleet.tar.gz/sosreport-wg-quick-2024-05-02-pqmzxwa.tar.xz/sosreport-wg-quick-2024-05-02-pqmzxwa",
            scenario: "wg-quick (fwmark rule, suppress_prefixlength 0)",
            collector: "sos",
            verdict: Asym,
            incomplete: false,
            hostname: Some("wg-quick"),
            instance_id: None,
            ec2rl: (Some("SUCCESS"), NO_DUP),
            logged: None,
            endpoints: &[
                ("192.168.1.50", Some(Asym), &[Off]),
                ("10.66.0.2", Some(Asym), &[Cross]),
            ],
            fix_status: FixStatus::Verified,
            conditional: Some("not from all fwmark 0xca6c lookup 51820"),
        },
        Expect {
            host: "fleet.tar.gz/i-0c0ffee0d0c4e2a19/ec2rl-2024-05-02T10_15_42.123456.tgz/2024-05-02T10_15_42.123456",
            scenario: "docker0 on a single-uplink host (ec2rl upload with its gathered sosreport)",
            collector: "ec2rl",
            verdict: Ok,
            incomplete: false,
            hostname: Some("docker-host"),
            instance_id: Some("i-0c0ffee0d0c4e2a19"),
            ec2rl: (Some("SUCCESS"), NO_DUP),
            logged: Some(NO_DUP),
            endpoints: &[
                ("172.31.40.10", Some(Ok), &[]),
                ("172.17.0.1", Some(Ok), &[]),
            ],
            fix_status: FixStatus::NotNeeded,
            conditional: None,
        },
    ]
}

fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("samples")
}

fn captures(path: &Path) -> Vec<HostCapture> {
    let mut caps = Vec::new();
    let notices = capture::scan(path, Limits::default(), |c| caps.push(c)).expect("readable");
    assert!(notices.is_empty(), "stray notices: {notices:?}");
    caps
}

fn reports(path: &Path) -> BTreeMap<String, HostReport> {
    let class = LinkClass::default();
    let mut out = BTreeMap::new();
    for c in captures(path) {
        let r = host::analyse(c, &class);
        assert!(
            out.insert(r.host.clone(), r).is_none(),
            "a host reported twice"
        );
    }
    out
}

fn scopes(e: &asymroute_offline::verdict::Endpoint) -> Vec<Scope> {
    let mut s: Vec<Scope> = e.leaks.iter().map(|l| l.scope).collect();
    s.sort();
    s.dedup();
    s
}

fn eq(bad: &mut Vec<String>, what: &str, w: String, g: String) {
    if w != g {
        bad.push(format!("{what}: want {w}, got {g}"));
    }
}

fn check(want: &Expect, got: &HostReport) -> Vec<String> {
    let mut bad = Vec::new();
    eq(
        &mut bad,
        "collector",
        want.collector.into(),
        got.collector.as_str().into(),
    );
    eq(
        &mut bad,
        "verdict",
        format!("{:?}", want.verdict),
        format!("{:?}", got.verdict),
    );
    if want.incomplete != got.is_incomplete() {
        bad.push(format!(
            "incomplete: want {}, got {:?}",
            want.incomplete, got.incomplete
        ));
    }
    eq(
        &mut bad,
        "hostname",
        format!("{:?}", want.hostname),
        format!("{:?}", got.hostname.as_deref()),
    );
    eq(
        &mut bad,
        "instance id",
        format!("{:?}", want.instance_id),
        format!("{:?}", got.instance_id.as_deref()),
    );
    eq(
        &mut bad,
        "ec2rl status",
        format!("{:?}", want.ec2rl.0),
        format!("{:?}", got.ec2rl.status.map(|s| s.as_str())),
    );
    if !got.ec2rl.message.contains(want.ec2rl.1) {
        bad.push(format!(
            "ec2rl message: want …{}…, got {}",
            want.ec2rl.1, got.ec2rl.message
        ));
    }
    match (want.logged, &got.ec2rl.logged) {
        (None, None) => {}
        (Some(w), Some(g)) if g.contains(w) => {}
        (w, g) => bad.push(format!("ec2rl logged: want {w:?}, got {g:?}")),
    }
    let got_eps: Vec<(String, Option<Verdict>, Vec<Scope>)> =
        asymroute_offline::verdict::expanded(&got.endpoints)
            .iter()
            .map(|e| (e.address.to_string(), e.verdict, scopes(e)))
            .collect();
    let want_eps: Vec<(String, Option<Verdict>, Vec<Scope>)> = want
        .endpoints
        .iter()
        .map(|(a, v, s)| {
            let mut s = s.to_vec();
            s.sort();
            (a.to_string(), *v, s)
        })
        .collect();
    let mut g = got_eps.clone();
    let mut w = want_eps.clone();
    g.sort_by(|a, b| a.0.cmp(&b.0));
    w.sort_by(|a, b| a.0.cmp(&b.0));
    if g != w {
        bad.push(format!("endpoints:\n  want {w:?}\n  got  {g:?}"));
    }
    // Every leak quotes the lines that decided it.
    for e in &got.endpoints {
        for l in &e.leaks {
            if l.route.is_none() || l.rule.is_none() || l.destinations.is_empty() {
                bad.push(format!(
                    "{}: a leak without its rule/route: {l:?}",
                    e.address
                ));
            }
        }
    }
    if let Some(c) = want.conditional {
        let found = got
            .endpoints
            .iter()
            .flat_map(|e| &e.conditional)
            .any(|q| q.text.contains(c));
        if !found {
            bad.push(format!("no conditional rule `{c}`"));
        }
    } else if got.endpoints.iter().any(|e| !e.conditional.is_empty()) {
        bad.push("unexpected conditional rules".into());
    }
    // Fixes: a status for every host, steps exactly when some are verified,
    // never a placeholder.
    if got.fix_status != want.fix_status {
        bad.push(format!(
            "fix status {:?} ({}), want {:?}",
            got.fix_status, got.fix_reason, want.fix_status
        ));
    }
    let with_steps = matches!(got.fix_status, FixStatus::Verified | FixStatus::Partial);
    if with_steps == got.fix.is_empty() {
        bad.push(format!("fix steps iff verified or partial: {:?}", got.fix));
    }
    if got
        .fix
        .iter()
        .any(|f| f.commands.iter().any(|c| c.contains("GATEWAY")))
    {
        bad.push("a placeholder in a fix".into());
    }
    let left_expected = matches!(got.fix_status, FixStatus::Partial | FixStatus::None);
    if left_expected == got.fix_unverified.is_empty() {
        bad.push(format!(
            "something is left asymmetric iff partial or none: {:?}",
            got.fix_unverified
        ));
    }
    if got.fix_reason.is_empty() {
        bad.push("a fix status without its reason".into());
    }
    if !got.diagnostics.is_empty() {
        bad.push(format!("diagnostics: {:?}", got.diagnostics));
    }
    bad
}

#[test]
fn every_sample_host_has_its_expected_verdict() {
    let got = reports(&samples());
    let want = expectations();
    let mut failures = Vec::new();
    for w in &want {
        match got.get(w.host) {
            None => failures.push(format!("{} ({}): not found", w.host, w.scenario)),
            Some(g) => {
                for b in check(w, g) {
                    failures.push(format!("{} ({}): {b}", w.host, w.scenario));
                }
            }
        }
    }
    for h in got.keys() {
        if !want.iter().any(|w| w.host == h) {
            failures.push(format!("{h}: found but not expected"));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn every_collector_layout_is_represented() {
    let want = expectations();
    for c in [
        "sos",
        "ec2rl",
        "supportconfig",
        "insights",
        "eks",
        "plain",
        "transcript",
    ] {
        assert!(
            want.iter().any(|w| w.collector == c),
            "no sample host for collector {c}"
        );
    }
}

#[test]
fn the_fleet_tarball_alone_holds_its_three_hosts() {
    let fleet = samples().join("fleet.tar.gz");
    let got = reports(&fleet);
    let want: Vec<Expect> = expectations()
        .into_iter()
        .filter(|w| w.host.starts_with("fleet.tar.gz/"))
        .collect();
    assert_eq!(got.len(), want.len(), "{:?}", got.keys());
    for w in &want {
        let g = got
            .get(w.host)
            .unwrap_or_else(|| panic!("{} not found", w.host));
        let bad = check(w, g);
        assert!(bad.is_empty(), "{}: {bad:?}", w.host);
    }
}

/// The ec2rl run directory has no `ip rule`: incomplete, and says so.
#[test]
fn ec2rl_without_rules_says_what_it_assumed() {
    let got = reports(&samples());
    let h = &got[&format!("ec2rl/{TS}")];
    assert!(
        h.incomplete
            .iter()
            .any(|r| r.contains("ip rule not collected")),
        "{:?}",
        h.incomplete
    );
    // The gathered sosreport of the other ec2rl upload supplies the rules.
    let d = &got[&format!("fleet.tar.gz/i-0c0ffee0d0c4e2a19/ec2rl-{TS}.tgz/{TS}")];
    assert!(d.incomplete.is_empty(), "{:?}", d.incomplete);
    assert!(
        d.notes.iter().any(|n| n.contains("gathered")),
        "{:?}",
        d.notes
    );
}

/// The primary of net-utils' split layout leaks only to the other links'
/// subnets, and the report names each of them.
#[test]
fn netutils_split_leaks_are_cross_subnet_only() {
    let got = reports(&samples());
    let h = &got["netutils-split"];
    let mut dests: Vec<(String, String)> = h
        .endpoints
        .iter()
        .flat_map(|e| &e.leaks)
        .flat_map(|l| {
            l.destinations
                .iter()
                .map(|d| (d.to_string(), l.egress.clone()))
        })
        .collect();
    dests.sort();
    for (net, dev) in [
        ("10.0.2.0/24", "eth1"),
        ("10.0.3.0/24", "eth2"),
        ("2001:db8:2::/64", "eth1"),
        ("2001:db8:3::/64", "eth2"),
    ] {
        let covered = dests.iter().any(|(d, e)| {
            e == dev
                && d.parse::<ipnet::IpNet>().ok().is_some_and(|d| {
                    net.parse::<ipnet::IpNet>()
                        .is_ok_and(|n| n.contains(&d.network()))
                })
        });
        assert!(covered, "{net} via {dev} not among {dests:?}");
    }
}

/// Applying each verified fix to the model leaves no endpoint asymmetric;
/// a partial one leaves exactly the endpoints it names.
#[test]
fn fixes_applied_to_the_model_leave_nothing_asymmetric() {
    let class = LinkClass::default();
    for cap in captures(&samples()) {
        let id = cap.id.clone();
        let inputs = cap.inputs.clone();
        let report = host::analyse(cap, &class);
        if report.fix.is_empty() || report.collector == asymroute_offline::capture::Collector::Eks {
            // EKS addresses are inferred inside `analyse`; its fix is
            // verified there (`fix_unverified`), checked above.
            continue;
        }
        let model = Host::build(inputs, &HashMap::new());
        let ops: Vec<fix::Op> = report.fix.iter().flat_map(|f| f.ops.clone()).collect();
        let fixed = fix::apply(&model, &ops).unwrap_or_else(|e| panic!("{id}: refused: {e}"));
        let left: Vec<String> = endpoints(&fixed, &class)
            .into_iter()
            .filter(|e| e.verdict == Some(Verdict::Asymmetric))
            .map(|e| format!("{} on {}", e.address, e.interface))
            .collect();
        assert_eq!(
            left, report.fix_unverified,
            "{id}: still asymmetric after the fix"
        );
    }
}

/// samples/README.md lists every host with its verdict.
#[test]
fn the_samples_readme_lists_every_host() {
    let readme = std::fs::read_to_string(samples().join("README.md")).expect("samples/README.md");
    for w in expectations() {
        let row = readme
            .lines()
            .find(|l| l.starts_with('|') && l.contains(&format!("`{}`", w.host)))
            .unwrap_or_else(|| panic!("no README row for {}", w.host));
        let label = match (w.verdict, w.incomplete) {
            (v, true) => format!("{} (incomplete)", v.as_str()),
            (v, false) => v.as_str().to_string(),
        };
        assert!(
            row.contains(&format!("**{label}**")),
            "README row for {} does not say **{label}**: {row}",
            w.host
        );
    }
}

/// Small enough to keep in the repository.
#[test]
fn samples_stay_small() {
    fn size(p: &Path) -> u64 {
        let m = std::fs::symlink_metadata(p).expect("stat");
        if m.is_dir() {
            std::fs::read_dir(p)
                .expect("read_dir")
                .map(|e| size(&e.expect("entry").path()))
                .sum()
        } else {
            m.len()
        }
    }
    let total = size(&samples());
    assert!(total < 512 * 1024, "samples/ holds {total} bytes");
}

/// With root: `make-samples.sh --out TMP --check BIN` rebuilds the fleet in
/// namespaces, the kernel confirms every leak, every `ok` and every fix of
/// this build's report, and the rebuilt fleet gets the same report as the
/// committed one. Skipped (passing) where namespaces are not available.
#[test]
fn samples_rebuild_in_namespaces_and_the_kernel_agrees() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new("bash")
        .arg(samples().join("make-samples.sh"))
        .arg("--out")
        .arg(dir.path())
        .arg("--check")
        .arg(env!("CARGO_BIN_EXE_asymroute-offline"))
        .stdin(std::process::Stdio::null())
        .output()
        .expect("bash runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.code() == Some(77) {
        eprintln!("skipped: {}", stderr.trim());
        return;
    }
    assert!(out.status.success(), "make-samples.sh failed:\n{stderr}");
    assert!(stderr.contains(", 0 problem(s)"), "{stderr}");
    let json = |p: &Path| -> Vec<serde_json::Value> {
        reports(p)
            .into_values()
            .map(|r| serde_json::to_value(&r).expect("serialisable"))
            .collect()
    };
    let rebuilt = json(dir.path());
    let committed = json(&samples());
    assert_eq!(rebuilt.len(), committed.len());
    for (r, c) in rebuilt.iter().zip(&committed) {
        assert_eq!(
            r, c,
            "the committed samples are not what the script builds today"
        );
    }
}
