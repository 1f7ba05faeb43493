//! `ip route` / `ip -6 route` / `ip route show table all` (ip/iproute.c
//! print_route and friends), every version since v3.10. Keywords are read in
//! any order (the print order changed across versions); multipath `nexthop`,
//! `nh_info` and `cache` lines attach to the route above them, whether on
//! their own TAB/space-indented line or glued on with `\` by `-o`.

use super::Ctx;
use super::diag::{Severity, Sink};
use super::intern::Name;
use super::lex::{self, Expected, Tokens};
use super::lines::Line;
use super::names::{Coded, Family, RouteProtocol, RouteType, Scope, Table};
use ipnet::IpNet;
use serde::{Serialize, Serializer};
use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::Arc;

/// One `mtu lock 1400` style metric; values keep their unit (`12ms`, `cubic`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RouteMetric {
    pub name: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub lock: bool,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct NextHop {
    /// The leg's line counted from its route's first line (0: on the
    /// route's own line): the routes of a full table then hold equal legs,
    /// one list for all (`NextHops::share`). `parse --json` prints the
    /// line itself.
    #[serde(skip)]
    pub at: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gateway: Option<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dev: Option<Name>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight: Option<u32>,
    #[serde(skip_serializing_if = "Flags::is_empty")]
    pub flags: Flags,
    /// What few legs have, out of line: a full table of multipath routes
    /// holds two or more legs a route (`realms()`, `encap()`, `unknown()`).
    #[serde(flatten)]
    pub rare: Option<Box<NextHopRare>>,
}

/// A leg's rare attributes (`NextHop::rare_mut`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize)]
pub struct NextHopRare {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub realms: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encap: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unknown: Vec<String>,
}

impl NextHop {
    /// A leg `at` lines below its route's first, with nothing set.
    pub fn new(at: u32) -> NextHop {
        NextHop {
            at,
            gateway: None,
            dev: None,
            weight: None,
            flags: Flags::default(),
            rare: None,
        }
    }

    pub fn realms(&self) -> Option<&str> {
        self.rare.as_ref()?.realms.as_deref()
    }

    pub fn encap(&self) -> Option<&str> {
        self.rare.as_ref()?.encap.as_deref()
    }

    /// Words this version does not know, kept as read.
    pub fn unknown(&self) -> &[String] {
        self.rare.as_ref().map_or(&[], |r| &r.unknown[..])
    }

    pub fn rare_mut(&mut self) -> &mut NextHopRare {
        self.rare.get_or_insert_default()
    }
}

/// A route's or nexthop's flag words, in the order read (duplicates kept).
/// The known words (`FLAGS`) are packed four bits each into one integer;
/// any other word (`ttl-propagate enabled`, a JSON flag this version does
/// not know), or more than sixteen, keeps the whole list as text instead.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Flags {
    /// Codes (index in `FLAGS` + 1), first word in the low bits; 0 ends.
    packed: u64,
    /// The words, when they do not pack (`packed` is then 0). Boxed: one
    /// thin pointer inline, where a `Vec` would be three words on every route.
    #[allow(clippy::box_collection)]
    words: Option<Box<Vec<String>>>,
}

/// Next-hop and route flags (RTNH_F_*, RTM_F_*).
const FLAGS: [&str; 11] = [
    "dead",
    "onlink",
    "pervasive",
    "offload",
    "trap",
    "notify",
    "linkdown",
    "unresolved",
    "rt_offload",
    "rt_trap",
    "rt_offload_failed",
];

impl Flags {
    pub fn push(&mut self, w: &str) {
        if self.words.is_none() {
            let n = self.len();
            if n < 16
                && let Some(c) = FLAGS.iter().position(|f| *f == w)
            {
                self.packed |= (c as u64 + 1) << (4 * n);
                return;
            }
            let v: Vec<String> = self.iter().map(str::to_string).collect();
            self.packed = 0;
            self.words = Some(Box::new(v));
        }
        if let Some(v) = &mut self.words {
            v.push(w.to_string());
        }
    }

    pub fn len(&self) -> usize {
        match &self.words {
            Some(v) => v.len(),
            None => (64 - self.packed.leading_zeros() as usize).div_ceil(4),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.packed == 0 && self.words.as_ref().is_none_or(|v| v.is_empty())
    }

    pub fn contains(&self, w: &str) -> bool {
        match &self.words {
            Some(v) => v.iter().any(|x| x == w),
            None => FLAGS.iter().position(|f| *f == w).is_some_and(|c| {
                let c = c as u64 + 1;
                let mut p = self.packed;
                while p != 0 {
                    if p & 0xf == c {
                        return true;
                    }
                    p >>= 4;
                }
                false
            }),
        }
    }

    pub fn iter(&self) -> FlagIter<'_> {
        FlagIter {
            packed: self.packed,
            words: self.words.as_deref().map_or(&[], |v| &v[..]),
        }
    }
}

impl<S: AsRef<str>> FromIterator<S> for Flags {
    fn from_iter<I: IntoIterator<Item = S>>(it: I) -> Flags {
        let mut f = Flags::default();
        for w in it {
            f.push(w.as_ref());
        }
        f
    }
}

pub struct FlagIter<'a> {
    packed: u64,
    words: &'a [String],
}

impl<'a> Iterator for FlagIter<'a> {
    type Item = &'a str;
    fn next(&mut self) -> Option<&'a str> {
        if self.packed != 0 {
            let c = (self.packed & 0xf) as usize;
            self.packed >>= 4;
            return FLAGS.get(c - 1).copied();
        }
        let (w, rest) = self.words.split_first()?;
        self.words = rest;
        Some(w)
    }
}

impl<'a> IntoIterator for &'a Flags {
    type Item = &'a str;
    type IntoIter = FlagIter<'a>;
    fn into_iter(self) -> FlagIter<'a> {
        self.iter()
    }
}

impl std::fmt::Debug for Flags {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl Serialize for Flags {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

/// A route's multipath nexthops: one pointer, none allocated for the
/// single-path routes that fill large tables. A dump's routes over the same
/// legs share one list (`share`): a full table multipath over four
/// gateways held 288 bytes of legs a route.
#[derive(Clone, Default, PartialEq)]
pub struct NextHops(Option<Arc<Vec<NextHop>>>);

/// The leg lists a dump's routes share (`NextHops::share`).
#[derive(Default)]
pub struct LegLists {
    lists: HashSet<Arc<Vec<NextHop>>, foldhash::fast::RandomState>,
    /// The last list found or kept: a table's routes come in runs.
    last: Option<Arc<Vec<NextHop>>>,
}

/// Distinct lists kept for sharing: past this (each route's legs its own,
/// say by weights), later lists are not kept and the set stops growing.
const LEG_LISTS_CAP: usize = 4096;

impl NextHops {
    /// Room doubles from one leg (a vector's own growth starts at four).
    /// A shared list is copied first.
    pub fn push(&mut self, nh: NextHop) {
        let v = Arc::make_mut(
            self.0
                .get_or_insert_with(|| Arc::new(Vec::with_capacity(1))),
        );
        if v.len() == v.capacity() {
            v.reserve_exact(v.len().max(1));
        }
        v.push(nh);
    }

    /// Takes the list an earlier route of the dump holds when it equals
    /// this one; else keeps this one for later routes, in a vector of its
    /// size (a route of three legs had room for four).
    pub fn share(&mut self, lists: &mut LegLists) {
        let Some(v) = &mut self.0 else {
            return;
        };
        if let Some(l) = &lists.last
            && (Arc::ptr_eq(l, v) || **l == **v)
        {
            *v = l.clone();
            return;
        }
        if let Some(l) = lists.lists.get(&**v) {
            *v = l.clone();
        } else {
            if v.capacity() > v.len() {
                *v = Arc::new(v.to_vec());
            }
            if lists.lists.len() < LEG_LISTS_CAP {
                lists.lists.insert(v.clone());
            }
        }
        lists.last = Some(v.clone());
    }

    /// Whether both hold one list (not equal ones).
    #[cfg(test)]
    pub(crate) fn same_list(&self, o: &NextHops) -> bool {
        match (&self.0, &o.0) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl std::ops::Deref for NextHops {
    type Target = [NextHop];
    fn deref(&self) -> &[NextHop] {
        self.0.as_deref().map_or(&[], |v| &v[..])
    }
}

/// A shared list is copied first.
impl std::ops::DerefMut for NextHops {
    fn deref_mut(&mut self) -> &mut [NextHop] {
        self.0
            .as_mut()
            .map_or(&mut [], |v| &mut Arc::make_mut(v)[..])
    }
}

impl<'a> IntoIterator for &'a NextHops {
    type Item = &'a NextHop;
    type IntoIter = std::slice::Iter<'a, NextHop>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl std::fmt::Debug for NextHops {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// A route's legs as `parse --json` prints them, each with its line.
struct LegsAt<'a>(&'a Route);

impl LegsAt<'_> {
    fn is_empty(&self) -> bool {
        self.0.nexthops.is_empty()
    }
}

impl Serialize for LegsAt<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Leg<'a> {
            line: u32,
            #[serde(flatten)]
            leg: &'a NextHop,
        }
        let r = self.0;
        s.collect_seq(r.nexthops.iter().map(|leg| Leg {
            line: r.leg_line(leg),
            leg,
        }))
    }
}

/// The attributes few routes have, kept out of line (`Route::rare_mut`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RouteRare {
    /// A source-specific route's source prefix (IPv6 `from`).
    pub from: Option<IpNet>,
    pub nhid: Option<u32>,
    pub tos: Option<String>,
    pub mark: Option<u32>,
    pub realms: Option<String>,
    pub uid: Option<u32>,
    pub expires: Option<u64>,
    pub error: Option<i64>,
    pub metrics: Vec<RouteMetric>,
    pub iif: Option<String>,
    pub encap: Option<String>,
    /// `-d` `nh_info` line of an `nhid` route, verbatim.
    pub nh_info: Option<String>,
    /// A cloned route's `cache` line, verbatim (old kernels mixed these in).
    pub cache: Option<String>,
    pub unknown: Vec<String>,
}

/// One route record. A full BGP table holds a million of these, so the
/// common attributes are inline and compact (`Name`, `Flags`, `NextHops`)
/// and the rare ones sit behind one pointer (`RouteRare`, read through the
/// accessors of the same names). The type, protocol and scope are held as
/// the kernel's byte (`kind()`, `protocol()`, `scope()`, `Coded`); a word
/// with no byte (a private `rt_protos` name) sits behind the same pointer.
/// Serialised field by field in the order `parse --json` has always printed.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    pub line: u32,
    /// Last physical line of the record (nexthop/cache lines included).
    pub end_line: u32,
    pub family: Family,
    /// `ip monitor` capture: `Deleted …`.
    pub deleted: bool,
    /// `kind()`: the kernel's number, or `KIND_IN_RARE` for a word held in
    /// `rare`.
    kind_code: u8,
    /// `default` is the zero-length prefix of the family.
    pub dst: IpNet,
    /// The `table` token; else the table the command printed (a single-table
    /// dump prints no `table` tokens); else main.
    pub table: Table,
    pub gateway: Option<IpAddr>,
    pub dev: Option<Name>,
    /// `protocol()`: the kernel's number, `NONE` or `IN_RARE`.
    protocol_code: u16,
    /// `scope()`, as `protocol_code`.
    scope_code: u16,
    pub prefsrc: Option<IpAddr>,
    pub metric: Option<u32>,
    pub flags: Flags,
    /// IPv6 router preference (every IPv6 route prints one).
    pub pref: Option<Name>,
    pub nexthops: NextHops,
    rare: Rare,
}

/// `RouteRare` and the words out of line; none allocated is equal to all
/// absent.
#[derive(Debug, Clone, Default)]
struct Rare(Option<Box<(RouteRare, Words)>>);

/// The type, protocol or scope of a route whose word has no byte
/// (`Coded::code`): read where the route's code is `IN_RARE`.
#[derive(Debug, Clone, Default, PartialEq)]
struct Words {
    kind: Option<RouteType>,
    protocol: Option<RouteProtocol>,
    scope: Option<Scope>,
}

static NO_WORDS: Words = Words {
    kind: None,
    protocol: None,
    scope: None,
};

/// A code past every kernel byte: the word is in `Words`.
const IN_RARE: u16 = 0x100;
/// The code of an absent protocol or scope.
const NONE: u16 = 0x101;
/// A route type's `IN_RARE`: no kernel type is numbered 255 (RTN_MAX is
/// 11), so `type 255` is the one number that goes out of line.
const KIND_IN_RARE: u8 = u8::MAX;

static NO_RARE: RouteRare = RouteRare {
    from: None,
    nhid: None,
    tos: None,
    mark: None,
    realms: None,
    uid: None,
    expires: None,
    error: None,
    metrics: Vec::new(),
    iif: None,
    encap: None,
    nh_info: None,
    cache: None,
    unknown: Vec::new(),
};

impl PartialEq for Rare {
    fn eq(&self, o: &Rare) -> bool {
        self.attrs() == o.attrs() && self.words() == o.words()
    }
}

impl Rare {
    fn attrs(&self) -> &RouteRare {
        self.0.as_ref().map_or(&NO_RARE, |b| &b.0)
    }

    fn words(&self) -> &Words {
        self.0.as_ref().map_or(&NO_WORDS, |b| &b.1)
    }

    fn get_mut(&mut self) -> &mut (RouteRare, Words) {
        self.0.get_or_insert_default()
    }

    /// Holds `word` in its slot of the words; `None` clears the slot
    /// without allocating.
    fn hold<T>(&mut self, word: Option<T>, slot: fn(&mut Words) -> &mut Option<T>) {
        match (word, &mut self.0) {
            (Some(w), _) => *slot(&mut self.get_mut().1) = Some(w),
            (None, Some(b)) => *slot(&mut b.1) = None,
            (None, None) => {}
        }
    }
}

/// An optional word's code: its byte, `NONE`, or `IN_RARE` (then the word
/// is held in `Words`).
fn encode<T: Coded>(v: Option<&T>) -> u16 {
    match v.map(T::code) {
        None => NONE,
        Some(Some(n)) => u16::from(n),
        Some(None) => IN_RARE,
    }
}

/// The word of an `encode`d code; `held`: the word `Words` holds for it.
fn decode<T: Coded + Clone>(code: u16, held: &Option<T>) -> Option<T> {
    match code {
        NONE => None,
        IN_RARE => held.clone(),
        n => Some(T::from_code(n as u8)),
    }
}

impl Route {
    /// A leg's own line (`NextHop::at` is counted from the route's).
    pub fn leg_line(&self, leg: &NextHop) -> u32 {
        self.line + leg.at
    }
}

impl Serialize for Route {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let x = self.rare();
        let mut m = s.serialize_struct("Route", 30)?;
        m.serialize_field("line", &self.line)?;
        m.serialize_field("end_line", &self.end_line)?;
        m.serialize_field("family", &self.family)?;
        m.serialize_field("type", &self.kind())?;
        m.serialize_field("dst", &self.dst)?;
        m.serialize_field("table", &self.table)?;
        macro_rules! opt {
            ($k:literal, $v:expr) => {
                match &$v {
                    Some(v) => m.serialize_field($k, v)?,
                    None => m.skip_field($k)?,
                }
            };
        }
        macro_rules! list {
            ($k:literal, $v:expr) => {
                if $v.is_empty() {
                    m.skip_field($k)?
                } else {
                    m.serialize_field($k, &$v)?
                }
            };
        }
        opt!("from", x.from);
        opt!("nhid", x.nhid);
        opt!("tos", x.tos);
        opt!("gateway", self.gateway);
        opt!("dev", self.dev);
        opt!("protocol", self.protocol());
        opt!("scope", self.scope());
        opt!("prefsrc", self.prefsrc);
        opt!("metric", self.metric);
        list!("flags", self.flags);
        opt!("mark", x.mark);
        opt!("realms", x.realms);
        opt!("uid", x.uid);
        opt!("expires", x.expires);
        opt!("error", x.error);
        list!("metrics", x.metrics);
        opt!("iif", x.iif);
        opt!("pref", self.pref);
        opt!("encap", x.encap);
        list!("nexthops", LegsAt(self));
        opt!("nh_info", x.nh_info);
        opt!("cache", x.cache);
        if self.deleted {
            m.serialize_field("deleted", &true)?;
        } else {
            m.skip_field("deleted")?;
        }
        list!("unknown", x.unknown);
        m.end()
    }
}

/// Route metrics (RTAX_*), printed as `name [lock] value`.
fn is_metric(w: &str) -> bool {
    matches!(
        w,
        "mtu"
            | "window"
            | "rtt"
            | "rttvar"
            | "ssthresh"
            | "cwnd"
            | "advmss"
            | "reordering"
            | "hoplimit"
            | "initcwnd"
            | "features"
            | "quickack"
            | "congctl"
            | "rto_min"
            | "initrwnd"
            | "fastopen_no_cookie"
    )
}

fn is_flag(w: &str) -> bool {
    FLAGS.contains(&w)
}

/// Words that end an `encap …` clause (whose own words are open-ended).
fn ends_encap(w: &str) -> bool {
    is_flag(w)
        || is_metric(w)
        || matches!(
            w,
            "via"
                | "dev"
                | "table"
                | "proto"
                | "scope"
                | "src"
                | "metric"
                | "weight"
                | "pref"
                | "realm"
                | "realms"
                | "mark"
                | "expires"
                | "error"
                | "nexthop"
        )
}

impl Route {
    pub fn new(line: u32, family: Family, dst: IpNet, kind: RouteType, table: Table) -> Route {
        let mut r = Route {
            line,
            end_line: line,
            family,
            deleted: false,
            kind_code: 0,
            dst,
            table,
            gateway: None,
            dev: None,
            protocol_code: NONE,
            scope_code: NONE,
            prefsrc: None,
            metric: None,
            flags: Flags::default(),
            pref: None,
            nexthops: NextHops::default(),
            rare: Rare::default(),
        };
        r.set_kind(kind);
        r
    }

    /// The rare attributes, made on first write.
    pub fn rare_mut(&mut self) -> &mut RouteRare {
        &mut self.rare.get_mut().0
    }

    /// The rare attributes (all absent when none was written).
    pub fn rare(&self) -> &RouteRare {
        self.rare.attrs()
    }

    /// `rtm_type`: `unicast` when the line names none.
    pub fn kind(&self) -> RouteType {
        match self.kind_code {
            KIND_IN_RARE => self.rare.words().kind.clone().unwrap_or(RouteType::Unspec),
            n => RouteType::from_code(n),
        }
    }

    pub fn set_kind(&mut self, kind: RouteType) {
        let code = kind.code().filter(|&n| n != KIND_IN_RARE);
        self.kind_code = code.unwrap_or(KIND_IN_RARE);
        self.rare
            .hold(code.is_none().then_some(kind), |w| &mut w.kind);
    }

    pub fn protocol(&self) -> Option<RouteProtocol> {
        decode(self.protocol_code, &self.rare.words().protocol)
    }

    pub fn set_protocol(&mut self, p: Option<RouteProtocol>) {
        self.protocol_code = encode(p.as_ref());
        let held = p.filter(|_| self.protocol_code == IN_RARE);
        self.rare.hold(held, |w| &mut w.protocol);
    }

    /// Absent means the printed default: `global`, or `link` for routes
    /// that old versions printed without scope.
    pub fn scope(&self) -> Option<Scope> {
        decode(self.scope_code, &self.rare.words().scope)
    }

    pub fn set_scope(&mut self, s: Option<Scope>) {
        self.scope_code = encode(s.as_ref());
        let held = s.filter(|_| self.scope_code == IN_RARE);
        self.rare.hold(held, |w| &mut w.scope);
    }

    pub fn from(&self) -> Option<IpNet> {
        self.rare().from
    }
    pub fn nhid(&self) -> Option<u32> {
        self.rare().nhid
    }
    pub fn tos(&self) -> Option<&str> {
        self.rare().tos.as_deref()
    }
    pub fn mark(&self) -> Option<u32> {
        self.rare().mark
    }
    pub fn realms(&self) -> Option<&str> {
        self.rare().realms.as_deref()
    }
    pub fn uid(&self) -> Option<u32> {
        self.rare().uid
    }
    pub fn expires(&self) -> Option<u64> {
        self.rare().expires
    }
    pub fn error(&self) -> Option<i64> {
        self.rare().error
    }
    pub fn metrics(&self) -> &[RouteMetric] {
        &self.rare().metrics
    }
    pub fn iif(&self) -> Option<&str> {
        self.rare().iif.as_deref()
    }
    pub fn encap(&self) -> Option<&str> {
        self.rare().encap.as_deref()
    }
    pub fn nh_info(&self) -> Option<&str> {
        self.rare().nh_info.as_deref()
    }
    pub fn cache(&self) -> Option<&str> {
        self.rare().cache.as_deref()
    }
    pub fn unknown(&self) -> &[String] {
        &self.rare().unknown
    }
}

/// Reads `encap TYPE …`. `ip`/`ip6` print their own `src`, `dst`, `tos`,
/// `ttl`… (print_encap_ip), each once, so those are read as the encap's
/// key/value pairs; `seg6local` may hold `table`/`iif`/`oif`; other types run
/// up to the next route keyword.
fn encap<'a>(toks: &mut Tokens<'a>) -> String {
    let Some(kind) = toks.next() else {
        return String::new();
    };
    let mut words = vec![kind];
    if matches!(kind, "ip" | "ip6") {
        let mut seen = Vec::new();
        while let Some(w) = toks.peek() {
            if seen.contains(&w) {
                break;
            }
            match w {
                "id" | "src" | "dst" | "ttl" | "tos" | "hoplimit" | "tc" => {
                    toks.next();
                    words.push(w);
                    words.extend(toks.next());
                }
                "key" | "csum" | "seq" => {
                    toks.next();
                    words.push(w);
                }
                _ => break,
            }
            seen.push(w);
        }
        return words.join(" ");
    }
    while let Some(w) = toks.peek() {
        if ends_encap(w) && !(kind == "seg6local" && w == "table") {
            break;
        }
        words.push(w);
        toks.next();
    }
    words.join(" ")
}

/// `via [FAMILY] ADDR`.
fn via<'a>(toks: &mut Tokens<'a>, sink: &mut Sink, line: &Line<'_>) -> Option<IpAddr> {
    let mut v = value!(toks, sink, line, "via", "a gateway address");
    if matches!(v, "inet" | "inet6") {
        v = value!(toks, sink, line, "via", "a gateway address");
    }
    Some(check!(sink, line, v, lex::addr(v)))
}

/// Parses the first line of a route.
pub fn parse_line(line: &Line<'_>, ctx: &Ctx, sink: &mut Sink) -> Option<Route> {
    let (toks, mut r) = head(line, ctx, sink)?;
    attributes(toks, &mut r, line, ctx, sink)?;
    Some(r)
}

/// [`parse_line`] onto the end of `out` (left as it was when the line is
/// not a route): the record is made in place, not returned and pushed, a
/// copy of some 200 bytes a route.
pub fn parse_line_into(line: &Line<'_>, ctx: &Ctx, sink: &mut Sink, out: &mut Vec<Route>) {
    let h = head(line, ctx, sink);
    super::push_in_place(out, h, |toks, r| attributes(toks, r, line, ctx, sink));
}

/// Type and destination: the route with nothing else yet, and the tokens
/// after them.
#[inline(always)]
fn head<'a>(line: &Line<'a>, ctx: &Ctx, sink: &mut Sink) -> Option<(Tokens<'a>, Route)> {
    let mut toks = Tokens::new(line.text);
    let mut first = toks.next()?;
    let mut deleted = false;
    if first == "Deleted" {
        deleted = true;
        first = value!(toks, sink, line, "Deleted", "a route");
    }
    let mut kind = RouteType::Unicast;
    if RouteType::is_type_word(first) {
        kind = RouteType::parse(first);
        first = value!(toks, sink, line, first, "a destination");
    } else if first.bytes().all(|b| b.is_ascii_digit()) && toks.peek().is_some() {
        // An unnamed type number (`ip route` prints unknown types as decimal)
        // is followed by a destination; a bare `10` would be a prefix.
        if let Some(n) = toks.peek()
            && lex::dst(n, ctx.family).is_ok()
            && first.parse::<u8>().is_ok()
        {
            kind = RouteType::parse(first);
            first = toks.next().unwrap_or(first);
        }
    }
    let dst_tok = first;
    // The family of `default` and `0/LEN` comes from what follows.
    // Only those take a family: looking ahead for any other would read the
    // line twice.
    let needs_family = matches!(dst_tok, "default" | "all" | "any") || dst_tok.starts_with("0/");
    let family_hint = match ctx.family {
        None if needs_family => guess_family(toks.clone()),
        f => f,
    };
    let dst = match lex::dst(dst_tok, family_hint) {
        Ok(d) => d,
        Err(Expected(what)) => {
            sink.push(
                line,
                dst_tok,
                Severity::Error,
                "not a route line",
                Some(what),
            );
            return None;
        }
    };
    let mut r = Route::new(
        line.no,
        Family::of(&dst.addr()),
        dst,
        kind,
        ctx.table.clone().unwrap_or_else(Table::main),
    );
    r.deleted = deleted;
    Some((toks, r))
}

/// The keywords after the destination.
#[inline(always)]
fn attributes(
    mut toks: Tokens<'_>,
    r: &mut Route,
    line: &Line<'_>,
    ctx: &Ctx,
    sink: &mut Sink,
) -> Option<()> {
    while let Some(kw) = toks.next() {
        match kw {
            // The common words first: a string match compares the words
            // of a length in the order written.
            "dev" | "oif" => r.dev = Some(Name::new(value!(toks, sink, line, kw, "a device"))),
            "via" | "gw" => r.gateway = Some(via(&mut toks, sink, line)?),
            "src" => {
                let v = value!(toks, sink, line, kw, "a source address");
                r.prefsrc = Some(check!(sink, line, v, lex::addr(v)));
            }
            "pref" => {
                r.pref = Some(Name::new(value!(
                    toks,
                    sink,
                    line,
                    kw,
                    "low, medium or high"
                )))
            }
            "from" => {
                let v = value!(toks, sink, line, kw, "a source prefix");
                r.rare_mut().from = Some(check!(sink, line, v, lex::dst(v, Some(r.family))));
            }
            "nhid" => {
                let v = value!(toks, sink, line, kw, "a nexthop id");
                r.rare_mut().nhid = Some(check!(sink, line, v, lex::u32_tok(v)));
            }
            "tos" | "dsfield" => {
                r.rare_mut().tos = Some(value!(toks, sink, line, kw, "a TOS").to_string())
            }
            "table" => r.table = Table::parse(value!(toks, sink, line, kw, "a table")),
            "proto" | "protocol" => r.set_protocol(Some(RouteProtocol::parse(value!(
                toks,
                sink,
                line,
                kw,
                "a protocol"
            )))),
            "scope" => r.set_scope(Some(Scope::parse(value!(toks, sink, line, kw, "a scope")))),
            "metric" | "priority" | "preference" => {
                let v = value!(toks, sink, line, kw, "a metric");
                r.metric = Some(check!(sink, line, v, lex::u32_tok(v)));
            }
            "mark" => {
                let v = value!(toks, sink, line, kw, "a mark");
                r.rare_mut().mark = Some(check!(sink, line, v, lex::hex_u32(v)));
            }
            "realm" | "realms" => {
                r.rare_mut().realms = Some(value!(toks, sink, line, kw, "a realm").to_string())
            }
            "uid" => {
                let v = value!(toks, sink, line, kw, "a uid");
                r.rare_mut().uid = Some(check!(sink, line, v, lex::u32_tok(v)));
            }
            "expires" => {
                let v = value!(toks, sink, line, kw, "Nsec");
                r.rare_mut().expires = Some(check!(sink, line, v, lex::seconds(v)));
            }
            "error" => {
                let v = value!(toks, sink, line, kw, "an error number");
                r.rare_mut().error = Some(check!(sink, line, v, lex::i64_tok(v)));
            }
            "iif" => r.rare_mut().iif = Some(value!(toks, sink, line, kw, "a device").to_string()),
            "encap" => r.rare_mut().encap = Some(encap(&mut toks)),
            "as" => {
                let mut v = value!(toks, sink, line, kw, "an address");
                if v == "to" {
                    v = value!(toks, sink, line, kw, "an address");
                }
                r.rare_mut().unknown.push(format!("as to {v}"));
            }
            "ttl-propagate" | "ttl-propogate" => {
                let v = value!(toks, sink, line, kw, "enabled or disabled");
                r.flags.push(&format!("{kw} {v}"));
            }
            // `ip -s` cache statistics and old cache info: kept with the route.
            "users" | "used" | "age" | "ipid" | "ts" | "tsage" => {
                let v = value!(toks, sink, line, kw, "a value");
                r.rare_mut().metrics.push(RouteMetric {
                    name: kw.to_string(),
                    lock: false,
                    value: v.to_string(),
                });
            }
            "nexthop" => {
                // `-o` without a `\`: keep parsing on the same line.
                let rest = Tokens::new(toks.rest());
                toks = Tokens::new("");
                let nh = parse_nexthop(rest, line, r, sink)?;
                r.nexthops.push(nh);
            }
            w if is_flag(w) => r.flags.push(w),
            w if is_metric(w) => {
                let mut v = value!(toks, sink, line, kw, "a metric value");
                let lock = v == "lock";
                if lock {
                    v = value!(toks, sink, line, kw, "a metric value");
                }
                r.rare_mut().metrics.push(RouteMetric {
                    name: w.to_string(),
                    lock,
                    value: v.to_string(),
                });
            }
            _ => {
                sink.unknown_token(line, kw, "route");
                r.rare_mut().unknown.push(kw.to_string());
            }
        }
    }
    // `default` said nothing of its family; the gateway or source does.
    if r.dst.prefix_len() == 0 && ctx.family.is_none() {
        let fam = r
            .gateway
            .or(r.prefsrc)
            .map(|a| Family::of(&a))
            .or(r.from().map(|f| Family::of(&f.addr())));
        if let Some(f) = fam
            && f != r.family
        {
            r.family = f;
            r.dst = lex::dst("default", Some(f)).unwrap_or(r.dst);
        }
    }
    Some(())
}

/// Looks ahead for a token that settles the family of `default`.
fn guess_family(toks: Tokens<'_>) -> Option<Family> {
    let mut prev = "";
    for t in toks {
        match prev {
            "via" | "src" | "from" | "gw" if t != "inet" && t != "inet6" => {
                if let Ok(a) = lex::addr(t) {
                    return Some(Family::of(&a));
                }
                if let Ok(p) = lex::prefix(t, None) {
                    return Some(Family::of(&p.addr()));
                }
            }
            "via" if t == "inet6" => return Some(Family::Inet6),
            "via" if t == "inet" => return Some(Family::Inet),
            _ => {}
        }
        // Only IPv6 routes carry a router preference; only the IPv6 null
        // route has metric 4294967295.
        if t == "pref" || (prev == "metric" && t == "4294967295") {
            return Some(Family::Inet6);
        }
        prev = t;
    }
    None
}

fn parse_nexthop(
    mut toks: Tokens<'_>,
    line: &Line<'_>,
    route: &mut Route,
    sink: &mut Sink,
) -> Option<NextHop> {
    let mut nh = NextHop::new(line.no.saturating_sub(route.line));
    while let Some(kw) = toks.next() {
        match kw {
            "via" | "gw" => nh.gateway = Some(via(&mut toks, sink, line)?),
            "dev" => nh.dev = Some(Name::new(value!(toks, sink, line, kw, "a device"))),
            "weight" => {
                let v = value!(toks, sink, line, kw, "a weight");
                nh.weight = Some(check!(sink, line, v, lex::u32_tok(v)));
            }
            "realm" | "realms" => {
                nh.rare_mut().realms = Some(value!(toks, sink, line, kw, "a realm").to_string())
            }
            "encap" => nh.rare_mut().encap = Some(encap(&mut toks)),
            "as" => {
                let mut v = value!(toks, sink, line, kw, "an address");
                if v == "to" {
                    v = value!(toks, sink, line, kw, "an address");
                }
                nh.rare_mut().unknown.push(format!("as to {v}"));
            }
            // < v5.6 printed the route's `pref` after the multipath block.
            "pref" => route.pref = Some(Name::new(value!(toks, sink, line, kw, "a preference"))),
            "nexthop" => {
                // Several nexthops glued on one line.
                let next = parse_nexthop(toks, line, route, sink)?;
                route.nexthops.push(nh);
                return Some(next);
            }
            w if is_flag(w) => nh.flags.push(w),
            _ => {
                sink.unknown_token(line, kw, "nexthop");
                nh.rare_mut().unknown.push(kw.to_string());
            }
        }
    }
    Some(nh)
}

/// Parses an indented line under `route`; `false` when it is not one of the
/// continuation forms (the caller then treats it as a route of its own).
pub fn parse_continuation(line: &Line<'_>, route: &mut Route, sink: &mut Sink) -> bool {
    let mut toks = Tokens::new(line.text);
    let Some(first) = toks.next() else {
        return true;
    };
    match first {
        "nexthop" => {
            route.end_line = line.no;
            if let Some(nh) = parse_nexthop(toks, line, route, sink) {
                route.nexthops.push(nh);
            }
            true
        }
        "nh_info" => {
            route.end_line = line.no;
            route.rare_mut().nh_info = Some(toks.rest().trim_end().to_string());
            true
        }
        "cache" => {
            route.end_line = line.no;
            route.rare_mut().cache = Some(toks.rest().trim_end().to_string());
            true
        }
        _ => false,
    }
}

#[cfg(test)]
mod size_tests {
    use super::*;

    /// Parsing in place gives what parsing and pushing gives, and leaves
    /// the vector alone on a line that is not a route.
    #[test]
    fn parse_line_into_agrees_with_parse_line() {
        let ctx = Ctx::default();
        for text in [
            "default via 10.0.0.1 dev eth0 proto dhcp src 10.0.0.5 metric 100 ",
            "default via fe80::1 dev eth0 metric 1024 pref medium",
            "local 10.0.0.5 dev eth0 table local proto kernel scope host src 10.0.0.5 ",
            "10.1.0.0/16 nexthop via 10.0.0.1 dev eth0 weight 1 nexthop via 10.0.0.2 dev eth1",
            "10.2.0.0/16 via",
            "10.3.0.0/16 dev eth0 metric x",
            "eth0 is not a route",
        ] {
            let line = Line {
                no: 7,
                phys: text,
                text,
                glued: false,
            };
            let (mut a, mut b) = (Sink::default(), Sink::default());
            let mut out = Vec::new();
            parse_line_into(&line, &ctx, &mut a, &mut out);
            assert_eq!(out.pop(), parse_line(&line, &ctx, &mut b), "{text}");
            assert!(out.is_empty(), "{text}");
            assert_eq!(a.diagnostics, b.diagnostics, "{text}");
        }
    }

    /// The type, protocol and scope read back as parsed, whether held as
    /// the kernel's byte or as a word out of line; a word set and then
    /// replaced leaves the route equal to one that never held it.
    #[test]
    fn route_words_read_back_as_parsed() {
        let dst: IpNet = "10.0.0.0/8".parse().unwrap();
        let fresh = || Route::new(1, Family::Inet, dst, RouteType::Unicast, Table::main());
        let words = [
            "bgp",
            "kernel",
            "unspec",
            "none",
            "0",
            "186",
            "196",
            "255",
            "254",
            "12",
            "0196",
            "+5",
            "-1",
            "256",
            "999",
            "gated/bgp",
            "zstatic",
            "host",
            "global",
            "universe",
            "link",
            "nowhere",
            "site",
            "200",
            "local",
            "blackhole",
            "throw",
            "xresolve",
            "11",
        ];
        for w in words {
            let mut r = fresh();
            r.set_kind(RouteType::parse(w));
            r.set_protocol(Some(RouteProtocol::parse(w)));
            r.set_scope(Some(Scope::parse(w)));
            assert_eq!(r.kind(), RouteType::parse(w), "{w}");
            assert_eq!(r.kind().as_str(), RouteType::parse(w).as_str(), "{w}");
            assert_eq!(r.protocol(), Some(RouteProtocol::parse(w)), "{w}");
            assert_eq!(r.scope(), Some(Scope::parse(w)), "{w}");
            assert_eq!(r.scope().unwrap().as_str(), Scope::parse(w).as_str(), "{w}");
            let inline = RouteType::parse(w).code().is_some_and(|n| n != 255)
                && RouteProtocol::parse(w).code().is_some()
                && Scope::parse(w).code().is_some();
            assert_eq!(r.rare.0.is_some(), !inline, "{w}");
            r.set_kind(RouteType::Unicast);
            r.set_protocol(None);
            r.set_scope(None);
            assert_eq!(r, fresh(), "{w}");
            assert_eq!(r.protocol(), None);
            assert_eq!(r.scope(), None);
        }
        // What is held as a byte: known words and plainly printed numbers.
        let p = |w| RouteProtocol::parse(w).code();
        assert_eq!(
            ["bgp", "196", "0", "0196", "+5", "256", "gated/bgp"].map(p),
            [Some(186), Some(196), Some(0), None, None, None, None]
        );
        assert_eq!(Scope::parse("nowhere").code(), Some(255));
        assert_eq!(RouteType::parse("6").code(), Some(6));
    }

    /// A full BGP table is a million of these: 528 bytes each before
    /// `Name`, `Flags`, `NextHops` and `RouteRare`, 200 before the type,
    /// protocol and scope were held as bytes and `from` out of line.
    #[test]
    fn a_route_record_stays_small() {
        assert!(
            std::mem::size_of::<Route>() <= 144,
            "{}",
            std::mem::size_of::<Route>()
        );
        // A leg was 128 bytes with its rare attributes inline.
        assert!(std::mem::size_of::<NextHop>() <= 64);
        assert_eq!(std::mem::size_of::<Option<Scope>>(), 16);
        let mut f = Flags::default();
        for w in ["onlink", "dead", "onlink"] {
            f.push(w);
        }
        assert_eq!(f.iter().collect::<Vec<_>>(), ["onlink", "dead", "onlink"]);
        assert!(f.contains("dead") && !f.contains("trap"));
        f.push("ttl-propagate enabled");
        assert_eq!(
            serde_json::to_string(&f).unwrap(),
            r#"["onlink","dead","onlink","ttl-propagate enabled"]"#
        );
        let many: Flags = std::iter::repeat_n("trap", 17).collect();
        assert_eq!(many.len(), 17);
        assert_eq!(many.iter().filter(|w| *w == "trap").count(), 17);
    }
}
