//! The address space a family's endpoints share, cut into pieces at every
//! prefix that can change a lookup's answer, and each endpoint's peers in it.

use super::space::{self, Range};
use super::{Endpoint, FastMap, FastSet, LinkClass, Outcome};
use crate::grammar::Family;
use crate::model::{Host, fam_idx};
use std::net::IpAddr;

/// Destinations that are never peers: loopback, unspecified, link-local,
/// multicast, limited broadcast, reserved, IPv4-mapped.
pub(super) fn never_peers(fam: Family) -> Vec<Range> {
    // 0.0.0.0/8, 127.0.0.0/8, 169.254.0.0/16, 224.0.0.0/4, 240.0.0.0/4;
    // ::/128, ::1/128, ::ffff:0:0/96, fe80::/10, ff00::/8 (as numbers: no
    // text to parse for every host).
    let blocks: [(u128, u8); 5] = match fam {
        Family::Inet => [
            (0, 8),
            (127 << 24, 8),
            (0xa9fe << 16, 16),
            (0xe << 28, 4),
            (0xf << 28, 4),
        ],
        Family::Inet6 => [
            (0, 128),
            (1, 128),
            (0xffff << 32, 96),
            (0xfe80 << 112, 10),
            (0xff << 120, 8),
        ],
    };
    blocks.map(|(s, p)| Range::block(fam, s, p)).to_vec()
}

/// The connected prefixes of each link (from its addresses).
pub(super) fn connected(host: &Host, fam: Family) -> Vec<(&str, ipnet::IpNet)> {
    host.addrs
        .iter()
        .filter(|a| a.addr.family == fam)
        .filter_map(|a| {
            let len = a.addr.prefixlen;
            let base = a.addr.peer.unwrap_or(a.addr.local);
            ipnet::IpNet::new(base, len)
                .ok()
                .map(|n| (a.link.as_str(), n.trunc()))
        })
        .collect()
}

/// The prefixes whose bounds are where a lookup's answer can change: every
/// route's, every rule's `to`, the connected prefixes, the host's own
/// addresses, the never-peers; in `block_order`, each once. `but`: a host
/// whose tables, where `host` shares them, are cut already.
pub(super) fn cut_blocks(
    host: &Host,
    fam: Family,
    conn: &[(&str, ipnet::IpNet)],
    but: Option<&Host>,
) -> Vec<Range> {
    let fi = fam_idx(fam);
    // The tables' prefixes (each table's in order) merged at once, by a
    // heap of each table's next: a full table per upstream holds the same
    // prefixes, listed once (gathered and sorted, three such tables were
    // 84 MB and a sort's scratch); merged one table after another, a host
    // with a table per address was quadratic.
    // The rest: small or changed tables' prefixes and the others, sorted.
    let mut sorted: Vec<Range> = Vec::new();
    let mut lists = Vec::new();
    let mut most = 0;
    for (name, t) in &host.tables[fi] {
        if but.is_some_and(|b| b.tables[fi].get(name).is_some_and(|o| o.is_shared_with(t))) {
            continue;
        }
        match t.prefixes() {
            // Small tables' prefixes (a host with a table per address has
            // thousands) are sorted with the others: a heap of a list per
            // table was 5% of such a host.
            Some(ps) if t.len() >= MERGED_FROM => {
                most += t.len();
                lists.push(ps);
            }
            _ => sorted.extend(t.routes.iter().map(|e| Range::of(&e.route.dst))),
        }
    }
    let mut heap = std::collections::BinaryHeap::with_capacity(lists.len());
    for (i, ps) in lists.iter_mut().enumerate() {
        if let Some(n) = ps.next() {
            heap.push(Next(Range::of(&n), i));
        }
    }
    let mut blocks: Vec<Range> = Vec::with_capacity(most);
    while let Some(mut top) = heap.peek_mut() {
        let Next(r, i) = *top;
        if blocks.last() != Some(&r) {
            blocks.push(r);
        }
        match lists[i].next() {
            Some(n) => top.0 = Range::of(&n),
            None => drop(std::collections::binary_heap::PeekMut::pop(top)),
        }
    }
    sorted.extend(other_blocks(host, fam, conn));
    let sorted = sorted_blocks(sorted);
    merge_sorted(&blocks, sorted.iter().copied(), sorted.len(), |a, b| {
        block_order(a, b).is_lt()
    })
}

/// Tables of fewer routes are not merged by `cut_blocks` but sorted.
const MERGED_FROM: usize = 256;

/// A table's next prefix in `cut_blocks`' merge, and the table: the heap's
/// greatest is the first in `block_order`.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Next(Range, usize);

impl Ord for Next {
    fn cmp(&self, o: &Next) -> std::cmp::Ordering {
        block_order(&o.0, &self.0).then(o.1.cmp(&self.1))
    }
}

impl PartialOrd for Next {
    fn partial_cmp(&self, o: &Next) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}

/// Each prefix of table `t` as its index in `blocks` (sorted by
/// `block_order`, deduplicated), to `f`: found along the blocks where the
/// table is indexed (its prefixes in that order), else searched for.
pub(super) fn each_block_of(
    blocks: &[Range],
    t: &crate::model::FibTable,
    mut f: impl FnMut(usize),
) {
    match t.prefixes() {
        Some(ps) => {
            let mut at = 0;
            for n in ps {
                let r = Range::of(&n);
                at = seek(blocks, at, &r);
                if blocks.get(at) == Some(&r) {
                    f(at);
                    at += 1;
                }
            }
        }
        None => {
            for e in t.routes.iter() {
                let r = Range::of(&e.route.dst);
                if let Some(i) = block_at(blocks, &r) {
                    f(i);
                }
            }
        }
    }
}

/// Block `r`'s index in `blocks` (sorted by `block_order`), if there.
pub(super) fn block_at(blocks: &[Range], r: &Range) -> Option<usize> {
    blocks.binary_search_by(|b| block_order(b, r)).ok()
}

/// The first block from `at` on that is not before `r` (a galloping
/// search: the next prefix of a table is most often the next block).
fn seek(blocks: &[Range], at: usize, r: &Range) -> usize {
    let before = |b: &Range| block_order(b, r).is_lt();
    let (mut lo, mut hi, mut step) = (at, at, 1);
    while hi < blocks.len() && before(&blocks[hi]) {
        lo = hi + 1;
        hi += step;
        step *= 2;
    }
    let hi = hi.min(blocks.len());
    lo + blocks[lo..hi].partition_point(before)
}

/// The prefixes `cut_blocks` cuts at that are no table's: every rule's
/// `to`, the connected prefixes, the host's own addresses, the never-peers.
pub(super) fn other_blocks<'a>(
    host: &'a Host,
    fam: Family,
    conn: &'a [(&str, ipnet::IpNet)],
) -> impl Iterator<Item = Range> + 'a {
    let full = if fam == Family::Inet { 32 } else { 128 };
    let tos = host.rules[fam_idx(fam)]
        .iter()
        .filter_map(|r| r.rule.to.as_ref())
        .map(Range::of);
    let addrs = host
        .addrs
        .iter()
        .filter(move |a| a.addr.family == fam)
        .filter_map(move |a| ipnet::IpNet::new(a.addr.local, full).ok())
        .map(|n| Range::of(&n));
    tos.chain(conn.iter().map(|(_, n)| Range::of(n)))
        .chain(addrs)
        .chain(never_peers(fam))
}

/// Every bound of `blocks` (sorted as `Space::cut` sorts them) below
/// `top`, and 0, ascending and once each. Prefixes nest or are disjoint,
/// so the ends of those holding the current start pop off a stack in
/// order: one sweep, not a sort of two million bounds (a full table).
fn bounds(blocks: &[Range], top: u128) -> Vec<u128> {
    let mut pts: Vec<u128> = Vec::with_capacity(blocks.len() * 2 + 1);
    pts.push(0);
    let mut open: Vec<u128> = Vec::new();
    for b in blocks {
        while let Some(e) = open.pop_if(|e| *e <= b.start) {
            pts.push(e);
        }
        pts.push(b.start);
        open.push(b.end);
    }
    while let Some(e) = open.pop() {
        pts.push(e);
    }
    pts.retain(|&p| p < top);
    // Ranges that overlap without nesting (none are made) would break
    // the order.
    if !pts.is_sorted() {
        pts.sort_unstable();
    }
    pts.dedup();
    pts
}

/// Sorted, merged ranges: membership by binary search.
#[derive(Debug, Default, Clone)]
pub(super) struct RangeSet(Vec<Range>);

impl RangeSet {
    pub(super) fn new(mut v: Vec<Range>) -> Self {
        v.sort_unstable();
        let mut out: Vec<Range> = Vec::with_capacity(v.len());
        for r in v {
            match out.last_mut() {
                Some(l) if r.start <= l.end => l.end = l.end.max(r.end),
                _ => out.push(r),
            }
        }
        RangeSet(out)
    }

    pub(super) fn ranges(&self) -> &[Range] {
        &self.0
    }

    pub(super) fn contains(&self, x: u128) -> bool {
        let i = self.0.partition_point(|r| r.end <= x);
        self.0.get(i).is_some_and(|r| r.contains(x))
    }
}

/// Membership of points asked in ascending order (a walk over the pieces):
/// each range is passed once instead of a binary search per point.
#[derive(Clone, Copy)]
pub(super) struct Cursor<'a> {
    set: &'a [Range],
    i: usize,
}

impl<'a> Cursor<'a> {
    pub(super) fn new(s: &'a RangeSet) -> Self {
        Cursor { set: &s.0, i: 0 }
    }

    /// Whether `x` is in the set; `x` is at least the last point asked.
    pub(super) fn contains(&mut self, x: u128) -> bool {
        advance(self.set, &mut self.i, |r| r.end <= x);
        self.set.get(self.i).is_some_and(|r| r.contains(x))
    }
}

/// Moves `i` past the items of `v` that are `passed` (a prefix of `v`,
/// asked again at each point of an ascending walk): mostly a step, and a
/// search over the rest on a long jump (a list denser than the points).
pub(super) fn advance<T>(v: &[T], i: &mut usize, passed: impl Fn(&T) -> bool) {
    if v.get(*i).is_some_and(&passed) {
        *i += 1;
        if v.get(*i).is_some_and(&passed) {
            *i += v[*i..].partition_point(passed);
        }
    }
}

/// What every endpoint of one family shares: the pieces' boundaries, the
/// connected prefixes (and whether their link is internal), the never-peers,
/// and which pieces are alike.
pub(crate) struct Space<'h> {
    pub(super) fam: Family,
    pub(super) pts: Vec<u128>,
    /// For each piece, its kind: the smallest prefix of `blocks` that holds
    /// it (its index; `blocks.len()` when none does). Prefixes nest or are
    /// disjoint, so the prefixes holding a piece are that one and those
    /// around it; a lookup reads its destination only through the route
    /// and rule prefixes holding it, and the rest of an outcome through the
    /// connected and never-peer ones: pieces of one kind have one outcome,
    /// looked up once (a /8 route around a /16 one makes two pieces of a
    /// kind, before and after it; about half the lookups of a scan).
    pub(super) kind: Vec<u32>,
    /// How many kinds there are (`blocks.len() + 1`).
    pub(super) kinds: usize,
    /// Every connected prefix, merged.
    pub(super) any_conn: RangeSet,
    /// Each link's connected prefixes, merged: shared by the spaces
    /// `refine` makes (a copy per fix step was a concentrator's links²).
    pub(super) link_conn: std::sync::Arc<FastMap<&'h str, RangeSet>>,
    /// The connected prefixes of internal links, with their link.
    pub(super) internal: Vec<(&'h str, Range)>,
    pub(super) never: RangeSet,
    /// The host's container links, addressed or not.
    pub(super) internal_devs: FastSet<&'h str>,
    /// The prefixes cut at, sorted as `kind` numbers them, kept for
    /// `refine` (none on a large host: a BGP table's would be 30 MB).
    blocks: Option<Vec<Range>>,
    /// The kinds only some groups tell apart (none: every group all; a
    /// space cut for two models).
    pub(super) narrow: Option<std::sync::Arc<super::narrow::Narrow>>,
}

/// `Space::refine` keeps a host's blocks up to this many.
const KEEP_BLOCKS: usize = 1 << 16;

/// Outer prefixes before the inner ones starting with them (`kind`'s order).
fn block_order(a: &Range, b: &Range) -> std::cmp::Ordering {
    a.start.cmp(&b.start).then(b.end.cmp(&a.end))
}

/// `v` in `block_order`, deduplicated: as `Space::refine` takes it.
pub(super) fn sorted_blocks(mut v: Vec<Range>) -> Vec<Range> {
    v.sort_unstable_by(block_order);
    v.dedup();
    v
}

/// Each piece's kind: the index in `blocks` (sorted by `block_order`,
/// deduplicated) of the smallest block holding the piece starting at each
/// of `pts`, else `blocks.len()`.
fn kinds_of(pts: &[u128], blocks: &[Range]) -> Vec<u32> {
    let mut kind = Vec::with_capacity(pts.len());
    let mut open: Vec<(u128, u32)> = Vec::new();
    let mut next = 0;
    for &x in pts {
        while open.last().is_some_and(|&(end, _)| end <= x) {
            open.pop();
        }
        while let Some(b) = blocks.get(next).filter(|b| b.start <= x) {
            open.push((b.end, next as u32));
            next += 1;
        }
        kind.push(open.last().map_or(blocks.len() as u32, |&(_, k)| k));
    }
    kind
}

/// Two sorted, deduplicated lists as one (`dedup` on the merge); `b`
/// holds `n` items.
fn merge_sorted<T: Copy + PartialEq>(
    a: &[T],
    b: impl Iterator<Item = T>,
    n: usize,
    less: impl Fn(&T, &T) -> bool,
) -> Vec<T> {
    let mut out = Vec::with_capacity(a.len() + n);
    let mut b = b.peekable();
    let mut i = 0;
    loop {
        let x = match (a.get(i), b.peek()) {
            (Some(x), Some(y)) if less(y, x) => b.next().expect("peeked"),
            (Some(x), _) => {
                i += 1;
                *x
            }
            (None, Some(_)) => b.next().expect("peeked"),
            (None, None) => break,
        };
        if out.last() != Some(&x) {
            out.push(x);
        }
    }
    out
}

impl<'h> Space<'h> {
    pub(crate) fn new(host: &'h Host, fam: Family, class: &LinkClass) -> Self {
        Self::cut(host, fam, class, None)
    }

    /// The space cut for `host` and `other` at once (the same links and
    /// addresses, other rules and routes): within one piece both models
    /// answer every lookup alike (`fix` compares them piece by piece).
    pub(crate) fn union(host: &'h Host, other: &Host, fam: Family, class: &LinkClass) -> Self {
        Self::cut(host, fam, class, Some(other))
    }

    pub(super) fn cut(
        host: &'h Host,
        fam: Family,
        class: &LinkClass,
        other: Option<&Host>,
    ) -> Self {
        let conn = connected(host, fam);
        let top = space::top(fam);
        let mut blocks = cut_blocks(host, fam, &conn, None);
        if let Some(o) = other {
            // The tables `o` shares with `host` hold the same prefixes.
            let theirs = cut_blocks(o, fam, &conn, Some(host));
            blocks = merge_sorted(&blocks, theirs.iter().copied(), theirs.len(), |a, b| {
                block_order(a, b).is_lt()
            });
        }
        let pts = bounds(&blocks, top);
        let kind = kinds_of(&pts, &blocks);
        let narrow = match other {
            None => super::narrow::Narrow::of(host, fam, &conn, &blocks, &kind),
            Some(_) => None,
        };
        let conn: Vec<(&'h str, Range, bool)> = conn
            .iter()
            .map(|&(l, n)| (l, Range::of(&n), class.is_internal(l)))
            .collect();
        let mut by_link: FastMap<&'h str, Vec<Range>> = Default::default();
        for &(l, r, _) in &conn {
            by_link.entry(l).or_default().push(r);
        }
        Space {
            fam,
            pts,
            kind,
            kinds: blocks.len() + 1,
            any_conn: RangeSet::new(conn.iter().map(|c| c.1).collect()),
            link_conn: std::sync::Arc::new(
                by_link
                    .into_iter()
                    .map(|(l, v)| (l, RangeSet::new(v)))
                    .collect(),
            ),
            internal: conn
                .iter()
                .filter(|c| c.2)
                .map(|&(l, r, _)| (l, r))
                .collect(),
            never: RangeSet::new(never_peers(fam)),
            internal_devs: host
                .links
                .iter()
                .map(|l| l.name.as_str())
                .filter(|n| class.is_internal(n))
                .collect(),
            blocks: (blocks.len() <= KEEP_BLOCKS).then_some(blocks),
            narrow: narrow.map(std::sync::Arc::new),
        }
    }

    /// `union(host, other, ..)` from `self`, cut for `host` alone: `extra`
    /// holds the blocks `other` has that `host` may not (each one a block of
    /// `other`: a route's prefix or a rule's `to`). The same pieces and
    /// kinds, by merging instead of cutting both models from scratch (a fix
    /// plan's model differs from the host by its few routes and rules).
    /// None where `self` kept no blocks. `extra` comes sorted by
    /// `block_order` and deduplicated (`sorted_blocks`): its caller keeps it
    /// so, to tell whether the next step's is the same.
    pub(crate) fn refine(&self, extra: &[Range]) -> Option<Self> {
        debug_assert!(extra.windows(2).all(|w| block_order(&w[0], &w[1]).is_lt()));
        let old = self.blocks.as_ref()?;
        let top = space::top(self.fam);
        let blocks = merge_sorted(old, extra.iter().copied(), extra.len(), |a, b| {
            block_order(a, b).is_lt()
        });
        let mut more: Vec<u128> = extra
            .iter()
            .flat_map(|r| [r.start, r.end])
            .filter(|&p| p < top)
            .collect();
        more.sort_unstable();
        let pts = merge_sorted(&self.pts, more.iter().copied(), more.len(), |a, b| a < b);
        let kind = kinds_of(&pts, &blocks);
        Some(Space {
            fam: self.fam,
            pts,
            kind,
            kinds: blocks.len() + 1,
            any_conn: self.any_conn.clone(),
            link_conn: self.link_conn.clone(),
            internal: self.internal.clone(),
            never: self.never.clone(),
            internal_devs: self.internal_devs.clone(),
            blocks: Some(blocks),
            narrow: None,
        })
    }

    /// Whether the space is cut at prefix `r` (one of the blocks `refine`
    /// keeps; none kept: no).
    pub(crate) fn holds_block(&self, r: &Range) -> bool {
        self.blocks
            .as_ref()
            .is_some_and(|b| block_at(b, r).is_some())
    }

    /// A reply from an address on `iface` that leaves by `dev` via `gw`
    /// goes straight into a container link from outside the containers:
    /// delivered on the host (a container link's own replies to another
    /// one are a leak like any other).
    pub(crate) fn delivered_to_container(
        &self,
        iface: &str,
        dev: &str,
        gw: Option<IpAddr>,
    ) -> bool {
        gw.is_none() && self.internal_devs.contains(dev) && !self.internal_devs.contains(iface)
    }

    /// The pieces, as (start, end, kind).
    pub(super) fn pieces(&self) -> impl Iterator<Item = (u128, u128, usize)> + '_ {
        let top = space::top(self.fam);
        self.pts.iter().enumerate().map(move |(i, &start)| {
            let end = self.pts.get(i + 1).copied().unwrap_or(top);
            (start, end, self.kind[i] as usize)
        })
    }
}

/// One endpoint's view of its family's space: its own link's prefixes, and
/// the prefixes of internal links (container bridges): requests from there
/// arrive on that link, so they are no other endpoint's peers.
pub(super) struct Peers {
    pub(super) own: RangeSet,
    pub(super) internal: RangeSet,
    /// The endpoint is itself internal: anything outside its own prefixes
    /// is foreign.
    pub(super) is_internal: bool,
    /// A 127/8 endpoint on a link with route_localnet: its own prefix is
    /// peers, though 127/8 is a never-peer for everyone else.
    pub(super) localnet: bool,
    /// Foreign whatever else holds (`add_foreign`).
    pub(super) foreign: RangeSet,
}

impl Peers {
    pub(super) fn new(sp: &Space<'_>, ep: &Endpoint) -> Self {
        Peers {
            own: sp
                .link_conn
                .get(ep.interface.as_str())
                .cloned()
                .unwrap_or_default(),
            internal: RangeSet::new(
                sp.internal
                    .iter()
                    .filter(|(l, _)| *l != ep.interface)
                    .map(|&(_, r)| r)
                    .collect(),
            ),
            is_internal: ep.internal,
            localnet: matches!(ep.address, IpAddr::V4(v) if v.is_loopback()),
            foreign: RangeSet::default(),
        }
    }

    /// No endpoint's: no link, no prefix of its own (a template's walk,
    /// `analyse::delta`).
    pub(super) fn none(sp: &Space<'_>) -> Self {
        Peers {
            own: RangeSet::default(),
            internal: RangeSet::new(sp.internal.iter().map(|&(_, r)| r).collect()),
            is_internal: false,
            localnet: false,
            foreign: RangeSet::default(),
        }
    }

    /// Makes `extra` foreign, own prefixes included (a pod's: the other
    /// pods, inside its uplink's subnet).
    pub(super) fn add_foreign(&mut self, extra: &RangeSet) {
        self.foreign = extra.clone();
    }
}

/// `Peers` asked about the pieces in ascending order (`Space::pieces`, the
/// only way the analysis and the fix walk them): the four sets merged once
/// into segments, each with what `without_lookup` and `is_own` answer in
/// it, passed by one cursor (four cursors a piece were a quarter of the
/// walk of a host whose 10,000 addresses each walk 20,000 pieces).
pub(super) struct PeerWalk {
    /// (end, class) in ascending order, covering the space: `OWN`, and
    /// `SKIP` or `FOREIGN`.
    segs: Vec<(u128, u8)>,
    i: usize,
}

const OWN: u8 = 1;
const SKIP: u8 = 2;
const FOREIGN: u8 = 4;

impl PeerWalk {
    pub(super) fn new(p: &Peers, sp: &Space<'_>) -> Self {
        let sets = [&p.own, &sp.never, &p.foreign, &p.internal];
        let mut bounds: Vec<u128> = sets
            .iter()
            .flat_map(|s| s.0.iter().flat_map(|r| [r.start, r.end]))
            .collect();
        bounds.push(space::top(sp.fam));
        bounds.sort_unstable();
        bounds.dedup();
        let mut segs: Vec<(u128, u8)> = Vec::with_capacity(bounds.len());
        let mut cursors = sets.map(Cursor::new);
        let mut at = 0;
        for end in bounds {
            if end == 0 {
                continue;
            }
            let [own, never, foreign, internal] = cursors.each_mut().map(|c| c.contains(at));
            let foreign = foreign
                || if p.is_internal {
                    !own
                } else {
                    !own && internal
                };
            let mut class = if own { OWN } else { 0 };
            if never && !(p.localnet && own) {
                class |= SKIP;
            } else if foreign {
                class |= FOREIGN;
            }
            match segs.last_mut() {
                Some(l) if l.1 == class => l.0 = end,
                _ => segs.push((end, class)),
            }
            at = end;
        }
        PeerWalk { segs, i: 0 }
    }

    /// Whether `t` (a walk without prefixes of its own, `Peers::none`)
    /// has these segments, own prefixes left out: then the two differ in
    /// `is_own` only.
    pub(super) fn same_but_own(&self, t: &PeerWalk) -> bool {
        let mut theirs = t.segs.iter();
        let mut cur: Option<(u128, u8)> = None;
        for &(end, c) in &self.segs {
            let c = c & !OWN;
            match &mut cur {
                Some(x) if x.1 == c => x.0 = end,
                _ => {
                    if let Some(x) = cur.replace((end, c))
                        && theirs.next() != Some(&x)
                    {
                        return false;
                    }
                }
            }
        }
        cur.is_none_or(|x| theirs.next() == Some(&x)) && theirs.next().is_none()
    }

    /// The class of the segment holding `x` (`x` at least the last asked).
    fn class(&mut self, x: u128) -> u8 {
        advance(&self.segs, &mut self.i, |s| s.0 <= x);
        self.segs.get(self.i).map_or(0, |s| s.1)
    }

    pub(super) fn is_own(&mut self, x: u128) -> bool {
        self.class(x) & OWN != 0
    }

    /// Where the segment holding `x` ends: every piece from `x` up to there
    /// gets the same `without_lookup` (the segments' bounds are pieces'
    /// bounds, but a pod's foreign ranges').
    pub(super) fn segment_end(&mut self, x: u128) -> u128 {
        self.class(x);
        self.segs.get(self.i).map_or(x, |s| s.0)
    }

    /// `Skip` or `Foreign` when the piece starting at `x` needs no lookup
    /// (`x` at least the last point asked): a never-peer is skipped (but a
    /// loopback endpoint's own range under route_localnet), another
    /// endpoint's prefix or an internal link's is foreign.
    pub(super) fn without_lookup(&mut self, x: u128) -> Option<Outcome> {
        let c = self.class(x);
        if c & SKIP != 0 {
            Some(Outcome::Skip)
        } else if c & FOREIGN != 0 {
            Some(Outcome::Foreign)
        } else {
            None
        }
    }
}

/// The device the reply leaves by when it is not `iface`: the route's, or
/// the first multipath nexthop's on another device. A leg straight into a
/// container link (no gateway: a pod's /32 to its veth) is delivered on the
/// host, not a leak.
pub(super) fn other_dev<'a>(
    h: &'a crate::model::Hit,
    iface: &str,
    sp: &Space<'_>,
) -> Option<&'a str> {
    let leaks =
        |d: &str, gw: Option<IpAddr>| d != iface && !sp.delivered_to_container(iface, d, gw);
    if h.nexthops.is_empty() {
        leaks(&h.dev, h.gateway).then_some(h.dev.as_str())
    } else {
        h.nexthops
            .iter()
            .find(|n| leaks(&n.dev, n.gateway))
            .map(|n| n.dev.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grammar::Family;
    use crate::verdict::testhosts;

    /// Every table's prefixes and the others `cut_blocks` cuts at,
    /// gathered whole and sorted, as they were.
    fn gathered(host: &Host, fam: Family, conn: &[(&str, ipnet::IpNet)]) -> Vec<Range> {
        let mut v: Vec<Range> = host.tables[fam_idx(fam)]
            .values()
            .flat_map(|t| t.routes.iter().map(|e| Range::of(&e.route.dst)))
            .collect();
        v.extend(other_blocks(host, fam, conn));
        sorted_blocks(v)
    }

    /// The tables' prefixes merged are those gathered and sorted (large
    /// tables merged by the heap, small ones sorted); each table's are
    /// found among them where they are, indexed (along the blocks) or not
    /// (searched for: a table changed since).
    #[test]
    fn merged_tables_cut_where_their_gathered_prefixes_do() {
        let mut rng = testhosts::Rng(0x2545_f491_4f6c_dd1d);
        let mut several = 0;
        let mut merged = 0;
        for i in 0..300 {
            let h = match i % 3 {
                0 => testhosts::random_host(&mut rng),
                1 => testhosts::random_narrow_host(&mut rng),
                _ => testhosts::random_upstream_tables(&mut rng),
            };
            merged += h.tables[0]
                .values()
                .filter(|t| t.len() >= MERGED_FROM)
                .count();
            for fam in [Family::Inet, Family::Inet6] {
                let conn = connected(&h, fam);
                let blocks = cut_blocks(&h, fam, &conn, None);
                assert_eq!(blocks, gathered(&h, fam, &conn));
                let tables = &h.tables[fam_idx(fam)];
                several += (tables.len() > 2) as usize;
                for t in tables.values() {
                    let dsts: Vec<Range> =
                        t.routes.iter().map(|e| Range::of(&e.route.dst)).collect();
                    let mut found = Vec::new();
                    each_block_of(&blocks, t, |b| found.push(blocks[b]));
                    assert!(t.prefixes().is_some());
                    assert_eq!(found, sorted_blocks(dsts.clone()));
                    // Changed: not indexed, each route's prefix in order.
                    let mut changed = t.clone();
                    if let Some(e) = t.routes.first() {
                        changed.push(e.clone());
                    }
                    assert!(changed.prefixes().is_none() || t.routes.is_empty());
                    found.clear();
                    each_block_of(&blocks, &changed, |b| found.push(blocks[b]));
                    let want: Vec<Range> = changed
                        .routes
                        .iter()
                        .map(|e| Range::of(&e.route.dst))
                        .collect();
                    if changed.prefixes().is_none() {
                        assert_eq!(found, want);
                    }
                }
            }
        }
        assert!(several > 100, "{several} with several tables");
        assert!(merged > 300, "{merged} tables merged");
    }
}
