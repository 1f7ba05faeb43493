//! Parse throughput of the grammar layer, one thread: `cargo bench --bench parse`.
//!
//! Inputs come from `grammar-tests/`: the captures as they are, plus large
//! dumps synthesised from their records (renumbered so no two are the same):
//! `ip route show table all` with ~100k routes, `ip addr` with ~10k links,
//! `ip rule` with ~5k rules, and `ip -j` route/addr/rule dumps. Each row is
//! bytes → `decode` → `parse`, items dropped; the floor is `decode` plus
//! walking the logical lines, which every parse does first. Reported in MB
//! (10^6 bytes) of input per second of CPU time of the benchmark thread
//! (Linux schedstat; wall time elsewhere), so the figure is per core even on
//! a busy machine (the `cpu%` column shows how much of the wall time the
//! thread got); the best of several rounds.
//!
//! `PARSE_BENCH_SECS` (default 1.5) is the CPU time spent per row;
//! `cargo bench --bench parse -- FILTER` runs the rows whose name holds FILTER.

use asymroute_offline::grammar::{self, Ctx, DumpKind, lines};
use serde_json::Value;
use std::hint::black_box;
#[path = "../support/corpus.rs"]
mod corpus;

use std::time::{Duration, Instant};

/// The allocator the binary uses (src/main.rs), so the rows are what a scan gets.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Input {
    name: String,
    kind: DumpKind,
    ctx: Ctx,
    bytes: Vec<u8>,
}

/// Every capture under grammar-tests/ (not the goldens), each with the
/// context its folder and `.ctx` give.
fn corpus() -> Vec<Input> {
    corpus::cases()
        .into_iter()
        .map(|c| Input {
            bytes: std::fs::read(&c.path).unwrap(),
            name: c.name,
            kind: c.kind,
            ctx: c.ctx,
        })
        .collect()
}

fn is_json(i: &Input) -> bool {
    i.name.ends_with(".json")
}

/// Records of a text dump: a content line and the indented lines under it.
fn records(text: &str) -> Vec<Vec<&str>> {
    let mut out: Vec<Vec<&str>> = Vec::new();
    for l in text.lines() {
        if l.starts_with([' ', '\t']) {
            if let Some(r) = out.last_mut() {
                r.push(l);
            }
        } else if matches!(lines::classify(l), lines::Class::Content) {
            out.push(vec![l]);
        }
    }
    out
}

/// Does `text` parse as `kind` without a diagnostic? Only such records are
/// replicated, so the synthetic dumps are as clean as real ones.
fn clean(kind: DumpKind, text: &str) -> bool {
    let d = grammar::parse(text, kind, &Ctx::default());
    d.diagnostics.is_empty() && !d.is_empty()
}

/// The `n`th IPv4 / IPv6 network, written like the one it replaces.
fn renumber_prefix(tok: &str, n: usize) -> String {
    let (a, b, c) = ((n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff);
    let v6 = tok.contains(':');
    match (v6, tok.split_once('/')) {
        (false, Some((_, len))) => format!("{}.{b}.{c}.0/{len}", 10 + a % 100),
        (false, None) => format!("{}.{b}.{c}.{}", 10 + a % 100, 1 + n % 250),
        (true, Some((_, len))) => format!("2001:db8:{a:x}:{:x}::/{len}", n & 0xffff),
        (true, None) => format!("2001:db8:{a:x}::{:x}", n & 0xffff),
    }
}

/// ~`count` route records from the text route captures, each with a
/// destination of its own.
fn big_route_text(corpus: &[Input], count: usize) -> Vec<u8> {
    let mut recs = Vec::new();
    for i in corpus
        .iter()
        .filter(|i| i.kind == DumpKind::IpRoute && !is_json(i))
    {
        let text = std::str::from_utf8(&i.bytes).unwrap();
        for r in records(text) {
            let first = r[0].split_whitespace().next().unwrap_or("");
            // Cache-less, table-all style records only; skip oddities.
            if first.is_empty() || first == "Deleted" || first == "cache" {
                continue;
            }
            if !clean(DumpKind::IpRoute, &(r.join("\n") + "\n")) {
                continue;
            }
            recs.push(r.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        }
    }
    assert!(!recs.is_empty());
    let mut out = String::new();
    for n in 0..count {
        let r = &recs[n % recs.len()];
        let mut done = false;
        let head: Vec<String> = r[0]
            .split(' ')
            .map(|t| {
                if !done
                    && t != "default"
                    && !grammar::names::RouteType::is_type_word(t)
                    && grammar::lex::prefix(t, None).is_ok()
                {
                    done = true;
                    renumber_prefix(t, n)
                } else {
                    t.to_string()
                }
            })
            .collect();
        out.push_str(&head.join(" "));
        out.push('\n');
        for l in &r[1..] {
            out.push_str(l);
            out.push('\n');
        }
    }
    out.into_bytes()
}

/// ~`count` link records from the multi-line `ip addr` captures, renumbered.
fn big_addr_text(corpus: &[Input], count: usize) -> Vec<u8> {
    let mut recs = Vec::new();
    for i in corpus
        .iter()
        .filter(|i| i.name.starts_with("ip-addr/") || i.name.starts_with("ip-addr-details/"))
    {
        let text = std::str::from_utf8(&i.bytes).unwrap();
        for r in records(text) {
            if r[0]
                .split_once(": ")
                .is_some_and(|(n, _)| n.parse::<u32>().is_ok())
                && clean(DumpKind::IpAddr, &(r.join("\n") + "\n"))
            {
                recs.push(r.iter().map(|s| s.to_string()).collect::<Vec<_>>());
            }
        }
    }
    assert!(!recs.is_empty());
    let mut out = String::new();
    for n in 0..count {
        let r = &recs[n % recs.len()];
        let (_, rest) = r[0].split_once(": ").unwrap();
        out.push_str(&format!("{}: {rest}\n", n + 1));
        for l in &r[1..] {
            out.push_str(l);
            out.push('\n');
        }
    }
    out.into_bytes()
}

/// ~`count` rules from the text rule captures, renumbered.
fn big_rule_text(corpus: &[Input], count: usize) -> Vec<u8> {
    let mut recs = Vec::new();
    for i in corpus
        .iter()
        .filter(|i| i.kind == DumpKind::IpRule && !is_json(i))
    {
        let text = std::str::from_utf8(&i.bytes).unwrap();
        for l in text.lines() {
            if let Some((p, rest)) = l.split_once(':')
                && p.parse::<u32>().is_ok()
                && clean(DumpKind::IpRule, l)
            {
                recs.push(rest.to_string());
            }
        }
    }
    assert!(!recs.is_empty());
    let mut out = String::new();
    for n in 0..count {
        out.push_str(&format!("{}:{}\n", n + 1, recs[n % recs.len()]));
    }
    out.into_bytes()
}

/// `ip -j`: ~`count` objects from the JSON captures of `kind`, with `key`
/// renumbered by `f`, compact on one line as `ip -j` prints them.
fn big_json(
    corpus: &[Input],
    kind: DumpKind,
    count: usize,
    f: impl Fn(&mut serde_json::Map<String, Value>, usize),
) -> Vec<u8> {
    let mut objs = Vec::new();
    for i in corpus.iter().filter(|i| i.kind == kind && is_json(i)) {
        let text = std::str::from_utf8(&i.bytes).unwrap();
        for v in serde_json::Deserializer::from_str(text).into_iter::<Value>() {
            if let Ok(Value::Array(a)) = v {
                objs.extend(a.into_iter().filter(|o| {
                    o.is_object() && clean(kind, &Value::Array(vec![o.clone()]).to_string())
                }));
            }
        }
    }
    assert!(!objs.is_empty());
    let mut all = Vec::with_capacity(count);
    for n in 0..count {
        let mut o = objs[n % objs.len()].clone();
        if let Value::Object(m) = &mut o {
            f(m, n);
        }
        all.push(o);
    }
    let mut s = serde_json::to_string(&Value::Array(all)).unwrap();
    s.push('\n');
    s.into_bytes()
}

fn secs() -> Duration {
    Duration::from_secs_f64(
        std::env::var("PARSE_BENCH_SECS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1.5),
    )
}

/// Time this thread has spent on a CPU (Linux `schedstat`, in ns), so the
/// figures are per core even when other processes share the machine; wall
/// time where that is not available.
struct Clock {
    wall: Instant,
    cpu: Option<u64>,
}

fn thread_cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok().filter(|&n| n > 0)
}

impl Clock {
    fn start() -> Clock {
        Clock {
            cpu: thread_cpu_ns(),
            wall: Instant::now(),
        }
    }
    /// (CPU or wall seconds, wall seconds) since `start`.
    fn elapsed(&self) -> (f64, f64) {
        let wall = self.wall.elapsed().as_secs_f64();
        match (self.cpu, thread_cpu_ns()) {
            (Some(a), Some(b)) if b > a => ((b - a) as f64 / 1e9, wall),
            _ => (wall, wall),
        }
    }
}

/// Runs `f` over the inputs repeatedly; MB per CPU second of the best
/// round, and the share of wall time the thread got.
fn measure(inputs: &[&Input], f: impl Fn(&Input) -> usize) -> (f64, f64) {
    let bytes: usize = inputs.iter().map(|i| i.bytes.len()).sum();
    let rounds = 5;
    let per_round = secs().as_secs_f64() / rounds as f64;
    for i in inputs {
        black_box(f(i));
    }
    let (mut best, mut share) = (0f64, 1f64);
    for _ in 0..rounds {
        let clock = Clock::start();
        let mut runs = 0u64;
        loop {
            for i in inputs {
                black_box(f(black_box(i)));
            }
            runs += 1;
            let (cpu, wall) = clock.elapsed();
            if cpu >= per_round {
                let mbs = (bytes as f64 * runs as f64) / cpu / 1e6;
                if mbs > best {
                    best = mbs;
                    share = cpu / wall;
                }
                break;
            }
        }
    }
    (best, share)
}

fn parse(i: &Input) -> usize {
    let (text, enc) = grammar::decode(&i.bytes);
    let dump = grammar::parse(&text, i.kind, &i.ctx);
    dump.len() + dump.diagnostics.len() + usize::from(enc.is_some())
}

fn floor(i: &Input) -> usize {
    let (text, _) = grammar::decode(&i.bytes);
    lines::Lines::new(&text).map(|l| l.text.len()).sum()
}

fn main() {
    // `cargo bench -- FILTER` runs the rows whose name contains FILTER.
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let corpus = corpus();
    let route_n = 100_000;
    let big = vec![
        Input {
            name: format!("synthetic ip route show table all ({route_n} routes)"),
            kind: DumpKind::IpRoute,
            ctx: Ctx::default(),
            bytes: big_route_text(&corpus, route_n),
        },
        Input {
            name: "synthetic ip addr (10000 links)".into(),
            kind: DumpKind::IpAddr,
            ctx: Ctx::default(),
            bytes: big_addr_text(&corpus, 10_000),
        },
        Input {
            name: "synthetic ip rule (5000 rules)".into(),
            kind: DumpKind::IpRule,
            ctx: Ctx::default(),
            bytes: big_rule_text(&corpus, 5_000),
        },
        Input {
            name: "synthetic ip -j route (20000 routes)".into(),
            kind: DumpKind::IpRoute,
            ctx: Ctx::default(),
            bytes: big_json(&corpus, DumpKind::IpRoute, 20_000, |m, n| {
                if let Some(Value::String(d)) = m.get("dst")
                    && d != "default"
                {
                    let p = renumber_prefix(d, n);
                    m.insert("dst".into(), Value::String(p));
                }
            }),
        },
        Input {
            name: "synthetic ip -j addr (2000 links)".into(),
            kind: DumpKind::IpAddr,
            ctx: Ctx::default(),
            bytes: big_json(&corpus, DumpKind::IpAddr, 2_000, |m, n| {
                m.insert("ifindex".into(), Value::from(n + 1));
            }),
        },
        Input {
            name: "synthetic ip -j rule (5000 rules)".into(),
            kind: DumpKind::IpRule,
            ctx: Ctx::default(),
            bytes: big_json(&corpus, DumpKind::IpRule, 5_000, |m, n| {
                m.insert("priority".into(), Value::from(n + 1));
            }),
        },
    ];
    // The synthetic dumps must parse as cleanly as the captures they came from.
    for i in &big {
        let (text, _) = grammar::decode(&i.bytes);
        let d = grammar::parse(&text, i.kind, &i.ctx);
        let errors = d.diagnostics.len();
        assert!(
            errors * 1000 <= d.len().max(1),
            "{}: {errors} diagnostics for {} items, first: {}",
            i.name,
            d.len(),
            d.diagnostics[0]
        );
    }

    let all: Vec<&Input> = big.iter().chain(corpus.iter()).collect();
    let mb = |v: &[&Input]| v.iter().map(|i| i.bytes.len()).sum::<usize>() as f64 / 1e6;
    let select = |p: &dyn Fn(&Input) -> bool| -> Vec<&Input> {
        all.iter().copied().filter(|i| p(i)).collect()
    };
    let rows: Vec<(&str, Vec<&Input>)> = vec![
        (
            "ip-addr text",
            select(&|i| i.kind == DumpKind::IpAddr && !i.name.contains("-j") && !is_json(i)),
        ),
        (
            "ip-rule text",
            select(&|i| i.kind == DumpKind::IpRule && !i.name.contains("-j") && !is_json(i)),
        ),
        (
            "ip-route text",
            select(&|i| i.kind == DumpKind::IpRoute && !i.name.contains("-j") && !is_json(i)),
        ),
        (
            "json (all kinds)",
            select(&|i| i.name.contains("-j") || is_json(i)),
        ),
        ("captures as they are", corpus.iter().collect()),
        ("mix", all.clone()),
    ];

    println!(
        "parse throughput, one thread, MB (10^6 bytes) per CPU second, best of 5 rounds over {:?} of CPU",
        secs()
    );
    println!("inputs:");
    for i in &big {
        println!("  {:>8.2} MB  {}", i.bytes.len() as f64 / 1e6, i.name);
    }
    println!(
        "  {:>8.2} MB  {} captures from grammar-tests/",
        mb(&corpus.iter().collect::<Vec<_>>()),
        corpus.len()
    );
    println!();
    println!(
        "{:<24} {:>9} {:>11} {:>9} {:>6}",
        "row", "MB", "MB/s/core", "of floor", "cpu%"
    );
    let mut floor_mbs = None;
    if filter.as_deref().is_none_or(|f| "floor".contains(f)) {
        let (m, share) = measure(&all, floor);
        println!(
            "{:<24} {:>9.2} {:>11.1} {:>9} {:>5.0}%",
            "floor (decode + lines)",
            mb(&all),
            m,
            "",
            share * 100.0
        );
        floor_mbs = Some(m);
    }
    for (name, inputs) in &rows {
        if filter.as_ref().is_some_and(|f| !name.contains(f.as_str())) {
            continue;
        }
        let (m, share) = measure(inputs, parse);
        let of_floor = floor_mbs.map_or(String::new(), |f| format!("{:.1}%", 100.0 * m / f));
        println!(
            "{:<24} {:>9.2} {:>11.1} {:>9} {:>5.0}%",
            name,
            mb(inputs),
            m,
            of_floor,
            share * 100.0
        );
    }
}
