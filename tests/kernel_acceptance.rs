//! Kernel-differential test of the fix's acceptance model
//! (`verdict::fix::apply_op`: what `ip route add|del` / `ip rule add|del`
//! the kernel accepts or refuses, and with which error).
//!
//! With a fixed seed, small random hosts are built in network namespaces
//! (`aro-ka-<pid>-<n>`, a second `aro-ka-…` one holding the veth peers, both
//! deleted on drop, even on panic): 2–3 veth links, up, with carrier; IPv4
//! `/24` or `/32` addresses, some links sharing link 0's subnet; IPv6 `/64`
//! `nodad`, some shared; a default route per family; on some links a
//! `from A lookup T` rule and a per-link table holding the link's connected
//! prefix, a default, a `throw`, an `unreachable`, a device route of
//! global scope. Their `ip addr`, `ip rule`, `ip -6 rule`, `ip route show
//! table all`, `ip -6 route show table all` are captured and the offline
//! `Host` is built from them.
//!
//! Then ~40 random operations per host, of the kinds a fix uses, built as
//! typed `Op`s: route adds into new and existing tables (the key of an
//! existing route, its prefix with another metric, gateways inside and
//! outside the device's prefixes or inside a device route of the target
//! table, with and without `onlink`, on the right or a wrong device, a
//! device route of a link's prefix first or not, `throw`, `unreachable`),
//! route deletes (present, absent), rule adds (duplicates, a taken priority
//! with another selector) and rule deletes. Each is applied to the model
//! (`apply_op`) and to the kernel (`ip -n NS` + the words of
//! `Op::command()`), and the answers are judged (`judge`):
//! * both accept, or both refuse: fine; where both refuse, the error's
//!   family (File exists / gateway / absent / device / other) is compared:
//!   a mismatch is printed, and it fails when one side says `File exists`
//!   and the other does not — unless the other is a gateway error: the
//!   kernel checks the gateway (by a full lookup the model does not make)
//!   before the key, so which of the two a refused, duplicate route gets
//!   is the gateway check's;
//! * the model refuses what the kernel accepts: allowed only for the
//!   gateway check (`Nexthop has invalid gateway` / `No route to host`: the
//!   model credits only a link-scope route of the device in the route's own
//!   table, the kernel also a full policy lookup), counted as
//!   "conservative"; anything else fails. Either way the kernel side is
//!   undone (`op.undo().command()`) so that both stay in step;
//! * the model accepts what the kernel refuses: the tool would print a
//!   command the kernel refuses. That fails and ends the host.
//!
//! After every operation the kernel accepted (and after an undo), the
//! changed dump is captured again and the model rebuilt from the kernel's
//! dumps must hold the same routes (table, type, prefix, metric, source
//! prefix, TOS, gateway, device, `onlink`; `local` left out) and rules (in
//! order) as the model the operations were applied to: a difference
//! ("drift": the kernel deleted another route or rule than the model, a
//! wildcard delete) fails and ends the host.
//!
//! Output: the counts (operations, accepted by both, refused by both,
//! conservative refusals, failures) and the failures grouped by class (the
//! operation's shape and both answers). A failing host is saved under
//! `target/tmp/kernel-acceptance/` (its dumps before the operations,
//! `setup.txt`, `ops.jsonl`: every operation with both answers,
//! `failures.txt`). `ASYMROUTE_KERNEL_ACCEPTANCE_SEED`, `…_HOSTS`, `…_OPS`
//! change the seed, the number of hosts (30) and of operations per host
//! (40); `ASYMROUTE_KERNEL_ACCEPTANCE_SAVE=DIR` saves every host. The
//! default run takes ~8 s (~1000 operations).
//!
//! Recorded cases, `tests/kernel-acceptance-cases/<name>/` (the same
//! layout, trimmed to the operations that show one disagreement; `# why:`
//! in `setup.txt` says which): `replay_recorded_cases` replays them on the
//! model, without root, against the kernel's recorded answers
//! (`ASYMROUTE_KERNEL_ACCEPTANCE_CASES=DIR` replays other saved hosts
//! instead: a folder of them, or one). With root the live test also runs
//! each case in namespaces and checks this kernel still answers as
//! recorded (accepts, or refuses with the same error family);
//! `ASYMROUTE_KERNEL_ACCEPTANCE_RECORD=1` records them again (a new case:
//! a folder with `setup.txt`, `# links N` and `ip -batch` lines, `-6 …` for
//! IPv6, and `ops.jsonl` holding `{"op": …}` lines).
//!
//! Without root, `ip`, or network namespaces the live test prints
//! `skipped: …` and passes.

#[path = "support/netns.rs"]
mod netns;

use asymroute_offline::grammar::{
    Ctx, DumpKind, Family, Route, RouteProtocol, RouteType, Rule, RuleAction, Scope, Table,
};
use asymroute_offline::model::{Host, Input};
use asymroute_offline::verdict::fix::{Op, apply_op};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use netns::Netns;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

// ------------------------------------------------------------------ random

/// SplitMix64: small, seedable, good enough for test generation.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// True with probability `pct`/100.
    fn pct(&mut self, pct: usize) -> bool {
        self.below(100) < pct
    }

    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len())]
    }
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

// ------------------------------------------------------------------- hosts

/// The `ip` texts of one host, in this order.
const DUMPS: [(&str, &str); 5] = [
    ("ip_addr.txt", "addr"),
    ("ip_rule.txt", "rule"),
    ("ip6_rule.txt", "-6 rule"),
    ("ip_route.txt", "route show table all"),
    ("ip6_route.txt", "-6 route show table all"),
];

const RULE4: usize = 1;
const RULE6: usize = 2;
const ROUTE4: usize = 3;
const ROUTE6: usize = 4;

/// The model of a host's five dumps (`DUMPS` order).
fn build(texts: &[String]) -> Host {
    let kinds = [
        (DumpKind::IpAddr, None),
        (DumpKind::IpRule, Some(Family::Inet)),
        (DumpKind::IpRule, Some(Family::Inet6)),
        // `ip route show table all` prints both families (iproute2 ≥ 5.x);
        // as a plain folder's `ip_route.txt`, no family is promised, and
        // the `ip -6` dump supersedes its IPv6 half.
        (DumpKind::IpRoute, None),
        (DumpKind::IpRoute, Some(Family::Inet6)),
    ];
    let inputs = DUMPS
        .iter()
        .zip(kinds)
        .zip(texts)
        .map(|(((name, _), (kind, family)), text)| Input {
            name: name.to_string(),
            text: text.clone(),
            kind,
            ctx: Ctx {
                family,
                table: None,
            },
            lines_before: 0,
        })
        .collect();
    let h = Host::build(inputs, &HashMap::new());
    for s in &h.sources {
        assert!(
            s.dump.diagnostics.is_empty(),
            "{}: the kernel's dump does not parse: {:?}\n{}",
            s.name,
            s.dump.diagnostics,
            s.text
        );
    }
    h
}

#[derive(Debug, Clone)]
struct LinkSpec {
    name: String,
    /// The address with its prefix length.
    v4: Ipv4Net,
    v6: Ipv6Net,
}

impl LinkSpec {
    /// The /24 the link's routers are in (a /32 address's surrounding /24).
    fn v4_subnet(&self) -> Ipv4Net {
        Ipv4Net::new(self.v4.addr(), self.v4.prefix_len().min(24))
            .unwrap()
            .trunc()
    }

    fn v6_subnet(&self) -> Ipv6Net {
        self.v6.trunc()
    }
}

struct HostSpec {
    links: Vec<LinkSpec>,
    /// `ip -batch` lines for the host, after the links exist and are up.
    setup: Vec<String>,
}

fn v4(a: [u8; 4], len: u8) -> Ipv4Net {
    Ipv4Net::new(Ipv4Addr::from(a), len).unwrap()
}

fn v6(segs: [u16; 8], len: u8) -> Ipv6Net {
    Ipv6Net::new(Ipv6Addr::from(segs), len).unwrap()
}

fn gen_host(rng: &mut Rng) -> HostSpec {
    let n = 2 + rng.below(2);
    let mut links: Vec<LinkSpec> = Vec::new();
    for i in 0..n {
        let i8 = i as u8;
        let i16 = i as u16;
        let addr4 = if i > 0 && links[0].v4.prefix_len() == 24 && rng.pct(25) {
            v4([10, 0, 0, 10 + i8], 24)
        } else if rng.pct(15) {
            v4([10, 0, i8, 10], 32)
        } else {
            v4([10, 0, i8, 10], 24)
        };
        let addr6 = if i > 0 && rng.pct(20) {
            v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x10 + i16], 64)
        } else {
            v6([0x2001, 0xdb8, i16, 0, 0, 0, 0, 0x10], 64)
        };
        links.push(LinkSpec {
            name: format!("eth{i}"),
            v4: addr4,
            v6: addr6,
        });
    }
    let mut s = Vec::new();
    for l in &links {
        s.push(format!("addr add {} dev {}", l.v4, l.name));
        s.push(format!("-6 addr add {} dev {} nodad", l.v6, l.name));
    }
    let l0 = &links[0];
    let onlink = |l: &LinkSpec| {
        if l.v4.prefix_len() == 32 {
            " onlink"
        } else {
            ""
        }
    };
    s.push(format!(
        "route add default via {} dev eth0{}",
        host_in(l0.v4_subnet(), 1),
        onlink(l0)
    ));
    if rng.pct(30) {
        s.push("-6 route add default via fe80::1 dev eth0".into());
    } else {
        s.push(format!(
            "-6 route add default via {} dev eth0",
            host6_in(l0.v6_subnet(), 1)
        ));
    }
    if rng.pct(65) {
        for (i, l) in links.iter().enumerate() {
            let t = 100 + i;
            if rng.pct(70) {
                s.push(format!(
                    "rule add from {} lookup {t} priority {}",
                    l.v4.addr(),
                    1000 + i
                ));
                if l.v4.prefix_len() < 32 && rng.pct(70) {
                    s.push(format!(
                        "route add {} dev {} scope link table {t}",
                        l.v4.trunc(),
                        l.name
                    ));
                }
                s.push(format!(
                    "route add default via {} dev {}{} table {t}",
                    host_in(l.v4_subnet(), 1),
                    l.name,
                    onlink(l)
                ));
                if rng.pct(25) {
                    s.push(format!("route add throw 10.200.0.0/16 table {t}"));
                }
                if rng.pct(20) {
                    s.push(format!("route add unreachable 10.201.0.0/16 table {t}"));
                }
                if rng.pct(40) {
                    s.push(format!(
                        "route add 192.168.{}.0/24 dev {} scope global table {t}",
                        50 + i,
                        l.name
                    ));
                }
            }
            if rng.pct(60) {
                s.push(format!(
                    "-6 rule add from {} lookup {t} priority {}",
                    l.v6.addr(),
                    1000 + i
                ));
                if rng.pct(70) {
                    s.push(format!(
                        "-6 route add {} dev {} table {t}",
                        l.v6.trunc(),
                        l.name
                    ));
                }
                s.push(format!(
                    "-6 route add default via {} dev {} table {t}",
                    host6_in(l.v6_subnet(), 1),
                    l.name
                ));
                if rng.pct(25) {
                    s.push(format!("-6 route add throw 2001:db8:f000::/36 table {t}"));
                }
                if rng.pct(20) {
                    s.push(format!(
                        "-6 route add unreachable 2001:db8:f100::/40 table {t}"
                    ));
                }
            }
        }
    }
    HostSpec { links, setup: s }
}

fn host_in(n: Ipv4Net, k: u32) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(n.network()) + k)
}

fn host6_in(n: Ipv6Net, k: u128) -> Ipv6Addr {
    Ipv6Addr::from(u128::from(n.network()) + k)
}

/// A host in its namespaces.
struct Live {
    ns: Netns,
    _peer: Netns,
}

/// `ip -n NS [-6] -batch -` with `lines` on stdin.
fn batch_fam(ns: &str, v6: bool, lines: &[String]) -> Result<(), String> {
    let mut child = Command::new("ip")
        .args(["-n", ns])
        .args(if v6 { &["-6"][..] } else { &[] })
        .args(["-batch", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("ip -batch: {e}"))?;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(lines.join("\n").as_bytes())
        .map_err(|e| e.to_string())?;
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip -n {ns} -batch (IPv6: {v6}): {}\n{}",
            String::from_utf8_lossy(&out.stderr).trim(),
            lines.join("\n")
        ))
    }
}

fn batch(ns: &str, lines: &[String]) -> Result<(), String> {
    batch_fam(ns, false, lines)
}

/// Creates the host's namespaces: `nlinks` veth links `eth0`… (fixed MAC
/// addresses, so link-local addresses are the same on every run) with peers
/// `p0`… up in the peer namespace, then runs `setup` (`ip -batch` lines;
/// those starting `-6 ` in an `ip -6 -batch`).
fn create(nlinks: usize, setup: &[String]) -> Result<Live, String> {
    let ns = Netns::new("aro-ka")?;
    let peer = Netns::new("aro-ka")?;
    // No DAD on the links' automatic link-local addresses (a link copies
    // `default` when it is made): nothing tentative, no solicitations.
    ns.exec(&[
        "sysctl",
        "-qw",
        "net.ipv6.conf.all.accept_dad=0",
        "net.ipv6.conf.default.accept_dad=0",
    ])?;
    let mut links = vec!["link set lo up".to_string()];
    for i in 0..nlinks {
        links.push(format!(
            "link add eth{i} address 02:00:00:00:00:{:02x} type veth peer name p{i} netns {}",
            i + 1,
            peer.name()
        ));
    }
    batch(ns.name(), &links)?;
    let mut peers = vec!["link set lo up".to_string()];
    peers.extend((0..nlinks).map(|i| format!("link set p{i} up")));
    batch(peer.name(), &peers)?;
    let up: Vec<String> = (0..nlinks).map(|i| format!("link set eth{i} up")).collect();
    batch(ns.name(), &up)?;
    let (l6, l4): (Vec<String>, Vec<String>) = setup
        .iter()
        .filter(|l| !l.starts_with('#'))
        .cloned()
        .partition(|l| l.starts_with("-6 "));
    let l6: Vec<String> = l6.iter().map(|l| l[3..].to_string()).collect();
    batch(ns.name(), &l4)?;
    batch_fam(ns.name(), true, &l6)?;
    Ok(Live { ns, _peer: peer })
}

fn dump(ns: &Netns, i: usize) -> Result<String, String> {
    let args: Vec<&str> = DUMPS[i].1.split(' ').collect();
    ns.ip(&args)
}

fn capture(ns: &Netns) -> Result<Vec<String>, String> {
    (0..DUMPS.len()).map(|i| dump(ns, i)).collect()
}

// --------------------------------------------------------------- operations

fn default_metric(f: Family) -> u32 {
    match f {
        Family::Inet => 0,
        Family::Inet6 => 1024,
    }
}

fn metric_of(r: &Route) -> u32 {
    r.metric.unwrap_or(default_metric(r.family))
}

fn fam_idx(f: Family) -> usize {
    match f {
        Family::Inet => 0,
        Family::Inet6 => 1,
    }
}

fn is_local_table(t: &Table) -> bool {
    *t == Table::Id(Table::LOCAL)
}

/// Routes of the model the operations may name: every table but `local`.
fn routes(h: &Host, f: Family) -> Vec<Route> {
    h.tables[fam_idx(f)]
        .iter()
        .filter(|(t, _)| !is_local_table(t))
        .flat_map(|(_, t)| t.routes.iter().map(|e| e.route.clone()))
        .collect()
}

/// Numbered tables (but `local`) of the model.
fn tables(h: &Host, f: Family) -> Vec<u32> {
    h.tables[fam_idx(f)]
        .keys()
        .filter_map(|t| match t {
            Table::Id(n) if *n != Table::LOCAL && *n != Table::DEFAULT => Some(*n),
            _ => None,
        })
        .collect()
}

/// A table for a new route: main, one the host has, or a new one.
fn gen_table(rng: &mut Rng, h: &Host, f: Family) -> Table {
    let have = tables(h, f);
    match rng.below(100) {
        0..35 => Table::Id(Table::MAIN),
        35..75 if !have.is_empty() => Table::Id(*rng.pick(&have)),
        _ => Table::Id(200 + rng.below(4) as u32),
    }
}

fn gen_metric(rng: &mut Rng, f: Family) -> Option<u32> {
    match rng.below(10) {
        0..6 => None,
        6 | 7 => Some(5),
        8 => Some(100),
        _ => Some(default_metric(f)),
    }
}

/// A destination prefix: default, one of a few fixed ones, a link's
/// subnet, a host of a link's subnet.
fn gen_dst(rng: &mut Rng, spec: &HostSpec, f: Family) -> IpNet {
    let l = rng.pick(&spec.links);
    match (f, rng.below(100)) {
        (_, 0..30) => match f {
            Family::Inet => IpNet::V4(v4([0, 0, 0, 0], 0)),
            Family::Inet6 => IpNet::V6(v6([0; 8], 0)),
        },
        (Family::Inet, 30..55) => IpNet::V4(v4([10, 100 + rng.below(3) as u8, 0, 0], 16)),
        (Family::Inet, 55..70) => IpNet::V4(v4([172, 16, rng.below(3) as u8, 0], 24)),
        (Family::Inet, 70..85) => IpNet::V4(l.v4_subnet()),
        (Family::Inet, _) => IpNet::V4(v4(host_in(l.v4_subnet(), 77).octets(), 32)),
        (Family::Inet6, 30..70) => IpNet::V6(v6(
            [0x2001, 0xdb8, 0xf0 + rng.below(3) as u16, 0, 0, 0, 0, 0],
            48,
        )),
        (Family::Inet6, 70..85) => IpNet::V6(l.v6_subnet()),
        (Family::Inet6, _) => IpNet::V6(v6(host6_in(l.v6_subnet(), 0x77).segments(), 128)),
    }
}

fn link_locals(h: &Host) -> Vec<(String, IpAddr)> {
    h.addrs
        .iter()
        .filter(|a| matches!(a.addr.local, IpAddr::V6(v) if v.segments()[0] == 0xfe80))
        .map(|a| (a.link.clone(), a.addr.local))
        .collect()
}

/// A gateway for a route out of link `li` into `table`: the link's router,
/// another host of its subnet, its own address, its broadcast or network
/// address, another link's address or router, an address outside every
/// prefix, a link-local one, or one inside a device route of the table
/// (then with that route's device: the one the model's check credits).
fn gen_gateway(
    rng: &mut Rng,
    spec: &HostSpec,
    h: &Host,
    f: Family,
    li: usize,
    table: &Table,
) -> (IpAddr, Option<String>) {
    let l = &spec.links[li];
    let o = &spec.links[(li + 1 + rng.below(spec.links.len() - 1)) % spec.links.len()];
    let in_table: Vec<(IpNet, Option<String>)> = h
        .table(f, table)
        .map(|t| {
            t.routes
                .iter()
                .filter(|e| {
                    e.route.kind() == RouteType::Unicast
                        && e.route.gateway.is_none()
                        && e.route.dst.prefix_len() > 0
                })
                .map(|e| (e.route.dst, e.route.dev.as_deref().map(str::to_string)))
                .collect()
        })
        .unwrap_or_default();
    let k = rng.below(100);
    if k >= 80 && !in_table.is_empty() {
        let (n, dev) = rng.pick(&in_table).clone();
        let g = match n {
            IpNet::V4(n) if n.prefix_len() < 31 => IpAddr::V4(host_in(n.trunc(), 1)),
            IpNet::V6(n) if n.prefix_len() < 127 => IpAddr::V6(host6_in(n.trunc(), 1)),
            n => n.addr(),
        };
        return (g, dev);
    }
    let g = match f {
        Family::Inet => IpAddr::V4(match k {
            0..30 => host_in(l.v4_subnet(), 1),
            30..38 => host_in(l.v4_subnet(), 254),
            38..46 => l.v4.addr(),
            46..54 => l.v4_subnet().broadcast(),
            54..58 => l.v4_subnet().network(),
            58..65 => o.v4.addr(),
            65..72 => host_in(o.v4_subnet(), 1),
            _ => Ipv4Addr::new(192, 168, 99, 1),
        }),
        Family::Inet6 => IpAddr::V6(match k {
            0..30 => host6_in(l.v6_subnet(), 1),
            30..38 => host6_in(l.v6_subnet(), 0xfe),
            38..45 => l.v6.addr(),
            45..50 => l.v6_subnet().network(),
            50..56 => o.v6.addr(),
            56..62 => host6_in(o.v6_subnet(), 1),
            62..70 => "fe80::1".parse().unwrap(),
            70..80 => {
                let ll = link_locals(h);
                if ll.is_empty() {
                    "fe80::2".parse().unwrap()
                } else {
                    match rng.pick(&ll).1 {
                        IpAddr::V6(a) => a,
                        IpAddr::V4(_) => unreachable!(),
                    }
                }
            }
            _ => "2001:db8:99::1".parse().unwrap(),
        }),
    };
    (g, None)
}

/// The device for a route meant for link `li`: that link mostly, another
/// one, none, or one the host lacks.
fn gen_dev(rng: &mut Rng, spec: &HostSpec, li: usize) -> Option<String> {
    match rng.below(100) {
        0..72 => Some(spec.links[li].name.clone()),
        72..92 => Some(rng.pick(&spec.links).name.clone()),
        92..97 => None,
        _ => Some("eth9".into()),
    }
}

fn onlink(r: &mut Route) {
    r.flags.push("onlink");
}

/// A route with a gateway, out of a (maybe wrong) device.
fn gen_gw_route(
    rng: &mut Rng,
    spec: &HostSpec,
    h: &Host,
    f: Family,
    dst: IpNet,
    table: Table,
) -> Route {
    let li = rng.below(spec.links.len());
    let mut r = Route::new(0, f, dst, RouteType::Unicast, table);
    let (g, dev) = gen_gateway(rng, spec, h, f, li, &r.table);
    r.gateway = Some(g);
    r.dev = match dev {
        Some(d) if rng.pct(80) => Some(d.into()),
        _ => gen_dev(rng, spec, li).map(Into::into),
    };
    if rng.pct(25) {
        onlink(&mut r);
    }
    r
}

/// A device route: a link's prefix (the connected route a gateway needs),
/// or another prefix, of link or (IPv4) global scope.
fn gen_dev_route(
    rng: &mut Rng,
    spec: &HostSpec,
    f: Family,
    dst: Option<IpNet>,
    table: Table,
) -> Route {
    let li = rng.below(spec.links.len());
    let l = &spec.links[li];
    let dst = dst.unwrap_or_else(|| match (f, rng.below(100)) {
        (Family::Inet, 0..60) => IpNet::V4(l.v4_subnet()),
        (Family::Inet, 60..70) => IpNet::V4(l.v4.trunc()),
        (Family::Inet, _) => IpNet::V4(v4([192, 168, 60 + rng.below(3) as u8, 0], 24)),
        (Family::Inet6, 0..70) => IpNet::V6(l.v6_subnet()),
        (Family::Inet6, _) => IpNet::V6(v6(
            [0x2001, 0xdb8, 0x60 + rng.below(3) as u16, 0, 0, 0, 0, 0],
            64,
        )),
    });
    let mut r = Route::new(0, f, dst, RouteType::Unicast, table);
    r.dev = Some(if rng.pct(85) {
        l.name.as_str().into()
    } else {
        rng.pick(&spec.links).name.as_str().into()
    });
    if f == Family::Inet {
        r.set_scope(Some(if rng.pct(25) {
            Scope::Universe
        } else {
            Scope::Link
        }));
    }
    r
}

fn gen_reject(rng: &mut Rng, f: Family, dst: IpNet, table: Table) -> Route {
    let kind = if rng.pct(50) {
        RouteType::Throw
    } else {
        RouteType::Unreachable
    };
    Route::new(0, f, dst, kind, table)
}

/// A route of any content for `dst` in `table`.
fn gen_any_route(
    rng: &mut Rng,
    spec: &HostSpec,
    h: &Host,
    f: Family,
    dst: IpNet,
    table: Table,
) -> Route {
    match rng.below(10) {
        0..5 => gen_gw_route(rng, spec, h, f, dst, table),
        5..7 => gen_dev_route(rng, spec, f, Some(dst), table),
        _ => gen_reject(rng, f, dst, table),
    }
}

/// A route as `ip route show` printed it, made an operation's route: the
/// fields `Op::command` renders, the line number dropped.
fn as_op_route(r: &Route) -> Route {
    let mut x = r.clone();
    x.line = 0;
    x.end_line = 0;
    x
}

fn gen_route_add(rng: &mut Rng, spec: &HostSpec, h: &Host, f: Family) -> Op {
    let existing = routes(h, f);
    let k = rng.below(100);
    if k < 15 && !existing.is_empty() {
        // The key of an existing route, other content.
        let e = rng.pick(&existing);
        let mut r = gen_any_route(rng, spec, h, f, e.dst, e.table.clone());
        r.metric = e.metric;
        r.rare_mut().tos = e.tos().map(str::to_string);
        r.rare_mut().from = e.from();
        return Op::AddRoute(r);
    }
    if k < 25 && !existing.is_empty() {
        // Its prefix with another metric.
        let e = rng.pick(&existing);
        let mut r = gen_any_route(rng, spec, h, f, e.dst, e.table.clone());
        let m = metric_of(e);
        r.metric = Some(*rng.pick(&[1, 5, 7, 100, 300, 1024]));
        if r.metric == Some(m) {
            r.metric = Some(m + 1);
        }
        return Op::AddRoute(r);
    }
    let table = gen_table(rng, h, f);
    let mut r = match k {
        25..65 => {
            let dst = gen_dst(rng, spec, f);
            gen_gw_route(rng, spec, h, f, dst, table)
        }
        65..85 => gen_dev_route(rng, spec, f, None, table),
        _ => {
            let dst = gen_dst(rng, spec, f);
            gen_reject(rng, f, dst, table)
        }
    };
    r.metric = gen_metric(rng, f);
    Op::AddRoute(r)
}

fn gen_route_del(rng: &mut Rng, spec: &HostSpec, h: &Host, f: Family) -> Op {
    let existing = routes(h, f);
    if existing.is_empty() {
        let dst = gen_dst(rng, spec, f);
        return Op::DelRoute(gen_any_route(rng, spec, h, f, dst, Table::Id(Table::MAIN)));
    }
    let e = as_op_route(rng.pick(&existing));
    let k = rng.below(100);
    let r = match k {
        // Present, as the dump shows it.
        0..60 => e,
        // Absent: a prefix the table lacks.
        60..70 => {
            let dst = gen_dst(rng, spec, f);
            let mut r = gen_any_route(rng, spec, h, f, dst, e.table.clone());
            r.metric = Some(*rng.pick(&[3, 33, 333]));
            r
        }
        // Absent: another gateway.
        70..78 => {
            let mut r = e;
            r.gateway = Some(match f {
                Family::Inet => IpAddr::V4(Ipv4Addr::new(192, 168, 98, 1)),
                Family::Inet6 => "2001:db8:98::1".parse().unwrap(),
            });
            r.flags = ["onlink"].into_iter().collect();
            r
        }
        // Absent: another (named) metric.
        78..86 => {
            let mut r = e;
            r.metric = Some(metric_of(&r) + 11);
            r
        }
        // Absent: another table.
        86..93 => {
            let mut r = e;
            r.table = Table::Id(210);
            r
        }
        // Absent: another device.
        _ => {
            let mut r = e;
            let other: Vec<&LinkSpec> = spec
                .links
                .iter()
                .filter(|l| Some(l.name.as_str()) != r.dev.as_deref())
                .collect();
            r.dev = Some(rng.pick(&other).name.as_str().into());
            r
        }
    };
    Op::DelRoute(r)
}

fn gen_rule(rng: &mut Rng, spec: &HostSpec, h: &Host, f: Family, priority: u32) -> Rule {
    let l = rng.pick(&spec.links);
    let mut r = Rule::new(0, priority);
    r.family = Some(f);
    r.action = RuleAction::Lookup;
    r.from = match (f, rng.below(10)) {
        (_, 9) => None,
        (Family::Inet, 8) => Some(IpNet::V4(l.v4_subnet())),
        (Family::Inet6, 8) => Some(IpNet::V6(l.v6_subnet())),
        (Family::Inet, _) => Some(IpNet::V4(v4(l.v4.addr().octets(), 32))),
        (Family::Inet6, _) => Some(IpNet::V6(v6(l.v6.addr().segments(), 128))),
    };
    let mut have = tables(h, f);
    have.retain(|t| *t != Table::MAIN);
    r.table = Some(Table::Id(match rng.below(10) {
        0..6 if !have.is_empty() => *rng.pick(&have),
        _ => 200 + rng.below(4) as u32,
    }));
    r
}

fn rule_op_rule(r: &Rule) -> Rule {
    let mut x = r.clone();
    x.line = 0;
    x
}

fn is_default_rule(r: &Rule) -> bool {
    [0, 32766, 32767].contains(&r.priority) && r.from.is_none()
}

fn gen_rule_op(rng: &mut Rng, spec: &HostSpec, h: &Host, f: Family, add: bool) -> Op {
    let existing: Vec<Rule> = h.rules[fam_idx(f)].iter().map(|e| e.rule.clone()).collect();
    let custom: Vec<Rule> = existing
        .iter()
        .filter(|r| !is_default_rule(r))
        .cloned()
        .collect();
    let k = rng.below(100);
    let rule = if add {
        match k {
            // A duplicate (a default rule now and then).
            0..25 if !custom.is_empty() => rule_op_rule(rng.pick(&custom)),
            25..30 => rule_op_rule(rng.pick(&existing)),
            // A taken priority, another selector.
            30..55 => {
                let p = rng.pick(&existing).priority;
                gen_rule(rng, spec, h, f, p)
            }
            _ => {
                let p = 990 + rng.below(20) as u32;
                gen_rule(rng, spec, h, f, p)
            }
        }
    } else {
        match k {
            0..60 if !custom.is_empty() => rule_op_rule(rng.pick(&custom)),
            60..63 => rule_op_rule(rng.pick(&existing)),
            _ => {
                let p = 990 + rng.below(20) as u32;
                gen_rule(rng, spec, h, f, p)
            }
        }
    };
    if add {
        Op::AddRule(f, rule)
    } else {
        Op::DelRule(f, rule)
    }
}

fn gen_op(rng: &mut Rng, spec: &HostSpec, h: &Host) -> Op {
    let f = if rng.pct(50) {
        Family::Inet
    } else {
        Family::Inet6
    };
    match rng.below(100) {
        0..55 => gen_route_add(rng, spec, h, f),
        55..75 => gen_route_del(rng, spec, h, f),
        75..90 => gen_rule_op(rng, spec, h, f, true),
        _ => gen_rule_op(rng, spec, h, f, false),
    }
}

// ------------------------------------------------------------------ judging

/// The family of an error text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ErrClass {
    Exists,
    Gateway,
    Absent,
    Device,
    Other,
}

fn err_class(t: &str) -> ErrClass {
    if t.contains("File exists") {
        ErrClass::Exists
    } else if t.contains("invalid gateway") || t.contains("No route to host") {
        ErrClass::Gateway
    } else if t.contains("No such process")
        || t.contains("No such file or directory")
        || t.contains("does not exist")
    {
        ErrClass::Absent
    } else if t.contains("Cannot find device") {
        ErrClass::Device
    } else {
        ErrClass::Other
    }
}

/// The model's answers to a route's gateway from its own-table check (the
/// only refusals it may give where the kernel accepts).
const CONSERVATIVE: [&str; 3] = [
    "Error: Nexthop has invalid gateway.",
    "RTNETLINK answers: No route to host",
    // IPv6 `onlink`: the model takes main's lowest-metric route for the
    // gateway; the kernel may prefer one out of the given device.
    "Error: Nexthop has invalid gateway or device mismatch.",
];

#[derive(Debug, Clone, PartialEq, Eq)]
enum Verdict {
    BothAccept,
    /// Both refuse; `Some` when the error families differ (printed).
    BothRefuse(Option<String>),
    /// The model refused a gateway the kernel accepted.
    Conservative,
    /// A failure; `true` ends the host (the states may differ now).
    Fail(String, bool),
}

fn judge(model: &Result<(), String>, kernel: &Result<(), String>) -> Verdict {
    match (model, kernel) {
        (Ok(()), Ok(())) => Verdict::BothAccept,
        (Ok(()), Err(k)) => Verdict::Fail(
            format!("model ACCEPTS what the kernel refuses: kernel `{k}`"),
            true,
        ),
        (Err(m), Ok(())) if CONSERVATIVE.contains(&m.as_str()) => Verdict::Conservative,
        (Err(m), Ok(())) => Verdict::Fail(
            format!("model REFUSES what the kernel accepts: model `{m}`"),
            false,
        ),
        (Err(m), Err(k)) => {
            let (cm, ck) = (err_class(m), err_class(k));
            if cm == ck {
                Verdict::BothRefuse(None)
            } else if matches!(
                (cm, ck),
                (ErrClass::Exists, ErrClass::Gateway) | (ErrClass::Gateway, ErrClass::Exists)
            ) {
                // The kernel checks the gateway first, by a full lookup the
                // model does not make: where the key exists too, which of
                // the two it answers is the gateway check's, not the key's.
                Verdict::BothRefuse(Some(format!(
                    "error precedence (gateway check vs key): model `{m}`, kernel `{k}`"
                )))
            } else if cm == ErrClass::Exists || ck == ErrClass::Exists {
                Verdict::Fail(format!("error mismatch: model `{m}`, kernel `{k}`"), false)
            } else {
                Verdict::BothRefuse(Some(format!(
                    "error text differs: model `{m}`, kernel `{k}`"
                )))
            }
        }
    }
}

fn kernel_apply(ns: &Netns, cmd: &str) -> Result<(), String> {
    let words: Vec<&str> = cmd.split_whitespace().collect();
    assert_eq!(words[0], "ip", "{cmd}");
    let out = Command::new("ip")
        .arg("-n")
        .arg(ns.name())
        .args(&words[1..])
        .output()
        .map_err(|e| format!("ip: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        let e = String::from_utf8_lossy(&out.stderr).trim().to_string();
        Err(if e.is_empty() {
            format!("rc {:?}", out.status.code())
        } else {
            e
        })
    }
}

/// A family's routes (but `local`'s) and rules, as the kernel's dumps and
/// the model's operations both give them: what must agree.
fn state(h: &Host, f: Family) -> (Vec<String>, Vec<String>) {
    let mut rt: Vec<String> = h.tables[fam_idx(f)]
        .iter()
        .filter(|(t, _)| !is_local_table(t))
        .flat_map(|(_, t)| t.routes.iter())
        .map(|e| {
            let r = &e.route;
            // Reject routes print `dev lo` in IPv6, nothing in IPv4.
            let dev = if r.kind() == RouteType::Unicast {
                r.dev.clone()
            } else {
                None
            };
            format!(
                "{:?} {} {} metric {} from {:?} tos {:?} via {:?} dev {:?}{}",
                r.table,
                r.kind(),
                r.dst.trunc(),
                metric_of(r),
                r.from(),
                r.tos(),
                r.gateway,
                dev,
                if r.flags.iter().any(|f| f == "onlink") {
                    " onlink"
                } else {
                    ""
                }
            )
        })
        .collect();
    rt.sort();
    let ru = h.rules[fam_idx(f)]
        .iter()
        .map(|e| {
            let r = &e.rule;
            format!(
                "{}: not {} from {:?} to {:?} {:?} {:?}",
                r.priority, r.not, r.from, r.to, r.action, r.table
            )
        })
        .collect();
    (rt, ru)
}

/// What differs between two states, or `None`.
fn state_diff(model: &Host, kernel: &Host, f: Family) -> Option<String> {
    let (mr, mu) = state(model, f);
    let (kr, ku) = state(kernel, f);
    let mut out = Vec::new();
    if mr != kr {
        let (ms, ks): (BTreeSet<_>, BTreeSet<_>) = (mr.iter().collect(), kr.iter().collect());
        for r in ms.difference(&ks) {
            out.push(format!("  only in the model:  {r}"));
        }
        for r in ks.difference(&ms) {
            out.push(format!("  only in the kernel: {r}"));
        }
        if out.is_empty() {
            out.push("  route multiplicities differ".into());
        }
    }
    if mu != ku {
        out.push(format!("  model rules:  {mu:?}"));
        out.push(format!("  kernel rules: {ku:?}"));
    }
    (!out.is_empty()).then(|| out.join("\n"))
}

// ------------------------------------------------------------ op (de)coding

fn route_json(r: &Route) -> Value {
    json!({
        "family": if r.family == Family::Inet { "inet" } else { "inet6" },
        "type": r.kind().as_str(),
        "dst": r.dst.to_string(),
        "table": match &r.table { Table::Id(n) => n.to_string(), Table::Name(s) => s.to_string() },
        "from": r.from().map(|x| x.to_string()),
        "tos": r.tos(),
        "gateway": r.gateway.map(|x| x.to_string()),
        "dev": r.dev,
        "flags": r.flags,
        "protocol": r.protocol().as_ref().map(|x| x.as_str().to_string()),
        "scope": r.scope().as_ref().map(|x| x.as_str().to_string()),
        "metric": r.metric,
        "prefsrc": r.prefsrc.map(|x| x.to_string()),
        "pref": r.pref,
    })
}

fn family_of(v: &Value) -> Family {
    if v["family"] == "inet6" {
        Family::Inet6
    } else {
        Family::Inet
    }
}

fn opt_str(v: &Value, k: &str) -> Option<String> {
    v[k].as_str().map(str::to_string)
}

fn route_from_json(v: &Value) -> Route {
    let mut r = Route::new(
        0,
        family_of(v),
        v["dst"].as_str().unwrap().parse().unwrap(),
        RouteType::parse(v["type"].as_str().unwrap()),
        Table::parse(v["table"].as_str().unwrap()),
    );
    r.end_line = 0;
    r.rare_mut().from = opt_str(v, "from").map(|s| s.parse().unwrap());
    r.rare_mut().tos = opt_str(v, "tos");
    r.gateway = opt_str(v, "gateway").map(|s| s.parse().unwrap());
    r.dev = opt_str(v, "dev").map(Into::into);
    r.flags = v["flags"]
        .as_array()
        .map(|a| a.iter().filter_map(|x| x.as_str()).collect())
        .unwrap_or_default();
    r.set_protocol(opt_str(v, "protocol").map(|s| RouteProtocol::parse(&s)));
    r.set_scope(opt_str(v, "scope").map(|s| Scope::parse(&s)));
    r.metric = v["metric"].as_u64().map(|m| m as u32);
    r.prefsrc = opt_str(v, "prefsrc").map(|s| s.parse().unwrap());
    r.pref = opt_str(v, "pref").map(Into::into);
    r
}

fn rule_json(f: Family, r: &Rule) -> Value {
    json!({
        "family": if f == Family::Inet { "inet" } else { "inet6" },
        "priority": r.priority,
        "not": r.not,
        "from": r.from.map(|x| x.to_string()),
        "to": r.to.map(|x| x.to_string()),
        "table": r.table.as_ref().map(|t| match t { Table::Id(n) => n.to_string(), Table::Name(s) => s.to_string() }),
    })
}

fn rule_from_json(v: &Value) -> (Family, Rule) {
    let f = family_of(v);
    let mut r = Rule::new(0, v["priority"].as_u64().unwrap() as u32);
    r.family = Some(f);
    r.not = v["not"].as_bool().unwrap_or(false);
    r.from = opt_str(v, "from").map(|s| s.parse().unwrap());
    r.to = opt_str(v, "to").map(|s| s.parse().unwrap());
    r.action = RuleAction::Lookup;
    r.table = opt_str(v, "table").map(|s| Table::parse(&s));
    (f, r)
}

fn op_json(op: &Op) -> Value {
    match op {
        Op::AddRoute(r) => json!({"op": "add-route", "route": route_json(r)}),
        Op::DelRoute(r) => json!({"op": "del-route", "route": route_json(r)}),
        Op::AddRule(f, r) => json!({"op": "add-rule", "rule": rule_json(*f, r)}),
        Op::DelRule(f, r) => json!({"op": "del-rule", "rule": rule_json(*f, r)}),
    }
}

fn op_from_json(v: &Value) -> Op {
    match v["op"].as_str().unwrap() {
        "add-route" => Op::AddRoute(route_from_json(&v["route"])),
        "del-route" => Op::DelRoute(route_from_json(&v["route"])),
        "add-rule" => {
            let (f, r) = rule_from_json(&v["rule"]);
            Op::AddRule(f, r)
        }
        "del-rule" => {
            let (f, r) = rule_from_json(&v["rule"]);
            Op::DelRule(f, r)
        }
        o => panic!("unknown op {o}"),
    }
}

fn answer_json(a: &Result<(), String>) -> Value {
    match a {
        Ok(()) => json!({"ok": true}),
        Err(e) => json!({"ok": false, "error": e}),
    }
}

fn answer_from_json(v: &Value) -> Result<(), String> {
    if v["ok"].as_bool() == Some(true) {
        Ok(())
    } else {
        Err(v["error"].as_str().unwrap_or_default().to_string())
    }
}

// --------------------------------------------------------------------- runs

#[derive(Default)]
struct Counts {
    ops: usize,
    both_accept: usize,
    both_refuse: usize,
    conservative: usize,
    text_mismatch: usize,
    failures: usize,
    drift_checks: usize,
}

/// One host's run: the record of every operation, and its failures.
struct HostRun {
    initial: Vec<String>,
    setup: Vec<String>,
    ops: Vec<Value>,
    /// (class, message)
    failures: Vec<(String, String)>,
}

/// An operation's shape, for grouping failures: the `ip` words up to the
/// verb, the route type, whether it has a gateway, `onlink`, a device.
fn shape(op: &Op) -> String {
    let cmd = op.command();
    let words: Vec<&str> = cmd.split_whitespace().collect();
    let verb = words
        .iter()
        .position(|w| *w == "add" || *w == "del")
        .unwrap_or(0);
    let mut s = words[..=verb].join(" ");
    if let Op::AddRoute(r) | Op::DelRoute(r) = op {
        if r.kind() != RouteType::Unicast {
            s.push_str(&format!(" {}", r.kind()));
        }
        if let Some(g) = r.gateway {
            let ll = matches!(g, IpAddr::V6(v) if v.segments()[0] == 0xfe80);
            s.push_str(if ll { " via <link-local>" } else { " via" });
        }
        if r.flags.iter().any(|f| f == "onlink") {
            s.push_str(" onlink");
        }
        if r.dev.is_none() && r.kind() == RouteType::Unicast {
            s.push_str(" (no dev)");
        }
    }
    s
}

/// A failure's class: the operation's shape and both answers' texts.
fn class_of(op: &Op, m: &Result<(), String>, k: &Result<(), String>, drift: bool) -> String {
    let a = |r: &Result<(), String>| match r {
        Ok(()) => "accepts".to_string(),
        Err(e) => format!("`{e}`"),
    };
    if drift {
        format!("{}: both accept, the states differ after it", shape(op))
    } else {
        format!("{}: model {} / kernel {}", shape(op), a(m), a(k))
    }
}

fn save(dir: &Path, run: &HostRun, with_failures: bool) {
    std::fs::create_dir_all(dir).unwrap();
    for ((name, _), text) in DUMPS.iter().zip(&run.initial) {
        std::fs::write(dir.join(name), text).unwrap();
    }
    std::fs::write(dir.join("setup.txt"), run.setup.join("\n") + "\n").unwrap();
    let lines: Vec<String> = run.ops.iter().map(|v| v.to_string()).collect();
    std::fs::write(dir.join("ops.jsonl"), lines.join("\n") + "\n").unwrap();
    if with_failures {
        let f: Vec<&str> = run.failures.iter().map(|(_, m)| m.as_str()).collect();
        std::fs::write(dir.join("failures.txt"), f.join("\n") + "\n").unwrap();
    }
}

/// The dump that `op` changes.
fn dump_of(op: &Op) -> usize {
    match (op, op.family()) {
        (Op::AddRoute(_) | Op::DelRoute(_), Family::Inet) => ROUTE4,
        (Op::AddRoute(_) | Op::DelRoute(_), Family::Inet6) => ROUTE6,
        (_, Family::Inet) => RULE4,
        (_, Family::Inet6) => RULE6,
    }
}

/// Builds a host in namespaces (`# links N` and `ip -batch` lines), then
/// applies the operations `next` gives (it sees the model) to both the
/// model and the kernel, judging each (see the module doc). A random host
/// stops at a failure that leaves the two apart; a recorded case
/// (`keep_going`) goes on, as its replay does.
fn run_ops(
    name: &str,
    setup: &[String],
    keep_going: bool,
    counts: &mut Counts,
    log: &mut Vec<String>,
    mut next: impl FnMut(&Host) -> Option<Op>,
) -> Result<HostRun, String> {
    let nlinks = setup
        .iter()
        .find_map(|l| l.strip_prefix("# links "))
        .and_then(|n| n.trim().parse().ok())
        .ok_or("setup without `# links N`")?;
    let live = create(nlinks, setup)?;
    let ns = &live.ns;
    let mut texts = capture(ns)?;
    let mut model = build(&texts);
    let mut run = HostRun {
        initial: texts.clone(),
        setup: setup.to_vec(),
        ops: Vec::new(),
        failures: Vec::new(),
    };
    let mut i = 0;
    while let Some(op) = next(&model) {
        let cmd = op.command();
        // The saved form must give the same command back (replays).
        let back = op_from_json(&op_json(&op));
        assert_eq!(back.command(), cmd, "op (de)coding");
        let m = apply_op(&mut model, &op);
        let k = kernel_apply(ns, &cmd);
        let v = judge(&m, &k);
        counts.ops += 1;
        let mut rec = json!({
            "op": op_json(&op),
            "command": cmd,
            "model": answer_json(&m),
            "kernel": answer_json(&k),
        });
        let at = format!("{name} op {i}: `{cmd}`");
        i += 1;
        let failed = matches!(v, Verdict::Fail(..));
        let mut stop = false;
        match &v {
            Verdict::BothAccept => counts.both_accept += 1,
            Verdict::BothRefuse(None) => counts.both_refuse += 1,
            Verdict::BothRefuse(Some(t)) => {
                counts.both_refuse += 1;
                counts.text_mismatch += 1;
                log.push(format!("note: {at}: {t}"));
            }
            Verdict::Conservative => counts.conservative += 1,
            Verdict::Fail(why, end) => {
                counts.failures += 1;
                run.failures
                    .push((class_of(&op, &m, &k, false), format!("{at}: {why}")));
                stop = *end;
            }
        }
        if m.is_err() && k.is_ok() {
            // Keep both in step: take the kernel's change back.
            let undo = op.undo().command();
            let u = kernel_apply(ns, &undo);
            rec["undo"] = json!({"command": undo, "kernel": answer_json(&u)});
            if let Err(e) = u {
                // After a failure this only says the kernel had done
                // something else than the operation (a wildcard delete).
                if !failed {
                    counts.failures += 1;
                    run.failures.push((
                        format!("{}: undo refused", shape(&op)),
                        format!("{at}: the kernel refused the undo `{undo}`: {e}"),
                    ));
                }
                stop = true;
            }
        }
        // Whatever the kernel kept must be what the model holds.
        if !stop && k.is_ok() {
            let idx = dump_of(&op);
            texts[idx] = dump(ns, idx)?;
            let kh = build(&texts);
            counts.drift_checks += 1;
            if let Some(d) = state_diff(&model, &kh, op.family()) {
                if !failed {
                    counts.failures += 1;
                    run.failures.push((
                        class_of(&op, &m, &k, true),
                        format!(
                            "{at}: the model's state is not the kernel's after it (drift):\n{d}"
                        ),
                    ));
                }
                stop = true;
            }
        }
        run.ops.push(rec);
        if stop && !keep_going {
            break;
        }
    }
    Ok(run)
}

fn skip_reason() -> Option<String> {
    let root = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|u| u.split_whitespace().nth(1).map(|e| e == "0"))
        })
        .unwrap_or(false);
    if !root {
        return Some("not running as root".into());
    }
    match Command::new("ip").arg("-V").output() {
        Ok(o) if o.status.success() => {}
        _ => return Some("`ip` (iproute2) not found".into()),
    }
    // Probe with a namespace of this test's own prefix.
    match Netns::new("aro-ka") {
        Ok(_) => None,
        Err(e) => Some(format!("network namespaces not permitted: {e}")),
    }
}

#[test]
fn model_accepts_what_the_kernel_accepts() {
    if let Some(why) = skip_reason() {
        netns::skip(&why);
        return;
    }
    let seed = env_u64("ASYMROUTE_KERNEL_ACCEPTANCE_SEED", 0x6b61_2d31);
    let nhosts = env_u64("ASYMROUTE_KERNEL_ACCEPTANCE_HOSTS", 30) as usize;
    let nops = env_u64("ASYMROUTE_KERNEL_ACCEPTANCE_OPS", 40) as usize;
    let save_all = std::env::var("ASYMROUTE_KERNEL_ACCEPTANCE_SAVE").ok();
    let failed_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("kernel-acceptance");
    // Only this run's failing hosts are left there.
    let _ = std::fs::remove_dir_all(&failed_dir);
    let start = Instant::now();
    let mut rng = Rng(seed);
    let mut counts = Counts::default();
    let mut log = Vec::new();
    let mut failures = Vec::new();
    let mut classes: BTreeMap<String, (usize, String)> = BTreeMap::new();
    let mut record = |name: &str, run: &HostRun, failures: &mut Vec<String>| {
        if let Some(d) = &save_all {
            save(&Path::new(d).join(name), run, true);
        }
        if !run.failures.is_empty() {
            let dir = failed_dir.join(name);
            save(&dir, run, true);
            for (c, msg) in &run.failures {
                let e = classes.entry(c.clone()).or_insert((0, msg.clone()));
                e.0 += 1;
                failures.push(msg.clone());
            }
            failures.push(format!("  ({name} saved in {})", dir.display()));
        }
    };
    for n in 0..nhosts {
        // Each host draws from its own stream: changing one does not move
        // the others.
        let mut hrng = Rng(rng.next());
        let spec = gen_host(&mut hrng);
        let setup: Vec<String> = std::iter::once(format!("# links {}", spec.links.len()))
            .chain(spec.setup.iter().cloned())
            .collect();
        let name = format!("seed{seed:x}-host{n}");
        let mut left = nops;
        let run = run_ops(&name, &setup, false, &mut counts, &mut log, |h| {
            (left > 0).then(|| {
                left -= 1;
                gen_op(&mut hrng, &spec, h)
            })
        })
        .unwrap_or_else(|e| panic!("{name}: setting up the namespace failed: {e}"));
        record(&name, &run, &mut failures);
    }
    // The recorded cases: the kernel must still answer as recorded (the
    // model's disagreements with them are `replay_recorded_cases`' part).
    let mut stale = Vec::new();
    for dir in saved_host_dirs(Path::new(CASES)) {
        let (setup, ops, recorded) = read_case(&dir);
        let mut it = ops.into_iter();
        let mut c = Counts::default();
        let name = dir.display().to_string();
        let run = run_ops(&name, &setup, true, &mut c, &mut log, |_| it.next())
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        if std::env::var_os("ASYMROUTE_KERNEL_ACCEPTANCE_RECORD").is_some() {
            save(&dir, &run, false);
            println!("recorded {}", dir.display());
            continue;
        }
        for (i, (rec, now)) in recorded.iter().zip(&run.ops).enumerate() {
            let now = answer_from_json(&now["kernel"]);
            let same = match (rec, &now) {
                (Ok(()), Ok(())) => true,
                (Err(a), Err(b)) => err_class(a) == err_class(b),
                _ => false,
            };
            if !same {
                stale.push(format!(
                    "{} op {i}: recorded kernel answer {rec:?}, this kernel {now:?}",
                    dir.display()
                ));
            }
        }
    }
    for l in &log {
        println!("{l}");
    }
    println!(
        "kernel acceptance: seed {seed:#x}, {nhosts} hosts, {} ops: {} accepted by both, {} refused by both \
         ({} with another error text), {} conservative gateway refusals, {} state checks, {} failures, {:.1}s",
        counts.ops,
        counts.both_accept,
        counts.both_refuse,
        counts.text_mismatch,
        counts.conservative,
        counts.drift_checks,
        counts.failures,
        start.elapsed().as_secs_f64()
    );
    if !classes.is_empty() {
        println!("failures by class ({}):", classes.len());
        for (c, (n, first)) in &classes {
            println!("  {n:4} × {c}\n         e.g. {first}");
        }
    }
    assert!(counts.ops > 0);
    assert!(
        stale.is_empty(),
        "this kernel does not answer as the recorded cases under {CASES} say \
         (re-record with ASYMROUTE_KERNEL_ACCEPTANCE_RECORD=1):\n{}",
        stale.join("\n")
    );
    // A failure here is a disagreement between the acceptance model and
    // this kernel: a model bug (or a kernel that behaves otherwise), not a
    // flaky test. The classes above say which.
    assert!(
        failures.is_empty(),
        "MODEL BUG(S): the acceptance model (verdict::fix::apply_op) disagrees with the kernel \
         ({} failures in {} classes, listed above):\n{}",
        counts.failures,
        classes.len(),
        failures.join("\n")
    );
}

// ------------------------------------------------------------------ replay

/// Recorded cases: one folder each, as failing hosts are saved (the dumps
/// before the operations, `setup.txt`, `ops.jsonl`), trimmed to what shows
/// one disagreement. `setup.txt`'s `# why:` line says what it shows.
const CASES: &str = "tests/kernel-acceptance-cases";

/// A saved host's setup lines, operations and the kernel's recorded answers.
fn read_case(dir: &Path) -> (Vec<String>, Vec<Op>, Vec<Result<(), String>>) {
    let setup = std::fs::read_to_string(dir.join("setup.txt"))
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let ops = std::fs::read_to_string(dir.join("ops.jsonl")).unwrap();
    let mut o = Vec::new();
    let mut k = Vec::new();
    for line in ops.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line).unwrap();
        let op = op_from_json(&v["op"]);
        if let Some(c) = v["command"].as_str() {
            assert_eq!(op.command(), c, "{}", dir.display());
        }
        o.push(op);
        k.push(answer_from_json(&v["kernel"]));
    }
    (setup.lines().map(str::to_string).collect(), o, k)
}

/// Replays one saved host on the model alone: the dumps before the
/// operations, each operation applied with `apply_op` and judged against
/// the kernel's recorded answer. Returns the failures.
fn replay(dir: &Path) -> Vec<String> {
    let texts: Vec<String> = DUMPS
        .iter()
        .map(|(f, _)| std::fs::read_to_string(dir.join(f)).unwrap_or_default())
        .collect();
    let mut model = build(&texts);
    let (setup, ops, kernel) = read_case(dir);
    let why = setup
        .iter()
        .find_map(|l| l.strip_prefix("# why: "))
        .unwrap_or("");
    let mut out = Vec::new();
    for (i, (op, k)) in ops.iter().zip(kernel).enumerate() {
        let m = apply_op(&mut model, op);
        if let Verdict::Fail(what, _) = judge(&m, &k) {
            out.push(format!(
                "{} op {i}: `{}`: {what}\n    ({why})",
                dir.display(),
                op.command()
            ));
        }
    }
    out
}

fn saved_host_dirs(root: &Path) -> Vec<PathBuf> {
    if root.join("ops.jsonl").is_file() {
        return vec![root.to_path_buf()];
    }
    let mut v: Vec<PathBuf> = std::fs::read_dir(root)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.join("ops.jsonl").is_file())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// The recorded cases (or `ASYMROUTE_KERNEL_ACCEPTANCE_CASES=DIR`: saved
/// hosts, or one) replayed on the model, without root. Each case is a
/// disagreement this kernel showed; the model passes once it answers as the
/// kernel did.
#[test]
fn replay_recorded_cases() {
    let root = std::env::var("ASYMROUTE_KERNEL_ACCEPTANCE_CASES").unwrap_or_else(|_| CASES.into());
    let dirs = saved_host_dirs(Path::new(&root));
    if dirs.is_empty() {
        netns::skip(&format!("no saved host (ops.jsonl) under {root}"));
        return;
    }
    let failures: Vec<String> = dirs.iter().flat_map(|d| replay(d)).collect();
    println!("replayed {} saved hosts from {root}", dirs.len());
    // Each failure is a kernel answer the acceptance model does not give:
    // a MODEL BUG, recorded, not a flaky test.
    assert!(
        failures.is_empty(),
        "MODEL BUG(S): verdict::fix::apply_op answers otherwise than the kernel did \
         ({} disagreements in {} cases):\n{}",
        failures.len(),
        dirs.len(),
        failures.join("\n")
    );
}
