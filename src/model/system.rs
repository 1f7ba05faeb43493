//! The kernel a host runs and how it is tuned: its version (from `uname`)
//! and its `net.` sysctls (from `sysctl -a` or `/proc/sys/net` files), read
//! from the bundle by the capture layer and handed to the model typed.
//!
//! Every behaviour of the lookup that depends on the kernel's version is a
//! method of [`KernelVersion`], in one list below, with the kernel commit
//! that changed it. Every sysctl the lookup reads is a method of
//! [`Sysctls`] that says how the kernel combines `all` and the device.

use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;

/// `major.minor.patch` of a Linux kernel release (`uname -r`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct KernelVersion {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl KernelVersion {
    pub const fn new(major: u32, minor: u32, patch: u32) -> KernelVersion {
        KernelVersion {
            major,
            minor,
            patch,
        }
    }

    /// The kernel the model mirrors when the bundle does not say which one
    /// the host runs: the one its behaviour was checked against in network
    /// namespaces (docs/kernel-semantics.md).
    pub const CURRENT: KernelVersion = KernelVersion::new(6, 18, 0);

    /// A release as `uname -r` prints it: `5.14.0-362.24.1.el9_3.x86_64`,
    /// `6.8.0-1009-aws`, `4.4`, `2.6.32-754.el6.x86_64`. At least
    /// `major.minor`; `None` for anything else.
    pub fn parse_release(s: &str) -> Option<KernelVersion> {
        let s = s.trim();
        let head: &str = s
            .split(|c: char| !(c.is_ascii_digit() || c == '.'))
            .next()
            .unwrap_or("");
        let mut parts = head.split('.');
        let major: u32 = parts.next()?.parse().ok()?;
        let minor: u32 = parts.next()?.parse().ok()?;
        let patch: u32 = match parts.next() {
            None | Some("") => 0,
            Some(p) => p.parse().ok()?,
        };
        // Linux 1.x to today's 6.x; a larger "major" is not a release.
        if !(1..=99).contains(&major) || minor > 999 || patch > 9999 {
            return None;
        }
        // The rest must be a release's suffix (`-…`, `+`, `_…`), not a word.
        let rest = &s[head.len()..];
        if !(rest.is_empty() || rest.starts_with(['-', '+', '_', '~'])) {
            return None;
        }
        Some(KernelVersion::new(major, minor, patch))
    }

    /// The release in `uname -a` (`Linux HOST RELEASE #1 SMP …`) or
    /// `uname -r` output; other lines (a collector's banner, a command
    /// header) are passed over. `None` when no line holds one.
    pub fn from_uname(text: &str) -> Option<KernelVersion> {
        Self::release_in(text).map(|x| x.0)
    }

    /// `from_uname`, with the release's text.
    pub fn release_in(text: &str) -> Option<(KernelVersion, &str)> {
        for l in text.lines() {
            let w: Vec<&str> = l.split_whitespace().collect();
            let candidate = match w.as_slice() {
                ["Linux", _host, rel, ..] => Some(*rel),
                [rel] => Some(*rel),
                _ => None,
            };
            if let Some(rel) = candidate
                && let Some(v) = KernelVersion::parse_release(rel)
            {
                return Some((v, rel));
            }
        }
        None
    }

    // ------------------------------------------------------------------
    // Version-dependent kernel behaviour: one method per rule, newest first.
    // ------------------------------------------------------------------

    /// Whether 0.0.0.0/8 (but 0.0.0.0 itself) is an ordinary address range:
    /// since Linux 5.3, commit 96125bf9985a ("Allow 0.0.0.0/8 as a valid
    /// address range"), `ipv4_is_zeronet()` tests `addr == 0` only, so the
    /// martian checks of `ip_route_output_key_hash_rcu` (source),
    /// `__mkroute_output` (destination) and `ip_route_input_slow` (source
    /// and destination) refuse 0.0.0.0 alone. Before, they refused the /8.
    pub fn zeronet_routable(self) -> bool {
        self >= KernelVersion::new(5, 3, 0)
    }

    /// A classic IPv4 multipath route prefers the nexthops whose own
    /// source (`nh_saddr`) is the flow's: commit 32607a332cfe ("ipv4:
    /// prefer multipath nexthop that matches source address", posted to
    /// net-next in April 2025, after 6.15's merge window: first in 6.16).
    /// Before, `fib_select_multipath` took the leg the hash fell in, so a
    /// reply from a primary address may leave by any leg [6.18: a primary
    /// address always leaves by its own leg, checked in namespaces].
    pub fn multipath_prefers_source(self) -> bool {
        self >= KernelVersion::new(6, 16, 0)
    }

    /// The error a received packet gets when reverse-path filtering drops
    /// it. Until 6.12 `fib_validate_source` returned -EXDEV and
    /// `ip_route_input_slow` passed it on ("Invalid cross-device link");
    /// Linux 6.13's drop-reason series ("net: ip: make fib_validate_source()
    /// return drop reason" and its callers) turned every input-route
    /// failure into -EINVAL, the martian's text [6.18: `Invalid argument`,
    /// checked in namespaces].
    pub fn rp_filter_error(self) -> super::KernelError {
        if self >= KernelVersion::new(6, 13, 0) {
            super::KernelError::Inval
        } else {
            super::KernelError::XDev
        }
    }
}

/// The reverse-path filter of a distribution's own sysctl.d files, for a
/// bundle that did not keep the sysctls, told by the kernel release's
/// suffix (`.el8`, `.amzn2`, `-aws`): systemd's `50-default.conf` set
/// `net.ipv4.conf.{default,all}.rp_filter = 1` until v240 (2018) and 2
/// (loose) since; Ubuntu's `10-network-security.conf` sets 2. `None`: a
/// release this list does not know (the kernel's own default, 0, applies).
pub fn distro_rp_filter(release: &str) -> Option<(i64, &'static str)> {
    let r = release.to_ascii_lowercase();
    let has = |tag: &str| {
        r.match_indices(tag).any(|(i, _)| {
            let after = r[i + tag.len()..].chars().next();
            after.is_none_or(|c| !c.is_ascii_digit())
        })
    };
    // systemd before v240: RHEL/CentOS 7 and 8 (systemd 219, 239),
    // Amazon Linux 2 (219).
    if has(".el7") || has(".el8") || has(".amzn2") {
        return Some((
            1,
            "RHEL/CentOS 7-8 and Amazon Linux 2 set 1 (systemd's 50-default.conf before v240)",
        ));
    }
    if has(".el9") || has(".el10") || has(".amzn2023") || r.contains(".fc") {
        return Some((
            2,
            "RHEL 9+, Amazon Linux 2023 and Fedora set 2 (systemd's 50-default.conf since v240)",
        ));
    }
    let ubuntu_flavour = [
        "-generic",
        "-aws",
        "-azure",
        "-gcp",
        "-oracle",
        "-kvm",
        "-lowlatency",
    ];
    if ubuntu_flavour.iter().any(|f| r.ends_with(f)) {
        return Some((2, "Ubuntu sets 2 (10-network-security.conf)"));
    }
    None
}

/// A device's reverse-path filter as the kernel reads it (IN_DEV_RPFILTER:
/// the larger of `all` and the device's own value), with the key that
/// decided it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RpFilter {
    /// 0 off, 1 strict, anything larger loose.
    pub mode: i64,
    /// The key whose value is `mode` (`net.ipv4.conf.eth1.rp_filter`, or
    /// `…default…` for a device the sysctls do not list, or `…all…`).
    pub key: String,
    /// Not in the bundle: a default (the distribution's, or the kernel's).
    pub assumed: bool,
}

impl RpFilter {
    pub fn strict(&self) -> bool {
        self.mode == 1
    }

    pub fn mode_word(&self) -> &'static str {
        match self.mode {
            0 => "off",
            1 => "strict",
            _ => "loose",
        }
    }
}

impl RpFilter {
    /// `rp_filter=1 on eth1 (strict; net.ipv4.conf.eth1.rp_filter = 1)`.
    pub fn on(&self, dev: &str) -> String {
        let assumed = if self.assumed { "assumed: " } else { "" };
        format!(
            "rp_filter={} on {dev} ({}; {assumed}{} = {})",
            self.mode,
            self.mode_word(),
            self.key,
            self.mode
        )
    }
}

impl Default for KernelVersion {
    fn default() -> KernelVersion {
        KernelVersion::CURRENT
    }
}

impl fmt::Display for KernelVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// A sysctl key in `sysctl -a`'s dotted form, or `None` when it is not a
/// `net.` key (only those are kept). A `/proc/sys` path
/// (`net/ipv4/conf/eth0.100/rp_filter`, with or without `/proc/sys/`) is
/// turned into the dotted form the way `sysctl` prints it: a dot inside a
/// component (a VLAN device's name) becomes `/`
/// (`net.ipv4.conf.eth0/100.rp_filter`).
pub fn normalise_key(key: &str) -> Option<String> {
    let mut s = String::new();
    normalise_key_into(key, &mut s).then_some(s)
}

/// `normalise_key` appended to `out`; `false` (and `out` as it was) when
/// the key is not a `net.` one.
fn normalise_key_into(key: &str, out: &mut String) -> bool {
    let k = key.trim();
    let k = k
        .strip_prefix("/proc/sys/")
        .or_else(|| k.strip_prefix("proc/sys/"))
        .unwrap_or(k);
    if k.starts_with("net/") {
        // The components joined by dots, a dot in one (an interface's name)
        // as a slash, written straight into `out` (a node's /proc/sys/net
        // holds thousands of files).
        let start = out.len();
        for c in k.split('/').filter(|c| !c.is_empty()) {
            if out.len() > start {
                out.push('.');
            }
            let mut rest = c;
            while let Some(i) = rest.find('.') {
                out.push_str(&rest[..i]);
                out.push('/');
                rest = &rest[i + 1..];
            }
            out.push_str(rest);
        }
        return true;
    }
    if k.starts_with("net.") && k.len() > 4 {
        out.push_str(k);
        return true;
    }
    false
}

/// A line of a sysctl file that is not `key = value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadLine {
    /// 1-based.
    pub line: usize,
    pub text: String,
}

/// The `net.` sysctls of a host: key (dotted) → value as printed (several
/// fields stay as one string, e.g. `4096\t131072\t6291456`).
///
/// One text with offsets, not a map of strings: a Kubernetes node's
/// `/proc/sys/net` is 16,500 files, and a `String` for each key and value
/// (with the map's nodes) was a sixth of reading such a host. Settings are
/// kept in the order set until `settle` sorts them (the model does, once);
/// until then a lookup reads them from the last.
#[derive(Clone, Default)]
pub struct Sysctls {
    /// Keys and values, back to back.
    text: String,
    /// Per setting: where its key starts, where it ends (and its value
    /// starts), where its value ends.
    at: Vec<(u32, u32, u32)>,
    /// `at` is sorted by key, one setting a key.
    settled: bool,
    /// Defaults assumed for keys the bundle lacks (`Host` fills them in
    /// from the distribution): read like the rest, told as assumed.
    assumed: BTreeMap<String, String>,
    /// The per-link IPv4 settings the model reads, made on first read and
    /// dropped by any change.
    conf4: std::sync::OnceLock<Conf4>,
}

/// The settings of `CONF4_READ` of each link the sysctls name (`all` and
/// `default` too), read once: a route lookup reads `route_localnet` for
/// each nexthop it selects a source for, and a read formatted and searched
/// up to three keys (57% of a host of 25,000 16-way multipath routes).
#[derive(Clone, Debug, Default)]
struct Conf4 {
    /// By link name as the kernel prints it (a key's `/` is its `.`),
    /// sorted, but for `all` and `default`; the values in `CONF4_READ`'s
    /// order.
    links: Vec<(Box<str>, [Option<i64>; 6])>,
    /// `all`'s and `default`'s, which every read of a link falls back on.
    all: [Option<i64>; 6],
    default: [Option<i64>; 6],
}

/// The link a key of `CONF4_READ` is of (`net.ipv4.conf.<link>.<name>`).
fn conf4_link(key: &str) -> Option<&str> {
    let (link, name) = key.strip_prefix("net.ipv4.conf.")?.rsplit_once('.')?;
    CONF4_READ.contains(&name).then_some(link)
}

/// A setting of `CONF4_READ`, by its place there.
#[derive(Clone, Copy)]
enum Conf4Name {
    AcceptLocal,
    Forwarding,
    RouteLocalnet,
    RpFilter,
    SendRedirects,
    SrcValidMark,
}

impl Conf4Name {
    fn name(self) -> &'static str {
        CONF4_READ[self as usize]
    }
}

impl fmt::Debug for Sysctls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = self.clone();
        s.settle();
        f.debug_struct("Sysctls")
            .field("values", &s.entries().collect::<BTreeMap<_, _>>())
            .field("assumed", &self.assumed)
            .finish()
    }
}

impl PartialEq for Sysctls {
    fn eq(&self, other: &Sysctls) -> bool {
        let (mut a, mut b) = (self.clone(), other.clone());
        a.settle();
        b.settle();
        a.entries().eq(b.entries()) && a.assumed == b.assumed
    }
}

impl Eq for Sysctls {}

impl Sysctls {
    pub fn is_empty(&self) -> bool {
        self.at.is_empty()
    }

    /// Keys set (each once).
    pub fn len(&self) -> usize {
        match self.settled {
            true => self.at.len(),
            false => {
                let mut s = self.clone();
                s.settle();
                s.at.len()
            }
        }
    }

    fn key(&self, a: (u32, u32, u32)) -> &str {
        &self.text[a.0 as usize..a.1 as usize]
    }

    fn value(&self, a: (u32, u32, u32)) -> &str {
        &self.text[a.1 as usize..a.2 as usize]
    }

    /// The settings, key and value (in key order once settled).
    fn entries(&self) -> impl Iterator<Item = (&str, &str)> {
        self.at.iter().map(|&a| (self.key(a), self.value(a)))
    }

    /// Sets a key (any form `normalise_key` takes); non-`net.` keys are
    /// dropped. A later value replaces an earlier one.
    pub fn insert(&mut self, key: &str, value: &str) {
        let start = self.text.len();
        if normalise_key_into(key, &mut self.text) {
            self.push_value(start, value.trim());
        }
    }

    /// Ends the setting whose key `text` holds from `start` with its value.
    fn push_value(&mut self, start: usize, value: &str) {
        self.conf4 = Default::default();
        let mid = self.text.len();
        self.text.push_str(value);
        let (Ok(a), Ok(b), Ok(c)) = (
            u32::try_from(start),
            u32::try_from(mid),
            u32::try_from(self.text.len()),
        ) else {
            // Past 4 GiB of sysctl text (no real bundle): not kept.
            self.text.truncate(start);
            return;
        };
        // Still sorted when keys come in order (a sorted `sysctl -a`).
        if let Some(&last) = self.at.last() {
            self.settled &= self.key(last) < &self.text[start..mid];
        } else {
            self.settled = true;
        }
        self.at.push((a, b, c));
    }

    /// Sorts the settings by key, keeping the last of each: lookups are a
    /// binary search from then on.
    pub fn settle(&mut self) {
        if self.settled {
            return;
        }
        self.conf4 = Default::default();
        let mut at = std::mem::take(&mut self.at);
        // Stable: equal keys stay in the order set, and the last one wins.
        at.sort_by(|&x, &y| self.key(x).cmp(self.key(y)));
        let mut kept: Vec<(u32, u32, u32)> = Vec::with_capacity(at.len());
        for a in at {
            match kept.last_mut() {
                Some(k) if self.key(*k) == self.key(a) => *k = a,
                _ => kept.push(a),
            }
        }
        self.at = kept;
        self.settled = true;
    }

    /// Adds another set; its values win. Its keys and values are in their
    /// final form already: copied, not read again.
    pub fn extend(&mut self, other: Sysctls) {
        for (k, v) in other.entries() {
            let start = self.text.len();
            self.text.push_str(k);
            self.push_value(start, v);
        }
    }

    /// The value set for a key (dotted), assumed or not.
    fn set(&self, key: &str) -> Option<&str> {
        if self.settled {
            let i = self.at.binary_search_by(|&a| self.key(a).cmp(key)).ok()?;
            return Some(self.value(self.at[i]));
        }
        let a = self.at.iter().rev().find(|&&a| self.key(a) == key)?;
        Some(self.value(*a))
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.set(key)
            .or_else(|| self.assumed.get(key).map(String::as_str))
    }

    /// Assumes a value for a key the bundle does not have.
    pub fn assume(&mut self, key: &str, value: &str) {
        if let Some(k) = normalise_key(key)
            && self.set(&k).is_none()
        {
            self.assumed.insert(k, value.trim().to_string());
            self.conf4 = Default::default();
        }
    }

    fn is_assumed(&self, key: &str) -> bool {
        self.set(key).is_none() && self.assumed.contains_key(key)
    }

    /// Whether any key ends in `.name` (the bundle kept that setting).
    pub fn has_setting(&self, name: &str) -> bool {
        let tail = format!(".{name}");
        self.entries().any(|(k, _)| k.ends_with(&tail))
    }

    /// An integer sysctl (`None`: absent or not a number).
    pub fn get_int(&self, key: &str) -> Option<i64> {
        self.get(key).and_then(|v| v.trim().parse().ok())
    }

    /// `get_int` for the model's own reads: a key `/proc/sys/net` trees
    /// keep (`proc_sys_read`), or a bundle's tree would never tell it.
    fn read_int(&self, key: &str) -> Option<i64> {
        debug_assert!(
            is_read_key(key),
            "{key}: not kept from /proc/sys/net trees (CONF4_READ)"
        );
        self.get_int(key)
    }

    /// Reads `sysctl -a` output (`key = value`; `key=value` too). Blank
    /// lines and comments (`#`, `;`) are skipped; a line that is no
    /// `key = value` (a `sysctl: …` error, a collector's banner) is
    /// returned as a bad line. Non-`net.` keys are dropped. Never fails.
    pub fn parse(text: &str) -> (Sysctls, Vec<BadLine>) {
        let mut s = Sysctls::default();
        let mut bad = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let l = raw.trim();
            if l.is_empty() || l.starts_with('#') || l.starts_with(';') {
                continue;
            }
            let ok = l.split_once('=').and_then(|(k, v)| {
                let k = k.trim();
                let valid = !k.is_empty()
                    && !k.contains(char::is_whitespace)
                    && !k.starts_with("sysctl:")
                    && k.contains(['.', '/']);
                valid.then_some((k, v))
            });
            match ok {
                Some((k, v)) => s.insert(k, v),
                None => bad.push(BadLine {
                    line: i + 1,
                    text: l.chars().take(120).collect(),
                }),
            }
        }
        (s, bad)
    }

    /// `Conf4`, made on first use.
    fn conf4_index(&self) -> &Conf4 {
        self.conf4.get_or_init(|| {
            let mut names: Vec<String> = self
                .entries()
                .map(|(k, _)| k)
                .chain(self.assumed.keys().map(String::as_str))
                .filter_map(conf4_link)
                .filter(|l| !matches!(*l, "all" | "default"))
                .map(|l| l.replace('/', "."))
                .collect();
            names.sort_unstable();
            names.dedup();
            let row = |l: &str| {
                let key = l.replace('.', "/");
                CONF4_READ.map(|n| self.read_int(&format!("net.ipv4.conf.{key}.{n}")))
            };
            Conf4 {
                all: row("all"),
                default: row("default"),
                links: names
                    .into_iter()
                    .map(|l| {
                        let v = row(&l);
                        (l.into(), v)
                    })
                    .collect(),
            }
        })
    }

    /// A link's own setting (`None`: not set, nor assumed).
    fn own4(&self, dev: &str, n: Conf4Name) -> Option<i64> {
        if dev.contains('/') {
            // No kernel link is named so (a damaged dump): read by its key.
            let dev = dev.replace('.', "/");
            return self.read_int(&format!("net.ipv4.conf.{dev}.{}", n.name()));
        }
        let ix = self.conf4_index();
        match dev {
            "all" => ix.all[n as usize],
            "default" => ix.default[n as usize],
            _ => {
                let i = ix.links.binary_search_by(|(l, _)| (**l).cmp(dev)).ok()?;
                ix.links[i].1[n as usize]
            }
        }
    }

    /// `net.ipv4.conf.<dev>.<name>` for a device (`sysctl` writes a dot of
    /// the device's name as `/`); a device the dump does not list takes
    /// `default`, as a device created later would.
    fn conf4(&self, dev: &str, n: Conf4Name) -> Option<i64> {
        self.own4(dev, n).or_else(|| self.own4("default", n))
    }

    /// `conf4` with the key it read.
    fn conf4_keyed(&self, dev: &str, n: Conf4Name) -> Option<(i64, String)> {
        let key = |d: &str| format!("net.ipv4.conf.{}.{}", d.replace('.', "/"), n.name());
        match self.own4(dev, n) {
            Some(v) => Some((v, key(dev))),
            None => self.own4("default", n).map(|v| (v, key("default"))),
        }
    }

    /// A device's reverse-path filter (IN_DEV_RPFILTER = IN_DEV_MAXCONF:
    /// the larger of `all` and the device's; checked in namespaces on
    /// 6.18 for every pair of 0, 1, 2). Absent keys are 0, the kernel's
    /// default.
    pub fn rp_filter(&self, dev: &str) -> RpFilter {
        let all = self
            .own4("all", Conf4Name::RpFilter)
            .map(|v| (v, "net.ipv4.conf.all.rp_filter".to_string()));
        let own = self.conf4_keyed(dev, Conf4Name::RpFilter);
        let (mode, key) = match (all, own) {
            (Some(a), Some(d)) => {
                if d.0 >= a.0 {
                    d
                } else {
                    a
                }
            }
            (Some(x), None) | (None, Some(x)) => x,
            (None, None) => (0, format!("net.ipv4.conf.{dev}.rp_filter (absent: 0)")),
        };
        let assumed = self.is_assumed(&key);
        RpFilter { mode, key, assumed }
    }

    /// `accept_local` (IN_DEV_ACCEPT_LOCAL: `all` or the device): a
    /// received packet may carry one of the host's own addresses as source.
    pub fn accept_local(&self, dev: &str) -> bool {
        self.conf4_or(dev, Conf4Name::AcceptLocal)
    }

    /// `src_valid_mark` (IN_DEV_SRC_VMARK: `all` or the device): the
    /// reverse-path lookup uses the packet's mark.
    pub fn src_valid_mark(&self, dev: &str) -> bool {
        self.conf4_or(dev, Conf4Name::SrcValidMark)
    }

    /// `send_redirects` (IN_DEV_TX_REDIRECTS: `all` or the device; on by
    /// default): a packet forwarded out the device it came in by is
    /// checked by a reverse lookup even with rp_filter off.
    pub fn send_redirects(&self, dev: &str) -> bool {
        let all = self.own4("all", Conf4Name::SendRedirects);
        let own = self.conf4(dev, Conf4Name::SendRedirects);
        all.unwrap_or(1) != 0 || own.unwrap_or(1) != 0
    }

    /// IN_DEV_ORCONF: `all` or the device's own setting is on.
    fn conf4_or(&self, dev: &str, n: Conf4Name) -> bool {
        self.own4("all", n).is_some_and(|v| v != 0) || self.conf4(dev, n).is_some_and(|v| v != 0)
    }

    /// Whether a device forwards IPv4 (IN_DEV_FORWARD: the device's own
    /// `forwarding`, which writing `ip_forward` or `all.forwarding` sets on
    /// every device; `default` for a device the sysctls do not list), with
    /// the key read. `None`: the bundle does not say.
    pub fn forwarding(&self, dev: &str) -> Option<(bool, String)> {
        self.conf4_keyed(dev, Conf4Name::Forwarding)
            .or_else(|| {
                ["net.ipv4.conf.all.forwarding", "net.ipv4.ip_forward"]
                    .into_iter()
                    .find_map(|k| self.read_int(k).map(|v| (v, k.to_string())))
            })
            .map(|(v, k)| (v != 0, k))
    }

    /// `forwarding`'s answer without its key (a lookup's input path).
    pub fn forwards(&self, dev: &str) -> Option<bool> {
        self.conf4(dev, Conf4Name::Forwarding)
            .or_else(|| self.own4("all", Conf4Name::Forwarding))
            .or_else(|| self.read_int("net.ipv4.ip_forward"))
            .map(|v| v != 0)
    }

    /// `route_localnet` for a device (IN_DEV_ROUTE_LOCALNET /
    /// IN_DEV_NET_ROUTE_LOCALNET: `all` or the device). Input checks the
    /// receiving device, output the device the route leaves by (checked in
    /// namespaces on 6.18). Default 0: 127/8 never crosses a
    /// non-loopback link.
    pub fn route_localnet(&self, dev: &str) -> bool {
        self.conf4_or(dev, Conf4Name::RouteLocalnet)
    }
}

/// The per-link IPv4 settings the model reads
/// (`net.ipv4.conf.<link|all|default>.<name>`). With `net.ipv4.ip_forward`
/// they are all it reads of a host's sysctls.
const CONF4_READ: [&str; 6] = [
    "accept_local",
    "forwarding",
    "route_localnet",
    "rp_filter",
    "send_redirects",
    "src_valid_mark",
];

/// Whether the model reads the setting a `/proc/sys/net` file holds, given
/// the file's path after `proc/sys/net/`. The rest of such a tree is not
/// read from a bundle: a Kubernetes node's sosreport holds 16,500 of these
/// files, ~55 a link, and the model reads 6 a link.
pub fn proc_sys_read(rel: &str) -> bool {
    reads(rel, '/', false)
}

/// `proc_sys_read` for a dotted key (`net.ipv4.conf.eth0.rp_filter`).
fn is_read_key(key: &str) -> bool {
    key.strip_prefix("net.")
        .is_some_and(|rest| reads(rest, '.', true))
}

/// A setting the model reads, named from after `net` with `sep` between
/// parts (a link's own dots are `/` in a dotted key, `.` in a path).
/// `any_link`: an empty link name too (the model asks for the links the
/// dumps name, an empty one where a dump is damaged; a path's empty part
/// is dropped when it becomes a key, so the filter keeps no such file).
fn reads(rest: &str, sep: char, any_link: bool) -> bool {
    let Some(ipv4) = rest.strip_prefix("ipv4").and_then(|r| r.strip_prefix(sep)) else {
        return false;
    };
    ipv4 == "ip_forward"
        || ipv4
            .strip_prefix("conf")
            .and_then(|r| r.strip_prefix(sep))
            .and_then(|r| r.split_once(sep))
            .is_some_and(|(link, name)| {
                (any_link || !link.is_empty()) && CONF4_READ.contains(&name)
            })
}

/// Where `proc/sys/net/` first stands in a path. A searcher made once:
/// `str::find` builds one per call, and a Kubernetes node's sosreport asks
/// for each of its 16,500 files.
pub fn proc_sys_net(path: &str) -> Option<usize> {
    static NET: std::sync::OnceLock<memchr::memmem::Finder<'static>> = std::sync::OnceLock::new();
    NET.get_or_init(|| memchr::memmem::Finder::new("proc/sys/net/"))
        .find(path.as_bytes())
}

/// What the bundle says about the host's kernel, with where it was read.
#[derive(Debug, Clone, Default)]
pub struct System {
    /// The kernel version and the file that told it.
    pub kernel: Option<(KernelVersion, String)>,
    /// The release as printed (`5.10.219-208.866.amzn2.x86_64`): its
    /// suffix tells the distribution.
    pub release: Option<String>,
    /// The `net.` sysctls (empty: none collected).
    pub sysctls: Sysctls,
    /// The files the sysctls came from.
    pub sysctl_files: Vec<String>,
    /// A netfilter listing that loads an IPv6 reverse-path filter (the
    /// `rpfilter` match, nftables' `fib saddr … oif missing`): its file.
    pub ipv6_rpfilter: Option<String>,
}

impl System {
    /// Reads a `uname -a` / `uname -r` text; the first version found wins.
    /// `false` when the text holds none.
    pub fn add_uname(&mut self, file: &str, text: &str) -> bool {
        match KernelVersion::release_in(text) {
            Some((v, rel)) => {
                if self.kernel.is_none() {
                    self.kernel = Some((v, file.to_string()));
                    self.release = Some(rel.to_string());
                }
                true
            }
            None => false,
        }
    }

    /// Reads a `sysctl -a` text; returns a note on its bad lines, if any.
    pub fn add_sysctl_text(&mut self, file: &str, text: &str) -> Option<String> {
        let (s, mut bad) = Sysctls::parse(text);
        // ec2rl's module banner ("I will collect sysctl -a output from …").
        if bad
            .first()
            .is_some_and(|b| b.line == 1 && b.text.starts_with("I will "))
        {
            bad.remove(0);
        }
        if !s.is_empty() {
            self.sysctls.extend(s);
            self.sysctl_files.push(file.to_string());
        }
        let first = bad.first()?;
        Some(format!(
            "{file}: {} line(s) not `key = value`, skipped (line {}: `{}`)",
            bad.len(),
            first.line,
            first.text
        ))
    }

    /// Reads a netfilter listing: does it load an IPv6 reverse-path filter?
    /// firewalld's `IPv6_rpfilter=yes` (its default) puts one in the raw
    /// table (`rpfilter`) or in nftables (`fib saddr . iif oif missing
    /// drop`, with `mark` since firewalld 1.0). A listing of IPv4 rules
    /// alone (`ip6tables` file names aside) is not read as IPv6.
    pub fn add_netfilter(&mut self, file: &str, text: &str) {
        if self.ipv6_rpfilter.is_some() {
            return;
        }
        let v6_file = file
            .rsplit('/')
            .next()
            .is_some_and(|b| b.starts_with("ip6tables"));
        let loaded = text.lines().any(|l| {
            let l = l.trim();
            let iptables = v6_file && l.contains("rpfilter") && !l.starts_with('#');
            let nft = l.contains("fib saddr")
                && l.contains("oif missing")
                && (l.contains("ipv6") || l.contains("ip6"));
            iptables || nft
        });
        if loaded {
            self.ipv6_rpfilter = Some(file.to_string());
        }
    }

    /// Reads one `…/proc/sys/net/…` file of a collector's tree: the path
    /// from `net/` on is the key, the content the value.
    pub fn add_proc_file(&mut self, path: &str, text: &str) {
        let Some(at) = proc_sys_net(path) else {
            return;
        };
        let value = text.trim();
        if value.is_empty() || value.contains('\n') {
            return;
        }
        self.sysctls.insert(&path[at..], value);
        let dir = &path[..at + "proc/sys/net".len()];
        if !self.sysctl_files.iter().any(|f| f == dir) {
            self.sysctl_files.push(dir.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each link's settings as read before `Conf4`: its keys formatted
    /// and searched on every read.
    fn by_keys(s: &Sysctls, dev: &str) -> Vec<Option<i64>> {
        let key = |d: &str, n: &str| format!("net.ipv4.conf.{}.{n}", d.replace('.', "/"));
        let conf4 = |n: &str| {
            s.get_int(&key(dev, n))
                .or_else(|| s.get_int(&key("default", n)))
        };
        let all = |n: &str| s.get_int(&key("all", n));
        let or =
            |n: &str| i64::from(all(n).is_some_and(|v| v != 0) || conf4(n).is_some_and(|v| v != 0));
        let rp = match (all("rp_filter"), conf4("rp_filter")) {
            (Some(a), Some(d)) => a.max(d),
            (Some(x), None) | (None, Some(x)) => x,
            (None, None) => 0,
        };
        let fwd = conf4("forwarding")
            .or_else(|| all("forwarding"))
            .or_else(|| s.get_int("net.ipv4.ip_forward"));
        vec![
            Some(or("accept_local")),
            Some(or("src_valid_mark")),
            Some(or("route_localnet")),
            Some(i64::from(
                all("send_redirects").unwrap_or(1) != 0
                    || conf4("send_redirects").unwrap_or(1) != 0,
            )),
            Some(rp),
            fwd,
        ]
    }

    fn by_index(s: &Sysctls, dev: &str) -> Vec<Option<i64>> {
        let fwd = s.forwards(dev).map(i64::from);
        assert_eq!(fwd, s.forwarding(dev).map(|f| i64::from(f.0)), "{dev}");
        vec![
            Some(i64::from(s.accept_local(dev))),
            Some(i64::from(s.src_valid_mark(dev))),
            Some(i64::from(s.route_localnet(dev))),
            Some(i64::from(s.send_redirects(dev))),
            Some(s.rp_filter(dev).mode),
            fwd,
        ]
    }

    #[test]
    fn conf4_names_are_their_places() {
        use Conf4Name::*;
        let names = [
            AcceptLocal,
            Forwarding,
            RouteLocalnet,
            RpFilter,
            SendRedirects,
            SrcValidMark,
        ]
        .map(Conf4Name::name);
        assert_eq!(names, CONF4_READ);
    }

    /// The per-link settings read once (`Conf4`) are those read by key,
    /// through changes that must drop them: settings added, assumed,
    /// settled, merged.
    #[test]
    fn per_link_settings_read_once_are_those_read_by_key() {
        let devs = [
            "eth0",
            "eth0.100",
            "eth1",
            "",
            "lo",
            "all",
            "default",
            "a/b",
            "a.b",
            "veth9",
            // Names a damaged dump gives (the archive fuzz target's).
            "a/b.c",
            "x y:z/ .w",
        ];
        let check = |s: &Sysctls, when: &str| {
            for d in devs {
                assert_eq!(by_index(s, d), by_keys(s, d), "{when}: {d:?}");
            }
        };
        let mut s = Sysctls::default();
        check(&s, "empty");
        for (k, v) in [
            ("net.ipv4.conf.eth0.rp_filter", "1"),
            ("net.ipv4.conf.eth0/100.rp_filter", "2"),
            ("net.ipv4.conf.eth0/100.route_localnet", "1"),
            ("net.ipv4.conf.all.accept_local", "0"),
            ("net.ipv4.conf.eth0.accept_local", "1"),
            ("net.ipv4.conf.default.src_valid_mark", "1"),
            ("net.ipv4.conf.eth0.send_redirects", "0"),
            ("net.ipv4.conf.lo.forwarding", " 0 "),
            ("net.ipv4.conf.eth0.forwarding", "x"),
            ("net.ipv4.conf.a/b.rp_filter", "1"),
            ("net.ipv4.conf..rp_filter", "2"),
            ("net.ipv4.conf.eth0.rp_filter", "0"),
        ] {
            s.insert(k, v);
            check(&s, "unsettled");
        }
        s.settle();
        check(&s, "settled");
        s.assume("net.ipv4.conf.default.rp_filter", "2");
        s.assume("net.ipv4.conf.eth1.route_localnet", "1");
        check(&s, "assumed");
        s.insert("net.ipv4.conf.all.send_redirects", "0");
        s.insert("net.ipv4.ip_forward", "1");
        check(&s, "added after");
        s.settle();
        let mut other = Sysctls::default();
        other.insert("net.ipv4.conf.all.route_localnet", "1");
        other.insert("net.ipv4.conf.veth9.forwarding", "1");
        s.extend(other);
        check(&s, "merged");
    }

    #[test]
    fn releases() {
        let v = |s| KernelVersion::parse_release(s);
        assert_eq!(
            v("5.14.0-362.24.1.el9_3.x86_64"),
            Some(KernelVersion::new(5, 14, 0))
        );
        assert_eq!(v("6.8.0-1009-aws"), Some(KernelVersion::new(6, 8, 0)));
        assert_eq!(v("4.4"), Some(KernelVersion::new(4, 4, 0)));
        assert_eq!(
            v("2.6.32-754.el6.x86_64"),
            Some(KernelVersion::new(2, 6, 32))
        );
        assert_eq!(v("6.18.44-fc-v1252"), Some(KernelVersion::new(6, 18, 44)));
        assert_eq!(v("5.3+"), Some(KernelVersion::new(5, 3, 0)));
        for bad in [
            "", "Linux", "5", "x5.1", "5.x", "1000.1.1", "0.1", "5.4abc", "#1",
        ] {
            assert_eq!(v(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn uname_texts() {
        let u = KernelVersion::from_uname;
        assert_eq!(
            u(
                "Linux ip-10-0-1-10.ec2.internal 5.10.219-208.866.amzn2.x86_64 #1 SMP Tue Jun 18 14:00:06 UTC 2024 x86_64 x86_64 x86_64 GNU/Linux\n"
            ),
            Some(KernelVersion::new(5, 10, 219))
        );
        assert_eq!(
            u(
                "I will collect uname -r output from this alami2 box.\n4.14.336-257.562.amzn2.x86_64\n"
            ),
            Some(KernelVersion::new(4, 14, 336))
        );
        assert_eq!(
            u("3.10.0-1160.el7.x86_64"),
            Some(KernelVersion::new(3, 10, 0))
        );
        assert_eq!(u(""), None);
        assert_eq!(u("uname: command not found\n"), None);
        assert_eq!(u("\u{0}\u{fffd}garbage 1.2.3 x\n"), None);
    }

    #[test]
    fn version_rules() {
        assert!(KernelVersion::CURRENT.zeronet_routable());
        assert!(KernelVersion::new(5, 3, 0).zeronet_routable());
        assert!(!KernelVersion::new(5, 2, 21).zeronet_routable());
        assert!(!KernelVersion::new(4, 19, 0).zeronet_routable());
        assert!(!KernelVersion::new(3, 10, 0).zeronet_routable());
    }

    #[test]
    fn proc_sys_trees_keep_what_the_model_reads() {
        // Every accessor, on a link with a dot in its name: in debug
        // builds `read_int` checks each key it is asked for.
        let mut s = Sysctls::default();
        for name in CONF4_READ {
            for link in ["eth0.100", "all", "default"] {
                s.insert(&format!("proc/sys/net/ipv4/conf/{link}/{name}"), "1");
            }
        }
        s.insert("proc/sys/net/ipv4/ip_forward", "1");
        s.settle();
        let l = "eth0.100";
        assert_eq!(s.rp_filter(l).mode, 1);
        assert!(s.accept_local(l) && s.src_valid_mark(l) && s.send_redirects(l));
        assert!(s.route_localnet(l) && s.forwarding(l).is_some_and(|f| f.0));
        assert!(s.forwarding("eth9").is_some_and(|f| f.0));
        // A tree's file is read exactly when its key is one the model reads.
        for (rel, read) in [
            ("ipv4/conf/eth0.100/rp_filter", true),
            ("ipv4/conf/all/forwarding", true),
            ("ipv4/conf/default/src_valid_mark", true),
            ("ipv4/ip_forward", true),
            ("ipv6/conf/eth0/forwarding", false),
            ("ipv4/conf/eth0/arp_filter", false),
            ("ipv4/conf/eth0/sub/rp_filter", false),
            ("ipv4/conf//rp_filter", false),
            ("ipv4/conf/rp_filter", false),
            ("core/somaxconn", false),
        ] {
            let key = normalise_key(&format!("net/{rel}")).unwrap();
            assert_eq!(proc_sys_read(rel), read, "{rel}");
            assert_eq!(is_read_key(&key), read, "{key}");
        }
        // A link with an empty name (a damaged dump names one) is asked
        // for, and answered from the defaults: no such file is kept.
        assert!(is_read_key("net.ipv4.conf..rp_filter"));
        assert_eq!(s.rp_filter("").mode, 1);
    }

    #[test]
    fn keys() {
        let k = normalise_key;
        assert_eq!(
            k("net.ipv4.conf.all.rp_filter").as_deref(),
            Some("net.ipv4.conf.all.rp_filter")
        );
        assert_eq!(
            k("/proc/sys/net/ipv4/conf/eth0.100/rp_filter").as_deref(),
            Some("net.ipv4.conf.eth0/100.rp_filter")
        );
        assert_eq!(
            k("net/ipv4/conf/eth0/route_localnet").as_deref(),
            Some("net.ipv4.conf.eth0.route_localnet")
        );
        assert_eq!(k("kernel.pid_max"), None);
        assert_eq!(k("net."), None);
        assert_eq!(k(""), None);
    }

    #[test]
    fn sysctl_file_with_bad_lines() {
        let text = "\
abi.vsyscall32 = 1
net.ipv4.conf.all.route_localnet = 0
net.ipv4.conf.eth1.route_localnet = 1
sysctl: reading key \"net.ipv6.conf.all.stable_secret\"
net.ipv4.tcp_rmem = 4096\t131072\t6291456
# a comment

net.ipv4.conf.eth0/100.rp_filter=2
this line is not a sysctl
= 5
net.core.somaxconn =
kernel.hostname = a=b
\u{fffd}\u{0}
";
        let (s, bad) = Sysctls::parse(text);
        assert_eq!(s.get_int("net.ipv4.conf.eth1.route_localnet"), Some(1));
        assert_eq!(s.get("net.ipv4.tcp_rmem"), Some("4096\t131072\t6291456"));
        assert_eq!(s.get_int("net.ipv4.conf.eth0/100.rp_filter"), Some(2));
        assert_eq!(s.get("net.core.somaxconn"), Some(""));
        assert_eq!(s.get_int("net.core.somaxconn"), None);
        assert_eq!(s.get("abi.vsyscall32"), None, "only net. keys are kept");
        assert_eq!(s.get("kernel.hostname"), None);
        let lines: Vec<usize> = bad.iter().map(|b| b.line).collect();
        assert_eq!(lines, vec![4, 9, 10, 13]);
        assert!(s.route_localnet("eth1"));
        assert!(!s.route_localnet("eth0"));
        assert!(
            !s.route_localnet("eth9"),
            "absent device: default (absent: 0)"
        );
    }

    /// The last value set wins, before and after `settle`, whatever the
    /// order keys come in; `extend`'s values win; assumed values only fill
    /// what is not set.
    #[test]
    fn settings_last_wins_and_settle() {
        let mut s = Sysctls::default();
        s.insert("net/ipv4/conf/eth1/rp_filter", "1");
        s.insert("net.ipv4.conf.all.rp_filter", "0");
        s.insert("net.ipv4.conf.eth1.rp_filter", " 2 ");
        s.insert("kernel.pid_max", "9");
        s.assume("net.ipv4.conf.all.rp_filter", "1");
        s.assume("net.ipv4.conf.default.rp_filter", "1");
        let mut other = Sysctls::default();
        other.insert("net.ipv4.conf.all.rp_filter", "2");
        other.insert("net.ipv4.conf.all.rp_filter", "1");
        let check = |s: &Sysctls| {
            assert_eq!(s.get("net.ipv4.conf.eth1.rp_filter"), Some("2"));
            assert_eq!(s.get("net.ipv4.conf.all.rp_filter"), Some("1"));
            assert_eq!(s.get("net.ipv4.conf.default.rp_filter"), Some("1"));
            assert!(s.is_assumed("net.ipv4.conf.default.rp_filter"));
            assert!(!s.is_assumed("net.ipv4.conf.all.rp_filter"));
            assert_eq!(s.get("kernel.pid_max"), None);
            assert_eq!(s.len(), 2);
            assert!(s.has_setting("rp_filter"));
        };
        s.extend(other);
        check(&s);
        let before = s.clone();
        s.settle();
        check(&s);
        assert_eq!(s, before, "equal whether settled or not");
        let keys: Vec<&str> = s.entries().map(|e| e.0).collect();
        assert_eq!(
            keys,
            [
                "net.ipv4.conf.all.rp_filter",
                "net.ipv4.conf.eth1.rp_filter"
            ]
        );
        // Keys set in order stay settled: no sort needed.
        let mut t = Sysctls::default();
        t.insert("net.a", "1");
        t.insert("net.b", "2");
        assert!(t.settled);
        t.insert("net.a", "3");
        assert!(!t.settled);
        assert_eq!(t.get("net.a"), Some("3"));
    }

    #[test]
    fn route_localnet_all_or_device() {
        let mut s = Sysctls::default();
        assert!(!s.route_localnet("eth0"), "kernel default 0");
        s.insert("net.ipv4.conf.all.route_localnet", "1");
        assert!(s.route_localnet("eth0"));
        let mut s = Sysctls::default();
        s.insert("net/ipv4/conf/eth0.100/route_localnet", "1");
        assert!(s.route_localnet("eth0.100"));
        assert!(!s.route_localnet("eth0"));
        s.insert("net.ipv4.conf.default.route_localnet", "1");
        assert!(
            s.route_localnet("veth9"),
            "a device not listed takes default"
        );
    }

    #[test]
    fn system_notes() {
        let mut sys = System::default();
        let note = sys.add_sysctl_text(
            "mod_out/run/sysctl.log",
            "I will collect sysctl -a output from this alami2 box.\nnet.ipv4.ip_forward = 1\n",
        );
        assert_eq!(note, None, "the ec2rl banner is no bad line");
        let note = sys.add_sysctl_text(
            "sysctl.txt",
            "garbage\nnet.ipv4.conf.all.route_localnet = 1\n",
        );
        assert!(note.is_some_and(|n| n.contains("1 line(s)") && n.contains("garbage")));
        assert_eq!(
            sys.sysctl_files,
            vec!["mod_out/run/sysctl.log", "sysctl.txt"]
        );
        assert!(sys.add_uname("uname", "Linux h 5.2.1-1 #1 SMP\n"));
        assert!(!sys.add_uname("x", "nothing"));
        assert_eq!(sys.kernel.map(|k| k.0), Some(KernelVersion::new(5, 2, 1)));
    }
}
