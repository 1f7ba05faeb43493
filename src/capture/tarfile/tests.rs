//! `Tar` against the `tar` crate, which read archives until session 16:
//! the same members (path, link, type, size, bytes), the same end, an
//! error where it errs, on archives the crate builds, on archives GNU tar
//! writes in each of its formats, and on every cut of them.

use super::*;
use std::path::Path;

/// A member as both readers see it: path, link, type flag, size, the bytes
/// read (a third of the members not read, a third read in part, so skipping
/// is tried too).
type Seen = (Vec<u8>, Vec<u8>, Kind, u64, Vec<u8>);

fn read_part(r: &mut dyn Read, i: usize) -> Vec<u8> {
    let mut got = Vec::new();
    match i % 3 {
        0 => drop(r.read_to_end(&mut got)),
        1 => drop(r.take(100).read_to_end(&mut got)),
        _ => {}
    }
    got
}

fn ours(bytes: &[u8]) -> (Vec<Seen>, bool) {
    let mut r = bytes;
    let mut t = Tar::new(&mut r);
    let mut seen = Vec::new();
    loop {
        match t.next() {
            Ok(Some(h)) => {
                let (path, link) = (t.path().to_vec(), t.link().to_vec());
                let data = read_part(&mut t.body(), seen.len());
                seen.push((path, link, h.kind, h.size, data));
            }
            Ok(None) => return (seen, false),
            Err(_) => return (seen, true),
        }
    }
}

fn crate_reader(bytes: &[u8]) -> (Vec<Seen>, bool) {
    let mut ar = tar::Archive::new(bytes);
    let mut seen = Vec::new();
    let Ok(entries) = ar.entries() else {
        return (seen, true);
    };
    for e in entries {
        let Ok(mut e) = e else {
            return (seen, true);
        };
        let path = e.path_bytes().into_owned();
        let link = e
            .link_name_bytes()
            .map(|l| l.into_owned())
            .unwrap_or_default();
        let kind = Kind::of(e.header().entry_type().as_byte());
        let size = e.size();
        let data = read_part(&mut e, seen.len());
        seen.push((path, link, kind, size, data));
    }
    (seen, false)
}

fn same(label: &str, bytes: &[u8]) -> usize {
    let a = ours(bytes);
    let b = crate_reader(bytes);
    assert_eq!(a, b, "{label}");
    a.0.len()
}

/// Every cut of an archive (every 61st byte): the members read before the
/// cut, and whether it errs, are the crate's.
fn same_cut(label: &str, bytes: &[u8]) {
    for at in (0..bytes.len()).step_by(61) {
        same(&format!("{label} cut at {at}"), &bytes[..at]);
    }
}

fn built(header: fn() -> tar::Header) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let long = format!("{}/{}", "d".repeat(120), "n".repeat(90));
    for (i, size) in [0usize, 1, 511, 512, 513, 40_000, 3].iter().enumerate() {
        let body: Vec<u8> = (0..*size).map(|k| (k * 7 + i) as u8).collect();
        let mut h = header();
        h.set_size(*size as u64);
        h.set_mode(0o644);
        let name = if i == 2 {
            long.clone()
        } else {
            format!("top/m{i}")
        };
        b.append_data(&mut h, name, &body[..]).unwrap();
    }
    let mut h = header();
    h.set_entry_type(tar::EntryType::Directory);
    h.set_size(0);
    b.append_data(&mut h, "top/dir/", &[][..]).unwrap();
    let mut h = header();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_size(0);
    b.append_link(&mut h, "top/sym", "../elsewhere/target")
        .unwrap();
    let mut h = header();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_size(0);
    b.append_link(&mut h, "top/longsym", &long).unwrap();
    let mut h = header();
    h.set_entry_type(tar::EntryType::Link);
    h.set_size(0);
    b.append_link(&mut h, "top/hard", "top/m1").unwrap();
    b.append_pax_extensions([("path", &b"pax/renamed"[..]), ("mtime", b"1")])
        .unwrap();
    let mut h = header();
    h.set_size(5);
    b.append_data(&mut h, "short", &b"hello"[..]).unwrap();
    // A pax `size` overrides the header's (POSIX; the crate since 0.4.45).
    b.append_pax_extensions([("size", &b"3"[..])]).unwrap();
    let mut h = header();
    h.set_size(5);
    b.append_data(&mut h, "sized", &b"hello"[..]).unwrap();
    b.into_inner().unwrap()
}

#[test]
fn archives_the_crate_builds() {
    for (label, header) in [
        ("gnu", tar::Header::new_gnu as fn() -> tar::Header),
        ("ustar", tar::Header::new_ustar),
    ] {
        let bytes = built(header);
        assert_eq!(same(label, &bytes), 13, "{label}");
        same_cut(label, &bytes);
    }
    // A ustar name past 100 bytes is split into prefix and name.
    let (seen, _) = ours(&built(tar::Header::new_ustar));
    assert_eq!(seen[2].0.len(), 211);
    assert_eq!(seen[11].0, b"pax/renamed");
    assert_eq!((seen[12].3, &seen[12].4[..]), (3, &b"hel"[..]));
}

/// GNU tar's own archives of a tree with long names, links, an empty
/// file and block-sized files, in each format it writes.
#[test]
fn archives_gnu_tar_writes() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("t");
    let deep = root
        .join("a".repeat(60))
        .join("b".repeat(60))
        .join("c".repeat(60));
    std::fs::create_dir_all(&deep).unwrap();
    for (name, size) in [
        ("empty", 0),
        ("one", 1),
        ("block", 512),
        ("more", 513),
        ("big", 70_000),
    ] {
        let body: Vec<u8> = (0..size).map(|k| (k % 251) as u8).collect();
        std::fs::write(root.join(name), &body).unwrap();
        std::fs::write(deep.join(format!("{name}-{}", "x".repeat(80))), &body).unwrap();
    }
    std::fs::write(root.join("ip_addr.txt"), "1: lo: <LOOPBACK,UP>\n").unwrap();
    std::os::unix::fs::symlink("ip_addr.txt", root.join("link")).unwrap();
    std::os::unix::fs::symlink(deep.join("one-x"), root.join("longlink")).unwrap();
    std::fs::hard_link(root.join("one"), root.join("hard")).unwrap();
    let samples = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples");
    let mut made = 0;
    for format in ["gnu", "oldgnu", "ustar", "posix", "v7"] {
        for (tree, from) in [("tree", dir.path()), ("samples", samples.as_path())] {
            let out = std::process::Command::new("tar")
                .args(["--format", format, "--sort=name", "-cf", "-", "-C"])
                .arg(from)
                .arg(if tree == "tree" { "t" } else { "." })
                .output();
            // No GNU tar here, or a format that cannot hold these names
            // (v7, ustar past 255 bytes): nothing to compare.
            let Ok(out) = out else { continue };
            if !out.status.success() {
                continue;
            }
            let label = format!("{tree} as {format}");
            assert!(same(&label, &out.stdout) > 4, "{label}");
            made += 1;
            if tree == "tree" {
                same_cut(&label, &out.stdout);
            }
        }
    }
    eprintln!("{made} archives of GNU tar compared");
}

/// Archives the fuzz target found (`tests/fuzz-regressions/tar-*`): a size
/// of 2^63 and of 2^64 - 1, whose padding overflowed the sum skipped, and a
/// pax record of length 0, whose end was read before its start. Read as
/// the crate reads them, and every cut of them.
#[test]
fn archives_the_fuzzer_found() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-regressions");
    for name in ["dir-size-2p63", "pax-record-len-0", "size-u64-max"] {
        let bytes = std::fs::read(dir.join(format!("tar-{name}.tar"))).unwrap();
        same(name, &bytes);
        same_cut(name, &bytes);
    }
}

#[test]
fn archives_in_the_repository() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for p in [
        "samples/fleet.tar.gz",
        "tests/fuzz-regressions/archive-error-after-member.tar.gz",
    ] {
        // The regression's gzip stream is cut short: what it holds is read.
        let mut bytes = Vec::new();
        let _ = flate2::read::MultiGzDecoder::new(std::fs::File::open(root.join(p)).unwrap())
            .read_to_end(&mut bytes);
        assert!(bytes.len() > 512, "{p}");
        same(p, &bytes);
        same_cut(p, &bytes);
    }
}

#[test]
fn headers_that_do_not_hold() {
    let good = built(tar::Header::new_gnu);
    // A checksum that does not add up.
    let mut bad = good.clone();
    bad[10] ^= 1;
    assert_eq!(same("checksum", &bad), 0);
    assert!(ours(&bad).1);
    // A size that is no number.
    let mut bad = good.clone();
    bad[124..136].copy_from_slice(b"0000000009x\0");
    fix_checksum(&mut bad[..512]);
    assert!(ours(&bad).1);
    // An extension with no member after it.
    let mut b = tar::Builder::new(Vec::new());
    b.append_pax_extensions([("path", &b"lost"[..])]).unwrap();
    let lone = b.into_inner().unwrap();
    assert_eq!(ours(&lone), (vec![], true));
    assert_eq!(crate_reader(&lone), (vec![], true));
}

fn fix_checksum(h: &mut [u8]) {
    h[148..156].fill(b' ');
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
}

#[test]
fn numbers() {
    assert_eq!(number(b"00000001750\0", "size").unwrap(), 1000);
    assert_eq!(number(b"  1750 \0\0\0\0\0", "size").unwrap(), 1000);
    let mut b256 = [0u8; 12];
    b256[0] = 0x80;
    b256[4..].copy_from_slice(&(9u64 << 30).to_be_bytes());
    assert_eq!(number(&b256, "size").unwrap(), 9 << 30);
    for bad in [
        &b"\0\0\0\0"[..],
        b"    ",
        b"12389",
        b"77777777777777777777777",
    ] {
        assert!(number(bad, "size").is_err(), "{bad:?}");
    }
}

#[test]
fn pax_records() {
    let p = b"19 path=some/where\n12 size=123\n";
    assert_eq!(pax_value(p, b"path"), Some(&b"some/where"[..]));
    assert_eq!(pax_value(p, b"size"), Some(&b"123"[..]));
    assert_eq!(pax_value(p, b"linkpath"), None);
    assert_eq!(pax_value(b"99 path=x\n", b"path"), None);
    assert_eq!(pax_value(b"9 path=xy", b"path"), None);
    // Malformed records (a length of 0, a value with a newline) are passed
    // over for names; `size` is not read past one.
    let p = b"0 \n12 size=123\n19 path=some/where\n";
    assert_eq!(pax_value(p, b"path"), Some(&b"some/where"[..]));
    assert_eq!(pax_size(p), None);
    assert_eq!(pax_size(b"12 size=123\n"), Some(123));
    assert_eq!(pax_size(b"12 size=1x3\n"), None);
    assert_eq!(pax_value(b"13 path=a\nb\n", b"path"), None);
}

/// Archives Python's `tarfile` writes (sos builds its archives with it; the
/// PAX format is its default since Python 3.8): long names and links, a
/// non-ASCII name, a global pax header, in each of its formats, and every
/// cut of them.
#[test]
fn archives_python_tarfile_writes() {
    let dir = tempfile::tempdir().unwrap();
    let script = r#"
import io, sys, tarfile
out = sys.argv[1]
def add(t, name, data, **kw):
    i = tarfile.TarInfo(name)
    i.size = len(data)
    i.mtime = 1700000000.5
    for k, v in kw.items():
        setattr(i, k, v)
    t.addfile(i, io.BytesIO(data) if data else None)
for fmt, tag in [(tarfile.USTAR_FORMAT, "ustar"), (tarfile.GNU_FORMAT, "gnu"), (tarfile.PAX_FORMAT, "pax")]:
    kw = {"pax_headers": {"comment": "sosreport"}} if tag == "pax" else {}
    with tarfile.open(f"{out}/{tag}.tar", "w", format=fmt, **kw) as t:
        d = tarfile.TarInfo("sosreport-host/sos_commands/networking")
        d.type = tarfile.DIRTYPE
        t.addfile(d)
        add(t, "sosreport-host/sos_commands/networking/ip_-d_address", b"1: lo: <LOOPBACK,UP>\n" * 40)
        add(t, "sosreport-host/empty", b"")
        add(t, "sosreport-host/block", bytes(range(256)) * 2)
        if tag != "ustar":
            deep = "sosreport-host/" + "/".join(c * 70 for c in "abc") + "/ip_route_show_table_all"
            add(t, deep, b"default via 10.0.0.1 dev eth0\n")
            add(t, "sosreport-host/longlink", b"", type=tarfile.SYMTYPE, linkname=deep)
            add(t, "sosreport-host/hard", b"", type=tarfile.LNKTYPE, linkname=deep)
        add(t, "sosreport-host/link", b"", type=tarfile.SYMTYPE, linkname="block")
        if tag == "pax":
            add(t, "sosreport-host/caf\u00e9", b"x")
"#;
    let ran = std::process::Command::new("python3")
        .args(["-c", script])
        .arg(dir.path())
        .status();
    // No Python here: nothing to compare.
    if !ran.is_ok_and(|s| s.success()) {
        eprintln!("no python3: Python's archives not compared");
        return;
    }
    for tag in ["ustar", "gnu", "pax"] {
        let bytes = std::fs::read(dir.path().join(format!("{tag}.tar"))).unwrap();
        let label = format!("Python tarfile, {tag}");
        assert!(same(&label, &bytes) >= 5, "{label}");
        same_cut(&label, &bytes);
    }
}
