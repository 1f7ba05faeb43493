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

    /// Another set (a worker's batch) added in: the notices are sorted,
    /// so the order sets come in does not matter.
    pub fn merge(&mut self, o: Identities) {
        for (k, hosts) in o.seen {
            self.seen.entry(k).or_default().extend(hosts);
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

    /// Workers count their batches apart: the merged notices are those of
    /// one count of every host, in any order of batches.
    #[test]
    fn merged_batches_tell_what_one_count_tells() {
        let hosts: Vec<(String, &str)> = (0..12)
            .map(|i| (format!("bundle/h{i:02}"), ["web01", "db01", "lb01"][i % 3]))
            .collect();
        let mut one = Identities::default();
        for (h, n) in &hosts {
            one.push("hostname", n, h);
        }
        let want = one.notices();
        assert_eq!(want.len(), 3);
        for split in [1, 5, 11] {
            let (mut a, mut b) = (Identities::default(), Identities::default());
            for (h, n) in &hosts[..split] {
                a.push("hostname", n, h);
            }
            for (h, n) in hosts[split..].iter().rev() {
                b.push("hostname", n, h);
            }
            b.merge(a);
            let got = b.notices();
            assert_eq!(
                got.iter()
                    .map(|n| (&n.file, &n.message))
                    .collect::<Vec<_>>(),
                want.iter()
                    .map(|n| (&n.file, &n.message))
                    .collect::<Vec<_>>()
            );
        }
    }
}
