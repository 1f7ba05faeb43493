//! A walk's pieces, held at the width of their family: a full IPv4 table's
//! walk is one piece per route (1.6 million), 20 bytes each where the
//! general form, two `u128` bounds, is 48.

use super::RouteKey;
use crate::verdict::space::Range;

/// (range, outcome, deciding route), as `Walked` pushes and reads them.
pub(crate) type Piece = (Range, u32, Option<RouteKey>);

/// An IPv4 piece: `last` is the range's last address (its end, 2^32 for
/// the last piece, does not fit); no route is table `u32::MAX`.
#[derive(Clone, Copy)]
struct Narrow {
    start: u32,
    last: u32,
    outcome: u32,
    route: (u32, u32),
}

const NO_ROUTE: (u32, u32) = (u32::MAX, u32::MAX);

impl Narrow {
    fn of((r, outcome, route): Piece) -> Option<Narrow> {
        let route = match route {
            Some(k) if k.0 == u32::MAX => return None,
            Some(k) => k,
            None => NO_ROUTE,
        };
        Some(Narrow {
            start: u32::try_from(r.start).ok()?,
            last: u32::try_from(r.end.checked_sub(1)?).ok()?,
            outcome,
            route,
        })
    }

    fn get(self) -> Piece {
        let r = Range {
            start: self.start as u128,
            end: self.last as u128 + 1,
        };
        let route = (self.route.0 != u32::MAX).then_some(self.route);
        (r, self.outcome, route)
    }
}

/// Narrow while every piece fits (an IPv4 walk's always do), wide from the
/// first that does not (an IPv6 walk's first piece).
enum Store {
    Narrow(Vec<Narrow>),
    Wide(Vec<Piece>),
}

pub(crate) struct Pieces(Store);

impl Default for Pieces {
    fn default() -> Pieces {
        Pieces(Store::Narrow(Vec::new()))
    }
}

impl Pieces {
    pub(crate) fn len(&self) -> usize {
        match &self.0 {
            Store::Narrow(v) => v.len(),
            Store::Wide(v) => v.len(),
        }
    }

    /// Emptied, its room and width kept (a family's walks are alike).
    pub(crate) fn clear(&mut self) {
        match &mut self.0 {
            Store::Narrow(v) => v.clear(),
            Store::Wide(v) => v.clear(),
        }
    }

    pub(crate) fn get(&self, i: usize) -> Option<Piece> {
        match &self.0 {
            Store::Narrow(v) => v.get(i).map(|p| p.get()),
            Store::Wide(v) => v.get(i).copied(),
        }
    }

    pub(crate) fn last(&self) -> Option<Piece> {
        self.len().checked_sub(1).and_then(|i| self.get(i))
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = Piece> + '_ {
        self.iter_from(0)
    }

    /// The pieces from index `i` on.
    pub(crate) fn iter_from(&self, i: usize) -> impl Iterator<Item = Piece> + '_ {
        let (narrow, wide): (&[Narrow], &[Piece]) = match &self.0 {
            Store::Narrow(v) => (v.get(i..).unwrap_or(&[]), &[]),
            Store::Wide(v) => (&[], v.get(i..).unwrap_or(&[])),
        };
        narrow.iter().map(|p| p.get()).chain(wide.iter().copied())
    }

    /// The first piece for which `pred` of its range is false (the pieces
    /// are ascending, `pred` true of a prefix of them).
    pub(crate) fn partition_point(&self, pred: impl Fn(Range) -> bool) -> usize {
        match &self.0 {
            Store::Narrow(v) => v.partition_point(|p| pred(p.get().0)),
            Store::Wide(v) => v.partition_point(|p| pred(p.0)),
        }
    }

    /// Appended as it is.
    pub(crate) fn push(&mut self, p: Piece) {
        if let Store::Narrow(v) = &mut self.0 {
            match Narrow::of(p) {
                Some(n) => return v.push(n),
                None => self.widen(),
            }
        }
        if let Store::Wide(v) = &mut self.0 {
            v.push(p);
        }
    }

    /// Appended, or one with the last where they meet and agree.
    pub(crate) fn push_merged(&mut self, p: Piece) {
        let (r, o, route) = p;
        match self.last() {
            Some((l, lo, lrt)) if lo == o && lrt == route && l.end == r.start => {
                self.set_last_end(r.end)
            }
            _ => self.push(p),
        }
    }

    fn set_last_end(&mut self, end: u128) {
        if let Store::Narrow(v) = &mut self.0
            && let Some(l) = v.last_mut()
        {
            match u32::try_from(end - 1) {
                Ok(last) => return l.last = last,
                Err(_) => self.widen(),
            }
        }
        if let Store::Wide(v) = &mut self.0
            && let Some(l) = v.last_mut()
        {
            l.0.end = end;
        }
    }

    fn widen(&mut self) {
        if let Store::Narrow(v) = &self.0 {
            self.0 = Store::Wide(v.iter().map(|p| p.get()).collect());
        }
    }

    #[cfg(test)]
    pub(crate) fn is_narrow(&self) -> bool {
        matches!(self.0, Store::Narrow(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn piece(start: u128, end: u128, o: u32, route: Option<RouteKey>) -> Piece {
        (Range { start, end }, o, route)
    }

    /// Narrow or wide, the pieces read back as pushed and merge as
    /// `push_piece` merged them in a vector of the general form.
    #[test]
    fn pieces_read_back_as_a_vector_of_them_would() {
        let mut rng = crate::verdict::testhosts::Rng(11);
        for round in 0..200 {
            let (mut got, mut want) = (Pieces::default(), Vec::<Piece>::new());
            // Some rounds reach the end of the IPv4 space, some go past it.
            let top: u128 = match round % 3 {
                0 => 1 << 32,
                1 => 1 << 20,
                _ => 1 << 40,
            };
            let mut at = 0u128;
            while at < top {
                let len = 1 + rng.below(1 << 16) as u128 * (top >> 24).max(1);
                let end = (at + len).min(top);
                let o = rng.below(3) as u32;
                let route = match rng.below(4) {
                    0 => None,
                    _ => Some((rng.below(2) as u32, rng.below(3) as u32)),
                };
                let p = piece(at, end, o, route);
                if rng.below(5) == 0 {
                    got.push(p);
                    want.push(p);
                } else {
                    got.push_merged(p);
                    match want.last_mut() {
                        Some(l) if l.1 == o && l.2 == route && l.0.end == at => l.0.end = end,
                        _ => want.push(p),
                    }
                }
                // Gaps between pieces, now and then.
                at = end + rng.below(2) as u128 * rng.below(1 << 10) as u128;
            }
            assert_eq!(got.is_narrow(), top <= 1 << 32, "round {round}");
            assert_eq!(got.len(), want.len());
            assert_eq!(got.iter().collect::<Vec<_>>(), want);
            assert_eq!(got.last(), want.last().copied());
            for i in [0, want.len() / 2, want.len()] {
                assert_eq!(got.get(i), want.get(i).copied());
                assert!(got.iter_from(i).eq(want[i..].iter().copied()));
                let x = want.get(i).map_or(top, |p| p.0.start);
                assert_eq!(
                    got.partition_point(|r| r.end <= x),
                    want.partition_point(|p| p.0.end <= x)
                );
            }
            got.clear();
            assert!(got.len() == 0 && got.last().is_none());
        }
    }

    /// A piece ending at 2^32 (the end of the IPv4 space) stays narrow;
    /// one past it, or a merge that takes the last past it, widens them all.
    #[test]
    fn pieces_widen_only_past_the_ipv4_space() {
        let mut p = Pieces::default();
        p.push(piece(0, 10, 0, Some((1, 2))));
        p.push_merged(piece(10, 1 << 32, 1, None));
        assert!(p.is_narrow());
        assert_eq!(p.last(), Some(piece(10, 1 << 32, 1, None)));
        p.push_merged(piece(1 << 32, (1 << 32) + 5, 1, None));
        assert!(!p.is_narrow());
        assert_eq!(
            p.iter().collect::<Vec<_>>(),
            [
                piece(0, 10, 0, Some((1, 2))),
                piece(10, (1 << 32) + 5, 1, None)
            ]
        );
        // A route of table u32::MAX (none is: tables are counted) does not
        // read back as no route.
        let mut q = Pieces::default();
        q.push(piece(0, 1, 0, Some((u32::MAX, 3))));
        assert_eq!(q.get(0), Some(piece(0, 1, 0, Some((u32::MAX, 3)))));
        assert!(!q.is_narrow());
    }
}
