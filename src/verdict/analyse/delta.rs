//! An endpoint's report read off its group's template, where the two differ
//! in a few pieces only.
//!
//! The endpoints of one group of replies get the same answer for every
//! destination; their reports differ only where an answer names the
//! endpoint's own link (a leg or nexthop on it: `Ok`, or another leg) or a
//! leak lies inside its own prefixes (`same-subnet`). A concentrator's
//! 8,000 point-to-point links, each answered by one route of its own, walked
//! 24,000 pieces per endpoint to find that one of them was its own.
//!
//! So, once a group has walked twice and its walks touched few pieces, it
//! walks once more as no endpoint's (`Template`: no link, no prefix of its
//! own), and keeps its pieces, the steps that made them, the devices its
//! answers name, and its report. An endpoint's report is then the
//! template's, less the leaks of the outcomes its own pieces take away:
//! only the template's steps holding such pieces are walked again, as the
//! endpoint. Anything else the endpoint would see otherwise (a piece of
//! another outcome, a leak group left in part, another peer segment, a rule
//! met first elsewhere, an answer that depends on the source) and the
//! endpoint is walked whole, as before: the report is the whole walk's,
//! byte for byte (`delta_reports_are_the_whole_walks`).

use super::{
    Memo, NO_IFACE, Outcome, RawAnswer, RouteKey, View, WalkCtx, Walked, Walker, group_leaks,
    hit_legs, route_in,
};
use crate::verdict::peers::{PeerWalk, Peers, RangeSet};
use crate::verdict::quote::Quoter;
use crate::verdict::{FastMap, FastSet, Leak, LeakList, Leaks, NoRoute, Quote};
use std::sync::Arc;

/// Groups whose last walk had fewer than this many steps get no template:
/// a fleet's hosts walk tens of pieces, and a template costs a walk. The
/// unit tests' small hosts get templates too, so that every test that
/// compares the analysis with a piece-by-piece walk compares them.
const MIN_STEPS: usize = if cfg!(test) { 1 } else { 256 };

#[cfg(test)]
thread_local! {
    /// Endpoints whose report was read off a template on this thread.
    pub(crate) static READ_OFF: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// At most this many templates at once per family (each holds a walk's
/// pieces): a group whose template was let go gets none again.
const MAX_LIVE: usize = 4;

/// A template's walk as it went: each step's first point and first piece,
/// and the devices each piece's answer names.
#[derive(Default)]
pub(in crate::verdict) struct Record {
    pub(super) steps: Vec<(u32, u32)>,
    /// How many answers that depend on the source (`Memo::met_by_source`)
    /// the walk had met at each step's start.
    pub(super) met_at: Vec<u32>,
    /// (device, piece): a leg's or the deciding route's nexthops'.
    devs: Vec<(u32, u32)>,
}

/// The templates of one family's groups, and how each group's walks went.
#[derive(Default)]
pub(in crate::verdict) struct Templates {
    /// By group: its whole walks, and whether the last touched few pieces.
    walks: FastMap<usize, (u32, bool)>,
    /// By group: its template, none where it was given up.
    made: FastMap<usize, Option<Box<Template>>>,
    live: usize,
}

/// A group's walk as no endpoint's, and its report.
struct Template {
    /// Each piece's start, outcome and deciding route, as the walk pushed
    /// them (not merged): they tile the space, each ending where the next
    /// starts (the last at its top, `top`).
    pieces: Vec<(u128, u32, Option<RouteKey>)>,
    top: u128,
    outcomes: Vec<Outcome>,
    /// Each step's first point and first piece (`Record::steps`), and the
    /// answers that depend on the source met by its start (none where it
    /// met none at all).
    steps: Vec<(u32, u32)>,
    met_at: Vec<u32>,
    /// The answers that depend on the source, as `analyse` leaves them.
    met: Vec<(u32, u128, u32)>,
    /// The pieces each device is named by (`Record::devs`), and the
    /// devices named by too many for an endpoint on them to be read off.
    by_dev: FastMap<u32, Vec<u32>>,
    crowded: FastSet<u32>,
    /// Each outcome's pieces' size, all told.
    size: Vec<u128>,
    /// Where each rule of the walk's `conditional` was first met, by rule,
    /// and the rules in the order first met, with where (ascending).
    cond_first: Vec<u128>,
    cond: Vec<(u128, u32)>,
    /// The report: the leaks in `settle`'s order, each with its outcome.
    leaks: Vec<(Arc<Leak>, u32)>,
    /// Those leaks alone, shared by the endpoints read off, and each
    /// leak's (outcome, position) by outcome (made at the first).
    base: Option<(LeakList, Vec<(u32, u32)>)>,
    no_route: Vec<NoRoute>,
    conditional: Vec<Quote>,
    /// The peer segments (`PeerWalk`) and whether runs were taken whole.
    segs: PeerWalk,
    runs: bool,
    /// Endpoints read off it, and endpoints walked whole all the same.
    hits: u32,
    misses: u32,
}

impl Template {
    fn end(&self, k: usize) -> u128 {
        self.pieces.get(k + 1).map_or(self.top, |p| p.0)
    }

    /// The piece holding address `x`.
    fn holding(&self, x: u128) -> usize {
        self.pieces.partition_point(|p| p.0 <= x).saturating_sub(1)
    }
}

/// An endpoint's report, as `analyse` sets it.
pub(super) struct Delta {
    pub(super) leaks: Leaks,
    pub(super) no_route: Vec<NoRoute>,
    pub(super) conditional: Vec<Quote>,
}

/// Notes a whole walk of group `g` (`eligible`: by an endpoint a template
/// could answer).
pub(super) fn walked(m: &mut Memo<'_>, g: usize, w: &Walked, eligible: bool) {
    if eligible {
        let e = m.templates.walks.entry(g).or_default();
        e.0 += 1;
        e.1 = w.steps >= MIN_STEPS && w.touched * 8 <= w.steps;
    }
}

/// Records the devices answer `rid` names, for the piece pushed last.
pub(super) fn record_devs(m: &mut Memo<'_>, out: &mut Walked, rid: u32) {
    let piece = (out.pieces.len() - 1) as u32;
    let raw = m.raws.get(rid);
    let route = raw.route;
    let mut devs: Vec<u32> = match &m.shapes[raw.shape as usize].answer {
        RawAnswer::Hit {
            dev,
            gateway,
            nexthops,
            ..
        } => {
            let one = [(*dev, *gateway)];
            let legs = hit_legs(&m.hops, *nexthops, &one);
            legs.iter().map(|l| l.0).collect()
        }
        _ => Vec::new(),
    };
    if let Some(e) = route.and_then(|k| route_in(&m.tables, k)) {
        for n in &e.route.nexthops {
            if let Some(d) = n.dev.as_deref() {
                devs.push(m.name(d));
            }
        }
    }
    devs.sort_unstable();
    devs.dedup();
    if let Some(r) = &mut out.record {
        r.devs.extend(devs.into_iter().map(|d| (d, piece)));
    }
}

/// The report of the endpoint `view` (own prefixes `own`, peer walk
/// `walk`) read off its group's template, made here if the group's walks
/// call for one; none where it must be walked whole.
pub(super) fn endpoint<'h>(
    ctx: &WalkCtx<'_, 'h>,
    q: &Quoter<'_>,
    m: &mut Memo<'h>,
    view: &View<'_>,
    own: &RangeSet,
    walk: PeerWalk,
) -> Option<Delta> {
    let g = ctx.g;
    let mut t = match m.templates.made.get_mut(&g) {
        Some(slot) => slot.take()?,
        None => {
            let (walks, few) = m.templates.walks.get(&g).copied().unwrap_or_default();
            if walks < 2 || !few {
                return None;
            }
            if m.templates.live >= MAX_LIVE {
                m.templates.made.insert(g, None);
                return None;
            }
            match build(ctx, q, m) {
                Some(t) => {
                    m.templates.live += 1;
                    Box::new(t)
                }
                None => {
                    m.templates.made.insert(g, None);
                    return None;
                }
            }
        }
    };
    let d = apply(ctx, m, view, own, walk, &mut t);
    match &d {
        Some(_) => {
            t.hits += 1;
            #[cfg(test)]
            READ_OFF.with(|r| r.set(r.get() + 1));
        }
        None => t.misses += 1,
    }
    // One that mostly fails is let go (its memory with it).
    if t.misses > 8 + 2 * t.hits {
        m.templates.made.insert(g, None);
        m.templates.live -= 1;
    } else {
        m.templates.made.insert(g, Some(t));
    }
    d
}

/// Walks group `ctx.g` as no endpoint's and makes its report; none where
/// it met too many answers that depend on the source (`MET_MAX`).
fn build<'h>(ctx: &WalkCtx<'_, 'h>, q: &Quoter<'_>, m: &mut Memo<'h>) -> Option<Template> {
    let sp = ctx.sp;
    let peers = Peers::none(sp);
    let view = View {
        iface: NO_IFACE,
        name: "",
        internal: false,
        strict: false,
    };
    // In the endpoints' buffers: a full table's pieces are millions, and a
    // second set of them was 200 MB more at the peak.
    let mut scratch = std::mem::take(&mut m.scratch);
    let t = build_in(ctx, q, m, &mut scratch, &peers, &view);
    scratch.walked.clear();
    m.scratch = scratch;
    t
}

fn build_in<'h>(
    ctx: &WalkCtx<'_, 'h>,
    q: &Quoter<'_>,
    m: &mut Memo<'h>,
    scratch: &mut super::Scratch,
    peers: &Peers,
    view: &View<'_>,
) -> Option<Template> {
    let sp = ctx.sp;
    let walked = &mut scratch.walked;
    walked.clear();
    walked.record = Some(Record::default());
    walked.unmerged = true;
    let met_before = m.met_by_source.replace(Vec::new());
    let mut walker = Walker::new(ctx, m, PeerWalk::new(peers, sp));
    let runs = walker.runs.is_some();
    let n = sp.pts.len();
    walker.steps(ctx, m, view, walked, 0, n);
    walker.done(m);
    let mut met = std::mem::replace(&mut m.met_by_source, met_before)?;
    let mut record = walked.record.take()?;
    record.steps.push((n as u32, walked.pieces.len() as u32));
    record.met_at.push(met.len() as u32);
    if met.is_empty() {
        record.met_at = Vec::new();
    }
    met.sort_unstable_by_key(|x| x.0);
    met.dedup_by_key(|x| x.0);
    let top = crate::verdict::space::top(sp.fam);
    let pieces = || walked.pieces.iter();
    let tiled = pieces()
        .zip(pieces().skip(1))
        .all(|(a, b)| a.0.end == b.0.start)
        && walked.pieces.last().is_none_or(|p| p.0.end == top);
    if !tiled {
        return None;
    }
    let gr = &mut scratch.grouping;
    let (mut leaks, mut no_route) = (Vec::new(), Vec::new());
    group_leaks(sp.fam, q, m, walked, gr, &mut leaks, &mut no_route);
    let tagged = gr.outcome_of.len() == leaks.len();
    let mut leaks: Vec<(Arc<Leak>, u32)> = leaks
        .into_iter()
        .zip(gr.outcome_of.iter().copied())
        .collect();
    if !tagged {
        return None;
    }
    // `settle`'s order (a stable sort): an endpoint's leaks are these
    // less some, in the same order.
    leaks.sort_by(|(a, _), (b, _)| super::settle_order(a, b));
    // A device named by more pieces than an endpoint may walk again (the
    // default route's uplink) is not kept by piece.
    let mut named: FastMap<u32, usize> = FastMap::default();
    for &(d, _) in &record.devs {
        *named.entry(d).or_default() += 1;
    }
    let most = record.steps.len() / 8;
    let mut by_dev: FastMap<u32, Vec<u32>> = FastMap::default();
    let mut crowded: FastSet<u32> = FastSet::default();
    for (&d, &k) in &named {
        if k > most {
            crowded.insert(d);
        } else {
            by_dev.insert(d, Vec::with_capacity(k));
        }
    }
    for &(d, p) in &record.devs {
        if let Some(v) = by_dev.get_mut(&d) {
            v.push(p);
        }
    }
    drop(record.devs);
    let mut size = vec![0u128; walked.outcomes.len()];
    for (r, o, _) in walked.pieces.iter() {
        size[o as usize] += r.end - r.start;
    }
    let mut cond_first = vec![u128::MAX; walked.cond_seen.len()];
    let mut cond = Vec::with_capacity(walked.conditional.len());
    for (&c, &at) in walked.conditional.iter().zip(&walked.cond_at) {
        cond_first[c as usize] = at;
        cond.push((at, c));
    }
    let conditional = walked
        .conditional
        .iter()
        .map(|&i| q.rule(sp.fam, i as usize))
        .collect();
    let mut pieces = Vec::with_capacity(walked.pieces.len());
    pieces.extend(walked.pieces.iter().map(|(r, o, k)| (r.start, o, k)));
    Some(Template {
        pieces,
        top,
        outcomes: std::mem::take(&mut walked.outcomes),
        steps: record.steps,
        met_at: record.met_at,
        met,
        by_dev,
        crowded,
        size,
        cond_first,
        cond,
        leaks,
        base: None,
        no_route,
        conditional,
        segs: PeerWalk::new(peers, sp),
        runs,
        hits: 0,
        misses: 0,
    })
}

/// The endpoint's report off template `t`, where only its own pieces
/// differ and each takes a whole leak away.
fn apply<'h>(
    ctx: &WalkCtx<'_, 'h>,
    m: &mut Memo<'h>,
    view: &View<'_>,
    own: &RangeSet,
    walk: PeerWalk,
    t: &mut Template,
) -> Option<Delta> {
    if !walk.same_but_own(&t.segs) {
        return None;
    }
    if t.crowded.contains(&view.iface) {
        return None;
    }
    let (pieces, outcomes) = (&t.pieces, &t.outcomes);
    // The template's pieces that read the endpoint's link or prefixes.
    let by_dev = t.by_dev.get(&view.iface).into_iter().flatten().copied();
    let mut patched: Vec<u32> = by_dev.collect();
    for r in own.ranges() {
        let mut k = t.holding(r.start);
        while let Some(&(start, o, _)) = pieces.get(k)
            && start < r.end
        {
            if t.end(k) > r.start && matches!(outcomes[o as usize], Outcome::Leak { .. }) {
                patched.push(k as u32);
            }
            k += 1;
        }
    }
    // Their steps, each walked again as the endpoint.
    let mut steps: Vec<usize> = patched
        .iter()
        .map(|&p| t.steps.partition_point(|s| s.1 <= p) - 1)
        .collect();
    steps.sort_unstable();
    steps.dedup();
    let points: usize = steps
        .iter()
        .map(|&s| (t.steps[s + 1].0 - t.steps[s].0) as usize)
        .sum();
    // Where the template met answers that depend on the source, the
    // endpoint's list of them could come out otherwise.
    if !t.met_at.is_empty() && steps.iter().any(|&s| t.met_at[s] != t.met_at[s + 1]) {
        return None;
    }
    if steps.len() * 8 > t.steps.len() || points * 8 > ctx.sp.pts.len() {
        return None;
    }
    let mut walker = Walker::new(ctx, m, walk);
    if walker.runs.is_some() != t.runs {
        walker.done(m);
        return None;
    }
    let mut out = Walked {
        unmerged: true,
        ..Default::default()
    };
    // By outcome of the template's: how much of it the endpoint takes away.
    let mut removed: FastMap<u32, u128> = FastMap::default();
    let mut same = true;
    'steps: for &s in &steps {
        let ((from, p0), (to, p1)) = (t.steps[s], t.steps[s + 1]);
        out.pieces.clear();
        if walker.steps(ctx, m, view, &mut out, from as usize, to as usize) != to as usize {
            same = false;
            break;
        }
        for (r, o, route) in out.pieces.iter() {
            let j = t.holding(r.start);
            let (tstart, to, troute) = pieces[j];
            let inside = (p0 as usize..p1 as usize).contains(&j);
            if !inside || r.start < tstart || r.end > t.end(j) || route != troute {
                same = false;
                break 'steps;
            }
            let (mine, tmpl) = (out.outcomes[o as usize], outcomes[to as usize]);
            match (mine, tmpl) {
                _ if mine == tmpl => {}
                (Outcome::Ok | Outcome::Foreign, Outcome::Leak { .. }) => {
                    *removed.entry(to).or_default() += r.end - r.start;
                }
                _ => {
                    same = false;
                    break 'steps;
                }
            }
        }
    }
    walker.done(m);
    // Rules met first where the template met them: none met before, and
    // those the template met first in a step walked again met there too.
    // No answer that depends on the source (the template's are the
    // endpoint's), and each leak taken away whole.
    let mine = |c: u32| {
        let at = out.conditional.iter().position(|&x| x == c);
        at.map(|i| out.cond_at[i])
    };
    let cond_ok = out.conditional.iter().zip(&out.cond_at).all(|(&c, &at)| {
        t.cond_first
            .get(c as usize)
            .is_some_and(|&first| first <= at)
    }) && steps.iter().all(|&s| {
        let from = ctx.sp.pts[t.steps[s].0 as usize];
        let to = ctx
            .sp
            .pts
            .get(t.steps[s + 1].0 as usize)
            .copied()
            .unwrap_or(t.top);
        let first = t.cond.partition_point(|x| x.0 < from);
        t.cond[first..]
            .iter()
            .take_while(|x| x.0 < to)
            .all(|&(at, c)| mine(c) == Some(at))
    });
    let met_ok = m.met_by_source.as_ref().is_some_and(|v| v.is_empty());
    if !same || !cond_ok || !met_ok || removed.iter().any(|(&o, &n)| t.size[o as usize] != n) {
        return None;
    }
    // The template's list less the positions of the outcomes taken away
    // (each endpoint reading a list of its own was a concentrator's links²).
    let (base, by_outcome) = t.base.get_or_insert_with(|| {
        let base = t.leaks.iter().map(|(l, _)| l.clone()).collect();
        let mut by = (t.leaks.iter().enumerate())
            .map(|(k, &(_, o))| (o, k as u32))
            .collect::<Vec<_>>();
        by.sort_unstable();
        (base, by)
    });
    let mut less = Vec::new();
    for &o in removed.keys() {
        let first = by_outcome.partition_point(|x| x.0 < o);
        less.extend(
            by_outcome[first..]
                .iter()
                .take_while(|x| x.0 == o)
                .map(|x| x.1),
        );
    }
    less.sort_unstable();
    m.met_by_source = Some(t.met.clone());
    Some(Delta {
        leaks: Leaks::off(base.clone(), less.into()),
        no_route: t.no_route.clone(),
        conditional: t.conditional.clone(),
    })
}
