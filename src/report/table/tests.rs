//! The chunked table against comfy_table's whole-table layout, byte for
//! byte, on seeded random tables.

use super::*;
use crate::report::spill::Spill;
use comfy_table::{ColumnConstraint, Width};

/// A small seeded generator (xorshift64*): the same tables on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// In `lo..hi`.
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next() % (hi - lo) as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// Text pieces the cells are made of: words short and long, runs of
/// spaces, newlines, and characters of width 0, 1 and 2 (combining marks,
/// CJK, emoji, a ZWJ sequence), a tab.
/// `words`: the longest ordinary word; tables of short words leave room
/// after splitting, which is when comfy_table narrows a column to its
/// widest split line (`optimize_space_after_split`).
fn cell(r: &mut Rng, long: bool, words: usize) -> String {
    const WIDE: [&str; 12] = [
        "é",
        "日本",
        "🙂",
        "🙂\u{200d}↕\u{fe0f}",
        "e\u{301}",
        "ß",
        "\u{200b}",
        "\t",
        "…",
        "한국어",
        "ｆｕｌｌ",
        "ø",
    ];
    let mut s = String::new();
    let pieces = if long { r.range(0, 40) } else { r.range(0, 6) };
    for _ in 0..pieces {
        match r.range(0, 20) {
            0..=8 => {
                let n = r.range(1, words);
                s.extend((0..n).map(|_| (b'a' + r.range(0, 26) as u8) as char));
            }
            9 if words > 6 => {
                let n = r.range(12, 140);
                s.extend((0..n).map(|_| (b'a' + r.range(0, 26) as u8) as char));
            }
            10..=11 => s.push_str(WIDE[r.range(0, WIDE.len())]),
            12 => s.push('\n'),
            13 => s.push_str(["  ", "   ", " \n "][r.range(0, 3)]),
            14 => {
                // A long word with wide characters in it.
                for _ in 0..r.range(5, 40) {
                    if r.chance(30) {
                        s.push_str(WIDE[r.range(0, WIDE.len())]);
                    } else {
                        s.push('x');
                    }
                }
            }
            15 => s.push_str("10.0.0.0/8, 192.168.1.0/24 via eth1 (table 100)"),
            _ => s.push(' '),
        }
    }
    s
}

/// Each row's verdict and cells.
type Row = (Verdict, Vec<String>);

/// comfy_table laying out the whole table, as `finish` drew it before the
/// chunks (the reference).
fn whole(header: &[&str], rows: &[Row], shape: Shape) -> String {
    let mut t = comfy_table::Table::new();
    t.load_style(presets::UTF8_FULL_CONDENSED)
        .force_no_tty()
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(shape.width)
        .set_header(header.to_vec());
    if shape.color {
        t.enforce_styling();
        crossterm::style::force_color_output(true);
    }
    if let Some(c) = t.column_mut(0) {
        c.set_constraint(ColumnConstraint::LowerBoundary(Width::Fixed(shape.lower)));
    }
    let mut buf = Vec::new();
    let mut widest = Widest::default();
    for (v, cells) in rows {
        let cells: Vec<&str> = cells.iter().map(String::as_str).collect();
        encode(&mut buf, *v, &cells, &mut widest);
        t.add_row(row(&buf, shape.color, shape.verdict_at).unwrap());
    }
    let mut s = String::new();
    for l in t.lines() {
        s.push_str(&l);
        s.push('\n');
    }
    s
}

/// The same table through the spill (mostly on disk) and [`write_table`].
fn chunked(header: &[&str], rows: &[Row], shape: Shape, chunk: usize) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut spill = Rows::with_spill(Spill::in_dir(dir.path().to_path_buf(), 4096));
    let mut buf = Vec::new();
    let mut widest = Widest::default();
    for (i, (v, cells)) in rows.iter().enumerate() {
        let cells: Vec<&str> = cells.iter().map(String::as_str).collect();
        encode(&mut buf, *v, &cells, &mut widest);
        // Ids in arrival order, so the sort keeps it.
        spill.push(&format!("{i:06}"), &buf, b"").unwrap();
    }
    let mut out = Vec::new();
    write_table(&mut out, &mut spill, header, &widest, shape, chunk).unwrap();
    String::from_utf8(out).unwrap()
}

fn random_table(r: &mut Rng) -> (Vec<&'static str>, Vec<Row>, Shape) {
    let width = match r.range(0, 10) {
        0 => r.range(1, 40),
        1 => r.range(250, 400),
        _ => r.range(40, 251),
    } as u16;
    let (collector, ec2rl) = (r.chance(50), r.chance(50));
    let header = header(collector, ec2rl);
    let shape = Shape {
        width,
        lower: (width / 3).min(40),
        color: r.chance(50),
        verdict_at: if collector { 2 } else { 1 },
    };
    let n = match r.range(0, 10) {
        0 => r.range(0, 3),
        1..=3 => r.range(0, 300),
        _ => r.range(0, 40),
    };
    // Some tables of short cells only: every column fits, nothing splits.
    let short = r.chance(15);
    let words = if r.chance(50) { 12 } else { r.range(2, 40) };
    let rows = (0..n)
        .map(|_| {
            let v = VERDICTS[r.range(0, VERDICTS.len())];
            let cells = (0..header.len())
                .map(|c| {
                    let long = !short && (c + 1 == header.len() || r.chance(10));
                    cell(r, long, words)
                })
                .collect();
            (v, cells)
        })
        .collect();
    (header, rows, shape)
}

#[test]
fn chunks_lay_out_as_the_whole_table() {
    let mut r = Rng(0x5eed_7ab1e);
    for case in 0..1000 {
        let (header, rows, shape) = random_table(&mut r);
        let chunk = r.range(1, 64);
        let want = whole(&header, &rows, shape);
        let got = chunked(&header, &rows, shape, chunk);
        assert!(
            got == want,
            "case {case}: {shape:?}, {} rows, chunk {chunk}\nwant:\n{want}\ngot:\n{got}",
            rows.len()
        );
    }
}

#[test]
fn an_empty_table_is_its_header() {
    for width in [1, 20, 60, 80, 100, 200] {
        let shape = Shape {
            width,
            lower: (width / 3).min(40),
            color: false,
            verdict_at: 2,
        };
        let header = header(true, true);
        assert_eq!(
            chunked(&header, &[], shape, CHUNK),
            whole(&header, &[], shape)
        );
    }
}

/// The trial widths are asked once each: a fleet is read a few times at
/// most, not once per column and width.
#[test]
fn few_passes_over_the_rows() {
    let mut r = Rng(42);
    let mut worst = 0;
    for _ in 0..300 {
        let (header, rows, shape) = random_table(&mut r);
        let mut widest = Widest::default();
        for (i, h) in header.iter().enumerate() {
            widest.add(i, h);
        }
        for (_, cells) in &rows {
            for (i, c) in cells.iter().enumerate() {
                widest.add(i, c);
            }
        }
        let mut passes = 0;
        layout::arrange(shape.width, shape.lower, &widest, |avg, cols| {
            passes += 1;
            Ok(cols
                .iter()
                .map(|c| {
                    rows.iter()
                        .map(|(_, cells)| layout::longest_after_split(&cells[*c], avg))
                        .chain([layout::longest_after_split(header[*c], avg)])
                        .max()
                        .unwrap_or(0)
                })
                .collect())
        })
        .unwrap();
        worst = passes.max(worst);
    }
    assert!(worst <= 2 * 5, "{worst} passes");
}

/// [`layout::split_line`] cuts lines where comfy_table does: one cell in a
/// borderless column fixed at `w`, each part padded to the column's width.
/// (A part's trailing spaces do not show here; the tables above see them
/// through the widths.)
#[test]
fn lines_split_as_comfy_table_splits_them() {
    let mut r = Rng(7);
    for case in 0..4000 {
        let words = r.range(2, 30);
        let line = cell(&mut r, true, words).replace('\n', " ");
        let w = r.range(1, 60);
        let mut t = comfy_table::Table::new();
        t.load_style(presets::NOTHING)
            .force_no_tty()
            .add_row(vec![line.as_str()]);
        if let Some(c) = t.column_mut(0) {
            c.set_constraint(ColumnConstraint::Absolute(Width::Fixed(w as u16 + 2)));
        }
        let want: Vec<String> = t.lines().collect();
        let parts = if unicode_width::UnicodeWidthStr::width(line.as_str()) > w {
            layout::split_line(&line, w)
        } else {
            vec![line.clone()]
        };
        let got: Vec<String> = parts
            .iter()
            .map(|p| {
                let pad = w.saturating_sub(unicode_width::UnicodeWidthStr::width(p.as_str()));
                format!(" {p}{} ", " ".repeat(pad))
            })
            .collect();
        assert_eq!(got, want, "case {case}: {line:?} at {w}");
    }
}
