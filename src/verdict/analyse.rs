//! One endpoint's analysis: a reply lookup per kind of piece (shared by
//! endpoints the rules meet alike), outcomes grouped into leaks and
//! no-route ranges by what the report shows, and their text.

pub(super) mod delta;
mod pieces;
pub(super) mod quiet;

use super::fix::{KeptLookup, KeptLookups};
use super::peers::PeerWalk;
use super::quote::Quoter;
use super::space::{self, Range};
use super::{
    Endpoint, FastMap, Impact, Leak, Leg, LinkClass, NoRoute, Peers, Scope, Space, Verdict,
};
use crate::grammar::intern::Name;
use crate::grammar::{Family, RouteType, Table};
use crate::model::{Host, KernelError};
use ipnet::IpNet;
use std::net::IpAddr;
use std::sync::Arc;

/// A piece's outcome for one endpoint, by what the report shows: equal
/// outcomes form one leak entry whatever route decided each piece (a BGP
/// table's routes via one gateway are one leak, not one per route).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Outcome {
    /// Leaves by the endpoint's own link.
    Ok,
    /// Not a peer, and too small to matter: the host's own and broadcast
    /// addresses (a local or broadcast answer). A range may span it.
    Skip,
    /// A never-peer range (loopback, link-local, multicast, 0.0.0.0/8,
    /// 240/4, …): no range of destinations spans it, and summaries pass
    /// over it.
    Never,
    /// Not a peer because it belongs to another endpoint: an internal link's
    /// prefix (or, for an internal endpoint, anything outside its own).
    /// Replies there leave their own way, so no range of this endpoint may
    /// span it (the kernel would contradict the range's egress or error).
    Foreign,
    Leak {
        scope: Scope,
        /// The egress device, as an index into the family's device names.
        egress: u32,
        gateway: Option<IpAddr>,
        hash: bool,
        /// With `hash`: the legs, as an index into `Memo::legs`.
        legs: u32,
        rule: Option<u32>,
        /// The deciding route's table, as an index into `Memo::tables`.
        table: Option<u32>,
        /// `Leak::own_leg`.
        own_leg: bool,
    },
    NoRoute {
        error: KernelError,
        rule: Option<u32>,
        table: Option<u32>,
        /// Some flows only: a multipath leg refuses them (`NoRoute::hash_dependent`).
        hash: bool,
    },
}

/// A multipath leg: (device index, gateway).
pub(super) type LegKey = (u32, Option<IpAddr>);

/// A hit's legs (`RawAnswer::Hit`): its multipath list among `hops`, else
/// its one leg.
pub(super) fn hit_legs<'a>(
    hops: &'a [Box<[LegKey]>],
    nexthops: u32,
    one: &'a [LegKey; 1],
) -> &'a [LegKey] {
    if nexthops == 0 {
        one
    } else {
        &hops[nexthops as usize]
    }
}

/// A route of the model: (index into `Memo::tables`, index in that table).
pub(super) type RouteKey = (u32, u32);

/// One reply lookup's answer, as much of it as a verdict reads. It does not
/// depend on the endpoint, only on how the rules meet its address.
#[derive(Debug)]
pub(super) struct Raw {
    /// All but the route, as an index into `Memo::shapes`.
    pub(super) shape: u32,
    pub(super) route: Option<RouteKey>,
    /// The lookup itself, as the fix keeps it: an index into `Memo::kept`.
    pub(super) kept: u32,
}

/// An answer but for its route, each once (`Memo::shape`): a full table's
/// million answers (72 bytes each when whole) have a handful of shapes.
#[derive(Debug, Eq, Clone)]
pub(super) struct Shape {
    pub(super) answer: RawAnswer,
    pub(super) rule: Option<u32>,
    /// The route is a direct route to a prefix (not a default): a leak by
    /// it is cross-subnet.
    pub(super) direct_prefix: bool,
    /// Rules reached whose selectors the dumps cannot settle.
    pub(super) conditional: Box<[u32]>,
    /// The answer may depend on the source address itself, not only on
    /// how the rules meet it (`Memo::by_source`).
    pub(super) by_source: bool,
}

/// Field by field, the rule lists by length first: nearly all are empty,
/// and a slice compare calls `memcmp` even then (a tenth of a leaf
/// switch's analysis compared each answer with the last one).
impl PartialEq for Shape {
    fn eq(&self, o: &Shape) -> bool {
        self.answer == o.answer
            && self.rule == o.rule
            && self.direct_prefix == o.direct_prefix
            && self.by_source == o.by_source
            && self.conditional.len() == o.conditional.len()
            && (self.conditional.is_empty() || self.conditional == o.conditional)
    }
}

impl std::hash::Hash for Shape {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.answer.hash(h);
        self.rule.hash(h);
        self.direct_prefix.hash(h);
        self.by_source.hash(h);
        self.conditional.hash(h);
    }
}

#[derive(Debug, PartialEq, Eq, Hash, Clone)]
pub(super) enum RawAnswer {
    /// Local, broadcast, multicast: not a reply that leaves.
    NotUnicast,
    Err(KernelError),
    Hit {
        dev: u32,
        gateway: Option<IpAddr>,
        /// Every nexthop (device, gateway) of a multipath route: an index
        /// into `Memo::hops` (0: none). A full table of multipath routes
        /// gets the same few lists for a million lookups.
        nexthops: u32,
        hash: bool,
        /// What the legs the kernel may hash to but that refuse the flow
        /// answer (a 127/8 source over a leg without route_localnet).
        refused: Option<KernelError>,
    },
}

/// The answers looked up, by index, in blocks of a fixed size: a full
/// table's groups add a million answers each, and a vector grown by
/// doubling held the old and the new at once (+150 MB on the multipath
/// table, whose three addresses are each a group).
#[derive(Default)]
pub(super) struct Raws {
    blocks: Vec<Vec<Raw>>,
    /// By index, a bit an answer: not a reply that leaves, and no rule
    /// left unsettled (`is_skip`).
    skip: Vec<u64>,
}

impl Raws {
    const SHIFT: u32 = 16;

    fn push(&mut self, r: Raw, skip: bool) -> u32 {
        let full = self
            .blocks
            .last()
            .is_none_or(|b| b.len() == 1 << Self::SHIFT);
        if full {
            self.blocks.push(Vec::with_capacity(1 << Self::SHIFT));
        }
        let n = self.blocks.len() - 1;
        let b = &mut self.blocks[n];
        b.push(r);
        let i = (n << Self::SHIFT) + b.len() - 1;
        if self.skip.len() <= i / 64 {
            self.skip.push(0);
        }
        self.skip[i / 64] |= (skip as u64) << (i % 64);
        i as u32
    }

    pub(super) fn get(&self, i: u32) -> &Raw {
        &self.blocks[(i >> Self::SHIFT) as usize][(i & ((1 << Self::SHIFT) - 1)) as usize]
    }

    /// Answer `i` is a local or broadcast one that no unsettled rule
    /// reached: the piece is `Outcome::Skip` for every endpoint, and the
    /// answer need not be read (a host with an address per rule has
    /// thousands of such pieces for each endpoint).
    fn is_skip(&self, i: u32) -> bool {
        self.skip[i as usize / 64] >> (i % 64) & 1 == 1
    }
}

/// The lookups one family's endpoints share: endpoints whose addresses meet
/// the rules alike get the same answer for every destination, so each kind
/// of piece is looked up once per such group, not once per endpoint (a
/// host with 10,000 addresses has a handful of groups).
#[derive(Default)]
pub(super) struct Memo<'h> {
    pub(super) names: Vec<String>,
    pub(super) name_idx: FastMap<String, u32>,
    /// The device named last (`Memo::dev`): a walk's answers name a few
    /// devices, mostly the last one again, each a shared `Name`.
    name_last: Option<(Name, u32)>,
    /// Each name's place among `names` in text order (`by_rank`), for as
    /// many names as it covers.
    name_rank: Vec<u32>,
    pub(super) internal: Vec<Option<bool>>,
    /// The tables of the routes found, each once (by table), with the
    /// model's table: a host with a table per address has thousands, and
    /// each endpoint's report reads the routes of its leaks.
    pub(super) tables: Vec<(Table, Option<&'h crate::model::FibTable>)>,
    table_idx: FastMap<Table, u32>,
    /// The leg lists of hash-dependent leaks (device index, gateway), each
    /// once.
    pub(super) legs: Vec<Box<[LegKey]>>,
    /// Each distinct leak once (endpoints share them: `Endpoint::leaks`).
    leaks: super::FastSet<std::sync::Arc<Leak>>,
    /// The same leaks by what they are made of.
    leak_keys: LeakKeys,
    /// Each leak's routes' widest and count, by the list of its routes.
    route_sets: RouteSets,
    /// The nexthop lists of multipath answers (`RawAnswer::Hit`), each
    /// once, the empty one first; and by list.
    pub(super) hops: Vec<Box<[LegKey]>>,
    hop_idx: FastMap<Box<[LegKey]>, u32>,
    /// Each table's routes' prefixes, in its order, made when a leak's
    /// exceptions are first walked: a walk reads one per piece, and a BGP
    /// edge router's walks read ~2 million each, 80 times over.
    dsts: Vec<Box<[Range]>>,
    /// The list last looked up (pieces in a row mostly share one) and its
    /// legs as the lookup named them (compared before any is numbered),
    /// and a buffer to read the next into.
    hop_last: u32,
    hop_last_legs: Vec<(Name, Option<IpAddr>)>,
    hop_buf: Vec<LegKey>,
    /// The groups of endpoints (keyed by `ReplyRules::key`), numbered in
    /// order; each group's answer of each kind of piece, into `raws`.
    pub(super) groups: FastMap<GroupKey, usize>,
    pub(super) answers: Answers,
    /// Every answer looked up, once.
    pub(super) raws: Raws,
    /// The answers' shapes, each once, and by shape.
    pub(super) shapes: Vec<Shape>,
    shape_idx: FastMap<Shape, u32>,
    shape_last: u32,
    /// The answers that depend on the source itself the last `analyse`
    /// read: (kind, a piece's start, answer), each kind once; none when
    /// more than `MET_MAX` (a twin is then not looked for).
    pub(super) met_by_source: Option<Vec<(u32, u128, u32)>>,
    /// IPv6: the destinations of routes with a `from` (their answers
    /// depend on the source itself); none when no route has one.
    pub(super) src_dsts: Option<super::peers::RangeSet>,
    /// Each distinct lookup once, for the fix (`Analysed`).
    pub(super) kept: KeptLookups,
    /// The group of each endpoint address's replies (`reply_rules`, no
    /// protocol).
    pub(super) group_of: FastMap<IpAddr, usize>,
    /// `analyse`'s buffers, emptied and filled again for each endpoint.
    scratch: Scratch,
    /// The shared answers by deciding rule, once a second group asks
    /// (`quiet`), and those shared since, not yet in it: (kind, answer,
    /// deciding rule).
    quiet: Option<quiet::Index>,
    quiet_new: Vec<(u32, u32, u32)>,
    /// Runs of pieces whose shared answer is a local or broadcast one
    /// (`skip_runs`), found once the reference group has walked.
    runs: Option<Vec<SkipRun>>,
    /// The pieces of each mixed run's other kind.
    run_others: RunOthers,
    /// Groups' walks as no endpoint's, endpoints' reports read off them.
    templates: delta::Templates,
}

/// Pieces `start..end` (indices), each of a kind whose shared answer is
/// `Raws::is_skip` and not the source's own, the deepest decided by rule
/// `depth`, but for pieces of one other kind (`other`, from piece `first`
/// to piece `last`; `NO_KIND`: none) between them: for a group that agrees
/// with the reference beyond `depth`, the skipped pieces are one `Skip`
/// piece, and the others one piece of their kind's outcome, where the peer
/// walk's answer is the same throughout (a host with 10,000 addresses in a
/// subnet walked them, and the gaps between them, for each).
#[derive(Clone, Copy)]
pub(super) struct SkipRun {
    pub(super) start: u32,
    pub(super) end: u32,
    pub(super) depth: u32,
    pub(super) other: u32,
    pub(super) first: u32,
    pub(super) last: u32,
}

pub(super) const NO_KIND: u32 = u32::MAX;

/// Runs shorter than this are walked piece by piece (these and `Narrow`'s).
pub(super) const MIN_RUN: u32 = 4;

/// The runs (`MIN_RUN` pieces or more) of pieces whose kinds `skip`
/// (`kinds`: each piece's) says are skipped, by the rule that decides them,
/// with at most one other kind among them.
pub(super) fn runs_of(kinds: &[u32], skip: impl Fn(usize) -> Option<u32>) -> Vec<SkipRun> {
    let long = |c: &SkipRun| c.end - c.start >= MIN_RUN;
    let mut runs: Vec<SkipRun> = Vec::new();
    let mut cur: Option<SkipRun> = None;
    for (i, &kind) in kinds.iter().enumerate() {
        let i = i as u32;
        match (skip(kind as usize), &mut cur) {
            (Some(d), Some(c)) => {
                c.end = i + 1;
                c.depth = c.depth.max(d);
            }
            (Some(d), None) => {
                cur = Some(SkipRun {
                    start: i,
                    end: i + 1,
                    depth: d,
                    other: NO_KIND,
                    first: 0,
                    last: 0,
                })
            }
            (None, Some(c)) if c.other == NO_KIND || c.other == kind => {
                if c.other == NO_KIND {
                    (c.other, c.first) = (kind, i);
                }
                c.last = i;
                c.end = i + 1;
            }
            (None, _) => {
                runs.extend(cur.take().filter(long));
                cur = Some(SkipRun {
                    start: i,
                    end: i + 1,
                    depth: 0,
                    other: kind,
                    first: i,
                    last: i,
                });
            }
        }
    }
    runs.extend(cur.filter(long));
    runs
}

/// How a walk takes the pieces from `i` on (`run_at`).
pub(super) enum Jump {
    /// Skipped up to this piece (an index).
    Skip(usize),
    /// The whole run, from its start: its skipped pieces before its other
    /// kind's first, that kind's pieces as one, the skipped ones after.
    Mixed(SkipRun),
}

/// The pieces of each mixed run's other kind, found once per run: a walk
/// moves from one to the next (a link's 20,000 addresses in a row between
/// two of them were walked one by one per endpoint).
#[derive(Default)]
pub(super) struct RunOthers(FastMap<u32, std::rc::Rc<[u32]>>);

impl RunOthers {
    /// Mixed run `r`'s pieces of its other kind (`kinds`: each piece's).
    pub(super) fn of(&mut self, r: SkipRun, kinds: &[u32]) -> std::rc::Rc<[u32]> {
        self.0
            .entry(r.start)
            .or_insert_with(|| {
                (r.first..=r.last)
                    .filter(|&p| kinds[p as usize] == r.other)
                    .collect()
            })
            .clone()
    }

    /// The first piece of run `r`'s other kind from piece `i` on (`i` at
    /// most the last of them).
    pub(super) fn next(&mut self, r: SkipRun, kinds: &[u32], i: u32) -> u32 {
        let o = self.of(r, kinds);
        o.get(o.partition_point(|&p| p < i))
            .copied()
            .unwrap_or(r.last)
    }
}

/// How a walk whose group agrees with the reference up to rule `agree`
/// takes the pieces from `i` on: by the run holding piece `i` (`runs[*at..]`,
/// `at` moved on as the walk goes), within the peer segment (ending at
/// address `seg_end`); none where that is less than two pieces, or piece
/// `i` is of a mixed run's other kind but for the run's start. Between the
/// other kind's pieces, up to the next of them (`others`; `kinds`: each
/// piece's): 20,000 addresses on a link, each its own /32, lie between two
/// pieces of the kind around them, in another peer segment than theirs.
#[allow(clippy::too_many_arguments)]
pub(super) fn run_at(
    runs: &[SkipRun],
    at: &mut usize,
    (pts, kinds): (&[u128], &[u32]),
    top: u128,
    i: usize,
    agree: u32,
    seg_end: impl FnOnce() -> u128,
    others: &mut RunOthers,
) -> Option<Jump> {
    let r = run_holding(runs, at, i, agree)?;
    let seg_end = seg_end();
    let end = pts.get(r.end as usize).copied().unwrap_or(top);
    if r.other != NO_KIND && i == r.start as usize && seg_end >= end {
        return Some(Jump::Mixed(r));
    }
    // The skipped pieces before the other kind's, between them, or after.
    let upto = match r.other {
        NO_KIND => r.end,
        _ if i as u32 > r.last => r.end,
        _ if (i as u32) < r.first => r.first,
        _ if kinds[i] != r.other => others.next(r, kinds, i as u32),
        _ => return None,
    } as usize;
    let last = i + pts[i..upto].partition_point(|&p| p < seg_end);
    (last > i + 1).then_some(Jump::Skip(last))
}

/// The run (`runs[*at..]`, `at` moved on as the walk goes) holding piece
/// `i`, decided by rules below `below`.
pub(super) fn run_holding(
    runs: &[SkipRun],
    at: &mut usize,
    i: usize,
    below: u32,
) -> Option<SkipRun> {
    super::peers::advance(runs, at, |r| r.end as usize <= i);
    runs.get(*at)
        .filter(|r| r.start as usize <= i && r.depth < below)
        .copied()
}

#[cfg(test)]
thread_local! {
    /// Steps of the analysis's walks on this thread: a piece each, or a
    /// run taken whole (tests count them).
    pub(crate) static WALKED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    /// Reply lookups made on another group's route (`Host::lookup_reply_on`).
    pub(crate) static ON_ROUTE: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// What `analyse` builds for one endpoint and drops at the end, kept for
/// the family's next endpoint: sized once, not grown again for each (a
/// quarter of the analysis's allocations).
#[derive(Default)]
struct Scratch {
    walked: Walked,
    grouping: Grouping,
}

/// A walk's pieces and what their lookups met, each distinct outcome once:
/// pieces name theirs by index (equal outcomes, equal indexes), so they
/// compare as numbers.
#[derive(Default)]
pub(super) struct Walked {
    pub(super) outcomes: Vec<Outcome>,
    pub(super) index: FastMap<Outcome, u32>,
    /// The outcome interned last: runs of pieces share one, checked before
    /// the map is hashed.
    prev: Option<(Outcome, u32)>,
    /// (range, outcome, deciding route), ascending; adjacent pieces with
    /// the same outcome and route are one, but where `record`ed.
    pub(super) pieces: pieces::Pieces,
    /// Rules reached that the dumps cannot settle, in the order first met,
    /// and where each was first met (a piece's start).
    pub(super) conditional: Vec<u32>,
    pub(super) cond_at: Vec<u128>,
    cond_seen: Vec<bool>,
    /// Pieces whose outcome reads the walk's link or own prefixes (a leg
    /// or nexthop on the link, a leak inside them): what another endpoint
    /// of the group would see otherwise (`delta`).
    pub(super) touched: usize,
    /// Steps walked (a piece, or a run taken whole).
    pub(super) steps: usize,
    /// Pieces pushed as they come, not merged with the last (a template's,
    /// and a span's walked against it: `delta`).
    pub(super) unmerged: bool,
    /// A template's walk (`delta::Template`): its steps and the devices of
    /// its pieces' legs, pieces not merged.
    pub(super) record: Option<delta::Record>,
}

impl Walked {
    fn intern(&mut self, o: Outcome) -> u32 {
        if let Some((p, k)) = self.prev
            && p == o
        {
            return k;
        }
        let outcomes = &mut self.outcomes;
        let k = *self.index.entry(o).or_insert_with(|| {
            outcomes.push(o);
            (outcomes.len() - 1) as u32
        });
        self.prev = Some((o, k));
        k
    }

    fn push(&mut self, r: Range, o: u32, route: Option<RouteKey>) {
        if self.unmerged {
            self.pieces.push((r, o, route));
        } else {
            self.pieces.push_merged((r, o, route));
        }
    }

    fn clear(&mut self) {
        self.outcomes.clear();
        self.index.clear();
        self.prev = None;
        self.pieces.clear();
        self.conditional.clear();
        self.cond_at.clear();
        self.cond_seen.clear();
        self.touched = 0;
        self.steps = 0;
        self.unmerged = false;
        self.record = None;
    }
}

/// `group_leaks`' buffers.
#[derive(Default)]
struct Grouping {
    group_of: Vec<u32>,
    /// The report's groups of pieces, flat: (group, deciding route) in
    /// piece order, each group's outcome, each group's last route (a
    /// group's Vecs of its own were ~150 allocations an endpoint).
    group_routes: Vec<(u32, RouteKey)>,
    group_outcome: Vec<u32>,
    last_route: Vec<Option<RouteKey>>,
    /// The groups' ranges, each group's in piece order, where each
    /// group's end, and each group's next slot while they are placed;
    /// `group_routes`' routes by group (`by_group`), and where each
    /// group's end.
    ranges: Vec<Range>,
    range_ends: Vec<usize>,
    range_next: Vec<usize>,
    route_keys: Vec<RouteKey>,
    route_ends: Vec<usize>,
    /// A leak's exceptions (`exceptions`).
    others: Exceptions,
    /// Each of the endpoint's leaks' egress (into `Memo::names`) and
    /// outcome, in the order pushed, and the permutation that orders them
    /// (`by_rank`).
    egress_of: Vec<u32>,
    outcome_of: Vec<u32>,
    order: Vec<u128>,
}

/// `items`' values in the order of their groups (`0..groups`), each
/// group's in the order they come (a counting sort: a BGP table's pieces
/// are a million, and sorting them was 6% of its analysis), into `out`;
/// `ends[g]`: where group `g`'s end.
fn by_group<T: Copy>(items: &[(u32, T)], groups: usize, out: &mut Vec<T>, ends: &mut Vec<usize>) {
    ends.clear();
    ends.resize(groups, 0);
    for &(g, _) in items {
        ends[g as usize] += 1;
    }
    let mut at = 0;
    for e in ends.iter_mut() {
        at += *e;
        *e = at;
    }
    out.clear();
    let Some(&(_, fill)) = items.first() else {
        return;
    };
    out.resize(items.len(), fill);
    // Each group's next slot, counted down from its end: placed from the
    // last item back, a group's items keep their order.
    let mut next = ends.clone();
    for &(g, v) in items.iter().rev() {
        let n = &mut next[g as usize];
        *n -= 1;
        out[*n] = v;
    }
}

/// The captured host's reply lookups the analysis made in one family, for
/// the fix's planner and judge (`fix::Captured`), which ask the same
/// questions of the same space: each distinct lookup once, each group's
/// kinds into them, each endpoint address's group.
#[derive(Default)]
pub(crate) struct Analysed {
    pub(super) lookups: KeptLookups,
    pub(super) answers: Answers,
    pub(super) group_of: FastMap<IpAddr, usize>,
}

/// `Answers::shared`'s depth of an answer the rule walk did not decide by
/// one rule (a `throw`'s `Network is unreachable`, a lookup without the
/// walk): it read every rule, and only the reference group reads it.
const READS_ALL: u32 = u32::MAX - 1;

/// Each group's answer (an index) of each kind of piece, kept once where
/// groups share it. A lookup decided by rule `r` reads no rule after it, so
/// groups whose rules' selectors agree on rules `0..=r` get the same
/// answer. Each group is compared with the first (the reference) once: a
/// host with 4,000 addresses, each with its own `from ADDR lookup T` rule,
/// has 4,000 groups whose replies to its 4,000 local addresses are all
/// decided by rule 0 (`lookup local`): one lookup each, not one per group.
#[derive(Default)]
pub(super) struct Answers {
    /// Per kind: the reference group's answer, the rule that decided it
    /// (`READS_ALL`), and whether it depends on the source itself;
    /// `u32::MAX`: none yet.
    shared: Vec<(u32, u32, bool)>,
    /// Per kind: the first answer that depends on the source (an IPv4
    /// multipath route's) of a group that agrees with the reference up to
    /// its deciding rule, with that rule (`u32::MAX`: none yet; empty:
    /// none at all).
    by_source: Vec<(u32, u32)>,
    /// Per group: its answers that the reference's are not (or might not
    /// be), and what it may share.
    groups: Vec<Group>,
    /// The kinds of the space.
    kinds: usize,
    /// The reference group's key (`ReplyTemplate::key`).
    reference: Option<Vec<u8>>,
    /// The reference group: the first with a key, whose walk gives the
    /// shared answers.
    reference_group: Option<usize>,
    /// The kinds only some groups tell apart: each group's answers are kept
    /// by kind as it sees them (`Narrow::project`).
    pub(super) narrow: Option<Arc<super::narrow::Narrow>>,
}

struct Group {
    own: Known,
    /// How many rules it agrees with the reference on (`u32::MAX`: all, the
    /// reference itself).
    agree: u32,
    /// Some answers depend on the group's address itself (a primary
    /// address's, which IPv4 multipath routes prefer the nexthops of; any
    /// address's, where IPv6 routes have a `from`: `SourceKeyed`): it takes
    /// and gives only the answers that do not (`Shape::by_source`).
    own_source: bool,
    /// The narrow tables its replies may consult (`Narrow::tables_of`;
    /// none: it tells every kind apart).
    mine: Option<Arc<[u32]>>,
}

/// The first rule that replies of two groups meet otherwise, from their
/// keys (`ReplyTemplate::key`: the rules each meets otherwise than the
/// template, ascending); none: they meet every rule alike. From the keys,
/// not the rule lists: a host with a rule per address has groups that part
/// at rule N, compared rule by rule up to there (N²).
pub(super) fn first_difference(a: &[u8], b: &[u8]) -> Option<u32> {
    // (rule, selectors) records; a key of another length (another host's
    // rule list) is told apart at once.
    if !a.len().is_multiple_of(5) || !b.len().is_multiple_of(5) {
        return Some(0);
    }
    let rec = |k: &[u8], j: usize| {
        let r = &k[j * 5..j * 5 + 5];
        (u32::from_le_bytes([r[0], r[1], r[2], r[3]]), r[4])
    };
    let (na, nb) = (a.len() / 5, b.len() / 5);
    let (mut i, mut j) = (0, 0);
    loop {
        match (i < na, j < nb) {
            (false, false) => return None,
            (true, false) => return Some(rec(a, i).0),
            (false, true) => return Some(rec(b, j).0),
            (true, true) => {
                let (x, y) = (rec(a, i), rec(b, j));
                if x != y {
                    return Some(x.0.min(y.0));
                }
                i += 1;
                j += 1;
            }
        }
    }
}

/// Answers (indices) by kind of piece: a map while they are few (a host's
/// 4,000 groups each have a handful), a vector once they are many (a full
/// table's million kinds).
#[derive(Clone)]
pub(super) enum Known {
    Few(FastMap<u32, u32>),
    Many(Vec<u32>),
}

impl Default for Known {
    fn default() -> Self {
        Known::Few(Default::default())
    }
}

impl Known {
    pub(super) fn get(&self, kind: usize) -> Option<u32> {
        match self {
            Known::Few(m) => m.get(&(kind as u32)).copied(),
            Known::Many(v) => Some(v[kind]).filter(|&k| k != u32::MAX),
        }
    }

    /// Answer `k` for `kind`, of `kinds`.
    pub(super) fn set(&mut self, kind: usize, k: u32, kinds: usize) {
        match self {
            Known::Few(m) => {
                m.insert(kind as u32, k);
                // Past an eighth of the kinds a vector is as small.
                if m.len() * 8 > kinds {
                    let mut v = vec![u32::MAX; kinds];
                    for (&kd, &x) in m.iter() {
                        v[kd as usize] = x;
                    }
                    *self = Known::Many(v);
                }
            }
            Known::Many(v) => v[kind] = k,
        }
    }

    /// Each answer `k` as `g(k)`.
    fn map(self, g: impl Fn(u32) -> u32) -> Known {
        match self {
            Known::Few(m) => Known::Few(m.into_iter().map(|(kd, k)| (kd, g(k))).collect()),
            Known::Many(v) => Known::Many(v.into_iter().map(g).collect()),
        }
    }
}

impl Answers {
    /// A new group (its number), whose replies meet the rules as `key`
    /// says (`ReplyTemplate::key`; none: its answers depend on the source
    /// itself, or the flow is not a local reply: it shares no answer); with
    /// `own_source`, some answers depend on its address (`Group`).
    pub(super) fn add_group(
        &mut self,
        kinds: usize,
        key: Option<&[u8]>,
        own_source: bool,
        mine: Option<Arc<[u32]>>,
    ) -> usize {
        self.kinds = kinds;
        let agree = match (key, &self.reference) {
            (None, _) => 0,
            (Some(k), None) => {
                self.reference = Some(k.to_vec());
                self.reference_group = Some(self.groups.len());
                u32::MAX
            }
            (Some(k), Some(r)) => first_difference(k, r).unwrap_or(u32::MAX),
        };
        self.groups.push(Group {
            own: Known::default(),
            agree,
            own_source,
            mine,
        });
        self.groups.len() - 1
    }

    pub(super) fn len(&self) -> usize {
        self.groups.len()
    }

    /// `kind` as group `g` sees it (`Narrow::project`).
    fn seen(&self, g: usize, kind: usize) -> usize {
        match (&self.narrow, &self.groups[g].mine) {
            (Some(n), Some(mine)) => n.project(kind, mine),
            _ => kind,
        }
    }

    /// The narrow tables group `g` consults (none: it tells every kind
    /// apart).
    pub(super) fn mine(&self, g: usize) -> Option<Arc<[u32]>> {
        self.narrow.as_ref()?;
        self.groups[g].mine.clone()
    }

    /// Group `g`'s answer for `kind`, if it has one yet.
    pub(super) fn get(&self, g: usize, kind: usize) -> Option<u32> {
        let kind = self.seen(g, kind);
        let grp = &self.groups[g];
        // A kind the group may take from the reference has no answer of its
        // own (the reference's walk reaches the rules it differs on too):
        // the shared one first.
        if let Some(&(k, depth, by_source)) = self.shared.get(kind)
            && k != u32::MAX
            && depth < grp.agree
            && !(by_source && grp.own_source)
        {
            return Some(k);
        }
        grp.own.get(kind)
    }

    /// Another group's answer for `kind` (`by_source`) that group `g` may
    /// not take only because it depends on the source (an IPv4 multipath
    /// route's): both groups meet the rules as the reference does up to
    /// its deciding rule, so the route is `g`'s too
    /// (`Host::lookup_reply_on`). With whether the walk decided it by that
    /// rule.
    fn by_source_reference(&self, g: usize, kind: usize) -> Option<(u32, bool)> {
        let kind = self.seen(g, kind);
        let grp = &self.groups[g];
        match self.by_source.get(kind) {
            Some(&(k, depth)) if k != u32::MAX && depth < grp.agree && grp.own_source => {
                Some((k, depth != READS_ALL))
            }
            _ => None,
        }
    }

    /// Group `g`'s answer `k` for `kind`, decided by rule `depth`
    /// (`READS_ALL`), depending on the source itself or not.
    /// The kind it is shared as, if it is.
    fn set(&mut self, g: usize, kind: usize, k: u32, depth: u32, by_source: bool) -> Option<u32> {
        let kind = self.seen(g, kind);
        let grp = &mut self.groups[g];
        if depth < grp.agree && !(by_source && grp.own_source) {
            if self.shared.is_empty() {
                self.shared = vec![(u32::MAX, 0, false); self.kinds];
            }
            self.shared[kind] = (k, depth, by_source);
            return Some(kind as u32);
        }
        if by_source && depth < grp.agree {
            // Its walk, up to `depth`, is the reference's: so is the
            // route, for every group that agrees as far.
            if self.by_source.is_empty() {
                self.by_source = vec![(u32::MAX, 0); self.kinds];
            }
            if self.by_source[kind].0 == u32::MAX {
                self.by_source[kind] = (k, depth);
            }
        }
        grp.own.set(kind, k, self.kinds);
        None
    }

    /// The answers with each index `f` of it.
    fn map(self, f: impl Fn(u32) -> u32) -> Answers {
        let g = |k: u32| if k == u32::MAX { k } else { f(k) };
        Answers {
            shared: self
                .shared
                .into_iter()
                .map(|(k, d, mp)| (g(k), d, mp))
                .collect(),
            // The analysis's alone (its raws' indices).
            by_source: Vec::new(),
            groups: self
                .groups
                .into_iter()
                .map(|grp| Group {
                    own: grp.own.map(g),
                    ..grp
                })
                .collect(),
            kinds: self.kinds,
            reference: None,
            reference_group: self.reference_group,
            narrow: self.narrow,
        }
    }
}

/// Whether device `i` of `names` is a container link (cached per device
/// in `cache`).
pub(super) fn is_internal_dev(
    cache: &mut Vec<Option<bool>>,
    names: &[String],
    i: u32,
    class: &LinkClass,
) -> bool {
    let i = i as usize;
    if cache.len() <= i {
        cache.resize(i + 1, None);
    }
    *cache[i].get_or_insert_with(|| class.is_internal(&names[i]))
}

/// The model's route `k`, its table among `tables` (`Memo::tables`).
/// Each table's routes' prefixes (`Memo::dsts`), made for the tables
/// found since last asked.
fn route_dsts<'a>(
    tables: &[(Table, Option<&crate::model::FibTable>)],
    dsts: &'a mut Vec<Box<[Range]>>,
) -> &'a [Box<[Range]>] {
    for &(_, t) in &tables[dsts.len()..] {
        let d = t.map(|t| t.routes.iter().map(|e| Range::of(&e.route.dst)).collect());
        dsts.push(d.unwrap_or_default());
    }
    dsts
}

fn route_in<'h>(
    tables: &[(Table, Option<&'h crate::model::FibTable>)],
    k: RouteKey,
) -> Option<&'h crate::model::RouteEntry> {
    tables.get(k.0 as usize)?.1?.routes.get(k.1 as usize)
}

/// How an endpoint's address meets the rules (and, where IPv6 routes are
/// source-specific, the address itself).
pub(super) type GroupKey = (Vec<u8>, Option<IpAddr>);

impl<'h> Memo<'h> {
    /// The runs of skipped pieces in `sp` by the shared answers so far.
    fn skip_runs(&self, sp: &Space<'_>) -> Vec<SkipRun> {
        runs_of(&sp.kind, |kind| {
            self.answers
                .shared
                .get(kind)
                // `READS_ALL` too (IPv4's `local` merged into `main`
                // without custom rules): only groups that agree throughout
                // take such a run (`SkipRun::depth`).
                .filter(|&&(k, _, by_source)| k != u32::MAX && !by_source)
                .filter(|&&(k, _, _)| self.raws.is_skip(k))
                .map(|&(_, d, _)| d)
        })
    }

    /// What the fix reads of the lookups (none: no endpoint analysed).
    pub(super) fn into_analysed(self) -> Option<Analysed> {
        if self.answers.len() == 0 {
            return None;
        }
        let raws = self.raws;
        Some(Analysed {
            lookups: self.kept,
            answers: self.answers.map(|k| raws.get(k).kept),
            group_of: self.group_of,
        })
    }

    pub(super) fn name(&mut self, n: &str) -> u32 {
        if let Some(&i) = self.name_idx.get(n) {
            return i;
        }
        let i = self.names.len() as u32;
        self.names.push(n.to_string());
        self.name_idx.insert(n.to_string(), i);
        i
    }

    /// `name(d)`, the last device's again without a hash.
    fn dev(&mut self, d: &Name) -> u32 {
        if let Some((n, i)) = &self.name_last
            && n.same(d)
        {
            return *i;
        }
        let i = self.name(d);
        self.name_last = Some((d.clone(), i));
        i
    }

    /// Whether group `g` (replies under `rules`) gets the answers `met`
    /// (`met_by_source`, another group's) for the same kinds: then where
    /// the two groups' rules agree, their replies route alike.
    pub(super) fn same_answers(
        &mut self,
        host: &'h Host,
        fam: Family,
        g: usize,
        rules: &crate::model::lookup::ReplyRules,
        met: &[(u32, u128, u32)],
    ) -> bool {
        met.iter().all(|&(kind, start, theirs)| {
            let mine = self.raw(host, fam, g, rules, Some(kind as usize), start);
            let (a, b) = (self.raws.get(mine), self.raws.get(theirs));
            a.shape == b.shape && a.route == b.route
        })
    }

    /// A multipath answer's nexthops as an index into `hops` (0: none).
    fn hops_of(&mut self, nhs: &[crate::model::lookup::NextHopChoice]) -> u32 {
        if nhs.is_empty() {
            return 0;
        }
        if self.hops.is_empty() {
            self.hops.push(Box::default());
        }
        let last = &self.hop_last_legs;
        if last.len() == nhs.len()
            && last
                .iter()
                .zip(nhs)
                .all(|((d, g), n)| *d == n.dev && *g == n.gateway)
        {
            return self.hop_last;
        }
        let mut list = std::mem::take(&mut self.hop_buf);
        list.clear();
        for n in nhs {
            list.push((self.dev(&n.dev), n.gateway));
        }
        // (Equal to the last list, the legs were equal by name above.)
        let i = if let Some(&i) = self.hop_idx.get(&list[..]) {
            i
        } else {
            let i = self.hops.len() as u32;
            self.hops.push(list[..].into());
            self.hop_idx.insert(list[..].into(), i);
            i
        };
        self.hop_buf = list;
        self.hop_last = i;
        self.hop_last_legs.clear();
        self.hop_last_legs
            .extend(nhs.iter().map(|n| (n.dev.clone(), n.gateway)));
        i
    }

    /// `s` as an index into `shapes`.
    fn shape(&mut self, s: Shape) -> u32 {
        // Pieces in a row mostly share one: the last first.
        if self.shapes.get(self.shape_last as usize) == Some(&s) {
            return self.shape_last;
        }
        let i = match self.shape_idx.get(&s) {
            Some(&i) => i,
            None => {
                let i = self.shapes.len() as u32;
                self.shapes.push(s.clone());
                self.shape_idx.insert(s, i);
                i
            }
        };
        self.shape_last = i;
        i
    }

    pub(super) fn legs(&mut self, l: &[LegKey]) -> u32 {
        match self.legs.iter().position(|x| **x == *l) {
            Some(i) => i as u32,
            None => {
                self.legs.push(l.into());
                (self.legs.len() - 1) as u32
            }
        }
    }

    pub(super) fn table(&mut self, host: &'h Host, fam: Family, t: &Table) -> u32 {
        if let Some(&i) = self.table_idx.get(t) {
            return i;
        }
        let i = self.tables.len() as u32;
        self.tables.push((t.clone(), host.table(fam, t)));
        self.table_idx.insert(t.clone(), i);
        i
    }

    /// Where another group's answer for `kind` is an IPv4 multipath route
    /// that group `g` would find too (`Answers::by_source_reference`): that
    /// route, as its walk found it.
    fn found_route(
        &self,
        fam: Family,
        g: usize,
        kind: Option<usize>,
    ) -> Option<crate::model::lookup::Found<'_>> {
        if fam != Family::Inet {
            return None;
        }
        let (k, by_rule) = self.answers.by_source_reference(g, kind?)?;
        let raw = self.raws.get(k);
        let (table, route) = raw.route?;
        let shape = &self.shapes[raw.shape as usize];
        matches!(shape.answer, RawAnswer::Hit { .. }).then_some(crate::model::lookup::Found {
            rule: shape.rule.map(|r| r as usize),
            by_rule,
            table: &self.tables[table as usize].0,
            route: route as usize,
            conditional: &shape.conditional,
        })
    }

    /// The raw answer for a piece of `kind` starting at `start`, looked up
    /// once per group (or once for the groups that share it; no kind:
    /// looked up again, and not kept).
    pub(super) fn raw(
        &mut self,
        host: &'h Host,
        fam: Family,
        g: usize,
        rules: &crate::model::lookup::ReplyRules,
        kind: Option<usize>,
        start: u128,
    ) -> u32 {
        if let Some(k) = kind.and_then(|kind| self.answers.get(g, kind)) {
            return k;
        }
        let dst = space::addr(fam, start);
        let l = match self.found_route(fam, g, kind) {
            Some(found) => {
                let l = host.lookup_reply_on(rules, dst, &found);
                #[cfg(test)]
                {
                    assert_eq!(l, host.lookup_reply(rules, dst), "{dst}: {found:?}");
                    ON_ROUTE.with(|w| w.set(w.get() + 1));
                }
                l
            }
            None => host.lookup_reply(rules, dst),
        };
        let depth = match l.rule {
            Some(r) if l.by_rule => r as u32,
            _ => READS_ALL,
        };
        let route = l
            .route
            .as_ref()
            .map(|r| (self.table(host, fam, &r.table), r.index as u32));
        let answer = match &l.result {
            Err(e) => RawAnswer::Err(*e),
            Ok(h) if !matches!(h.kind, RouteType::Unicast) => RawAnswer::NotUnicast,
            Ok(h) => RawAnswer::Hit {
                dev: self.dev(&h.dev),
                gateway: h.gateway,
                nexthops: self.hops_of(&h.nexthops),
                hash: h.hash_dependent,
                refused: h.hash_error,
            },
        };
        let chosen = route.and_then(|k| route_in(&self.tables, k));
        // (Only where the legs prefer the reply's source: a nexthop
        // object's, or any on a kernel before 6.16, answer alike for all.)
        let multipath = chosen.is_some_and(|e| host.prefers_own_source(&e.route));
        // IPv4 multipath routes prefer the legs whose source is the
        // reply's; IPv6 routes with a `from` hold their destinations.
        let by_source = match fam {
            Family::Inet => multipath,
            Family::Inet6 => self.src_dsts.as_ref().is_some_and(|d| d.contains(start)),
        };
        let direct_prefix = match &answer {
            RawAnswer::Hit {
                gateway, nexthops, ..
            } => {
                gateway.is_none()
                    && *nexthops == 0
                    && chosen.is_none_or(|e| e.route.dst.prefix_len() > 0)
            }
            _ => false,
        };
        let shape = Shape {
            answer,
            rule: l.rule.map(|i| i as u32),
            direct_prefix,
            conditional: l.conditional.iter().map(|&i| i as u32).collect(),
            by_source,
        };
        let skip = matches!(shape.answer, RawAnswer::NotUnicast) && shape.conditional.is_empty();
        let shape = self.shape(shape);
        let kept = self.kept.intern(KeptLookup::of(l, multipath));
        let id = self.raws.push(Raw { shape, route, kept }, skip);
        if let Some(kind) = kind
            && let Some(seen) = self.answers.set(g, kind, id, depth, by_source)
            && self.quiet.is_some()
        {
            self.quiet_new.push((seen, id, depth));
        }
        id
    }
}

/// At most this many answers that depend on the source are kept from an
/// analysis to compare a twin's with (a full table of multipath routes
/// has a million).
pub(super) const MET_MAX: usize = 4096;

/// At most this many CIDR blocks are listed per leak; the rest are counted
/// (`destinations_omitted`): a BGP table's leak would list every route.
pub const MAX_DESTINATIONS: usize = 4096;

/// Analyses one endpoint over its whole peer space.
/// `memo`: look up one piece of each kind only (off: every piece, which
/// the tests compare with).
#[allow(clippy::too_many_arguments)]
pub(super) fn analyse<'h>(
    host: &'h Host,
    class: &LinkClass,
    q: &Quoter<'_>,
    ep: &mut Endpoint,
    sp: &Space<'_>,
    m: &mut Memo<'h>,
    g: usize,
    rules: &crate::model::lookup::ReplyRules,
    memo: bool,
    foreign: Option<&super::peers::RangeSet>,
) {
    let fam = ep.family;
    // Skipped runs are taken whole (`SkipRun`) but with pods' foreign
    // ranges, which cut no pieces.
    let by_runs = memo && foreign.is_none();
    m.met_by_source = Some(Vec::new());
    let localnet = matches!(ep.address, IpAddr::V4(v) if v.is_loopback());
    // Nothing to report, found without a walk (`quiet`).
    if memo && foreign.is_none() && !ep.internal {
        let iface = m.name(&ep.interface);
        if m.quiet(host, sp, g, rules, iface, class, localnet) {
            #[cfg(test)]
            quiet::TOLD.with(|t| t.set(t.get() + 1));
            ep.conditional.clear();
            settle(ep);
            return;
        }
    }
    let mut peers = Peers::new(sp, ep);
    if let Some(f) = foreign {
        peers.add_foreign(f);
    }
    let view = View {
        iface: m.name(&ep.interface),
        name: &ep.interface,
        internal: ep.internal,
        // Strict reverse-path filtering accepts a request whose reply route
        // has any nexthop on the link, dead ones too (fib_info_nh_uses_dev).
        strict: fam == Family::Inet && host.sysctls.rp_filter(&ep.interface).strict(),
    };
    let leaks_before = ep.leaks.len();
    // An endpoint a group's template could answer (`delta`).
    let readable = by_runs && !ep.internal && !localnet;
    let ctx = WalkCtx {
        host,
        class,
        sp,
        g,
        rules,
        memo,
        by_runs,
    };
    // An endpoint like the group's others: its report is the group's
    // template's but where its own link and prefixes change it (`delta`).
    if readable && leaks_before == 0 && ep.no_route.is_empty() {
        if let Some(d) = delta::endpoint(&ctx, q, m, &view, &peers.own, PeerWalk::new(&peers, sp)) {
            ep.leaks = d.leaks;
            ep.no_route = d.no_route;
            ep.conditional = d.conditional;
            set_verdict(ep);
            return;
        }
        // A walk against the template may have met some.
        m.met_by_source = Some(Vec::new());
    }
    let mut scratch = std::mem::take(&mut m.scratch);
    let Scratch { walked, grouping } = &mut scratch;
    walked.clear();
    let mut walker = Walker::new(&ctx, m, PeerWalk::new(&peers, sp));
    walker.steps(&ctx, m, &view, walked, 0, sp.pts.len());
    walker.done(m);
    if let Some(met) = &mut m.met_by_source {
        met.sort_unstable_by_key(|x| x.0);
        met.dedup_by_key(|x| x.0);
    }
    delta::walked(m, g, walked, readable);
    group_leaks(
        fam,
        q,
        m,
        walked,
        grouping,
        ep.leaks.to_mut(),
        &mut ep.no_route,
    );
    ep.conditional = walked
        .conditional
        .iter()
        .map(|&i| q.rule(fam, i as usize))
        .collect();
    let ranked = leaks_before == 0
        && grouping.egress_of.len() == ep.leaks.len()
        && by_rank(
            &m.names,
            &mut m.name_rank,
            ep.leaks.to_mut(),
            &grouping.egress_of,
            &mut grouping.order,
        );
    if ranked {
        set_verdict(ep);
    } else {
        settle(ep);
    }
    m.scratch = scratch;
}

/// What a walk reads beside the endpoint (`View`): the host, its space,
/// the group of replies and its rules.
pub(super) struct WalkCtx<'a, 'h> {
    pub(super) host: &'h Host,
    pub(super) class: &'a LinkClass,
    pub(super) sp: &'a Space<'a>,
    pub(super) g: usize,
    pub(super) rules: &'a crate::model::lookup::ReplyRules,
    pub(super) memo: bool,
    pub(super) by_runs: bool,
}

/// The endpoint a walk is for, as far as its pieces' outcomes read it. A
/// template's (`delta`) is no endpoint's: no link (`NO_IFACE`), no prefix.
pub(super) struct View<'e> {
    /// The link, as an index into `Memo::names`, and by name.
    pub(super) iface: u32,
    pub(super) name: &'e str,
    pub(super) internal: bool,
    pub(super) strict: bool,
}

pub(super) const NO_IFACE: u32 = u32::MAX;

/// A walk's cursors: the pieces are walked in ascending order, whole or
/// in spans (`delta`), each span after the last.
pub(super) struct Walker<'s> {
    walk: PeerWalk,
    any_conn: super::peers::Cursor<'s>,
    /// Runs of skipped pieces taken whole (`SkipRun`), taken from the
    /// `Memo` for the walk (`done` puts them back).
    runs: Option<Vec<SkipRun>>,
    run_i: usize,
    /// The narrow tables this group consults, where it may jump over the
    /// pieces of the others' (`Narrow::jump`).
    narrow: Option<Arc<super::narrow::Narrow>>,
    mine: Option<Arc<[u32]>>,
    narrow_i: usize,
    /// How far the group agrees with the reference (`Answers::reach`).
    agree: u32,
}

impl<'s> Walker<'s> {
    pub(super) fn new(ctx: &WalkCtx<'s, '_>, m: &mut Memo<'_>, walk: PeerWalk) -> Self {
        let g = ctx.g;
        let (agree, _) = m.answers.reach(g);
        // Runs of skipped pieces this group takes from the reference whole
        // (`SkipRun`): found once a second group walks (one that meets the
        // rules as the reference does too: 10,000 /32 primaries under a
        // multipath route, each a group of its own, walked every piece).
        if ctx.by_runs && m.answers.reference_group != Some(g) && m.runs.is_none() {
            m.runs = Some(m.skip_runs(ctx.sp));
        }
        let narrow = m.answers.narrow.clone().filter(|_| ctx.by_runs);
        let mine = narrow.as_ref().and(m.answers.mine(g));
        Walker {
            walk,
            any_conn: super::peers::Cursor::new(&ctx.sp.any_conn),
            runs: m.runs.take(),
            run_i: 0,
            narrow,
            mine,
            narrow_i: 0,
            agree,
        }
    }

    /// Puts the runs back into `m`.
    pub(super) fn done(self, m: &mut Memo<'_>) {
        m.runs = self.runs;
    }

    /// Walks the pieces from point `i` up to point `to` (or past it, where
    /// a run taken whole ends later) into `out`; returns where it stopped.
    pub(super) fn steps<'h>(
        &mut self,
        ctx: &WalkCtx<'_, 'h>,
        m: &mut Memo<'h>,
        view: &View<'_>,
        out: &mut Walked,
        mut i: usize,
        to: usize,
    ) -> usize {
        let (host, class, sp, g, rules) = (ctx.host, ctx.class, ctx.sp, ctx.g, ctx.rules);
        let (memo, by_runs) = (ctx.memo, ctx.by_runs);
        let fam = sp.fam;
        let iface = view.iface;
        let (never, foreign) = (out.intern(Outcome::Never), out.intern(Outcome::Foreign));
        let top = space::top(fam);
        while i < to {
            out.steps += 1;
            if let Some(r) = &mut out.record {
                r.steps.push((i as u32, out.pieces.len() as u32));
                r.met_at.push(
                    m.met_by_source
                        .as_ref()
                        .map_or(u32::MAX, |v| v.len() as u32),
                );
            }
            let (mut start, mut kind) = (sp.pts[i], sp.kind[i] as usize);
            let mut end = sp.pts.get(i + 1).copied().unwrap_or(top);
            let mut next = i + 1;
            // A mixed run's skipped pieces after its other kind's.
            let mut trailing: Option<Range> = None;
            let walk = &mut self.walk;
            let jump = self.runs.as_ref().filter(|_| by_runs).and_then(|rs| {
                run_at(
                    rs,
                    &mut self.run_i,
                    (&sp.pts, &sp.kind),
                    top,
                    i,
                    self.agree,
                    || walk.segment_end(start),
                    &mut m.run_others,
                )
            });
            match jump {
                None => {
                    // Pieces of kinds only other groups tell apart, one piece
                    // of the kind around them for this one, within a peer
                    // segment.
                    if let (Some(n), Some(mine)) = (&self.narrow, &self.mine)
                        && let Some((base, last)) =
                            n.jump(&mut self.narrow_i, i, mine, &sp.pts, || {
                                walk.segment_end(start)
                            })
                    {
                        kind = base;
                        next = last;
                        end = sp.pts.get(last).copied().unwrap_or(top);
                    }
                }
                Some(Jump::Skip(last)) => {
                    next = last;
                    end = sp.pts.get(last).copied().unwrap_or(top);
                }
                Some(Jump::Mixed(r)) => {
                    let run_end = sp.pts.get(r.end as usize).copied().unwrap_or(top);
                    next = r.end as usize;
                    if walk.without_lookup(start).is_some() {
                        // Never-peers or foreign throughout.
                        end = run_end;
                    } else {
                        let (first, after) = (r.first as usize, r.last as usize + 1);
                        if first > i {
                            let skip = out.intern(Outcome::Skip);
                            out.push(
                                Range {
                                    start,
                                    end: sp.pts[first],
                                },
                                skip,
                                None,
                            );
                            start = sp.pts[first];
                        }
                        kind = r.other as usize;
                        end = sp.pts.get(after).copied().unwrap_or(top);
                        if after < r.end as usize {
                            trailing = Some(Range {
                                start: end,
                                end: run_end,
                            });
                        }
                    }
                }
            }
            #[cfg(test)]
            WALKED.with(|w| w.set(w.get() + 1));
            let piece = Range { start, end };
            // The answer, where it names devices: a template records them.
            let mut hit: Option<u32> = None;
            let (outcome, route) = match walk.without_lookup(start) {
                // `without_lookup`'s Skip is a never-peer.
                Some(Outcome::Skip) => (never, None),
                Some(_) => (foreign, None),
                None => {
                    // Without `memo` every piece is looked up: a kind of its own.
                    let rid = m.raw(host, fam, g, rules, memo.then_some(kind), start);
                    if m.raws.is_skip(rid) {
                        // No report reads a skipped piece's route.
                        (out.intern(Outcome::Skip), None)
                    } else {
                        let raw = m.raws.get(rid);
                        let shape = &m.shapes[raw.shape as usize];
                        if shape.by_source
                            && let Some(met) = &mut m.met_by_source
                        {
                            if met.last().is_none_or(|x| x.0 != kind as u32) {
                                met.push((kind as u32, start, rid));
                            }
                            if met.len() > MET_MAX {
                                m.met_by_source = None;
                            }
                        }
                        for &c in &shape.conditional {
                            let c = c as usize;
                            if out.cond_seen.len() <= c {
                                out.cond_seen.resize(c + 1, false);
                            }
                            if !std::mem::replace(&mut out.cond_seen[c], true) {
                                out.conditional.push(c as u32);
                                out.cond_at.push(start);
                            }
                        }
                        let table = raw.route.map(|r| r.0);
                        // Only leaks need it (a table lookup per piece otherwise).
                        let own_leg = || {
                            view.strict
                                && raw
                                    .route
                                    .and_then(|k| route_in(&m.tables, k))
                                    .is_some_and(|e| {
                                        e.route
                                            .nexthops
                                            .iter()
                                            .any(|n| n.dev.as_deref() == Some(view.name))
                                    })
                        };
                        let mut pending_legs: Option<Vec<LegKey>> = None;
                        let mut o = match &shape.answer {
                            RawAnswer::Err(error) => Outcome::NoRoute {
                                error: *error,
                                rule: shape.rule,
                                table,
                                hash: false,
                            },
                            // Some flows are refused: what the report must say
                            // first (the others' legs are named by the lookup).
                            RawAnswer::Hit {
                                refused: Some(error),
                                ..
                            } => Outcome::NoRoute {
                                error: *error,
                                rule: shape.rule,
                                table,
                                hash: true,
                            },
                            RawAnswer::NotUnicast => Outcome::Skip,
                            RawAnswer::Hit {
                                dev,
                                gateway,
                                nexthops,
                                hash,
                                refused: None,
                            } => {
                                hit = Some(rid);
                                let one = [(*dev, *gateway)];
                                let legs = hit_legs(&m.hops, *nexthops, &one);
                                if legs.iter().any(|l| l.0 == iface) {
                                    out.touched += 1;
                                }
                                // Straight into a container link (addressed or
                                // not: a VPC CNI pod's /32 to its `eni…` veth):
                                // delivered on the host, not a peer of this link
                                // (`other_dev`).
                                let mut into_container = false;
                                let other = legs.iter().copied().find(|&(d, gw)| {
                                    let c = d != iface
                                        && gw.is_none()
                                        && !view.internal
                                        && is_internal_dev(&mut m.internal, &m.names, d, class);
                                    into_container |= c;
                                    d != iface && !c
                                });
                                match other {
                                    None if into_container => Outcome::Foreign,
                                    None => Outcome::Ok,
                                    Some((egress, gateway)) => {
                                        if *hash {
                                            pending_legs = Some(legs.to_vec());
                                        }
                                        // A direct route to a prefix puts it on
                                        // the other link; a direct *default*
                                        // (`default dev wg0`, a tunnel) reaches
                                        // what lies beyond it: off-link.
                                        let scope = if walk.is_own(start) {
                                            out.touched += 1;
                                            Scope::SameSubnet
                                        } else if shape.direct_prefix
                                            || self.any_conn.contains(start)
                                        {
                                            Scope::CrossSubnet
                                        } else {
                                            Scope::OffLink
                                        };
                                        Outcome::Leak {
                                            scope,
                                            egress,
                                            gateway,
                                            hash: *hash,
                                            legs: u32::MAX,
                                            rule: shape.rule,
                                            table,
                                            own_leg: own_leg(),
                                        }
                                    }
                                }
                            }
                        };
                        let route = raw.route;
                        if let (Outcome::Leak { legs, .. }, Some(l)) = (&mut o, pending_legs) {
                            *legs = m.legs(&l);
                        }
                        (out.intern(o), route)
                    }
                }
            };
            out.push(piece, outcome, route);
            if let (Some(rid), true) = (hit, out.record.is_some()) {
                delta::record_devs(m, out, rid);
            }
            if let Some(t) = trailing {
                let skip = out.intern(Outcome::Skip);
                out.push(t, skip, None);
            }
            i = next;
        }
        i
    }
}

/// How a piece of outcome `o` bears on the report's runs of leaks and
/// no-route ranges: destinations outside the peer space (the host's own
/// addresses, broadcasts, multicast) between two pieces of one outcome
/// join them (`None`: passed over): `10.0.1.0/24`, not fourteen ranges.
/// Other endpoints' prefixes (`Foreign`) do not: they end a run as `Ok`
/// does (`Some(false)`).
fn run_part(o: &Outcome) -> Option<bool> {
    match o {
        Outcome::Skip => None,
        Outcome::Ok | Outcome::Foreign | Outcome::Never => Some(false),
        _ => Some(true),
    }
}

/// The pieces that make the report's runs (`run_part`), each with whether
/// it goes on the run of the one before it (the same outcome, so the same
/// group, and nothing between that ends a run).
fn run_pieces<'a>(
    pieces: &'a pieces::Pieces,
    outcomes: &'a [Outcome],
) -> impl Iterator<Item = (pieces::Piece, bool)> + 'a {
    let mut last: Option<u32> = None;
    pieces
        .iter()
        .filter_map(move |p| match run_part(&outcomes[p.1 as usize]) {
            None => None,
            Some(false) => {
                last = None;
                None
            }
            Some(true) => {
                let goes_on = last == Some(p.1);
                last = Some(p.1);
                Some((p, goes_on))
            }
        })
}

/// Groups a walk's pieces by outcome into leaks (and their egress and
/// outcome, in `gr`) and no-route ranges, pushed onto `leaks` and
/// `no_route` in the order first met.
fn group_leaks(
    fam: Family,
    q: &Quoter<'_>,
    m: &mut Memo<'_>,
    walked: &Walked,
    gr: &mut Grouping,
    leaks: &mut Vec<Arc<Leak>>,
    no_route: &mut Vec<NoRoute>,
) {
    let Grouping {
        group_of,
        group_routes,
        group_outcome,
        last_route,
        ranges,
        range_ends,
        range_next,
        route_keys,
        route_ends,
        others,
        egress_of,
        outcome_of,
        order: _,
    } = gr;
    let (pieces, outcomes) = (&walked.pieces, &walked.outcomes);
    egress_of.clear();
    outcome_of.clear();
    group_of.clear();
    range_ends.clear();
    group_routes.clear();
    group_outcome.clear();
    last_route.clear();
    // Group pieces by outcome for the report (`run_part`).
    // Two passes, so that the ranges are placed by group at once (a list
    // of (group, range) to sort was 48 bytes a run: a BGP table's leak
    // is a million runs). The first numbers the groups, counts each one's
    // runs and lists its routes.
    group_of.resize(outcomes.len(), u32::MAX);
    for ((_, o, route), goes_on) in run_pieces(pieces, outcomes) {
        let gi = match group_of[o as usize] {
            u32::MAX => {
                group_outcome.push(o);
                last_route.push(None);
                range_ends.push(0);
                group_of[o as usize] = (group_outcome.len() - 1) as u32;
                (group_outcome.len() - 1) as u32
            }
            gi => gi,
        };
        if let Some(k) = route
            && last_route[gi as usize] != Some(k)
        {
            group_routes.push((gi, k));
            last_route[gi as usize] = Some(k);
        }
        if !goes_on {
            range_ends[gi as usize] += 1;
        }
    }
    // Each group's runs end where the groups before it and its own do.
    let mut at = 0;
    range_next.clear();
    for e in range_ends.iter_mut() {
        range_next.push(at);
        at += *e;
        *e = at;
    }
    ranges.clear();
    ranges.resize(at, Range { start: 0, end: 0 });
    // The second places each run's range: the group's last range is the
    // last one of all while the run goes on.
    for ((r, o, _), goes_on) in run_pieces(pieces, outcomes) {
        let next = &mut range_next[group_of[o as usize] as usize];
        if goes_on {
            ranges[*next - 1].end = r.end;
        } else {
            ranges[*next] = r;
            *next += 1;
        }
    }
    by_group(group_routes, group_outcome.len(), route_keys, route_ends);
    // The tables found once (a BGP table's leak reads a million routes).
    let mut pool = std::mem::take(&mut m.leaks);
    let route_of = |k: RouteKey| route_in(&m.tables, k);
    let route_dst = |k: RouteKey| route_of(k).map(|e| Range::of(&e.route.dst));
    let (mut at, mut at_route) = (0, 0);
    // At its size: pushed one by one, a concentrator endpoint's ~4,000
    // leaks were copied as the list doubled, and kept up to twice the room.
    let leak_groups = group_outcome.iter();
    let leak_groups =
        leak_groups.filter(|&&o| matches!(outcomes[o as usize], Outcome::Leak { .. }));
    leaks.reserve_exact(leak_groups.count());
    for (gi, &outcome) in group_outcome.iter().enumerate() {
        let grp_ranges = &ranges[at..range_ends[gi]];
        at = range_ends[gi];
        // The group's routes, each once (a route may decide pieces apart).
        let grp_routes = &mut route_keys[at_route..route_ends[gi]];
        at_route = route_ends[gi];
        let o = outcomes[outcome as usize];
        let size: u128 = grp_ranges.iter().map(|r| r.end - r.start).sum();
        // The route quoted for the leak: the one with the widest prefix
        // (the default route over the more specific ones), and how many
        // routes: found once per list of routes (`RouteSets`).
        let (main_route, routes) = match *grp_routes {
            // One route (a point-to-point link's leak), found as the list's.
            [k] => (route_dst(k).map(|r| (k, r)), 1),
            _ => m.route_sets.get(grp_routes, |grp_routes| {
                grp_routes.sort_unstable();
                let main = grp_routes
                    .iter()
                    .copied()
                    .filter_map(|k| route_dst(k).map(|r| (k, r)))
                    .max_by(|a, b| {
                        (a.1.end - a.1.start)
                            .cmp(&(b.1.end - b.1.start))
                            .then(b.0.cmp(&a.0))
                    });
                let n = grp_routes.len() - grp_routes.windows(2).filter(|w| w[0] == w[1]).count();
                (main, n)
            }),
        };
        let pr = main_route.map(|x| x.1);
        others.clear();
        // A summary relative to the route's prefix, only where the prefix
        // holds every range; it excepts fewer blocks than the list has, or
        // the list is written (`describe`): counted up to that many.
        // Where the ranges fill the prefix, no piece inside it has another
        // outcome (a point-to-point link's /32): nothing to walk.
        if let Some(pr) = pr
            && size != pr.end - pr.start
            && grp_ranges
                .iter()
                .all(|r| r.start >= pr.start && r.end <= pr.end)
        {
            let listed = grp_ranges.iter().map(|r| space::block_count(fam, *r)).sum();
            let dsts = route_dsts(&m.tables, &mut m.dsts);
            let dst = |k: RouteKey| dsts.get(k.0 as usize)?.get(k.1 as usize).copied();
            exceptions(fam, pr, pieces, outcomes, outcome, dst, listed, others);
        }
        // An entry made for an earlier endpoint from the same parts is
        // this one's: found before its text is made (`LeakKeys`).
        let key = matches!(o, Outcome::Leak { .. }).then(|| LeakKey {
            outcome: o,
            route: main_route.map(|x| x.0),
            routes,
            ranges: grp_ranges,
            others,
        });
        if let Some(k) = &key
            && let Some(l) = m.leak_keys.get(k)
        {
            leaks.push(l);
            if let Outcome::Leak { egress, .. } = o {
                egress_of.push(egress);
                outcome_of.push(outcome);
            }
            continue;
        }
        let (destinations, omitted, summary) = describe(fam, grp_ranges, pr, others);
        let quote_route = |k: Option<(RouteKey, Range)>| {
            k.and_then(|(k, _)| {
                let e = route_of(k)?;
                Some(q.quote(e.origin(), || e.route.to_string()))
            })
        };
        match o {
            Outcome::Leak {
                scope,
                egress,
                gateway,
                hash,
                legs,
                rule,
                own_leg,
                ..
            } => {
                let l = shared_leak(
                    &mut pool,
                    Leak {
                        destinations,
                        destinations_omitted: omitted,
                        summary,
                        scope,
                        egress: m.names[egress as usize].clone(),
                        gateway,
                        hash_dependent: hash,
                        legs: m
                            .legs
                            .get(legs as usize)
                            .into_iter()
                            .flat_map(|l| l.iter())
                            .map(|&(d, gateway)| Leg {
                                dev: m.names[d as usize].clone(),
                                gateway,
                            })
                            .collect(),
                        rule: rule.map(|i| q.rule(fam, i as usize)),
                        route: quote_route(main_route),
                        routes,
                        protocols: None,
                        impact: Impact::Delivered,
                        dropped_by: None,
                        size,
                        own_leg,
                    },
                );
                if let Some(k) = key {
                    m.leak_keys.insert(k, l.clone());
                }
                leaks.push(l);
                egress_of.push(egress);
                outcome_of.push(outcome);
            }
            Outcome::NoRoute {
                error, rule, hash, ..
            } => no_route.push(NoRoute {
                destinations,
                destinations_omitted: omitted,
                summary,
                error,
                hash_dependent: hash,
                rule: rule.map(|i| q.rule(fam, i as usize)),
                route: quote_route(main_route),
                routes,
                protocols: None,
                impact: Impact::ReplyDropped,
                dropped_by: None,
            }),
            _ => {}
        }
    }
    m.leaks = pool;
}

/// What a leak entry is made of in `analyse` (with the host and family
/// its `Memo` is for): its outcome, deciding route, number of routes,
/// ranges and the exceptions its summary names.
struct LeakKey<'a> {
    outcome: Outcome,
    route: Option<RouteKey>,
    routes: usize,
    ranges: &'a [Range],
    others: &'a Exceptions,
}

impl LeakKey<'_> {
    fn hash(&self, s: &foldhash::fast::RandomState) -> u64 {
        use std::hash::BuildHasher;
        s.hash_one((
            self.outcome,
            self.route,
            self.routes,
            self.ranges,
            self.others,
        ))
    }
}

/// Leak entries by what they are made of (`LeakKey`). Endpoints on
/// different links often leak alike: a concentrator's 4,000 point-to-point
/// links each leak to the 3,999 others by the same entries, and making each
/// entry's text, then hashing it to find it shared, was ~40% of such a
/// host (16 million times).
#[derive(Default)]
struct LeakKeys {
    state: foldhash::fast::RandomState,
    /// Entries by their key's hash.
    by_hash: FastMap<u64, Vec<u32>>,
    entries: Vec<KeyedLeak>,
}

struct KeyedLeak {
    outcome: Outcome,
    route: Option<RouteKey>,
    routes: usize,
    ranges: Box<[Range]>,
    others: Exceptions,
    leak: std::sync::Arc<Leak>,
}

impl LeakKeys {
    fn get(&self, k: &LeakKey<'_>) -> Option<std::sync::Arc<Leak>> {
        let v = self.by_hash.get(&k.hash(&self.state))?;
        v.iter()
            .map(|&i| &self.entries[i as usize])
            .find(|e| {
                e.outcome == k.outcome
                    && e.route == k.route
                    && e.routes == k.routes
                    && *e.ranges == *k.ranges
                    && e.others == *k.others
            })
            .map(|e| e.leak.clone())
    }

    fn insert(&mut self, k: LeakKey<'_>, leak: std::sync::Arc<Leak>) {
        let h = k.hash(&self.state);
        self.by_hash
            .entry(h)
            .or_default()
            .push(self.entries.len() as u32);
        self.entries.push(KeyedLeak {
            outcome: k.outcome,
            route: k.route,
            routes: k.routes,
            ranges: k.ranges.into(),
            others: k.others.clone(),
            leak,
        });
    }
}

/// A leak's deciding routes, as `analyse` lists them for a group of pieces
/// (in piece order, a route again where it decides pieces apart): the
/// widest of them (with its prefix) and how many there are, found once per
/// list. Endpoints of one group on different links list the same routes
/// in the same order: a BGP edge router's 40 customer links each sorted
/// and read the table's million routes (21% of such a host).
/// (A map keyed by the list itself, as `Memo::hop_idx` is.)
#[derive(Default)]
struct RouteSets(FastMap<Box<[RouteKey]>, RouteSet>);

/// The widest route (and its prefix) and the number of routes.
type RouteSet = (Option<(RouteKey, Range)>, usize);

impl RouteSets {
    /// `list`'s set: made by `make` (which may reorder `list`) the first
    /// time this list is met.
    fn get(
        &mut self,
        list: &mut [RouteKey],
        make: impl FnOnce(&mut [RouteKey]) -> RouteSet,
    ) -> RouteSet {
        if let Some(&set) = self.0.get(&*list) {
            return set;
        }
        let key: Box<[RouteKey]> = (&*list).into();
        let set = make(list);
        self.0.insert(key, set);
        set
    }
}

/// `l`, shared with the host's endpoints that leak alike (`pool`).
fn shared_leak(pool: &mut super::FastSet<std::sync::Arc<Leak>>, l: Leak) -> std::sync::Arc<Leak> {
    if let Some(x) = pool.get(&l) {
        return x.clone();
    }
    let x = std::sync::Arc::new(l);
    pool.insert(x.clone());
    x
}

/// Orders an analysed endpoint's leaks (the biggest first; ties by scope
/// then egress, for stable reports) and sets its verdict from them.
pub(super) fn settle(ep: &mut Endpoint) {
    ep.leaks.to_mut().sort_by(|a, b| settle_order(a, b));
    set_verdict(ep);
}

/// `settle`'s order of two leaks.
pub(super) fn settle_order(a: &Leak, b: &Leak) -> std::cmp::Ordering {
    b.size
        .cmp(&a.size)
        .then(a.scope.cmp(&b.scope))
        .then(a.egress.cmp(&b.egress))
}

/// `settle`'s order of an endpoint's leaks (`egress`: each one's egress,
/// into `names`), sorted as numbers: the names ranked once (`rank`, for as
/// many names as it covers). False (and the leaks as they were) where a
/// leak is too large to sort so (an IPv6 size over 2^64). A concentrator's
/// endpoints each order ~4,000 leaks that tie on size and scope, and
/// comparing their egress names was 10% of such a host.
fn by_rank(
    names: &[String],
    rank: &mut Vec<u32>,
    leaks: &mut Vec<std::sync::Arc<Leak>>,
    egress: &[u32],
    order: &mut Vec<u128>,
) -> bool {
    // One number a leak: !size (64 bits), scope and rank (32), place (32).
    let scopes = names.len() as u64;
    if leaks.iter().any(|l| l.size > u128::from(u64::MAX)) || scopes * 3 > u64::from(u32::MAX) {
        return false;
    }
    if rank.len() != names.len() {
        let mut by_text: Vec<u32> = (0..names.len() as u32).collect();
        by_text.sort_by(|&a, &b| names[a as usize].cmp(&names[b as usize]));
        *rank = vec![0; by_text.len()];
        for (r, &i) in by_text.iter().enumerate() {
            rank[i as usize] = r as u32;
        }
    }
    order.clear();
    for (i, (l, &e)) in leaks.iter().zip(egress).enumerate() {
        let Some(&r) = rank.get(e as usize) else {
            return false;
        };
        let smaller = u64::MAX - l.size as u64;
        let by = l.scope as u64 * scopes + u64::from(r);
        order.push(u128::from(smaller) << 64 | u128::from(by) << 32 | i as u128);
    }
    // The place last: ties keep the order found, as a stable sort does.
    order.sort_unstable();
    let mut slots: Vec<Option<std::sync::Arc<Leak>>> =
        std::mem::take(leaks).into_iter().map(Some).collect();
    *leaks = Vec::with_capacity(order.len());
    leaks.extend(
        order
            .iter()
            .filter_map(|&o| slots[o as u32 as usize].take()),
    );
    true
}

/// `by_rank` orders leaks as `settle` does: by size (biggest first), scope,
/// egress name, ties in the order found.
#[cfg(test)]
#[test]
fn leaks_ranked_by_number_are_in_settles_order() {
    let mut rng = super::testhosts::Rng(29);
    let base: Leak = serde_json::from_str(
        r#"{"destinations": ["10.0.1.0/32"], "summary": "10.0.1.0/31", "scope": "cross-subnet",
            "egress": "eth1", "gateway": null, "rule": null, "route": null, "routes": 1,
            "impact": "delivered"}"#,
    )
    .unwrap();
    let scopes = [Scope::CrossSubnet, Scope::OffLink];
    let (mut rank, mut order) = (Vec::new(), Vec::new());
    for n in [0usize, 1, 2, 5, 40, 300] {
        // Distinct names in the order met, as `Memo::name` interns them.
        let mut names: Vec<String> = Vec::new();
        for i in 0..1 + rng.below(12) {
            let n = format!(
                "{}{}",
                ["ppp", "eth", "eth1", "a"][i as usize % 4],
                rng.below(30)
            );
            if !names.contains(&n) {
                names.push(n);
            }
        }
        let egress: Vec<u32> = (0..n)
            .map(|_| rng.below(names.len() as u64) as u32)
            .collect();
        let mut leaks: Vec<std::sync::Arc<Leak>> = egress
            .iter()
            .enumerate()
            .map(|(i, &e)| {
                let mut l = base.clone();
                l.egress = names[e as usize].clone();
                l.size = [0, 1, 2, 1 << 40, u128::from(u64::MAX)][rng.below(5) as usize];
                l.scope = scopes[rng.below(2) as usize];
                l.routes = i;
                std::sync::Arc::new(l)
            })
            .collect();
        let mut ep_want = leaks.clone();
        ep_want.sort_by(|a, b| settle_order(a, b));
        assert!(by_rank(&names, &mut rank, &mut leaks, &egress, &mut order));
        let routes = |v: &[std::sync::Arc<Leak>]| v.iter().map(|l| l.routes).collect::<Vec<_>>();
        assert_eq!(
            routes(&leaks),
            routes(&ep_want),
            "{n} leaks, names {names:?}"
        );
        // An IPv6 size past 64 bits: left to `settle`, untouched.
        if let Some(first) = leaks.first_mut() {
            std::sync::Arc::make_mut(first).size = 1 << 64;
            let before = routes(&leaks);
            assert!(!by_rank(&names, &mut rank, &mut leaks, &egress, &mut order));
            assert_eq!(routes(&leaks), before);
        }
    }
}

/// An endpoint's verdict from its leaks and no-route ranges.
fn set_verdict(ep: &mut Endpoint) {
    ep.verdict = Some(if !ep.leaks.is_empty() {
        Verdict::Asymmetric
    } else if !ep.no_route.is_empty() {
        Verdict::NoRoute
    } else {
        Verdict::Ok
    });
}

/// `list`'s text for `n` items, the first (up to) six of which `shown`
/// gives, appended to `out` (one string a list: a leak's summary).
/// The items a list's text names (a summary's blocks, its exceptions); the
/// rest it counts.
const LIST_SHOWN: usize = 6;

pub(super) fn push_list<T>(
    out: &mut String,
    shown: impl Iterator<Item = T>,
    n: usize,
    text: impl Fn(&mut String, T),
) {
    for (i, x) in shown.take(LIST_SHOWN).enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        text(out, x);
    }
    if n > LIST_SHOWN {
        out.push_str(", … (");
        out.push_str(itoa::Buffer::new().format(n));
        out.push_str(" in all)");
    }
}

/// Each range's CIDR blocks: the first `MAX_DESTINATIONS`, and how many
/// more there are.
pub(super) fn cidr_blocks(fam: Family, ranges: &[Range]) -> (Vec<IpNet>, u64) {
    // Counted first, so the list is made at its size: grown, it was
    // reallocated (a host writes ~1,400 blocks; one of 10,000 addresses,
    // 2.7 million) and kept up to twice the room it needs.
    let total: u64 = ranges.iter().map(|r| space::block_count(fam, *r)).sum();
    let mut shown = Vec::with_capacity((total as usize).min(MAX_DESTINATIONS));
    let mut more = 0u64;
    for r in ranges {
        if shown.len() == MAX_DESTINATIONS {
            more += space::block_count(fam, *r);
            continue;
        }
        for (s, p) in space::blocks(fam, *r) {
            if shown.len() == MAX_DESTINATIONS {
                more += 1;
                continue;
            }
            shown.extend(space::block_net(fam, s, p));
        }
    }
    (shown, more)
}

/// What a summary relative to a route's prefix excepts: the first blocks
/// of the exception ranges (`LIST_SHOWN`) and how many there are. Kept
/// as counted, not listed: a default route's leak on a BGP edge router
/// excepts ~a million customer prefixes, for each of 80 endpoints.
#[derive(Debug, Default, Clone, PartialEq, Eq, Hash)]
pub(super) struct Exceptions {
    shown: Vec<(u128, u8)>,
    n: u64,
}

impl Exceptions {
    fn clear(&mut self) {
        self.shown.clear();
        self.n = 0;
    }

    fn add(&mut self, fam: Family, r: Range) {
        if self.shown.len() < LIST_SHOWN {
            let room = LIST_SHOWN - self.shown.len();
            self.shown.extend(space::blocks(fam, r).take(room));
        }
        self.n += space::block_count(fam, r);
    }
}

/// The pieces inside a route's prefix `pr` with another (real) outcome than
/// `o`, into `exc`: what a summary relative to that prefix excepts
/// (`describe`). Other outcomes are named by their own routes' prefixes (a
/// piece without a route by itself); runs absorb excluded pieces.
/// `pieces` name their outcomes by index into `outcomes`. Counted up to
/// `cap` blocks: past that, how many more is not wanted (the walk stops).
#[allow(clippy::too_many_arguments)]
pub(super) fn exceptions(
    fam: Family,
    pr: Range,
    pieces: &pieces::Pieces,
    outcomes: &[Outcome],
    o: u32,
    route_dst: impl Fn(RouteKey) -> Option<Range>,
    cap: u64,
    exc: &mut Exceptions,
) {
    exc.clear();
    // The range being extended (the last of the list), and whether the
    // run that made it goes on.
    let mut last: Option<Range> = None;
    let mut open = false;
    // The pieces are in order: those overlapping the prefix are a run.
    let first = pieces.partition_point(|r| r.end <= pr.start);
    for (r, xi, route) in pieces
        .iter_from(first)
        .take_while(|(r, _, _)| r.start < pr.end)
    {
        match outcomes[xi as usize] {
            Outcome::Skip => continue,
            // A never-peer range ends a run: exceptions on both sides of
            // 127/8 are two, not one spanning it.
            Outcome::Never => {
                open = false;
                continue;
            }
            _ => {}
        }
        if xi == o {
            open = false;
            continue;
        }
        let own = route.and_then(&route_dst);
        let r = match own {
            Some(rr) if rr.start >= pr.start && rr.end <= pr.end && rr != pr => rr,
            _ => Range {
                start: r.start.max(pr.start),
                end: r.end.min(pr.end),
            },
        };
        match &mut last {
            Some(l) if l.start <= r.start && l.end >= r.end => {}
            Some(l) if open || l.end >= r.start => l.end = l.end.max(r.end),
            _ => {
                if let Some(l) = last.replace(r) {
                    exc.add(fam, l);
                    if exc.n >= cap {
                        return;
                    }
                }
            }
        }
        open = true;
    }
    if let Some(l) = last {
        exc.add(fam, l);
    }
}

/// The CIDR list of an outcome's ranges (bounded: the first ones and a
/// count of the rest), and a short form relative to the widest deciding
/// route's prefix: the prefix itself when nothing of it with a different
/// outcome remains, else `PREFIX except …` when that is shorter. `others`
/// are the prefix's pieces of other outcomes (`exceptions`; none without
/// a route).
pub(super) fn describe(
    fam: Family,
    ranges: &[Range],
    route: Option<Range>,
    others: &Exceptions,
) -> (Vec<IpNet>, u64, String) {
    let list = |v: &[IpNet], n: usize| {
        let mut s = String::with_capacity(128);
        push_list(&mut s, v.iter(), n, space::push_net);
        s
    };
    let Some(pr) = route else {
        let (exact, more) = cidr_blocks(fam, ranges);
        let s = list(&exact, exact.len() + more as usize);
        return (exact, more, s);
    };
    let covered = ranges
        .iter()
        .all(|r| r.start >= pr.start && r.end <= pr.end);
    let (exact, more) = cidr_blocks(fam, ranges);
    let total = exact.len() + more as usize;
    if !covered {
        let s = list(&exact, total);
        return (exact, more, s);
    }
    let prefix = space::blocks(fam, pr)
        .next()
        .map(|(s, p)| space::net_string(fam, s, p))
        .unwrap_or_default();
    if others.n == 0 {
        // The summary names the route's prefix; the list holds its peers.
        return (exact, more, prefix);
    }
    let (shown, n) = (others.shown.iter().copied(), others.n as usize);
    let s = if n < total {
        let mut s = prefix;
        s.reserve(128);
        s.push_str(" except ");
        push_list(&mut s, shown, n, |s, (start, plen)| {
            s.push_str(space::NetText::of(fam, start, plen).as_str())
        });
        s
    } else {
        list(&exact, total)
    };
    (exact, more, s)
}

/// `by_group` is the stable sort by group: each group's items in the order
/// they came, groups in order, the ends where each group's stop (an empty
/// group ends where the one before it does).
#[cfg(test)]
#[test]
fn by_group_is_a_stable_sort_by_group() {
    let mut rng = super::testhosts::Rng(5);
    let (mut out, mut ends) = (Vec::new(), Vec::new());
    for n in [0usize, 1, 2, 7, 100, 1000] {
        let groups = 1 + rng.below(9) as usize;
        let items: Vec<(u32, u64)> = (0..n)
            .map(|_| (rng.below(groups as u64) as u32, rng.next()))
            .collect();
        by_group(&items, groups, &mut out, &mut ends);
        let mut want = items.clone();
        want.sort_by_key(|&(g, _)| g);
        assert_eq!(out, want.iter().map(|&(_, v)| v).collect::<Vec<_>>(), "{n}");
        assert_eq!(ends.len(), groups);
        for (g, &e) in ends.iter().enumerate() {
            let end = want.partition_point(|&(x, _)| x as usize <= g);
            assert_eq!(e, end, "{n}: group {g}");
        }
    }
}
