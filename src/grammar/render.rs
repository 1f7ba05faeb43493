//! Canonical one-line renderings in `ip`'s own words, for the `parse` view
//! and for messages. Reports quote the captured lines verbatim instead.

use super::addr::{Address, Link};
use super::names::RouteType;
use super::route::Route;
use super::rule::{Rule, RuleAction, Selector};
use std::fmt::{self, Display, Write};

impl Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:\t", self.priority)?;
        if self.not {
            f.write_str("not ")?;
        }
        // `ip rule` prints a host prefix without its length.
        let host = |n: &ipnet::IpNet| {
            if n.prefix_len() == n.max_prefix_len() {
                n.addr().to_string()
            } else {
                n.to_string()
            }
        };
        match &self.from {
            Some(n) => write!(f, "from {}", host(n))?,
            None => f.write_str("from all")?,
        }
        if let Some(n) = &self.to {
            write!(f, " to {}", host(n))?;
        }
        // Every selector (`Selector::ALL`, in `ip rule`'s order): `l3mdev`
        // is said by the action, `dscp` and `flowlabel` come last.
        let late = [Selector::Dscp, Selector::Flowlabel];
        for s in self.selectors() {
            if s == Selector::L3mdev || late.contains(&s) {
                continue;
            }
            if let Some(t) = self.selector_text(s) {
                write!(f, " {t}")?;
            }
            let detached = match s {
                Selector::Iif => self.iif.as_ref().is_some_and(|i| i.detached),
                Selector::Oif => self.oif.as_ref().is_some_and(|i| i.detached),
                _ => false,
            };
            if detached {
                f.write_str(" [detached]")?;
            }
        }
        match &self.action {
            RuleAction::Lookup if self.l3mdev => f.write_str(" lookup [l3mdev-table]")?,
            RuleAction::Lookup => {
                if let Some(t) = &self.table {
                    write!(f, " lookup {t}")?;
                }
            }
            RuleAction::Goto => match self.goto {
                Some(g) => write!(f, " goto {g}")?,
                None => f.write_str(" goto none")?,
            },
            RuleAction::Nat => f.write_str(" nat")?,
            a => {
                let s = serde_json::to_value(a).ok();
                write!(f, " {}", s.as_ref().and_then(|v| v.as_str()).unwrap_or("?"))?
            }
        }
        if self.unresolved {
            f.write_str(" [unresolved]")?;
        }
        if let Some(n) = self.suppress_prefixlength {
            write!(f, " suppress_prefixlength {n}")?;
        }
        if let Some(g) = &self.suppress_ifgroup {
            write!(f, " suppress_ifgroup {g}")?;
        }
        if let Some(r) = &self.realms {
            write!(f, " realms {r}")?;
        }
        if let Some(p) = &self.protocol {
            write!(f, " proto {p}")?;
        }
        for s in late {
            if let Some(t) = self.selector_text(s) {
                write!(f, " {t}")?;
            }
        }
        Ok(())
    }
}

impl Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.kind() != RouteType::Unicast {
            write!(f, "{} ", self.kind())?;
        }
        if self.dst.prefix_len() == 0 {
            f.write_str("default")?;
        } else {
            write!(f, "{}", self.dst)?;
        }
        if let Some(s) = self.from() {
            write!(f, " from {s}")?;
        }
        if let Some(n) = self.nhid() {
            write!(f, " nhid {n}")?;
        }
        if let Some(t) = self.tos() {
            write!(f, " tos {t}")?;
        }
        if let Some(g) = &self.gateway {
            write!(f, " via {g}")?;
        }
        if let Some(d) = &self.dev {
            write!(f, " dev {d}")?;
        }
        write!(f, " table {}", self.table)?;
        if let Some(p) = &self.protocol() {
            write!(f, " proto {p}")?;
        }
        if let Some(s) = &self.scope() {
            write!(f, " scope {s}")?;
        }
        if let Some(s) = &self.prefsrc {
            write!(f, " src {s}")?;
        }
        if let Some(m) = self.metric {
            write!(f, " metric {m}")?;
        }
        for fl in &self.flags {
            write!(f, " {fl}")?;
        }
        if let Some(e) = self.error() {
            write!(f, " error {e}")?;
        }
        if let Some(p) = &self.pref {
            write!(f, " pref {p}")?;
        }
        for nh in &self.nexthops {
            f.write_str("\n\tnexthop")?;
            if let Some(g) = &nh.gateway {
                write!(f, " via {g}")?;
            }
            if let Some(d) = &nh.dev {
                write!(f, " dev {d}")?;
            }
            if let Some(w) = nh.weight {
                write!(f, " weight {w}")?;
            }
            for fl in &nh.flags {
                write!(f, " {fl}")?;
            }
        }
        Ok(())
    }
}

impl Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fam = match self.family {
            super::Family::Inet => "inet",
            super::Family::Inet6 => "inet6",
        };
        match self.peer {
            Some(p) => write!(f, "{fam} {} peer {p}/{}", self.local, self.prefixlen)?,
            None => write!(f, "{fam} {}/{}", self.local, self.prefixlen)?,
        }
        if let Some(b) = &self.broadcast {
            write!(f, " brd {b}")?;
        }
        if let Some(s) = &self.scope {
            write!(f, " scope {s}")?;
        }
        for fl in &self.flags {
            write!(f, " {fl}")?;
        }
        if let Some(l) = &self.label {
            write!(f, " {l}")?;
        }
        Ok(())
    }
}

impl Display for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut head = String::new();
        if let Some(i) = self.index {
            let _ = write!(head, "{i}: ");
        }
        head.push_str(&self.name);
        if let Some(p) = &self.peer {
            let _ = write!(head, "@{p}");
        }
        f.write_str(&head)?;
        if let Some(fl) = &self.flags {
            write!(f, ": <{}>", fl.join(","))?;
        }
        if let Some(m) = &self.master {
            write!(f, " master {m}")?;
        }
        if let Some(s) = &self.state {
            write!(f, " state {s}")?;
        }
        for a in &self.addrs {
            write!(f, "\n    {a}")?;
        }
        Ok(())
    }
}
