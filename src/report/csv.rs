//! `--format csv`: one row per host (RFC 4180 quoting).

use super::{Reporter, Summary, sort};
use crate::capture::Notice;
use crate::verdict::host::HostReport;
use std::io::{self, Write};

#[derive(Default)]
pub struct Csv {
    hosts: Vec<HostReport>,
}

fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

impl Reporter for Csv {
    fn host(&mut self, _out: &mut dyn Write, h: HostReport) -> io::Result<()> {
        self.hosts.push(h);
        Ok(())
    }

    fn finish(&mut self, out: &mut dyn Write, _s: &Summary, _n: &[Notice]) -> io::Result<()> {
        sort(&mut self.hosts);
        writeln!(
            out,
            "host,hostname,instance_id,collector,verdict,incomplete,ec2rl_status,ec2rl_message,ec2rl_logged,reason,fix_status,fix_reason"
        )?;
        for h in &self.hosts {
            let row = [
                h.host.clone(),
                h.hostname.clone().unwrap_or_default(),
                h.instance_id.clone().unwrap_or_default(),
                h.collector.to_string(),
                h.verdict.as_str().to_string(),
                h.incomplete.join("; "),
                h.ec2rl.status.unwrap_or("").to_string(),
                h.ec2rl.message.clone(),
                h.ec2rl.logged.clone().unwrap_or_default(),
                h.reason.clone(),
                h.fix_status.as_str().to_string(),
                h.fix_reason.clone(),
            ];
            writeln!(
                out,
                "{}",
                row.iter().map(|f| field(f)).collect::<Vec<_>>().join(",")
            )?;
        }
        Ok(())
    }
}
