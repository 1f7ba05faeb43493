//! Kernel test of the fix advice: does applying the printed `ip` commands make a
//! host symmetric, without breaking anything, and does `undo` put it back?
//!
//! With a fixed seed, realistic multi-homed hosts, mostly asymmetric, are built
//! each in its own network namespace (`aro-kf-<pid>-<n>`, the far ends of its
//! veth links in a peer namespace `aro-kfp-<pid>-<n>`, both deleted by a guard
//! even on panic). Scenario kinds (IPv4, and IPv6 on about half of them):
//! two links in one subnet without rules (the classic EC2 case); links in
//! different subnets without rules (some with priorities crowded before a
//! `5: lookup main`, only 1 free: the fix's rules share it); the amazon-ec2-net-utils layout (`from A
//! lookup 1000N` at priority 1000N, per-ENI tables with the default and the
//! subnet route), correct and broken (a table without its default, a default
//! via the wrong link, a missing rule, the primary without its table);
//! wg-quick (wg0 a dummy or a veth; `not fwmark 0xca6c lookup 51820` at 32765,
//! `lookup main suppress_prefixlength 0` at 32764, `default dev wg0` in 51820);
//! tailscale (rules 5210–5270, table 52 with peers, an exit-node default or a
//! subnet route); one table shared by two links' rules; `throw` / `prohibit` /
//! `unreachable` / `blackhole` routes in per-link tables; onlink gateways (a
//! /32 address, or a gateway outside the link's prefix); IPv6 routers
//! `fe80::1` on several links with different metrics; a rule and a table per
//! address (5–12 secondary addresses in a row, `from A lookup T`, half with
//! `fwmark 0x1`, tables' defaults mostly by the other link). A quarter of the hosts
//! also get a docker0 (a bridge with a veth member, or a dummy) with
//! 172.17.0.1/16, some a `br-…` network too.
//!
//! Each host's `ip addr`, `ip rule`, `ip -6 rule`, `ip route show table all`,
//! `ip -6 route show table all` (and a `hostname` file; six in ten hosts of
//! the EC2 scenarios also an `instance-id`, kinds `…+ec2`) are written as a plain
//! host folder under `target/tmp/kernel-fixes/run-<pid>/`, and the binary runs
//! once on the folder of all hosts (`--format json --explain`). Before
//! anything is applied, every endpoint (a global address on an up link with
//! carrier) asks the kernel `ip -j route get DST from A` (no traffic is sent)
//! for a public address, the first/middle/last usable address of every
//! connected subnet and of every prefix routed in any table, and every
//! gateway (an internal link's endpoint, docker0's, only its own prefixes).
//!
//! A host whose `fix_status` is `verified` or `partial` then gets the printed
//! commands (a partial fix prints only its verified steps), one by one in step
//! order (`ip -n NS …`); refused ones are counted with their
//! error. The same probes are asked again and judged (`judge`): the host is
//! FIXED when every probe that left by another link now leaves by the
//! endpoint's own link, and a REGRESSION is any probe that was fine and
//! changed: one that left by the endpoint's own link or by an internal
//! (container) link, a local/broadcast answer, or an error from a route type
//! (unreachable, prohibit, blackhole) must stay exactly the same; "Network is
//! unreachable" (nothing matched) may only stay or become the own link. Then
//! every step's `undo` runs, in reverse step order, and the rule and route
//! dumps must equal the ones captured first. For a partial host, a probe of
//! an endpoint the report names in `fix_unverified` may stay a leak; every
//! other failure counts as for a verified host.
//!
//! Until the new fix engine lands the report has no `fix_status` / `undo`: a
//! missing `fix_status` reads as `verified` when the host has a non-empty `fix`
//! and no `fix_unverified`, `not-needed` for an `ok` host without a fix, else
//! `partial`; without `fix_status` a missing `undo` is counted, not failed.
//!
//! The test fails on any verified host not fixed, any regression, any refused
//! command, any undo failure or mismatch, any setup command refused. Each
//! failing host is saved under `target/tmp/kernel-fixes/failed/<host>` (the
//! dumps, `setup.sh` to rebuild the namespace, `report.json` with the tool's
//! JSON for it, `applied.txt`, `failures.txt`, and, when its fix was
//! applied, `fix.json` with every probe) to become an offline case.
//!
//! `ASYMROUTE_KERNEL_FIXES_SAVE=DIR` keeps every `verified` host as an
//! offline case (`kernel_fix_cases.rs` replays them without root against
//! the model): `DIR/<host>/` gets the dumps exactly as the tool read them
//! (`hostname`, `instance-id` when there is one) and `fix.json`: the seed,
//! the host number, the fix status, every step's commands (steps in order)
//! and undo (last step first), and per probe `{from, interface, dst,
//! before, after}` with the kernel's answers (`error`, or `type`, `dev`,
//! `gateway`), one per line (at most 40 per endpoint: one of each
//! distinct (before, after) pair, the rest spread evenly;
//! `ASYMROUTE_KERNEL_FIXES_SAVE_PROBES=N` changes the 40, 0 keeps all).
//!
//! Size: ~60 hosts by default (a few seconds); `ASYMROUTE_KERNEL_FIXES=large`
//! runs 400; `ASYMROUTE_KERNEL_FIXES_SEED=N` changes the seed,
//! `ASYMROUTE_KERNEL_FIXES_HOST=N` runs host N only,
//! `ASYMROUTE_KERNEL_FIXES_BIN=PATH` runs another build of the tool,
//! `ASYMROUTE_KERNEL_FIXES_KEEP=1` keeps the run folder,
//! Without root, `ip`,
//! or network namespaces the test prints `skipped: …` and passes.

#[path = "support/kernel.rs"]
mod kernel;

#[path = "support/rng.rs"]
mod rng;
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use rng::Rng;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt::Write as _;
use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

const NS_PREFIX: &str = "aro-kf-";
const PEER_PREFIX: &str = "aro-kfp-";

// ---------------------------------------------------------------- namespaces

fn skip_reason() -> Option<String> {
    match Command::new("id").arg("-u").output() {
        Ok(o) if String::from_utf8_lossy(&o.stdout).trim() == "0" => {}
        Ok(_) => return Some("not running as root".into()),
        Err(e) => return Some(format!("cannot run `id -u`: {e}")),
    }
    match Command::new("ip").arg("-V").output() {
        Ok(o) if o.status.success() => {}
        Ok(_) => return Some("`ip -V` failed".into()),
        Err(e) => return Some(format!("`ip` (iproute2) not found: {e}")),
    }
    // A pair of this run's names (unique in the process: the tests of this
    // file probe side by side).
    match Ns::create() {
        Ok(ns) => {
            drop(ns);
            None
        }
        Err(e) => Some(format!("network namespaces not permitted: {e}")),
    }
}

/// Removes namespaces of earlier runs of this test whose process is gone
/// (only `aro-kf-<pid>-…` / `aro-kfp-<pid>-…`).
fn sweep_stale() {
    let Ok(dir) = std::fs::read_dir("/var/run/netns") else {
        return;
    };
    for e in dir.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        let Some(rest) = name
            .strip_prefix(NS_PREFIX)
            .or_else(|| name.strip_prefix(PEER_PREFIX))
        else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = Command::new("ip").args(["netns", "del", &name]).output();
        }
    }
}

/// The host namespace and its peer namespace, both deleted on drop.
struct Ns {
    name: String,
    peer: String,
}

impl Ns {
    /// `aro-kf-<pid>-<k>` and `aro-kfp-<pid>-<k>`, k counting up in this
    /// process (the tests of this file run side by side).
    fn create() -> Result<Ns, String> {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        let mut ns = Ns {
            name: String::new(),
            peer: String::new(),
        };
        for (slot, name) in [
            (0, format!("{NS_PREFIX}{pid}-{n}")),
            (1, format!("{PEER_PREFIX}{pid}-{n}")),
        ] {
            let o = Command::new("ip")
                .args(["netns", "add", &name])
                .output()
                .map_err(|e| e.to_string())?;
            if !o.status.success() {
                return Err(format!(
                    "ip netns add {name}: {}",
                    String::from_utf8_lossy(&o.stderr).trim()
                ));
            }
            if slot == 0 {
                ns.name = name;
            } else {
                ns.peer = name;
            }
        }
        Ok(ns)
    }

    /// `ip -n NS ARGS…`: stdout, or the error text.
    fn ip(&self, args: &[&str]) -> Result<String, String> {
        let o = Command::new("ip")
            .arg("-n")
            .arg(&self.name)
            .args(args)
            .output()
            .map_err(|e| e.to_string())?;
        if o.status.success() {
            Ok(String::from_utf8_lossy(&o.stdout).into_owned())
        } else {
            let e = String::from_utf8_lossy(&o.stderr).trim().to_string();
            Err(if e.is_empty() {
                format!("exit status {}", o.status)
            } else {
                e
            })
        }
    }

    /// `ip -n NS|PEER OPTS -force -batch -`: per line, stdout or error text.
    fn batch(&self, peer: bool, opts: &[&str], lines: &[String]) -> Result<Vec<Batch>, String> {
        if lines.is_empty() {
            return Ok(Vec::new());
        }
        let ns = if peer { &self.peer } else { &self.name };
        let mut child = Command::new("ip")
            .args(["-n", ns])
            .args(opts)
            .args(["-force", "-batch", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("ip -batch: {e}"))?;
        let mut input = String::new();
        for l in lines {
            input.push_str(l);
            input.push('\n');
        }
        let mut stdin = child.stdin.take().expect("stdin");
        let writer = std::thread::spawn(move || {
            let _ = stdin.write_all(input.as_bytes());
        });
        let out = child
            .wait_with_output()
            .map_err(|e| format!("ip -batch: {e}"))?;
        let _ = writer.join();
        Ok(split_batch(
            lines.len(),
            &String::from_utf8_lossy(&out.stdout),
            &String::from_utf8_lossy(&out.stderr),
        ))
    }

    fn sh(&self, script: &str) -> Result<(), String> {
        let o = Command::new("ip")
            .args(["netns", "exec", &self.name, "sh", "-c", script])
            .output()
            .map_err(|e| e.to_string())?;
        if o.status.success() {
            Ok(())
        } else {
            Err(String::from_utf8_lossy(&o.stderr).trim().to_string())
        }
    }
}

impl Drop for Ns {
    fn drop(&mut self) {
        for n in [&self.name, &self.peer] {
            if !n.is_empty() {
                let _ = Command::new("ip").args(["netns", "del", n]).output();
            }
        }
    }
}

use kernel::BatchResult as Batch;

/// `kernel::split_batch`, with a failing line's messages on one line.
fn split_batch(n: usize, stdout: &str, stderr: &str) -> Vec<Batch> {
    kernel::split_batch(n, stdout, stderr)
        .into_iter()
        .map(|b| match b {
            Batch::Err(e) => Batch::Err(e.replace('\n', " / ")),
            ok => ok,
        })
        .collect()
}

// ---------------------------------------------------------------- generator

const KINDS: [&str; 12] = [
    "samesub",
    "diffsub",
    "ec2-ok",
    "ec2-broken",
    "wg-quick",
    "tailscale",
    "shared-table",
    "route-types",
    "onlink",
    "ipv6-routers",
    "ec2-broken",
    "per-address",
];

/// One uplink as generated.
#[derive(Clone)]
struct Lk {
    dev: String,
    n4: Ipv4Net,
    a4: Ipv4Addr,
    g4: Ipv4Addr,
    n6: Ipv6Net,
    a6: Ipv6Addr,
    g6: Ipv6Addr,
}

/// A host's setup, in the order it is applied: links (host namespace), peer
/// ends up (peer namespace), IPv4 and link state (host), IPv6 (`ip -6`).
#[derive(Default)]
struct Spec {
    name: String,
    kind: String,
    /// The bundle shows an EC2 instance: an `instance-id` file beside the
    /// dumps (the tool may then take the VPC router, base + 1, which is
    /// where the generator puts every IPv4 gateway).
    ec2: bool,
    links: Vec<String>,
    peer: Vec<String>,
    v4: Vec<String>,
    v6: Vec<String>,
}

const SYSCTL: &str = "set -e; cd /proc/sys/net; \
    echo 0 > ipv4/conf/all/rp_filter; echo 0 > ipv4/conf/default/rp_filter; \
    echo 0 > ipv4/ip_forward; echo 0 > ipv6/conf/all/forwarding; \
    echo 0 > ipv6/conf/all/accept_dad; echo 0 > ipv6/conf/default/accept_dad; \
    echo 0 > ipv6/conf/all/accept_ra; echo 0 > ipv6/conf/default/accept_ra";

impl Spec {
    /// A shell script that rebuilds the host (`NS` / `PEER` may be set).
    fn script(&self, seed: u64, n: usize) -> String {
        let mut s = format!(
            "#!/bin/sh\n# kernel_fixes host {n} of seed {seed:#x}: {} ({})\n\
             # rebuild: sh setup.sh (as root); remove: ip netns del $NS; ip netns del $PEER\n\
             set -e\nNS=${{NS:-aro-kf-manual}}\nPEER=${{PEER:-aro-kfp-manual}}\n\
             ip netns add \"$NS\"\nip netns add \"$PEER\"\n\
             ip netns exec \"$NS\" sh -c '{SYSCTL}'\n",
            self.name, self.kind
        );
        for l in &self.links {
            let _ = writeln!(s, "ip -n \"$NS\" {}", l.replace("{PEER}", "\"$PEER\""));
        }
        let _ = writeln!(s, "ip -n \"$PEER\" link set lo up");
        for l in &self.peer {
            let _ = writeln!(s, "ip -n \"$PEER\" {l}");
        }
        for l in &self.v4 {
            let _ = writeln!(s, "ip -n \"$NS\" {l}");
        }
        for l in &self.v6 {
            let _ = writeln!(s, "ip -n \"$NS\" -6 {l}");
        }
        s
    }
}

struct Gen<'r> {
    r: &'r mut Rng,
    s: Spec,
    npeer: usize,
    nets4: Vec<Ipv4Net>,
    nets6: Vec<Ipv6Net>,
    used: HashSet<IpAddr>,
    dummy_ok: bool,
}

impl Gen<'_> {
    fn veth(&mut self, dev: &str) {
        let p = format!("p{}", self.npeer);
        self.npeer += 1;
        self.s.links.push(format!(
            "link add {dev} type veth peer name {p} netns {{PEER}}"
        ));
        self.s.peer.push(format!("link set {p} up"));
        self.s.v4.push(format!("link set {dev} up"));
    }
    /// A dummy link; a veth with its peer up where the kernel has no
    /// `dummy` link type (both have carrier and no neighbours).
    fn dummy(&mut self, dev: &str) {
        if self.dummy_ok {
            self.s.links.push(format!("link add {dev} type dummy"));
            self.s.v4.push(format!("link set {dev} up"));
        } else {
            self.veth(dev);
        }
    }
    /// A tunnel's stand-in (wg0, tailscale0): NOARP, as real tunnels are
    /// (`<POINTOPOINT,NOARP,…>`), so routes straight into it need no router.
    fn noarp(&mut self, dev: &str) {
        self.s.links.push(format!("link set dev {dev} arp off"));
    }
    fn bridge_with_member(&mut self, dev: &str) {
        self.s.links.push(format!("link add {dev} type bridge"));
        let member = format!("veth{:07x}", self.r.below(1 << 28));
        self.veth(&member);
        self.s.v4.push(format!("link set {member} master {dev}"));
        self.s.v4.push(format!("link set {dev} up"));
    }
    fn v4(&mut self, l: impl Into<String>) {
        self.s.v4.push(l.into());
    }
    fn v6(&mut self, l: impl Into<String>) {
        self.s.v6.push(l.into());
    }
    fn addr4(&mut self, dev: &str, a: Ipv4Addr, plen: u8) {
        let brd = if plen <= 30 { " brd +" } else { "" };
        self.v4(format!("addr add {a}/{plen}{brd} dev {dev}"));
    }
    fn addr6(&mut self, dev: &str, a: Ipv6Addr, plen: u8) {
        self.v6(format!("addr add {a}/{plen} dev {dev} nodad"));
    }

    /// A fresh IPv4 subnet that overlaps none handed out so far.
    fn net4(&mut self) -> Ipv4Net {
        loop {
            let n = match self.r.below(3) {
                0 => Ipv4Net::new(
                    Ipv4Addr::new(10, self.r.range(0, 250) as u8, self.r.below(256) as u8, 0),
                    24,
                ),
                1 => Ipv4Net::new(Ipv4Addr::new(172, 31, (self.r.below(16) * 16) as u8, 0), 20),
                _ => Ipv4Net::new(Ipv4Addr::new(192, 168, self.r.below(256) as u8, 0), 24),
            }
            .unwrap();
            if !self
                .nets4
                .iter()
                .any(|m| m.contains(&n.network()) || n.contains(&m.network()))
            {
                self.nets4.push(n);
                return n;
            }
        }
    }
    fn net6(&mut self) -> Ipv6Net {
        loop {
            let n = Ipv6Net::new(
                Ipv6Addr::new(0x2001, 0xdb8, self.r.below(0x10000) as u16, 0, 0, 0, 0, 0),
                64,
            )
            .unwrap();
            if !self.nets6.contains(&n) {
                self.nets6.push(n);
                return n;
            }
        }
    }
    fn host4(&mut self, n: Ipv4Net) -> Ipv4Addr {
        let size = 1u64 << (32 - n.prefix_len());
        loop {
            let a =
                Ipv4Addr::from(u32::from(n.network()) + self.r.range(10, size.min(250) - 2) as u32);
            if self.used.insert(IpAddr::V4(a)) {
                return a;
            }
        }
    }
    fn host6(&mut self, n: Ipv6Net) -> Ipv6Addr {
        loop {
            let a = Ipv6Addr::from(u128::from(n.network()) + self.r.range(0x10, 0x2ff) as u128);
            if self.used.insert(IpAddr::V6(a)) {
                return a;
            }
        }
    }

    /// `count` veth uplinks eth0…, in one subnet (`same`) or one each, with
    /// addresses (IPv6 too when `v6`); no routes beyond the connected ones.
    fn uplinks(&mut self, first: usize, count: usize, same: bool, v6: bool) -> Vec<Lk> {
        let mut out: Vec<Lk> = Vec::new();
        for i in 0..count {
            let dev = format!("eth{}", first + i);
            let (n4, n6, g4, g6) = if same && i > 0 {
                (out[0].n4, out[0].n6, out[0].g4, out[0].g6)
            } else {
                let n4 = self.net4();
                let n6 = self.net6();
                let g4 = Ipv4Addr::from(u32::from(n4.network()) + 1);
                let g6 = if self.r.chance(0.6) {
                    "fe80::1".parse().unwrap()
                } else {
                    Ipv6Addr::from(u128::from(n6.network()) + 1)
                };
                (n4, n6, g4, g6)
            };
            let a4 = self.host4(n4);
            let a6 = self.host6(n6);
            self.veth(&dev);
            self.addr4(&dev, a4, n4.prefix_len());
            if v6 {
                self.addr6(&dev, a6, n6.prefix_len());
            }
            out.push(Lk {
                dev,
                n4,
                a4,
                g4,
                n6,
                a6,
                g6,
            });
        }
        out
    }

    /// The main table's default via the first link (and IPv6's).
    fn main_default(&mut self, l: &Lk, v6: bool) {
        self.v4(format!("route add default via {} dev {}", l.g4, l.dev));
        if v6 {
            self.v6(format!(
                "route add default via {} dev {} metric 1024",
                l.g6, l.dev
            ));
        }
    }

    /// An unrelated /16 (a routed prefix somewhere behind a gateway).
    fn far16(&mut self) -> Ipv4Net {
        loop {
            let n =
                Ipv4Net::new(Ipv4Addr::new(10, self.r.range(100, 250) as u8, 0, 0), 16).unwrap();
            if !self
                .nets4
                .iter()
                .any(|m| m.contains(&n.network()) || n.contains(&m.network()))
            {
                self.nets4.push(n);
                return n;
            }
        }
    }
    fn far6(&mut self) -> Ipv6Net {
        let n = self.net6();
        Ipv6Net::new(n.network(), 56).unwrap().trunc()
    }
}

/// The amazon-ec2-net-utils layout for link `i`: table 1000i with the default
/// and the subnet route, `from A lookup 1000i` at priority 1000i.
fn ec2_table(g: &mut Gen, i: usize, l: &Lk, v6: bool, default: bool, via: &Lk, rule: bool) {
    let t = 10000 + i;
    if default {
        g.v4(format!(
            "route add default via {} dev {} table {t}",
            via.g4, via.dev
        ));
    }
    g.v4(format!(
        "route add {} dev {} proto kernel scope link src {} table {t}",
        l.n4, l.dev, l.a4
    ));
    if rule {
        g.v4(format!("rule add from {} lookup {t} priority {t}", l.a4));
    }
    if v6 {
        if default {
            g.v6(format!(
                "route add default via {} dev {} table {t}",
                via.g6, via.dev
            ));
        }
        g.v6(format!("route add {} dev {} table {t}", l.n6, l.dev));
        if rule {
            g.v6(format!("rule add from {} lookup {t} priority {t}", l.a6));
        }
    }
}

fn generate(seed: u64, n: usize, dummy_ok: bool) -> Spec {
    let mut r = Rng(seed ^ (n as u64).wrapping_mul(0x2545_f491_4f6c_dd1d));
    let kind = KINDS[(n + (seed as usize % KINDS.len())) % KINDS.len()];
    let mut g = Gen {
        r: &mut r,
        s: Spec {
            kind: kind.to_string(),
            ..Spec::default()
        },
        npeer: 0,
        nets4: Vec::new(),
        nets6: Vec::new(),
        used: HashSet::new(),
        dummy_ok,
    };
    g.v4("link set lo up");
    let v6 = g.r.chance(0.5);
    let mut detail: Vec<String> = Vec::new();
    match kind {
        "samesub" => {
            let count = g.r.range(2, 3) as usize;
            let ls = g.uplinks(0, count, true, v6);
            g.main_default(&ls[0], v6);
            if g.r.chance(0.25) {
                let a = g.host4(ls[1].n4);
                g.addr4(&ls[1].dev, a, ls[1].n4.prefix_len());
                detail.push("secondary".into());
            }
        }
        "diffsub" => {
            let count = g.r.range(2, 4) as usize;
            let ls = g.uplinks(0, count, false, v6);
            g.main_default(&ls[0], v6);
            if g.r.chance(0.3) {
                // A static route behind the second link's gateway.
                let f = g.far16();
                g.v4(format!("route add {f} via {} dev {}", ls[1].g4, ls[1].dev));
                detail.push("static".into());
            }
            if g.r.chance(0.3) {
                // Priorities crowded before the deciding rule: only 1 is
                // free below `5: lookup main`, so the fix's rules for a
                // second endpoint share the one its first rule took.
                for p in 2..5 {
                    g.v4(format!("rule add from 198.51.100.{p} lookup 50 priority {p}"));
                }
                g.v4("rule add lookup main priority 5");
                detail.push("crowded".into());
            }
        }
        "ec2-ok" | "ec2-broken" | "route-types" => {
            let count = g.r.range(2, 3) as usize;
            let same = g.r.chance(0.5);
            let ls = g.uplinks(0, count, same, v6);
            detail.push(if same { "same" } else { "diff" }.into());
            // Main: every ENI's default, metric 512 + index (networkd).
            for (i, l) in ls.iter().enumerate() {
                g.v4(format!(
                    "route add default via {} dev {} metric {}",
                    l.g4,
                    l.dev,
                    512 + i
                ));
                if v6 {
                    g.v6(format!(
                        "route add default via {} dev {} metric {}",
                        l.g6,
                        l.dev,
                        1024 + i
                    ));
                }
            }
            let broken = (kind == "ec2-broken").then(|| g.r.below(4));
            let victim = if broken == Some(3) {
                0
            } else {
                g.r.range(1, count as u64 - 1) as usize
            };
            for (i, l) in ls.iter().enumerate() {
                let hit = victim == i && broken.is_some();
                let (default, via, rule, table) = match broken {
                    Some(0) if hit => (false, l, true, true),
                    Some(1) if hit => (true, &ls[0], true, true),
                    Some(2) if hit => (true, l, false, true),
                    Some(3) if hit => (true, l, false, false),
                    _ => (true, l, true, true),
                };
                if table {
                    ec2_table(&mut g, i, l, v6, default, via, rule);
                }
            }
            if let Some(b) = broken {
                detail.push(
                    ["no-default", "wrong-link", "no-rule", "primary-no-table"][b as usize].into(),
                );
            }
            if kind == "route-types" {
                // throw in eth1's table: falls through to main, which routes
                // the prefix by eth0; prohibit and blackhole in eth1's,
                // unreachable in eth0's.
                let (x, y, z, w) = (g.far16(), g.far16(), g.far16(), g.far16());
                g.v4(format!("route add {x} via {} dev {}", ls[0].g4, ls[0].dev));
                g.v4(format!("route add throw {x} table 10001"));
                g.v4(format!("route add prohibit {y} table 10001"));
                g.v4(format!("route add unreachable {z} table 10000"));
                g.v4(format!("route add blackhole {w} table 10001"));
                if v6 {
                    let (x6, y6, z6) = (g.far6(), g.far6(), g.far6());
                    g.v6(format!("route add {x6} via {} dev {}", ls[0].g6, ls[0].dev));
                    g.v6(format!("route add throw {x6} table 10001"));
                    g.v6(format!("route add prohibit {y6} table 10001"));
                    g.v6(format!("route add unreachable {z6} table 10000"));
                }
            }
        }
        "per-address" => {
            // A rule and a table per address (per-IP policy routing): 5 to
            // 12 secondary addresses in a row on eth1, each `from A lookup
            // T` at priority T (on half the hosts with `fwmark 0x1` too: a
            // selector the dumps cannot settle), each table's default by
            // eth0 (replies leak) or now and then by eth1.
            let ls = g.uplinks(0, 2, false, v6);
            g.main_default(&ls[0], v6);
            let mark = g.r.chance(0.5);
            detail.push(if mark { "fwmark" } else { "plain" }.into());
            let sel = if mark { " fwmark 0x1" } else { "" };
            let count = g.r.range(5, 12) as u32;
            let (n4, dev) = (ls[1].n4, ls[1].dev.clone());
            let first = loop {
                let a = u32::from(n4.network()) + g.r.range(100, 230) as u32;
                if (a..a + count).all(|x| !g.used.contains(&IpAddr::V4(Ipv4Addr::from(x)))) {
                    break a;
                }
            };
            for k in 0..count {
                let a = Ipv4Addr::from(first + k);
                g.used.insert(IpAddr::V4(a));
                g.addr4(&dev, a, n4.prefix_len());
                let t = 2000 + k;
                let via = if g.r.chance(0.2) { &ls[1] } else { &ls[0] };
                g.v4(format!("route add default via {} dev {} table {t}", via.g4, via.dev));
                g.v4(format!("route add {n4} dev {dev} table {t}"));
                g.v4(format!("rule add from {a}{sel} lookup {t} priority {t}"));
            }
        }
        "wg-quick" => {
            let count = g.r.range(1, 2) as usize;
            let ls = g.uplinks(0, count, false, v6);
            g.main_default(&ls[0], v6);
            if g.r.chance(0.5) {
                g.dummy("wg0");
                detail.push("dummy".into());
            } else {
                g.veth("wg0");
                detail.push("veth".into());
            }
            g.noarp("wg0");
            let w = Ipv4Addr::new(10, 66, g.r.below(256) as u8, g.r.range(2, 250) as u8);
            let plen = if g.r.chance(0.5) { 32 } else { 24 };
            g.addr4("wg0", w, plen);
            g.v4("rule add not fwmark 0xca6c lookup 51820 priority 32765");
            g.v4("rule add lookup main suppress_prefixlength 0 priority 32764");
            g.v4("route add default dev wg0 table 51820");
            if v6 {
                let w6 = Ipv6Addr::new(0xfd66, g.r.below(0x10000) as u16, 0, 0, 0, 0, 0, 2);
                g.addr6("wg0", w6, 64);
                g.v6("rule add not fwmark 0xca6c lookup 51820 priority 32765");
                g.v6("rule add lookup main suppress_prefixlength 0 priority 32764");
                g.v6("route add default dev wg0 table 51820");
            }
        }
        "tailscale" => {
            let count = g.r.range(1, 2) as usize;
            let ls = g.uplinks(0, count, false, v6);
            g.main_default(&ls[0], v6);
            g.dummy("tailscale0");
            g.noarp("tailscale0");
            let me = Ipv4Addr::new(100, 64 + g.r.below(64) as u8, g.r.below(256) as u8, g.r.range(1, 254) as u8);
            g.addr4("tailscale0", me, 32);
            for (p, what) in [
                (5210, "fwmark 0x80000/0xff0000 lookup main"),
                (5230, "fwmark 0x80000/0xff0000 lookup default"),
                (5250, "fwmark 0x80000/0xff0000 unreachable"),
                (5270, "lookup 52"),
            ] {
                g.v4(format!("rule add {what} priority {p}"));
                if v6 {
                    g.v6(format!("rule add {what} priority {p}"));
                }
            }
            g.v4("route add 100.100.100.100 dev tailscale0 table 52");
            for _ in 0..g.r.range(1, 3) {
                let p = Ipv4Addr::new(100, 64 + g.r.below(64) as u8, g.r.below(256) as u8, g.r.range(1, 254) as u8);
                if p != me {
                    g.v4(format!("route replace {p} dev tailscale0 table 52"));
                }
            }
            if g.r.chance(0.5) {
                g.v4("route add default dev tailscale0 table 52");
                detail.push("exit-node".into());
            }
            if count > 1 && g.r.chance(0.5) {
                let sup = Ipv4Net::new(ls[1].n4.network(), 16).unwrap().trunc();
                g.v4(format!("route add {sup} dev tailscale0 table 52"));
                detail.push("subnet-route".into());
            }
            if v6 {
                let me6 = Ipv6Addr::new(0xfd7a, 0x115c, 0xa1e0, 0, 0, 0, 0, g.r.range(1, 0xfff) as u16);
                g.addr6("tailscale0", me6, 128);
                g.v6("route add fd7a:115c:a1e0::/48 dev tailscale0 table 52");
            }
        }
        "shared-table" => {
            let count = g.r.range(2, 3) as usize;
            let same = g.r.chance(0.3);
            let ls = g.uplinks(0, count, same, v6);
            g.main_default(&ls[0], v6);
            // The first two links' rules share table 100 (eth0's routes);
            // a third link, if any, has a table of its own.
            for (i, l) in ls.iter().enumerate() {
                let t = if i < 2 { 100 } else { 100 + i };
                let via = if i < 2 { &ls[0] } else { l };
                if i != 1 {
                    g.v4(format!("route add default via {} dev {} table {t}", via.g4, via.dev));
                    g.v4(format!("route add {} dev {} scope link src {} table {t}", l.n4, l.dev, l.a4));
                    if v6 {
                        g.v6(format!("route add default via {} dev {} table {t}", via.g6, via.dev));
                        g.v6(format!("route add {} dev {} table {t}", l.n6, l.dev));
                    }
                }
                g.v4(format!("rule add from {} lookup {t} priority {}", l.a4, 100 + i));
                if v6 {
                    g.v6(format!("rule add from {} lookup {t} priority {}", l.a6, 100 + i));
                }
            }
        }
        "onlink" => {
            let ls = g.uplinks(0, 1, false, v6);
            let variant = g.r.below(3);
            match variant {
                // eth0 normal; eth1 a /32 with an onlink gateway.
                0 | 1 => {
                    g.main_default(&ls[0], v6);
                    g.veth("eth1");
                    let n = g.net4();
                    let a = g.host4(n);
                    let gw = Ipv4Addr::from(u32::from(n.network()) + 1);
                    let far = g.far16();
                    if variant == 0 {
                        g.addr4("eth1", a, 32);
                        g.v4(format!("route add {gw} dev eth1 scope link"));
                        g.v4(format!("route add {far} via {gw} dev eth1"));
                        detail.push("slash32-hostroute".into());
                    } else {
                        g.addr4("eth1", a, n.prefix_len());
                        let out = Ipv4Addr::new(192, 0, 2, g.r.range(1, 254) as u8);
                        g.v4(format!("route add {far} via {out} dev eth1 onlink"));
                        detail.push("gateway-outside-prefix".into());
                    }
                }
                // The primary is the /32 with an onlink default.
                _ => {
                    g.v4(format!("addr del {}/{} dev eth0", ls[0].a4, ls[0].n4.prefix_len()));
                    g.addr4("eth0", ls[0].a4, 32);
                    g.v4(format!("route add default via {} dev eth0 onlink", ls[0].g4));
                    if v6 {
                        g.v6(format!("route add default via {} dev eth0 metric 1024", ls[0].g6));
                    }
                    let more = g.r.range(1, 2) as usize;
                    g.uplinks(1, more, false, v6);
                    detail.push("primary-slash32".into());
                }
            }
        }
        _ /* ipv6-routers */ => {
            let count = g.r.range(2, 3) as usize;
            let same = g.r.chance(0.3);
            let ls = g.uplinks(0, count, same, true);
            g.v4(format!("route add default via {} dev {}", ls[0].g4, ls[0].dev));
            for (i, l) in ls.iter().enumerate() {
                g.v6(format!(
                    "route add default via fe80::1 dev {} proto ra metric {} pref medium",
                    l.dev,
                    1024 + 100 * i
                ));
            }
        }
    }
    // Container bridges.
    if g.r.chance(0.25) {
        if g.r.chance(0.6) {
            g.bridge_with_member("docker0");
            detail.push("docker-bridge".into());
        } else {
            g.dummy("docker0");
            detail.push("docker-dummy".into());
        }
        g.addr4("docker0", Ipv4Addr::new(172, 17, 0, 1), 16);
        if g.r.chance(0.3) {
            let br = format!("br-{:012x}", g.r.below(1 << 48));
            g.dummy(&br);
            g.addr4(&br, Ipv4Addr::new(172, 18, 0, 1), 16);
        }
    }
    let mut name = format!("h{n:03}-{kind}");
    for d in &detail {
        name.push('-');
        name.push_str(d);
    }
    if v6 || kind == "ipv6-routers" {
        name.push_str("-v6");
    }
    // Six in ten hosts of the EC2 scenarios carry their instance id; drawn
    // from a stream of its own, so the hosts themselves do not change.
    let ec2_kind = matches!(
        kind,
        "samesub"
            | "diffsub"
            | "ec2-ok"
            | "ec2-broken"
            | "route-types"
            | "shared-table"
            | "onlink"
            | "per-address"
    );
    if ec2_kind && Rng(seed ^ 0x0ec2 ^ (n as u64).wrapping_mul(7919)).chance(0.6) {
        g.s.ec2 = true;
        g.s.kind.push_str("+ec2");
        name.push_str("-ec2");
    }
    g.s.name = name;
    g.s
}

// ---------------------------------------------------------------- kernel state

const DUMPS: [(&str, &[&str]); 5] = [
    ("ip_addr.txt", &["addr"]),
    ("ip_rule.txt", &["rule"]),
    ("ip6_rule.txt", &["-6", "rule"]),
    ("ip_route.txt", &["route", "show", "table", "all"]),
    ("ip6_route.txt", &["-6", "route", "show", "table", "all"]),
];

/// The rule and route dumps (what `undo` must restore).
fn state(ns: &Ns) -> Result<Vec<(String, String)>, String> {
    DUMPS[1..]
        .iter()
        .map(|(f, a)| ns.ip(a).map(|t| (f.to_string(), t)))
        .collect()
}

/// An endpoint: a global address on an up link with carrier, not `lo`.
#[derive(Debug, Clone)]
struct Ep {
    addr: IpAddr,
    net: IpNet,
    dev: String,
    internal: bool,
}

/// Whether the tool counts `dev` as internal (a container link), by its
/// default patterns: the judge must use the tool's own definition.
fn internal(dev: &str) -> bool {
    static CLASS: std::sync::OnceLock<asymroute_offline::verdict::LinkClass> =
        std::sync::OnceLock::new();
    CLASS.get_or_init(Default::default).is_internal(dev)
}

fn endpoints(addr_json: &str) -> Vec<Ep> {
    let v: Value = serde_json::from_str(addr_json).unwrap_or(Value::Null);
    let mut out = Vec::new();
    for link in v.as_array().into_iter().flatten() {
        let dev = link["ifname"].as_str().unwrap_or("").to_string();
        let flags: Vec<&str> = link["flags"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| f.as_str())
            .collect();
        if dev == "lo" || !flags.contains(&"UP") || flags.contains(&"NO-CARRIER") {
            continue;
        }
        for a in link["addr_info"].as_array().into_iter().flatten() {
            if a["scope"].as_str() != Some("global") {
                continue;
            }
            let Some(addr) = a["local"].as_str().and_then(|s| s.parse::<IpAddr>().ok()) else {
                continue;
            };
            let plen = a["prefixlen"].as_u64().unwrap_or(32) as u8;
            let Ok(net) = IpNet::new(addr, plen) else {
                continue;
            };
            out.push(Ep {
                addr,
                net: net.trunc(),
                internal: internal(&dev),
                dev: dev.clone(),
            });
        }
    }
    out
}

/// Destinations that are never peers (as the tool: loopback, unspecified,
/// link-local, multicast, reserved, IPv4-mapped).
fn never_peer(a: IpAddr) -> bool {
    match a {
        IpAddr::V4(a) => {
            let o = a.octets()[0];
            o == 0 || o == 127 || o >= 224 || a.is_link_local()
        }
        IpAddr::V6(a) => {
            a.is_unspecified()
                || a.is_loopback()
                || a.is_multicast()
                || (a.segments()[0] & 0xffc0) == 0xfe80
                || a.to_ipv4_mapped().is_some()
        }
    }
}

/// First, middle and last usable address of a prefix.
fn spread(n: IpNet, out: &mut BTreeSet<IpAddr>) {
    match n {
        IpNet::V4(n) => {
            let b = u32::from(n.network()) as u64;
            let size = 1u64 << (32 - n.prefix_len());
            let offs: Vec<u64> = match size {
                1 => vec![0],
                2 => vec![0, 1],
                _ => vec![1, size / 2, size - 2],
            };
            for o in offs {
                out.insert(IpAddr::V4(Ipv4Addr::from((b + o) as u32)));
            }
        }
        IpNet::V6(n) => {
            let b = u128::from(n.network());
            let host = 128 - n.prefix_len() as u32;
            if host == 0 {
                out.insert(IpAddr::V6(n.network()));
                return;
            }
            let size_m1 = if host == 128 {
                u128::MAX
            } else {
                (1u128 << host) - 1
            };
            for o in [1, size_m1 / 2 + 1, size_m1] {
                out.insert(IpAddr::V6(Ipv6Addr::from(b + o.min(size_m1))));
            }
        }
    }
}

/// Every probe destination of the host: public addresses, connected subnets,
/// every routed prefix of every table and every gateway (never-peers left
/// out).
fn destinations(eps: &[Ep], routes4: &str, routes6: &str) -> BTreeSet<IpAddr> {
    let mut out = BTreeSet::new();
    out.insert("8.8.8.8".parse().unwrap());
    out.insert("2001:4860:4860::8888".parse().unwrap());
    for e in eps {
        spread(e.net, &mut out);
    }
    for text in [routes4, routes6] {
        let v: Value = serde_json::from_str(text).unwrap_or(Value::Null);
        for r in v.as_array().into_iter().flatten() {
            let kind = r["type"].as_str().unwrap_or("unicast");
            if ["local", "broadcast", "multicast", "anycast"].contains(&kind) {
                continue;
            }
            if let Some(d) = r["dst"].as_str().filter(|d| *d != "default") {
                let net = d
                    .parse::<IpNet>()
                    .ok()
                    .or_else(|| d.parse::<IpAddr>().ok().map(IpNet::from));
                if let Some(n) = net {
                    spread(n, &mut out);
                }
            }
            let mut gws: Vec<&Value> = vec![&r["gateway"]];
            for nh in r["nexthops"].as_array().into_iter().flatten() {
                gws.push(&nh["gateway"]);
            }
            for g in gws {
                if let Some(a) = g.as_str().and_then(|s| s.parse::<IpAddr>().ok()) {
                    out.insert(a);
                }
            }
        }
    }
    out.retain(|a| !never_peer(*a));
    out
}

/// The kernel's answer to one `route get` (serialized as
/// `support/kernel.rs`'s `Answer` reads it, for `fix.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct Answer {
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(rename = "type", skip_serializing_if = "String::is_empty")]
    kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    dev: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    gateway: Option<IpAddr>,
}

impl Answer {
    fn from_batch(b: &Batch) -> Answer {
        match b {
            Batch::Err(e) => Answer {
                error: Some(
                    e.split(" / ")
                        .find_map(|l| l.strip_prefix("RTNETLINK answers: "))
                        .unwrap_or(e)
                        .trim()
                        .to_string(),
                ),
                kind: String::new(),
                dev: None,
                gateway: None,
            },
            Batch::Ok(json) => {
                let v: Value = serde_json::from_str(json).unwrap_or(Value::Null);
                let o = &v[0];
                if o.is_null() {
                    return Answer {
                        error: Some(format!("unparsable `route get` output {json:?}")),
                        kind: String::new(),
                        dev: None,
                        gateway: None,
                    };
                }
                Answer {
                    error: None,
                    kind: o["type"].as_str().unwrap_or("unicast").to_string(),
                    dev: o["dev"].as_str().map(str::to_string),
                    gateway: o["gateway"]
                        .as_str()
                        .or_else(|| o["via"]["host"].as_str())
                        .and_then(|g| g.parse().ok()),
                }
            }
        }
    }

    fn unicast(dev: &str, gw: Option<&str>) -> Answer {
        Answer {
            error: None,
            kind: "unicast".into(),
            dev: Some(dev.into()),
            gateway: gw.map(|g| g.parse().unwrap()),
        }
    }

    fn err(e: &str) -> Answer {
        Answer {
            error: Some(e.into()),
            kind: String::new(),
            dev: None,
            gateway: None,
        }
    }
}

impl std::fmt::Display for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(e) = &self.error {
            return write!(f, "error {e:?}");
        }
        if self.kind != "unicast" {
            write!(f, "{} ", self.kind)?;
        }
        if let Some(g) = self.gateway {
            write!(f, "via {g} ")?;
        }
        write!(f, "dev {}", self.dev.as_deref().unwrap_or("?"))
    }
}

/// One (endpoint, destination) question.
#[derive(Debug, Clone)]
struct Probe {
    ep: usize,
    dst: IpAddr,
}

fn probes(eps: &[Ep], dsts: &BTreeSet<IpAddr>) -> Vec<Probe> {
    let mut out = Vec::new();
    for (i, e) in eps.iter().enumerate() {
        for d in dsts {
            if d.is_ipv6() != e.addr.is_ipv6() {
                continue;
            }
            // An internal link's endpoint only has its own prefix as peers.
            if e.internal && !eps.iter().any(|o| o.dev == e.dev && o.net.contains(d)) {
                continue;
            }
            out.push(Probe { ep: i, dst: *d });
        }
    }
    out
}

/// The kernel's answers. A gateway equal to the destination is dropped: the
/// next hop is the same neighbour whether a route names it as gateway or
/// reaches it directly (a per-link table's default towards the gateway
/// itself, where main had the gateway's host route).
fn ask(ns: &Ns, eps: &[Ep], ps: &[Probe]) -> Result<Vec<Answer>, String> {
    let lines: Vec<String> = ps
        .iter()
        .map(|p| format!("route get to {} from {}", p.dst, eps[p.ep].addr))
        .collect();
    Ok(ns
        .batch(false, &["-j"], &lines)?
        .iter()
        .zip(ps)
        .map(|(b, p)| {
            let mut a = Answer::from_batch(b);
            if a.gateway == Some(p.dst) {
                a.gateway = None;
            }
            a
        })
        .collect())
}

// ---------------------------------------------------------------- judge

#[derive(Debug, Default)]
struct Judgement {
    /// Probes that left by another link before.
    leaks_before: usize,
    /// … of which still not by the endpoint's own link after.
    not_fixed: Vec<String>,
    /// Probes fine before and different after.
    regressions: Vec<String>,
}

/// Errors that come from an explicit route type (or a rule action): a reply
/// there is dropped on purpose and must stay dropped.
fn deliberate(e: &str) -> bool {
    e != "Network is unreachable"
}

/// Judges one probe of endpoint link `own`: `before` and `after` the fix.
/// Returns `(was a leak, what went wrong)`.
fn judge_one(own: &str, before: &Answer, after: &Answer) -> (bool, Option<(bool, String)>) {
    let by = |a: &Answer, d: &str| {
        a.error.is_none() && a.kind == "unicast" && a.dev.as_deref() == Some(d)
    };
    let leak = before.error.is_none()
        && before.kind == "unicast"
        && before
            .dev
            .as_deref()
            .is_some_and(|d| d != own && !internal(d));
    if leak {
        if by(after, own) {
            return (true, None);
        }
        return (
            true,
            Some((
                false,
                format!("leak not fixed: before {before}, after {after}"),
            )),
        );
    }
    match &before.error {
        Some(e) if !deliberate(e) => {
            if after == before || by(after, own) {
                (false, None)
            } else {
                (false, Some((true, format!("no route before, now {after}"))))
            }
        }
        _ => {
            if after == before {
                (false, None)
            } else {
                (
                    false,
                    Some((true, format!("was fine ({before}), now {after}"))),
                )
            }
        }
    }
}

fn judge(eps: &[Ep], ps: &[Probe], before: &[Answer], after: &[Answer]) -> Judgement {
    let mut j = Judgement::default();
    for ((p, b), a) in ps.iter().zip(before).zip(after) {
        let e = &eps[p.ep];
        // A container link's prefix is no other endpoint's peer (the
        // tool's definition): replies there only must not change.
        if !e.internal && eps.iter().any(|o| o.internal && o.net.contains(&p.dst)) {
            if a != b {
                j.regressions.push(format!(
                    "from {} ({}) to {} (a container prefix): was {b}, now {a}",
                    e.addr, e.dev, p.dst
                ));
            }
            continue;
        }
        let (leak, bad) = judge_one(&e.dev, b, a);
        j.leaks_before += usize::from(leak);
        if let Some((regression, what)) = bad {
            let line = format!("from {} ({}) to {}: {what}", e.addr, e.dev, p.dst);
            if regression {
                j.regressions.push(line);
            } else {
                j.not_fixed.push(line);
            }
        }
    }
    j
}

// ---------------------------------------------------------------- the report

#[derive(Debug, Deserialize)]
struct RHost {
    #[serde(default)]
    host: String,
    #[serde(default)]
    hostname: Option<String>,
    #[serde(default)]
    verdict: String,
    #[serde(default)]
    endpoints: Vec<REp>,
    #[serde(default)]
    fix: Vec<Step>,
    #[serde(default)]
    fix_unverified: Value,
    #[serde(default)]
    fix_status: Option<String>,
    #[serde(default)]
    fix_reason: Option<String>,
}

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct REp {
    #[serde(default)]
    address: String,
    #[serde(default)]
    interface: String,
    #[serde(default)]
    family: String,
    #[serde(default)]
    verdict: Option<String>,
    #[serde(default)]
    leaks: Vec<Value>,
}

#[derive(Debug, Deserialize)]
struct Step {
    #[serde(default)]
    commands: Vec<String>,
    #[serde(default)]
    #[allow(dead_code)]
    notes: Vec<String>,
    /// `None`: the report has no `undo` (the engine before fix_status).
    #[serde(default)]
    undo: Option<Vec<String>>,
}

impl RHost {
    /// `fix_status`, or what the old report implies.
    fn status(&self) -> String {
        if let Some(s) = &self.fix_status {
            return s.clone();
        }
        let unverified = match &self.fix_unverified {
            Value::Null => false,
            Value::Array(a) => !a.is_empty(),
            _ => true,
        };
        if !self.fix.is_empty() && !unverified {
            "verified".into()
        } else if self.fix.is_empty() && self.verdict == "ok" {
            "not-needed".into()
        } else {
            "partial".into()
        }
    }
    /// The endpoints the report says its fix leaves asymmetric (`A on I`).
    fn unverified(&self) -> Vec<String> {
        match &self.fix_unverified {
            Value::Array(a) => a
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        }
    }

    fn reason(&self) -> String {
        if let Some(r) = &self.fix_reason {
            return r.clone();
        }
        match &self.fix_unverified {
            Value::Array(a) if !a.is_empty() => format!(
                "(no fix_reason) fix_unverified: {}",
                a.iter()
                    .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            _ if self.fix.is_empty() => {
                format!("(no fix_reason) empty fix, verdict {}", self.verdict)
            }
            _ => "(no fix_reason)".into(),
        }
    }
}

/// A reason with its addresses and prefixes replaced by `ADDR`, so that the
/// same reason on different hosts counts once.
fn shape(reason: &str) -> String {
    let mut out = String::new();
    let mut word = String::new();
    let flush = |w: &mut String, out: &mut String| {
        if w.parse::<IpAddr>().is_ok() || w.parse::<IpNet>().is_ok() {
            out.push_str("ADDR");
        } else {
            out.push_str(w);
        }
        w.clear();
    };
    for ch in reason.chars() {
        if ch.is_ascii_hexdigit() || ch == '.' || ch == ':' || ch == '/' {
            word.push(ch);
        } else {
            flush(&mut word, &mut out);
            out.push(ch);
        }
    }
    flush(&mut word, &mut out);
    out
}

/// `ip …` → `ip -n NS …`, one command; `Err` is the kernel's (or ip's) text.
fn apply(ns: &Ns, cmd: &str) -> Result<(), String> {
    let words: Vec<&str> = cmd.split_whitespace().collect();
    if words.first() != Some(&"ip") || words.len() < 2 {
        return Err("not an `ip` command".into());
    }
    ns.ip(&words[1..]).map(|_| ())
}

// ---------------------------------------------------------------- the run

struct Size {
    hosts: usize,
    chunk: usize,
}

fn size() -> (Size, &'static str) {
    match std::env::var("ASYMROUTE_KERNEL_FIXES").as_deref() {
        Ok("large") => (
            Size {
                hosts: 400,
                chunk: 100,
            },
            "large",
        ),
        _ => (
            Size {
                hosts: 60,
                chunk: 100,
            },
            "default",
        ),
    }
}

/// A host built, captured and asked before the tool runs.
struct Built {
    n: usize,
    spec: Spec,
    ns: Ns,
    dir: PathBuf,
    eps: Vec<Ep>,
    probes: Vec<Probe>,
    before: Vec<Answer>,
    state: Vec<(String, String)>,
}

/// Whether `ip link add … type dummy` works (the kernel has the module).
fn dummy_supported() -> bool {
    static OK: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *OK.get_or_init(|| {
        let Ok(ns) = Ns::create() else {
            return false;
        };
        ns.ip(&["link", "add", "d0", "type", "dummy"]).is_ok()
    })
}

fn build(n: usize, seed: u64, run: &Path) -> Result<Built, String> {
    let spec = generate(seed, n, dummy_supported());
    let ns = Ns::create()?;
    ns.sh(SYSCTL).map_err(|e| format!("sysctl: {e}"))?;
    let links: Vec<String> = spec
        .links
        .iter()
        .map(|l| l.replace("{PEER}", &ns.peer))
        .collect();
    let mut refused = Vec::new();
    let peer_lo = vec!["link set lo up".to_string()];
    for (peer, opts, lines) in [
        (false, &[][..], &links),
        (true, &[][..], &peer_lo),
        (true, &[][..], &spec.peer),
        (false, &[][..], &spec.v4),
        (false, &["-6"][..], &spec.v6),
    ] {
        for (l, r) in lines.iter().zip(ns.batch(peer, opts, lines)?) {
            if let Batch::Err(e) = r {
                refused.push(format!("ip {} {l}: {e}", opts.join(" ")));
            }
        }
    }
    if !refused.is_empty() {
        return Err(format!(
            "host {n} ({}): setup refused by the kernel:\n  {}\n{}",
            spec.name,
            refused.join("\n  "),
            spec.script(seed, n)
        ));
    }
    let dir = run.join(&spec.name);
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    for (f, args) in DUMPS {
        let t = ns.ip(args)?;
        std::fs::write(dir.join(f), t).map_err(|e| e.to_string())?;
    }
    std::fs::write(dir.join("hostname"), format!("{}\n", spec.name)).map_err(|e| e.to_string())?;
    if spec.ec2 {
        std::fs::write(dir.join("instance-id"), format!("i-0{:016x}\n", n))
            .map_err(|e| e.to_string())?;
    }
    let eps = endpoints(&ns.ip(&["-j", "addr"])?);
    let dsts = destinations(
        &eps,
        &ns.ip(&["-j", "route", "show", "table", "all"])?,
        &ns.ip(&["-j", "-6", "route", "show", "table", "all"])?,
    );
    let probes = probes(&eps, &dsts);
    let before = ask(&ns, &eps, &probes)?;
    let state = state(&ns)?;
    Ok(Built {
        n,
        spec,
        ns,
        dir,
        eps,
        probes,
        before,
        state,
    })
}

#[derive(Default)]
struct Counts {
    hosts: usize,
    asym_kernel: usize,
    asym_tool: usize,
    status: BTreeMap<String, usize>,
    fixed: usize,
    not_fixed: usize,
    regressions: usize,
    regression_hosts: usize,
    commands: usize,
    refused: usize,
    undo_failed: usize,
    undo_mismatch: usize,
    undo_missing: usize,
    /// Hosts the tool says need nothing while the kernel shows a leak.
    not_needed_but_leaks: usize,
    /// status → reason shape → (hosts, first host).
    reasons: BTreeMap<String, BTreeMap<String, (usize, String)>>,
    /// Partial hosts whose verified steps were applied.
    partial_applied: usize,
    partial_fixed: usize,
    partial_refused: usize,
    partial_regression_hosts: usize,
    partial_refusals: BTreeSet<String>,
    setup_failures: Vec<String>,
    failed_hosts: Vec<String>,
    /// kind → [hosts, verified, verified and fixed, failed].
    by_kind: BTreeMap<String, [usize; 4]>,
    /// `ASYMROUTE_KERNEL_FIXES_SAVE`: hosts and probes written.
    saved: usize,
    saved_probes: usize,
}

/// Applies a verified host's fix, judges it, undoes it; returns the
/// failure lines (empty: the host passed) and the answers to the probes
/// with the fix applied.
fn check_fix(
    b: &Built,
    h: &RHost,
    new_engine: bool,
    c: &mut Counts,
    applied: &mut String,
) -> Result<(Vec<String>, Vec<Answer>), String> {
    let mut fails = Vec::new();
    for (si, step) in h.fix.iter().enumerate() {
        for cmd in &step.commands {
            c.commands += 1;
            match apply(&b.ns, cmd) {
                Ok(()) => {
                    let _ = writeln!(applied, "step {si}: {cmd}");
                }
                Err(e) => {
                    c.refused += 1;
                    let _ = writeln!(applied, "step {si}: {cmd}    # REFUSED: {e}");
                    fails.push(format!("refused: `{cmd}`: {e}"));
                }
            }
        }
    }
    let after = ask(&b.ns, &b.eps, &b.probes)?;
    let j = judge(&b.eps, &b.probes, &b.before, &after);
    if j.not_fixed.is_empty() && j.regressions.is_empty() && fails.is_empty() {
        c.fixed += 1;
    } else {
        c.not_fixed += 1;
    }
    c.regressions += j.regressions.len();
    c.regression_hosts += usize::from(!j.regressions.is_empty());
    for l in &j.not_fixed {
        fails.push(format!("not fixed: {l}"));
    }
    for l in &j.regressions {
        fails.push(format!("REGRESSION: {l}"));
    }
    // Undo, last step first.
    let mut undo_given = true;
    for (si, step) in h.fix.iter().enumerate().rev() {
        match &step.undo {
            None if !step.commands.is_empty() => undo_given = false,
            None => {}
            Some(u) => {
                for cmd in u {
                    match apply(&b.ns, cmd) {
                        Ok(()) => {
                            let _ = writeln!(applied, "undo {si}: {cmd}");
                        }
                        Err(e) => {
                            c.undo_failed += 1;
                            let _ = writeln!(applied, "undo {si}: {cmd}    # FAILED: {e}");
                            fails.push(format!("undo failed: `{cmd}`: {e}"));
                        }
                    }
                }
            }
        }
    }
    if !undo_given {
        if new_engine {
            c.undo_mismatch += 1;
            fails.push("a step with commands has no `undo`".into());
        } else {
            c.undo_missing += 1;
        }
    } else {
        let now = state(&b.ns)?;
        let mut differ = Vec::new();
        for ((f, was), (_, is)) in b.state.iter().zip(&now) {
            if was != is {
                differ.push(format!(
                    "{f} after undo differs:\n--- before\n{was}--- after undo\n{is}"
                ));
            }
        }
        if !differ.is_empty() {
            c.undo_mismatch += 1;
            fails.extend(differ);
        }
    }
    Ok((fails, after))
}

/// At most this many probes per endpoint in a `fix.json` under
/// `ASYMROUTE_KERNEL_FIXES_SAVE` (`ASYMROUTE_KERNEL_FIXES_SAVE_PROBES`, 0:
/// all; a failed host keeps them all).
fn save_probes() -> Option<usize> {
    match std::env::var("ASYMROUTE_KERNEL_FIXES_SAVE_PROBES")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        Some(0) => None,
        Some(n) => Some(n),
        None => Some(40),
    }
}

/// The host's dumps as the tool read them, `hostname` and `instance-id`
/// (when there is one) included.
fn copy_dumps(b: &Built, dir: &Path) -> std::io::Result<()> {
    for f in DUMPS
        .iter()
        .map(|(f, _)| *f)
        .chain(["hostname", "instance-id"])
    {
        let from = b.dir.join(f);
        if from.is_file() {
            std::fs::copy(&from, dir.join(f))?;
        }
    }
    Ok(())
}

/// The probes a `fix.json` keeps, in probe order: all of them (`cap`
/// `None`), else per endpoint at most `cap`: the first probe of each
/// distinct (before, after) pair, then the others spread evenly.
fn keep_probes(b: &Built, after: &[Answer], cap: Option<usize>) -> Vec<usize> {
    let mut keep = Vec::new();
    for ep in 0..b.eps.len() {
        let idx: Vec<usize> = (0..b.probes.len())
            .filter(|&i| b.probes[i].ep == ep)
            .collect();
        let cap = match cap {
            Some(cap) if idx.len() > cap => cap,
            _ => {
                keep.extend(idx);
                continue;
            }
        };
        let mut chosen = BTreeSet::new();
        let mut pairs: Vec<(&Answer, &Answer)> = Vec::new();
        for &i in &idx {
            let pair = (&b.before[i], &after[i]);
            if chosen.len() < cap && !pairs.contains(&pair) {
                pairs.push(pair);
                chosen.insert(i);
            }
        }
        let rest: Vec<usize> = idx.into_iter().filter(|i| !chosen.contains(i)).collect();
        let free = cap - chosen.len();
        for k in 0..free {
            chosen.insert(rest[k * rest.len() / free]);
        }
        keep.extend(chosen);
    }
    keep.sort_unstable();
    keep
}

/// Writes `dir/fix.json` (see the module doc); returns the probes written.
fn write_fix_json(
    dir: &Path,
    b: &Built,
    seed: u64,
    h: &RHost,
    after: &[Answer],
    cap: Option<usize>,
) -> std::io::Result<usize> {
    let cases: Vec<kernel::FixCase<&Answer>> = keep_probes(b, after, cap)
        .into_iter()
        .map(|i| {
            let p = &b.probes[i];
            let e = &b.eps[p.ep];
            kernel::FixCase {
                from: e.addr,
                interface: e.dev.clone(),
                dst: p.dst,
                before: &b.before[i],
                after: &after[i],
            }
        })
        .collect();
    let commands: Vec<&String> = h.fix.iter().flat_map(|s| &s.commands).collect();
    let undo: Vec<&String> = h
        .fix
        .iter()
        .rev()
        .flat_map(|s| s.undo.iter().flatten())
        .collect();
    let description = format!(
        "kernel_fixes host {} of seed {seed:#x} ({}): the printed fix applied in its namespace; \
         the kernel's `ip -j route get DST from FROM` before and after it ({} of {} probes)",
        b.n,
        b.spec.kind,
        cases.len(),
        b.probes.len()
    );
    kernel::write_case_file(
        &dir.join("fix.json"),
        &[
            ("description", Value::from(description)),
            ("seed", Value::from(seed)),
            ("host", Value::from(b.n)),
            ("fix_status", Value::from(h.status())),
            ("commands", serde_json::to_value(&commands)?),
            ("undo", serde_json::to_value(&undo)?),
        ],
        &cases,
    )?;
    Ok(cases.len())
}

/// `ASYMROUTE_KERNEL_FIXES_SAVE`: `base/<host>/` with the dumps and
/// `fix.json`; returns the folder and the probes written.
fn save_case(
    base: &Path,
    b: &Built,
    seed: u64,
    h: &RHost,
    after: &[Answer],
) -> Result<(PathBuf, usize), String> {
    let dir = base.join(&b.spec.name);
    let err = |e: std::io::Error| format!("{}: {e}", dir.display());
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(err)?;
    copy_dumps(b, &dir).map_err(err)?;
    let n = write_fix_json(&dir, b, seed, h, after, save_probes()).map_err(err)?;
    Ok((dir, n))
}

fn save_failed(
    base: &Path,
    b: &Built,
    seed: u64,
    raw: Option<&Value>,
    fix: Option<(&RHost, &[Answer])>,
    applied: &str,
    fails: &[String],
) -> PathBuf {
    let dir = base.join(&b.spec.name);
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::create_dir_all(&dir);
    let _ = copy_dumps(b, &dir);
    if let Some((h, after)) = fix {
        let _ = write_fix_json(&dir, b, seed, h, after, None);
    }
    let _ = std::fs::write(dir.join("setup.sh"), b.spec.script(seed, b.n));
    if let Some(v) = raw {
        let _ = std::fs::write(
            dir.join("report.json"),
            serde_json::to_string_pretty(v).unwrap_or_default(),
        );
    }
    let _ = std::fs::write(dir.join("applied.txt"), applied);
    let mut t = format!(
        "host {} of seed {seed:#x} ({}): rerun with ASYMROUTE_KERNEL_FIXES_SEED={seed} ASYMROUTE_KERNEL_FIXES_HOST={}\n",
        b.n, b.spec.kind, b.n
    );
    for f in fails {
        t.push_str(f);
        t.push('\n');
    }
    let _ = std::fs::write(dir.join("failures.txt"), t);
    dir
}

fn tool() -> PathBuf {
    std::env::var_os("ASYMROUTE_KERNEL_FIXES_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_asymroute-offline")))
}

fn run_chunk(
    hosts: &[usize],
    seed: u64,
    run: &Path,
    failed: &Path,
    c: &mut Counts,
    examples: &mut Vec<String>,
) {
    let save = std::env::var_os("ASYMROUTE_KERNEL_FIXES_SAVE").map(PathBuf::from);
    let mut built = Vec::new();
    for &n in hosts {
        match build(n, seed, run) {
            Ok(b) => built.push(b),
            Err(e) => c.setup_failures.push(e),
        }
    }
    if built.is_empty() {
        return;
    }
    let out = Command::new(tool())
        .arg(run)
        .args(["--format", "json", "--explain"])
        .output()
        .expect("run asymroute-offline");
    let code = out.status.code().unwrap_or(-1);
    assert!(
        [0, 1, 3].contains(&code),
        "asymroute-offline exit {code}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("the report is JSON");
    let mut by_name: HashMap<String, Value> = HashMap::new();
    for h in report["hosts"].as_array().into_iter().flatten() {
        let name = h["hostname"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| {
                h["host"]
                    .as_str()
                    .unwrap_or("")
                    .rsplit('/')
                    .next()
                    .unwrap_or("")
                    .to_string()
            });
        by_name.insert(name, h.clone());
    }
    for b in &built {
        c.hosts += 1;
        // A folder of an earlier run of this host is stale now.
        let _ = std::fs::remove_dir_all(failed.join(&b.spec.name));
        let raw = by_name.get(&b.spec.name);
        let mut applied = String::new();
        let mut fails: Vec<String> = Vec::new();
        let leaks_before = judge(&b.eps, &b.probes, &b.before, &b.before).leaks_before;
        let fixed_so_far = c.fixed;
        let mut verified_here = false;
        // The verified fix as applied, and the answers with it.
        let mut fixed_as: Option<(RHost, Vec<Answer>)> = None;
        // (set once the report is read)
        c.asym_kernel += usize::from(leaks_before > 0);
        match raw.map(|v| serde_json::from_value::<RHost>(v.clone())) {
            None => fails.push("host missing from the report".into()),
            Some(Err(e)) => fails.push(format!("host unreadable in the report: {e}")),
            Some(Ok(h)) => {
                let _ = (&h.host, &h.hostname, &h.endpoints);
                c.asym_tool += usize::from(h.verdict == "asymmetric");
                let status = h.status();
                verified_here = status == "verified";
                *c.status.entry(status.clone()).or_default() += 1;
                match status.as_str() {
                    "verified" => match check_fix(b, &h, h.fix_status.is_some(), c, &mut applied) {
                        Ok((f, after)) => {
                            fails.extend(f);
                            fixed_as = Some((h, after));
                        }
                        Err(e) => fails.push(format!("harness: {e}")),
                    },
                    "not-needed" => {
                        if leaks_before > 0 {
                            c.not_needed_but_leaks += 1;
                        }
                    }
                    other => {
                        let e = c
                            .reasons
                            .entry(other.to_string())
                            .or_default()
                            .entry(shape(&h.reason()))
                            .or_insert((0, b.spec.name.clone()));
                        e.0 += 1;
                        if !h.fix.is_empty() {
                            // A partial fix prints its verified steps: they
                            // must apply, fix every endpoint they do not
                            // name as left, change nothing else, and undo.
                            let mut pc = Counts::default();
                            match check_fix(b, &h, h.fix_status.is_some(), &mut pc, &mut applied) {
                                Ok((f, _)) => {
                                    c.partial_applied += 1;
                                    c.partial_refused += pc.refused;
                                    c.partial_regression_hosts += pc.regression_hosts;
                                    c.commands += pc.commands;
                                    c.refused += pc.refused;
                                    c.regressions += pc.regressions;
                                    c.undo_failed += pc.undo_failed;
                                    c.undo_mismatch += pc.undo_mismatch;
                                    let left = h.unverified();
                                    for l in f {
                                        let of_left =
                                            l.strip_prefix("not fixed: from ").is_some_and(|r| {
                                                let mut w = r.split_whitespace();
                                                let (a, d) = (
                                                    w.next().unwrap_or(""),
                                                    w.next().unwrap_or(""),
                                                );
                                                let d =
                                                    d.trim_start_matches('(').trim_end_matches(')');
                                                left.contains(&format!("{a} on {d}"))
                                            });
                                        if !of_left {
                                            if let Some(r) = l.strip_prefix("refused") {
                                                c.partial_refusals.insert(shape(r));
                                            }
                                            fails.push(format!("partial: {l}"));
                                        }
                                    }
                                    c.partial_fixed += usize::from(fails.is_empty());
                                }
                                Err(e) => fails.push(format!("harness: {e}")),
                            }
                        }
                    }
                }
            }
        }
        if let (Some(save), Some((h, after))) = (&save, &fixed_as) {
            match save_case(save, b, seed, h, after) {
                Ok((_, n)) => {
                    c.saved += 1;
                    c.saved_probes += n;
                }
                Err(e) => fails.push(format!("harness: ASYMROUTE_KERNEL_FIXES_SAVE: {e}")),
            }
        }
        let k = c.by_kind.entry(b.spec.kind.clone()).or_default();
        k[0] += 1;
        k[1] += usize::from(verified_here);
        k[2] += usize::from(c.fixed > fixed_so_far);
        k[3] += usize::from(!fails.is_empty());
        if !fails.is_empty() {
            let fix = fixed_as.as_ref().map(|(h, a)| (h, a.as_slice()));
            let dir = save_failed(failed, b, seed, raw, fix, &applied, &fails);
            c.failed_hosts.push(b.spec.name.clone());
            if examples.len() < 40 {
                examples.push(format!(
                    "{} ({} failure(s), saved in {}):\n    {}",
                    b.spec.name,
                    fails.len(),
                    dir.display(),
                    fails
                        .iter()
                        .take(4)
                        .map(|f| f.lines().next().unwrap_or(""))
                        .collect::<Vec<_>>()
                        .join("\n    ")
                ));
            }
        }
    }
}

#[test]
fn kernel_fixes() {
    if let Some(why) = skip_reason() {
        eprintln!("kernel_fixes: skipped: {why}");
        return;
    }
    sweep_stale();
    if !dummy_supported() {
        eprintln!("kernel_fixes: no `dummy` link type in this kernel: veths stand in for dummies");
    }
    let (size, label) = size();
    let seed: u64 = std::env::var("ASYMROUTE_KERNEL_FIXES_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_0f1c);
    let only: Option<usize> = std::env::var("ASYMROUTE_KERNEL_FIXES_HOST")
        .ok()
        .and_then(|s| s.parse().ok());
    let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("kernel-fixes");
    let run = base.join(format!("run-{}", std::process::id()));
    let failed = base.join("failed");
    let t0 = Instant::now();
    let mut c = Counts::default();
    let mut examples = Vec::new();
    let hosts: Vec<usize> = match only {
        Some(n) => vec![n],
        None => (0..size.hosts).collect(),
    };
    for chunk in hosts.chunks(size.chunk) {
        let _ = std::fs::remove_dir_all(&run);
        std::fs::create_dir_all(&run).expect("run folder");
        run_chunk(chunk, seed, &run, &failed, &mut c, &mut examples);
    }
    if std::env::var_os("ASYMROUTE_KERNEL_FIXES_KEEP").is_some() {
        eprintln!("kernel_fixes: run folder kept: {}", run.display());
    } else {
        let _ = std::fs::remove_dir_all(&run);
    }
    let verified = c.status.get("verified").copied().unwrap_or(0);
    let needing = c.hosts - c.status.get("not-needed").copied().unwrap_or(0);
    eprintln!(
        "kernel_fixes ({label}, seed {seed:#x}, {}): {} hosts generated, {} asymmetric by the kernel, {} by the tool; \
         fix_status {:?}; verified {verified} of {needing} needing a fix ({:.0} %); \
         verified and fixed as given: {} ({} not); regressions: {} probe(s) on {} host(s); \
         commands: {} applied, {} refused; undo: {} failed, {} mismatch(es), {} host(s) without undo (old report); \
         not-needed but the kernel shows leaks: {}; {:.1} s",
        tool().display(),
        c.hosts,
        c.asym_kernel,
        c.asym_tool,
        c.status,
        if needing == 0 {
            0.0
        } else {
            100.0 * verified as f64 / needing as f64
        },
        c.fixed,
        c.not_fixed,
        c.regressions,
        c.regression_hosts,
        c.commands,
        c.refused,
        c.undo_failed,
        c.undo_mismatch,
        c.undo_missing,
        c.not_needed_but_leaks,
        t0.elapsed().as_secs_f64()
    );
    if let Some(dir) = std::env::var_os("ASYMROUTE_KERNEL_FIXES_SAVE") {
        eprintln!(
            "  ASYMROUTE_KERNEL_FIXES_SAVE: {} verified host(s), {} probe(s) saved under {}",
            c.saved,
            c.saved_probes,
            Path::new(&dir).display()
        );
    }
    eprintln!("  by kind (hosts / verified / fixed as given / failed):");
    for (kind, [h, v, f, x]) in &c.by_kind {
        eprintln!("    {kind:<14} {h:>4} {v:>4} {f:>4} {x:>4}");
    }
    eprintln!(
        "  partial fixes (their verified steps) applied on {} host(s): {} as the report says \
         (every endpoint fixed but those it names as left), {} command(s) refused, {} host(s) with regressions",
        c.partial_applied, c.partial_fixed, c.partial_refused, c.partial_regression_hosts
    );
    for r in &c.partial_refusals {
        eprintln!("    {r}");
    }
    for (status, reasons) in &c.reasons {
        eprintln!("  {status}: {} distinct reason(s)", reasons.len());
        for (r, (k, first)) in reasons {
            eprintln!("    {k} × {r}   (e.g. {first})");
        }
    }
    for e in &examples {
        eprintln!("  {e}");
    }
    assert!(
        c.setup_failures.is_empty(),
        "hosts the generator could not build:\n{}",
        c.setup_failures.join("\n")
    );
    assert!(
        c.failed_hosts.is_empty(),
        "{} host(s) failed (fixes not working, regressions, refused commands or undo mismatches; \
         first ones above, saved under {})",
        c.failed_hosts.len(),
        failed.display()
    );
}

// ---------------------------------------------------------------- the judge itself

/// The judge without a kernel: a fix that moves the leak home passes; one
/// that leaves it, drops it, or moves a fine probe fails.
#[test]
fn judge_catches_wrong_fixes() {
    let eth0 = Answer::unicast("eth0", Some("10.0.1.1"));
    let eth1 = Answer::unicast("eth1", Some("10.0.1.1"));
    let eth1_direct = Answer::unicast("eth1", None);
    let docker = Answer::unicast("docker0", None);
    let prohibit = Answer::err("Permission denied");
    let nothing = Answer::err("Network is unreachable");
    // Endpoint on eth1; the reply left by eth0.
    assert_eq!(judge_one("eth1", &eth0, &eth1), (true, None));
    assert_eq!(judge_one("eth1", &eth0, &eth1_direct), (true, None));
    assert!(matches!(
        judge_one("eth1", &eth0, &eth0),
        (true, Some((false, _)))
    ));
    assert!(matches!(
        judge_one("eth1", &eth0, &prohibit),
        (true, Some((false, _)))
    ));
    // Fine before: own link, container link, deliberate error.
    assert_eq!(judge_one("eth1", &eth1, &eth1), (false, None));
    assert!(matches!(
        judge_one("eth1", &eth1, &eth1_direct),
        (false, Some((true, _)))
    ));
    assert!(matches!(
        judge_one("eth0", &eth0, &eth1),
        (false, Some((true, _)))
    ));
    assert_eq!(judge_one("eth0", &docker, &docker), (false, None));
    assert!(matches!(
        judge_one("eth0", &docker, &eth0),
        (false, Some((true, _)))
    ));
    assert!(matches!(
        judge_one("eth1", &prohibit, &eth1),
        (false, Some((true, _)))
    ));
    // Nothing matched before: staying so or going home is fine.
    assert_eq!(judge_one("eth1", &nothing, &eth1), (false, None));
    assert!(matches!(
        judge_one("eth1", &nothing, &eth0),
        (false, Some((true, _)))
    ));
}

/// The judge against the kernel: the classic two-links-in-one-subnet host,
/// a correct hand-written fix (per-link table and rule) passes, a wrong one
/// (eth1's rule to a table whose default leaves by eth0) does not, and one
/// that moves eth0's replies too is a regression.
#[test]
fn judge_against_kernel_manual_fixes() {
    if let Some(why) = skip_reason() {
        eprintln!("kernel_fixes: skipped: {why}");
        return;
    }
    sweep_stale();
    let run = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("kernel-fixes")
        .join(format!("manual-{}", std::process::id()));
    // Host 10000+k: outside the generated range, so the names never clash.
    let fixes: [(&str, &[&str], bool, bool); 3] = [
        (
            "correct",
            &[
                "ip route add default via GW dev eth1 table 10001",
                "ip route add NET dev eth1 src A1 table 10001",
                "ip rule add from A1 lookup 10001 priority 10001",
            ],
            true,
            false,
        ),
        (
            "wrong-link",
            &[
                "ip route add default via GW dev eth0 table 10001",
                "ip route add NET dev eth0 table 10001",
                "ip rule add from A1 lookup 10001 priority 10001",
            ],
            false,
            false,
        ),
        (
            "everything-by-eth1",
            &[
                "ip route add default via GW dev eth1 table 10001",
                "ip route add NET dev eth1 table 10001",
                "ip rule add lookup 10001 priority 10001",
            ],
            true,
            true,
        ),
    ];
    for (k, (what, cmds, fixes_leaks, regresses)) in fixes.iter().enumerate() {
        let mut b = None;
        // Find a generated samesub host (same seed: deterministic).
        for n in 0..200 {
            let s = generate(1, n, dummy_supported());
            if s.kind == "samesub" && !s.name.contains("secondary") {
                let mut built = build(n, 1, &run).expect("build");
                built.spec.name = format!("manual-{k}");
                b = Some(built);
                break;
            }
        }
        let b = b.expect("a samesub host");
        let e1 = b
            .eps
            .iter()
            .find(|e| e.dev == "eth1" && e.addr.is_ipv4())
            .unwrap();
        let gw = b
            .before
            .iter()
            .zip(&b.probes)
            .find(|(a, p)| {
                p.dst == IpAddr::from([8, 8, 8, 8])
                    && a.gateway.is_some()
                    && b.eps[p.ep].addr == e1.addr
            })
            .and_then(|(a, _)| a.gateway)
            .unwrap();
        for c in cmds.iter() {
            let c = c
                .replace("GW", &gw.to_string())
                .replace("NET", &e1.net.to_string())
                .replace("A1", &e1.addr.to_string());
            apply(&b.ns, &c).unwrap_or_else(|e| panic!("{what}: `{c}`: {e}"));
        }
        let after = ask(&b.ns, &b.eps, &b.probes).unwrap();
        let j = judge(&b.eps, &b.probes, &b.before, &after);
        assert!(j.leaks_before > 0, "{what}: the host has no leak to fix");
        // Only IPv4 was fixed: judge the IPv4 endpoints' probes.
        let eth1_v4_unfixed = j
            .not_fixed
            .iter()
            .any(|l| l.starts_with(&format!("from {} ", e1.addr)));
        assert_eq!(
            !eth1_v4_unfixed, *fixes_leaks,
            "{what}: not fixed: {:#?}",
            j.not_fixed
        );
        assert_eq!(
            !j.regressions.is_empty(),
            *regresses,
            "{what}: regressions: {:#?}",
            j.regressions
        );
    }
    let _ = std::fs::remove_dir_all(&run);
}
