//! `--format ndjson`: one line per host as it finishes (`"type": "host"`),
//! then notices and a summary line, for `jq -c` and batch engines.

use super::{Reporter, Summary};
use crate::capture::Notice;
use crate::verdict::host::HostReport;
use serde::Serialize;
use std::io::{self, Write};

/// Holds the line being written: a host is serialised into it, then
/// written at once. serde_json writes a report in thousands of small
/// pieces, each a virtual call into the `BufWriter` when written straight
/// to `out` (a tenth of a fleet scan).
#[derive(Default)]
pub struct Ndjson {
    line: Vec<u8>,
}

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
        // `Tagged`'s text without serde's flatten (a detour through its map
        // serialiser for every field): the report's object continues the
        // tag's, its `{` turned into a `,`.
        let line = &mut self.line;
        line.clear();
        line.extend_from_slice(br#"{"type":"host","schema":2"#);
        let start = line.len();
        super::encode::compact(line, &h)?;
        if line[start..] == *b"{}" {
            line.truncate(start);
            line.push(b'}');
        } else {
            line[start] = b',';
        }
        line.push(b'\n');
        out.write_all(line)?;
        out.flush()
    }

    fn finish(&mut self, out: &mut dyn Write, s: &Summary, notices: &[Notice]) -> io::Result<()> {
        for n in notices {
            serde_json::to_writer(
                &mut *out,
                &Tagged {
                    kind: "diagnostic",
                    schema: 2,
                    body: n,
                },
            )?;
            writeln!(out)?;
        }
        serde_json::to_writer(
            &mut *out,
            &Tagged {
                kind: "summary",
                schema: 2,
                body: s,
            },
        )?;
        writeln!(out)
    }
}
