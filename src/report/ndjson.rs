//! `--format ndjson`: one line per host as it finishes (`"type": "host"`),
//! then notices and a summary line, for `jq -c` and batch engines.

use super::{Reporter, Summary};
use crate::capture::Notice;
use crate::verdict::host::HostReport;
use serde::Serialize;
use std::io::{self, Write};

pub struct Ndjson;

#[derive(Serialize)]
struct Tagged<'a, T: Serialize> {
    #[serde(rename = "type")]
    kind: &'static str,
    schema: u32,
    #[serde(flatten)]
    body: &'a T,
}

impl Reporter for Ndjson {
    fn host(&mut self, out: &mut dyn Write, h: HostReport) -> io::Result<()> {
        serde_json::to_writer(
            &mut *out,
            &Tagged {
                kind: "host",
                schema: 1,
                body: &h,
            },
        )?;
        writeln!(out)?;
        out.flush()
    }

    fn finish(&mut self, out: &mut dyn Write, s: &Summary, notices: &[Notice]) -> io::Result<()> {
        for n in notices {
            serde_json::to_writer(
                &mut *out,
                &Tagged {
                    kind: "diagnostic",
                    schema: 1,
                    body: n,
                },
            )?;
            writeln!(out)?;
        }
        serde_json::to_writer(
            &mut *out,
            &Tagged {
                kind: "summary",
                schema: 1,
                body: s,
            },
        )?;
        writeln!(out)
    }
}
