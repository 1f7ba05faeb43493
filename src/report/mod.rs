//! Reports: one module per output format behind `Reporter` (hyperfine's
//! exporters). Hosts arrive as they finish; NDJSON streams them, the sorted
//! formats (table, CSV, Markdown, one JSON document) render each host as it
//! arrives and keep only a key per host, the text waiting for the sort in a
//! temporary file (`spill`).

pub mod csv;
pub mod encode;
pub mod identity;
pub mod json;
pub mod markdown;
pub mod ndjson;
pub mod spill;
pub mod table;
pub mod wire;

use crate::capture::Notice;
use crate::verdict::Verdict;
use crate::verdict::fix::FixStatus;
use crate::verdict::host::HostReport;
use serde::Serialize;
use std::io::{self, Write};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
    Ndjson,
    Markdown,
    Csv,
}

#[derive(Debug, Clone)]
pub struct Options {
    pub explain: bool,
    pub only_problems: bool,
    /// `--only broken`: hosts whose traffic is lost (a request or reply dropped).
    pub only_broken: bool,
    /// Table width: the terminal's, 100 into files and pipes.
    pub width: u16,
    /// Colour verdicts (a terminal, or `--color always`).
    pub color: bool,
    /// Sorted formats pack hosts' texts once this many bytes are stored
    /// ([`spill::PACK_AFTER`]).
    pub pack_after: u64,
}

impl Options {
    /// `--only problems` keeps hosts that are not a complete `ok`.
    pub fn keeps(&self, h: &HostReport) -> bool {
        if self.only_broken {
            return h.impact.is_some_and(|i| i.is_broken());
        }
        !self.only_problems || h.verdict != Verdict::Ok || h.is_incomplete()
    }
}

#[cfg(test)]
mod tests {
    /// The explain text names scopes as the JSON does.
    #[test]
    fn scope_words_are_the_serde_names() {
        use crate::verdict::Scope;
        for s in [Scope::SameSubnet, Scope::CrossSubnet, Scope::OffLink] {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str(), "{s:?}");
        }
    }

    #[test]
    fn short_hosts() {
        use super::short_host;
        assert_eq!(short_host("a/b", 10), "a/b");
        assert_eq!(
            short_host("fleet.tar.gz/x/y/sosreport-web01", 30),
            "fleet.tar.gz/…/sosreport-web01"
        );
        assert_eq!(
            short_host("ec2rl/2024-05-02T10_15_42.123456", 31),
            "…/2024-05-02T10_15_42.123456"
        );
        assert_eq!(short_host("abcdefghijkl", 6), "…/ijkl");
    }

    /// The reports of `samples/`.
    fn sample_reports() -> Vec<crate::verdict::host::HostReport> {
        use crate::verdict::{LinkClass, host};
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("samples");
        let mut caps = Vec::new();
        crate::capture::scan(&root, crate::capture::Limits::default(), |c| caps.push(c)).unwrap();
        let class = LinkClass::default();
        caps.into_iter().map(|c| host::analyse(c, &class)).collect()
    }

    const LO: &str = "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN\n    inet 127.0.0.1/8 scope host lo\n";

    /// The report of a host of these `ip addr` and `ip route` texts and the
    /// kernel's default rules, read from a folder as a bundle.
    fn analysed(addr: &str, route: &str) -> Vec<crate::verdict::host::HostReport> {
        use crate::verdict::{LinkClass, host};
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ip_addr.txt"), addr).unwrap();
        std::fs::write(dir.path().join("ip_route.txt"), route).unwrap();
        std::fs::write(
            dir.path().join("ip_rule.txt"),
            "0:\tfrom all lookup local\n32766:\tfrom all lookup main\n32767:\tfrom all lookup default\n",
        )
        .unwrap();
        let mut reports = Vec::new();
        let class = LinkClass::default();
        crate::capture::scan(dir.path(), crate::capture::Limits::default(), |c| {
            reports.push(host::analyse(c, &class))
        })
        .unwrap();
        reports
    }

    /// The random hosts of the fix tests (`testhosts::random_host`), their
    /// dumps one folder each, read as a bundle.
    fn random_reports(seed: u64, n: usize) -> Vec<crate::verdict::host::HostReport> {
        use crate::verdict::{LinkClass, host};
        let dir = tempfile::tempdir().unwrap();
        let mut rng = crate::verdict::testhosts::Rng(seed);
        for i in 0..n {
            let h = crate::verdict::testhosts::random_host(&mut rng);
            let d = dir.path().join(format!("h{i}"));
            std::fs::create_dir(&d).unwrap();
            for s in &h.sources {
                std::fs::write(d.join(&s.name), &*s.text.to_whole()).unwrap();
            }
        }
        let (class, mut reports) = (LinkClass::default(), Vec::new());
        crate::capture::scan(dir.path(), crate::capture::Limits::default(), |c| {
            reports.push(host::analyse(c, &class))
        })
        .unwrap();
        reports
    }

    /// `--explain`, every host, 100 columns, no colour.
    fn explaining(pack_after: u64) -> super::Options {
        super::Options {
            explain: true,
            only_problems: false,
            only_broken: false,
            width: 100,
            color: false,
            pack_after,
        }
    }

    /// What a sorted format keeps per host is a key (the id and where its
    /// text lies in the temporary file), not the report: with every
    /// report's detail made large, memory held stays the keys and at most
    /// a MiB or two of text not yet written.
    #[test]
    fn formats_keep_a_key_per_host_not_the_report() {
        use super::{Format, reporter, spill::PENDING};
        let mut samples = sample_reports();
        assert!(samples.len() > 5);
        // Reports of ~100 KB each: 20 MB for the 200 hosts below.
        for h in &mut samples {
            h.notes.push("x".repeat(100_000));
            h.fix_reason.push_str(&"y".repeat(2_000));
        }
        let n = 200;
        for f in [Format::Table, Format::Csv, Format::Json, Format::Markdown] {
            let mut rep = reporter(f, explaining(super::spill::PACK_AFTER));
            let mut ids = 0;
            let mut sink = std::io::sink();
            for i in 0..n {
                let mut h = samples[i % samples.len()].clone();
                h.host = format!("h{i:05}/{}", h.host);
                ids += h.host.len();
                rep.host(&mut sink, h).unwrap();
            }
            let kept = rep.kept();
            // 40 bytes of key, the id, slack in the key vector, the text
            // pending (under a MiB, and the largest record, ~100 KB for JSON)
            // and the buffers of one host.
            let bound = 2 * n * 40 + ids + 2 * PENDING + 4 * 130_000;
            assert!(
                kept <= bound,
                "{f:?}: {kept} bytes kept for {n} hosts (bound {bound})"
            );
        }
    }

    /// A fleet large enough to pack its spilled text (`spill::PACK_AFTER`)
    /// reports the same bytes as one that does not: packing from the first
    /// host, from part way, and never.
    #[test]
    fn packed_reports_are_the_same_bytes() {
        use super::{Format, Summary, reporter};
        let samples = sample_reports();
        for f in [Format::Table, Format::Csv, Format::Json, Format::Markdown] {
            let mut outs = Vec::new();
            for pack_after in [u64::MAX, 0, 20_000] {
                let mut rep = reporter(f, explaining(pack_after));
                let mut out = Vec::new();
                let mut s = Summary::default();
                // Out of order, so that the sort reads packed and plain
                // texts in turn.
                for i in (0..40).rev() {
                    let mut h = samples[i % samples.len()].clone();
                    h.host = format!("h{:02}/{}", (i * 7) % 40, h.host);
                    s.add(&h);
                    rep.host(&mut out, h).unwrap();
                }
                rep.finish(&mut out, &s, &[]).unwrap();
                outs.push(out);
            }
            assert!(outs[0].len() > 1000, "{f:?}");
            assert!(outs[0] == outs[1], "{f:?}: packed from the start differs");
            assert!(outs[0] == outs[2], "{f:?}: packed part way differs");
        }
    }

    /// A buffer the system cannot give falls back to the last text's size
    /// instead of aborting the scan.
    #[test]
    fn text_buffer_falls_back_when_refused() {
        let v = super::text_buffer(100, usize::MAX / 2);
        assert!(v.capacity() >= 100 && v.capacity() < 1 << 30);
        assert!(super::text_buffer(100, 5000).capacity() >= 5000);
        assert!(super::text_buffer(100, 50).capacity() >= 100);
    }

    /// The buffer estimate holds each sample host's text, compact and
    /// indented (twice the estimate), and the text of the random hosts of
    /// the fix tests, whose reports hold leaks, no-route ranges and fixes.
    #[test]
    fn json_len_hint_holds_the_text() {
        let mut reports = sample_reports();
        reports.extend(random_reports(11, 200));
        let mut leaks = 0;
        for h in &reports {
            leaks += h.endpoints.iter().map(|e| e.leaks.len()).sum::<usize>();
            let w = super::wire::Wire::of(h);
            let hint = w.len_hint();
            let mut out = Vec::new();
            super::encode::compact(&mut out, &w).unwrap();
            assert!(out.len() <= hint, "{}: {} > {hint}", h.host, out.len());
            out.clear();
            super::encode::pretty(&mut out, &w, 2).unwrap();
            assert!(
                out.len() <= 2 * hint,
                "{}: {} > 2 × {hint}",
                h.host,
                out.len()
            );
        }
        assert!(leaks > 100, "{leaks} leaks");
    }

    /// The sample hosts and the random hosts of the fix tests, written
    /// with their tables and read back as `merge` reads them, are what
    /// they were: every entry of every endpoint and pod group in its
    /// place, each table entry named, none twice.
    #[test]
    fn tables_read_back_as_written() {
        let mut reports = sample_reports();
        reports.extend(random_reports(25, 200));
        let (mut entries, mut named) = (0, 0);
        for h in &reports {
            let mut v = serde_json::to_value(h).unwrap();
            for (k, n) in [("leaks", 0), ("no_route", 1)] {
                let rows = v[k].as_array().unwrap().clone();
                let mut seen = vec![0; rows.len()];
                let owners = (h.endpoints.iter()).map(|e| (e.leaks.iter(), &e.no_route));
                let pods = h
                    .pods
                    .iter()
                    .map(|p| (crate::verdict::LeaksIter::of(&p.leaks), &p.no_route));
                let owners = owners.chain(pods);
                let groups =
                    ["endpoints", "pods"].map(|g| v[g].as_array().cloned().unwrap_or_default());
                for ((l, nr), o) in owners.zip(groups.iter().flatten()) {
                    let refs = o[k].as_array().unwrap();
                    let want = if n == 0 {
                        serde_json::to_value(l.collect::<Vec<_>>())
                    } else {
                        serde_json::to_value(nr)
                    };
                    let got: Vec<_> = refs
                        .iter()
                        .map(|r| rows[r.as_u64().unwrap() as usize].clone())
                        .collect();
                    assert_eq!(serde_json::Value::Array(got), want.unwrap(), "{}", h.host);
                    for r in refs {
                        seen[r.as_u64().unwrap() as usize] += 1;
                    }
                    named += refs.len();
                }
                assert!(
                    seen.iter().all(|&n| n > 0),
                    "{}: an entry no one names",
                    h.host
                );
                for (i, a) in rows.iter().enumerate() {
                    assert!(!rows[..i].contains(a), "{}: {k} {i} twice", h.host);
                }
                entries += rows.len();
            }
            let written = v.clone();
            // `merge` reads the rows once, shared by the owners naming them.
            let read = super::wire::read_host(&v.to_string()).unwrap();
            assert_eq!(serde_json::to_value(&read).unwrap(), written, "{}", h.host);
            super::wire::inline(&mut v).unwrap();
            let back: crate::verdict::host::HostReport = serde_json::from_value(v).unwrap();
            assert_eq!(serde_json::to_value(&back).unwrap(), written, "{}", h.host);
        }
        assert!(
            entries > 200 && named > entries,
            "{entries} entries, {named} refs"
        );
    }

    /// Entries are one where what the report shows is: a leak that
    /// differs only by what the analysis keeps (`size`, `own_leg`) is the
    /// same entry, as `merge`, which reads neither, will find it.
    #[test]
    fn entries_are_what_the_report_shows() {
        let mut h = sample_reports()
            .into_iter()
            .find(|h| h.endpoints.iter().any(|e| !e.leaks.is_empty()))
            .unwrap();
        let rows = |h: &crate::verdict::host::HostReport| {
            serde_json::to_value(h).unwrap()["leaks"]
                .as_array()
                .unwrap()
                .len()
        };
        let before = rows(&h);
        let e = h
            .endpoints
            .iter_mut()
            .find(|e| !e.leaks.is_empty())
            .unwrap();
        let mut twin = crate::verdict::Leak::clone(&e.leaks[0]);
        twin.size += 1;
        twin.own_leg = !twin.own_leg;
        e.leaks.to_mut().push(twin.into());
        assert_eq!(rows(&h), before);
    }

    /// A host of links in subnets of their own leaks from each link to
    /// every other's subnet by the same connected route: one entry per
    /// route, not one per endpoint and route. A ref outside its table is
    /// told, not read.
    #[test]
    fn links_that_leak_alike_share_entries() {
        let n = 24;
        let mut addr = String::new();
        let mut route = String::from("default via 10.0.0.1 dev eth0\n");
        for i in 0..n {
            addr += &format!(
                "{}: eth{i}: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc mq state UP group default qlen 1000\n    link/ether 02:00:00:00:00:{i:02x} brd ff:ff:ff:ff:ff:ff\n    inet 10.0.{i}.10/24 brd 10.0.{i}.255 scope global eth{i}\n       valid_lft forever preferred_lft forever\n",
                i + 2
            );
            route += &format!("10.0.{i}.0/24 dev eth{i} proto kernel scope link src 10.0.{i}.10\n");
        }
        let reports = analysed(&addr, &route);
        let h = &reports[0];
        let listed: usize = h.endpoints.iter().map(|e| e.leaks.len()).sum();
        // Each endpoint leaks to the n - 1 other subnets; all but eth0's
        // endpoint leak the rest off-link by eth0.
        assert_eq!(listed, n * (n - 1) + (n - 1), "{h:?}");
        // The distinct leaks a report's endpoints hold.
        let held = |h: &crate::verdict::host::HostReport| {
            let ptrs = h.endpoints.iter().flat_map(|e| e.leaks.iter());
            let ptrs = ptrs.map(std::sync::Arc::as_ptr);
            ptrs.collect::<std::collections::HashSet<_>>().len()
        };
        // The analysis holds each of them once (`Endpoint::leaks`).
        assert_eq!(held(h), n + 1);
        let mut v = serde_json::to_value(h).unwrap();
        let rows = v["leaks"].as_array().unwrap().len();
        // A cross-subnet entry per link's route, named by the n - 1 other
        // endpoints, and one off-link entry (the default's, every subnet
        // of the host excepted) for all but eth0's endpoint.
        assert_eq!(rows, n + 1, "{}", v["leaks"]);
        // Read back (`merge`), the endpoints share the rows as the scan's
        // report did.
        let read = super::wire::read_host(&v.to_string()).unwrap();
        assert_eq!(held(&read), n + 1);
        assert_eq!(
            read.endpoints.iter().map(|e| e.leaks.len()).sum::<usize>(),
            listed
        );
        v["endpoints"][1]["leaks"][0] = 999.into();
        let e = super::wire::read_host(&v.to_string()).unwrap_err();
        assert!(e.contains("endpoints[1].leaks names 999"), "{e}");
        let e = super::wire::inline(&mut v).unwrap_err();
        assert!(e.contains("endpoints[1].leaks names 999"), "{e}");
        // The text writes each entry in full once; a later endpoint names
        // those written for an earlier one, SHARED_LINES at most, and
        // counts the rest.
        let mut text = String::new();
        super::explain_text(h, &mut text);
        assert_eq!(text.matches("\n      route ").count(), n + 1, "{text}");
        let named = text.matches(", as for 10.0.").count();
        let counted: usize = text
            .lines()
            .filter_map(|l| {
                l.strip_prefix("    +")?
                    .split(' ')
                    .next()?
                    .parse::<usize>()
                    .ok()
            })
            .sum();
        assert_eq!(named + counted + n + 1, listed, "{text}");
        assert!(named <= n * super::SHARED_LINES && counted > 0, "{text}");
        assert!(
            text.contains(" more leak(s), each as for an endpoint above"),
            "{text}"
        );
    }

    /// A concentrator: `n` point-to-point links sharing one local address,
    /// each with its peer's /32 and every fourth a /29 routed via its
    /// peer, and an uplink. Its links' endpoints are read off their
    /// group's template (`analyse::delta`), each lacking its own link's
    /// entries: written as the template's list and the positions each
    /// lacks (schema 4), they name the entries the analysis holds, in its
    /// order, in numbers as many as the links, not their square; `merge`
    /// reads them back into shared lists and writes the same text.
    #[test]
    fn endpoints_off_a_list_are_written_as_the_list_less_their_own() {
        use serde_json::Value;
        let n = 100;
        let (addr, route) = crate::verdict::testhosts::ppp_dumps(n, |k| k % 4 == 0);
        let reports = analysed(&format!("{LO}{addr}"), &route);
        let h = &reports[0];
        let v = serde_json::to_value(h).unwrap();
        let lists = v["leak_lists"].as_array().expect("a list");
        assert_eq!(lists.len(), 1, "{}", v["leak_lists"]);
        let eps = v["endpoints"].as_array().unwrap();
        let off = eps.iter().filter(|e| e.get("leaks_list").is_some()).count();
        // All but the first few of a group, walked whole.
        assert!(
            off + 4 >= n,
            "{off} of {} endpoints off the list",
            eps.len()
        );
        let nums = |x: &Value| -> Vec<usize> {
            let a = x.as_array().map(Vec::as_slice).unwrap_or_default();
            a.iter().map(|r| r.as_u64().unwrap() as usize).collect()
        };
        let mut written = lists.iter().map(|l| nums(l).len()).sum::<usize>();
        for (i, e) in eps.iter().enumerate() {
            let refs = match e.get("leaks_list") {
                Some(l) => {
                    assert!(e.get("leaks").is_none());
                    let list = nums(&lists[l.as_u64().unwrap() as usize]);
                    let except = nums(&e["leaks_except"]);
                    written += except.len();
                    // A link's own peer, and its /29 where it has one.
                    assert!((1..=2).contains(&except.len()), "{e}");
                    (0..list.len())
                        .filter(|k| !except.contains(k))
                        .map(|k| list[k])
                        .collect()
                }
                None => nums(&e["leaks"]),
            };
            written += refs.len() * usize::from(e.get("leaks_list").is_none());
            let got: Vec<&Value> = refs.iter().map(|&r| &v["leaks"][r]).collect();
            let want: Vec<Value> = (h.endpoints[i].leaks.iter())
                .map(|l| serde_json::to_value(&**l).unwrap())
                .collect();
            assert_eq!(got, want.iter().collect::<Vec<_>>(), "endpoint {i}");
        }
        let pairs: usize = h.endpoints.iter().map(|e| e.leaks.len()).sum();
        assert!(pairs > n * (n - 1), "{pairs}");
        assert!(written < 8 * n, "{written} refs written for {pairs}");
        // `merge`: the same lists read back, the same text written.
        let read = super::wire::read_host(&v.to_string()).unwrap();
        assert_eq!(serde_json::to_value(&read).unwrap(), v);
        let mut w = v.clone();
        super::wire::inline(&mut w).unwrap();
        let back: crate::verdict::host::HostReport = serde_json::from_value(w).unwrap();
        for (b, r) in back.endpoints.iter().zip(&read.endpoints) {
            assert_eq!(b.leaks, r.leaks);
        }
        // A list or a position that is not there is named.
        let at = eps
            .iter()
            .position(|e| e.get("leaks_list").is_some())
            .unwrap();
        let mut bad = v.clone();
        bad["endpoints"][at]["leaks_list"] = 7.into();
        let e = super::wire::read_host(&bad.to_string()).unwrap_err();
        assert!(
            e.contains(&format!("endpoints[{at}].leaks_list names 7")),
            "{e}"
        );
        let mut bad = v.clone();
        bad["endpoints"][at]["leaks_except"] = serde_json::json!([3, 2]);
        let e = super::wire::read_host(&bad.to_string()).unwrap_err();
        assert!(e.contains("leaks_except is not ascending"), "{e}");
        let mut bad = v.clone();
        bad["endpoints"][0]["leaks_except"] = serde_json::json!([0]);
        let e = super::wire::read_host(&bad.to_string()).unwrap_err();
        assert!(e.contains("endpoints[0] has `leaks_except` without"), "{e}");
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub hosts: usize,
    pub ok: usize,
    pub asymmetric: usize,
    pub no_route: usize,
    pub error: usize,
    pub incomplete: usize,
}

impl Summary {
    pub fn add(&mut self, h: &HostReport) {
        self.hosts += 1;
        match h.verdict {
            Verdict::Ok => self.ok += 1,
            Verdict::Asymmetric => self.asymmetric += 1,
            Verdict::NoRoute => self.no_route += 1,
            Verdict::Error => self.error += 1,
        }
        if h.is_incomplete() {
            self.incomplete += 1;
        }
    }

    /// Another count (a worker's batch) added in.
    pub fn merge(&mut self, o: &Summary) {
        self.hosts += o.hosts;
        self.ok += o.ok;
        self.asymmetric += o.asymmetric;
        self.no_route += o.no_route;
        self.error += o.error;
        self.incomplete += o.incomplete;
    }
}

/// One host's text in a format, made on the worker that analysed it: the
/// report is freed on the thread that made it (freeing ~50 KB of small
/// allocations across threads cost ~2% of a fleet scan), and the one
/// writer thread only places bytes, however many workers feed it.
#[derive(Debug, Default)]
pub struct Rendered {
    /// The host id, what sorted formats sort by.
    pub host: String,
    /// Its text (a sorted format's row) and what follows the rows.
    pub head: Vec<u8>,
    pub tail: Vec<u8>,
    /// Table: each column's widest line in this row.
    pub widest: Vec<usize>,
    /// Set by [`spill::Rows::packing`]: `head` is one zstd frame of the
    /// head and the tail, of these lengths, and `tail` is empty.
    pub packed: Option<(u32, u32)>,
}

/// Renders hosts for a `Reporter`; each worker has its own.
pub trait Render: Send {
    fn render(&mut self, h: &HostReport) -> io::Result<Rendered>;
}

pub trait Reporter: Send {
    /// A renderer of hosts for this report, for one worker.
    fn renderer(&self) -> Box<dyn Render>;
    /// A host finished and rendered (in completion order).
    fn put(&mut self, out: &mut dyn Write, r: Rendered) -> io::Result<()>;
    /// A host finished (in completion order), rendered here.
    fn host(&mut self, out: &mut dyn Write, h: HostReport) -> io::Result<()> {
        let r = self.renderer().render(&h)?;
        drop(h);
        self.put(out, r)
    }
    /// Bytes of memory held for the end (keys and text not yet in the
    /// temporary file): what grows with the fleet.
    fn kept(&self) -> usize {
        0
    }
    /// All hosts are in; `notices` belong to no host.
    fn finish(
        &mut self,
        out: &mut dyn Write,
        summary: &Summary,
        notices: &[Notice],
    ) -> io::Result<()>;
}

pub fn reporter(f: Format, o: Options) -> Box<dyn Reporter + Send> {
    match f {
        Format::Table => Box::new(table::Table::new(o)),
        Format::Json => Box::new(json::Json::new(&o)),
        Format::Ndjson => Box::new(ndjson::Ndjson),
        Format::Markdown => Box::new(markdown::Markdown::new(o)),
        Format::Csv => Box::new(csv::Csv::new(&o)),
    }
}

/// The ec2rl column: what it would say, and what it said when logged.
pub fn ec2rl_cell(h: &HostReport) -> String {
    let would = h.ec2rl.status.map_or("n/a", |s| s.as_str());
    match &h.ec2rl.logged {
        None => would.to_string(),
        Some(l) => {
            let said = if l.starts_with("[FAILURE]") {
                "FAILURE"
            } else {
                "SUCCESS"
            };
            if said == would {
                format!("{would} (logged)")
            } else {
                format!("{would}, logged {said}")
            }
        }
    }
}

/// The fix column: how far the advice goes (`-` when nothing leaks).
pub fn fix_cell(h: &HostReport) -> &'static str {
    match h.fix_status {
        FixStatus::NotNeeded => "-",
        s => s.as_str(),
    }
}

/// A host id short enough for a table cell: long archive paths keep their
/// first and last parts (`fleet.tar.gz/…/sosreport-web01-…`); the full id is
/// in JSON, CSV and `--explain`.
pub fn short_host(id: &str, max: usize) -> String {
    if id.chars().count() <= max {
        return id.to_string();
    }
    let parts: Vec<&str> = id.split('/').collect();
    let last = parts.last().copied().unwrap_or(id);
    let first = parts.first().copied().unwrap_or("");
    let candidate = match parts.len() {
        0 | 1 => last.to_string(),
        2 => format!("…/{last}"),
        _ => format!("{first}/…/{last}"),
    };
    if candidate.chars().count() <= max {
        return candidate;
    }
    let tail: String = last
        .chars()
        .rev()
        .take(max.saturating_sub(2))
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("…/{tail}")
}

/// `PREFIX file:line: first line of the quote` (tabs as spaces), a line.
fn quoted(out: &mut String, prefix: &str, q: &crate::verdict::Quote) {
    // `lines().next()`: what `trim` leaves of it is the same.
    let t = &q.text;
    let first = memchr::memchr(b'\n', t.as_bytes()).map_or(&t[..], |i| &t[..i]);
    let first = first.trim();
    out.push_str(prefix);
    q.push_at(out);
    out.push_str(": ");
    for (i, part) in first.split('\t').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(part);
    }
    out.push('\n');
}

/// The per-host detail of `--explain` and the Markdown sections: text
/// lines, each ending in a newline, appended to `out` (written in place: a
/// `String` per line was most of a Markdown report's cost).
pub fn explain_text(h: &HostReport, v: &mut String) {
    use std::fmt::Write as _;
    v.push_str(&h.host);
    match (&h.hostname, &h.instance_id) {
        (Some(n), Some(i)) => {
            let _ = write!(v, " ({n}, {i})");
        }
        (Some(n), None) | (None, Some(n)) => {
            let _ = write!(v, " ({n})");
        }
        _ => {}
    }
    let _ = writeln!(v, ": {} [{}]", h.verdict_label(), h.collector.as_str());
    for r in &h.incomplete {
        let _ = writeln!(v, "  incomplete: {r}");
    }
    if let (Some(i), Some(w)) = (h.impact, h.impact_word()) {
        let _ = writeln!(v, "  impact: {w} ({})", i.as_str());
    }
    let _ = writeln!(v, "  ec2rl would say: {}", h.ec2rl.message);
    if let Some(l) = &h.ec2rl.logged {
        let _ = writeln!(v, "  ec2rl said:      {l}");
    }
    let mut written = Written::default();
    for e in &h.endpoints {
        let _ = write!(v, "  {}/{} on {}", e.address, e.prefixlen, e.interface);
        if e.secondary {
            v.push_str(" secondary");
        }
        if e.internal {
            v.push_str(" internal");
        }
        v.push_str(": ");
        match e.verdict {
            Some(x) => v.push_str(x.as_str()),
            None => {
                let _ = write!(v, "not analysed ({})", e.state.as_str());
            }
        }
        if let Some(a) = e.same_as {
            let _ = write!(v, " (as {a}: same link and rules)");
        }
        v.push('\n');
        let owner = format!("{}/{}", e.address, e.prefixlen);
        ranges_text(
            v,
            (e.leaks.iter(), &e.no_route, &e.conditional),
            &mut written,
            owner,
        );
    }
    for p in &h.pods {
        let how = match p.bound_by {
            crate::verdict::pods::PodBinding::Rule => "by its rule",
            crate::verdict::pods::PodBinding::Subnet => "by subnet",
        };
        let more = if p.addresses.len() > 1 { ", …" } else { "" };
        let _ = write!(
            v,
            "  pods {}{more} ({} pod(s)) of {} ({how}",
            p.addresses.first().map(String::as_str).unwrap_or("?"),
            p.pods,
            p.uplink,
        );
        if let Some(t) = &p.table {
            let _ = write!(v, ", table {t}");
        }
        let _ = writeln!(v, "; veth {}): {}", p.veth, p.verdict.as_str());
        if let Some(r) = &p.rule {
            quoted(v, "    pod rule ", r);
        }
        let owner = format!("pods {}", p.addresses.first().map_or("?", String::as_str));
        ranges_text(
            v,
            (p.leaks.iter(), &p.no_route, &p.conditional),
            &mut written,
            owner,
        );
    }
    match h.fix_status {
        FixStatus::NotNeeded => {}
        FixStatus::None => {
            let _ = writeln!(v, "  fix: none: {}", h.fix_reason);
        }
        s => {
            let _ = writeln!(v, "  fix ({}): {}", s.as_str(), h.fix_reason);
            for f in &h.fix {
                for c in &f.commands {
                    let _ = writeln!(v, "    {c}");
                }
                for n in &f.notes {
                    let _ = writeln!(v, "    # {n}");
                }
            }
            v.push_str("  undo (run in this order to take the fix back):\n");
            for f in h.fix.iter().rev() {
                for c in &f.undo {
                    let _ = writeln!(v, "    {c}");
                }
            }
        }
    }
}

/// The leaks and no-route ranges of a host written in full so far, each
/// with the endpoint or pod group it was written for (an index into
/// `owners`). Endpoints on different links leak alike (a host of 500 links
/// leaks from each to the 499 others' subnets by the same routes): a later
/// one names such an entry in a line, and past `SHARED_LINES` only counts
/// them, so the text grows with the distinct entries, not with endpoints
/// times entries (112 MB for that host before; the JSON lists them all).
#[derive(Default)]
struct Written<'h> {
    leaks: std::collections::HashMap<wire::Shown<'h>, u32, foldhash::fast::RandomState>,
    no_route:
        std::collections::HashMap<&'h crate::verdict::NoRoute, u32, foldhash::fast::RandomState>,
    owners: Vec<String>,
}

/// How many entries written for an earlier owner an endpoint names, a line
/// each, before it only counts the rest.
const SHARED_LINES: usize = 16;

/// The lines of one endpoint's (or pod group's) leaks, no-route ranges
/// and conditional rules; an entry already written for an earlier owner
/// (`written`) is named in a line, `as for OWNER`.
fn ranges_text<'h>(
    v: &mut String,
    (leaks, no_route, conditional): (
        impl Iterator<Item = &'h std::sync::Arc<crate::verdict::Leak>>,
        &'h [crate::verdict::NoRoute],
        &'h [crate::verdict::Quote],
    ),
    written: &mut Written<'h>,
    owner: String,
) {
    use std::fmt::Write as _;
    let me = written.owners.len() as u32;
    written.owners.push(owner);
    let mut named = 0;
    let mut seen = |first: u32| {
        if first == me {
            Seen::Full
        } else if named == SHARED_LINES {
            Seen::Counted
        } else {
            named += 1;
            Seen::Named(first)
        }
    };
    let mut counted = [0usize; 2];
    let mut head = String::new();
    for l in leaks {
        let first = *written.leaks.entry(wire::Shown(l)).or_insert(me);
        head.clear();
        let _ = write!(
            head,
            "    {}: {} → {}",
            l.scope.as_str(),
            l.summary,
            l.egress
        );
        if let Some(g) = l.gateway {
            let _ = write!(head, " via {g}");
        }
        if l.hash_dependent {
            head.push_str(" (multipath: some flows; legs ");
            for (i, g) in l.legs.iter().enumerate() {
                if i > 0 {
                    head.push_str(", ");
                }
                head.push_str(&g.dev);
                if let Some(gw) = g.gateway {
                    let _ = write!(head, " via {gw}");
                }
            }
            head.push(')');
        }
        head.push_str(&protocols_text(l.protocols.as_deref()));
        let detail = (l.impact, l.dropped_by.as_deref(), [&l.rule, &l.route]);
        entry_text(
            v,
            &head,
            seen(first),
            &written.owners,
            detail,
            &mut counted[0],
        );
    }
    for n in no_route {
        let first = *written.no_route.entry(n).or_insert(me);
        head.clear();
        let _ = write!(
            head,
            "    no route: {} ({}){}{}",
            n.summary,
            n.error,
            if n.hash_dependent {
                " (some flows: a multipath leg refuses them)"
            } else {
                ""
            },
            protocols_text(n.protocols.as_deref())
        );
        let detail = (n.impact, n.dropped_by.as_deref(), [&n.rule, &n.route]);
        if entry_text(
            v,
            &head,
            seen(first),
            &written.owners,
            detail,
            &mut counted[1],
        ) && n.rule.is_none()
            && n.route.is_none()
            && n.error == crate::model::KernelError::NetUnreach
        {
            v.push_str("      (no rule's table has a route for these)\n");
        }
    }
    let what = match counted {
        [0, 0] => None,
        [l, 0] => Some(format!("{l} more leak(s)")),
        [0, n] => Some(format!("{n} more no-route range(s)")),
        [l, n] => Some(format!("{l} more leak(s) and {n} no-route range(s)")),
    };
    if let Some(w) = what {
        let _ = writeln!(
            v,
            "    +{w}, each as for an endpoint above (--format json lists them all)"
        );
    }
    for c in conditional {
        quoted(v, "    conditional rule ", c);
    }
}

/// How an entry is written for an owner.
enum Seen {
    Full,
    /// A line naming the earlier owner it was written for.
    Named(u32),
    Counted,
}

/// An entry's text after its `head` line: in full (the impact, deciding
/// rule and route), named (`, as for OWNER`) or counted. True when in full.
fn entry_text(
    v: &mut String,
    head: &str,
    seen: Seen,
    owners: &[String],
    (impact, dropped_by, quotes): (
        crate::verdict::Impact,
        Option<&str>,
        [&Option<crate::verdict::Quote>; 2],
    ),
    counted: &mut usize,
) -> bool {
    use std::fmt::Write as _;
    match seen {
        Seen::Counted => *counted += 1,
        Seen::Named(o) => {
            let _ = writeln!(v, "{head}, as for {}", owners[o as usize]);
        }
        Seen::Full => {
            v.push_str(head);
            v.push('\n');
            impact_line(v, impact, dropped_by);
            for (q, prefix) in quotes.into_iter().zip(["      rule  ", "      route "]) {
                if let Some(r) = q {
                    quoted(v, prefix, r);
                }
            }
            return true;
        }
    }
    false
}

/// `      impact: request-dropped by rp_filter=1 (strict): … on eth1`.
fn impact_line(v: &mut String, i: crate::verdict::Impact, by: Option<&str>) {
    v.push_str("      impact: ");
    v.push_str(i.as_str());
    if let Some(b) = by {
        v.push_str(" by ");
        v.push_str(b);
    }
    v.push('\n');
}

/// ` (UDP replies only)`: which reply protocols a leak is for, when not
/// every protocol's (`other`: a protocol no `ipproto` rule names).
pub fn protocols_text(p: Option<&[String]>) -> String {
    let Some(p) = p else {
        return String::new();
    };
    let named: Vec<String> = p
        .iter()
        .filter(|x| *x != "other")
        .map(|x| x.to_uppercase())
        .collect();
    let other = p.iter().any(|x| x == "other");
    match (named.is_empty(), other) {
        (false, false) => format!(" ({} replies only)", named.join(", ")),
        (true, _) => " (replies of protocols no ipproto rule names)".into(),
        (false, true) => format!(
            " ({} replies, and those of protocols no ipproto rule names)",
            named.join(", ")
        ),
    }
}

/// A host's text buffer: room for `hint` bytes (an estimate on the high
/// side), else for `want` where the system refuses that much address space
/// (the buffer then grows as the text does), never less than `want`.
pub fn text_buffer(want: usize, hint: usize) -> Vec<u8> {
    let mut v = Vec::new();
    if v.try_reserve_exact(hint.max(want)).is_err() {
        v.reserve(want);
    }
    v
}
