//! One routing table of one family, indexed for longest-prefix match: a hash
//! map per prefix length present, so a lookup costs at most 33 (129) probes
//! however many routes a router's dump holds.

use super::{Origin, RouteEntry};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

/// Seeded, so a crafted dump cannot make the index degrade, and several
/// times faster than SipHash on these small keys (lookups dominate a scan).
type Hasher = foldhash::fast::RandomState;

/// Shared, not copied, by clones: the fix advice works on a copy of the
/// model whose tables it changes one at a time (a full BGP table is
/// ~500 MiB of records), so a clone shares each table until it changes.
#[derive(Debug, Default, Clone)]
pub struct FibTable {
    pub routes: Arc<Vec<RouteEntry>>,
    /// Prefix lengths present, longest first.
    plens: Vec<u8>,
    /// Route indexes grouped by prefix, each group in kernel list order.
    order: Arc<Vec<usize>>,
    /// (prefix length, masked destination) → its group in `order`; one
    /// vector for all groups instead of one allocation per prefix.
    index: Arc<PrefixIndex>,
}

/// (prefix length, masked destination) → (first, count) in `order`.
type PrefixIndex = HashMap<(u8, u128), (u32, u32), Hasher>;

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

impl FibTable {
    pub fn push(&mut self, r: RouteEntry) {
        Arc::make_mut(&mut self.routes).push(r);
    }

    /// Room for `n` more routes.
    pub fn reserve(&mut self, n: usize) {
        Arc::make_mut(&mut self.routes).reserve_exact(n);
    }

    /// Removes route `i` (`finish` must follow).
    pub fn remove(&mut self, i: usize) -> RouteEntry {
        Arc::make_mut(&mut self.routes).remove(i)
    }

    /// Sorts each prefix's aliases as the kernel keeps them: IPv4 by TOS
    /// descending then metric ascending, IPv6 by metric; ties keep dump order.
    pub fn finish(&mut self) {
        let routes = &self.routes;
        let prefix = |i: usize| {
            let d = routes[i].route.dst;
            (d.prefix_len(), key(d.addr(), d.prefix_len()))
        };
        let mut order: Vec<usize> = (0..routes.len()).collect();
        order.sort_by_key(|&i| {
            let r = &routes[i];
            (prefix(i), std::cmp::Reverse(r.tos), r.metric(), i)
        });
        let mut index = HashMap::with_capacity_and_hasher(order.len(), Hasher::default());
        let mut plens: Vec<u8> = Vec::new();
        let mut start = 0;
        while start < order.len() {
            let p = prefix(order[start]);
            let len = order[start..]
                .iter()
                .take_while(|&&i| prefix(i) == p)
                .count();
            index.insert(p, (start as u32, len as u32));
            if plens.last() != Some(&p.0) {
                plens.push(p.0);
            }
            start += len;
        }
        plens.reverse();
        self.order = Arc::new(order);
        self.index = Arc::new(index);
        self.plens = plens;
    }

    /// Candidate aliases for `dst`, longest prefix first.
    pub fn candidates(&self, dst: IpAddr) -> impl Iterator<Item = (u8, &[usize])> + '_ {
        self.plens
            .iter()
            .filter_map(move |&p| self.group(p, key(dst, p)).map(|v| (p, v)))
    }

    /// Prefix lengths present, longest first.
    pub fn plens(&self) -> &[u8] {
        &self.plens
    }

    /// The aliases of one prefix (`dst` masked to `plen`), in kernel list order.
    pub fn aliases(&self, dst: IpAddr, plen: u8) -> &[usize] {
        self.group(plen, key(dst, plen)).unwrap_or(&[])
    }

    fn group(&self, plen: u8, key: u128) -> Option<&[usize]> {
        let &(start, len) = self.index.get(&(plen, key))?;
        self.order.get(start as usize..(start + len) as usize)
    }

    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    pub fn origin(&self, i: usize) -> Origin {
        self.routes[i].origin
    }
}
