//! `asymroute-offline parse FILE`: the debugging view of one dump.

use crate::cli::{FamilyArg, KindArg, ParseArgs};
use crate::exit::Exit;
use asymroute_offline::grammar::{self, Ctx, Diagnostic, DumpKind, Family, Items, Table};
use serde::Serialize;
use std::io::{Read, Write};

#[derive(Serialize)]
struct FileDiagnostic<'a> {
    file: &'a str,
    #[serde(flatten)]
    diag: &'a Diagnostic,
}

#[derive(Serialize)]
struct Output<'a> {
    file: &'a str,
    kind: DumpKind,
    format: grammar::Format,
    items: &'a Items,
    failed: &'a Option<grammar::Failure>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    commands: &'a [grammar::Command],
    diagnostics: Vec<FileDiagnostic<'a>>,
}

pub fn run(args: &ParseArgs) -> std::io::Result<Exit> {
    let name = args.file.display().to_string();
    let mut bytes = Vec::new();
    let read = if name == "-" {
        std::io::stdin().read_to_end(&mut bytes).map(|_| ())
    } else {
        std::fs::File::open(&args.file).and_then(|mut f| f.read_to_end(&mut bytes).map(|_| ()))
    };
    if let Err(e) = read {
        eprintln!("asymroute-offline: {name}: {e}");
        return Ok(Exit::Error);
    }
    let (text, enc) = grammar::decode(&bytes);
    let kind = match args.kind {
        KindArg::IpAddr => Some(DumpKind::IpAddr),
        KindArg::IpRule => Some(DumpKind::IpRule),
        KindArg::IpRoute => Some(DumpKind::IpRoute),
        KindArg::Auto => grammar::detect(&text),
    };
    let Some(kind) = kind else {
        eprintln!("asymroute-offline: {name}: not an ip addr, ip rule or ip route dump");
        return Ok(Exit::Error);
    };
    let ctx = Ctx {
        family: args.family.map(|f| match f {
            FamilyArg::Inet => Family::Inet,
            FamilyArg::Inet6 => Family::Inet6,
        }),
        table: args.table.as_deref().map(Table::parse),
    };
    let mut dump = grammar::parse(&text, kind, &ctx);
    if let Some(d) = enc {
        dump.diagnostics.insert(0, d);
    }
    // Buffered: serde_json writes a document in thousands of small pieces,
    // each a write call through stdout's line buffer (18k calls for 79 KB).
    // The flush below reports a closed pipe, which ends the run quietly.
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout().lock());
    if args.json {
        let o = Output {
            file: &name,
            kind: dump.kind,
            format: dump.format,
            items: &dump.items,
            failed: &dump.failed,
            commands: &dump.commands,
            diagnostics: dump
                .diagnostics
                .iter()
                .map(|diag| FileDiagnostic { file: &name, diag })
                .collect(),
        };
        serde_json::to_writer_pretty(&mut out, &o)?;
        writeln!(out)?;
    } else {
        match &dump.items {
            Items::Links(v) => v.iter().try_for_each(|l| writeln!(out, "{l}"))?,
            Items::Rules(v) => v.iter().try_for_each(|r| writeln!(out, "{r}"))?,
            Items::Routes(v) => v.iter().try_for_each(|r| writeln!(out, "{r}"))?,
        }
    }
    out.flush()?;
    for d in &dump.diagnostics {
        eprintln!("{name}:{d}");
    }
    if let Some(f) = &dump.failed {
        eprintln!("{name}:{}: the command failed: {}", f.line, f.text);
    }
    let no_content = dump.is_empty() && dump.failed.is_none();
    Ok(if no_content && dump.has_errors() {
        eprintln!(
            "asymroute-offline: {name}: nothing in it parsed as a {} dump",
            kind.as_str()
        );
        Exit::Error
    } else if !dump.diagnostics.is_empty() || dump.failed.is_some() {
        Exit::Incomplete
    } else {
        Exit::Clean
    })
}
