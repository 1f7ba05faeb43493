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
    /// Answer a route lookup for one host offline, as `ip route get` would.
    ///
    /// Exit 0 when a route was found, 1 when the kernel would answer with an
    /// error (unreachable, prohibit, …), 2 on usage or I/O errors.
    RouteGet(RouteGetArgs),
}

#[derive(Debug, clap::Args)]
pub struct RouteGetArgs {
    /// One host's captures: a folder holding ip_addr.txt, ip_rule.txt,
    /// ip_route.txt, ip6_rule.txt, ip6_route.txt (any subset).
    pub host: PathBuf,
    /// Destination address.
    #[arg(long)]
    pub to: std::net::IpAddr,
    /// Source address (the reply's source: one of the host's addresses).
    #[arg(long)]
    pub from: Option<std::net::IpAddr>,
    /// Input interface (a forwarded packet); `lo` or absent: locally generated.
    #[arg(long)]
    pub iif: Option<String>,
    /// Output interface (a socket bound to a device).
    #[arg(long)]
    pub oif: Option<String>,
    /// Firewall mark (decimal or 0x hex).
    #[arg(long, value_parser = parse_u32)]
    pub mark: Option<u32>,
    /// TOS byte (decimal or 0x hex).
    #[arg(long, value_parser = parse_u32)]
    pub tos: Option<u32>,
    /// Socket owner uid (default 0, as `ip route get` run by root).
    #[arg(long)]
    pub uid: Option<u32>,
    /// L4 protocol (tcp, udp, icmp or a number).
    #[arg(long)]
    pub ipproto: Option<String>,
    #[arg(long)]
    pub sport: Option<u16>,
    #[arg(long)]
    pub dport: Option<u16>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

fn parse_u32(s: &str) -> Result<u32, String> {
    let r = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u32::from_str_radix(h, 16),
        None => s.parse(),
    };
    r.map_err(|e| e.to_string())
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
