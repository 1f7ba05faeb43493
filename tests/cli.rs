//! The command line on the sample fleet: every output format and its exit
//! status, `--output` (never inside the bundle), `--only problems`,
//! `--explain`, `--shard`, a bundle on stdin, the `parse` / `route-get` /
//! `generate` subcommands, and usage errors. JSON and NDJSON are validated
//! against `tests/report.schema.json`; the table and Markdown of the samples
//! are snapshots (`tests/snapshots/`, review changes with `cargo insta`).

use assert_cmd::cargo::cargo_bin_cmd;
use serde_json::Value;
use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};

const HOSTS: usize = 10;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn samples() -> PathBuf {
    root().join("samples")
}

/// The tool, run from the repository root (report paths are then relative).
fn tool() -> assert_cmd::Command {
    let mut c = cargo_bin_cmd!("asymroute-offline");
    c.current_dir(root())
        .env("NO_COLOR", "1")
        .env_remove("COLUMNS");
    c
}

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("UTF-8 output")
}

fn schema() -> Value {
    let text = std::fs::read_to_string(root().join("tests/report.schema.json")).expect("schema");
    serde_json::from_str(&text).expect("the schema is JSON")
}

fn validator(schema: &Value) -> jsonschema::Validator {
    jsonschema::options()
        .should_validate_formats(true)
        .build(schema)
        .expect("a valid JSON Schema")
}

fn assert_valid(v: &jsonschema::Validator, doc: &Value, what: &str) {
    let errors: Vec<String> = v
        .iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{what} does not match the schema:\n{}",
        errors.join("\n")
    );
}

fn json_report(args: &[&str]) -> (Value, i32) {
    let o = tool()
        .args(args)
        .args(["--format", "json"])
        .output()
        .expect("runs");
    let doc: Value = serde_json::from_slice(&o.stdout).expect("JSON on stdout");
    (doc, o.status.code().unwrap_or(-1))
}

/// `doc` (a JSON report) with each host's tables read as a consumer reads
/// them: every endpoint's and pod group's `leaks` and `no_route` indices
/// replaced by the host's entries they name.
/// An endpoint written off one of `lists` (`leaks_list`, `leaks_except`)
/// with its `leaks` indices in place instead: the list's but those at the
/// positions excepted.
fn off_list(o: &mut Value, lists: &Value) {
    let Some(m) = o.as_object_mut() else {
        return;
    };
    let Some(l) = m.remove("leaks_list") else {
        return;
    };
    let list = lists[l.as_u64().expect("a list") as usize]
        .as_array()
        .expect("indices");
    let except = m.remove("leaks_except").expect("except");
    let except: Vec<u64> = (except.as_array().expect("positions").iter())
        .map(|p| p.as_u64().unwrap())
        .collect();
    let kept = (0..list.len() as u64).filter(|k| !except.contains(k));
    o["leaks"] = Value::Array(kept.map(|k| list[k as usize].clone()).collect());
}

fn inlined(mut doc: Value) -> Value {
    for h in doc["hosts"].as_array_mut().expect("hosts") {
        let tables = ["leaks", "no_route"].map(|k| h[k].as_array().expect("a table").clone());
        let lists = h.get("leak_lists").cloned().unwrap_or_default();
        for owners in ["endpoints", "pods"] {
            let Some(list) = h.get_mut(owners).and_then(|l| l.as_array_mut()) else {
                continue;
            };
            for o in list {
                off_list(o, &lists);
                for (k, rows) in ["leaks", "no_route"].iter().zip(&tables) {
                    let refs = o[k].as_array().expect("indices");
                    let v = refs
                        .iter()
                        .map(|r| rows[r.as_u64().expect("an index") as usize].clone());
                    o[k] = Value::Array(v.collect());
                }
            }
        }
        if let Some(h) = h.as_object_mut() {
            h.remove("leak_lists");
        }
    }
    doc
}

fn host_ids(doc: &Value) -> Vec<String> {
    doc["hosts"]
        .as_array()
        .expect("hosts")
        .iter()
        .map(|h| h["host"].as_str().expect("host id").to_string())
        .collect()
}

/// Copies a directory tree (files only; the samples' sos root symlinks are
/// left out, as an extracting tool may do).
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let ft = e.file_type().unwrap();
        let dst = to.join(e.file_name());
        if ft.is_dir() {
            copy_tree(&e.path(), &dst);
        } else if ft.is_file() {
            std::fs::copy(e.path(), dst).unwrap();
        }
    }
}

/// A bundle of the complete `ok` hosts: the supportconfig folder and the
/// ec2rl upload (with its gathered sosreport) taken out of the fleet tarball.
fn ok_bundle() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(
        &samples().join("scc_netutils-same_240502_1015"),
        &dir.path().join("scc_netutils-same_240502_1015"),
    );
    let f = std::fs::File::open(samples().join("fleet.tar.gz")).unwrap();
    let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(f));
    let mut found = false;
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().to_string_lossy().to_string();
        if name.starts_with("i-0c0ffee0d0c4e2a19/") && name.ends_with(".tgz") {
            let mut data = Vec::new();
            e.read_to_end(&mut data).unwrap();
            let p = dir.path().join(&name);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, data).unwrap();
            found = true;
        }
    }
    assert!(found, "the ec2rl upload is in the fleet tarball");
    dir
}

// ---------------------------------------------------------------- formats

#[test]
fn json_matches_the_schema_and_exits_1_on_findings() {
    let (doc, code) = json_report(&["samples/"]);
    assert_eq!(code, 1, "asymmetric hosts are findings");
    assert_valid(&validator(&schema()), &doc, "--format json");
    assert_eq!(doc["schema"], 4);
    // Every index names an entry of its host's tables (`inlined` reads them).
    let inl = inlined(doc.clone());
    let named = |d: &Value| {
        d["hosts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| {
                h["endpoints"]
                    .to_string()
                    .matches("\"destinations\"")
                    .count()
            })
            .sum::<usize>()
    };
    assert!(
        named(&inl) > named(&doc),
        "the samples' endpoints name leaks"
    );
    assert_eq!(doc["summary"]["hosts"], HOSTS);
    assert_eq!(doc["summary"]["ok"], 3);
    assert_eq!(doc["summary"]["asymmetric"], 7);
    assert_eq!(doc["summary"]["incomplete"], 3);
    let ids = host_ids(&doc);
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted, "hosts sorted by id");
}

#[test]
fn the_schema_rejects_what_is_not_a_report() {
    let v = validator(&schema());
    let (doc, _) = json_report(&["samples/"]);
    let mut bad = doc.clone();
    bad["hosts"][0]["verdict"] = "fine".into();
    assert!(!v.is_valid(&bad), "an unknown verdict");
    let mut bad = doc.clone();
    bad["hosts"][0].as_object_mut().unwrap().remove("endpoints");
    assert!(!v.is_valid(&bad), "a host without endpoints");
    let mut bad = doc;
    bad["schema"] = 1.into();
    assert!(!v.is_valid(&bad), "another schema version");
}

#[test]
fn ndjson_streams_schema_valid_hosts_then_a_summary() {
    let o = tool()
        .args(["samples/", "--format", "ndjson"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    // A host line is the JSON document's host object, tagged.
    let s = schema();
    let host_schema = serde_json::json!({
        "$schema": s["$schema"],
        "$defs": s["$defs"],
        "allOf": [{ "$ref": "#/$defs/host" }],
        "properties": { "type": { "const": "host" }, "schema": { "const": 4 } },
        "required": ["type", "schema"]
    });
    let hv = validator(&host_schema);
    let lines: Vec<Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON value per line"))
        .collect();
    let hosts: Vec<&Value> = lines.iter().filter(|l| l["type"] == "host").collect();
    assert_eq!(hosts.len(), HOSTS);
    for h in &hosts {
        assert_valid(&hv, h, "an ndjson host line");
    }
    let last = lines.last().expect("lines");
    assert_eq!(last["type"], "summary");
    assert_eq!(last["hosts"], HOSTS);
    assert_eq!(last["asymmetric"], 7);
}

#[test]
fn csv_has_a_header_and_a_row_per_host() {
    let o = tool()
        .args(["samples/", "--format", "csv"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    let mut lines = out.lines();
    assert_eq!(
        lines.next(),
        Some(
            "host,hostname,instance_id,collector,verdict,impact,incomplete,ec2rl_status,ec2rl_message,ec2rl_logged,reason,fix_status,fix_reason"
        )
    );
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), HOSTS);
    assert!(
        rows.iter()
            .any(|r| r.starts_with("netutils-split,,,plain,asymmetric,reply-dropped,,SUCCESS,")),
        "{rows:#?}"
    );
    assert!(
        rows.iter().any(|r| r.starts_with(
            "ec2rl/2024-05-02T10_15_42.123456,,i-0d1ff5b0e7c0a0002,ec2rl,asymmetric,reply-dropped,ip rule not collected"
        )),
        "{rows:#?}"
    );
}

#[test]
fn table_of_the_samples() {
    let o = tool().arg("samples/").output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(
        out.lines().all(|l| l.chars().count() <= 100),
        "rows wider than 100 columns:\n{out}"
    );
    insta::assert_snapshot!("table", out);
}

#[test]
fn markdown_of_the_samples() {
    let o = tool()
        .args(["samples/", "--format", "markdown"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(
        out.starts_with("| host | collector | verdict | fix | ec2rl would say | reason |\n|---|")
    );
    insta::assert_snapshot!("markdown", out);
}

#[test]
fn explain_shows_endpoints_leaks_and_fixes() {
    let o = tool()
        .args(["samples/netutils-split", "--explain"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    for want in [
        "netutils-split: asymmetric [plain]",
        "ec2rl would say: [SUCCESS] No duplicate subnets found.",
        "10.0.1.10/24 on eth0: asymmetric",
        "cross-subnet: 10.0.2.0/24",
        // A host folder given directly: its files are named from inside it.
        "rule  ip_rule.txt:",
        "route ip_route.txt:",
        "10.0.2.20/24 on eth1: ok",
        "fix (verified):",
        "ip rule add from 10.0.1.10 lookup",
        "undo (run in this order to take the fix back):",
        "ip rule del from 10.0.1.10 lookup",
    ] {
        assert!(out.contains(want), "no `{want}` in:\n{out}");
    }
    // The wg-quick host: the fwmark rule is shown as conditional.
    let o = tool()
        .args(["samples/fleet.tar.gz", "--explain"])
        .output()
        .unwrap();
    assert!(
        stdout(&o).contains("conditional rule") && stdout(&o).contains("fwmark 0xca6c"),
        "{}",
        stdout(&o)
    );
}

// ---------------------------------------------------------------- exit status

#[test]
fn exit_0_when_every_host_is_ok() {
    let b = ok_bundle();
    let o = tool().arg(b.path()).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("2 host(s): 2 ok, 0 asymmetric, 0 no-route, 0 error; 0 incomplete")
    );
}

#[test]
fn exit_3_when_no_findings_but_incomplete() {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(
        &samples().join("insights-single-homed-20240502101542"),
        &dir.path().join("insights-single-homed-20240502101542"),
    );
    let b = ok_bundle();
    copy_tree(b.path(), dir.path());
    let o = tool().arg(dir.path()).output().unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", stdout(&o));
    assert!(stdout(&o).contains("(incomplete)"));
}

#[test]
fn exit_3_when_an_input_or_archive_could_not_be_read() {
    // Every host found is ok, but something in the bundle was not seen: a
    // batch over a fleet must not take that run for a clean one.
    let b = ok_bundle();
    let full = std::fs::read(samples().join("fleet.tar.gz")).unwrap();
    let cut = b.path().join("cut.tar.gz");
    std::fs::write(&cut, &full[..full.len() / 3]).unwrap();
    let missing = b.path().join("no-such-input");
    for extra in [&cut, &missing] {
        let bundle = b.path().join("scc_netutils-same_240502_1015");
        let o = tool()
            .args(["--format", "json"])
            .arg(&bundle)
            .arg(extra)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(3), "{extra:?}: {}", stdout(&o));
        let doc: Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(doc["summary"]["ok"], 1, "{extra:?}");
        let named = doc["diagnostics"].as_array().unwrap().iter().any(|d| {
            d["file"]
                .as_str()
                .unwrap()
                .contains(extra.file_name().unwrap().to_str().unwrap())
        });
        assert!(named, "{extra:?} named in {}", doc["diagnostics"]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains(extra.file_name().unwrap().to_str().unwrap()),
            "{err}"
        );
    }
}

#[test]
fn exit_2_for_a_missing_path() {
    let o = tool().arg("samples/no-such-bundle").output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no-such-bundle"));
}

#[test]
fn exit_2_for_usage_errors() {
    for args in [
        &["samples/", "--format", "yaml"][..],
        &["samples/", "--shard", "3/2"],
        &["samples/", "--shard", "0/2"],
        &["samples/", "--no-such-flag"],
        &["samples/", "--only", "everything"],
        &[],
        &["route-get", "samples/netutils-split"],
        &["route-get", "samples/netutils-split", "--to", "not-an-ip"],
    ] {
        let o = tool().args(args).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(!o.stderr.is_empty(), "{args:?}: says why");
    }
}

// ---------------------------------------------------------------- options

#[test]
fn output_writes_the_file_and_never_inside_the_bundle() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report.json");
    let o = tool()
        .args(["samples/", "--format", "json", "--output"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(o.stdout.is_empty(), "nothing on stdout with --output");
    let doc: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(host_ids(&doc).len(), HOSTS);

    // Inside the bundle being read: refused, nothing written.
    let bundle = ok_bundle();
    let inside = bundle
        .path()
        .join("scc_netutils-same_240502_1015/report.txt");
    let o = tool()
        .arg(bundle.path())
        .arg("--output")
        .arg(&inside)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("refusing"));
    assert!(!inside.exists());
}

#[test]
fn only_problems_leaves_out_complete_ok_hosts() {
    let (all, _) = json_report(&["samples/"]);
    let o = tool()
        .args(["samples/", "--only", "problems", "--format", "csv"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    for h in all["hosts"].as_array().unwrap() {
        let complete_ok =
            h["verdict"] == "ok" && h["incomplete"].as_array().is_some_and(|v| v.is_empty());
        let id = format!("\n{},", h["host"].as_str().unwrap());
        assert_eq!(
            out.contains(&id),
            !complete_ok,
            "{id}: listed iff not a complete ok\n{out}"
        );
    }
    let md = tool()
        .args(["samples/", "--only", "problems", "--format", "markdown"])
        .output()
        .unwrap();
    let md = stdout(&md);
    assert!(!md.contains("| scc_netutils-same_240502_1015 |"), "{md}");
    assert!(md.contains("| netutils-split |"), "{md}");
}

/// `--only broken` keeps the hosts whose traffic is lost, and every host
/// it keeps leads its reason with what drops it.
#[test]
fn only_broken_keeps_hosts_that_lose_traffic() {
    let (all, _) = json_report(&["samples/"]);
    let (broken, code) = json_report(&["samples/", "--only", "broken"]);
    assert_eq!(code, 1);
    let want: BTreeSet<String> = all["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| {
            matches!(
                h["impact"].as_str(),
                Some("request-dropped" | "reply-dropped")
            )
        })
        .map(|h| h["host"].as_str().unwrap().to_string())
        .collect();
    let got: BTreeSet<String> = host_ids(&broken).into_iter().collect();
    assert_eq!(got, want);
    // The samples hold both kinds, and a degraded (delivered) host.
    let impacts: BTreeSet<&str> = all["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|h| h["impact"].as_str())
        .collect();
    assert_eq!(
        impacts,
        BTreeSet::from(["delivered", "reply-dropped", "request-dropped"])
    );
    for h in broken["hosts"].as_array().unwrap() {
        let r = h["reason"].as_str().unwrap();
        assert!(r.starts_with("broken: "), "{r}");
    }
    let samesub = broken["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["host"].as_str().unwrap().contains("samesub"))
        .expect("the RHEL host with strict rp_filter");
    assert!(
        samesub["reason"].as_str().unwrap().starts_with(
            "broken: requests from 0.0.0.0/0 except 172.31.16.0/20 dropped by rp_filter=1 on eth1"
        ),
        "{}",
        samesub["reason"]
    );
}

#[test]
fn shards_cover_every_host_exactly_once() {
    let (all, _) = json_report(&["samples/"]);
    let all: BTreeSet<String> = host_ids(&all).into_iter().collect();
    let (one, _) = json_report(&["samples/", "--shard", "1/2"]);
    let (two, _) = json_report(&["samples/", "--shard", "2/2"]);
    let (one, two) = (host_ids(&one), host_ids(&two));
    assert!(!one.is_empty() && !two.is_empty(), "both shards get hosts");
    let mut both: Vec<String> = one.iter().chain(&two).cloned().collect();
    both.sort();
    let n = both.len();
    both.dedup();
    assert_eq!(n, both.len(), "a host in both shards");
    assert_eq!(both.into_iter().collect::<BTreeSet<_>>(), all);
    // Deterministic: the same split every run.
    let (again, _) = json_report(&["samples/", "--shard", "1/2"]);
    assert_eq!(host_ids(&again), one);
}

#[test]
fn a_tarball_on_stdin() {
    let o = tool()
        .args(["-", "--format", "json"])
        .pipe_stdin(samples().join("fleet.tar.gz"))
        .unwrap()
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let doc: Value = serde_json::from_slice(&o.stdout).unwrap();
    let ids = host_ids(&doc);
    assert_eq!(ids.len(), 3, "{ids:?}");
    assert!(
        ids.iter()
            .any(|i| i.ends_with("/secondary-ips.tgz/secondary-ips")),
        "{ids:?}"
    );
    let (file, _) = json_report(&["samples/fleet.tar.gz"]);
    let verdicts = |d: &Value| -> Vec<(String, String)> {
        d["hosts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| {
                let id = h["host"].as_str().unwrap();
                let tail = id.split_once('/').map_or(id, |(_, t)| t).to_string();
                (tail, h["verdict"].as_str().unwrap().to_string())
            })
            .collect()
    };
    assert_eq!(verdicts(&doc), verdicts(&file), "stdin and file agree");
}

// ---------------------------------------------------------------- subcommands

#[test]
fn parse_prints_records_and_json() {
    let o = tool()
        .args(["parse", "samples/netutils-split/ip_rule.txt"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert!(
        stdout(&o)
            .lines()
            .any(|l| l.starts_with("10001:\tfrom 10.0.2.20") && l.ends_with("lookup 10001")),
        "{}",
        stdout(&o)
    );
    let o = tool()
        .args([
            "parse",
            "samples/sosreport-samesub-2024-05-02-hxkqzpa/sos_commands/networking/ip_-d_address",
            "--json",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    let doc: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["kind"], "ip-addr");
    assert!(doc["diagnostics"].as_array().is_some_and(|d| d.is_empty()));
    // Not a dump: exit 2.
    let o = tool()
        .args(["parse", "samples/README.md"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn route_get_answers_as_the_kernel_did() {
    // Checked in the namespace by make-samples.sh: `ip route get 10.0.2.5
    // from 10.0.1.10` leaves by eth1 (main's connected route).
    let o = tool()
        .args([
            "route-get",
            "samples/netutils-split",
            "--from",
            "10.0.1.10",
            "--to",
            "10.0.2.5",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    let out = stdout(&o);
    assert!(out.starts_with("10.0.2.5 from 10.0.1.10 dev eth1"), "{out}");
    let o = tool()
        .args([
            "route-get",
            "samples/netutils-split",
            "--from",
            "10.0.2.20",
            "--to",
            "8.8.8.8",
            "--json",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    let doc: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(doc.to_string().contains("eth1"), "{doc}");
    assert!(doc.to_string().contains("10001"), "{doc}");
}

/// `route-get` answers from the bundle's sysctls and kernel version
/// (`sysctl.txt`, `uname` of a plain folder), and says what it assumed
/// where they are missing.
#[test]
fn route_get_reads_sysctls_and_kernel_version() {
    let get = |case: &str, args: &[&str]| -> Value {
        let dir = format!("tests/kernel-cases/{case}");
        let o = tool()
            .args(["route-get", &dir, "--host", case, "--json"])
            .args(args)
            .output()
            .unwrap();
        serde_json::from_slice(&o.stdout).unwrap()
    };
    let assumed = |v: &Value, what: &str| {
        v["assumptions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a.as_str().unwrap().contains(what))
    };
    // route_localnet=1 on eth1 (sysctl.txt): 127/8 arrives on eth1.
    let flow = ["--to", "10.0.0.2", "--from", "127.5.5.9", "--iif", "eth1"];
    let v = get("handmade-v4-route-localnet-dev", &flow);
    assert_eq!(v["type"], "local", "{v}");
    assert!(!assumed(&v, "sysctls not collected"), "{v}");
    let v = get("handmade-v4-route-localnet-off", &flow);
    assert_eq!(v["error"], "Invalid argument", "{v}");
    // 0.0.0.0/8 on the kernel named by `uname` (6.18); no sysctls there.
    let v = get("handmade-v4-zeronet-routable", &["--to", "0.9.1.1"]);
    assert_eq!(v["gateway"], "10.0.0.7", "{v}");
    assert!(!assumed(&v, "kernel version not collected"), "{v}");
    assert!(assumed(&v, "sysctls not collected"), "{v}");
}

/// `route-get` takes the protocol as `ip route get` does: UDP for IPv4
/// unless `--ipproto` says otherwise (so `ipproto udp` rules match), none
/// for IPv6, and refuses what the kernel refuses.
/// `route-get --iif` says which rp_filter setting decided, as the kernel
/// of the bundle answers (the sample's strict eth1, captured on 6.18).
#[test]
fn route_get_says_which_rp_filter_decided() {
    let host = "samples/sosreport-samesub-2024-05-02-hxkqzpa";
    let o = tool()
        .args([
            "route-get",
            host,
            "--to",
            "172.31.16.20",
            "--from",
            "8.8.8.8",
            "--iif",
            "eth1",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(out.starts_with("172.31.16.20: Invalid argument\n"), "{out}");
    assert!(
        out.contains("reverse-path filter rp_filter=1 on eth1 (strict; net.ipv4.conf.eth1.rp_filter = 1): dropped: replies to 8.8.8.8 leave by eth0, not eth1"),
        "{out}"
    );
    let o = tool()
        .args([
            "route-get",
            host,
            "--to",
            "172.31.16.20",
            "--from",
            "172.31.16.99",
            "--iif",
            "eth1",
            "--json",
        ])
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(1),
        "same-subnet peers route by eth0 too"
    );
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["source_check"]["passed"], false);
    assert_eq!(v["source_check"]["reverse_devs"][0], "eth0");
    let o = tool()
        .args([
            "route-get",
            host,
            "--to",
            "172.31.16.10",
            "--from",
            "8.8.8.8",
            "--iif",
            "eth0",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("passed: replies to 8.8.8.8 leave by eth0"));
}

#[test]
fn route_get_protocol_as_ip_route_get() {
    let case = "handmade-ipproto-default-udp";
    let dir = format!("tests/kernel-cases/{case}");
    let run = |args: &[&str]| {
        tool()
            .args(["route-get", &dir, "--host", case])
            .args(args)
            .output()
            .unwrap()
    };
    let out = stdout(&run(&["--to", "8.8.8.8"]));
    assert!(
        out.starts_with("8.8.8.8 via 192.168.5.1 dev eth1 table 100"),
        "{out}"
    );
    let out = stdout(&run(&["--to", "8.8.8.8", "--ipproto", "tcp"]));
    assert!(
        out.starts_with("8.8.8.8 via 172.16.0.1 dev eth2 table 101"),
        "{out}"
    );
    let out = stdout(&run(&["--to", "2001:db8:9::9"]));
    assert!(
        out.starts_with("2001:db8:9::9 via 2001:db8:1::1 dev eth0"),
        "{out}"
    );
    let o = run(&["--to", "8.8.8.8", "--ipproto", "gre"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("Unsupported ip proto"),
        "{o:?}"
    );
    let o = run(&["--to", "8.8.8.8", "--json"]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["ipproto"], 17, "{v}");
}

/// A `dscp` (or `flowlabel`) rule holds only for flows of that DSCP: it is
/// no longer applied to every reply (every destination leaking to eth1 by
/// table 100) but listed as a conditional rule, as `fwmark` or `ipproto`
/// rules are.
#[test]
fn dscp_rules_are_conditional_not_every_reply() {
    let dir = tempfile::tempdir().unwrap();
    let files = [
        (
            "ip_addr.txt",
            "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN group default qlen 1000\n    inet 127.0.0.1/8 scope host lo\n2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP group default qlen 1000\n    inet 10.0.0.2/24 scope global eth0\n3: eth1: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP group default qlen 1000\n    inet 192.168.5.2/24 scope global eth1\n",
        ),
        (
            "ip_rule.txt",
            "0:\tfrom all lookup local\n100:\tfrom all lookup 100 dscp 10\n32766:\tfrom all lookup main\n32767:\tfrom all lookup default\n",
        ),
        (
            "ip_route.txt",
            "default via 10.0.0.1 dev eth0\n10.0.0.0/24 dev eth0 proto kernel scope link src 10.0.0.2\n192.168.5.0/24 dev eth1 proto kernel scope link src 192.168.5.2\ndefault via 192.168.5.1 dev eth1 table 100\nlocal 10.0.0.2 dev eth0 table local proto kernel scope host src 10.0.0.2\nlocal 192.168.5.2 dev eth1 table local proto kernel scope host src 192.168.5.2\n",
        ),
    ];
    for (n, t) in files {
        std::fs::write(dir.path().join(n), t).unwrap();
    }
    let path = dir.path().to_string_lossy().to_string();
    let (doc, _) = json_report(&["scan", &path]);
    let doc = inlined(doc);
    let eps = doc["hosts"][0]["endpoints"].as_array().unwrap();
    let eth0 = eps
        .iter()
        .find(|e| e["address"] == "10.0.0.2")
        .expect("eth0's endpoint");
    // Its only leak is the real one (main's route to eth1's subnet), not
    // every destination by the dscp rule's table.
    let leaks = eth0["leaks"].to_string();
    assert!(
        !leaks.contains("dscp") && !leaks.contains("0.0.0.0/0"),
        "{eth0}"
    );
    let cond = eth0["conditional"].to_string();
    assert!(cond.contains("dscp 10"), "{eth0}");
    // `route-get` with the DSCP's TOS byte takes the rule; without, not.
    let get = |tos: &[&str]| {
        let o = tool()
            .args(["route-get", &path, "--to", "8.8.8.8", "--from", "10.0.0.2"])
            .args(tos)
            .output()
            .unwrap();
        stdout(&o)
    };
    assert!(get(&[]).contains("dev eth0"));
    assert!(get(&["--tos", "0x28"]).contains("dev eth1 table 100"));
}

#[test]
fn generate_man_and_bash() {
    let o = tool().args(["generate", "man"]).output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    let man = stdout(&o);
    assert!(
        man.contains(".TH") && man.contains("asymroute-offline"),
        "{man}"
    );
    let o = tool().args(["generate", "bash"]).output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    let bash = stdout(&o);
    assert!(
        bash.contains("complete") && bash.contains("--format"),
        "{bash}"
    );
    let o = tool().args(["generate", "tcsh"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn help_and_version() {
    let o = tool().arg("--help").output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    let help = stdout(&o);
    for w in ["--format", "--explain", "--shard", "Exit status"] {
        assert!(help.contains(w), "--help lacks {w}");
    }
    let o = tool().arg("--version").output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).starts_with("asymroute-offline "));
}

/// The README's array-job example, run as written: three shards of the
/// samples merged give the report one scan gives, byte for byte; a shard
/// cut short, merged twice, or of another schema is named and makes the
/// run incomplete.
#[test]
fn shards_merge_into_the_fleet_report() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let block: Vec<&str> = readme
        .split("<!-- array-job -->\n```sh\n")
        .nth(1)
        .expect("the array-job block")
        .split("\n```")
        .next()
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .collect();
    assert_eq!(block.len(), 2, "{block:?}");
    let (task, merge) = (block[0], block[1]);
    let bin = std::path::PathBuf::from(env!("CARGO_BIN_EXE_asymroute-offline"));
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = tempfile::tempdir().unwrap();
    let sh = |line: &str, k: usize| {
        std::process::Command::new("sh")
            .args(["-c", line])
            .current_dir(root())
            .env("PATH", &path)
            .env("BUNDLES", "samples/")
            .env("OUT", out.path())
            .env("N", "3")
            .env("K", k.to_string())
            .output()
            .unwrap()
    };
    for k in 1..=3 {
        let o = sh(task, k);
        assert!(o.status.success(), "task {k}: {o:?}");
    }
    let o = sh(merge, 0);
    assert_eq!(o.status.code(), Some(1), "the fleet's findings: {o:?}");
    let merged = std::fs::read(out.path().join("fleet.json")).unwrap();
    let direct = tool()
        .args(["samples/", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8(merged).unwrap(),
        stdout(&direct),
        "merged shards differ from one scan"
    );
    let shards: Vec<std::path::PathBuf> = (1..=3)
        .map(|k| out.path().join(format!("shard-{k}-of-3.ndjson")))
        .collect();
    // Every format from the shards is the scan's.
    for f in ["table", "csv", "markdown"] {
        let m = tool()
            .arg("merge")
            .args(&shards)
            .args(["--format", f])
            .output()
            .unwrap();
        let d = tool().args(["samples/", "--format", f]).output().unwrap();
        assert_eq!(stdout(&m), stdout(&d), "{f}");
    }
    // A task that died: its shard lacks the summary line (and a host).
    let text = std::fs::read_to_string(&shards[1]).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() >= 2, "shard 2 holds hosts: {text}");
    lines.truncate(lines.len() - 2);
    let cut = out.path().join("cut.ndjson");
    std::fs::write(&cut, lines.join("\n") + "\n").unwrap();
    let o = tool()
        .arg("merge")
        .args([&shards[0], &cut, &shards[2]])
        .args(["--format", "csv"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("cut.ndjson: no summary line after"), "{err}");
    // Merged twice: counted once, and said.
    let o = tool()
        .arg("merge")
        .args([&shards[0], &shards[0]])
        .args(["--format", "json"])
        .output()
        .unwrap();
    let doc: Value = serde_json::from_slice(&o.stdout).unwrap();
    let once: Value = serde_json::from_slice(
        &tool()
            .arg("merge")
            .arg(&shards[0])
            .args(["-f", "json"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert_eq!(doc["summary"], once["summary"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("is also in"));
    // Another schema: named by file and line; nothing merged is an error.
    let old = out.path().join("old.ndjson");
    std::fs::write(&old, "{\"type\":\"summary\",\"schema\":1,\"hosts\":0}\n").unwrap();
    let o = tool().arg("merge").arg(&old).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .contains("old.ndjson:1: schema 1 where this version reads 4 (and 3)")
    );
    // Only shards with no findings but a cut one: incomplete (3).
    let ok_only = out.path().join("ok.ndjson");
    let ok_lines: Vec<String> = std::fs::read_to_string(&shards[0])
        .unwrap()
        .lines()
        .chain(std::fs::read_to_string(&shards[1]).unwrap().lines())
        .chain(std::fs::read_to_string(&shards[2]).unwrap().lines())
        .filter(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            v["type"] == "host"
                && v["verdict"] == "ok"
                && v["incomplete"].as_array().is_some_and(|x| x.is_empty())
        })
        .map(str::to_string)
        .collect();
    assert!(!ok_lines.is_empty());
    std::fs::write(&ok_only, ok_lines.join("\n") + "\n").unwrap();
    let o = tool().arg("merge").arg(&ok_only).output().unwrap();
    assert_eq!(o.status.code(), Some(3), "no summary line: incomplete");
}

/// The README's example is what the tool prints for the samples today.
#[test]
fn the_readme_example_is_current() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let example: Vec<&str> = readme
        .split("\n## Example\n")
        .nth(1)
        .expect("an Example section")
        .lines()
        .skip_while(|l| !l.starts_with("    ┌"))
        .take_while(|l| l.starts_with("    "))
        .map(|l| &l[4..])
        .collect();
    let o = tool().arg("samples/").output().unwrap();
    let out = stdout(&o);
    let now: Vec<&str> = out.lines().collect();
    assert_eq!(
        example, now,
        "README.md's example differs from `asymroute-offline samples/`: paste the new output"
    );
    assert!(readme.starts_with("# asymroute-offline\n\n    cargo run -- samples/ "));
}

#[test]
fn the_same_machine_twice_is_flagged() {
    let dir = tempfile::tempdir().unwrap();
    for copy in ["first", "second"] {
        copy_tree(
            &samples().join("sosreport-samesub-2024-05-02-hxkqzpa"),
            &dir.path().join(copy),
        );
    }
    let out = tool()
        .args(["-f", "json"])
        .arg(dir.path())
        .output()
        .unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_valid(&validator(&schema()), &doc, "report");
    assert_eq!(doc["summary"]["hosts"], 2, "both rows are still reported");
    let diags = doc["diagnostics"].as_array().unwrap();
    let dup: Vec<&Value> = diags
        .iter()
        .filter(|d| {
            d["message"]
                .as_str()
                .unwrap()
                .contains("duplicate identity")
        })
        .collect();
    assert_eq!(dup.len(), 1, "{diags:?}");
    assert_eq!(dup[0]["file"], "first");
    let msg = dup[0]["message"].as_str().unwrap();
    assert!(
        msg.contains("hostname samesub") && msg.contains("second"),
        "{msg}"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("duplicate identity"),
        "told on stderr too"
    );
}

/// `fix`: one host's verified fix as a script (apply, then `undo`) holding
/// exactly the report's commands; a partial one exits 3 with its verified
/// steps; no safe fix exits 1 and prints no command; a missing or
/// ambiguous `--host` lists the candidates.
#[test]
fn fix_prints_one_hosts_script_with_its_rollback() {
    let o = tool()
        .args(["fix", "samples/", "--host", "*samesub*"])
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let script = stdout(&o);
    let o = tool()
        .args([
            "samples/sosreport-samesub-2024-05-02-hxkqzpa",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    let report: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let h = &report["hosts"][0];
    assert_eq!(h["fix_status"], "verified");
    let lines = |key: &str| -> Vec<String> {
        h["fix"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|f| f[key].as_array().unwrap().clone())
            .map(|c| c.as_str().unwrap().to_string())
            .collect()
    };
    let body = |name: &str| -> Vec<String> {
        script
            .split(&format!("\n{name}() {{\n"))
            .nth(1)
            .unwrap()
            .split("\n}\n")
            .next()
            .unwrap()
            .lines()
            .map(str::trim)
            .filter(|l| l.starts_with("ip "))
            .map(String::from)
            .collect()
    };
    assert_eq!(body("apply"), lines("commands"));
    assert_eq!(body("undo"), lines("undo"));
    assert!(script.starts_with("#!/bin/sh\n"));
    assert!(script.contains("running kernel only"), "{script}");
    let check = std::process::Command::new("sh")
        .args(["-n", "-c", &script])
        .status()
        .unwrap();
    assert!(check.success(), "the script does not parse:\n{script}");

    // Partial: the verified steps, exit 3, what is left on stderr.
    let o = tool()
        .args(["fix", "samples/", "--host", "ipv6-two-links.txt"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3));
    assert!(stdout(&o).contains("ip -6 rule add from 2001:db8:a::10 lookup"));
    assert!(String::from_utf8_lossy(&o.stderr).contains("left asymmetric: 2001:db8:b::20 on eth1"));

    // No router for eth1 on a host not shown to be on EC2: no fix at all.
    let dir = tempfile::tempdir().unwrap();
    let h = dir.path().join("diffsub");
    std::fs::create_dir(&h).unwrap();
    std::fs::write(
        h.join("ip_addr.txt"),
        "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536\n    inet 127.0.0.1/8 scope host lo\n\
         2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500\n    inet 10.0.0.10/24 brd 10.0.0.255 scope global eth0\n\
         3: eth1: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500\n    inet 10.0.1.10/24 brd 10.0.1.255 scope global eth1\n",
    )
    .unwrap();
    // eth1's prefix route is gone (NetworkManager's `noprefixroute`): its
    // replies all leave by eth0, and nothing shows eth1's router.
    std::fs::write(
        h.join("ip_route.txt"),
        "default via 10.0.0.1 dev eth0\n10.0.0.0/24 dev eth0 proto kernel scope link src 10.0.0.10\n",
    )
    .unwrap();
    std::fs::write(
        h.join("ip_rule.txt"),
        "0:\tfrom all lookup local\n32766:\tfrom all lookup main\n32767:\tfrom all lookup default\n",
    )
    .unwrap();
    let o = tool().arg("fix").arg(&h).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).is_empty(), "{}", stdout(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("eth1 (IPv4): no router in the dumps"));
    // With its instance id (EC2), the VPC router is known: verified.
    std::fs::write(h.join("instance-id"), "i-0123456789abcdef0\n").unwrap();
    let o = tool().arg("fix").arg(&h).output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(stdout(&o).contains("default via 10.0.1.1 dev eth1 table"));

    // Several hosts and no --host, or a --host that matches none.
    for args in [
        &["fix", "samples/"][..],
        &["fix", "samples/", "--host", "nosuch"],
    ] {
        let o = tool().args(args).output().unwrap();
        assert_eq!(o.status.code(), Some(2));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("  netutils-split"), "{err}");
    }
}

/// `route-get` reads every layout `scan` reads and picks one host with
/// `--host`: for every sample host, each endpoint's first leak answers by
/// the link the scan reported, and an `ok` endpoint's public reply by its own.
#[test]
fn route_get_answers_from_the_scans_model_on_every_layout() {
    let o = tool()
        .args(["samples/", "--format", "json"])
        .output()
        .unwrap();
    let report = inlined(serde_json::from_str(&stdout(&o)).unwrap());
    let mut asked = 0;
    for h in report["hosts"].as_array().unwrap() {
        let id = h["host"].as_str().unwrap();
        for e in h["endpoints"].as_array().unwrap() {
            let (addr, want, dst) = match e["leaks"].as_array().and_then(|l| l.first()) {
                Some(l) => {
                    let d = l["destinations"][0].as_str().unwrap();
                    let net: ipnet::IpNet = d.parse().unwrap();
                    (
                        e["address"].as_str().unwrap(),
                        l["egress"].as_str().unwrap(),
                        net.network(),
                    )
                }
                None => continue,
            };
            let o = tool()
                .args([
                    "route-get",
                    "samples/",
                    "--host",
                    id,
                    "--json",
                    "--from",
                    addr,
                ])
                .arg("--to")
                .arg(dst.to_string())
                .output()
                .unwrap();
            let a: Value = serde_json::from_str(&stdout(&o))
                .unwrap_or_else(|e| panic!("{id}: {e}: {}", String::from_utf8_lossy(&o.stderr)));
            assert_eq!(a["dev"], want, "{id}: from {addr} to {dst}: {a}");
            asked += 1;
        }
    }
    assert!(asked >= 8, "{asked} lookups");
    // One host of a fleet tarball, by hostname glob.
    let o = tool()
        .args([
            "route-get",
            "samples/fleet.tar.gz",
            "--host",
            "*wg-quick*",
            "--to",
            "8.8.8.8",
        ])
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // A fleet without --host: the candidates, exit 2.
    let o = tool()
        .args(["route-get", "samples/", "--to", "8.8.8.8"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("name one with --host"));
}

/// Bad paths and outputs: nothing analysed prints no report and leaves an
/// existing `-o` file as it was; an unwritable `-o` is named; a file that
/// holds no capture says what was looked for.
#[test]
fn bad_paths_and_outputs_are_named_and_replace_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.txt");
    std::fs::write(&report, "yesterday's report\n").unwrap();
    let o = tool()
        .arg("/nonexistent-bundle")
        .arg("-o")
        .arg(&report)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        std::fs::read_to_string(&report).unwrap(),
        "yesterday's report\n"
    );
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "a temporary file left"
    );
    let o = tool().arg("/nonexistent-bundle").output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(o.stdout.is_empty(), "{}", stdout(&o));

    for (out, what) in [
        (dir.path().to_path_buf(), "it is a directory"),
        (
            dir.path().join("no/such/dir/x.json"),
            "No such file or directory",
        ),
    ] {
        let o = tool()
            .args(["samples/netutils-split", "-o"])
            .arg(&out)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains(&format!("cannot write the report to {}", out.display()))
                && err.contains(what),
            "{err}"
        );
    }

    let not_a_bundle = dir.path().join("passwd");
    std::fs::write(&not_a_bundle, "root:x:0:0:root:/root:/bin/bash\n").unwrap();
    let o = tool().arg(&not_a_bundle).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .contains("looked for ip addr / ip rule / ip route dumps"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );

    // A run that analyses hosts replaces the report, through its temporary file.
    let o = tool()
        .args(["samples/netutils-split", "-o"])
        .arg(&report)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        std::fs::read_to_string(&report)
            .unwrap()
            .contains("netutils-split")
    );
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
}

/// `-o FILE` without `-f` writes the format its extension names; `--explain`
/// with csv says it adds nothing there.
#[test]
fn the_output_extension_names_the_format() {
    let dir = tempfile::tempdir().unwrap();
    for (name, check) in [
        ("r.json", "\"schema\": 4"),
        ("r.ndjson", "{\"type\":\"host\""),
        ("r.md", "| host | collector | verdict | fix |"),
        ("r.csv", "host,hostname,instance_id,"),
        ("r.txt", "┌"),
    ] {
        let out = dir.path().join(name);
        let o = tool()
            .args(["samples/netutils-split", "-o"])
            .arg(&out)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1));
        let text = std::fs::read_to_string(&out).unwrap();
        assert!(text.contains(check), "{name}: {text}");
    }
    // An explicit -f wins over the extension.
    let out = dir.path().join("forced.json");
    tool()
        .args(["samples/netutils-split", "-f", "csv", "-o"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(std::fs::read_to_string(&out).unwrap().starts_with("host,"));
    let o = tool()
        .args(["samples/netutils-split", "-f", "csv", "--explain"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&o.stderr).contains("--explain adds nothing to csv"));
}

/// Whether `script` can give a command a pseudo-terminal here (CI
/// containers may have neither `script` nor /dev/pts): the terminal tests
/// skip without one.
fn pty_available() -> bool {
    std::process::Command::new("script")
        .args(["-qec", "test -t 1 && echo pty-ok", "/dev/null"])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("pty-ok"))
}

/// What a shell line prints on a pseudo-terminal (`script`), run in the
/// repository with `BIN` the tool, `NO_COLOR` as given (unset: `None`) and
/// no `COLUMNS`.
fn on_pty(line: &str, no_color: Option<&str>) -> String {
    let bin = env!("CARGO_BIN_EXE_asymroute-offline");
    let mut c = std::process::Command::new("script");
    c.args(["-qec", &line.replace("BIN", bin), "/dev/null"])
        .current_dir(root())
        .env_remove("COLUMNS")
        .env_remove("NO_COLOR");
    if let Some(v) = no_color {
        c.env("NO_COLOR", v);
    }
    let o = c.output().expect("script runs");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// On a terminal (a pseudo-terminal from `script`, where stdout and stderr
/// are the same tty) the progress spinner is cleared before the report's
/// first byte, and is not drawn at all when NDJSON streams to it.
#[test]
fn the_spinner_never_lands_in_the_report() {
    if !pty_available() {
        eprintln!("skipped: no pseudo-terminal (`script`)");
        return;
    }
    let table = on_pty("BIN samples/", Some("1"));
    let start = table.find('┌').expect("a table");
    let before = &table[..start];
    if let Some(last) = before.rfind("hosts analysed") {
        assert!(
            before[last..].contains("\r\u{1b}[2K"),
            "the spinner is not cleared before the table: {before:?}"
        );
    }
    let ndjson = on_pty("BIN samples/ -f ndjson", Some("1"));
    assert!(!ndjson.contains("hosts analysed"), "{ndjson}");
    for line in ndjson.lines().filter(|l| !l.trim().is_empty()) {
        let line = line.trim_end_matches('\r');
        serde_json::from_str::<Value>(line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
    }
}

/// The table fits the terminal it is printed on (its real width, not only
/// `COLUMNS`): no line wider at 60, 80 or 120 columns.
#[test]
fn the_table_fits_the_terminal() {
    if !pty_available() {
        eprintln!("skipped: no pseudo-terminal (`script`)");
        return;
    }
    for cols in [60, 80, 120] {
        let out = on_pty(
            &format!("stty rows 50 cols {cols}; BIN samples/ 2>/dev/null"),
            Some("1"),
        )
        .replace('\r', "");
        assert!(out.contains("host(s)"), "{cols}: {out}");
        for l in out.lines() {
            assert!(l.chars().count() <= cols, "{cols} columns: {l:?}");
        }
    }
}

/// Colour: `--color always` colours the verdicts, `never` and files do
/// not; on a terminal (auto) NO_COLOR turns it off.
#[test]
fn verdicts_are_coloured_on_request_and_on_terminals() {
    let esc = |o: &std::process::Output| o.stdout.contains(&0x1b);
    let o = tool()
        .args(["samples/", "--color", "always"])
        .output()
        .unwrap();
    assert!(esc(&o));
    assert!(stdout(&o).contains("\u{1b}[38;5;9m"), "asymmetric in red");
    let o = tool()
        .args(["samples/", "--color", "never"])
        .output()
        .unwrap();
    assert!(!esc(&o));
    let o = tool().arg("samples/").output().unwrap();
    assert!(!esc(&o), "auto into a pipe: no colour");
    if !pty_available() {
        eprintln!("skipped: no pseudo-terminal (`script`)");
        return;
    }
    let coloured = on_pty("BIN samples/ 2>/dev/null", None);
    assert!(coloured.contains("\u{1b}[38;"), "auto on a terminal");
    let plain = on_pty("BIN samples/ 2>/dev/null", Some("1"));
    assert!(!plain.contains("\u{1b}[38;"), "NO_COLOR on a terminal");
}

/// `generate`: listed in the help, one man page with an EXIT STATUS section
/// and no links to pages that do not exist, and no panic on a closed pipe.
#[test]
fn man_page_and_completions() {
    let help = stdout(&tool().arg("--help").output().unwrap());
    assert!(help.contains("generate"), "{help}");
    let man = stdout(&tool().args(["generate", "man"]).output().unwrap());
    assert!(man.contains(".SH \"EXIT STATUS\""), "{man}");
    assert!(man.contains(".SH \"COMMAND FIX\""));
    assert!(
        !man.contains("asymroute-offline-"),
        "links to a page not generated"
    );
    assert!(!man.contains(".SH EXTRA"));
    let bin = env!("CARGO_BIN_EXE_asymroute-offline");
    let o = std::process::Command::new("sh")
        .args(["-c", &format!("{bin} generate zsh | head -c 1 >/dev/null")])
        .output()
        .unwrap();
    assert!(o.status.success());
    assert!(!String::from_utf8_lossy(&o.stderr).contains("panicked"));
}

/// `parse`, `route-get` and `fix` write through a buffer: the whole
/// output arrives, and a reader that stops early (`| head`) ends the run
/// quietly, with no panic and no error.
#[test]
fn buffered_outputs_into_a_closed_pipe() {
    let bin = env!("CARGO_BIN_EXE_asymroute-offline");
    let dump = root().join("grammar-tests/ip-route/netns__tokens_table-all.txt");
    let big = tempfile::NamedTempFile::new().unwrap();
    let text = std::fs::read_to_string(&dump).unwrap().repeat(100);
    std::fs::write(big.path(), text).unwrap();
    let big = big.path().display().to_string();
    let whole = tool().args(["parse", &big, "--json"]).output().unwrap();
    let v: Value = serde_json::from_str(&stdout(&whole)).expect("the whole document");
    assert!(v["items"].as_array().is_some_and(|a| !a.is_empty()), "{v}");
    for cmd in [
        format!("{bin} parse {big} --json"),
        format!("{bin} parse {big}"),
        format!("{bin} route-get samples/netutils-split --from 10.0.1.10 --to 10.0.2.5 --json"),
        format!("{bin} fix samples/netutils-split"),
    ] {
        let run = |pipe: &str| {
            std::process::Command::new("bash")
                .current_dir(root())
                .args([
                    "-c",
                    &format!("{cmd} {pipe}; echo \"rc=${{PIPESTATUS[0]}}\""),
                ])
                .output()
                .unwrap()
        };
        let full = stdout(&run("2>/dev/null >/dev/null"));
        let o = run("| head -c 1 >/dev/null");
        let got = stdout(&o);
        // Stopped by the closed pipe (0), or done before it closed.
        assert!(
            got == "rc=0\n" || got == full,
            "{cmd}: {got} (whole run: {full})"
        );
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.is_empty(), "{cmd}: {err}");
    }
}

/// `route-get --json` locates its rule and route as the scan does (`file`,
/// `line`) and lists only the assumptions of the lookup's family.
#[test]
fn route_get_json_matches_the_scans_shapes() {
    let o = tool()
        .args([
            "route-get",
            "samples/ec2rl",
            "--from",
            "10.0.2.20",
            "--to",
            "8.8.8.8",
            "--json",
        ])
        .output()
        .unwrap();
    let a: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(a["route"]["line"], 2, "{a}");
    assert!(
        a["route"]["file"]
            .as_str()
            .unwrap()
            .ends_with("mod_out/run/iproute.log")
    );
    assert_eq!(a["rule"]["file"], "assumed");
    let assumed: Vec<&str> = a["assumptions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(!assumed.is_empty());
    assert!(
        assumed
            .iter()
            .all(|s| !s.contains("IPv6") && !s.contains("ip -6")),
        "{assumed:?}"
    );
}

/// Completions offer no hidden benchmark knob (it is an environment
/// variable, ASYMROUTE_STOP_AFTER, that still stops a scan early).
#[test]
fn completions_offer_only_real_options() {
    for sh in ["bash", "zsh", "fish"] {
        let c = stdout(&tool().args(["generate", sh]).output().unwrap());
        assert!(!c.contains("stop-after"), "{sh}");
        assert!(c.contains("color"), "{sh}");
    }
    let o = tool()
        .args(["samples/", "-q"])
        .env("ASYMROUTE_STOP_AFTER", "parse")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stderr).contains("hosts,"));
}

/// A host over the per-host time budget becomes an `error` row naming the
/// limit; the other hosts of the fleet are analysed as usual.
#[test]
fn host_timeout_turns_a_slow_host_into_an_error_row() {
    let dir = ok_bundle();
    let big = dir.path().join("big-router");
    std::fs::create_dir_all(&big).unwrap();
    std::fs::write(
        big.join("ip_addr.txt"),
        "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN\n    inet 127.0.0.1/8 scope host lo\n\
         2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 state UP\n    inet 10.0.0.2/24 brd 10.0.0.255 scope global eth0\n\
         3: eth1: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 state UP\n    inet 10.1.0.2/24 brd 10.1.0.255 scope global eth1\n",
    )
    .unwrap();
    std::fs::write(
        big.join("ip_rule.txt"),
        "0:\tfrom all lookup local\n32766:\tfrom all lookup main\n32767:\tfrom all lookup default\n",
    )
    .unwrap();
    // Enough routes that the analysis looks up far more pieces than the
    // budget's clock is read after (1024 lookups).
    let mut routes = String::from(
        "default via 10.0.0.1 dev eth0\n10.0.0.0/24 dev eth0 proto kernel scope link src 10.0.0.2\n10.1.0.0/24 dev eth1 proto kernel scope link src 10.1.0.2\n",
    );
    for i in 0..8000u32 {
        let gw = if i % 2 == 0 {
            "10.0.0.1 dev eth0"
        } else {
            "10.1.0.1 dev eth1"
        };
        routes.push_str(&format!(
            "{}.{}.{}.0/24 via {gw} proto bgp metric 20\n",
            20 + i / 65536,
            (i / 256) % 256,
            i % 256
        ));
    }
    std::fs::write(big.join("ip_route.txt"), routes).unwrap();
    let out = tool()
        .args(["--format", "json", "--host-timeout", "0.000001"])
        .arg(dir.path())
        .output()
        .unwrap();
    let doc: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let hosts = doc["hosts"].as_array().unwrap();
    let big = hosts.iter().find(|h| h["host"] == "big-router").unwrap();
    assert_eq!(big["verdict"], "error");
    assert!(
        big["reason"]
            .as_str()
            .unwrap()
            .contains("per-host time limit"),
        "{}",
        big["reason"]
    );
    assert!(
        hosts
            .iter()
            .filter(|h| h["host"] != "big-router")
            .all(|h| h["verdict"] != "error"),
        "the small hosts are analysed"
    );
    // Without the limit the same host is analysed.
    let out = tool()
        .args(["--format", "json"])
        .arg(dir.path())
        .output()
        .unwrap();
    let doc: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let big = doc["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["host"] == "big-router")
        .unwrap()
        .clone();
    assert_eq!(big["verdict"], "asymmetric");
}

/// `--explain` quotes what decided a no-route range: the rule, and the
/// `throw` route that sent the walk on to `Network is unreachable`.
#[test]
fn explain_quotes_the_throw_behind_a_no_route_range() {
    let dir = tempfile::tempdir().unwrap();
    let h = dir.path().join("thrower");
    std::fs::create_dir_all(&h).unwrap();
    std::fs::write(
        h.join("ip_addr.txt"),
        "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN\n    inet 127.0.0.1/8 scope host lo\n\
         2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 state UP\n    inet 10.0.0.2/24 brd 10.0.0.255 scope global eth0\n",
    )
    .unwrap();
    std::fs::write(
        h.join("ip_rule.txt"),
        "0:\tfrom all lookup local\n100:\tfrom all lookup 100\n32766:\tfrom all lookup main\n32767:\tfrom all lookup default\n",
    )
    .unwrap();
    std::fs::write(
        h.join("ip_route.txt"),
        "throw 8.0.0.0/8 table 100\n10.0.0.0/24 dev eth0 proto kernel scope link src 10.0.0.2\n",
    )
    .unwrap();
    let out = tool()
        .args(["--explain", "--color", "never"])
        .arg(dir.path())
        .output()
        .unwrap();
    let text = stdout(&out);
    // Where nothing matched at all, it says so.
    assert!(
        text.contains("no rule's table has a route for these"),
        "{text}"
    );
    let at = text
        .find("no route: 8.0.0.0/8 (Network is unreachable)")
        .unwrap_or_else(|| panic!("{text}"));
    let after = &text[at..];
    assert!(
        after.contains("ip_rule.txt:2: 100:")
            && after.contains("from all lookup 100")
            && after.contains("ip_route.txt:1: throw 8.0.0.0/8 table 100"),
        "{text}"
    );
}

/// Rules on `ipproto` make replies of one protocol leave differently: the
/// verdict evaluates replies per protocol a rule names (kernel answers in
/// tests/protocol-host/README.md), says which protocols a leak is for, and
/// plans no fix it could only check without a protocol.
#[test]
fn verdicts_per_reply_protocol() {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&root().join("tests/protocol-host"), &dir.path().join("h"));
    let (doc, code) = json_report(&[dir.path().to_str().unwrap()]);
    assert_eq!(code, 1);
    assert_valid(&validator(&schema()), &doc, "protocol host");
    let doc = inlined(doc);
    let h = &doc["hosts"][0];
    let ep = |a: &str| {
        h["endpoints"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["address"] == a)
            .unwrap()
            .clone()
    };
    // 10.0.0.2 on eth0: UDP replies to everything leave eth1 (table 200).
    let e0 = ep("10.0.0.2");
    assert_eq!(e0["verdict"], "asymmetric");
    let udp = e0["leaks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["summary"].as_str().unwrap().starts_with("0.0.0.0/0"))
        .unwrap();
    assert_eq!(udp["egress"], "eth1");
    assert_eq!(udp["protocols"], serde_json::json!(["udp"]));
    assert!(
        udp["rule"]["text"]
            .as_str()
            .unwrap()
            .contains("ipproto udp")
    );
    // 10.0.1.2 on eth1: UDP replies stay, every other protocol's leave eth0.
    let e1 = ep("10.0.1.2");
    assert_eq!(e1["verdict"], "asymmetric");
    assert_eq!(e1["protocols"], serde_json::json!(["other"]));
    assert!(
        e1["leaks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["egress"] == "eth0" && l["protocols"] == serde_json::json!(["other"]))
    );
    // The ipproto rule is settled per protocol, not conditional.
    assert!(e0["conditional"].as_array().unwrap().is_empty());
    assert_eq!(h["fix_status"], "none");
    assert!(
        h["fix_reason"]
            .as_str()
            .unwrap()
            .contains("some IP protocols only"),
        "{}",
        h["fix_reason"]
    );
}

/// A VPC CNI node captured in a namespace (`tests/kernel-cases/`, from
/// `kernel_pods.rs`): its pods are reported in groups, schema-valid, in
/// the reason and `--explain`, and they survive a merge of NDJSON shards.
#[test]
fn vpc_cni_pods_are_reported_in_every_format() {
    let case = "tests/kernel-cases/pods-vpc-cni-13";
    let (doc, code) = json_report(&[case]);
    assert_eq!(code, 1);
    assert_valid(&validator(&schema()), &doc, "pods host");
    let doc = inlined(doc);
    let h = &doc["hosts"][0];
    let pods = h["pods"].as_array().expect("pod groups");
    assert!(pods.len() >= 2, "{pods:?}");
    let bad: Vec<&Value> = pods
        .iter()
        .filter(|p| p["verdict"] == "asymmetric")
        .collect();
    assert!(!bad.is_empty());
    for p in &bad {
        assert!(p["leaks"][0]["egress"] != p["uplink"], "{p}");
    }
    let reason = h["reason"].as_str().unwrap();
    assert!(reason.contains(" pod(s) of eth"), "{reason}");
    assert!(
        ["partial", "none"].contains(&h["fix_status"].as_str().unwrap()),
        "pods are not fixed: {}",
        h["fix_status"]
    );
    let o = tool().args([case, "--explain"]).output().unwrap();
    assert!(stdout(&o).contains("  pods 10.1."), "{}", stdout(&o));
    let nd = tempfile::NamedTempFile::new().unwrap();
    let o = tool().args([case, "-f", "ndjson"]).output().unwrap();
    std::fs::write(nd.path(), &o.stdout).unwrap();
    let m = tool()
        .arg("merge")
        .arg(nd.path())
        .args(["-f", "json"])
        .output()
        .unwrap();
    let d = tool().args([case, "-f", "json"]).output().unwrap();
    assert_eq!(stdout(&m), stdout(&d), "merged pods differ");
}

/// Reading on several threads (issue 14) changes no byte of any report: the
/// sample hosts as a folder of per-host `.tar.gz` (one of them cut short,
/// one not an archive at all) and as a tarball of those, with `--jobs 1`
/// and `--jobs 4`. NDJSON streams hosts as they finish: its lines compared
/// as a set.
#[test]
fn jobs_change_no_byte_of_per_host_archive_reports() {
    let dir = tempfile::tempdir().unwrap();
    let fleet = dir.path().join("fleet");
    std::fs::create_dir(&fleet).unwrap();
    let mut names: Vec<String> = std::fs::read_dir(samples())
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_dir())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect();
    names.sort();
    for n in &names {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        {
            let mut b = tar::Builder::new(&mut gz);
            b.append_dir_all(n, samples().join(n)).unwrap();
            b.finish().unwrap();
        }
        let bytes = gz.finish().unwrap();
        std::fs::write(fleet.join(format!("{n}.tar.gz")), &bytes).unwrap();
        if n == &names[0] {
            let cut = &bytes[..bytes.len() / 2];
            std::fs::write(fleet.join(format!("cut-{n}.tar.gz")), cut).unwrap();
        }
    }
    std::fs::write(fleet.join("notes.tgz"), "not an archive\n").unwrap();
    let outer = dir.path().join("fleet.tar");
    {
        let mut b = tar::Builder::new(std::fs::File::create(&outer).unwrap());
        b.append_dir_all("fleet", &fleet).unwrap();
        b.finish().unwrap();
    }
    for input in [&fleet, &outer] {
        let input = input.to_str().unwrap();
        for f in ["table", "json", "ndjson", "markdown", "csv"] {
            let run = |j: &str| {
                tool()
                    .args(["scan", input, "-f", f, "--explain", "-j", j])
                    .output()
                    .unwrap()
            };
            let (one, four) = (run("1"), run("4"));
            let what = format!("{input} -f {f}");
            assert_eq!(one.status.code(), four.status.code(), "{what}");
            assert_eq!(stdout(&one).lines().count(), stdout(&four).lines().count());
            if f == "ndjson" {
                let lines = |o: &std::process::Output| -> BTreeSet<String> {
                    stdout(o).lines().map(String::from).collect()
                };
                assert_eq!(lines(&one), lines(&four), "{what}");
            } else {
                assert!(one.stdout == four.stdout, "{what}: the reports differ");
            }
            assert_eq!(
                String::from_utf8_lossy(&one.stderr),
                String::from_utf8_lossy(&four.stderr),
                "{what}"
            );
            // Every sample host is there, and the cut archive is told.
            if f == "csv" {
                assert!(stdout(&one).lines().count() > names.len(), "{what}");
                assert!(
                    String::from_utf8_lossy(&one.stderr).contains("cut-"),
                    "{what}: {}",
                    String::from_utf8_lossy(&one.stderr)
                );
            }
        }
    }
}

/// A concentrator of 400 point-to-point links sharing one address: each
/// link's endpoint leaks to the 399 others. Its JSON names the leaks its
/// endpoints share once, as a list each names less its own (schema 4),
/// and matches the schema; read as a consumer reads it, each endpoint
/// holds what the schema-3 form listed; `merge` writes its NDJSON again
/// byte for byte, and reads a schema-3 line too.
#[test]
fn a_concentrators_endpoints_name_a_shared_list() {
    use std::fmt::Write;
    let n = 400;
    let dir = tempfile::tempdir().unwrap();
    let host = dir.path().join("bras-1");
    std::fs::create_dir(&host).unwrap();
    let mut addr = String::from(
        "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN\n    inet 127.0.0.1/8 scope host lo\n2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 state UP\n    inet 198.51.100.10/24 brd 198.51.100.255 scope global eth0\n",
    );
    let mut route = String::from(
        "default via 198.51.100.1 dev eth0\n198.51.100.0/24 dev eth0 proto kernel scope link src 198.51.100.10\n",
    );
    for k in 0..n {
        let peer = format!("100.64.{}.{}", k / 200, 2 + k % 200);
        let _ = write!(
            addr,
            "{}: ppp{k}: <POINTOPOINT,MULTICAST,NOARP,UP,LOWER_UP> mtu 1492 state UNKNOWN\n    inet 10.255.0.1 peer {peer}/32 scope global ppp{k}\n",
            k + 3
        );
        let _ = writeln!(
            route,
            "{peer} dev ppp{k} proto kernel scope link src 10.255.0.1"
        );
    }
    std::fs::write(host.join("ip_addr.txt"), addr).unwrap();
    std::fs::write(host.join("ip_route.txt"), route).unwrap();
    std::fs::write(
        host.join("ip_rule.txt"),
        "0:\tfrom all lookup local\n32766:\tfrom all lookup main\n32767:\tfrom all lookup default\n",
    )
    .unwrap();
    let (doc, code) = json_report(&[host.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert_valid(
        &validator(&schema()),
        &doc,
        "a concentrator's --format json",
    );
    let h = &doc["hosts"][0];
    assert_eq!(
        h["leak_lists"].as_array().map(Vec::len),
        Some(1),
        "{}",
        h["leak_lists"]
    );
    let eps = h["endpoints"].as_array().unwrap();
    let off = eps.iter().filter(|e| e.get("leaks_list").is_some()).count();
    assert!(off + 4 >= n, "{off} endpoints off the list");
    // Read as a consumer reads it: each link's endpoint leaks to the 399
    // other peers, eth0's subnet, and off-link by eth0.
    let inl = inlined(doc.clone());
    for e in &inl["hosts"][0]["endpoints"].as_array().unwrap()[1..] {
        assert_eq!(
            e["leaks"].as_array().unwrap().len(),
            n + 1,
            "{}",
            e["interface"]
        );
    }
    // The text is as long as the links, not their square: ~60 bytes an
    // endpoint's numbers were 400 refs of 4 bytes.
    let o = tool()
        .arg(&host)
        .args(["-f", "ndjson", "-q"])
        .output()
        .unwrap();
    assert!(o.stdout.len() < 600_000, "{} bytes", o.stdout.len());
    let shard = dir.path().join("s.ndjson");
    std::fs::write(&shard, &o.stdout).unwrap();
    let m = tool()
        .arg("merge")
        .arg(&shard)
        .args(["-f", "ndjson"])
        .output()
        .unwrap();
    assert_eq!(m.status.code(), Some(1));
    assert!(m.stdout == o.stdout, "merge wrote another text");
    // A schema-3 line (each endpoint its refs) is read as 4 without lists.
    let mut three: Value = serde_json::from_str(stdout(&o).lines().next().unwrap()).unwrap();
    let inl3 = inlined(serde_json::json!({ "hosts": [three.clone()] }));
    three["schema"] = 3.into();
    let lists = three["leak_lists"].take();
    three.as_object_mut().unwrap().remove("leak_lists");
    for e in three["endpoints"].as_array_mut().unwrap() {
        off_list(e, &lists);
    }
    let summary = stdout(&o)
        .lines()
        .last()
        .unwrap()
        .replace("\"schema\":4", "\"schema\":3");
    std::fs::write(&shard, format!("{three}\n{summary}\n")).unwrap();
    let m = tool()
        .arg("merge")
        .arg(&shard)
        .args(["-f", "json"])
        .output()
        .unwrap();
    assert_eq!(
        m.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&m.stderr)
    );
    let merged: Value = serde_json::from_slice(&m.stdout).unwrap();
    let got = inlined(merged);
    assert_eq!(got["hosts"][0]["endpoints"], inl3["hosts"][0]["endpoints"]);
}
