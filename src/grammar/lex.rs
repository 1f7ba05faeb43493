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

pub fn addr(tok: &str) -> Result<IpAddr, Expected> {
    whole(tok, ip_addr, "an IPv4 or IPv6 address")
}

pub fn prefix(tok: &str, family: Option<Family>) -> Result<IpNet, Expected> {
    whole(
        tok,
        |i| prefix_with(i, family),
        "an address or ADDR/LEN prefix",
    )
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
    whole(tok, u32_dec, "a decimal number")
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
    rest: &'a str,
}

impl<'a> Tokens<'a> {
    pub fn new(s: &'a str) -> Self {
        Tokens { rest: s }
    }

    pub fn peek(&self) -> Option<&'a str> {
        self.clone().next()
    }

    /// The unread remainder, without leading blanks.
    pub fn rest(&self) -> &'a str {
        self.rest.trim_start_matches([' ', '\t'])
    }

    pub fn is_empty(&self) -> bool {
        self.rest().is_empty()
    }
}

impl<'a> Iterator for Tokens<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let s = self.rest.trim_start_matches([' ', '\t']);
        if s.is_empty() {
            self.rest = s;
            return None;
        }
        let end = s.find([' ', '\t']).unwrap_or(s.len());
        self.rest = &s[end..];
        Some(&s[..end])
    }
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
}
