//! `--format ndjson`: one line per host as it finishes (`"type": "host"`),
//! then notices and a summary line, for `jq -c` and batch engines.

use super::wire::{SCHEMA, Wire};
use super::{Render, Rendered, Reporter, Summary};
use crate::capture::Notice;
use crate::verdict::host::HostReport;
use serde::Serialize;
use std::io::{self, Write};

/// Writes each host's line as it comes.
#[derive(Default)]
pub struct Ndjson;

/// A host is serialised into its line, written at once: serde_json writes
/// a report in thousands of small pieces, each a virtual call into the
/// `BufWriter` when written straight to `out` (a tenth of a fleet scan).
#[derive(Default)]
struct Lines {
    /// The last line's length: the next one's first guess.
    last: usize,
}

#[derive(Serialize)]
struct Tagged<'a, T: Serialize> {
    #[serde(rename = "type")]
    kind: &'static str,
    schema: u32,
    #[serde(flatten)]
    body: &'a T,
}

impl Render for Lines {
    fn render(&mut self, h: &HostReport) -> io::Result<Rendered> {
        // `Tagged`'s text without serde's flatten (a detour through its map
        // serialiser for every field): the report's object continues the
        // tag's, its `{` turned into a `,`.
        // The last line's length, or this host's estimate when larger.
        let w = Wire::of(h);
        let mut line = super::text_buffer(self.last + self.last / 8, w.len_hint());
        line.extend_from_slice(br#"{"type":"host","schema":"#);
        line.extend_from_slice(itoa::Buffer::new().format(SCHEMA).as_bytes());
        let start = line.len();
        super::encode::compact(&mut line, &w)?;
        if line[start..] == *b"{}" {
            line.truncate(start);
            line.push(b'}');
        } else {
            line[start] = b',';
        }
        line.push(b'\n');
        self.last = line.len();
        Ok(Rendered {
            head: line,
            ..Default::default()
        })
    }
}

impl Reporter for Ndjson {
    fn renderer(&self) -> Box<dyn Render> {
        Box::new(Lines::default())
    }

    fn put(&mut self, out: &mut dyn Write, r: Rendered) -> io::Result<()> {
        out.write_all(&r.head)?;
        out.flush()
    }

    fn finish(&mut self, out: &mut dyn Write, s: &Summary, notices: &[Notice]) -> io::Result<()> {
        for n in notices {
            serde_json::to_writer(
                &mut *out,
                &Tagged {
                    kind: "diagnostic",
                    schema: SCHEMA,
                    body: n,
                },
            )?;
            writeln!(out)?;
        }
        serde_json::to_writer(
            &mut *out,
            &Tagged {
                kind: "summary",
                schema: SCHEMA,
                body: s,
            },
        )?;
        writeln!(out)
    }
}
