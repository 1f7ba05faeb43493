//! The encoder's text against serde_json's, compact and pretty, on every
//! shape of serde's data model, on strings of every byte class, and on the
//! real reports of the sample fleet.

use super::{compact, pretty};
use serde::Serialize;
use std::collections::BTreeMap;

/// serde_json's compact and pretty text of `v`, and ours; pretty also as
/// it stands 2 levels deep (the JSON document's `hosts`).
fn same<T: Serialize>(v: &T) {
    let want = serde_json::to_vec(v).unwrap();
    let mut got = Vec::new();
    compact(&mut got, v).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(&want),
        "compact"
    );
    let want = serde_json::to_vec_pretty(v).unwrap();
    let mut got = Vec::new();
    pretty(&mut got, v, 0).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(&want),
        "pretty"
    );
    let deep = String::from_utf8(want).unwrap().replace('\n', "\n    ");
    let mut got = Vec::new();
    pretty(&mut got, v, 2).unwrap();
    assert_eq!(String::from_utf8_lossy(&got), deep, "pretty, 2 levels deep");
}

#[derive(Serialize)]
struct Unit;

#[derive(Serialize)]
struct Newtype(u8);

#[derive(Serialize)]
struct Pair(i8, &'static str);

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
enum Shapes {
    UnitVariant,
    NewtypeVariant(Vec<u8>),
    EmptyNewtype(Vec<u8>),
    TupleVariant(u8, Option<u8>),
    EmptyTuple(),
    StructVariant { a: bool, b: Vec<Vec<u8>> },
    EmptyStruct {},
}

#[derive(Serialize)]
struct All {
    t: bool,
    f: bool,
    i: (i8, i16, i32, i64, i128),
    u: (u8, u16, u32, u64, u128),
    mins: (i64, i128),
    maxs: (u64, u128),
    floats: (f32, f64, f64, f64, f64),
    c: char,
    s: &'static str,
    #[serde(with = "serde_bytes_like")]
    bytes: Vec<u8>,
    none: Option<u8>,
    some: Option<Option<&'static str>>,
    unit: (),
    unit_struct: Unit,
    newtype: Newtype,
    pair: Pair,
    shapes: Vec<Shapes>,
    empty_vec: Vec<u8>,
    nested_empty: Vec<Vec<u8>>,
    map: BTreeMap<&'static str, Vec<u8>>,
    int_keys: BTreeMap<i32, &'static str>,
    bool_keys: BTreeMap<bool, u8>,
    char_keys: BTreeMap<char, u8>,
    empty_map: BTreeMap<u8, u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    skipped: Option<u8>,
    #[serde(flatten)]
    flat: BTreeMap<&'static str, u8>,
}

/// `serialize_bytes`, which serde's derive never calls on a `Vec<u8>`.
mod serde_bytes_like {
    pub fn serialize<S: serde::Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(v)
    }
}

#[test]
fn every_shape_of_the_data_model() {
    let all = All {
        t: true,
        f: false,
        i: (-8, -16, -32, -64, -128),
        u: (8, 16, 32, 64, 128),
        mins: (i64::MIN, i128::MIN),
        maxs: (u64::MAX, u128::MAX),
        floats: (1.5, 0.1, -2e300, f64::NAN, f64::INFINITY),
        c: 'é',
        s: "plain",
        bytes: vec![0, 1, 255],
        none: None,
        some: Some(None),
        unit: (),
        unit_struct: Unit,
        newtype: Newtype(7),
        pair: Pair(-1, "x"),
        shapes: vec![
            Shapes::UnitVariant,
            Shapes::NewtypeVariant(vec![1, 2]),
            Shapes::EmptyNewtype(vec![]),
            Shapes::TupleVariant(1, None),
            Shapes::EmptyTuple(),
            Shapes::StructVariant {
                a: true,
                b: vec![vec![], vec![3]],
            },
            Shapes::EmptyStruct {},
        ],
        empty_vec: vec![],
        nested_empty: vec![vec![], vec![]],
        map: [("a", vec![1]), ("b", vec![])].into_iter().collect(),
        int_keys: [(-1, "m"), (2, "p")].into_iter().collect(),
        bool_keys: [(false, 0), (true, 1)].into_iter().collect(),
        char_keys: [('k', 1)].into_iter().collect(),
        empty_map: BTreeMap::new(),
        skipped: None,
        flat: [("flat_a", 1), ("flat_b", 2)].into_iter().collect(),
    };
    same(&all);
    // Top-level scalars and empty collections.
    same(&Vec::<u8>::new());
    same(&BTreeMap::<u8, u8>::new());
    same(&Shapes::EmptyStruct {});
    same(&"top");
    same(&0u8);
    same(&());
    // serde_json's own tree: maps through `serialize_map`.
    let v: serde_json::Value =
        serde_json::from_str(r#"{"a":[1,{"b":null,"c":[]},{}],"d":"e\u0001","f":-0.5}"#).unwrap();
    same(&v);
}

#[test]
fn strings_of_every_byte_class() {
    // Every escape and its neighbours, in strings of every short length.
    let specials = [
        "\"", "\\", "\n", "\r", "\t", "\u{8}", "\u{c}", "\u{0}", "\u{1f}", "\u{7f}", " ", "/", "é",
        "€", "😀", "a",
    ];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..20_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let len = (x % 24) as usize;
        let mut s = String::new();
        let mut y = x;
        for _ in 0..len {
            y = y.rotate_left(5) ^ 0x2545_f491_4f6c_dd1d;
            if y.is_multiple_of(3) {
                s.push_str(specials[(y >> 8) as usize % specials.len()]);
            } else {
                s.push(char::from(b'0' + (y >> 16) as u8 % 75));
            }
        }
        same(&s);
        same(&vec![s.as_str(), ""]);
        let key: BTreeMap<&str, &str> = [(s.as_str(), s.as_str())].into_iter().collect();
        same(&key);
    }
    let every: String = (0u32..0x800).filter_map(char::from_u32).collect();
    same(&every);
    // Every ASCII byte at every place of a word-scanned string, alone and
    // before a quote or a multi-byte character.
    for c in 0u8..0x80 {
        for at in 0..20 {
            for after in ["", "\"", "é", "\u{1f}"] {
                let mut s = "abcdefghijklmnopqrst".to_string();
                s.replace_range(at..=at, &char::from(c).to_string());
                s.insert_str(at + 1, after);
                same(&s);
            }
        }
    }
}

/// The reports of the sample fleet (every collector, scenario and field
/// the report has), with `--explain`'s detail.
#[test]
fn sample_reports_as_serde_json_writes_them() {
    use crate::verdict::{LinkClass, host};
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("samples");
    let mut caps = Vec::new();
    crate::capture::scan(&root, crate::capture::Limits::default(), |c| caps.push(c)).unwrap();
    let class = LinkClass::default();
    let reports: Vec<_> = caps.into_iter().map(|c| host::analyse(c, &class)).collect();
    assert!(reports.len() >= 10);
    for r in &reports {
        same(r);
    }
    same(&reports);
}

/// `Plain` strings are written as serde_json writes any string, and the
/// escape check they skip is back for the string after them.
#[test]
fn plain_strings_then_escaped_ones() {
    use super::Plain;
    #[derive(Serialize)]
    struct S<'a> {
        list: Vec<Plain<'a>>,
        after: &'a str,
        one: Plain<'a>,
        map: BTreeMap<&'a str, Plain<'a>>,
        last: Vec<&'a str>,
    }
    let v = S {
        list: vec![Plain("10.0.0.0/8"), Plain("2001:db8::/32"), Plain("")],
        after: "a \"quoted\"\n line",
        one: Plain("::ffff:1.2.3.4/128"),
        map: [("k\"ey", Plain("fe80::1"))].into_iter().collect(),
        last: vec!["tab\there", "back\\slash"],
    };
    same(&v);
    same(&Plain("x"));
}

/// `plain_list`'s lists (empty, one element, several; in a struct, in a
/// list, next to escaped strings) as serde_json writes a list of strings.
#[test]
fn plain_lists() {
    struct L(&'static [&'static str]);
    impl Serialize for L {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            super::plain_list(
                |l| {
                    for e in self.0 {
                        l.push(e.as_bytes());
                    }
                },
                s,
            )
        }
    }
    #[derive(Serialize)]
    struct S {
        empty: L,
        one: L,
        before: &'static str,
        some: L,
        lists: Vec<L>,
        after: &'static str,
    }
    let v = S {
        empty: L(&[]),
        one: L(&["10.0.0.0/8"]),
        before: "a\ttab",
        some: L(&["2001:db8::/32", "", "::/0"]),
        lists: vec![L(&[]), L(&["a", "b"]), L(&["c"])],
        after: "\"q\"",
    };
    same(&v);
    same(&L(&["x", "y"]));
    same(&L(&[]));
}
