//! IPv4: the output route (`ip_route_output_key_hash_rcu`, `fib_select_path`,
//! `__mkroute_output`), the input route (`ip_route_input_slow`) and the
//! received source's check (`fib_validate_source`, reverse-path filtering).

use super::*;

/// Why fib_validate_source refused a source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Refused {
    /// A martian: the host's own address, or a non-unicast reverse route.
    Martian,
    /// Reverse-path filtering (-EXDEV before 6.13).
    Rpf,
}

/// fib_validate_source's answer, with the rp_filter check to report.
#[derive(Debug, Clone)]
pub(super) struct Validated {
    result: Result<(), Refused>,
    check: Option<SourceCheck>,
}

impl Validated {
    pub(super) fn pass(check: Option<SourceCheck>) -> Validated {
        Validated {
            result: Ok(()),
            check,
        }
    }

    pub(super) fn refuse(why: Refused, check: Option<SourceCheck>) -> Validated {
        Validated {
            result: Err(why),
            check,
        }
    }

    pub(super) fn error(&self, kernel: crate::model::KernelVersion) -> KernelError {
        match self.result {
            Err(Refused::Rpf) => kernel.rp_filter_error(),
            _ => KernelError::Inval,
        }
    }

    /// The lookup with this check: a refusal replaces its result with the
    /// kernel's error.
    pub(super) fn apply(self, kernel: crate::model::KernelVersion, mut l: Lookup) -> Lookup {
        if self.result.is_err() {
            l.result = Err(self.error(kernel));
        }
        l.source_check = self.check;
        l
    }
}

impl Host {
    /// ip_route_output_key_hash_rcu.
    pub(super) fn output4(&self, flow: &Flow, opts: Opts<'_>) -> Lookup {
        let dst = flow.dst;
        let saddr = flow.saddr();
        let mut src = saddr;
        if let Some(s) = src {
            if s.is_multicast() || is_lbcast(s) || is_zeronet(self.kernel, s) {
                return Lookup::err(KernelError::Inval);
            }
            if flow.oif.is_none() && (dst.is_multicast() || is_lbcast(dst)) {
                // Multicast / limited broadcast leave by the source's device.
                let Some(dev) = self.local_dev(s) else {
                    return Lookup::err(KernelError::NetUnreach);
                };
                return Walk::default().finish(self.mkroute_output4(
                    flow,
                    RouteType::Unicast,
                    Name::new(dev),
                    None,
                    s,
                    None,
                ));
            }
            if !opts.src_owned && self.local_dev(s).is_none() {
                return Lookup::err(KernelError::NetUnreach);
            }
        }
        if let Some(oif) = &flow.oif {
            let Some(link) = self.link(oif) else {
                return Lookup::err(KernelError::NoDev);
            };
            if !link.up {
                return Lookup::err(KernelError::NetUnreach);
            }
            if is_local_multicast(dst) || is_lbcast(dst) || flow.ipproto == Some(2) {
                let s = src.or_else(|| self.inet_select_addr(oif, None, SCOPE_LINK));
                return Walk::default().finish(self.mkroute_output4(
                    flow,
                    RouteType::Unicast,
                    Name::new(oif),
                    None,
                    s.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
                    None,
                ));
            }
            if src.is_none() {
                if dst.is_multicast() {
                    src = self.inet_select_addr(oif, None, SCOPE_UNIVERSE);
                } else if dst.is_unspecified() {
                    src = self.inet_select_addr(oif, None, SCOPE_HOST);
                }
            }
        }
        if dst.is_unspecified() {
            let s = src.unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
            let mut h = Self::hit_of(RouteType::Local, "lo".into(), None, Some(s));
            h.prefsrc = None;
            return Walk::default().finish(Ok(h));
        }
        let mut fl = self.fl(flow, "lo", flow.oif.as_deref());
        fl.src = src;
        fl.trace = opts.trace;
        // The settled rules hold for the flow's own source only.
        fl.pre = opts.pre.filter(|_| src == saddr);
        fl.cands = opts.cands.filter(|_| fl.pre.is_some());
        fl.gotos = opts.gotos;
        let mut walk = Walk::default();
        let looked = match opts.found.filter(|_| fl.pre.is_some()) {
            Some(f) => Ok(self.found_as(f, &mut walk)),
            None => self.fib_lookup(&fl, &mut walk),
        };
        let res = match looked {
            Ok(r) => r,
            Err(e) => {
                let Some(oif) = &flow.oif else {
                    return walk.finish(Err(e));
                };
                // "Apparently, routing tables are wrong. Assume, that the
                // destination is on link." Any error, even a prohibit rule.
                let s = src.or_else(|| self.inet_select_addr(oif, None, SCOPE_LINK));
                let mut res = self.mkroute_output4(
                    flow,
                    RouteType::Unicast,
                    Name::new(oif),
                    None,
                    s.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
                    None,
                );
                if let Ok(h) = &mut res {
                    h.onlink_assumed = true;
                }
                let walk = Walk {
                    trace: walk.trace,
                    conditional: walk.conditional,
                    ..Walk::default()
                };
                return walk.finish(res);
            }
        };
        let t = res.fib;
        let e = &t.routes[res.route];
        let r = &e.route;
        if r.kind() == RouteType::Local {
            let s = src.or(r.prefsrc).unwrap_or(dst);
            let dev = r
                .dev
                .as_deref()
                .and_then(|d| self.vrf_master(d))
                .unwrap_or("lo");
            let dev = Name::new(dev);
            let mut res = self.mkroute_output4(
                flow,
                RouteType::Local,
                dev,
                None,
                s,
                Some(r.dst.prefix_len()),
            );
            if let Ok(h) = &mut res {
                h.prefsrc = r.prefsrc;
            }
            return walk.finish(res);
        }
        // fib_select_path: a multipath route is hashed when no oif is given.
        // fib_select_multipath (6.16+, `multipath_prefers_source`; before,
        // the hash alone) scores nexthops: +2 when its own source
        // (nh_saddr, inet_select_addr on its device, never the route's
        // `src`) is the flow's, +1 when the hash falls in its range; so with
        // a source some nexthop owns, only those can win, else the hash
        // decides among all [verified on 6.18: a primary address always
        // leaves by its own leg; a secondary address, or one on a third
        // device, by either]. (6.16's first form, before the scoring fix of
        // December 2025 reached stable kernels, gave a source no leg owns
        // the last leg: one of the answer's legs, not modelled apart.) A
        // nexthop-object route (`nhid`) is hashed by nexthop_path_fib_result
        // before any scoring: no source preference at all [verified].
        // Equal-metric defaults (fib_select_default) keep the first alias
        // when no neighbour is known.
        let scope = route_scope(r);
        let nh_src = |i: Option<usize>| -> Option<IpAddr> {
            r.prefsrc
                .or_else(|| self.nh_saddr(nh_dev(r, i), nh_of(r, i).1, scope))
        };
        let mut cands: Vec<usize> = res.live.clone();
        if flow.oif.is_none() && cands.len() > 1 {
            if let Some(s) = src.filter(|_| self.prefers_own_source(r)) {
                let own = self.legs_sourcing(r, &cands, scope, s);
                if !own.is_empty() {
                    cands = own;
                }
            }
        } else {
            cands.truncate(1);
        }
        // __mkroute_output refuses a 127/8 source on a device without
        // route_localnet: where only some candidates' devices have it, the
        // hash decides between those legs and the error [6.18: `from
        // 127.0.0.1` over eth0 + eth3 with eth3.route_localnet=1 answers
        // `dev eth3`].
        let mut refused_some = false;
        if cands.len() > 1 {
            let pass: Vec<usize> = cands
                .iter()
                .copied()
                .filter(|&i| {
                    let s = src.or_else(|| nh_src(Some(i)));
                    let dev = nh_of(r, Some(i)).0.unwrap_or("lo");
                    !s.is_some_and(|s| self.loopback_src_refused(s, dev))
                })
                .collect();
            if !pass.is_empty() && pass.len() < cands.len() {
                cands = pass;
                refused_some = true;
            }
        }
        let first = cands.first().copied();
        let s = src.or_else(|| nh_src(first));
        let dev = dev_or_lo(nh_dev(r, first));
        let gw = self.rt_gw4(r, first);
        let mut res = self.mkroute_output4(
            flow,
            r.kind(),
            dev,
            gw,
            s.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
            Some(r.dst.prefix_len()),
        );
        if let Ok(h) = &mut res {
            h.prefsrc = r.prefsrc;
            if refused_some {
                h.hash_error = Some(KernelError::Inval);
            }
            if cands.len() > 1 || refused_some {
                h.hash_dependent = true;
                h.nexthops = cands
                    .iter()
                    .map(|&i| {
                        let n = &r.nexthops[i];
                        // A broadcast or multicast keeps a gateway only as
                        // mkroute_output4 decided for the first candidate.
                        let keep = h.kind == RouteType::Unicast || h.gateway.is_some();
                        NextHopChoice {
                            dev: n.dev.clone().unwrap_or_else(|| Name::new("")),
                            gateway: self.rt_gw4(r, Some(i)).filter(|_| keep),
                            weight: n.weight,
                            src: src.or_else(|| nh_src(Some(i))),
                        }
                    })
                    .collect();
            }
        }
        walk.finish(res)
    }

    /// `found` (`Host::lookup_reply_on`) as the walk and the table lookup
    /// would have left it: no trace, the route's live nexthops (no oif).
    fn found_as<'h>(&'h self, f: &Found<'_>, walk: &mut Walk) -> FibResult<'h> {
        let fib = self
            .table(Family::Inet, f.table)
            .expect("lookup_reply_on checked the table");
        // A route without legs allocates nothing (room for none).
        let live = walk::live_legs(&fib.routes[f.route].route, None);
        walk.rule = f.rule;
        walk.by_rule = f.by_rule;
        walk.table = Some(f.table.clone());
        walk.route = Some(RouteRef {
            table: f.table.clone(),
            index: f.route,
        });
        walk.conditional = f.conditional.iter().map(|&i| i as usize).collect();
        FibResult {
            fib,
            route: f.route,
            live,
        }
    }

    /// __mkroute_output's loopback-source check: a 127/8 source leaves only
    /// by a loopback or VRF device, or one with route_localnet (its own or
    /// `all`).
    pub(super) fn loopback_src_refused(&self, src: IpAddr, dev: &str) -> bool {
        is_loopback4(src)
            && !self.is_loopback_dev(dev)
            && self.link(dev).is_none_or(|l| l.vrf_table.is_none())
            && !self.sysctls.route_localnet(dev)
    }

    /// __mkroute_output: the loopback-source check, the type the
    /// destination forces and the nexthop a multicast/broadcast keeps.
    /// `fib_plen` is the matched route's prefix length (`None`: no FIB result).
    /// The hit alone: the caller adds the walk (moving a `Walk` in and a
    /// `Lookup` out cost two copies of each per lookup).
    pub(super) fn mkroute_output4(
        &self,
        flow: &Flow,
        kind: RouteType,
        dev: Name,
        gateway: Option<IpAddr>,
        src: IpAddr,
        fib_plen: Option<u8>,
    ) -> Result<Hit, KernelError> {
        let dst = flow.dst;
        if self.loopback_src_refused(src, &dev) {
            return Err(KernelError::Inval);
        }
        let (kind, gateway) = if is_lbcast(dst) {
            (RouteType::Broadcast, None)
        } else if dst.is_multicast() {
            // "If multicast route do not exist use default one, but do not
            // gateway in this case."
            (
                RouteType::Multicast,
                gateway.filter(|_| fib_plen.is_some_and(|p| p >= 4)),
            )
        } else if is_zeronet(self.kernel, dst) {
            return Err(KernelError::Inval);
        } else if kind == RouteType::Broadcast {
            (kind, None)
        } else {
            (kind, gateway)
        };
        let src = (!src.is_unspecified()).then_some(src);
        Ok(Self::hit_of(kind, dev, gateway, src))
    }

    // ------------------------------------------------------------- IPv4 input

    /// ip_route_input_slow (and ip_route_input_rcu's multicast branch).
    pub(super) fn input4(&self, flow: &Flow, opts: Opts<'_>) -> Lookup {
        let iif = flow.iif.as_deref().unwrap_or("lo");
        let Some(link) = self.link(iif) else {
            return Lookup::err(KernelError::NoDev);
        };
        let dst = flow.dst;
        let src = flow.saddr();
        let s = src.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        let inval = || Lookup::err(KernelError::Inval);
        if dst.is_multicast() {
            // Only groups the device joined are received; every up IPv4
            // device is in 224.0.0.1 (all-hosts), other groups need a socket.
            let ours = dst == IpAddr::V4(Ipv4Addr::new(224, 0, 0, 1)) && link.up;
            // ip_mc_validate_source: a 127/8 source needs route_localnet.
            let loopback = is_loopback4(s) && !self.sysctls.route_localnet(iif);
            if !ours || s.is_multicast() || is_lbcast(s) || loopback {
                return inval();
            }
            let v = match src {
                Some(_) => self.validate_source(flow, iif, s, None, None),
                None => Validated::pass(None),
            };
            let l = Walk::default().finish(Ok(Self::hit_of(
                RouteType::Multicast,
                "lo".into(),
                None,
                src,
            )));
            return v.apply(self.kernel, l);
        }
        if s.is_multicast() || is_lbcast(s) {
            return inval();
        }
        let brd_input = |walk: Walk| -> Lookup {
            let v = match src {
                Some(_) => self.validate_source(flow, iif, s, None, None),
                None => Validated::pass(None),
            };
            let dev = Name::new(self.vrf_master(iif).unwrap_or("lo"));
            v.apply(
                self.kernel,
                walk.finish(Ok(Self::hit_of(RouteType::Broadcast, dev, None, src))),
            )
        };
        if is_lbcast(dst) || (src.is_none() && dst.is_unspecified()) {
            return brd_input(Walk::default());
        }
        if is_zeronet(self.kernel, s) || is_zeronet(self.kernel, dst) {
            return inval();
        }
        // Loopback addresses arrive from outside only where the receiving
        // device (or `all`) has route_localnet=1.
        if (is_loopback4(dst) || is_loopback4(s)) && !self.sysctls.route_localnet(iif) {
            return inval();
        }
        let mut fl = self.fl(flow, iif, None);
        fl.trace = opts.trace;
        fl.pre = opts.pre;
        fl.cands = opts.cands.filter(|_| fl.pre.is_some());
        fl.gotos = opts.gotos;
        // IN_DEV_FORWARD: a device that does not forward answers
        // EHOSTUNREACH to what is neither local nor broadcast, a failed
        // lookup included. Unknown: assumed on (the pods' notes say so).
        let forwards = self.sysctls.forwards(iif).is_none_or(|f| f);
        let mut walk = Walk::default();
        let res = match self.fib_lookup(&fl, &mut walk) {
            Ok(r) => r,
            Err(_) if !forwards => return walk.finish(Err(KernelError::HostUnreach)),
            Err(e) => return walk.finish(Err(e)),
        };
        let r = &res.fib.routes[res.route].route;
        match r.kind() {
            RouteType::Broadcast => return brd_input(walk),
            RouteType::Local => {}
            _ if !forwards => return walk.finish(Err(KernelError::HostUnreach)),
            _ => {}
        }
        match r.kind() {
            RouteType::Local => {
                let v = self.validate_source(flow, iif, s, Some(dst), None);
                if v.result.is_err() {
                    return v.apply(self.kernel, walk.finish(Err(KernelError::Inval)));
                }
                let dev = r
                    .dev
                    .as_deref()
                    .and_then(|d| self.vrf_master(d))
                    .unwrap_or("lo");
                let mut h = Self::hit_of(RouteType::Local, Name::new(dev), None, src);
                h.prefsrc = r.prefsrc;
                return v.apply(self.kernel, walk.finish(Ok(h)));
            }
            RouteType::Unicast => {}
            _ => return walk.finish(Err(KernelError::Inval)),
        }
        // ip_mkroute_input: a multipath route is hashed (no source
        // preference), then the source is validated against the chosen
        // nexthop's device — which may pass for one nexthop and not another.
        let all: Vec<Option<usize>> = if res.live.is_empty() {
            vec![None]
        } else {
            res.live.iter().map(|&i| Some(i)).collect()
        };
        let checks: Vec<(Option<usize>, Validated)> = all
            .iter()
            .map(|&i| {
                let dev = nh_of(r, i).0.unwrap_or("lo");
                (i, self.validate_source(flow, iif, s, Some(dst), Some(dev)))
            })
            .collect();
        let ok: Vec<Option<usize>> = checks
            .iter()
            .filter(|c| c.1.result.is_ok())
            .map(|c| c.0)
            .collect();
        // The first refusal explains an error; the first pass a success.
        let refused = checks.iter().find(|c| c.1.result.is_err()).map(|c| &c.1);
        let Some(&first) = ok.first() else {
            let v = refused.expect("every nexthop refused").clone();
            return v.apply(self.kernel, walk.finish(Err(KernelError::Inval)));
        };
        let passed = checks
            .iter()
            .find(|c| c.0 == first)
            .map(|c| c.1.clone())
            .expect("a passing nexthop");
        let mut h = Self::hit_of(
            RouteType::Unicast,
            dev_or_lo(nh_dev(r, first)),
            self.rt_gw4(r, first),
            src,
        );
        h.prefsrc = r.prefsrc;
        if all.len() > 1 {
            h.hash_dependent = true;
            let live: Vec<usize> = ok.iter().flatten().copied().collect();
            h.nexthops = self.choices(r, &live, |_| src);
            for (c, &i) in h.nexthops.iter_mut().zip(&live) {
                c.gateway = self.rt_gw4(r, Some(i));
            }
            if let Some(v) = refused {
                h.hash_error = Some(v.error(self.kernel));
            }
        }
        passed.apply(self.kernel, walk.finish(Ok(h)))
    }

    /// fib_validate_source / __fib_validate_source: may a packet from
    /// `src` to `dst`, received on `iif`, be accepted (forwarded out `oif`,
    /// or delivered locally when `None`)?
    ///
    /// With rp_filter off on `iif` (the larger of `all` and its own), no
    /// realms, and the packet not leaving by the device it came in on
    /// (with `send_redirects` on), the kernel takes a short path:
    /// `accept_local` accepts anything; without custom rules or local
    /// routes only the host's own addresses are refused. Otherwise it looks
    /// `src` up in reverse (daddr `src`, saddr `dst`, iif `oif` or lo, the
    /// packet's mark only with `src_valid_mark`, ports swapped where rules
    /// read them): no route passes unless rp_filter is on; a non-unicast
    /// answer is a martian (a `local` one passes with `accept_local`); an
    /// answer with any nexthop on `iif` passes; else strict mode (1)
    /// refuses, and loose mode (2) and off pass.
    pub(super) fn validate_source(
        &self,
        flow: &Flow,
        iif: &str,
        src: IpAddr,
        dst: Option<IpAddr>,
        oif: Option<&str>,
    ) -> Validated {
        let flags = &self.fib;
        let sys = &self.sysctls;
        let rp = sys.rp_filter(iif);
        let accept_local = sys.accept_local(iif);
        let redirects = oif == Some(iif) && sys.send_redirects(iif);
        if rp.mode == 0 && !flags.realms4 && !redirects {
            if accept_local {
                return Validated::pass(None);
            }
            // "With custom local routes in place, checking local addresses
            // only will be too optimistic, with custom rules, checking
            // local addresses only can be too strict."
            if !flags.custom_rules[0] && !flags.custom_local4 {
                return if self.is_local_addr(src) {
                    Validated::refuse(Refused::Martian, None)
                } else {
                    Validated::pass(None)
                };
            }
        }
        let mut fl = self.fl(flow, oif.unwrap_or("lo"), None);
        // The reverse lookup's walk is not reported.
        fl.trace = false;
        fl.dst = src;
        fl.src = dst.filter(|d| !d.is_unspecified());
        fl.mark = if sys.src_valid_mark(iif) {
            flow.mark
        } else {
            0
        };
        fl.uid = 0;
        if flags.l4_rules4 {
            fl.sport = flow.dport;
            fl.dport = flow.sport;
        } else {
            fl.ipproto = None;
            fl.sport = None;
            fl.dport = None;
        }
        let check = |passed: bool, reverse: Result<Vec<Name>, KernelError>| {
            (rp.mode != 0).then(|| SourceCheck {
                dev: Name::new(iif),
                rp_filter: rp.clone(),
                passed,
                reverse_devs: reverse.clone().unwrap_or_default(),
                reverse_error: reverse.err(),
            })
        };
        let mut walk = Walk::default();
        let res = match self.fib_lookup(&fl, &mut walk) {
            Ok(r) => r,
            // last_resort: only rp_filter refuses an unroutable source.
            Err(e) if rp.mode != 0 => return Validated::refuse(Refused::Rpf, check(false, Err(e))),
            Err(_) => return Validated::pass(None),
        };
        let r = &res.fib.routes[res.route].route;
        match r.kind() {
            RouteType::Unicast => {}
            RouteType::Local if accept_local => {}
            _ => return Validated::refuse(Refused::Martian, None),
        }
        // fib_info_nh_uses_dev: every nexthop counts, dead ones too.
        let devs: Vec<Name> = if r.nexthops.is_empty() {
            r.dev.iter().cloned().collect()
        } else {
            r.nexthops.iter().filter_map(|n| n.dev.clone()).collect()
        };
        let dev_match = devs.iter().any(|d| d == iif)
            || (r.kind() == RouteType::Local && self.is_loopback_dev(iif));
        if dev_match {
            return Validated::pass(check(true, Ok(devs)));
        }
        let no_addr = !self.addrs_on(iif).any(|a| a.addr.family == Family::Inet);
        if (no_addr && rp.mode != 0) || rp.strict() {
            return Validated::refuse(Refused::Rpf, check(false, Ok(devs)));
        }
        Validated::pass(check(true, Ok(devs)))
    }
}
