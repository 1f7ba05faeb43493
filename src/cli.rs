//! The raw command line (clap derive). Resolution into settings happens in
//! `cmd`, so clap types stay out of the pipeline.

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "asymroute-offline",
    version,
    about = "Offline asymmetric-routing verdicts from captured ip addr / ip rule / ip route dumps",
    after_help = "Examples:\n  asymroute-offline parse sos_commands/networking/ip_-4_rule_list --json\n  asymroute-offline parse --kind ip-route ip_route.txt"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Parse one captured dump and print its records and diagnostics.
    ///
    /// Exit 0 when every line parsed, 3 when it parsed with diagnostics (or the
    /// capture holds a command failure), 2 when unreadable or not a dump.
    Parse(ParseArgs),
}

#[derive(Debug, clap::Args)]
pub struct ParseArgs {
    /// The dump file (`-` for standard input).
    pub file: PathBuf,
    /// Which dump it is; `auto` recognises it from its content.
    #[arg(long, value_enum, default_value_t = KindArg::Auto)]
    pub kind: KindArg,
    /// The address family, where the capture does not say (`ip -6 rule`).
    #[arg(long, value_enum)]
    pub family: Option<FamilyArg>,
    /// The table a single-table route dump shows (its lines carry none).
    #[arg(long)]
    pub table: Option<String>,
    /// Print JSON (`kind`, `items`, `diagnostics`, …) instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KindArg {
    Auto,
    IpAddr,
    IpRule,
    IpRoute,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FamilyArg {
    Inet,
    Inet6,
}

#[cfg(test)]
mod tests {
    #[test]
    fn cli_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
