//! One routing table of one family, indexed for longest-prefix match.
//!
//! The prefixes present are laid out as the kernel's trie would visit them
//! (by address, shorter first), each with its *parent*: the longest prefix
//! of the table that holds it. The address space is cut into intervals,
//! each owned by the longest prefix covering it. A lookup finds its
//! interval by binary search (narrowed by a first-level index on the top
//! 16 bits for large tables), then follows parents: every prefix of the
//! table holding the address, longest first, each found once, however many
//! prefix lengths are present. (A hash per prefix length present cost up
//! to 33 (129) probes per lookup: 15% of a full BGP table's analysis.)

use super::{Origin, RouteEntry};
use std::net::IpAddr;
use std::sync::Arc;

/// Shared, not copied, by clones: the fix advice works on a copy of the
/// model whose tables it changes one at a time, so a clone shares each
/// table until it changes.
#[derive(Debug, Default, Clone)]
pub struct FibTable {
    pub routes: Arc<Vec<RouteEntry>>,
    index: Arc<Index>,
    /// Routes pushed or removed since `finish`: the index is not theirs.
    stale: bool,
}

/// No prefix (no interval owner, no parent).
const NONE: u32 = u32::MAX;

/// Tables with fewer intervals are searched whole (the first-level index
/// is 256 KiB).
const BUCKETS_FROM: usize = 4096;

#[derive(Debug, Default)]
struct Index {
    /// Route indexes grouped by prefix, prefixes in trie order, each
    /// group's routes in kernel list order.
    order: Vec<usize>,
    /// Per prefix (in trie order): its first route in `order` (one more
    /// entry closes the last group), its length, its parent.
    first: Vec<u32>,
    plen: Vec<u8>,
    parent: Vec<u32>,
    /// Interval starts (ascending, the first at 0) and owners.
    starts: Starts,
    owner: Vec<u32>,
    /// Per value of an address's top 16 bits: the first interval starting
    /// at or after that block (one more entry at the end); empty when the
    /// table is small.
    buckets: Vec<u32>,
    /// Prefix lengths present, longest first.
    plens: Vec<u8>,
}

/// IPv4 starts as `u32`: half the room, twice the keys per cache line.
#[derive(Debug)]
enum Starts {
    V4(Vec<u32>),
    V6(Vec<u128>),
}

impl Default for Starts {
    fn default() -> Starts {
        Starts::V4(Vec::new())
    }
}

/// The masked key of an address at a prefix length (IPv4 in the low 32 bits).
pub fn key(addr: IpAddr, plen: u8) -> u128 {
    match addr {
        IpAddr::V4(a) => {
            let v = u32::from(a);
            let m = if plen == 0 {
                0
            } else {
                u32::MAX << (32 - plen as u32)
            };
            (v & m) as u128
        }
        IpAddr::V6(a) => {
            let v = u128::from(a);
            let m = if plen == 0 {
                0
            } else {
                u128::MAX << (128 - plen as u32)
            };
            v & m
        }
    }
}

/// The last address of the prefix `k/plen` in a space of `width` bits.
fn last(k: u128, plen: u8, width: u32) -> u128 {
    let host = width - plen as u32;
    if host == 0 {
        k
    } else {
        k | (u128::MAX >> (128 - host))
    }
}

impl FibTable {
    pub fn push(&mut self, r: RouteEntry) {
        Arc::make_mut(&mut self.routes).push(r);
        self.stale = true;
    }

    /// Room for `n` more routes.
    pub fn reserve(&mut self, n: usize) {
        Arc::make_mut(&mut self.routes).reserve_exact(n);
    }

    pub fn len(&self) -> usize {
        self.routes.len()
    }

    /// Gives back the room of a table that holds less than `1 / factor`
    /// of it: its routes moved to room of their size (an allocator may
    /// shrink a block in place and keep it whole).
    pub fn shrink_to(&mut self, factor: usize) {
        if self.routes.capacity() > factor * self.routes.len() {
            let routes = Arc::make_mut(&mut self.routes);
            let mut exact = Vec::with_capacity(routes.len());
            exact.append(routes);
            *routes = exact;
        }
    }

    /// Removes route `i` (`finish` must follow).
    pub fn remove(&mut self, i: usize) -> RouteEntry {
        self.stale = true;
        Arc::make_mut(&mut self.routes).remove(i)
    }

    /// Whether the index is the routes' (`finish` called since they
    /// changed): the fix's model adds routes without it.
    pub fn indexed(&self) -> bool {
        !self.stale
    }

    /// Sorts each prefix's aliases as the kernel keeps them: IPv4 by TOS
    /// descending then metric ascending, IPv6 by metric; ties keep dump
    /// order. Then builds the prefix index.
    pub fn finish(&mut self) {
        let routes = &self.routes;
        let v6 = routes.iter().any(|e| e.route.dst.addr().is_ipv6());
        let width: u32 = if v6 { 128 } else { 32 };
        let prefix = |i: usize| {
            let d = routes[i].route.dst;
            (key(d.addr(), d.prefix_len()), d.prefix_len())
        };
        let mut keyed: Vec<(u128, u8, std::cmp::Reverse<u8>, u32, u32)> = (0..routes.len())
            .map(|i| {
                let (k, p) = prefix(i);
                let r = &routes[i];
                (k, p, std::cmp::Reverse(r.tos), r.metric(), i as u32)
            })
            .collect();
        keyed.sort_unstable();
        let order: Vec<usize> = keyed.iter().map(|x| x.4 as usize).collect();
        let mut ix = Index {
            order,
            ..Index::default()
        };
        // Prefixes: runs of equal (key, plen).
        let mut keys: Vec<u128> = Vec::new();
        for (n, x) in keyed.iter().enumerate() {
            if keys.last() != Some(&x.0) || ix.plen.last() != Some(&x.1) {
                keys.push(x.0);
                ix.plen.push(x.1);
                ix.first.push(n as u32);
            }
        }
        drop(keyed);
        ix.first.push(ix.order.len() as u32);
        let mut seen = [false; 129];
        for &p in &ix.plen {
            seen[p as usize] = true;
        }
        ix.plens = (0..=128u8).rev().filter(|&p| seen[p as usize]).collect();
        // One sweep in trie order: a stack of the prefixes holding the
        // current address gives each prefix its parent and each interval
        // its owner.
        let mut starts: Vec<u128> = Vec::with_capacity(keys.len() * 2 + 1);
        let mut owner: Vec<u32> = Vec::with_capacity(keys.len() * 2 + 1);
        ix.parent = vec![NONE; keys.len()];
        let mut emit = |from: u128, g: u32| {
            if owner.last() != Some(&g) {
                starts.push(from);
                owner.push(g);
            }
        };
        // The next address not yet in an interval; None past the end.
        let mut cursor: Option<u128> = Some(0);
        let mut stack: Vec<u32> = Vec::new();
        let close = |t: u32, cursor: &mut Option<u128>, emit: &mut dyn FnMut(u128, u32)| {
            let end = last(keys[t as usize], ix.plen[t as usize], width);
            if let Some(c) = *cursor
                && c <= end
            {
                emit(c, t);
                *cursor = end.checked_add(1);
            }
        };
        for g in 0..keys.len() {
            let start = keys[g];
            while let Some(&t) = stack.last() {
                if last(keys[t as usize], ix.plen[t as usize], width) >= start {
                    break;
                }
                close(t, &mut cursor, &mut emit);
                stack.pop();
            }
            if let Some(c) = cursor
                && c < start
            {
                emit(c, stack.last().copied().unwrap_or(NONE));
                cursor = Some(start);
            }
            ix.parent[g] = stack.last().copied().unwrap_or(NONE);
            stack.push(g as u32);
        }
        while let Some(t) = stack.pop() {
            close(t, &mut cursor, &mut emit);
        }
        if let Some(c) = cursor
            && c <= last(0, 0, width)
        {
            emit(c, NONE);
        }
        if starts.len() >= BUCKETS_FROM {
            let shift = width - 16;
            ix.buckets = (0..=(1u32 << 16))
                .map(|b| starts.partition_point(|&s| (s >> shift) < b as u128) as u32)
                .collect();
        }
        ix.owner = owner;
        ix.starts = if v6 {
            Starts::V6(starts)
        } else {
            Starts::V4(starts.iter().map(|&s| s as u32).collect())
        };
        self.index = Arc::new(ix);
        self.stale = false;
    }

    /// The longest prefix of the table holding `dst`, as a prefix number.
    fn longest(&self, dst: IpAddr) -> u32 {
        let ix = &*self.index;
        let k = match dst {
            IpAddr::V4(a) => u32::from(a) as u128,
            IpAddr::V6(a) => u128::from(a),
        };
        let range = |shift: u32| -> (usize, usize) {
            if ix.buckets.is_empty() {
                return (0, ix.owner.len());
            }
            let b = (k >> shift) as usize;
            match (ix.buckets.get(b), ix.buckets.get(b + 1)) {
                (Some(&lo), Some(&hi)) => (lo as usize, hi as usize),
                _ => (0, ix.owner.len()),
            }
        };
        // The last interval starting at or before `dst`: in the bucket, or
        // the one before it (the first interval starts at 0).
        let at = match (&ix.starts, dst) {
            (Starts::V4(s), IpAddr::V4(_)) => {
                let (lo, hi) = range(16);
                lo + s[lo..hi].partition_point(|&x| x as u128 <= k)
            }
            (Starts::V6(s), IpAddr::V6(_)) => {
                let (lo, hi) = range(112);
                lo + s[lo..hi].partition_point(|&x| x <= k)
            }
            _ => return NONE,
        };
        match at.checked_sub(1) {
            Some(i) => ix.owner[i],
            None => NONE,
        }
    }

    fn group_of(&self, g: u32) -> (u8, &[usize]) {
        let ix = &*self.index;
        let g = g as usize;
        let (a, b) = (ix.first[g] as usize, ix.first[g + 1] as usize);
        (ix.plen[g], &ix.order[a..b])
    }

    /// The prefixes holding `dst` with their aliases (in kernel list
    /// order), longest first.
    pub fn candidates(&self, dst: IpAddr) -> Candidates<'_> {
        Candidates {
            t: self,
            next: if self.index.plen.is_empty() {
                NONE
            } else {
                self.longest(dst)
            },
        }
    }

    /// Prefix lengths present, longest first.
    pub fn plens(&self) -> &[u8] {
        &self.index.plens
    }

    /// The aliases of one prefix (`dst` masked to `plen`), in kernel list order.
    pub fn aliases(&self, dst: IpAddr, plen: u8) -> &[usize] {
        self.candidates(dst)
            .find(|&(p, _)| p <= plen)
            .filter(|&(p, _)| p == plen)
            .map_or(&[], |(_, a)| a)
    }

    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    /// Each prefix of the table once, in trie order (by address, shorter
    /// first); `None` when the index does not cover the routes (`finish`
    /// not called since they changed: `indexed`, or never).
    pub fn prefixes(&self) -> Option<impl Iterator<Item = ipnet::IpNet> + '_> {
        let ix = &*self.index;
        (self.indexed() && ix.first.len() == ix.plen.len() + 1).then(|| {
            ix.first[..ix.plen.len()]
                .iter()
                .map(|&f| self.routes[ix.order[f as usize]].route.dst)
        })
    }

    /// Whether `self` and `other` are one table, shared by two clones.
    pub fn is_shared_with(&self, other: &FibTable) -> bool {
        Arc::ptr_eq(&self.routes, &other.routes) && Arc::ptr_eq(&self.index, &other.index)
    }

    pub fn origin(&self, i: usize) -> Origin {
        self.routes[i].origin()
    }
}

/// `FibTable::candidates`: a walk up the parents.
pub struct Candidates<'a> {
    t: &'a FibTable,
    next: u32,
}

impl<'a> Iterator for Candidates<'a> {
    type Item = (u8, &'a [usize]);
    fn next(&mut self) -> Option<(u8, &'a [usize])> {
        if self.next == NONE {
            return None;
        }
        let g = self.next;
        self.next = self.t.index.parent[g as usize];
        Some(self.t.group_of(g))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grammar::{Family, Route, RouteType, Table};
    use proptest::prelude::*;

    fn table(dsts: &[ipnet::IpNet]) -> FibTable {
        let mut t = FibTable::default();
        for (i, d) in dsts.iter().enumerate() {
            let fam = Family::of(&d.addr());
            let mut r = Route::new(
                i as u32 + 1,
                fam,
                d.trunc(),
                RouteType::Unicast,
                Table::main(),
            );
            r.metric = Some((i % 3) as u32);
            t.push(RouteEntry::assumed(r));
        }
        t.finish();
        t
    }

    /// The naive answer: every prefix length, longest first, every route.
    fn naive(t: &FibTable, dst: IpAddr) -> Vec<(u8, Vec<usize>)> {
        let mut out: Vec<(u8, Vec<usize>)> = Vec::new();
        for p in (0..=if dst.is_ipv4() { 32 } else { 128 }).rev() {
            let mut v: Vec<usize> = (0..t.routes.len())
                .filter(|&i| {
                    let d = t.routes[i].route.dst;
                    d.prefix_len() == p && d.contains(&dst)
                })
                .collect();
            v.sort_by_key(|&i| (t.routes[i].metric(), i));
            if !v.is_empty() {
                out.push((p, v));
            }
        }
        out
    }

    fn check(dsts: &[ipnet::IpNet], probes: &[IpAddr]) {
        let t = table(dsts);
        for &a in probes {
            let got: Vec<(u8, Vec<usize>)> =
                t.candidates(a).map(|(p, v)| (p, v.to_vec())).collect();
            assert_eq!(got, naive(&t, a), "{a} in {dsts:?}");
            for (p, v) in &got {
                assert_eq!(t.aliases(a, *p), &v[..]);
            }
        }
    }

    fn v4(a: u32, p: u8) -> ipnet::IpNet {
        ipnet::IpNet::new(IpAddr::V4(a.into()), p).unwrap().trunc()
    }

    #[test]
    fn nested_and_edges() {
        let d = [
            v4(0, 0),
            v4(0x0a00_0000, 8),
            v4(0x0a01_0000, 16),
            v4(0x0a01_0000, 16),
            v4(0x0a01_0200, 24),
            v4(0xffff_ffff, 32),
            v4(0xffff_ff00, 24),
            v4(0, 1),
        ];
        let probes: Vec<IpAddr> = [
            0u32,
            1,
            0x09ff_ffff,
            0x0a00_0000,
            0x0a01_0203,
            0x0a01_0300,
            0x0aff_ffff,
            0x0b00_0000,
            0x7fff_ffff,
            0x8000_0000,
            0xffff_fffe,
            0xffff_ffff,
        ]
        .iter()
        .map(|&a| IpAddr::V4(a.into()))
        .collect();
        check(&d, &probes);
        check(&d[1..], &probes);
        check(&[], &probes);
        let six: Vec<ipnet::IpNet> = [
            "::/0",
            "2001:db8::/32",
            "2001:db8::/64",
            "ffff::/16",
            "::1/128",
        ]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
        let probes6: Vec<IpAddr> = [
            "::",
            "::1",
            "::2",
            "2001:db8::1",
            "2001:db8:0:1::",
            "ffff:ffff::",
            "fffe::",
        ]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
        check(&six, &probes6);
        check(&six[1..], &probes6);
    }

    #[test]
    fn large_tables_use_buckets() {
        let d: Vec<ipnet::IpNet> = (0..6000u32)
            .map(|i| v4(i.wrapping_mul(2_654_435_761), 8 + (i % 25) as u8))
            .collect();
        let t = table(&d);
        assert!(!t.index.buckets.is_empty());
        let probes: Vec<IpAddr> = (0..3000u32)
            .map(|i| IpAddr::V4(i.wrapping_mul(2_246_822_519).into()))
            .chain(d.iter().map(|n| n.addr()))
            .collect();
        for &a in &probes {
            let got: Vec<(u8, Vec<usize>)> =
                t.candidates(a).map(|(p, v)| (p, v.to_vec())).collect();
            let want = naive(&t, a);
            assert_eq!(got, want, "{a}");
        }
    }

    proptest! {
        #[test]
        fn candidates_are_every_holding_prefix(
            ps in proptest::collection::vec((any::<u32>(), 0u8..=32), 0..40),
            qs in proptest::collection::vec(any::<u32>(), 1..20),
        ) {
            let d: Vec<ipnet::IpNet> = ps.iter().map(|&(a, p)| v4(a, p)).collect();
            let probes: Vec<IpAddr> = qs
                .iter()
                .map(|&a| IpAddr::V4(a.into()))
                .chain(d.iter().map(|n| n.addr()))
                .collect();
            check(&d, &probes);
        }

        #[test]
        fn candidates_are_every_holding_prefix6(
            ps in proptest::collection::vec((any::<u128>(), 0u8..=128), 0..30),
            qs in proptest::collection::vec(any::<u128>(), 1..10),
        ) {
            let d: Vec<ipnet::IpNet> = ps
                .iter()
                .map(|&(a, p)| ipnet::IpNet::new(IpAddr::V6(a.into()), p).unwrap().trunc())
                .collect();
            let probes: Vec<IpAddr> = qs
                .iter()
                .map(|&a| IpAddr::V6(a.into()))
                .chain(d.iter().map(|n| n.addr()))
                .collect();
            check(&d, &probes);
        }
    }
}
