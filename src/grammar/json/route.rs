//! `ip -j route` objects (their `encap` already folded by `Ordered`), with
//! nexthops and metrics, mapped key by key onto the records the text
//! grammar (`grammar::route`) builds.

use super::Obj;
use crate::grammar::Ctx;
use crate::grammar::intern::Name;
use crate::grammar::lex;
use crate::grammar::names::{Family, RouteProtocol, RouteType, Scope, Table};
use crate::grammar::route::{NextHop, Route, RouteMetric, RouteRare};
use serde_json::Value;

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

pub(super) fn route(o: &mut Obj<'_>, ctx: &Ctx) -> Option<Route> {
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
    let mut r = Route::new(o.line, Family::of(&dst.addr()), dst, kind, table);
    // Read in the order the keys were always taken (`take` moves them out,
    // and `leftovers` reports what no key took).
    let nhid = o.u32("nhid");
    let tos = o.str("tos").or_else(|| o.str("dsfield"));
    r.gateway = gw;
    r.dev = o.str("dev").map(Name::from);
    r.set_protocol(o.str("protocol").map(|p| RouteProtocol::parse(&p)));
    r.set_scope(o.str("scope").map(|s| Scope::parse(&s)));
    r.prefsrc = prefsrc;
    r.metric = o.u32("metric");
    let rare = RouteRare {
        from: from_s.and_then(|f| lex::dst(&f, fam).ok()),
        nhid,
        tos,
        mark: o.u32("mark"),
        uid: o.u32("uid"),
        expires: o.u64("expires"),
        error: o.i64("error"),
        iif: o.str("iif"),
        encap: o.str("encap"),
        nh_info: o.take("nh_info").map(|v| v.to_string()),
        cache: o.take("cache").map(|v| v.to_string()),
        ..RouteRare::default()
    };
    r.pref = pref.map(Name::from);
    r.deleted = o.flag("deleted");
    if rare != RouteRare::default() {
        *r.rare_mut() = rare;
    }
    if let Some(Value::Array(f)) = o.take("flags") {
        r.flags = f.iter().filter_map(Value::as_str).collect();
    }
    if let Some(realms) = o.take("flow").and_then(flow) {
        r.rare_mut().realms = Some(realms);
    }
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
                    r.rare_mut().metrics.push(metric(k, v, locked.contains(k)));
                }
            }
        }
        // The object's key order is lost: back to RTAX order, as text prints.
        r.rare_mut().metrics.sort_by_key(|m| {
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
            // `ip -j` gives a leg no line of its own: its route's.
            let mut n = NextHop::new(0);
            n.gateway = gateway;
            n.dev = no.str("dev").map(Name::from);
            n.weight = no.u32("weight");
            if let Some(e) = no.str("encap") {
                n.rare_mut().encap = Some(e);
            }
            if let Some(r) = no.take("flow").and_then(flow) {
                n.rare_mut().realms = Some(r);
            }
            if let Some(Value::Array(f)) = no.take("flags") {
                n.flags = f.iter().filter_map(Value::as_str).collect();
            }
            let unknown = no.leftovers();
            if !unknown.is_empty() {
                n.rare_mut().unknown = unknown;
            }
            r.nexthops.push(n);
        }
    }
    let unknown = o.leftovers();
    if !unknown.is_empty() {
        r.rare_mut().unknown = unknown;
    }
    Some(r)
}
