//! What a sorted format keeps per host while the fleet is scanned: a sort
//! key (the host id) and where the host's rendered text lies in a
//! temporary file. The text itself (a table row's cells, a CSV line, the
//! host's JSON, the `--explain` detail) is written as the host arrives and
//! read back in order at the end, so memory grows by one [`Key`] per host
//! (40 bytes and the id), not by one `HostReport` (tens of KB).
//!
//! The file is made in the system's temporary folder (`TMPDIR`), never
//! beside the bundle or the report, and unlinked as soon as it is open:
//! nothing is left behind, even when the run is killed. Small runs never
//! touch it: the first [`PENDING`] bytes stay in memory. Large ones pack
//! what comes after [`PACK_AFTER`] bytes: each host's text one zstd frame,
//! made on the worker that rendered it ([`Rows::packing`]).

use super::{Render, Rendered};
use crate::verdict::host::HostReport;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

/// Text held in memory before it goes to the file.
pub const PENDING: usize = 1 << 20;

/// Past this much text, hosts' texts come packed (zstd, level 1, made on
/// the workers): the JSON of 100,000 hosts is 9.4 GB, and writing it to
/// the file cost the build machine 30 s of system time in page allocation
/// alone (on disk and on tmpfs alike), and needs 9.4 GB free in `TMPDIR`;
/// packed it is ~15x smaller. Below it nothing is
/// packed: a run of 10,000 hosts (1 GB of JSON) costs no more than before.
pub const PACK_AFTER: u64 = 1 << 30;

/// Texts at least this long skip `pending` once the file exists (or when
/// they would fill it).
const DIRECT: usize = 16 << 10;

/// Append-only text, read back by position.
pub struct Spill {
    dir: PathBuf,
    file: Option<File>,
    /// Bytes already in the file; `pending` follows them.
    on_disk: u64,
    pending: Vec<u8>,
    limit: usize,
}

impl Default for Spill {
    fn default() -> Self {
        Spill::in_dir(std::env::temp_dir(), PENDING)
    }
}

impl Spill {
    /// A store that keeps up to `limit` bytes in memory, the rest in a
    /// file in `dir`.
    pub fn in_dir(dir: PathBuf, limit: usize) -> Self {
        Spill {
            dir,
            file: None,
            on_disk: 0,
            pending: Vec::new(),
            limit,
        }
    }

    /// Bytes stored so far: the position of the next byte pushed.
    pub fn len(&self) -> u64 {
        self.on_disk + self.pending.len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn push(&mut self, b: &[u8]) -> io::Result<()> {
        // Once there is a file, or where this text would make one, a large
        // text goes straight to it: copying a host's JSON into `pending`
        // first was 2% of a JSON scan, and a host of 10,000 addresses (278
        // MB of JSON) was held twice.
        let overflows = self.pending.len() + b.len() >= self.limit;
        if (self.file.is_some() || overflows) && b.len() >= self.limit.min(DIRECT) {
            self.flush()?;
            self.write_out(b)?;
            self.on_disk += b.len() as u64;
            return Ok(());
        }
        self.pending.extend_from_slice(b);
        if self.pending.len() >= self.limit {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let pending = std::mem::take(&mut self.pending);
        let written = self.write_out(&pending);
        self.pending = pending;
        written?;
        self.on_disk += self.pending.len() as u64;
        self.pending.clear();
        Ok(())
    }

    /// Appends `b` to the file (made on first use).
    fn write_out(&mut self, b: &[u8]) -> io::Result<()> {
        if self.file.is_none() {
            self.file = Some(self.create()?);
        }
        if let Some(f) = &mut self.file {
            f.write_all(b).map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!(
                        "cannot write a temporary file in {}: {e}",
                        self.dir.display()
                    ),
                )
            })?;
        }
        Ok(())
    }

    fn create(&self) -> io::Result<File> {
        static N: AtomicU32 = AtomicU32::new(0);
        let path = self.dir.join(format!(
            "asymroute-offline-{}-{}.spill",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!(
                        "cannot make a temporary file in {} (set TMPDIR to a writable folder): {e}",
                        self.dir.display()
                    ),
                )
            })?;
        // Open files outlive their name: the data stays until it is closed.
        let _ = std::fs::remove_file(&path);
        Ok(f)
    }

    /// The `len` bytes stored at `off`, into `buf` (replacing its content).
    pub fn read(&mut self, off: u64, len: usize, buf: &mut Vec<u8>) -> io::Result<()> {
        buf.clear();
        let end = off + len as u64;
        if end > self.len() {
            return Err(io::Error::other("temporary file: read past its end"));
        }
        buf.reserve(len);
        // The part already in the file, then the part still in memory.
        let from_disk = end.min(self.on_disk).saturating_sub(off) as usize;
        if from_disk > 0 {
            let f = self
                .file
                .as_mut()
                .ok_or_else(|| io::Error::other("temporary file: missing"))?;
            f.seek(SeekFrom::Start(off))?;
            // Read into the spare capacity: zeroing the buffer first cost
            // as much as the copy itself.
            let got = Read::take(&mut *f, from_disk as u64).read_to_end(buf)?;
            f.seek(SeekFrom::End(0))?;
            if got < from_disk {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "temporary file: shorter than written",
                ));
            }
        }
        if from_disk < len {
            let start = (off + from_disk as u64 - self.on_disk) as usize;
            buf.extend_from_slice(&self.pending[start..start + len - from_disk]);
        }
        Ok(())
    }
}

/// One host of a sorted report: its id, and its text in the spill (a
/// `head`, the row, then a `tail`, the detail printed after the table).
#[derive(Debug)]
pub struct Key {
    host: Box<str>,
    off: u64,
    head: u32,
    tail: u32,
    /// Packed: the bytes stored, one zstd frame of head and tail (0: the
    /// text as it is).
    stored: u32,
}

/// The hosts of a sorted format: keys in memory, text in a [`Spill`].
pub struct Rows {
    spill: Spill,
    keys: Vec<Key>,
    sorted: bool,
    /// Tells the renderers (`packing`) to pack from now on.
    pack: Arc<AtomicBool>,
    pack_after: u64,
    unpacker: Option<zstd::bulk::Decompressor<'static>>,
}

impl Default for Rows {
    fn default() -> Self {
        Rows::with_spill(Spill::default())
    }
}

/// A renderer whose texts come packed once the spill is past
/// [`PACK_AFTER`] (each worker packs its own hosts: the one writer thread
/// would pack 9.4 GB alone).
struct Packing {
    inner: Box<dyn Render>,
    pack: Arc<AtomicBool>,
    z: Option<zstd::bulk::Compressor<'static>>,
}

impl Render for Packing {
    fn render(&mut self, h: &HostReport) -> io::Result<Rendered> {
        let mut r = self.inner.render(h)?;
        if self.pack.load(Ordering::Relaxed) {
            pack(&mut r, &mut self.z)?;
        }
        Ok(r)
    }
}

/// `r`'s head and tail as one zstd frame in `head` (`Rendered::packed`).
fn pack(r: &mut Rendered, z: &mut Option<zstd::bulk::Compressor<'static>>) -> io::Result<()> {
    let z = match z {
        Some(z) => z,
        None => z.insert(zstd::bulk::Compressor::new(1)?),
    };
    let lens = (len32(r.head.len())?, len32(r.tail.len())?);
    let mut whole = std::mem::take(&mut r.head);
    whole.extend_from_slice(&r.tail);
    r.head = z.compress(&whole)?;
    r.tail = Vec::new();
    r.packed = Some(lens);
    Ok(())
}

/// Which part of a host's text to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Head,
    Tail,
}

fn len32(n: usize) -> io::Result<u32> {
    u32::try_from(n).map_err(|_| io::Error::other("a host's report text is over 4 GiB"))
}

impl Rows {
    pub fn with_spill(spill: Spill) -> Self {
        Rows {
            spill,
            keys: Vec::new(),
            sorted: false,
            pack: Arc::default(),
            pack_after: PACK_AFTER,
            unpacker: None,
        }
    }

    /// Packs texts once the spill holds `n` bytes (`Options::pack_after`).
    pub fn pack_after(mut self, n: u64) -> Self {
        self.pack_after = n;
        self
    }

    /// `inner`, packing its texts once this spill asks for it.
    pub fn packing(&self, inner: Box<dyn Render>) -> Box<dyn Render> {
        Box::new(Packing {
            inner,
            pack: self.pack.clone(),
            z: None,
        })
    }

    /// Stores a host's row (`head`) and detail (`tail`, may be empty).
    pub fn push(&mut self, host: &str, head: &[u8], tail: &[u8]) -> io::Result<()> {
        let key = Key {
            host: host.into(),
            off: self.spill.len(),
            head: len32(head.len())?,
            tail: len32(tail.len())?,
            stored: 0,
        };
        self.spill.push(head)?;
        self.spill.push(tail)?;
        self.add(key);
        Ok(())
    }

    /// Stores a rendered host, packed or not.
    pub fn put(&mut self, r: &Rendered) -> io::Result<()> {
        let Some((head, tail)) = r.packed else {
            return self.push(&r.host, &r.head, &r.tail);
        };
        let key = Key {
            host: r.host.as_str().into(),
            off: self.spill.len(),
            head,
            tail,
            stored: len32(r.head.len())?,
        };
        self.spill.push(&r.head)?;
        self.add(key);
        Ok(())
    }

    fn add(&mut self, key: Key) {
        self.keys.push(key);
        self.sorted = false;
        if self.spill.len() >= self.pack_after {
            self.pack.store(true, Ordering::Relaxed);
        }
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The memory held: the keys (a [`Key`] and the host id per host) and
    /// the text not yet in the file (under [`PENDING`] and one record).
    pub fn kept(&self) -> usize {
        self.keys.capacity() * std::mem::size_of::<Key>()
            + self.keys.iter().map(|k| k.host.len()).sum::<usize>()
            + self.spill.pending.capacity()
    }

    /// Calls `f` with `part` of every host's text, in host-id order
    /// (hosts with the same id in arrival order, as `report::sort` did).
    pub fn each(
        &mut self,
        part: Part,
        mut f: impl FnMut(&[u8]) -> io::Result<()>,
    ) -> io::Result<()> {
        if !self.sorted {
            self.keys.sort_by(|a, b| a.host.cmp(&b.host));
            self.sorted = true;
        }
        let mut buf = Vec::new();
        let mut whole = Vec::new();
        for k in &self.keys {
            let (at, len) = match part {
                Part::Head => (0, k.head),
                Part::Tail => (k.head, k.tail),
            };
            if len == 0 && part == Part::Tail {
                continue;
            }
            if k.stored == 0 {
                self.spill.read(k.off + at as u64, len as usize, &mut buf)?;
                f(&buf)?;
                continue;
            }
            self.spill.read(k.off, k.stored as usize, &mut buf)?;
            let z = match &mut self.unpacker {
                Some(z) => z,
                None => self.unpacker.insert(zstd::bulk::Decompressor::new()?),
            };
            let size = k.head as usize + k.tail as usize;
            whole.clear();
            whole.reserve(size);
            let damaged = || io::Error::other("temporary file: a damaged record");
            if z.decompress_to_buffer(&buf[..], &mut whole)
                .map_err(|_| damaged())?
                != size
            {
                return Err(damaged());
            }
            f(&whole[at as usize..(at + len) as usize])?;
        }
        Ok(())
    }
}

/// Length-prefixed strings: a table row's cells in one record.
pub fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u32).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// The next string [`put_str`] wrote, and the rest.
pub fn take_str(b: &[u8]) -> io::Result<(&str, &[u8])> {
    let bad = || io::Error::other("temporary file: a damaged record");
    let n = u32::from_le_bytes(b.get(..4).ok_or_else(bad)?.try_into().map_err(|_| bad())?);
    let s = b.get(4..4 + n as usize).ok_or_else(bad)?;
    let s = std::str::from_utf8(s).map_err(|_| bad())?;
    Ok((s, &b[4 + n as usize..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Texts of every size around the limit: those that skip `pending`
    /// land between the ones that wait in it, in order.
    #[test]
    fn large_texts_go_straight_to_the_file_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut sp = Spill::in_dir(dir.path().to_path_buf(), 16);
        let texts: Vec<Vec<u8>> = (0..200u32)
            .map(|i| {
                let n = (i * 7919 % 40) as usize;
                (0..n)
                    .map(|k| b'a' + ((i as usize + k) % 26) as u8)
                    .collect()
            })
            .collect();
        let mut at = Vec::new();
        for t in &texts {
            at.push(sp.len());
            sp.push(t).unwrap();
        }
        assert!(sp.file.is_some() && sp.on_disk > 0);
        let mut buf = b"old".to_vec();
        for (t, &off) in texts.iter().zip(&at).rev() {
            sp.read(off, t.len(), &mut buf).unwrap();
            assert_eq!(&buf, t);
        }
        let end = sp.len();
        assert!(sp.read(end - 1, 2, &mut buf).is_err());
        // A first text past the limit is not copied into memory first.
        let mut sp = Spill::in_dir(dir.path().to_path_buf(), 16);
        sp.push(b"short").unwrap();
        sp.push(&[b'x'; 20]).unwrap();
        assert_eq!((sp.pending.len(), sp.on_disk), (0, 25));
        sp.read(5, 20, &mut buf).unwrap();
        assert_eq!(buf, [b'x'; 20]);
    }

    #[test]
    fn reads_back_across_memory_and_file() {
        let dir = tempfile::tempdir().unwrap();
        // A 10-byte limit: most records go to the file.
        let mut r = Rows::with_spill(Spill::in_dir(dir.path().to_path_buf(), 10));
        for i in (0..50).rev() {
            let tail = if i % 3 == 0 {
                format!("tail {i}\n")
            } else {
                String::new()
            };
            r.push(
                &format!("h{i:02}"),
                format!("head {i}").as_bytes(),
                tail.as_bytes(),
            )
            .unwrap();
        }
        let mut heads = Vec::new();
        r.each(Part::Head, |b| {
            heads.push(String::from_utf8(b.to_vec()).unwrap());
            Ok(())
        })
        .unwrap();
        let want: Vec<String> = (0..50).map(|i| format!("head {i}")).collect();
        assert_eq!(heads, want);
        let mut tails = String::new();
        r.each(Part::Tail, |b| {
            tails.push_str(std::str::from_utf8(b).unwrap());
            Ok(())
        })
        .unwrap();
        let want: String = (0..50)
            .filter(|i| i % 3 == 0)
            .map(|i| format!("tail {i}\n"))
            .collect();
        assert_eq!(tails, want);
        // The file is unlinked at once: nothing is left in the folder.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    /// Past the limit hosts come packed; each part reads back as it was,
    /// in host order, whether packed or not, and the packed ones take
    /// less room.
    #[test]
    fn packed_texts_read_back_as_they_were() {
        let dir = tempfile::tempdir().unwrap();
        let mut r = Rows::with_spill(Spill::in_dir(dir.path().to_path_buf(), 64)).pack_after(2_000);
        let mut z = None;
        let text = |i: u32, what: &str| -> Vec<u8> {
            (0..(i * 37 % 300))
                .map(|k| format!("{what}{i}-{k} "))
                .collect::<String>()
                .into_bytes()
        };
        let mut packed = 0;
        for i in (0..60u32).rev() {
            let mut x = Rendered {
                host: format!("h{i:02}"),
                head: text(i, "head"),
                tail: if i % 4 == 0 {
                    Vec::new()
                } else {
                    text(i, "tail")
                },
                ..Default::default()
            };
            if r.pack.load(Ordering::Relaxed) {
                let whole = x.head.len() + x.tail.len();
                pack(&mut x, &mut z).unwrap();
                assert!(
                    x.head.len() < whole / 3 || whole < 1000,
                    "{} of {whole}",
                    x.head.len()
                );
                packed += 1;
            }
            r.put(&x).unwrap();
        }
        assert!(packed > 20 && packed < 60, "{packed} packed");
        for (part, what) in [(Part::Head, "head"), (Part::Tail, "tail")] {
            let mut got = Vec::new();
            r.each(part, |b| {
                got.push(b.to_vec());
                Ok(())
            })
            .unwrap();
            let want: Vec<Vec<u8>> = (0..60)
                .filter(|i| part == Part::Head || i % 4 != 0)
                .map(|i| text(i, what))
                .filter(|t| part == Part::Head || !t.is_empty())
                .collect();
            assert_eq!(got, want, "{what}");
        }
    }

    #[test]
    fn same_ids_keep_arrival_order() {
        let mut r = Rows::default();
        for (h, t) in [("b", "1"), ("a", "2"), ("b", "3"), ("a", "4")] {
            r.push(h, t.as_bytes(), b"").unwrap();
        }
        let mut got = String::new();
        r.each(Part::Head, |b| {
            got.push_str(std::str::from_utf8(b).unwrap());
            Ok(())
        })
        .unwrap();
        assert_eq!(got, "2413");
    }

    #[test]
    fn unwritable_folder_is_an_error_naming_it() {
        let dir = PathBuf::from("/nonexistent/asymroute-spill-test");
        let mut s = Spill::in_dir(dir, 4);
        s.push(b"ab").unwrap();
        let e = s.push(b"cdef").unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("/nonexistent/asymroute-spill-test"), "{msg}");
        assert!(msg.contains("TMPDIR"), "{msg}");
    }

    #[test]
    fn strings_round_trip() {
        let mut b = Vec::new();
        put_str(&mut b, "héllo\nx");
        put_str(&mut b, "");
        let (a, rest) = take_str(&b).unwrap();
        let (c, rest) = take_str(rest).unwrap();
        assert_eq!((a, c, rest.len()), ("héllo\nx", "", 0));
        assert!(take_str(&b[..3]).is_err());
    }
}
