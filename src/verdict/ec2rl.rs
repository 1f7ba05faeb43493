//! What ec2rl's `asymmetricroute` module would print for these dumps, by its
//! exact text logic, bugs included (the module's shell pipeline, mirrored line by line below): `awk` field 4
//! taken as the broadcast, duplicates printed once per extra occurrence, the
//! unmatched counter never reset, unanchored regex greps of IPs and `brd`,
//! secondaries and IPv6 ignored. And what it did print, when the bundle has
//! its `asymmetricroute.log`.

use crate::grammar::{DumpKind, Items};
use crate::model::Host;
use memchr::memmem::Finder;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::sync::OnceLock;

/// ec2rl's verdict word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Ec2rlStatus {
    Success,
    Failure,
}

impl Ec2rlStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Ec2rlStatus::Success => "SUCCESS",
            Ec2rlStatus::Failure => "FAILURE",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ec2rl {
    /// `SUCCESS`, `FAILURE`, or null when it cannot be computed.
    pub status: Option<Ec2rlStatus>,
    /// The status line (or why there is none).
    pub message: String,
    /// The line ec2rl itself printed, from its `asymmetricroute.log`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logged: Option<String>,
}

const NO_DUP: &str = "[SUCCESS] No duplicate subnets found.";
const ALL_MATCHED: &str = "[SUCCESS] Routing for additional interfaces is configured correctly.  All interfaces have a matching route rule";
const ONE_DEFAULT: &str = "[SUCCESS] Routing for additional interfaces is configured correctly.  Only one interface will use the default rule";
const FAILURE: &str = "[FAILURE] Potential asymmetric routing problems detected.  More than one interface has an un-matched routing rule";

/// `grep PATTERN` with a basic regex made of literal characters and `.`.
fn grep_like(pat: &str, line: &str) -> bool {
    let p = pat.as_bytes();
    let l = line.as_bytes();
    if p.is_empty() {
        return true;
    }
    let starts = &l[..l.len().saturating_sub(p.len() - 1)];
    let at = |i: usize| p.iter().zip(&l[i..]).all(|(a, b)| *a == b'.' || a == b);
    match p[0] {
        b'.' => (0..starts.len()).any(at),
        // Only where the first byte matches (memchr finds those at once).
        first => memchr::memchr_iter(first, starts).any(at),
    }
}

/// Substring searchers made once: `str::find` and `memmem::find` build one
/// per call, several per line of the address dump.
static INET: OnceLock<Finder<'static>> = OnceLock::new();
static COLON: OnceLock<Finder<'static>> = OnceLock::new();
static FLAGS: OnceLock<Finder<'static>> = OnceLock::new();
static SECONDARY: OnceLock<Finder<'static>> = OnceLock::new();

fn finder(
    cell: &'static OnceLock<Finder<'static>>,
    needle: &'static str,
) -> &'static Finder<'static> {
    cell.get_or_init(|| Finder::new(needle))
}

/// awk's `/inet .+brd/`, `/inet .+ brd B/`: "inet " then anything, then the tail.
fn awk_match(line: &str, tail: &str) -> bool {
    let Some(i) = finder(&INET, "inet ").find(line.as_bytes()) else {
        return false;
    };
    let rest = &line[i + 5..];
    // `.+` needs at least one character before the tail.
    let at = |k: usize| rest.is_char_boundary(k) && regex_at(tail, &rest[k..]);
    match tail.as_bytes().first() {
        None | Some(b'.') => (1..=rest.len()).any(at),
        // Only where the first byte matches (memchr finds those at once).
        Some(&first) => memchr::memchr_iter(first, rest.as_bytes())
            .filter(|&k| k >= 1)
            .any(at),
    }
}

/// The regex `tail` (literals and `.`) matches at the start of `s`.
fn regex_at(tail: &str, s: &str) -> bool {
    let t = tail.as_bytes();
    let b = s.as_bytes();
    b.len() >= t.len() && t.iter().zip(b).all(|(x, y)| *x == b'.' || x == y)
}

/// The `ip addr show` lines ec2rl would have seen. `-o` captures are turned
/// back into address lines; JSON captures are printed in the modern order.
fn addr_lines(host: &Host) -> Option<Vec<Cow<'_, str>>> {
    let src = host.sources.iter().find(|s| s.kind == DumpKind::IpAddr)?;
    if let (crate::grammar::Format::Json, Items::Links(links)) = (src.dump.format, &src.dump.items)
    {
        let mut out = Vec::new();
        for l in links {
            for a in &l.addrs {
                if a.family != crate::grammar::Family::Inet {
                    continue;
                }
                let mut s = format!("    inet {}/{}", a.local, a.prefixlen);
                if let Some(m) = a.metric {
                    s.push_str(&format!(" metric {m}"));
                }
                if let Some(b) = a.broadcast {
                    s.push_str(&format!(" brd {b}"));
                }
                if let Some(sc) = &a.scope {
                    s.push_str(&format!(" scope {sc}"));
                }
                for f in &a.flags {
                    s.push_str(&format!(" {f}"));
                }
                if let Some(lb) = &a.label {
                    s.push_str(&format!(" {lb}"));
                }
                out.push(Cow::Owned(s));
            }
        }
        return Some(out);
    }
    let mut out = Vec::new();
    // Address and rule dumps are held whole (`Text::packed` packs route dumps).
    for raw in src.text.whole().unwrap_or_default().lines() {
        push_segments(raw, &mut out);
    }
    Some(out)
}

/// The address lines of one dump line (`ip -o` glues a link's lines with
/// `\ ` and `\<TAB>`), each `unprefixed`.
fn push_segments<'a>(raw: &'a str, out: &mut Vec<Cow<'a, str>>) {
    // A line with no `\` is one segment: splitting builds two substring
    // searchers per line, most of this check's cost.
    if memchr::memchr(b'\\', raw.as_bytes()).is_some() {
        for seg in raw.split("\\ ").flat_map(|s| s.split("\\\t")) {
            out.push(Cow::Borrowed(unprefixed(seg)));
        }
    } else {
        out.push(Cow::Borrowed(unprefixed(raw)));
    }
}

/// `2: eth0    inet …` (ip -o addr) → `inet …`; other lines as they are.
fn unprefixed(seg: &str) -> &str {
    let t = seg.trim_start();
    let Some(i) = finder(&COLON, ": ").find(t.as_bytes()) else {
        return seg;
    };
    let (n, rest) = (&t[..i], &t[i + 2..]);
    if n.bytes().all(|b| b.is_ascii_digit())
        && finder(&FLAGS, ": <").find(rest.as_bytes()).is_none()
    {
        rest.trim_start()
            .split_once(char::is_whitespace)
            .map_or(rest, |(_, r)| r.trim_start())
    } else {
        seg
    }
}

fn rule_lines(host: &Host) -> Option<Vec<&str>> {
    let srcs: Vec<_> = host
        .sources
        .iter()
        .filter(|s| {
            s.kind == DumpKind::IpRule
                && s.dump
                    .rules()
                    .iter()
                    .all(|r| r.family != Some(crate::grammar::Family::Inet6))
        })
        .collect();
    if srcs.is_empty() || !host.have_rules[0] {
        return None;
    }
    Some(
        srcs.iter()
            .flat_map(|s| s.text.whole().unwrap_or_default().lines())
            .collect(),
    )
}

/// The verdict line ec2rl's `_parse_output` would keep from a log: the first
/// `[FAILURE]`, else the last `[SUCCESS]`.
pub fn pick_status(log: &str) -> Option<String> {
    let lines: Vec<&str> = log.lines().map(str::trim).collect();
    lines
        .iter()
        .find(|l| l.starts_with("[FAILURE]"))
        .or_else(|| lines.iter().rev().find(|l| l.starts_with("[SUCCESS]")))
        .map(|s| s.to_string())
}

pub fn equivalent(host: &Host, logged: Option<&str>) -> Ec2rl {
    let logged = logged.and_then(pick_status);
    let Some(addr) = addr_lines(host) else {
        return Ec2rl {
            status: None,
            message: "cannot tell: ip addr not collected".into(),
            logged,
        };
    };
    let primary: Vec<&str> = addr
        .iter()
        .map(|l| l.as_ref())
        .filter(|l| finder(&SECONDARY, "secondary").find(l.as_bytes()).is_none())
        .collect();
    // Step 1: "duplicate broadcast" values, once per extra occurrence.
    let mut seen: Vec<(String, u32)> = Vec::new();
    let mut dupes: Vec<String> = Vec::new();
    for l in &primary {
        if !awk_match(l, "brd") {
            continue;
        }
        let f4 = l.split_whitespace().nth(3).unwrap_or("").to_string();
        let n = match seen.iter_mut().find(|(k, _)| *k == f4) {
            Some((_, c)) => {
                *c += 1;
                *c
            }
            None => {
                seen.push((f4.clone(), 1));
                1
            }
        };
        if n > 1 {
            dupes.push(f4);
        }
    }
    if dupes.is_empty() {
        return Ec2rl {
            status: Some(Ec2rlStatus::Success),
            message: NO_DUP.into(),
            logged,
        };
    }
    let Some(rules) = rule_lines(host) else {
        return Ec2rl {
            status: None,
            message: "cannot tell: duplicate broadcasts found, but ip rule was not collected"
                .into(),
            logged,
        };
    };
    let mut unmatched = 0u32;
    let mut statuses: Vec<&'static str> = Vec::new();
    for b in &dupes {
        let tail = format!(" brd {b}");
        let ips: Vec<String> = primary
            .iter()
            .filter(|l| awk_match(l, &tail))
            .filter_map(|l| l.split_whitespace().nth(1))
            .map(|a| a.split('/').next().unwrap_or("").to_string())
            .collect();
        for ip in ips {
            if !rules.iter().any(|r| grep_like(&ip, r)) {
                unmatched += 1;
            }
        }
        statuses.push(match unmatched {
            0 => ALL_MATCHED,
            1 => ONE_DEFAULT,
            _ => FAILURE,
        });
    }
    let line = statuses
        .iter()
        .find(|s| s.starts_with("[FAILURE]"))
        .or(statuses.last())
        .copied()
        .unwrap_or(NO_DUP);
    Ec2rl {
        status: Some(if line.starts_with("[FAILURE]") {
            Ec2rlStatus::Failure
        } else {
            Ec2rlStatus::Success
        }),
        message: line.into(),
        logged,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greps() {
        assert!(grep_like("10.0.0.1", "100:\tfrom 10.0.0.10 lookup 1"));
        assert!(grep_like("10.0.0.1", "from 10x0y0z1"));
        assert!(!grep_like("10.0.0.2", "from 10.0.0.1 lookup 1"));
        assert!(awk_match(
            "    inet 10.0.0.5/24 brd 10.0.0.255 scope global eth0",
            "brd"
        ));
        assert!(awk_match(
            "    inet 10.0.0.5/24 brd 10.0.0.159 scope global eth0",
            " brd 10.0.0.15"
        ));
        assert!(!awk_match("    inet6 fe80::1/64 scope link", "brd"));
    }

    /// The memchr-led searches find what trying every position finds.
    #[test]
    fn searches_match_every_position() {
        fn grep_slow(pat: &str, line: &str) -> bool {
            let (p, l) = (pat.as_bytes(), line.as_bytes());
            p.is_empty()
                || (0..l.len().saturating_sub(p.len() - 1))
                    .any(|i| p.iter().zip(&l[i..]).all(|(a, b)| *a == b'.' || a == b))
        }
        fn awk_slow(line: &str, tail: &str) -> bool {
            let Some(i) = line.find("inet ") else {
                return false;
            };
            let rest = &line[i + 5..];
            (1..=rest.len())
                .filter(|&k| rest.is_char_boundary(k))
                .any(|k| regex_at(tail, &rest[k..]))
        }
        let alphabet = ['1', '0', '.', ' ', 'b', 'r', 'd', 'é', 'i', 'n', 'e', 't'];
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut word = |n: usize| -> String {
            (0..n)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    alphabet[(x % alphabet.len() as u64) as usize]
                })
                .collect()
        };
        for i in 0..20000 {
            let line = format!("{}inet {}", word(i % 5), word(i % 23));
            let pat = word(i % 4);
            assert_eq!(
                grep_like(&pat, &line),
                grep_slow(&pat, &line),
                "{pat:?} {line:?}"
            );
            assert_eq!(
                awk_match(&line, &pat),
                awk_slow(&line, &pat),
                "{pat:?} {line:?}"
            );
        }
    }

    /// `unprefixed` and the one-segment shortcut give what splitting every
    /// line on `ip -o`'s glue and `str::split_once` gave.
    #[test]
    fn segments_as_split_gives_them() {
        fn slow(raw: &str) -> Vec<&str> {
            raw.split("\\ ")
                .flat_map(|s| s.split("\\\t"))
                .map(|seg| {
                    let t = seg.trim_start();
                    match t.split_once(": ") {
                        Some((n, rest))
                            if n.bytes().all(|b| b.is_ascii_digit()) && !rest.contains(": <") =>
                        {
                            rest.trim_start()
                                .split_once(char::is_whitespace)
                                .map_or(rest, |(_, r)| r.trim_start())
                        }
                        _ => seg,
                    }
                })
                .collect()
        }
        fn fast(raw: &str) -> Vec<Cow<'_, str>> {
            let mut out = Vec::new();
            push_segments(raw, &mut out);
            out
        }
        let parts = [
            "2: ",
            "eth0",
            "    ",
            "inet ",
            "10.0.0.5/24",
            " brd ",
            ": <",
            "\\ ",
            "\\\t",
            "\\",
            " ",
            ":",
            "x",
            "12",
            "é",
            "\t",
        ];
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..20_000 {
            let mut line = String::new();
            for _ in 0..(x % 9) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                line.push_str(parts[(x % parts.len() as u64) as usize]);
            }
            assert_eq!(fast(&line), slow(&line), "{line:?}");
        }
    }

    #[test]
    fn status_pick() {
        let log = "x\n[SUCCESS] a\n[FAILURE] b\n[SUCCESS] c\n";
        assert_eq!(pick_status(log).as_deref(), Some("[FAILURE] b"));
        assert_eq!(
            pick_status("[SUCCESS] a\n[SUCCESS] c").as_deref(),
            Some("[SUCCESS] c")
        );
    }
}
