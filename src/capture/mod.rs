//! Captures: a bundle path → hosts, each with its `ip addr` / `ip rule` /
//! `ip route` dumps and where they came from. `source` streams directories
//! and (nested) archives; `layout` recognises collectors and assembles hosts.

mod decode;
mod fan;
pub mod layout;
mod magic;
pub mod plain;
mod roles;
pub mod source;
mod tarfile;
mod transcript;

pub use layout::{Collector, GroupedHost, HostCapture, Missing};
pub use plain::{load_plain_host, load_plain_system};
pub use source::{Limits, Notice};

use std::path::Path;

/// Reads `path` (a directory, an archive, or `-`) and calls `emit` with each
/// host as soon as the archive or top-level folder holding it has been read.
/// Returns problems that belong to no host.
pub fn scan(
    path: &Path,
    limits: Limits,
    mut emit: impl FnMut(HostCapture),
) -> std::io::Result<Vec<Notice>> {
    scan_grouped(path, limits, 1, |g| emit(g.assemble()))
}

/// `scan` with the input read on `threads` threads where it divides: the
/// files of a folder, the archives inside a top-level archive. The same
/// hosts, ids and notices as `scan` (see `fan`); `emit` is called on this
/// thread. One thread (or stdin) reads as `scan` does.
pub fn scan_parallel(
    path: &Path,
    limits: Limits,
    threads: usize,
    mut emit: impl FnMut(HostCapture),
) -> std::io::Result<Vec<Notice>> {
    scan_grouped(path, limits, threads, |g| emit(g.assemble()))
}

/// `scan_parallel` handing out each host grouped but not read
/// (`GroupedHost::assemble`), so that the caller can read it on another
/// thread.
pub fn scan_grouped(
    path: &Path,
    limits: Limits,
    threads: usize,
    mut emit: impl FnMut(GroupedHost),
) -> std::io::Result<Vec<Notice>> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| path.display().to_string());
    let mut g = layout::Grouper::new(|h| emit(named(&name, h)));
    if threads > 1 && path.as_os_str() != "-" {
        fan::read_path(path, limits, threads, &mut g)?;
    } else {
        source::Reader::new(&mut g, limits).read_path(path)?;
    }
    g.finish();
    Ok(std::mem::take(&mut g.notices))
}

/// `scan` of one file's bytes from a reader (an archive, a compressed
/// stream or a single capture), called `name`.
pub fn scan_reader(
    r: impl std::io::Read + Send + source::SizeHint,
    name: &str,
    limits: Limits,
    mut emit: impl FnMut(HostCapture),
) -> Vec<Notice> {
    let mut g = layout::Grouper::new(|h| emit(named(name, h).assemble()));
    source::Reader::new(&mut g, limits).read_stream(r, name);
    g.finish();
    std::mem::take(&mut g.notices)
}

/// A host folder given directly is named after itself.
fn named(name: &str, mut h: GroupedHost) -> GroupedHost {
    if h.id.is_empty() {
        h.id = name.to_string();
    } else if let Some(rest) = h.id.strip_prefix("/") {
        h.id = format!("{name}/{rest}");
    }
    h
}
