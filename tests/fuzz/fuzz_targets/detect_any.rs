#![no_main]
//! Bytes → decode → detect → parse as the detected kind (all three when
//! nothing is detected), as `parse --kind auto` does.

use asymroute_offline::grammar;
use asymroute_offline_fuzz::{KINDS, check_dump, ctx_for};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (text, _) = grammar::decode(data);
    let kind = grammar::detect(&text);
    assert_eq!(kind, grammar::detect(&text), "detect is not deterministic");
    let ctx = ctx_for(data);
    match kind {
        Some(k) => {
            let dump = grammar::parse(&text, k, &ctx);
            check_dump(&text, k, &ctx, &dump);
        }
        None => {
            for k in KINDS {
                let dump = grammar::parse(&text, k, &ctx);
                check_dump(&text, k, &ctx, &dump);
            }
        }
    }
});
