//! Address ranges as integers (IPv4 in the low 32 bits), and their collapse
//! into the fewest CIDR blocks. Ranges are half-open; the IPv6 space ends at
//! `u128::MAX`, which drops only ff..ff (multicast, never a peer).

use crate::grammar::Family;
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
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
        Range::block(f, num(n.network()), n.prefix_len())
    }

    /// The prefix `start/plen` (`start` its first address).
    pub fn block(f: Family, start: u128, plen: u8) -> Range {
        let host_bits = bits(f) - plen as u32;
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
    blocks(f, r)
        .map(|(s, plen)| block_net(f, s, plen).expect("valid prefix"))
        .collect()
}

/// The block `start/plen` of family `f` as an `IpNet` (`None`: `plen` too
/// long for the family).
#[inline(always)]
pub fn block_net(f: Family, start: u128, plen: u8) -> Option<IpNet> {
    match f {
        Family::Inet => Ipv4Net::new(Ipv4Addr::from(start as u32), plen)
            .map(IpNet::V4)
            .ok(),
        Family::Inet6 => Ipv6Net::new(Ipv6Addr::from(start), plen)
            .map(IpNet::V6)
            .ok(),
    }
}

/// The blocks of `cidrs` as (start, prefix length), without allocating:
/// each block's size is computed at once (the alignment of its start, capped
/// by what is left), not found by shrinking bit by bit (128 steps a block
/// in IPv6, a tenth of a fleet scan).
pub fn blocks(f: Family, r: Range) -> impl Iterator<Item = (u128, u8)> {
    let b = bits(f);
    let last = last_of(f, r);
    let mut next = (r.end > r.start).then_some(r.start);
    std::iter::from_fn(move || {
        let s = next?;
        let align = if s == 0 { b } else { s.trailing_zeros().min(b) };
        // The largest k with s + 2^k - 1 <= last.
        let left = last - s;
        let fit = if left == u128::MAX {
            128
        } else {
            127 - (left + 1).leading_zeros()
        };
        let k = align.min(fit);
        let e = if k >= 128 {
            u128::MAX
        } else {
            s + ((1u128 << k) - 1)
        };
        next = (e < last).then(|| e + 1);
        Some((s, (b - k) as u8))
    })
}

/// The last address of `r` (IPv6's `end` of `u128::MAX` holds it: the
/// space has no room for one past it).
fn last_of(f: Family, r: Range) -> u128 {
    if f == Family::Inet6 && r.end == u128::MAX {
        u128::MAX
    } else {
        r.end.wrapping_sub(1)
    }
}

/// How many blocks `blocks` gives for `r`, without making them: a default
/// route's leak around 1,000 links' /64s is ~64,000 blocks, counted for
/// every endpoint that has it.
pub fn block_count(f: Family, r: Range) -> u64 {
    if r.end <= r.start {
        return 0;
    }
    let last = last_of(f, r);
    let s = r.start;
    if s == last {
        return 1;
    }
    // Split at the highest bit where the ends differ: from `s` up to `m`,
    // a block per bit of the distance, and from `m` up to `last` likewise;
    // one block where the range is itself one (aligned on the bit above).
    let k = 127 - (s ^ last).leading_zeros();
    let m = (last >> k) << k;
    let whole = if k == 127 {
        s == 0 && last == u128::MAX
    } else {
        s & ((2u128 << k) - 1) == 0 && last - s == (2u128 << k) - 1
    };
    if whole {
        return 1;
    }
    u64::from((m - s).count_ones()) + u64::from((last - m + 1).count_ones())
}

/// `IpNet`'s text (`10.0.0.0/8`, `2001:db8::/32`), byte for byte as its
/// `Display` writes it, without the formatting machinery (a report holds
/// thousands of these per host).
pub fn net_string(f: Family, start: u128, plen: u8) -> String {
    NetText::of(f, start, plen).as_str().to_string()
}

/// `IpNet`'s text appended to `s` (its address as given, host bits too).
pub fn push_net(s: &mut String, n: &IpNet) {
    s.push_str(NetText::net(n).as_str());
}

/// `IpAddr`'s text appended to `s`.
pub fn push_ip(s: &mut String, a: IpAddr) {
    s.push_str(NetText::addr(a).as_str());
}

/// An address or CIDR block's text in a buffer of its own: a report writes
/// hundreds of thousands of these, so each is made with whole-word stores
/// (a digit group is written 4 bytes at a time and the cursor moved by its
/// length) and no allocation.
#[derive(Clone, Copy)]
pub struct NetText {
    // The longest text, `ffff:…:ffff/128` (43 bytes), plus the slack a
    // store past the end needs (8 bytes for a group with its `:`, 4 else).
    buf: [u8; 48],
    len: usize,
}

impl Default for NetText {
    fn default() -> Self {
        NetText {
            buf: [0; 48],
            len: 0,
        }
    }
}

/// Each byte's decimal text, left-aligned in 3 bytes, and its length.
const DEC: [[u8; 4]; 256] = {
    let mut t = [[0u8; 4]; 256];
    let mut v = 0;
    while v < 256 {
        let (h, d, o) = ((v / 100) as u8, (v / 10 % 10) as u8, (v % 10) as u8);
        t[v] = if v >= 100 {
            [b'0' + h, b'0' + d, b'0' + o, 3]
        } else if v >= 10 {
            [b'0' + d, b'0' + o, 0, 2]
        } else {
            [b'0' + o, 0, 0, 1]
        };
        v += 1;
    }
    t
};

/// Each byte's decimal text followed by `.` (`DOT`) or after `/` (`SLASH`),
/// in 4 bytes, and its length.
const DOT: [([u8; 4], u8); 256] = dec_with(b'.', false);
const SLASH: [([u8; 4], u8); 256] = dec_with(b'/', true);

const fn dec_with(c: u8, before: bool) -> [([u8; 4], u8); 256] {
    let mut t = [([0u8; 4], 0u8); 256];
    let mut v = 0;
    while v < 256 {
        let d = DEC[v];
        let n = d[3] as usize;
        let mut w = [0u8; 4];
        let mut i = 0;
        while i < n {
            w[i + before as usize] = d[i];
            i += 1;
        }
        w[if before { 0 } else { n }] = c;
        t[v] = (w, n as u8 + 1);
        v += 1;
    }
    t
}

/// Each byte's two hex digits (`{:02x}`), the first in the low byte.
const HEX2: [u16; 256] = {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut t = [0u16; 256];
    let mut v = 0;
    while v < 256 {
        t[v] = HEX[v >> 4] as u16 | (HEX[v & 0xf] as u16) << 8;
        v += 1;
    }
    t
};

impl NetText {
    /// The block `start/plen` of family `f` (IPv4 in the low 32 bits).
    pub fn of(f: Family, start: u128, plen: u8) -> Self {
        let mut t = NetText::default();
        match f {
            Family::Inet => t.v4(start as u32),
            Family::Inet6 => t.v6(start),
        }
        t.plen(plen);
        t
    }

    /// An address's text, as its `Display` writes it.
    pub fn addr(a: IpAddr) -> Self {
        let mut t = NetText::default();
        t.ip(a);
        t
    }

    pub fn net(n: &IpNet) -> Self {
        let mut t = NetText::default();
        t.ip(n.addr());
        t.plen(n.prefix_len());
        t
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII digits, letters, '.', ':' and '/' are ever written.
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or_default()
    }

    fn ip(&mut self, a: IpAddr) {
        match a {
            IpAddr::V4(v) => self.v4(u32::from(v)),
            IpAddr::V6(v) => self.v6(u128::from(v)),
        }
    }

    /// Stores 4 bytes at the cursor and moves it by `n` (≤ 4): the bytes
    /// past `n` are overwritten by what follows or left past `len`.
    #[inline(always)]
    fn put4(&mut self, b: [u8; 4], n: usize) {
        let at = self.len.min(self.buf.len() - 4);
        self.buf[at..at + 4].copy_from_slice(&b);
        self.len = at + n;
    }

    fn dec(&mut self, v: u8) {
        let d = DEC[v as usize];
        self.put4(d, d[3] as usize);
    }

    fn plen(&mut self, p: u8) {
        let (w, n) = SLASH[p as usize];
        self.put4(w, n as usize);
    }

    fn v4(&mut self, a: u32) {
        let [a, b, c, d] = a.to_be_bytes();
        for x in [a, b, c] {
            let (w, n) = DOT[x as usize];
            self.put4(w, n as usize);
        }
        self.dec(d);
    }

    /// A group's text (`{:x}`: lowercase, no leading zeros) and a `:`, in
    /// one 8-byte store.
    #[inline(always)]
    fn group(&mut self, g: u16) {
        let n = (19 - g.leading_zeros().min(15)) as usize / 4;
        let all = u64::from(HEX2[(g >> 8) as usize]) | u64::from(HEX2[(g & 0xff) as usize]) << 16;
        // The leading zero digits shifted out, the `:` put after the rest.
        let w = all >> (8 * (4 - n)) | u64::from(b':') << (8 * n);
        let at = self.len.min(self.buf.len() - 8);
        self.buf[at..at + 8].copy_from_slice(&w.to_le_bytes());
        self.len = at + n + 1;
    }

    /// std's `Ipv6Addr` text (RFC 5952): IPv4-mapped as `::ffff:a.b.c.d`,
    /// else the first longest run of two or more zero groups as `::`.
    fn v6(&mut self, a: u128) {
        if a >> 32 == 0xffff {
            self.put4(*b"::ff", 4);
            self.put4(*b"ff:\0", 3);
            self.v4(a as u32);
            return;
        }
        let b = a.to_be_bytes();
        let seg = |i: usize| u16::from_be_bytes([b[2 * i], b[2 * i + 1]]);
        // Bit 7 - i: group i is zero.
        let zeros = (0..8).fold(0usize, |m, i| m | usize::from(seg(i) == 0) << (7 - i));
        let (at, len) = ZERO_RUN[zeros];
        let (at, len) = (at as usize, len as usize);
        if len == 0 {
            for i in 0..8 {
                self.group(seg(i));
            }
            // The last group's `:`.
            self.len -= 1;
            return;
        }
        for i in 0..at {
            self.group(seg(i));
        }
        // After a group's `:`, one more; at the start, both.
        self.put4(*b"::\0\0", 1 + usize::from(at == 0));
        for i in at + len..8 {
            self.group(seg(i));
        }
        if at + len < 8 {
            self.len -= 1;
        }
    }
}

/// For each set of zero groups (bit 7 - i: group i is 0), the first longest
/// run of two or more (start, length), else (0, 0).
const ZERO_RUN: [(u8, u8); 256] = {
    let mut t = [(0u8, 0u8); 256];
    let mut m = 0;
    while m < 256 {
        let (mut best, mut best_len, mut cur, mut cur_len) = (0, 0, 0, 0);
        let mut i = 0;
        while i < 8 {
            if m >> (7 - i) & 1 == 1 {
                if cur_len == 0 {
                    cur = i;
                }
                cur_len += 1;
                if cur_len > best_len {
                    best = cur;
                    best_len = cur_len;
                }
            } else {
                cur_len = 0;
            }
            i += 1;
        }
        if best_len > 1 {
            t[m] = (best as u8, best_len as u8);
        }
        m += 1;
    }
    t
};

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

    /// A 128-bit xorshift from `seed` (not zero).
    fn xorshift(mut x: u128) -> impl FnMut() -> u128 {
        move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        }
    }

    /// `block_count` is the number of blocks `blocks` gives, at the
    /// families' edges and on random ranges.
    #[test]
    fn block_counts_are_the_blocks_given() {
        let mut next = xorshift(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c834);
        let mut cases = vec![
            (Family::Inet6, 0, u128::MAX),
            (Family::Inet6, 1, u128::MAX),
            (Family::Inet6, 0, u128::MAX - 1),
            (Family::Inet6, 1 << 127, u128::MAX),
            (Family::Inet, 0, 1 << 32),
            (Family::Inet, 1, 1 << 32),
            (Family::Inet, 0, 1 << 31),
            (Family::Inet, 5, 6),
            (Family::Inet, 5, 5),
        ];
        for _ in 0..20_000 {
            let (a, b) = (next(), next());
            let f = if a & 1 == 0 {
                Family::Inet
            } else {
                Family::Inet6
            };
            let (a, b) = match f {
                Family::Inet => (a % (1 << 32), b % ((1 << 32) + 1)),
                // Near each other too: short ranges, and the ends differing
                // in low bits only.
                Family::Inet6 if b & 2 == 0 => (a, a.saturating_add(b % (1 << 20))),
                Family::Inet6 => (a, b),
            };
            cases.push((f, a.min(b), a.max(b)));
        }
        for (f, start, end) in cases {
            let r = Range { start, end };
            assert_eq!(
                block_count(f, r),
                blocks(f, r).count() as u64,
                "{f:?} {start:#x}..{end:#x}"
            );
        }
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

    /// The closed-form block size gives what shrinking bit by bit gave.
    #[test]
    fn blocks_match_shrinking() {
        fn slow(f: Family, r: Range) -> Vec<(u128, u8)> {
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
                out.push((s, (b - k) as u8));
                let e = block_last(k).unwrap_or(u128::MAX);
                if e >= last {
                    break;
                }
                s = e + 1;
            }
            out
        }
        let mut x: u128 = 0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c834;
        let mut rnd = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut edges = vec![0u128, 1, 2, 3, u128::MAX, u128::MAX - 1, 1 << 127, 1 << 32];
        for _ in 0..64 {
            edges.push(rnd() >> (rnd() % 128));
        }
        for _ in 0..4000 {
            for f in [Family::Inet, Family::Inet6] {
                let t = top(f);
                let pick = |v: u128| if f == Family::Inet { v % (t + 1) } else { v };
                let (a, b) = (
                    pick(edges[(rnd() % edges.len() as u128) as usize] ^ (rnd() & 0xff)),
                    pick(rnd() >> (rnd() % 128)),
                );
                let r = Range {
                    start: a.min(b),
                    end: a.max(b),
                };
                assert_eq!(blocks(f, r).collect::<Vec<_>>(), slow(f, r), "{f:?} {r:?}");
            }
        }
    }

    /// The text is `IpNet`'s `Display`, byte for byte.
    #[test]
    fn net_text_matches_display() {
        let mut rnd = xorshift(0x1234_5678_9abc_def0_0fed_cba9_8765_4321);
        for i in 0..200_000u32 {
            let r = rnd();
            // Zero some groups: runs of zeros of every length and place.
            let mask: u128 = (0..8)
                .filter(|k| (r >> (120 + k)) & 1 == 1)
                .fold(0, |m, k| m | (0xffffu128 << (16 * k)));
            let mut a = rnd() & !mask;
            if i % 7 == 0 {
                a = 0xffff_0000_0000 | (a & 0xffff_ffff);
            }
            if i % 11 == 0 {
                a &= 0xffff_ffff_ffff;
            }
            let plen = (r % 129) as u8;
            let n6 = Ipv6Net::new(Ipv6Addr::from(a), plen).unwrap();
            assert_eq!(net_string(Family::Inet6, a, plen), n6.to_string());
            let v4 = a as u32;
            let p4 = plen % 33;
            let n4 = Ipv4Net::new(Ipv4Addr::from(v4), p4).unwrap();
            assert_eq!(net_string(Family::Inet, v4 as u128, p4), n4.to_string());
            // Host bits kept, as `IpNet` keeps them.
            let mut t = String::new();
            push_net(&mut t, &IpNet::V6(n6));
            push_ip(&mut t, IpAddr::V4(Ipv4Addr::from(v4)));
            push_net(&mut t, &IpNet::V4(n4));
            assert_eq!(t, format!("{n6}{}{n4}", Ipv4Addr::from(v4)));
        }
        for a in [0u128, 1, 0xffff_0000_0000, u128::MAX, 1 << 112, 0xffff] {
            let n = Ipv6Net::new(Ipv6Addr::from(a), 128).unwrap();
            assert_eq!(net_string(Family::Inet6, a, 128), n.to_string());
        }
    }

    #[test]
    fn ranges() {
        let r = Range::of(&"10.0.0.0/8".parse().unwrap());
        assert_eq!((r.start, r.end), (10 << 24, 11 << 24));
        let r = Range::of(&"::/0".parse().unwrap());
        assert_eq!((r.start, r.end), (0, u128::MAX));
    }
}
