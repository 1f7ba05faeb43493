//! asymroute-offline: reads captured `ip addr` / `ip rule` / `ip route` dumps
//! of many Linux hosts and tells, per host, whether replies leave through a
//! different interface than requests came in on — offline, as the kernel
//! would route.
//!
//! Pipeline: capture → grammar → model → verdict → report. The command
//! line (clap's types, subcommands, exit statuses) is the binary's
//! (`src/main.rs`: `cli`, `cmd`, `exit`), not this library's API.

pub mod budget;
pub mod capture;
pub mod grammar;
pub mod model;
pub mod report;
pub mod verdict;
