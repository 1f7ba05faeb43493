//! The two helpers every line grammar uses: take a keyword's value, and
//! check a lexeme. Either failure makes the record an error diagnostic at
//! the offending token (and the caller returns `None`).

/// The next token as `$kw`'s value, or an error "`KW` without a value".
macro_rules! value {
    ($toks:expr, $sink:expr, $line:expr, $kw:expr, $what:expr) => {
        match $toks.next() {
            Some(v) => v,
            None => {
                $sink.push(
                    $line,
                    $kw,
                    $crate::grammar::diag::Severity::Error,
                    format!("`{}` without a value", $kw),
                    Some($what),
                );
                return None;
            }
        }
    };
}

/// A lexeme's parse result, or an error "bad value (expected …)" at `$tok`.
macro_rules! check {
    ($sink:expr, $line:expr, $tok:expr, $res:expr) => {
        match $res {
            Ok(v) => v,
            Err($crate::grammar::lex::Expected(what)) => {
                $sink.push(
                    $line,
                    $tok,
                    $crate::grammar::diag::Severity::Error,
                    "bad value",
                    Some(what),
                );
                return None;
            }
        }
    };
}
