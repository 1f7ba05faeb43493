//! Endpoints with nothing to report, told without walking their pieces.
//!
//! A host whose every address has its own `from ADDR lookup T` rule has a
//! group of replies per address, and each group's walk visits every piece
//! of the space, which that host's addresses cut: N² pieces for N
//! addresses. Most such groups take most answers from the reference group
//! (`Answers`: those decided before the rule they differ on) and look up a
//! handful of kinds of their own. Where every answer a group may meet
//! leaves by the endpoint's own link (or is not a reply that leaves, or goes
//! straight into a container link), no piece can be a leak or a dropped
//! reply whatever the peers: the walk would report nothing.

use super::{Answers, Memo, RawAnswer, is_internal_dev};
use crate::verdict::peers::Space;
use crate::verdict::{FastMap, LinkClass};
use std::collections::BTreeMap;

#[cfg(test)]
thread_local! {
    /// Endpoints told quiet on this thread (tests count them).
    pub(crate) static TOLD: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// How the replies of an answer leave, for an endpoint (not a container
/// link's) on some link.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Leaves {
    /// Not at all, or straight into a container link: quiet for every link.
    Nowhere,
    /// By this device (and containers): quiet for an endpoint on it.
    By(u32),
    /// Otherwise (two devices, an error, a rule the dumps cannot settle,
    /// an answer that depends on the address): never quiet.
    Loud,
}

impl Leaves {
    fn and(self, o: Leaves) -> Leaves {
        match (self, o) {
            (Leaves::Nowhere, x) | (x, Leaves::Nowhere) => x,
            (Leaves::By(a), Leaves::By(b)) if a == b => Leaves::By(a),
            _ => Leaves::Loud,
        }
    }

    fn quiet_for(self, dev: u32) -> bool {
        match self {
            Leaves::Nowhere => true,
            Leaves::By(d) => d == dev,
            Leaves::Loud => false,
        }
    }
}

/// The shared answers by the rule that decided them, built when a second
/// group asks, then kept up as groups share more.
pub(super) struct Index {
    /// Per deciding rule: how its answers leave, and their kinds.
    by_depth: BTreeMap<u32, (Leaves, Vec<u32>)>,
    /// Kinds without a shared answer (a bit each).
    unset: Vec<u64>,
    /// Kinds whose every piece is a never-peer, which a walk does not look
    /// up (but for a loopback endpoint's own prefix): a bit each.
    never: Vec<u64>,
    /// Each kind's first piece (where it is looked up).
    first: Vec<u128>,
    /// The kinds narrow tables own (`Narrow`), apart from `by_depth`'s
    /// lists and `unset`: a group consulting none of their tables sees
    /// them as their parents, and one with a table per address would look
    /// up every other address's table's kinds.
    narrow: Option<NarrowKinds>,
}

#[derive(Default)]
struct NarrowKinds {
    /// Per narrow table: its kinds.
    by_table: FastMap<u32, Vec<u32>>,
    /// Per parent: its owned kinds, with their tables.
    by_parent: Vec<(u32, Vec<(u32, u32)>)>,
    all: Vec<u32>,
}

/// At most this many kinds are kept in an index (a full table's million:
/// such a host has few groups).
const MAX_KINDS: usize = 1 << 18;
/// At most this many rules deciding shared answers are combined for a
/// group, and kinds of its own looked up, before it is walked instead.
const MAX_DEPTHS: usize = 256;
const MAX_OWN: usize = 4096;

impl<'h> Memo<'h> {
    /// How the replies of answer `rid` leave (`Leaves`).
    pub(super) fn leaves(&mut self, rid: u32, class: &LinkClass) -> Leaves {
        if self.raws.is_skip(rid) {
            return Leaves::Nowhere;
        }
        let shape = &self.shapes[self.raws.get(rid).shape as usize];
        if !shape.conditional.is_empty() || shape.by_source {
            return Leaves::Loud;
        }
        let (dev, gateway, nexthops) = match shape.answer {
            RawAnswer::NotUnicast => return Leaves::Nowhere,
            RawAnswer::Err(_)
            | RawAnswer::Hit {
                refused: Some(_), ..
            } => return Leaves::Loud,
            RawAnswer::Hit {
                dev,
                gateway,
                nexthops,
                ..
            } => (dev, gateway, nexthops),
        };
        let one = [(dev, gateway)];
        let legs = super::hit_legs(&self.hops, nexthops, &one);
        let mut out = Leaves::Nowhere;
        for &(d, gw) in legs {
            // Straight into a container link: delivered on the host.
            if gw.is_none() && is_internal_dev(&mut self.internal, &self.names, d, class) {
                continue;
            }
            out = out.and(Leaves::By(d));
        }
        out
    }

    /// Whether replies from an endpoint on device `iface` (no container
    /// link's) in group `g` get no answer but quiet ones (`Leaves`), found
    /// from the shared answers and the group's own, not by a walk. False
    /// when unsure (the first group, a group whose answers may depend on its
    /// address, too many kinds): the caller walks.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn quiet(
        &mut self,
        host: &'h crate::model::Host,
        sp: &Space<'_>,
        g: usize,
        rules: &crate::model::lookup::ReplyRules,
        iface: u32,
        class: &LinkClass,
        localnet: bool,
    ) -> bool {
        let (agree, own_source) = self.answers.reach(g);
        if self.answers.len() < 2 || own_source || sp.kinds > MAX_KINDS || agree == 0 {
            return false;
        }
        if self.quiet.is_none() {
            let idx = self.index(sp, class);
            self.quiet = Some(idx);
        }
        // Those shared since.
        for (kind, rid, depth) in std::mem::take(&mut self.quiet_new) {
            let l = self.leaves(rid, class);
            if let Some(idx) = &mut self.quiet {
                idx.shared(depth, l, kind);
            }
        }
        let mine = self.answers.mine(g);
        let Some(idx) = &self.quiet else {
            return false;
        };
        // The shared answers the group takes: decided before `agree`.
        let mut below = idx.by_depth.range(..agree);
        if below.clone().count() > MAX_DEPTHS || !below.all(|(_, (l, _))| l.quiet_for(iface)) {
            return false;
        }
        // The rest it looks up (or has): decided at `agree` or after, or
        // never shared.
        // Kinds a walk looks up (a kind may have no piece at all).
        let walked = |k: &u32| {
            idx.first[*k as usize] != u128::MAX
                && (localnet || idx.never[*k as usize / 64] >> (k % 64) & 1 == 0)
        };
        let mut own: Vec<u32> = Vec::new();
        for (_, (_, kinds)) in idx.by_depth.range(agree..) {
            own.extend(kinds.iter().filter(|k| walked(k)));
            if own.len() > MAX_OWN {
                return false;
            }
        }
        // Narrow tables' kinds: its own tables' as they are, the others' as
        // their parents, looked up where a kind of another's lies.
        let mut seen_as: Vec<(u32, u128)> = Vec::new();
        if let Some(nk) = &idx.narrow {
            match &mine {
                None => own.extend(nk.all.iter().filter(|k| walked(k))),
                Some(mine) => {
                    for t in mine.iter() {
                        let kinds = nk.by_table.get(t).map_or(&[][..], |v| &v[..]);
                        own.extend(kinds.iter().filter(|k| walked(k)));
                    }
                    for (parent, kids) in &nk.by_parent {
                        let other = kids
                            .iter()
                            .find(|(k, t)| mine.binary_search(t).is_err() && walked(k));
                        if let Some(&(k, _)) = other {
                            seen_as.push((*parent, idx.first[k as usize]));
                        }
                    }
                }
            }
            if own.len() + seen_as.len() > MAX_OWN {
                return false;
            }
        }
        for (w, &bits) in idx.unset.iter().enumerate() {
            let mut b = bits;
            while b != 0 {
                let k = (w * 64) as u32 + b.trailing_zeros();
                if walked(&k) {
                    own.push(k);
                }
                b &= b - 1;
            }
            if own.len() > MAX_OWN {
                return false;
            }
        }
        let mut firsts: Vec<(u32, u128)> = own
            .into_iter()
            .map(|k| (k, idx.first[k as usize]))
            .collect();
        firsts.extend(seen_as);
        for (kind, start) in firsts {
            let rid = self.raw(host, sp.fam, g, rules, Some(kind as usize), start);
            if !self.leaves(rid, class).quiet_for(iface) {
                return false;
            }
        }
        true
    }

    /// The index of the shared answers so far.
    fn index(&mut self, sp: &Space<'_>, class: &LinkClass) -> Index {
        let mut first = vec![u128::MAX; sp.kinds];
        let mut never = vec![u64::MAX; sp.kinds.div_ceil(64)];
        // As the walk asks it: by each piece's start.
        let mut cursor = crate::verdict::peers::Cursor::new(&sp.never);
        for (start, _, kind) in sp.pieces() {
            if first[kind] == u128::MAX {
                first[kind] = start;
            }
            if !cursor.contains(start) {
                never[kind / 64] &= !(1 << (kind % 64));
            }
        }
        let mut idx = Index {
            by_depth: BTreeMap::new(),
            unset: vec![0; sp.kinds.div_ceil(64)],
            never,
            first,
            narrow: None,
        };
        let mut owned = vec![false; sp.kinds];
        if let Some(n) = &self.answers.narrow {
            let mut nk = NarrowKinds::default();
            let mut parents: FastMap<u32, usize> = Default::default();
            for (k, t, parent) in n
                .owned()
                .filter(|(k, ..)| idx.first[*k as usize] != u128::MAX)
            {
                owned[k as usize] = true;
                nk.by_table.entry(t).or_default().push(k);
                let at = *parents.entry(parent).or_insert_with(|| {
                    nk.by_parent.push((parent, Vec::new()));
                    nk.by_parent.len() - 1
                });
                nk.by_parent[at].1.push((k, t));
                nk.all.push(k);
            }
            idx.narrow = Some(nk);
        }
        for (kind, owned) in owned.into_iter().enumerate() {
            match self.answers.shared_of(kind) {
                Some((rid, depth)) => {
                    let l = self.leaves(rid, class);
                    idx.shared(depth, l, kind as u32);
                }
                None if owned => {}
                None => idx.unset[kind / 64] |= 1 << (kind % 64),
            }
        }
        idx
    }
}

impl Index {
    /// `kind`'s answer, decided by rule `depth` and leaving as `l`, is
    /// shared now.
    fn shared(&mut self, depth: u32, l: Leaves, kind: u32) {
        self.unset[kind as usize / 64] &= !(1 << (kind % 64));
        let e = self
            .by_depth
            .entry(depth)
            .or_insert((Leaves::Nowhere, Vec::new()));
        e.0 = e.0.and(l);
        // A narrow table's kind is looked up only by the groups consulting
        // its table (`NarrowKinds`); its answer still counts for `below`.
        if self
            .narrow
            .as_ref()
            .is_none_or(|n| n.all.binary_search(&kind).is_err())
        {
            e.1.push(kind);
        }
    }
}

impl Answers {
    /// Group `g`'s agreement with the reference (`Group::agree`) and
    /// whether some of its answers depend on its address.
    pub(crate) fn reach(&self, g: usize) -> (u32, bool) {
        let grp = &self.groups[g];
        (grp.agree, grp.own_source)
    }

    /// The shared answer of `kind`, the rule that decided it, and whether
    /// it depends on the source itself.
    pub(crate) fn shared_by(&self, kind: usize) -> Option<(u32, u32, bool)> {
        self.shared.get(kind).filter(|s| s.0 != u32::MAX).copied()
    }

    /// The shared answer of `kind` and the rule that decided it.
    pub(super) fn shared_of(&self, kind: usize) -> Option<(u32, u32)> {
        self.shared
            .get(kind)
            .filter(|s| s.0 != u32::MAX)
            .map(|&(k, d, _)| (k, d))
    }
}
