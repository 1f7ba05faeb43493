#![no_main]
//! Bytes as a bundle file (stdin's path): magic → decoders (gzip, xz,
//! bzip2, zstd, zip, tar, nested) → layouts → every host analysed. Caps are
//! small so bombs end quickly; nothing may panic, and every notice names a
//! file.

use asymroute_offline::capture::{self, Limits};
use asymroute_offline::verdict::{LinkClass, host};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_member: 1 << 20,
        max_zip: 4 << 20,
        max_total: 16 << 20,
        max_depth: 4,
    };
    let class = LinkClass::default();
    let mut ids = Vec::new();
    let notices = capture::scan_reader(&mut &data[..], "bundle", limits, |cap| {
        ids.push(cap.id.clone());
        let report = host::analyse(cap, &class);
        assert!(!report.host.is_empty(), "a host without a name");
    });
    for n in &notices {
        assert!(!n.file.is_empty(), "a notice names no file: {}", n.message);
    }
});
