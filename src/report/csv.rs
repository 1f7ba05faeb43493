//! `--format csv`: one row per host (RFC 4180 quoting).

use super::spill::{Part, Rows};
use super::{Render, Rendered, Reporter, Summary};
use crate::capture::Notice;
use crate::verdict::host::HostReport;
use std::io::{self, Write};

/// Each host's line is made as it arrives; only the lines, in a
/// temporary file, wait for the sort.
pub struct Csv {
    rows: Rows,
}

impl Csv {
    pub fn new(o: &super::Options) -> Self {
        Csv {
            rows: Rows::default().pack_after(o.pack_after),
        }
    }
}

fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Each host's line.
struct Lines;

impl Render for Lines {
    fn render(&mut self, h: &HostReport) -> io::Result<Rendered> {
        Ok(Rendered {
            host: h.host.clone(),
            head: line(h).into_bytes(),
            ..Default::default()
        })
    }
}

impl Reporter for Csv {
    fn renderer(&self) -> Box<dyn Render> {
        self.rows.packing(Box::new(Lines))
    }

    fn put(&mut self, _out: &mut dyn Write, r: Rendered) -> io::Result<()> {
        self.rows.put(&r)
    }

    fn kept(&self) -> usize {
        self.rows.kept()
    }

    fn finish(&mut self, out: &mut dyn Write, _s: &Summary, _n: &[Notice]) -> io::Result<()> {
        writeln!(
            out,
            "host,hostname,instance_id,collector,verdict,impact,incomplete,ec2rl_status,ec2rl_message,ec2rl_logged,reason,fix_status,fix_reason"
        )?;
        self.rows.each(Part::Head, |l| out.write_all(l))
    }
}

/// A host's CSV line, with its newline.
fn line(h: &HostReport) -> String {
    let row = [
        h.host.clone(),
        h.hostname.clone().unwrap_or_default(),
        h.instance_id.clone().unwrap_or_default(),
        h.collector.as_str().to_string(),
        h.verdict.as_str().to_string(),
        h.impact.map_or("", |i| i.as_str()).to_string(),
        h.incomplete.join("; "),
        h.ec2rl.status.map_or("", |s| s.as_str()).to_string(),
        h.ec2rl.message.clone(),
        h.ec2rl.logged.clone().unwrap_or_default(),
        h.reason.clone(),
        h.fix_status.as_str().to_string(),
        h.fix_reason.clone(),
    ];
    let mut l = row.iter().map(|f| field(f)).collect::<Vec<_>>().join(",");
    l.push('\n');
    l
}
