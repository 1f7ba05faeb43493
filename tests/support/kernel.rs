//! Shared by the kernel-differential tests: network-namespace helpers (a
//! drop guard that deletes the namespaces and their private `/etc/netns`
//! folder even on panic, `ip` in a namespace, a skip check), the flow and
//! answer records of `tests/kernel-cases/*/cases.json` and of
//! `tests/fix-cases/*/fix.json`, and the field-by-field comparison of the
//! kernel's `ip route get` with `Host::lookup`.
//!
//! Included with `#[path]` by `kernel_diff.rs`, `kernel_cases.rs`,
//! `kernel_verdicts.rs`, `kernel_fixes.rs` (the fix.json writer and records
//! only: it has namespace helpers of its own) and `kernel_fix_cases.rs`;
//! each uses a part, hence the `dead_code` allowance.
#![allow(dead_code)]

use asymroute_offline::capture;
use asymroute_offline::grammar::RouteType;
use asymroute_offline::model::{Flow, Host, Lookup};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Namespace names this test creates start with this, then the creating
/// process id (so a crashed run's leftovers can be recognised and removed
/// without touching a concurrent run's namespaces).
pub const NS_PREFIX: &str = "aro-kd-";

/// Why namespace tests cannot run here, or `None` when they can.
pub fn skip_reason() -> Option<String> {
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
    let probe = format!("{NS_PREFIX}{}-probe", std::process::id());
    let out = Command::new("ip").args(["netns", "add", &probe]).output();
    match out {
        Ok(o) if o.status.success() => {
            let _ = Command::new("ip").args(["netns", "del", &probe]).output();
            None
        }
        Ok(o) => Some(format!(
            "`ip netns add` failed: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        )),
        Err(e) => Some(format!("`ip netns add` could not run: {e}")),
    }
}

/// Whether `ip link add … type vrf` works (the kernel has the vrf module).
pub fn vrf_supported() -> bool {
    let name = format!("{NS_PREFIX}{}-vrfprobe", std::process::id());
    if !Command::new("ip")
        .args(["netns", "add", &name])
        .output()
        .is_ok_and(|o| o.status.success())
    {
        return false;
    }
    let ok = Command::new("ip")
        .args([
            "-n", &name, "link", "add", "vrfprobe", "type", "vrf", "table", "999",
        ])
        .output()
        .is_ok_and(|o| o.status.success());
    let _ = Command::new("ip").args(["netns", "del", &name]).output();
    ok
}

/// Removes namespaces (and their /etc/netns folders) left by earlier runs of
/// this test whose process is gone. Only `aro-kd-<pid>-…` names are touched.
pub fn sweep_stale() {
    let Ok(dir) = std::fs::read_dir("/var/run/netns") else {
        return;
    };
    for e in dir.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        let Some(rest) = name.strip_prefix(NS_PREFIX) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        let _ = Command::new("ip").args(["netns", "del", &name]).output();
        let _ = std::fs::remove_dir_all(format!("/etc/netns/{name}"));
    }
}

/// A namespace for the host under test plus a peer namespace holding the
/// far ends of its veth links. Both, and `/etc/netns/<name>`, are removed on
/// drop.
pub struct Ns {
    pub name: String,
    pub peer: String,
}

impl Ns {
    /// Creates `aro-kd-<pid>-<n>` and its peer `aro-kd-<pid>-<n>-p`.
    pub fn create(n: usize) -> Result<Ns, String> {
        let name = format!("{NS_PREFIX}{}-{n}", std::process::id());
        let ns = Ns {
            peer: format!("{name}-p"),
            name,
        };
        for n in [&ns.name, &ns.peer] {
            let o = run(Command::new("ip").args(["netns", "add", n]))?;
            if !o.status.success() {
                return Err(format!(
                    "ip netns add {n}: {}",
                    String::from_utf8_lossy(&o.stderr).trim()
                ));
            }
        }
        Ok(ns)
    }

    /// Private `/etc/iproute2` for the namespace: `ip netns exec` bind-mounts
    /// `/etc/netns/<ns>/iproute2` over `/etc/iproute2`. The system's files
    /// are copied (so protocol and scope names print as usual) and
    /// `rt_tables` gets the extra names; `/etc/iproute2` itself is untouched.
    pub fn write_rt_tables(&self, extra: &[(u32, String)]) -> std::io::Result<()> {
        let dir = PathBuf::from(format!("/etc/netns/{}/iproute2", self.name));
        std::fs::create_dir_all(&dir)?;
        if let Ok(rd) = std::fs::read_dir("/etc/iproute2") {
            for e in rd.flatten() {
                let p = e.path();
                if p.is_file() && e.file_name() != "rt_tables" {
                    let _ = std::fs::copy(&p, dir.join(e.file_name()));
                }
            }
        }
        let mut t = String::from("255\tlocal\n254\tmain\n253\tdefault\n0\tunspec\n");
        for (id, name) in extra {
            t.push_str(&format!("{id}\t{name}\n"));
        }
        std::fs::write(dir.join("rt_tables"), t)
    }

    /// `ip netns exec <ns> <argv…>`.
    pub fn exec(&self, argv: &[&str]) -> Result<Output, String> {
        run(Command::new("ip")
            .args(["netns", "exec", &self.name])
            .args(argv))
    }

    /// `ip netns exec <ns> sh -c <script>`.
    pub fn sh(&self, script: &str) -> Result<Output, String> {
        self.exec(&["sh", "-c", script])
    }

    /// Runs `ip [opts] -force -batch -` in the namespace (or its peer) and
    /// returns, per input line, the command's stdout or its error text.
    pub fn batch(
        &self,
        peer: bool,
        opts: &[&str],
        lines: &[String],
    ) -> Result<Vec<BatchResult>, String> {
        let ns = if peer { &self.peer } else { &self.name };
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", ns, "ip"])
            .args(opts)
            .args(["-force", "-batch", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().map_err(|e| format!("ip -batch: {e}"))?;
        let mut input = String::new();
        for l in lines {
            debug_assert!(!l.contains('\n'));
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
}

impl Drop for Ns {
    fn drop(&mut self) {
        for n in [&self.name, &self.peer] {
            let _ = Command::new("ip").args(["netns", "del", n]).output();
        }
        let _ = std::fs::remove_dir_all(format!("/etc/netns/{}", self.name));
    }
}

fn run(cmd: &mut Command) -> Result<Output, String> {
    cmd.output().map_err(|e| format!("{cmd:?}: {e}"))
}

/// One `-batch` line's outcome.
#[derive(Debug, Clone)]
pub enum BatchResult {
    Ok(String),
    Err(String),
}

/// `ip -force -batch`: each failing line N leaves its message(s) then
/// `Command failed -:N` on stderr; each succeeding `-j route get` prints one
/// line of JSON on stdout. Successes are matched to the lines that did not
/// fail, in order.
pub fn split_batch(n: usize, stdout: &str, stderr: &str) -> Vec<BatchResult> {
    let mut errs: HashMap<usize, String> = HashMap::new();
    let mut pending: Vec<&str> = Vec::new();
    for l in stderr.lines() {
        if let Some(num) = l.strip_prefix("Command failed -:") {
            if let Ok(k) = num.trim().parse::<usize>() {
                errs.insert(k, pending.join("\n"));
            }
            pending.clear();
        } else if !l.trim().is_empty() {
            pending.push(l);
        }
    }
    let mut outs = stdout.lines().filter(|l| !l.trim().is_empty());
    (1..=n)
        .map(|k| match errs.remove(&k) {
            Some(e) => BatchResult::Err(e),
            None => BatchResult::Ok(outs.next().unwrap_or("").to_string()),
        })
        .collect()
}

/// A flow as stored in cases.json and as `ip route get` takes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowSpec {
    pub dst: IpAddr,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src: Option<IpAddr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iif: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oif: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mark: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tos: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    /// `ipproto tcp dport N`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp_dport: Option<u16>,
    /// `ipproto P` (without `tcp_dport`): `tcp`, `udp`, `icmp`,
    /// `ipv6-icmp`. Absent: the kernel's default (IPv4 UDP, IPv6 none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipproto: Option<String>,
    /// `sport N` / `dport N` (with `ipproto`): flow keys a multipath hash
    /// under `fib_multipath_hash_policy=1` reads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sport: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dport: Option<u16>,
}

impl FlowSpec {
    pub fn to(dst: IpAddr) -> FlowSpec {
        FlowSpec {
            dst,
            src: None,
            iif: None,
            oif: None,
            mark: None,
            tos: None,
            uid: None,
            tcp_dport: None,
            ipproto: None,
            sport: None,
            dport: None,
        }
    }

    /// The `ip -batch` line.
    pub fn command(&self) -> String {
        let mut s = format!("route get to {}", self.dst);
        if let Some(a) = self.src {
            s.push_str(&format!(" from {a}"));
        }
        if let Some(i) = &self.iif {
            s.push_str(&format!(" iif {i}"));
        }
        if let Some(o) = &self.oif {
            s.push_str(&format!(" oif {o}"));
        }
        if let Some(m) = self.mark {
            s.push_str(&format!(" mark {m:#x}"));
        }
        if let Some(t) = self.tos {
            s.push_str(&format!(" tos {t:#04x}"));
        }
        match self.uid {
            Some(u) => s.push_str(&format!(" uid {u}")),
            // IPv6 `route get … iif` without `uid` looks up with INVALID_UID
            // (inet6_rtm_getroute); a really received packet has uid 0.
            None if self.iif.is_some() && self.dst.is_ipv6() => s.push_str(" uid 0"),
            None => {}
        }
        if let Some(p) = self.tcp_dport {
            s.push_str(&format!(" ipproto tcp dport {p}"));
        } else if let Some(p) = &self.ipproto {
            s.push_str(&format!(" ipproto {p}"));
        }
        if let Some(p) = self.sport {
            s.push_str(&format!(" sport {p}"));
        }
        if let Some(p) = self.dport {
            s.push_str(&format!(" dport {p}"));
        }
        s
    }

    pub fn flow(&self) -> Flow {
        let mut f = Flow::to(self.dst);
        f.src = self.src;
        f.iif = self.iif.clone();
        f.oif = self.oif.clone();
        f.mark = self.mark.unwrap_or(0);
        f.tos = self.tos.unwrap_or(0);
        f.uid = self.uid.unwrap_or(0);
        // As `route-get` and `ip route get` take it: IPv4 is UDP unless
        // told otherwise, IPv6 protocol 0.
        f.ipproto = asymroute_offline::model::lookup::get_route_ipproto(
            self.ipproto.as_deref(),
            self.dst.is_ipv6(),
        )
        .unwrap_or_else(|e| panic!("{}: {e}", self.command()));
        f.sport = self.sport;
        f.dport = self.dport;
        if let Some(p) = self.tcp_dport {
            f.ipproto = Some(6);
            f.dport = Some(p);
        }
        f
    }

    pub fn is_output(&self) -> bool {
        self.iif.is_none()
    }

    /// Flows whose kernel answer is not a routing answer, so never compared:
    /// IPv6 `route get` of a multicast destination with `iif` fails in
    /// rt6_fill_node with EMSGSIZE ("Message too long"): it asks the
    /// multicast routing table (ip6mr_get_route), which a host lacks.
    pub fn incomparable(&self) -> Option<&'static str> {
        match self.dst {
            IpAddr::V6(d) if d.is_multicast() && self.iif.is_some() => {
                Some("IPv6 multicast destination with iif")
            }
            _ => None,
        }
    }
}

/// The kernel's answer, reduced to what is compared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dev: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<IpAddr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefsrc: Option<IpAddr>,
    /// Informational only (docs/kernel-semantics.md: never compared).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
}

impl Answer {
    /// From one `-batch` outcome of `ip -j route get`.
    pub fn from_batch(r: &BatchResult) -> Answer {
        let mut a = Answer {
            error: None,
            kind: None,
            dev: None,
            gateway: None,
            prefsrc: None,
            table: None,
        };
        match r {
            BatchResult::Err(e) => {
                // "RTNETLINK answers: Network is unreachable" → the errno text.
                let msg = e
                    .lines()
                    .find_map(|l| l.strip_prefix("RTNETLINK answers: "))
                    .unwrap_or(e.lines().next().unwrap_or(""));
                a.error = Some(msg.trim().to_string());
            }
            BatchResult::Ok(json) => {
                let v: serde_json::Value = match serde_json::from_str(json) {
                    Ok(v) => v,
                    Err(e) => {
                        a.error = Some(format!("unparsable output {json:?}: {e}"));
                        return a;
                    }
                };
                let o = &v[0];
                let s = |k: &str| o.get(k).and_then(|x| x.as_str()).map(str::to_string);
                a.kind = Some(s("type").unwrap_or_else(|| "unicast".into()));
                a.dev = s("dev");
                a.gateway = s("gateway")
                    .or_else(|| {
                        o.get("via")
                            .and_then(|v| v.get("host"))
                            .and_then(|h| h.as_str())
                            .map(str::to_string)
                    })
                    .and_then(|g| g.parse().ok());
                a.prefsrc = s("prefsrc").and_then(|g| g.parse().ok());
                a.table = s("table");
            }
        }
        a
    }
}

/// One stored flow with the kernel's answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Case {
    pub flow: FlowSpec,
    pub kernel: Answer,
    /// What the disagreement was, for cases kept as regressions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CaseFile {
    pub description: String,
    pub cases: Vec<Case>,
}

/// Writes `{"description": …, "cases": […]}` with one case per line
/// (compact, diff-friendly): cases.json and verdicts.json alike.
pub fn write_case_lines<T: Serialize>(
    path: &Path,
    description: &str,
    cases: &[T],
) -> std::io::Result<()> {
    write_case_file(
        path,
        &[("description", serde_json::to_value(description)?)],
        cases,
    )
}

/// Writes `{"k1": v1, …, "cases": […]}`: each header field on a line of its
/// own, in the order given, then one case per line (fix.json).
pub fn write_case_file<T: Serialize>(
    path: &Path,
    header: &[(&str, serde_json::Value)],
    cases: &[T],
) -> std::io::Result<()> {
    let mut out = String::from("{");
    for (k, v) in header {
        out.push_str(&serde_json::to_string(k)?);
        out.push_str(": ");
        out.push_str(&serde_json::to_string(v)?);
        out.push_str(",\n");
    }
    out.push_str("\"cases\": [\n");
    for (i, c) in cases.iter().enumerate() {
        out.push_str(&serde_json::to_string(c)?);
        out.push_str(if i + 1 < cases.len() { ",\n" } else { "\n" });
    }
    out.push_str("]}\n");
    std::fs::write(path, out)
}

/// One probe of a `tests/fix-cases/*/fix.json` (`kernel_fixes.rs` writes
/// them, `kernel_fix_cases.rs` replays them): the kernel's answer to
/// `ip -j route get DST from FROM` before and after the host's fix was
/// applied in its namespace. `A` is the answer as written (the harness's
/// own type) or read (`Answer`): `error`, or `type`, `dev`, `gateway` (a
/// gateway equal to the destination is left out: the same neighbour).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FixCase<A> {
    pub from: IpAddr,
    /// The endpoint's link.
    pub interface: String,
    pub dst: IpAddr,
    pub before: A,
    pub after: A,
}

/// A fix.json: the host's verified advice as the tool printed it (every
/// step's commands, steps in order; every step's undo, last step first: the
/// order that takes the whole fix back) and the probes.
#[derive(Debug, Clone, Deserialize)]
pub struct FixFile {
    pub description: String,
    pub seed: u64,
    pub host: usize,
    pub fix_status: String,
    pub commands: Vec<String>,
    pub undo: Vec<String>,
    pub cases: Vec<FixCase<Answer>>,
}

/// Writes a cases.json.
pub fn write_cases(path: &Path, cf: &CaseFile) -> std::io::Result<()> {
    write_case_lines(path, &cf.description, &cf.cases)
}

/// The folders of `tests/kernel-cases/` holding any of `files`, sorted.
pub fn case_dirs(files: &[&str]) -> Vec<std::path::PathBuf> {
    case_dirs_in("tests/kernel-cases", files)
}

/// The folders of `root` (relative to the crate) holding any of `files`,
/// sorted.
pub fn case_dirs_in(root: &str, files: &[&str]) -> Vec<std::path::PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(root);
    let mut dirs: Vec<std::path::PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| files.iter().any(|f| p.join(f).is_file()))
        .collect();
    dirs.sort();
    dirs
}

/// Compares the offline lookup with the kernel's answer, field by field.
/// `Err` says which field differs.
pub fn compare(flow: &FlowSpec, l: &Lookup, k: &Answer) -> Result<(), String> {
    match (&l.result, &k.error) {
        (Err(e), Some(ke)) => {
            if e.message() == ke {
                Ok(())
            } else {
                Err(format!("error: offline {:?}, kernel {ke:?}", e.message()))
            }
        }
        (Err(e), None) => Err(format!(
            "offline error {:?}, kernel {} dev {:?} via {:?}",
            e.message(),
            k.kind.as_deref().unwrap_or("?"),
            k.dev,
            k.gateway
        )),
        (Ok(h), Some(ke)) if h.hash_error.is_some_and(|e| e.message() == ke) => Ok(()),
        (Ok(h), Some(ke)) => Err(format!(
            "offline {} dev {} via {:?}, kernel error {ke:?}",
            h.kind, h.dev, h.gateway
        )),
        (Ok(h), None) => {
            let mut bad = Vec::new();
            let kind = k.kind.as_deref().unwrap_or("unicast");
            if h.kind.as_str() != kind && !(h.kind == RouteType::Unicast && kind == "unicast") {
                bad.push(format!("type: offline {}, kernel {kind}", h.kind));
            }
            // Multipath: the kernel's nexthop must be one of the offline
            // ones, and its source the one offline gives that nexthop.
            let nh = h
                .nexthops
                .iter()
                .find(|n| Some(n.dev.as_str()) == k.dev.as_deref() && n.gateway == k.gateway)
                .filter(|_| h.hash_dependent);
            let chosen_src = nh.map_or(h.src, |n| n.src);
            if nh.is_none() {
                if Some(h.dev.as_str()) != k.dev.as_deref() {
                    bad.push(format!("dev: offline {}, kernel {:?}", h.dev, k.dev));
                }
                if h.gateway != k.gateway {
                    bad.push(format!(
                        "gateway: offline {:?}, kernel {:?}",
                        h.gateway, k.gateway
                    ));
                }
                if h.hash_dependent {
                    bad.push(format!(
                        "kernel nexthop not among offline nexthops {:?}",
                        h.nexthops
                    ));
                }
            }
            if flow.src.is_none() && flow.is_output() && chosen_src != k.prefsrc {
                bad.push(format!(
                    "prefsrc: offline {:?}, kernel {:?}",
                    chosen_src, k.prefsrc
                ));
            }
            if bad.is_empty() {
                Ok(())
            } else {
                Err(bad.join("; "))
            }
        }
    }
}

/// Lookups the dumps cannot settle, so not compared (the reason is
/// returned):
/// * an IPv6 rule with `suppress_ifgroup` looks at the device of the ECMP
///   sibling the flow hash picked (fib6_rule_suppress), so when a multipath
///   route's nexthops are on links of different groups the hash decides
///   whether the walk goes on (IPv4 always looks at nexthop 0, as the model);
/// * `ip -o addr` prints no link group, so a `suppress_ifgroup` rule cannot
///   be evaluated from such a capture (for a received IPv4 packet, any such
///   rule: the reverse-path lookup's walk is not reported);
/// * an IPv4 route whose gateway is the host's own address on the leg's
///   device, in a table other than main that also holds a unicast route of
///   link (or host) scope to that address through the device: when the
///   route was added, fib_check_nh_v4_gw resolved the gateway in that table
///   if such a route was already there (the nexthop gets scope link and
///   keeps its gateway), else through the rules, where the local table
///   makes it scope host and `ip route get` shows no gateway. Which came
///   first is not in any dump (`ip route`, `-d` and `-j` print the same)
///   [verified on 6.18: `default via A` added before `A/29 dev eth1 scope
///   link` answers without `via`, a route via A added after with it].
pub fn undecidable(h: &Host, flow: &FlowSpec, l: &Lookup) -> Option<&'static str> {
    if own_gateway_order(h, flow, l) {
        return Some("own-address gateway resolved in its table or the local one: insertion order");
    }
    let fi = usize::from(flow.dst.is_ipv6());
    let walked_suppress = l
        .trace
        .iter()
        .any(|(i, _)| h.rules[fi][*i].rule.suppress_ifgroup.is_some());
    // A received IPv4 packet's source is looked up in reverse
    // (fib_validate_source), whose walk the lookup does not report: any
    // `suppress_ifgroup` rule may be on it.
    let reverse_suppress = fi == 0
        && flow.iif.is_some()
        && h.rules[0]
            .iter()
            .any(|re| re.rule.suppress_ifgroup.is_some());
    if reverse_suppress && h.links.iter().any(|l| !l.flags_known) {
        return Some("suppress_ifgroup in the reverse-path lookup without captured link groups");
    }
    if !walked_suppress {
        return None;
    }
    if h.links.iter().any(|l| !l.flags_known) {
        return Some("suppress_ifgroup without captured link groups");
    }
    let group = |d: &Option<asymroute_offline::grammar::Name>| {
        d.as_deref().and_then(|d| h.link(d)).map(|l| l.group)
    };
    let mixed = h.tables[1].values().any(|t| {
        t.routes.iter().any(|e| {
            let g: Vec<_> = e.route.nexthops.iter().map(|n| group(&n.dev)).collect();
            g.windows(2).any(|w| w[0] != w[1])
        })
    });
    (fi == 1 && mixed).then_some("IPv6 suppress_ifgroup over a multipath route across groups")
}

/// `undecidable`'s own-address gateway: the lookup's route has a leg whose
/// gateway (not `onlink`) is an address of the leg's device, and its table
/// (not main) holds a unicast route of link or host scope covering the
/// gateway through that device.
fn own_gateway_order(h: &Host, flow: &FlowSpec, l: &Lookup) -> bool {
    use asymroute_offline::grammar::{Family, Route, Table};
    if flow.dst.is_ipv6() {
        return false;
    }
    let Some(rr) = l.route.as_ref() else {
        return false;
    };
    if rr.table == Table::main() {
        return false;
    }
    let Some(t) = h.table(Family::Inet, &rr.table) else {
        return false;
    };
    let Some(route) = t.routes.get(rr.index).map(|e| &e.route) else {
        return false;
    };
    let legs: Vec<(
        Option<&str>,
        Option<IpAddr>,
        &asymroute_offline::grammar::Flags,
    )> = if route.nexthops.is_empty() {
        vec![(route.dev.as_deref(), route.gateway, &route.flags)]
    } else {
        route
            .nexthops
            .iter()
            .map(|n| (n.dev.as_deref(), n.gateway, &n.flags))
            .collect()
    };
    let scope = |r: &Route| r.scope().as_ref().and_then(|s| s.number()).unwrap_or(0);
    legs.iter().any(|(dev, gw, flags)| {
        let (Some(dev), Some(gw)) = (dev, gw) else {
            return false;
        };
        let own = h
            .addrs
            .iter()
            .any(|a| a.link == *dev && a.addr.local == *gw);
        own && !flags.contains("onlink")
            && t.routes.iter().any(|e| {
                let r = &e.route;
                r.kind() == RouteType::Unicast
                    && r.dst.contains(gw)
                    && scope(r) >= 253
                    && (r.dev.as_deref() == Some(*dev)
                        || r.nexthops.iter().any(|n| n.dev.as_deref() == Some(*dev)))
            })
    })
}

/// The source `ip route get` reports for an IPv6 nexthop-object route
/// cannot be read from the dumps when the leg the kernel took is a
/// nexthop object other nhid routes share: the per-CPU route cached on the
/// fib6_nh (rt6_get_pcpu_route, keyed by the nexthop alone) keeps `from`
/// = the route whose lookup made it first, and ip6_route_get_saddr selects
/// the source on that route's first member's device (its table is the one
/// reported, too) [verified on 6.18: table 100's lookups answer `table
/// main` and main's source after a main lookup took the shared member].
/// The dumps do not say which member objects two groups share; legs equal
/// in device and gateway are taken as one object.
pub fn shared_nexthop_prefsrc(h: &Host, flow: &FlowSpec, l: &Lookup, k: &Answer) -> bool {
    if !flow.dst.is_ipv6() || flow.src.is_some() || !flow.is_output() {
        return false;
    }
    let Some(r) = l.route.as_ref() else {
        return false;
    };
    let Some(route) = h
        .table(asymroute_offline::grammar::Family::Inet6, &r.table)
        .and_then(|t| t.routes.get(r.index))
        .map(|e| &e.route)
    else {
        return false;
    };
    if route.nhid().is_none() {
        return false;
    }
    let first = |r: &asymroute_offline::grammar::Route| {
        let dev = r.nexthops.first().map_or(&r.dev, |n| &n.dev);
        dev.as_deref().map(str::to_string)
    };
    let legs = |r: &asymroute_offline::grammar::Route| -> Vec<(Option<String>, Option<IpAddr>)> {
        if r.nexthops.is_empty() {
            vec![(r.dev.as_deref().map(str::to_string), r.gateway)]
        } else {
            r.nexthops
                .iter()
                .map(|n| (n.dev.as_deref().map(str::to_string), n.gateway))
                .collect()
        }
    };
    let taken = (k.dev.clone(), k.gateway);
    h.tables[1].values().any(|t| {
        t.routes.iter().any(|e| {
            e.route.nhid().is_some()
                && first(&e.route) != first(route)
                && legs(&e.route).contains(&taken)
        })
    })
}

/// Loads a plain host folder (skipping `cases.json`, `verdicts.json` and
/// the `setup.txt` that says how the namespace was built) with its kernel
/// files (`sysctl.txt`, `uname`) and builds the model.
pub fn load_host(dir: &Path) -> Host {
    let (inputs, notes) = capture::load_plain_host(dir).expect("read host folder");
    assert!(notes.is_empty(), "{}: {notes:?}", dir.display());
    let inputs = inputs
        .into_iter()
        .filter(|i| {
            ![
                "cases.json",
                "verdicts.json",
                "impacts.json",
                "pods.json",
                "setup.txt",
            ]
            .contains(&i.name.as_str())
        })
        .collect();
    // The folder's `uname` / `sysctl` files, where a case needs them.
    let (system, notes) = capture::load_plain_system(dir).expect("read host folder");
    assert!(notes.is_empty(), "{}: {notes:?}", dir.display());
    Host::build_with(inputs, &HashMap::new(), system)
}

/// Every parse diagnostic of the host's dumps, as `file:line: message`.
pub fn diagnostics(h: &Host) -> Vec<String> {
    h.sources
        .iter()
        .flat_map(|s| {
            s.dump
                .diagnostics
                .iter()
                .map(move |d| format!("{}:{}: {} `{}`", s.name, d.line, d.message, d.text))
        })
        .collect()
}

/// The dumps of a probed host's folder, and the `ip` commands that take
/// them (kernel_impact.rs, kernel_pods.rs).
pub const HOST_DUMPS: [(&str, &str); 5] = [
    ("ip_addr.txt", "ip addr"),
    ("ip_rule.txt", "ip rule"),
    ("ip6_rule.txt", "ip -6 rule"),
    ("ip_route.txt", "ip route show table all"),
    ("ip6_route.txt", "ip -6 route show table all"),
];

/// Runs a host's setup `script` in `ns` (`set -e`: the first refused
/// command fails it), then captures it into `dir` as a collector would: the
/// dumps, the IPv4 sysctls the model reads, and `uname -r`.
pub fn set_up_and_capture(ns: &Ns, script: &[String], dir: &Path) -> Result<(), String> {
    let o = ns.sh(&format!("set -e\n{}", script.join("\n")))?;
    if !o.status.success() {
        return Err(format!(
            "setup failed: {}",
            String::from_utf8_lossy(&o.stderr)
        ));
    }
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    for (f, c) in HOST_DUMPS {
        let o = ns.sh(c)?;
        std::fs::write(dir.join(f), &o.stdout).map_err(|e| e.to_string())?;
    }
    let o = ns.sh(
        "sysctl -a 2>/dev/null | grep -E '^net\\.ipv4\\.(conf\\.[^.]+\\.(rp_filter|accept_local|src_valid_mark|send_redirects|route_localnet|forwarding)|ip_forward) '",
    )?;
    std::fs::write(dir.join("sysctl.txt"), &o.stdout).map_err(|e| e.to_string())?;
    let o = ns.sh("uname -r")?;
    std::fs::write(dir.join("uname"), &o.stdout).map_err(|e| e.to_string())?;
    Ok(())
}

/// Where a probed host is kept: `failed` when it disagreed with the kernel,
/// else the folder `save_var` names, if set.
pub fn keep_dir(save_var: &str, bad: bool, failed: &Path) -> Option<PathBuf> {
    if bad {
        return Some(failed.to_path_buf());
    }
    std::env::var_os(save_var).map(PathBuf::from)
}

/// Keeps the host captured in `dir` as the case folder `to`: its captured
/// files, `setup.txt` (`header`, then the script), the probes as `file` and
/// again as `cases.json`, which `kernel_cases.rs` replays as lookups.
pub fn save_case(
    dir: &Path,
    to: &Path,
    header: &str,
    script: &[String],
    file: &str,
    description: &str,
    cases: &[Case],
) {
    let _ = std::fs::create_dir_all(to);
    for f in HOST_DUMPS
        .iter()
        .map(|(f, _)| *f)
        .chain(["sysctl.txt", "uname"])
    {
        let _ = std::fs::copy(dir.join(f), to.join(f));
    }
    let _ = std::fs::write(
        to.join("setup.txt"),
        format!("# {header}\n{}\n", script.join("\n")),
    );
    let _ = write_case_lines(&to.join(file), description, cases);
    let _ = write_case_lines(&to.join("cases.json"), description, cases);
}

/// Replays the probes of every kept case folder holding `file`, without
/// root: `prepare` analyses the host once, `judge` says why a probe
/// disagrees. Returns the folders, the probes, and the disagreements as
/// `folder: ip command: why`.
pub fn replay_cases<S>(
    file: &str,
    mut prepare: impl FnMut(&Host) -> S,
    mut judge: impl FnMut(&Host, &S, &Case) -> Result<(), String>,
) -> (usize, usize, Vec<String>) {
    let dirs = case_dirs(&[file]);
    let (mut probes, mut bad) = (0, Vec::new());
    for dir in &dirs {
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        let host = load_host(dir);
        let state = prepare(&host);
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        let cf: CaseFile = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        for c in &cf.cases {
            probes += 1;
            if let Err(e) = judge(&host, &state, c) {
                bad.push(format!("{name}: ip {}: {e}", c.flow.command()));
            }
        }
    }
    (dirs.len(), probes, bad)
}
