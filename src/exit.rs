//! Exit statuses, one place. Precedence: usage/I-O error with nothing
//! analysed (2) over findings (1) over incomplete (3) over clean (0).

use std::process::ExitCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
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

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e as u8)
    }
}
