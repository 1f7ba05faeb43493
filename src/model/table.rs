//! One routing table of one family, indexed for longest-prefix match: a hash
//! map per prefix length present, so a lookup costs at most 33 (129) probes
//! however many routes a router's dump holds.

use super::{Origin, RouteEntry};
use std::collections::HashMap;
use std::net::IpAddr;

#[derive(Debug, Default, Clone)]
pub struct FibTable {
    pub routes: Vec<RouteEntry>,
    /// Prefix lengths present, longest first.
    plens: Vec<u8>,
    /// (prefix length, masked destination) → route indexes in kernel list order.
    index: HashMap<(u8, u128), Vec<usize>>,
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

impl FibTable {
    pub fn push(&mut self, r: RouteEntry) {
        self.routes.push(r);
    }

    /// Sorts each prefix's aliases as the kernel keeps them: IPv4 by TOS
    /// descending then metric ascending, IPv6 by metric; ties keep dump order.
    pub fn finish(&mut self) {
        self.index.clear();
        for (i, r) in self.routes.iter().enumerate() {
            let d = r.route.dst;
            self.index
                .entry((d.prefix_len(), key(d.addr(), d.prefix_len())))
                .or_default()
                .push(i);
        }
        let routes = &self.routes;
        for v in self.index.values_mut() {
            v.sort_by_key(|&i| {
                let r = &routes[i];
                (std::cmp::Reverse(r.tos), r.metric(), i)
            });
        }
        let mut plens: Vec<u8> = self.index.keys().map(|k| k.0).collect();
        plens.sort_unstable_by(|a, b| b.cmp(a));
        plens.dedup();
        self.plens = plens;
    }

    /// Candidate aliases for `dst`, longest prefix first.
    pub fn candidates(&self, dst: IpAddr) -> impl Iterator<Item = (u8, &[usize])> + '_ {
        self.plens
            .iter()
            .filter_map(move |&p| self.index.get(&(p, key(dst, p))).map(|v| (p, v.as_slice())))
    }

    /// Prefix lengths present, longest first.
    pub fn plens(&self) -> &[u8] {
        &self.plens
    }

    /// The aliases of one prefix (`dst` masked to `plen`), in kernel list order.
    pub fn aliases(&self, dst: IpAddr, plen: u8) -> &[usize] {
        self.index
            .get(&(plen, key(dst, plen)))
            .map_or(&[][..], |v| v.as_slice())
    }

    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    pub fn origin(&self, i: usize) -> Origin {
        self.routes[i].origin
    }
}
