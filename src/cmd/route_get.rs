//! `asymroute-offline route-get HOST --to DST …`: one lookup, `ip route get`'s way.

use crate::cli::RouteGetArgs;
use crate::exit::Exit;
use asymroute_offline::grammar::Family;
use asymroute_offline::model::{Flow, Host, Lookup, lookup::get_route_ipproto};
use asymroute_offline::verdict::Quote;
use serde::Serialize;
use std::io::Write;

#[derive(Serialize)]
struct Output<'a> {
    dst: std::net::IpAddr,
    src: Option<std::net::IpAddr>,
    iif: Option<&'a str>,
    oif: Option<&'a str>,
    /// The protocol looked up with (IPv4: UDP unless told; IPv6: none).
    ipproto: Option<u8>,
    #[serde(rename = "type")]
    kind: Option<String>,
    dev: Option<&'a str>,
    gateway: Option<std::net::IpAddr>,
    prefsrc: Option<std::net::IpAddr>,
    table: Option<String>,
    nexthops: Vec<&'a asymroute_offline::model::lookup::NextHopChoice>,
    hash_dependent: bool,
    rule: Option<Quote>,
    route: Option<Quote>,
    conditional_rules: Vec<Quote>,
    error: Option<&'static str>,
    /// Reverse-path filtering of a received packet (`--iif`, rp_filter
    /// on): the sysctl that decided, and the reverse lookup's answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    source_check: Option<&'a asymroute_offline::model::lookup::SourceCheck>,
    assumptions: Vec<&'a str>,
}

pub fn flow_of(args: &RouteGetArgs) -> Result<Flow, String> {
    let mut f = Flow::to(args.to);
    f.src = args.from;
    f.iif = args.iif.clone();
    f.oif = args.oif.clone();
    f.mark = args.mark.unwrap_or(0);
    f.tos = args.tos.unwrap_or(0) as u8;
    f.uid = args.uid.unwrap_or(0);
    f.ipproto = get_route_ipproto(args.ipproto.as_deref(), args.to.is_ipv6())?;
    f.sport = args.sport;
    f.dport = args.dport;
    Ok(f)
}

/// The protocol `ip route get` looks the flow up with. Without `ipproto`,
fn rule_loc(h: &Host, fam: Family, i: usize) -> Quote {
    let r = &h.rules[asymroute_offline::model::fam_idx(fam)][i];
    Quote::of(h, r.origin, || r.rule.to_string())
}

pub fn run(args: &RouteGetArgs) -> std::io::Result<Exit> {
    let flow = match flow_of(args) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("asymroute-offline: {e}");
            return Ok(Exit::Error);
        }
    };
    let cap = match super::one_host(&args.path, args.host.as_deref(), "route-get") {
        Ok(c) => c,
        Err(e) => return Ok(e),
    };
    for n in &cap.notices {
        eprintln!("asymroute-offline: {}: {}", n.file, n.message);
    }
    if cap.inputs.is_empty() {
        eprintln!(
            "asymroute-offline: {}: no ip addr / ip rule / ip route dumps found",
            cap.id
        );
        return Ok(Exit::Error);
    }
    // The model the scan builds for this host (EKS addresses inferred).
    let (host, inferred) = asymroute_offline::verdict::host::model(cap.inputs, cap.system);
    if inferred {
        eprintln!(
            "asymroute-offline: {}: ip addr not collected: addresses inferred from the local table",
            cap.id
        );
    }
    for s in &host.sources {
        for d in &s.dump.diagnostics {
            eprintln!("{}:{d}", s.name);
        }
    }
    let fam = flow.family();
    let l: Lookup = host.lookup(&flow);
    let route_loc = l.route.as_ref().and_then(|r| {
        let t = host.table(fam, &r.table)?;
        let o = t.origin(r.index);
        Some(Quote::of(&host, o, || t.routes[r.index].route.to_string()))
    });
    let rule = l.rule.map(|i| rule_loc(&host, fam, i));
    // What the model assumed about this lookup's family only.
    let assumptions: Vec<&str> = host
        .assumptions
        .iter()
        .filter(|a| a.family.is_none_or(|f| f == fam))
        .map(|a| a.text.as_str())
        .collect();
    // Buffered, flushed below (a closed pipe ends the run quietly).
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let hit = l.result.as_ref().ok();
    if args.json {
        let o = Output {
            dst: flow.dst,
            src: hit.and_then(|h| h.src).or(flow.src),
            iif: flow.iif.as_deref(),
            oif: flow.oif.as_deref(),
            ipproto: flow.ipproto,
            kind: hit.map(|h| h.kind.to_string()),
            dev: hit.map(|h| h.dev.as_str()),
            gateway: hit.and_then(|h| h.gateway),
            prefsrc: hit.and_then(|h| h.prefsrc),
            table: l.table.as_ref().map(|t| t.to_string()),
            nexthops: hit.map(|h| h.nexthops.iter().collect()).unwrap_or_default(),
            hash_dependent: hit.is_some_and(|h| h.hash_dependent),
            rule,
            route: route_loc,
            conditional_rules: l
                .conditional
                .iter()
                .map(|&i| rule_loc(&host, fam, i))
                .collect(),
            error: l.result.as_ref().err().map(|e| e.message()),
            source_check: l.source_check.as_ref(),
            assumptions: assumptions.clone(),
        };
        serde_json::to_writer_pretty(&mut out, &o)?;
        writeln!(out)?;
    } else {
        match &l.result {
            Ok(h) => {
                let mut line = String::new();
                if h.kind != asymroute_offline::grammar::RouteType::Unicast {
                    line.push_str(&format!("{} ", h.kind));
                }
                line.push_str(&flow.dst.to_string());
                if let Some(s) = flow.src {
                    line.push_str(&format!(" from {s}"));
                }
                if let Some(g) = h.gateway {
                    line.push_str(&format!(" via {g}"));
                }
                line.push_str(&format!(" dev {}", h.dev));
                if let Some(t) = &l.table {
                    line.push_str(&format!(" table {t}"));
                }
                if flow.src.is_none()
                    && let Some(s) = h.src
                {
                    line.push_str(&format!(" src {s}"));
                }
                if let Some(i) = &flow.iif {
                    line.push_str(&format!(" iif {i}"));
                }
                writeln!(out, "{line}")?;
                if h.hash_dependent {
                    writeln!(
                        out,
                        "    multipath: the kernel hashes the flow over these nexthops:"
                    )?;
                    for n in &h.nexthops {
                        let via = n.gateway.map(|g| format!("via {g} ")).unwrap_or_default();
                        writeln!(out, "      {via}dev {}", n.dev)?;
                    }
                }
                if h.onlink_assumed {
                    writeln!(
                        out,
                        "    no route matched; with an oif the kernel assumes the destination is on-link"
                    )?;
                }
            }
            Err(e) => writeln!(out, "{}: {e}", flow.dst)?,
        }
        if let Some(r) = &rule {
            writeln!(out, "    rule   {}: {}", r.at(), r.text.replace('\t', " "))?;
        }
        if let Some(r) = &route_loc {
            for (i, t) in r.text.lines().enumerate() {
                let lead = if i == 0 {
                    format!("    route  {}: ", r.at())
                } else {
                    "           ".into()
                };
                writeln!(out, "{lead}{}", t.trim_start())?;
            }
        }
        if let Some(c) = &l.source_check {
            writeln!(out, "    {}", source_check_text(c, flow.src))?;
        }
        for &i in &l.conditional {
            let r = rule_loc(&host, fam, i);
            writeln!(
                out,
                "    conditional rule {}: {}",
                r.at(),
                r.text.replace('\t', " ")
            )?;
        }
        for a in &assumptions {
            writeln!(out, "    assumed: {a}")?;
        }
    }
    out.flush()?;
    Ok(if l.result.is_ok() {
        Exit::Clean
    } else {
        Exit::Findings
    })
}

/// `reverse-path filter rp_filter=1 on eth1 (strict; …): dropped: replies
/// to 8.8.8.8 leave by eth0`: which sysctl decided, and on what.
fn source_check_text(
    c: &asymroute_offline::model::lookup::SourceCheck,
    src: Option<std::net::IpAddr>,
) -> String {
    let to = src.map(|s| format!(" to {s}")).unwrap_or_default();
    let what = match (&c.reverse_error, c.passed) {
        (Some(e), _) => format!("no route back{to} ({e})"),
        (None, true) => format!("replies{to} leave by {}", c.reverse_devs.join(", ")),
        (None, false) => format!(
            "replies{to} leave by {}, not {}",
            c.reverse_devs.join(", "),
            c.dev
        ),
    };
    format!(
        "reverse-path filter {}: {}: {what}",
        c.rp_filter.on(&c.dev),
        if c.passed { "passed" } else { "dropped" }
    )
}

#[cfg(test)]
mod tests {
    use asymroute_offline::model::lookup::get_route_ipproto;

    #[test]
    fn ip_route_get_protocols() {
        // Defaults: IPv4 UDP, IPv6 none.
        assert_eq!(get_route_ipproto(None, false), Ok(Some(17)));
        assert_eq!(get_route_ipproto(None, true), Ok(None));
        assert_eq!(get_route_ipproto(Some("tcp"), false), Ok(Some(6)));
        assert_eq!(get_route_ipproto(Some("17"), true), Ok(Some(17)));
        assert_eq!(get_route_ipproto(Some("icmp"), false), Ok(Some(1)));
        assert_eq!(get_route_ipproto(Some("ipv6-icmp"), true), Ok(Some(58)));
        // What the kernel refuses ("Unsupported ip proto", checked on 6.18).
        for (p, v6) in [
            ("icmp", true),
            ("ipv6-icmp", false),
            ("gre", false),
            ("sctp", false),
            ("igmp", false),
            ("0", false),
        ] {
            let e = get_route_ipproto(Some(p), v6).unwrap_err();
            assert!(e.contains("Unsupported ip proto"), "{p}: {e}");
        }
        assert!(get_route_ipproto(Some("nonsense"), false).is_err());
    }
}
