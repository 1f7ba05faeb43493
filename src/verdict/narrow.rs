//! Prefixes that only some sources' replies can meet.
//!
//! A table that only rules with a `from` of their own look up (`from ADDR
//! lookup T`: a table per address) is consulted by the replies of those
//! sources alone. For any other source's replies, a piece inside one of its
//! prefixes answers as the piece around that prefix does. A host with a
//! table per address, each holding a route of its own, cut the space into a
//! piece per table, which every address's group walked and looked up: N²
//! lookups for N addresses.
//!
//! A group's answers are kept by kind as the group sees them (`project`):
//! a kind that a table of another source's alone makes is its parent's.
//! Where two groups agree up to the rule that decided an answer, the tables
//! consulted up to there are both groups', and so are the prefixes that
//! tell those kinds apart: a shared answer holds for both (`Answers`).

use super::analyse::MIN_RUN;
use super::peers::{block_at, each_block_of, other_blocks};
use super::space::Range;
use super::{FastMap, FastSet};
use crate::grammar::Family;
use crate::grammar::names::Table;
use crate::model::lookup::ReplyRules;
use crate::model::{FibTable, Host, fam_idx};
use std::sync::Arc;

/// No narrow table owns the kind: every group tells it apart.
pub(super) const NO_OWNER: u32 = u32::MAX;

/// A group consults at most this many narrow tables for its walk to jump
/// over the others' pieces (`Narrow::jump`); past that it walks.
const MAX_OWN_TABLES: usize = 8;

pub(crate) struct Narrow {
    /// Per kind: the narrow table (its number) whose routes alone are the
    /// kind's prefix, where the prefix around it is no narrow table's;
    /// `NO_OWNER` otherwise (nested ones are every group's: their parent
    /// would be a narrow table's too).
    owner: Vec<u32>,
    /// Per kind: the kind of the prefix around it (the last kind, none's:
    /// itself).
    parent: Vec<u32>,
    /// The narrow tables, numbered.
    tables: FastMap<Table, u32>,
    /// Per narrow table: the pieces of the kinds it owns, ascending.
    pieces: Vec<Vec<u32>>,
    /// Runs of pieces whose kinds are `base` or owned ones around which
    /// `base` is: for a group that consults none of their tables, one piece
    /// of `base` (ascending, disjoint).
    runs: Vec<Run>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Run {
    pub(super) start: u32,
    pub(super) end: u32,
    pub(super) base: u32,
}

/// Tables a rule that matches regardless of the source looks up, and
/// those the kernel asks without custom rules (`wide`); the others.
fn split_tables(host: &Host, fam: Family) -> (FastSet<Table>, Vec<(&Table, &FibTable)>) {
    let fi = fam_idx(fam);
    let mut wide: FastSet<Table> = [Table::LOCAL, Table::MAIN, Table::DEFAULT]
        .map(Table::Id)
        .into_iter()
        .collect();
    for r in &host.rules[fi] {
        let any_source = r.rule.not || r.rule.from.is_none_or(|f| f.prefix_len() == 0);
        if let (true, Some(t)) = (any_source, &r.table) {
            wide.insert(t.clone());
        }
    }
    let narrow = host.tables[fi]
        .iter()
        .filter(|(t, _)| !wide.contains(*t))
        .collect();
    (wide, narrow)
}

/// Per block (sorted and deduplicated as `Space::cut` does), the one
/// table of `narrow` holding it, else `NO_OWNER` (none, several, a `wide`
/// table's, or no table's: a rule's `to`, a connected prefix, an address);
/// one more `NO_OWNER` for the kind past the last. None where no block is
/// owned. Each table's prefixes are found along the blocks: a map keyed
/// by prefix was 80 MB for three full tables.
fn holders(
    host: &Host,
    fam: Family,
    conn: &[(&str, ipnet::IpNet)],
    blocks: &[Range],
    narrow: &[(&Table, &FibTable)],
    wide: &FastSet<Table>,
) -> Option<Vec<u32>> {
    const NONE_YET: u32 = NO_OWNER - 1;
    let mut raw = vec![NONE_YET; blocks.len()];
    for (i, (_, t)) in narrow.iter().enumerate() {
        let i = i as u32;
        each_block_of(blocks, t, |b| {
            let o = &mut raw[b];
            *o = if *o == NONE_YET || *o == i {
                i
            } else {
                NO_OWNER
            };
        });
    }
    // Held by anything else: every group's.
    for (t, fib) in &host.tables[fam_idx(fam)] {
        if wide.contains(t) {
            each_block_of(blocks, fib, |b| raw[b] = NO_OWNER);
        }
    }
    for r in other_blocks(host, fam, conn) {
        if let Some(b) = block_at(blocks, &r) {
            raw[b] = NO_OWNER;
        }
    }
    for o in raw.iter_mut().filter(|o| **o == NONE_YET) {
        *o = NO_OWNER;
    }
    if raw.iter().all(|&o| o == NO_OWNER) {
        return None;
    }
    raw.push(NO_OWNER);
    Some(raw)
}

impl Narrow {
    /// The narrow tables of `host` and the kinds they own, for a space cut
    /// at `blocks` (sorted and deduplicated as `Space::cut` does), whose
    /// pieces have `kind`. None where no kind is owned, or a lookup may
    /// consult a table that no rule names (an `l3mdev` rule), or IPv6
    /// routes with a `from` make answers depend on the source itself.
    pub(super) fn of(
        host: &Host,
        fam: Family,
        conn: &[(&str, ipnet::IpNet)],
        blocks: &[Range],
        kind: &[u32],
    ) -> Option<Narrow> {
        let fi = fam_idx(fam);
        let rules = &host.rules[fi];
        if rules.iter().any(|r| r.rule.l3mdev) {
            return None;
        }
        let (wide, narrow) = split_tables(host, fam);
        if narrow.is_empty() {
            return None;
        }
        let raw = holders(host, fam, conn, blocks, &narrow, &wide)?;
        let kinds = blocks.len() + 1;
        // Each block's parent: the innermost open block (outer ones come
        // first, nested or disjoint).
        let root = blocks.len() as u32;
        let mut parent = Vec::with_capacity(kinds);
        let mut open: Vec<(u128, u32)> = Vec::new();
        for (i, b) in blocks.iter().enumerate() {
            while open.last().is_some_and(|&(end, _)| end <= b.start) {
                open.pop();
            }
            parent.push(open.last().map_or(root, |&(_, p)| p));
            open.push((b.end, i as u32));
        }
        parent.push(root);
        let owner: Vec<u32> = (0..kinds)
            .map(|k| match raw[parent[k] as usize] {
                NO_OWNER => raw[k],
                _ => NO_OWNER,
            })
            .collect();
        let mut pieces = vec![Vec::new(); narrow.len()];
        let mut any = false;
        for (i, &k) in kind.iter().enumerate() {
            if let Some(p) = pieces.get_mut(owner[k as usize] as usize) {
                p.push(i as u32);
                any = true;
            }
        }
        if !any {
            return None;
        }
        let base = |k: u32| match owner[k as usize] {
            NO_OWNER => k,
            _ => parent[k as usize],
        };
        let mut runs = Vec::new();
        let mut i = 0;
        while i < kind.len() {
            let b = base(kind[i]);
            let mut j = i;
            let mut owned = false;
            while j < kind.len() && base(kind[j]) == b {
                owned |= owner[kind[j] as usize] != NO_OWNER;
                j += 1;
            }
            if owned && (j - i) as u32 >= MIN_RUN {
                runs.push(Run {
                    start: i as u32,
                    end: j as u32,
                    base: b,
                });
            }
            i = j;
        }
        Some(Narrow {
            owner,
            parent,
            tables: narrow
                .iter()
                .enumerate()
                .map(|(i, (t, _))| ((*t).clone(), i as u32))
                .collect(),
            pieces,
            runs,
        })
    }

    /// The narrow tables replies under `rules` may consult (those of the
    /// rules that may match them), ascending.
    pub(super) fn tables_of(&self, host: &Host, fam: Family, rules: &ReplyRules) -> Arc<[u32]> {
        let all = &host.rules[fam_idx(fam)];
        let mut out: Vec<u32> = rules
            .met()
            .into_iter()
            .filter_map(|i| self.tables.get(all.get(i)?.table.as_ref()?).copied())
            .collect();
        out.sort_unstable();
        out.dedup();
        out.into()
    }

    /// `kind` as a group that consults the narrow tables `mine` sees it.
    pub(super) fn project(&self, kind: usize, mine: &[u32]) -> usize {
        match self.owner.get(kind) {
            Some(&o) if o != NO_OWNER && mine.binary_search(&o).is_err() => {
                self.parent[kind] as usize
            }
            _ => kind,
        }
    }

    /// How a walk of a group consulting `mine` takes the pieces from `i` on
    /// (`pts`: the space's bounds): where piece `i` lies in a run
    /// (`runs[*at..]`, `at` moved on as the walk goes) and the pieces up to
    /// the next of a kind the group tells apart stay within the peer segment
    /// (ending at address `seg_end`), two or more of them as one piece of
    /// the run's base kind: (that kind, the piece after them).
    pub(super) fn jump(
        &self,
        at: &mut usize,
        i: usize,
        mine: &[u32],
        pts: &[u128],
        seg_end: impl FnOnce() -> u128,
    ) -> Option<(usize, usize)> {
        if mine.len() > MAX_OWN_TABLES {
            return None;
        }
        let i32 = i as u32;
        super::peers::advance(&self.runs, at, |r| r.end <= i32);
        let r = *self.runs.get(*at).filter(|r| r.start <= i32)?;
        let own = mine
            .iter()
            .filter_map(|&t| {
                let p = &self.pieces[t as usize];
                p.get(p.partition_point(|&x| x < i32)).copied()
            })
            .min()
            .map_or(r.end, |x| x.min(r.end)) as usize;
        if own <= i + 1 {
            return None;
        }
        let seg_end = seg_end();
        let last = i + pts[i..own].partition_point(|&p| p < seg_end);
        (last > i + 1).then_some((r.base as usize, last))
    }

    /// Each owned kind, with its table and parent: (kind, owner, parent).
    pub(super) fn owned(&self) -> impl Iterator<Item = (u32, u32, u32)> + '_ {
        self.owner
            .iter()
            .enumerate()
            .filter(|(_, o)| **o != NO_OWNER)
            .map(|(k, &o)| (k as u32, o, self.parent[k]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verdict::peers::{connected, cut_blocks};
    use crate::verdict::testhosts;

    /// `holders` as it was found: a map from each narrow table's prefixes
    /// to the one table holding them.
    fn holders_by_map(
        host: &Host,
        fam: Family,
        conn: &[(&str, ipnet::IpNet)],
        blocks: &[Range],
        narrow: &[(&Table, &FibTable)],
        wide: &FastSet<Table>,
    ) -> Option<Vec<u32>> {
        let dsts = |t: &FibTable| -> Vec<Range> {
            t.routes.iter().map(|e| Range::of(&e.route.dst)).collect()
        };
        let mut own: FastMap<Range, u32> = Default::default();
        for (i, (_, t)) in narrow.iter().enumerate() {
            for r in dsts(t) {
                let o = own.entry(r).or_insert(i as u32);
                if *o != i as u32 {
                    *o = NO_OWNER;
                }
            }
        }
        let mut shared: Vec<Range> = other_blocks(host, fam, conn).collect();
        for (t, fib) in &host.tables[fam_idx(fam)] {
            if wide.contains(t) {
                shared.extend(dsts(fib));
            }
        }
        for r in shared {
            if let Some(o) = own.get_mut(&r) {
                *o = NO_OWNER;
            }
        }
        own.retain(|_, o| *o != NO_OWNER);
        (!own.is_empty()).then(|| {
            blocks
                .iter()
                .map(|b| own.get(b).copied().unwrap_or(NO_OWNER))
                .chain([NO_OWNER])
                .collect()
        })
    }

    /// Each block's holder, found along the tables, is the one a map of
    /// every narrow table's prefixes found: on hosts with a table per
    /// address whose prefixes repeat across tables, hosts with a large
    /// table per upstream, and hosts of every kind of rule and route.
    #[test]
    fn blocks_found_along_the_tables_have_the_holders_a_map_found() {
        let mut rng = testhosts::Rng(0x9e37_79b9_7f4a_7c15);
        let mut owned = 0;
        for i in 0..400 {
            let h = match i % 4 {
                0 => testhosts::random_host(&mut rng),
                1 => testhosts::random_narrow_host(&mut rng),
                2 => testhosts::random_narrow_multipath_host(&mut rng),
                _ => testhosts::random_upstream_tables(&mut rng),
            };
            for fam in [Family::Inet, Family::Inet6] {
                let conn = connected(&h, fam);
                let blocks = cut_blocks(&h, fam, &conn, None);
                let (wide, narrow) = split_tables(&h, fam);
                let got = holders(&h, fam, &conn, &blocks, &narrow, &wide);
                let want = holders_by_map(&h, fam, &conn, &blocks, &narrow, &wide);
                assert_eq!(got, want);
                owned += got.is_some() as usize;
            }
        }
        assert!(owned > 150, "{owned} with owned blocks");
    }
}
