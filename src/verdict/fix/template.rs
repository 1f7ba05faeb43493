//! A layout's labels read off its slot's template, where an endpoint
//! differs from it in a few pieces only (`wants`).
//!
//! The endpoints of one slot get the same lookup for every kind of piece;
//! their labels differ only where a lookup's answer names the endpoint's
//! own link (a leg on it), or a piece lies in its own prefixes (`DIRECT`
//! for `VIA`, or a segment of its own). A concentrator's links each
//! labelled every link's pieces: links².
//!
//! So, at a slot's third endpoint (two are walked: a slot of two gets no
//! template), the slot is walked once more as no endpoint's (no link, no
//! prefix of its own), and keeps each piece's
//! label, the devices each piece's answer names, and the pieces whose
//! label is a leak, with the priority of the rule that decides it. An
//! endpoint's labels are then the template's, with the pieces its link
//! or prefixes touch labelled again as its own. Any other difference (an
//! internal or loopback endpoint, other peer segments, its link named by
//! too many pieces, too many pieces touched) and it is walked whole, as
//! before. Test builds compare each read with the walk.

use super::{
    ANY, Ask, Captured, Endpoint, LabelSink, NO_LOOKUP, THROW, label_of, space, wants_walk,
};
use crate::verdict::analyse::Outcome;
use crate::verdict::peers::{PeerWalk, Peers};
use crate::verdict::{FastMap, FastSet};
use std::net::IpAddr;

/// Spaces of fewer pieces get no template: a fleet's hosts have tens,
/// and a template costs a walk. The unit tests' small hosts get templates
/// too, so that every planning test compares the read with the walk.
const MIN_PIECES: usize = if cfg!(test) { 1 } else { 256 };

/// At most this many templates at once (each holds a byte per piece).
const MAX_LIVE: usize = 4;

#[cfg(test)]
thread_local! {
    /// Labels read off a template on this thread.
    pub(super) static READ_OFF: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// The templates of one family's slots, and how often each was walked.
#[derive(Default)]
pub(super) struct Layouts {
    walks: FastMap<usize, u32>,
    /// By slot: its template, none where it was given up.
    made: FastMap<usize, Option<Box<Template>>>,
    live: usize,
}

/// A slot's labels as no endpoint's.
struct Template {
    /// The space it labels (its points' address and count).
    space: (*const u128, usize),
    labels: Vec<u8>,
    /// The peer segments it was walked with.
    segs: PeerWalk,
    /// The pieces each device is named by (a leg of their answer), and the
    /// devices named by too many for an endpoint on them to be read off.
    by_dev: FastMap<String, Vec<u32>>,
    crowded: FastSet<String>,
    /// The pieces labelled a leak, with the priority of the rule that
    /// decides it, by priority.
    leaks: Vec<(u32, u32)>,
    hits: u32,
    misses: u32,
}

/// Each piece's label and the lookup it came of (`NO_LOOKUP`: none).
#[derive(Default, PartialEq, Debug)]
struct PieceLabels {
    labels: Vec<u8>,
    by: Vec<u32>,
}

impl LabelSink for PieceLabels {
    fn len(&self) -> usize {
        self.labels.len()
    }

    fn fill(&mut self, upto: usize, m: u8) {
        self.fill_by(upto, m, NO_LOOKUP);
    }

    fn fill_by(&mut self, upto: usize, m: u8, k: u32) {
        if upto > self.labels.len() {
            self.labels.resize(upto, m);
            self.by.resize(upto, k);
        }
    }

    fn fill_others(&mut self, kinds: &[u32], other: u32, _others: &[u32], m: u8, k: u32) {
        for &x in kinds {
            let (m, k) = if x == other { (m, k) } else { (ANY, NO_LOOKUP) };
            self.labels.push(m);
            self.by.push(k);
        }
    }
}

/// Whether a template can stand for `e`: its peer segments are a link's
/// own prefixes apart from the template's (`Peers::new`).
fn eligible(e: &Endpoint) -> bool {
    !e.internal && !matches!(e.address, IpAddr::V4(v) if v.is_loopback())
}

/// Notes a whole walk for `a`'s endpoint.
pub(super) fn walked(cap: &mut Captured, a: &Ask<'_, '_>) {
    if eligible(a.e) && a.sp.pts.len() >= MIN_PIECES {
        *cap.layouts.walks.entry(a.slot).or_default() += 1;
    }
}

/// Walks `a`'s slot as no endpoint's (its endpoint's address, no link).
fn build(cap: &mut Captured, a: &Ask<'_, '_>) -> Option<Template> {
    let (host, sp, e) = (a.host, a.sp, a.e);
    let mut none = crate::verdict::unassessed(e.address, e.prefixlen, String::new(), e.family);
    none.secondary = e.secondary;
    let whole = Ask {
        e: &none,
        gw: None,
        stop: None,
        ..*a
    };
    let (walk, _) = wants_walk::<PieceLabels>(cap, &whole)?;
    let n = sp.pts.len();
    if walk.labels.len() != n {
        return None;
    }
    // Each lookup's devices (each once) and leak priority, once.
    let mut of: FastMap<u32, (Vec<&str>, u32)> = FastMap::default();
    let mut leaks = Vec::new();
    let mut count: FastMap<&str, usize> = FastMap::default();
    for (p, &k) in walk.by.iter().enumerate() {
        if k == NO_LOOKUP {
            continue;
        }
        let (devs, prio) = of.entry(k).or_insert_with(|| {
            let l = cap.lookup(k);
            let mut devs: Vec<&str> = match &l.result {
                Ok(h) => std::iter::once(h.dev.as_str())
                    .chain(h.nexthops.iter().map(|x| x.dev.as_str()))
                    .collect(),
                Err(_) => Vec::new(),
            };
            devs.sort_unstable();
            devs.dedup();
            (devs, label_of(host, sp, l, &none, None, || false).1)
        });
        for d in devs.iter() {
            *count.entry(d).or_default() += 1;
        }
        if *prio != u32::MAX {
            leaks.push((*prio, p as u32));
        }
    }
    leaks.sort_unstable();
    // A device named by more pieces than an endpoint may label again (the
    // default route's uplink) is not kept by piece.
    let crowded: FastSet<String> = (count.iter())
        .filter(|&(_, &c)| c * 8 > n)
        .map(|(d, _)| d.to_string())
        .collect();
    let mut by_dev: FastMap<String, Vec<u32>> = FastMap::default();
    for (p, &k) in walk.by.iter().enumerate() {
        for &d in of.get(&k).map_or(&[][..], |x| &x.0) {
            match by_dev.get_mut(d) {
                Some(v) => v.push(p as u32),
                None if !crowded.contains(d) => {
                    by_dev.insert(d.to_string(), vec![p as u32]);
                }
                None => {}
            }
        }
    }
    Some(Template {
        space: (sp.pts.as_ptr(), n),
        labels: walk.labels,
        segs: PeerWalk::new(&Peers::new(sp, &none), sp),
        by_dev,
        crowded,
        leaks,
        hits: 0,
        misses: 0,
    })
}

/// `a`'s labels read off its slot's template; none where they must be
/// walked.
pub(super) fn read_off<L: LabelSink>(
    cap: &mut Captured,
    a: &Ask<'_, '_>,
) -> Option<Option<(L, u32)>> {
    if !eligible(a.e) {
        return None;
    }
    let slot = a.slot;
    let ls = &mut cap.layouts;
    let mut t = match ls.made.get_mut(&slot) {
        Some(t) => t.take()?,
        // Made for a slot's third endpoint: two alone are walked.
        None if ls.walks.get(&slot).is_some_and(|&n| n >= 2) => {
            if ls.live >= MAX_LIVE {
                ls.made.insert(slot, None);
                return None;
            }
            let Some(t) = build(cap, a) else {
                cap.layouts.made.insert(slot, None);
                return None;
            };
            cap.layouts.live += 1;
            Box::new(t)
        }
        None => return None,
    };
    let read = apply(cap, a, &t);
    match read {
        Some(_) => t.hits += 1,
        None => t.misses += 1,
    }
    let ls = &mut cap.layouts;
    // One that mostly fails is let go (its memory with it).
    if t.misses > 8 + 2 * t.hits {
        ls.live -= 1;
    } else {
        ls.made.insert(slot, Some(t));
    }
    #[cfg(test)]
    if read.is_some() {
        READ_OFF.with(|r| r.set(r.get() + 1));
    }
    read
}

fn apply<L: LabelSink>(
    cap: &mut Captured,
    a: &Ask<'_, '_>,
    t: &Template,
) -> Option<Option<(L, u32)>> {
    let (sp, e) = (a.sp, a.e);
    let n = sp.pts.len();
    if t.space != (sp.pts.as_ptr(), n) || t.crowded.contains(&e.interface) {
        return None;
    }
    let peers = Peers::new(sp, e);
    let mut walk = PeerWalk::new(&peers, sp);
    if !walk.same_but_own(&t.segs) {
        return None;
    }
    // The pieces whose answer names the endpoint's link, and those in its
    // own prefixes.
    let mut patched: Vec<u32> = t.by_dev.get(&e.interface).cloned().unwrap_or_default();
    for r in peers.own.ranges() {
        let first = sp.pts.partition_point(|&x| x <= r.start).saturating_sub(1);
        let end = sp.pts.partition_point(|&x| x < r.end);
        patched.extend(first as u32..end as u32);
    }
    patched.sort_unstable();
    patched.dedup();
    if patched.len() * 8 > n {
        return None;
    }
    let mut labels = t.labels.clone();
    let mut decider = u32::MAX;
    for &p in &patched {
        let (p, start) = (p as usize, sp.pts[p as usize]);
        labels[p] = match walk.without_lookup(start) {
            Some(Outcome::Skip) => ANY,
            Some(_) => THROW,
            None => {
                let addr = space::addr(e.family, start);
                let k = cap.get(a.host, a.slot, a.rules, sp.kind[p] as usize, addr);
                let own = || walk.is_own(start);
                let (m, prio) = label_of(a.host, sp, cap.lookup(k), e, a.gw, own);
                decider = decider.min(prio);
                m
            }
        };
    }
    // The first leak of the template's that the endpoint leaves as it is.
    if let Some(&(prio, _)) = t
        .leaks
        .iter()
        .find(|(_, p)| patched.binary_search(p).is_err())
    {
        decider = decider.min(prio);
    }
    if a.stop.is_some_and(|s| labels.contains(&s)) {
        return Some(None);
    }
    let mut out = L::default();
    let mut k = 0;
    while k < n {
        let m = labels[k];
        k += labels[k..].iter().position(|&x| x != m).unwrap_or(n - k);
        out.fill(k, m);
    }
    Some(Some((out, decider)))
}

/// Test builds: labels read off a template are the walk's.
#[cfg(test)]
pub(super) fn check<L: LabelSink>(read: Option<&(L, u32)>, walked: Option<(L, u32)>) {
    assert_eq!(
        read,
        walked.as_ref(),
        "labels read off a template, and walked"
    );
}
