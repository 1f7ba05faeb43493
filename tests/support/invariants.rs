//! The invariants every parse result keeps, checked by the property tests
//! (`tests/props.rs`) and by every fuzz target (`tests/fuzz/src/lib.rs`)
//! from this one file: diagnostics and items on existing lines, columns
//! ≥ 1 and at most just past their line's end, routes ending after they
//! start, parsing deterministic, and every view of the result (JSON,
//! `Display`) made without a panic.
//!
//! Include with `#[path = "…/support/invariants.rs"] mod invariants;`.
#![allow(dead_code)]

use asymroute_offline::grammar::{self, Ctx, Diagnostic, Dump, DumpKind, Items};

/// Physical lines of a text (at least 1).
pub fn line_count(text: &str) -> u32 {
    let n = text.bytes().filter(|&b| b == b'\n').count() + usize::from(!text.ends_with('\n'));
    n.max(1) as u32
}

/// Every line number a dump carries, with what carries it.
fn item_lines(dump: &Dump) -> Vec<(&'static str, u32)> {
    let mut v = Vec::new();
    match &dump.items {
        Items::Links(links) => {
            for l in links {
                v.push(("link", l.line));
                for a in &l.addrs {
                    v.push(("address", a.line));
                }
            }
        }
        Items::Rules(rules) => v.extend(rules.iter().map(|r| ("rule", r.line))),
        Items::Routes(routes) => {
            for r in routes {
                v.push(("route", r.line));
                v.push(("route end", r.end_line));
                for n in &r.nexthops {
                    v.push(("nexthop", r.leg_line(n)));
                }
            }
        }
    }
    if let Some(f) = &dump.failed {
        v.push(("failure", f.line));
    }
    v
}

/// Diagnostics on existing lines and columns of `text`.
pub fn check_diagnostics(text: &str, diags: &[Diagnostic]) -> Result<(), String> {
    if diags.is_empty() {
        return Ok(());
    }
    let n = line_count(text);
    // Characters per physical line, counted once (inputs carry many diagnostics).
    let widths: Vec<usize> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l).chars().count())
        .collect();
    for d in diags {
        if !(1..=n).contains(&d.line) {
            return Err(format!("diagnostic line {} outside 1..={n}: {d}", d.line));
        }
        if d.column < 1 {
            return Err(format!("diagnostic column {} < 1: {d}", d.column));
        }
        // At most just past the line's last character.
        let width = widths[d.line as usize - 1];
        if d.column as usize > width + 1 {
            return Err(format!(
                "diagnostic column {} past the end of its line ({width} chars): {d}",
                d.column
            ));
        }
    }
    Ok(())
}

/// The invariants of one parse of `text` as `kind` under `ctx`.
pub fn check_dump(text: &str, kind: DumpKind, ctx: &Ctx, dump: &Dump) -> Result<(), String> {
    let n = line_count(text);
    if dump.kind != kind {
        return Err(format!("parsed as {:?}, asked {kind:?}", dump.kind));
    }
    check_diagnostics(text, &dump.diagnostics)?;
    for (what, line) in item_lines(dump) {
        if !(1..=n).contains(&line) {
            return Err(format!("{what} line {line} outside 1..={n}"));
        }
    }
    if let Items::Routes(routes) = &dump.items
        && routes.iter().any(|r| r.line > r.end_line)
    {
        return Err("a route ends before it starts".into());
    }
    if &grammar::parse(text, kind, ctx) != dump {
        return Err("second parse differs".into());
    }
    // The views of a dump never panic either.
    serde_json::to_string(dump).map_err(|e| format!("a dump does not serialise: {e}"))?;
    match &dump.items {
        Items::Links(v) => v.iter().for_each(|l| {
            let _ = l.to_string();
            l.addrs.iter().for_each(|a| drop(a.to_string()));
        }),
        Items::Rules(v) => v.iter().for_each(|r| drop(r.to_string())),
        Items::Routes(v) => v.iter().for_each(|r| drop(r.to_string())),
    }
    Ok(())
}
