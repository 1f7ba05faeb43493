//! Captured lines quoted with their file and line, for every leak's rule
//! and route.

use super::{FastMap, Quote};
use crate::grammar::Family;
use crate::model::{Host, Origin, fam_idx};
use std::cell::{OnceCell, RefCell};
use std::sync::Arc;

/// Quotes captured lines, from a sparse index of each file's line starts built on
/// first use: `Host::quote` walks its file from the top for every quote,
/// and a host quotes the same few rules and routes for every leak, so each
/// is made once and shared (`Quote`'s texts are `Arc`s).
pub(super) struct Quoter<'h> {
    host: &'h Host,
    /// Per file, the start of every `EVERY`th line (the first included).
    starts: Vec<OnceCell<Vec<usize>>>,
    /// Each source's name, as its quotes share it.
    files: Vec<OnceCell<Arc<str>>>,
    /// Each rule's quote, once made (per family).
    rules: [Vec<OnceCell<Quote>>; 2],
    /// Each captured line range's quote, once made (the routes leaks quote).
    lines: RefCell<FastMap<Origin, Quote>>,
}

/// Lines between indexed line starts: a full table's dump is millions of
/// lines, and an index of every one was 8 bytes each (42 MB); a quote
/// now finds its line from the one indexed before it.
const EVERY: usize = 64;

impl<'h> Quoter<'h> {
    pub(super) fn new(host: &'h Host) -> Self {
        Quoter {
            host,
            starts: host.sources.iter().map(|_| OnceCell::new()).collect(),
            files: host.sources.iter().map(|_| OnceCell::new()).collect(),
            rules: host
                .rules
                .each_ref()
                .map(|r| r.iter().map(|_| OnceCell::new()).collect()),
            lines: RefCell::default(),
        }
    }

    /// `Host::quote`: the lines `str::lines` gives, each trimmed at its end.
    pub(super) fn text(&self, o: Origin) -> String {
        let Some(s) = self.host.sources.get(o.source as usize) else {
            return String::new();
        };
        let first = o.line.saturating_sub(1 + s.lines_before) as usize;
        let count = (o.end_line.max(o.line) - o.line + 1) as usize;
        let Some(text) = s.text.whole() else {
            // Packed: its blocks are its index.
            return s.text.lines(first, count);
        };
        let b = text.as_bytes();
        let every = self.starts[o.source as usize].get_or_init(|| {
            // `str::lines` yields no line after a final newline, none for "".
            let mut v = Vec::with_capacity(text.len() / (40 * EVERY) + 1);
            v.push(0);
            v.extend(
                memchr::memchr_iter(b'\n', b)
                    .skip(EVERY - 1)
                    .step_by(EVERY)
                    .map(|i| i + 1),
            );
            v
        });
        // The first line's start: the indexed one before it, then newlines.
        let Some(mut at) = every.get(first / EVERY).copied() else {
            return String::new();
        };
        for _ in 0..first % EVERY {
            match memchr::memchr(b'\n', &b[at..]) {
                Some(i) => at += i + 1,
                None => return String::new(),
            }
        }
        let mut out = String::new();
        for k in 0..count {
            if at >= b.len() {
                break;
            }
            if k > 0 {
                out.push('\n');
            }
            let end = memchr::memchr(b'\n', &b[at..]).map_or(b.len(), |i| at + i + 1);
            // The slice keeps its `\n` (and `\r`): trim_end drops them too.
            out.push_str(text[at..end].trim_end());
            at = end;
        }
        out
    }

    /// `Quote::of`, with the text read through the index, made once per
    /// line range.
    pub(super) fn quote(&self, o: Origin, fallback: impl FnOnce() -> String) -> Quote {
        let Some(src) = self.host.sources.get(o.source as usize) else {
            // Assumed (or no such file): the fallback's text, every time.
            return Quote::of_located(self.host, o, fallback);
        };
        if super::endpoint::rendered_quote(self.host, o) {
            // Rendered, every time: a JSON dump's records share their lines.
            return Quote::of(self.host, o, fallback);
        }
        if let Some(q) = self.lines.borrow().get(&o) {
            return q.clone();
        }
        let q = Quote {
            file: self.files[o.source as usize]
                .get_or_init(|| src.name.as_str().into())
                .clone(),
            line: o.line,
            text: self.text(o).into(),
        };
        self.lines.borrow_mut().insert(o, q.clone());
        q
    }

    pub(super) fn rule(&self, fam: Family, i: usize) -> Quote {
        let r = &self.host.rules[fam_idx(fam)][i];
        self.rules[fam_idx(fam)][i]
            .get_or_init(|| self.quote(r.origin, || r.rule.to_string()))
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grammar::{Ctx, DumpKind};
    use crate::model::Input;

    fn host() -> Host {
        let input = |name: &str, kind, text: &str| Input {
            name: name.into(),
            text: text.into(),
            kind,
            ctx: Ctx {
                family: Some(Family::Inet),
                table: None,
            },
            lines_before: 0,
        };
        Host::build(
            vec![
                input(
                    "h/ip_addr.txt",
                    DumpKind::IpAddr,
                    "2: eth0: <BROADCAST,UP,LOWER_UP> mtu 1500 state UP\n    inet 10.0.0.5/24 scope global eth0\n",
                ),
                input(
                    "h/ip_route.txt",
                    DumpKind::IpRoute,
                    "default via 10.0.0.1 dev eth0 \n10.0.0.0/24 dev eth0 proto kernel scope link src 10.0.0.5\n",
                ),
            ],
            &Default::default(),
        )
    }

    /// A line range is quoted once: later quotes share its texts, and say
    /// what `Quote::of` says. What the model assumed is not kept: each
    /// quote of it is its own fallback's.
    #[test]
    fn quotes_are_made_once_per_line_range() {
        let h = host();
        let q = Quoter::new(&h);
        let src = h.sources.iter().position(|s| s.name == "h/ip_route.txt");
        let o = Origin {
            source: src.expect("the route dump") as u32,
            line: 2,
            end_line: 2,
        };
        let (a, b) = (q.quote(o, || "x".into()), q.quote(o, || "y".into()));
        assert_eq!(a, Quote::of(&h, o, || "z".into()));
        assert_eq!(
            &*a.text,
            "10.0.0.0/24 dev eth0 proto kernel scope link src 10.0.0.5"
        );
        assert_eq!((&*a.file, a.line), ("h/ip_route.txt", 2));
        assert!(Arc::ptr_eq(&a.text, &b.text) && Arc::ptr_eq(&a.file, &b.file));
        let first = Origin {
            line: 1,
            end_line: 1,
            ..o
        };
        let c = q.quote(first, || "x".into());
        assert_eq!(&*c.text, "default via 10.0.0.1 dev eth0");
        assert!(Arc::ptr_eq(&a.file, &c.file), "one name per file");
        let (x, y) = (
            q.quote(Origin::ASSUMED, || "local 10.0.0.5".into()),
            q.quote(Origin::ASSUMED, || "other".into()),
        );
        assert_eq!(
            (&*x.file, x.line, &*x.text),
            ("assumed", 0, "local 10.0.0.5")
        );
        assert_eq!(&*y.text, "other");
    }

    /// A full table's route dump is held packed, and each route's quote
    /// is still its lines, multipath legs that run on into the next block
    /// included.
    #[test]
    fn a_packed_dump_quotes_each_route() {
        let mut text = String::new();
        for i in 0..30_000u32 {
            let (a, b) = (i >> 8, i & 255);
            if i % 7 == 0 {
                text.push_str(&format!(
                    "10.{a}.{b}.0/24 proto bgp metric 20 \r\n\tnexthop via 10.0.0.1 dev eth0 weight 1 \n\tnexthop via 10.0.0.2 dev eth0 weight 1 \n"
                ));
            } else {
                text.push_str(&format!(
                    "10.{a}.{b}.0/24 via 10.0.0.1 dev eth0 proto bgp metric 20 \n"
                ));
            }
        }
        let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
        let h = Host::build(
            vec![Input {
                name: "h/ip_route.txt".into(),
                text: text.clone(),
                kind: DumpKind::IpRoute,
                ctx: Ctx {
                    family: Some(Family::Inet),
                    table: None,
                },
                lines_before: 0,
            }],
            &Default::default(),
        );
        assert!(h.sources[0].text.whole().is_none(), "packed");
        assert!(text.len() > crate::model::text::PACK_FROM);
        let q = Quoter::new(&h);
        let routes = &h.tables[0][&crate::grammar::Table::main()].routes;
        assert_eq!(routes.len(), 30_000);
        for e in routes.iter() {
            let o = e.origin();
            let want = lines[o.line as usize - 1..o.end_line as usize].join("\n");
            assert_eq!(q.text(o), want);
            assert_eq!(h.quote(o), want);
        }
    }

    /// A JSON dump's routes share its line: each is quoted as its route
    /// rendered, with the file and line, never as the whole dump.
    #[test]
    fn a_json_dumps_routes_are_quoted_rendered() {
        let json = r#"[{"dst":"default","gateway":"10.0.0.1","dev":"eth0","flags":[]},{"dst":"10.0.0.0/24","dev":"eth0","protocol":"kernel","scope":"link","prefsrc":"10.0.0.5","flags":[]}]"#;
        let addr = "2: eth0: <BROADCAST,UP,LOWER_UP> mtu 1500 state UP
    inet 10.0.0.5/24 scope global eth0
";
        let h = Host::build(
            vec![
                Input {
                    name: "h/ip_addr.txt".into(),
                    text: addr.into(),
                    kind: DumpKind::IpAddr,
                    ctx: Ctx::default(),
                    lines_before: 0,
                },
                Input {
                    name: "h/ip_route.json".into(),
                    text: json.into(),
                    kind: DumpKind::IpRoute,
                    ctx: Ctx::default(),
                    lines_before: 0,
                },
            ],
            &Default::default(),
        );
        let routes = &h.tables[0][&crate::grammar::Table::main()].routes;
        assert_eq!(routes.len(), 2);
        let q = Quoter::new(&h);
        let mut texts = Vec::new();
        for e in routes.iter() {
            let a = q.quote(e.origin(), || e.route.to_string());
            assert_eq!((&*a.file, a.line), ("h/ip_route.json", 1));
            assert_eq!(&*a.text, e.route.to_string());
            assert_eq!(a, Quote::of(&h, e.origin(), || e.route.to_string()));
            texts.push(a.text);
        }
        assert_eq!(&*texts[0], "default via 10.0.0.1 dev eth0 table main");
        assert_ne!(texts[0], texts[1]);
    }

    /// A transcript's section is quoted by the file's line numbers.
    #[test]
    fn sections_are_quoted_by_the_files_lines() {
        let mut h = host();
        let src = h.sources.iter().position(|s| s.name == "h/ip_route.txt");
        let src = src.expect("the route dump");
        h.sources[src].lines_before = 10;
        let q = Quoter::new(&h);
        let o = Origin {
            source: src as u32,
            line: 12,
            end_line: 12,
        };
        let want = "10.0.0.0/24 dev eth0 proto kernel scope link src 10.0.0.5";
        assert_eq!(&*q.quote(o, || "x".into()).text, want);
        assert_eq!(h.quote(o), want);
        let first = Origin {
            line: 11,
            end_line: 11,
            ..o
        };
        assert_eq!(q.text(first), "default via 10.0.0.1 dev eth0");
    }

    /// Lines found from the sparse index are the lines `Host::quote`
    /// reads: before, at and after every indexed line, ranges across
    /// them, blank and `\r\n` lines, past the end, with and without a
    /// final newline, and in an empty file.
    #[test]
    fn sparse_line_starts_quote_what_the_whole_text_quotes() {
        let mut lines: Vec<String> = Vec::new();
        for i in 0..300 {
            lines.push(match i % 7 {
                0 => String::new(),
                1 => format!("10.{i}.0.0/16 via 10.0.0.1 dev eth0 \r"),
                2 => format!("\tnexthop via 10.0.0.{i} dev eth0 weight 1 "),
                _ => format!("10.{i}.0.0/16 dev eth1"),
            });
        }
        let whole = lines.join("\n");
        for text in [whole.clone(), whole + "\n", String::new(), "\n".into()] {
            let mut h = host();
            let src = h.sources.iter().position(|s| s.name == "h/ip_route.txt");
            let src = src.expect("the route dump");
            h.sources[src].text = text.into();
            let q = Quoter::new(&h);
            for line in (1..310).chain([63, 64, 65, 127, 128, 129]) {
                for n in [0, 1, 2, 70] {
                    let o = Origin {
                        source: src as u32,
                        line,
                        end_line: line + n,
                    };
                    assert_eq!(q.text(o), h.quote(o), "lines {line}..+{n}");
                }
            }
        }
    }
}
