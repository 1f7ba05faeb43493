#!/usr/bin/env bash
# Builds throwaway network namespaces in which iproute2 prints (nearly) every
# token of ../shared/docs/grammar.md §1–3, and captures `ip addr`, `ip rule` and
# `ip route` of the main one in every format the grammars read.
#
#   tests/netns/make-grammar-captures.sh             # grammar-tests/<kind>/netns__tokens*  + SOURCES.md rows
#   tests/netns/make-grammar-captures.sh --out DIR   # DIR/<kind>/netns__tokens*  only (tests/netns_grammar.rs)
#
# Needs root, `ip` and `unshare`. Exit 77 when network namespaces are not
# permitted here (callers skip), 0 on success, anything else is a failure.
#
# Isolation: the script re-executes itself in a private mount namespace, mounts
# a fresh tmpfs on /run/netns and bind-mounts a private copy of /etc/iproute2
# (extra table, protocol, realm, group, scope and dsfield names) over
# /etc/iproute2. So the namespace names (aro-gt-*) cannot collide with another
# run or with anything on the host, no host file is modified, and everything
# this script creates disappears with its mount namespace even if it is killed;
# the EXIT trap deletes the namespaces and helper processes explicitly anyway.
# No packet leaves the namespaces (nothing is ever sent to the host or beyond):
# links are veth pairs between the script's own namespaces, or have no peer.
#
# Tokens of grammar.md this kernel/iproute2 cannot produce are listed in
# tests/netns/README.md.
set -euo pipefail

SCENARIO=tokens
NS=aro-gt-main       # the captured namespace
PEER=aro-gt-peer     # named peer: `link-netns aro-gt-peer`
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)

out=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --out) out=$2; shift 2 ;;
    --inner) inner=1; shift ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "usage: $0 [--out DIR]" >&2; exit 2 ;;
  esac
done

if [[ -z ${inner:-} ]]; then
  if [[ $(id -u) != 0 ]]; then echo "skipped: not root" >&2; exit 77; fi
  for t in ip unshare nsenter mount sysctl; do
    command -v "$t" >/dev/null || { echo "skipped: \`$t\` not found" >&2; exit 77; }
  done
  if ! unshare --mount --propagation private true 2>/dev/null; then
    echo "skipped: cannot create a mount namespace (unshare --mount)" >&2; exit 77
  fi
  args=(--inner)
  [[ -n $out ]] && args+=(--out "$out")
  exec unshare --mount --propagation private -- bash "$0" "${args[@]}"
fi

# ---------------------------------------------------------------- isolation
runs=$(readlink -f /var/run 2>/dev/null || echo /run)
mkdir -p "$runs/netns"
mount -t tmpfs -o size=1m,mode=0755 aro-gt "$runs/netns"

tmp=$(mktemp -d /tmp/aro-gt.XXXXXX)
holder=""
cleanup() {
  set +e
  [[ -n $holder ]] && kill "$holder" 2>/dev/null && wait "$holder" 2>/dev/null
  for n in "$NS" "$PEER"; do ip netns del "$n" 2>/dev/null; done
  umount /etc/iproute2 2>/dev/null
  umount "$tmp/bpf" 2>/dev/null
  umount "$runs/netns" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if ! ip netns add "$NS" 2>"$tmp/err"; then
  echo "skipped: ip netns add failed: $(cat "$tmp/err")" >&2; exit 77
fi
ip netns add "$PEER"

# Private names: configuration always uses numbers, names only show in output.
if [[ -d /etc/iproute2 ]]; then
  mkdir "$tmp/iproute2"
  cp -a /etc/iproute2/. "$tmp/iproute2/" 2>/dev/null || true
  printf '%s\n' '10001	eni0' '10002	eni1' '200	isp_multi' >>"$tmp/iproute2/rt_tables"
  printf '%s\n' '77	gated/bgp' >>"$tmp/iproute2/rt_protos"
  printf '%s\n' '3	edge' '4	core' >>"$tmp/iproute2/rt_realms"
  printf '%s\n' '7	lab' >>"$tmp/iproute2/group"
  printf '%s\n' '100	campus' >>"$tmp/iproute2/rt_scopes"
  printf '%s\n' '0x10	lowdelay' >>"$tmp/iproute2/rt_dsfield"
  mount --bind "$tmp/iproute2" /etc/iproute2
fi

# ---------------------------------------------------------------- helpers
m() { ip -n "$NS" "$@"; }
p() { ip -n "$PEER" "$@"; }
# Best effort: a kernel without the feature loses the token, not the run.
try() {
  if ! "$@" 2>"$tmp/err"; then
    echo "note: not produced: $* ($(tr '\n' ' ' <"$tmp/err"))" >&2
  fi
}
sysctl_in() { # NS key=value…
  local ns=$1; shift
  ip netns exec "$ns" sysctl -q -w "$@" >/dev/null
}

# Fast, quiet IPv6: DAD finishes in ~0.1 s, no RS, no random start delay.
for n in "$NS" "$PEER"; do
  sysctl_in "$n" net.ipv6.conf.default.router_solicitation_delay=0 \
    net.ipv6.conf.default.router_solicitations=0 \
    net.ipv6.conf.default.use_tempaddr=0
  ip -n "$n" link set lo up
done

# ---------------------------------------------------------------- links
# 2 eth0@ifN: veth to the named peer (link-netns), altname + alias
m link add eth0 address 02:00:00:00:00:10 type veth peer name eth0 address 02:00:00:00:01:10 netns "$PEER"
try m link property add dev eth0 altname ens5
try m link set dev eth0 alias "primary uplink"
# 3 eth1@ifN: veth whose peer sits in an unnamed namespace (link-netnsid)
# (killed by the trap; and by its parent's death, where setpriv can ask for it)
if setpriv --pdeathsig KILL true 2>/dev/null; then
  setpriv --pdeathsig KILL -- unshare --net sleep 600 &
else
  unshare --net sleep 600 &
fi
holder=$!
for _ in $(seq 50); do
  [[ $(readlink "/proc/$holder/ns/net") != "$(readlink /proc/self/ns/net)" ]] && break
  sleep 0.02
done
m link add eth1 address 02:00:00:00:00:11 type veth peer name eth1 address 02:00:00:00:01:11 netns "$holder"
nsenter --net="/proc/$holder/ns/net" ip link set eth1 up
nsenter --net="/proc/$holder/ns/net" ip link set lo up
# 4 eth2p@eth2 + 5 eth2@eth2p: bridge port without carrier (peer admin down)
m link add eth2 address 02:00:00:00:00:12 type veth peer name eth2p address 02:00:00:00:01:12
# 6 eth3p@eth3 + 7 eth3@eth3p: a down link (set down at the end), M-DOWN peer
m link add eth3 address 02:00:00:00:00:13 type veth peer name eth3p address 02:00:00:00:01:13
# 8 br0 with port eth2
m link add br0 address 02:00:00:00:00:20 type bridge
m link set eth2 master br0
# 9 eth0.100@eth0 (macvlan: no 802.1q module on this kernel; same name shape)
try m link add eth0.100 link eth0 address 02:00:00:00:01:00 type macvlan mode bridge
# 10 eth3.200@eth3: lower link down → LOWERLAYERDOWN
try m link add eth3.200 link eth3 address 02:00:00:00:02:00 type macvlan mode bridge
# 11 tun0: link/none, POINTOPOINT,NOARP, NO-CARRIER
try m tuntap add mode tun dev tun0
# 12 vx0: protodown, encap routes
try m link add vx0 address 02:00:00:00:00:42 type vxlan id 42 dstport 4789 local 10.0.1.10 nolearning
# 13 ifb0: the rarer flag words, group name, state TESTING, xdp
try m link add ifb0 address 02:00:00:00:00:50 type ifb

for i in eth0 eth1 eth2 eth3 br0; do
  sysctl_in "$NS" "net.ipv6.neigh.$i.retrans_time_ms=100"
done
sysctl_in "$PEER" net.ipv6.neigh.eth0.retrans_time_ms=100

# stable-privacy link-local on eth1 (deterministic secret)
sysctl_in "$NS" net.ipv6.conf.eth1.stable_secret=2001:db8:5ec:5ec:5ec:5ec:5ec:5ec
try m link set eth1 addrgenmode stable_secret
# optimistic DAD on the carrier-less bridge port (its DAD never runs)
try sysctl_in "$NS" net.ipv6.conf.eth2.optimistic_dad=1
# subnet-router anycast routes on eth0
sysctl_in "$NS" net.ipv6.conf.eth0.forwarding=1
# temporary (privacy) addresses for mngtmpaddr on eth1
sysctl_in "$NS" net.ipv6.conf.eth1.use_tempaddr=2

p link set eth0 up
m link set eth0 up
m link set eth1 up
m link set eth2 up
m link set br0 up
m link set eth3 up
m link set eth3p up
try m link set eth0.100 mode dormant   # `mode DORMANT` (ip link)
try m link set eth0.100 up
try m link set eth0.100 state dormant  # operstate set from user space
try m link set tun0 up
try m link set tun0 carrier off
try m link set tun0 txqueuelen 100
try m link set vx0 up
try m link set vx0 protodown on
try m link set ifb0 dynamic on trailers off promisc on allmulticast on group 7
try m link set ifb0 up
try m link set ifb0 state testing
# DEBUG, PORTSEL, AUTOMEDIA have no `ip link` option: SIOCSIFFLAGS.
if command -v python3 >/dev/null; then
  try ip netns exec "$NS" python3 - <<'PY'
import fcntl, socket, struct
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
req = struct.pack("16sH", b"ifb0", 0)
flags = struct.unpack("16sH", fcntl.ioctl(s, 0x8913, req)[:18])[1]  # SIOCGIFFLAGS
flags |= 0x4 | 0x2000 | 0x4000  # IFF_DEBUG | IFF_PORTSEL | IFF_AUTOMEDIA
fcntl.ioctl(s, 0x8914, struct.pack("16sH", b"ifb0", flags))  # SIOCSIFFLAGS
PY
fi
try m link set dev eth1 group 5
# xdp: a two-instruction XDP_PASS program, pinned on a private bpffs.
if command -v python3 >/dev/null && mkdir "$tmp/bpf" && mount -t bpf bpf "$tmp/bpf" 2>/dev/null; then
  try python3 - "$tmp/bpf/pass" <<'PY'
import ctypes, struct, sys
libc = ctypes.CDLL(None, use_errno=True)
NR_BPF = {"x86_64": 321, "aarch64": 280}[__import__("os").uname().machine]
insns = ctypes.create_string_buffer(bytes.fromhex("b700000002000000" "9500000000000000"), 16)
lic = ctypes.create_string_buffer(b"GPL")
attr = ctypes.create_string_buffer(128)
struct.pack_into("IIQQIIQII16sII", attr, 0, 6, 2, ctypes.addressof(insns),  # BPF_PROG_TYPE_XDP
                 ctypes.addressof(lic), 0, 0, 0, 0, 0, b"aro_gt_pass", 0, 37)  # BPF_XDP
fd = libc.syscall(NR_BPF, 5, attr, 128)  # BPF_PROG_LOAD
if fd < 0:
    sys.exit("BPF_PROG_LOAD: errno %d" % ctypes.get_errno())
path = ctypes.create_string_buffer(sys.argv[1].encode())
attr = ctypes.create_string_buffer(128)
struct.pack_into("QI", attr, 0, ctypes.addressof(path), fd)
if libc.syscall(NR_BPF, 6, attr, 128) < 0:  # BPF_OBJ_PIN
    sys.exit("BPF_OBJ_PIN: errno %d" % ctypes.get_errno())
PY
  [[ -e $tmp/bpf/pass ]] && try m link set dev ifb0 xdpgeneric pinned "$tmp/bpf/pass"
else
  echo "note: not produced: xdp (no python3 or bpffs)" >&2
fi

# ---------------------------------------------------------------- addresses
p addr add 10.0.1.1/24 dev eth0
p -6 addr add 2001:db8:1::1/64 dev eth0
p -6 addr add 2001:db8:1::dead/64 dev eth0   # makes ours fail DAD
m addr add 10.0.1.10/24 brd + dev eth0
m addr add 10.0.1.11/24 dev eth0 label eth0:1          # secondary, label with ':'
m addr add 10.0.1.12/24 brd + dev eth0 label eth0:vip  # secondary
m -6 addr add 2001:db8:1::10/64 dev eth0
m addr add 10.0.2.20/24 dev eth1                        # no brd
m addr add 10.0.4.40/24 brd + dev eth1 metric 100       # metric before brd
m addr add 169.254.7.7/16 dev eth1 scope link
m addr add 10.255.0.1/32 dev lo scope host label lo:host
m addr add 10.254.0.1/32 dev eth1 scope 100             # rt_scopes name
m -6 addr add 2001:db8:2::20/64 dev eth1 nodad
m -6 addr add 2001:db8:3::20/64 dev eth1 noprefixroute
m -6 addr add 2001:db8:4::20/64 dev eth1 valid_lft 3600 preferred_lft 0   # deprecated dynamic
m -6 addr add 2001:db8:5::20/64 dev eth1 valid_lft 7200 preferred_lft 3600 # dynamic
try m -6 addr add 2001:db8:6::20/64 dev eth1 home
try m -6 addr add 2001:db8:7::20/64 dev eth1 mngtmpaddr valid_lft 86400 preferred_lft 14400
try m -6 addr add fec0:0:0:1::20/64 dev eth1                # scope site
try m addr add 239.1.1.1/32 dev eth1 autojoin
m addr add 172.31.250.1/24 brd + dev br0
m -6 addr add 2001:db8:b::1/64 dev br0
try m -6 addr add 2001:db8:e2::1/64 dev eth2 optimistic
m addr add 10.0.3.30/24 brd + dev eth3
m -6 addr add 2001:db8:33::30/64 dev eth3 nodad
try m addr add 10.0.9.1 peer 10.0.9.2/32 dev tun0
try m -6 addr add 2001:db8:99::1 peer 2001:db8:99::2/128 dev tun0
try m addr add 10.0.42.1/24 dev vx0
try m addr add 10.0.50.1/24 dev eth0.100
sleep 0.5   # the peer's 2001:db8:1::dead is past DAD before ours starts
m -6 addr add 2001:db8:1::dead/64 dev eth0              # dadfailed

# ---------------------------------------------------------------- rules
r() { m rule add "$@"; }
r6() { m -6 rule add "$@"; }
r pref 100 not from 10.0.1.0/24 lookup 100
r pref 110 from 10.0.1.10 lookup 10001                 # named table eni0, host from
r pref 111 from 10.0.2.0/24 to 192.0.2.0/24 lookup 300
r pref 112 to 198.51.100.7 lookup 300
r pref 120 tos 0x10 lookup 100                         # rt_dsfield name
r pref 121 tos 0x08 lookup 100
r pref 130 fwmark 0x1 lookup 100
r pref 131 fwmark 0x200/0xf00 lookup 10002
r pref 132 fwmark 0/0xff lookup 100                    # mark 0 prints as `0/0xff`
r pref 140 iif lo lookup 100
r pref 141 iif eth0 oif eth1 lookup 100
r pref 142 iif ghost0 lookup 100                       # [detached]
r pref 143 oif ghost1 lookup 100                       # [detached]
try r pref 150 uidrange 1000-1999 lookup 100
try r pref 151 uidrange 0-0 lookup main
try r pref 160 ipproto tcp dport 443 lookup 100
try r pref 161 ipproto udp sport 1000-2000 dport 53 lookup 100
try r pref 162 ipproto icmp lookup 100
r pref 170 lookup main suppress_prefixlength 0
r pref 171 lookup main suppress_ifgroup 7               # group name
r pref 180 from 10.0.4.0/24 lookup 100 realms 3/4      # named realms
r pref 181 from 10.0.5.0/24 lookup 100 realms 5
r pref 190 from 10.0.6.0/24 goto 200
r pref 200 from 10.0.6.0/24 nop
r pref 210 from 10.0.7.0/24 goto 3000                  # [unresolved]
r pref 220 from 10.0.8.0/24 blackhole
r pref 221 from 10.0.8.0/25 unreachable
r pref 222 not to 10.0.8.128/25 prohibit
r pref 230 from 10.0.9.0/24 lookup 200 protocol static
r pref 231 from 10.0.10.0/24 lookup 200 protocol 77    # proto name with '/'
try r pref 240 tun_id 7 lookup 100
try r pref 1000 l3mdev protocol kernel                 # lookup [l3mdev-table]
r pref 32000 from all lookup 10001
r6 pref 100 from 2001:db8:1::10 lookup 10001
r6 pref 110 from 2001:db8:2::/64 to 2001:db8:99::/48 lookup 300
r6 pref 120 fwmark 0x2/0xff lookup 100
r6 pref 130 iif eth0 lookup 100
r6 pref 131 oif ghost6 lookup 100
try r6 pref 140 ipproto ipv6-icmp lookup 100
r6 pref 150 lookup main suppress_prefixlength 0
r6 pref 160 not from 2001:db8:5::/64 goto 170
r6 pref 170 from 2001:db8:5::/64 nop
r6 pref 180 from 2001:db8:6::/64 blackhole
r6 pref 181 from 2001:db8:7::/64 unreachable
r6 pref 182 from 2001:db8:8::/64 prohibit
r6 pref 190 tos 0x10 lookup 100
try r6 pref 1000 l3mdev

# ---------------------------------------------------------------- nexthop objects
try m nexthop add id 11 via 10.0.1.1 dev eth0
try m nexthop add id 12 via 10.0.2.1 dev eth1
try m nexthop add id 20 group 11/12,3
try m -6 nexthop add id 13 via 2001:db8:1::1 dev eth0
try m nexthop add id 14 blackhole

# ---------------------------------------------------------------- routes
rt() { m route add "$@"; }
rt6() { m -6 route add "$@"; }
# main: two defaults, protocols, src, metric
rt default via 10.0.1.1 dev eth0 proto dhcp src 10.0.1.10 metric 100
rt default via 10.0.2.1 dev eth1 metric 200
rt 0.0.0.0/1 via 10.0.1.1 dev eth0 proto static
rt 128.0.0.0/1 via 10.0.1.1 dev eth0 proto 77
rt 10.9.0.0/16 via 10.9.9.9 dev eth1 onlink
try rt 10.50.0.0/16 via inet6 2001:db8:1::1 dev eth0
rt 10.60.0.0/16 dev eth1 realm 5
rt 10.61.0.0/16 tos 0x10 via 10.0.2.1 dev eth1 realms 3/4
rt 10.62.0.0/16 tos 0x08 via 10.0.2.1 dev eth1 proto 99
rt 10.63.0.0/16 dev eth1 scope 100
rt 10.64.0.0/16 dev eth1 scope host proto kernel
rt 100.64.0.0/10 nexthop via 10.0.1.1 dev eth0 weight 1 nexthop via 10.0.2.1 dev eth1 weight 3
try rt 100.65.0.0/16 nexthop via 10.0.1.1 dev eth0 realm 4 nexthop via 10.9.9.8 dev eth1 onlink
try rt 100.66.0.0/16 nexthop via inet6 2001:db8:1::1 dev eth0 nexthop via 10.0.2.1 dev eth1
rt 100.67.0.0/16 nexthop via 10.0.3.1 dev eth3 nexthop via 10.0.2.1 dev eth1   # eth3 → dead
rt 169.254.169.254 via 10.0.1.1 dev eth0 proto static
rt 172.31.251.0/24 via 172.31.250.2 dev br0                                     # linkdown
rt 10.70.0.0/16 via 10.0.1.1 dev eth0 mtu lock 1400 advmss 1360 rtt 12ms rttvar 6ms \
  window 65535 cwnd 10 ssthresh 20 reordering 4 hoplimit 64 initcwnd 10 initrwnd 20 \
  features ecn quickack 1 congctl lock cubic rto_min 50ms fastopen_no_cookie 1
rt 10.71.0.0/16 via 10.0.1.1 dev eth0 rtt 1500ms mtu 1300
try rt 10.72.0.0/16 nhid 11
try rt 10.73.0.0/16 nhid 20
try rt 10.74.0.0/16 nhid 14
try rt 10.80.0.0/16 encap ip id 10 dst 10.0.1.99 ttl 8 dev vx0
try rt 10.81.0.0/16 nexthop encap ip id 12 dst 10.0.1.98 dev vx0 nexthop via 10.0.2.1 dev eth1
rt blackhole 10.90.0.0/16
rt unreachable 10.91.0.0/16 metric 5
rt prohibit 10.92.0.0/16 proto static
try rt multicast 239.2.0.0/16 dev eth0
try rt nat 10.93.0.0/16 scope nowhere
try rt xresolve 10.95.0.0/16 scope nowhere
rt 10.96.0.0/16 dev eth1 proto 250                      # unnamed protocol number
try rt anycast 10.94.0.0/16 dev eth0
rt broadcast 10.0.1.128 dev eth0 table local proto static scope link
rt local 10.0.1.200 dev eth0 table local
# named and numbered tables
rt default via 10.0.1.1 dev eth0 table 10001
rt 10.0.1.0/24 dev eth0 table 10001 proto kernel scope link src 10.0.1.10
rt default via 10.0.2.1 dev eth1 table 10002 metric 10
rt default via 10.0.2.1 dev eth1 table 300 proto static
rt throw 10.0.0.0/8 table 300
rt default table 200 nexthop via 10.0.1.1 dev eth0 weight 1 nexthop via 10.0.2.1 dev eth1 weight 2
rt unreachable default table 100 metric 4278198272
# IPv6
rt6 default via fe80::ff:fe00:110 dev eth0 metric 1024 pref high
rt6 default via 2001:db8:2::1 dev eth1 metric 2048 pref low
rt6 2001:db8:40::/48 via 2001:db8:1::1 dev eth0 pref medium proto static
rt6 2001:db8:42::/48 via fe80::ff:fe00:110 dev eth0 proto ra
try rt6 2001:db8:41::/48 via 2001:db8:1::1 dev eth0 expires 3600
try rt6 2001:db8:50::/48 from 2001:db8:1::/64 via 2001:db8:1::1 dev eth0
try rt6 2001:db8:51::/48 from 2001:db8:2::20 dev eth1
rt6 2001:db8:200::/48 nexthop via 2001:db8:1::1 dev eth0 weight 1 nexthop via 2001:db8:2::1 dev eth1 weight 2
try rt6 2001:db8:201::/48 nexthop via fe80::ff:fe00:110 dev eth0 nexthop via 2001:db8:33::1 dev eth3
try rt6 2001:db8:70::/48 nhid 13
rt6 2001:db8:71::/48 via 2001:db8:1::1 dev eth0 mtu 1280 hoplimit 10 advmss 1220
rt6 2001:db8:72::/48 dev eth1 src 2001:db8:2::20 metric 10
rt6 blackhole 2001:db8:90::/48
rt6 unreachable 2001:db8:91::/48
rt6 prohibit 2001:db8:92::/48
rt6 throw 2001:db8:93::/48 table 300
try rt6 2001:db8:80::/64 encap ip6 id 11 dst 2001:db8:1::99 hoplimit 3 dev vx0
try rt6 2001:db8:81::/64 encap seg6 mode encap segs 2001:db8:1::1,2001:db8:1::2 dev vx0
try rt6 2001:db8:82::/64 encap seg6local action End.X nh6 2001:db8:1::1 dev eth0
try rt6 2001:db8:83::/64 encap seg6local action End.DT6 table 300 dev vx0
rt6 default via 2001:db8:1::1 dev eth0 table 10001
rt6 2001:db8:1::/64 dev eth0 table 10001 proto kernel
m link set eth3 down   # dead/linkdown nexthops, M-DOWN for eth3p
try m link set eth3.200 txqueuelen 0   # no `qlen`
try m link set eth3.200 up

# ---------------------------------------------------------------- settle
# Wait until DAD is over everywhere it can run (the others have no carrier, are
# down, dormant or testing) and 2001:db8:1::dead has failed.
for _ in $(seq 100); do
  busy=$(m -6 -o addr show tentative -dadfailed |
    grep -Ev '^[0-9]+: (eth2|eth3|tun0|br0|eth3\.200|eth0\.100|ifb0) ' || true)
  failed=$(m -6 -o addr show dadfailed)
  [[ -z $busy && -n $failed ]] && break
  sleep 0.1
done
sleep 0.2

# ---------------------------------------------------------------- capture
iv=$(ip -V | sed -n 's/.*iproute2-\([^ ,]*\).*/\1/p')
kv=$(uname -r)
dest=${out:-$REPO/grammar-tests}
rows=()
cap() { # kinddir file-suffix ip-args…
  local dir=$1 suffix=$2; shift 2
  local file="$dir/netns__${SCENARIO}${suffix}"
  mkdir -p "$dest/$dir"
  ip -n "$NS" "$@" >"$dest/$file"
  rows+=("| $file | (generated locally) | tests/netns/make-grammar-captures.sh | - | own capture (no third-party rights) | \`ip -n $NS $*\`; iproute2 $iv, kernel $kv; namespaces torn down after capture |")
}
cap ip-addr .txt addr
cap ip-addr-oneline .txt -o addr
cap ip-addr-details .txt -d addr
cap ip-addr-oneline _ip-br-addr.txt -br addr
cap ip-addr-oneline _ip-o-link.txt -o link
cap ip-addr-json .json -j addr
cap ip-rule .txt rule
cap ip6-rule .txt -6 rule
cap ip-rule-details .txt -d rule
cap ip-rule-json .json -j rule
cap ip-rule-json _ip6.json -6 -j rule
cap ip-route _table-all.txt route show table all
cap ip6-route _table-all.txt -6 route show table all
cap ip-route-oneline _table-all.txt -o route show table all
cap ip-route-details _table-all.txt -d route show table all
cap ip-route-json _table-all.json -j route show table all
cap ip-route-json _ip6-table-all.json -6 -j route show table all

if [[ -z $out ]]; then
  # Replace this script's rows in SOURCES.md (after the last table row).
  src="$REPO/grammar-tests/SOURCES.md"
  grep -v "^| [a-z0-9-]*/netns__${SCENARIO}" "$src" >"$tmp/sources"
  last=$(grep -n '^| ' "$tmp/sources" | tail -1 | cut -d: -f1)
  { head -n "$last" "$tmp/sources"; printf '%s\n' "${rows[@]}"; tail -n +"$((last + 1))" "$tmp/sources"; } >"$src"
fi
echo "captured ${#rows[@]} files into $dest (iproute2 $iv, kernel $kv)" >&2
