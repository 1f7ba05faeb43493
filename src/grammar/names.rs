//! Kernel vocabulary shared by the three grammars, spelled as rtnetlink(7) and
//! netlink-packet-route spell it. Every enum keeps an `Other` catch-all so an
//! unknown value from a newer kernel or a private `rt_*` file round-trips.

use super::intern::Name;
use serde::{Serialize, Serializer};
use std::fmt;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    Inet,
    Inet6,
}

impl Family {
    pub fn of(addr: &std::net::IpAddr) -> Family {
        match addr {
            std::net::IpAddr::V4(_) => Family::Inet,
            std::net::IpAddr::V6(_) => Family::Inet6,
        }
    }
}

/// A kernel word held as its one-byte number (`Route::kind()` and the
/// like: a full table holds a million of each).
pub trait Coded: Sized {
    /// The kernel's number as one byte, where that byte alone gives this
    /// value back (`from_code`): every known word, and a number the table
    /// lacks printed plainly (`proto 196`). A name from a private file, or
    /// a number spelt otherwise (`0196`), has none.
    fn code(&self) -> Option<u8>;

    /// The value whose `code` is `n`.
    fn from_code(n: u8) -> Self;
}

macro_rules! named_enum {
    ($(#[$m:meta])* $name:ident { $($var:ident = $num:literal : $($text:literal)|+),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $($var,)*
            /// A number or a name from a private file that the built-in table
            /// lacks (a `Name`: one pointer, so the enum is 16 bytes, not 24).
            Other(Name),
        }

        impl $name {
            /// Parses iproute2's printed form: a known name, else the raw token.
            pub fn parse(word: &str) -> Self {
                match word {
                    $($($text)|+ => $name::$var,)*
                    _ => match word.parse::<u32>() {
                        $(Ok($num) => $name::$var,)*
                        _ => $name::Other(Name::new(word)),
                    },
                }
            }

            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$var => named_enum!(@first $($text)|+),)*
                    $name::Other(s) => s.as_str(),
                }
            }

            /// The kernel's number, where the word maps to one.
            pub fn number(&self) -> Option<u32> {
                match self {
                    $($name::$var => Some($num),)*
                    $name::Other(s) => s.parse().ok(),
                }
            }
        }

        impl Coded for $name {
            fn code(&self) -> Option<u8> {
                match self {
                    $($name::$var => Some($num),)*
                    $name::Other(s) => {
                        let n: u8 = s.parse().ok()?;
                        let plain = itoa::Buffer::new().format(n) == s.as_str();
                        // A known number reads back as its word, not as `n`.
                        #[allow(clippy::manual_range_patterns)]
                        let known = matches!(n, $($num)|*);
                        (plain && !known).then_some(n)
                    }
                }
            }

            fn from_code(n: u8) -> Self {
                match n {
                    $($num => $name::$var,)*
                    _ => $name::Other(Name::new(itoa::Buffer::new().format(n))),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    };
    (@first $first:literal $(| $rest:literal)*) => { $first };
}

named_enum!(
    /// `rtm_type` (ip/rtm_map.c).
    RouteType {
        Unspec = 0: "none" | "unspec",
        Unicast = 1: "unicast",
        Local = 2: "local",
        Broadcast = 3: "broadcast",
        Anycast = 4: "anycast",
        Multicast = 5: "multicast",
        BlackHole = 6: "blackhole",
        Unreachable = 7: "unreachable",
        Prohibit = 8: "prohibit",
        Throw = 9: "throw",
        Nat = 10: "nat",
        ExternalResolve = 11: "xresolve",
    }
);

impl RouteType {
    /// Words that may open a route line in place of the destination's type.
    pub fn is_type_word(word: &str) -> bool {
        matches!(
            word,
            "unicast"
                | "local"
                | "broadcast"
                | "anycast"
                | "multicast"
                | "blackhole"
                | "unreachable"
                | "prohibit"
                | "throw"
                | "nat"
                | "xresolve"
                | "none"
        )
    }
}

named_enum!(
    /// `rtm_scope` / `ifa_scope` (rt_scopes).
    Scope {
        Universe = 0: "global" | "universe",
        Site = 200: "site",
        Link = 253: "link",
        Host = 254: "host",
        Nowhere = 255: "nowhere",
    }
);

named_enum!(
    /// `rtm_protocol` (rt_protos). Old files map numbers to names that hold `/`
    /// (`gated/bgp`), which land in `Other`.
    RouteProtocol {
        Unspec = 0: "unspec" | "none",
        Redirect = 1: "redirect",
        Kernel = 2: "kernel",
        Boot = 3: "boot",
        Static = 4: "static",
        Gated = 8: "gated",
        Ra = 9: "ra",
        Mrt = 10: "mrt",
        Zebra = 11: "zebra",
        Bird = 12: "bird",
        DnRouted = 13: "dnrouted",
        Xorp = 14: "xorp",
        Ntk = 15: "ntk",
        Dhcp = 16: "dhcp",
        Keepalived = 18: "keepalived",
        Babel = 42: "babel",
        Openr = 99: "openr",
        Bgp = 186: "bgp",
        Isis = 187: "isis",
        Ospf = 188: "ospf",
        Rip = 189: "rip",
        Eigrp = 192: "eigrp",
    }
);

/// A routing table as a rule or route names it. The four built-in names are
/// resolved to their ids; a name from a private `rt_tables` stays a name until
/// the model can resolve it against the numeric form elsewhere in the bundle.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Table {
    Id(u32),
    Name(Name),
}

impl Table {
    pub const UNSPEC: u32 = 0;
    pub const DEFAULT: u32 = 253;
    pub const MAIN: u32 = 254;
    pub const LOCAL: u32 = 255;

    pub fn parse(word: &str) -> Table {
        match word {
            "unspec" => Table::Id(Self::UNSPEC),
            "default" => Table::Id(Self::DEFAULT),
            "main" => Table::Id(Self::MAIN),
            "local" => Table::Id(Self::LOCAL),
            _ => match word.parse::<u32>() {
                Ok(n) => Table::Id(n),
                Err(_) => Table::Name(Name::new(word)),
            },
        }
    }

    pub fn main() -> Table {
        Table::Id(Self::MAIN)
    }

    pub fn id(&self) -> Option<u32> {
        match self {
            Table::Id(n) => Some(*n),
            Table::Name(_) => None,
        }
    }
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Table::Id(Self::UNSPEC) => f.write_str("unspec"),
            Table::Id(Self::DEFAULT) => f.write_str("default"),
            Table::Id(Self::MAIN) => f.write_str("main"),
            Table::Id(Self::LOCAL) => f.write_str("local"),
            Table::Id(n) => write!(f, "{n}"),
            Table::Name(s) => f.write_str(s),
        }
    }
}

impl Serialize for Table {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}
