//! What every fuzz target checks: no panic, and the invariants of
//! `tests/props.rs` (diagnostics and items on existing lines, columns ≥ 1,
//! parsing deterministic). A violated invariant panics, which libFuzzer
//! reports as a crash.

use asymroute_offline::grammar::{self, Ctx, Diagnostic, Dump, DumpKind, Family, Table};

pub const KINDS: [DumpKind; 3] = [DumpKind::IpAddr, DumpKind::IpRule, DumpKind::IpRoute];

/// A context chosen by the input's length, so seeds stay verbatim captures.
pub fn ctx_for(data: &[u8]) -> Ctx {
    match data.len() % 4 {
        0 => Ctx::default(),
        1 => Ctx {
            family: Some(Family::Inet6),
            table: None,
        },
        2 => Ctx {
            family: None,
            table: Some(Table::Id(10001)),
        },
        _ => Ctx {
            family: Some(Family::Inet),
            table: Some(Table::Name("eni0".into())),
        },
    }
}

#[path = "../../support/invariants.rs"]
mod invariants;

pub use invariants::line_count;

/// `tests/props.rs`'s invariants: a violation panics (a libFuzzer crash).
pub fn check_diagnostics(text: &str, diags: &[Diagnostic]) {
    if let Err(e) = invariants::check_diagnostics(text, diags) {
        panic!("{e}");
    }
}

pub fn check_dump(text: &str, kind: DumpKind, ctx: &Ctx, dump: &Dump) {
    if let Err(e) = invariants::check_dump(text, kind, ctx, dump) {
        panic!("{e}");
    }
}

/// decode, then parse as `kind`, checking the result.
pub fn parse_as(data: &[u8], kind: DumpKind) {
    let (text, enc) = grammar::decode(data);
    if let Some(d) = &enc {
        check_diagnostics(&text, std::slice::from_ref(d));
    }
    let ctx = ctx_for(data);
    let dump = grammar::parse(&text, kind, &ctx);
    check_dump(&text, kind, &ctx, &dump);
}
