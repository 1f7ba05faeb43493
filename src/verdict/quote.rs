//! Captured lines quoted with their file and line, for every leak's rule
//! and route.

use super::Quote;
use crate::grammar::Family;
use crate::model::{Host, Origin, fam_idx};
use std::cell::OnceCell;

/// Quotes captured lines, from an index of each file's line starts built on
/// first use: `Host::quote` walks its file from the top for every quote,
/// and a host quotes the same few rules and routes for every leak.
pub(super) struct Quoter<'h> {
    pub(super) host: &'h Host,
    pub(super) starts: Vec<OnceCell<Vec<usize>>>,
    /// Each rule's quote, once made (per family).
    pub(super) rules: [Vec<OnceCell<Quote>>; 2],
}

impl<'h> Quoter<'h> {
    pub(super) fn new(host: &'h Host) -> Self {
        Quoter {
            host,
            starts: host.sources.iter().map(|_| OnceCell::new()).collect(),
            rules: host
                .rules
                .each_ref()
                .map(|r| r.iter().map(|_| OnceCell::new()).collect()),
        }
    }

    /// `Host::quote`: the lines `str::lines` gives, each trimmed at its end.
    pub(super) fn text(&self, o: Origin) -> String {
        let Some(s) = self.host.sources.get(o.source as usize) else {
            return String::new();
        };
        let text = &s.text;
        let starts = self.starts[o.source as usize].get_or_init(|| {
            // `str::lines` yields no line after a final newline, none for "".
            let mut v = Vec::with_capacity(text.len() / 40 + 1);
            if !text.is_empty() {
                v.push(0);
            }
            v.extend(
                memchr::memchr_iter(b'\n', text.as_bytes())
                    .map(|i| i + 1)
                    .filter(|&i| i < text.len()),
            );
            v
        });
        let first = o.line.saturating_sub(1) as usize;
        let count = (o.end_line.max(o.line) - o.line + 1) as usize;
        let mut out = String::new();
        for i in (first..starts.len()).take(count) {
            if i > first {
                out.push('\n');
            }
            let end = starts.get(i + 1).copied().unwrap_or(text.len());
            // The slice keeps its `\n` (and `\r`): trim_end drops them too.
            out.push_str(text[starts[i]..end].trim_end());
        }
        out
    }

    /// `Quote::of`, with the text read through the index.
    pub(super) fn quote(&self, o: Origin, fallback: impl FnOnce() -> String) -> Quote {
        let mut q = Quote::of_located(self.host, o, fallback);
        if !o.is_assumed() {
            q.text = self.text(o);
        }
        q
    }

    pub(super) fn rule(&self, fam: Family, i: usize) -> Quote {
        let r = &self.host.rules[fam_idx(fam)][i];
        self.rules[fam_idx(fam)][i]
            .get_or_init(|| self.quote(r.origin, || r.rule.to_string()))
            .clone()
    }
}
