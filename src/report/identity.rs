//! Duplicate host identities: the same hostname or instance id under more
//! than one host row usually means a machine captured twice (two runs, a
//! bundle attached twice), whose rows then count twice in the summary.

use crate::capture::Notice;
use crate::verdict::host::HostReport;
use std::collections::BTreeMap;

/// Collects identities as hosts finish; told once at the end, sorted, so
/// the notices do not depend on completion order.
#[derive(Debug, Default)]
pub struct Identities {
    seen: BTreeMap<(&'static str, String), Vec<String>>,
}

impl Identities {
    pub fn add(&mut self, h: &HostReport) {
        // A captured namespace shares its machine's names.
        if h.host.contains("/netns:") {
            return;
        }
        if let Some(id) = h.instance_id.as_deref().filter(|s| !s.is_empty()) {
            self.push("instance id", id, &h.host);
        }
        if let Some(name) = h.hostname.as_deref().filter(|n| identifying(n)) {
            self.push("hostname", name, &h.host);
        }
    }

    fn push(&mut self, kind: &'static str, value: &str, host: &str) {
        self.seen
            .entry((kind, value.to_string()))
            .or_default()
            .push(host.to_string());
    }

    /// One notice per identity shared by several rows, on the first row.
    pub fn notices(self) -> Vec<Notice> {
        self.seen
            .into_iter()
            .filter(|(_, hosts)| hosts.len() > 1)
            .map(|((kind, value), mut hosts)| {
                hosts.sort();
                let first = hosts.remove(0);
                Notice {
                    file: first,
                    message: format!(
                        "duplicate identity: {kind} {value} is also host {} (the same machine captured more than once?)",
                        hosts.join(", ")
                    ),
                }
            })
            .collect()
    }
}

/// Names that tell machines apart: not `localhost`, not the `hostN` that
/// `sos clean` gives every obfuscated report.
fn identifying(name: &str) -> bool {
    let n = name.trim().to_ascii_lowercase();
    let short = n.split('.').next().unwrap_or("");
    let obfuscated = short
        .strip_prefix("host")
        .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()));
    !n.is_empty() && short != "localhost" && !obfuscated
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifying_names() {
        assert!(identifying("web01.example.com"));
        assert!(identifying("ip-10-0-1-10.ec2.internal"));
        assert!(!identifying("localhost.localdomain"));
        assert!(!identifying("host0"));
        assert!(!identifying("host12.example.com"));
        assert!(identifying("hostess"));
        assert!(!identifying(" "));
    }
}
