//! `--format json`: one document, `"schema": 3` (`wire`).
//!
//! The summary comes before the hosts, and hosts are sorted: the document
//! can only be written at the end. Each host is serialised as it arrives,
//! already indented as it stands in the document, into a temporary file
//! ([`super::spill`]); the end writes the document around them.

use super::spill::{Part, Rows};
use super::wire::{SCHEMA, Wire};
use super::{Render, Rendered, Reporter, Summary};
use crate::capture::Notice;
use crate::verdict::host::HostReport;
use serde::Serialize;
use std::io::{self, Write};

pub struct Json {
    rows: Rows,
}

impl Json {
    pub fn new(o: &super::Options) -> Self {
        Json {
            rows: Rows::default().pack_after(o.pack_after),
        }
    }
}

/// Each host serialised into a text of its own.
#[derive(Default)]
struct Hosts {
    /// The last host's text length: the next one's first guess (growing
    /// from nothing copied each host's text about twice).
    last: usize,
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

/// Where the hosts go in the document: serde_json writes an empty array
/// as `[]`, and nothing else in the document before it can spell this
/// (a summary of numbers, the tool's name and version).
const HOSTS: &[u8] = b"\"hosts\": []";

/// Indentation of an element of the top-level `hosts` array.
const INDENT: &[u8] = b"    ";

impl Render for Hosts {
    fn render(&mut self, h: &HostReport) -> io::Result<Rendered> {
        // Written as it stands in the document: an element of `hosts`,
        // two levels deep.
        // Indented, the text is up to about twice the compact one.
        let w = Wire::of(h);
        let mut text =
            super::text_buffer(self.last + self.last / 8, w.len_hint().saturating_mul(2));
        text.extend_from_slice(INDENT);
        super::encode::pretty(&mut text, &w, 2)?;
        self.last = text.len();
        Ok(Rendered {
            host: h.host.clone(),
            head: text,
            ..Default::default()
        })
    }
}

impl Reporter for Json {
    fn renderer(&self) -> Box<dyn Render> {
        self.rows.packing(Box::new(Hosts::default()))
    }

    fn put(&mut self, _out: &mut dyn Write, r: Rendered) -> io::Result<()> {
        self.rows.put(&r)
    }

    fn kept(&self) -> usize {
        self.rows.kept()
    }

    fn finish(&mut self, out: &mut dyn Write, s: &Summary, notices: &[Notice]) -> io::Result<()> {
        let doc = Doc {
            schema: SCHEMA,
            tool: Tool {
                name: env!("CARGO_PKG_NAME"),
                version: env!("CARGO_PKG_VERSION"),
            },
            summary: s,
            hosts: &[],
            diagnostics: notices,
        };
        let frame = serde_json::to_vec_pretty(&doc)?;
        let at = frame
            .windows(HOSTS.len())
            .position(|w| w == HOSTS)
            .ok_or_else(|| io::Error::other("json: no hosts array in the document"))?;
        // `"hosts": [`, then as serde_json writes a non-empty array.
        let open = at + HOSTS.len() - 1;
        out.write_all(&frame[..open])?;
        if !self.rows.is_empty() {
            let mut first = true;
            self.rows.each(Part::Head, |h| {
                out.write_all(if first { b"\n" } else { b",\n" })?;
                first = false;
                out.write_all(h)
            })?;
            out.write_all(b"\n  ")?;
        }
        out.write_all(&frame[open..])?;
        writeln!(out)
    }
}
