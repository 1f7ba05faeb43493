//! `--format json`: one document, `"schema": 1`.

use super::{Reporter, Summary, sort};
use crate::capture::Notice;
use crate::verdict::host::HostReport;
use serde::Serialize;
use std::io::{self, Write};

#[derive(Default)]
pub struct Json {
    hosts: Vec<HostReport>,
}

#[derive(Serialize)]
struct Tool {
    name: &'static str,
    version: &'static str,
}

#[derive(Serialize)]
struct Doc<'a> {
    schema: u32,
    tool: Tool,
    summary: &'a Summary,
    hosts: &'a [HostReport],
    diagnostics: &'a [Notice],
}

pub fn tool() -> impl Serialize {
    Tool {
        name: env!("CARGO_PKG_NAME"),
        version: env!("CARGO_PKG_VERSION"),
    }
}

impl Reporter for Json {
    fn host(&mut self, _out: &mut dyn Write, h: HostReport) -> io::Result<()> {
        self.hosts.push(h);
        Ok(())
    }

    fn finish(&mut self, out: &mut dyn Write, s: &Summary, notices: &[Notice]) -> io::Result<()> {
        sort(&mut self.hosts);
        let doc = Doc {
            schema: 1,
            tool: Tool {
                name: env!("CARGO_PKG_NAME"),
                version: env!("CARGO_PKG_VERSION"),
            },
            summary: s,
            hosts: &self.hosts,
            diagnostics: notices,
        };
        serde_json::to_writer_pretty(&mut *out, &doc)?;
        writeln!(out)
    }
}
