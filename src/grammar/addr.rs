//! `ip addr` / `ip link` (ip/ipaddress.c print_linkinfo, print_addrinfo):
//! multi-line, `-o` (one line per address, or link line + `\` + l2 line),
//! `-d` (detail fields and KIND lines), `-s` (statistics) and `-br` (brief
//! columns). Address flags are an unordered set: their order changed in v4.13.

use super::Ctx;
use super::diag::{Severity, Sink};
use super::lex::{self, Expected, Tokens};
use super::lines::Line;
use super::names::{Family, Scope};
use serde::{Serialize, Serializer};
use std::net::IpAddr;

/// `valid_lft` / `preferred_lft`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifetime {
    Forever,
    Seconds(u64),
}

impl Lifetime {
    fn parse(tok: &str) -> Result<Lifetime, Expected> {
        if tok == "forever" {
            Ok(Lifetime::Forever)
        } else {
            lex::seconds(tok).map(Lifetime::Seconds)
        }
    }
}

impl Serialize for Lifetime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Lifetime::Forever => s.serialize_str("forever"),
            Lifetime::Seconds(n) => s.serialize_u64(*n),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Address {
    pub line: u32,
    pub family: Family,
    pub local: IpAddr,
    /// Point-to-point peer; the prefix length then belongs to the peer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer: Option<IpAddr>,
    pub prefixlen: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metric: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub broadcast: Option<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub anycast: Option<IpAddr>,
    /// Absent only in `-br` output, which prints no scope.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<Scope>,
    /// `secondary`, `temporary`, `tentative`, `deprecated`, `dynamic`, … and
    /// `flags HH` as `flags:HH`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proto: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid_lft: Option<Lifetime>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_lft: Option<Lifetime>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unknown: Vec<String>,
}

impl Address {
    /// An address as the line gives its core (`inet LOCAL[ peer PEER]/LEN`),
    /// every attribute after it yet unset.
    pub fn new(line: u32, local: IpAddr, peer: Option<IpAddr>, prefixlen: u8) -> Address {
        Address {
            line,
            family: Family::of(&local),
            local,
            peer,
            prefixlen,
            metric: None,
            broadcast: None,
            anycast: None,
            scope: None,
            flags: Vec::new(),
            label: None,
            proto: None,
            valid_lft: None,
            preferred_lft: None,
            unknown: Vec::new(),
        }
    }

    pub fn has_flag(&self, f: &str) -> bool {
        self.flags.iter().any(|x| x == f)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Link {
    pub line: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<u32>,
    pub name: String,
    /// After `@`: a link name, `ifN` (peer in another netns) or `NONE`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer: Option<String>,
    /// `None` when the capture did not print the link line (`ip -o addr`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flags: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qdisc: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub master: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qlen: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub broadcast: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permaddr: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link_netnsid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link_netns: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub altnames: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    /// `-d` fields and KIND lines, `xdp` and statistics, verbatim.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<String>,
    pub addrs: Vec<Address>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unknown: Vec<String>,
}

impl Link {
    pub fn new(line: u32, index: Option<u32>, name: &str) -> Link {
        let (name, peer) = split_peer(name);
        Link {
            line,
            index,
            name: name.to_string(),
            peer: peer.map(str::to_string),
            flags: None,
            mtu: None,
            qdisc: None,
            master: None,
            state: None,
            mode: None,
            group: None,
            qlen: None,
            link_type: None,
            address: None,
            broadcast: None,
            permaddr: None,
            link_netnsid: None,
            link_netns: None,
            altnames: Vec::new(),
            alias: None,
            details: Vec::new(),
            addrs: Vec::new(),
            unknown: Vec::new(),
        }
    }

    pub fn has_flag(&self, f: &str) -> bool {
        self.flags
            .as_ref()
            .is_some_and(|v| v.iter().any(|x| x == f))
    }
}

/// `NAME@PEER`, split at the last `@`.
fn split_peer(s: &str) -> (&str, Option<&str>) {
    match s.rfind('@') {
        Some(i) if i > 0 => (&s[..i], Some(&s[i + 1..])),
        _ => (s, None),
    }
}

/// The address flags iproute2 prints (`print_ifa_flags`), by the names
/// `-j` uses for its keys too.
pub(crate) const IFA_FLAGS: &[&str] = &[
    "secondary",
    "temporary",
    "nodad",
    "optimistic",
    "dadfailed",
    "home",
    "deprecated",
    "tentative",
    "dynamic",
    "mngtmpaddr",
    "noprefixroute",
    "autojoin",
    "stable-privacy",
    "permanent",
];

const OPERSTATES: &[&str] = &[
    "UNKNOWN",
    "NOTPRESENT",
    "DOWN",
    "LOWERLAYERDOWN",
    "TESTING",
    "DORMANT",
    "UP",
];

/// The grammar's state: links in order, the last one open for continuations.
#[derive(Default)]
pub struct AddrParser {
    pub links: Vec<Link>,
    /// Whether continuation lines may attach to the last link.
    open: bool,
}

/// Continuation lines that lost their indentation in a paste are still
/// recognised by their first word.
pub fn is_continuation_word(text: &str) -> bool {
    let t = text.trim_start();
    t.starts_with("link/")
        || t.starts_with("inet ")
        || t.starts_with("inet6 ")
        || t.starts_with("valid_lft ")
        || t.starts_with("altname ")
}

impl AddrParser {
    /// A line that starts a record: `IDX: NAME…` or a `-br` row.
    pub fn record(&mut self, line: &Line<'_>, ctx: &Ctx, sink: &mut Sink) {
        self.open = self.record_inner(line, ctx, sink).is_some();
    }

    fn record_inner(&mut self, line: &Line<'_>, ctx: &Ctx, sink: &mut Sink) -> Option<()> {
        let text = line.text.trim_start();
        let head = text
            .split_once(':')
            .filter(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        let Some((idx, rest)) = head else {
            return self.brief(line, sink);
        };
        let index = check!(sink, line, idx, lex::u32_tok(idx));
        let rest = rest.trim_start_matches([' ', '\t']);
        if let Some(pos) = rest.find(": <") {
            // Full link line.
            let name = &rest[..pos];
            let after = &rest[pos + 3..];
            let Some(close) = after.find('>') else {
                sink.push(
                    line,
                    after,
                    Severity::Error,
                    "unterminated link flags",
                    Some("`>`"),
                );
                return None;
            };
            let mut link = Link::new(line.no, Some(index), name);
            link.flags = Some(
                after[..close]
                    .split(',')
                    .filter(|f| !f.is_empty())
                    .map(str::to_string)
                    .collect(),
            );
            self.link_fields(&mut link, Tokens::new(&after[close + 1..]), line, sink)?;
            self.links.push(link);
            return Some(());
        }
        // `ip -o addr`: `IDX: NAME    inet …`.
        let mut toks = Tokens::new(rest);
        let name = value!(toks, sink, line, idx, "an interface name");
        let name = name.strip_suffix(':').unwrap_or(name);
        let same = self
            .links
            .last()
            .is_some_and(|l| l.index == Some(index) && l.name == split_peer(name).0);
        if !same {
            self.links.push(Link::new(line.no, Some(index), name));
        }
        let body = toks.rest();
        if body.is_empty() {
            return Some(());
        }
        let link = self.links.last_mut()?;
        continuation(link, line, body, ctx, sink);
        Some(())
    }

    fn link_fields(
        &mut self,
        link: &mut Link,
        mut toks: Tokens<'_>,
        line: &Line<'_>,
        sink: &mut Sink,
    ) -> Option<()> {
        while let Some(kw) = toks.next() {
            match kw {
                "mtu" => {
                    let v = value!(toks, sink, line, kw, "a number");
                    link.mtu = Some(check!(sink, line, v, lex::u32_tok(v)));
                }
                "qdisc" => link.qdisc = Some(value!(toks, sink, line, kw, "a qdisc").into()),
                "master" => link.master = Some(value!(toks, sink, line, kw, "a device").into()),
                "state" => link.state = Some(value!(toks, sink, line, kw, "a state").into()),
                "mode" => link.mode = Some(value!(toks, sink, line, kw, "a mode").into()),
                "group" => link.group = Some(value!(toks, sink, line, kw, "a group").into()),
                "qlen" => {
                    let v = value!(toks, sink, line, kw, "a number");
                    link.qlen = Some(check!(sink, line, v, lex::u32_tok(v)));
                }
                "link-netnsid" => {
                    link.link_netnsid = Some(value!(toks, sink, line, kw, "an id").into())
                }
                "event" | "netns" | "new-netnsid" | "new-ifindex" | "new-netns" => {
                    let v = value!(toks, sink, line, kw, "a value");
                    link.details.push(format!("{kw} {v}"));
                }
                "proto_down" | "protodown" => link.details.push(kw.into()),
                w if w.starts_with("xdp") || w.starts_with("prog/") => link.details.push(w.into()),
                _ => {
                    sink.unknown_token(line, kw, "link line");
                    link.unknown.push(kw.into());
                }
            }
        }
        Some(())
    }

    /// `ip -br addr` / `ip -br link`: `NAME STATE ADDR…` / `NAME STATE LLADDR <FLAGS>`.
    fn brief(&mut self, line: &Line<'_>, sink: &mut Sink) -> Option<()> {
        let mut toks = Tokens::new(line.text);
        let name = toks.next()?;
        let state = toks.next();
        if !state.is_some_and(|s| OPERSTATES.contains(&s)) {
            sink.push(
                line,
                line.text.trim_start(),
                Severity::Error,
                "not an ip addr line",
                Some("`IDX: NAME: <FLAGS> …`, an address line or a brief row"),
            );
            return None;
        }
        let mut link = Link::new(line.no, None, name);
        link.state = state.map(str::to_string);
        while let Some(t) = toks.next() {
            if let Some(flags) = t.strip_prefix('<').and_then(|f| f.strip_suffix('>')) {
                link.flags = Some(
                    flags
                        .split(',')
                        .filter(|f| !f.is_empty())
                        .map(str::to_string)
                        .collect(),
                );
                continue;
            }
            // `ADDR/LEN metric N` (IFA_RT_PRIORITY).
            if t == "metric"
                && let Some(a) = link.addrs.last_mut()
            {
                let v = value!(toks, sink, line, t, "a number");
                a.metric = Some(check!(sink, line, v, lex::u32_tok(v)));
                continue;
            }
            if toks.peek() == Some("peer") || t.contains('/') {
                let (local, peer, len) = if toks.peek() == Some("peer") {
                    toks.next();
                    let p = value!(toks, sink, line, "peer", "PEER/LEN");
                    let net = check!(sink, line, p, lex::prefix(p, None));
                    let local = check!(sink, line, t, lex::addr(t));
                    (local, Some(net.addr()), net.prefix_len())
                } else {
                    let net = check!(sink, line, t, lex::prefix(t, None));
                    (net.addr(), None, net.prefix_len())
                };
                link.addrs.push(Address::new(line.no, local, peer, len));
            } else if t.contains(':') && link.address.is_none() {
                link.address = Some(t.to_string());
            } else {
                sink.unknown_token(line, t, "brief row");
                link.unknown.push(t.to_string());
            }
        }
        self.links.push(link);
        Some(())
    }

    /// An indented (or `\`-glued) line under the current link.
    pub fn continuation(&mut self, line: &Line<'_>, ctx: &Ctx, sink: &mut Sink) {
        let body = line.text.trim_start();
        if body.is_empty() {
            return;
        }
        match self.links.last_mut() {
            Some(link) if self.open => continuation(link, line, body, ctx, sink),
            _ => sink.push(
                line,
                body,
                Severity::Error,
                "continuation line without a link line above it",
                Some("`IDX: NAME: <FLAGS> …`"),
            ),
        }
    }
}

fn continuation(link: &mut Link, line: &Line<'_>, body: &str, ctx: &Ctx, sink: &mut Sink) {
    let mut toks = Tokens::new(body);
    let Some(first) = toks.next() else { return };
    match first {
        "inet" | "inet6" => {
            if let Some(a) = address(first, toks, line, sink) {
                link.addrs.push(a);
            }
        }
        "valid_lft" => {
            let _ = lifetimes(link, toks, line, sink);
        }
        "altname" => link.altnames.push(toks.rest().trim_end().to_string()),
        "alias" => link.alias = Some(toks.rest().trim_end().to_string()),
        // Non-IP families of old kernels (DECnet, IPX) and `family N`.
        "dnet" | "ipx" | "family" | "link" => link.details.push(body.trim_end().to_string()),
        t if t.starts_with("link/") => {
            let _ = l2(link, t, toks, line, sink);
        }
        // `ip -s`: headers and rows of counters.
        t if t.starts_with("RX") || t.starts_with("TX") => {
            link.details.push(body.trim_end().into())
        }
        _ if Tokens::new(body).all(|t| t.bytes().all(|b| b.is_ascii_digit() || b == b'-')) => {}
        // `-d` KIND lines (`veth …`, `vlan protocol 802.1Q id 100 …`,
        // `bridge_slave …`), `vf 0 …` rows: open-ended, kept verbatim.
        t if t
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b == b'_')
            && t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_-/.:".contains(&b)) =>
        {
            link.details.push(body.trim_end().into())
        }
        _ => {
            let _ = ctx;
            sink.push(
                line,
                body,
                Severity::Error,
                "unrecognised line in ip addr output",
                Some("inet, inet6, link/…, valid_lft, altname or a -d detail line"),
            );
        }
    }
}

fn lifetimes(
    link: &mut Link,
    mut toks: Tokens<'_>,
    line: &Line<'_>,
    sink: &mut Sink,
) -> Option<()> {
    let v = value!(toks, sink, line, "valid_lft", "forever or Nsec");
    let valid = check!(sink, line, v, Lifetime::parse(v));
    let mut preferred = None;
    while let Some(kw) = toks.next() {
        if kw == "preferred_lft" {
            let v = value!(toks, sink, line, kw, "forever or Nsec");
            preferred = Some(check!(sink, line, v, Lifetime::parse(v)));
        } else {
            sink.unknown_token(line, kw, "lifetime line");
            link.unknown.push(kw.to_string());
        }
    }
    match link.addrs.last_mut() {
        Some(a) => {
            a.valid_lft = Some(valid);
            a.preferred_lft = preferred;
        }
        None => sink.push(
            line,
            line.text.trim_start(),
            Severity::Warning,
            "lifetimes without an address above them",
            None,
        ),
    }
    Some(())
}

fn l2(
    link: &mut Link,
    first: &str,
    mut toks: Tokens<'_>,
    line: &Line<'_>,
    sink: &mut Sink,
) -> Option<()> {
    link.link_type = Some(first["link/".len()..].to_string());
    let mut seen_addr = false;
    while let Some(kw) = toks.next() {
        match kw {
            "brd" | "peer" => {
                link.broadcast = Some(value!(toks, sink, line, kw, "an address").into())
            }
            "permaddr" => link.permaddr = Some(value!(toks, sink, line, kw, "an address").into()),
            // ` protodown on ` and `protodown_reason <R1,R2>` (v5.10+).
            "protodown" | "protodown_reason" => {
                let v = value!(toks, sink, line, kw, "a value");
                link.details.push(format!("{kw} {v}"));
            }
            "link-netnsid" => {
                link.link_netnsid = Some(value!(toks, sink, line, kw, "an id").into())
            }
            "link-netns" => link.link_netns = Some(value!(toks, sink, line, kw, "a name").into()),
            "new-netnsid" | "new-netns" | "new-ifindex" => {
                let v = value!(toks, sink, line, kw, "a value");
                link.details.push(format!("{kw} {v}"));
            }
            // `-d`: the rest of the line is detail fields.
            "promiscuity" => {
                link.details
                    .push(format!("{kw} {}", toks.rest().trim_end()));
                return Some(());
            }
            _ if !seen_addr => {
                seen_addr = true;
                link.address = Some(kw.to_string());
            }
            _ => {
                sink.unknown_token(line, kw, "link/ line");
                link.unknown.push(kw.to_string());
            }
        }
    }
    Some(())
}

fn address(fam: &str, mut toks: Tokens<'_>, line: &Line<'_>, sink: &mut Sink) -> Option<Address> {
    let family = if fam == "inet" {
        Family::Inet
    } else {
        Family::Inet6
    };
    let local_tok = value!(toks, sink, line, fam, "ADDR/LEN");
    let (local, peer, prefixlen) = if toks.peek() == Some("peer") {
        toks.next();
        let p = value!(toks, sink, line, "peer", "PEER/LEN");
        let local = check!(sink, line, local_tok, lex::addr(local_tok));
        let net = check!(sink, line, p, lex::prefix(p, Some(family)));
        (local, Some(net.addr()), net.prefix_len())
    } else {
        let net = check!(sink, line, local_tok, lex::prefix(local_tok, Some(family)));
        (net.addr(), None, net.prefix_len())
    };
    if Family::of(&local) != family {
        sink.push(
            line,
            local_tok,
            Severity::Error,
            "address family mismatch",
            Some(fam),
        );
        return None;
    }
    let mut a = Address::new(line.no, local, peer, prefixlen);
    a.family = family;
    while let Some(kw) = toks.next() {
        match kw {
            "metric" => {
                let v = value!(toks, sink, line, kw, "a number");
                a.metric = Some(check!(sink, line, v, lex::u32_tok(v)));
            }
            "brd" => {
                let v = value!(toks, sink, line, kw, "an address");
                a.broadcast = Some(check!(sink, line, v, lex::addr(v)));
            }
            "any" => {
                let v = value!(toks, sink, line, kw, "an address");
                a.anycast = Some(check!(sink, line, v, lex::addr(v)));
            }
            "mcast" => {
                value!(toks, sink, line, kw, "an address");
            }
            "scope" => a.scope = Some(Scope::parse(value!(toks, sink, line, kw, "a scope"))),
            "proto" => a.proto = Some(value!(toks, sink, line, kw, "a protocol").into()),
            "flags" => {
                let v = value!(toks, sink, line, kw, "hex flags");
                a.flags.push(format!("flags:{v}"));
            }
            w if IFA_FLAGS.contains(&w) => a.flags.push(w.to_string()),
            // The IPv4 label is the last token; it may hold `:`.
            w if family == Family::Inet && toks.is_empty() => a.label = Some(w.to_string()),
            // `valid_lft` on the same line (seen in hand-joined captures).
            "valid_lft" | "preferred_lft" => {
                let v = value!(toks, sink, line, kw, "forever or Nsec");
                let l = check!(sink, line, v, Lifetime::parse(v));
                if kw == "valid_lft" {
                    a.valid_lft = Some(l)
                } else {
                    a.preferred_lft = Some(l)
                }
            }
            _ => {
                sink.unknown_token(line, kw, "address line");
                a.unknown.push(kw.to_string());
            }
        }
    }
    Some(a)
}
