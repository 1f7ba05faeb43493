//! A source's text, kept for quoting its lines. A full table's route dump
//! is tens of megabytes of text that the report quotes a few lines of:
//! held whole it was a fifth of such a host's peak (230 MB of 1.15 GiB for
//! three full tables). A route dump of `PACK_FROM` bytes or more is held
//! in zstd blocks of whole lines instead, each unpacked when a quote
//! reads it.

use std::sync::OnceLock;

/// Route dumps this long or longer are packed: about 20,000 routes. The
/// fleet's hosts (a few hundred lines) stay whole.
pub const PACK_FROM: usize = 1 << 20;

/// Raw bytes a block holds (cut after the newline that ends it): a quote
/// unpacks one the first time it reads it, about 30 µs.
const BLOCK: usize = 64 << 10;

/// zstd's level. `bgptables`' 180 MB IPv4 dump: level 1 packs it in
/// 0.28 CPU-s to 11 MB; `--fast=1` in 0.21 s to 13 MB, `--fast=3` in
/// 0.20 s to 16 MB (the `zstd` tool, whole file).
const LEVEL: i32 = 1;

#[derive(Debug)]
pub struct Text(Repr);

#[derive(Debug)]
enum Repr {
    Whole(String),
    Packed(Packed),
}

#[derive(Debug)]
struct Packed {
    blocks: Vec<Block>,
    /// `trim().is_empty()` of the whole text.
    blank: bool,
    /// Each block, once unpacked: a host may quote ten thousand routes
    /// from all over its dump, in no order, and each block is then
    /// unpacked once (at most, the text is held whole again).
    unpacked: Vec<OnceLock<Box<str>>>,
}

#[derive(Debug, Clone)]
struct Block {
    /// Lines before the block's first (newlines before it).
    line: usize,
    /// Its raw length, and its zstd frame.
    len: usize,
    data: Box<[u8]>,
}

impl Clone for Text {
    fn clone(&self) -> Text {
        Text(match &self.0 {
            Repr::Whole(s) => Repr::Whole(s.clone()),
            Repr::Packed(p) => Repr::Packed(Packed {
                blocks: p.blocks.clone(),
                blank: p.blank,
                unpacked: p.blocks.iter().map(|_| OnceLock::new()).collect(),
            }),
        })
    }
}

impl Default for Text {
    fn default() -> Text {
        Text(Repr::Whole(String::new()))
    }
}

impl From<String> for Text {
    /// Held whole.
    fn from(s: String) -> Text {
        Text(Repr::Whole(s))
    }
}

/// The whole text, unpacked.
impl std::fmt::Display for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_whole())
    }
}

impl Text {
    /// Packs `s` when it is `PACK_FROM` bytes or more; else holds it whole
    /// (so too when zstd fails, which it does not on memory it was given).
    pub fn packed(s: String) -> Text {
        if s.len() < PACK_FROM {
            return Text(Repr::Whole(s));
        }
        match pack(&s) {
            Some(blocks) => Text(Repr::Packed(Packed {
                unpacked: blocks.iter().map(|_| OnceLock::new()).collect(),
                blocks,
                blank: s.trim().is_empty(),
            })),
            None => Text(Repr::Whole(s)),
        }
    }

    /// The text, when it is held whole (a packed text has no `&str`).
    pub fn whole(&self) -> Option<&str> {
        match &self.0 {
            Repr::Whole(s) => Some(s),
            Repr::Packed(_) => None,
        }
    }

    /// The whole text, unpacked when it is packed.
    pub fn to_whole(&self) -> std::borrow::Cow<'_, str> {
        match &self.0 {
            Repr::Whole(s) => s.as_str().into(),
            Repr::Packed(p) => {
                let mut out = String::with_capacity(p.blocks.iter().map(|b| b.len).sum());
                for b in &p.blocks {
                    out.push_str(&unpack(b));
                }
                out.into()
            }
        }
    }

    pub fn is_blank(&self) -> bool {
        match &self.0 {
            Repr::Whole(s) => s.trim().is_empty(),
            Repr::Packed(p) => p.blank,
        }
    }

    /// Lines `first..first + count` as `str::lines` numbers them from 0,
    /// each trimmed at its end, joined by `\n`; past the end, those there
    /// are. A whole text is read from its top: `verdict::Quoter` indexes
    /// those it quotes often.
    pub fn lines(&self, first: usize, count: usize) -> String {
        let mut out = String::new();
        match &self.0 {
            Repr::Whole(s) => {
                push_lines(&mut out, s, first, count);
            }
            Repr::Packed(p) => {
                let Some(mut at) = p.blocks.partition_point(|b| b.line <= first).checked_sub(1)
                else {
                    return out;
                };
                let (mut skip, mut left) = (first - p.blocks[at].line, count);
                while left > 0 && at < p.blocks.len() {
                    let raw = p.unpacked[at].get_or_init(|| unpack(&p.blocks[at]).into());
                    let before = out.len();
                    let took = push_lines(&mut out, raw, skip, left);
                    // A record that goes on in the next block: its lines
                    // there follow the ones here.
                    if took > 0 && before > 0 {
                        out.insert(before, '\n');
                    }
                    left -= took;
                    skip = 0;
                    at += 1;
                }
            }
        }
        out
    }
}

/// Appends lines `skip..skip + count` of `s` (trimmed at their ends,
/// joined by `\n`) to `out`; how many there were.
fn push_lines(out: &mut String, s: &str, skip: usize, count: usize) -> usize {
    let mut n = 0;
    for l in s.lines().skip(skip).take(count) {
        if n > 0 {
            out.push('\n');
        }
        out.push_str(l.trim_end());
        n += 1;
    }
    n
}

/// `s` in blocks of whole lines, each a zstd frame.
fn pack(s: &str) -> Option<Vec<Block>> {
    let mut z = zstd::bulk::Compressor::new(LEVEL).ok()?;
    let b = s.as_bytes();
    let mut blocks = Vec::with_capacity(b.len() / BLOCK + 1);
    let (mut start, mut line) = (0, 0);
    while start < b.len() {
        // Up to the newline at or after BLOCK bytes on (a line longer than
        // a block is a block of its own).
        let end = match memchr::memchr(b'\n', &b[(start + BLOCK).min(b.len())..]) {
            Some(i) => (start + BLOCK).min(b.len()) + i + 1,
            None => b.len(),
        };
        let raw = &b[start..end];
        blocks.push(Block {
            line,
            len: raw.len(),
            data: z.compress(raw).ok()?.into_boxed_slice(),
        });
        line += memchr::memchr_iter(b'\n', raw).count();
        start = end;
    }
    Some(blocks)
}

/// A block's text (empty should zstd refuse its own frame).
fn unpack(b: &Block) -> String {
    zstd::bulk::decompress(&b.data, b.len)
        .ok()
        .and_then(|v| String::from_utf8(v).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A packed text's lines read as the whole text's would: at every
    /// start, across block ends, past the end, with `\r\n` and long lines.
    #[test]
    fn packed_lines_read_as_whole_ones() {
        let mut rng = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = |n: u64| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng % n
        };
        for case in 0..6 {
            let mut s = String::new();
            while s.len() < PACK_FROM + 3 * BLOCK {
                let len = match next(50) {
                    0 => BLOCK + next(2 * BLOCK as u64) as usize,
                    _ => next(120) as usize,
                };
                s.extend((0..len).map(|i| (b'a' + (i % 26) as u8) as char));
                s.push_str(if next(7) == 0 { " \r\n" } else { "\n" });
            }
            if case % 2 == 1 {
                s.push_str("no newline at the end");
            }
            let lines = s.lines().count();
            let t = Text::packed(s.clone());
            let Repr::Packed(p) = &t.0 else {
                panic!("not packed")
            };
            assert!(p.blocks.len() > 2);
            assert_eq!(t.to_whole(), s);
            let whole = Text::from(s);
            let mut firsts: Vec<usize> = p
                .blocks
                .iter()
                .flat_map(|b| [b.line, b.line.saturating_sub(1)])
                .collect();
            firsts.extend((0..200).map(|_| next(lines as u64 + 3) as usize));
            for first in firsts {
                for count in [1, 2, 3, 7] {
                    assert_eq!(
                        t.lines(first, count),
                        whole.lines(first, count),
                        "{first} {count}"
                    );
                }
            }
        }
    }

    #[test]
    fn short_texts_stay_whole() {
        let t = Text::packed("default via 10.0.0.1 dev eth0\n".into());
        assert_eq!(t.whole(), Some("default via 10.0.0.1 dev eth0\n"));
        assert!(!t.is_blank());
        assert!(Text::packed(" \n".repeat(PACK_FROM)).is_blank());
    }
}
