//! Format detection: which container or compression a stream is, from its
//! first bytes (names are not trusted), and the formats recognised only to
//! say they are not read. Shared by the walk and the decoders.

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magics() {
        assert_eq!(magic(&[0x1f, 0x8b, 8]), Magic::Gzip);
        assert_eq!(magic(b"\xfd7zXZ\0rest"), Magic::Xz);
        assert_eq!(magic(b"BZh91AY"), Magic::Bzip2);
        assert_eq!(magic(b"PK\x03\x04"), Magic::Zip);
        assert_eq!(magic(b"default via 10.0.0.1"), Magic::Other);
    }
}
