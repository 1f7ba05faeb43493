//! `ip -j addr` objects: a link with its `addr_info` list, mapped key by key
//! onto the records the text grammar (`grammar::addr`) builds.

use super::Obj;
use crate::grammar::addr::{Address, Lifetime, Link};
use crate::grammar::lex;
use crate::grammar::names::{Family, Scope};
use serde_json::Value;

pub(super) fn link(o: &mut Obj<'_>) -> Option<Link> {
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
const ADDR_FLAG_KEYS: &[&str] = crate::grammar::addr::IFA_FLAGS;

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
