//! Exit statuses, one place. Precedence: usage/I-O error with nothing
//! analysed (2) over findings (1) over incomplete (3) over clean (0) — not
//! the numbers' order, so `Exit` has no `Ord`: `Exit::of_scan` decides.

use std::process::ExitCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Everything parsed / every host ok.
    Clean = 0,
    /// At least one asymmetric or no-route host.
    Findings = 1,
    /// Usage or I/O error: nothing analysed.
    Error = 2,
    /// No findings, but some input was incomplete, unparsed or in error.
    Incomplete = 3,
}

impl Exit {
    /// A scan's status: nothing analysed is an error; else any finding
    /// (an asymmetric or no-route host) wins over anything incomplete (a
    /// host incomplete or in error, an input or member that could not be
    /// read), which wins over clean.
    pub fn of_scan(hosts: usize, findings: usize, incomplete: usize) -> Exit {
        if hosts == 0 {
            Exit::Error
        } else if findings > 0 {
            Exit::Findings
        } else if incomplete > 0 {
            Exit::Incomplete
        } else {
            Exit::Clean
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e as u8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_is_error_findings_incomplete_clean() {
        assert_eq!(Exit::of_scan(0, 0, 0), Exit::Error);
        assert_eq!(Exit::of_scan(0, 3, 3), Exit::Error);
        assert_eq!(Exit::of_scan(5, 1, 4), Exit::Findings);
        assert_eq!(Exit::of_scan(5, 0, 4), Exit::Incomplete);
        assert_eq!(Exit::of_scan(5, 0, 0), Exit::Clean);
        // The statuses' numbers are not their precedence (3 < 1 in it).
        assert_eq!(Exit::Incomplete as u8, 3);
        assert_eq!(Exit::Findings as u8, 1);
    }
}
