//! `ip -j` / `ip -j -p` output (v4.14+ for addr, v4.17+ for rule and route),
//! read through serde_json into the same types as the text grammars. Each
//! top-level object is read on its own so one bad object is one diagnostic,
//! and so items carry the line they start on.
//! The framing is here; `addr`, `rule` and `route` map each dump's objects,
//! as the text grammars of the same names parse its lines.

use super::addr::Link;
use super::diag::{Diagnostic, Severity};
use super::lex;
use super::route::Route;
use super::rule::Rule;
use super::{Ctx, DumpKind};
use serde_json::{Map, Value};

mod addr;
mod route;
mod rule;

use addr::link;
use route::route;
use rule::rule;

/// Byte ranges of the objects inside top-level arrays (several arrays may
/// follow each other, as when `ip -j route; ip -6 -j route` share a file).
fn objects(text: &str) -> (Vec<(usize, usize)>, Option<usize>) {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut in_str = false;
    let mut esc = false;
    let mut start = 0;
    for (i, &c) in b.iter().enumerate() {
        if in_str {
            if esc {
                esc = false;
            } else if c == b'\\' {
                esc = true;
            } else if c == b'"' {
                in_str = false;
            }
            continue;
        }
        match c {
            b'"' => in_str = true,
            b'[' | b'{' => {
                if depth == 1 && c == b'{' {
                    start = i;
                }
                depth += 1;
            }
            b']' | b'}' => {
                if depth == 0 {
                    return (out, Some(i));
                }
                depth -= 1;
                if depth == 1 && c == b'}' {
                    out.push((start, i + 1));
                }
            }
            b' ' | b'\t' | b'\r' | b'\n' | b',' => {}
            _ if depth == 0 => return (out, Some(i)),
            _ => {}
        }
    }
    (out, if depth != 0 { Some(b.len()) } else { None })
}

/// A JSON value that keeps object keys in order, duplicates included.
/// `ip -j route` prints an `encap`'s own keys (`id`, `src`, `dst`, `ttl`,
/// `tos`, …) flat in the route or nexthop object, right after `"encap"`, so
/// a route with `encap ip` has two `dst` keys; a plain map keeps the wrong one.
enum Ordered {
    Plain(Value),
    Array(Vec<Ordered>),
    Object(Vec<(String, Ordered)>),
}

/// Keys printed after an `encap` block (print_route, print_rta_multipath):
/// they end it.
const AFTER_ENCAP: &[&str] = &[
    "gateway",
    "via",
    "dev",
    "weight",
    "protocol",
    "scope",
    "prefsrc",
    "metric",
    "flags",
    "mark",
    "flow",
    "uid",
    "expires",
    "error",
    "metrics",
    "pref",
    "ttl-propogate",
    "nh_info",
    "nexthops",
];

impl Ordered {
    /// To a plain value: the first of duplicate keys wins, and an encap block
    /// becomes one `"encap"` string spelled as the text format prints it
    /// (`ip id 10 src 0.0.0.0 dst 10.0.1.99 ttl 8 tos 0`).
    fn fold(self) -> Value {
        match self {
            Ordered::Plain(v) => v,
            Ordered::Array(a) => Value::Array(a.into_iter().map(Ordered::fold).collect()),
            Ordered::Object(pairs) => {
                let mut map = Map::new();
                let mut it = pairs.into_iter().peekable();
                while let Some((k, v)) = it.next() {
                    if k != "encap" {
                        map.entry(k).or_insert_with(|| v.fold());
                        continue;
                    }
                    let mut words = vec![encap_word(v.fold())];
                    let mut seen: Vec<String> = Vec::new();
                    while let Some((ek, ev)) = it.next_if(|(ek, _)| {
                        !AFTER_ENCAP.contains(&ek.as_str()) && !seen.contains(ek)
                    }) {
                        match ev.fold() {
                            Value::Bool(false) => {}
                            Value::Bool(true) | Value::Null => words.push(ek.clone()),
                            ev => {
                                words.push(ek.clone());
                                words.push(encap_word(ev));
                            }
                        }
                        seen.push(ek);
                    }
                    map.entry("encap")
                        .or_insert_with(|| Value::String(words.join(" ")));
                }
                Value::Object(map)
            }
        }
    }
}

/// An encap value as text: arrays as `N [ a b ]` (seg6 `segs`).
fn encap_word(v: Value) -> String {
    match v {
        Value::String(s) => s,
        Value::Array(a) => {
            let items: Vec<String> = a.into_iter().map(encap_word).collect();
            format!("{} [ {} ]", items.len(), items.join(" "))
        }
        v => v.to_string(),
    }
}

impl<'de> serde::Deserialize<'de> for Ordered {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Ordered;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_bool<E>(self, b: bool) -> Result<Ordered, E> {
                Ok(Ordered::Plain(Value::Bool(b)))
            }
            fn visit_i64<E>(self, n: i64) -> Result<Ordered, E> {
                Ok(Ordered::Plain(Value::from(n)))
            }
            fn visit_u64<E>(self, n: u64) -> Result<Ordered, E> {
                Ok(Ordered::Plain(Value::from(n)))
            }
            fn visit_f64<E>(self, n: f64) -> Result<Ordered, E> {
                Ok(Ordered::Plain(Value::from(n)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Ordered, E> {
                Ok(Ordered::Plain(Value::String(s.to_string())))
            }
            fn visit_string<E>(self, s: String) -> Result<Ordered, E> {
                Ok(Ordered::Plain(Value::String(s)))
            }
            fn visit_unit<E>(self) -> Result<Ordered, E> {
                Ok(Ordered::Plain(Value::Null))
            }
            fn visit_none<E>(self) -> Result<Ordered, E> {
                Ok(Ordered::Plain(Value::Null))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut a: A,
            ) -> Result<Ordered, A::Error> {
                let mut v = Vec::new();
                while let Some(x) = a.next_element()? {
                    v.push(x);
                }
                Ok(Ordered::Array(v))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut m: A,
            ) -> Result<Ordered, A::Error> {
                let mut v = Vec::new();
                while let Some(e) = m.next_entry()? {
                    v.push(e);
                }
                Ok(Ordered::Object(v))
            }
        }
        d.deserialize_any(V)
    }
}

/// Lines and columns of increasing offsets into one text, counted in one
/// pass over it: `ip -j` prints every object on one line, so counting from
/// the start for each object would be quadratic.
struct LineCursor<'a> {
    text: &'a str,
    off: usize,
    line: u32,
    col: u32,
    /// Lines of the file before `text`.
    before: u32,
}

impl<'a> LineCursor<'a> {
    fn new(text: &'a str, before: u32) -> Self {
        LineCursor {
            text,
            off: 0,
            line: before + 1,
            col: 1,
            before,
        }
    }

    /// 1-based line and column (in characters) of the byte offset `off`.
    fn at(&mut self, off: usize) -> (u32, u32) {
        let mut off = off.min(self.text.len());
        while !self.text.is_char_boundary(off) {
            off -= 1;
        }
        if off < self.off {
            *self = LineCursor::new(self.text, self.before);
        }
        let seg = &self.text[self.off..off];
        match seg.rfind('\n') {
            Some(i) => {
                self.line += seg.bytes().filter(|&b| b == b'\n').count() as u32;
                self.col = seg[i + 1..].chars().count() as u32 + 1;
            }
            None => self.col += seg.chars().count() as u32,
        }
        self.off = off;
        (self.line, self.col)
    }
}

/// The byte offset in `span` of a serde_json error. serde_json counts lines
/// from 1 and columns in bytes from 1, and reports a bad newline as column 0
/// of the line it ends.
fn error_offset(span: &str, err: &serde_json::Error) -> usize {
    let line_start = match err.line() {
        0 | 1 => 0,
        l => span
            .match_indices('\n')
            .nth(l - 2)
            .map_or(span.len(), |(i, _)| i + 1),
    };
    match err.column() {
        0 => line_start.saturating_sub(1),
        c => (line_start + c - 1).min(span.len()),
    }
}

pub struct JsonOut {
    pub links: Vec<Link>,
    pub rules: Vec<Rule>,
    pub routes: Vec<Route>,
    pub diagnostics: Vec<Diagnostic>,
}

/// Collects warnings for keys the mapping does not know.
struct Obj<'a> {
    map: Map<String, Value>,
    line: u32,
    col: u32,
    diags: &'a mut Vec<Diagnostic>,
    what: &'static str,
}

impl Obj<'_> {
    fn take(&mut self, k: &str) -> Option<Value> {
        self.map.remove(k)
    }
    fn str(&mut self, k: &str) -> Option<String> {
        match self.take(k)? {
            Value::String(s) => Some(s),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }
    fn u64(&mut self, k: &str) -> Option<u64> {
        match self.take(k)? {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => lex::hex_u32(&s).ok().map(u64::from),
            _ => None,
        }
    }
    fn i64(&mut self, k: &str) -> Option<i64> {
        match self.take(k)? {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.parse().ok(),
            _ => None,
        }
    }
    fn u32(&mut self, k: &str) -> Option<u32> {
        self.u64(k).and_then(|v| u32::try_from(v).ok())
    }
    /// Present (iproute2 prints flags as `"key": null` or `true`).
    fn flag(&mut self, k: &str) -> bool {
        matches!(self.take(k), Some(Value::Null | Value::Bool(true)))
    }
    /// The keys nothing read, each told as a warning and returned (the
    /// record keeps them as-is).
    fn leftovers(&mut self) -> Vec<String> {
        let map = std::mem::take(&mut self.map);
        let mut unknown = Vec::new();
        for k in map.keys() {
            unknown.push(k.clone());
            self.diags.push(Diagnostic {
                line: self.line,
                column: self.col,
                severity: Severity::Warning,
                message: format!("unknown key in {} kept as-is", self.what),
                text: k.clone(),
                expected: None,
            });
        }
        unknown
    }
    fn error(&mut self, msg: &str, text: String) {
        self.diags.push(Diagnostic {
            line: self.line,
            column: self.col,
            severity: Severity::Error,
            message: msg.to_string(),
            text,
            expected: None,
        });
    }
}

/// `before`: lines of the file before `text` (`grammar::parse_after`).
pub fn parse(text: &str, kind: DumpKind, ctx: &Ctx, before: u32) -> JsonOut {
    let mut out = JsonOut {
        links: Vec::new(),
        rules: Vec::new(),
        routes: Vec::new(),
        diagnostics: Vec::new(),
    };
    let (spans, bad) = objects(text);
    let mut cursor = LineCursor::new(text, before);
    for (s, e) in spans {
        let (line, col) = cursor.at(s);
        let parsed = if kind == DumpKind::IpRoute {
            serde_json::from_str::<Ordered>(&text[s..e]).map(Ordered::fold)
        } else {
            serde_json::from_str::<Value>(&text[s..e])
        };
        let map = match parsed {
            Ok(Value::Object(m)) => m,
            Ok(_) => continue,
            Err(err) => {
                let (line, column) = cursor.at(s + error_offset(&text[s..e], &err));
                out.diagnostics.push(Diagnostic {
                    line,
                    column,
                    severity: Severity::Error,
                    message: format!("bad JSON: {err}"),
                    text: String::new(),
                    expected: None,
                });
                continue;
            }
        };
        let mut o = Obj {
            map,
            line,
            col,
            diags: &mut out.diagnostics,
            what: kind.as_str(),
        };
        match kind {
            DumpKind::IpAddr => {
                if let Some(l) = link(&mut o) {
                    out.links.push(l)
                }
            }
            DumpKind::IpRule => {
                if let Some(r) = rule(&mut o, ctx) {
                    out.rules.push(r)
                }
            }
            DumpKind::IpRoute => {
                if let Some(r) = route(&mut o, ctx) {
                    out.routes.push(r)
                }
            }
        }
    }
    if let Some(off) = bad {
        // Unbalanced at the end: point after the last character, not at the
        // empty line that follows a final newline.
        let (line, column) = cursor.at(off.min(text.trim_end().len()));
        out.diagnostics.push(Diagnostic {
            line,
            column,
            severity: Severity::Error,
            message: "text outside the JSON arrays, or unbalanced brackets".into(),
            text: text[off.min(text.len())..]
                .chars()
                .take(60)
                .collect::<String>()
                .trim_end()
                .to_string(),
            expected: Some("`[` … `]`".into()),
        });
    }
    out
}
#[cfg(test)]
mod tests {
    use super::LineCursor;

    #[test]
    fn cursor_matches_counting_from_the_start() {
        let text = "[{\"a\": 1},\n {\"é\": 2}, {}\r\n\n  {\"b\": \"ü\"}]\n";
        // A section of a transcript after 7 lines of the file, and a file.
        for first in [0, 7] {
            let naive = |off: usize| {
                let before = &text[..off];
                let line = before.matches('\n').count() as u32 + 1 + first;
                let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) as u32 + 1;
                (line, col)
            };
            let offs: Vec<usize> = (0..=text.len())
                .filter(|&o| text.is_char_boundary(o))
                .collect();
            let mut c = LineCursor::new(text, first);
            for &o in &offs {
                assert_eq!(c.at(o), naive(o), "at {o}");
            }
            // Backwards, and from the middle of a character.
            for &o in offs.iter().rev() {
                assert_eq!(c.at(o), naive(o), "at {o}");
            }
            let e = text.find('é').unwrap();
            assert_eq!(c.at(e + 1), naive(e));
        }
    }
}
