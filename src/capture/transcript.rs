//! Files by content: transcripts of several `ip` commands (a shell session,
//! supportconfig's network.txt) cut into one input per command, and dumps
//! recognised without a telling name. Apart from `roles`, which asks these
//! only when a path alone does not say what a file is.

use crate::grammar::{self, Ctx, DumpKind, TableSel, lines};
use crate::model::Input;

pub(super) fn first_command(text: &str) -> Option<lines::Command> {
    text.lines()
        .take(20)
        .find_map(|l| match lines::classify(l) {
            lines::Class::Command(c) => Some(c),
            _ => None,
        })
}

/// Two or more `ip` commands of different output in one file.
pub(super) fn is_transcript(text: &str) -> bool {
    let mut kinds = 0;
    // Only a line with a prompt character before an `ip` word can be one
    // (dump lines start with digits, addresses or type words).
    let maybe_prompt = |l: &str| {
        let t = l.trim_start();
        t.starts_with(['#', '$', '[', '%', '>', '/'])
            || t.starts_with("ip ")
            || t.contains("$ ")
            || t.contains("# ")
    };
    // A command line holds the word `ip` (or `…/ip`) and a word after it:
    // visit only the lines where `ip` is followed by white space, found
    // with memchr's substring search, instead of splitting every line.
    let bytes = text.as_bytes();
    let mut next_line = 0;
    for at in memchr::memmem::find_iter(bytes, b"ip") {
        if at < next_line || !text[at + 2..].starts_with(char::is_whitespace) {
            continue;
        }
        let start = memchr::memrchr(b'\n', &bytes[..at]).map_or(0, |i| i + 1);
        let end = memchr::memchr(b'\n', &bytes[at..]).map_or(bytes.len(), |i| at + i);
        next_line = end;
        let l = text[start..end]
            .strip_suffix('\r')
            .unwrap_or(&text[start..end]);
        if !maybe_prompt(l) {
            continue;
        }
        if let lines::Class::Command(c) = lines::classify(l)
            && c.kind.is_some()
        {
            kinds += 1;
            if kinds >= 2 {
                return true;
            }
        }
    }
    false
}

/// An unknown file is a dump only if it reads as one: a few records, no
/// errors, and the marks a real dump has (devices, gateways, link lines).
pub(super) fn sniff(text: &str) -> Option<DumpKind> {
    let kind = grammar::detect(text)?;
    let head: String = text.lines().take(80).collect::<Vec<_>>().join("\n");
    let d = grammar::parse(&head, kind, &Ctx::default());
    if d.is_empty() || d.diagnostics.len() * 4 > d.len() {
        return None;
    }
    let real = match kind {
        DumpKind::IpAddr => d
            .links()
            .iter()
            .any(|l| l.flags.is_some() || !l.addrs.is_empty()),
        DumpKind::IpRule => true,
        DumpKind::IpRoute => d
            .routes()
            .iter()
            .any(|r| r.dev.is_some() || r.gateway.is_some() || !r.nexthops.is_empty()),
    };
    real.then_some(kind)
}

/// Splits a multi-command file into one input per `ip` command section:
/// the section's own lines, numbered as in the file (`Input::lines_before`),
/// so a file costs its length however many sections it has (blank lines
/// in place of those before each section cost its sections times its lines).
pub fn sections(name: &str, text: &str) -> Vec<(Input, lines::Command)> {
    let mut out: Vec<(usize, usize, lines::Command)> = Vec::new();
    let lines_v: Vec<&str> = text.split('\n').collect();
    // Where each line starts in `text`.
    let starts: Vec<usize> = lines_v
        .iter()
        .scan(0, |at, l| {
            let s = *at;
            *at += l.len() + 1;
            Some(s)
        })
        .collect();
    let mut current: Option<(usize, lines::Command)> = None;
    for (i, l) in lines_v.iter().enumerate() {
        let t = l.trim_end_matches('\r');
        let boundary = t.starts_with("#==[") || is_prompt(t);
        if !boundary {
            continue;
        }
        if let Some((s, c)) = current.take() {
            out.push((s, i, c));
        }
        if let lines::Class::Command(c) = lines::classify(t)
            && c.kind.is_some()
            && c.table != Some(TableSel::Cache)
            && !c.json
        {
            current = Some((i, c));
        }
    }
    if let Some((s, c)) = current.take() {
        out.push((s, lines_v.len(), c));
    }
    out.into_iter()
        .map(|(s, e, c)| {
            // Lines `s..e` as they stand in `text` (each line a slice of
            // it), ended by a newline where the file has one.
            let (from, to) = (starts[s], starts[e - 1] + lines_v[e - 1].len());
            let mut section = String::with_capacity(to - from + 1);
            section.push_str(&text[from..to]);
            if e < lines_v.len() {
                section.push('\n');
            }
            let table = match &c.table {
                Some(TableSel::One(t)) => Some(t.clone()),
                _ => None,
            };
            let input = Input {
                name: format!("{name}:{}", s + 1),
                text: section,
                kind: c.kind.unwrap_or(DumpKind::IpRoute),
                ctx: Ctx {
                    family: c.family,
                    table,
                },
                lines_before: u32::try_from(s).unwrap_or(u32::MAX),
            };
            (input, c)
        })
        .collect()
}

/// A shell prompt line or a supportconfig command header: `$ cmd`,
/// `# /usr/sbin/ip addr`, `[root@h ~]# cmd`, `user@h:~$ cmd`.
fn is_prompt(t: &str) -> bool {
    if matches!(lines::classify(t), lines::Class::Command(_)) {
        return true;
    }
    let s = t.trim_start();
    let s = if s.starts_with('[') {
        s.find(']').map_or(s, |i| &s[i + 1..])
    } else {
        s
    };
    let mut w = s.split_whitespace();
    let Some(head) = w.next() else { return false };
    let prompt_head = head == "$"
        || head.ends_with('$') && head.contains('@')
        || head.ends_with('#') && head.len() <= 2;
    prompt_head
        && w.next().is_some_and(|c| {
            c.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"/_.-".contains(&b))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Host, System};

    /// A script of changes (the tool's own `fix`, saved beside a capture)
    /// is no transcript: `ip rule add …` prints nothing. Commands that show
    /// still are, with or without a prompt.
    #[test]
    fn scripts_of_changes_are_not_transcripts() {
        let script = "#!/bin/sh\nset -e\napply() {\n    ip route add 10.0.1.0/24 dev eth1 table 101\n    \
                      ip rule add from 10.0.1.10 lookup 101 priority 1\n    \
                      ip addr add 10.0.1.10/24 dev eth1\n}\nundo() {\n    \
                      ip rule del from 10.0.1.10 lookup 101 priority 1\n    \
                      ip route del 10.0.1.0/24 dev eth1 table 101\n}\n";
        assert!(!is_transcript(script));
        assert!(sections("fix.sh", script).is_empty());
        for c in [
            "ip rule add from 10.0.1.10 lookup 101",
            "ip -4 addr del 10.0.0.1/24 dev eth0",
            "ip -6 rule flush",
        ] {
            assert!(lines::Command::from_command_line(c).is_none(), "{c}");
        }
        for c in [
            "ip rule",
            "ip -6 rule show",
            "ip addr",
            "ip a",
            "ip -4 route show table all",
            "ip rule list",
        ] {
            assert!(lines::Command::from_command_line(c).is_some(), "{c}");
        }
        assert!(is_transcript(
            "$ ip rule show\n0:\tfrom all lookup local\n$ ip route\ndefault via 10.0.0.1 dev eth0\n"
        ));
    }

    #[test]
    fn sections_keep_the_files_line_numbers() {
        let file = "$ ip rule\n0:\tfrom all lookup local\n32766:\tfrom all lookup main\n\
                    $ uptime\n 10:00 up\n$ ip route show table 100\n\
                    default via 10.0.0.1 dev eth0\nbogus words here\n\
                    10.0.0.0/24 dev eth0 scope link\n";
        let s = sections("t.log", file);
        assert_eq!(s.len(), 2);
        let (route, _) = &s[1];
        assert_eq!(route.name, "t.log:6");
        assert_eq!(route.lines_before, 5);
        assert!(route.text.starts_with("$ ip route show table 100\n"));
        // The diagnostic and the routes are on the file's lines, and a
        // route's quote is its line of the file.
        let host = Host::build_with(
            s.into_iter().map(|(i, _)| i).collect(),
            &Default::default(),
            System::default(),
        );
        let src = &host.sources[1];
        let d = &src.dump.diagnostics;
        assert_eq!((d.len(), d[0].line, d[0].column), (1, 8, 1), "{d:?}");
        let t = crate::grammar::Table::Id(100);
        let routes = &host.tables[0][&t].routes;
        let got: Vec<(u32, String)> = routes
            .iter()
            .map(|r| (r.origin().line, host.quote(r.origin())))
            .collect();
        assert_eq!(
            got,
            [
                (7, "default via 10.0.0.1 dev eth0".to_string()),
                (9, "10.0.0.0/24 dev eth0 scope link".to_string())
            ]
        );
        assert_eq!(host.locate(routes[1].origin()), "t.log:6:9");
    }
}
