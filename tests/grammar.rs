//! Golden grammar tests: every input under `grammar-tests/<kind>/` is parsed
//! and compared with its `<input>.golden.json`. `UPDATE_GOLDEN=1 cargo test
//! --test grammar` rewrites the goldens, to be reviewed as diffs. Cases named
//! `bad__*` must produce diagnostics; every other case must produce none.
//! A `<input>.ctx` file may give `family=inet6` / `table=N` for the parse.
//! When `../shared/corpus` is beside the checkout, every file in it must be
//! here too, byte for byte.

#[path = "support/corpus.rs"]
mod corpus;

use asymroute_offline::grammar;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn render(c: &corpus::Case) -> (String, usize) {
    let bytes = std::fs::read(&c.path).unwrap();
    let (kind, ctx) = (c.kind, c.ctx.clone());
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
    for c in corpus::cases_in(&root) {
        let (path, name) = (&c.path, c.name.clone());
        if filter.as_ref().is_some_and(|f| !name.contains(f.as_str())) {
            continue;
        }
        let (got, ndiag) = render(&c);
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
    let shared = manifest.join("../shared/corpus");
    if shared.is_dir() && filter.is_none() {
        for c in corpus::cases_in(&shared) {
            let path = c.path;
            let rel = path.strip_prefix(&shared).unwrap();
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
