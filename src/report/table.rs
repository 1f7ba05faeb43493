//! `--format table`: one row per host, sorted, at most 100 columns unless the
//! terminal is wider; `--explain` adds each host's detail below.

use super::spill::{Part, Rows, put_str, take_str};
use super::{Options, Reporter, Summary, ec2rl_cell, explain_lines, fix_cell, short_host};
use crate::capture::Notice;
use crate::verdict::Verdict;
use crate::verdict::fix::FixStatus;
use crate::verdict::host::HostReport;
use comfy_table::{Attribute, Cell, Color, ContentArrangement, presets};
use std::io::{self, Write};

/// Each host's cells and `--explain` text are rendered as it arrives and
/// wait for the sort in a temporary file ([`super::spill`]).
pub struct Table {
    o: Options,
    rows: Rows,
    /// The row being encoded.
    buf: Vec<u8>,
}

impl Table {
    pub fn new(o: Options) -> Self {
        Table {
            o,
            rows: Rows::default(),
            buf: Vec::new(),
        }
    }

    /// Columns shown at this width: (collector, ec2rl).
    fn columns(&self) -> (bool, bool) {
        (self.o.width >= 90, self.o.width >= 70)
    }

    /// The host column's least width: the host names the row, give it
    /// room before the reason wraps.
    fn host_width(&self) -> u16 {
        (self.o.width / 3).min(40)
    }
}

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

impl Reporter for Table {
    fn host(&mut self, _out: &mut dyn Write, h: HostReport) -> io::Result<()> {
        let (show_collector, show_ec2rl) = self.columns();
        let short = short_host(&h.host, self.host_width().saturating_sub(2) as usize);
        let name = match &h.hostname {
            Some(n) if !h.host.contains(n.as_str()) => format!("{short}\n({n})"),
            _ => short,
        };
        let b = &mut self.buf;
        b.clear();
        b.push(VERDICTS.iter().position(|v| *v == h.verdict).unwrap_or(0) as u8);
        put_str(b, &name);
        if show_collector {
            put_str(b, h.collector.as_str());
        }
        put_str(b, &verdict_cell(&h));
        if show_ec2rl {
            put_str(b, &ec2rl_cell(&h));
        }
        put_str(b, &h.reason);
        let mut explain = String::new();
        if self.o.explain {
            for l in explain_lines(&h) {
                explain.push_str(&l);
                explain.push('\n');
            }
        }
        self.rows.push(&h.host, &self.buf, explain.as_bytes())
    }

    fn kept(&self) -> usize {
        self.rows.kept() + self.buf.capacity()
    }

    fn finish(&mut self, out: &mut dyn Write, s: &Summary, notices: &[Notice]) -> io::Result<()> {
        // Narrow terminals drop the columns a support engineer needs least
        // (the collector, then ec2rl's view) before words are split.
        let width = self.o.width;
        let (show_collector, show_ec2rl) = self.columns();
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
        let mut t = comfy_table::Table::new();
        t.load_style(presets::UTF8_FULL_CONDENSED)
            .force_no_tty()
            .set_content_arrangement(ContentArrangement::Dynamic)
            .set_width(width)
            .set_header(header);
        if self.o.color {
            t.enforce_styling();
            // crossterm drops colours under NO_COLOR by itself; the choice
            // was made already (`--color`, NO_COLOR, the terminal).
            crossterm::style::force_color_output(true);
        }
        let host_width = self.host_width();
        if let Some(c) = t.column_mut(0) {
            c.set_constraint(comfy_table::ColumnConstraint::LowerBoundary(
                comfy_table::Width::Fixed(host_width),
            ));
        }
        let color = self.o.color;
        let verdict_at = if show_collector { 2 } else { 1 };
        self.rows.each(Part::Head, |r| {
            t.add_row(row(r, color, verdict_at)?);
            Ok(())
        })?;
        // Line by line: the table's text is not joined into one string
        // (comfy_table still lays out every row at once: see FLEET.md).
        for line in t.lines() {
            writeln!(out, "{line}")?;
        }
        drop(t);
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

/// A row's cells from what [`Table::host`] stored.
fn row(mut r: &[u8], color: bool, verdict_at: usize) -> io::Result<Vec<Cell>> {
    let verdict = *r
        .first()
        .and_then(|v| VERDICTS.get(*v as usize))
        .ok_or_else(|| io::Error::other("temporary file: a damaged record"))?;
    r = &r[1..];
    let mut cells = Vec::with_capacity(5);
    while !r.is_empty() {
        let (s, rest) = take_str(r)?;
        r = rest;
        let mut c = Cell::new(s);
        if cells.len() == verdict_at && color {
            c = c.fg(verdict_color(verdict));
            if verdict != Verdict::Ok {
                c = c.add_attribute(Attribute::Bold);
            }
        }
        cells.push(c);
    }
    Ok(cells)
}
