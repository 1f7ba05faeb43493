//! The line layer under every grammar: physical lines (CRLF accepted), `-o`
//! one-line captures split back into their logical lines at `\` + blank, and
//! the text that surrounds a dump in real bundles (collector headers,
//! supportconfig blocks, shell prompts, command failures) recognised as such.

use super::names::{Family, Table};
use memchr::memmem::Finder;
use serde::Serialize;
use std::sync::OnceLock;

/// Lines longer than this are reported, not tokenised (hostile input).
pub const MAX_LINE: usize = 64 * 1024;

/// One logical line: a whole physical line, or one `\`-separated segment of a
/// `-o` line. `text` is always a subslice of `phys`, so columns stay exact.
#[derive(Debug, Clone, Copy)]
pub struct Line<'a> {
    /// 1-based physical line number.
    pub no: u32,
    pub phys: &'a str,
    pub text: &'a str,
    /// A segment that followed a `\` on the same physical line.
    pub glued: bool,
}

impl<'a> Line<'a> {
    /// A continuation of the previous record: indented, or glued by `-o`.
    pub fn is_continuation(&self) -> bool {
        self.glued || self.text.starts_with([' ', '\t'])
    }

    /// 1-based character column of `at`, which should point into `phys`.
    pub fn column_of(&self, at: &str) -> u32 {
        let base = self.phys.as_ptr() as usize;
        let p = at.as_ptr() as usize;
        let off = if p >= base && p <= base + self.phys.len() {
            p - base
        } else {
            0
        };
        let mut off = off.min(self.phys.len());
        while !self.phys.is_char_boundary(off) {
            off -= 1;
        }
        self.phys[..off].chars().count() as u32 + 1
    }
}

/// Iterates the logical lines of a dump.
pub struct Lines<'a> {
    rest: &'a str,
    no: u32,
    phys: &'a str,
    seg_rest: Option<&'a str>,
}

impl<'a> Lines<'a> {
    pub fn new(text: &'a str) -> Self {
        Lines::after(text, 0)
    }

    /// The lines of `text`, numbered as in a file where `before` lines
    /// come first (a transcript's section).
    pub fn after(text: &'a str, before: u32) -> Self {
        Lines {
            rest: text,
            no: before,
            phys: "",
            seg_rest: None,
        }
    }
}

/// Position of the next `-o` glue: a backslash followed by a blank.
fn glue_at(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut from = 0;
    while let Some(i) = memchr_backslash(&b[from..]) {
        let i = from + i;
        if matches!(b.get(i + 1), Some(b' ' | b'\t')) {
            return Some(i);
        }
        from = i + 1;
    }
    None
}

fn memchr_backslash(b: &[u8]) -> Option<usize> {
    memchr::memchr(b'\\', b)
}

impl<'a> Iterator for Lines<'a> {
    type Item = Line<'a>;

    fn next(&mut self) -> Option<Line<'a>> {
        if let Some(seg) = self.seg_rest.take() {
            return Some(self.segment(seg, true));
        }
        if self.rest.is_empty() {
            return None;
        }
        // One scan finds the line's end and its first `\ ` glue (what
        // `glue_at` would find): a `\` followed by SP/TAB is inside the
        // line, before any `\r` stripped below.
        let b = self.rest.as_bytes();
        let mut end = b.len();
        let mut glue = None;
        for i in memchr::memchr2_iter(b'\n', b'\\', b) {
            if b[i] == b'\n' {
                end = i;
                break;
            }
            if glue.is_none() && matches!(b.get(i + 1), Some(b' ' | b'\t')) {
                glue = Some(i);
            }
        }
        let (line, rest) = match self.rest.get(end + 1..) {
            Some(rest) => (&self.rest[..end], rest),
            None => (self.rest, ""),
        };
        self.rest = rest;
        self.no += 1;
        let line = line.strip_suffix('\r').unwrap_or(line);
        self.phys = line;
        if line.len() > MAX_LINE {
            return Some(Line {
                no: self.no,
                phys: line,
                text: line,
                glued: false,
            });
        }
        let text = match glue.and_then(|i| Some((line.get(..i)?, line.get(i + 1..)?))) {
            Some((text, seg)) => {
                self.seg_rest = Some(seg);
                text
            }
            None => line,
        };
        Some(Line {
            no: self.no,
            phys: line,
            text,
            glued: false,
        })
    }
}

impl<'a> Lines<'a> {
    fn segment(&mut self, s: &'a str, glued: bool) -> Line<'a> {
        let text = match glue_at(s) {
            Some(i) => {
                self.seg_rest = Some(&s[i + 1..]);
                &s[..i]
            }
            None => s,
        };
        Line {
            no: self.no,
            phys: self.phys,
            text,
            glued,
        }
    }
}

/// What a line is, before any grammar looks at it.
#[derive(Debug, Clone, PartialEq)]
pub enum Class {
    Blank,
    /// Collector decoration: ec2rl's first line and `====` trailer,
    /// supportconfig `#==[ … ]` block headers.
    Noise,
    /// The command failed here; the dump is *failed*, not empty.
    Failure,
    /// A prompt or header naming the `ip` command whose output follows.
    Command(Command),
    Content,
}

pub fn classify(text: &str) -> Class {
    let t = trim(text);
    if t.is_empty() {
        return Class::Blank;
    }
    let first = t.as_bytes()[0];
    match first {
        b'#' | b'$' | b'[' | b'%' | b'>' => {
            if t.starts_with("#==[") {
                return Class::Noise;
            }
            if let Some(cmd) = Command::from_prompt(t) {
                return Class::Command(cmd);
            }
            if first == b'#' {
                // A comment line in a hand-made capture or a supportconfig
                // header for another command.
                return Class::Noise;
            }
            Class::Content
        }
        b'=' if t.len() >= 5 && t.bytes().all(|c| c == b'=') => Class::Noise,
        b'a'..=b'z' | b'A'..=b'Z' | b'-' | b'/' => {
            if is_failure(t) {
                Class::Failure
            } else if t.starts_with("I will collect ") || t.starts_with("I will look for ") {
                Class::Noise
            } else if names_no_command(t) {
                Class::Content
            } else if let Some(cmd) = has_ip(t).then(|| Command::from_prompt(t)).flatten() {
                // (A command names `ip`: most content lines are out at once.)
                Class::Command(cmd)
            } else {
                Class::Content
            }
        }
        _ => Class::Content,
    }
}

/// A first word of lowercase letters other than `ip` and the wrappers
/// `from_command_line` skips (`default via …`, `local …`): no prompt to
/// strip, no program, so no command, and no search of the line for `ip`.
fn names_no_command(t: &str) -> bool {
    let b = t.as_bytes();
    let n = b
        .iter()
        .position(|c| !c.is_ascii_lowercase())
        .unwrap_or(b.len());
    n > 0
        && matches!(b.get(n), None | Some(b' ' | b'\t'))
        && !matches!(&b[..n], b"ip" | b"sudo" | b"command" | b"exec" | b"env")
}

/// `t.contains("ip")` with a searcher made once: `contains` builds one per
/// call, and nearly every route line starting with a word asks.
fn has_ip(t: &str) -> bool {
    static IP: OnceLock<Finder<'static>> = OnceLock::new();
    IP.get_or_init(|| Finder::new("ip"))
        .find(t.as_bytes())
        .is_some()
}

/// `text.trim()`, without the per-character Unicode scan when the line
/// starts and ends with a printing ASCII byte (nearly every line), or ends
/// with one and a space (as `ip route` prints every line).
fn trim(text: &str) -> &str {
    let solid = |c: u8| c.is_ascii() && !(c as char).is_whitespace();
    match *text.as_bytes() {
        [a, .., z] if solid(a) && solid(z) => text,
        [a, .., y, b' '] if solid(a) && solid(y) => &text[..text.len() - 1],
        _ => text.trim(),
    }
}

/// The error texts `ip`, shells and collectors print instead of a dump.
fn is_failure(t: &str) -> bool {
    const STARTS: &[&str] = &[
        "RTNETLINK answers:",
        "Cannot open netlink socket",
        "Cannot send dump request",
        "Cannot receive",
        "Cannot find device",
        "Dump terminated",
        "Dump was interrupted",
        "Message truncated",
        "Error: ",
        "ERROR:",
        "ERROR ",
        "Command not found",
        "Device \"",
        "Object \"",
        "Unknown command",
        "Option \"",
    ];
    // Every start above begins with a capital letter.
    if t.as_bytes().first().is_some_and(u8::is_ascii_uppercase)
        && STARTS.iter().any(|s| t.starts_with(s))
    {
        return true;
    }
    // `bash: ip: command not found`, `/bin/sh: 1: ip: not found`, `sudo: ip: …`
    // (the tails first: they rule out most lines without a scan).
    const TAILS: &[&str] = &[
        "command not found",
        ": not found",
        "No such file or directory",
        "Permission denied",
        "Operation not permitted",
    ];
    // Every tail above ends in `d` or `y`.
    matches!(t.as_bytes().last(), Some(b'd' | b'y'))
        && TAILS.iter().any(|s| t.ends_with(s))
        && t.split_once(": ")
            .is_some_and(|(head, _)| !head.contains(' ') || head.ends_with(": 1"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DumpKind {
    IpAddr,
    IpRule,
    IpRoute,
}

impl DumpKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DumpKind::IpAddr => "ip-addr",
            DumpKind::IpRule => "ip-rule",
            DumpKind::IpRoute => "ip-route",
        }
    }
}

/// Which table(s) a route command printed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TableSel {
    All,
    Cache,
    One(Table),
}

/// An `ip` command line recognised in a prompt or a collector header. It
/// supplies what the output itself omits: the family, and the table of a
/// single-table route dump (which prints no `table` tokens).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Command {
    pub kind: Option<DumpKind>,
    pub family: Option<Family>,
    pub table: Option<TableSel>,
    /// `-o`, `-j`, `-br` and friends change the format, not the content.
    pub oneline: bool,
    pub json: bool,
    /// Output piped through `grep` (or another filter): lines may be missing.
    pub filtered: bool,
    /// The network namespace of `ip -n NS` / `ip netns exec NS ip …`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub netns: Option<String>,
    pub text: String,
}

impl Command {
    /// Recognises `$ ip …`, `# /usr/sbin/ip …`, `[root@h ~]# ip …`,
    /// `user@host:~$ sudo ip …` and a bare `ip …` line.
    pub fn from_prompt(t: &str) -> Option<Command> {
        let t = t.trim();
        let body = strip_prompt(t);
        let cmd = Command::from_command_line(body)?;
        Some(Command {
            text: t.to_string(),
            ..cmd
        })
    }

    /// Parses the words of an `ip` invocation.
    pub fn from_command_line(s: &str) -> Option<Command> {
        let (s, filtered) = match s.split_once('|') {
            Some((a, _)) => (a, true),
            None => (s, false),
        };
        let mut words = s.split_whitespace().peekable();
        while let Some(w) = words.peek() {
            if matches!(*w, "sudo" | "command" | "exec" | "env") || w.contains('=') {
                words.next();
            } else {
                break;
            }
        }
        let prog = words.next()?;
        if prog != "ip" && !prog.ends_with("/ip") {
            return None;
        }
        let mut cmd = Command {
            kind: None,
            family: None,
            table: None,
            oneline: false,
            json: false,
            filtered,
            netns: None,
            text: s.trim().to_string(),
        };
        // Options.
        let object = loop {
            let w = words.next()?;
            if let Some(opt) = w.strip_prefix('-') {
                let opt = opt.trim_start_matches('-');
                match opt {
                    "4" => cmd.family = Some(Family::Inet),
                    "6" => cmd.family = Some(Family::Inet6),
                    "o" | "oneline" => cmd.oneline = true,
                    "j" | "json" => cmd.json = true,
                    "f" | "family" => match words.next()? {
                        "inet" => cmd.family = Some(Family::Inet),
                        "inet6" => cmd.family = Some(Family::Inet6),
                        _ => {}
                    },
                    "n" | "netns" => cmd.netns = words.next().map(str::to_string),
                    "b" | "batch" | "rc" | "rcvbuf" => {
                        words.next();
                    }
                    _ => {}
                }
                continue;
            }
            break w;
        };
        if object == "netns" {
            // ip netns exec NS ip …
            if words.next()? != "exec" {
                return None;
            }
            let ns = words.next()?.to_string();
            let rest: Vec<&str> = words.collect();
            let mut inner = Command::from_command_line(&rest.join(" "))?;
            inner.netns = Some(ns);
            inner.filtered |= filtered;
            inner.text = s.trim().to_string();
            return Some(inner);
        }
        cmd.kind = Some(object_kind(object)?);
        let args: Vec<&str> = words.collect();
        // `ip rule add …`, `ip addr del …`: a change, which prints nothing
        // (the tool's own fix script saved beside a capture read as a
        // transcript of `ip rule` sections, a host in `error`).
        if args.first().is_some_and(|a| CHANGES.contains(a)) {
            return None;
        }
        if cmd.kind == Some(DumpKind::IpRoute) {
            let mut i = 0;
            while i < args.len() {
                if matches!(args[i], "table" | "tab" | "t") && i + 1 < args.len() {
                    cmd.table = Some(match args[i + 1] {
                        "all" | "0" => TableSel::All,
                        "cache" => TableSel::Cache,
                        t => TableSel::One(Table::parse(t)),
                    });
                    i += 1;
                } else if matches!(args[i], "get" | "add" | "del" | "delete" | "replace") {
                    return None;
                }
                i += 1;
            }
        }
        Some(cmd)
    }
}

/// The subcommands of `ip address`, `ip rule` and `ip route` that change
/// the kernel's state or ask it one question, as scripts spell them.
const CHANGES: &[&str] = &[
    "add", "del", "delete", "change", "chg", "replace", "append", "prepend", "flush", "save",
    "restore", "get",
];

fn object_kind(w: &str) -> Option<DumpKind> {
    let is_prefix = |full: &str, min: usize| w.len() >= min && full.starts_with(w);
    if is_prefix("address", 1) || is_prefix("link", 1) {
        Some(DumpKind::IpAddr)
    } else if is_prefix("rule", 2) {
        Some(DumpKind::IpRule)
    } else if is_prefix("route", 1) {
        Some(DumpKind::IpRoute)
    } else {
        None
    }
}

/// Removes a shell prompt (`$ `, `# `, `[root@h ~]# `, `user@h:~$ `) if any.
fn strip_prompt(t: &str) -> &str {
    let mut s = t;
    if s.starts_with('[')
        && let Some(i) = s.find(']')
    {
        s = &s[i + 1..];
    }
    // `user@host:~$ ` — a prompt word ending in a prompt character.
    if let Some((head, tail)) = s.split_once([' ', '\t']) {
        if head.ends_with(['$', '#', '%', '>'])
            && !head.starts_with("ip")
            && !head.contains('/')
            && !head.is_empty()
        {
            return tail.trim_start();
        }
        if head.ends_with(['$', '#', '%', '>']) && head.len() == 1 {
            return tail.trim_start();
        }
    }
    s.trim_start_matches(['$', '#', '%', '>']).trim_start()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oneline_segments_keep_columns() {
        let text = "2: eth0    inet 10.0.0.1/24 scope global eth0\\       valid_lft forever\n";
        let v: Vec<_> = Lines::new(text).collect();
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].text, "2: eth0    inet 10.0.0.1/24 scope global eth0");
        assert!(v[1].glued && v[1].is_continuation());
        assert_eq!(v[1].column_of(v[1].text.trim_start()), 54);
    }

    #[test]
    fn crlf_and_no_final_newline() {
        let v: Vec<_> = Lines::new("a\r\nb").map(|l| l.text).collect();
        assert_eq!(v, ["a", "b"]);
    }

    #[test]
    fn commands() {
        let c = Command::from_prompt("# /usr/sbin/ip route show table 10001").unwrap();
        assert_eq!(c.kind, Some(DumpKind::IpRoute));
        assert_eq!(c.table, Some(TableSel::One(Table::Id(10001))));
        let c = Command::from_prompt("[root@h ~]# ip -6 rule").unwrap();
        assert_eq!(
            (c.kind, c.family),
            (Some(DumpKind::IpRule), Some(Family::Inet6))
        );
        let c = Command::from_prompt("ubuntu@ip-10-0-0-1:~$ sudo ip -o addr").unwrap();
        assert!(c.oneline);
        let c = Command::from_prompt("$ ip rule show | grep 172.16").unwrap();
        assert!(c.filtered);
        let c = Command::from_prompt("# ip netns exec blue ip r").unwrap();
        assert_eq!(c.netns.as_deref(), Some("blue"));
        assert!(Command::from_prompt("# ip route get 8.8.8.8").is_none());
        assert!(Command::from_prompt("# ipsec status").is_none());
    }

    proptest::proptest! {
        /// Lines are the physical lines (CR stripped) cut at each `\ ` glue.
        #[test]
        fn lines_split_at_newlines_and_glue(t in "(a|b| |\t|\\\\|\n|\r){0,40}") {
            let mut want = Vec::new();
            let mut phys: Vec<&str> = t.split('\n').collect();
            if t.ends_with('\n') || t.is_empty() {
                phys.pop();
            }
            for (k, p) in phys.iter().enumerate() {
                let p = p.strip_suffix('\r').unwrap_or(p);
                let (mut s, mut glued) = (p, false);
                loop {
                    let cut = glue_at(s);
                    want.push((k as u32 + 1, p, cut.map_or(s, |i| &s[..i]), glued));
                    let Some(i) = cut else { break };
                    (s, glued) = (&s[i + 1..], true);
                }
            }
            let got: Vec<_> = Lines::new(&t).map(|l| (l.no, l.phys, l.text, l.glued)).collect();
            proptest::prop_assert_eq!(got, want);
        }
    }

    proptest::proptest! {
        /// A line the first-word shortcut calls content names no command.
        #[test]
        fn names_no_command_is_exact(
            t in "(ip|sudo|env|exec|command|local|default|via|ipx|/usr/sbin/ip|a=b|x\\$|#|\\$|\\||\\[r\\]|route| |\t|\u{a0}){1,6}",
        ) {
            let t = trim(&t);
            if names_no_command(t) {
                proptest::prop_assert_eq!(Command::from_prompt(t), None, "{:?}", t);
            }
        }
    }

    proptest::proptest! {
        /// The shortcuts trim what std trims.
        #[test]
        fn trim_agrees_with_std(
            t in "([ \t\r\n\x0b\x0c]|\u{a0}|\u{85}|\u{2003}|é|[a-z0-9]|\x00){0,8}",
        ) {
            proptest::prop_assert_eq!(trim(&t), t.trim());
        }
    }

    #[test]
    fn classes() {
        assert_eq!(
            classify("RTNETLINK answers: Operation not permitted"),
            Class::Failure
        );
        assert_eq!(classify("bash: ip: command not found"), Class::Failure);
        assert_eq!(
            classify("I will collect ip addr show output from this alami2 box."),
            Class::Noise
        );
        assert_eq!(
            classify("#==[ Command ]======================================#"),
            Class::Noise
        );
        assert_eq!(classify("default via 10.0.0.1 dev eth0"), Class::Content);
        assert_eq!(
            classify("ERROR:\tip rule show exited with an error on line 12"),
            Class::Failure
        );
    }
}
