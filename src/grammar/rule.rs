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

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct RuleIface {
    pub name: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub detached: bool,
}

/// `sport`/`dport`: a range, or (v6.15+) a value under a mask.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct PortRange {
    pub start: u32,
    pub end: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mask: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
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

/// The selectors a rule can carry besides `from`, `to` and `not`: the one
/// list that the grammar (`Rule::has`, which names every field of `Rule`),
/// the lookup (its match is exhaustive over this enum), the
/// conditional-rule report (`conditional`), the renderer
/// (`Rule::selector_text`) and the fix (`rule_named` compares them all)
/// go through, so that a selector is supported everywhere or nowhere.
/// In the order `ip rule` prints them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Selector {
    Tos,
    Fwmark,
    Iif,
    Oif,
    /// `lookup [l3mdev-table]`: selects flows bound to a VRF.
    L3mdev,
    Uidrange,
    Ipproto,
    Sport,
    Dport,
    TunId,
    /// FRA_DSCP (Linux 6.13+, iproute2 6.13+), optionally with a mask
    /// (FRA_DSCP_MASK, 6.15+): the flow's DSCP (its TOS byte >> 2).
    Dscp,
    /// FRA_FLOWLABEL with its mask (IPv6 only, Linux 6.14+, iproute2 6.14+):
    /// the flow's IPv6 flow label.
    Flowlabel,
}

impl Selector {
    pub const ALL: [Selector; 12] = [
        Selector::Tos,
        Selector::Fwmark,
        Selector::Iif,
        Selector::Oif,
        Selector::L3mdev,
        Selector::Uidrange,
        Selector::Ipproto,
        Selector::Sport,
        Selector::Dport,
        Selector::TunId,
        Selector::Dscp,
        Selector::Flowlabel,
    ];

    /// Whether a reply's lookup cannot settle the selector from the dumps:
    /// a reply's mark, uid, protocol, ports, TOS/DSCP, flow label, tunnel
    /// id, socket device or VRF binding are in no dump. Such rules are
    /// reported as conditional. `iif` is the flow's own (a reply's is
    /// `lo`).
    pub fn conditional(self) -> bool {
        !matches!(self, Selector::Iif)
    }
}

/// A DSCP as `ip rule` prints it: a number (decimal or hex) or a
/// per-hop-behaviour name (`CS0`…`CS7`, `AF11`…`AF43`, `EF`).
fn dscp_number(s: &str) -> Option<u8> {
    let u = s.to_ascii_uppercase();
    let v = if let Some(n) = u.strip_prefix("CS") {
        n.parse::<u8>().ok().filter(|n| *n <= 7)? * 8
    } else if let Some(n) = u.strip_prefix("AF") {
        let b = n.as_bytes();
        if b.len() != 2 || !(b'1'..=b'4').contains(&b[0]) || !(b'1'..=b'3').contains(&b[1]) {
            return None;
        }
        (b[0] - b'0') * 8 + (b[1] - b'0') * 2
    } else if u == "EF" {
        46
    } else {
        lex::hex_u32(s).ok().and_then(|v| u8::try_from(v).ok())?
    };
    (v < 64).then_some(v)
}

impl Rule {
    /// Whether the rule has the selector. Every field of `Rule` is named
    /// here (no `..`): a new field does not compile until it is said to be
    /// a selector or not.
    pub fn has(&self, s: Selector) -> bool {
        let Rule {
            line: _,
            family: _,
            priority: _,
            not: _,
            from: _,
            to: _,
            tos,
            fwmark,
            fwmask: _,
            iif,
            oif,
            l3mdev,
            uidrange,
            ipproto,
            sport,
            dport,
            tun_id,
            action: _,
            table: _,
            goto: _,
            unresolved: _,
            suppress_prefixlength: _,
            suppress_ifgroup: _,
            realms: _,
            nat: _,
            protocol: _,
            dscp,
            flowlabel,
            unknown: _,
        } = self;
        match s {
            Selector::Tos => tos.is_some(),
            Selector::Fwmark => fwmark.is_some(),
            Selector::Iif => iif.is_some(),
            Selector::Oif => oif.is_some(),
            Selector::L3mdev => *l3mdev,
            Selector::Uidrange => uidrange.is_some(),
            Selector::Ipproto => ipproto.is_some(),
            Selector::Sport => sport.is_some(),
            Selector::Dport => dport.is_some(),
            Selector::TunId => tun_id.is_some(),
            Selector::Dscp => dscp.is_some(),
            Selector::Flowlabel => flowlabel.is_some(),
        }
    }

    /// The selectors the rule has, in `ip rule`'s order.
    pub fn selectors(&self) -> impl Iterator<Item = Selector> + '_ {
        Selector::ALL.into_iter().filter(|s| self.has(*s))
    }

    /// A selector as `ip rule` prints it (`fwmark 0x1/0xff`, `iif eth0`,
    /// `dport 53`, `dscp 10`); `None` when the rule lacks it. A detached
    /// device's `[detached]` mark and `l3mdev`'s `lookup [l3mdev-table]`
    /// are the renderer's.
    pub fn selector_text(&self, s: Selector) -> Option<String> {
        if !self.has(s) {
            return None;
        }
        let port = |kw: &str, p: &Option<PortRange>| {
            p.map(|p| match p.mask {
                Some(m) => format!("{kw} {:#x}/{m:#x}", p.start),
                None if p.start == p.end => format!("{kw} {}", p.start),
                None => format!("{kw} {}-{}", p.start, p.end),
            })
        };
        match s {
            Selector::Tos => self.tos.as_ref().map(|t| format!("tos {t}")),
            Selector::Fwmark => self.fwmark.map(|m| match self.fwmask {
                Some(k) => format!("fwmark {m:#x}/{k:#x}"),
                None => format!("fwmark {m:#x}"),
            }),
            Selector::Iif => self.iif.as_ref().map(|i| format!("iif {}", i.name)),
            Selector::Oif => self.oif.as_ref().map(|i| format!("oif {}", i.name)),
            Selector::L3mdev => Some("l3mdev".into()),
            Selector::Uidrange => self.uidrange.map(|(a, b)| format!("uidrange {a}-{b}")),
            Selector::Ipproto => self.ipproto.as_ref().map(|p| format!("ipproto {p}")),
            Selector::Sport => port("sport", &self.sport),
            Selector::Dport => port("dport", &self.dport),
            Selector::TunId => self.tun_id.map(|t| format!("tun_id {t}")),
            Selector::Dscp => self.dscp.as_ref().map(|d| format!("dscp {d}")),
            Selector::Flowlabel => self.flowlabel.as_ref().map(|f| format!("flowlabel {f}")),
        }
    }

    /// The `dscp` selector as (value, mask); `None` when absent or not
    /// readable (a name `ip` took from a local rt_dsfield file).
    pub fn dscp_value(&self) -> Option<(u8, u8)> {
        let d = self.dscp.as_deref()?;
        match d.split_once('/') {
            Some((v, m)) => Some((dscp_number(v)?, dscp_number(m)?)),
            None => Some((dscp_number(d)?, 0x3f)),
        }
    }

    /// The `flowlabel` selector as (label, mask): `0x12345` (mask
    /// 0xfffff) or `0x12345/0xff000`; `None` when absent or unreadable.
    pub fn flowlabel_value(&self) -> Option<(u32, u32)> {
        let f = self.flowlabel.as_deref()?;
        let (v, m) = match f.split_once('/') {
            Some((v, m)) => (lex::hex_u32(v).ok()?, lex::hex_u32(m).ok()?),
            None => (lex::hex_u32(f).ok()?, 0xfffff),
        };
        Some((v, m))
    }

    /// No selector but `from` and `to`, no suppressor: a rule that holds
    /// for every packet of its addresses, whatever its marks, uid, ports,
    /// TOS or devices.
    pub fn selects_addresses_only(&self) -> bool {
        self.selectors().next().is_none()
            && self.suppress_prefixlength.is_none()
            && self.suppress_ifgroup.is_none()
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
    let (toks, mut rule) = head(line, sink)?;
    selectors(toks, &mut rule, line, ctx, sink)?;
    Some(rule)
}

/// [`parse_line`] onto the end of `out` (left as it was when the line is
/// not a rule): the record is made in place, not returned and pushed.
pub fn parse_line_into(line: &Line<'_>, ctx: &Ctx, sink: &mut Sink, out: &mut Vec<Rule>) {
    let h = head(line, sink);
    super::push_in_place(out, h, |toks, r| selectors(toks, r, line, ctx, sink));
}

/// The priority: the rule with nothing else yet, and the tokens after it.
#[inline(always)]
fn head<'a>(line: &Line<'a>, sink: &mut Sink) -> Option<(Tokens<'a>, Rule)> {
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
    Some((
        Tokens::new(&text[colon + 1..]),
        Rule::new(line.no, priority),
    ))
}

/// Everything after `PRIORITY:`.
#[inline(always)]
fn selectors(
    mut toks: Tokens<'_>,
    rule: &mut Rule,
    line: &Line<'_>,
    ctx: &Ctx,
    sink: &mut Sink,
) -> Option<()> {
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
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(text: &str) -> Rule {
        let d = crate::grammar::parse(text, crate::grammar::DumpKind::IpRule, &Ctx::default());
        assert!(d.diagnostics.is_empty(), "{:?}", d.diagnostics);
        d.rules()[0].clone()
    }

    /// Parsing in place gives what parsing and pushing gives, and leaves
    /// the vector alone on a line that is not a rule.
    #[test]
    fn parse_line_into_agrees_with_parse_line() {
        let ctx = Ctx::default();
        for text in [
            "0:\tfrom all lookup local",
            "102:\tfrom 10.1.0.0/24 to 172.16.0.0/12 lookup 300",
            "302:\tfrom all iif ghost0 [detached] lookup eni1",
            "200:\tfrom all fwmark 0x1/0xff lookup isp_multi",
            "5:\tfrom",
            "6:\tfrom all fwmark zz lookup 1",
            "not a rule",
        ] {
            let line = Line {
                no: 3,
                phys: text,
                text,
                glued: false,
            };
            let (mut a, mut b) = (Sink::default(), Sink::default());
            let mut out = Vec::new();
            parse_line_into(&line, &ctx, &mut a, &mut out);
            assert_eq!(out.pop(), parse_line(&line, &ctx, &mut b), "{text}");
            assert!(out.is_empty(), "{text}");
            assert_eq!(a.diagnostics, b.diagnostics, "{text}");
        }
    }

    #[test]
    fn dscp_and_flowlabel_selectors() {
        let r = rule("100:\tfrom all lookup 100 dscp 10\n");
        assert_eq!(r.dscp_value(), Some((10, 0x3f)));
        assert!(r.has(Selector::Dscp) && !r.selects_addresses_only());
        assert_eq!(r.selectors().collect::<Vec<_>>(), vec![Selector::Dscp]);
        assert_eq!(r.to_string(), "100:\tfrom all lookup 100 dscp 10");
        assert_eq!(
            rule("1: from all lookup 1 dscp AF11\n").dscp_value(),
            Some((10, 0x3f))
        );
        assert_eq!(
            rule("1: from all lookup 1 dscp EF\n").dscp_value(),
            Some((46, 0x3f))
        );
        assert_eq!(
            rule("1: from all lookup 1 dscp CS1\n").dscp_value(),
            Some((8, 0x3f))
        );
        assert_eq!(
            rule("1: from all lookup 1 dscp 0x30/0x30\n").dscp_value(),
            Some((0x30, 0x30))
        );
        // Unreadable (a local rt_dsfield name): a selector still, no value.
        let r = rule("1: from all lookup 1 dscp gold\n");
        assert!(r.has(Selector::Dscp) && r.dscp_value().is_none());
        assert_eq!(rule("1: from all lookup 1 dscp 64\n").dscp_value(), None);

        let r = rule("200:\tfrom all lookup 100 flowlabel 0x12345\n");
        assert_eq!(r.flowlabel_value(), Some((0x12345, 0xfffff)));
        assert_eq!(
            rule("300: from all lookup 102 flowlabel 0/0xff000\n").flowlabel_value(),
            Some((0, 0xff000))
        );
        assert!(
            rule("3: from all lookup 1 flowlabel x\n")
                .flowlabel_value()
                .is_none()
        );
        // `ip -j rule` prints the mask apart.
        let j = rule(
            r#"[{"priority":200,"src":"all","table":"100","flowlabel":"0x12345","flowlabel_mask":"0xff000"},{"priority":201,"src":"all","table":"100","flowlabel":"0x12345","flowlabel_mask":"0xfffff"}]"#,
        );
        assert_eq!(j.flowlabel_value(), Some((0x12345, 0xff000)));
    }

    #[test]
    fn one_selector_list_renders_and_compares() {
        let text = "102:\tfrom 10.0.0.0/8 to 10.1.0.0/16 tos 0x10 fwmark 0x1/0xff iif eth0 [detached] oif eth1 uidrange 0-100 ipproto udp sport 1-2 dport 0x35/0xffff tun_id 7 lookup 5 proto static dscp 10 flowlabel 0x1/0xff";
        let r = rule(&format!("{text}\n"));
        let all: Vec<Selector> = r.selectors().collect();
        let mut want = Selector::ALL.to_vec();
        want.retain(|s| *s != Selector::L3mdev);
        assert_eq!(all, want);
        assert_eq!(r.to_string(), text);
        assert_eq!(r.selector_text(Selector::Iif).as_deref(), Some("iif eth0"));
        let l = rule("5:\tfrom all lookup [l3mdev-table]\n");
        assert_eq!(l.selectors().collect::<Vec<_>>(), vec![Selector::L3mdev]);
        assert!(
            Selector::ALL
                .iter()
                .all(|s| s.conditional() == (*s != Selector::Iif))
        );
    }
}
