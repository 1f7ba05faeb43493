//! `asymroute-offline [scan] PATH…`: the main job. The bundle is read
//! streaming, front to back: with one job on this thread (a large compressed
//! file decoded a chunk ahead on a helper thread, see `capture::source`);
//! with more, its files and the archives inside a top-level archive are
//! read on as many reader threads, and grouped into hosts on this one
//! (`capture::fan`). Hosts go to worker threads as soon as their archive or
//! folder is read, through a bounded queue so memory stays flat; each worker
//! renders its reports in the output format and frees them, and one thread
//! writes the text as hosts finish (a serial writer serialising ~50 KB a host
//! would cap the workers it can keep up with).
//!
//! Plain scoped threads and a bounded channel rather than rayon: the reader
//! is a callback-driven stream that must block when workers fall behind
//! (that backpressure is what keeps peak memory flat), hosts are coarse
//! independent jobs with nothing to split or steal, and results go to one
//! writer in completion order. Rayon's `par_bridge` would need an iterator,
//! that is this same channel's receiver: it would add a pool and nothing else.

use crate::cli::{ColorChoice, Only, ReportArgs, ScanArgs};
use crate::exit::Exit;
use asymroute_offline::capture::{self, GroupedHost, HostCapture, Limits, Notice};
use asymroute_offline::report::{self, Options, Summary};
use asymroute_offline::verdict::{LinkClass, host};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};

/// Batches waiting per worker: enough that reader and workers rarely wait
/// on each other, few enough that memory stays bounded.
const QUEUE_PER_JOB: usize = 4;

/// Hosts travel in batches of about this much captured text: one wake-up
/// per host cost 7% of a fleet run in futex calls (perf), one per batch
/// costs nothing measurable, and a batch still leaves within a blink.
const BATCH_BYTES: usize = 256 * 1024;

/// A host on its way to a worker. With several jobs the worker reads it
/// from its members: the one grouping thread is what no added core
/// shortens. With one job the grouping thread reads it, as `capture::scan`
/// does: that thread and the one worker then share the work as before
/// (reading there keeps the worker, the busier of the two, from being
/// alone on the critical path).
enum Work {
    Grouped(GroupedHost),
    Read(Box<HostCapture>),
}

impl Work {
    fn size(&self) -> usize {
        match self {
            Work::Grouped(g) => g.size(),
            Work::Read(c) => c.inputs.iter().map(|i| i.text.len()).sum(),
        }
    }

    fn capture(self) -> HostCapture {
        match self {
            Work::Grouped(g) => g.assemble(),
            Work::Read(c) => *c,
        }
    }

    fn analyse(self, class: &LinkClass, limit: Option<std::time::Duration>) -> host::HostReport {
        match self {
            Work::Grouped(g) => host::analyse_grouped(g, class, limit),
            Work::Read(c) => host::analyse_within(*c, class, limit),
        }
    }
}

/// Collects hosts into batches for the worker queue.
struct Batcher<'a> {
    tx: &'a mpsc::SyncSender<Vec<Work>>,
    batch: Vec<Work>,
    bytes: usize,
    /// Whether hosts are read here (`Work`).
    read_here: bool,
}

impl<'a> Batcher<'a> {
    fn new(tx: &'a mpsc::SyncSender<Vec<Work>>, jobs: usize) -> Self {
        Batcher {
            tx,
            batch: Vec::new(),
            bytes: 0,
            read_here: jobs <= 1,
        }
    }

    fn push(&mut self, cap: GroupedHost) {
        let cap = match self.read_here {
            true => Work::Read(Box::new(cap.assemble())),
            false => Work::Grouped(cap),
        };
        self.bytes += cap.size() + 1;
        self.batch.push(cap);
        if self.bytes >= BATCH_BYTES {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if !self.batch.is_empty() {
            let _ = self.tx.send(std::mem::take(&mut self.batch));
        }
        self.bytes = 0;
    }
}

/// A batch of hosts, analysed: what the summary and the identities count
/// of them, and the text of those the report keeps.
#[derive(Default)]
struct Finished {
    summary: Summary,
    ids: report::identity::Identities,
    rendered: Vec<std::io::Result<report::Rendered>>,
}

/// The next batch for a worker. The lock is held only to take a batch
/// that is there, or to wait for one while no other worker is waiting.
fn next_batch(rx: &Mutex<mpsc::Receiver<Vec<Work>>>) -> Option<Vec<Work>> {
    rx.lock().ok()?.recv().ok()
}

/// Reader threads for `jobs` workers: as many. Readers and workers are
/// rarely busy at once: a fleet of compressed archives keeps the readers
/// busy (decoding) and the workers waiting, a fleet of plain dumps the
/// other way round, and the bounded queues between them hold back whichever
/// runs ahead. One job reads on this thread alone, as before.
fn readers(jobs: usize) -> usize {
    if jobs <= 1 { 1 } else { jobs }
}

/// Resolved settings (fd's split of raw options from what the run uses).
struct Settings {
    class: LinkClass,
    jobs: usize,
    shard: Option<(u64, u64)>,
    limits: Limits,
    progress: bool,
    /// The per-host time budget (`--host-timeout`).
    host_timeout: Option<std::time::Duration>,
}

/// FNV-1a: stable across runs and machines, unlike the std hasher.
fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf29ce484222325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100000001b3)
    })
}

/// The report file must not land inside a bundle being read.
fn inside(output: &Path, inputs: &[PathBuf]) -> Option<PathBuf> {
    let parent = output
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let out = parent.canonicalize().ok()?;
    inputs
        .iter()
        .filter(|i| i.is_dir())
        .filter_map(|i| i.canonicalize().ok())
        .find(|i| out.starts_with(i))
}

/// Benchmark stages: the same reading and worker pipeline, cut short.
fn run_stage(
    a: &ScanArgs,
    stage: crate::cli::Stage,
    jobs: usize,
    limits: Limits,
) -> std::io::Result<Exit> {
    let (tx, rx) = mpsc::sync_channel::<Vec<Work>>(jobs * QUEUE_PER_JOB);
    let rx = Arc::new(Mutex::new(rx));
    let hosts = std::sync::atomic::AtomicUsize::new(0);
    let items = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            let rx = Arc::clone(&rx);
            let (hosts, items) = (&hosts, &items);
            scope.spawn(move || {
                for cap in std::iter::from_fn(|| next_batch(&rx)).flatten() {
                    hosts.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let cap = cap.capture();
                    if stage == crate::cli::Stage::Parse {
                        let h = asymroute_offline::model::Host::build(
                            cap.inputs,
                            &std::collections::HashMap::new(),
                        );
                        let n: usize = h.sources.iter().map(|s| s.records).sum();
                        items.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            });
        }
        let mut batcher = Batcher::new(&tx, jobs);
        for p in &a.paths {
            if let Err(e) =
                capture::scan_grouped(p, limits.clone(), readers(jobs), |c| batcher.push(c))
            {
                eprintln!("asymroute-offline: {}: {e}", p.display());
            }
        }
        batcher.flush();
        drop(tx);
    });
    eprintln!(
        "{} hosts, {} records",
        hosts.into_inner(),
        items.into_inner()
    );
    Ok(Exit::Clean)
}

impl Settings {
    /// The run's settings from the raw options, resolved once.
    fn from_args(a: &ScanArgs, format: report::Format, to_file: bool) -> Settings {
        let mut class = LinkClass::default();
        class.internal.extend(a.internal.iter().cloned());
        class.uplink = a.uplink.clone();
        Settings {
            class,
            jobs: a
                .jobs
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
                .max(1),
            shard: a.shard,
            host_timeout: (a.host_timeout > 0.0)
                .then(|| std::time::Duration::try_from_secs_f64(a.host_timeout).ok())
                .flatten(),
            limits: Limits {
                max_depth: a.max_depth,
                ..Limits::default()
            },
            // The spinner shares the terminal with a report streamed to it
            // (NDJSON) only by interleaving: not drawn then.
            progress: !a.quiet
                && std::io::stderr().is_terminal()
                && !(std::io::stdout().is_terminal()
                    && !to_file
                    && format == report::Format::Ndjson),
        }
    }
}

/// The report's settings from `--format`, `-o`, `--explain`, `--only` and
/// `--color`, resolved once (scan and merge alike): the format, the file
/// (`None`: standard output, `-o -` too) and the reporters' options.
pub(super) fn report_settings(r: &ReportArgs) -> (report::Format, Option<&Path>, Options) {
    let format = r
        .format
        .map(Into::into)
        .unwrap_or_else(|| format_of(r.output.as_deref()));
    let to_file = r.output.as_deref().filter(|p| p.as_os_str() != "-");
    let opts = Options {
        explain: r.explain,
        only_problems: r.only == Some(Only::Problems),
        only_broken: r.only == Some(Only::Broken),
        // The terminal's width, narrow ones included; 100 columns into
        // files and pipes.
        width: terminal_width().unwrap_or(100).max(40),
        color: color_on(r.color, to_file.is_some()),
        pack_after: crate::cli::pack_after(),
    };
    (format, to_file, opts)
}

/// The report's end: the reporter's closing text (none when nothing was
/// analysed: the reason goes to stderr), then the flush.
pub(super) fn finish_report(
    rep: &mut Box<dyn report::Reporter + Send>,
    sink: &mut Box<dyn Write + Send>,
    summary: &Summary,
    told: &[Notice],
    result: std::io::Result<()>,
) -> std::io::Result<()> {
    result
        .and_then(|_| match summary.hosts {
            0 => Ok(()),
            _ => rep.finish(sink, summary, told),
        })
        .and_then(|_| sink.flush())
}

pub fn run(a: &ScanArgs) -> std::io::Result<Exit> {
    let (format, to_file, opts) = report_settings(&a.report);
    let s = Settings::from_args(a, format, to_file.is_some());
    if let Some(stage) = crate::cli::Stage::from_env() {
        return run_stage(a, stage, s.jobs, s.limits.clone());
    }
    // `-o FILE` is written to a temporary file beside it, renamed over it
    // only when some host was analysed: a failed run never replaces a report.
    if let Some(p) = to_file
        && let Some(b) = inside(p, &a.paths)
    {
        eprintln!(
            "asymroute-offline: refusing to write {} inside the bundle {}",
            p.display(),
            b.display()
        );
        return Ok(Exit::Error);
    }
    let Some((out_file, mut sink)) = open_report(to_file) else {
        return Ok(Exit::Error);
    };
    let keep = opts.clone();
    if a.report.explain && format == report::Format::Csv && !a.quiet {
        eprintln!(
            "asymroute-offline: --explain adds nothing to csv (one row per host): use json or markdown for the detail"
        );
    }
    let mut rep = report::reporter(format, opts);
    let pb = s.progress.then(|| {
        let pb = indicatif::ProgressBar::new_spinner();
        pb.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {pos} hosts analysed {msg}")
                .expect("template"),
        );
        pb.enable_steady_tick(std::time::Duration::from_millis(120));
        pb
    });

    let (work_tx, work_rx) = mpsc::sync_channel::<Vec<Work>>(s.jobs * QUEUE_PER_JOB);
    let work_rx = Arc::new(Mutex::new(work_rx));
    // Bounded: a writer slower than the workers (pretty JSON, a slow
    // pipe) holds them back instead of queueing reports without end. One
    // batch per worker in waiting keeps both busy.
    let (res_tx, res_rx) = mpsc::sync_channel::<Finished>(s.jobs);
    // Archives, members or files of the bundle that could not be read, and
    // inputs that could not be read at all (told at once): nothing says
    // their hosts are fine, so a run without findings is then incomplete (3).
    let mut notices: Vec<Notice> = Vec::new();
    let mut failures: Vec<Notice> = Vec::new();
    // The same machine under several rows: worth telling, nothing unseen.
    let mut duplicates: Vec<Notice> = Vec::new();
    let (summary, write_result) = std::thread::scope(|scope| {
        for _ in 0..s.jobs {
            let rx = Arc::clone(&work_rx);
            let tx = res_tx.clone();
            let class = &s.class;
            let limit = s.host_timeout;
            let keep = &keep;
            let mut render = rep.renderer();
            // Named threads: a profile's per-thread split (`perf report
            // --sort comm`) shows what one thread alone bounds. As
            // `scope.spawn`, a thread that cannot start is a panic.
            let worker = std::thread::Builder::new().name("worker".into());
            worker
                .spawn_scoped(scope, move || {
                    while let Some(batch) = next_batch(&rx) {
                        // Each report counted, rendered and freed here: the
                        // writer gets its bytes.
                        let mut done = Finished::default();
                        for c in batch {
                            let h = c.analyse(class, limit);
                            done.summary.add(&h);
                            done.ids.add(&h);
                            if keep.keeps(&h) {
                                done.rendered.push(render.render(&h));
                            }
                        }
                        if tx.send(done).is_err() {
                            break;
                        }
                    }
                })
                .expect("a worker thread");
        }
        drop(res_tx);
        let writer = std::thread::Builder::new().name("writer".into());
        let writer = writer
            .spawn_scoped(scope, || {
                let mut summary = Summary::default();
                let mut ids = report::identity::Identities::default();
                let mut result = Ok(());
                for done in res_rx {
                    if let Some(pb) = &pb {
                        pb.inc(done.summary.hosts as u64);
                    }
                    summary.merge(&done.summary);
                    ids.merge(done.ids);
                    for r in done.rendered {
                        if result.is_ok() {
                            result = r.and_then(|r| rep.put(&mut sink, r));
                        }
                    }
                }
                (summary, result, rep, sink, ids)
            })
            .expect("the writer thread");
        let mut batcher = Batcher::new(&work_tx, s.jobs);
        for path in &a.paths {
            // A reader bug loses the rest of this input, not the others.
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                capture::scan_grouped(path, s.limits.clone(), readers(s.jobs), |cap| {
                    if let Some((k, n)) = s.shard
                        && fnv(&cap.id) % n != k - 1
                    {
                        return;
                    }
                    batcher.push(cap);
                })
            }));
            let failed = match r {
                Ok(Ok(n)) => {
                    notices.extend(n);
                    continue;
                }
                Ok(Err(e)) => e.to_string(),
                Err(_) => "internal error while reading (a bug, please report it): \
                           the rest of this input was not read"
                    .to_string(),
            };
            eprintln!("asymroute-offline: {}: {failed}", path.display());
            failures.push(Notice {
                file: path.display().to_string(),
                message: failed,
            });
        }
        batcher.flush();
        drop(work_tx);
        let (summary, result, mut rep, mut sink, ids) = writer.join().expect("report writer");
        // The spinner goes before the report's first byte.
        if let Some(pb) = &pb {
            pb.finish_and_clear();
        }
        duplicates = ids.notices();
        let told: Vec<Notice> = [&failures, &notices, &duplicates]
            .into_iter()
            .flatten()
            .cloned()
            .collect();
        let result = finish_report(&mut rep, &mut sink, &summary, &told, result);
        drop(sink);
        (summary, result)
    });
    if !close_report(out_file, write_result.is_ok() && summary.hosts > 0) {
        return Ok(Exit::Error);
    }
    write_result?;
    if !a.quiet {
        for n in notices.iter().chain(&duplicates) {
            eprintln!("asymroute-offline: {}: {}", n.file, n.message);
        }
    }
    let status = Exit::of_scan(
        summary.hosts,
        summary.asymmetric + summary.no_route,
        summary.incomplete + summary.error + notices.len() + failures.len(),
    );
    if status == Exit::Error {
        if failures.is_empty() {
            let paths: Vec<String> = a.paths.iter().map(|p| p.display().to_string()).collect();
            eprintln!(
                "asymroute-offline: no host captures found in {}: looked for ip addr / ip rule / ip route \
                 dumps (sosreport, ec2rl, supportconfig, Insights, EKS, plain folders, transcripts) in \
                 folders and archives",
                paths.join(", ")
            );
        }
        if to_file.is_some() {
            eprintln!("asymroute-offline: nothing analysed: the report file was left as it was");
        }
    }
    Ok(status)
}

/// Whether verdicts are coloured. https://no-color.org: a non-empty
/// NO_COLOR turns colour off unless asked for.
pub(super) fn color_on(choice: ColorChoice, to_file: bool) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::io::stdout().is_terminal()
                && !to_file
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::env::var("TERM").map_or(true, |t| t != "dumb")
        }
    }
}

/// The format an `--output` file's extension names; table otherwise.
pub(super) fn format_of(output: Option<&Path>) -> report::Format {
    let ext = output
        .and_then(|p| p.extension())
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    match ext.as_deref() {
        Some("json") => report::Format::Json,
        Some("ndjson" | "jsonl") => report::Format::Ndjson,
        Some("md" | "markdown") => report::Format::Markdown,
        Some("csv") => report::Format::Csv,
        _ => report::Format::Table,
    }
}

/// Where the report goes: `-o FILE` through a temporary file beside it
/// (`close_report` renames it over FILE, or removes it), else standard
/// output. `None` when FILE cannot be written (said on stderr).
pub(super) fn open_report(
    to_file: Option<&Path>,
) -> Option<(Option<Output>, Box<dyn Write + Send>)> {
    let Some(p) = to_file else {
        return Some((None, Box::new(std::io::BufWriter::new(std::io::stdout()))));
    };
    match Output::create(p) {
        Ok((o, f)) => Some((Some(o), Box::new(std::io::BufWriter::new(f)))),
        Err(e) => {
            eprintln!(
                "asymroute-offline: cannot write the report to {}: {e}",
                p.display()
            );
            None
        }
    }
}

/// Puts the report in place when `done` (else leaves FILE as it was);
/// `false` when that failed (said on stderr).
pub(super) fn close_report(out: Option<Output>, done: bool) -> bool {
    let Some(o) = out else { return true };
    match o.finish(done) {
        Ok(()) => true,
        Err(e) => {
            eprintln!(
                "asymroute-offline: cannot write the report to {}: {e}",
                o.path.display()
            );
            false
        }
    }
}

/// A report file written through a temporary file in its own folder.
pub(super) struct Output {
    path: PathBuf,
    tmp: PathBuf,
}

impl Output {
    fn create(path: &Path) -> std::io::Result<(Output, std::fs::File)> {
        if path.is_dir() {
            return Err(std::io::Error::other("it is a directory"));
        }
        let name = path
            .file_name()
            .ok_or_else(|| std::io::Error::other("no file name"))?
            .to_string_lossy();
        let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
        let f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        Ok((
            Output {
                path: path.to_path_buf(),
                tmp,
            },
            f,
        ))
    }

    /// Renames the temporary file over the report, or removes it.
    fn finish(&self, keep: bool) -> std::io::Result<()> {
        if keep {
            std::fs::rename(&self.tmp, &self.path)
        } else {
            std::fs::remove_file(&self.tmp)
        }
    }
}

/// The width of the terminal stdout is (`COLUMNS` first, when set), or
/// `None` when stdout is not a terminal.
pub(super) fn terminal_width() -> Option<u16> {
    if !std::io::stdout().is_terminal() {
        return None;
    }
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .or_else(|| terminal_size::terminal_size_of(std::io::stdout()).map(|(w, _)| w.0))
}
