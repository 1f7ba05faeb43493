//! `--format table`: one row per host, sorted, at most 100 columns unless the
//! terminal is wider; `--explain` adds each host's detail below.

use super::{Options, Reporter, Summary, ec2rl_cell, explain_lines, fix_cell, short_host, sort};
use crate::capture::Notice;
use crate::verdict::Verdict;
use crate::verdict::fix::FixStatus;
use crate::verdict::host::HostReport;
use comfy_table::{Attribute, Cell, Color, ContentArrangement, presets};
use std::io::{self, Write};

pub struct Table {
    o: Options,
    hosts: Vec<HostReport>,
}

impl Table {
    pub fn new(o: Options) -> Self {
        Table {
            o,
            hosts: Vec::new(),
        }
    }
}

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
    if h.fix_status != FixStatus::NotNeeded {
        s.push_str("\nfix: ");
        s.push_str(fix_cell(h));
    }
    s
}

impl Reporter for Table {
    fn host(&mut self, _out: &mut dyn Write, h: HostReport) -> io::Result<()> {
        self.hosts.push(h);
        Ok(())
    }

    fn finish(&mut self, out: &mut dyn Write, s: &Summary, notices: &[Notice]) -> io::Result<()> {
        sort(&mut self.hosts);
        // Narrow terminals drop the columns a support engineer needs least
        // (the collector, then ec2rl's view) before words are split.
        let width = self.o.width;
        let show_collector = width >= 90;
        let show_ec2rl = width >= 70;
        let mut header = vec!["host"];
        if show_collector {
            header.push("collector");
        }
        header.push("verdict");
        if show_ec2rl {
            header.push("ec2rl");
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
        // The host names the row: give it room before the reason wraps.
        let host_width = (width / 3).min(40);
        if let Some(c) = t.column_mut(0) {
            c.set_constraint(comfy_table::ColumnConstraint::LowerBoundary(
                comfy_table::Width::Fixed(host_width),
            ));
        }
        for h in &self.hosts {
            let short = short_host(&h.host, host_width.saturating_sub(2) as usize);
            let name = match &h.hostname {
                Some(n) if !h.host.contains(n.as_str()) => format!("{short}\n({n})"),
                _ => short,
            };
            let mut row = vec![Cell::new(name)];
            if show_collector {
                row.push(Cell::new(h.collector));
            }
            let mut verdict = Cell::new(verdict_cell(h));
            if self.o.color {
                verdict = verdict.fg(verdict_color(h.verdict));
                if h.verdict != Verdict::Ok {
                    verdict = verdict.add_attribute(Attribute::Bold);
                }
            }
            row.push(verdict);
            if show_ec2rl {
                row.push(Cell::new(ec2rl_cell(h)));
            }
            row.push(Cell::new(&h.reason));
            t.add_row(row);
        }
        writeln!(out, "{t}")?;
        let mut summary = format!(
            "{} host(s): {} ok, {} asymmetric, {} no-route, {} error; {} incomplete",
            s.hosts, s.ok, s.asymmetric, s.no_route, s.error, s.incomplete
        );
        if summary.chars().count() > width as usize {
            summary = summary.replace("; ", "\n");
        }
        writeln!(out, "{summary}")?;
        if self.o.explain {
            for h in &self.hosts {
                writeln!(out)?;
                for l in explain_lines(h) {
                    writeln!(out, "{l}")?;
                }
            }
        }
        for n in notices {
            writeln!(out, "note: {}: {}", n.file, n.message)?;
        }
        Ok(())
    }
}
