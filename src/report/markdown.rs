//! `--format markdown`: the table, then a section per host that is not a
//! complete `ok` — ready to paste into a ticket.

use super::{Options, Reporter, Summary, ec2rl_cell, explain_lines, fix_cell, sort};
use crate::capture::Notice;
use crate::verdict::Verdict;
use crate::verdict::host::HostReport;
use std::io::{self, Write};

pub struct Markdown {
    o: Options,
    hosts: Vec<HostReport>,
}

impl Markdown {
    pub fn new(o: Options) -> Self {
        Markdown {
            o,
            hosts: Vec::new(),
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

impl Reporter for Markdown {
    fn host(&mut self, _out: &mut dyn Write, h: HostReport) -> io::Result<()> {
        self.hosts.push(h);
        Ok(())
    }

    fn finish(&mut self, out: &mut dyn Write, s: &Summary, notices: &[Notice]) -> io::Result<()> {
        sort(&mut self.hosts);
        writeln!(out, "| host | collector | verdict | fix | ec2rl | reason |")?;
        writeln!(out, "|---|---|---|---|---|---|")?;
        for h in &self.hosts {
            writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
                text(&h.host),
                h.collector,
                cell(&h.verdict_label()),
                fix_cell(h),
                cell(&ec2rl_cell(h)),
                cell(&h.reason)
            )?;
        }
        writeln!(
            out,
            "\n{} host(s): {} ok, {} asymmetric, {} no-route, {} error; {} incomplete",
            s.hosts, s.ok, s.asymmetric, s.no_route, s.error, s.incomplete
        )?;
        for h in &self.hosts {
            if h.verdict == Verdict::Ok && !h.is_incomplete() && !self.o.explain {
                continue;
            }
            writeln!(out, "\n### {}\n\n```", text(&h.host))?;
            for l in explain_lines(h) {
                writeln!(out, "{l}")?;
            }
            writeln!(out, "```")?;
        }
        for n in notices {
            writeln!(out, "\n- note: `{}`: {}", n.file, n.message)?;
        }
        Ok(())
    }
}
