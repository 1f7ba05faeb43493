//! IPv6: output and input routes (`ip6_route_output_flags`,
//! `ip6_route_input_lookup`), and the table lookup with its per-node route
//! scoring (`fib6_table_lookup`, `rt6_select`, source-specific subtrees).

use super::*;

impl Host {
    /// ip6_route_output_flags: no source check, no on-link fallback; an oif
    /// with no source (or a multicast/link-local/loopback destination)
    /// makes the interface strict, else it only scores.
    pub(super) fn output6(&self, flow: &Flow, opts: Opts<'_>) -> Lookup {
        if let Some(oif) = &flow.oif
            && self.link(oif).is_none()
        {
            return Lookup::err(KernelError::NoDev);
        }
        let mut fl = self.fl(flow, "lo", flow.oif.as_deref());
        fl.trace = opts.trace;
        fl.pre = opts.pre;
        fl.cands = opts.cands;
        fl.gotos = opts.gotos;
        fl.score_dev = flow.oif.as_deref();
        fl.strict = need_strict6(flow.dst) || (flow.oif.is_some() && fl.src.is_none());
        self.finish6(flow, fl)
    }

    /// ip6_route_input_lookup: the iif scores routes (strict for
    /// multicast/link-local/loopback destinations).
    pub(super) fn input6(&self, flow: &Flow, opts: Opts<'_>) -> Lookup {
        let iif = flow.iif.as_deref().unwrap_or("lo");
        if self.link(iif).is_none() {
            return Lookup::err(KernelError::NoDev);
        }
        let mut fl = self.fl(flow, iif, None);
        fl.trace = opts.trace;
        fl.pre = opts.pre;
        fl.cands = opts.cands;
        fl.gotos = opts.gotos;
        fl.score_dev = Some(iif);
        fl.strict = need_strict6(flow.dst);
        self.finish6(flow, fl)
    }

    pub(super) fn finish6(&self, flow: &Flow, fl: Flowi<'_>) -> Lookup {
        let mut walk = Walk::default();
        let res = match self.fib_lookup(&fl, &mut walk) {
            Ok(r) => r,
            Err(e) => return walk.finish(Err(e)),
        };
        let r = &res.fib.routes[res.route].route;
        let first = res.live.first().copied();
        let (dev, gw) = nh_of(r, first);
        let dev = dev.unwrap_or("lo");
        let output = flow.is_output();
        // ip6_route_get_saddr: the route's src, else RFC 6724 selection with
        // the route's nexthop device (the real device even for local routes).
        let sel = |dev: &str| -> Option<IpAddr> {
            if !output {
                return flow.src;
            }
            flow.saddr()
                .or(r.prefsrc)
                .or_else(|| self.ipv6_saddr(Some(dev), flow.dst))
        };
        let (kind_dev, gateway) = match r.kind() {
            // ip6_rt_get_dev_rcu: local and anycast go through loopback (or the VRF).
            RouteType::Local | RouteType::Anycast => {
                (Name::new(self.vrf_master(dev).unwrap_or("lo")), None)
            }
            _ => (dev_or_lo(nh_dev(r, first)), gw),
        };
        // A nexthop-object route selects its source on the device of the
        // group's first member whatever leg the hash takes
        // (fib6_info_nh_dev → nexthop_fib6_nh: entry 0) [verified].
        let group_dev = r
            .nhid()
            .and_then(|_| r.nexthops.first())
            .and_then(|n| n.dev.as_deref());
        let hash_dependent = res.live.len() > 1;
        let nexthops = if hash_dependent {
            self.choices(r, &res.live, |i| {
                sel(group_dev.unwrap_or_else(|| nh_of(r, Some(i)).0.unwrap_or("lo")))
            })
        } else {
            Vec::new()
        };
        // Made whole where it is returned (a `Hit` made and then changed
        // was copied into the `Lookup`).
        walk.finish(Ok(Hit {
            prefsrc: r.prefsrc,
            nexthops,
            hash_dependent,
            ..Self::hit_of(r.kind(), kind_dev, gateway, sel(group_dev.unwrap_or(dev)))
        }))
    }

    pub(super) fn choices(
        &self,
        r: &crate::grammar::Route,
        live: &[usize],
        src: impl Fn(usize) -> Option<IpAddr>,
    ) -> Vec<NextHopChoice> {
        live.iter()
            .filter_map(|&i| r.nexthops.get(i).map(|n| (i, n)))
            .map(|(i, n)| NextHopChoice {
                dev: n.dev.clone().unwrap_or_else(|| Name::new("")),
                gateway: n.gateway,
                weight: n.weight,
                src: src(i),
            })
            .collect()
    }

    /// fib6_table_lookup: the nodes to try, then rt6_select on each, until
    /// one selects a route.
    pub(super) fn table_lookup6(&self, t: &crate::model::FibTable, fl: &Flowi<'_>) -> TableResult {
        let mut found = None;
        self.nodes6(t, fl, |node| {
            found = self.select6(t, node, fl);
            found.is_some()
        });
        found.unwrap_or(TableResult::NoMatch)
    }

    /// rt6_select on one node, and what its route answers.
    pub(super) fn select6(
        &self,
        t: &crate::model::FibTable,
        node: &[usize],
        fl: &Flowi<'_>,
    ) -> Option<TableResult> {
        let (i, live) = self.rt6_select(t, node, fl)?;
        let r = &t.routes[i].route;
        if r.kind() == RouteType::Throw {
            return Some(TableResult::Throw(i));
        }
        if let Some(err) = KernelError::of_route_type(&r.kind()) {
            return Some(TableResult::Reject(i, err));
        }
        Some(TableResult::Found(i, live))
    }

    /// The fib6 nodes a lookup visits, each as its routes in list order,
    /// given to `visit` in turn until it returns true (they are made as
    /// they are visited: most lookups stop at the first).
    /// Routes with a `from` live in a subtree under their destination node.
    /// fib6_node_lookup skips a destination node whose subtree has no
    /// prefix holding the source — even the node's own routes without
    /// `from` [verified], unless it is the default route's (the table
    /// root) — but once a node was found, backtracking
    /// (fib6_backtrack) visits the subtree's shorter source prefixes and
    /// then the destination node's own routes.
    pub(super) fn nodes6(
        &self,
        t: &crate::model::FibTable,
        fl: &Flowi<'_>,
        mut visit: impl FnMut(&[usize]) -> bool,
    ) {
        let src = fl.src.unwrap_or(IpAddr::V6(Ipv6Addr::UNSPECIFIED));
        let mut started = false;
        for (p, idxs) in t.candidates(fl.dst) {
            let from = |i: usize| t.routes[i].route.from().filter(|f| f.prefix_len() > 0);
            if idxs.iter().all(|&i| from(i).is_none()) {
                // No subtree: the node is its own routes, all of them.
                if visit(idxs) {
                    return;
                }
                started = true;
                continue;
            }
            let own: Vec<usize> = idxs
                .iter()
                .copied()
                .filter(|&i| from(i).is_none())
                .collect();
            let mut subs: Vec<ipnet::IpNet> = idxs.iter().filter_map(|&i| from(i)).collect();
            subs.retain(|f| f.contains(&src));
            subs.sort_by_key(|f| std::cmp::Reverse(f.prefix_len()));
            subs.dedup();
            // The table root is where fib6_node_lookup lands when nothing
            // matched: its own routes are always tried.
            if !started && subs.is_empty() && p != 0 {
                continue;
            }
            for f in subs {
                let node: Vec<usize> = idxs
                    .iter()
                    .copied()
                    .filter(|&i| from(i) == Some(f))
                    .collect();
                if visit(&node) {
                    return;
                }
            }
            if !own.is_empty() && visit(&own) {
                return;
            }
            started = true;
        }
    }

    /// rt6_select / find_rr_leaf: among one node's routes (metric order),
    /// the first metric group is scored — router preference, then the
    /// nexthop being on `score_dev` (required when strict) — and the first
    /// best wins; when none qualifies, all later routes are scored together.
    /// Returns the route and its candidate nexthops (ECMP siblings).
    pub(super) fn rt6_select(
        &self,
        t: &crate::model::FibTable,
        node: &[usize],
        fl: &Flowi<'_>,
    ) -> Option<(usize, Vec<usize>)> {
        let score = |r: &crate::grammar::Route, nh: Option<usize>| -> Option<i32> {
            let flags = match nh.and_then(|i| r.nexthops.get(i)) {
                Some(n) => &n.flags,
                None => &r.flags,
            };
            if is_dead(flags) {
                return None;
            }
            let dev = nh_of(r, nh).0.unwrap_or("lo");
            let on_dev = fl.score_dev.is_none_or(|d| d == dev);
            if !on_dev && fl.strict {
                return None;
            }
            Some((i32::from(on_dev) * 2) | (pref_rank(r.pref.as_deref()) << 2))
        };
        // A node of one single-path route (most): it qualifies or nothing
        // does, without grouping by metric or ranking.
        if let [i] = *node {
            let r = &t.routes[i].route;
            if r.nexthops.is_empty() {
                return score(r, None).map(|_| (i, Vec::new()));
            }
        }
        let first_metric = t.routes[*node.first()?].metric();
        let cont = node
            .iter()
            .position(|&i| t.routes[i].metric() != first_metric)
            .unwrap_or(node.len());
        let best = |routes: &[usize]| -> Option<(usize, Option<usize>)> {
            let mut best: Option<((usize, Option<usize>), i32)> = None;
            // (route, nexthop) entries in list order; siblings are adjacent.
            let entries = routes.iter().flat_map(|&i| {
                let n = t.routes[i].route.nexthops.len();
                let single = (n == 0).then_some((i, None));
                single.into_iter().chain((0..n).map(move |k| (i, Some(k))))
            });
            for (i, nh) in entries {
                if let Some(m) = score(&t.routes[i].route, nh)
                    && best.is_none_or(|(_, b)| m > b)
                {
                    best = Some(((i, nh), m));
                }
            }
            best.map(|(e, _)| e)
        };
        let (i, nh) = best(&node[..cont]).or_else(|| best(&node[cont..]))?;
        let r = &t.routes[i].route;
        let Some(chosen) = nh else {
            return Some((i, Vec::new()));
        };
        // fib6_select_path: the hash may pick any live sibling; when strict,
        // only those on the device. A nexthop-object group qualifies by any
        // member (rt6_nh_find_match), then nexthop_path_fib6_result hashes
        // over every member: the oif or iif no longer counts [verified:
        // `oif eth1` leaves by the eth0 member for some flows].
        let mut live: Vec<usize> = vec![chosen];
        live.extend((0..r.nexthops.len()).filter(|&k| k != chosen).filter(|&k| {
            if r.nhid().is_some() {
                !is_dead(&r.nexthops[k].flags)
            } else {
                score(r, Some(k)).is_some()
            }
        }));
        Some((i, live))
    }
}
