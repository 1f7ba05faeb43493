//! `asymroute-offline merge SHARD.ndjson…`: the reports of `--shard K/N`
//! runs (NDJSON, one host per line) as one fleet report in any format,
//! with the whole fleet's summary and exit status.

use super::scan::{close_report, finish_report, open_report, report_settings};
use crate::cli::MergeArgs;
use crate::exit::Exit;
use asymroute_offline::capture::Notice;
use asymroute_offline::report::{self, Summary, wire};
use asymroute_offline::verdict::host::HostReport;
use serde::Deserialize;
use std::collections::HashMap;
use std::io::BufRead;
use std::path::Path;

/// The NDJSON schema this build reads (and writes).
const SCHEMA: u64 = wire::SCHEMA as u64;

/// A shard's `summary` line: how many hosts it says it wrote.
#[derive(Deserialize)]
struct ShardSummary {
    hosts: usize,
}

/// A line's type and schema (any JSON: a value of another kind is read
/// as absent, as a line that is not an object is).
#[derive(Deserialize, Default)]
struct Head {
    #[serde(rename = "type")]
    kind: Option<serde_json::Value>,
    schema: Option<serde_json::Value>,
}

/// What one shard file held.
#[derive(Default)]
struct Shard {
    hosts: usize,
    summary: Option<usize>,
}

/// Reads one shard, handing each host to `host`; problems with the shard
/// (bad lines, another schema, a missing or contradicting summary) are
/// returned as notices naming `file:line`.
fn read_shard(
    name: &str,
    input: &mut dyn BufRead,
    diagnostics: &mut Vec<Notice>,
    host: &mut dyn FnMut(HostReport) -> std::io::Result<()>,
) -> std::io::Result<Vec<Notice>> {
    let mut problems = Vec::new();
    let mut shard = Shard::default();
    let mut line = String::new();
    let mut n = 0;
    loop {
        line.clear();
        if input.read_line(&mut line)? == 0 {
            break;
        }
        n += 1;
        let text = line.trim();
        if text.is_empty() {
            continue;
        }
        let at = format!("{name}:{n}");
        // What the line is, read first without keeping the rest: a host's
        // line is read once more, straight into its report.
        let head = match serde_json::from_str::<Head>(text) {
            Ok(h) => h,
            Err(e) => match serde_json::from_str::<serde_json::Value>(text) {
                Ok(_) => Head::default(),
                Err(_) => {
                    problems.push(Notice {
                        file: at,
                        message: format!("not a JSON line ({e}): skipped"),
                    });
                    continue;
                }
            },
        };
        let schema = head.schema.as_ref().and_then(|s| s.as_u64());
        // Schema 3 is 4 without lists of leaks: read as it is.
        if schema != Some(SCHEMA) && schema != Some(wire::SCHEMA_READ_TOO as u64) {
            problems.push(Notice {
                file: at,
                message: format!(
                    "schema {} where this version reads {SCHEMA} (and {}): skipped (merge with the version that wrote it)",
                    schema.map_or_else(|| "missing".to_string(), |s| s.to_string()),
                    wire::SCHEMA_READ_TOO,
                ),
            });
            continue;
        }
        let kind = head.kind.as_ref().and_then(|t| t.as_str()).unwrap_or("");
        match kind {
            "host" => match wire::read_host(text) {
                Ok(h) => {
                    shard.hosts += 1;
                    // Written, a large host's text is as long again: its
                    // line is let go first.
                    if line.capacity() > 1 << 20 {
                        line = String::new();
                    }
                    host(h)?;
                }
                Err(e) => problems.push(Notice {
                    file: at,
                    message: format!("not a host report ({e}): skipped"),
                }),
            },
            "diagnostic" => match serde_json::from_str::<Notice>(text) {
                Ok(d) => diagnostics.push(d),
                Err(e) => problems.push(Notice {
                    file: at,
                    message: format!("not a diagnostic ({e}): skipped"),
                }),
            },
            "summary" => match serde_json::from_str::<ShardSummary>(text) {
                Ok(s) => shard.summary = Some(s.hosts),
                Err(e) => problems.push(Notice {
                    file: at,
                    message: format!("not a summary ({e})"),
                }),
            },
            other => problems.push(Notice {
                file: at,
                message: format!("unknown line type {other:?}: skipped"),
            }),
        }
    }
    match shard.summary {
        None => problems.push(Notice {
            file: name.to_string(),
            message: format!(
                "no summary line after {} host(s): the shard was cut short (its run did not finish)",
                shard.hosts
            ),
        }),
        Some(s) if s != shard.hosts => problems.push(Notice {
            file: name.to_string(),
            message: format!(
                "its summary counts {s} host(s) but it holds {}: the shard is incomplete",
                shard.hosts
            ),
        }),
        Some(_) => {}
    }
    Ok(problems)
}

pub fn run(a: &MergeArgs) -> std::io::Result<Exit> {
    let (format, to_file, opts) = report_settings(&a.report);
    if let Some(p) = to_file
        && a.files.iter().any(|f| same_file(f, p))
    {
        eprintln!(
            "asymroute-offline: refusing to write {} over one of the reports merged",
            p.display()
        );
        return Ok(Exit::Error);
    }
    let Some((out_file, mut sink)) = open_report(to_file) else {
        return Ok(Exit::Error);
    };
    let keep = opts.clone();
    let mut rep = report::reporter(format, opts);
    // One renderer for every host of every shard.
    let mut render = rep.renderer();
    let mut summary = Summary::default();
    let mut ids = report::identity::Identities::default();
    // Host ids already merged, and from which file: a shard merged twice
    // (or two runs over one bundle) would count its hosts twice.
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut diagnostics: Vec<Notice> = Vec::new();
    let mut problems: Vec<Notice> = Vec::new();
    let mut failures = 0;
    let mut result: std::io::Result<()> = Ok(());
    for (fi, f) in a.files.iter().enumerate() {
        let name = f.display().to_string();
        let mut input: Box<dyn BufRead> = if f.as_os_str() == "-" {
            Box::new(std::io::BufReader::new(std::io::stdin().lock()))
        } else {
            match std::fs::File::open(f) {
                Ok(file) => Box::new(std::io::BufReader::new(file)),
                Err(e) => {
                    eprintln!("asymroute-offline: {name}: {e}");
                    failures += 1;
                    continue;
                }
            }
        };
        let mut each = |h: HostReport| -> std::io::Result<()> {
            if let Some(&other) = seen.get(&h.host) {
                problems.push(Notice {
                    file: name.clone(),
                    message: format!(
                        "host {} is also in {}: counted once (the same shard merged twice?)",
                        h.host,
                        a.files[other].display()
                    ),
                });
                return Ok(());
            }
            seen.insert(h.host.clone(), fi);
            summary.add(&h);
            ids.add(&h);
            if result.is_ok() && keep.keeps(&h) {
                result = render.render(&h).and_then(|r| rep.put(&mut sink, r));
            }
            Ok(())
        };
        match read_shard(&name, &mut *input, &mut diagnostics, &mut each) {
            Ok(p) => problems.extend(p),
            Err(e) => {
                eprintln!("asymroute-offline: {name}: {e}");
                failures += 1;
            }
        }
    }
    let told: Vec<Notice> = diagnostics
        .iter()
        .chain(&problems)
        .chain(&ids.notices())
        .cloned()
        .collect();
    let result = finish_report(&mut rep, &mut sink, &summary, &told, result);
    drop(sink);
    if !close_report(out_file, result.is_ok() && summary.hosts > 0) {
        return Ok(Exit::Error);
    }
    result?;
    if !a.quiet {
        for n in &problems {
            eprintln!("asymroute-offline: {}: {}", n.file, n.message);
        }
    }
    let status = Exit::of_scan(
        summary.hosts,
        summary.asymmetric + summary.no_route,
        summary.incomplete + summary.error + diagnostics.len() + problems.len() + failures,
    );
    if status == Exit::Error {
        eprintln!("asymroute-offline: merge: no host report found in the files given");
    }
    Ok(status)
}

/// Whether two paths name one file (the output must not replace an input).
fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> (usize, Vec<Notice>, Vec<Notice>) {
        let mut n = 0;
        let mut d = Vec::new();
        let p = read_shard("s.ndjson", &mut text.as_bytes(), &mut d, &mut |_| {
            n += 1;
            Ok(())
        })
        .unwrap();
        (n, d, p)
    }

    #[test]
    fn shards_say_what_is_wrong_with_them() {
        let (n, d, p) = read(
            "{\"type\":\"diagnostic\",\"schema\":3,\"file\":\"a.tgz\",\"message\":\"bad\"}\n{\"type\":\"summary\",\"schema\":3,\"hosts\":0}\n",
        );
        assert_eq!((n, d.len(), p.len()), (0, 1, 0));
        let (_, _, p) = read("");
        assert!(p[0].message.starts_with("no summary line after 0 host(s)"));
        let (_, _, p) = read("garbage\n{\"type\":\"summary\",\"schema\":1,\"hosts\":0}\n");
        assert_eq!(p[0].file, "s.ndjson:1");
        assert!(p[0].message.starts_with("not a JSON line"));
        assert_eq!(p[1].file, "s.ndjson:2");
        assert!(
            p[1].message
                .starts_with("schema 1 where this version reads 4 (and 3)")
        );
        let (_, _, p) = read(
            "{\"type\":\"host\",\"schema\":3,\"host\":\"x\"}\n{\"type\":\"summary\",\"schema\":3,\"hosts\":1}\n",
        );
        assert!(p[0].message.starts_with("not a host report"), "{p:?}");
        assert!(
            p[1].message
                .starts_with("its summary counts 1 host(s) but it holds 0")
        );
    }
}
