//! Large-host benchmark (issue 14): hosts of realistic size, built in
//! network namespaces by `tests/bench/big-hosts.sh` and dumped with the
//! machine's iproute2 (so every line is the kernel's and iproute2's own),
//! then the full job on each (`-f ndjson`: parse, model, verdicts, fix
//! advice, report) with its CPU seconds (user + system) and peak RSS.
//!
//!     cargo bench --bench hosts                   # every host below
//!     HOSTS=bgp:120000,addrs:10000 cargo bench --bench hosts
//!     HOSTS_BIN=/tmp/before cargo bench --bench hosts   # another build, A/B
//!
//! | kind | size N | host |
//! |---|---|---|
//! | `bgp` | N IPv4 routes (+ N/5 IPv6) | a BGP router: 3 links, 3 gateways, a default |
//! | `ecmp` | N IPv4 routes (+ N/5 IPv6) | the same table, each route multipath over 2 gateways on 2 links |
//! | `ecmp4` | N IPv4 routes (+ N/5 IPv6) | the same over 4 gateways on 3 links (the widest full table) |
//! | `bgptables` | N IPv4 routes (+ N/5 IPv6), 3 times | a multihomed router: each upstream's full table in a table of its own, chosen by a rule per address |
//! | `rules` | N rules | an EKS node with the VPC CNI: 4 ENIs, N/2 pods |
//! | `addrs` | N addresses | N/20 links, 5 subnets each |
//! | `mpaddrs` | N addresses | the same, with a multipath default behind the plain one |
//! | `srcaddrs` | N addresses | 2 links; each address on the second with its own `from` rule and table |
//! | `srcroutes` | N addresses | the same, each table with a route of its own too |
//! | `v6srcroutes` | N IPv6 addresses | 2 links; each address on the second with its own rule and table, a /128 of its own in it |
//! | `v6srcsel` | N IPv6 addresses | `v6srcroutes` with `fwmark 0x1` on each rule and a source route in `main` over the tables' /128s |
//! | `mpsrcsel` | N addresses | `srcroutes` with each address a /32 primary, `fwmark 0x1` on each rule, a multipath route in `main` over the tables' /32s |
//! | `vips` | N addresses | N /32 service addresses on `lo`, a default multipath over 2 uplinks |
//! | `linkvips` | N addresses | the same on the second uplink: each an endpoint answered by its own address |
//! | `v6src` | N IPv6 addresses | 2 links; the second's addresses under one IPv6 source route |
//! | `v6links` | N IPv6 addresses | N/20 links, each with an IPv4 /24, 20 IPv6 addresses and an IPv6 default |
//! | `v6shared` | N IPv6 addresses | `v6links` with every tenth link also holding an address of the link five before it: N/100 pairs of links whose fixes are refused |
//! | `bgpedge` | N IPv4 routes (+ N/5 IPv6) | `bgp` with `EDGE_LINKS` (40) customer links, each with a /24 and a /64 |
//! | `ppp` | N sessions | a BRAS: N point-to-point links sharing one local address, every fourth with a framed /29 |
//! | `fabric` | N /32 routes | a leaf switch: 16 uplinks (/31s), each route multipath over all 16 |
//! | `fabricnh` | N /32 routes | the same through a nexthop group (`nhid`), as FRR installs it |
//!
//! The default list is the issue's: BGP tables of 12k, 120k and a full
//! table (950k routes: building it in a namespace takes a few minutes and
//! ~2 GiB of kernel memory, once), 30k rules, 3k and 10k addresses; and a
//! full table of two-way multipath routes (session 18); 10k addresses with
//! a multipath route, and 10k with a rule and a table each (session 19);
//! 8k IPv6 addresses under a source route (session 20); 10k IPv4 and
//! 8k IPv6 addresses each with a table holding a route of its own
//! (session 22); the same with a selector the dumps cannot settle on each
//! rule, under an IPv6 source route or a multipath route, and 20k /32
//! service addresses on `lo` or on an uplink (session 24); a full table
//! per upstream, each in a table of its own (session 35). Built
//! hosts are kept in `target/bench-hosts/KIND-N` and reused. Without root
//! or `ip netns` a host not built yet is skipped with a line saying so.
//!
//! `BENCH_RUNS` (default 2) runs per host, the best kept. The report goes to
//! `target/bench-hosts/KIND-N.ndjson` (its size is a column; compare two
//! builds' reports with `cmp`). Needs GNU time (/usr/bin/time).

#[path = "gnu_time.rs"]
mod gnu_time;

use std::path::{Path, PathBuf};
use std::process::Command;

const DEFAULT: &str = "bgp:12000,bgp:120000,bgp:950000,ecmp:950000,ecmp4:950000,bgptables:950000,rules:30000,addrs:3000,addrs:10000,mpaddrs:10000,srcaddrs:10000,v6src:8000,srcroutes:10000,v6srcroutes:8000,v6srcsel:8000,mpsrcsel:10000,vips:20000,linkvips:20000";

/// (CPU seconds user + system, peak RSS KiB) of `bin DIR -f ndjson`, best
/// of `runs` by CPU; the report written to `out`.
fn measure(bin: &str, dir: &Path, out: &Path, runs: usize) -> Option<(f64, u64)> {
    let cmd = format!("{bin} {} -q -f ndjson >{}", dir.display(), out.display());
    gnu_time::best(&cmd, runs, |r| r.cpu).map(|r| (r.cpu, r.rss_kib))
}

fn dir_bytes(p: &Path) -> u64 {
    std::fs::read_dir(p)
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

fn count_lines(p: &Path) -> usize {
    // A multipath route's nexthop lines are indented: one record.
    std::fs::read_to_string(p)
        .map(|s| {
            s.lines()
                .filter(|l| !l.starts_with(' ') && !l.starts_with('\t'))
                .count()
        })
        .unwrap_or(0)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let bin_env = std::env::var("HOSTS_BIN").ok();
    let bin = bin_env
        .as_deref()
        .unwrap_or(env!("CARGO_BIN_EXE_asymroute-offline"));
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2);
    let list = std::env::var("HOSTS").unwrap_or_else(|_| DEFAULT.into());
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root: PathBuf = manifest.join("target/bench-hosts");
    let script = manifest.join("tests/bench/big-hosts.sh");
    println!(
        "| host | size | dumps MB | records (addr / v4 + v6 routes / rules) | CPU s | peak RSS MiB | report MB |"
    );
    println!("|---|---|---|---|---|---|---|");
    for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let Some((kind, n)) = item.split_once(':') else {
            eprintln!("hosts: `{item}` is not KIND:N");
            continue;
        };
        let dir = root.join(format!("{kind}-{n}"));
        if !dir.join("ip6_route.txt").exists() {
            let _ = std::fs::remove_dir_all(&dir);
            eprintln!("hosts: building {kind} {n} in a namespace…");
            let ok = Command::new("bash")
                .arg(&script)
                .arg(&dir)
                .args([kind, n])
                .status()
                .is_ok_and(|s| s.success());
            if !ok {
                let _ = std::fs::remove_dir_all(&dir);
                println!(
                    "| {kind} | {n} | — | — | skipped: not built (needs root and ip netns) | | |"
                );
                continue;
            }
        }
        let out = root.join(format!("{kind}-{n}.ndjson"));
        let Some((cpu, rss)) = measure(bin, &dir, &out, runs) else {
            println!("| {kind} | {n} | — | — | failed to run {bin} | | |");
            continue;
        };
        let addrs = std::fs::read_to_string(dir.join("ip_addr.txt"))
            .map(|s| s.matches("    inet").count())
            .unwrap_or(0);
        let v4 = count_lines(&dir.join("ip_route.txt"));
        let v6 = count_lines(&dir.join("ip6_route.txt"));
        let rules = count_lines(&dir.join("ip_rule.txt")) + count_lines(&dir.join("ip6_rule.txt"));
        let report = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
        println!(
            "| {kind} | {n} | {:.1} | {addrs} / {v4} + {v6} / {rules} | {cpu:.2} | {:.0} | {:.2} |",
            dir_bytes(&dir) as f64 / 1e6,
            rss as f64 / 1024.0,
            report as f64 / 1e6
        );
    }
}
