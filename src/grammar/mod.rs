//! Grammars: captured `ip addr` / `ip rule` / `ip route` text → typed records,
//! with every line accounted for (parsed, recognised as collector noise or a
//! command failure, or reported as a located diagnostic).

#[macro_use]
mod macros;
pub mod addr;
pub mod diag;
pub mod intern;
pub mod json;
pub mod lex;
pub mod lines;
pub mod names;
pub mod render;
pub mod route;
pub mod rule;

pub use addr::{Address, Lifetime, Link};
pub use diag::{Diagnostic, Severity};
pub use intern::Name;
pub use lines::{Command, DumpKind, TableSel};
pub use names::{Coded, Family, RouteProtocol, RouteType, Scope, Table};
pub use route::{Flags, NextHop, NextHops, Route, RouteRare};
pub use rule::{Rule, RuleAction, Selector};

use lines::{Class, Lines};
use serde::Serialize;
use std::borrow::Cow;

/// What the surroundings of a dump tell its grammar: the family (`ip -6 …`)
/// and, for a single-table route dump, the table (its lines carry none).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ctx {
    pub family: Option<Family>,
    pub table: Option<Table>,
}

/// How the dump was printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Text,
    /// `-o`: records glued onto one line with `\`.
    Oneline,
    /// `-br` columns.
    Brief,
    Json,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Items {
    Links(Vec<Link>),
    Rules(Vec<Rule>),
    Routes(Vec<Route>),
}

/// A line where the command reported failure instead of (or after) output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    pub line: u32,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Dump {
    pub kind: DumpKind,
    pub format: Format,
    pub items: Items,
    /// Set when the command failed (the dump is *failed*, not empty).
    pub failed: Option<Failure>,
    /// `ip` command lines found in prompts or collector headers.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub commands: Vec<Command>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Dump {
    pub fn links(&self) -> &[Link] {
        match &self.items {
            Items::Links(v) => v,
            _ => &[],
        }
    }
    pub fn rules(&self) -> &[Rule] {
        match &self.items {
            Items::Rules(v) => v,
            _ => &[],
        }
    }
    pub fn routes(&self) -> &[Route] {
        match &self.items {
            Items::Routes(v) => v,
            _ => &[],
        }
    }
    pub fn len(&self) -> usize {
        match &self.items {
            Items::Links(v) => v.len(),
            Items::Rules(v) => v.len(),
            Items::Routes(v) => v.len(),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Was any output line left unparsed?
    pub fn has_errors(&self) -> bool {
        self.diagnostics
            .iter()
            .any(|d| d.severity == Severity::Error)
    }
}

/// Bytes → text. Invalid UTF-8 is replaced (and reported at its position);
/// NUL bytes are left in place, so the line holding one fails to parse there.
/// A line's record made in place at the end of `out`: its head (`None`:
/// not a record), then the rest of the line read into it by `rest`, which
/// refuses the line (`None`) to take it out again. Returning the record to
/// be pushed copied it (~200 bytes a route).
#[inline(always)]
pub(crate) fn push_in_place<K, T>(
    out: &mut Vec<T>,
    head: Option<(K, T)>,
    rest: impl FnOnce(K, &mut T) -> Option<()>,
) {
    let Some((k, r)) = head else {
        return;
    };
    out.push(r);
    if let Some(r) = out.last_mut()
        && rest(k, r).is_none()
    {
        out.pop();
    }
}

pub fn decode(bytes: &[u8]) -> (Cow<'_, str>, Option<Diagnostic>) {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(s) => (Cow::Borrowed(s), None),
        Err(e) => {
            let good = &bytes[..e.valid_up_to()];
            let line = good.iter().filter(|&&b| b == b'\n').count() as u32 + 1;
            let line_start = good.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
            let column = String::from_utf8_lossy(&good[line_start..]).chars().count() as u32 + 1;
            let d = Diagnostic {
                line,
                column,
                severity: Severity::Warning,
                message: "invalid UTF-8 replaced with U+FFFD".into(),
                text: String::new(),
                expected: None,
            };
            (String::from_utf8_lossy(bytes), Some(d))
        }
    }
}

/// `decode` of bytes the caller gives up: valid UTF-8 (a dump's normal
/// case) becomes the text without a copy (a full table's 125 MB of dumps
/// were copied whole while the bytes were still held).
pub fn decode_owned(mut bytes: Vec<u8>) -> String {
    if bytes.starts_with(b"\xef\xbb\xbf") {
        bytes.drain(..3);
    }
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Recognises which dump a text is, from its first meaningful lines.
pub fn detect(text: &str) -> Option<DumpKind> {
    if is_json(text) {
        return detect_json(text.trim_start());
    }
    for line in Lines::new(text).take(200) {
        if line.is_continuation() {
            continue;
        }
        match lines::classify(line.text) {
            Class::Command(c) => {
                if let Some(k) = c.kind {
                    return Some(k);
                }
            }
            Class::Content => {
                if let Some(k) = detect_line(line.text) {
                    return Some(k);
                }
            }
            _ => {}
        }
    }
    None
}

/// `ip -j` output: an array of objects (or an empty one), not a `[root@h]#` prompt.
fn is_json(text: &str) -> bool {
    let t = text.trim_start_matches(['\u{feff}', ' ', '\t', '\r', '\n']);
    t.strip_prefix('[')
        .map(|r| r.trim_start())
        .is_some_and(|r| r.starts_with('{') || r.starts_with(']') || r.is_empty())
}

fn detect_json(text: &str) -> Option<DumpKind> {
    let mut end = text.len().min(4096);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let head = &text[..end];
    if head.contains("\"ifname\"") || head.contains("\"addr_info\"") || head.contains("\"ifindex\"")
    {
        Some(DumpKind::IpAddr)
    } else if head.contains("\"priority\"") {
        Some(DumpKind::IpRule)
    } else if head.contains("\"dst\"") {
        Some(DumpKind::IpRoute)
    } else {
        None
    }
}

fn detect_line(text: &str) -> Option<DumpKind> {
    let t = text.trim();
    let mut toks = lex::Tokens::new(t);
    let first = toks.next()?;
    if let Some((num, rest)) = first.split_once(':')
        && !num.is_empty()
        && num.bytes().all(|b| b.is_ascii_digit())
    {
        let next = if rest.is_empty() {
            toks.next()
        } else {
            Some(rest)
        };
        return match next {
            Some("from" | "not") => Some(DumpKind::IpRule),
            Some(_) if t.contains(": <") || t.contains(" inet") || t.contains("link/") => {
                Some(DumpKind::IpAddr)
            }
            _ => None,
        };
    }
    if first.starts_with("link/") || first == "inet" || first == "inet6" {
        return Some(DumpKind::IpAddr);
    }
    if let Some(state) = toks.clone().next()
        && matches!(
            state,
            "UP" | "DOWN" | "UNKNOWN" | "LOWERLAYERDOWN" | "DORMANT" | "NOTPRESENT" | "TESTING"
        )
    {
        return Some(DumpKind::IpAddr);
    }
    let dst = if RouteType::is_type_word(first) || first == "Deleted" {
        toks.next()?
    } else {
        first
    };
    lex::dst(dst, None).ok().map(|_| DumpKind::IpRoute)
}

/// Lines that do not start indented: an upper bound on a dump's records
/// but for the rare indented line that is not a continuation.
fn record_lines(text: &str) -> usize {
    let b = text.as_bytes();
    let starts = |i: usize| b.get(i).is_some_and(|c| *c != b' ' && *c != b'\t');
    usize::from(starts(0))
        + memchr::memchr_iter(b'\n', b)
            .filter(|&i| starts(i + 1))
            .count()
}

/// Parses one dump of a known kind. Never fails: what cannot be parsed is in
/// `diagnostics`.
pub fn parse(text: &str, kind: DumpKind, ctx: &Ctx) -> Dump {
    parse_after(text, kind, ctx, 0)
}

/// `parse` of a text that stands after `before` lines of its file (a
/// transcript's section): items and diagnostics carry the file's line
/// numbers, and those lines need not be there.
pub fn parse_after(text: &str, kind: DumpKind, ctx: &Ctx, before: u32) -> Dump {
    parse_to(text, kind, ctx, before, None)
}

/// Where a route dump's routes go as they are parsed (`parse_routes_to`).
pub trait RouteSink {
    /// Before the first route: the dump holds at most `n`.
    fn expect(&mut self, n: usize);
    /// Finished routes, in dump order.
    fn take(&mut self, routes: std::vec::Drain<'_, Route>);
}

/// `parse_after` of a route dump whose routes go to `sink` as they are
/// finished, a few hundred at a time: the dump returned holds none. A
/// full BGP table's records are not held twice while the model files them
/// into its tables.
pub fn parse_routes_to(text: &str, ctx: &Ctx, before: u32, sink: &mut dyn RouteSink) -> Dump {
    parse_to(text, DumpKind::IpRoute, ctx, before, Some(sink))
}

/// Routes a `RouteSink` is handed at a time.
const SINK_BATCH: usize = 256;

fn parse_to(
    text: &str,
    kind: DumpKind,
    ctx: &Ctx,
    before: u32,
    mut to: Option<&mut dyn RouteSink>,
) -> Dump {
    if is_json(text) {
        let mut out = json::parse(text, kind, ctx, before);
        let mut legs = route::LegLists::default();
        for r in &mut out.routes {
            r.nexthops.share(&mut legs);
        }
        if let Some(s) = to.as_deref_mut() {
            s.expect(out.routes.len());
            s.take(out.routes.drain(..));
        }
        return Dump {
            kind,
            format: Format::Json,
            items: match kind {
                DumpKind::IpAddr => Items::Links(out.links),
                DumpKind::IpRule => Items::Rules(out.rules),
                DumpKind::IpRoute => Items::Routes(out.routes),
            },
            failed: None,
            commands: Vec::new(),
            diagnostics: out.diagnostics,
        };
    }
    let mut sink = diag::Sink::default();
    let mut ctx = ctx.clone();
    let base = ctx.clone();
    let mut failed = None;
    let mut commands = Vec::new();
    let mut format = Format::Text;
    let mut links = addr::AddrParser::default();
    let mut rules = Vec::new();
    let mut routes: Vec<Route> = Vec::new();
    // A route's legs are complete when the next route starts (or the dump
    // ends): then they are shared with earlier routes over the same legs.
    let mut legs = route::LegLists::default();
    let mut close = |routes: &mut Vec<Route>| {
        if let Some(r) = routes.last_mut() {
            r.nexthops.share(&mut legs);
        }
    };
    // A route or rule starts on a line of its own, not indented: room for
    // one per such line saves growing (copying) a vector of large records
    // as it fills. (Room for every line was four times a multipath table's
    // routes: the shrink below then copied them all.)
    let records_upper = record_lines(text);
    // Finished routes to the sink; the last stays, for the continuation
    // lines that may still follow it.
    let flush = |routes: &mut Vec<Route>, to: &mut Option<&mut dyn RouteSink>| {
        if let Some(s) = to.as_deref_mut()
            && routes.len() > SINK_BATCH
        {
            let n = routes.len() - 1;
            s.take(routes.drain(..n));
        }
    };
    match kind {
        DumpKind::IpRoute => match to.as_deref_mut() {
            Some(s) => {
                s.expect(records_upper);
                routes.reserve(SINK_BATCH + 1);
            }
            None => routes.reserve(records_upper),
        },
        DumpKind::IpRule => rules.reserve(records_upper),
        DumpKind::IpAddr => {}
    }
    // Lines of another command's output in a transcript: (command, first, count).
    let mut foreign: Option<(String, u32, u32)> = None;
    let flush_foreign = |f: &mut Option<(String, u32, u32)>, sink: &mut diag::Sink| {
        if let Some((cmd, line, n)) = f.take()
            && n > 0
        {
            sink.diagnostics.push(Diagnostic {
                line,
                column: 1,
                severity: Severity::Warning,
                message: format!(
                    "{n} line(s) of `{cmd}` output skipped: not a {} dump",
                    kind.as_str()
                ),
                text: String::new(),
                expected: None,
            });
        }
    };
    for line in Lines::after(text, before) {
        if line.glued {
            format = Format::Oneline;
        }
        if line.text.len() > lines::MAX_LINE {
            sink.push(
                &line,
                "",
                Severity::Error,
                format!("line of {} bytes skipped", line.text.len()),
                None,
            );
            continue;
        }
        if line.is_continuation()
            || (kind == DumpKind::IpAddr && addr::is_continuation_word(line.text))
        {
            if let Some(f) = foreign.as_mut() {
                f.2 += 1;
                continue;
            }
            match kind {
                DumpKind::IpAddr => links.continuation(&line, &ctx, &mut sink),
                DumpKind::IpRoute => {
                    let done = match routes.last_mut() {
                        Some(r) => route::parse_continuation(&line, r, &mut sink),
                        None => false,
                    };
                    if !done && !line.text.trim().is_empty() {
                        close(&mut routes);
                        flush(&mut routes, &mut to);
                        route::parse_line_into(&line, &ctx, &mut sink, &mut routes);
                    }
                }
                DumpKind::IpRule => {
                    if !line.text.trim().is_empty() {
                        rule::parse_line_into(&line, &ctx, &mut sink, &mut rules);
                    }
                }
            }
            continue;
        }
        match lines::classify(line.text) {
            Class::Blank | Class::Noise => {}
            Class::Failure => {
                if failed.is_none() {
                    failed = Some(Failure {
                        line: line.no,
                        text: line.text.trim().to_string(),
                    });
                }
            }
            Class::Command(cmd) => {
                flush_foreign(&mut foreign, &mut sink);
                if cmd.kind.is_some() && cmd.kind != Some(kind) {
                    foreign = Some((cmd.text.clone(), line.no, 0));
                } else {
                    ctx.family = cmd.family.or(base.family);
                    ctx.table = match &cmd.table {
                        Some(TableSel::One(t)) => Some(t.clone()),
                        _ => base.table.clone(),
                    };
                }
                commands.push(cmd);
            }
            Class::Content => {
                if let Some(f) = foreign.as_mut() {
                    f.2 += 1;
                    continue;
                }
                match kind {
                    DumpKind::IpAddr => {
                        links.record(&line, &ctx, &mut sink);
                        if links
                            .links
                            .last()
                            .is_some_and(|l| l.line == line.no && l.index.is_none())
                        {
                            format = Format::Brief;
                        }
                    }
                    DumpKind::IpRule => rule::parse_line_into(&line, &ctx, &mut sink, &mut rules),
                    DumpKind::IpRoute => {
                        close(&mut routes);
                        flush(&mut routes, &mut to);
                        route::parse_line_into(&line, &ctx, &mut sink, &mut routes)
                    }
                }
            }
        }
    }
    flush_foreign(&mut foreign, &mut sink);
    close(&mut routes);
    if let Some(s) = to {
        s.take(routes.drain(..));
    }
    // Give back what other lines (noise, continuations) did not use.
    if routes.capacity() > 2 * routes.len() {
        routes.shrink_to_fit();
    }
    if rules.capacity() > 2 * rules.len() {
        rules.shrink_to_fit();
    }
    Dump {
        kind,
        format,
        items: match kind {
            DumpKind::IpAddr => Items::Links(links.links),
            DumpKind::IpRule => Items::Rules(rules),
            DumpKind::IpRoute => Items::Routes(routes),
        },
        failed,
        commands,
        diagnostics: sink.diagnostics,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_owned_is_decode_without_a_copy() {
        for b in [
            &b""[..],
            b"1: lo\n",
            b"\xef\xbb\xbf1: lo\n",
            b"1: l\xffo\n",
            b"\xef\xbb\xbf\xc3",
            b"\xef\xbb",
        ] {
            assert_eq!(decode_owned(b.to_vec()), decode(b).0, "{b:?}");
        }
        let v = b"default dev eth0\n".to_vec();
        let p = v.as_ptr();
        let text = decode_owned(v);
        assert_eq!(text.as_ptr(), p, "the bytes become the text");
    }

    /// Routes over equal legs hold one list, whatever their lines and
    /// form (a leg per line, or `-o` on one line), and each leg still
    /// prints its own line.
    #[test]
    fn routes_over_the_same_legs_share_one_list() {
        let text = "10.1.0.0/16 proto bgp metric 20 \n\tnexthop via 10.0.0.1 dev eth0 weight 1 \n\tnexthop via 10.1.0.1 dev eth1 weight 1 \n\
                    10.2.0.0/16 proto bgp metric 20 \n\tnexthop via 10.0.0.1 dev eth0 weight 1 \n\tnexthop via 10.1.0.1 dev eth1 weight 1 \n\
                    10.3.0.0/16 proto bgp metric 20 \n\tnexthop via 10.0.0.1 dev eth0 weight 2 \n\tnexthop via 10.1.0.1 dev eth1 weight 1 \n\
                    10.4.0.0/16 via 10.0.0.1 dev eth0 \n\
                    10.5.0.0/16 proto bgp metric 20 \\\tnexthop via 10.0.0.1 dev eth0 weight 1 \\\tnexthop via 10.1.0.1 dev eth1 weight 1 \n\
                    10.6.0.0/16 proto bgp metric 20 \n\tnexthop via 10.0.0.1 dev eth0 weight 1 \n\tnexthop via 10.1.0.1 dev eth1 weight 1 \n";
        let d = parse(text, DumpKind::IpRoute, &Ctx::default());
        assert!(d.diagnostics.is_empty(), "{:?}", d.diagnostics);
        let r = d.routes();
        assert_eq!(r.len(), 6);
        assert!(r[0].nexthops.same_list(&r[1].nexthops));
        assert!(r[0].nexthops.same_list(&r[5].nexthops));
        assert_eq!(r[2].nexthops.len(), 2);
        assert!(!r[0].nexthops.same_list(&r[2].nexthops), "other weights");
        assert!(r[3].nexthops.is_empty());
        // `-o`: both legs on the route's line, so not the others' list.
        assert!(!r[4].nexthops.same_list(&r[0].nexthops));
        let lines = |i: usize| -> Vec<u64> {
            let v = serde_json::to_value(&r[i]).unwrap();
            v["nexthops"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l["line"].as_u64().unwrap())
                .collect()
        };
        assert_eq!(lines(0), [2, 3]);
        assert_eq!(lines(1), [5, 6]);
        assert_eq!(lines(4), [11, 11]);
        assert_eq!(lines(5), [13, 14]);
    }

    /// Routes handed to a sink as they are finished are the routes
    /// `parse` keeps, with the same diagnostics, over many batches: legs on
    /// lines of their own, a broken route line whose legs then go to the
    /// route before it (as `parse` has them), blank lines and a command's
    /// header in a transcript; and a JSON dump.
    #[test]
    fn routes_to_a_sink_are_the_routes_parsed() {
        #[derive(Default)]
        struct Kept {
            most: Option<usize>,
            routes: Vec<Route>,
            batches: usize,
        }
        impl RouteSink for Kept {
            fn expect(&mut self, n: usize) {
                assert!(self.most.is_none() && self.routes.is_empty());
                self.most = Some(n);
            }
            fn take(&mut self, routes: std::vec::Drain<'_, Route>) {
                self.routes.extend(routes);
                self.batches += 1;
            }
        }
        use std::fmt::Write;
        let mut text = String::from("$ ip route show table all\n");
        for i in 0..2000 {
            let _ = match i % 7 {
                1 => writeln!(
                    text,
                    "10.{}.{}.0/24 proto bgp metric 20 \n\tnexthop via 10.0.0.1 dev eth0 weight 1 \n\tnexthop via 10.1.0.1 dev eth1 weight 1 ",
                    i / 256,
                    i % 256
                ),
                0 => writeln!(
                    text,
                    "10.{}.{}.0/99 via 10.0.0.1 dev eth0 \n\tnexthop via 10.0.0.1 dev eth0 weight 1 ",
                    i / 256,
                    i % 256
                ),
                2 => writeln!(text),
                _ => writeln!(
                    text,
                    "10.{}.{}.0/24 via 10.0.0.1 dev eth0 table {} proto bgp metric 20 ",
                    i / 256,
                    i % 256,
                    100 + i % 3
                ),
            };
        }
        let json = r#"[{"dst":"10.9.0.0/16","gateway":"10.0.0.1","dev":"eth0","flags":[]},{"dst":"default","gateway":"10.0.0.1","dev":"eth0","flags":[]}]"#;
        for text in [&text[..], json] {
            let whole = parse_after(text, DumpKind::IpRoute, &Ctx::default(), 3);
            let mut kept = Kept::default();
            let streamed = parse_routes_to(text, &Ctx::default(), 3, &mut kept);
            assert!(streamed.routes().is_empty());
            assert_eq!(kept.routes, whole.routes());
            assert!(kept.most.is_some_and(|n| n >= kept.routes.len()));
            assert_eq!(streamed.diagnostics, whole.diagnostics);
            assert_eq!(streamed.format, whole.format);
            assert_eq!(streamed.commands.len(), whole.commands.len());
            if text.len() > json.len() {
                assert!(kept.batches > 4, "{} batches", kept.batches);
                assert!(
                    kept.routes.len() < 2000 * 6 / 7,
                    "broken lines are no routes"
                );
                assert!(!whole.diagnostics.is_empty(), "the broken lines are told");
            }
        }
        // Legs share one list across batches as they do whole.
        let whole = parse(&text, DumpKind::IpRoute, &Ctx::default());
        let multipath: Vec<&Route> = whole
            .routes()
            .iter()
            .filter(|r| r.nexthops.len() == 2)
            .collect();
        assert!(multipath.len() > 200);
        assert!(
            multipath
                .windows(2)
                .all(|w| w[0].nexthops.same_list(&w[1].nexthops))
        );
    }

    #[test]
    fn detect_json_does_not_split_a_character() {
        // A multi-byte character across the 4096-byte look-ahead.
        let mut t = String::from("[{\"dst\":\"");
        while t.len() < 4095 {
            t.push('a');
        }
        t.push('é');
        t.push_str("\"}]");
        assert_eq!(detect(&t), Some(DumpKind::IpRoute));
    }
}
