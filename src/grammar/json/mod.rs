//! `ip -j` / `ip -j -p` output (v4.14+ for addr, v4.17+ for rule and route),
//! read through serde_json into the same types as the text grammars. Each
//! top-level object is read on its own so one bad object is one diagnostic,
//! and so items carry the line they start on.

use super::addr::{Address, Lifetime, Link};
use super::diag::{Diagnostic, Severity};
use super::lex;
use super::names::{Family, RouteProtocol, RouteType, Scope, Table};
use super::route::{NextHop, Route, RouteMetric};
use super::rule::{PortRange, Rule, RuleAction, RuleIface};
use super::{Ctx, DumpKind};
use serde_json::{Map, Value};

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
}

impl<'a> LineCursor<'a> {
    fn new(text: &'a str) -> Self {
        LineCursor {
            text,
            off: 0,
            line: 1,
            col: 1,
        }
    }

    /// 1-based line and column (in characters) of the byte offset `off`.
    fn at(&mut self, off: usize) -> (u32, u32) {
        let mut off = off.min(self.text.len());
        while !self.text.is_char_boundary(off) {
            off -= 1;
        }
        if off < self.off {
            *self = LineCursor::new(self.text);
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

pub fn parse(text: &str, kind: DumpKind, ctx: &Ctx) -> JsonOut {
    let mut out = JsonOut {
        links: Vec::new(),
        rules: Vec::new(),
        routes: Vec::new(),
        diagnostics: Vec::new(),
    };
    let (spans, bad) = objects(text);
    let mut cursor = LineCursor::new(text);
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

fn link(o: &mut Obj<'_>) -> Option<Link> {
    let name = o.str("ifname").unwrap_or_default();
    let mut l = Link::new(o.line, o.u32("ifindex"), &name);
    if let Some(p) = o.str("link") {
        l.peer = Some(p);
    } else if let Some(i) = o.u32("link_index") {
        l.peer = Some(format!("if{i}"));
    }
    if let Some(Value::Array(f)) = o.take("flags") {
        l.flags = Some(
            f.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
        );
    }
    l.mtu = o.u32("mtu");
    l.qdisc = o.str("qdisc");
    l.master = o.str("master");
    l.state = o.str("operstate");
    l.mode = o.str("linkmode");
    l.group = o.str("group");
    l.qlen = o.u32("txqlen");
    l.link_type = o.str("link_type");
    l.address = o.str("address");
    l.broadcast = o.str("broadcast");
    l.permaddr = o.str("permaddr");
    l.link_netnsid = o.str("link_netnsid");
    l.alias = o.str("ifalias");
    if let Some(Value::Array(a)) = o.take("altnames") {
        l.altnames = a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect();
    }
    // `-d`/`-s` objects: kept verbatim.
    for k in [
        "promiscuity",
        "allmulti",
        "min_mtu",
        "max_mtu",
        "linkinfo",
        "num_tx_queues",
        "num_rx_queues",
        "gso_max_size",
        "gso_max_segs",
        "tso_max_size",
        "tso_max_segs",
        "gro_max_size",
        "gso_ipv4_max_size",
        "gro_ipv4_max_size",
        "stats64",
        "stats",
        "inet6_addr_gen_mode",
        "parentbus",
        "parentdev",
        "xdp",
        "vfinfo_list",
        "proto_down",
        "event",
        "link_netns",
        "phys_port_name",
        "phys_switch_id",
    ] {
        if let Some(v) = o.take(k) {
            l.details.push(format!("{k} {v}"));
        }
    }
    if let Some(Value::Array(ai)) = o.take("addr_info") {
        for a in ai {
            let Value::Object(m) = a else { continue };
            if m.is_empty() {
                continue;
            }
            let mut ao = Obj {
                map: m,
                line: o.line,
                col: o.col,
                diags: o.diags,
                what: "addr_info",
            };
            if let Some(a) = address(&mut ao) {
                l.addrs.push(a);
            }
        }
    }
    l.unknown = o.leftovers();
    Some(l)
}

/// `ip -j addr` writes each address flag as a key of its own: the flags
/// the text dump prints.
const ADDR_FLAG_KEYS: &[&str] = super::addr::IFA_FLAGS;

fn address(o: &mut Obj<'_>) -> Option<Address> {
    let family = match o.str("family").as_deref() {
        Some("inet") => Family::Inet,
        Some("inet6") => Family::Inet6,
        other => {
            // Non-IP families are not addresses the model can use.
            let _ = other;
            o.map.clear();
            return None;
        }
    };
    let local_s = o.str("local").unwrap_or_default();
    let Ok(local) = lex::addr(&local_s) else {
        o.error("bad address in addr_info", local_s);
        return None;
    };
    let peer = o.str("address").and_then(|s| lex::addr(&s).ok());
    let prefixlen = o
        .u32("prefixlen")
        .unwrap_or(if family == Family::Inet { 32 } else { 128 }) as u8;
    let mut a = Address::new(o.line, local, peer, prefixlen);
    a.family = family;
    a.metric = o.u32("metric");
    a.broadcast = o.str("broadcast").and_then(|s| lex::addr(&s).ok());
    a.anycast = o.str("anycast").and_then(|s| lex::addr(&s).ok());
    a.scope = o.str("scope").map(|s| Scope::parse(&s));
    a.label = o.str("label");
    a.proto = o.str("protocol");
    a.valid_lft = o.u64("valid_life_time").map(life);
    a.preferred_lft = o.u64("preferred_life_time").map(life);
    for f in ADDR_FLAG_KEYS {
        if o.flag(f) {
            a.flags.push(f.to_string());
        }
    }
    if let Some(v) = o.str("flags") {
        a.flags.push(format!("flags:{v}"));
    }
    a.unknown = o.leftovers();
    Some(a)
}

fn life(v: u64) -> Lifetime {
    if v == u32::MAX as u64 {
        Lifetime::Forever
    } else {
        Lifetime::Seconds(v)
    }
}

fn net(
    o: &mut Obj<'_>,
    addr_key: &str,
    len_key: &str,
    fam: Option<Family>,
) -> Result<Option<ipnet::IpNet>, String> {
    let Some(a) = o.str(addr_key) else {
        return Ok(None);
    };
    if a == "all" || a == "default" {
        let _ = o.take(len_key);
        return Ok(None);
    }
    let len = o.u32(len_key);
    let text = match len {
        Some(l) => format!("{a}/{l}"),
        None => a.clone(),
    };
    lex::prefix(&text, fam).map(Some).map_err(|_| a)
}

fn rule(o: &mut Obj<'_>, ctx: &Ctx) -> Option<Rule> {
    let mut r = Rule::new(o.line, o.u32("priority").unwrap_or(0));
    r.not = o.flag("not");
    match net(o, "src", "srclen", ctx.family) {
        Ok(n) => r.from = n,
        Err(t) => {
            o.error("bad rule source", t);
            return None;
        }
    }
    match net(o, "dst", "dstlen", ctx.family) {
        Ok(n) => r.to = n,
        Err(t) => {
            o.error("bad rule destination", t);
            return None;
        }
    }
    r.tos = o.str("tos");
    r.fwmark = o.str("fwmark").and_then(|s| lex::hex_u32(&s).ok());
    r.fwmask = o.str("fwmask").and_then(|s| lex::hex_u32(&s).ok());
    if let Some(name) = o.str("iif") {
        r.iif = Some(RuleIface {
            name,
            detached: o.flag("iif_detached"),
        });
    }
    if let Some(name) = o.str("oif") {
        r.oif = Some(RuleIface {
            name,
            detached: o.flag("oif_detached"),
        });
    }
    r.l3mdev = o.flag("l3mdev");
    if let (Some(a), Some(b)) = (o.u32("uid_start"), o.u32("uid_end")) {
        r.uidrange = Some((a, b));
    }
    r.ipproto = o.str("ipproto");
    r.sport = ports(o, "sport");
    r.dport = ports(o, "dport");
    r.tun_id = o.u64("tun_id");
    if let Some(t) = o.str("table") {
        r.table = Some(Table::parse(&t));
        r.action = RuleAction::Lookup;
    }
    if r.l3mdev {
        r.action = RuleAction::Lookup;
    }
    r.suppress_prefixlength = o.u32("suppress_prefixlen");
    r.suppress_ifgroup = o.str("suppress_ifgroup");
    let from = o.str("flow_from");
    if let Some(to) = o.str("flow_to") {
        r.realms = Some(match from {
            Some(f) => format!("{f}/{to}"),
            None => to,
        });
    }
    if let Some(g) = o.u32("goto") {
        r.action = RuleAction::Goto;
        r.goto = Some(g);
    }
    r.unresolved = o.flag("unresolved");
    if o.flag("nop") {
        r.action = RuleAction::Nop;
    }
    if let Some(a) = o.str("action").or_else(|| o.str("to_tbl")) {
        r.action = match a.as_str() {
            "blackhole" => RuleAction::Blackhole,
            "unreachable" => RuleAction::Unreachable,
            "prohibit" => RuleAction::Prohibit,
            "nop" => RuleAction::Nop,
            "goto" => RuleAction::Goto,
            "failed_policy" => RuleAction::FailedPolicy,
            _ => RuleAction::Other(a),
        };
    }
    r.protocol = o.str("protocol").map(|p| RouteProtocol::parse(&p));
    r.dscp = o.str("dscp");
    // `ip -j rule` prints the mask apart (always: the full one too).
    r.flowlabel = match (o.str("flowlabel"), o.str("flowlabel_mask")) {
        (Some(l), Some(m)) if m != "0xfffff" => Some(format!("{l}/{m}")),
        (l, _) => l,
    };
    r.family = r
        .from
        .map(|n| Family::of(&n.addr()))
        .or(r.to.map(|n| Family::of(&n.addr())))
        .or(ctx.family);
    r.unknown = o.leftovers();
    Some(r)
}

fn ports(o: &mut Obj<'_>, k: &str) -> Option<PortRange> {
    if let Some(p) = o.u32(k) {
        let mask = o.u32(&format!("{k}_mask"));
        return Some(PortRange {
            start: p,
            end: p,
            mask,
        });
    }
    let s = o.u32(&format!("{k}_start"))?;
    let e = o.u32(&format!("{k}_end")).unwrap_or(s);
    Some(PortRange {
        start: s,
        end: e,
        mask: None,
    })
}

fn gateway(o: &mut Obj<'_>) -> Result<Option<std::net::IpAddr>, String> {
    if let Some(g) = o.str("gateway") {
        return lex::addr(&g).map(Some).map_err(|_| g);
    }
    if let Some(Value::Object(v)) = o.take("via")
        && let Some(h) = v.get("host").and_then(Value::as_str)
    {
        return lex::addr(h).map(Some).map_err(|_| h.to_string());
    }
    Ok(None)
}

/// `"flow": {"from": "3", "to": "4"}` → `3/4`; no `from` → `4` (`realm 4`).
fn flow(v: Value) -> Option<String> {
    let Value::Object(fl) = v else { return None };
    let g = |k: &str| {
        fl.get(k)
            .map(|v| v.as_str().map_or(v.to_string(), str::to_string))
    };
    match (g("from"), g("to")) {
        (Some(f), Some(t)) => Some(format!("{f}/{t}")),
        (None, Some(t)) => Some(t),
        _ => None,
    }
}

/// Route metrics in RTAX order (print_rta_metrics).
const METRICS: &[&str] = &[
    "mtu",
    "window",
    "rtt",
    "rttvar",
    "ssthresh",
    "cwnd",
    "advmss",
    "reordering",
    "hoplimit",
    "initcwnd",
    "features",
    "rto_min",
    "initrwnd",
    "quickack",
    "congctl",
    "fastopen_no_cookie",
];

/// One JSON metric, named and valued as the text format prints it: JSON says
/// `"congestion": "cubic"` for `congctl cubic`, `"ecn": null` for
/// `features ecn`, and times as bare milliseconds (`rtt 12ms`, `rtt 1.5s`).
fn metric(k: &str, v: &Value, lock: bool) -> RouteMetric {
    let text = v.as_str().map_or(v.to_string(), str::to_string);
    let (name, value) = match (k, v.as_u64()) {
        ("congestion", _) => ("congctl", text),
        ("ecn", _) => ("features", "ecn".to_string()),
        ("rtt" | "rttvar" | "rto_min", Some(ms)) if ms >= 1000 => {
            (k, format!("{}s", ms as f64 / 1e3))
        }
        ("rtt" | "rttvar" | "rto_min", Some(ms)) => (k, format!("{ms}ms")),
        _ => (k, text),
    };
    RouteMetric {
        name: name.to_string(),
        lock,
        value,
    }
}

fn route(o: &mut Obj<'_>, ctx: &Ctx) -> Option<Route> {
    let kind = o
        .str("type")
        .map_or(RouteType::Unicast, |t| RouteType::parse(&t));
    let dst_s = o.str("dst").unwrap_or_else(|| "default".into());
    let gw = match gateway(o) {
        Ok(g) => g,
        Err(t) => {
            o.error("bad gateway", t);
            return None;
        }
    };
    let prefsrc = o.str("prefsrc").and_then(|s| lex::addr(&s).ok());
    let from_s = o.str("from");
    let pref = o.str("pref");
    let fam = ctx.family.or_else(|| {
        gw.or(prefsrc)
            .map(|a| Family::of(&a))
            .or(from_s
                .as_ref()
                .and_then(|f| lex::prefix(f, None).ok())
                .map(|n| Family::of(&n.addr())))
            .or(pref.as_ref().map(|_| Family::Inet6))
    });
    let Ok(dst) = lex::dst(&dst_s, fam) else {
        o.error("bad route destination", dst_s);
        return None;
    };
    let table = o
        .str("table")
        .map(|t| Table::parse(&t))
        .or_else(|| ctx.table.clone())
        .unwrap_or_else(Table::main);
    let mut r = Route {
        line: o.line,
        end_line: o.line,
        family: Family::of(&dst.addr()),
        kind,
        dst,
        table,
        from: from_s.and_then(|f| lex::dst(&f, fam).ok()),
        nhid: o.u32("nhid"),
        tos: o.str("tos").or_else(|| o.str("dsfield")),
        gateway: gw,
        dev: o.str("dev"),
        protocol: o.str("protocol").map(|p| RouteProtocol::parse(&p)),
        scope: o.str("scope").map(|s| Scope::parse(&s)),
        prefsrc,
        metric: o.u32("metric"),
        flags: Vec::new(),
        mark: o.u32("mark"),
        realms: None,
        uid: o.u32("uid"),
        expires: o.u64("expires"),
        error: o.i64("error"),
        metrics: Vec::new(),
        iif: o.str("iif"),
        pref,
        encap: o.str("encap"),
        nexthops: Vec::new(),
        nh_info: o.take("nh_info").map(|v| v.to_string()),
        cache: o.take("cache").map(|v| v.to_string()),
        deleted: o.flag("deleted"),
        unknown: Vec::new(),
    };
    if let Some(Value::Array(f)) = o.take("flags") {
        r.flags = f
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect();
    }
    r.realms = o.take("flow").and_then(flow);
    if let Some(Value::Array(ms)) = o.take("metrics") {
        for m in ms {
            if let Value::Object(m) = m {
                let locked: Vec<String> = m
                    .get("lock")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(|v| v.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default();
                for (k, v) in m.iter().filter(|(k, _)| *k != "lock") {
                    r.metrics.push(metric(k, v, locked.contains(k)));
                }
            }
        }
        // The object's key order is lost: back to RTAX order, as text prints.
        r.metrics.sort_by_key(|m| {
            METRICS
                .iter()
                .position(|n| *n == m.name)
                .unwrap_or(METRICS.len())
        });
    }
    if let Some(Value::Array(nhs)) = o.take("nexthops") {
        for nh in nhs {
            let Value::Object(m) = nh else { continue };
            let mut no = Obj {
                map: m,
                line: o.line,
                col: o.col,
                diags: &mut *o.diags,
                what: "nexthop",
            };
            let gateway = match gateway(&mut no) {
                Ok(g) => g,
                Err(t) => {
                    no.error("bad nexthop gateway", t);
                    None
                }
            };
            let mut n = NextHop {
                line: o.line,
                gateway,
                dev: no.str("dev"),
                weight: no.u32("weight"),
                flags: Vec::new(),
                realms: None,
                encap: no.str("encap"),
                unknown: Vec::new(),
            };
            n.realms = no.take("flow").and_then(flow);
            if let Some(Value::Array(f)) = no.take("flags") {
                n.flags = f
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect();
            }
            n.unknown = no.leftovers();
            r.nexthops.push(n);
        }
    }
    r.unknown = o.leftovers();
    Some(r)
}

#[cfg(test)]
mod tests {
    use super::LineCursor;

    #[test]
    fn cursor_matches_counting_from_the_start() {
        let text = "[{\"a\": 1},\n {\"é\": 2}, {}\r\n\n  {\"b\": \"ü\"}]\n";
        let naive = |off: usize| {
            let before = &text[..off];
            let line = before.matches('\n').count() as u32 + 1;
            let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) as u32 + 1;
            (line, col)
        };
        let offs: Vec<usize> = (0..=text.len())
            .filter(|&o| text.is_char_boundary(o))
            .collect();
        let mut c = LineCursor::new(text);
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
