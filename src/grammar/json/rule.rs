//! `ip -j rule` objects, mapped key by key onto the records the text
//! grammar (`grammar::rule`) builds.

use super::Obj;
use crate::grammar::Ctx;
use crate::grammar::lex;
use crate::grammar::names::{Family, RouteProtocol, Table};
use crate::grammar::rule::{PortRange, Rule, RuleAction, RuleIface};

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

pub(super) fn rule(o: &mut Obj<'_>, ctx: &Ctx) -> Option<Rule> {
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
