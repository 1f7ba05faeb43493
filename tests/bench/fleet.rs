//! Fleet benchmark (issue 4): a generated fleet of plain host folders (real
//! captures, renumbered per host) as a folder, a .tar.gz, a .tar.xz and a
//! .tar.zst. For each: wall time and peak RSS of discovery (`ASYMROUTE_STOP_AFTER=
//! capture`) and discovery+parse (`ASYMROUTE_STOP_AFTER=parse`), against the floor
//! of reading the same bytes (`cat`, `tar -xzOf`, `xz -dc`, `zstd -dc`).
//!
//!     cargo bench --bench fleet                  # 10,000 hosts
//!     FLEET_HOSTS=2500,5000,10000 cargo bench --bench fleet   # memory vs size
//!
//! The fleet above is all dumps: the worst case, where parsing is most of
//! the work. Real bundles are mostly other files, so a second fleet
//! (`FLEET_SOS_HOSTS`, default 300, 0 skips it) is a tarball of per-host
//! sosreport `.tar.xz` files, each the same dumps plus ~1 MB of logs; its
//! floor is reading the tarball and `xz -dc` of every inner archive.
//!
//! Peak memory per output format (issue 14): after the input rows, every
//! format's full scan of `fleet.tar.zst` (`-f table|csv|json|markdown|ndjson`,
//! stdout to /dev/null), wall seconds and peak RSS, for each fleet size:
//!
//!     FLEET_HOSTS=10000,100000 FLEET_SOS_HOSTS=0 FLEET_INPUTS=none cargo bench --bench fleet
//!
//! Reader threads (issue 14): fleets of per-host archives, read with one
//! job and with two (on one core, `taskset -c 0`, and on two), against the
//! floor of decompressing every archive on one core and on two (`xargs -P`):
//! the sos fleet as a tarball and as a folder of `.tar.xz`, and the dumps
//! fleet as a folder of per-host `.tar.gz` (`FLEET_PERHOST_HOSTS`, default
//! 10,000; 0 skips it). Needs taskset.
//!
//! `FLEET_INPUTS` picks the input rows (`folder,tar,tar.gz,tar.xz,tar.zst`,
//! default all, `none` for none; only the archives needed are made),
//! `FLEET_FORMATS` the formats (default all five, `none` for none),
//! `FLEET_BIN` another build of the binary (say, the one before a change).
//!
//! Kubernetes-node sosreports (issue 14): `FLEET_PROCSYS_HOSTS` (default 20;
//! 0 skips it) `.tar.xz` sosreports, each with 16,500 `/proc/sys/net` files.
//!
//! Real-shaped hosts (issue 14): `FLEET_SAMPLES_COPIES` (default 1,000; 0
//! skips it) copies of `samples/` (10 hosts each, in their collectors'
//! layouts, some in nested archives) in one folder; CPU per host of each
//! stage.
//!
//! Needs GNU time (/usr/bin/time), tar, gzip, xz and zstd.

#[path = "gnu_time.rs"]
mod gnu_time;

use std::path::{Path, PathBuf};
use std::process::Command;

fn corpus(p: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("grammar-tests")
            .join(p),
    )
    .expect("corpus file")
}

/// The multi-ENI capture's addresses made unique to host `i`.
fn renumber(s: &str, i: usize) -> String {
    let (a, b) = (i / 250 % 250, i % 250);
    s.replace("10.0.1.", &format!("10.{a}.{b}."))
        .replace("10.0.2.", &format!("10.{}.{b}.", (a + 1) % 250))
        .replace("2001:db8:1::", &format!("2001:db8:{i:x}::"))
}

/// Writes `n` host folders, each the multi-ENI capture renumbered.
fn generate(dir: &Path, n: usize) {
    let addr = corpus("ip-addr/local-iproute2-6.1__multi-eni-policy.txt");
    let rule = corpus("ip-rule/local-iproute2-6.1__multi-eni-policy.txt");
    let route = corpus("ip-route/local-iproute2-6.1__multi-eni-policy_table-all.txt");
    let route6 = corpus("ip6-route/local-iproute2-6.1__multi-eni-policy_table-all.txt");
    for i in 0..n {
        let renum = |s: &str| renumber(s, i);
        let h = dir.join(format!("host-{i:05}"));
        std::fs::create_dir_all(&h).unwrap();
        std::fs::write(h.join("ip_addr.txt"), renum(&addr)).unwrap();
        std::fs::write(h.join("ip_rule.txt"), renum(&rule)).unwrap();
        std::fs::write(h.join("ip_route.txt"), renum(&route)).unwrap();
        std::fs::write(h.join("ip6_route.txt"), renum(&route6)).unwrap();
    }
}

/// Log-like filler: varied numbers and words, so it compresses about as
/// well as real logs do (not 100x like repeated text).
fn filler(seed: u64, bytes: usize) -> String {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let words = [
        "systemd[1]: Started",
        "kernel: eth0: link up",
        "NetworkManager[812]: <info> dhcp4 (eth1): state changed",
        "sshd[2231]: Accepted publickey for ec2-user from",
        "chronyd[611]: Selected source",
        "kernel: nvme0n1: p1 p2",
        "amazon-ssm-agent[1024]: INFO [ssm-agent-worker] checking",
        "dhclient[905]: DHCPREQUEST on eth0 to",
    ];
    let mut s = String::with_capacity(bytes + 200);
    while s.len() < bytes {
        let r = next();
        let _ = std::fmt::Write::write_fmt(
            &mut s,
            format_args!(
                "Nov 24 {:02}:{:02}:{:02} ip-10-{}-{}-{} {} {}.{}.{}.{} port {} ({:x})\n",
                r % 24,
                (r >> 5) % 60,
                (r >> 11) % 60,
                (r >> 17) % 256,
                (r >> 25) % 256,
                (r >> 33) % 256,
                words[(r >> 41) as usize % words.len()],
                (r >> 44) % 256,
                (r >> 52) % 256,
                next() % 256,
                next() % 256,
                next() % 65536,
                next() % 0x100_0000,
            ),
        );
    }
    s
}

/// Writes `n` sosreport `.tar.xz` files (the dumps under sos names, a
/// hostname, ~1 MB of logs) into `dir/inner` and tars them into
/// `dir/fleet-sos.tar`.
fn generate_sos(dir: &Path, n: usize) {
    let addr = corpus("ip-addr/local-iproute2-6.1__multi-eni-policy.txt");
    let rule = corpus("ip-rule/local-iproute2-6.1__multi-eni-policy.txt");
    let route = corpus("ip-route/local-iproute2-6.1__multi-eni-policy_table-all.txt");
    let route6 = corpus("ip6-route/local-iproute2-6.1__multi-eni-policy_table-all.txt");
    let stage = dir.join("stage");
    let inner = dir.join("inner");
    std::fs::create_dir_all(&inner).unwrap();
    for i in 0..n {
        let renum = |s: &str| renumber(s, i);
        let h = stage.join(format!("sosreport-host-{i:05}-2026-11-24-abcdef"));
        let net = h.join("sos_commands/networking");
        std::fs::create_dir_all(&net).unwrap();
        std::fs::create_dir_all(h.join("sos_commands/host")).unwrap();
        std::fs::create_dir_all(h.join("sos_commands/logs")).unwrap();
        std::fs::create_dir_all(h.join("var/log")).unwrap();
        std::fs::write(net.join("ip_-d_address"), renum(&addr)).unwrap();
        std::fs::write(net.join("ip_-4_rule_list"), renum(&rule)).unwrap();
        std::fs::write(net.join("ip_route_show_table_all"), renum(&route)).unwrap();
        std::fs::write(net.join("ip_-6_route_show_table_all"), renum(&route6)).unwrap();
        std::fs::write(
            h.join("sos_commands/host/hostname"),
            format!("host-{i:05}\n"),
        )
        .unwrap();
        std::fs::write(h.join("var/log/messages"), filler(i as u64, 700_000)).unwrap();
        std::fs::write(
            h.join("sos_commands/logs/journalctl_--no-pager"),
            filler(!(i as u64), 300_000),
        )
        .unwrap();
    }
    let (s, d) = (stage.display(), inner.display());
    sh(&format!(
        "cd {s} && ls | xargs -P{} -I{{}} sh -c 'tar -cf - {{}} | xz -2 -T1 > {d}/{{}}.tar.xz'",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    ));
    let _ = std::fs::remove_dir_all(&stage);
    sh(&format!(
        "tar -C {} -cf {}/fleet-sos.tar inner",
        dir.display(),
        dir.display()
    ));
}

/// A count from the environment, or `default`.
fn count(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn sh(cmd: &str) {
    let st = Command::new("sh").arg("-c").arg(cmd).status().expect("sh");
    assert!(st.success(), "failed: {cmd}");
}

/// (wall seconds, peak RSS KiB) of a shell command, best of `runs`.
fn measure(cmd: &str, runs: usize) -> (f64, u64) {
    gnu_time::best(cmd, runs, |r| r.wall).map_or((f64::NAN, 0), |r| (r.wall, r.rss_kib))
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let bin_env = std::env::var("FLEET_BIN").ok();
    let bin = bin_env
        .as_deref()
        .unwrap_or(env!("CARGO_BIN_EXE_asymroute-offline"));
    let list = |var: &str, all: &[&str]| -> Vec<String> {
        match std::env::var(var) {
            Ok(v) if v == "none" => Vec::new(),
            Ok(v) if !v.is_empty() => v.split(',').map(|s| s.trim().to_string()).collect(),
            _ => all.iter().map(|s| s.to_string()).collect(),
        }
    };
    let wanted = list(
        "FLEET_INPUTS",
        &["folder", "tar", "tar.gz", "tar.xz", "tar.zst"],
    );
    let formats = list(
        "FLEET_FORMATS",
        &["table", "csv", "json", "markdown", "ndjson"],
    );
    let root: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-fleet");
    let sizes: Vec<usize> = std::env::var("FLEET_HOSTS")
        .unwrap_or_else(|_| "10000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let runs: usize = count("BENCH_RUNS", 3);
    let jobs = std::thread::available_parallelism().map_or(1, |n| n.get());
    if !wanted.is_empty() {
        println!(
            "| hosts | input | MB | floor s | capture s (1 job) | capture+parse s (1 job) | capture+parse s ({jobs} jobs) | ratio ({jobs} jobs / floor) | peak RSS MiB (parse, {jobs} jobs) | full scan s ({jobs} jobs) |"
        );
        println!("|---|---|---|---|---|---|---|---|---|---|");
    }
    let mut format_rows = Vec::new();
    for &n in &sizes {
        let base = root.join(format!("{n}"));
        let dir = base.join("fleet");
        if !dir.join(format!("host-{:05}", n - 1)).exists() {
            let _ = std::fs::remove_dir_all(&base);
            std::fs::create_dir_all(&dir).unwrap();
            generate(&dir, n);
        }
        let d = base.display();
        // Only the archives some row reads (xz of 100,000 hosts takes minutes).
        let need = |ext: &str| {
            wanted.iter().any(|w| w == ext) || (ext == "tar.zst" && !formats.is_empty())
        };
        let make = |ext: &str, cmd: String| {
            if need(ext) && !base.join(format!("fleet.{ext}")).exists() {
                if !base.join("fleet.tar").exists() {
                    sh(&format!(
                        "tar -C {d} -cf {d}/fleet.tar.part fleet && mv {d}/fleet.tar.part {d}/fleet.tar"
                    ));
                }
                sh(&format!(
                    "{cmd} > {d}/fleet.{ext}.part && mv {d}/fleet.{ext}.part {d}/fleet.{ext}"
                ));
            }
        };
        if need("tar") && !base.join("fleet.tar").exists() {
            sh(&format!(
                "tar -C {d} -cf {d}/fleet.tar.part fleet && mv {d}/fleet.tar.part {d}/fleet.tar"
            ));
        }
        make("tar.gz", format!("gzip -6 -c {d}/fleet.tar"));
        make("tar.xz", format!("xz -6 -T1 -c {d}/fleet.tar"));
        make("tar.zst", format!("zstd -q -3 -c {d}/fleet.tar"));
        let inputs = [
            (
                "folder",
                format!("{d}/fleet"),
                format!("find {d}/fleet -type f -print0 | xargs -0 cat"),
            ),
            (
                "tar",
                format!("{d}/fleet.tar"),
                format!("cat {d}/fleet.tar"),
            ),
            (
                "tar.gz",
                format!("{d}/fleet.tar.gz"),
                format!("tar -xzOf {d}/fleet.tar.gz"),
            ),
            (
                "tar.xz",
                format!("{d}/fleet.tar.xz"),
                format!("xz -dc {d}/fleet.tar.xz"),
            ),
            (
                "tar.zst",
                format!("{d}/fleet.tar.zst"),
                format!("zstd -dc {d}/fleet.tar.zst"),
            ),
        ];
        for (name, path, floor_cmd) in inputs {
            if wanted.iter().any(|w| w == name) {
                row(bin, n, name, &path, &floor_cmd, runs);
            }
        }
        for f in &formats {
            let (wall, rss) = measure(
                &format!("{bin} scan {d}/fleet.tar.zst -q -f {f}"),
                runs.min(2),
            );
            format_rows.push(format!(
                "| {n} | {f} | {wall:.2} | {:.1} |",
                rss as f64 / 1024.0
            ));
        }
    }
    if !format_rows.is_empty() {
        println!();
        println!("| hosts | format (full scan of fleet.tar.zst) | wall s | peak RSS MiB |");
        println!("|---|---|---|---|");
        for r in &format_rows {
            println!("{r}");
        }
    }
    let sos: usize = count("FLEET_SOS_HOSTS", 300);
    if sos > 0 {
        let base = root.join(format!("sos-{sos}"));
        let tar = base.join("fleet-sos.tar");
        if !tar.exists() {
            let _ = std::fs::remove_dir_all(&base);
            generate_sos(&base, sos);
        }
        let d = base.display();
        row(
            bin,
            sos,
            "tar of sos .tar.xz",
            &tar.display().to_string(),
            &format!(
                "cat {d}/fleet-sos.tar >/dev/null && find {d}/inner -name '*.tar.xz' -print0 | xargs -0 xz -dc"
            ),
            runs,
        );
        readers_row(
            bin,
            sos,
            "tar of sos .tar.xz",
            &tar.display().to_string(),
            &format!("find {d}/inner -name '*.tar.xz' -print0 | xargs -0 -n 16 -P{{P}} xz -dc"),
            runs,
        );
        readers_row(
            bin,
            sos,
            "folder of sos .tar.xz",
            &format!("{d}/inner"),
            &format!("find {d}/inner -name '*.tar.xz' -print0 | xargs -0 -n 16 -P{{P}} xz -dc"),
            runs,
        );
    }
    let procsys: usize = count("FLEET_PROCSYS_HOSTS", 20);
    if procsys > 0 {
        procsys_row(bin, &root.join(format!("procsys-{procsys}")), procsys, runs);
    }
    let copies: usize = count("FLEET_SAMPLES_COPIES", 1000);
    if copies > 0 {
        samples_rows(bin, &root.join(format!("samples-{copies}")), copies, runs);
    }
    let per: usize = count("FLEET_PERHOST_HOSTS", 10_000);
    if per > 0 {
        let base = root.join(format!("{per}"));
        let dir = base.join("fleet");
        if !dir.join(format!("host-{:05}", per - 1)).exists() {
            let _ = std::fs::remove_dir_all(&base);
            std::fs::create_dir_all(&dir).unwrap();
            generate(&dir, per);
        }
        let gz = base.join("per-host-gz");
        if !gz.join(format!("host-{:05}.tar.gz", per - 1)).exists() {
            std::fs::create_dir_all(&gz).unwrap();
            sh(&format!(
                "cd {} && ls | xargs -P{} -I{{}} tar -czf {}/{{}}.tar.gz {{}}",
                dir.display(),
                std::thread::available_parallelism().map_or(1, |n| n.get()),
                gz.display()
            ));
        }
        let g = gz.display();
        readers_row(
            bin,
            per,
            "folder of per-host .tar.gz",
            &g.to_string(),
            &format!("find {g} -name '*.tar.gz' -print0 | xargs -0 -n 256 -P{{P}} gzip -dc"),
            runs,
        );
        readers_row(
            bin,
            per,
            "folder",
            &dir.display().to_string(),
            &format!(
                "find {} -type f -print0 | xargs -0 -n 1024 -P{{P}} cat",
                dir.display()
            ),
            runs,
        );
    }
}

/// Sosreports of Kubernetes-node size: the dumps and `/proc/sys/net` of 300
/// interfaces (`ipv4/conf/*` and `ipv6/conf/*`, 16,500 one-line files),
/// each host a `.tar.xz` (`xz -3`, sos's preset). Every file is a member the
/// reader walks, and 1,800 (the settings the model reads) are kept, so a
/// cost per member, or one per kept member per member, shows here: CPU and
/// wall of the full scan against `xz -dc` of the same archives.
fn procsys_row(bin: &str, dir: &Path, n: usize, runs: usize) {
    const V4: &[&str] = &[
        "accept_local",
        "accept_redirects",
        "accept_source_route",
        "arp_accept",
        "arp_announce",
        "arp_filter",
        "arp_ignore",
        "arp_notify",
        "bootp_relay",
        "disable_policy",
        "disable_xfrm",
        "forwarding",
        "log_martians",
        "mc_forwarding",
        "medium_id",
        "promote_secondaries",
        "proxy_arp",
        "proxy_arp_pvlan",
        "route_localnet",
        "rp_filter",
        "secure_redirects",
        "send_redirects",
        "shared_media",
        "src_valid_mark",
        "tag",
        "arp_evict_nocarrier",
        "drop_gratuitous_arp",
        "drop_unicast_in_l2_multicast",
        "ignore_routes_with_linkdown",
        "igmpv2_unsolicited_report_interval",
    ];
    const V6: &[&str] = &[
        "accept_dad",
        "accept_ra",
        "accept_ra_defrtr",
        "accept_ra_pinfo",
        "accept_ra_rtr_pref",
        "accept_redirects",
        "accept_source_route",
        "autoconf",
        "dad_transmits",
        "disable_ipv6",
        "forwarding",
        "hop_limit",
        "keep_addr_on_down",
        "max_addresses",
        "mtu",
        "ndisc_notify",
        "proxy_ndp",
        "router_solicitations",
        "temp_prefered_lft",
        "temp_valid_lft",
        "use_tempaddr",
        "addr_gen_mode",
        "seg6_enabled",
        "ignore_routes_with_linkdown",
        "drop_unsolicited_na",
    ];
    let inner = dir.join("inner");
    if !inner
        .join(format!(
            "sosreport-node-{:05}-2026-12-05-abcdef.tar.xz",
            n - 1
        ))
        .exists()
    {
        let _ = std::fs::remove_dir_all(dir);
        let stage = dir.join("stage");
        let addr = corpus("ip-addr/local-iproute2-6.1__multi-eni-policy.txt");
        let rule = corpus("ip-rule/local-iproute2-6.1__multi-eni-policy.txt");
        let route = corpus("ip-route/local-iproute2-6.1__multi-eni-policy_table-all.txt");
        std::fs::create_dir_all(&inner).unwrap();
        for i in 0..n {
            let h = stage.join(format!("sosreport-node-{i:05}-2026-12-05-abcdef"));
            let net = h.join("sos_commands/networking");
            std::fs::create_dir_all(&net).unwrap();
            std::fs::write(net.join("ip_-d_address"), renumber(&addr, i)).unwrap();
            std::fs::write(net.join("ip_-4_rule_list"), renumber(&rule, i)).unwrap();
            std::fs::write(net.join("ip_route_show_table_all"), renumber(&route, i)).unwrap();
            for k in 0..300 {
                for (fam, names) in [("ipv4", V4), ("ipv6", V6)] {
                    let d = h.join(format!("proc/sys/net/{fam}/conf/veth{k:04x}"));
                    std::fs::create_dir_all(&d).unwrap();
                    for f in names {
                        std::fs::write(d.join(f), "1\n").unwrap();
                    }
                }
            }
        }
        sh(&format!(
            "cd {} && ls | xargs -P{} -I{{}} sh -c 'tar -cf - {{}} | xz -3 -T1 > {}/{{}}.tar.xz'",
            stage.display(),
            std::thread::available_parallelism().map_or(1, |n| n.get()),
            inner.display()
        ));
        let _ = std::fs::remove_dir_all(&stage);
    }
    let d = inner.display();
    let floor = gnu_time::best(&format!("cat {d}/*.tar.xz | xz -dc"), runs, |r| r.cpu);
    let scan = gnu_time::best(&format!("{bin} scan {d} -q -f ndjson"), runs, |r| r.wall);
    let (Some(floor), Some(scan)) = (floor, scan) else {
        return;
    };
    println!();
    println!(
        "| hosts | input | floor CPU s (`xz -dc`) | full scan wall s | full scan CPU s | CPU ms a host | peak RSS MiB |"
    );
    println!("|---|---|---|---|---|---|---|");
    println!(
        "| {n} | sos `.tar.xz` with `/proc/sys/net` of 300 interfaces | {:.2} | {:.2} | {:.2} | {:.1} | {:.1} |",
        floor.cpu,
        scan.wall,
        scan.cpu,
        scan.cpu / n as f64 * 1e3,
        scan.rss_kib as f64 / 1024.0
    );
}

/// The sample fleet (`samples/`: ten real captures in their collectors'
/// layouts, three of them in nested `.tgz`/`.tar.xz`) copied `copies`
/// times into one folder: hosts of the shapes support engineers meet,
/// beside the generated fleet's one worst-case host. CPU seconds (user +
/// sys) and µs a host of each stage with one job, and wall seconds of the
/// full scan with one job and with every core.
fn samples_rows(bin: &str, dir: &Path, copies: usize, runs: usize) {
    let samples = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples");
    if !dir.join(format!("c{:05}", copies - 1)).exists() {
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir).unwrap();
        for i in 0..copies {
            // Hard links where the file system allows: 1,000 copies of
            // 70 KB are no burden either way.
            let to = dir.join(format!("c{i:05}"));
            sh(&format!(
                "cp -al {s} {t} 2>/dev/null || cp -a {s} {t}; rm -f {t}/README.md {t}/make-samples.sh",
                s = samples.display(),
                t = to.display()
            ));
        }
    }
    let d = dir.display();
    let hosts = copies * 10;
    let cpu = |env: &str, args: &str| {
        gnu_time::best(&format!("{env} {bin} scan {d} -q {args}"), runs, |r| r.cpu)
            .map_or(f64::NAN, |r| r.cpu)
    };
    let wall = |args: &str| {
        gnu_time::best(&format!("{bin} scan {d} -q {args}"), runs, |r| r.wall)
            .map_or(f64::NAN, |r| r.wall)
    };
    let cap = cpu("ASYMROUTE_STOP_AFTER=capture", "-j1");
    let parse = cpu("ASYMROUTE_STOP_AFTER=parse", "-j1");
    let ndjson = cpu("", "-j1 -f ndjson");
    let table = cpu("", "-j1 -f table");
    let us = |s: f64| s / hosts as f64 * 1e6;
    println!();
    println!(
        "| hosts | capture CPU s (µs/host) | capture+parse CPU s (µs/host) | full scan NDJSON CPU s (µs/host) | full scan table CPU s (µs/host) | NDJSON wall s (-j1) | NDJSON wall s (all cores) |"
    );
    println!("|---|---|---|---|---|---|---|");
    println!(
        "| {hosts} (samples × {copies}) | {cap:.2} ({:.0}) | {parse:.2} ({:.0}) | {ndjson:.2} ({:.0}) | {table:.2} ({:.0}) | {:.2} | {:.2} |",
        us(cap),
        us(parse),
        us(ndjson),
        us(table),
        wall("-j1 -f ndjson"),
        wall("-f ndjson"),
    );
}

/// One row of the reader-threads table: the floor on one core and on two
/// (`{P}` in `floor_cmd` is the parallelism), discovery with one job, and
/// with two on one core and on two, discovery + parse and the full scan
/// with two jobs on two cores.
fn readers_row(bin: &str, n: usize, name: &str, path: &str, floor_cmd: &str, runs: usize) {
    static HEADER: std::sync::Once = std::sync::Once::new();
    HEADER.call_once(|| {
        println!();
        println!(
            "| hosts | input | floor s (1 core) | floor s (2 cores) | capture s (-j1) | capture s (-j2, 1 core) | capture s (-j2, 2 cores) | ratio (-j2 / 2-core floor) | capture+parse s (-j2) | peak RSS MiB (parse, -j2) | full scan s (-j2) |"
        );
        println!("|---|---|---|---|---|---|---|---|---|---|---|");
    });
    let (f1, _) = measure(&floor_cmd.replace("{P}", "1"), runs);
    let (f2, _) = measure(&floor_cmd.replace("{P}", "2"), runs);
    let stage = |s: &str, cpus: &str, j: u32| {
        measure(
            &format!("ASYMROUTE_STOP_AFTER={s} taskset -c {cpus} {bin} scan {path} -q -j{j}"),
            runs,
        )
    };
    let (c1, _) = stage("capture", "0,1", 1);
    let (c2one, _) = stage("capture", "0", 2);
    let (c2, _) = stage("capture", "0,1", 2);
    let (p2, rss) = stage("parse", "0,1", 2);
    let (full, _) = measure(&format!("{bin} scan {path} -q -j2 -f ndjson"), runs.min(2));
    println!(
        "| {n} | {name} | {f1:.2} | {f2:.2} | {c1:.2} | {c2one:.2} | {c2:.2} | {:.2} | {p2:.2} | {:.1} | {full:.2} |",
        c2 / f2.max(0.01),
        rss as f64 / 1024.0
    );
}

/// Measures one input and prints its table row.
fn row(bin: &str, n: usize, name: &str, path: &str, floor_cmd: &str, runs: usize) {
    let bytes = if name == "folder" {
        walk_size(Path::new(path))
    } else {
        std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
    };
    let (floor, _) = measure(floor_cmd, runs);
    let (cap, _) = measure(
        &format!("ASYMROUTE_STOP_AFTER=capture {bin} scan {path} -q -j1"),
        runs,
    );
    let (p1, _) = measure(
        &format!("ASYMROUTE_STOP_AFTER=parse {bin} scan {path} -q -j1"),
        runs,
    );
    let (pn, rssn) = measure(
        &format!("ASYMROUTE_STOP_AFTER=parse {bin} scan {path} -q"),
        runs,
    );
    let (full, _) = measure(&format!("{bin} scan {path} -q -f ndjson"), runs.min(2));
    println!(
        "| {n} | {name} | {:.1} | {floor:.2} | {cap:.2} | {p1:.2} | {pn:.2} | {:.2} | {:.1} | {full:.2} |",
        bytes as f64 / 1e6,
        pn / floor.max(0.01),
        rssn as f64 / 1024.0
    );
}

fn walk_size(p: &Path) -> u64 {
    let mut t = 0;
    if let Ok(rd) = std::fs::read_dir(p) {
        for e in rd.flatten() {
            let m = e.metadata().unwrap();
            t += if m.is_dir() {
                walk_size(&e.path())
            } else {
                m.len()
            };
        }
    }
    t
}
