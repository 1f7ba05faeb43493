//! A tar archive read front to back: each member's header is read in
//! place and its body handed out as a bounded reader. The `tar` crate did
//! this until session 16; per member it built a fresh header (writing its
//! octal fields with `format!`), moved the entry by value (600+ bytes) and
//! decoded numeric fields through UTF-8 checks, 25% of reading a Kubernetes
//! node's sosreport (17,000 members). Its rules are kept: a member is
//! ended by the first all-zero block, a header's checksum must hold, GNU
//! long names (`L`) and links (`K`) and a pax header (`x`: `path`,
//! `linkpath`, `size`, its records read as the crate reads them) apply to
//! the member after them, a ustar name has its prefix, a size may be
//! base-256 (GNU), and a size that would carry the archive's position past
//! 2^64 is an error. Sparse members (GNU `S`) are told apart, not expanded.

use std::io::{self, Read};

const BLOCK: usize = 512;

/// The longest GNU long name, long link or pax header read: a real one is
/// a path, a corrupt one could claim gigabytes.
const EXTENSION_MAX: u64 = 1 << 20;

/// What a member is, by its header's type flag (`Other`: the flag).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// `0`, NUL, or `7` (contiguous).
    File,
    HardLink,
    Symlink,
    Dir,
    /// GNU sparse (`S`): the body is the file's data without its holes.
    Sparse,
    /// A pax global header (`g`), or a pax header (`x`) of an archive
    /// without the ustar magic: nothing to read.
    PaxHeader,
    /// Device, fifo, volume label and the rest.
    Other(u8),
}

impl Kind {
    fn of(flag: u8) -> Kind {
        match flag {
            b'0' | 0 | b'7' => Kind::File,
            b'1' => Kind::HardLink,
            b'2' => Kind::Symlink,
            b'5' => Kind::Dir,
            b'S' => Kind::Sparse,
            b'g' | b'x' => Kind::PaxHeader,
            f => Kind::Other(f),
        }
    }
}

/// The member a `Tar::next` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Head {
    pub kind: Kind,
    /// The body's size in the archive.
    pub size: u64,
}

pub(super) struct Tar<'r> {
    inner: &'r mut dyn Read,
    header: [u8; BLOCK],
    /// Unread bytes of the current member's body, then its padding.
    left: u64,
    pad: u64,
    /// The current member's path and link target, as the archive has them.
    path: Vec<u8>,
    link: Vec<u8>,
    /// Where skipped bytes go (grown once, never zeroed again).
    scratch: Vec<u8>,
    ended: bool,
    /// Where the next header stands in the archive, as the crate counts it
    /// (a size that carries it past 2^64 is an error there too).
    next_at: u64,
}

impl<'r> Tar<'r> {
    pub fn new(inner: &'r mut dyn Read) -> Self {
        Tar {
            inner,
            header: [0; BLOCK],
            left: 0,
            pad: 0,
            path: Vec::new(),
            link: Vec::new(),
            scratch: Vec::new(),
            ended: false,
            next_at: 0,
        }
    }

    /// The next member (what was left of the last one is skipped), or
    /// `None` at the archive's end.
    pub fn next(&mut self) -> io::Result<Option<Head>> {
        if self.ended {
            return Ok(None);
        }
        // Apart: a size near 2^64 and its padding overflow a sum.
        let (left, pad) = (self.left, self.pad);
        self.left = 0;
        self.pad = 0;
        self.skip(left)?;
        self.skip(pad)?;
        let mut long_path: Option<Vec<u8>> = None;
        let mut long_link: Option<Vec<u8>> = None;
        let mut pax: Option<Vec<u8>> = None;
        loop {
            if !self.read_header()? {
                self.ended = true;
                if long_path.is_some() || long_link.is_some() || pax.is_some() {
                    return Err(io::Error::other(
                        "an extended header describes a member the archive does not hold",
                    ));
                }
                return Ok(None);
            }
            let h = &self.header;
            let flag = h[156];
            let mut size = number(&h[124..136], "size")?;
            // A pax header's `size` overrides the header's, for a member
            // that is no extension header itself (by its flag alone).
            if !matches!(flag, b'L' | b'K' | b'x' | b'g')
                && let Some(s) = pax.as_deref().and_then(pax_size)
            {
                size = s;
            }
            let rounded = size
                .checked_add(BLOCK as u64 - 1)
                .map(|s| s & !(BLOCK as u64 - 1));
            self.next_at = rounded
                .and_then(|r| self.next_at.checked_add(r))
                .ok_or_else(|| io::Error::other("size overflow"))?;
            // Extensions are read only where the ustar or GNU magic says
            // the flag means one (a v7 header's `L` is some other member).
            let extension = is_ustar(h) || is_gnu(h);
            let slot = match flag {
                b'L' if extension => Some(&mut long_path),
                b'K' if extension => Some(&mut long_link),
                b'x' if extension => Some(&mut pax),
                _ => None,
            };
            if let Some(slot) = slot {
                if slot.is_some() {
                    return Err(io::Error::other(
                        "two extended headers of one kind describe the same member",
                    ));
                }
                *slot = Some(self.extension(size)?);
                continue;
            }
            let pax = pax.as_deref();
            name_into(&mut self.path, long_path.as_deref(), pax, b"path", |out| {
                // ustar: the prefix, then the name.
                let prefix = until_nul(&h[345..500]);
                if is_ustar(h) && !prefix.is_empty() {
                    out.extend_from_slice(prefix);
                    out.push(b'/');
                }
                out.extend_from_slice(until_nul(&h[..100]));
            });
            name_into(
                &mut self.link,
                long_link.as_deref(),
                pax,
                b"linkpath",
                |out| out.extend_from_slice(until_nul(&h[157..257])),
            );
            self.left = size;
            self.pad = padding(size);
            return Ok(Some(Head {
                kind: Kind::of(flag),
                size,
            }));
        }
    }

    /// The current member's path, as the archive has it.
    pub fn path(&self) -> &[u8] {
        &self.path
    }

    /// The current member's link target (empty: none).
    pub fn link(&self) -> &[u8] {
        &self.link
    }

    /// The current member's body: `Head::size` bytes, fewer where the
    /// archive ends early.
    pub fn body(&mut self) -> Body<'_, 'r> {
        Body { tar: self }
    }

    /// Reads the next header block: `false` at the archive's end (the end
    /// of the stream, or an all-zero block).
    fn read_header(&mut self) -> io::Result<bool> {
        let mut got = 0;
        while got < BLOCK {
            match self.inner.read(&mut self.header[got..]) {
                Ok(0) if got == 0 => return Ok(false),
                Ok(0) => return Err(io::Error::other("failed to read entire block")),
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if self.header.iter().all(|&b| b == 0) {
            return Ok(false);
        }
        self.next_at = self.next_at.wrapping_add(BLOCK as u64);
        // The checksum field counts as spaces. One pass over the whole
        // block, which vectorises (a chain of its two parts did not: 10%
        // of reading a sosreport of 17,000 members).
        let all: u32 = self.header.iter().map(|&b| u32::from(b)).sum();
        let field: u32 = self.header[148..156].iter().map(|&b| u32::from(b)).sum();
        let sum = u64::from(all - field + 8 * u32::from(b' '));
        // Fuzz builds take any checksum: a mutated header almost never
        // carries a right one, and nothing past this check would be tried.
        if number(&self.header[148..156], "checksum")? != sum && !cfg!(fuzzing) {
            return Err(io::Error::other("archive header checksum mismatch"));
        }
        Ok(true)
    }

    /// The body of an extended header, read whole.
    fn extension(&mut self, size: u64) -> io::Result<Vec<u8>> {
        if size > EXTENSION_MAX {
            return Err(io::Error::other(format!(
                "an extended header of {size} bytes (over {EXTENSION_MAX})"
            )));
        }
        let mut v = Vec::with_capacity(size as usize);
        (&mut *self.inner).take(size).read_to_end(&mut v)?;
        if (v.len() as u64) < size {
            return Err(eof());
        }
        self.skip(padding(size))?;
        Ok(v)
    }

    fn skip(&mut self, mut n: u64) -> io::Result<()> {
        if n > 0 && self.scratch.is_empty() {
            self.scratch.resize(64 * 1024, 0);
        }
        while n > 0 {
            let k = n.min(self.scratch.len() as u64) as usize;
            match self.inner.read(&mut self.scratch[..k]) {
                Ok(0) => return Err(eof()),
                Ok(got) => n -= got as u64,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// A member's body (see `Tar::body`).
pub(super) struct Body<'t, 'r> {
    tar: &'t mut Tar<'r>,
}

impl Read for Body<'_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = (buf.len() as u64).min(self.tar.left) as usize;
        if n == 0 {
            return Ok(0);
        }
        let got = self.tar.inner.read(&mut buf[..n])?;
        self.tar.left -= got as u64;
        Ok(got)
    }
}

/// A member's path or link target: a GNU long one, else the pax header's
/// (`key`), else the header's own.
fn name_into(
    out: &mut Vec<u8>,
    long: Option<&[u8]>,
    pax: Option<&[u8]>,
    key: &[u8],
    header: impl FnOnce(&mut Vec<u8>),
) {
    out.clear();
    match (long, pax.and_then(|p| pax_value(p, key))) {
        (Some(l), _) => out.extend_from_slice(strip_nul(l)),
        (None, Some(v)) => out.extend_from_slice(v),
        (None, None) => header(out),
    }
}

fn eof() -> io::Error {
    io::Error::new(io::ErrorKind::UnexpectedEof, "unexpected EOF during skip")
}

fn padding(size: u64) -> u64 {
    (BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64
}

/// POSIX ustar (`ustar\0` `00`), which has a name prefix; GNU's
/// `ustar  \0` keeps other fields there.
fn is_ustar(h: &[u8; BLOCK]) -> bool {
    &h[257..263] == b"ustar\0" && &h[263..265] == b"00"
}

fn is_gnu(h: &[u8; BLOCK]) -> bool {
    &h[257..263] == b"ustar " && &h[263..265] == b" \0"
}

fn until_nul(b: &[u8]) -> &[u8] {
    memchr::memchr(0, b).map_or(b, |i| &b[..i])
}

/// A GNU long name's body ends in one NUL.
fn strip_nul(b: &[u8]) -> &[u8] {
    b.strip_suffix(&[0]).unwrap_or(b)
}

/// A numeric header field: octal text (spaces and NULs around it), or
/// base-256 when its first byte's high bit is set (GNU, for sizes of 8
/// GiB and over: the last 8 bytes, big-endian).
fn number(field: &[u8], what: &str) -> io::Result<u64> {
    if field[0] & 0x80 != 0 {
        let mut b = [0u8; 8];
        b.copy_from_slice(&field[field.len() - 8..]);
        return Ok(u64::from_be_bytes(b));
    }
    let text = until_nul(field).trim_ascii();
    let bad = || {
        io::Error::other(format!(
            "a member header's {what} is not a number: `{}`",
            String::from_utf8_lossy(text)
        ))
    };
    if text.is_empty() {
        return Err(bad());
    }
    text.iter().try_fold(0u64, |n, &c| match c {
        b'0'..=b'7' if n >> 61 == 0 => Ok((n << 3) | u64::from(c - b'0')),
        _ => Err(bad()),
    })
}

/// A pax header's records as the crate reads them: its lines (a value
/// holding a newline breaks its record), each `LEN key=value` whose LEN
/// counts the line and its newline, `None` for one that is not; an empty
/// line ends them.
fn pax_records(p: &[u8]) -> impl Iterator<Item = Option<(&[u8], &[u8])>> {
    let mut lines = p.split(|&b| b == b'\n');
    std::iter::from_fn(move || {
        let line = lines.next().filter(|l| !l.is_empty())?;
        let record = || {
            let sp = memchr::memchr(b' ', line)?;
            let len: usize = std::str::from_utf8(&line[..sp]).ok()?.parse().ok()?;
            if line.len() + 1 != len {
                return None;
            }
            let kv = &line[sp + 1..];
            let eq = memchr::memchr(b'=', kv)?;
            Some((&kv[..eq], &kv[eq + 1..]))
        };
        Some(record())
    })
}

/// The value of the first well-formed pax record with this key (a
/// malformed one is passed over, as the crate does for names).
fn pax_value<'p>(p: &'p [u8], key: &[u8]) -> Option<&'p [u8]> {
    pax_records(p)
        .flatten()
        .find_map(|(k, v)| (k == key).then_some(v))
}

/// A pax header's `size`, as the crate reads it: none past a malformed
/// record or for a value that is not a number.
fn pax_size(p: &[u8]) -> Option<u64> {
    for r in pax_records(p) {
        let (k, v) = r?;
        if k == b"size" {
            return std::str::from_utf8(v).ok()?.parse().ok();
        }
    }
    None
}

#[cfg(test)]
mod tests;
