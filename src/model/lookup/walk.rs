//! The policy-rule walk (`fib_rules_lookup`, `fib4_rule_*`, `fib6_rule_*`),
//! IPv4's merged local+main trie, and one table's lookup (`fib_table_lookup`:
//! longest prefix, then TOS, then metric).

use super::*;

/// The rule a `goto` rule jumps to: the first of the priority it names,
/// which must be later.
pub(super) fn goto_target(rules: &[RuleEntry], r: &crate::grammar::Rule) -> Option<usize> {
    r.goto.and_then(|p| {
        rules
            .iter()
            .position(|x| x.rule.priority == p && p > r.priority)
    })
}

impl Host {
    /// The gateway an IPv4 nexthop really uses (rt_set_nexthop keeps it only
    /// for a link-scope nexthop). fib_check_nh_v4_gw resolves the gateway
    /// with the nexthop's device as oif: a gateway that is an address of
    /// that very device hits its `local` route, the nexthop gets host scope
    /// and packets go out directly (`onlink` nexthops keep link scope).
    pub(super) fn rt_gw4(&self, r: &crate::grammar::Route, nh: Option<usize>) -> Option<IpAddr> {
        let (gw, flags) = match nh.and_then(|i| r.nexthops.get(i)) {
            Some(n) => (n.gateway, &n.flags),
            None => (r.gateway, &r.flags),
        };
        let dev = nh_of(r, nh).0;
        let onlink = flags.contains("onlink");
        gw.filter(|g| {
            onlink || !g.is_ipv4() || !self.addrs_of(*g).any(|a| Some(a.link.as_str()) == dev)
        })
    }

    /// `__ip_dev_find`: the device owning a local address (the address
    /// hash lists the newest first: with one address on several devices,
    /// the last in the dump is the best guess), falling back to the local
    /// table (loopback subnets, AnyIP `local` routes).
    pub(super) fn local_dev(&self, a: IpAddr) -> Option<&str> {
        if let Some(x) = self.addrs_of(a).next_back() {
            return Some(&x.link);
        }
        let flow = Flow::to(a);
        let fl = self.fl(&flow, "lo", None);
        // Without custom IPv4 rules the local table is the merged trie, so a
        // `local` route in main (AnyIP) makes its addresses local too.
        let (t, res) = if a.is_ipv4() && !self.fib.custom_rules[0] {
            let (_, t, res) = self.local_main4(&fl)?;
            (t, res)
        } else {
            let t = self.table(Family::of(&a), &Table::Id(Table::LOCAL))?;
            (t, self.table_lookup(t, &fl))
        };
        match res {
            TableResult::Found(i, _) => {
                let r = &t.routes[i].route;
                (r.kind() == RouteType::Local).then(|| r.dev.as_deref().unwrap_or("lo"))
            }
            _ => None,
        }
    }

    /// fib_lookup / fib6_rule_lookup.
    pub(super) fn fib_lookup(
        &self,
        fl: &Flowi<'_>,
        w: &mut Walk,
    ) -> Result<FibResult<'_>, KernelError> {
        if fl.fam == Family::Inet && !self.fib.custom_rules[0] {
            return self.merged_lookup4(fl, w);
        }
        self.walk(fl, w)
    }

    /// Without custom IPv4 rules the kernel keeps `local` merged into `main`
    /// (one trie: longest prefix across both, local's aliases first at
    /// equal prefixes), then asks `default`.
    pub(super) fn merged_lookup4<'h>(
        &'h self,
        fl: &Flowi<'_>,
        w: &mut Walk,
    ) -> Result<FibResult<'h>, KernelError> {
        let rule_of = |t: &Table| {
            self.rules[0]
                .iter()
                .position(|r| r.table.as_ref() == Some(t) && r.rule.action == RuleAction::Lookup)
        };
        let mut done = |table: Table,
                        fib: &'h crate::model::FibTable,
                        ri: usize,
                        r: Result<Vec<usize>, KernelError>| {
            let rule = rule_of(&table);
            if let Some(i) = rule {
                w.step(fl, i, Step::Decided);
            }
            w.rule = rule;
            w.table = Some(table.clone());
            w.route = Some(RouteRef { table, index: ri });
            r.map(|live| FibResult {
                fib,
                route: ri,
                live,
            })
        };
        match self.local_main4(fl) {
            Some((t, fib, TableResult::Reject(i, e))) => return done(t, fib, i, Err(e)),
            Some((t, fib, TableResult::Found(i, live))) => return done(t, fib, i, Ok(live)),
            _ => {}
        }
        let dflt = Table::Id(Table::DEFAULT);
        if let Some(t) = self.table(Family::Inet, &dflt) {
            match self.table_lookup(t, fl) {
                TableResult::Reject(i, e) => return done(dflt, t, i, Err(e)),
                TableResult::Found(i, live) => return done(dflt, t, i, Ok(live)),
                _ => {}
            }
        }
        Err(KernelError::NetUnreach)
    }

    /// One fib_table_lookup of the merged local+main trie: the longest
    /// prefix across both, `local`'s aliases first at equal prefixes. The
    /// two tables' prefixes holding the destination (each longest first)
    /// are merged as they are walked: no list is built per lookup.
    pub(super) fn local_main4(
        &self,
        fl: &Flowi<'_>,
    ) -> Option<(Table, &crate::model::FibTable, TableResult)> {
        const LOCAL: Table = Table::Id(Table::LOCAL);
        const MAIN: Table = Table::Id(Table::MAIN);
        let local = self.table(Family::Inet, &LOCAL);
        let main = self.table(Family::Inet, &MAIN);
        let mut lc = local.map(|t| t.candidates(fl.dst).peekable());
        let mut mc = main.map(|t| t.candidates(fl.dst).peekable());
        loop {
            let lp = lc.as_mut().and_then(|c| c.peek()).map(|x| x.0);
            let mp = mc.as_mut().and_then(|c| c.peek()).map(|x| x.0);
            // Local first at an equal prefix length.
            let (tid, t, idxs) = match (lp, mp) {
                (None, None) => break,
                (Some(a), Some(b)) if a >= b => (LOCAL, local, lc.as_mut()?.next()?.1),
                (Some(_), None) => (LOCAL, local, lc.as_mut()?.next()?.1),
                _ => (MAIN, main, mc.as_mut()?.next()?.1),
            };
            let t = t?;
            match self.aliases4(t, idxs, fl) {
                TableResult::NoMatch => {}
                other => return Some((tid, t, other)),
            }
        }
        None
    }

    /// Walks the policy rules (fib_rules_lookup).
    pub(super) fn walk(&self, fl: &Flowi<'_>, w: &mut Walk) -> Result<FibResult<'_>, KernelError> {
        let rules = &self.rules[fam_idx(fl.fam)];
        let mut i = 0;
        let mut hops = 0;
        // With candidates: the position in them of rule `i`. A step to the
        // next rule is a step to the next candidate (they are sorted and
        // distinct); only a goto's jump searches them.
        let mut ci = usize::MAX;
        let mut jumped = false;
        loop {
            // The next rule at or after `i` that can match (all of them
            // without settled selectors).
            i = match fl.cands {
                Some(c) => {
                    ci = if jumped {
                        c.partition_point(|&x| (x as usize) < i)
                    } else {
                        ci.wrapping_add(1)
                    };
                    jumped = false;
                    match c.get(ci) {
                        Some(&x) => x as usize,
                        None => break,
                    }
                }
                None if i < rules.len() => i,
                None => break,
            };
            hops += 1;
            if hops > rules.len() * 2 + 8 {
                break;
            }
            let re = &rules[i];
            let (matched, conditional) = match fl.pre {
                Some(pre) => Self::rule_outcome(re, pre[i], fl.dst),
                None => self.rule_matches(re, fl),
            };
            if conditional {
                w.conditional.push(i);
            }
            if !matched {
                i += 1;
                continue;
            }
            let r = &re.rule;
            match &r.action {
                RuleAction::Goto => {
                    let known = fl
                        .pre
                        .and_then(|_| fl.gotos.binary_search_by_key(&(i as u32), |g| g.0).ok());
                    let target = match known {
                        Some(j) => Some(fl.gotos[j].1 as usize).filter(|&t| t != u32::MAX as usize),
                        None => goto_target(rules, r),
                    };
                    match target {
                        Some(t) => {
                            w.step(fl, i, Step::Goto);
                            i = t;
                            jumped = true;
                        }
                        None => {
                            w.step(fl, i, Step::UnresolvedGoto);
                            i += 1;
                        }
                    }
                    continue;
                }
                RuleAction::Nop => {
                    w.step(fl, i, Step::Nop);
                    i += 1;
                    continue;
                }
                RuleAction::Lookup => {}
                other => {
                    w.step(fl, i, Step::Decided);
                    w.rule = Some(i);
                    w.by_rule = true;
                    return Err(match other {
                        RuleAction::Unreachable => KernelError::NetUnreach,
                        RuleAction::Prohibit => KernelError::Access,
                        _ => KernelError::Inval,
                    });
                }
            }
            let Some(table) = self.rule_table(re, fl) else {
                w.step(fl, i, Step::NoRoute);
                i += 1;
                continue;
            };
            let Some(t) = self.table(fl.fam, &table) else {
                w.step(fl, i, Step::NoRoute);
                i += 1;
                continue;
            };
            match self.table_lookup(t, fl) {
                TableResult::NoMatch => w.step(fl, i, Step::NoRoute),
                TableResult::Throw(ri) => {
                    w.step(fl, i, Step::Throw);
                    w.thrown = Some((i, table.into_owned(), ri));
                }
                TableResult::Reject(ri, e) => {
                    w.decided(fl, i, table.into_owned(), ri);
                    return Err(e);
                }
                TableResult::Found(ri, live) => {
                    if self.suppressed(re, &t.routes[ri], &live) {
                        w.step(fl, i, Step::Suppressed);
                        i += 1;
                        continue;
                    }
                    w.decided(fl, i, table.into_owned(), ri);
                    return Ok(FibResult {
                        fib: t,
                        route: ri,
                        live,
                    });
                }
            }
            i += 1;
        }
        if let Some((i, table, ri)) = w.thrown.take() {
            w.rule = Some(i);
            w.route = Some(RouteRef {
                table: table.clone(),
                index: ri,
            });
            w.table = Some(table);
        }
        Err(KernelError::NetUnreach)
    }

    /// Whether rule `re` can match some reply the verdicts look up: an
    /// output lookup from the local address `src` (no oif, mark, uid, TOS or
    /// ports) to any destination — its `to` is taken to match, and a `not`
    /// rule may match anything.
    pub fn rule_may_match_reply(&self, re: &RuleEntry, src: IpAddr) -> bool {
        if re.rule.not {
            return true;
        }
        let dst = re.rule.to.map_or(src, |to| to.network());
        let flow = Flow::to(dst).from(src);
        let fl = self.fl(&flow, "lo", None);
        self.rule_matches(re, &fl).0
    }

    /// (matches, depends on selectors a reply's dumps cannot settle).
    pub(super) fn rule_matches(&self, re: &RuleEntry, fl: &Flowi<'_>) -> (bool, bool) {
        Self::rule_outcome(re, self.rule_sel(re, fl), fl.dst)
    }

    /// `rule_matches` from the selectors settled without the destination
    /// and the destination (the rule's `to`).
    pub(super) fn rule_outcome(re: &RuleEntry, sel: RuleSel, dst: IpAddr) -> (bool, bool) {
        let base = sel.base && re.rule.to.is_none_or(|to| to.contains(&dst));
        let m = base && sel.cond;
        (m != re.rule.not, base && sel.has_conditional)
    }

    /// A rule's selectors against a flow, but for `to`.
    pub(super) fn rule_sel(&self, re: &RuleEntry, fl: &Flowi<'_>) -> RuleSel {
        let mut s = self.rule_sel_but_from(re, fl);
        s.base = s.base && Self::from_matches(re, fl);
        s
    }

    /// The rule's `from` holds the flow's source.
    fn from_matches(re: &RuleEntry, fl: &Flowi<'_>) -> bool {
        let Some(from) = &re.rule.from else {
            return true;
        };
        match fl.src {
            Some(s) => from.contains(&s),
            // IPv4 compares saddr 0 as a number. IPv6 without a source
            // matches only `from all`: fib6_rule_match defers the check
            // only for FIB_RULE_FIND_SADDR rules, which iproute2 never
            // creates.
            None => match fl.fam {
                Family::Inet => from.contains(&IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
                Family::Inet6 => from.prefix_len() == 0,
            },
        }
    }

    /// `rule_sel` as if the rule's `from` held the flow's source.
    pub(super) fn rule_sel_but_from(&self, re: &RuleEntry, fl: &Flowi<'_>) -> RuleSel {
        let r = &re.rule;
        let base = !r
            .iif
            .as_ref()
            .is_some_and(|i| i.detached || !self.dev_matches(&i.name, fl.iif));
        let has_conditional = re.conditional;
        // Every selector of `Selector::ALL`; the match is exhaustive, so a
        // new selector must be decided here. Without conditional selectors
        // (most rules) only `iif` may be left, decided in `base`.
        let cond = !has_conditional
            || r.selectors().all(|s| match s {
                // With `from`, in `base`.
                Selector::Iif => true,
                Selector::Fwmark => {
                    let mask = r.fwmask.unwrap_or(u32::MAX);
                    r.fwmark.is_some_and(|m| (m ^ fl.mark) & mask == 0)
                }
                Selector::Oif => match (&r.oif, fl.oif) {
                    (Some(o), Some(f)) => !o.detached && self.dev_matches(&o.name, f),
                    _ => false,
                },
                Selector::Uidrange => r.uidrange.is_some_and(|(a, b)| fl.uid >= a && fl.uid <= b),
                Selector::Tos => re.tos == Some(fl.tos),
                Selector::Ipproto => r
                    .ipproto
                    .as_deref()
                    .is_some_and(|p| fl.ipproto == ipproto_number(p)),
                Selector::Sport | Selector::Dport => {
                    let (range, port) = if s == Selector::Sport {
                        (&r.sport, fl.sport)
                    } else {
                        (&r.dport, fl.dport)
                    };
                    range.is_some_and(|pr| {
                        let p = port.unwrap_or(0) as u32;
                        match pr.mask {
                            Some(m) => (p & m) == (pr.start & m),
                            None => p >= pr.start && p <= pr.end,
                        }
                    })
                }
                // A flow from a tunnel's metadata: never a lookup's.
                Selector::TunId => false,
                Selector::L3mdev => self.flow_vrf(fl).is_some(),
                // fib4_rule_match / fib6_rule_match: the flow's DSCP (its TOS
                // byte without the ECN bits) under the rule's mask.
                Selector::Dscp => r
                    .dscp_value()
                    .is_some_and(|(v, m)| (v ^ (fl.tos >> 2)) & m == 0),
                // IPv6 only: `ip route get` and a reply carry flow label 0.
                Selector::Flowlabel => r.flowlabel_value().is_some_and(|(v, m)| v & m == 0),
            });
        RuleSel {
            base,
            cond,
            has_conditional,
        }
    }

    /// A rule's device selector matches the device or its VRF master.
    pub(super) fn dev_matches(&self, rule_dev: &str, dev: &str) -> bool {
        rule_dev == dev || self.vrf_master(dev) == Some(rule_dev)
    }

    /// The VRF (l3mdev) table of the flow's oif or iif.
    pub(super) fn flow_vrf(&self, fl: &Flowi<'_>) -> Option<u32> {
        let dev = fl.oif.or((fl.iif != "lo").then_some(fl.iif))?;
        let l = self.link(dev)?;
        l.vrf_table
            .or_else(|| self.link(l.master.as_deref()?)?.vrf_table)
    }

    /// The table a rule looks up (borrowed: a walk consults many).
    pub(super) fn rule_table<'r>(
        &self,
        re: &'r RuleEntry,
        fl: &Flowi<'_>,
    ) -> Option<Cow<'r, Table>> {
        if re.rule.l3mdev {
            return self.flow_vrf(fl).map(|id| Cow::Owned(Table::Id(id)));
        }
        re.table.as_ref().map(Cow::Borrowed)
    }

    /// fib4_rule_suppress / fib6_rule_suppress.
    pub(super) fn suppressed(&self, re: &RuleEntry, entry: &RouteEntry, live: &[usize]) -> bool {
        let r = &re.rule;
        if let Some(n) = r.suppress_prefixlength
            && u32::from(entry.route.dst.prefix_len()) <= n
        {
            return true;
        }
        if let Some(g) = &r.suppress_ifgroup {
            let group: u32 = if g == "default" {
                0
            } else {
                g.parse().unwrap_or(u32::MAX)
            };
            // IPv4 looks at nexthop 0's device, IPv6 at the chosen one's.
            let nh = if entry.route.family == Family::Inet {
                (!entry.route.nexthops.is_empty()).then_some(0)
            } else {
                live.first().copied()
            };
            let dev = nh_of(&entry.route, nh).0;
            if dev
                .and_then(|d| self.link(d))
                .is_some_and(|l| l.group == group)
            {
                return true;
            }
        }
        false
    }

    pub(super) fn table_lookup(&self, t: &crate::model::FibTable, fl: &Flowi<'_>) -> TableResult {
        match fl.fam {
            Family::Inet => {
                for (_, idxs) in t.candidates(fl.dst) {
                    match self.aliases4(t, idxs, fl) {
                        TableResult::NoMatch => {}
                        other => return other,
                    }
                }
                TableResult::NoMatch
            }
            Family::Inet6 => self.table_lookup6(t, fl),
        }
    }

    /// fib_table_lookup over one prefix's aliases (sorted TOS, metric): TOS
    /// must match (0 matches any), an error type answers at once, a route
    /// answers when one of its nexthops is usable (not dead, on the oif).
    pub(super) fn aliases4(
        &self,
        t: &crate::model::FibTable,
        idxs: &[usize],
        fl: &Flowi<'_>,
    ) -> TableResult {
        for &i in idxs {
            let e = &t.routes[i];
            if e.tos != 0 && e.tos != fl.tos {
                continue;
            }
            let r = &e.route;
            if r.kind() == RouteType::Throw {
                return TableResult::Throw(i);
            }
            if let Some(err) = KernelError::of_route_type(&r.kind()) {
                return TableResult::Reject(i, err);
            }
            if r.nexthops.is_empty() {
                if is_dead(&r.flags) {
                    continue;
                }
                if let Some(o) = fl.oif
                    && r.dev.as_deref() != Some(o)
                {
                    continue;
                }
                return TableResult::Found(i, Vec::new());
            }
            let live = live_legs(r, fl.oif);
            if !live.is_empty() {
                return TableResult::Found(i, live);
            }
        }
        TableResult::NoMatch
    }
}

/// A multipath route's legs a flow may take: not dead, and on `oif` when
/// one is given. Sized once: grown leg by leg, a 16-way route reallocated
/// four times per lookup.
pub(super) fn live_legs(r: &crate::grammar::Route, oif: Option<&str>) -> Vec<usize> {
    let mut live = Vec::with_capacity(r.nexthops.len());
    live.extend(
        r.nexthops
            .iter()
            .enumerate()
            .filter(|(_, n)| !is_dead(&n.flags))
            .filter(|(_, n)| oif.is_none_or(|o| n.dev.as_deref() == Some(o)))
            .map(|(i, _)| i),
    );
    live
}
