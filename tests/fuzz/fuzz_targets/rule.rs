#![no_main]
//! Bytes → decode → parse as `ip rule` output.

use asymroute_offline::grammar::DumpKind;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    asymroute_offline_fuzz::parse_as(data, DumpKind::IpRule);
});
