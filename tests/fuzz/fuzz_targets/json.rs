#![no_main]
//! Bytes → decode → the `-j` grammar, called directly so the JSON path runs
//! whatever the input looks like, as every kind; and through `parse` when the
//! input passes for JSON.

use asymroute_offline::grammar::{self, json};
use asymroute_offline_fuzz::{KINDS, check_diagnostics, check_dump, ctx_for, line_count};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (text, _) = grammar::decode(data);
    let ctx = ctx_for(data);
    let n = line_count(&text);
    for kind in KINDS {
        let out = json::parse(&text, kind, &ctx, 0);
        check_diagnostics(&text, &out.diagnostics);
        let lines = out
            .links
            .iter()
            .map(|l| l.line)
            .chain(out.rules.iter().map(|r| r.line))
            .chain(out.routes.iter().map(|r| r.line));
        for l in lines {
            assert!((1..=n).contains(&l), "item line {l} outside 1..={n}");
        }
        let dump = grammar::parse(&text, kind, &ctx);
        check_dump(&text, kind, &ctx, &dump);
    }
});
