//! Offline replay of the fix advice against recorded kernel answers (no root
//! needed). Every folder under `tests/fix-cases/` is a host that
//! `kernel_fixes.rs` built in a network namespace, with `fix_status`
//! `verified`, saved with `ASYMROUTE_KERNEL_FIXES_SAVE`: its dumps as the
//! tool read them and `fix.json` (the printed commands and undo, and the
//! kernel's `ip -j route get DST from A` for each endpoint A before and
//! after the commands were applied in the namespace; see
//! `tests/fix-cases/README.md`).
//!
//! Each host is read as the CLI reads a folder (`capture::scan`, then
//! `verdict::host::analyse`) and checked:
//! * the advice: still `verified`, with exactly the recorded commands and
//!   undo (else the advice changed and the case must be re-recorded);
//! * the model: `Host::lookup` of `from A to D` on the model of the dumps
//!   must give each recorded `before` answer, and on that model with the
//!   advice's operations applied (`verdict::fix::apply`) each `after`
//!   answer: type, device (any nexthop's of a multipath route), gateway
//!   (left out where it is the destination itself, as the harness records
//!   it), error text: `support/kernel.rs`'s `compare`.
//!
//! `ASYMROUTE_FIX_CASES=DIR` replays another folder of saved hosts (a fresh
//! `ASYMROUTE_KERNEL_FIXES_SAVE` run, say) instead of `tests/fix-cases/`.
//!
//! `judge_catches_wrong_answers` checks the judge itself: recorded answers
//! made wrong on purpose (another device, gateway, type or error) and
//! advice made different must be caught.

#[path = "support/kernel.rs"]
mod kernel;

use asymroute_offline::capture::{self, Limits};
use asymroute_offline::model::{Flow, Host, Lookup};
use asymroute_offline::verdict::LinkClass;
use asymroute_offline::verdict::fix::{self, FixStatus};
use asymroute_offline::verdict::host::{self, HostReport};
use kernel::{Answer, FixCase, FixFile, FlowSpec};
use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

fn case_dirs() -> Vec<PathBuf> {
    let root = std::env::var("ASYMROUTE_FIX_CASES").unwrap_or_else(|_| "tests/fix-cases".into());
    kernel::case_dirs_in(&root, &["fix.json"])
}

/// One saved host, read as the CLI reads it.
struct Loaded {
    name: String,
    file: FixFile,
    report: HostReport,
    /// The model of the dumps.
    before: Host,
    /// … with the advice's operations applied, or the model's refusal.
    after: Result<Host, String>,
}

fn load(dir: &Path) -> Loaded {
    let name = dir.file_name().unwrap().to_string_lossy().to_string();
    let text = std::fs::read_to_string(dir.join("fix.json"))
        .unwrap_or_else(|e| panic!("{name}/fix.json: {e}"));
    let file: FixFile =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}/fix.json: {e}"));
    assert!(!file.cases.is_empty(), "{name}/fix.json: no cases");
    let mut caps = Vec::new();
    let notices = capture::scan(dir, Limits::default(), |c| caps.push(c))
        .unwrap_or_else(|e| panic!("{name}: scan: {e}"));
    assert!(notices.is_empty(), "{name}: scan: {notices:?}");
    let ids: Vec<&str> = caps.iter().map(|c| c.id.as_str()).collect();
    assert!(
        ids.len() == 1,
        "{name}: one host expected in the folder, found {ids:?} (keep only the dumps and \
         fix.json: a failed host's setup.sh reads as a transcript)"
    );
    let cap = caps.remove(0);
    assert!(cap.notices.is_empty(), "{name}: {:?}", cap.notices);
    assert!(
        cap.inputs.iter().all(|i| !i.name.ends_with("fix.json")),
        "{name}: fix.json was read as a dump"
    );
    let before = Host::build(cap.inputs.clone(), &HashMap::new());
    let diags = kernel::diagnostics(&before);
    assert!(diags.is_empty(), "{name}: parse diagnostics: {diags:#?}");
    let report = host::analyse(cap, &LinkClass::default());
    let ops: Vec<fix::Op> = report.fix.iter().flat_map(|s| s.ops.clone()).collect();
    let after = fix::apply(&before, &ops);
    Loaded {
        name,
        file,
        report,
        before,
        after,
    }
}

/// The advice as printed: every step's commands, steps in order, and every
/// step's undo, last step first (as `kernel_fixes.rs` records them).
fn advice(r: &HostReport) -> (Vec<String>, Vec<String>) {
    let commands = r.fix.iter().flat_map(|s| s.commands.clone()).collect();
    let undo = r.fix.iter().rev().flat_map(|s| s.undo.clone()).collect();
    (commands, undo)
}

/// `Some(what)` when the tool's advice is no longer the recorded one.
fn advice_changed(r: &HostReport, f: &FixFile) -> Option<String> {
    let (commands, undo) = advice(r);
    let status = r.fix_status.as_str();
    if r.fix_status == FixStatus::Verified && commands == f.commands && undo == f.undo {
        return None;
    }
    let list = |l: &[String]| {
        l.iter()
            .map(|c| format!("\n        {c}"))
            .collect::<String>()
    };
    Some(format!(
        "the advice changed: the case must be re-recorded with ASYMROUTE_KERNEL_FIXES_SAVE \
         (ASYMROUTE_KERNEL_FIXES_SEED={} ASYMROUTE_KERNEL_FIXES_HOST={}, see \
         tests/fix-cases/README.md)\n    recorded: {}, commands:{}\n      undo:{}\n    \
         now: {status} ({}), commands:{}\n      undo:{}",
        f.seed,
        f.host,
        f.fix_status,
        list(&f.commands),
        list(&f.undo),
        r.fix_reason,
        list(&commands),
        list(&undo),
    ))
}

/// The model's lookup of a reply from `from` to `dst`, with a gateway equal
/// to the destination left out (the harness records the kernel's so: the
/// next hop is the same neighbour either way).
fn model_lookup(h: &Host, from: IpAddr, dst: IpAddr) -> Lookup {
    let mut l = h.lookup(&Flow::to(dst).from(from));
    if let Ok(hit) = &mut l.result {
        if hit.gateway == Some(dst) {
            hit.gateway = None;
        }
        for n in &mut hit.nexthops {
            if n.gateway == Some(dst) {
                n.gateway = None;
            }
        }
    }
    l
}

fn model_text(l: &Lookup) -> String {
    match &l.result {
        Err(e) => format!("error {:?}", e.message()),
        Ok(h) => {
            let leg = |dev: &str, gw: Option<IpAddr>| match gw {
                Some(g) => format!("via {g} dev {dev}"),
                None => format!("dev {dev}"),
            };
            let legs = if h.hash_dependent {
                h.nexthops
                    .iter()
                    .map(|n| leg(&n.dev, n.gateway))
                    .collect::<Vec<_>>()
                    .join(" | ")
            } else {
                leg(&h.dev, h.gateway)
            };
            format!("{} {legs}", h.kind)
        }
    }
}

fn kernel_text(a: &Answer) -> String {
    if let Some(e) = &a.error {
        return format!("error {e:?}");
    }
    let mut s = a.kind.clone().unwrap_or_else(|| "unicast".into());
    if let Some(g) = a.gateway {
        s.push_str(&format!(" via {g}"));
    }
    s.push_str(&format!(" dev {}", a.dev.as_deref().unwrap_or("?")));
    s
}

/// How the model's answer to `from → dst` differs from the recorded kernel
/// answer: `Ok(true)` agrees, `Ok(false)` cannot be compared from dumps,
/// `Err` says how they differ (both answers included).
fn judge(h: &Host, from: IpAddr, dst: IpAddr, k: &Answer) -> Result<bool, String> {
    let mut spec = FlowSpec::to(dst);
    spec.src = Some(from);
    let l = model_lookup(h, from, dst);
    if kernel::undecidable(h, &spec, &l).is_some() {
        return Ok(false);
    }
    kernel::compare(&spec, &l, k).map(|()| true).map_err(|why| {
        format!(
            "model {}, kernel {} ({why})",
            model_text(&l),
            kernel_text(k)
        )
    })
}

#[derive(Default)]
struct Counts {
    hosts: usize,
    probes: usize,
    checked: usize,
    undecidable: usize,
    advice_changed: usize,
}

/// Replays one host; returns its failure lines.
fn replay(lh: &Loaded, c: &mut Counts) -> Vec<String> {
    let mut fails = Vec::new();
    c.hosts += 1;
    let changed = advice_changed(&lh.report, &lh.file);
    if let Some(what) = &changed {
        c.advice_changed += 1;
        fails.push(format!("{}: {what}", lh.name));
    }
    // With other advice, the recorded `after` answers are another fix's.
    let after = match (&changed, &lh.after) {
        (Some(_), _) => None,
        (None, Ok(h)) => Some(h),
        (None, Err(e)) => {
            fails.push(format!(
                "{}: the model refuses the fix the kernel took: {e}",
                lh.name
            ));
            None
        }
    };
    for FixCase {
        from,
        interface,
        dst,
        before,
        after: after_k,
    } in &lh.file.cases
    {
        c.probes += 1;
        let mut sides = vec![("before the fix", &lh.before, before)];
        if let Some(h) = after {
            sides.push(("after the fix", h, after_k));
        }
        for (when, h, k) in sides {
            match judge(h, *from, *dst, k) {
                Ok(true) => c.checked += 1,
                Ok(false) => c.undecidable += 1,
                Err(why) => fails.push(format!(
                    "{}: {when}: `ip route get {dst} from {from}` ({interface}): {why}",
                    lh.name
                )),
            }
        }
    }
    fails
}

#[test]
fn kernel_fix_cases_replay() {
    let dirs = case_dirs();
    assert!(!dirs.is_empty(), "no fix.json case found");
    let mut c = Counts::default();
    let mut failures = Vec::new();
    for dir in &dirs {
        let lh = load(dir);
        failures.extend(replay(&lh, &mut c));
    }
    eprintln!(
        "kernel_fix_cases: {} host(s), {} probe(s): {} answer(s) checked, {} undecidable, \
         {} host(s) with changed advice",
        c.hosts, c.probes, c.checked, c.undecidable, c.advice_changed
    );
    assert!(c.checked > 0, "no answer checked");
    assert!(
        failures.is_empty(),
        "{} disagreement(s) with the recorded kernel answers or advice:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The judge's own test: on every recorded answer the model matches, a
/// wrong answer (another device, gateway, type, error, or an error for a
/// route and a route for an error) is caught, and so is changed advice.
#[test]
fn judge_catches_wrong_answers() {
    let mut stats: Vec<(&str, usize, usize)> = Vec::new();
    let mut missed = Vec::new();
    let mut tally = |what: &'static str, caught: bool, ctx: &str| {
        match stats.iter_mut().find(|s| s.0 == what) {
            Some(s) => {
                s.1 += 1;
                s.2 += usize::from(caught);
            }
            None => stats.push((what, 1, usize::from(caught))),
        }
        if !caught {
            missed.push(format!("{what}: {ctx}"));
        }
    };
    for dir in case_dirs() {
        let lh = load(&dir);
        let Ok(fixed) = &lh.after else { continue };
        if advice_changed(&lh.report, &lh.file).is_some() {
            continue;
        }
        // Changed advice: a command dropped, the undo reordered.
        let mut f = lh.file.clone();
        f.commands.pop();
        tally(
            "command dropped",
            advice_changed(&lh.report, &f).is_some(),
            &lh.name,
        );
        let mut f = lh.file.clone();
        f.undo.reverse();
        if f.undo != lh.file.undo {
            tally(
                "undo reordered",
                advice_changed(&lh.report, &f).is_some(),
                &lh.name,
            );
        }
        for case in &lh.file.cases {
            for (h, k) in [(&lh.before, &case.before), (fixed, &case.after)] {
                if judge(h, case.from, case.dst, k) != Ok(true) {
                    continue;
                }
                let ctx = format!("{} from {} to {}", lh.name, case.from, case.dst);
                let caught = |m: &Answer| judge(h, case.from, case.dst, m).is_err();
                if let Some(e) = &k.error {
                    let mut m = k.clone();
                    m.error = Some(if e == "Permission denied" {
                        "Invalid argument".into()
                    } else {
                        "Permission denied".into()
                    });
                    tally("error text changed", caught(&m), &ctx);
                    let m = Answer {
                        error: None,
                        kind: Some("unicast".into()),
                        dev: Some(case.interface.clone()),
                        ..k.clone()
                    };
                    tally("route for an error", caught(&m), &ctx);
                } else {
                    let mut m = k.clone();
                    m.dev = Some("nowhere0".into());
                    tally("device changed", caught(&m), &ctx);
                    let mut m = k.clone();
                    m.gateway = match k.gateway {
                        Some(_) => None,
                        None => Some(case.from),
                    };
                    tally("gateway changed", caught(&m), &ctx);
                    let mut m = k.clone();
                    m.kind = Some(if k.kind.as_deref() == Some("local") {
                        "unicast".into()
                    } else {
                        "local".into()
                    });
                    tally("type changed", caught(&m), &ctx);
                    let mut m = k.clone();
                    m.error = Some("Network is unreachable".into());
                    tally("error for a route", caught(&m), &ctx);
                }
            }
        }
    }
    eprintln!("judge_catches_wrong_answers: [mutation, tried, caught] {stats:?}");
    for what in [
        "command dropped",
        "error text changed",
        "route for an error",
        "device changed",
        "gateway changed",
        "type changed",
        "error for a route",
    ] {
        assert!(
            stats.iter().any(|s| s.0 == what && s.1 > 0),
            "no recorded case to try `{what}` on"
        );
    }
    assert!(
        missed.is_empty(),
        "wrong answers the judge let pass:\n{}",
        missed.join("\n")
    );
}
