//! A host as JSON and NDJSON write it (schema 4): each distinct leak and
//! no-route range once, in the host's `leaks` and `no_route` tables, and
//! the endpoints and pod groups naming theirs by index.
//!
//! Why tables: endpoints on different links leak alike. A host of 500
//! links leaks from each link to the 499 others, each range by the same
//! connected route whichever endpoint asks: written per endpoint, that was
//! 500k entries (253 MB on one line, HOSTS.md, session 25); written once,
//! the entries are as many as the distinct outcomes and each endpoint
//! holds a list of numbers. `inline` turns a host back into the in-memory
//! shape (each endpoint with its own entries) for `merge`.

use crate::report::encode::Plain;
use crate::verdict::host::HostReport;
use crate::verdict::pods::PodGroup;
use crate::verdict::space::NetText;
use crate::verdict::{Endpoint, Leak, LeakList, Leaks, LeaksIter, NoRoute, Quote};
use serde::Deserialize;
use serde::ser::{Serialize, SerializeStruct, Serializer};
use serde_json::Value;
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::Hash;

/// The JSON and NDJSON schema this build writes and `merge` reads.
pub const SCHEMA: u32 = 4;

/// The older schema `merge` reads too: 4 without `leak_lists`.
pub const SCHEMA_READ_TOO: u32 = 3;

/// An endpoint's leaks are written as a list of the host's and what it
/// lacks of it (`leaks_list`, `leaks_except`) where they are this many
/// or more, and it lacks at most an eighth of them.
const LIST_FROM: usize = 64;

/// A host with its tables: what its JSON text is made of.
pub struct Wire<'h> {
    h: &'h HostReport,
    leaks: Vec<Shown<'h>>,
    no_route: Vec<&'h NoRoute>,
    /// Indices into `leaks` and `no_route`: each endpoint's, then each pod
    /// group's, leaks then no-route ranges; for an owner written off a
    /// list, the positions in the list it lacks in place of its leaks.
    refs: Vec<u32>,
    /// Per endpoint then per pod group: where its leak refs end and where
    /// its no-route refs end, in `refs`.
    ends: Vec<(usize, usize)>,
    /// Per endpoint then per pod group: the list its leaks are written off
    /// (`LIST_FROM`), if any.
    from: Vec<Option<u32>>,
    /// The lists' leaks (indices into `leaks`), one after the other, and
    /// where each ends.
    lists: Vec<u32>,
    list_ends: Vec<usize>,
}

/// A leak as the report shows it: equal and hashed by the fields written
/// (`size` and `own_leg` are the analysis's, and a report read back by
/// `merge` has neither: its tables must come out as the scan's).
#[derive(Clone, Copy)]
pub(crate) struct Shown<'h>(pub(crate) &'h Leak);

impl Shown<'_> {
    #[allow(clippy::type_complexity)]
    fn key(
        &self,
    ) -> (
        (&[ipnet::IpNet], u64, &str, crate::verdict::Scope, &str),
        (Option<std::net::IpAddr>, bool, &[crate::verdict::Leg]),
        (&Option<Quote>, &Option<Quote>, usize, &Option<Vec<String>>),
        (crate::verdict::Impact, &Option<String>),
    ) {
        let l = self.0;
        (
            (
                &l.destinations,
                l.destinations_omitted,
                &l.summary,
                l.scope,
                &l.egress,
            ),
            (l.gateway, l.hash_dependent, &l.legs),
            (&l.rule, &l.route, l.routes, &l.protocols),
            (l.impact, &l.dropped_by),
        )
    }
}

impl PartialEq for Shown<'_> {
    fn eq(&self, o: &Self) -> bool {
        self.key() == o.key()
    }
}

impl Eq for Shown<'_> {}

impl Hash for Shown<'_> {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.key().hash(h)
    }
}

impl Serialize for Shown<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

/// A table of distinct entries in the order first named.
struct Table<T: Eq + Hash> {
    index: HashMap<T, u32, foldhash::fast::RandomState>,
}

impl<T: Eq + Hash + Copy> Table<T> {
    fn new() -> Self {
        Table {
            index: HashMap::default(),
        }
    }

    /// `v`'s row (added when new), named in `refs`.
    fn add(&mut self, v: T, rows: &mut Vec<T>, refs: &mut Vec<u32>) -> u32 {
        let next = rows.len() as u32;
        let i = *self.index.entry(v).or_insert_with(|| {
            rows.push(v);
            next
        });
        refs.push(i);
        i
    }
}

impl<'h> Wire<'h> {
    pub fn of(h: &'h HostReport) -> Self {
        // Every ref, at its size (a concentrator's host names 80 million).
        let leaks_of = |l: &Leaks| listed(l).map_or(l.len(), |(_, less)| less.len());
        let eps = (h.endpoints.iter()).map(|e| leaks_of(&e.leaks) + e.no_route.len());
        let pods = h.pods.iter().map(|p| p.leaks.len() + p.no_route.len());
        let refs = eps.chain(pods).sum();
        let mut w = Wire {
            h,
            leaks: Vec::new(),
            no_route: Vec::new(),
            refs: Vec::with_capacity(refs),
            ends: Vec::with_capacity(h.endpoints.len() + h.pods.len()),
            from: Vec::with_capacity(h.endpoints.len() + h.pods.len()),
            lists: Vec::new(),
            list_ends: Vec::new(),
        };
        let (mut leaks, mut no_route) = (Table::new(), Table::new());
        // Leaks the analysis shares (`Endpoint::leaks`) found by address
        // first: hashing what each shows cost 7% of a 500-link host.
        let mut held: HashMap<*const Leak, u32, foldhash::fast::RandomState> = HashMap::default();
        // Names `l` in `refs`: its row in `rows`, added when new.
        let mut name = |l: &'h std::sync::Arc<Leak>,
                        rows: &mut Vec<Shown<'h>>,
                        refs: &mut Vec<u32>| {
            match held.entry(std::sync::Arc::as_ptr(l)) {
                Entry::Occupied(i) => refs.push(*i.get()),
                Entry::Vacant(v) => {
                    v.insert(leaks.add(Shown(l), rows, refs));
                }
            }
        };
        // Each list by the address of the analysis's.
        let mut lists: HashMap<*const [std::sync::Arc<Leak>], u32, foldhash::fast::RandomState> =
            HashMap::default();
        let owners = (h.endpoints.iter()).map(|e| (e.leaks.iter(), listed(&e.leaks), &e.no_route));
        let pods = (h.pods.iter()).map(|p| (LeaksIter::of(&p.leaks), None, &p.no_route));
        for (l, off, n) in owners.chain(pods) {
            match off {
                Some((b, less)) => {
                    let next = lists.len() as u32;
                    let at = *lists.entry(std::sync::Arc::as_ptr(b)).or_insert(next);
                    if at == next {
                        for l in b.iter() {
                            name(l, &mut w.leaks, &mut w.lists);
                        }
                        w.list_ends.push(w.lists.len());
                    }
                    w.refs.extend_from_slice(less);
                    w.from.push(Some(at));
                }
                None => {
                    for l in l {
                        name(l, &mut w.leaks, &mut w.refs);
                    }
                    w.from.push(None);
                }
            }
            let at = w.refs.len();
            for n in n {
                no_route.add(n, &mut w.no_route, &mut w.refs);
            }
            w.ends.push((at, w.refs.len()));
        }
        w
    }

    /// The `i`th owner's (endpoints, then pod groups) leak and no-route refs.
    fn refs_of(&self, i: usize) -> Refs<'_> {
        let start = if i == 0 { 0 } else { self.ends[i - 1].1 };
        let (mid, end) = self.ends[i];
        let leaks = match self.from[i] {
            Some(l) => LeaksOut::Off(l, &self.refs[start..mid]),
            None => LeaksOut::Refs(&self.refs[start..mid]),
        };
        (leaks, &self.refs[mid..end])
    }

    /// List `i`'s leaks (indices into `leaks`).
    fn list(&self, i: usize) -> &[u32] {
        let start = if i == 0 { 0 } else { self.list_ends[i - 1] };
        &self.lists[start..self.list_ends[i]]
    }

    /// About how long the host's compact JSON is, on the high side (its
    /// pretty text is at most twice this): each text's length (twice, for
    /// escapes) and a generous allowance per item. A renderer sizes its
    /// buffer with it once: grown by doubling, a large host's text was
    /// copied several times and held twice at the peak. What is reserved
    /// and not written is never touched, so it costs no memory.
    pub fn len_hint(&self) -> usize {
        let h = self.h;
        fn quote(q: &Option<Quote>) -> usize {
            q.as_ref().map_or(0, quoted)
        }
        fn quoted(q: &Quote) -> usize {
            64 + q.file.len() + 2 * q.text.len()
        }
        fn texts(v: &[String]) -> usize {
            v.iter().map(|s| 8 + 2 * s.len()).sum()
        }
        fn list(v: &Option<Vec<String>>) -> usize {
            v.as_deref().map_or(0, texts)
        }
        /// What a leak and a no-route range both hold.
        fn ranges(
            destinations: usize,
            summary: &str,
            quotes: [&Option<Quote>; 2],
            protocols: &Option<Vec<String>>,
            dropped_by: &Option<String>,
        ) -> usize {
            384 + 48 * destinations
                + 2 * summary.len()
                + quote(quotes[0])
                + quote(quotes[1])
                + list(protocols)
                + dropped_by.as_ref().map_or(0, |s| 2 * s.len())
        }
        let leaks: usize = self
            .leaks
            .iter()
            .map(|&Shown(l)| {
                let (q, d) = ([&l.rule, &l.route], &l.destinations);
                ranges(d.len(), &l.summary, q, &l.protocols, &l.dropped_by)
                    + 2 * l.egress.len()
                    + 96 * l.legs.len()
            })
            .sum();
        let no_route: usize = self
            .no_route
            .iter()
            .map(|d| {
                let q = [&d.rule, &d.route];
                ranges(
                    d.destinations.len(),
                    &d.summary,
                    q,
                    &d.protocols,
                    &d.dropped_by,
                )
            })
            .sum();
        let conditional = |c: &[Quote]| c.iter().map(quoted).sum::<usize>();
        let endpoints: usize = h
            .endpoints
            .iter()
            .map(|e| 512 + 2 * e.interface.len() + list(&e.protocols) + conditional(&e.conditional))
            .sum();
        let pods: usize = h
            .pods
            .iter()
            .map(|p| {
                512 + texts(&p.addresses)
                    + 2 * (p.uplink.len() + p.veth.len())
                    + p.table.as_ref().map_or(0, |t| 2 * t.len())
                    + quote(&p.rule)
                    + conditional(&p.conditional)
            })
            .sum();
        let fix: usize = h
            .fix
            .iter()
            .map(|f| 64 + texts(&f.commands) + texts(&f.notes) + texts(&f.undo))
            .sum();
        4096 + 2 * (h.host.len() + h.reason.len() + h.fix_reason.len())
            + texts(&h.incomplete)
            + texts(&h.fix_unverified)
            + texts(&h.notes)
            + leaks
            + no_route
            // A ref is at most ten digits and a comma, compact; pretty,
            // a line of its own seven levels deep.
            + 16 * (self.refs.len() + self.lists.len())
            + endpoints
            + pods
            + fix
            + h.files
                .iter()
                .map(|f| 128 + 2 * f.file.len())
                .sum::<usize>()
            + h.diagnostics
                .iter()
                .map(|d| 128 + 2 * (d.file.len() + d.message.len()))
                .sum::<usize>()
    }
}

impl Serialize for HostReport {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Wire::of(self).serialize(s)
    }
}

/// Writes field `k` when `v` is there, else skips it as serde's derive does.
fn opt<S: SerializeStruct, T: Serialize>(
    st: &mut S,
    k: &'static str,
    v: Option<&T>,
) -> Result<(), S::Error> {
    match v {
        Some(v) => st.serialize_field(k, v),
        None => st.skip_field(k),
    }
}

impl Serialize for Wire<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let h = self.h;
        let skipped = usize::from(h.impact.is_none())
            + usize::from(h.pods.is_empty())
            + usize::from(h.fix_unverified.is_empty())
            + usize::from(h.notes.is_empty());
        let lists = usize::from(!self.list_ends.is_empty());
        let mut st = s.serialize_struct("HostReport", 20 + lists - skipped)?;
        st.serialize_field("host", &h.host)?;
        st.serialize_field("hostname", &h.hostname)?;
        st.serialize_field("instance_id", &h.instance_id)?;
        st.serialize_field("collector", &h.collector)?;
        st.serialize_field("verdict", &h.verdict)?;
        opt(&mut st, "impact", h.impact.as_ref())?;
        st.serialize_field("incomplete", &h.incomplete)?;
        st.serialize_field("reason", &h.reason)?;
        let eps = h.endpoints.len();
        let endpoints: Vec<EndpointOut> = (h.endpoints.iter().enumerate())
            .map(|(i, e)| EndpointOut(e, self.refs_of(i)))
            .collect();
        st.serialize_field("endpoints", &endpoints)?;
        let pods: Vec<PodOut> = (h.pods.iter().enumerate())
            .map(|(i, p)| PodOut(p, self.refs_of(eps + i)))
            .collect();
        opt(&mut st, "pods", Some(&pods).filter(|p| !p.is_empty()))?;
        st.serialize_field("leaks", &self.leaks)?;
        st.serialize_field("no_route", &self.no_route)?;
        if lists > 0 {
            let lists: Vec<&[u32]> = (0..self.list_ends.len()).map(|i| self.list(i)).collect();
            st.serialize_field("leak_lists", &lists)?;
        }
        st.serialize_field("ec2rl", &h.ec2rl)?;
        st.serialize_field("fix", &h.fix)?;
        st.serialize_field("fix_status", &h.fix_status)?;
        st.serialize_field("fix_reason", &h.fix_reason)?;
        opt(
            &mut st,
            "fix_unverified",
            Some(&h.fix_unverified).filter(|v| !v.is_empty()),
        )?;
        st.serialize_field("files", &h.files)?;
        opt(&mut st, "notes", Some(&h.notes).filter(|v| !v.is_empty()))?;
        st.serialize_field("diagnostics", &h.diagnostics)?;
        st.end()
    }
}

/// An address as the report writes it (no escape check).
struct Addr(std::net::IpAddr);

impl Serialize for Addr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Plain(NetText::addr(self.0).as_str()).serialize(s)
    }
}

/// An owner's leaks as written: its refs, or a list's index and the
/// positions in it that the owner lacks (ascending).
#[derive(Clone, Copy)]
enum LeaksOut<'w> {
    Refs(&'w [u32]),
    Off(u32, &'w [u32]),
}

impl LeaksOut<'_> {
    /// `leaks`, or `leaks_list` and `leaks_except`.
    fn write<S: SerializeStruct>(self, st: &mut S) -> Result<(), S::Error> {
        match self {
            LeaksOut::Refs(r) => st.serialize_field("leaks", r),
            LeaksOut::Off(l, except) => {
                st.serialize_field("leaks_list", &l)?;
                st.serialize_field("leaks_except", except)
            }
        }
    }

    /// How many fields `write` writes past one.
    fn more(self) -> usize {
        usize::from(matches!(self, LeaksOut::Off(..)))
    }
}

type Refs<'w> = (LeaksOut<'w>, &'w [u32]);

/// The shared list `leaks` are read off and the positions in it they
/// lack, where they are written so: `LIST_FROM` or more of them, lacking
/// at most an eighth as many.
fn listed(leaks: &Leaks) -> Option<(&LeakList, &[u32])> {
    let n = leaks.len();
    (leaks.shared()).filter(|(_, less)| n >= LIST_FROM && less.len() <= n / 8)
}

struct EndpointOut<'w>(&'w Endpoint, Refs<'w>);

impl Serialize for EndpointOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (e, (leaks, no_route)) = (self.0, self.1);
        let skipped = usize::from(e.same_as.is_none())
            + usize::from(e.protocols.is_none())
            + usize::from(e.impact.is_none());
        let mut st = s.serialize_struct("Endpoint", 14 + leaks.more() - skipped)?;
        st.serialize_field("address", &Addr(e.address))?;
        st.serialize_field("prefixlen", &e.prefixlen)?;
        st.serialize_field("interface", &e.interface)?;
        st.serialize_field("family", &e.family)?;
        st.serialize_field("secondary", &e.secondary)?;
        st.serialize_field("state", &e.state)?;
        st.serialize_field("internal", &e.internal)?;
        st.serialize_field("verdict", &e.verdict)?;
        opt(&mut st, "same_as", e.same_as.map(Addr).as_ref())?;
        opt(&mut st, "protocols", e.protocols.as_ref())?;
        opt(&mut st, "impact", e.impact.as_ref())?;
        leaks.write(&mut st)?;
        st.serialize_field("no_route", no_route)?;
        st.serialize_field("conditional", &e.conditional)?;
        st.end()
    }
}

struct PodOut<'w>(&'w PodGroup, Refs<'w>);

impl Serialize for PodOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (p, (leaks, no_route)) = (self.0, self.1);
        let skipped = usize::from(p.table.is_none())
            + usize::from(p.rule.is_none())
            + usize::from(p.impact.is_none())
            + usize::from(p.conditional.is_empty());
        let mut st = s.serialize_struct("PodGroup", 13 + leaks.more() - skipped)?;
        st.serialize_field("family", &p.family)?;
        st.serialize_field("pods", &p.pods)?;
        st.serialize_field("addresses", &p.addresses)?;
        st.serialize_field("uplink", &p.uplink)?;
        st.serialize_field("bound_by", &p.bound_by)?;
        opt(&mut st, "table", p.table.as_ref())?;
        opt(&mut st, "rule", p.rule.as_ref())?;
        st.serialize_field("veth", &p.veth)?;
        st.serialize_field("verdict", &p.verdict)?;
        opt(&mut st, "impact", p.impact.as_ref())?;
        leaks.write(&mut st)?;
        st.serialize_field("no_route", no_route)?;
        opt(
            &mut st,
            "conditional",
            Some(&p.conditional).filter(|c| !c.is_empty()),
        )?;
        st.end()
    }
}

/// An owner's refs (`endpoints[i].leaks`, …) as indices into a table of
/// `rows` rows; the error names the bad one.
fn refs_in(
    refs: &Value,
    rows: usize,
    owners: &str,
    i: usize,
    k: &str,
) -> Result<Vec<usize>, String> {
    let Some(refs) = refs.as_array() else {
        return Err(format!("{owners}[{i}].{k} is not an array of indices"));
    };
    refs.iter()
        .map(|r| {
            r.as_u64()
                .and_then(|n| usize::try_from(n).ok())
                .filter(|&n| n < rows)
                .ok_or_else(|| {
                    format!("{owners}[{i}].{k} names {r}, not one of the host's {rows} `{k}`")
                })
        })
        .collect()
}

/// `f` of each owner of refs (its list's name, its place, its object):
/// the endpoints, then the pod groups.
fn each_owner(
    obj: &mut serde_json::Map<String, Value>,
    mut f: impl FnMut(&str, usize, &mut Value) -> Result<(), String>,
) -> Result<(), String> {
    for owners in ["endpoints", "pods"] {
        let Some(list) = obj.get_mut(owners) else {
            continue;
        };
        let Some(list) = list.as_array_mut() else {
            return Err(format!("the host's `{owners}` is not an array"));
        };
        for (i, o) in list.iter_mut().enumerate() {
            f(owners, i, o)?;
        }
    }
    Ok(())
}

/// The host's table `k`, taken out of its object.
fn take_table(obj: &mut serde_json::Map<String, Value>, k: &str) -> Result<Vec<Value>, String> {
    match obj.remove(k) {
        Some(Value::Array(v)) => Ok(v),
        Some(_) => Err(format!("the host's `{k}` is not an array")),
        None => Err(format!("the host has no `{k}` table")),
    }
}

/// A host line as `Wire` writes it, read straight into its parts: the
/// tables' rows, and each owner's refs as numbers beside the owner.
#[derive(Deserialize)]
struct HostIn {
    leaks: Vec<Leak>,
    no_route: Vec<NoRoute>,
    #[serde(default)]
    leak_lists: Vec<Vec<u32>>,
    endpoints: Vec<OwnerIn<Endpoint>>,
    #[serde(default)]
    pods: Vec<OwnerIn<PodGroup>>,
    /// The rest of the host (its few other fields are buffered, its
    /// tables and owners are not).
    #[serde(flatten)]
    rest: HostReport,
}

/// An endpoint or pod group with the refs it names.
#[derive(Deserialize)]
struct OwnerIn<T> {
    #[serde(default)]
    leaks: Vec<u32>,
    #[serde(default)]
    leaks_list: Option<u32>,
    #[serde(default)]
    leaks_except: Vec<u32>,
    #[serde(default)]
    no_route: Vec<u32>,
    #[serde(flatten)]
    owner: T,
}

/// An owner's refs: its `leaks`, `leaks_list`, `leaks_except` and
/// `no_route`.
type PartsIn<'o> = (&'o [u32], Option<u32>, &'o [u32], &'o [u32]);

impl<T> OwnerIn<T> {
    fn parts(&self) -> PartsIn<'_> {
        (
            &self.leaks,
            self.leaks_list,
            &self.leaks_except,
            &self.no_route,
        )
    }
}

/// An owner's refs checked against a table of `rows` rows; the error
/// names the bad one.
fn check_refs(refs: &[u32], rows: usize, owners: &str, i: usize, k: &str) -> Result<(), String> {
    match refs.iter().find(|&&r| r as usize >= rows) {
        Some(r) => Err(format!(
            "{owners}[{i}].{k} names {r}, not one of the host's {rows} `{k}`"
        )),
        None => Ok(()),
    }
}

/// A host line as `Wire` writes it, read into a `HostReport` (`merge`):
/// each table row read once, and the endpoints and pod groups that name a
/// leak sharing it (`Arc`), as the scan's report does. Read straight from
/// the text: through a JSON value first, a number in a list took ~40
/// bytes, and a host of 4,000 point-to-point links (98 MB, 16 million
/// refs) took 813 MiB; putting the rows back in place (`inline`) copied a
/// row per ref, 2.8 GB for 1,000 links.
pub fn read_host(text: &str) -> Result<HostReport, String> {
    type Shared = std::sync::Arc<[std::sync::Arc<Leak>]>;
    let h: HostIn = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let leaks: Vec<std::sync::Arc<Leak>> = h.leaks.into_iter().map(std::sync::Arc::new).collect();
    let no_route = h.no_route;
    // Each list read once, shared by the owners written off it (their
    // leaks, `Leaks::Off`, so that they are written off it again).
    let mut lists: Vec<Shared> = Vec::with_capacity(h.leak_lists.len());
    for (i, l) in h.leak_lists.iter().enumerate() {
        check_refs(l, leaks.len(), "leak_lists", i, "leaks")?;
        lists.push(l.iter().map(|&r| leaks[r as usize].clone()).collect());
    }
    let mut host = h.rest;
    // An owner's entries, from its place and refs (`OwnerIn::parts`).
    let owned = |owners: &str, i: usize, (lr, list, except, nr): PartsIn<'_>| {
        check_refs(nr, no_route.len(), owners, i, "no_route")?;
        let n: Vec<_> = nr.iter().map(|&r| no_route[r as usize].clone()).collect();
        let Some(at) = list else {
            if !except.is_empty() {
                return Err(format!(
                    "{owners}[{i}] has `leaks_except` without `leaks_list`"
                ));
            }
            check_refs(lr, leaks.len(), owners, i, "leaks")?;
            let l: Leaks = lr.iter().map(|&r| leaks[r as usize].clone()).collect();
            return Ok::<_, String>((l, n));
        };
        let list = lists.get(at as usize).ok_or_else(|| {
            format!(
                "{owners}[{i}].leaks_list names {at}, not one of the host's {} `leak_lists`",
                lists.len()
            )
        })?;
        if !lr.is_empty() {
            return Err(format!("{owners}[{i}] has both `leaks` and `leaks_list`"));
        }
        if except.windows(2).any(|w| w[0] >= w[1]) || except.last() >= Some(&(list.len() as u32)) {
            return Err(format!(
                "{owners}[{i}].leaks_except is not ascending positions in a list of {}",
                list.len()
            ));
        }
        Ok((Leaks::off(list.clone(), except.into()), n))
    };
    host.endpoints = Vec::with_capacity(h.endpoints.len());
    for (i, o) in h.endpoints.into_iter().enumerate() {
        let (l, n) = owned("endpoints", i, o.parts())?;
        let mut e = o.owner;
        (e.leaks, e.no_route) = (l, n);
        host.endpoints.push(e);
    }
    host.pods = Vec::with_capacity(h.pods.len());
    for (i, o) in h.pods.into_iter().enumerate() {
        let (l, n) = owned("pods", i, o.parts())?;
        if l.shared().is_some() {
            return Err(format!("pods[{i}] names a `leaks_list`"));
        }
        let mut p = o.owner;
        (p.leaks, p.no_route) = (l.into_vec(), n);
        host.pods.push(p);
    }
    Ok(host)
}

/// A host object as `Wire` writes it, turned into the in-memory shape that
/// `HostReport`'s `Deserialize` reads: each endpoint's and pod group's
/// refs replaced by the entries they name, the host's tables removed. The
/// error says which ref or table is wrong.
pub fn inline(host: &mut Value) -> Result<(), String> {
    let Some(obj) = host.as_object_mut() else {
        return Err("a host is not an object".into());
    };
    let (leaks, no_route) = (take_table(obj, "leaks")?, take_table(obj, "no_route")?);
    let lists = match obj.contains_key("leak_lists") {
        true => take_table(obj, "leak_lists")?,
        false => Vec::new(),
    };
    each_owner(obj, |owners, i, o| {
        // Written off a list: the list's refs less those at the positions
        // excepted, as refs in place.
        if let Some(at) = o.as_object_mut().and_then(|m| m.remove("leaks_list")) {
            let list = (at.as_u64())
                .and_then(|n| lists.get(usize::try_from(n).ok()?))
                .ok_or_else(|| format!("{owners}[{i}].leaks_list names {at}, not a list"))?;
            let list = refs_in(list, leaks.len(), "leak_lists", 0, "leaks")?;
            let except = o
                .as_object_mut()
                .and_then(|m| m.remove("leaks_except"))
                .unwrap_or_default();
            let except = refs_in(&except, list.len(), owners, i, "leaks_except")?;
            let kept = (0..list.len()).filter(|k| !except.contains(k));
            o["leaks"] = Value::Array(kept.map(|k| list[k].into()).collect());
        }
        for (k, rows) in [("leaks", &leaks), ("no_route", &no_route)] {
            let Some(refs) = o.get_mut(k) else {
                continue;
            };
            let named = refs_in(refs, rows.len(), owners, i, k)?;
            *refs = Value::Array(named.into_iter().map(|n| rows[n].clone()).collect());
        }
        Ok(())
    })
}
