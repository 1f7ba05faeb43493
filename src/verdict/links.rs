//! Which links are container links (bridges, veths, pods' `eni…`): their
//! own prefixes are their peers, and nobody else's.

/// Which links count as internal (container bridges and veths).
#[derive(Debug, Clone)]
pub struct LinkClass {
    pub internal: Vec<String>,
    pub uplink: Vec<String>,
}

impl Default for LinkClass {
    fn default() -> Self {
        LinkClass {
            internal: [
                "docker*",
                "br-*",
                "virbr*",
                "cni*",
                "cali*",
                "flannel*",
                "veth*",
                "vxlan.calico",
                "kube-*",
                "lxcbr*",
                "lxdbr*",
                "podman*",
                "cilium_*",
                "weave*",
                "vethwe*",
                // AWS VPC CNI pods' host veths, Cilium's, Calico's IPIP
                // tunnel, NodeLocal DNSCache.
                "eni*",
                "lxc*",
                "tunl0",
                "nodelocaldns",
            ]
            .map(String::from)
            .to_vec(),
            uplink: Vec::new(),
        }
    }
}

/// `*` matches any run of characters; everything else literally.
pub fn glob(pat: &str, s: &str) -> bool {
    match pat.split_once('*') {
        None => pat == s,
        Some((head, tail)) => {
            let Some(rest) = s.strip_prefix(head) else {
                return false;
            };
            if tail.is_empty() {
                return true;
            }
            (0..=rest.len())
                .filter(|&i| rest.is_char_boundary(i))
                .any(|i| glob(tail, &rest[i..]))
        }
    }
}

impl LinkClass {
    pub fn is_internal(&self, name: &str) -> bool {
        if self.uplink.iter().any(|p| glob(p, name)) {
            return false;
        }
        self.internal.iter().any(|p| glob(p, name))
    }
}
