//! Reading a bundle: a directory, an archive (tar, gzip, xz, bzip2, zstd, zip
//! — recognised by content, not name) or stdin, with archives nested inside
//! archives or folders opened to a bounded depth. Archives are streamed in
//! memory, front to back, once; nothing is extracted and member names are
//! never used as filesystem paths. Only members that can matter (by name, or
//! by content for unknown names) are kept, each under a size cap, and the
//! total decompressed volume is capped against archive bombs.

pub use super::decode::SizeHint;
pub use super::magic::{Magic, magic, unsupported};

use super::decode::{AHEAD, AHEAD_MIN, Ahead, Budget, Left, decode_ahead, decoder};
use super::tarfile::{Kind, Tar};
use std::io::{self, BufReader, Read};
use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, mpsc};

/// A kept member: its path inside the bundle and its bytes.
#[derive(Debug, Clone)]
pub struct Entry {
    /// `/`-separated, relative to the bundle root; archive members appear
    /// under the archive's own path (`fleet.tar.gz/i-0abc/ip_addr.txt`).
    pub path: String,
    pub data: Vec<u8>,
}

/// An entry of a folder's walk: a path and its type (links not followed),
/// or what could not be read (where, and walkdir's words for it).
pub(super) enum Walked {
    Entry(std::path::PathBuf, std::fs::FileType),
    Error(Option<std::path::PathBuf>, String),
}

impl From<Result<walkdir::DirEntry, walkdir::Error>> for Walked {
    fn from(r: Result<walkdir::DirEntry, walkdir::Error>) -> Self {
        match r {
            Ok(e) => {
                let ft = e.file_type();
                Walked::Entry(e.into_path(), ft)
            }
            Err(e) => Walked::Error(e.path().map(Path::to_path_buf), e.to_string()),
        }
    }
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
    /// The most bytes of a member read for `want` before it is looked at:
    /// a known dump may be as large as a full routing table; an unknown
    /// name is sniffed from its first 4 MiB at most.
    pub fn cap(&self, want: Want) -> u64 {
        match want {
            Want::Keep => self.most(want),
            Want::Sniff => self.max_member.min(4 << 20),
            Want::Skip => self.max_member,
        }
    }

    /// The most bytes of a member kept for `want`: an unknown name whose
    /// first bytes are a capture (`Visitor::read_on`) as much as a dump.
    pub fn most(&self, want: Want) -> u64 {
        match want {
            Want::Keep | Want::Sniff => self.max_dump.max(self.max_member),
            Want::Skip => self.max_member,
        }
    }

    /// What is said of a capture of `size` bytes over its cap.
    fn over(&self, size: u64) -> String {
        let cap = self.most(Want::Keep);
        format!(
            "{size} bytes, over the {} MiB a dump may have (about {} million routes): not read, so this host is analysed without it",
            cap >> 20,
            cap / 75 / 1_000_000
        )
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
    /// A member of the top-level archive, offered before it is read, with
    /// the depth and size `Reader::stream` would be given: a visitor that
    /// has it read elsewhere (another thread, see `fan`) takes it.
    fn take_member(
        &mut self,
        _r: &mut dyn Read,
        _path: &str,
        _depth: u32,
        _size: Option<u64>,
        _left: &Left,
    ) -> bool {
        false
    }
    /// The top-level folder, offered before it is walked: a visitor that
    /// walks it elsewhere takes it.
    fn take_walk(&mut self, _root: &Path) -> bool {
        false
    }
    /// Whether a member of an unknown name (`Want::Sniff`), larger than
    /// `Limits::cap` lets a sniff read, is worth reading whole, from its
    /// first `head` bytes.
    fn read_on(&mut self, _path: &str, _head: &[u8]) -> bool {
        false
    }
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

pub struct Reader<'v, V: Visitor> {
    pub limits: Limits,
    visitor: &'v mut V,
    budget: Left,
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        return name.to_string();
    }
    // Not `format!`: this names every member of every archive.
    let mut s = String::with_capacity(prefix.len() + 1 + name.len());
    s.push_str(prefix);
    s.push('/');
    s.push_str(name);
    s
}

/// Strips `./` and leading `/`; `None` for names that climb (`..`).
pub fn clean_member_name(name: &str) -> Option<std::borrow::Cow<'_, str>> {
    // Most names are clean already: no parts to gather and join. Clean
    // means no backslash, no leading or trailing `/`, and no part that is
    // empty or starts with `.` (which covers `.` and `..`, and leaves
    // hidden files to the general case below).
    let b = name.as_bytes();
    let clean = b.first().is_some_and(|&c| c != b'.' && c != b'/')
        && b.last() != Some(&b'/')
        && memchr::memchr(b'\\', b).is_none()
        && memchr::memchr_iter(b'/', b).all(|i| !matches!(b.get(i + 1), Some(b'/' | b'.')));
    if clean {
        return Some(name.into());
    }
    let mut parts = Vec::new();
    for p in name.split(['/', '\\']) {
        match p {
            "" | "." => {}
            ".." => return None,
            p => parts.push(p),
        }
    }
    (!parts.is_empty()).then(|| parts.join("/").into())
}

impl<'v, V: Visitor> Reader<'v, V> {
    pub fn new(visitor: &'v mut V, limits: Limits) -> Self {
        let budget = Arc::new(AtomicU64::new(limits.max_total));
        Reader {
            limits,
            visitor,
            budget,
        }
    }

    /// A reader that counts decompressed bytes against `budget`, shared
    /// with the other threads reading the same input.
    pub(super) fn with_budget(visitor: &'v mut V, limits: Limits, budget: Left) -> Self {
        Reader {
            limits,
            visitor,
            budget,
        }
    }

    /// Reads a directory, an archive file, or `-` (stdin).
    pub fn read_path(&mut self, path: &Path) -> io::Result<()> {
        self.reset_budget();
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
            if !self.visitor.take_walk(path) {
                self.walk(path);
            }
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
        self.reset_budget();
        self.visitor.unit_start(name);
        self.stream_file(r, name, true);
        self.visitor.unit_end(name);
    }

    /// A fresh budget: each top-level input, and each file of a folder,
    /// may decompress `max_total` bytes.
    fn reset_budget(&mut self) {
        self.budget = Arc::new(AtomicU64::new(self.limits.max_total));
    }

    fn walk(&mut self, root: &Path) {
        let walker = walkdir::WalkDir::new(root)
            .follow_links(false)
            .sort_by_file_name()
            .into_iter();
        for ent in walker {
            self.walk_entry(root, ent.into());
        }
    }

    /// One entry of a folder walk under `root` (the bundle's top folder),
    /// in the walk's order: a file is read; folders are walked into.
    pub(super) fn walk_entry(&mut self, root: &Path, ent: Walked) {
        let (path, ft) = match ent {
            Walked::Entry(path, ft) => (path, ft),
            Walked::Error(path, e) => {
                let file = path
                    .as_deref()
                    .and_then(|p| p.strip_prefix(root).ok())
                    .map(|p| p.display().to_string())
                    .unwrap_or_default();
                self.notice(file, format!("cannot read: {e}"));
                return;
            }
        };
        let rel = path
            .strip_prefix(root)
            .unwrap_or(&path)
            .to_string_lossy()
            .replace('\\', "/");
        if rel.is_empty() {
            return;
        }
        if ft.is_dir() {
            return;
        }
        if ft.is_symlink() {
            // A link may point outside the bundle: never followed. One
            // that stays inside (sos's root `hostname`, `ip_addr`, …)
            // names a file read on its own: nothing is lost.
            let inside = std::fs::read_link(&path)
                .is_ok_and(|t| link_stays_inside(&rel, &t.to_string_lossy(), false));
            if !inside && self.visitor.wants(&rel) == Want::Keep {
                self.notice(rel, "symbolic link not followed".into());
            }
            return;
        }
        if !ft.is_file() {
            self.notice(
                rel,
                "not a regular file (device, fifo or socket): skipped".into(),
            );
            return;
        }
        let f = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) => {
                self.notice(rel, format!("cannot read: {e}"));
                return;
            }
        };
        self.reset_budget();
        self.stream_file(f, &rel, false);
    }

    /// A member's full path in the bundle and where its clean name starts
    /// in it (the name is the path's tail: one allocation a member, not
    /// two); `None` (and a notice) for names that climb out of the archive.
    fn member_name(&mut self, archive: &str, raw: &str) -> Option<(String, usize)> {
        match clean_member_name(raw) {
            Some(name) => {
                let full = join(archive, &name);
                let at = full.len() - name.len();
                Some((full, at))
            }
            // A name of no parts (`./`, which `tar -C dir .` writes
            // first) is the archive's own folder: nothing to tell.
            None if !raw.split(['/', '\\']).any(|p| p == "..") => None,
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
            std::thread::Builder::new()
                .name("decoder".into())
                .spawn_scoped(scope, move || decode_ahead(m, peeked, &tx, &back_rx))
                .expect("a decoder thread");
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
    pub(super) fn stream(
        &mut self,
        r: &mut dyn Read,
        path: &str,
        depth: u32,
        top: bool,
        size: Option<u64>,
    ) {
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
            Magic::Tar => self.tar(&mut Budget::new(br, budget), path, depth, top),
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
        budget: Left,
        top: bool,
    ) -> io::Result<()> {
        // Unbuffered: `r` is a decoder's `Blocks` or the decode-ahead chunks.
        let (head, mut br) = peek(Budget::new(r, budget), 512)?;
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
        let mut ar = Tar::new(r);
        let res = (|| -> io::Result<()> {
            while let Some(head) = ar.next()? {
                let named = match std::str::from_utf8(ar.path()) {
                    Ok(raw) => self.member_name(path, raw),
                    Err(_) => self.member_name(path, &String::from_utf8_lossy(ar.path())),
                };
                let Some((full, at)) = named else {
                    continue;
                };
                let name = &full[at..];
                let size = head.size;
                match head.kind {
                    Kind::File => {}
                    Kind::Dir | Kind::PaxHeader => continue,
                    Kind::Symlink | Kind::HardLink => {
                        let hard = head.kind == Kind::HardLink;
                        let target = String::from_utf8_lossy(ar.link());
                        if !link_stays_inside(name, &target, hard)
                            && self.visitor.wants(&full) == Want::Keep
                        {
                            self.notice(full, "link member not followed".into());
                        }
                        continue;
                    }
                    Kind::Sparse => {
                        if self.visitor.wants(&full) == Want::Keep {
                            self.notice(full, "sparse member (GNU): not read".into());
                        }
                        continue;
                    }
                    Kind::Other(_) => {
                        self.notice(
                            full,
                            "not a regular file (device or fifo member): skipped".into(),
                        );
                        continue;
                    }
                }
                let want = self.visitor.wants(&full);
                let archive_name = looks_like_archive(name);
                if want == Want::Skip && !archive_name {
                    continue;
                }
                // A sniffed name is looked at first (`member`).
                if want == Want::Keep && size > self.limits.most(want) && !archive_name {
                    let msg = self.limits.over(size);
                    self.notice(full, msg);
                    continue;
                }
                let body = &mut ar.body();
                // A member of the top-level archive may be read on
                // another thread (a fleet of per-host archives).
                if top
                    && self
                        .visitor
                        .take_member(body, &full, depth + 1, Some(size), &self.budget)
                {
                    continue;
                }
                if want != Want::Skip && size <= WHOLE_MAX.min(self.limits.cap(want)) {
                    self.whole(body, full, depth + 1, size);
                } else {
                    self.stream(body, &full, depth + 1, false, Some(size));
                }
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
            let Some((full, at)) = self.member_name(path, &raw) else {
                continue;
            };
            let name = &full[at..];
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
            let archive_name = looks_like_archive(name);
            if want == Want::Skip && !archive_name {
                continue;
            }
            if want == Want::Keep && f.size() > self.limits.most(want) && !archive_name {
                let msg = self.limits.over(f.size());
                self.notice(full, msg);
                continue;
            }
            let budget = self.budget.clone();
            let size = f.size();
            self.stream(
                &mut Budget::new(&mut f, budget),
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
    /// A small member that may matter, read whole before it is looked at:
    /// `stream` on it gives the same, but for a plain file costs two
    /// 512-byte sniffing buffers, a chained reader, a second `wants` and a
    /// copy of the path (a Kubernetes node's sosreport has 17,000 such
    /// members). A nested archive, or a member whose read failed, goes on
    /// to `stream` from memory, the failure replayed where it happened.
    fn whole(&mut self, r: &mut dyn Read, path: String, depth: u32, size: u64) {
        let mut data = Vec::with_capacity(size as usize);
        let read = r.take(size).read_to_end(&mut data);
        let head = &data[..data.len().min(512)];
        match read {
            Ok(_) if magic(head) == Magic::Other && unsupported(head).is_none() => {
                self.visitor.entry(Entry { path, data })
            }
            read => {
                let mut replay = io::Cursor::new(data).chain(Failed(read.err()));
                self.stream(&mut replay, &path, depth, false, Some(size));
            }
        }
    }

    fn member(&mut self, r: &mut dyn Read, path: &str, size: Option<u64>) {
        let want = self.visitor.wants(path);
        if want == Want::Skip {
            return;
        }
        let cap = self.limits.cap(want);
        // One allocation of the announced size (growing cost 5% of
        // discovery); never more than the cap, whatever a header claims.
        let mut data = Vec::with_capacity(size.unwrap_or(0).min(cap) as usize);
        let mut read = r.take(cap + 1).read_to_end(&mut data);
        // An unknown name past its sniffing cap: read on when its first
        // bytes are a capture (a long transcript), else passed over.
        if want == Want::Sniff && read.is_ok() && data.len() as u64 > cap {
            if !self.visitor.read_on(path, &data) {
                return;
            }
            let most = self.limits.most(want);
            if let Some(n) = size.filter(|&n| n > most) {
                self.notice(path.into(), self.limits.over(n));
                return;
            }
            data.reserve(
                size.unwrap_or(0)
                    .min(most)
                    .saturating_sub(data.len() as u64) as usize,
            );
            read = r.take(most + 1 - data.len() as u64).read_to_end(&mut data);
        }
        match read {
            Ok(_) if data.len() as u64 > self.limits.most(want) => {
                let msg = self.limits.over(data.len() as u64);
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

/// Largest member `Reader::whole` reads before looking at it.
const WHOLE_MAX: u64 = 64 * 1024;

/// A read that fails once with the error a member's read stopped on, then
/// ends.
struct Failed(Option<io::Error>);

impl Read for Failed {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        self.0.take().map_or(Ok(0), Err)
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

pub(super) fn looks_like_archive(name: &str) -> bool {
    [
        ".tar", ".tgz", ".txz", ".tbz", ".tbz2", ".gz", ".xz", ".bz2", ".zst", ".zip", ".tzst",
    ]
    .iter()
    .any(|s| super::plain::ends_ci(name, s))
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

    /// Records what a reader finds: `ip` names are kept, others sniffed.
    #[derive(Default)]
    struct Rec {
        entries: Vec<(String, Vec<u8>)>,
        notices: Vec<String>,
    }

    impl Visitor for Rec {
        fn wants(&mut self, path: &str) -> Want {
            if path.contains("ip") {
                Want::Keep
            } else {
                Want::Sniff
            }
        }
        fn read_on(&mut self, _path: &str, head: &[u8]) -> bool {
            head.starts_with(b"$ ip")
        }
        fn entry(&mut self, e: Entry) {
            self.entries.push((e.path, e.data));
        }
        fn notice(&mut self, n: Notice) {
            self.notices.push(format!("{}: {}", n.file, n.message));
        }
    }

    fn tar_of(members: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, body) in members {
            let mut h = tar::Header::new_gnu();
            h.set_size(body.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            b.append_data(&mut h, name, *body).unwrap();
        }
        b.into_inner().unwrap()
    }

    /// A stream that fails (as a corrupt decoder would) after `ok` bytes.
    struct FailAt<'a>(&'a [u8], usize);

    impl Read for FailAt<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.1 == 0 {
                return Err(io::Error::other("boom"));
            }
            let n = buf.len().min(self.1).min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            self.1 -= n;
            Ok(n)
        }
    }

    fn gz(b: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        io::Write::write_all(&mut e, b).unwrap();
        e.finish().unwrap()
    }

    fn read_tar(r: &mut dyn Read) -> Rec {
        let mut rec = Rec::default();
        Reader::new(&mut rec, Limits::default()).stream(r, "b.tar", 0, false, None);
        rec
    }

    #[test]
    fn small_members_read_whole_as_streamed() {
        // A small archive without an archive's name is still opened; a
        // member over `WHOLE_MAX` is streamed; an empty one is kept.
        let inner = tar_of(&[("ip_route.txt", b"default via 10.0.0.1 dev eth0\n")]);
        let packed = gz(&inner);
        let big = vec![b'x'; WHOLE_MAX as usize + 1];
        let outer = tar_of(&[
            ("h/ip_addr.txt", b"1: lo: <LOOPBACK>\n"),
            ("h/blob", &packed),
            ("h/ip_big.txt", &big),
            ("h/ip_empty", b""),
        ]);
        let rec = read_tar(&mut &outer[..]);
        assert_eq!(rec.notices, Vec::<String>::new());
        let got: Vec<(&str, usize)> = rec
            .entries
            .iter()
            .map(|(p, d)| (p.as_str(), d.len()))
            .collect();
        assert_eq!(
            got,
            [
                ("b.tar/h/ip_addr.txt", 18),
                ("b.tar/h/blob/ip_route.txt", 30),
                ("b.tar/h/ip_big.txt", big.len()),
                ("b.tar/h/ip_empty", 0),
            ]
        );
    }

    #[test]
    fn a_large_unknown_file_is_read_when_its_head_is_a_capture() {
        // Sniffed names are read up to `max_member` (1,000 bytes here); past
        // that, on to a dump's cap if the visitor says their head is a
        // capture (`Rec`: a head starting `$ ip`), else passed over silently.
        let limits = Limits {
            max_member: 1000,
            max_dump: 5000,
            ..Limits::default()
        };
        let mut capture = b"$ ip route\n".to_vec();
        capture.resize(3000, b'x');
        let other = vec![b'x'; 3000];
        let big = [&capture[..], &[b'x'; 3000]].concat();
        let outer = tar_of(&[
            ("h/t.txt", &capture),
            ("h/log", &other),
            ("h/big.txt", &big),
        ]);
        let packed = gz(&outer);
        // In an archive (sizes known up front) and compressed (read on to
        // find the size): the same.
        for (bytes, name) in [(&outer, "b.tar"), (&packed, "b.tar.gz")] {
            let mut rec = Rec::default();
            Reader::new(&mut rec, limits.clone()).read_stream(&bytes[..], name);
            assert_eq!(rec.entries, [(format!("{name}/h/t.txt"), capture.clone())]);
            assert_eq!(
                rec.notices,
                [format!(
                    "{name}/h/big.txt: 6000 bytes, over the 0 MiB a dump may have (about 0 million routes): not read, so this host is analysed without it"
                )]
            );
        }
        // A file named on its own, plain or compressed.
        let packed = gz(&capture);
        for (bytes, name) in [(&capture, "t.txt"), (&packed, "t.txt.gz")] {
            let mut rec = Rec::default();
            Reader::new(&mut rec, limits.clone()).read_stream(&bytes[..], name);
            assert_eq!(rec.entries, [("t.txt".to_string(), capture.clone())]);
        }
    }

    #[test]
    fn a_failed_member_read_is_told_where_it_failed() {
        let body: Vec<u8> = (0..2000u32).map(|i| b'a' + (i % 26) as u8).collect();
        let outer = tar_of(&[("h/ip_cut.txt", &body)]);
        // Past the first 512 bytes: what was read is kept, and told.
        let rec = read_tar(&mut FailAt(&outer, 512 + 1000));
        assert_eq!(
            rec.entries,
            [("b.tar/h/ip_cut.txt".to_string(), body[..1000].to_vec())]
        );
        assert_eq!(rec.notices[0], "b.tar/h/ip_cut.txt: read stopped: boom");
        // Within them: the member cannot be recognised, and is not kept.
        let rec = read_tar(&mut FailAt(&outer, 512 + 100));
        assert!(rec.entries.is_empty());
        assert_eq!(rec.notices[0], "b.tar/h/ip_cut.txt: cannot read: boom");
    }

    #[test]
    fn names() {
        assert_eq!(clean_member_name("./a/b"), Some("a/b".into()));
        assert_eq!(clean_member_name("/etc/passwd"), Some("etc/passwd".into()));
        assert_eq!(clean_member_name("a/../../b"), None);
        assert_eq!(clean_member_name("./"), None);
        assert_eq!(clean_member_name(""), None);
        // The clean names' shortcut, and what it must leave to the rest.
        assert_eq!(clean_member_name("a/b"), Some("a/b".into()));
        assert_eq!(clean_member_name("..a/b.."), Some("..a/b..".into()));
        assert_eq!(clean_member_name("a//b/"), Some("a/b".into()));
        assert_eq!(clean_member_name("a/./b"), Some("a/b".into()));
        assert_eq!(clean_member_name("a\\b"), Some("a/b".into()));
        assert_eq!(clean_member_name("a/.."), None);
        assert_eq!(clean_member_name(".../.a/b."), Some(".../.a/b.".into()));
        assert_eq!(clean_member_name("a/."), Some("a".into()));
        assert_eq!(clean_member_name("../a"), None);
    }

    #[test]
    fn an_archives_own_folder_is_not_a_climb() {
        // `tar -C dir .` writes `./` first; `..` is told.
        let mut b = tar::Builder::new(Vec::new());
        for (name, dir) in [("./", true), ("./h/ip_addr.txt", false), ("../x", false)] {
            let mut h = tar::Header::new_gnu();
            h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
            h.set_entry_type(if dir {
                tar::EntryType::Directory
            } else {
                tar::EntryType::Regular
            });
            h.set_size(if dir { 0 } else { 4 });
            h.set_mode(0o644);
            h.set_cksum();
            b.append(&h, if dir { &b""[..] } else { &b"1: x"[..] })
                .unwrap();
        }
        let rec = read_tar(&mut &b.into_inner().unwrap()[..]);
        assert_eq!(
            rec.notices,
            ["b.tar/../x: member name climbs out of the archive (`..`): skipped"]
        );
        assert_eq!(rec.entries.len(), 1);
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
}
