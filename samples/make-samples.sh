#!/usr/bin/env bash
# Builds the sample fleet under samples/ from real hosts: each scenario is a
# network namespace configured the way the named tool or mistake leaves a
# machine, and every dump in the samples is that namespace's real `ip` (or
# `ifconfig`) output, laid out the way each collector stores it.
#
#   samples/make-samples.sh                 # (re)writes the samples; needs root
#   samples/make-samples.sh --check BIN     # … then checks BIN's report against
#                                           #   the kernel (needs python3)
#   samples/make-samples.sh --out DIR       # writes them to DIR instead (tests)
#
# --check runs BIN on the new samples and, in each host's namespace, asks the
# kernel (`ip route get`) whether every reported leak leaves where BIN says,
# whether `ok` endpoints answer by their own link, and, after running BIN's
# fix commands there, whether every leak is gone.
#
# Exit 77 when network namespaces are not available (not root, no `ip`), 0 on
# success, anything else is a failure. Running it twice gives the same files,
# except the bridge timers in docker0's `ip -d address` (inside fleet.tar.gz).
#
# Isolation: namespaces are named aro-smp-*; runs are serialised by a lock;
# an EXIT trap deletes every namespace this run created (and leftovers of a
# killed run are deleted at the start). Nothing on the host is configured:
# no file under /etc/iproute2 is touched (private names would go in
# /etc/netns/<ns>/iproute2, removed by the trap). No packet leaves the
# script's namespaces: links are veth pairs into its own peer namespace (the
# kernel's IPv6 link-up reports stay on them), IPv6 DAD and router
# solicitations are off, nothing is pinged, and `ip route get` (used below to
# check each scenario against the kernel) only asks the FIB.
#
# What is not a capture: collector framing text that only the collector
# writes (ec2rl's log headers and Main.log, supportconfig block headers, sos
# version.txt), reproduced from the collectors' code; and the ec2rl
# `asymmetricroute.log`, produced by the same shell logic as ec2rl's module
# (awslabs/aws-ec2rescue-linux mod.d/asymmetricroute.yaml), run against the
# namespace.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=$HERE
CHECK=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --check) CHECK=$(realpath "$2"); shift 2 ;;
    --out) mkdir -p "$2"; OUT=$(realpath "$2"); shift 2 ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "usage: $0 [--check BIN] [--out DIR]" >&2; exit 2 ;;
  esac
done
LAN=aro-smp-lan   # peer ends of every uplink (gives the links carrier)

if [[ $(id -u) != 0 ]]; then echo "skipped: needs root (network namespaces)" >&2; exit 77; fi
for t in ip tar xz gzip awk flock ifconfig ${CHECK:+python3}; do
  command -v "$t" >/dev/null || { echo "skipped: \`$t\` not found" >&2; exit 77; }
done

exec 9>/tmp/aro-smp.lock
flock 9

created=()
work=$(mktemp -d /tmp/aro-smp.XXXXXX)
cleanup() {
  set +e
  for ns in "${created[@]}"; do
    ip netns del "$ns" 2>/dev/null
    rm -rf "/etc/netns/$ns"
  done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Leftovers of a killed run (the lock says no other run is live).
for ns in $(ip netns list | awk '{print $1}' | grep '^aro-smp-' || true); do
  ip netns del "$ns"
  rm -rf "/etc/netns/$ns"
done

# ---------------------------------------------------------------- helpers
x() { local ns=$1; shift; ip netns exec "aro-smp-$ns" "$@"; }   # run inside
n() { local ns=$1; shift; ip -n "aro-smp-$ns" "$@"; }            # ip -n

newns() { # short-name
  ip netns add "aro-smp-$1"
  created+=("aro-smp-$1")
  # Quiet IPv6: no DAD (no tentative addresses), no router solicitations,
  # no temporary addresses; addresses come from the fixed MACs (EUI-64).
  x "$1" sysctl -q -w net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
    net.ipv6.conf.default.router_solicitations=0 net.ipv6.conf.default.use_tempaddr=0 \
    net.ipv6.conf.default.accept_ra=0 >/dev/null
  n "$1" link set lo up
}

if ! ip netns add "$LAN" 2>"$work/err"; then
  echo "skipped: ip netns add failed: $(cat "$work/err")" >&2
  exit 77
fi
created+=("$LAN")
ip netns exec "$LAN" sysctl -q -w net.ipv6.conf.default.disable_ipv6=1 >/dev/null

peers=0
uplink() { # host ifname mac — a veth whose peer sits in the LAN namespace
  peers=$((peers + 1))
  n "$1" link add "$2" address "$3" type veth peer name "lan$peers" netns "$LAN"
  ip -n "$LAN" link set "lan$peers" up
  n "$1" link set "$2" up
}

# ---------------------------------------------------------------- hosts
# 1. Classic EC2 mistake: a second ENI in the primary's subnet, no rules.
#    NetworkManager style (RHEL): noprefixroute addresses, routes per NIC,
#    and RHEL 8's strict reverse-path filter (systemd's 50-default.conf
#    before v240): requests to eth1's address from off-link peers are
#    dropped, since their replies would leave eth0.
build_samesub() {
  local h=samesub
  newns $h
  uplink $h eth0 0a:5a:10:00:00:10
  uplink $h eth1 0a:5a:10:00:00:20
  x $h sysctl -q -w net.ipv4.conf.all.rp_filter=1 net.ipv4.conf.default.rp_filter=1 \
    net.ipv4.conf.eth0.rp_filter=1 net.ipv4.conf.eth1.rp_filter=1 >/dev/null
  n $h addr add 172.31.16.10/20 brd + dev eth0 noprefixroute
  n $h addr add 172.31.16.20/20 brd + dev eth1 noprefixroute
  n $h route add 172.31.16.0/20 dev eth0 proto kernel scope link src 172.31.16.10 metric 100
  n $h route add 172.31.16.0/20 dev eth1 proto kernel scope link src 172.31.16.20 metric 101
  n $h route add default via 172.31.16.1 dev eth0 proto dhcp src 172.31.16.10 metric 100
  n $h route add default via 172.31.16.1 dev eth1 proto dhcp src 172.31.16.20 metric 101
}

# 2. ENIs in different subnets, no rules (Amazon Linux 2, dhclient).
build_diffsub() {
  local h=diffsub
  newns $h
  uplink $h eth0 0a:5a:20:00:00:10
  uplink $h eth1 0a:5a:20:00:00:20
  n $h addr add 10.0.1.10/24 brd + dev eth0
  n $h addr add 10.0.2.20/24 brd + dev eth1
  n $h route add default via 10.0.1.1 dev eth0
  n $h route add 169.254.169.254 dev eth0
}

# amazon-ec2-net-utils v2 (AL2023, systemd-networkd): device N gets address
# and route metric 512+N, a table 10000+N with its default and subnet routes
# and `from ADDR lookup 10000+N` at priority 10000+N; device 0 gets neither.
netutils_link() { # host dev N addr/len gw subnet
  local h=$1 dev=$2 i=$3 cidr=$4 gw=$5 net=$6 ip=${4%/*}
  local metric=$((512 + i)) table=$((10000 + i))
  n "$h" addr add "$cidr" brd + dev "$dev" metric $metric
  n "$h" route add default via "$gw" dev "$dev" proto dhcp src "$ip" metric $metric
  n "$h" route add "$gw" dev "$dev" proto dhcp scope link src "$ip" metric $metric
  if ((i > 0)); then
    n "$h" route add default via "$gw" dev "$dev" proto dhcp src "$ip" metric $metric table $table
    n "$h" route add "$net" dev "$dev" proto kernel scope link src "$ip" metric $metric table $table
    n "$h" rule add from "$ip" lookup $table priority $table
  fi
}

# 3. net-utils, every link in one subnet → symmetric.
build_netutils_same() {
  local h=netutils-same
  newns $h
  uplink $h eth0 0a:5a:30:00:00:10
  uplink $h eth1 0a:5a:30:00:00:20
  uplink $h eth2 0a:5a:30:00:00:30
  netutils_link $h eth0 0 172.31.32.10/20 172.31.32.1 172.31.32.0/20
  netutils_link $h eth1 1 172.31.32.20/20 172.31.32.1 172.31.32.0/20
  netutils_link $h eth2 2 172.31.32.30/20 172.31.32.1 172.31.32.0/20
}

# 4. net-utils, links in different subnets, dual stack: the primary's replies
#    to a secondary link's subnet leave by that link (cross-subnet only).
build_netutils_split() {
  local h=netutils-split
  newns $h
  uplink $h eth0 0a:5a:40:00:00:10
  uplink $h eth1 0a:5a:40:00:00:20
  uplink $h eth2 0a:5a:40:00:00:30
  netutils_link $h eth0 0 10.0.1.10/24 10.0.1.1 10.0.1.0/24
  netutils_link $h eth1 1 10.0.2.20/24 10.0.2.1 10.0.2.0/24
  netutils_link $h eth2 2 10.0.3.30/24 10.0.3.1 10.0.3.0/24
  local dev i
  for i in 0 1 2; do
    dev=eth$i
    n $h -6 addr add "2001:db8:$((i + 1))::$((i + 1))0/64" dev $dev nodad
    n $h -6 route add default via fe80::1 dev $dev proto ra metric $((512 + i)) pref medium
    if ((i > 0)); then
      n $h -6 route add default via fe80::1 dev $dev proto ra metric $((512 + i)) table $((10000 + i))
      n $h -6 route add "2001:db8:$((i + 1))::/64" dev $dev proto kernel metric 256 table $((10000 + i))
      n $h -6 rule add from "2001:db8:$((i + 1))::$((i + 1))0" lookup $((10000 + i)) priority $((10000 + i))
    fi
  done
}

# 5. A rule whose table is empty (flushed): the walk falls through to main.
#    Amazon Linux 2 + net-utils v1 (rule without a priority → 32765,
#    MAINROUTETABLE=yes default on the second ENI), EKS node.
build_emptytable() {
  local h=emptytable
  newns $h
  uplink $h eth0 0a:5a:50:00:00:10
  uplink $h eth1 0a:5a:50:00:00:20
  n $h addr add 192.168.10.10/24 brd + dev eth0
  n $h addr add 192.168.10.20/24 brd + dev eth1
  n $h route add default via 192.168.10.1 dev eth0
  n $h route add default via 192.168.10.1 dev eth1 metric 10001
  n $h route add 169.254.169.254 dev eth0
  n $h rule add from 192.168.10.20 lookup 10001   # table 10001 holds nothing
}

# 6. Secondary private IPs on the second ENI without `from` rules (only the
#    ENI's primary address has one).
build_secondary() {
  local h=secondary-ips
  newns $h
  uplink $h eth0 0a:5a:60:00:00:10
  uplink $h eth1 0a:5a:60:00:00:20
  n $h addr add 10.0.1.10/24 brd + dev eth0
  n $h addr add 10.0.1.11/24 brd + dev eth0
  n $h addr add 10.0.1.20/24 brd + dev eth1
  n $h addr add 10.0.1.21/24 brd + dev eth1
  n $h addr add 10.0.1.22/24 brd + dev eth1
  n $h route add default via 10.0.1.1 dev eth0
  n $h route add default via 10.0.1.1 dev eth1 table 10001
  n $h route add 10.0.1.0/24 dev eth1 proto kernel scope link src 10.0.1.20 table 10001
  n $h rule add from 10.0.1.20 lookup 10001
}

# 7. IPv6 on two links, no IPv6 rules (Ubuntu, networkd); IPv4 single-homed.
build_ipv6() {
  local h=ipv6-two-links
  newns $h
  uplink $h eth0 0a:5a:70:00:00:10
  uplink $h eth1 0a:5a:70:00:00:20
  n $h addr add 10.1.0.10/24 brd + dev eth0
  n $h -6 addr add 2001:db8:a::10/64 dev eth0 nodad
  n $h -6 addr add 2001:db8:b::20/64 dev eth1 nodad
  n $h route add default via 10.1.0.1 dev eth0 proto static
  n $h -6 route add default via fe80::1 dev eth0 proto static metric 1024
}

# 8. docker0 with one running container, single uplink.
build_docker() {
  local h=docker-host c=docker-ctr
  newns $h
  newns $c
  uplink $h eth0 0a:5a:80:00:00:10
  n $h addr add 172.31.40.10/20 brd + dev eth0
  n $h route add default via 172.31.32.1 dev eth0
  n $h route add 169.254.169.254 dev eth0
  n $h link add docker0 address 02:42:5e:9c:1a:01 type bridge
  n $h addr add 172.17.0.1/16 brd + dev docker0
  n $h link add veth3f2a1b0 address 5a:3c:9e:21:7d:40 type veth peer name eth0 address 02:42:ac:11:00:02 netns "aro-smp-$c"
  n $h link set veth3f2a1b0 master docker0
  n $h link set veth3f2a1b0 up
  n $h link set docker0 up
  n $c link set eth0 up
  n $c addr add 172.17.0.2/16 brd + dev eth0
  n $c route add default via 172.17.0.1 dev eth0
}

# 9. wg-quick with AllowedIPs 0.0.0.0/0. No wireguard or dummy driver here:
#    wg0 is an ifb link (no peer, carrier, NOARP), as a dummy would be.
build_wg() {
  local h=wg-quick
  newns $h
  uplink $h eth0 0a:5a:90:00:00:10
  n $h addr add 192.168.1.50/24 brd + dev eth0
  n $h route add default via 192.168.1.1 dev eth0 proto dhcp src 192.168.1.50 metric 100
  n $h link add wg0 address 0a:5a:90:00:00:99 type ifb
  n $h link set wg0 addrgenmode none
  n $h link set wg0 mtu 1420 up
  n $h addr add 10.66.0.2/32 dev wg0
  # What wg-quick runs for a 0.0.0.0/0 peer (fwmark 51820 = 0xca6c).
  n $h route add 0.0.0.0/0 dev wg0 table 51820
  n $h rule add not fwmark 51820 table 51820
  n $h rule add table main suppress_prefixlength 0
}

# 10. Symmetric single-homed host.
build_single() {
  local h=single-homed
  newns $h
  uplink $h eth0 0a:5a:a0:00:00:10
  n $h addr add 172.31.5.10/20 brd + dev eth0 noprefixroute
  n $h route add 172.31.0.0/20 dev eth0 proto kernel scope link src 172.31.5.10 metric 100
  n $h route add default via 172.31.0.1 dev eth0 proto dhcp src 172.31.5.10 metric 100
}

HOSTS=(samesub diffsub netutils-same netutils-split emptytable secondary-ips ipv6-two-links docker-host wg-quick single-homed)
build_samesub
build_diffsub
build_netutils_same
build_netutils_split
build_emptytable
build_secondary
build_ipv6
build_docker
build_wg
build_single

# Carrier reaches the FIB asynchronously: wait until no link lacks it and no
# route is flagged linkdown.
for _ in $(seq 100); do
  busy=""
  for h in "${HOSTS[@]}"; do
    if n "$h" -o link | grep -q NO-CARRIER || n "$h" route show table all | grep -q linkdown; then
      busy=$h
    fi
  done
  [[ -z $busy ]] && break
  sleep 0.1
done
[[ -z $busy ]] || { echo "error: $busy: links without carrier" >&2; exit 1; }
# The kernel's own link-up chatter (IPv6 MLD reports, within the peer
# namespace) is over within a second: then `ip -s link` counters stand still.
sleep 1.2

# ---------------------------------------------------------------- the kernel's word
# Each scenario's premise, checked with `ip route get` (a FIB lookup, no packet).
fails=0
expect_dev() { # host from to dev
  local got
  got=$(n "$1" route get "$3" from "$2" | sed -n 's/.* dev \([^ ]*\).*/\1/p' | head -1)
  if [[ $got != "$4" ]]; then
    echo "kernel disagrees: $1: from $2 to $3 leaves by '$got', expected $4" >&2
    fails=$((fails + 1))
  fi
}
expect_dev samesub 172.31.16.20 8.8.8.8 eth0
expect_dev samesub 172.31.16.20 172.31.20.5 eth0
expect_dev samesub 172.31.16.10 172.31.20.5 eth0
expect_dev diffsub 10.0.2.20 8.8.8.8 eth0
expect_dev diffsub 10.0.1.10 10.0.2.5 eth1
expect_dev netutils-same 172.31.32.20 8.8.8.8 eth1
expect_dev netutils-same 172.31.32.30 172.31.40.5 eth2
expect_dev netutils-same 172.31.32.10 172.31.40.5 eth0
expect_dev netutils-same 172.31.32.10 8.8.8.8 eth0
expect_dev netutils-split 10.0.2.20 8.8.8.8 eth1
expect_dev netutils-split 10.0.2.20 10.0.1.5 eth1
expect_dev netutils-split 10.0.1.10 8.8.8.8 eth0
expect_dev netutils-split 10.0.1.10 10.0.2.5 eth1
expect_dev netutils-split 2001:db8:2::20 2001:db8:ffff::1 eth1
expect_dev netutils-split 2001:db8:1::10 2001:db8:3::5 eth2
expect_dev emptytable 192.168.10.20 8.8.8.8 eth0
expect_dev emptytable 192.168.10.20 192.168.10.5 eth0
expect_dev secondary-ips 10.0.1.20 8.8.8.8 eth1
expect_dev secondary-ips 10.0.1.21 8.8.8.8 eth0
expect_dev secondary-ips 10.0.1.21 10.0.1.5 eth0
expect_dev secondary-ips 10.0.1.11 8.8.8.8 eth0
expect_dev ipv6-two-links 2001:db8:b::20 2001:db8:ffff::1 eth0
expect_dev ipv6-two-links 2001:db8:a::10 2001:db8:b::5 eth1
expect_dev ipv6-two-links 10.1.0.10 8.8.8.8 eth0
expect_dev docker-host 172.31.40.10 8.8.8.8 eth0
expect_dev docker-host 172.17.0.1 172.17.0.2 docker0
expect_dev wg-quick 192.168.1.50 8.8.8.8 wg0
expect_dev wg-quick 192.168.1.50 192.168.1.7 eth0
expect_dev single-homed 172.31.5.10 8.8.8.8 eth0
((fails == 0)) || { echo "error: $fails scenario premise(s) do not hold" >&2; exit 1; }

# ---------------------------------------------------------------- layouts
# Fixed names and times: the samples are the same on every run.
DAY=2024-05-02
TS=2024-05-02T10_15_42.123456

mkf() { mkdir -p "$(dirname "$1")"; cat >"$1"; }

# What ec2rl's asymmetricroute module prints, by its logic (group IPv4
# addresses by the 4th `ip addr` field, grep `ip rule` for each).
ec2rl_asymmetricroute() { # host distro
  local h=$1 dups b a unmatched=0
  echo "I will look for asymmetric routing problems on this $2 box."
  dups=$(x "$h" ip address show | grep -v secondary | awk '/inet .+brd/ {seen[$4]++; if (seen[$4] > 1) print $4;}')
  if [[ -n $dups ]]; then
    echo "Duplicate bridge addresses found, checking for multiple tables"
    for b in $dups; do
      for a in $(x "$h" ip addr show | grep -v secondary | awk '/inet .+ brd '"$b"'/ {print $2}' | awk -F/ '{print $1}'); do
        if x "$h" ip rule list | grep "$a" >/dev/null; then
          echo "$a has matching ip rule: "
          echo "      $(x "$h" ip rule list | grep "$a")"
        else
          unmatched=$((unmatched + 1))
          echo "$a does not have a matching ip rule.  This makes $unmatched unmatched rules"
        fi
      done
      if ((unmatched > 1)); then
        echo "[FAILURE] Potential asymmetric routing problems detected.  More than one interface has an un-matched routing rule"
      elif ((unmatched == 1)); then
        echo "[SUCCESS] Routing for additional interfaces is configured correctly.  Only one interface will use the default rule"
      else
        echo "[SUCCESS] Routing for additional interfaces is configured correctly.  All interfaces have a matching route rule"
      fi
    done
  else
    echo "[SUCCESS] No duplicate subnets found."
  fi
  echo "Please see https://github.com/awslabs/aws-ec2rescue-linux/blob/master/docs/modules/asymmetricroute.md for further details"
}

# An ec2rl run directory: module logs are the message only (empty formatter)
# plus the logging terminator's newline; Main.log has the summary and the
# feedback URL with the instance id.
layout_ec2rl() { # host dir instance-id distro
  local h=$1 d=$2 iid=$3 distro=$4 status
  { echo "I will collect ip addr show output from this $distro box."; x "$h" ip addr show; echo; } | mkf "$d/mod_out/run/ifconfig.log"
  { echo "I will collect ip route show table all output from this $distro box."; x "$h" ip route show table all; echo; } | mkf "$d/mod_out/run/iproute.log"
  { ec2rl_asymmetricroute "$h" "$distro"; echo; } | mkf "$d/mod_out/run/asymmetricroute.log"
  status=$(grep -m1 '^\[FAILURE\]' "$d/mod_out/run/asymmetricroute.log" || grep '^\[SUCCESS\]' "$d/mod_out/run/asymmetricroute.log" | tail -1)
  mkf "$d/Main.log" <<EOF
${DAY}T10:15:42UTC ----------------------------------------
${DAY}T10:15:42UTC BEGIN PREDIAGNOSTICS
${DAY}T10:15:42UTC ----------------------------------------
${DAY}T10:15:42UTC prediagnostic/verify_metadata: can reach metadata server
${DAY}T10:15:43UTC 
--------------[Module Run]--------------

${DAY}T10:15:44UTC 
----------[Diagnostic Results]----------

${DAY}T10:15:44UTC module run/asymmetricroute           $status
${DAY}T10:15:44UTC 
--------------[Run  Stats]--------------

${DAY}T10:15:44UTC Total modules run:               3
${DAY}T10:15:44UTC 'collect' modules run:           2
${DAY}T10:15:44UTC 'diagnose' modules run:          1
${DAY}T10:15:44UTC     successes:                   $([[ $status == '[SUCCESS]'* ]] && echo 1 || echo 0)
${DAY}T10:15:44UTC     failures:                    $([[ $status == '[FAILURE]'* ]] && echo 1 || echo 0)
${DAY}T10:15:44UTC     warnings:                    0
${DAY}T10:15:44UTC     unknown:                     0
${DAY}T10:15:44UTC 
----------------[NOTICE]----------------

Please note, this directory could contain sensitive data depending on modules run! Please review its contents!

----------------[Upload]----------------

You can upload results to AWS Support with the following, or run 'help upload' for details on using an S3 presigned URL:

sudo ./ec2rl upload --upload-directory=/var/tmp/ec2rl/$(basename "$d") --support-url="URLProvidedByAWSSupport" 

The quotation marks are required, and if you ran the tool with sudo, you will also need to upload with sudo.

---------------[Feedback]---------------

We appreciate your feedback. If you have any to give, please visit:
https://aws.au1.qualtrics.com/jfe1/form/SV_3KrcrMZ2quIDzjn?InstanceID=$iid&Version=1.1.7

EOF
}

# sos report 4.x (friendly name): sos_commands/networking/<mangled command>,
# sos_commands/host/hostname, and the root symlinks sos creates.
layout_sos() { # host dir hostname
  local h=$1 d=$2 net=$2/sos_commands/networking
  x "$h" ip -d address | mkf "$net/ip_-d_address"
  x "$h" ip -o addr | mkf "$net/ip_-o_addr"
  x "$h" ip -4 rule list | mkf "$net/ip_-4_rule_list"
  x "$h" ip -6 rule list | mkf "$net/ip_-6_rule_list"
  x "$h" ip route show table all | mkf "$net/ip_route_show_table_all"
  x "$h" ip -6 route show table all | mkf "$net/ip_-6_route_show_table_all"
  echo "$3" | mkf "$d/sos_commands/host/hostname"
  echo "$3" | mkf "$d/etc/hostname"
  printf 'sosreport: 4.7.2\n' | mkf "$d/version.txt"
  ln -s sos_commands/host/hostname "$d/hostname"
  ln -s sos_commands/networking/ip_-o_addr "$d/ip_addr"
  ln -s sos_commands/networking/ip_route_show_table_all "$d/ip_route"
}

# supportconfig network.txt: one `#==[ Command ]` block per command, the
# per-table blocks named by the 5th field of each `ip rule show` line.
scc_block() { # host command…
  local h=$1; shift
  echo "#==[ Command ]======================================#"
  echo "# /usr/sbin/$*"
  x "$h" "$@" 2>&1 || true
  echo
}
layout_scc() { # host dir hostname
  local h=$1 d=$2 t skip
  {
    scc_block "$h" ip addr
    scc_block "$h" ip route
    scc_block "$h" ip -6 route
    scc_block "$h" ip -stats link
    scc_block "$h" ip -stats neighbor
    echo "#==[ Command ]======================================#"
    echo "# /usr/bin/hostname"
    echo "$3"
    echo
    x "$h" ip rule show | while read -r skip skip skip skip t skip; do
      scc_block "$h" ip route show table "$t"
    done
    scc_block "$h" ip route show table cache
    scc_block "$h" ip -6 route show table cache
    scc_block "$h" ip rule show
  } | mkf "$d/network.txt"
  { echo "#==[ Configuration File ]===========================#"; echo "# /etc/HOSTNAME"; echo "$3"; echo; } | mkf "$d/basic-environment.txt"
}

# Insights: insights_commands/<mangled command>; no ip rule spec exists.
layout_insights() { # host dir hostname
  local h=$1 d=$2/insights_commands
  x "$h" ip addr | mkf "$d/ip_addr"
  x "$h" ip route show table all | mkf "$d/ip_route_show_table_all"
  echo "$3" | mkf "$d/hostname"
  echo "$3.ec2.internal" | mkf "$d/hostname_-f"
}

# EKS log collector: ip rule / ip route table all / ifconfig; no ip addr.
layout_eks() { # host dir instance-id
  local h=$1 d=$2
  x "$h" ip rule show | mkf "$d/networking/iprule.txt"
  x "$h" ip route show table all | mkf "$d/networking/iproute.txt"
  x "$h" ifconfig | mkf "$d/networking/ifconfig.txt"
  echo "$3" | mkf "$d/system/instance-id.txt"
  echo "us-west-2" | mkf "$d/system/region.txt"
}

# A plain folder, as a user saves the commands by hand.
layout_plain() { # host dir
  local h=$1 d=$2
  x "$h" ip addr | mkf "$d/ip_addr.txt"
  x "$h" ip rule | mkf "$d/ip_rule.txt"
  x "$h" ip -6 rule | mkf "$d/ip6_rule.txt"
  x "$h" ip route show table all | mkf "$d/ip_route.txt"
  x "$h" ip -6 route show table all | mkf "$d/ip6_route.txt"
}

# The same, other names: one-line addresses, dashes, `table all` spelled out.
layout_plain_oneline() { # host dir
  local h=$1 d=$2
  x "$h" ip -o addr | mkf "$d/ip-o-addr.txt"
  x "$h" ip rule | mkf "$d/ip-rule.txt"
  x "$h" ip -6 rule | mkf "$d/ip-6-rule.txt"
  x "$h" ip route show table all | mkf "$d/ip-route-show-table-all.txt"
}

# A terminal transcript pasted into a ticket: prompt lines, then output.
layout_transcript() { # host file hostname
  local h=$1 f=$2 p="ubuntu@$3:~\$"
  {
    for c in "ip addr" "ip rule" "ip -6 rule" "ip route show table all" "ip -6 route show table all"; do
      echo "$p $c"
      # shellcheck disable=SC2086
      x "$h" $c
    done
    echo "$p exit"
  } | mkf "$f"
}

# Deterministic archives: sorted members, fixed owner and time, no gzip name.
TAR=(tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="$DAY 10:20:00 UTC" --format=gnu)
targz() { "${TAR[@]}" -C "$1" -cf - "$2" | gzip -9n >"$3"; }
tarxz() { "${TAR[@]}" -C "$1" -cf - "$2" | xz -9e --threads=1 -c >"$3"; }

# ---------------------------------------------------------------- write
# Replace only what this script owns.
rm -rf "$OUT"/sosreport-* "$OUT"/ec2rl "$OUT"/scc_* "$OUT"/insights-* "$OUT"/eks_* \
  "$OUT"/netutils-split "$OUT"/multi-eni-policy "$OUT"/ipv6-two-links.txt "$OUT"/fleet.tar.gz

layout_sos samesub "$OUT/sosreport-samesub-$DAY-hxkqzpa" samesub
# sos's kernel plugin: `uname -a` (this machine's kernel, which answered
# every lookup; the node name is the sample's) and `sysctl -a`, kept to the
# namespace's IPv4 interface settings.
x samesub uname -a | awk '{ $2 = "samesub"; print }' \
  | mkf "$OUT/sosreport-samesub-$DAY-hxkqzpa/sos_commands/kernel/uname_-a"
x samesub sysctl -a 2>/dev/null | grep -E '^net\.ipv4\.(conf\.[^.]+\.(rp_filter|accept_local|src_valid_mark|route_localnet|send_redirects)|ip_forward) ' \
  | mkf "$OUT/sosreport-samesub-$DAY-hxkqzpa/sos_commands/kernel/sysctl_-a"
layout_ec2rl diffsub "$OUT/ec2rl/$TS" i-0d1ff5b0e7c0a0002 alami2
layout_scc netutils-same "$OUT/scc_netutils-same_240502_1015" netutils-same
layout_plain netutils-split "$OUT/netutils-split"
layout_eks emptytable "$OUT/eks_i-0e3c5a7b9d1f20405_${DAY}_1015-UTC_0.7.3" i-0e3c5a7b9d1f20405
layout_insights single-homed "$OUT/insights-single-homed-20240502101542" single-homed
layout_transcript ipv6-two-links "$OUT/ipv6-two-links.txt" ipv6-two-links

# The fleet tarball: per-host archives, one of them an ec2rl upload holding
# the sosreport its gather module took (a tar.xz inside the .tgz).
fleet=$work/fleet
mkdir -p "$fleet" "$work/stage"
layout_sos wg-quick "$work/stage/sosreport-wg-quick-$DAY-pqmzxwa" wg-quick
tarxz "$work/stage" "sosreport-wg-quick-$DAY-pqmzxwa" "$fleet/sosreport-wg-quick-$DAY-pqmzxwa.tar.xz"
layout_plain_oneline secondary-ips "$work/stage/secondary-ips"
targz "$work/stage" secondary-ips "$fleet/secondary-ips.tgz"
run=$work/stage/$TS
layout_ec2rl docker-host "$run" i-0c0ffee0d0c4e2a19 alami2
mkdir -p "$run/gathered_out/sosreport"
layout_sos docker-host "$work/stage/sosreport-docker-host-$DAY-mwlbcye" docker-host
tarxz "$work/stage" "sosreport-docker-host-$DAY-mwlbcye" "$run/gathered_out/sosreport/sosreport-docker-host-$DAY-mwlbcye.tar.xz"
mkdir -p "$fleet/i-0c0ffee0d0c4e2a19"
targz "$work/stage" "$TS" "$fleet/i-0c0ffee0d0c4e2a19/ec2rl-$TS.tgz"
(cd "$fleet" && "${TAR[@]}" -cf - -- *) | gzip -9n >"$OUT/fleet.tar.gz"

echo "samples written to $OUT ($(du -sh --apparent-size "$OUT" | cut -f1))" >&2
[[ -z $CHECK ]] && exit 0

# ---------------------------------------------------------------- --check
"$CHECK" "$OUT" --format json --quiet >"$work/report.json" || true
python3 - "$work/report.json" "$TS" <<'PY'
"""Asks the kernel about every claim of the report, in the namespace each
host was captured from: each leak's destinations (first, middle and last
address of every range) leave by the reported link; `ok` uplink endpoints
answer a few probes by their own link; after the report's fix commands run
there (placeholders skipped), no leak is left."""
import ipaddress, json, subprocess, sys

report, ts = json.load(open(sys.argv[1])), sys.argv[2]
# Which namespace each reported host was captured from (first match wins).
NSOF = [("sosreport-samesub", "samesub"), (f"ec2rl/{ts}", "diffsub"),
        ("scc_netutils-same", "netutils-same"), ("netutils-split", "netutils-split"),
        ("eks_i-", "emptytable"), ("insights-single-homed", "single-homed"),
        ("ipv6-two-links", "ipv6-two-links"), ("secondary-ips", "secondary-ips"),
        ("sosreport-wg-quick", "wg-quick"), ("i-0c0ffee0d0c4e2a19", "docker-host")]
PROBES = ["8.8.8.8", "10.0.2.5", "172.31.20.5", "192.168.10.5",
          "2001:db8:ffff::1", "2001:db8:2::5", "2001:db8:b::5"]
problems = 0

def ip(ns, *args):
    return subprocess.run(["ip", "-n", f"aro-smp-{ns}", *args],
                          capture_output=True, text=True)

def egress(ns, src, dst):
    """The device the kernel picks, or None for local/broadcast/multicast."""
    r = ip(ns, "route", "get", dst, "from", src)
    out = r.stdout or r.stderr
    if out.split(" ", 1)[0] in ("local", "broadcast", "multicast"):
        return None
    w = out.split()
    return w[w.index("dev") + 1] if "dev" in w else out.strip()

def probes(cidr):
    n = ipaddress.ip_network(cidr)
    return sorted({str(n[0]), str(n[n.num_addresses // 2]), str(n[-1])})

def complain(msg):
    global problems
    problems += 1
    print(f"check: {msg}", file=sys.stderr)

for h in report["hosts"]:
    hid = h["host"]
    # Schema 3: an endpoint's leaks and no-route ranges are indices into
    # the host's tables.
    for e in h["endpoints"]:
        e["leaks"] = [h["leaks"][i] for i in e["leaks"]]
        e["no_route"] = [h["no_route"][i] for i in e["no_route"]]
    ns = next((n for key, n in NSOF if key in hid), None)
    if ns is None:
        complain(f"{hid}: no namespace known")
        continue
    for e in h["endpoints"]:
        for leak in e["leaks"]:
            for d in leak["destinations"]:
                for dst in probes(d):
                    got = egress(ns, e["address"], dst)
                    if got is not None and got != leak["egress"]:
                        complain(f"{hid}: from {e['address']} to {dst} the kernel says {got}, report {leak['egress']}")
            # Impact: `ip route get A from P iif I` fails exactly where the
        # report says reverse-path filtering drops requests from P.
        if ":" not in e["address"]:
            for rng in e["leaks"] + e["no_route"]:
                dropped = rng["impact"] == "request-dropped"
                for d in rng["destinations"][:8]:
                    for peer in probes(d):
                        r = ip(ns, "route", "get", e["address"], "from", peer, "iif", e["interface"])
                        if (r.returncode != 0) != dropped:
                            complain(f"{hid}: {e['address']} from {peer} iif {e['interface']}: kernel {(r.stdout or r.stderr).strip()}, report {rng['impact']}")
        if e["verdict"] == "ok" and not e["internal"]:
            for dst in PROBES:
                if (":" in dst) != (":" in e["address"]):
                    continue
                got = egress(ns, e["address"], dst)
                if got is not None and got != e["interface"]:
                    complain(f"{hid}: {e['address']} is ok in the report, but to {dst} the kernel says {got}")
    for f in h["fix"]:
        for c in f["commands"]:
            if "GATEWAY" in c:
                continue
            r = ip(ns, *c.split()[1:])
            if r.returncode != 0:
                complain(f"{hid}: fix command failed: {c}: {r.stderr.strip()}")
    unverified = set(h.get("fix_unverified", []))
    for e in h["endpoints"]:
        if e["verdict"] != "asymmetric" or f"{e['address']} on {e['interface']}" in unverified:
            continue
        for leak in e["leaks"]:
            for d in leak["destinations"]:
                for dst in probes(d):
                    got = egress(ns, e["address"], dst)
                    if got is not None and got != e["interface"]:
                        complain(f"{hid}: after the fix, from {e['address']} to {dst} still leaves by {got}")
print(f"check: {len(report['hosts'])} hosts, {problems} problem(s)", file=sys.stderr)
sys.exit(1 if problems else 0)
PY
