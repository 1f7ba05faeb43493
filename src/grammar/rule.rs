//! `ip rule` / `ip -6 rule` (ip/iprule.c print_rule), every version since
//! v3.10: TAB or spaces after `PRIO:`, trailing blanks, `to A /LEN` (v4.17–4.18),
//! `goto Nunresolved` (v4.17–v5.0), bare realms after the table (≤ v5.0),
//! `fwmark 0/0xff` (v4.20+), `lookup [l3mdev-table]`, `[detached]` devices.

use super::Ctx;
use super::diag::{Severity, Sink};
use super::lex::{self, Expected, Tokens};
use super::lines::Line;
use super::names::{Family, RouteProtocol, Table};
use ipnet::IpNet;
use serde::Serialize;
use std::net::IpAddr;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleAction {
    /// FR_ACT_TO_TBL: `lookup TABLE`.
    Lookup,
    Goto,
    Nop,
    Blackhole,
    Unreachable,
    Prohibit,
    /// Pre-2.6 `map-to` / `masquerade`.
    Nat,
    /// RTN_FAILED_POLICY, printed by OpenWrt's iproute2 (netifd rules); the
    /// kernel answers such a rule with EINVAL.
    #[serde(rename = "failed_policy")]
    FailedPolicy,
    #[serde(untagged)]
    Other(String),
}

/// An `iif`/`oif` selector; `detached` when the device does not exist (yet).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleIface {
    pub name: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub detached: bool,
}

/// `sport`/`dport`: a range, or (v6.15+) a value under a mask.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PortRange {
    pub start: u32,
    pub end: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mask: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rule {
    pub line: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub family: Option<Family>,
    pub priority: u32,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub not: bool,
    /// `None` is `from all`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<IpNet>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<IpNet>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tos: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fwmark: Option<u32>,
    /// Printed only when not 0xffffffff.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fwmask: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iif: Option<RuleIface>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oif: Option<RuleIface>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub l3mdev: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uidrange: Option<(u32, u32)>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipproto: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sport: Option<PortRange>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dport: Option<PortRange>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tun_id: Option<u64>,
    pub action: RuleAction,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub table: Option<Table>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub goto: Option<u32>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub unresolved: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suppress_prefixlength: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suppress_ifgroup: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub realms: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nat: Option<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<RouteProtocol>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dscp: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flowlabel: Option<String>,
    /// Tokens the grammar does not know, kept in order (each also flagged).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unknown: Vec<String>,
}

impl Rule {
    /// No selector but `from` and `to`: a rule that holds for every packet
    /// of its addresses, whatever its marks, uid, ports, TOS or devices.
    pub fn selects_addresses_only(&self) -> bool {
        self.tos.is_none()
            && self.fwmark.is_none()
            && self.iif.is_none()
            && self.oif.is_none()
            && !self.l3mdev
            && self.uidrange.is_none()
            && self.ipproto.is_none()
            && self.sport.is_none()
            && self.dport.is_none()
            && self.tun_id.is_none()
            && self.suppress_prefixlength.is_none()
            && self.suppress_ifgroup.is_none()
            && self.dscp.is_none()
            && self.flowlabel.is_none()
    }

    pub fn new(line: u32, priority: u32) -> Rule {
        Rule {
            line,
            family: None,
            priority,
            not: false,
            from: None,
            to: None,
            tos: None,
            fwmark: None,
            fwmask: None,
            iif: None,
            oif: None,
            l3mdev: false,
            uidrange: None,
            ipproto: None,
            sport: None,
            dport: None,
            tun_id: None,
            action: RuleAction::Other("unspec".into()),
            table: None,
            goto: None,
            unresolved: false,
            suppress_prefixlength: None,
            suppress_ifgroup: None,
            realms: None,
            nat: None,
            protocol: None,
            dscp: None,
            flowlabel: None,
            unknown: Vec::new(),
        }
    }
}

fn ports(tok: &str) -> Result<PortRange, Expected> {
    if let Some((v, m)) = tok.split_once('/') {
        let v = lex::hex_u32(v)?;
        let m = lex::hex_u32(m)?;
        return Ok(PortRange {
            start: v,
            end: v,
            mask: Some(m),
        });
    }
    let (start, end) = lex::range_u32(tok)?;
    Ok(PortRange {
        start,
        end,
        mask: None,
    })
}

/// A bare realm (`5`) or `from/to` pair as ≤ v5.0 printed them.
fn is_realm(tok: &str) -> bool {
    !tok.is_empty()
        && tok
            .split('/')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        && tok.split('/').count() <= 2
}

/// Parses one rule line; on a bad value the whole line becomes an error.
pub fn parse_line(line: &Line<'_>, ctx: &Ctx, sink: &mut Sink) -> Option<Rule> {
    let text = line.text.trim_start();
    let Some(colon) = text.find(':') else {
        sink.push(
            line,
            text,
            Severity::Error,
            "not a rule line",
            Some("PRIORITY:"),
        );
        return None;
    };
    let prio_tok = &text[..colon];
    let Ok(priority) = lex::u32_tok(prio_tok) else {
        sink.push(
            line,
            text,
            Severity::Error,
            "not a rule line",
            Some("PRIORITY:"),
        );
        return None;
    };
    let mut rule = Rule::new(line.no, priority);
    let mut toks = Tokens::new(&text[colon + 1..]);
    let fam = ctx.family;

    while let Some(kw) = toks.next() {
        match kw {
            "not" => rule.not = true,
            "from" => {
                let v = value!(toks, sink, line, kw, "all or a prefix");
                if v != "all" {
                    rule.from = Some(check!(sink, line, v, lex::prefix(v, fam)));
                }
            }
            "to" => {
                let v = value!(toks, sink, line, kw, "a prefix");
                let mut net = check!(sink, line, v, lex::prefix(v, fam));
                // v4.17–4.18 printed `to 10.0.0.0 /24`.
                if let Some(len) = toks.peek().and_then(|t| t.strip_prefix('/')) {
                    let t = toks.next().unwrap_or_default();
                    let joined = format!("{}/{len}", net.addr());
                    net = check!(sink, line, t, lex::prefix(&joined, fam));
                }
                rule.to = Some(net);
            }
            "tos" | "dsfield" => {
                rule.tos = Some(value!(toks, sink, line, kw, "a TOS value").to_string())
            }
            "fwmark" => {
                let v = value!(toks, sink, line, kw, "MARK[/MASK]");
                let (m, mask) = match v.split_once('/') {
                    Some((m, k)) => (m, Some(k)),
                    None => (v, None),
                };
                rule.fwmark = Some(check!(sink, line, v, lex::hex_u32(m)));
                if let Some(k) = mask {
                    rule.fwmask = Some(check!(sink, line, v, lex::hex_u32(k)));
                }
            }
            "iif" | "oif" => {
                let name = value!(toks, sink, line, kw, "an interface name").to_string();
                let detached = toks.peek() == Some("[detached]");
                if detached {
                    toks.next();
                }
                let i = Some(RuleIface { name, detached });
                if kw == "iif" {
                    rule.iif = i
                } else {
                    rule.oif = i
                }
            }
            "lookup" | "table" => {
                let v = value!(toks, sink, line, kw, "a table");
                rule.action = RuleAction::Lookup;
                if v == "[l3mdev-table]" {
                    rule.l3mdev = true;
                } else {
                    rule.table = Some(Table::parse(v));
                    // ≤ v5.0 printed realms without their keyword.
                    if let Some(r) = toks.peek().filter(|t| is_realm(t)) {
                        rule.realms = Some(r.to_string());
                        toks.next();
                    }
                }
            }
            "l3mdev" => rule.l3mdev = true,
            "uidrange" => {
                let v = value!(toks, sink, line, kw, "N-M");
                rule.uidrange = Some(check!(sink, line, v, lex::range_u32(v)));
            }
            "ipproto" => {
                rule.ipproto = Some(value!(toks, sink, line, kw, "a protocol").to_string())
            }
            "sport" | "dport" => {
                let v = value!(toks, sink, line, kw, "N, N-M or VALUE/MASK");
                let p = Some(check!(sink, line, v, ports(v)));
                if kw == "sport" {
                    rule.sport = p
                } else {
                    rule.dport = p
                }
            }
            "tun_id" => {
                let v = value!(toks, sink, line, kw, "a tunnel id");
                rule.tun_id = Some(check!(sink, line, v, lex::u64_tok(v)));
            }
            "suppress_prefixlength" => {
                let v = value!(toks, sink, line, kw, "a prefix length");
                rule.suppress_prefixlength = Some(check!(sink, line, v, lex::u32_tok(v)));
            }
            "suppress_ifgroup" => {
                rule.suppress_ifgroup = Some(value!(toks, sink, line, kw, "a group").to_string())
            }
            "realms" => rule.realms = Some(value!(toks, sink, line, kw, "FROM/TO").to_string()),
            "goto" => {
                let v = value!(toks, sink, line, kw, "a priority");
                rule.action = RuleAction::Goto;
                let (num, unresolved) = match v.strip_suffix("unresolved") {
                    Some(n) => (n, true),
                    None => (v, false),
                };
                if num != "none" {
                    rule.goto = Some(check!(sink, line, v, lex::u32_tok(num)));
                }
                rule.unresolved |= unresolved;
            }
            "[unresolved]" | "unresolved" => rule.unresolved = true,
            "nop" => rule.action = RuleAction::Nop,
            "blackhole" => rule.action = RuleAction::Blackhole,
            "unreachable" => rule.action = RuleAction::Unreachable,
            "prohibit" => rule.action = RuleAction::Prohibit,
            "failed_policy" => rule.action = RuleAction::FailedPolicy,
            "masquerade" => rule.action = RuleAction::Nat,
            "map-to" | "nat" => {
                let v = value!(toks, sink, line, kw, "an address");
                rule.action = RuleAction::Nat;
                rule.nat = Some(check!(sink, line, v, lex::addr(v)));
            }
            "proto" | "protocol" => {
                rule.protocol = Some(RouteProtocol::parse(value!(
                    toks,
                    sink,
                    line,
                    kw,
                    "a protocol"
                )))
            }
            "dscp" => rule.dscp = Some(value!(toks, sink, line, kw, "a DSCP value").to_string()),
            "flowlabel" => {
                rule.flowlabel = Some(value!(toks, sink, line, kw, "a flow label").to_string())
            }
            _ => {
                sink.unknown_token(line, kw, "rule");
                rule.unknown.push(kw.to_string());
            }
        }
    }
    rule.family = rule
        .from
        .map(|n| Family::of(&n.addr()))
        .or(rule.to.map(|n| Family::of(&n.addr())))
        .or(ctx.family);
    Some(rule)
}
