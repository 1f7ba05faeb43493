//! Reading one input on several threads (issue 14): the files of a folder,
//! and the archives inside a top-level archive (a tar of per-host
//! sosreports), are opened, decoded and walked by `threads` reader threads
//! at once, while one thread, the caller's, groups what they found into
//! hosts.
//!
//! Host grouping depends on the order members come in (a host is released
//! when the walk leaves its folder; an ec2rl run takes the sosreport it
//! gathered; notices go to the host that holds the file). So the readers
//! do not group: each records what it saw (`Event`: a kept member, already
//! classified, a notice, an archive's start and end) and the caller replays
//! the records into the one `Grouper` in the order of the sequential walk.
//! The grouper sees the very events `Reader` would have given it on one
//! thread, so hosts, ids and notices are the same by construction; what
//! runs in parallel is the costly part: opening and reading files,
//! decompressing, walking archives, and recognising each member. One
//! exception: where the archives inside a top-level archive together go
//! over its decompressed-size budget (shared, `Limits::max_total`), which
//! of them is cut short depends on the readers' timing.
//!
//! Memory stays bounded: at most `8 × threads` pieces of work are between
//! the thread that lists the input and the grouper, each reader sends its
//! records in slices of at most `SLICE` bytes through a channel of two, and
//! an archive handed to a reader travels in chunks, a few at a time.
//!
//! Threads: one lists the input (walks the top folder's first levels, or
//! reads the top-level archive), `threads` readers, and the caller,
//! grouping. A large compressed file is decoded a chunk ahead on a thread of
//! its own, as on one thread: the same reads, so the same bytes where a
//! budget or a cap cuts a member short.

use super::decode::{AHEAD, Ahead, CHUNK, Left, fill_chunk};
use super::layout::{GroupedHost, Grouper, Placed, classify, read_on, want_of};
use super::source::{Entry, Limits, Notice, Reader, Visitor, Walked, Want, looks_like_archive};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};

/// What a reader saw, in its order, for the grouper to replay.
enum Event {
    Entry(Entry, Placed),
    Notice(Notice),
    UnitStart(String),
    UnitEnd(String),
}

/// One piece of the input's records, in the walk's order: recorded already
/// (by the listing thread), or being recorded by a reader.
enum Slot {
    Ready(Vec<Event>),
    Pending(Receiver<Msg>),
}

enum Msg {
    Events(Vec<Event>),
    /// A reader's panic, carried to the caller (a reader bug then costs
    /// the rest of this input, as on one thread).
    Panicked(Box<dyn std::any::Any + Send>),
}

/// Work for a reader thread.
enum Work {
    /// Consecutive pieces of the walk of the folder given.
    Walk(Arc<Path>, Vec<Piece>),
    /// A member of the top-level archive: its bytes, in chunks.
    Member {
        path: String,
        depth: u32,
        size: Option<u64>,
        data: Receiver<io::Result<Vec<u8>>>,
        left: Left,
    },
}

/// A piece of a folder's walk.
enum Piece {
    /// An entry of a folder's listing: a file, a link, an error.
    Entry(Walked),
    /// A folder, walked whole, sorted, as the whole walk would.
    Folder(PathBuf),
}

impl Piece {
    /// About how much reading it is, in small files: one hand-over per
    /// small file would cost more than reading it, and too few pieces
    /// would leave readers idle.
    fn weight(&self) -> usize {
        match self {
            Piece::Entry(Walked::Entry(p, _)) if looks_like_archive(&p.to_string_lossy()) => 16,
            Piece::Entry(_) => 1,
            Piece::Folder(_) => 16,
        }
    }
}

struct Job {
    work: Work,
    out: SyncSender<Msg>,
}

/// Records are sent in slices of about this many bytes of kept members.
const SLICE: usize = 256 * 1024;
/// Records per slice, at most (notices, members dropped unread).
const SLICE_EVENTS: usize = 1024;
/// Pieces of a walk go to a reader in groups of this weight (`Piece::weight`):
/// 64 small files, or 4 folders or archives.
const WALK_JOB: usize = 64;
/// Members of the top-level archive this large, or named like archives,
/// are read on a reader thread; smaller ones on the listing thread.
const MEMBER_AWAY: u64 = 1 << 20;

/// Where a recorder's slices go, and what else it does with the input.
trait Out: Sized {
    /// `false` once nobody listens (the grouper stopped): stop recording.
    fn send(&mut self, events: Vec<Event>) -> bool;

    /// See `Visitor::take_member`.
    fn take_member(
        _rec: &mut Recorder<Self>,
        _r: &mut dyn Read,
        _path: &str,
        _depth: u32,
        _size: Option<u64>,
        _left: &Left,
    ) -> bool {
        false
    }

    /// See `Visitor::take_walk`.
    fn take_walk(_rec: &mut Recorder<Self>, _root: &Path) -> bool {
        false
    }
}

/// A visitor that records instead of grouping.
struct Recorder<O: Out> {
    events: Vec<Event>,
    bytes: usize,
    out: O,
    stopped: bool,
}

impl<O: Out> Recorder<O> {
    fn new(out: O) -> Self {
        Recorder {
            events: Vec::new(),
            bytes: 0,
            out,
            stopped: false,
        }
    }

    fn push(&mut self, e: Event) {
        if self.stopped {
            return;
        }
        if let Event::Entry(en, _) = &e {
            self.bytes += en.data.len();
        }
        self.events.push(e);
        if self.bytes >= SLICE || self.events.len() >= SLICE_EVENTS {
            self.flush();
        }
    }

    fn flush(&mut self) {
        self.bytes = 0;
        if !self.events.is_empty() && !self.stopped {
            self.stopped = !self.out.send(std::mem::take(&mut self.events));
        }
    }
}

impl<O: Out> Visitor for Recorder<O> {
    fn wants(&mut self, path: &str) -> Want {
        if self.stopped {
            return Want::Skip;
        }
        let (want, told) = want_of(path);
        if let Some(n) = told {
            self.push(Event::Notice(n));
        }
        want
    }

    fn read_on(&mut self, path: &str, head: &[u8]) -> bool {
        !self.stopped && read_on(path, head)
    }

    fn entry(&mut self, e: Entry) {
        if let Some(p) = classify(&e) {
            self.push(Event::Entry(e, p));
        }
    }

    fn notice(&mut self, n: Notice) {
        self.push(Event::Notice(n));
    }

    fn unit_start(&mut self, path: &str) {
        self.push(Event::UnitStart(path.to_string()));
    }

    fn unit_end(&mut self, path: &str) {
        self.push(Event::UnitEnd(path.to_string()));
    }

    fn take_member(
        &mut self,
        r: &mut dyn Read,
        path: &str,
        depth: u32,
        size: Option<u64>,
        left: &Left,
    ) -> bool {
        O::take_member(self, r, path, depth, size, left)
    }

    fn take_walk(&mut self, root: &Path) -> bool {
        O::take_walk(self, root)
    }
}

/// A reader thread's records go to the grouper through its job's channel.
struct ToGrouper<'a>(&'a SyncSender<Msg>);

impl Out for ToGrouper<'_> {
    fn send(&mut self, events: Vec<Event>) -> bool {
        self.0.send(Msg::Events(events)).is_ok()
    }
}

/// The listing thread: its own records go straight into the order, and it
/// hands work out.
struct Lister<'a> {
    order: &'a SyncSender<Slot>,
    jobs: &'a SyncSender<Job>,
    threads: usize,
}

impl Out for Lister<'_> {
    fn send(&mut self, events: Vec<Event>) -> bool {
        self.order.send(Slot::Ready(events)).is_ok()
    }

    fn take_member(
        rec: &mut Recorder<Self>,
        r: &mut dyn Read,
        path: &str,
        depth: u32,
        size: Option<u64>,
        left: &Left,
    ) -> bool {
        if rec.stopped {
            // Nobody listens: skipped unread.
            return true;
        }
        if !(looks_like_archive(path) || size.is_some_and(|n| n >= MEMBER_AWAY)) {
            return false;
        }
        let (data_tx, data) = sync_channel(AHEAD);
        let work = Work::Member {
            path: path.to_string(),
            depth,
            size,
            data,
            left: left.clone(),
        };
        if !hand(rec, work) {
            return true;
        }
        // The member's bytes, a chunk at a time; an error after the bytes
        // read before it, as the reader would have met it. A reader that
        // stops early (a cap) drops its end: the rest is skipped unread.
        loop {
            let mut buf = Vec::new();
            let (got, failed) = fill_chunk(r, &mut buf);
            if got > 0 && data_tx.send(Ok(buf)).is_err() {
                return true;
            }
            if let Some(e) = failed {
                let _ = data_tx.send(Err(e));
                return true;
            }
            if got < CHUNK {
                return true;
            }
        }
    }

    fn take_walk(rec: &mut Recorder<Self>, root: &Path) -> bool {
        let root: Arc<Path> = Arc::from(root);
        expand(rec, &root, &root, 0);
        true
    }
}

/// Hands `work` to a reader; its records take their place in the order.
/// `false` once nobody listens.
fn hand(rec: &mut Recorder<Lister>, work: Work) -> bool {
    rec.flush();
    if rec.stopped {
        return false;
    }
    let (tx, rx) = sync_channel(2);
    if rec.out.order.send(Slot::Pending(rx)).is_err()
        || rec.out.jobs.send(Job { work, out: tx }).is_err()
    {
        rec.stopped = true;
    }
    !rec.stopped
}

/// Lists `dir` (sorted, as the whole walk would) and hands its entries
/// out, in groups: files, and folders whole, or listed in turn where there
/// are too few of them to keep the readers busy.
fn expand(rec: &mut Recorder<Lister>, root: &Arc<Path>, dir: &Path, level: u32) {
    let ents = list(dir);
    let is_dir = |e: &Walked| matches!(e, Walked::Entry(_, ft) if ft.is_dir());
    let folders = ents.iter().filter(|e| is_dir(e)).count();
    let split = level < 3 && folders < 4 * rec.out.threads;
    let mut group = Vec::new();
    let mut weight = 0;
    for ent in ents {
        if rec.stopped {
            return;
        }
        let piece = match ent {
            Walked::Entry(path, ft) if ft.is_dir() => {
                if split {
                    if !group.is_empty() {
                        hand(rec, Work::Walk(root.clone(), std::mem::take(&mut group)));
                        weight = 0;
                    }
                    expand(rec, root, &path, level + 1);
                    continue;
                }
                Piece::Folder(path)
            }
            ent => Piece::Entry(ent),
        };
        weight += piece.weight();
        group.push(piece);
        if weight >= WALK_JOB {
            hand(rec, Work::Walk(root.clone(), std::mem::take(&mut group)));
            weight = 0;
        }
    }
    if !group.is_empty() {
        hand(rec, Work::Walk(root.clone(), group));
    }
}

/// One folder's entries as walkdir lists them in a sorted walk, without
/// opening the folders among them (walkdir opens and reads every folder it
/// meets, even past its `max_depth`): errors first, then by file name;
/// errors worded as walkdir words them.
fn list(dir: &Path) -> Vec<Walked> {
    let io = |p: &Path, e: io::Error| {
        let what = format!("IO error for operation on {}: {e}", p.display());
        Walked::Error(Some(p.to_path_buf()), what)
    };
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) => return vec![io(dir, e)],
    };
    let mut ents: Vec<Walked> = rd
        .map(|ent| match ent {
            Ok(ent) => {
                let path = ent.path();
                match ent.file_type() {
                    Ok(ft) => Walked::Entry(path, ft),
                    Err(e) => io(&path, e),
                }
            }
            Err(e) => Walked::Error(None, e.to_string()),
        })
        .collect();
    ents.sort_by(|a, b| match (a, b) {
        (Walked::Entry(a, _), Walked::Entry(b, _)) => {
            fn name(p: &Path) -> &std::ffi::OsStr {
                p.file_name().unwrap_or(p.as_os_str())
            }
            name(a).cmp(name(b))
        }
        (Walked::Error(..), Walked::Error(..)) => std::cmp::Ordering::Equal,
        (Walked::Entry(..), Walked::Error(..)) => std::cmp::Ordering::Greater,
        (Walked::Error(..), Walked::Entry(..)) => std::cmp::Ordering::Less,
    });
    ents
}

/// A reader thread: takes work until there is none.
fn reader(jobs: &Mutex<Receiver<Job>>, limits: &Limits) {
    loop {
        let job = match jobs.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        let Ok(Job { work, out }) = job else { return };
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| read(work, &out, limits)));
        if let Err(p) = r {
            let _ = out.send(Msg::Panicked(p));
        }
    }
}

fn read(work: Work, out: &SyncSender<Msg>, limits: &Limits) {
    let mut w = Recorder::new(ToGrouper(out));
    let fresh = || Arc::new(std::sync::atomic::AtomicU64::new(limits.max_total));
    match work {
        Work::Walk(root, pieces) => {
            let mut rd = Reader::with_budget(&mut w, limits.clone(), fresh());
            for p in pieces {
                match p {
                    Piece::Entry(e) => rd.walk_entry(&root, e),
                    Piece::Folder(dir) => {
                        let walk = walkdir::WalkDir::new(dir)
                            .follow_links(false)
                            .sort_by_file_name();
                        for e in walk {
                            rd.walk_entry(&root, e.into());
                        }
                    }
                }
            }
        }
        Work::Member {
            path,
            depth,
            size,
            data,
            left,
        } => {
            // No chunk comes back to be refilled: the sender makes new ones.
            let (back, _) = std::sync::mpsc::channel();
            let mut r = Ahead::new(data, back);
            Reader::with_budget(&mut w, limits.clone(), left)
                .stream(&mut r, &path, depth, false, size);
        }
    }
    w.flush();
}

fn replay<F: FnMut(GroupedHost)>(g: &mut Grouper<F>, events: Vec<Event>) {
    for e in events {
        match e {
            Event::Entry(e, p) => g.place(e, p),
            Event::Notice(n) => g.notice(n),
            Event::UnitStart(p) => g.unit_start(&p),
            Event::UnitEnd(p) => g.unit_end(&p),
        }
    }
}

/// `Reader::read_path(path)` into `g`, read on `threads` reader threads.
pub(super) fn read_path<F: FnMut(GroupedHost)>(
    path: &Path,
    limits: Limits,
    threads: usize,
    g: &mut Grouper<F>,
) -> io::Result<()> {
    // What fails before any reading fails here, as `read_path` would.
    if !std::fs::metadata(path)?.is_dir() {
        std::fs::File::open(path)?;
    }
    std::thread::scope(|scope| {
        let (order_tx, order) = sync_channel::<Slot>(8 * threads);
        let (jobs_tx, jobs) = sync_channel::<Job>(threads);
        let jobs = Arc::new(Mutex::new(jobs));
        for _ in 0..threads {
            let (jobs, limits) = (Arc::clone(&jobs), limits.clone());
            std::thread::Builder::new()
                .name("reader".into())
                .spawn_scoped(scope, move || reader(&jobs, &limits))?;
        }
        let lister = std::thread::Builder::new()
            .name("lister".into())
            .spawn_scoped(scope, move || {
                let mut v = Recorder::new(Lister {
                    order: &order_tx,
                    jobs: &jobs_tx,
                    threads,
                });
                let r = Reader::new(&mut v, limits).read_path(path);
                v.flush();
                r
            })?;
        for slot in order {
            match slot {
                Slot::Ready(events) => replay(g, events),
                Slot::Pending(rx) => {
                    for m in rx {
                        match m {
                            Msg::Events(events) => replay(g, events),
                            Msg::Panicked(p) => std::panic::resume_unwind(p),
                        }
                    }
                }
            }
        }
        match lister.join() {
            Ok(r) => r,
            Err(p) => std::panic::resume_unwind(p),
        }
    })
}
