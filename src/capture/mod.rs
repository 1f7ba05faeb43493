//! Captures: which files of a bundle hold which host's dumps. For now the
//! plain layout (a folder of `ip_addr.txt`, `ip_rule.txt`, `ip6_route.txt` …);
//! collector layouts and archives build on it.

pub mod plain;

pub use plain::load_plain_host;
