//! Live grammar test: builds the namespaces of
//! `tests/netns/make-grammar-captures.sh` (the scenario behind the
//! `grammar-tests/*/netns__tokens*` goldens) on this kernel, captures
//! `ip addr`, `ip rule` and `ip route show table all` in every format (plain,
//! `-o`, `-d`, `-br`, `-j`, and `-6`), and checks that every capture parses
//! with zero diagnostics and that the formats agree field by field on the
//! same state: links (names, indexes, peers, flags, state, mtu, master…),
//! addresses (prefix length, scope, flags, label, peer, broadcast, metric,
//! lifetimes), rules (priority, selectors, action, table…) and routes (type,
//! dst, table, gateway, dev, metric, scope, prefsrc, proto, flags, nexthops…).
//!
//! Without root, `ip`, `unshare` or permission to create network namespaces
//! it prints `skipped: …` to stderr and passes.

#[path = "support/netns.rs"]
mod netns;

use asymroute_offline::grammar::{self, Ctx, Dump, DumpKind, Family, Format};
use serde::Serialize;
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// Lifetimes and `expires` count down between two captures.
const SECONDS_SLACK: i64 = 5;

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The captures of one run and everything found wrong with them.
struct Run {
    dir: PathBuf,
    problems: Vec<String>,
}

impl Run {
    fn parse(&mut self, file: &str, kind: DumpKind, family: Option<Family>, want: Format) -> Dump {
        let path = self.dir.join(file);
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let (text, bad_utf8) = grammar::decode(&bytes);
        let dump = grammar::parse(
            &text,
            kind,
            &Ctx {
                family,
                table: None,
            },
        );
        if let Some(d) = bad_utf8 {
            self.problems.push(format!("{file}:{d}"));
        }
        for d in &dump.diagnostics {
            self.problems.push(format!("{file}:{d}"));
        }
        if let Some(f) = &dump.failed {
            self.problems
                .push(format!("{file}:{}: command failure: {}", f.line, f.text));
        }
        if dump.format != want {
            self.problems.push(format!(
                "{file}: read as {:?}, expected {want:?}",
                dump.format
            ));
        }
        dump
    }

    /// `a` and `b` must describe the same items; `fix` aligns what the two
    /// formats legitimately print differently.
    fn agree(
        &mut self,
        what: &str,
        mut a: Vec<Value>,
        mut b: Vec<Value>,
        label: fn(&Value) -> String,
        fix: impl Fn(&mut Value, &mut Value),
    ) {
        if a.len() != b.len() {
            self.problems
                .push(format!("{what}: {} items vs {}", a.len(), b.len()));
        }
        for (x, y) in a.iter_mut().zip(b.iter_mut()) {
            fix(x, y);
            let at = format!("{what}: {}", label(x));
            diff(&at, x, y, &mut self.problems);
        }
    }
}

fn values<T: Serialize>(items: &[T]) -> Vec<Value> {
    items
        .iter()
        .map(|i| {
            let mut v = serde_json::to_value(i).expect("items serialise");
            strip(&mut v, &["line", "end_line"]);
            v
        })
        .collect()
}

/// Removes `keys` at every depth.
fn strip(v: &mut Value, keys: &[&str]) {
    match v {
        Value::Object(m) => {
            for k in keys {
                m.remove(*k);
            }
            m.values_mut().for_each(|x| strip(x, keys));
        }
        Value::Array(a) => a.iter_mut().for_each(|x| strip(x, keys)),
        _ => {}
    }
}

/// Keeps only `keys` of an object.
fn pick(v: &Value, keys: &[&str]) -> Value {
    let mut m = Map::new();
    for k in keys {
        if let Some(x) = v.get(*k) {
            m.insert(k.to_string(), x.clone());
        }
    }
    Value::Object(m)
}

fn show(v: Option<&Value>) -> String {
    v.map_or_else(|| "(absent)".into(), Value::to_string)
}

/// Field-by-field comparison; each difference is reported with its path.
fn diff(path: &str, a: &Value, b: &Value, out: &mut Vec<String>) {
    let countdown = [".valid_lft", ".preferred_lft", ".expires"]
        .iter()
        .any(|k| path.ends_with(k));
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let mut keys: Vec<&String> = x.keys().collect();
            keys.extend(y.keys().filter(|k| !x.contains_key(*k)));
            for k in keys {
                let p = format!("{path}.{k}");
                match (x.get(k), y.get(k)) {
                    (Some(u), Some(v)) => diff(&p, u, v, out),
                    (u, v) => out.push(format!("{p}: {} vs {}", show(u), show(v))),
                }
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (u, v)) in x.iter().zip(y).enumerate() {
                diff(&format!("{path}[{i}]"), u, v, out);
            }
        }
        (Value::Number(x), Value::Number(y))
            if countdown
                && x.as_i64()
                    .zip(y.as_i64())
                    .is_some_and(|(x, y)| (x - y).abs() <= SECONDS_SLACK) => {}
        _ if a == b => {}
        _ => out.push(format!("{path}: {a} vs {b}")),
    }
}

fn link_label(v: &Value) -> String {
    format!("link {}", v["name"].as_str().unwrap_or("?"))
}

fn rule_label(v: &Value) -> String {
    format!("rule {}", v["priority"])
}

fn route_label(v: &Value) -> String {
    format!(
        "route {} {} table {}",
        v["type"].as_str().unwrap_or("?"),
        v["dst"].as_str().unwrap_or("?"),
        v["table"].as_str().unwrap_or("?")
    )
}

/// Address flags are an unordered set.
fn sort_addr_flags(link: &mut Value) {
    if let Some(Value::Array(addrs)) = link.get_mut("addrs") {
        for a in addrs {
            if let Some(Value::Array(f)) = a.get_mut("flags") {
                f.sort_by_key(Value::to_string);
            }
        }
    }
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/netns/make-grammar-captures.sh")
}

#[test]
fn live_captures_parse_and_formats_agree() {
    if let Some(why) = netns::skip_reason() {
        netns::skip(&why);
        return;
    }
    let started = Instant::now();
    let tmp = TempDir(std::env::temp_dir().join(format!("aro-gt-live-{}", std::process::id())));
    let _ = std::fs::remove_dir_all(&tmp.0);
    let out = Command::new("bash")
        .arg(script())
        .arg("--out")
        .arg(&tmp.0)
        .output()
        .expect("run make-grammar-captures.sh");
    let stderr = String::from_utf8_lossy(&out.stderr);
    match out.status.code() {
        Some(0) => eprint!("{stderr}"),
        Some(77) => {
            netns::skip(stderr.trim().trim_start_matches("skipped: "));
            return;
        }
        _ => panic!(
            "make-grammar-captures.sh failed ({}):\n{stderr}",
            out.status
        ),
    }
    let mut run = Run {
        dir: tmp.0.clone(),
        problems: Vec::new(),
    };
    let v6 = Some(Family::Inet6);
    use DumpKind::{IpAddr, IpRoute, IpRule};
    use Format::{Brief, Json, Oneline, Text};

    // ---- ip addr: plain, -j, -d, -o, -o link, -br
    let addr = run.parse("ip-addr/netns__tokens.txt", IpAddr, None, Text);
    let addr_j = run.parse("ip-addr-json/netns__tokens.json", IpAddr, None, Json);
    let addr_d = run.parse("ip-addr-details/netns__tokens.txt", IpAddr, None, Text);
    let addr_o = run.parse("ip-addr-oneline/netns__tokens.txt", IpAddr, None, Oneline);
    let link_o = run.parse(
        "ip-addr-oneline/netns__tokens_ip-o-link.txt",
        IpAddr,
        None,
        Oneline,
    );
    let addr_br = run.parse(
        "ip-addr-oneline/netns__tokens_ip-br-addr.txt",
        IpAddr,
        None,
        Brief,
    );
    assert!(
        addr.links().len() >= 8,
        "too few links: {:#?}",
        addr.links()
    );
    let links = values(addr.links());
    let mut plain = links.clone();
    plain.iter_mut().for_each(sort_addr_flags);

    // -j: JSON gives link-netnsid where text names the namespace, prints no
    // alias, and keeps -d/xdp objects as details.
    let mut json = values(addr_j.links());
    json.iter_mut().for_each(sort_addr_flags);
    run.agree(
        "ip addr vs ip -j addr",
        plain.clone(),
        json,
        link_label,
        |a, b| {
            if a.get("link_netns").is_some() {
                strip(b, &["link_netnsid"]);
            }
            strip(a, &["details", "link_netns"]);
            strip(b, &["details"]);
        },
    );
    // -d: detail lines, and the alias that only -d prints.
    let mut details = values(addr_d.links());
    details.iter_mut().for_each(sort_addr_flags);
    run.agree(
        "ip addr vs ip -d addr",
        plain.clone(),
        details,
        link_label,
        |a, b| {
            strip(a, &["details"]);
            strip(b, &["details", "alias"]);
        },
    );
    // -o addr: one line per address, no link lines.
    let with_addrs: Vec<Value> = plain
        .iter()
        .filter(|l| l["addrs"].as_array().is_some_and(|a| !a.is_empty()))
        .map(|l| pick(l, &["index", "name", "addrs"]))
        .collect();
    let mut oneline = values(addr_o.links());
    oneline.iter_mut().for_each(sort_addr_flags);
    let oneline = oneline
        .iter()
        .map(|l| pick(l, &["index", "name", "addrs"]))
        .collect();
    run.agree(
        "ip addr vs ip -o addr",
        with_addrs,
        oneline,
        link_label,
        |_, _| {},
    );
    // -o link: link lines only, with `mode` and `alias`.
    let link_only = |l: &Value| {
        let mut l = l.clone();
        strip(&mut l, &["addrs", "details", "mode", "alias"]);
        l
    };
    run.agree(
        "ip addr vs ip -o link",
        plain.iter().map(link_only).collect(),
        values(link_o.links()).iter().map(link_only).collect(),
        link_label,
        |_, _| {},
    );
    // -br: name, peer, state and the address columns.
    let brief = |l: &Value| {
        let mut b = pick(l, &["name", "peer", "state"]);
        let addrs: Vec<Value> = l["addrs"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|x| pick(x, &["family", "local", "peer", "prefixlen", "metric"]))
                    .collect()
            })
            .unwrap_or_default();
        b["addrs"] = Value::Array(addrs);
        b
    };
    run.agree(
        "ip addr vs ip -br addr",
        links.iter().map(brief).collect(),
        values(addr_br.links()).iter().map(brief).collect(),
        link_label,
        |_, _| {},
    );

    // ---- ip rule: plain, -j, -d; ip -6 rule, ip -6 -j rule
    let rule = run.parse("ip-rule/netns__tokens.txt", IpRule, None, Text);
    let rule_j = run.parse("ip-rule-json/netns__tokens.json", IpRule, None, Json);
    let rule_d = run.parse("ip-rule-details/netns__tokens.txt", IpRule, None, Text);
    let rule6 = run.parse("ip6-rule/netns__tokens.txt", IpRule, v6, Text);
    let rule6_j = run.parse("ip-rule-json/netns__tokens_ip6.json", IpRule, v6, Json);
    assert!(
        rule.rules().len() >= 20,
        "too few rules: {:#?}",
        rule.rules()
    );
    assert!(
        rule6.rules().len() >= 10,
        "too few IPv6 rules: {:#?}",
        rule6.rules()
    );
    run.agree(
        "ip rule vs ip -j rule",
        values(rule.rules()),
        values(rule_j.rules()),
        rule_label,
        |_, _| {},
    );
    // -d prints every rule's protocol.
    run.agree(
        "ip rule vs ip -d rule",
        values(rule.rules()),
        values(rule_d.rules()),
        rule_label,
        |a, b| {
            if a.get("protocol").is_none() {
                strip(b, &["protocol"]);
            }
        },
    );
    run.agree(
        "ip -6 rule vs ip -6 -j rule",
        values(rule6.rules()),
        values(rule6_j.rules()),
        rule_label,
        |_, _| {},
    );

    // ---- ip route show table all: plain, -j, -o, -d; -6 plain and -j
    let route = run.parse("ip-route/netns__tokens_table-all.txt", IpRoute, None, Text);
    let route_j = run.parse(
        "ip-route-json/netns__tokens_table-all.json",
        IpRoute,
        None,
        Json,
    );
    let route_o = run.parse(
        "ip-route-oneline/netns__tokens_table-all.txt",
        IpRoute,
        None,
        Oneline,
    );
    let route_d = run.parse(
        "ip-route-details/netns__tokens_table-all.txt",
        IpRoute,
        None,
        Text,
    );
    let route6 = run.parse("ip6-route/netns__tokens_table-all.txt", IpRoute, v6, Text);
    let route6_j = run.parse(
        "ip-route-json/netns__tokens_ip6-table-all.json",
        IpRoute,
        v6,
        Json,
    );
    assert!(
        route.routes().len() >= 60,
        "too few routes: {:#?}",
        route.routes()
    );
    let routes = values(route.routes());
    // JSON has no `lock` for metrics (print_rta_metrics prints it as text only).
    let no_lock = |a: &mut Value, b: &mut Value| {
        strip(a, &["lock"]);
        strip(b, &["lock"]);
    };
    run.agree(
        "ip route vs ip -j route",
        routes.clone(),
        values(route_j.routes()),
        route_label,
        no_lock,
    );
    run.agree(
        "ip route vs ip -o route",
        routes.clone(),
        values(route_o.routes()),
        route_label,
        |_, _| {},
    );
    // -d spells out the defaults (unicast, table main, proto boot, scope
    // global) and adds nh_info lines to nhid routes.
    run.agree(
        "ip route vs ip -d route",
        routes.clone(),
        values(route_d.routes()),
        route_label,
        |a, b| {
            let m = a.as_object_mut().expect("route object");
            m.entry("protocol").or_insert_with(|| "boot".into());
            m.entry("scope").or_insert_with(|| "global".into());
            strip(b, &["nh_info"]);
        },
    );
    let v6_of_all: Vec<Value> = routes
        .iter()
        .filter(|r| r["family"] == "inet6")
        .cloned()
        .collect();
    run.agree(
        "ip route (inet6 part) vs ip -6 route",
        v6_of_all,
        values(route6.routes()),
        route_label,
        |_, _| {},
    );
    run.agree(
        "ip -6 route vs ip -6 -j route",
        values(route6.routes()),
        values(route6_j.routes()),
        route_label,
        no_lock,
    );

    let n = run.problems.len();
    assert!(
        run.problems.is_empty(),
        "{n} problem(s) in live captures:\n  {}",
        run.problems[..n.min(60)].join("\n  ")
    );
    eprintln!(
        "netns_grammar: 17 live captures parsed and agree ({} links, {} + {} rules, {} routes) in {:.1?}",
        addr.links().len(),
        rule.rules().len(),
        rule6.rules().len(),
        route.routes().len(),
        started.elapsed()
    );
}
