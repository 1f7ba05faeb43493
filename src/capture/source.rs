//! Reading a bundle: a directory, an archive (tar, gzip, xz, bzip2, zstd, zip
//! — recognised by content, not name) or stdin, with archives nested inside
//! archives or folders opened to a bounded depth. Archives are streamed in
//! memory, front to back, once; nothing is extracted and member names are
//! never used as filesystem paths. Only members that can matter (by name, or
//! by content for unknown names) are kept, each under a size cap, and the
//! total decompressed volume is capped against archive bombs.

use std::cell::Cell;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;
use std::rc::Rc;
use std::sync::mpsc;

/// A kept member: its path inside the bundle and its bytes.
#[derive(Debug, Clone)]
pub struct Entry {
    /// `/`-separated, relative to the bundle root; archive members appear
    /// under the archive's own path (`fleet.tar.gz/i-0abc/ip_addr.txt`).
    pub path: String,
    pub data: Vec<u8>,
}

/// A problem with one file of the bundle; the rest is still read.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Notice {
    pub file: String,
    pub message: String,
}

#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest member kept in memory, but for dumps.
    pub max_member: u64,
    /// Largest known dump kept (`Want::Keep`): a router's full BGP table
    /// is ~72 MB of `ip route` text, ~1M routes; 1 GiB is ~14M routes.
    pub max_dump: u64,
    /// Largest nested zip buffered (zip needs random access).
    pub max_zip: u64,
    /// Decompressed bytes read from one top-level input, at most.
    pub max_total: u64,
    /// Archives inside archives, at most this deep.
    pub max_depth: u32,
}

impl Limits {
    /// The most bytes of a member kept for `want`: a known dump may be as
    /// large as a full routing table; unknown names are sniffed when small.
    pub fn cap(&self, want: Want) -> u64 {
        match want {
            Want::Keep => self.max_dump.max(self.max_member),
            Want::Sniff => self.max_member.min(4 << 20),
            Want::Skip => self.max_member,
        }
    }

    /// What is said of a member of `size` bytes over its cap.
    fn over(&self, want: Want, size: u64) -> String {
        let cap = self.cap(want);
        match want {
            Want::Keep => format!(
                "{size} bytes, over the {} MiB a dump may have (about {} million routes): not read, so this host is analysed without it",
                cap >> 20,
                cap / 75 / 1_000_000
            ),
            _ => format!("{size} bytes, over the {cap} byte member cap: skipped"),
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_member: 64 << 20,
            max_dump: 1 << 30,
            max_zip: 512 << 20,
            max_total: 64 << 30,
            max_depth: 4,
        }
    }
}

/// Receives what the reader finds. `unit_start`/`unit_end` bracket each
/// archive (and each top-level input), so hosts can be completed and
/// released as soon as the archive that holds them has been read.
pub trait Visitor {
    /// Whether a member of this path is worth reading (before its bytes are).
    fn wants(&mut self, path: &str) -> Want;
    fn entry(&mut self, e: Entry);
    fn notice(&mut self, n: Notice);
    fn unit_start(&mut self, _path: &str) {}
    fn unit_end(&mut self, _path: &str) {}
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    /// A known dump or identity file.
    Keep,
    /// An unknown name: keep it only if its content proves to be a dump.
    Sniff,
    /// Never needed (but still opened if it is an archive).
    Skip,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Magic {
    Gzip,
    Xz,
    Bzip2,
    Zstd,
    Zip,
    Tar,
    Other,
}

/// Recognises a container from its first bytes (at least 512 for tar).
pub fn magic(head: &[u8]) -> Magic {
    if head.starts_with(&[0x1f, 0x8b]) {
        Magic::Gzip
    } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        Magic::Xz
    } else if head.starts_with(b"BZh") && head.get(3).is_some_and(|c| (b'1'..=b'9').contains(c)) {
        Magic::Bzip2
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Magic::Zstd
    } else if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
        Magic::Zip
    } else if is_tar_header(head) {
        Magic::Tar
    } else {
        Magic::Other
    }
}

/// Archive and compression formats that are recognised but not read: said
/// so, rather than passed over as a file that holds no dump.
pub fn unsupported(head: &[u8]) -> Option<&'static str> {
    [
        (&b"7z\xbc\xaf\x27\x1c"[..], "7-Zip archive"),
        (b"Rar!\x1a\x07", "RAR archive"),
        (b"\x04\x22\x4d\x18", "LZ4 stream"),
        (b"LZIP", "lzip stream"),
        (b"\x1f\x9d", "compress (.Z) stream"),
    ]
    .into_iter()
    .find(|(m, _)| head.starts_with(m))
    .map(|(_, what)| what)
}

/// `ustar` magic, or a valid header checksum (v7 tar).
fn is_tar_header(h: &[u8]) -> bool {
    if h.len() < 512 {
        return false;
    }
    if &h[257..262] == b"ustar" {
        return true;
    }
    let field = std::str::from_utf8(&h[148..156]).unwrap_or("");
    let Ok(want) = u32::from_str_radix(field.trim_matches(|c: char| c == '\0' || c == ' '), 8)
    else {
        return false;
    };
    let sum: u32 = h[..512]
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if (148..156).contains(&i) {
                32
            } else {
                b as u32
            }
        })
        .sum();
    sum == want && h[0] != 0
}

/// Counts decompressed bytes against the per-input budget.
struct Budget<R> {
    inner: R,
    left: Rc<Cell<u64>>,
}

impl<R: Read> Read for Budget<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let left = self.left.get();
        if n as u64 > left {
            return Err(io::Error::other(
                "decompressed size over the limit (archive bomb?)",
            ));
        }
        self.left.set(left - n as u64);
        Ok(n)
    }
}

/// An xz decoder (C liblzma, statically built): concatenated streams and
/// stream padding are read through, as `xz -d` does. Corrupt or truncated
/// input comes back as an `io::Error`. Chosen over pure-Rust `lzma-rust2` by
/// measurement (tests/bench/DECODERS.md).
fn xz_decoder<R: BufRead>(r: R) -> io::Result<liblzma::bufread::XzDecoder<R>> {
    let stream =
        liblzma::stream::Stream::new_stream_decoder(u64::MAX, liblzma::stream::CONCATENATED)?;
    Ok(liblzma::bufread::XzDecoder::new_stream(r, stream))
}

/// A zstd decoder (C libzstd, statically built) that runs concatenated
/// frames back to back and skips skippable frames. Windows over 128 MiB
/// (zstd's default decoder limit) are refused; corrupt or truncated input
/// comes back as an `io::Error`. Chosen over pure-Rust `ruzstd` by
/// measurement (tests/bench/DECODERS.md).
fn zstd_decoder<'a, R: BufRead>(r: R) -> io::Result<zstd::stream::read::Decoder<'a, R>> {
    zstd::stream::read::Decoder::with_buffer(r)
}

/// The decoder for a compressed stream of kind `m`.
fn decoder<'a, R: BufRead + 'a>(m: Magic, br: R) -> io::Result<Box<dyn Read + 'a>> {
    Ok(match m {
        Magic::Gzip => Box::new(Blocks::new(flate2::read::MultiGzDecoder::new(br))),
        Magic::Bzip2 => Box::new(Blocks::new(bzip2::read::MultiBzDecoder::new(br))),
        Magic::Xz => Box::new(Blocks::new(xz_decoder(br)?)),
        Magic::Zstd => Box::new(Blocks::new(zstd_decoder(br)?)),
        _ => return Err(io::Error::other("not a compressed stream")),
    })
}

/// A decoder read in whole blocks, and that, once it has failed, fails on
/// every later read with the same error. How much a decoder gives before
/// a corrupt spot depends on the size of the reads it is asked for (bzip2
/// drops a partly decoded read), and whether it repeats its error differs
/// too (flate2 repeats a deflate error, reads on after a bad header). Asked
/// the same way in line and on the decode-ahead thread, a corrupt stream
/// yields the same bytes and the same error at the same place (the archive
/// fuzz target compares the two).
struct Blocks<R> {
    inner: R,
    buf: Vec<u8>,
    pos: usize,
    len: usize,
    failed: Option<(io::ErrorKind, String)>,
}

const BLOCK: usize = 64 * 1024;

impl<R> Blocks<R> {
    fn new(inner: R) -> Self {
        Blocks {
            inner,
            buf: vec![0; BLOCK],
            pos: 0,
            len: 0,
            failed: None,
        }
    }
}

impl<R: Read> Read for Blocks<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.len {
            if let Some((kind, msg)) = &self.failed {
                return Err(io::Error::new(*kind, msg.clone()));
            }
            match self.inner.read(&mut self.buf) {
                Ok(n) => {
                    (self.pos, self.len) = (0, n);
                    if n == 0 {
                        return Ok(0);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.failed = Some((e.kind(), e.to_string()));
                    return Err(e);
                }
            }
        }
        let n = out.len().min(self.len - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Compressed files smaller than this are not worth a decoder thread.
const AHEAD_MIN: u64 = 256 * 1024;

/// How many bytes a file holds, where that is known before reading it.
pub trait SizeHint {
    fn size_hint(&self) -> Option<u64>;
}

impl SizeHint for std::fs::File {
    fn size_hint(&self) -> Option<u64> {
        self.metadata()
            .ok()
            .filter(|m| m.is_file())
            .map(|m| m.len())
    }
}

impl SizeHint for io::Stdin {
    fn size_hint(&self) -> Option<u64> {
        None
    }
}

impl SizeHint for &[u8] {
    fn size_hint(&self) -> Option<u64> {
        Some(self.len() as u64)
    }
}

/// Decoded chunks in flight between the decoder thread and the reader:
/// 4 × 256 KiB keeps both busy and memory flat.
const AHEAD: usize = 4;
const CHUNK: usize = 256 * 1024;

/// The decoder thread: fills chunks (recycled from the reader) and sends
/// them in order; an error is sent after the data decoded before it.
fn decode_ahead<R: Read>(
    m: Magic,
    r: R,
    tx: &mpsc::SyncSender<io::Result<Vec<u8>>>,
    back: &mpsc::Receiver<Vec<u8>>,
) {
    let mut d = match decoder(m, BufReader::with_capacity(64 * 1024, r)) {
        Ok(d) => d,
        Err(e) => {
            let _ = tx.send(Err(e));
            return;
        }
    };
    loop {
        let mut buf = back.try_recv().unwrap_or_else(|_| vec![0; CHUNK]);
        buf.resize(CHUNK, 0);
        let mut got = 0;
        let mut failed = None;
        while got < CHUNK {
            match d.read(&mut buf[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        buf.truncate(got);
        let end = got < CHUNK;
        if got > 0 && tx.send(Ok(buf)).is_err() {
            return;
        }
        if let Some(e) = failed {
            let _ = tx.send(Err(e));
            return;
        }
        if end {
            return;
        }
    }
}

/// The reader's side of `decode_ahead`: a `Read` over the chunks.
struct Ahead {
    rx: mpsc::Receiver<io::Result<Vec<u8>>>,
    back: mpsc::Sender<Vec<u8>>,
    cur: Vec<u8>,
    pos: usize,
    /// A decoder's error is returned again on every later read, as
    /// `Blocks` does in line (found by the archive fuzz target: a member
    /// read failed, then the tar walk took the closed channel for a short
    /// file).
    failed: Option<(io::ErrorKind, String)>,
}

impl Ahead {
    fn new(rx: mpsc::Receiver<io::Result<Vec<u8>>>, back: mpsc::Sender<Vec<u8>>) -> Self {
        Ahead {
            rx,
            back,
            cur: Vec::new(),
            pos: 0,
            failed: None,
        }
    }
}

impl Read for Ahead {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.cur.len() {
            if let Some((kind, msg)) = &self.failed {
                return Err(io::Error::new(*kind, msg.clone()));
            }
            match self.rx.recv() {
                Ok(Ok(next)) => {
                    let done = std::mem::replace(&mut self.cur, next);
                    if done.capacity() > 0 {
                        let _ = self.back.send(done);
                    }
                    self.pos = 0;
                }
                Ok(Err(e)) => {
                    self.failed = Some((e.kind(), e.to_string()));
                    return Err(e);
                }
                // The decoder is done.
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.cur.len() - self.pos);
        buf[..n].copy_from_slice(&self.cur[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

pub struct Reader<'v, V: Visitor> {
    pub limits: Limits,
    visitor: &'v mut V,
    budget: Rc<Cell<u64>>,
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}/{name}")
    }
}

/// Strips `./` and leading `/`; `None` for names that climb (`..`).
pub fn clean_member_name(name: &str) -> Option<String> {
    let mut parts = Vec::new();
    for p in name.split(['/', '\\']) {
        match p {
            "" | "." => {}
            ".." => return None,
            p => parts.push(p),
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

impl<'v, V: Visitor> Reader<'v, V> {
    pub fn new(visitor: &'v mut V, limits: Limits) -> Self {
        let budget = Rc::new(Cell::new(limits.max_total));
        Reader {
            limits,
            visitor,
            budget,
        }
    }

    /// Reads a directory, an archive file, or `-` (stdin).
    pub fn read_path(&mut self, path: &Path) -> io::Result<()> {
        self.budget.set(self.limits.max_total);
        if path.as_os_str() == "-" {
            self.read_stream(io::stdin(), "-");
            return Ok(());
        }
        let meta = std::fs::metadata(path)?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_else(|| path.display().to_string());
        if meta.is_dir() {
            self.visitor.unit_start("");
            self.walk(path);
            self.visitor.unit_end("");
        } else {
            let f = std::fs::File::open(path)?;
            self.visitor.unit_start(&name);
            self.stream_file(f, &name, true);
            self.visitor.unit_end(&name);
        }
        Ok(())
    }

    /// Reads one file's bytes from any reader (stdin, or a fuzzer's input),
    /// named `name` in notices and host ids.
    pub fn read_stream(&mut self, r: impl Read + Send + SizeHint, name: &str) {
        self.budget.set(self.limits.max_total);
        self.visitor.unit_start(name);
        self.stream_file(r, name, true);
        self.visitor.unit_end(name);
    }

    fn walk(&mut self, root: &Path) {
        let walker = walkdir::WalkDir::new(root)
            .follow_links(false)
            .sort_by_file_name()
            .into_iter();
        for ent in walker {
            let ent = match ent {
                Ok(e) => e,
                Err(e) => {
                    let file = e
                        .path()
                        .and_then(|p| p.strip_prefix(root).ok())
                        .map(|p| p.display().to_string())
                        .unwrap_or_default();
                    self.notice(file, format!("cannot read: {e}"));
                    continue;
                }
            };
            let rel = ent
                .path()
                .strip_prefix(root)
                .unwrap_or(ent.path())
                .to_string_lossy()
                .replace('\\', "/");
            if rel.is_empty() {
                continue;
            }
            let ft = ent.file_type();
            if ft.is_dir() {
                continue;
            }
            if ft.is_symlink() {
                // A link may point outside the bundle: never followed. One
                // that stays inside (sos's root `hostname`, `ip_addr`, …)
                // names a file read on its own: nothing is lost.
                let inside = std::fs::read_link(ent.path())
                    .is_ok_and(|t| link_stays_inside(&rel, &t.to_string_lossy(), false));
                if !inside && self.visitor.wants(&rel) == Want::Keep {
                    self.notice(rel, "symbolic link not followed".into());
                }
                continue;
            }
            if !ft.is_file() {
                self.notice(
                    rel,
                    "not a regular file (device, fifo or socket): skipped".into(),
                );
                continue;
            }
            let f = match std::fs::File::open(ent.path()) {
                Ok(f) => f,
                Err(e) => {
                    self.notice(rel, format!("cannot read: {e}"));
                    continue;
                }
            };
            self.budget.set(self.limits.max_total);
            self.stream_file(f, &rel, false);
        }
    }

    /// A member's clean name and its full path in the bundle; `None` (and a
    /// notice) for names that climb out of the archive.
    fn member_name(&mut self, archive: &str, raw: &str) -> Option<(String, String)> {
        match clean_member_name(raw) {
            Some(name) => {
                let full = join(archive, &name);
                Some((name, full))
            }
            None => {
                self.notice(
                    join(archive, raw),
                    "member name climbs out of the archive (`..`): skipped".into(),
                );
                None
            }
        }
    }

    fn notice(&mut self, file: String, message: String) {
        self.visitor.notice(Notice { file, message });
    }

    /// A file of the bundle (or stdin). A compressed one is decoded on a
    /// thread of its own, a chunk ahead of this one: walking the tar,
    /// recognising layouts and grouping hosts then overlap with decoding
    /// instead of adding to it (this thread is the one every host waits on).
    fn stream_file<F: Read + Send + Sized + SizeHint>(&mut self, f: F, path: &str, top: bool) {
        let size = f.size_hint();
        let (head, peeked) = match peek(f, 512) {
            Ok(h) => h,
            Err(e) => {
                self.notice(path.into(), format!("cannot read: {e}"));
                return;
            }
        };
        let m = magic(&head);
        // Small files are decoded in line: a thread per file would cost
        // more than it saves in a folder of many small compressed dumps.
        if !matches!(m, Magic::Gzip | Magic::Xz | Magic::Bzip2 | Magic::Zstd)
            || self.limits.max_depth == 0
            || size.is_some_and(|n| n < AHEAD_MIN)
        {
            self.stream(&mut { peeked }, path, 0, top, size);
            return;
        }
        let dec_name = strip_compression_suffix(path);
        let budget = self.budget.clone();
        std::thread::scope(|scope| {
            let (tx, rx) = mpsc::sync_channel::<io::Result<Vec<u8>>>(AHEAD);
            let (back_tx, back_rx) = mpsc::channel::<Vec<u8>>();
            scope.spawn(move || decode_ahead(m, peeked, &tx, &back_rx));
            let mut r = Ahead::new(rx, back_tx);
            let result = self.decompressed(&mut r, path, &dec_name, 0, budget, top);
            // Dropping the reader stops the decoder at its next chunk.
            drop(r);
            if let Err(e) = result {
                self.notice(path.into(), format!("archive read stopped: {e}"));
            }
        });
    }

    /// One file's bytes: an archive or compressed stream to open, or a
    /// member to keep (by name or content) or drop.
    /// `size`: the byte count where the container says it (tar header,
    /// file size), so a kept member is read into one allocation.
    fn stream(&mut self, r: &mut dyn Read, path: &str, depth: u32, top: bool, size: Option<u64>) {
        // No buffer yet: most members are plain files read whole, and a
        // fresh 64 KiB buffer per member cost 3% of a fleet scan in memset.
        let (head, peeked) = match peek(r, 512) {
            Ok(h) => h,
            Err(e) => {
                self.notice(path.into(), format!("cannot read: {e}"));
                return;
            }
        };
        if let Some(what) = unsupported(&head) {
            self.notice(
                path.into(),
                format!("{what}: not a format this tool reads; unpack it and scan the result"),
            );
            return;
        }
        let m = magic(&head);
        if m != Magic::Other && depth >= self.limits.max_depth {
            self.notice(
                path.into(),
                format!(
                    "archive nested deeper than {} levels: not opened",
                    self.limits.max_depth
                ),
            );
            return;
        }
        if m == Magic::Other {
            self.member(&mut { peeked }, path, size);
            return;
        }
        let mut br = BufReader::with_capacity(64 * 1024, peeked);
        let budget = self.budget.clone();
        let dec_name = strip_compression_suffix(path);
        let result = match m {
            Magic::Gzip | Magic::Xz | Magic::Bzip2 | Magic::Zstd => match decoder(m, br) {
                Ok(mut d) => self.decompressed(&mut d, path, &dec_name, depth, budget, top),
                Err(e) => Err(e),
            },
            Magic::Tar => self.tar(
                &mut Budget {
                    inner: br,
                    left: budget,
                },
                path,
                depth,
                top,
            ),
            Magic::Zip => self.zip(&mut br, path, depth, top),
            // Read above, unbuffered.
            Magic::Other => Ok(()),
        };
        if let Err(e) = result {
            self.notice(path.into(), format!("archive read stopped: {e}"));
        }
    }

    /// A decompressed stream: a tar inside, or a single compressed file.
    fn decompressed(
        &mut self,
        r: &mut dyn Read,
        path: &str,
        inner_name: &str,
        depth: u32,
        budget: Rc<Cell<u64>>,
        top: bool,
    ) -> io::Result<()> {
        // Unbuffered: `r` is a decoder's `Blocks` or the decode-ahead chunks.
        let (head, mut br) = peek(
            Budget {
                inner: r,
                left: budget,
            },
            512,
        )?;
        match magic(&head) {
            Magic::Tar => self.tar(&mut br, path, depth, top),
            Magic::Other => {
                self.member(&mut br, inner_name, None);
                Ok(())
            }
            // A compressed archive of another kind (`.zip.gz`, `.tar.gz.xz`).
            _ => {
                self.stream(&mut br, inner_name, depth + 1, top, None);
                Ok(())
            }
        }
    }

    fn tar(&mut self, r: &mut dyn Read, path: &str, depth: u32, top: bool) -> io::Result<()> {
        if !top {
            self.visitor.unit_start(path);
        }
        let mut ar = tar::Archive::new(r);
        let res = (|| -> io::Result<()> {
            for ent in ar.entries()? {
                let mut ent = ent?;
                let raw = String::from_utf8_lossy(&ent.path_bytes()).to_string();
                let Some((name, full)) = self.member_name(path, &raw) else {
                    continue;
                };
                let kind = ent.header().entry_type();
                if kind.is_dir()
                    || kind.is_pax_global_extensions()
                    || kind.is_pax_local_extensions()
                {
                    continue;
                }
                if kind.is_symlink() || kind.is_hard_link() {
                    let inside = ent.link_name_bytes().is_some_and(|t| {
                        link_stays_inside(&name, &String::from_utf8_lossy(&t), kind.is_hard_link())
                    });
                    if !inside && self.visitor.wants(&full) == Want::Keep {
                        self.notice(full, "link member not followed".into());
                    }
                    continue;
                }
                if !(kind.is_file() || kind.is_contiguous() || kind.is_gnu_sparse()) {
                    self.notice(
                        full,
                        "not a regular file (device or fifo member): skipped".into(),
                    );
                    continue;
                }
                let size = ent.header().size().unwrap_or(0);
                let want = self.visitor.wants(&full);
                let archive_name = looks_like_archive(&name);
                if want == Want::Skip && !archive_name {
                    continue;
                }
                if size > self.limits.cap(want) && !archive_name {
                    let msg = self.limits.over(want, size);
                    self.notice(full, msg);
                    continue;
                }
                self.stream(&mut ent, &full, depth + 1, false, Some(size));
            }
            Ok(())
        })();
        if !top {
            self.visitor.unit_end(path);
        }
        res
    }

    fn zip(&mut self, r: &mut dyn Read, path: &str, depth: u32, top: bool) -> io::Result<()> {
        let mut buf = Vec::new();
        r.take(self.limits.max_zip + 1).read_to_end(&mut buf)?;
        if buf.len() as u64 > self.limits.max_zip {
            return Err(io::Error::other(format!(
                "zip larger than {} bytes",
                self.limits.max_zip
            )));
        }
        let mut z = zip::ZipArchive::new(io::Cursor::new(buf)).map_err(io::Error::other)?;
        if !top {
            self.visitor.unit_start(path);
        }
        let mut names: Vec<(usize, String)> = (0..z.len())
            .filter_map(|i| {
                z.name_for_index(i)
                    .and_then(|n| n.ok())
                    .map(|n| (i, n.to_string()))
            })
            .collect();
        names.sort_by(|a, b| a.1.cmp(&b.1));
        for (i, raw) in names {
            let Some((name, full)) = self.member_name(path, &raw) else {
                continue;
            };
            let mut f = match z.by_index(i) {
                Ok(f) => f,
                Err(e) => {
                    self.notice(full, format!("cannot read member: {e}"));
                    continue;
                }
            };
            if f.is_dir() {
                continue;
            }
            if f.is_symlink() {
                self.notice(full, "link member not followed".into());
                continue;
            }
            let want = self.visitor.wants(&full);
            let archive_name = looks_like_archive(&name);
            if want == Want::Skip && !archive_name {
                continue;
            }
            if f.size() > self.limits.cap(want) && !archive_name {
                let msg = self.limits.over(want, f.size());
                self.notice(full, msg);
                continue;
            }
            let budget = self.budget.clone();
            let size = f.size();
            self.stream(
                &mut Budget {
                    inner: &mut f,
                    left: budget,
                },
                &full,
                depth + 1,
                false,
                Some(size),
            );
        }
        if !top {
            self.visitor.unit_end(path);
        }
        Ok(())
    }

    /// A plain member: kept when its name matters or its content is a dump.
    fn member(&mut self, r: &mut dyn Read, path: &str, size: Option<u64>) {
        let want = self.visitor.wants(path);
        if want == Want::Skip {
            return;
        }
        // Unknown names are only sniffed when small.
        let cap = self.limits.cap(want);
        // One allocation of the announced size (growing cost 5% of
        // discovery); never more than the cap, whatever a header claims.
        let mut data = Vec::with_capacity(size.unwrap_or(0).min(cap) as usize);
        match r.take(cap + 1).read_to_end(&mut data) {
            Ok(_) if data.len() as u64 > cap && want == Want::Sniff => {}
            Ok(_) if data.len() as u64 > cap => {
                let msg = self.limits.over(want, data.len() as u64);
                self.notice(path.into(), msg);
            }
            Ok(_) => self.visitor.entry(Entry {
                path: path.to_string(),
                data,
            }),
            Err(e) => {
                // Keep what was read (a truncated archive's last member).
                self.notice(path.into(), format!("read stopped: {e}"));
                if !data.is_empty() {
                    self.visitor.entry(Entry {
                        path: path.to_string(),
                        data,
                    });
                }
            }
        }
    }
}

/// Reads up to `n` bytes to recognise the stream, then gives them back in
/// front of the rest (decoders and pipes return short reads).
type Peeked<R> = io::Chain<io::Cursor<Vec<u8>>, R>;

fn peek<R: Read>(mut r: R, n: usize) -> io::Result<(Vec<u8>, Peeked<R>)> {
    let mut head = vec![0u8; n];
    let mut got = 0;
    while got < n {
        match r.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(k) => got += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    head.truncate(got);
    let copy = head.clone();
    Ok((copy, io::Cursor::new(head).chain(r)))
}

/// Whether a link at `path` (relative to its bundle or archive) names a
/// file inside it: a relative target that never climbs above the root. A
/// hard link's target is relative to the archive root, a symlink's to its
/// own folder.
fn link_stays_inside(path: &str, target: &str, from_root: bool) -> bool {
    if target.is_empty() || target.starts_with('/') || target.contains('\\') {
        return false;
    }
    let mut parts: Vec<&str> = if from_root {
        Vec::new()
    } else {
        let mut p: Vec<&str> = path.split('/').collect();
        p.pop();
        p
    };
    for c in target.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return false;
                }
            }
            c => parts.push(c),
        }
    }
    !parts.is_empty()
}

fn looks_like_archive(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    [
        ".tar", ".tgz", ".txz", ".tbz", ".tbz2", ".gz", ".xz", ".bz2", ".zst", ".zip", ".tzst",
    ]
    .iter()
    .any(|s| n.ends_with(s))
}

fn strip_compression_suffix(path: &str) -> String {
    for s in [".gz", ".xz", ".bz2", ".zst", ".zstd"] {
        if let Some(p) = path.strip_suffix(s) {
            return p.to_string();
        }
    }
    path.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Everything a decoder yields, then its error (if any) and what a
    /// read after the error gives, read directly or through the
    /// decode-ahead thread.
    fn drain(r: &mut dyn Read) -> (Vec<u8>, Option<String>) {
        let mut out = Vec::new();
        let mut buf = vec![0; 7000];
        loop {
            match r.read(&mut buf) {
                Ok(0) => return (out, None),
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) => {
                    let again = r.read(&mut buf).map_err(|e| e.to_string());
                    return (out, Some(format!("{e}, then {again:?}")));
                }
            }
        }
    }

    #[test]
    fn decoding_ahead_gives_the_same_bytes_and_error() {
        use std::io::Write;
        // Several chunks of text that does not compress to nothing.
        let text: Vec<u8> = (0..200_000u32)
            .flat_map(|i| {
                format!(
                    "10.{}.{}.0/24 dev eth{} proto kernel\n",
                    i % 251,
                    i % 241,
                    i % 7
                )
                .into_bytes()
            })
            .collect();
        assert!(text.len() > 4 * CHUNK * AHEAD);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&text).unwrap();
        let gz = gz.finish().unwrap();
        for cut in [gz.len(), gz.len() * 2 / 3, 30, 5] {
            let input = &gz[..cut];
            let direct = drain(&mut decoder(Magic::Gzip, BufReader::new(input)).unwrap());
            let ahead = std::thread::scope(|scope| {
                let (tx, rx) = mpsc::sync_channel(AHEAD);
                let (back_tx, back_rx) = mpsc::channel();
                scope.spawn(move || decode_ahead(Magic::Gzip, input, &tx, &back_rx));
                drain(&mut Ahead::new(rx, back_tx))
            });
            assert_eq!(ahead.0.len(), direct.0.len(), "cut at {cut}");
            assert!(ahead.0 == direct.0, "cut at {cut}: same bytes");
            assert_eq!(ahead.1, direct.1, "cut at {cut}: same error");
            assert_eq!(cut < gz.len(), ahead.1.is_some(), "cut at {cut}");
            if cut == gz.len() {
                assert!(ahead.0 == text);
            }
        }
    }

    #[test]
    fn a_reader_that_stops_early_stops_the_decoder() {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&vec![b'x'; 64 * CHUNK]).unwrap();
        let gz = gz.finish().unwrap();
        std::thread::scope(|scope| {
            let (tx, rx) = mpsc::sync_channel(AHEAD);
            let (back_tx, back_rx) = mpsc::channel();
            let dec = scope.spawn(move || decode_ahead(Magic::Gzip, &gz[..], &tx, &back_rx));
            let mut r = Ahead::new(rx, back_tx);
            let mut one = [0u8; 10];
            r.read_exact(&mut one).unwrap();
            drop(r);
            // Joins (the scope would hang otherwise) without decoding it all.
            dec.join().unwrap();
        });
    }

    #[test]
    fn names() {
        assert_eq!(clean_member_name("./a/b"), Some("a/b".into()));
        assert_eq!(clean_member_name("/etc/passwd"), Some("etc/passwd".into()));
        assert_eq!(clean_member_name("a/../../b"), None);
        assert_eq!(clean_member_name("./"), None);
    }

    #[test]
    fn links() {
        assert!(link_stays_inside(
            "sos/hostname",
            "sos_commands/host/hostname",
            false
        ));
        assert!(link_stays_inside("a/b/c", "../d", false));
        assert!(!link_stays_inside("a/b", "../../etc/shadow", false));
        assert!(!link_stays_inside("a/b", "/etc/shadow", false));
        assert!(link_stays_inside("a/b", "a/c", true));
        assert!(!link_stays_inside("a/b", "../c", true));
    }

    #[test]
    fn magics() {
        assert_eq!(magic(&[0x1f, 0x8b, 8]), Magic::Gzip);
        assert_eq!(magic(b"\xfd7zXZ\0rest"), Magic::Xz);
        assert_eq!(magic(b"BZh91AY"), Magic::Bzip2);
        assert_eq!(magic(b"PK\x03\x04"), Magic::Zip);
        assert_eq!(magic(b"default via 10.0.0.1"), Magic::Other);
    }
}
