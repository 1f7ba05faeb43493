//! JSON text of the report's serde types, byte for byte as serde_json
//! writes it (`to_writer`, `to_writer_pretty`), for the per-host writers.
//!
//! Why not serde_json itself: it checks every byte of every string against
//! its escape table one at a time and appends each token through
//! `io::Write` (a call and a `memcpy` per quote and comma). A fleet host's
//! report is ~51 KB, 1,400 CIDR strings among it, and writing it was ~12%
//! of a fleet scan. Here a string is checked in one branch-free pass (it
//! vectorises) and tokens are pushed onto the buffer. The schema stays where it is (the serde
//! derives); `tests` compare this text with serde_json's.

use serde::ser::{self, Serialize};
use std::fmt;

/// Why a value could not be written: only what serde_json refuses too (a
/// map key that is not a string or a number).
#[derive(Debug)]
pub struct Error(String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl ser::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error(msg.to_string())
    }
}

impl From<Error> for std::io::Error {
    fn from(e: Error) -> Self {
        std::io::Error::other(e)
    }
}

/// Appends `v`'s compact JSON (serde_json's `to_writer`) to `out`.
pub fn compact<T: Serialize + ?Sized>(out: &mut Vec<u8>, v: &T) -> Result<(), Error> {
    v.serialize(&mut Encoder {
        out,
        pretty: false,
        indent: 0,
        plain: false,
        has_value: false,
        keys: [KeyText::default(); KEYS],
        raw: false,
    })
}

/// Appends `v`'s pretty JSON (serde_json's `to_writer_pretty`, two spaces)
/// to `out`, as it stands `indent` levels deep in a document: lines after
/// the first start with `indent` more levels.
pub fn pretty<T: Serialize + ?Sized>(out: &mut Vec<u8>, v: &T, indent: usize) -> Result<(), Error> {
    v.serialize(&mut Encoder {
        out,
        pretty: true,
        indent,
        plain: false,
        has_value: false,
        keys: [KeyText::default(); KEYS],
        raw: false,
    })
}

pub struct Encoder<'o> {
    out: &'o mut Vec<u8>,
    pretty: bool,
    indent: usize,
    /// The next string is a `Plain` one: written without the escape check.
    plain: bool,
    /// serde_json's `PrettyFormatter::has_value`: one flag for the whole
    /// document, set after each element, cleared by each `[` and `{`.
    has_value: bool,
    /// Struct field and unit variant names written, quoted, by where the
    /// name is: a fleet host's report has ~1,500, of a few dozen names, and
    /// checking and copying each was most of the time spent writing strings.
    keys: [KeyText; KEYS],
    /// The next bytes are a `Kept` value's text: copied as they are.
    raw: bool,
}

const KEYS: usize = 64;

/// A field name's text, quoted, for the `&'static str` at `at` of `len`
/// bytes (the same address and length are the same text).
#[derive(Clone, Copy)]
struct KeyText {
    at: usize,
    len: usize,
    text: [u8; KEY_TEXT],
}

/// The longest name kept, with its quotes.
const KEY_TEXT: usize = 32;

impl Default for KeyText {
    fn default() -> Self {
        KeyText {
            at: 0,
            len: usize::MAX,
            text: [0; KEY_TEXT],
        }
    }
}

/// A string the writer knows needs no escape (an address or CIDR block's
/// text: a host's report holds ~1,400): a newtype of this name, as
/// serde_json's `RawValue` is, so that other serializers see the string.
pub struct Plain<'a>(pub &'a str);

const PLAIN: &str = "$asymroute::Plain";

impl Serialize for Plain<'_> {
    fn serialize<S: ser::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_newtype_struct(PLAIN, self.0)
    }
}

const PLAIN_LIST: &str = "$asymroute::PlainList";

/// The JSON text of a list `plain_list` writes: each element quoted and
/// followed by a comma (`"a","b",`), so that the compact form is one copy.
#[derive(Default)]
pub struct ListText {
    text: Vec<u8>,
    /// Where each element's comma ends.
    ends: Vec<u32>,
}

impl ListText {
    /// Appends an element (its text needs no escape). Always inlined: a
    /// call per CIDR block (~1,000 a host) was ~14 instructions each.
    #[inline(always)]
    pub fn push(&mut self, s: &[u8]) {
        debug_assert!(!s.iter().copied().any(escape_of));
        self.text.reserve(s.len() + 3);
        self.text.push(b'"');
        self.text.extend_from_slice(s);
        self.text.extend_from_slice(b"\",");
        self.ends.push(self.text.len() as u32);
    }

    /// Appends another list's elements.
    pub fn extend(&mut self, l: &ListText) {
        let base = self.text.len() as u32;
        self.text.extend_from_slice(&l.text);
        self.ends.extend(l.ends.iter().map(|e| e + base));
    }

    pub fn reserve(&mut self, elements: usize, bytes: usize) {
        self.text.reserve(bytes + 3 * elements);
        self.ends.reserve(elements);
    }

    pub fn clear(&mut self) {
        self.text.clear();
        self.ends.clear();
    }

    /// Each element's JSON text, quotes included.
    fn quoted(&self) -> impl Iterator<Item = &[u8]> {
        let mut start = 0;
        self.ends.iter().map(move |&end| {
            let e = self.text.get(start..end as usize - 1).unwrap_or_default();
            start = end as usize;
            e
        })
    }
}

thread_local! {
    static LIST: std::cell::RefCell<ListText> = Default::default();
}

/// A list of strings that need no escape (a leak's destinations: a fleet
/// host's report holds ~1,400 CIDR blocks in ~60 lists), written by `fill`
/// onto an empty `ListText`. The `Encoder` copies the list's text whole:
/// taking each element through serde was ~40% of writing them. It finds
/// the text in this thread's `LIST`, filled just before; other serializers
/// see the sequence of strings.
pub fn plain_list<S: ser::Serializer>(
    fill: impl FnOnce(&mut ListText),
    s: S,
) -> Result<S::Ok, S::Error> {
    LIST.with_borrow_mut(|l| {
        l.clear();
        fill(l);
    });
    s.serialize_newtype_struct(PLAIN_LIST, &Listed)
}

/// The list in `LIST`, as a sequence (for serializers other than ours).
struct Listed;

impl Serialize for Listed {
    fn serialize<S: ser::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use ser::SerializeSeq;
        LIST.with_borrow(|l| {
            let mut seq = s.serialize_seq(Some(l.ends.len()))?;
            for e in l.quoted() {
                let t = e.get(1..e.len().saturating_sub(1)).unwrap_or_default();
                let t = std::str::from_utf8(t).map_err(ser::Error::custom)?;
                seq.serialize_element(&Plain(t))?;
            }
            seq.end()
        })
    }
}

const KEPT: &str = "$asymroute::Kept";

thread_local! {
    /// Set by a compact `Encoder` just before a `Kept` value serializes
    /// itself: its text is then written as it is.
    static KEPT_WANTED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// A value that can hand over its compact JSON text (as `compact` writes
/// it), kept from an earlier time.
pub trait KeptText: Serialize {
    /// Calls `f` with the text.
    fn with_text<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R;
}

/// `v`: a compact `Encoder` copies its kept text; other serializers, and
/// the pretty form, see `v` (and the text is not asked for).
pub fn kept<S: ser::Serializer, T: KeptText>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_newtype_struct(KEPT, &Kept(v))
}

struct Kept<'a, T>(&'a T);

impl<T: KeptText> Serialize for Kept<'_, T> {
    fn serialize<S: ser::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if KEPT_WANTED.replace(false) {
            // Only ours asks: its `serialize_bytes` copies the text.
            self.0.with_text(|t| s.serialize_bytes(t))
        } else {
            self.0.serialize(s)
        }
    }
}

#[inline]
fn escape_of(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

/// `s` as a JSON string, as serde_json writes it.
pub fn string(out: &mut Vec<u8>, s: &str) {
    let b = s.as_bytes();
    out.reserve(b.len() + 2);
    out.push(b'"');
    // Without an early exit the check vectorises: most strings (CIDR
    // blocks, names, quoted lines) have nothing to escape.
    if b.iter().fold(false, |any, &c| any | escape_of(c)) {
        let mut done = 0;
        for (j, &c) in b.iter().enumerate() {
            if escape_of(c) {
                out.extend_from_slice(&b[done..j]);
                escape(out, c);
                done = j + 1;
            }
        }
        out.extend_from_slice(&b[done..]);
    } else {
        out.extend_from_slice(b);
    }
    out.push(b'"');
}

/// serde_json's escapes: the short ones, else `\u00XX` (lowercase).
fn escape(out: &mut Vec<u8>, c: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let short = match c {
        b'"' => b'"',
        b'\\' => b'\\',
        0x08 => b'b',
        0x0c => b'f',
        b'\n' => b'n',
        b'\r' => b'r',
        b'\t' => b't',
        _ => 0,
    };
    if short != 0 {
        out.extend_from_slice(&[b'\\', short]);
    } else {
        out.extend_from_slice(b"\\u00");
        out.extend_from_slice(&[HEX[(c >> 4) as usize], HEX[(c & 0xf) as usize]]);
    }
}

impl Encoder<'_> {
    #[inline]
    fn newline(&mut self) {
        self.out.push(b'\n');
        for _ in 0..self.indent {
            self.out.extend_from_slice(b"  ");
        }
    }

    fn open(&mut self, b: u8) {
        self.indent += 1;
        self.has_value = false;
        self.out.push(b);
    }

    fn close(&mut self, b: u8) {
        self.indent -= 1;
        if self.pretty && self.has_value {
            self.newline();
        }
        self.out.push(b);
    }

    /// Before an array element or an object key.
    #[inline]
    fn item(&mut self, first: bool) {
        if !first {
            self.out.push(b',');
        }
        if self.pretty {
            self.newline();
        }
    }

    #[inline]
    fn colon(&mut self) {
        if self.pretty {
            self.out.extend_from_slice(b": ");
        } else {
            self.out.push(b':');
        }
    }

    fn string(&mut self, s: &str) {
        string(self.out, s);
    }

    fn integer(&mut self, v: impl itoa::Integer) -> Result<(), Error> {
        self.int(v);
        Ok(())
    }

    fn int(&mut self, v: impl itoa::Integer) {
        self.out
            .extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
    }

    /// Floats as serde_json writes them (ryu; `null` when not finite).
    fn float<T: Serialize>(&mut self, v: T) -> Result<(), Error> {
        serde_json::to_writer(&mut *self.out, &v).map_err(|e| Error(e.to_string()))
    }

    /// A struct's field name or a unit variant's, as `string` writes it.
    #[inline]
    fn key(&mut self, key: &'static str) {
        let at = key.as_ptr() as usize;
        let slot = (at ^ (at >> 7)) % KEYS;
        let k = &mut self.keys[slot];
        if k.at == at && k.len == key.len() {
            // A whole-array copy (no call), then the length cut back.
            let end = self.out.len() + key.len() + 2;
            self.out.extend_from_slice(&k.text);
            self.out.truncate(end);
            return;
        }
        let b = key.as_bytes();
        if b.len() + 2 <= KEY_TEXT && !b.iter().copied().any(escape_of) {
            k.at = at;
            k.len = b.len();
            k.text[0] = b'"';
            k.text[1..=b.len()].copy_from_slice(b);
            k.text[b.len() + 1] = b'"';
        }
        self.string(key);
    }

    /// `plain_list`'s list, as `Compound` writes a sequence of strings.
    fn plain_list(&mut self) {
        LIST.with_borrow(|l| {
            self.open(b'[');
            if self.pretty {
                for (k, e) in l.quoted().enumerate() {
                    self.item(k == 0);
                    self.out.extend_from_slice(e);
                    self.has_value = true;
                }
            } else if let Some((_, all)) = l.text.split_last() {
                // Without the last comma.
                self.out.extend_from_slice(all);
                self.has_value = true;
            }
            self.close(b']');
        })
    }

    /// `{"variant":` before a variant's content.
    fn variant_open(&mut self, variant: &str) {
        self.open(b'{');
        self.item(true);
        self.string(variant);
        self.colon();
    }

    /// `}` after a variant's content.
    fn variant_close(&mut self) {
        self.has_value = true;
        self.close(b'}');
    }
}

/// An array or object being written; `first` until its first element.
pub struct Compound<'a, 'o> {
    enc: &'a mut Encoder<'o>,
    first: bool,
    /// Closes with `}` as well, after the `]` or `}` (a variant's content).
    variant: bool,
    /// Already closed: an empty one, written whole.
    empty: bool,
}

impl<'a, 'o> Compound<'a, 'o> {
    fn new(enc: &'a mut Encoder<'o>, open: u8, len: Option<usize>, variant: bool) -> Self {
        enc.open(open);
        // serde_json writes a collection known to be empty at once.
        let empty = len == Some(0);
        if empty {
            enc.close(if open == b'[' { b']' } else { b'}' });
        }
        Compound {
            enc,
            first: true,
            variant,
            empty,
        }
    }

    fn element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        self.enc.item(self.first);
        self.first = false;
        v.serialize(&mut *self.enc)?;
        self.enc.has_value = true;
        Ok(())
    }

    fn field<T: Serialize + ?Sized>(&mut self, key: &'static str, v: &T) -> Result<(), Error> {
        self.enc.item(self.first);
        self.first = false;
        self.enc.key(key);
        self.enc.colon();
        v.serialize(&mut *self.enc)?;
        self.enc.has_value = true;
        Ok(())
    }

    fn end(self, close: u8) -> Result<(), Error> {
        if !self.empty {
            self.enc.close(close);
        }
        if self.variant {
            self.enc.variant_close();
        }
        Ok(())
    }
}

// serde's ten integer methods, each `self.integer(v)`.
macro_rules! integers {
    () => {
        integers!(
            serialize_i8: i8,
            serialize_i16: i16,
            serialize_i32: i32,
            serialize_i64: i64,
            serialize_i128: i128,
            serialize_u8: u8,
            serialize_u16: u16,
            serialize_u32: u32,
            serialize_u64: u64,
            serialize_u128: u128
        );
    };
    ($($m:ident: $t:ty),*) => {$(
        fn $m(self, v: $t) -> Result<(), Error> {
            self.integer(v)
        }
    )*};
}

impl<'a, 'o> ser::Serializer for &'a mut Encoder<'o> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Compound<'a, 'o>;
    type SerializeTuple = Compound<'a, 'o>;
    type SerializeTupleStruct = Compound<'a, 'o>;
    type SerializeTupleVariant = Compound<'a, 'o>;
    type SerializeMap = Compound<'a, 'o>;
    type SerializeStruct = Compound<'a, 'o>;
    type SerializeStructVariant = Compound<'a, 'o>;

    fn serialize_bool(self, v: bool) -> Result<(), Error> {
        self.out
            .extend_from_slice(if v { b"true" } else { b"false" });
        Ok(())
    }
    integers!();
    fn serialize_f32(self, v: f32) -> Result<(), Error> {
        self.float(v)
    }
    fn serialize_f64(self, v: f64) -> Result<(), Error> {
        self.float(v)
    }
    fn serialize_char(self, v: char) -> Result<(), Error> {
        self.string(v.encode_utf8(&mut [0; 4]));
        Ok(())
    }
    fn serialize_str(self, v: &str) -> Result<(), Error> {
        if std::mem::take(&mut self.plain) {
            debug_assert!(!v.bytes().any(escape_of));
            self.out.reserve(v.len() + 2);
            self.out.push(b'"');
            self.out.extend_from_slice(v.as_bytes());
            self.out.push(b'"');
        } else {
            self.string(v);
        }
        Ok(())
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<(), Error> {
        use ser::SerializeSeq;
        if std::mem::take(&mut self.raw) {
            self.out.extend_from_slice(v);
            return Ok(());
        }
        let mut s = self.serialize_seq(Some(v.len()))?;
        for b in v {
            s.serialize_element(b)?;
        }
        ser::SerializeSeq::end(s)
    }
    fn serialize_none(self) -> Result<(), Error> {
        self.out.extend_from_slice(b"null");
        Ok(())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result<(), Error> {
        v.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), Error> {
        self.serialize_none()
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<(), Error> {
        self.serialize_none()
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, v: &'static str) -> Result<(), Error> {
        self.key(v);
        Ok(())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        v: &T,
    ) -> Result<(), Error> {
        if name == PLAIN_LIST {
            self.plain_list();
            return Ok(());
        }
        if name == KEPT && !self.pretty {
            self.raw = true;
            KEPT_WANTED.set(true);
            return v.serialize(self);
        }
        self.plain = name == PLAIN;
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        v: &T,
    ) -> Result<(), Error> {
        self.variant_open(variant);
        v.serialize(&mut *self)?;
        self.variant_close();
        Ok(())
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<Compound<'a, 'o>, Error> {
        Ok(Compound::new(self, b'[', len, false))
    }
    fn serialize_tuple(self, len: usize) -> Result<Compound<'a, 'o>, Error> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        len: usize,
    ) -> Result<Compound<'a, 'o>, Error> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Compound<'a, 'o>, Error> {
        self.variant_open(variant);
        Ok(Compound::new(self, b'[', Some(len), true))
    }
    fn serialize_map(self, len: Option<usize>) -> Result<Compound<'a, 'o>, Error> {
        Ok(Compound::new(self, b'{', len, false))
    }
    fn serialize_struct(self, _: &'static str, len: usize) -> Result<Compound<'a, 'o>, Error> {
        self.serialize_map(Some(len))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Compound<'a, 'o>, Error> {
        self.variant_open(variant);
        Ok(Compound::new(self, b'{', Some(len), true))
    }
    fn collect_str<T: fmt::Display + ?Sized>(self, v: &T) -> Result<(), Error> {
        self.string(&v.to_string());
        Ok(())
    }
}

// serde's array and struct shapes all write as one of two things.
macro_rules! elements {
    ($($trait:ident :: $method:ident),*) => {$(
        impl ser::$trait for Compound<'_, '_> {
            type Ok = ();
            type Error = Error;
            fn $method<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
                self.element(v)
            }
            fn end(self) -> Result<(), Error> {
                Compound::end(self, b']')
            }
        }
    )*};
}
elements!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field
);

impl ser::SerializeMap for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, k: &T) -> Result<(), Error> {
        self.enc.item(self.first);
        self.first = false;
        k.serialize(KeyEncoder(&mut *self.enc))?;
        self.enc.colon();
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        v.serialize(&mut *self.enc)?;
        self.enc.has_value = true;
        Ok(())
    }
    fn end(self) -> Result<(), Error> {
        Compound::end(self, b'}')
    }
}

macro_rules! fields {
    ($($trait:ident),*) => {$(
        impl ser::$trait for Compound<'_, '_> {
            type Ok = ();
            type Error = Error;
            fn serialize_field<T: Serialize + ?Sized>(
                &mut self,
                key: &'static str,
                v: &T,
            ) -> Result<(), Error> {
                self.field(key, v)
            }
            fn end(self) -> Result<(), Error> {
                Compound::end(self, b'}')
            }
        }
    )*};
}
fields!(SerializeStruct, SerializeStructVariant);

/// A map key: strings as they are, numbers, booleans and chars quoted (as
/// serde_json's `MapKeySerializer`); anything else is refused.
struct KeyEncoder<'a, 'o>(&'a mut Encoder<'o>);

impl KeyEncoder<'_, '_> {
    fn quoted(self, text: &str) -> Result<(), Error> {
        self.0.string(text);
        Ok(())
    }
    fn integer(self, v: impl itoa::Integer) -> Result<(), Error> {
        self.quoted(itoa::Buffer::new().format(v))
    }
}

fn key_refused() -> Error {
    Error("key must be a string".into())
}

impl ser::Serializer for KeyEncoder<'_, '_> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = ser::Impossible<(), Error>;
    type SerializeTuple = ser::Impossible<(), Error>;
    type SerializeTupleStruct = ser::Impossible<(), Error>;
    type SerializeTupleVariant = ser::Impossible<(), Error>;
    type SerializeMap = ser::Impossible<(), Error>;
    type SerializeStruct = ser::Impossible<(), Error>;
    type SerializeStructVariant = ser::Impossible<(), Error>;

    fn serialize_bool(self, v: bool) -> Result<(), Error> {
        self.quoted(if v { "true" } else { "false" })
    }
    integers!();
    fn serialize_f32(self, _: f32) -> Result<(), Error> {
        Err(key_refused())
    }
    fn serialize_f64(self, _: f64) -> Result<(), Error> {
        Err(key_refused())
    }
    fn serialize_char(self, v: char) -> Result<(), Error> {
        self.quoted(v.encode_utf8(&mut [0; 4]))
    }
    fn serialize_str(self, v: &str) -> Result<(), Error> {
        self.quoted(v)
    }
    fn serialize_bytes(self, _: &[u8]) -> Result<(), Error> {
        Err(key_refused())
    }
    fn serialize_none(self) -> Result<(), Error> {
        Err(key_refused())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<(), Error> {
        Err(key_refused())
    }
    fn serialize_unit(self) -> Result<(), Error> {
        Err(key_refused())
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<(), Error> {
        Err(key_refused())
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, v: &'static str) -> Result<(), Error> {
        self.quoted(v)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        v: &T,
    ) -> Result<(), Error> {
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), Error> {
        Err(key_refused())
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, Error> {
        Err(key_refused())
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, Error> {
        Err(key_refused())
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, Error> {
        Err(key_refused())
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Error> {
        Err(key_refused())
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, Error> {
        Err(key_refused())
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct, Error> {
        Err(key_refused())
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Error> {
        Err(key_refused())
    }
    fn collect_str<T: fmt::Display + ?Sized>(self, v: &T) -> Result<(), Error> {
        self.quoted(&v.to_string())
    }
}

#[cfg(test)]
mod tests;
