//! `Name`: a short word a dump repeats on many records (a route's device,
//! its `pref`), shared instead of copied. A full BGP table names three
//! devices a million times; each copy was a 24-byte `String` and a heap
//! block. A `Name` is one pointer, and equal words read in a row on one
//! thread share one allocation (`Name::new` looks them up in a small
//! per-thread cache, emptied when full, so memory stays flat over a fleet).

use serde::{Serialize, Serializer};
use std::borrow::Borrow;
use std::cell::RefCell;
use std::collections::HashSet;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::sync::Arc;

/// An immutable, shared word: 8 bytes (`Option<Name>` too), derefs to `str`.
#[derive(Clone)]
pub struct Name(Arc<Box<str>>);

/// Distinct words kept by the per-thread cache before it is emptied: a host
/// has at most a few thousand devices; past that, sharing is only lost.
const CACHE_CAP: usize = 4096;

/// Slots of the per-thread front cache of the words last seen: a leaf
/// switch names its 16 uplinks (`swp0`..`swp15`) on every route.
const RECENT: usize = 32;

#[derive(Default)]
struct Cache {
    words: HashSet<Name, foldhash::fast::RandomState>,
    /// A word's last `Name` in a slot picked by its length and ends: a
    /// dump repeats a few words (its devices, `medium`) line after line,
    /// and a compare here is a fraction of hashing and probing the set.
    recent: [Option<Name>; RECENT],
}

thread_local! {
    static CACHE: RefCell<Cache> = RefCell::new(Cache::default());
}

/// The front-cache slot of `s` (`eth0`/`eth1` differ in their last byte).
/// The length is weighted apart from the last byte, so `swp1` and `swp10`
/// (the length one more, the last byte one less) do not share a slot: XORed
/// into 16 slots, six of the 16 uplinks shared one with another.
#[inline]
fn recent_slot(s: &str) -> usize {
    let b = s.as_bytes();
    let (first, last) = match b {
        [] => (0, 0),
        [f, .., l] => (*f, *l),
        [f] => (*f, *f),
    };
    (b.len() * 13 + usize::from(first) * 7 + usize::from(last)) % RECENT
}

impl Name {
    /// The cached `Name` for `s`, else a new one (then cached).
    pub fn new(s: &str) -> Name {
        CACHE.with(|c| {
            let mut c = c.borrow_mut();
            let slot = recent_slot(s);
            if let Some(n) = &c.recent[slot]
                && **n.0 == *s
            {
                return n.clone();
            }
            let n = match c.words.get(s) {
                Some(n) => n.clone(),
                None => {
                    if c.words.len() >= CACHE_CAP {
                        c.words.clear();
                    }
                    let n = Name(Arc::new(s.into()));
                    c.words.insert(n.clone());
                    n
                }
            };
            c.recent[slot] = Some(n.clone());
            n
        })
    }

    /// The same allocation (equal, without reading the words).
    pub fn same(&self, o: &Name) -> bool {
        Arc::ptr_eq(&self.0, &o.0)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The allocation's address: a key for caches that hold the `Name`
    /// itself (so the address is not reused while the key lives).
    pub fn addr(&self) -> usize {
        Arc::as_ptr(&self.0) as usize
    }
}

impl Deref for Name {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for Name {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Name {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl PartialEq for Name {
    fn eq(&self, o: &Name) -> bool {
        Arc::ptr_eq(&self.0, &o.0) || *self.0 == *o.0
    }
}
impl Eq for Name {}

impl PartialEq<str> for Name {
    fn eq(&self, o: &str) -> bool {
        **self.0 == *o
    }
}
impl PartialEq<&str> for Name {
    fn eq(&self, o: &&str) -> bool {
        **self.0 == **o
    }
}
impl PartialEq<String> for Name {
    fn eq(&self, o: &String) -> bool {
        **self.0 == **o
    }
}

/// Hashes as the `str` it holds (so the cache finds it by `&str`).
impl Hash for Name {
    fn hash<H: Hasher>(&self, h: &mut H) {
        (**self.0).hash(h)
    }
}

impl PartialOrd for Name {
    fn partial_cmp(&self, o: &Name) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Name {
    fn cmp(&self, o: &Name) -> std::cmp::Ordering {
        self.as_str().cmp(o.as_str())
    }
}

impl From<&str> for Name {
    fn from(s: &str) -> Name {
        Name::new(s)
    }
}
impl From<String> for Name {
    fn from(s: String) -> Name {
        Name::new(&s)
    }
}
impl From<&String> for Name {
    fn from(s: &String) -> Name {
        Name::new(s)
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self)
    }
}

impl Serialize for Name {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_words_share_one_allocation() {
        let a = Name::new("eth0");
        let b = Name::from("eth0".to_string());
        assert!(Arc::ptr_eq(&a.0, &b.0));
        assert_eq!(a, b);
        assert_eq!(a, "eth0");
        assert_ne!(a, Name::new("eth1"));
        assert_eq!(std::mem::size_of::<Option<Name>>(), 8);
        assert_eq!(format!("{a} {a:?}"), "eth0 \"eth0\"");
        assert_eq!(serde_json::to_string(&a).unwrap(), "\"eth0\"");
    }

    #[test]
    fn the_cache_stays_bounded() {
        for i in 0..(CACHE_CAP * 2 + 3) {
            let n = Name::new(&format!("veth{i}"));
            assert_eq!(&*n, format!("veth{i}"));
        }
        CACHE.with(|c| assert!(c.borrow().words.len() <= CACHE_CAP));
    }

    #[test]
    fn the_front_cache_hands_out_the_word_asked_for() {
        // Words that share a slot, or a length and both ends.
        let words = [
            "", "a", "b", "ab", "ba", "eth0", "eth1", "eth10", "etx0", "medium", "mediun", "lo",
            "l", "é", "ée", "eth0 ",
        ];
        for _ in 0..3 {
            for w in words.iter().chain(words.iter().rev()) {
                assert_eq!(Name::new(w).as_str(), *w);
            }
        }
        let a = Name::new("veth-x");
        assert!(Arc::ptr_eq(&a.0, &Name::new("veth-x").0));
    }

    /// A leaf switch's uplinks, and a router's links, each keep a slot.
    #[test]
    fn uplinks_named_on_every_route_keep_a_slot_each() {
        for names in [
            (0..16).map(|i| format!("swp{i}")).collect::<Vec<_>>(),
            (0..16).map(|i| format!("eth{i}")).collect(),
        ] {
            let slots: HashSet<usize> = names.iter().map(|n| recent_slot(n)).collect();
            assert_eq!(slots.len(), names.len(), "{names:?}");
        }
    }
}
