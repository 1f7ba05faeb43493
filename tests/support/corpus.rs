//! The grammar corpus, `grammar-tests/<kind>/`: every capture with the dump
//! kind and parse context its folder (`ip-…`, `ip6-…`) and its `.ctx` file
//! give. One walker for the golden tests, the property tests and the parse
//! benchmark, so they read the same files the same way.
//!
//! Include with `#[path = "support/corpus.rs"] mod corpus;`.
#![allow(dead_code)]

use asymroute_offline::grammar::{Ctx, DumpKind, Family, Table};
use std::path::{Path, PathBuf};

pub struct Case {
    pub path: PathBuf,
    /// `kind-folder/file`, as the tests name the case.
    pub name: String,
    pub kind: DumpKind,
    /// The folder's family, then what `<file>.ctx` says (`family=inet6`,
    /// `table=N`).
    pub ctx: Ctx,
}

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("grammar-tests")
}

/// The dump kind and family a corpus folder holds (`ip6-route-json`: IPv6
/// routes).
pub fn kind_of(dir: &str) -> Option<(DumpKind, Option<Family>)> {
    let fam = dir.starts_with("ip6-").then_some(Family::Inet6);
    let d = dir.replace("ip6-", "ip-");
    let kind = if d.starts_with("ip-addr") {
        DumpKind::IpAddr
    } else if d.starts_with("ip-rule") {
        DumpKind::IpRule
    } else if d.starts_with("ip-route") {
        DumpKind::IpRoute
    } else {
        return None;
    };
    Some((kind, fam))
}

/// A capture: not a golden, a `.ctx` or a note.
pub fn is_input(p: &Path) -> bool {
    let n = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
    p.is_file() && !n.ends_with(".golden.json") && !n.ends_with(".ctx") && !n.ends_with(".md")
}

fn ctx_of(path: &Path, family: Option<Family>) -> Ctx {
    let mut ctx = Ctx {
        family,
        table: None,
    };
    if let Ok(c) = std::fs::read_to_string(format!("{}.ctx", path.display())) {
        for l in c.lines() {
            match l.split_once('=') {
                Some(("family", "inet6")) => ctx.family = Some(Family::Inet6),
                Some(("family", "inet")) => ctx.family = Some(Family::Inet),
                Some(("table", t)) => ctx.table = Some(Table::parse(t.trim())),
                _ => {}
            }
        }
    }
    ctx
}

/// Every capture, sorted by folder then file.
pub fn cases() -> Vec<Case> {
    cases_in(&root())
}

/// Every capture of a corpus laid out as `grammar-tests/` is (the shared
/// corpus beside the checkout too).
pub fn cases_in(root: &Path) -> Vec<Case> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    let mut dirs: Vec<_> = rd
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    for d in dirs {
        let dname = d.file_name().unwrap().to_string_lossy().to_string();
        let Some((kind, fam)) = kind_of(&dname) else {
            continue;
        };
        let mut files: Vec<_> = std::fs::read_dir(&d)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| is_input(p))
            .collect();
        files.sort();
        for f in files {
            out.push(Case {
                name: format!("{dname}/{}", f.file_name().unwrap().to_string_lossy()),
                ctx: ctx_of(&f, fam),
                kind,
                path: f,
            });
        }
    }
    out
}
