//! Host discovery across collector layouts and archive formats: which hosts
//! are found, which files feed each dump, what is missing, and that hostile
//! members yield notices while every other host is still found.

use asymroute_offline::capture::{self, Collector, HostCapture, Limits};
use asymroute_offline::grammar::{DumpKind, Family};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

fn gt(p: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("grammar-tests");
    std::fs::read_to_string(root.join(p)).unwrap()
}

struct Texts {
    addr: String,
    addr_o: String,
    rule: String,
    rule6: String,
    route: String,
    route6: String,
}

fn texts() -> Texts {
    Texts {
        addr: gt("ip-addr/local-iproute2-6.1__multi-eni-policy.txt"),
        addr_o: gt("ip-addr-oneline/local-iproute2-6.1__multi-eni-policy.txt"),
        rule: gt("ip-rule/local-iproute2-6.1__multi-eni-policy.txt"),
        rule6: gt("ip6-rule/local-iproute2-6.1__multi-eni-policy.txt"),
        route: gt("ip-route/local-iproute2-6.1__multi-eni-policy_table-all.txt"),
        route6: gt("ip6-route/local-iproute2-6.1__multi-eni-policy_table-all.txt"),
    }
}

/// The fleet as (relative path, bytes).
fn fleet() -> Vec<(String, Vec<u8>)> {
    let t = texts();
    let mut f: Vec<(String, String)> = Vec::new();
    let sos = "sos/sosreport-web01-123-2024-05-02-abcdefg";
    let net = format!("{sos}/sos_commands/networking");
    f.push((format!("{net}/ip_-d_address"), t.addr.clone()));
    f.push((format!("{net}/ip_-o_addr"), t.addr_o.clone()));
    f.push((format!("{net}/ip_-4_rule_list"), t.rule.clone()));
    f.push((format!("{net}/ip_-6_rule_list"), t.rule6.clone()));
    f.push((format!("{net}/ip_route_show_table_all"), t.route.clone()));
    f.push((
        format!("{net}/ip_-6_route_show_table_all"),
        t.route6.clone(),
    ));
    f.push((
        format!("{net}/ip_-s_-d_link"),
        "garbage that must not be read\n".into(),
    ));
    f.push((
        format!("{net}/namespaces/blue/ip_netns_exec_blue_ip_-d_address_show"),
        t.addr.clone(),
    ));
    f.push((
        format!("{net}/namespaces/blue/ip_netns_exec_blue_ip_route_show_table_all"),
        t.route.clone(),
    ));
    f.push((
        format!("{sos}/sos_commands/host/hostname"),
        "web01\n".into(),
    ));
    f.push((
        format!("{sos}/etc/hosts"),
        "127.0.0.1 localhost\n10.0.0.1 gw\n".into(),
    ));
    f.push((format!("{sos}/version.txt"), "sosreport: 4.5\n".into()));

    let run = "ec2rl/2017-07-13T18_57_02.072742";
    f.push((
        format!("{run}/mod_out/run/ifconfig.log"),
        format!(
            "I will collect ip addr show output from this alami2 box.\n{}\n",
            t.addr
        ),
    ));
    f.push((
        format!("{run}/mod_out/run/iproute.log"),
        format!(
            "I will collect ip route show table all output from this alami2 box.\n{}{}\n",
            t.route, t.route6
        ),
    ));
    f.push((
        format!("{run}/mod_out/run/asymmetricroute.log"),
        "I will look for asymmetric routing problems on this alami2 box.\nNo duplicate subnets found.\n[SUCCESS] No duplicate subnets found.\n".into(),
    ));
    f.push((
        format!("{run}/Main.log"),
        "2017-07-13T18:57:02UTC https://aws.amazon.com/?InstanceID=i-0abc123def&Version=1.1.7\n"
            .into(),
    ));

    let scc = "scc_db01_240502_1200";
    let mut nt = String::new();
    for (cmd, out) in [
        ("/usr/sbin/ip addr", t.addr.as_str()),
        (
            "/usr/sbin/ip route",
            "default via 10.0.1.1 dev eth0\n10.0.1.0/24 dev eth0 proto kernel scope link src 10.0.1.10\n",
        ),
        (
            "/usr/sbin/ip -6 route",
            "2001:db8:1::/64 dev eth0 proto kernel metric 256 pref medium\n",
        ),
        ("/usr/bin/hostname", "db01\n"),
        (
            "/usr/sbin/ip route show table local",
            "local 10.0.1.10 dev eth0 proto kernel scope host src 10.0.1.10\n",
        ),
        (
            "/usr/sbin/ip route show table eni0",
            "default via 10.0.1.1 dev eth0\n",
        ),
        ("/usr/sbin/ip route show table cache", ""),
        ("/usr/sbin/ip rule show", t.rule.as_str()),
    ] {
        nt.push_str(&format!(
            "#==[ Command ]======================================#\n# {cmd}\n{out}\n"
        ));
    }
    f.push((format!("{scc}/network.txt"), nt));
    f.push((
        format!("{scc}/basic-environment.txt"),
        "#==[ Command ]===#\n# /bin/uname -a\nLinux\n".into(),
    ));

    let ins = "insights-web02-20240502120000";
    f.push((format!("{ins}/insights_commands/ip_addr"), t.addr.clone()));
    f.push((
        format!("{ins}/insights_commands/ip_route_show_table_all"),
        t.route.clone(),
    ));
    f.push((
        format!("{ins}/insights_commands/hostname_-f"),
        "web02.example.com\n".into(),
    ));

    f.push(("eks/networking/iprule.txt".into(), t.rule.clone()));
    f.push(("eks/networking/iproute.txt".into(), t.route.clone()));
    f.push((
        "eks/networking/ifconfig.txt".into(),
        "eth0: flags=4163<UP>  mtu 9001\n".into(),
    ));
    f.push((
        "eks/system/instance-id.txt".into(),
        "i-0eks0000000000001\n".into(),
    ));

    f.push(("plain/h1/ip_addr.txt".into(), t.addr.clone()));
    f.push(("plain/h1/ip_rule.txt".into(), t.rule.clone()));
    f.push(("plain/h1/ip-route.txt".into(), t.route.clone()));
    f.push(("plain/h1/notes.md".into(), "# notes\nsome text\n".into()));
    f.push((
        "plain/h1/instance-id".into(),
        "i-0abc1234def567890\n".into(),
    ));
    f.push(("plain/h3/routes".into(), t.route.clone()));
    f.push(("plain/h3/addresses".into(), t.addr.clone()));

    f.push((
        "transcripts/h2.log".into(),
        format!(
            "[root@h2 ~]# ip addr show\n{}[root@h2 ~]# ip -6 rule\n{}[root@h2 ~]# ip route show table all\n{}[root@h2 ~]# uptime\n 10:00 up 3 days\n",
            t.addr, t.rule6, t.route
        ),
    ));
    f.into_iter().map(|(p, s)| (p, s.into_bytes())).collect()
}

fn write_dir(root: &Path, files: &[(String, Vec<u8>)]) {
    for (p, b) in files {
        let path = root.join(p);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, b).unwrap();
    }
}

fn scan(path: &Path) -> (BTreeMap<String, HostCapture>, Vec<capture::Notice>) {
    let mut hosts = BTreeMap::new();
    let notices = capture::scan(path, Limits::default(), |h| {
        assert!(hosts.insert(h.id.clone(), h).is_none(), "host found twice");
    })
    .unwrap();
    same_on_threads(path, Limits::default());
    (hosts, notices)
}

/// Reading on several threads finds the same hosts, in the same order,
/// with the same ids, dumps and notices, as reading on one (issue 14).
fn same_on_threads(path: &Path, limits: Limits) {
    let mut one = Vec::new();
    let n1 = capture::scan(path, limits.clone(), |h| one.push(format!("{h:?}"))).unwrap();
    for threads in [2, 4] {
        let mut many = Vec::new();
        let n = capture::scan_parallel(path, limits.clone(), threads, |h| {
            many.push(format!("{h:?}"))
        })
        .unwrap();
        assert_eq!(
            one.len(),
            many.len(),
            "{threads} threads: {}",
            path.display()
        );
        for (a, b) in one.iter().zip(&many) {
            if a != b {
                // Where they part, rather than two whole hosts.
                let at = a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
                let from = at.saturating_sub(80);
                panic!(
                    "{threads} threads, {}: one thread: …{}…\n{threads} threads: …{}…",
                    path.display(),
                    &a[from..(at + 200).min(a.len())],
                    &b[from..(at + 200).min(b.len())]
                );
            }
        }
        assert_eq!(n1, n, "{threads} threads: {}", path.display());
    }
}

fn feeds(h: &HostCapture) -> Vec<String> {
    let mut v: Vec<String> = h
        .feeds()
        .iter()
        .map(|(k, f, n)| {
            let fam = match f {
                Some(Family::Inet) => "4",
                Some(Family::Inet6) => "6",
                None => "*",
            };
            format!("{}/{fam} <- {}", k.as_str(), n.rsplit('/').next().unwrap())
        })
        .collect();
    v.sort();
    v
}

/// The expectations, with host ids relative to `prefix`.
fn check_fleet(hosts: &BTreeMap<String, HostCapture>, prefix: &str) {
    let id = |s: &str| format!("{prefix}{s}");
    let names: Vec<&String> = hosts.keys().collect();
    let want = [
        "ec2rl/2017-07-13T18_57_02.072742",
        "eks",
        "insights-web02-20240502120000",
        "plain/h1",
        "plain/h3",
        "scc_db01_240502_1200",
        "sos/sosreport-web01-123-2024-05-02-abcdefg",
        "sos/sosreport-web01-123-2024-05-02-abcdefg/netns:blue",
        "transcripts/h2.log",
    ]
    .map(id);
    assert_eq!(names, want.iter().collect::<Vec<_>>(), "hosts found");

    let sos = &hosts[&id("sos/sosreport-web01-123-2024-05-02-abcdefg")];
    assert_eq!(sos.collector, Collector::Sos);
    assert_eq!(sos.hostname.as_deref(), Some("web01"));
    assert_eq!(
        feeds(sos),
        [
            "ip-addr/* <- ip_-d_address",
            "ip-route/* <- ip_route_show_table_all",
            "ip-route/6 <- ip_-6_route_show_table_all",
            "ip-rule/4 <- ip_-4_rule_list",
            "ip-rule/6 <- ip_-6_rule_list",
        ]
    );
    assert!(sos.missing.is_empty(), "{:?}", sos.missing);
    let ns = &hosts[&id("sos/sosreport-web01-123-2024-05-02-abcdefg/netns:blue")];
    assert_eq!(feeds(ns).len(), 2);

    let ec2 = &hosts[&id("ec2rl/2017-07-13T18_57_02.072742")];
    assert_eq!(ec2.collector, Collector::Ec2rl);
    assert_eq!(ec2.instance_id.as_deref(), Some("i-0abc123def"));
    assert_eq!(
        feeds(ec2),
        ["ip-addr/* <- ifconfig.log", "ip-route/* <- iproute.log"]
    );
    assert!(
        ec2.missing
            .iter()
            .any(|m| m.to_string().starts_with("ip rule"))
    );
    assert!(ec2.ec2rl_log.is_some());

    let scc = &hosts[&id("scc_db01_240502_1200")];
    assert_eq!(scc.collector, Collector::Supportconfig);
    assert_eq!(scc.hostname.as_deref(), Some("db01"));
    let scc_feeds = feeds(scc);
    assert_eq!(scc_feeds.len(), 6, "{scc_feeds:?}");
    let tables: Vec<String> = scc
        .inputs
        .iter()
        .filter(|i| i.kind == DumpKind::IpRoute)
        .map(|i| format!("{:?}/{:?}", i.ctx.family, i.ctx.table))
        .collect();
    assert!(
        tables.contains(&"None/Some(Name(\"eni0\"))".to_string()),
        "{tables:?}"
    );
    assert!(
        scc.missing
            .iter()
            .any(|m| m.to_string().starts_with("ip -6 rule"))
    );
    assert!(
        scc.missing
            .iter()
            .any(|m| m.to_string().starts_with("ip route show table eni1 ")),
        "{:?}",
        scc.missing
    );

    let ins = &hosts[&id("insights-web02-20240502120000")];
    assert_eq!(ins.collector, Collector::Insights);
    assert_eq!(ins.hostname.as_deref(), Some("web02.example.com"));
    assert_eq!(feeds(ins).len(), 2);

    let eks = &hosts[&id("eks")];
    assert_eq!(eks.collector, Collector::Eks);
    assert_eq!(eks.instance_id.as_deref(), Some("i-0eks0000000000001"));
    assert!(
        eks.missing
            .iter()
            .any(|m| m.to_string().starts_with("ip addr"))
    );

    let h1 = &hosts[&id("plain/h1")];
    assert_eq!(h1.collector, Collector::Plain);
    assert_eq!(
        feeds(h1),
        [
            "ip-addr/* <- ip_addr.txt",
            "ip-route/* <- ip-route.txt",
            "ip-rule/* <- ip_rule.txt"
        ]
    );
    // The IMDS instance id saved beside the dumps marks an EC2 instance.
    assert_eq!(h1.instance_id.as_deref(), Some("i-0abc1234def567890"));
    let h3 = &hosts[&id("plain/h3")];
    assert_eq!(
        feeds(h3),
        ["ip-addr/* <- addresses", "ip-route/* <- routes"]
    );

    let h2 = &hosts[&id("transcripts/h2.log")];
    assert_eq!(h2.collector, Collector::Transcript);
    assert_eq!(feeds(h2).len(), 3, "{:?}", feeds(h2));
    // Sections are their own lines, numbered as in the file: every item
    // parsed from one is on the file's line that holds it.
    let file = fleet()
        .into_iter()
        .find(|(p, _)| p == "transcripts/h2.log")
        .map(|(_, b)| String::from_utf8(b).unwrap())
        .unwrap();
    let file_lines: Vec<&str> = file.lines().collect();
    let mut items = 0;
    for input in &h2.inputs {
        let head = input.text.lines().next().unwrap();
        assert_eq!(
            head, file_lines[input.lines_before as usize],
            "{}",
            input.name
        );
        let dump = asymroute_offline::grammar::parse_after(
            &input.text,
            input.kind,
            &input.ctx,
            input.lines_before,
        );
        assert!(dump.diagnostics.is_empty(), "{:?}", dump.diagnostics);
        let lines: Vec<u32> = match input.kind {
            DumpKind::IpAddr => dump.links().iter().map(|l| l.line).collect(),
            DumpKind::IpRule => dump.rules().iter().map(|r| r.line).collect(),
            DumpKind::IpRoute => dump.routes().iter().map(|r| r.line).collect(),
        };
        for l in lines {
            let text = input
                .text
                .lines()
                .nth((l - 1 - input.lines_before) as usize);
            assert_eq!(text, Some(file_lines[l as usize - 1]), "{}:{l}", input.name);
            items += 1;
        }
    }
    assert!(items > 10, "{items} items");
    let rule6 = h2
        .inputs
        .iter()
        .find(|i| i.kind == DumpKind::IpRule)
        .unwrap();
    assert!(rule6.text.starts_with("[root@h2 ~]# ip -6 rule\n"));
    assert!(rule6.lines_before > 5);
}

#[test]
fn directory_layouts() {
    let dir = tempfile::tempdir().unwrap();
    write_dir(dir.path(), &fleet());
    let (hosts, _) = scan(dir.path());
    // Ids are relative to the bundle root.
    check_fleet(&hosts, "");
}

fn tar_bytes(files: &[(String, Vec<u8>)], top: &str) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (p, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        let name = if top.is_empty() {
            p.clone()
        } else {
            format!("{top}/{p}")
        };
        b.append_data(&mut h, name, data.as_slice()).unwrap();
    }
    b.into_inner().unwrap()
}

fn gz(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

fn write_file(dir: &Path, name: &str, b: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, b).unwrap();
    p
}

#[test]
fn tar_and_tar_gz() {
    let dir = tempfile::tempdir().unwrap();
    let t = tar_bytes(&fleet(), "fleet");
    let p = write_file(dir.path(), "fleet.tar", &t);
    check_fleet(&scan(&p).0, "fleet.tar/fleet/");
    // By content, not by name.
    let p = write_file(dir.path(), "fleet.bin", &gz(&t));
    check_fleet(&scan(&p).0, "fleet.bin/fleet/");
}

#[test]
fn nested_archives() {
    // A fleet tarball of per-host tarballs, and an ec2rl .tgz with a sosreport inside.
    let files = fleet();
    let sos: Vec<(String, Vec<u8>)> = files
        .iter()
        .filter_map(|(p, b)| p.strip_prefix("sos/").map(|r| (r.to_string(), b.clone())))
        .collect();
    let ec2: Vec<(String, Vec<u8>)> = files
        .iter()
        .filter_map(|(p, b)| p.strip_prefix("ec2rl/").map(|r| (r.to_string(), b.clone())))
        .filter(|(p, _)| !p.contains("ifconfig") && !p.contains("iproute"))
        .collect();
    let sos_tgz = gz(&tar_bytes(&sos, ""));
    let mut ec2 = ec2;
    ec2.push((
        "2017-07-13T18_57_02.072742/gathered_out/sosreport/sosreport-web01-123-2024-05-02-abcdefg.tar.gz".into(),
        sos_tgz.clone(),
    ));
    let ec2_tgz = gz(&tar_bytes(&ec2, ""));
    let fleet_tar = tar_bytes(
        &[
            (
                "i-0abc/ec2rl-2017-07-13T18_57_02.072742.tgz".to_string(),
                ec2_tgz,
            ),
            ("web01/sosreport-web01.tar.gz".to_string(), sos_tgz),
        ],
        "",
    );
    let dir = tempfile::tempdir().unwrap();
    let p = write_file(dir.path(), "fleet.tar.gz", &gz(&fleet_tar));
    let (hosts, notices) = scan(&p);
    let ids: Vec<&String> = hosts.keys().collect();
    assert_eq!(
        ids,
        [
            "fleet.tar.gz/i-0abc/ec2rl-2017-07-13T18_57_02.072742.tgz/2017-07-13T18_57_02.072742",
            "fleet.tar.gz/i-0abc/ec2rl-2017-07-13T18_57_02.072742.tgz/2017-07-13T18_57_02.072742/netns:blue",
            "fleet.tar.gz/web01/sosreport-web01.tar.gz/sosreport-web01-123-2024-05-02-abcdefg",
            "fleet.tar.gz/web01/sosreport-web01.tar.gz/sosreport-web01-123-2024-05-02-abcdefg/netns:blue",
        ],
        "{notices:?}"
    );
    // The ec2rl run took its dumps from the sosreport it gathered.
    let run = hosts.values().next().unwrap();
    assert_eq!(run.collector, Collector::Ec2rl);
    assert_eq!(run.instance_id.as_deref(), Some("i-0abc123def"));
    assert!(
        run.inputs.iter().any(|i| i.kind == DumpKind::IpRule),
        "{:?}",
        run.feeds()
    );
    assert!(run.ec2rl_log.is_some());
}

#[test]
fn hostile_members() {
    let mut files = fleet();
    files.retain(|(p, _)| p.starts_with("plain/"));
    let mut b = tar::Builder::new(Vec::new());
    for (p, data) in &files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_cksum();
        b.append_data(&mut h, p, data.as_slice()).unwrap();
    }
    // A symlink, a device, a hard link, a `..` name.
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_size(0);
    b.append_link(&mut h, "plain/h4/ip_route.txt", "/etc/shadow")
        .unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Char);
    h.set_size(0);
    h.set_cksum();
    b.append_data(&mut h, "plain/h4/ip_addr.txt", &[][..])
        .unwrap();
    let mut raw = tar::Header::new_old();
    {
        let name = b"plain/../../evil/ip_rule.txt";
        raw.as_old_mut().name[..name.len()].copy_from_slice(name);
    }
    raw.set_size(5);
    raw.set_cksum();
    b.append(&raw, &b"0:\tx\n"[..]).unwrap();
    let t = b.into_inner().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = write_file(dir.path(), "hostile.tar", &t);
    let (hosts, notices) = scan(&p);
    assert!(
        hosts.contains_key("hostile.tar/plain/h1"),
        "{:?}",
        hosts.keys()
    );
    assert!(hosts.contains_key("hostile.tar/plain/h3"));
    let all: Vec<String> = notices
        .iter()
        .chain(hosts.values().flat_map(|h| &h.notices))
        .map(|n| format!("{}: {}", n.file, n.message))
        .collect();
    for want in [
        "link member not followed",
        "not a regular file",
        "climbs out",
    ] {
        assert!(
            all.iter().any(|n| n.contains(want)),
            "no `{want}` notice in {all:?}"
        );
    }

    // Truncated and corrupt archives: what was read is kept, the rest reported.
    let full = gz(&tar_bytes(&fleet(), "fleet"));
    let cut = &full[..full.len() * 2 / 3];
    let p = write_file(dir.path(), "cut.tar.gz", cut);
    let (hosts, notices) = scan(&p);
    assert!(!hosts.is_empty(), "hosts before the cut are found");
    assert!(
        notices
            .iter()
            .chain(hosts.values().flat_map(|h| &h.notices))
            .any(|n| n.message.contains("stopped")),
        "{notices:?}"
    );
    let mut bad = full.clone();
    let mid = bad.len() / 2;
    for b in &mut bad[mid..mid + 64] {
        *b ^= 0x5a;
    }
    let p = write_file(dir.path(), "corrupt.tar.gz", &bad);
    let (hosts, notices) = scan(&p);
    assert!(
        notices
            .iter()
            .chain(hosts.values().flat_map(|h| &h.notices))
            .any(|n| n.file.starts_with("corrupt.tar.gz")),
        "the corrupt archive is named: {notices:?}"
    );
}

#[test]
fn archive_bomb_is_capped() {
    struct Zeros(u64);
    impl std::io::Read for Zeros {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = (buf.len() as u64).min(self.0) as usize;
            buf[..n].fill(0);
            self.0 -= n as u64;
            Ok(n)
        }
    }
    // A host, 256 MiB of zeros in one member (~250 KiB compressed), a host.
    let mut files = fleet();
    files.retain(|(p, _)| p.starts_with("plain/h1/") || p.starts_with("plain/h3/"));
    let mut b = tar::Builder::new(Vec::new());
    let add = |b: &mut tar::Builder<Vec<u8>>, prefix: &str| {
        for (p, data) in files.iter().filter(|(p, _)| p.starts_with(prefix)) {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_cksum();
            b.append_data(&mut h, p, data.as_slice()).unwrap();
        }
    };
    add(&mut b, "plain/h1/");
    let mut h = tar::Header::new_gnu();
    let size = 256u64 << 20;
    h.set_size(size);
    h.set_cksum();
    b.append_data(&mut h, "bomb/ip_route.txt", Zeros(size))
        .unwrap();
    add(&mut b, "plain/h3/");
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(&b.into_inner().unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let bomb = e.finish().unwrap();
    assert!(bomb.len() < 1 << 20);
    write_file(dir.path(), "bomb.tar.gz", &bomb);
    write_file(
        dir.path(),
        "good.tar.gz",
        &gz(&tar_bytes(&fleet(), "fleet")),
    );
    let scan_with = |limits: Limits| {
        let mut hosts = Vec::new();
        same_on_threads(dir.path(), limits.clone());
        let notices = capture::scan(dir.path(), limits, |h| hosts.push(h.id)).unwrap();
        (hosts, notices)
    };

    // A known dump may be as large as a full routing table (1 GiB by
    // default, ~70 MB for a million routes); other members keep the
    // member cap.
    let d = Limits::default();
    assert_eq!(d.cap(capture::source::Want::Keep), 1 << 30);
    assert_eq!(d.cap(capture::source::Want::Skip), 64 << 20);
    // The dump cap: the bomb is skipped, named, and the hosts on both
    // sides of it are found.
    let (hosts, notices) = scan_with(Limits {
        max_dump: 64 << 20,
        ..Limits::default()
    });
    for id in [
        "bomb.tar.gz/plain/h1",
        "bomb.tar.gz/plain/h3",
        "good.tar.gz/fleet/plain/h1",
    ] {
        assert!(hosts.iter().any(|h| h == id), "{id} not in {hosts:?}");
    }
    assert!(
        notices
            .iter()
            .any(|n| n.file == "bomb.tar.gz/bomb/ip_route.txt"
                && n.message.contains("MiB a dump may have")),
        "{notices:?}"
    );

    // The total cap: reading the bomb's archive stops there, named; the
    // host before it and the other archive's hosts are still found.
    let (hosts, notices) = scan_with(Limits {
        max_total: 32 << 20,
        ..Limits::default()
    });
    assert!(
        hosts.iter().any(|h| h == "bomb.tar.gz/plain/h1"),
        "{hosts:?}"
    );
    assert!(
        hosts
            .iter()
            .filter(|h| h.starts_with("good.tar.gz/"))
            .count()
            >= 5,
        "{hosts:?}"
    );
    assert!(
        notices
            .iter()
            .any(|n| n.file == "bomb.tar.gz" && n.message.contains("limit")),
        "{notices:?}"
    );

    // In one tarball, the bombs are read on several threads, against one
    // total: 3 × 256 MiB against 600 MiB stops at least one of them.
    let outer = tar_bytes(
        &[
            ("a/bomb.tar.gz".to_string(), bomb.clone()),
            ("b/bomb.tar.gz".to_string(), bomb.clone()),
            ("c/bomb.tar.gz".to_string(), bomb),
        ],
        "",
    );
    let p = write_file(dir.path(), "bombs.tar", &outer);
    let limits = Limits {
        max_total: 600 << 20,
        ..Limits::default()
    };
    for threads in [1, 3] {
        let notices = capture::scan_parallel(&p, limits.clone(), threads, |_| {}).unwrap();
        assert!(
            notices.iter().any(|n| n.message.contains("limit")),
            "{threads} threads: {notices:?}"
        );
    }
}

#[test]
fn every_archive_format() {
    let mut files = fleet();
    files.retain(|(p, _)| p.starts_with("plain/") || p.starts_with("eks/"));
    // Incompressible filler, so that each compressed file is large enough
    // to be decoded ahead on a thread of its own (and cut short below).
    let mut x = 0x2545_f491_4f6c_dd1d_u64;
    let filler: Vec<u8> = (0..600_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    files.push(("zz/filler.bin".into(), filler));
    let t = tar_bytes(&files, "f");
    let xz = {
        let mut w =
            lzma_rust2::XzWriter::new(Vec::new(), lzma_rust2::XzOptions::default()).unwrap();
        w.write_all(&t).unwrap();
        w.finish().unwrap()
    };
    let bz = {
        let mut w = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
        w.write_all(&t).unwrap();
        w.finish().unwrap()
    };
    let zst =
        ruzstd::encoding::compress_to_vec(&t[..], ruzstd::encoding::CompressionLevel::Fastest);
    let zip = {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (p, b) in &files {
            w.start_file(format!("f/{p}"), opts).unwrap();
            w.write_all(b).unwrap();
        }
        w.finish().unwrap().into_inner()
    };
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes) in [
        ("a.tar.xz", xz),
        ("a.tar.bz2", bz),
        ("a.tar.zst", zst),
        ("a.zip", zip),
        ("a.tgz", gz(&t)),
    ] {
        let p = write_file(dir.path(), name, &bytes);
        let (hosts, notices) = scan(&p);
        let ids: Vec<String> = hosts.keys().cloned().collect();
        assert_eq!(
            ids,
            [
                format!("{name}/f/eks"),
                format!("{name}/f/plain/h1"),
                format!("{name}/f/plain/h3")
            ],
            "{name}: {notices:?}"
        );
        assert_eq!(
            hosts[&format!("{name}/f/plain/h1")].inputs.len(),
            3,
            "{name}"
        );
        assert!(notices.is_empty(), "{name}: {notices:?}");
        // Cut inside the filler: every host is found, and the cut is named.
        if name != "a.zip" {
            let cut = write_file(
                dir.path(),
                &format!("cut-{name}"),
                &bytes[..bytes.len() * 3 / 4],
            );
            let (hosts, notices) = scan(&cut);
            assert_eq!(hosts.len(), 3, "cut {name}: {notices:?}");
            assert!(
                notices.iter().any(|n| n.file == format!("cut-{name}")
                    && n.message.starts_with("archive read stopped")),
                "cut {name}: {notices:?}"
            );
        }
    }
}

#[test]
fn unsupported_formats_are_named() {
    // 7-Zip, RAR, LZ4, lzip and compress(1) files, as folder files and as
    // members: each named, not passed over as a file holding no dump.
    let mut files = fleet();
    files.retain(|(p, _)| p.starts_with("plain/"));
    let odd: [(&str, &[u8], &str); 5] = [
        ("h9.7z", b"7z\xbc\xaf\x27\x1c\x00\x04rest", "7-Zip archive"),
        ("h9.rar", b"Rar!\x1a\x07\x01\x00rest", "RAR archive"),
        ("h9.tar.lz4", b"\x04\x22\x4d\x18rest", "LZ4 stream"),
        ("h9.tar.lz", b"LZIP\x01rest", "lzip stream"),
        ("h9.tar.Z", b"\x1f\x9d\x90rest", "compress (.Z) stream"),
    ];
    for (name, bytes, _) in odd {
        files.push((format!("plain/{name}"), bytes.to_vec()));
    }
    let dir = tempfile::tempdir().unwrap();
    write_dir(&dir.path().join("b"), &files);
    let t = write_file(dir.path(), "b.tar", &tar_bytes(&files, ""));
    for (bundle, prefix) in [(dir.path().join("b"), ""), (t, "b.tar/")] {
        let (hosts, notices) = scan(&bundle);
        assert!(
            hosts.contains_key(&format!("{prefix}plain/h1")),
            "{:?}",
            hosts.keys()
        );
        for (name, _, what) in odd {
            let file = format!("{prefix}plain/{name}");
            assert!(
                notices
                    .iter()
                    .any(|n| n.file == file && n.message.starts_with(what)),
                "{file}: {notices:?}"
            );
        }
    }
}

#[test]
fn sos_collect_bundle() {
    // `sos collect`: one .tar.xz holding each node's sosreport .tar.xz, their
    // .md5 under checksums/, and the collector's own logs.
    let xz = |b: &[u8]| {
        let mut w =
            lzma_rust2::XzWriter::new(Vec::new(), lzma_rust2::XzOptions::default()).unwrap();
        w.write_all(b).unwrap();
        w.finish().unwrap()
    };
    let node = |name: &str| {
        let files: Vec<(String, Vec<u8>)> = fleet()
            .into_iter()
            .filter_map(|(p, b)| {
                p.strip_prefix("sos/sosreport-web01-123-2024-05-02-abcdefg/")
                    .filter(|r| !r.contains("namespaces/") && !r.ends_with("/hostname"))
                    .map(|r| {
                        (
                            format!("sosreport-{name}-2024-05-02-abcdefg/{r}"),
                            b.clone(),
                        )
                    })
            })
            .chain([(
                format!("sosreport-{name}-2024-05-02-abcdefg/sos_commands/host/hostname"),
                format!("{name}.example.com\n").into_bytes(),
            )])
            .collect();
        xz(&tar_bytes(&files, ""))
    };
    let top = "sos-collector-case-2024-05-02-qwert";
    let members: Vec<(String, Vec<u8>)> = ["node1", "node2"]
        .iter()
        .flat_map(|n| {
            let report = format!("sosreport-{n}-2024-05-02-abcdefg.tar.xz");
            [
                (format!("{top}/{report}"), node(n)),
                (
                    format!("{top}/checksums/{report}.md5"),
                    b"0123456789abcdef0123456789abcdef\n".to_vec(),
                ),
            ]
        })
        .chain([
            (format!("{top}/logs/sos.log"), b"collect log\n".to_vec()),
            (format!("{top}/logs/ui.log"), b"ui log\n".to_vec()),
        ])
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let p = write_file(
        dir.path(),
        &format!("{top}.tar.xz"),
        &xz(&tar_bytes(&members, "")),
    );
    let (hosts, notices) = scan(&p);
    assert!(notices.is_empty(), "{notices:?}");
    let ids: Vec<&String> = hosts.keys().collect();
    let want: Vec<String> = ["node1", "node2"]
        .iter()
        .map(|n| {
            format!(
                "{top}.tar.xz/{top}/sosreport-{n}-2024-05-02-abcdefg.tar.xz/sosreport-{n}-2024-05-02-abcdefg"
            )
        })
        .collect();
    assert_eq!(ids, want.iter().collect::<Vec<_>>());
    for (h, n) in hosts.values().zip(["node1", "node2"]) {
        assert_eq!(h.collector, Collector::Sos);
        assert_eq!(h.hostname.as_deref(), Some(&*format!("{n}.example.com")));
        for k in [DumpKind::IpAddr, DumpKind::IpRule, DumpKind::IpRoute] {
            assert!(h.inputs.iter().any(|i| i.kind == k), "{n}: {:?}", h.feeds());
        }
        assert!(h.missing.is_empty(), "{n}: {:?}", h.missing);
    }
}

#[test]
fn runs_released_early_keep_their_gathered_sosreport() {
    // Two ec2rl runs side by side in one tarball: the first run is complete
    // (and released) before the archive ends; it must still absorb the
    // sosreport nested in its gathered_out/.
    let files = fleet();
    let sos: Vec<(String, Vec<u8>)> = files
        .iter()
        .filter_map(|(p, b)| p.strip_prefix("sos/").map(|r| (r.to_string(), b.clone())))
        .filter(|(p, _)| !p.contains("namespaces"))
        .collect();
    let sos_tgz = gz(&tar_bytes(&sos, ""));
    let mut members = Vec::new();
    for run in ["runA", "runB"] {
        members.push((
            format!("{run}/Main.log"),
            b"x https://x/?InstanceID=i-0123456789abcdef0&V=1\n".to_vec(),
        ));
        members.push((
            format!("{run}/gathered_out/sosreport/sosreport-web01.tar.gz"),
            sos_tgz.clone(),
        ));
        members.push((
            format!("{run}/mod_out/run/asymmetricroute.log"),
            b"[SUCCESS] No duplicate subnets found.\n".to_vec(),
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    let p = write_file(dir.path(), "runs.tar", &tar_bytes(&members, ""));
    let (hosts, notices) = scan(&p);
    let ids: Vec<&String> = hosts.keys().collect();
    assert_eq!(ids, ["runs.tar/runA", "runs.tar/runB"], "{notices:?}");
    for h in hosts.values() {
        assert_eq!(h.collector, Collector::Ec2rl);
        assert!(
            h.inputs.iter().any(|i| i.kind == DumpKind::IpRule),
            "{}: {:?}",
            h.id,
            h.feeds()
        );
    }
}

#[test]
fn encrypted_bundles_are_reported() {
    let mut files = fleet();
    files.retain(|(p, _)| p.starts_with("plain/h1"));
    files.push((
        "secured-sosreport-web09-2024-05-02-abcdefg.tar.xz.gpg".into(),
        vec![0x85, 0x02, 0x0c, 0x03, 1, 2, 3],
    ));
    let dir = tempfile::tempdir().unwrap();
    write_dir(dir.path(), &files);
    let (hosts, notices) = scan(dir.path());
    assert!(hosts.contains_key("plain/h1"));
    assert!(
        notices
            .iter()
            .any(|n| n.file.ends_with(".gpg") && n.message.contains("encrypted")),
        "{notices:?}"
    );
}

#[test]
fn empty_dumps_and_unreadable_files_are_named() {
    use asymroute_offline::verdict::{LinkClass, Verdict, host};
    use std::os::unix::fs::PermissionsExt;
    let mut files = fleet();
    files.retain(|(p, _)| p.starts_with("plain/") || p.starts_with("sos/"));
    let dir = tempfile::tempdir().unwrap();
    write_dir(dir.path(), &files);
    let t = texts();
    let write = |p: &str, s: &str| {
        let path = dir.path().join(p);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, s).unwrap();
    };
    // An empty route dump, an empty (whitespace only) rule dump beside
    // complete ones, and an unreadable route dump.
    write("empty/r/ip_addr.txt", &t.addr);
    write("empty/r/ip_route.txt", "");
    write("empty/q/ip_addr.txt", &t.addr);
    write("empty/q/ip_rule.txt", "\n  \n");
    write("empty/q/ip_route.txt", &t.route);
    write("locked/ip_addr.txt", &t.addr);
    write("locked/ip_route.txt", &t.route);
    let locked = dir.path().join("locked/ip_route.txt");
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
    // Root reads through mode 000: then the tool runs as `nobody`.
    let can_lock = std::fs::read(&locked).is_err();
    if !can_lock {
        unreadable_as_nobody(dir.path());
    }

    let (hosts, notices) = scan(dir.path());
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o644)).unwrap();
    let class = LinkClass::default();
    let reports: BTreeMap<String, host::HostReport> = hosts
        .into_iter()
        .map(|(id, h)| (id, host::analyse(h, &class)))
        .collect();
    for id in ["plain/h1", "plain/h3", "empty/r", "empty/q", "locked"] {
        assert!(
            reports.contains_key(id),
            "{id} not reported: {:?}",
            reports.keys()
        );
    }
    assert!(reports.keys().any(|k| k.starts_with("sos/")));

    let r = &reports["empty/r"];
    assert_eq!(r.verdict, Verdict::Error);
    assert!(
        r.reason.contains("empty/r/ip_route.txt empty"),
        "{}",
        r.reason
    );
    let d = r
        .diagnostics
        .iter()
        .find(|d| d.file == "empty/r/ip_route.txt")
        .expect("a diagnostic for the empty file");
    assert_eq!((d.line, d.column), (1, 1));
    assert!(d.message.contains("empty"), "{}", d.message);

    let q = &reports["empty/q"];
    assert_ne!(q.verdict, Verdict::Error, "the routes are still analysed");
    assert!(
        q.incomplete
            .iter()
            .any(|i| i.starts_with("empty/q/ip_rule.txt: empty")),
        "{:?}",
        q.incomplete
    );

    if can_lock {
        let all: Vec<String> = notices
            .iter()
            .map(|n| format!("{}: {}", n.file, n.message))
            .collect();
        let named = notices
            .iter()
            .map(|n| (n.file.clone(), n.message.clone()))
            .chain(
                reports["locked"]
                    .diagnostics
                    .iter()
                    .map(|d| (d.file.clone(), d.message.clone())),
            )
            .any(|(f, m)| f.ends_with("locked/ip_route.txt") && m.contains("cannot read"));
        assert!(named, "no `cannot read` naming the file: {all:?}");
    }
}

/// The unreadable-file check for root: the binary run as `nobody` through
/// `setpriv`, where that works.
fn unreadable_as_nobody(bundle: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mut p = Some(bundle);
    while let Some(d) = p.filter(|d| d.starts_with(std::env::temp_dir())) {
        let _ = std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755));
        p = d.parent();
    }
    let out = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_asymroute-offline"))
        .args(["-f", "json"])
        .arg(bundle)
        .output();
    let out = match out {
        Ok(o) if o.status.code().is_some_and(|c| c <= 3) => o,
        other => {
            eprintln!("unreadable-file check skipped: cannot run the tool as nobody ({other:?})");
            return;
        }
    };
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("a JSON report");
    let hosts = doc["hosts"].as_array().expect("hosts");
    let host = |id: &str| hosts.iter().find(|h| h["host"] == id);
    for id in ["plain/h1", "plain/h3", "empty/r", "empty/q"] {
        assert!(host(id).is_some(), "{id} not reported as nobody");
    }
    let locked = host("locked").expect("the host with the unreadable file is reported");
    let named = locked["diagnostics"].as_array().unwrap().iter().any(|d| {
        d["file"] == "locked/ip_route.txt" && d["message"].as_str().unwrap().contains("cannot read")
    });
    assert!(named, "no `cannot read` naming the file: {locked}");
}

/// A stdin-like stream of unknown length: decoded ahead on a thread.
struct Unknown<'a>(&'a [u8]);

impl std::io::Read for Unknown<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf)
    }
}

impl capture::source::SizeHint for Unknown<'_> {
    fn size_hint(&self) -> Option<u64> {
        None
    }
}

#[test]
fn archive_fuzz_regressions() {
    // Found by the archive fuzz target, which reads every input decoded in
    // line and decoded ahead, and requires the same hosts and notices.
    // error-after-member: a gzip whose deflate data breaks inside a host's
    // member; the member's read fails, then the tar walk must see the same
    // error again, not a clean end (decode-ahead's channel had closed).
    // bzip2-error-within-a-read: bzip2 drops a partly decoded read at a
    // corrupt spot, so what came before it depended on the read sizes.
    // sysctl-empty-link: a link with an empty name read its sysctls by a
    // key the /proc/sys/net filter did not take for one (a debug check's
    // panic). Every host found is analysed, as the fuzz target does:
    // nothing may panic.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-regressions");
    let class = asymroute_offline::verdict::LinkClass::default();
    let mut seen = 0;
    for f in std::fs::read_dir(&dir).unwrap() {
        let data = std::fs::read(f.unwrap().path()).unwrap();
        let run = |ahead: bool| {
            let mut ids = Vec::new();
            let limits = capture::Limits::default();
            let notices = if ahead {
                capture::scan_reader(Unknown(&data), "bundle", limits, |h| ids.push(h.id))
            } else {
                capture::scan_reader(&data[..], "bundle", limits, |h| {
                    ids.push(h.id.clone());
                    asymroute_offline::verdict::host::analyse(h, &class);
                })
            };
            (ids, notices)
        };
        assert_eq!(run(false), run(true));
        seen += 1;
    }
    assert!(seen >= 1);
    let data = std::fs::read(dir.join("archive-error-after-member.tar.gz")).unwrap();
    let notices =
        capture::scan_reader(Unknown(&data), "bundle", capture::Limits::default(), |_| {});
    assert_eq!(
        notices,
        [capture::Notice {
            file: "bundle".into(),
            message: "archive read stopped: incomplete deflate stream".into()
        }]
    );
}

/// Each collector's kernel files: where the kernel version (`uname`) and
/// the sysctls (`sysctl -a`, `/proc/sys/net`) are kept, read into the
/// host's typed `System`; hosts without them have none (the model then
/// assumes the current kernel and its defaults, and says so).
fn system_fleet() -> Vec<(String, Vec<u8>)> {
    let t = texts();
    let sysctl = "net.ipv4.conf.all.route_localnet = 0\nnet.ipv4.conf.eth1.route_localnet = 1\nkernel.pid_max = 4194304\n";
    let mut f: Vec<(String, String)> = Vec::new();
    let sos = "sosreport-k-2024-05-02-abcdefg";
    let net = format!("{sos}/sos_commands/networking");
    f.push((format!("{net}/ip_-d_address"), t.addr.clone()));
    f.push((format!("{net}/ip_route_show_table_all"), t.route.clone()));
    f.push((
        format!("{net}/namespaces/blue/ip_netns_exec_blue_ip_route_show_table_all"),
        t.route.clone(),
    ));
    f.push((
        format!("{sos}/sos_commands/kernel/uname_-a"),
        "Linux k 4.18.0-513.5.1.el8_9.x86_64 #1 SMP Fri Sep 29 05:21:10 EDT 2023 x86_64 x86_64 x86_64 GNU/Linux\n".into(),
    ));
    f.push((
        format!("{sos}/sos_commands/kernel/sysctl_-a"),
        format!("{sysctl}sysctl: permission denied on key 'fs.protected_regular'\n"),
    ));
    f.push((
        format!("{sos}/proc/sys/net/ipv4/conf/eth0.100/route_localnet"),
        "1\n".into(),
    ));
    // firewalld's IPv6_rpfilter (its default), as `nft -a list ruleset` shows it.
    f.push((
        format!("{sos}/sos_commands/nftables/nft_-a_list_ruleset"),
        "table inet firewalld { # handle 1\n\tchain filter_PREROUTING { # handle 1\n\t\ttype filter hook prerouting priority filter + 10; policy accept;\n\t\tmeta nfproto ipv6 fib saddr . mark . iif oif missing drop # handle 6\n\t}\n}\n".into(),
    ));

    let scc = "scc_k2_240502_1200";
    f.push((
        format!("{scc}/network.txt"),
        format!(
            "#==[ Command ]======================================#\n# /usr/sbin/ip addr\n{}\n",
            t.addr
        ),
    ));
    f.push((
        format!("{scc}/network-blue.txt"),
        format!(
            "#==[ Command ]======================================#\n# /usr/sbin/ip netns exec blue ip addr\n{}\n",
            t.addr
        ),
    ));
    f.push((
        format!("{scc}/basic-environment.txt"),
        "#==[ Command ]======================================#\n# /bin/date\nThu May  2 12:00:00 UTC 2024\n\n#==[ Command ]======================================#\n# /bin/uname -a\nLinux k2 5.14.21-150500.55.19-default #1 SMP PREEMPT_DYNAMIC Mon Aug 28 06:06:21 UTC 2023 (6fda8d1) x86_64 x86_64 x86_64 GNU/Linux\n\n".into(),
    ));
    f.push((
        format!("{scc}/env.txt"),
        format!(
            "#==[ Configuration File ]===========================#\n# /etc/sysctl.conf\nnet.ipv4.conf.all.route_localnet = 1\n\n#==[ Command ]======================================#\n# /sbin/sysctl -a\n{sysctl}\n"
        ),
    ));

    let ins = "insights-k3-20240502120000";
    f.push((format!("{ins}/insights_commands/ip_addr"), t.addr.clone()));
    f.push((
        format!("{ins}/insights_commands/uname_-a"),
        "Linux k3 3.10.0-1160.el7.x86_64 #1 SMP Tue Aug 18 14:50:17 EDT 2020 x86_64 x86_64 x86_64 GNU/Linux\n".into(),
    ));
    f.push((format!("{ins}/insights_commands/sysctl_-a"), sysctl.into()));

    f.push(("eks/networking/iproute.txt".into(), t.route.clone()));
    f.push((
        "eks/kernel/uname.txt".into(),
        "Linux ip-10-0-0-1.ec2.internal 5.10.219-208.866.amzn2.x86_64 #1 SMP Tue Jun 18 14:00:06 UTC 2024 x86_64 x86_64 x86_64 GNU/Linux\n".into(),
    ));
    f.push(("eks/sysctls/sysctl_all.txt".into(), sysctl.into()));

    let run = "ec2rl/2017-07-13T18_57_02.072742";
    f.push((
        format!("{run}/mod_out/run/iproute.log"),
        format!(
            "I will collect ip route show table all output from this alami2 box.\n{}\n",
            t.route
        ),
    ));
    f.push((
        format!("{run}/mod_out/run/kernelversion.log"),
        "I will collect uname -r output from this alami2 box.\n4.14.336-257.562.amzn2.x86_64\n"
            .into(),
    ));
    f.push((
        format!("{run}/mod_out/run/sysctl.log"),
        format!("I will collect sysctl -a output from this alami2 box.\n{sysctl}"),
    ));

    f.push(("plain/a/ip_addr.txt".into(), t.addr.clone()));
    f.push(("plain/a/uname-a.txt".into(), "5.2.0-1-amd64\n".into()));
    f.push((
        "plain/a/ip6tables-save".into(),
        "*raw\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -m rpfilter --invert -j DROP\nCOMMIT\n"
            .into(),
    ));
    f.push((
        "plain/a/sysctl.txt".into(),
        format!("{sysctl}not a sysctl line\n"),
    ));
    f.push(("plain/b/ip_route.txt".into(), t.route.clone()));
    f.push(("plain/b/uname".into(), "garbage\n".into()));
    f.push(("plain/c/ip_route.txt".into(), t.route.clone()));
    f.push(("plain/c/sysctl_-a".into(), sysctl.into()));
    f.into_iter().map(|(p, s)| (p, s.into_bytes())).collect()
}

fn check_system_fleet(hosts: &BTreeMap<String, HostCapture>, prefix: &str) {
    use asymroute_offline::model::KernelVersion;
    let h = |s: &str| &hosts[&format!("{prefix}{s}")];
    let kernel = |s: &str| h(s).system.kernel.as_ref().map(|k| k.0);
    let localnet = |s: &str, dev: &str| h(s).system.sysctls.route_localnet(dev);
    let v = KernelVersion::new;

    let sos = "sosreport-k-2024-05-02-abcdefg";
    assert_eq!(h(sos).collector, Collector::Sos);
    assert_eq!(kernel(sos), Some(v(4, 18, 0)));
    assert!(localnet(sos, "eth1") && !localnet(sos, "eth0"));
    assert!(localnet(sos, "eth0.100"), "from proc/sys/net");
    assert_eq!(h(sos).system.sysctls.get("kernel.pid_max"), None);
    assert!(
        h(sos)
            .system
            .ipv6_rpfilter
            .as_deref()
            .is_some_and(|f| f.ends_with("nftables/nft_-a_list_ruleset"))
    );

    assert!(
        h(sos)
            .notes
            .iter()
            .any(|n| n.contains("sysctl_-a: 1 line(s)")),
        "{:?}",
        h(sos).notes
    );
    // A namespace runs its host's kernel; its sysctls are not collected.
    let ns = &format!("{sos}/netns:blue");
    assert_eq!(kernel(ns), Some(v(4, 18, 0)));
    assert!(h(ns).system.sysctls.is_empty());

    let scc = "scc_k2_240502_1200";
    assert_eq!(h(scc).collector, Collector::Supportconfig);
    assert_eq!(kernel(scc), Some(v(5, 14, 21)));
    assert!(localnet(scc, "eth1"));
    assert!(
        !localnet(scc, "eth0"),
        "/etc/sysctl.conf is configuration, not the live value"
    );
    assert_eq!(kernel(&format!("{scc}/netns:blue")), Some(v(5, 14, 21)));

    let ins = "insights-k3-20240502120000";
    assert_eq!(h(ins).collector, Collector::Insights);
    assert_eq!(kernel(ins), Some(v(3, 10, 0)));
    assert!(localnet(ins, "eth1"));

    assert_eq!(h("eks").collector, Collector::Eks);
    assert_eq!(kernel("eks"), Some(v(5, 10, 219)));
    assert!(localnet("eks", "eth1"));

    let run = "ec2rl/2017-07-13T18_57_02.072742";
    assert_eq!(h(run).collector, Collector::Ec2rl);
    assert_eq!(kernel(run), Some(v(4, 14, 336)));
    assert!(localnet(run, "eth1"));
    assert!(
        !h(run).notes.iter().any(|n| n.contains("sysctl.log")),
        "the module banner is no bad line: {:?}",
        h(run).notes
    );

    assert_eq!(h("plain/a").collector, Collector::Plain);
    assert!(
        h("plain/a")
            .system
            .ipv6_rpfilter
            .as_deref()
            .is_some_and(|f| f.ends_with("plain/a/ip6tables-save"))
    );
    assert_eq!(h(scc).system.ipv6_rpfilter, None);
    assert_eq!(h("plain/c").system.ipv6_rpfilter, None);
    assert_eq!(kernel("plain/a"), Some(v(5, 2, 0)));
    assert!(localnet("plain/a", "eth1"));
    assert!(
        h("plain/a")
            .notes
            .iter()
            .any(|n| n.contains("not a sysctl line"))
    );
    assert_eq!(kernel("plain/b"), None);
    assert!(
        h("plain/b")
            .notes
            .iter()
            .any(|n| n.contains("no kernel release"))
    );
    assert!(h("plain/b").system.sysctls.is_empty());
    assert_eq!(kernel("plain/c"), None);
    assert!(localnet("plain/c", "eth1"));
    // Kernel files alone make no host, and feed no dump.
    for cap in hosts.values() {
        assert!(feeds(cap).iter().all(|f| !f.contains("uname")
            && !f.contains("sysctl")
            && !f.contains("nft_")
            && !f.contains("ip6tables")));
    }
}

#[test]
fn kernel_version_and_sysctls_per_collector() {
    let dir = tempfile::tempdir().unwrap();
    write_dir(dir.path(), &system_fleet());
    let (hosts, _) = scan(dir.path());
    assert_eq!(hosts.len(), 10, "{:?}", hosts.keys().collect::<Vec<_>>());
    check_system_fleet(&hosts, "");
    // The same from a .tar.gz, member order as written.
    let p = write_file(
        dir.path(),
        "fleet.tgz",
        &gz(&tar_bytes(&system_fleet(), "f")),
    );
    check_system_fleet(&scan(&p).0, "fleet.tgz/f/");
}

/// A plain host folder read directly (as the kernel-case replays do).
#[test]
fn plain_folder_system_files() {
    let dir = tempfile::tempdir().unwrap();
    write_dir(
        dir.path(),
        &[
            (
                "uname_-a".into(),
                b"Linux h 5.4.0-42-generic #46 SMP\n".to_vec(),
            ),
            (
                "sysctl-a.txt".into(),
                b"net.ipv4.conf.all.route_localnet = 1\n\xff\xfe bad\n".to_vec(),
            ),
            (
                "ip_route.txt".into(),
                b"default via 10.0.0.1 dev eth0\n".to_vec(),
            ),
        ],
    );
    let (sys, notes) = capture::load_plain_system(dir.path()).unwrap();
    assert_eq!(
        sys.kernel.map(|k| k.0),
        Some(asymroute_offline::model::KernelVersion::new(5, 4, 0))
    );
    assert!(sys.sysctls.route_localnet("eth0"));
    assert_eq!(notes.len(), 1, "{notes:?}");
    let (inputs, _) = capture::load_plain_host(dir.path()).unwrap();
    assert_eq!(inputs.len(), 1, "kernel files are no dumps");
}

/// A fleet of per-host archives (the common case of issue 14): as files
/// of a folder and as members of a tarball, read on several threads, with
/// a truncated archive and a corrupt one among them: the same hosts and
/// notices as on one thread, each bad archive a notice, the rest reported.
#[test]
fn per_host_archives_on_several_threads() {
    let files = fleet();
    let tops: std::collections::BTreeSet<&str> = files
        .iter()
        .filter_map(|(p, _)| p.split('/').next())
        .collect();
    let mut archives: Vec<(String, Vec<u8>)> = Vec::new();
    for (i, top) in tops.iter().enumerate() {
        let mine: Vec<(String, Vec<u8>)> = files
            .iter()
            .filter(|(p, _)| p.split('/').next() == Some(*top))
            .cloned()
            .collect();
        let tar = tar_bytes(&mine, "");
        let (name, bytes) = match i % 3 {
            0 => (format!("{top}.tar.gz"), gz(&tar)),
            1 => (format!("{top}.tgz"), gz(&tar)),
            _ => (format!("{top}.tar"), tar),
        };
        archives.push((name, bytes));
    }
    // One copy of each, truncated, and one corrupt in the middle.
    let good = archives.len();
    for k in 0..good {
        let (n, b) = archives[k].clone();
        archives.push((format!("cut-{n}"), b[..b.len() * 2 / 3].to_vec()));
    }
    let (n, mut b) = archives[0].clone();
    let mid = b.len() / 2;
    for x in &mut b[mid..mid + 64] {
        *x ^= 0x5a;
    }
    archives.push((format!("bad-{n}"), b));
    archives.sort();
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("fleet");
    write_dir(&folder, &archives);
    let tarball = write_file(dir.path(), "fleet.tar", &tar_bytes(&archives, "fleet"));
    let tgz = write_file(
        dir.path(),
        "fleet.tar.gz",
        &gz(&tar_bytes(&archives, "fleet")),
    );
    for p in [&folder, &tarball, &tgz] {
        let (hosts, notices) = scan(p);
        // Every good archive's hosts are there.
        for (name, _) in archives.iter().filter(|(n, _)| !n.contains('-')) {
            assert!(
                hosts.keys().any(|h| h.contains(&format!("{name}/"))),
                "{}: no host from {name}: {:?}",
                p.display(),
                hosts.keys().collect::<Vec<_>>()
            );
        }
        // Each bad archive is told, in a notice or on its hosts.
        let told: Vec<&capture::Notice> = notices
            .iter()
            .chain(hosts.values().flat_map(|h| &h.notices))
            .collect();
        assert!(
            told.iter().any(|n| n.file.contains("bad-")),
            "{}: {told:?}",
            p.display()
        );
        assert!(
            told.iter().filter(|n| n.file.contains("cut-")).count() >= good / 2,
            "{}: {told:?}",
            p.display()
        );
    }
}

/// A tar whose host folders are interleaved (`a/`, `b/`, then `a/` again):
/// host `a` is released when the walk leaves it, so its late file makes a
/// second report of `a`, and a notice says the host is reported in parts.
#[test]
fn a_host_split_across_a_tar_is_noticed() {
    let t = texts();
    let files: Vec<(String, Vec<u8>)> = [
        ("a/ip_addr.txt", &t.addr),
        ("b/ip_addr.txt", &t.addr),
        ("b/ip_rule.txt", &t.rule),
        ("a/ip_rule.txt", &t.rule),
    ]
    .into_iter()
    .map(|(p, s)| (p.to_string(), s.as_bytes().to_vec()))
    .collect();
    let dir = tempfile::tempdir().unwrap();
    let p = write_file(dir.path(), "split.tar", &tar_bytes(&files, ""));
    let (mut ids, mut in_hosts) = (Vec::new(), Vec::new());
    let notices = capture::scan(&p, Limits::default(), |h| {
        ids.push(h.id.clone());
        in_hosts.extend(h.notices.iter().map(|n| n.message.clone()));
    })
    .unwrap();
    assert_eq!(ids, ["split.tar/a", "split.tar/b", "split.tar/a"]);
    let all: Vec<&String> = notices
        .iter()
        .map(|n| &n.message)
        .chain(&in_hosts)
        .collect();
    assert!(
        all.iter().any(|m| m.as_str()
            == "files of host split.tar/a are not together in the archive: it is reported in parts"),
        "{all:?}"
    );
    same_on_threads(&p, Limits::default());
}

/// A file of an unknown name larger than the 4 MiB a sniff reads: a log
/// (a supportconfig's `messages.txt` is tens of MB) is passed over without
/// a word, in a folder and in an archive alike (in a tar it made its host
/// `incomplete` until session 18); a transcript is read whole from what
/// its head shows (it was not found at all).
#[test]
fn large_files_of_unknown_names() {
    let t = texts();
    let log: Vec<u8> = (0..5_000_000u32)
        .map(|i| b"kernel: eth0 link up\n"[(i % 21) as usize])
        .collect();
    let mut transcript = format!("$ ip addr\n{}$ ip rule\n{}", t.addr, t.rule);
    for table in 100.. {
        if transcript.len() > 5 << 20 {
            break;
        }
        transcript.push_str(&format!("$ ip route show table {table}\n"));
        for i in 0..200 {
            transcript.push_str(&format!(
                "10.{}.{}.0/24 via 10.0.1.1 dev eth0 proto bgp metric 20\n",
                table % 250,
                i
            ));
        }
    }
    let files: Vec<(String, Vec<u8>)> = vec![
        ("h/ip_addr.txt".into(), t.addr.clone().into_bytes()),
        ("h/ip_route.txt".into(), t.route.clone().into_bytes()),
        ("h/ip_rule.txt".into(), t.rule.clone().into_bytes()),
        ("h/messages.txt".into(), log),
        ("vrf-session.txt".into(), transcript.into_bytes()),
    ];
    let dir = tempfile::tempdir().unwrap();
    write_dir(&dir.path().join("d"), &files);
    let tar = write_file(dir.path(), "b.tar.gz", &gz(&tar_bytes(&files, "")));
    for (p, prefix) in [(dir.path().join("d"), ""), (tar, "b.tar.gz/")] {
        let (hosts, notices) = scan(&p);
        assert!(notices.is_empty(), "{notices:?}");
        let h = &hosts[&format!("{prefix}h")];
        assert!(h.notices.is_empty(), "{:?}", h.notices);
        let v = &hosts[&format!("{prefix}vrf-session.txt")];
        assert_eq!(v.collector, Collector::Transcript);
        let routes = v
            .inputs
            .iter()
            .filter(|i| i.kind == DumpKind::IpRoute)
            .count();
        assert!(routes > 100, "{routes} route sections");
    }
}
