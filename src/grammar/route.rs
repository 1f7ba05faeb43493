//! `ip route` / `ip -6 route` / `ip route show table all` (ip/iproute.c
//! print_route and friends), every version since v3.10. Keywords are read in
//! any order (the print order changed across versions); multipath `nexthop`,
//! `nh_info` and `cache` lines attach to the route above them, whether on
//! their own TAB/space-indented line or glued on with `\` by `-o`.

use super::Ctx;
use super::diag::{Severity, Sink};
use super::lex::{self, Expected, Tokens};
use super::lines::Line;
use super::names::{Family, RouteProtocol, RouteType, Scope, Table};
use ipnet::IpNet;
use serde::Serialize;
use std::net::IpAddr;

/// One `mtu lock 1400` style metric; values keep their unit (`12ms`, `cubic`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RouteMetric {
    pub name: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub lock: bool,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NextHop {
    pub line: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gateway: Option<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dev: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight: Option<u32>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub realms: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encap: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unknown: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Route {
    pub line: u32,
    /// Last physical line of the record (nexthop/cache lines included).
    pub end_line: u32,
    pub family: Family,
    #[serde(rename = "type")]
    pub kind: RouteType,
    /// `default` is the zero-length prefix of the family.
    pub dst: IpNet,
    /// The `table` token; else the table the command printed (a single-table
    /// dump prints no `table` tokens); else main.
    pub table: Table,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<IpNet>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nhid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tos: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gateway: Option<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dev: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<RouteProtocol>,
    /// Absent means the printed default: `global`, or `link` for routes
    /// that old versions printed without scope.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<Scope>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefsrc: Option<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metric: Option<u32>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mark: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub realms: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<i64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<RouteMetric>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iif: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pref: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encap: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nexthops: Vec<NextHop>,
    /// `-d` `nh_info` line of an `nhid` route, verbatim.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nh_info: Option<String>,
    /// A cloned route's `cache` line, verbatim (old kernels mixed these in).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache: Option<String>,
    /// `ip monitor` capture: `Deleted …`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unknown: Vec<String>,
}

/// Route metrics (RTAX_*), printed as `name [lock] value`.
fn is_metric(w: &str) -> bool {
    matches!(
        w,
        "mtu"
            | "window"
            | "rtt"
            | "rttvar"
            | "ssthresh"
            | "cwnd"
            | "advmss"
            | "reordering"
            | "hoplimit"
            | "initcwnd"
            | "features"
            | "quickack"
            | "congctl"
            | "rto_min"
            | "initrwnd"
            | "fastopen_no_cookie"
    )
}

/// Next-hop and route flags (RTNH_F_*, RTM_F_*).
fn is_flag(w: &str) -> bool {
    matches!(
        w,
        "dead"
            | "onlink"
            | "pervasive"
            | "offload"
            | "trap"
            | "notify"
            | "linkdown"
            | "unresolved"
            | "rt_offload"
            | "rt_trap"
            | "rt_offload_failed"
    )
}

/// Words that end an `encap …` clause (whose own words are open-ended).
fn ends_encap(w: &str) -> bool {
    is_flag(w)
        || is_metric(w)
        || matches!(
            w,
            "via"
                | "dev"
                | "table"
                | "proto"
                | "scope"
                | "src"
                | "metric"
                | "weight"
                | "pref"
                | "realm"
                | "realms"
                | "mark"
                | "expires"
                | "error"
                | "nexthop"
        )
}

impl Route {
    pub fn new(line: u32, family: Family, dst: IpNet, kind: RouteType, table: Table) -> Route {
        Route {
            line,
            end_line: line,
            family,
            kind,
            dst,
            table,
            from: None,
            nhid: None,
            tos: None,
            gateway: None,
            dev: None,
            protocol: None,
            scope: None,
            prefsrc: None,
            metric: None,
            flags: Vec::new(),
            mark: None,
            realms: None,
            uid: None,
            expires: None,
            error: None,
            metrics: Vec::new(),
            iif: None,
            pref: None,
            encap: None,
            nexthops: Vec::new(),
            nh_info: None,
            cache: None,
            deleted: false,
            unknown: Vec::new(),
        }
    }
}

/// Reads `encap TYPE …`. `ip`/`ip6` print their own `src`, `dst`, `tos`,
/// `ttl`… (print_encap_ip), each once, so those are read as the encap's
/// key/value pairs; `seg6local` may hold `table`/`iif`/`oif`; other types run
/// up to the next route keyword.
fn encap<'a>(toks: &mut Tokens<'a>) -> String {
    let Some(kind) = toks.next() else {
        return String::new();
    };
    let mut words = vec![kind];
    if matches!(kind, "ip" | "ip6") {
        let mut seen = Vec::new();
        while let Some(w) = toks.peek() {
            if seen.contains(&w) {
                break;
            }
            match w {
                "id" | "src" | "dst" | "ttl" | "tos" | "hoplimit" | "tc" => {
                    toks.next();
                    words.push(w);
                    words.extend(toks.next());
                }
                "key" | "csum" | "seq" => {
                    toks.next();
                    words.push(w);
                }
                _ => break,
            }
            seen.push(w);
        }
        return words.join(" ");
    }
    while let Some(w) = toks.peek() {
        if ends_encap(w) && !(kind == "seg6local" && w == "table") {
            break;
        }
        words.push(w);
        toks.next();
    }
    words.join(" ")
}

/// `via [FAMILY] ADDR`.
fn via<'a>(toks: &mut Tokens<'a>, sink: &mut Sink, line: &Line<'_>) -> Option<IpAddr> {
    let mut v = value!(toks, sink, line, "via", "a gateway address");
    if matches!(v, "inet" | "inet6") {
        v = value!(toks, sink, line, "via", "a gateway address");
    }
    Some(check!(sink, line, v, lex::addr(v)))
}

/// Parses the first line of a route.
pub fn parse_line(line: &Line<'_>, ctx: &Ctx, sink: &mut Sink) -> Option<Route> {
    let mut toks = Tokens::new(line.text);
    let mut first = toks.next()?;
    let mut deleted = false;
    if first == "Deleted" {
        deleted = true;
        first = value!(toks, sink, line, "Deleted", "a route");
    }
    let mut kind = RouteType::Unicast;
    if RouteType::is_type_word(first) {
        kind = RouteType::parse(first);
        first = value!(toks, sink, line, first, "a destination");
    } else if first.bytes().all(|b| b.is_ascii_digit()) && toks.peek().is_some() {
        // An unnamed type number (`ip route` prints unknown types as decimal)
        // is followed by a destination; a bare `10` would be a prefix.
        if let Some(n) = toks.peek()
            && lex::dst(n, ctx.family).is_ok()
            && first.parse::<u8>().is_ok()
        {
            kind = RouteType::parse(first);
            first = toks.next().unwrap_or(first);
        }
    }
    let dst_tok = first;
    // The family of `default` and `0/LEN` comes from what follows.
    // Only those take a family: looking ahead for any other would read the
    // line twice.
    let needs_family = matches!(dst_tok, "default" | "all" | "any") || dst_tok.starts_with("0/");
    let family_hint = match ctx.family {
        None if needs_family => guess_family(toks.clone()),
        f => f,
    };
    let dst = match lex::dst(dst_tok, family_hint) {
        Ok(d) => d,
        Err(Expected(what)) => {
            sink.push(
                line,
                dst_tok,
                Severity::Error,
                "not a route line",
                Some(what),
            );
            return None;
        }
    };
    let mut r = Route::new(
        line.no,
        Family::of(&dst.addr()),
        dst,
        kind,
        ctx.table.clone().unwrap_or_else(Table::main),
    );
    r.deleted = deleted;
    while let Some(kw) = toks.next() {
        match kw {
            "from" => {
                let v = value!(toks, sink, line, kw, "a source prefix");
                r.from = Some(check!(sink, line, v, lex::dst(v, Some(r.family))));
            }
            "nhid" => {
                let v = value!(toks, sink, line, kw, "a nexthop id");
                r.nhid = Some(check!(sink, line, v, lex::u32_tok(v)));
            }
            "tos" | "dsfield" => r.tos = Some(value!(toks, sink, line, kw, "a TOS").to_string()),
            "via" | "gw" => r.gateway = Some(via(&mut toks, sink, line)?),
            "dev" | "oif" => r.dev = Some(value!(toks, sink, line, kw, "a device").to_string()),
            "table" => r.table = Table::parse(value!(toks, sink, line, kw, "a table")),
            "proto" | "protocol" => {
                r.protocol = Some(RouteProtocol::parse(value!(
                    toks,
                    sink,
                    line,
                    kw,
                    "a protocol"
                )))
            }
            "scope" => r.scope = Some(Scope::parse(value!(toks, sink, line, kw, "a scope"))),
            "src" => {
                let v = value!(toks, sink, line, kw, "a source address");
                r.prefsrc = Some(check!(sink, line, v, lex::addr(v)));
            }
            "metric" | "priority" | "preference" => {
                let v = value!(toks, sink, line, kw, "a metric");
                r.metric = Some(check!(sink, line, v, lex::u32_tok(v)));
            }
            "mark" => {
                let v = value!(toks, sink, line, kw, "a mark");
                r.mark = Some(check!(sink, line, v, lex::hex_u32(v)));
            }
            "realm" | "realms" => {
                r.realms = Some(value!(toks, sink, line, kw, "a realm").to_string())
            }
            "uid" => {
                let v = value!(toks, sink, line, kw, "a uid");
                r.uid = Some(check!(sink, line, v, lex::u32_tok(v)));
            }
            "expires" => {
                let v = value!(toks, sink, line, kw, "Nsec");
                r.expires = Some(check!(sink, line, v, lex::seconds(v)));
            }
            "error" => {
                let v = value!(toks, sink, line, kw, "an error number");
                r.error = Some(check!(sink, line, v, lex::i64_tok(v)));
            }
            "iif" => r.iif = Some(value!(toks, sink, line, kw, "a device").to_string()),
            "pref" => {
                r.pref = Some(value!(toks, sink, line, kw, "low, medium or high").to_string())
            }
            "encap" => r.encap = Some(encap(&mut toks)),
            "as" => {
                let mut v = value!(toks, sink, line, kw, "an address");
                if v == "to" {
                    v = value!(toks, sink, line, kw, "an address");
                }
                r.unknown.push(format!("as to {v}"));
            }
            "ttl-propagate" | "ttl-propogate" => {
                let v = value!(toks, sink, line, kw, "enabled or disabled");
                r.flags.push(format!("{kw} {v}"));
            }
            // `ip -s` cache statistics and old cache info: kept with the route.
            "users" | "used" | "age" | "ipid" | "ts" | "tsage" => {
                let v = value!(toks, sink, line, kw, "a value");
                r.metrics.push(RouteMetric {
                    name: kw.to_string(),
                    lock: false,
                    value: v.to_string(),
                });
            }
            "nexthop" => {
                // `-o` without a `\`: keep parsing on the same line.
                let rest = Tokens::new(toks.rest());
                toks = Tokens::new("");
                let nh = parse_nexthop(rest, line, &mut r, sink)?;
                r.nexthops.push(nh);
            }
            w if is_flag(w) => r.flags.push(w.to_string()),
            w if is_metric(w) => {
                let mut v = value!(toks, sink, line, kw, "a metric value");
                let lock = v == "lock";
                if lock {
                    v = value!(toks, sink, line, kw, "a metric value");
                }
                r.metrics.push(RouteMetric {
                    name: w.to_string(),
                    lock,
                    value: v.to_string(),
                });
            }
            _ => {
                sink.unknown_token(line, kw, "route");
                r.unknown.push(kw.to_string());
            }
        }
    }
    // `default` said nothing of its family; the gateway or source does.
    if dst.prefix_len() == 0 && ctx.family.is_none() {
        let fam = r
            .gateway
            .or(r.prefsrc)
            .map(|a| Family::of(&a))
            .or(r.from.map(|f| Family::of(&f.addr())));
        if let Some(f) = fam
            && f != r.family
        {
            r.family = f;
            r.dst = lex::dst("default", Some(f)).unwrap_or(r.dst);
        }
    }
    Some(r)
}

/// Looks ahead for a token that settles the family of `default`.
fn guess_family(toks: Tokens<'_>) -> Option<Family> {
    let mut prev = "";
    for t in toks {
        match prev {
            "via" | "src" | "from" | "gw" if t != "inet" && t != "inet6" => {
                if let Ok(a) = lex::addr(t) {
                    return Some(Family::of(&a));
                }
                if let Ok(p) = lex::prefix(t, None) {
                    return Some(Family::of(&p.addr()));
                }
            }
            "via" if t == "inet6" => return Some(Family::Inet6),
            "via" if t == "inet" => return Some(Family::Inet),
            _ => {}
        }
        // Only IPv6 routes carry a router preference; only the IPv6 null
        // route has metric 4294967295.
        if t == "pref" || (prev == "metric" && t == "4294967295") {
            return Some(Family::Inet6);
        }
        prev = t;
    }
    None
}

fn parse_nexthop(
    mut toks: Tokens<'_>,
    line: &Line<'_>,
    route: &mut Route,
    sink: &mut Sink,
) -> Option<NextHop> {
    let mut nh = NextHop {
        line: line.no,
        gateway: None,
        dev: None,
        weight: None,
        flags: Vec::new(),
        realms: None,
        encap: None,
        unknown: Vec::new(),
    };
    while let Some(kw) = toks.next() {
        match kw {
            "via" | "gw" => nh.gateway = Some(via(&mut toks, sink, line)?),
            "dev" => nh.dev = Some(value!(toks, sink, line, kw, "a device").to_string()),
            "weight" => {
                let v = value!(toks, sink, line, kw, "a weight");
                nh.weight = Some(check!(sink, line, v, lex::u32_tok(v)));
            }
            "realm" | "realms" => {
                nh.realms = Some(value!(toks, sink, line, kw, "a realm").to_string())
            }
            "encap" => nh.encap = Some(encap(&mut toks)),
            "as" => {
                let mut v = value!(toks, sink, line, kw, "an address");
                if v == "to" {
                    v = value!(toks, sink, line, kw, "an address");
                }
                nh.unknown.push(format!("as to {v}"));
            }
            // < v5.6 printed the route's `pref` after the multipath block.
            "pref" => route.pref = Some(value!(toks, sink, line, kw, "a preference").to_string()),
            "nexthop" => {
                // Several nexthops glued on one line.
                let next = parse_nexthop(toks, line, route, sink)?;
                route.nexthops.push(nh);
                return Some(next);
            }
            w if is_flag(w) => nh.flags.push(w.to_string()),
            _ => {
                sink.unknown_token(line, kw, "nexthop");
                nh.unknown.push(kw.to_string());
            }
        }
    }
    Some(nh)
}

/// Parses an indented line under `route`; `false` when it is not one of the
/// continuation forms (the caller then treats it as a route of its own).
pub fn parse_continuation(line: &Line<'_>, route: &mut Route, sink: &mut Sink) -> bool {
    let mut toks = Tokens::new(line.text);
    let Some(first) = toks.next() else {
        return true;
    };
    match first {
        "nexthop" => {
            route.end_line = line.no;
            if let Some(nh) = parse_nexthop(toks, line, route, sink) {
                route.nexthops.push(nh);
            }
            true
        }
        "nh_info" => {
            route.end_line = line.no;
            route.nh_info = Some(toks.rest().trim_end().to_string());
            true
        }
        "cache" => {
            route.end_line = line.no;
            route.cache = Some(toks.rest().trim_end().to_string());
            true
        }
        _ => false,
    }
}
