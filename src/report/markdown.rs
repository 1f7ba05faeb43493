//! `--format markdown`: the table, then a section per host that is not a
//! complete `ok` — ready to paste into a ticket.

use super::spill::{Part, Rows};
use super::{Options, Render, Rendered, Reporter, Summary, ec2rl_cell, explain_text, fix_cell};
use crate::capture::Notice;
use crate::verdict::Verdict;
use crate::verdict::host::HostReport;
use std::fmt::Write as _;
use std::io::{self, Write};

/// Each host's table line and section are rendered as it arrives and wait
/// for the sort in a temporary file.
pub struct Markdown {
    o: Options,
    rows: Rows,
}

impl Markdown {
    pub fn new(o: Options) -> Self {
        Markdown {
            rows: Rows::default().pack_after(o.pack_after),
            o,
        }
    }
}

/// Markdown's punctuation escaped: a host name is text, not markup.
fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(
            c,
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '#' | '|' | '~'
        ) {
            out.push('\\');
        }
        out.push(if c == '\n' { ' ' } else { c });
    }
    out
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// Each host's table line and section.
struct Lines(Options);

impl Render for Lines {
    fn render(&mut self, h: &HostReport) -> io::Result<Rendered> {
        let row = format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            text(&h.host),
            h.collector.as_str(),
            cell(&match h.impact_word() {
                Some(w) => format!("{}, {w}", h.verdict_label()),
                None => h.verdict_label(),
            }),
            fix_cell(h),
            cell(&ec2rl_cell(h)),
            cell(&h.reason)
        );
        let mut section = String::new();
        if h.verdict != Verdict::Ok || h.is_incomplete() || self.0.explain {
            let _ = write!(section, "\n### {}\n\n```\n", text(&h.host));
            explain_text(h, &mut section);
            section.push_str("```\n");
        }
        Ok(Rendered {
            host: h.host.clone(),
            head: row.into_bytes(),
            tail: section.into_bytes(),
            ..Default::default()
        })
    }
}

impl Reporter for Markdown {
    fn renderer(&self) -> Box<dyn Render> {
        self.rows.packing(Box::new(Lines(self.o.clone())))
    }

    fn put(&mut self, _out: &mut dyn Write, r: Rendered) -> io::Result<()> {
        self.rows.put(&r)
    }

    fn kept(&self) -> usize {
        self.rows.kept()
    }

    fn finish(&mut self, out: &mut dyn Write, s: &Summary, notices: &[Notice]) -> io::Result<()> {
        writeln!(
            out,
            "| host | collector | verdict | fix | ec2rl would say | reason |"
        )?;
        writeln!(out, "|---|---|---|---|---|---|")?;
        self.rows.each(Part::Head, |r| out.write_all(r))?;
        writeln!(
            out,
            "\n{} host(s): {} ok, {} asymmetric, {} no-route, {} error; {} incomplete",
            s.hosts, s.ok, s.asymmetric, s.no_route, s.error, s.incomplete
        )?;
        self.rows.each(Part::Tail, |t| out.write_all(t))?;
        for n in notices {
            writeln!(out, "\n- note: `{}`: {}", n.file, n.message)?;
        }
        Ok(())
    }
}
