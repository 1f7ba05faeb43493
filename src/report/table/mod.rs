//! `--format table`: one row per host, sorted, at most 100 columns unless the
//! terminal is wider; `--explain` adds each host's detail below.

mod layout;

use super::spill::{Part, Rows, put_str, take_str};
use super::{
    Options, Render, Rendered, Reporter, Summary, ec2rl_cell, explain_text, fix_cell, short_host,
};
use crate::capture::Notice;
use crate::verdict::Verdict;
use crate::verdict::fix::FixStatus;
use crate::verdict::host::HostReport;
use comfy_table::{Attribute, Cell, Color, ContentArrangement, presets};
use layout::Widest;
use std::io::{self, Write};

/// Each host's cells and `--explain` text are rendered as it arrives and
/// wait for the sort in a temporary file ([`super::spill`]).
pub struct Table {
    o: Options,
    rows: Rows,
    /// What the column widths need of every cell ([`layout`]).
    widest: Widest,
}

impl Table {
    pub fn new(o: Options) -> Self {
        Table {
            rows: Rows::default().pack_after(o.pack_after),
            o,
            widest: Widest::default(),
        }
    }

    fn columns(&self) -> (bool, bool) {
        columns(&self.o)
    }

    fn host_width(&self) -> u16 {
        host_width(&self.o)
    }
}

/// Columns shown at this width: (collector, ec2rl).
fn columns(o: &Options) -> (bool, bool) {
    (o.width >= 90, o.width >= 70)
}

/// The host column's least width: the host names the row, give it room
/// before the reason wraps.
fn host_width(o: &Options) -> u16 {
    (o.width / 3).min(40)
}

/// Each host's cells, encoded, and its `--explain` text.
struct Cells(Options);

const VERDICTS: [Verdict; 4] = [
    Verdict::Ok,
    Verdict::Asymmetric,
    Verdict::NoRoute,
    Verdict::Error,
];

/// Broken first: asymmetric red, no-route yellow, error magenta, ok green.
fn verdict_color(v: Verdict) -> Color {
    match v {
        Verdict::Asymmetric => Color::Red,
        Verdict::NoRoute => Color::Yellow,
        Verdict::Error => Color::Magenta,
        Verdict::Ok => Color::Green,
    }
}

/// The verdict, then how far the fix goes (the table has no room for a
/// column of its own).
fn verdict_cell(h: &HostReport) -> String {
    let mut s = h.verdict_label().replace(" (", "\n(");
    if let Some(w) = h.impact_word() {
        s.push('\n');
        s.push_str(w);
    }
    if h.fix_status != FixStatus::NotNeeded {
        s.push_str("\nfix: ");
        s.push_str(fix_cell(h));
    }
    s
}

impl Render for Cells {
    fn render(&mut self, h: &HostReport) -> io::Result<Rendered> {
        let o = &self.0;
        let (show_collector, show_ec2rl) = columns(o);
        let short = short_host(&h.host, host_width(o).saturating_sub(2) as usize);
        let name = match &h.hostname {
            Some(n) if !h.host.contains(n.as_str()) => format!("{short}\n({n})"),
            _ => short,
        };
        let verdict = verdict_cell(h);
        let ec2rl = if show_ec2rl {
            ec2rl_cell(h)
        } else {
            String::new()
        };
        let mut cells = vec![name.as_str()];
        if show_collector {
            cells.push(h.collector.as_str());
        }
        cells.push(&verdict);
        if show_ec2rl {
            cells.push(&ec2rl);
        }
        cells.push(&h.reason);
        let mut head = Vec::new();
        let mut widest = Widest::default();
        encode(&mut head, h.verdict, &cells, &mut widest);
        let mut explain = String::new();
        if o.explain {
            explain_text(h, &mut explain);
        }
        Ok(Rendered {
            host: h.host.clone(),
            head,
            tail: explain.into_bytes(),
            widest: widest.into_vec(),
            packed: None,
        })
    }
}

impl Reporter for Table {
    fn renderer(&self) -> Box<dyn Render> {
        self.rows.packing(Box::new(Cells(self.o.clone())))
    }

    fn put(&mut self, _out: &mut dyn Write, r: Rendered) -> io::Result<()> {
        self.widest.merge(&r.widest);
        self.rows.put(&r)
    }

    fn kept(&self) -> usize {
        self.rows.kept()
    }

    fn finish(&mut self, out: &mut dyn Write, s: &Summary, notices: &[Notice]) -> io::Result<()> {
        let width = self.o.width;
        let (show_collector, show_ec2rl) = self.columns();
        let header = header(show_collector, show_ec2rl);
        let shape = Shape {
            width,
            lower: self.host_width(),
            color: self.o.color,
            verdict_at: if show_collector { 2 } else { 1 },
        };
        write_table(out, &mut self.rows, &header, &self.widest, shape, CHUNK)?;
        let mut summary = format!(
            "{} host(s): {} ok, {} asymmetric, {} no-route, {} error; {} incomplete",
            s.hosts, s.ok, s.asymmetric, s.no_route, s.error, s.incomplete
        );
        if summary.chars().count() > width as usize {
            summary = summary.replace("; ", "\n");
        }
        writeln!(out, "{summary}")?;
        self.rows.each(Part::Tail, |e| {
            writeln!(out)?;
            out.write_all(e)
        })?;
        for n in notices {
            writeln!(out, "note: {}: {}", n.file, n.message)?;
        }
        Ok(())
    }
}

/// The header. Narrow terminals drop the columns a support engineer needs
/// least (the collector, then ec2rl's view) before words are split.
fn header(show_collector: bool, show_ec2rl: bool) -> Vec<&'static str> {
    let mut header = vec!["host"];
    if show_collector {
        header.push("collector");
    }
    header.push("verdict");
    if show_ec2rl {
        // What ec2rl's asymmetricroute module would print for these
        // dumps (not this tool's verdict), on two lines to stay narrow.
        header.push("ec2rl\nwould say");
    }
    header.push("reason");
    header
}

/// How the table is drawn: its width, the host column's least width, colours.
#[derive(Debug, Clone, Copy)]
struct Shape {
    width: u16,
    /// Column 0's `LowerBoundary`.
    lower: u16,
    color: bool,
    /// The column coloured by verdict.
    verdict_at: usize,
}

/// Rows laid out by one comfy_table at a time: a few MiB, whatever the fleet.
const CHUNK: usize = 512;

/// Writes the table of `rows` (records [`encode`] made; `widest` saw every
/// cell) as comfy_table lays it out with `ContentArrangement::Dynamic`,
/// without holding every row: the column widths come from
/// [`layout::arrange`] (a pass over the rows per trial width it asks), then
/// rows are laid out `chunk_rows` ([`CHUNK`]) at a time by comfy_table with
/// each column fixed at its width; the chunks' own top and bottom borders
/// are dropped.
fn write_table(
    out: &mut dyn Write,
    rows: &mut Rows,
    header: &[&str],
    widest: &Widest,
    shape: Shape,
    chunk_rows: usize,
) -> io::Result<()> {
    let mut widest = widest.clone();
    for (i, h) in header.iter().enumerate() {
        widest.add(i, h);
    }
    if widest.columns() != header.len() {
        return Err(io::Error::other("temporary file: a damaged record"));
    }
    let widths = layout::arrange(shape.width, shape.lower, &widest, |avg, cols| {
        let mut longest: Vec<usize> = cols
            .iter()
            .map(|c| layout::longest_after_split(header[*c], avg))
            .collect();
        rows.each(Part::Head, |r| {
            let (_, cells) = decode(r)?;
            for (l, c) in longest.iter_mut().zip(cols) {
                let cell = cells.get(*c).copied().unwrap_or_default();
                *l = (*l).max(layout::longest_after_split(cell, avg));
            }
            Ok(())
        })?;
        Ok(longest)
    })?;
    if shape.color {
        // crossterm drops colours under NO_COLOR by itself; the choice
        // was made already (`--color`, NO_COLOR, the terminal).
        crossterm::style::force_color_output(true);
    }
    // The header's table: its last line is the table's bottom border.
    let mut t = fixed_table(shape);
    t.set_header(header.to_vec());
    fix_widths(&mut t, &widths);
    let mut head: Vec<String> = t.lines().collect();
    let bottom = head.pop().unwrap_or_default();
    for line in &head {
        writeln!(out, "{line}")?;
    }
    let mut chunk = fixed_table(shape);
    let mut n = 0;
    rows.each(Part::Head, |r| {
        chunk.add_row(row(r, shape.color, shape.verdict_at)?);
        n += 1;
        if n >= chunk_rows {
            write_chunk(&mut chunk, out, &widths, shape)?;
            n = 0;
        }
        Ok(())
    })?;
    if n > 0 {
        write_chunk(&mut chunk, out, &widths, shape)?;
    }
    writeln!(out, "{bottom}")
}

/// Writes a chunk's rows (not its own top and bottom borders) and empties it.
fn write_chunk(
    t: &mut comfy_table::Table,
    out: &mut dyn Write,
    widths: &[u16],
    shape: Shape,
) -> io::Result<()> {
    fix_widths(t, widths);
    {
        let mut lines = t.lines().skip(1).peekable();
        while let Some(line) = lines.next() {
            if lines.peek().is_some() {
                writeln!(out, "{line}")?;
            }
        }
    }
    *t = fixed_table(shape);
    Ok(())
}

/// A comfy_table styled as the report's table (no header, no rows yet).
fn fixed_table(shape: Shape) -> comfy_table::Table {
    let mut t = comfy_table::Table::new();
    t.load_style(presets::UTF8_FULL_CONDENSED)
        .force_no_tty()
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(shape.width);
    if shape.color {
        t.enforce_styling();
    }
    t
}

/// Fixes each column at its content width (its padding on top; no width
/// saturates: the arrangement keeps them under the table's, a u16).
fn fix_widths(t: &mut comfy_table::Table, widths: &[u16]) {
    for (i, w) in widths.iter().enumerate() {
        if let Some(c) = t.column_mut(i) {
            c.set_constraint(comfy_table::ColumnConstraint::Absolute(
                comfy_table::Width::Fixed(w.saturating_add(layout::PADDING)),
            ));
        }
    }
}

/// A host's row as [`Table::host`] stores it: the verdict's index, then
/// each cell; `widest` counts the cells.
fn encode(buf: &mut Vec<u8>, verdict: Verdict, cells: &[&str], widest: &mut Widest) {
    buf.clear();
    buf.push(VERDICTS.iter().position(|v| *v == verdict).unwrap_or(0) as u8);
    for (i, c) in cells.iter().enumerate() {
        put_str(buf, c);
        widest.add(i, c);
    }
}

/// The verdict and cells [`encode`] stored.
fn decode(mut r: &[u8]) -> io::Result<(Verdict, Vec<&str>)> {
    let verdict = *r
        .first()
        .and_then(|v| VERDICTS.get(*v as usize))
        .ok_or_else(|| io::Error::other("temporary file: a damaged record"))?;
    r = &r[1..];
    let mut cells = Vec::with_capacity(5);
    while !r.is_empty() {
        let (s, rest) = take_str(r)?;
        r = rest;
        cells.push(s);
    }
    Ok((verdict, cells))
}

/// A row's cells from what [`Table::host`] stored.
fn row(r: &[u8], color: bool, verdict_at: usize) -> io::Result<Vec<Cell>> {
    let (verdict, texts) = decode(r)?;
    let mut cells = Vec::with_capacity(texts.len());
    for (i, s) in texts.into_iter().enumerate() {
        let mut c = Cell::new(s);
        if i == verdict_at && color {
            c = c.fg(verdict_color(verdict));
            if verdict != Verdict::Ok {
                c = c.add_attribute(Attribute::Bold);
            }
        }
        cells.push(c);
    }
    Ok(cells)
}

#[cfg(test)]
mod tests;
