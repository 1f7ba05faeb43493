//! Decompression for the reader: the gzip, xz, bzip2 and zstd decoders,
//! the per-input budget against archive bombs, and the decode-ahead thread
//! that lets a large compressed file decode while `source` walks it. Apart
//! from the walk so the walk reads as one, and the decoders' quirks (block
//! reads, repeated errors) stay in one place.

use super::magic::Magic;
use std::io::{self, BufRead, BufReader, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, mpsc};

/// The bytes an input may still decompress: shared by every thread that
/// reads part of that input, so reading in parallel does not multiply it.
pub(super) type Left = Arc<AtomicU64>;

/// Counts decompressed bytes against the per-input budget. The shared
/// count is taken from a megabyte at a time and what is left given back
/// when done: a tar member is three reads, and an atomic update of one
/// cache line per read was 3.6% of reading a sosreport, and contention
/// between reader threads. Exact for one reader; readers open at once
/// (threads, nested archives) may each hold up to a megabyte unread.
pub(super) struct Budget<R> {
    inner: R,
    left: Left,
    /// Taken from `left`, not yet read.
    credit: u64,
}

const CREDIT: u64 = 1 << 20;

impl<R> Budget<R> {
    pub(super) fn new(inner: R, left: Left) -> Self {
        Budget {
            inner,
            left,
            credit: 0,
        }
    }
}

impl<R: Read> Read for Budget<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)? as u64;
        if n > self.credit {
            // The bytes over the credit, and up to a megabyte more where
            // the budget has it.
            let need = n - self.credit;
            let took = self
                .left
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |l| {
                    (l >= need).then(|| l - need.max(CREDIT).min(l))
                });
            match took {
                Ok(before) => self.credit += need.max(CREDIT).min(before),
                Err(_) => {
                    return Err(io::Error::other(
                        "decompressed size over the limit (archive bomb?)",
                    ));
                }
            }
        }
        self.credit -= n;
        Ok(n as usize)
    }
}

impl<R> Drop for Budget<R> {
    fn drop(&mut self) {
        if self.credit > 0 {
            self.left.fetch_add(self.credit, Ordering::Relaxed);
        }
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
pub(super) fn decoder<'a, R: BufRead + 'a>(m: Magic, br: R) -> io::Result<Box<dyn Read + 'a>> {
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

thread_local! {
    /// Block buffers of decoders this thread has finished with: a fleet of
    /// small archives zeroed a new 64 KiB for each (590 MB for 10,000
    /// sample hosts: 7.5% of discovery's instructions, ~1% of its CPU).
    /// Only `buf[pos..len]`, which the decoder has just written, is read.
    static SPARE: std::cell::RefCell<Vec<Vec<u8>>> = const { std::cell::RefCell::new(Vec::new()) };
}

impl<R> Blocks<R> {
    fn new(inner: R) -> Self {
        let buf = SPARE
            .with_borrow_mut(Vec::pop)
            .unwrap_or_else(|| vec![0; BLOCK]);
        Blocks {
            inner,
            buf,
            pos: 0,
            len: 0,
            failed: None,
        }
    }
}

impl<R> Drop for Blocks<R> {
    fn drop(&mut self) {
        let buf = std::mem::take(&mut self.buf);
        // A nested archive holds one decoder per level (`--max-depth`).
        SPARE.with_borrow_mut(|s| {
            if s.len() < 8 {
                s.push(buf);
            }
        });
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
pub(super) const AHEAD_MIN: u64 = 256 * 1024;

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
pub(super) const AHEAD: usize = 4;
pub(super) const CHUNK: usize = 256 * 1024;

/// Reads up to `CHUNK` bytes into `buf` (resized to what was read): the
/// count, and the error that stopped it early, after the bytes read before
/// it. Fewer than `CHUNK` bytes without an error is the end.
pub(super) fn fill_chunk(r: &mut dyn Read, buf: &mut Vec<u8>) -> (usize, Option<io::Error>) {
    buf.resize(CHUNK, 0);
    let mut got = 0;
    let mut failed = None;
    while got < CHUNK {
        match r.read(&mut buf[got..]) {
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
    (got, failed)
}

/// The decoder thread: fills chunks (recycled from the reader) and sends
/// them in order; an error is sent after the data decoded before it.
pub(super) fn decode_ahead<R: Read>(
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
        let mut buf = back.try_recv().unwrap_or_default();
        let (got, failed) = fill_chunk(&mut d, &mut buf);
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
pub(super) struct Ahead {
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
    pub(super) fn new(
        rx: mpsc::Receiver<io::Result<Vec<u8>>>,
        back: mpsc::Sender<Vec<u8>>,
    ) -> Self {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_is_exact_and_gives_back_what_it_did_not_read() {
        let data = vec![7u8; 5000];
        let left: Left = Arc::new(AtomicU64::new(3000));
        // Read whole: 2,000 bytes, then what was taken and not read goes
        // back when the reader is done.
        let mut got = Vec::new();
        let mut b = Budget::new(&data[..2000], left.clone());
        b.read_to_end(&mut got).unwrap();
        assert!(left.load(Ordering::Relaxed) < 1000);
        drop(b);
        assert_eq!(left.load(Ordering::Relaxed), 1000);
        // Exactly the rest fits; one byte more does not.
        let mut b = Budget::new(&data[..1000], left.clone());
        assert_eq!(b.read_to_end(&mut got).unwrap(), 1000);
        drop(b);
        assert_eq!(left.load(Ordering::Relaxed), 0);
        left.store(999, Ordering::Relaxed);
        let mut b = Budget::new(&data[..1000], left.clone());
        let e = b.read_to_end(&mut got).unwrap_err();
        assert!(e.to_string().contains("over the limit"), "{e}");
    }

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
}
