//! Golden grammar tests: every input under `grammar-tests/<kind>/` is parsed
//! and compared with its `<input>.golden.json`. `UPDATE_GOLDEN=1 cargo test
//! --test grammar` rewrites the goldens, to be reviewed as diffs. Cases named
//! `bad__*` must produce diagnostics; every other case must produce none.
//! A `<input>.ctx` file may give `family=inet6` / `table=N` for the parse.
//! When `../shared/corpus` is beside the checkout, every file in it must be
//! here too, byte for byte.

use asymroute_offline::grammar::{self, Ctx, DumpKind, Family, Table};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn kind_of(dir: &str) -> Option<(DumpKind, Option<Family>)> {
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

fn is_input(p: &Path) -> bool {
    let n = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
    p.is_file() && !n.ends_with(".golden.json") && !n.ends_with(".ctx") && !n.ends_with(".md")
}

fn cases(root: &Path) -> Vec<(PathBuf, DumpKind, Option<Family>)> {
    let mut out = Vec::new();
    let Ok(dirs) = std::fs::read_dir(root) else {
        return out;
    };
    let mut dirs: Vec<_> = dirs
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    for d in dirs {
        let name = d.file_name().unwrap().to_string_lossy().to_string();
        let Some((kind, fam)) = kind_of(&name) else {
            continue;
        };
        let mut files: Vec<_> = std::fs::read_dir(&d)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| is_input(p))
            .collect();
        files.sort();
        out.extend(files.into_iter().map(|f| (f, kind, fam)));
    }
    out
}

fn render(path: &Path, kind: DumpKind, fam: Option<Family>) -> (String, usize) {
    let bytes = std::fs::read(path).unwrap();
    let mut ctx = Ctx {
        family: fam,
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
    let (text, enc) = grammar::decode(&bytes);
    let mut dump = grammar::parse(&text, kind, &ctx);
    if let Some(d) = enc {
        dump.diagnostics.insert(0, d);
    }
    let n = dump.diagnostics.len();
    (serde_json::to_string_pretty(&dump).unwrap() + "\n", n)
}

fn first_difference(a: &str, b: &str) -> String {
    for (i, (x, y)) in a.lines().zip(b.lines()).enumerate() {
        if x != y {
            return format!("    line {}:\n    - {x}\n    + {y}", i + 1);
        }
    }
    format!(
        "    lengths differ: {} vs {} lines",
        a.lines().count(),
        b.lines().count()
    )
}

fn main() -> ExitCode {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = manifest.join("grammar-tests");
    let update = std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v != "0");
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let (mut passed, mut failed) = (0, 0);
    let mut fail = |name: String, why: String| {
        println!("test {name} ... FAILED\n{why}");
        failed += 1;
    };
    for (path, kind, fam) in cases(&root) {
        let name = path.strip_prefix(&root).unwrap().display().to_string();
        if filter.as_ref().is_some_and(|f| !name.contains(f.as_str())) {
            continue;
        }
        let (got, ndiag) = render(&path, kind, fam);
        let golden = PathBuf::from(format!("{}.golden.json", path.display()));
        let bad = path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("bad__");
        if bad && ndiag == 0 {
            fail(name, "    a bad__ case parsed without diagnostics".into());
            continue;
        }
        if !bad && ndiag > 0 {
            fail(
                name.clone(),
                format!("    {ndiag} diagnostic(s); see {}", golden.display()),
            );
            if update {
                std::fs::write(&golden, &got).unwrap();
            }
            continue;
        }
        if update {
            std::fs::write(&golden, &got).unwrap();
            println!("test {name} ... updated");
            passed += 1;
            continue;
        }
        match std::fs::read_to_string(&golden) {
            Ok(want) if want == got => {
                println!("test {name} ... ok");
                passed += 1;
            }
            Ok(want) => fail(
                name,
                format!(
                    "    differs from {} (UPDATE_GOLDEN=1 to accept):\n{}",
                    golden.display(),
                    first_difference(&want, &got)
                ),
            ),
            Err(_) => fail(
                name,
                format!(
                    "    no golden {} (UPDATE_GOLDEN=1 to create)",
                    golden.display()
                ),
            ),
        }
    }
    // The shared corpus must be covered byte for byte.
    let corpus = manifest.join("../shared/corpus");
    if corpus.is_dir() && filter.is_none() {
        for (path, _, _) in cases(&corpus) {
            let rel = path.strip_prefix(&corpus).unwrap();
            let mine = root.join(rel);
            let name = format!("corpus-coverage/{}", rel.display());
            match std::fs::read(&mine) {
                Ok(b) if b == std::fs::read(&path).unwrap() => passed += 1,
                Ok(_) => fail(
                    name,
                    format!("    {} differs from the corpus copy", mine.display()),
                ),
                Err(_) => fail(
                    name,
                    format!("    {} is not in grammar-tests/", rel.display()),
                ),
            }
        }
    }
    println!(
        "\ntest result: {}. {passed} passed; {failed} failed",
        if failed == 0 { "ok" } else { "FAILED" }
    );
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
