#![no_main]
//! Bytes as a bundle file (stdin's path): magic → decoders (gzip, xz,
//! bzip2, zstd, zip, tar, nested) → layouts → every host analysed. Caps are
//! small so bombs end quickly; nothing may panic, and every notice names a
//! file. Each input is read twice, decoded in line (a file of known small
//! size) and a chunk ahead on a decoder thread (stdin): both must find the
//! same hosts and say the same things.

use asymroute_offline::capture::source::SizeHint;
use asymroute_offline::capture::{self, Limits};
use asymroute_offline::verdict::{LinkClass, host};
use libfuzzer_sys::fuzz_target;
use std::io::Read;

/// A stream of unknown length, as stdin is.
struct Unknown<'a>(&'a [u8]);

impl Read for Unknown<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf)
    }
}

impl SizeHint for Unknown<'_> {
    fn size_hint(&self) -> Option<u64> {
        None
    }
}

fn limits() -> Limits {
    Limits {
        max_member: 1 << 20,
        max_dump: 2 << 20,
        max_zip: 4 << 20,
        max_total: 16 << 20,
        max_depth: 4,
    }
}

fuzz_target!(|data: &[u8]| {
    let class = LinkClass::default();
    let mut ids = Vec::new();
    let notices = capture::scan_reader(data, "bundle", limits(), |cap| {
        ids.push(cap.id.clone());
        let report = host::analyse(cap, &class);
        assert!(!report.host.is_empty(), "a host without a name");
    });
    for n in &notices {
        assert!(!n.file.is_empty(), "a notice names no file: {}", n.message);
    }
    let mut ahead_ids = Vec::new();
    let ahead = capture::scan_reader(Unknown(data), "bundle", limits(), |cap| {
        ahead_ids.push(cap.id.clone());
    });
    assert_eq!(ids, ahead_ids, "hosts found decoding in line and ahead");
    assert_eq!(notices, ahead, "notices decoding in line and ahead");
});
