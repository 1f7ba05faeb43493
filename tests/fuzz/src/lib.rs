//! What every fuzz target checks: no panic, and the invariants of
//! `tests/props.rs` (diagnostics and items on existing lines, columns ≥ 1,
//! parsing deterministic). A violated invariant panics, which libFuzzer
//! reports as a crash.

use asymroute_offline::grammar::{self, Ctx, Diagnostic, Dump, DumpKind, Family, Items, Table};

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

/// Physical lines of a text (at least 1).
pub fn line_count(text: &str) -> u32 {
    let n = text.bytes().filter(|&b| b == b'\n').count() + usize::from(!text.ends_with('\n'));
    n.max(1) as u32
}

pub fn check_diagnostics(text: &str, diags: &[Diagnostic]) {
    if diags.is_empty() {
        return;
    }
    let n = line_count(text);
    // Characters per physical line, counted once (inputs carry many diagnostics).
    let widths: Vec<usize> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l).chars().count())
        .collect();
    for d in diags {
        assert!((1..=n).contains(&d.line), "line outside 1..={n}: {d}");
        assert!(d.column >= 1, "column < 1: {d}");
        let width = widths[d.line as usize - 1];
        assert!(
            d.column as usize <= width + 1,
            "column past the end of its line ({width} chars): {d}"
        );
    }
}

pub fn check_dump(text: &str, kind: DumpKind, ctx: &Ctx, dump: &Dump) {
    let n = line_count(text);
    assert_eq!(dump.kind, kind);
    check_diagnostics(text, &dump.diagnostics);
    let ok = |l: u32| (1..=n).contains(&l);
    match &dump.items {
        Items::Links(v) => {
            for l in v {
                assert!(ok(l.line), "link line {}", l.line);
                for a in &l.addrs {
                    assert!(ok(a.line), "address line {}", a.line);
                }
                let _ = l.to_string();
            }
        }
        Items::Rules(v) => {
            for r in v {
                assert!(ok(r.line), "rule line {}", r.line);
                let _ = r.to_string();
            }
        }
        Items::Routes(v) => {
            for r in v {
                assert!(ok(r.line) && ok(r.end_line) && r.line <= r.end_line);
                for h in &r.nexthops {
                    assert!(ok(h.line), "nexthop line {}", h.line);
                }
                let _ = r.to_string();
            }
        }
    }
    if let Some(f) = &dump.failed {
        assert!(ok(f.line), "failure line {}", f.line);
    }
    let again = grammar::parse(text, kind, ctx);
    assert!(&again == dump, "second parse differs");
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
