//! Lexemes shared by the grammars (addresses, prefixes, numbers, hex), as nom
//! parsers, and the blank-separated token cursor the line grammars walk.
//! Blanks are runs of SP/TAB: old iproute2 printed double spaces, captures
//! lose or keep trailing spaces, and tabs get expanded when pasted.

use super::names::Family;
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use nom::{
    IResult, Parser,
    bytes::complete::{tag, take_while1},
    character::complete::{char, digit1},
    combinator::{all_consuming, map_res, opt, recognize},
    sequence::preceded,
};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// What went wrong with a token, for the diagnostic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected(pub &'static str);

fn addr_chars(c: char) -> bool {
    c.is_ascii_hexdigit() || c == ':' || c == '.'
}

/// An IPv4 or IPv6 address in any RFC 5952 form (incl. `::ffff:1.2.3.4`).
pub fn ip_addr(i: &str) -> IResult<&str, IpAddr> {
    map_res(take_while1(addr_chars), str::parse::<IpAddr>).parse(i)
}

fn u8_dec(i: &str) -> IResult<&str, u8> {
    map_res(digit1, str::parse::<u8>).parse(i)
}

pub fn u32_dec(i: &str) -> IResult<&str, u32> {
    map_res(digit1, str::parse::<u32>).parse(i)
}

/// `ADDR[/LEN]`, or `0/LEN` (iproute2 prints a zero address so), `default`
/// and `all` are handled by callers since their family is contextual.
pub fn prefix_with(i: &str, family: Option<Family>) -> IResult<&str, IpNet> {
    let zero = |fam: Option<Family>| match fam {
        Some(Family::Inet6) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        _ => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
    };
    let (rest, addr) = if tag::<_, _, nom::error::Error<&str>>("0/").parse(i).is_ok() {
        (&i[1..], zero(family))
    } else {
        ip_addr(i)?
    };
    let (rest, len) = opt(preceded(char('/'), u8_dec)).parse(rest)?;
    let len = len.unwrap_or(match addr {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    });
    let net = match addr {
        IpAddr::V4(a) => Ipv4Net::new(a, len).map(IpNet::V4),
        IpAddr::V6(a) => Ipv6Net::new(a, len).map(IpNet::V6),
    };
    match net {
        Ok(n) => Ok((rest, n)),
        Err(_) => Err(nom::Err::Error(nom::error::Error::new(
            i,
            nom::error::ErrorKind::Verify,
        ))),
    }
}

/// Parses a whole token with `p`, or says what was expected.
pub fn whole<'a, O>(
    tok: &'a str,
    p: impl Parser<&'a str, Output = O, Error = nom::error::Error<&'a str>>,
    what: &'static str,
) -> Result<O, Expected> {
    all_consuming(p)
        .parse(tok)
        .map(|(_, o)| o)
        .map_err(|_| Expected(what))
}

/// The common case of [`addr`] and [`prefix`], without nom or the general
/// address parser: a dotted quad as `ip` prints it (no leading zeros), with
/// an optional `/LEN` of at most 32. `None` for anything else, which the
/// general path then reads; it accepts a superset of these and agrees on them.
fn fast_v4(tok: &str) -> Option<(Ipv4Addr, Option<u8>)> {
    let b = tok.as_bytes();
    let mut i = 0;
    let mut octets = [0u8; 4];
    for (k, o) in octets.iter_mut().enumerate() {
        if k > 0 {
            if b.get(i) != Some(&b'.') {
                return None;
            }
            i += 1;
        }
        *o = octet(b, &mut i)?;
    }
    let len = match &b[i..] {
        [] => None,
        [b'/', d] if d.is_ascii_digit() => Some(d - b'0'),
        [b'/', d, e] if (b'1'..=b'3').contains(d) && e.is_ascii_digit() => {
            Some((d - b'0') * 10 + (e - b'0'))
        }
        _ => return None,
    };
    if len.is_some_and(|l| l > 32) {
        return None;
    }
    Some((Ipv4Addr::from(octets), len))
}

/// One to three digits at `b[*i]`, at most 255, no leading zero: unrolled,
/// since a loop with its bound checks cost as much as the rest of a route.
/// A leading `0` ends the octet, so `01` fails at the caller's next check.
#[inline(always)]
fn octet(b: &[u8], i: &mut usize) -> Option<u8> {
    let digit = |k: usize| b.get(k).map(|c| c.wrapping_sub(b'0')).filter(|d| *d < 10);
    let d0 = digit(*i)?;
    if d0 == 0 {
        *i += 1;
        return Some(0);
    }
    let Some(d1) = digit(*i + 1) else {
        *i += 1;
        return Some(d0);
    };
    let Some(d2) = digit(*i + 2) else {
        *i += 2;
        return Some(d0 * 10 + d1);
    };
    let v = u32::from(d0) * 100 + u32::from(d1) * 10 + u32::from(d2);
    *i += 3;
    u8::try_from(v).ok()
}

fn is_addr_byte(b: u8) -> bool {
    b.is_ascii_hexdigit() || b == b':' || b == b'.'
}

pub fn addr(tok: &str) -> Result<IpAddr, Expected> {
    if let Some((a, None)) = fast_v4(tok) {
        return Ok(IpAddr::V4(a));
    }
    if let Some(a) = fast_v6(tok.as_bytes()) {
        return Ok(IpAddr::V6(a));
    }
    // What `whole(tok, ip_addr, …)` reads, without nom's char-by-char scan.
    if !tok.is_empty() && tok.bytes().all(is_addr_byte) {
        return parse_ip(tok).ok_or(Expected("an IPv4 or IPv6 address"));
    }
    Err(Expected("an IPv4 or IPv6 address"))
}

/// `IpAddr::from_str` tries IPv4 first; a colon settles it is IPv6.
fn parse_ip(s: &str) -> Option<IpAddr> {
    if s.contains(':') {
        fast_v6(s.as_bytes())
            .or_else(|| s.parse::<Ipv6Addr>().ok())
            .map(IpAddr::V6)
    } else {
        s.parse::<Ipv4Addr>().ok().map(IpAddr::V4)
    }
}

/// Hex groups with at most one `::`, no embedded IPv4: the forms `ip`
/// prints. std's parser tries an IPv4 tail at every group, which was a
/// twelfth of route parsing. `None` means "ask std", never "invalid".
fn fast_v6(s: &[u8]) -> Option<Ipv6Addr> {
    fast_v6_at(s).and_then(|(a, end)| (end == s.len()).then_some(a))
}

/// Hex digit values; 16 and up for any other byte.
static HEX: [u8; 256] = {
    let mut t = [16u8; 256];
    let mut c = 0;
    while c < 256 {
        t[c] = match c as u8 {
            b'0'..=b'9' => c as u8 - b'0',
            b'a'..=b'f' => c as u8 - b'a' + 10,
            b'A'..=b'F' => c as u8 - b'A' + 10,
            _ => 16,
        };
        c += 1;
    }
    t
};

/// [`fast_v6`]'s address at the start of `s`, ended by the end of `s` or a
/// `/` (whose index comes back), so a prefix is read in one pass.
fn fast_v6_at(s: &[u8]) -> Option<(Ipv6Addr, usize)> {
    let at_end = |i: usize| i == s.len() || s[i] == b'/';
    let mut g = [0u16; 8];
    let mut n = 0;
    // Groups before the `::`, when there is one.
    let mut gap = None;
    let mut i = 0;
    if s.starts_with(b"::") {
        gap = Some(0);
        i = 2;
    }
    if gap.is_none() || !at_end(i) {
        loop {
            let start = i;
            let mut v = 0u16;
            while i < s.len() && i - start < 4 {
                let d = HEX[usize::from(s[i])];
                if d > 15 {
                    break;
                }
                v = v << 4 | u16::from(d);
                i += 1;
            }
            if i == start || n == 8 {
                return None;
            }
            g[n] = v;
            n += 1;
            if at_end(i) {
                break;
            }
            if s[i] != b':' {
                return None;
            }
            i += 1;
            if s.get(i) == Some(&b':') {
                if gap.is_some() {
                    return None;
                }
                gap = Some(n);
                i += 1;
                if at_end(i) {
                    break;
                }
            }
        }
    }
    match gap {
        None if n == 8 => {}
        Some(h) if n <= 7 => {
            // The groups after `::` go to the end; the gap is zeros.
            let tail = n - h;
            g.copy_within(h..n, 8 - tail);
            g[h..8 - tail].fill(0);
        }
        _ => return None,
    }
    Some((Ipv6Addr::from(g), i))
}

pub fn prefix(tok: &str, family: Option<Family>) -> Result<IpNet, Expected> {
    if let Some((a, len)) = fast_v4(tok)
        && let Ok(n) = Ipv4Net::new(a, len.unwrap_or(32))
    {
        return Ok(IpNet::V4(n));
    }
    // An IPv6 prefix in one pass; any doubt goes the general way.
    if let Some((a, end)) = fast_v6_at(tok.as_bytes())
        && let Some(len) = prefix_len(&tok[end..], 128)
        && let Ok(n) = Ipv6Net::new(a, len)
    {
        return Ok(IpNet::V6(n));
    }
    prefix_bytes(tok, family).ok_or(Expected("an address or ADDR/LEN prefix"))
}

/// What `whole(tok, |i| prefix_with(i, family), …)` reads, over bytes: the
/// longest run of address characters (or the `0` of `0/LEN`) as an address,
/// then optionally `/` and digits that fit a `u8`, then nothing.
fn prefix_bytes(tok: &str, family: Option<Family>) -> Option<IpNet> {
    let (addr, rest) = if tok.starts_with("0/") {
        let zero = match family {
            Some(Family::Inet6) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
            _ => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        };
        (zero, &tok[1..])
    } else {
        let end = tok
            .bytes()
            .position(|b| !is_addr_byte(b))
            .unwrap_or(tok.len());
        if end == 0 {
            return None;
        }
        // Address characters are ASCII, so `end` is a character boundary.
        (parse_ip(&tok[..end])?, &tok[end..])
    };
    let full = match addr {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    };
    let len = prefix_len(rest, full)?;
    match addr {
        IpAddr::V4(a) => Ipv4Net::new(a, len).map(IpNet::V4).ok(),
        IpAddr::V6(a) => Ipv6Net::new(a, len).map(IpNet::V6).ok(),
    }
}

/// What follows a prefix's address: nothing (`full`), or `/` and digits
/// that fit a `u8` (the range is `IpNet`'s to check).
fn prefix_len(rest: &str, full: u8) -> Option<u8> {
    match rest.strip_prefix('/') {
        None if rest.is_empty() => Some(full),
        Some(d) if !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()) => d.parse().ok(),
        _ => None,
    }
}

/// `default`/`all`/`any` → the zero prefix of the family, else a prefix.
pub fn dst(tok: &str, family: Option<Family>) -> Result<IpNet, Expected> {
    if matches!(tok, "default" | "all" | "any") {
        Ok(match family {
            Some(Family::Inet6) => IpNet::V6(Ipv6Net::default()),
            _ => IpNet::V4(Ipv4Net::default()),
        })
    } else {
        prefix(tok, family)
    }
}

pub fn u32_tok(tok: &str) -> Result<u32, Expected> {
    // `whole(tok, u32_dec, …)`: ASCII digits only (`parse` alone takes `+`).
    if !tok.is_empty() && tok.bytes().all(|b| b.is_ascii_digit()) {
        return tok.parse::<u32>().map_err(|_| Expected("a decimal number"));
    }
    Err(Expected("a decimal number"))
}

pub fn u64_tok(tok: &str) -> Result<u64, Expected> {
    whole(tok, map_res(digit1, str::parse::<u64>), "a decimal number")
}

/// `-101` or `4294967295`: historic `error` values are signed.
pub fn i64_tok(tok: &str) -> Result<i64, Expected> {
    whole(
        tok,
        map_res(recognize((opt(char('-')), digit1)), str::parse::<i64>),
        "a number",
    )
}

/// `0x1f`, `0X1F` or, as `%#x` prints zero, `0`; plain decimal is accepted for
/// hand-written captures (the kernel tools read both).
pub fn hex_u32(tok: &str) -> Result<u32, Expected> {
    let r = if let Some(h) = tok.strip_prefix("0x").or_else(|| tok.strip_prefix("0X")) {
        u32::from_str_radix(h, 16).ok()
    } else {
        tok.parse::<u32>().ok()
    };
    r.ok_or(Expected("a hexadecimal number"))
}

/// `N` or `N-M`.
pub fn range_u32(tok: &str) -> Result<(u32, u32), Expected> {
    whole(
        tok,
        (u32_dec, opt(preceded(char('-'), u32_dec))),
        "N or N-M",
    )
    .map(|(a, b)| (a, b.unwrap_or(a)))
}

/// `Nsec` (lifetimes, expires), also a bare number.
pub fn seconds(tok: &str) -> Result<u64, Expected> {
    let t = tok.strip_suffix("sec").unwrap_or(tok);
    t.parse::<u64>()
        .map_err(|_| Expected("a number of seconds (Nsec)"))
}

/// Blank-separated tokens of one line, as subslices (so columns are exact).
#[derive(Debug, Clone)]
pub struct Tokens<'a> {
    /// The whole text (a line's end is then in reach of an 8-byte load
    /// from anywhere in its last word), read from `pos` on.
    s: &'a str,
    pos: usize,
}

impl<'a> Tokens<'a> {
    pub fn new(s: &'a str) -> Self {
        Tokens { s, pos: 0 }
    }

    #[inline]
    pub fn peek(&self) -> Option<&'a str> {
        self.clone().next()
    }

    /// The unread remainder, without leading blanks.
    #[inline]
    pub fn rest(&self) -> &'a str {
        let rest = self.s.get(self.pos..).unwrap_or_default();
        &rest[blanks_at(rest.as_bytes())..]
    }

    pub fn is_empty(&self) -> bool {
        self.rest().is_empty()
    }
}

impl<'a> Iterator for Tokens<'a> {
    type Item = &'a str;

    #[inline(always)]
    fn next(&mut self) -> Option<&'a str> {
        let b = self.s.as_bytes();
        // `pos` is at most the length: 0, or a token's end.
        let start = self.pos + blanks_at(&b[self.pos..]);
        if start >= b.len() {
            self.pos = b.len();
            return None;
        }
        let end = blank_from(b, start);
        self.pos = end;
        debug_assert!(start < end && end <= b.len());
        // `start` is 0 or follows an SP/TAB, `end` is the length or at an
        // SP/TAB: ASCII bytes, so both are character boundaries and `get`
        // never refuses (a refusal would end the line, never panic).
        self.s.get(start..end)
    }
}

/// Length of the blank run at the start of `b`: one byte (the separator
/// `ip` prints) settled by two compares, longer runs by the byte loop.
#[inline(always)]
fn blanks_at(b: &[u8]) -> usize {
    let blank = |c: u8| c == b' ' || c == b'\t';
    match *b {
        [c, ..] if !blank(c) => 0,
        [_, c, ..] if !blank(c) => 1,
        _ => b.iter().position(|&c| !blank(c)).unwrap_or(b.len()),
    }
}

/// Index of the first SP/TAB in `b` at or after `i` (else its length).
/// Eight bytes at a time: a token is mostly shorter than a word, so one
/// load usually ends it where the byte loop took a compare pair per byte.
#[inline(always)]
fn blank_from(b: &[u8], mut i: usize) -> usize {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    // High bit of each byte below 0x21 (SP, TAB, other controls); the
    // lowest one is exact (borrows only run upwards), later ones may not be.
    let below_21 = |w: u64| w.wrapping_sub(ONES * 0x21) & !w & HIGH;
    // `i` stays at most the length: past a whole chunk, or one byte of it.
    while let Some(chunk) = b[i..].first_chunk::<8>() {
        let m = below_21(u64::from_le_bytes(*chunk));
        if m == 0 {
            i += 8;
            continue;
        }
        let k = (m.trailing_zeros() / 8) as usize & 7;
        if matches!(chunk[k], b' ' | b'\t') {
            return i + k;
        }
        // Another control byte: part of the token.
        i += k + 1;
    }
    // Under eight bytes left (a line's last token): the last eight of `b`,
    // those before `i` shifted out and 0xff (never flagged) shifted in.
    if let Some(last) = b.last_chunk::<8>()
        && i < b.len()
    {
        let skip = i + 8 - b.len();
        let m = below_21(u64::from_le_bytes(*last) >> (8 * skip) | !(u64::MAX >> (8 * skip)));
        if m == 0 {
            return b.len();
        }
        let k = (m.trailing_zeros() / 8) as usize & 7;
        if matches!(last[(skip + k) & 7], b' ' | b'\t') {
            return i + k;
        }
        i += k + 1;
    }
    while i < b.len() && !matches!(b[i], b' ' | b'\t') {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes() {
        assert_eq!(
            prefix("10.0.0.0/8", None).unwrap().to_string(),
            "10.0.0.0/8"
        );
        assert_eq!(prefix("10.0.0.1", None).unwrap().to_string(), "10.0.0.1/32");
        assert_eq!(prefix("0/24", None).unwrap().to_string(), "0.0.0.0/24");
        assert_eq!(
            prefix("0/64", Some(Family::Inet6)).unwrap().to_string(),
            "::/64"
        );
        assert_eq!(
            prefix("::ffff:0.0.0.0/96", None).unwrap().to_string(),
            "::ffff:0.0.0.0/96"
        );
        assert!(prefix("10.0.0.0/33", None).is_err());
        assert!(prefix("10.0.0.0/", None).is_err());
        assert!(prefix("eth0", None).is_err());
    }

    #[test]
    fn fast_v4_agrees_with_the_general_path() {
        let general = |t: &str| whole(t, |i| prefix_with(i, None), "");
        for t in [
            "0.0.0.0",
            "0.0.0.0/0",
            "10.0.0.1",
            "10.0.0.0/8",
            "255.255.255.255/32",
            "192.168.100.2",
            "1.2.3.4/9",
            "1.2.3.4/10",
            "1.2.3.4/33",
            "1.2.3.4/40",
            "1.2.3.4/08",
            "1.2.3.4/",
            "1.2.3.4/1/",
            "01.2.3.4",
            "1.2.3.04",
            "1.2.3.0",
            "256.1.1.1",
            "1.2.3",
            "1.2.3.4.5",
            "1.2.3.4a",
            "1.2.3.1234",
            "1..2.3",
            "1.2.3.4 ",
            "0/24",
            "1.2.3.4/3x",
            "1.2.3.4/032",
            "::ffff:1.2.3.4",
        ] {
            assert_eq!(prefix(t, None).ok(), general(t).ok(), "{t}");
            assert_eq!(addr(t).ok(), whole(t, ip_addr, "").ok(), "{t}");
        }
        // Every octet and length.
        for n in 0..=300u32 {
            for t in [
                format!("{n}.1.2.3"),
                format!("1.2.3.{n}"),
                format!("1.2.3.4/{n}"),
            ] {
                assert_eq!(prefix(&t, None).ok(), general(&t).ok(), "{t}");
                assert_eq!(addr(&t).ok(), whole(&t, ip_addr, "").ok(), "{t}");
            }
        }
    }

    proptest::proptest! {
        /// The byte paths read exactly what the nom grammars read.
        #[test]
        fn byte_paths_agree_with_nom(
            t in "(0/|::|[0-9a-fA-F]{0,4}|[.:/]|[0-9]{1,3}|ffff|%| |x|é){0,10}",
            v6 in proptest::bool::ANY,
        ) {
            let fam = v6.then_some(Family::Inet6);
            let nom_prefix = whole(&t, |i| prefix_with(i, fam), "x").ok();
            proptest::prop_assert_eq!(prefix(&t, fam).ok(), nom_prefix);
            proptest::prop_assert_eq!(addr(&t).ok(), whole(&t, ip_addr, "x").ok());
            proptest::prop_assert_eq!(u32_tok(&t).ok(), whole(&t, u32_dec, "x").ok());
        }
    }

    proptest::proptest! {
        /// The IPv6 fast path reads what std reads whenever it answers.
        #[test]
        fn fast_v6_agrees_with_std(t in "(::|:|[0-9a-fA-F]{1,5}|0|ffff|\\.|g){0,12}") {
            if let Some(a) = fast_v6(t.as_bytes()) {
                proptest::prop_assert_eq!(Some(a), t.parse::<Ipv6Addr>().ok(), "{}", t);
            }
        }
    }

    proptest::proptest! {
        /// IPv6 prefixes read in one pass agree with the nom grammars, and
        /// whole addresses with std.
        #[test]
        fn v6_prefixes_agree_with_nom(
            t in "(::|:|[0-9a-fA-F]{1,5}|0|ffff|\\.|1\\.2\\.3\\.4){0,10}(/[0-9]{0,4}|/|//|/x|%1|x|)",
            v6 in proptest::bool::ANY,
        ) {
            let fam = v6.then_some(Family::Inet6);
            let nom_prefix = whole(&t, |i| prefix_with(i, fam), "x").ok();
            proptest::prop_assert_eq!(prefix(&t, fam).ok(), nom_prefix, "{}", t);
            proptest::prop_assert_eq!(addr(&t).ok(), whole(&t, ip_addr, "x").ok(), "{}", t);
            let std = t.parse::<Ipv6Addr>().ok();
            if let Some(a) = fast_v6(t.as_bytes()) {
                proptest::prop_assert_eq!(Some(a), std, "{}", t);
            }
        }
    }

    #[test]
    fn v6_prefixes_as_ip_prints_them() {
        for t in [
            "::/0",
            "::",
            "::1/128",
            "fe80::/64",
            "2001:db8:0::/64",
            "2001:db8::1",
            "1:2:3:4:5:6:7:8/127",
            "1:2:3:4:5:6:7::/112",
            "::2:3:4:5:6:7:8/16",
            "ff00::/8",
            "fe80::/129",
            "fe80::/",
            "fe80::/064",
            "fe80::/0x",
            "fe80:::/64",
            "fe80::1::/64",
            "12345::/64",
            "::ffff:1.2.3.4/96",
            "1:2:3:4:5:6:7:8:9/64",
            "1:2:3:4:5:6:7:8::/64",
            ":/64",
            "1:/64",
        ] {
            let general = whole(t, |i| prefix_with(i, None), "x").ok();
            assert_eq!(prefix(t, None).ok(), general, "{t}");
            assert_eq!(addr(t).ok(), whole(t, ip_addr, "x").ok(), "{t}");
        }
    }

    #[test]
    fn fast_v6_reads_what_ip_prints() {
        for t in [
            "::",
            "::1",
            "1::",
            "fe80::1",
            "2001:db8::/64",
            "1:2:3:4:5:6:7:8",
            "1:2:3:4:5:6:7::",
            "::2:3:4:5:6:7:8",
            "ff02::1:ff00:1",
            "FE80::A",
            "0:0:0:0:0:0:0:0",
        ] {
            let t = t.split('/').next().unwrap();
            assert_eq!(fast_v6(t.as_bytes()), t.parse().ok(), "{t}");
            assert!(fast_v6(t.as_bytes()).is_some(), "{t}");
        }
        for t in [
            "1:2:3:4:5:6:7:8::",
            "::1:2:3:4:5:6:7:8",
            "1:::2",
            ":1",
            "1:",
            "12345::",
            "1::2::3",
        ] {
            assert_eq!(fast_v6(t.as_bytes()), None, "{t}");
            assert_eq!(t.parse::<Ipv6Addr>().ok(), None, "{t}");
        }
    }

    #[test]
    fn numbers() {
        assert_eq!(hex_u32("0x200").unwrap(), 0x200);
        assert_eq!(hex_u32("0").unwrap(), 0);
        assert_eq!(i64_tok("-101").unwrap(), -101);
        assert_eq!(range_u32("1000-2000").unwrap(), (1000, 2000));
        assert_eq!(range_u32("443").unwrap(), (443, 443));
        assert_eq!(seconds("588sec").unwrap(), 588);
    }

    #[test]
    fn tokens() {
        let t: Vec<_> = Tokens::new("  a\tb  c ").collect();
        assert_eq!(t, ["a", "b", "c"]);
    }

    proptest::proptest! {
        /// Tokens are the blank-separated words, in place; `rest` is what
        /// follows the last one read, without leading blanks.
        #[test]
        fn tokens_are_the_blank_separated_words(
            t in "([a-z0-9.:/]{0,12}|[ \t]{1,3}|[\x00-\x20]|é|\u{a0}){0,12}",
        ) {
            let words: Vec<&str> = t.split([' ', '\t']).filter(|w| !w.is_empty()).collect();
            let mut toks = Tokens::new(&t);
            for w in &words {
                let got = toks.next();
                proptest::prop_assert_eq!(got, Some(*w));
                let got = got.unwrap_or_default();
                let end = got.as_ptr() as usize + got.len() - t.as_ptr() as usize;
                proptest::prop_assert_eq!(toks.rest(), t[end..].trim_start_matches([' ', '\t']));
            }
            proptest::prop_assert_eq!(toks.next(), None);
            proptest::prop_assert!(toks.is_empty());
        }
    }

    proptest::proptest! {
        /// The word-at-a-time scan finds the blank the byte loop finds.
        #[test]
        fn blank_from_agrees_with_the_byte_loop(
            t in "([a-z0-9.:/]{0,12}|[ \t]|[\x00-\x20]|\x7f|é|\u{80}|\u{a0}|\u{ff}){0,12}",
        ) {
            let b = t.as_bytes();
            for k in 0..=b.len() {
                let want = b[k..]
                    .iter()
                    .position(|&c| c == b' ' || c == b'\t')
                    .unwrap_or(b.len() - k);
                proptest::prop_assert_eq!(blank_from(b, k) - k, want, "{:?}", &t[..]);
            }
        }
    }
}
