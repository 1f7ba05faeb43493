//! The raw command line (clap derive). Resolution into settings happens in
//! `cmd`, so clap types stay out of the pipeline.

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "asymroute-offline",
    version,
    about = "Offline asymmetric-routing verdicts from captured ip addr / ip rule / ip route dumps",
    long_about = "Reads support bundles (ec2rl, sosreport, supportconfig, Insights, EKS, plain per-host \
folders, transcripts; directories or tar/gz/xz/bz2/zst/zip archives, nested) and tells, per host, \
whether replies leave through a different interface than requests came in on — offline, as the \
Linux kernel would route. It never touches a live network.",
    after_help = "Examples:\n  asymroute-offline ./bundle/\n  asymroute-offline fleet-2026-11.tar.xz --format json > report.json\n  asymroute-offline ./tickets/1234/ --format markdown --explain\n  asymroute-offline route-get ./bundle/web-3 --from 172.16.1.16 --to 8.8.8.8\n  asymroute-offline parse sos_commands/networking/ip_-4_rule_list --json\n  asymroute-offline merge shard-*.ndjson --format markdown\n\nExit status: 0 all hosts ok; 1 some host asymmetric or no-route; 2 usage or I/O error, nothing analysed; 3 no findings but some hosts incomplete or in error.",
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub scan: ScanArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Scan bundles and report a verdict per host (the default command).
    Scan(ScanArgs),
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
    /// Print one host's verified fix as a shell script with its rollback.
    ///
    /// The script applies the `ip rule` / `ip route` commands (`sh fix.sh`)
    /// or takes them back (`sh fix.sh undo`). They change the running
    /// kernel only: a reboot or a network restart loses them.
    ///
    /// Exit 0 when the fix is verified (or nothing leaks), 3 when it is
    /// partial (the script holds the verified steps and says what is left),
    /// 1 when there is no safe fix (the reason on stderr), 2 on usage or I/O
    /// errors (no host, or several matching --host).
    Fix(FixArgs),
    /// Merge NDJSON reports (`--shard K/N` runs) into one report.
    ///
    /// Reads each FILE (`-`: standard input) line by line, as `--format
    /// ndjson` wrote it, and prints the whole fleet in any format, with its
    /// summary and exit status (as `scan`'s). A shard whose summary line is
    /// missing or counts other hosts than it holds is named: it was cut short.
    Merge(MergeArgs),
    /// Print shell completions or the man page.
    ///
    /// `generate man > asymroute-offline.1`; `generate bash > /etc/bash_completion.d/asymroute-offline`.
    Generate(GenerateArgs),
}

#[derive(Debug, Clone, clap::Args)]
pub struct MergeArgs {
    /// NDJSON reports of `scan --format ndjson` (`-` for standard input).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    #[command(flatten)]
    pub report: ReportArgs,
    /// No notices on stderr.
    #[arg(short, long)]
    pub quiet: bool,
}

/// How the report is written: `scan`'s and `merge`'s shared options.
#[derive(Debug, Clone, clap::Args)]
pub struct ReportArgs {
    /// Output format [default: from the --output file's extension (.json, .ndjson/.jsonl,
    /// .md, .csv), else table].
    #[arg(short, long, value_enum)]
    pub format: Option<FormatArg>,
    /// Per-host detail: endpoints, leaked ranges with the deciding rule and route lines, fixes.
    #[arg(long)]
    pub explain: bool,
    /// Write the report to FILE instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Show only hosts that are not a complete `ok` (problems), or whose traffic is lost (broken).
    #[arg(long, value_enum)]
    pub only: Option<Only>,
    /// Colour the table's verdicts: on terminals (auto, unless NO_COLOR is set), always, or never.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,
}

#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
    /// `man`, or a shell: bash, zsh, fish, elvish, powershell.
    pub what: String,
}

#[derive(Debug, Clone, clap::Args)]
pub struct ScanArgs {
    /// Bundles: directories, archives (.tar, .tar.gz, .tar.xz, .tar.bz2, .tar.zst, .zip), or `-` for an archive on stdin.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub report: ReportArgs,
    /// Treat links matching GLOB as internal (peer space: their own prefixes). Repeatable.
    #[arg(long, value_name = "GLOB")]
    pub internal: Vec<String>,
    /// Treat links matching GLOB as uplinks, overriding the internal heuristic. Repeatable.
    #[arg(long, value_name = "GLOB")]
    pub uplink: Vec<String>,
    /// Worker threads (default: the number of cores).
    #[arg(short, long)]
    pub jobs: Option<usize>,
    /// Analyse only shard K of N (1-based, by a hash of the host id), to fan out over machines.
    #[arg(long, value_name = "K/N", value_parser = parse_shard)]
    pub shard: Option<(u64, u64)>,
    /// No progress bar and no notes on stderr.
    #[arg(short, long)]
    pub quiet: bool,
    /// How deep archives nested in archives are opened.
    #[arg(long, default_value_t = 4)]
    pub max_depth: u32,
    /// Give up on a host after SECS seconds of analysis (`90`, `1.5`, `90s`, `5m`, `1h`): it is
    /// reported as an error naming the limit, and the rest of the fleet is analysed (0: no limit).
    #[arg(long, value_name = "SECS", default_value = "300", value_parser = parse_secs)]
    pub host_timeout: f64,
}

/// Benchmarks stop a scan after a stage (`ASYMROUTE_STOP_AFTER=capture|parse`):
/// an environment knob, not an option, so completions and `--help` offer it
/// to no one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Read the bundle and find hosts.
    Capture,
    /// … and parse every dump into the host model.
    Parse,
}

impl Stage {
    /// `ASYMROUTE_STOP_AFTER`, when set to a stage.
    pub fn from_env() -> Option<Stage> {
        match std::env::var("ASYMROUTE_STOP_AFTER").ok()?.as_str() {
            "capture" => Some(Stage::Capture),
            "parse" => Some(Stage::Parse),
            _ => None,
        }
    }
}

/// Tests make the sorted formats pack their spilled text from the first
/// byte (`ASYMROUTE_PACK_AFTER=0`), as a fleet of ~100,000 hosts does: an
/// environment knob, like `ASYMROUTE_STOP_AFTER`.
pub fn pack_after() -> u64 {
    std::env::var("ASYMROUTE_PACK_AFTER")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(asymroute_offline::report::spill::PACK_AFTER)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

/// `--format`: the report formats, as the command line names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    Table,
    Json,
    Ndjson,
    Markdown,
    Csv,
}

impl From<FormatArg> for asymroute_offline::report::Format {
    fn from(f: FormatArg) -> Self {
        use asymroute_offline::report::Format;
        match f {
            FormatArg::Table => Format::Table,
            FormatArg::Json => Format::Json,
            FormatArg::Ndjson => Format::Ndjson,
            FormatArg::Markdown => Format::Markdown,
            FormatArg::Csv => Format::Csv,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Only {
    /// Hosts that are not a complete `ok`.
    Problems,
    /// Hosts whose traffic is lost: a request dropped by reverse-path
    /// filtering, a reply dropped by the platform or by a missing route.
    Broken,
}

/// Seconds, plain or with a unit (`s`, `m`, `h`): users write `--host-timeout 2m`.
fn parse_secs(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let (num, scale) = match t.char_indices().last() {
        Some((i, 's')) => (&t[..i], 1.0),
        Some((i, 'm')) => (&t[..i], 60.0),
        Some((i, 'h')) => (&t[..i], 3600.0),
        _ => (t, 1.0),
    };
    match num.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v * scale),
        _ => Err("expected seconds (a number ≥ 0), or a number with s, m or h".into()),
    }
}

fn parse_shard(s: &str) -> Result<(u64, u64), String> {
    let (k, n) = s.split_once('/').ok_or("expected K/N")?;
    let k: u64 = k.parse().map_err(|_| "K is not a number")?;
    let n: u64 = n.parse().map_err(|_| "N is not a number")?;
    if n == 0 || k == 0 || k > n {
        return Err("need 1 <= K <= N".into());
    }
    Ok((k, n))
}

#[derive(Debug, clap::Args)]
pub struct FixArgs {
    /// A bundle, as `scan` takes it (directory, archive, or `-`).
    pub path: PathBuf,
    /// The host: its id (the path in the bundle), hostname or instance id,
    /// or a glob (`*` matches any run) on any of them. Needed when the
    /// bundle holds more than one host.
    #[arg(long, value_name = "ID")]
    pub host: Option<String>,
    /// Treat links matching GLOB as internal. Repeatable.
    #[arg(long, value_name = "GLOB")]
    pub internal: Vec<String>,
    /// Treat links matching GLOB as uplinks. Repeatable.
    #[arg(long, value_name = "GLOB")]
    pub uplink: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct RouteGetArgs {
    /// A bundle, as `scan` takes it (a host folder of any collector layout,
    /// a fleet, an archive, or `-`).
    #[arg(value_name = "PATH")]
    pub path: PathBuf,
    /// The host: its id (the path in the bundle), hostname or instance id,
    /// or a glob on any of them. Needed when the bundle holds more than one.
    #[arg(long, value_name = "ID")]
    pub host: Option<String>,
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
    /// L4 protocol: tcp, udp, icmp (IPv4) or ipv6-icmp (IPv6), by name or
    /// number. Default as `ip route get`: UDP for IPv4, none for IPv6.
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

    #[test]
    fn host_timeout_takes_units() {
        use super::parse_secs;
        assert_eq!(parse_secs("300"), Ok(300.0));
        assert_eq!(parse_secs("1.5"), Ok(1.5));
        assert_eq!(parse_secs("90s"), Ok(90.0));
        assert_eq!(parse_secs("2m"), Ok(120.0));
        assert_eq!(parse_secs("1h"), Ok(3600.0));
        assert_eq!(parse_secs("0"), Ok(0.0));
        for bad in ["", "s", "-1", "2d", "nan", "inf", "1e999", "m5"] {
            assert!(parse_secs(bad).is_err(), "{bad}");
        }
    }
}
