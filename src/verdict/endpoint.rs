//! What the verdicts report: endpoints, their leaks and no-route ranges,
//! with the captured lines that decide them (the JSON schema's shapes).

use super::Impact;
use crate::grammar::Family;
use crate::model::KernelError;
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Ok,
    NoRoute,
    Asymmetric,
    Error,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Asymmetric => "asymmetric",
            Verdict::NoRoute => "no-route",
            Verdict::Error => "error",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scope {
    /// The destination is in the endpoint link's own connected prefix.
    SameSubnet,
    /// The destination is on another link (its connected prefix, or a
    /// direct route to a prefix).
    CrossSubnet,
    /// The destination is reached through a gateway on another link, or
    /// through a direct default route (a tunnel such as wg-quick's wg0).
    OffLink,
}

impl Scope {
    /// Its serde name, as the text reports write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::SameSubnet => "same-subnet",
            Scope::CrossSubnet => "cross-subnet",
            Scope::OffLink => "off-link",
        }
    }
}

/// A captured line, verbatim, with where it is. The texts are shared: a
/// host's report quotes the same few rules and routes for every leak.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
pub struct Quote {
    pub file: Arc<str>,
    pub line: u32,
    pub text: Arc<str>,
}

/// `Quote`'s fields as the report writes them.
#[derive(Serialize)]
#[serde(rename = "Quote")]
struct QuoteFields<'a> {
    file: &'a str,
    line: u32,
    text: &'a str,
}

impl Serialize for Quote {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let fields = QuoteFields {
            file: &self.file,
            line: self.line,
            text: &self.text,
        };
        crate::report::encode::kept(&fields, s)
    }
}

impl crate::report::encode::KeptText for QuoteFields<'_> {
    fn with_text<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        quotes::KEPT.with_borrow_mut(|k| f(k.text(self)))
    }
}

/// The compact text of the quotes this thread wrote last: a fleet host's
/// report repeats ~4 of every 5 (a rule or route deciding many leaks), and
/// each was ~1,200 instructions to write field by field.
mod quotes {
    use super::QuoteFields;
    use crate::report::encode;
    use std::cell::RefCell;

    const SLOTS: usize = 256;

    thread_local! {
        pub(super) static KEPT: RefCell<Kept> = RefCell::new(Kept {
            slots: std::array::from_fn(|_| Slot::default()),
        });
    }

    pub(super) struct Kept {
        slots: [Slot; SLOTS],
    }

    /// A quote (by its content) and its text.
    #[derive(Default)]
    struct Slot {
        line: u32,
        file: String,
        text: String,
        json: Vec<u8>,
    }

    impl Kept {
        /// `q`'s compact text, made now if its slot holds another quote.
        pub(super) fn text(&mut self, q: &QuoteFields<'_>) -> &[u8] {
            let h = (u64::from(q.line) << 32 | (q.file.len() as u64) << 16 | q.text.len() as u64)
                .wrapping_mul(0x9e37_79b9_7f4a_7c15);
            let i = (h >> 56) as usize % SLOTS;
            let slot = &mut self.slots[i];
            if slot.json.is_empty()
                || slot.line != q.line
                || slot.text != q.text
                || slot.file != q.file
            {
                // `QuoteFields`' compact text, written here (a fresh
                // `Encoder` costs more to set up than this is to write).
                let j = &mut slot.json;
                j.clear();
                j.extend_from_slice(br#"{"file":"#);
                encode::string(j, q.file);
                j.extend_from_slice(br#","line":"#);
                j.extend_from_slice(itoa::Buffer::new().format(q.line).as_bytes());
                j.extend_from_slice(br#","text":"#);
                encode::string(j, q.text);
                j.push(b'}');
                slot.line = q.line;
                q.file.clone_into(&mut slot.file);
                q.text.clone_into(&mut slot.text);
            }
            &slot.json
        }
    }

    /// Quotes written again, after others in their slot, read as serde_json
    /// writes them, in both forms.
    #[cfg(test)]
    #[test]
    fn kept_quotes_are_written_as_new_ones() {
        let texts = [
            "from all lookup main",
            "32766:\tfrom \"x\" \\ é",
            "",
            "a\u{1}b",
        ];
        let quotes: Vec<super::Quote> = (0..600u32)
            .map(|k| super::Quote {
                file: ["h/ip_rule.txt", "h/ip_route.txt", "assumed", "q\"f"][k as usize % 4].into(),
                line: k % 7,
                text: texts[k as usize / 4 % texts.len()].into(),
            })
            .collect();
        for round in 0..2 {
            for q in &quotes {
                let mut out = Vec::new();
                encode::compact(&mut out, q).unwrap();
                assert_eq!(out, serde_json::to_vec(q).unwrap(), "{round} {q:?}");
                let mut out = Vec::new();
                encode::pretty(&mut out, &[q], 1).unwrap();
                let want = serde_json::to_string_pretty(&[q])
                    .unwrap()
                    .replace('\n', "\n  ");
                assert_eq!(String::from_utf8(out).unwrap(), want, "{round} {q:?}");
            }
        }
    }
}

/// Whether a fact's quote is its record rendered, not its lines: `ip -j`
/// prints a whole dump on one line (a full table's is 100 MB), and `-p`
/// an object over several, so a JSON dump's lines are not its records'.
pub(super) fn rendered_quote(host: &crate::model::Host, o: crate::model::Origin) -> bool {
    host.sources
        .get(o.source as usize)
        .is_some_and(|s| s.dump.format == crate::grammar::Format::Json)
}

impl Quote {
    /// A captured fact's line(s), with its file and first line; what the
    /// model supplied is quoted as `assumed` (line 0) with `rendered()`'s
    /// text, and so is a fact of a JSON dump (`rendered_quote`).
    pub fn of(
        host: &crate::model::Host,
        o: crate::model::Origin,
        rendered: impl FnOnce() -> String,
    ) -> Quote {
        let mut q = Quote::of_located(host, o, String::new);
        q.text = if o.is_assumed() || rendered_quote(host, o) {
            rendered().into()
        } else {
            host.quote(o).into()
        };
        q
    }

    /// `of` without the captured text (the caller reads it its way).
    pub(super) fn of_located(
        host: &crate::model::Host,
        o: crate::model::Origin,
        assumed: impl FnOnce() -> String,
    ) -> Quote {
        if o.is_assumed() {
            return Quote {
                file: "assumed".into(),
                line: 0,
                text: assumed().into(),
            };
        }
        Quote {
            file: host
                .sources
                .get(o.source as usize)
                .map_or("", |s| s.name.as_str())
                .into(),
            line: o.line,
            text: "".into(),
        }
    }

    /// `file:line`, or just `assumed` for what the model supplied.
    pub fn at(&self) -> String {
        let mut s = String::with_capacity(self.file.len() + 11);
        self.push_at(&mut s);
        s
    }

    /// `at()`, appended to `out` (the report's text makes no String per quote).
    pub fn push_at(&self, out: &mut String) {
        out.push_str(&self.file);
        if self.line != 0 {
            out.push(':');
            out.push_str(itoa::Buffer::new().format(self.line));
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Leak {
    /// Collapsed CIDR ranges: the first `MAX_DESTINATIONS`. The host's own
    /// and broadcast addresses inside a range may be included; never-peers
    /// (loopback, link-local, multicast, 0.0.0.0/8, 240/4) are not.
    #[serde(with = "cidr_list")]
    pub destinations: Vec<IpNet>,
    /// How many CIDR blocks `destinations` leaves out.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub destinations_omitted: u64,
    /// The same set, said briefly: `0.0.0.0/0 except 10.0.0.0/8, …`.
    pub summary: String,
    pub scope: Scope,
    pub egress: String,
    #[serde(with = "plain_ip::option", default)]
    pub gateway: Option<IpAddr>,
    /// Some flows leave by another nexthop of a multipath route.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hash_dependent: bool,
    /// With `hash_dependent`: every leg the kernel may hash a reply to, the
    /// endpoint's own link included (`egress`/`gateway` name the first
    /// leg elsewhere).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub legs: Vec<Leg>,
    pub rule: Option<Quote>,
    /// The deciding route (the widest, when several routes decide).
    pub route: Option<Quote>,
    /// How many routes decide these destinations.
    pub routes: usize,
    /// The replies' IP protocols this leak is for, where rules on
    /// `ipproto` make replies of some protocols leave differently
    /// (`other`: a protocol no rule names); absent: every protocol.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocols: Option<Vec<String>>,
    /// What happens to the traffic (`impact::assess`).
    pub impact: Impact,
    /// What drops it, in words (`rp_filter=1 on eth1 (strict; net.ipv4.conf.eth1.rp_filter = 1)`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dropped_by: Option<String>,
    #[serde(skip)]
    pub size: u128,
    /// The deciding routes have a nexthop (live or dead) on the
    /// endpoint's own link: reverse-path filtering accepts the request
    /// (set only where the link's rp_filter is strict).
    #[serde(skip)]
    pub own_leg: bool,
}

/// One nexthop of a multipath route.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Leg {
    pub dev: String,
    #[serde(with = "plain_ip::option", default)]
    pub gateway: Option<IpAddr>,
}

/// A block's text as the report writes it (`space::push_net`).
pub fn cidr_text(n: &IpNet) -> String {
    let mut s = String::with_capacity(43);
    super::space::push_net(&mut s, n);
    s
}

/// Destination lists: kept as blocks, written as their CIDR text. A
/// host's report lists ~1,500; made as strings by the analysis, they cost
/// 7% of a fleet scan, and as much again to free on the writer thread.
mod cidr_list {
    use crate::report::encode::ListText;
    use crate::verdict::space::NetText;
    use ipnet::IpNet;
    use serde::{Deserialize, Deserializer, Serializer};
    use std::cell::RefCell;

    pub fn serialize<S: Serializer>(v: &[IpNet], s: S) -> Result<S::Ok, S::Error> {
        crate::report::encode::plain_list(|list| RECENT.with_borrow_mut(|r| r.write(v, list)), s)
    }

    /// How many lists `RECENT` keeps, and the longest it keeps (bounding
    /// it at ~0.5 MB a thread).
    const KEPT: usize = 16;
    const KEPT_LEN: usize = 512;

    thread_local! {
        /// The lists this thread wrote last, with their text: a host's
        /// endpoints share many of their leaks' destinations (addresses on
        /// one link leak alike): a quarter of a fleet host's blocks.
        static RECENT: RefCell<Recent> = Default::default();
    }

    #[derive(Default)]
    struct Recent {
        lists: Vec<Written>,
        /// The one to replace next (the oldest, once `KEPT` are kept).
        next: usize,
        /// IPv6 blocks' text by block (direct-mapped; empty until the
        /// first): lists that differ share many blocks (half of a fleet
        /// host's blocks written are another list's), and an IPv6 block's
        /// text is ~4 times a look-up here.
        v6: Vec<V6Text>,
    }

    const V6_SLOTS: usize = 512;

    #[derive(Clone, Copy)]
    struct V6Text {
        addr: u128,
        /// `u8::MAX`: none yet.
        plen: u8,
        text: NetText,
    }

    #[derive(Default)]
    struct Written {
        nets: Vec<IpNet>,
        list: ListText,
    }

    impl Recent {
        /// `v`'s text onto `list` (empty).
        fn write(&mut self, v: &[IpNet], list: &mut ListText) {
            if let Some(w) = self.lists.iter().find(|w| w.nets == v) {
                list.extend(&w.list);
                return;
            }
            list.reserve(v.len(), v.len() * 24);
            if self.v6.is_empty() {
                self.v6 = vec![
                    V6Text {
                        addr: 0,
                        plen: u8::MAX,
                        text: NetText::default(),
                    };
                    V6_SLOTS
                ];
            }
            for n in v {
                let IpNet::V6(n6) = n else {
                    list.push(NetText::net(n).as_bytes());
                    continue;
                };
                let (addr, plen) = (u128::from(n6.addr()), n6.prefix_len());
                let h = ((addr >> 64) as u64 ^ addr as u64 ^ u64::from(plen))
                    .wrapping_mul(0x9e37_79b9_7f4a_7c15);
                let slot = &mut self.v6[(h >> 55) as usize % V6_SLOTS];
                if slot.addr != addr || slot.plen != plen {
                    *slot = V6Text {
                        addr,
                        plen,
                        text: NetText::net(n),
                    };
                }
                list.push(slot.text.as_bytes());
            }
            if v.is_empty() || v.len() > KEPT_LEN {
                return;
            }
            let w = if self.lists.len() < KEPT {
                self.lists.push(Written::default());
                self.lists.last_mut()
            } else {
                let i = self.next;
                self.next = (i + 1) % KEPT;
                self.lists.get_mut(i)
            };
            if let Some(w) = w {
                w.nets.clear();
                w.nets.extend_from_slice(v);
                w.list.clear();
                w.list.extend(list);
            }
        }
    }

    /// Many more IPv6 blocks than `V6_SLOTS`, in lists none of which is
    /// kept whole, written as `Display` writes them.
    #[cfg(test)]
    #[test]
    fn v6_blocks_replaced_in_their_slots() {
        #[derive(serde::Serialize)]
        struct L(#[serde(with = "super::cidr_list")] Vec<IpNet>);
        let mut x: u128 = 0x2001_0db8_0000_0000_0000_0000_0000_0001;
        let mut blocks: Vec<IpNet> = Vec::new();
        for k in 0..3000u32 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let a = if k % 3 == 0 { x & !0xffff_ffff } else { x };
            let n = ipnet::Ipv6Net::new(std::net::Ipv6Addr::from(a), (k % 129) as u8).unwrap();
            blocks.push(IpNet::V6(n));
            if k % 5 == 0 {
                blocks.push(format!("10.{}.0.0/16", k % 256).parse().unwrap());
            }
        }
        for round in 0..3 {
            // Chunks in another order each round, longer than `KEPT_LEN`
            // some of them: never found whole.
            for (k, v) in blocks.chunks(if round == 1 { 700 } else { 97 }).enumerate() {
                let mut v = v.to_vec();
                v.rotate_left(round);
                let mut out = Vec::new();
                crate::report::encode::compact(&mut out, &L(v.clone())).unwrap();
                let want = serde_json::to_vec(&v.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                    .unwrap();
                assert_eq!(out, want, "round {round}, chunk {k}");
            }
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<IpNet>, D::Error> {
        Vec::<std::borrow::Cow<'de, str>>::deserialize(d)?
            .iter()
            .map(|t| t.parse().map_err(serde::de::Error::custom))
            .collect()
    }

    /// Lists written again, after others and after being replaced, read
    /// as they were written.
    #[cfg(test)]
    #[test]
    fn kept_lists_are_written_as_new_ones() {
        #[derive(serde::Serialize)]
        struct L(#[serde(with = "super::cidr_list")] Vec<IpNet>);
        let lists: Vec<Vec<IpNet>> = (0..40u8)
            .map(|k| {
                (0..=k % 5)
                    .map(|j| format!("10.{k}.{j}.0/24").parse().unwrap())
                    .chain((k % 3 == 0).then(|| format!("2001:db8:{k}::/48").parse().unwrap()))
                    .collect()
            })
            .collect();
        let text = |v: &Vec<IpNet>| {
            let mut out = Vec::new();
            crate::report::encode::compact(&mut out, &L(v.clone())).unwrap();
            String::from_utf8(out).unwrap()
        };
        for round in 0..3 {
            for (k, v) in lists.iter().enumerate() {
                let want =
                    serde_json::to_string(&v.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                        .unwrap();
                assert_eq!(text(v), want, "round {round}, list {k}");
                // The same list again at once: from what was kept.
                assert_eq!(text(v), want, "round {round}, list {k} again");
            }
        }
    }
}

/// Addresses written as `encode::Plain` text (serde's own writes each
/// through `fmt`: ~900 instructions an address).
mod plain_ip {
    use crate::report::encode::Plain;
    use crate::verdict::space::NetText;
    use serde::{Deserialize, Deserializer, Serializer};
    use std::net::IpAddr;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<IpAddr, D::Error> {
        IpAddr::deserialize(d)
    }

    pub mod option {
        use super::*;

        pub fn serialize<S: Serializer>(a: &Option<IpAddr>, s: S) -> Result<S::Ok, S::Error> {
            match a {
                Some(a) => s.serialize_some(&Plain(NetText::addr(*a).as_str())),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<IpAddr>, D::Error> {
            Option::<IpAddr>::deserialize(d)
        }
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct NoRoute {
    #[serde(with = "cidr_list")]
    pub destinations: Vec<IpNet>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub destinations_omitted: u64,
    pub summary: String,
    pub error: KernelError,
    /// Some flows only: the route is multipath and a leg the kernel may
    /// hash a reply to refuses it (a 127/8 source over a leg without
    /// route_localnet); the others leave by the route's other legs.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hash_dependent: bool,
    pub rule: Option<Quote>,
    pub route: Option<Quote>,
    pub routes: usize,
    /// As `Leak::protocols`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocols: Option<Vec<String>>,
    /// As `Leak::impact`: the request dropped by reverse-path filtering,
    /// else the reply dropped by the host itself.
    pub impact: Impact,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dropped_by: Option<String>,
}

/// Written as JSON by `report::wire` (its leaks and no-route ranges as
/// indices into the host's tables).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Endpoint {
    #[serde(deserialize_with = "plain_ip::deserialize")]
    pub address: IpAddr,
    pub prefixlen: u8,
    pub interface: String,
    pub family: Family,
    pub secondary: bool,
    /// `up`, or why the address takes no requests.
    pub state: EndpointState,
    /// Container bridge or veth: its peer space is its own prefixes only.
    pub internal: bool,
    /// `None` when the address takes no requests.
    pub verdict: Option<Verdict>,
    /// An earlier endpoint on the same link whose replies route exactly as
    /// this one's (the rules meet both addresses alike): its leaks, routes
    /// and conditional rules are this one's too, and are not repeated here.
    #[serde(deserialize_with = "plain_ip::option::deserialize", default)]
    pub same_as: Option<IpAddr>,
    /// Asymmetric for replies of these IP protocols only (rules on
    /// `ipproto`; `other`: a protocol no rule names); absent: for every
    /// protocol, or not asymmetric.
    #[serde(default)]
    pub protocols: Option<Vec<String>>,
    /// The worst impact of its leaks and no-route ranges (absent: none).
    #[serde(default)]
    pub impact: Option<Impact>,
    /// Shared with the host's other endpoints that leak alike (`Memo`
    /// interns them): a host of 500 links has 1,000 endpoints that each
    /// leak to the 499 other links, by ~1,000 distinct leaks. (Absent
    /// when read: `wire::read_host` reads the report's refs beside.)
    #[serde(default)]
    pub leaks: Leaks,
    #[serde(default)]
    pub no_route: Vec<NoRoute>,
    /// Rules whose selectors the dumps cannot settle for a reply.
    pub conditional: Vec<Quote>,
}

/// A list of leaks shared by the endpoints read off one template.
pub type LeakList = Arc<[Arc<Leak>]>;

/// An endpoint's leaks: a list of its own, or a list it shares with the
/// endpoints of its group less the few positions its own link takes away
/// (`Off`: an endpoint read off its group's template, `analyse::delta`).
/// A concentrator's 4,000 links each leak to the 3,999 others: a list of
/// its own each was 16 million pointers to copy, count and drop (a third
/// of its analysis), and the report names the list and what each lacks
/// (`report::wire`). Equal by the leaks listed, whatever the form.
#[derive(Clone)]
pub enum Leaks {
    Own(Vec<Arc<Leak>>),
    /// `base` less the positions `less` (ascending, each in `base`).
    Off {
        base: LeakList,
        less: Box<[u32]>,
    },
}

impl Default for Leaks {
    fn default() -> Self {
        Leaks::Own(Vec::new())
    }
}

impl Leaks {
    /// `base` less the positions `less` (ascending, each in `base`).
    pub fn off(base: LeakList, less: Box<[u32]>) -> Self {
        debug_assert!(less.windows(2).all(|w| w[0] < w[1]));
        debug_assert!(less.last().is_none_or(|&k| (k as usize) < base.len()));
        Leaks::Off { base, less }
    }

    pub fn len(&self) -> usize {
        match self {
            Leaks::Own(v) => v.len(),
            Leaks::Off { base, less } => base.len() - less.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn iter(&self) -> LeaksIter<'_> {
        let (all, less): (&[Arc<Leak>], &[u32]) = match self {
            Leaks::Own(v) => (v, &[]),
            Leaks::Off { base, less } => (base, less),
        };
        LeaksIter {
            all,
            less,
            at: 0,
            left: self.len(),
        }
    }

    pub fn first(&self) -> Option<&Arc<Leak>> {
        self.iter().next()
    }

    /// The shared list and the positions this lacks of it (`Off`).
    pub fn shared(&self) -> Option<(&LeakList, &[u32])> {
        match self {
            Leaks::Own(_) => None,
            Leaks::Off { base, less } => Some((base, less)),
        }
    }

    /// Whether any leak is `f`'s. A shared list none of whose leaks is
    /// (`in_list`, by the list's address, for one `f`) is read once for
    /// all its endpoints: a concentrator's 4,000 each share 4,000.
    pub(crate) fn any_where(
        &self,
        in_list: &mut super::FastMap<*const Arc<Leak>, bool>,
        f: impl Fn(&Leak) -> bool,
    ) -> bool {
        if let Leaks::Off { base, .. } = self {
            let any = in_list.entry(base.as_ptr());
            if !*any.or_insert_with(|| base.iter().any(|l| f(l))) {
                return false;
            }
        }
        self.iter().any(|l| f(l))
    }

    /// The leaks as a list of their own, made one if shared.
    pub fn to_mut(&mut self) -> &mut Vec<Arc<Leak>> {
        if let Leaks::Off { .. } = self {
            *self = Leaks::Own(self.iter().cloned().collect());
        }
        match self {
            Leaks::Own(v) => v,
            Leaks::Off { .. } => unreachable!("made its own above"),
        }
    }

    pub fn into_vec(self) -> Vec<Arc<Leak>> {
        match self {
            Leaks::Own(v) => v,
            off => off.iter().cloned().collect(),
        }
    }
}

impl From<Vec<Arc<Leak>>> for Leaks {
    fn from(v: Vec<Arc<Leak>>) -> Self {
        Leaks::Own(v)
    }
}

impl FromIterator<Arc<Leak>> for Leaks {
    fn from_iter<I: IntoIterator<Item = Arc<Leak>>>(i: I) -> Self {
        Leaks::Own(i.into_iter().collect())
    }
}

impl<'a> IntoIterator for &'a Leaks {
    type Item = &'a Arc<Leak>;
    type IntoIter = LeaksIter<'a>;
    fn into_iter(self) -> LeaksIter<'a> {
        self.iter()
    }
}

impl PartialEq for Leaks {
    fn eq(&self, o: &Self) -> bool {
        self.len() == o.len() && self.iter().eq(o.iter())
    }
}

impl Eq for Leaks {}

impl std::fmt::Debug for Leaks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl std::ops::Index<usize> for Leaks {
    type Output = Arc<Leak>;
    fn index(&self, i: usize) -> &Arc<Leak> {
        match self {
            Leaks::Own(v) => &v[i],
            off => off.iter().nth(i).expect("a leak at that place"),
        }
    }
}

impl<'de> Deserialize<'de> for Leaks {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Vec::<Arc<Leak>>::deserialize(d).map(Leaks::Own)
    }
}

/// The leaks of a `Leaks`, in order: the list's, skipping the positions
/// it lacks.
#[derive(Clone)]
pub struct LeaksIter<'a> {
    all: &'a [Arc<Leak>],
    less: &'a [u32],
    at: usize,
    left: usize,
}

impl<'a> LeaksIter<'a> {
    /// The leaks of a plain list (a pod group's).
    pub fn of(all: &'a [Arc<Leak>]) -> Self {
        LeaksIter {
            all,
            less: &[],
            at: 0,
            left: all.len(),
        }
    }
}

impl<'a> Iterator for LeaksIter<'a> {
    type Item = &'a Arc<Leak>;

    fn next(&mut self) -> Option<&'a Arc<Leak>> {
        while let Some((&k, rest)) = self.less.split_first()
            && k as usize == self.at
        {
            self.less = rest;
            self.at += 1;
        }
        let l = self.all.get(self.at)?;
        self.at += 1;
        self.left -= 1;
        Some(l)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for LeaksIter<'_> {}

/// Whether an address takes requests: `up`, or why not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EndpointState {
    Up,
    /// Its link is administratively down.
    Down,
    /// Its link has no carrier.
    NoCarrier,
    /// Duplicate address detection has not passed (`tentative`, `dadfailed`).
    Tentative,
}

impl EndpointState {
    pub fn as_str(self) -> &'static str {
        match self {
            EndpointState::Up => "up",
            EndpointState::Down => "down",
            EndpointState::NoCarrier => "no-carrier",
            EndpointState::Tentative => "tentative",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leak(egress: &str) -> Arc<Leak> {
        Arc::new(Leak {
            destinations: Vec::new(),
            destinations_omitted: 0,
            summary: String::new(),
            scope: Scope::CrossSubnet,
            egress: egress.into(),
            gateway: None,
            hash_dependent: false,
            legs: Vec::new(),
            rule: None,
            route: None,
            routes: 1,
            protocols: None,
            impact: Impact::Delivered,
            dropped_by: None,
            size: 1,
            own_leg: false,
        })
    }

    #[test]
    fn a_shared_list_less_positions_reads_as_the_list_it_stands_for() {
        let base: Arc<[Arc<Leak>]> = (0..6).map(|k| leak(&format!("ppp{k}"))).collect();
        let names = |l: &Leaks| l.iter().map(|x| x.egress.clone()).collect::<Vec<_>>();
        // Lacking the first, two in the middle and the last.
        for (less, want) in [
            (vec![], vec!["ppp0", "ppp1", "ppp2", "ppp3", "ppp4", "ppp5"]),
            (vec![0, 2, 3, 5], vec!["ppp1", "ppp4"]),
            (vec![0, 1, 2, 3, 4, 5], vec![]),
        ] {
            let off = Leaks::off(base.clone(), less.clone().into());
            assert_eq!(names(&off), want);
            assert_eq!((off.len(), off.iter().len()), (want.len(), want.len()));
            assert_eq!(off.is_empty(), want.is_empty());
            assert_eq!(
                off.first().map(|l| l.egress.as_str()),
                want.first().copied()
            );
            for (k, w) in want.iter().enumerate() {
                assert_eq!(off[k].egress, *w);
            }
            // Equal to the same leaks as a list of its own, either way.
            let own: Leaks = off.iter().cloned().collect();
            assert!(own.shared().is_none());
            assert_eq!(own, off);
            assert_eq!(off, own);
            assert_eq!(off.shared().map(|(_, l)| l.to_vec()), Some(less));
            // Made its own where changed, the shared list untouched.
            let mut changed = off.clone();
            changed.to_mut().push(leak("eth0"));
            assert!(changed.shared().is_none() && changed != off);
            assert_eq!(changed.len(), want.len() + 1);
            assert_eq!(base.len(), 6);
            assert_eq!(off.clone().into_vec().len(), want.len());
        }
        // Unequal where one leak differs, though as long.
        let a = Leaks::off(base.clone(), vec![1].into());
        let b = Leaks::off(base.clone(), vec![2].into());
        assert!(a != b && a.len() == b.len());
        // `any_where` answers for the leaks listed, the shared list read
        // once: where it holds none, not again.
        let mut in_list = Default::default();
        let is = |name: &'static str| move |l: &Leak| l.egress == name;
        assert!(!a.any_where(&mut in_list, is("ppp1")));
        assert!(b.any_where(&mut in_list, is("ppp1")));
        let mut in_list = Default::default();
        assert!(!a.any_where(&mut in_list, is("eth9")));
        assert_eq!(in_list.get(&base.as_ptr()), Some(&false));
        // A shared list said to hold none is not read again.
        let c = Leaks::off(base.clone(), vec![].into());
        assert!(!c.any_where(&mut in_list, is("ppp0")));
        let own: Leaks = c.iter().cloned().collect();
        assert!(own.any_where(&mut in_list, is("ppp0")));
    }
}
