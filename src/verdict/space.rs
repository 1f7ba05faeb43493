//! Address ranges as integers (IPv4 in the low 32 bits), and their collapse
//! into the fewest CIDR blocks. Ranges are half-open; the IPv6 space ends at
//! `u128::MAX`, which drops only ff..ff (multicast, never a peer).

use crate::grammar::Family;
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Range {
    pub start: u128,
    pub end: u128,
}

pub fn top(f: Family) -> u128 {
    match f {
        Family::Inet => 1u128 << 32,
        Family::Inet6 => u128::MAX,
    }
}

pub fn bits(f: Family) -> u32 {
    match f {
        Family::Inet => 32,
        Family::Inet6 => 128,
    }
}

pub fn num(a: IpAddr) -> u128 {
    match a {
        IpAddr::V4(v) => u32::from(v) as u128,
        IpAddr::V6(v) => u128::from(v),
    }
}

pub fn addr(f: Family, n: u128) -> IpAddr {
    match f {
        Family::Inet => IpAddr::V4(Ipv4Addr::from(n as u32)),
        Family::Inet6 => IpAddr::V6(Ipv6Addr::from(n)),
    }
}

impl Range {
    pub fn of(n: &IpNet) -> Range {
        let f = match n {
            IpNet::V4(_) => Family::Inet,
            IpNet::V6(_) => Family::Inet6,
        };
        let host_bits = bits(f) - n.prefix_len() as u32;
        let start = num(n.network());
        let size = if host_bits >= 128 {
            u128::MAX
        } else {
            1u128 << host_bits
        };
        Range {
            start,
            end: start.saturating_add(size).min(top(f)),
        }
    }

    pub fn contains(&self, x: u128) -> bool {
        x >= self.start && x < self.end
    }
}

/// The fewest CIDR blocks covering `r` exactly (an IPv6 range ending at
/// `u128::MAX` runs to the top of the space).
pub fn cidrs(f: Family, r: Range) -> Vec<IpNet> {
    let mut out = Vec::new();
    if r.end <= r.start {
        return out;
    }
    let b = bits(f);
    let last = if f == Family::Inet6 && r.end == u128::MAX {
        u128::MAX
    } else {
        r.end - 1
    };
    let mut s = r.start;
    loop {
        let mut k = if s == 0 { b } else { s.trailing_zeros().min(b) };
        // Shrink until the block [s, s + 2^k - 1] ends within `last`.
        let block_last = |k: u32| -> Option<u128> {
            let span = if k >= 128 {
                u128::MAX
            } else {
                (1u128 << k) - 1
            };
            s.checked_add(span)
        };
        while k > 0 && block_last(k).is_none_or(|e| e > last) {
            k -= 1;
        }
        let plen = (b - k) as u8;
        out.push(match f {
            Family::Inet => {
                IpNet::V4(Ipv4Net::new(Ipv4Addr::from(s as u32), plen).expect("valid prefix"))
            }
            Family::Inet6 => {
                IpNet::V6(Ipv6Net::new(Ipv6Addr::from(s), plen).expect("valid prefix"))
            }
        });
        let e = block_last(k).unwrap_or(u128::MAX);
        if e >= last {
            break;
        }
        s = e + 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(f: Family, a: &str, b: &str) -> Vec<String> {
        let s = num(a.parse().unwrap());
        let e = num(b.parse().unwrap());
        cidrs(f, Range { start: s, end: e })
            .iter()
            .map(|n| n.to_string())
            .collect()
    }

    #[test]
    fn collapse() {
        assert_eq!(c(Family::Inet, "10.0.0.0", "10.0.1.0"), ["10.0.0.0/24"]);
        assert_eq!(
            c(Family::Inet, "10.0.0.0", "10.0.0.3"),
            ["10.0.0.0/31", "10.0.0.2/32"]
        );
        assert_eq!(
            cidrs(
                Family::Inet,
                Range {
                    start: 0,
                    end: 1 << 32
                }
            )
            .iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>(),
            ["0.0.0.0/0"]
        );
        assert_eq!(
            c(Family::Inet6, "2001:db8::", "2001:db8:0:1::"),
            ["2001:db8::/64"]
        );
        let all6 = cidrs(
            Family::Inet6,
            Range {
                start: 0,
                end: u128::MAX,
            },
        );
        assert_eq!(all6.len(), 1);
        assert_eq!(all6[0].to_string(), "::/0");
    }

    #[test]
    fn ranges() {
        let r = Range::of(&"10.0.0.0/8".parse().unwrap());
        assert_eq!((r.start, r.end), (10 << 24, 11 << 24));
        let r = Range::of(&"::/0".parse().unwrap());
        assert_eq!((r.start, r.end), (0, u128::MAX));
    }
}
