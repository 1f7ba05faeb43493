#!/bin/bash
# Reproduces kernel acceptance tests for ip route / ip rule in aro-kr-* namespaces.
# Sends no traffic (only `ip route get`).
set -u
ID=$$
NS=aro-kr-$ID
PEER=aro-kr-peer-$ID
echo "# kernel: $(uname -r)   iproute2: $(ip -V)"

t() { # run a command in $NS, print it with rc and output
  local out rc
  out=$(ip netns exec $NS "$@" 2>&1); rc=$?
  printf '$ %s\n  -> rc=%s %s\n' "$*" "$rc" "$(echo "$out" | sed '2,$s/^/     /')"
}
q() { ip netns exec $NS "$@" >/dev/null 2>&1; }   # quiet setup
show() { echo "  [state] $*:"; ip netns exec $NS "$@" 2>&1 | sed 's/^/     /'; }

# setup MODE: "diff" eth0 10.0.0.10/24, eth1 10.0.1.10/24, eth2 10.0.2.10/24
#             "same" eth0 10.0.0.10/24, eth1 10.0.0.11/24
setup() {
  teardown
  ip netns add $NS; ip netns add $PEER
  for i in 0 1 2; do
    ip link add eth$i netns $NS type veth peer name p$i netns $PEER
    ip -n $PEER link set p$i up
    ip -n $NS link set eth$i up
  done
  ip -n $NS link set lo up; ip -n $PEER link set lo up
  q sysctl -qw net.ipv6.conf.all.forwarding=0
  if [ "$1" = same ]; then
    q ip addr add 10.0.0.10/24 dev eth0; q ip addr add 10.0.0.11/24 dev eth1
  else
    q ip addr add 10.0.0.10/24 dev eth0; q ip addr add 10.0.1.10/24 dev eth1; q ip addr add 10.0.2.10/24 dev eth2
  fi
  q ip -6 addr add 2001:db8:a::10/64 dev eth0 nodad
  q ip -6 addr add 2001:db8:b::10/64 dev eth1 nodad
  q ip -6 addr add 2001:db8:c::10/64 dev eth2 nodad
  q ip route add default via 10.0.0.1 dev eth0
  q ip -6 route add default via 2001:db8:a::1 dev eth0
  # wait for DAD on the auto link-local addresses (tentative addresses are not usable as src)
  for _ in $(seq 1 50); do
    [ -z "$(ip -n $NS -6 addr show tentative)" ] && break; sleep 0.1
  done
}
teardown() { ip netns del $NS 2>/dev/null; ip netns del $PEER 2>/dev/null; true; }
trap teardown EXIT
sec() { echo; echo "=================== $* ==================="; }
sub() { echo; echo "--- $*"; }
sec "Q1 ip route add: File exists keys (IPv4)"
setup diff
sub "v4: same dst/table, different gateway/dev"
t ip route add default via 10.0.0.1 dev eth0 table 100
t ip route add default via 10.0.1.1 dev eth1 table 100
t ip route add default via 10.0.0.1 dev eth0 table 100
t ip route add default via 10.0.1.1 dev eth1 table 100 metric 5
t ip route add default via 10.0.1.1 dev eth1 table 100 metric 5
t ip route add default via 10.0.2.1 dev eth2 table 100 metric 5
t ip route add default via 10.0.1.1 dev eth1 table 100 tos 0x10
t ip route add default via 10.0.1.1 dev eth1 table 100 proto static
t ip route add default via 10.0.1.1 dev eth1 table 100 scope link
t ip route add default dev eth1 table 100
t ip route add default via 10.0.1.1 dev eth1 table 100 src 10.0.1.10
t ip route add throw default table 100
t ip route add unreachable default table 100
t ip route add blackhole default table 100
t ip route add throw default table 100 metric 7
t ip route add unreachable default table 100 metric 7
t ip route add default via 10.0.1.1 dev eth1 table 101
show ip route show table 100
sub "v4: type vs unicast on same prefix"
t ip route add unreachable 10.9.0.0/16
t ip route add 10.9.0.0/16 via 10.0.0.1 dev eth0
t ip route add prohibit 10.9.0.0/16
t ip route add 10.9.0.0/16 via 10.0.0.1 dev eth0 metric 1
t ip route add 10.8.0.0/16 via 10.0.0.1 dev eth0
t ip route add unreachable 10.8.0.0/16
t ip route add 10.8.0.0/16 via 10.0.0.1
t ip route add 10.8.0.0/17 via 10.0.0.1
show ip route show
sub "v4: append / replace / prepend semantics"
t ip route append default via 10.0.1.1 dev eth1 table 100
t ip route append default via 10.0.1.1 dev eth1 table 100
t ip route prepend default via 10.0.2.1 dev eth2 table 100
show ip route show table 100
t ip route replace default via 10.0.2.1 dev eth2 table 100
show ip route show table 100
t ip route add 10.7.0.0/16 nexthop via 10.0.0.1 dev eth0 nexthop via 10.0.1.1 dev eth1
t ip route add 10.7.0.0/16 via 10.0.2.1 dev eth2
show ip route show 10.7.0.0/16

sec "Q1 ip -6 route add: File exists keys (IPv6)"
setup diff
t ip -6 route add default via 2001:db8:a::1 dev eth0 table 100
t ip -6 route add default via 2001:db8:a::1 dev eth0 table 100
t ip -6 route add default via 2001:db8:b::1 dev eth1 table 100
show ip -6 route show table 100
t ip -6 route add default via 2001:db8:c::1 dev eth2 table 100 metric 5
t ip -6 route add default via 2001:db8:b::1 dev eth1 table 100 metric 5
show ip -6 route show table 100
t ip -6 route add default dev eth1 table 100 metric 7
t ip -6 route add default dev eth2 table 100 metric 7
t ip -6 route add default dev eth2 table 100 metric 7
show ip -6 route show table 100
sub "v6: type vs unicast"
t ip -6 route add throw default table 100
t ip -6 route add throw default table 100 metric 9
t ip -6 route add unreachable default table 100 metric 9
t ip -6 route add unreachable 2001:db8:9::/48
t ip -6 route add 2001:db8:9::/48 via 2001:db8:a::1 dev eth0
t ip -6 route add 2001:db8:8::/48 via 2001:db8:a::1 dev eth0
t ip -6 route add unreachable 2001:db8:8::/48
t ip -6 route add blackhole 2001:db8:8::/48
show ip -6 route show table 100
show ip -6 route show 2001:db8:8::/47
sub "v6: append / replace"
t ip -6 route append default via 2001:db8:c::1 dev eth2 table 100
show ip -6 route show table 100
t ip -6 route append default via 2001:db8:c::1 dev eth2 table 100
t ip -6 route prepend default via 2001:db8:b::1 dev eth1 table 100
show ip -6 route show table 100
t ip -6 route replace default via 2001:db8:c::1 dev eth2 table 100
show ip -6 route show table 100
sub "v6: source-specific (from) routes"
t ip -6 route add 2001:db8:7::/48 via 2001:db8:a::1 dev eth0
t ip -6 route add 2001:db8:7::/48 from 2001:db8:b::/64 via 2001:db8:b::1 dev eth1
t ip -6 route add 2001:db8:7::/48 from 2001:db8:b::/64 via 2001:db8:b::1 dev eth1
t ip -6 route add 2001:db8:7::/48 from 2001:db8:b::/64 via 2001:db8:c::1 dev eth2
t ip -6 route add 2001:db8:7::/48 from 2001:db8:b::/64 via 2001:db8:c::1 dev eth2 metric 5
t ip -6 route add 2001:db8:7::/48 from 2001:db8:b::10/128 via 2001:db8:c::1 dev eth2
t ip -6 route add default from 2001:db8:b::/64 via 2001:db8:b::1 dev eth1
t ip -6 route add default from 2001:db8:b::/64 via 2001:db8:b::1 dev eth1
show ip -6 route show
t ip -6 route get 2001:db8:7::1 from 2001:db8:b::10
t ip -6 route get 2001:db8:7::1 from 2001:db8:a::10
t ip route add 10.6.0.0/16 from 10.0.1.0/24 via 10.0.1.1
show ip route show 10.6.0.0/16
sec "Q2 gateway validation IPv4"
setup diff
sub "a) new empty table 100, main holds 10.0.1.0/24 dev eth1 proto kernel"
t ip route add default via 10.0.1.1 dev eth1 table 100
t ip route flush table 100
sub "a2) same without dev"
t ip route add default via 10.0.1.1 table 100
show ip route show table 100
t ip route flush table 100
sub "a3) dev given that does not own the gateway subnet (oif mismatch)"
t ip route add default via 10.0.1.1 dev eth0 table 100
t ip route add default via 10.0.1.1 dev eth2 table 100
sub "a4) gateway = own address / other local address / broadcast / network address (distinct dsts to avoid File exists)"
t ip route add 10.41.0.0/16 via 10.0.1.10 dev eth1 table 100
t ip route add 10.42.0.0/16 via 10.0.0.10 dev eth1 table 100
t ip route add 10.43.0.0/16 via 127.0.0.1 table 100
t ip route add 10.44.0.0/16 via 10.0.1.255 dev eth1 table 100
t ip route add 10.45.0.0/16 via 10.0.1.0 dev eth1 table 100
t ip route add 10.46.0.0/16 via 10.0.1.1 dev eth1 scope link table 100
t ip route add 10.47.0.0/16 via 10.0.1.10 dev eth1 scope link table 100
show ip route show table 100
t ip route flush table 100
sub "b) main does NOT hold eth1's connected route"
t ip route del 10.0.1.0/24 dev eth1
t ip route add default via 10.0.1.1 dev eth1 table 100
t ip route add default via 10.0.1.1 table 100
sub "b2) ... but table 100 holds 10.0.1.0/24 dev eth1 scope link"
t ip route add 10.0.1.0/24 dev eth1 scope link table 100
t ip route add default via 10.0.1.1 dev eth1 table 100
show ip route show table 100
t ip route flush table 100
sub "b3) table 100 holds 10.0.1.0/24 dev eth1 (scope global/universe, no via)"
t ip route add 10.0.1.0/24 dev eth1 scope global table 100
t ip route add default via 10.0.1.1 dev eth1 table 100
t ip route flush table 100
sub "b4) main holds 10.0.1.0/24 via 10.0.0.1 (scope universe) only"
t ip route add 10.0.1.0/24 via 10.0.0.1 dev eth0
t ip route add default via 10.0.1.1 dev eth1 table 100
t ip route add default via 10.0.1.1 table 100
t ip route del 10.0.1.0/24 via 10.0.0.1 dev eth0
sub "b5) main holds 10.0.1.0/24 dev eth1 scope link (user-added, not proto kernel)"
t ip route add 10.0.1.0/24 dev eth1 scope link
t ip route add default via 10.0.1.1 dev eth1 table 100
t ip route flush table 100
t ip route del 10.0.1.0/24 dev eth1 scope link
sub "b6) main holds a host route 10.0.1.1 dev eth1 scope link"
t ip route add 10.0.1.1/32 dev eth1 scope link
t ip route add default via 10.0.1.1 dev eth1 table 100
t ip route flush table 100
t ip route del 10.0.1.1/32 dev eth1 scope link
sub "b7) table 100 exists holding only an unrelated route (eth1 connected route still absent from main)"
t ip route add 192.168.77.0/24 dev eth0 scope link table 100
t ip route add default via 10.0.1.1 dev eth1 table 100
sub "b8) ... same, but main has the connected route again"
t ip route add 10.0.1.0/24 dev eth1 proto kernel scope link src 10.0.1.10
t ip route add default via 10.0.1.1 dev eth1 table 100
show ip route show table 100
t ip route flush table 100
sub "b9) covering route only in another table 300 (not referenced by any rule)"
t ip route del 10.0.1.0/24 dev eth1
t ip route add 10.0.1.0/24 dev eth1 scope link table 300
t ip route add default via 10.0.1.1 dev eth1 table 100
sub "b10) ... now a rule from all lookup 300 makes it reachable via full lookup"
t ip rule add from all lookup 300 priority 50
t ip route add default via 10.0.1.1 dev eth1 table 100
t ip route flush table 100
t ip rule del priority 50
sub "b11) rule 'from 10.0.1.10 lookup 300' (saddr selector): validation lookup has no saddr"
t ip rule add from 10.0.1.10 lookup 300 priority 50
t ip route add default via 10.0.1.1 dev eth1 table 100
t ip rule del priority 50
t ip route flush table 300

sub "c) onlink: gateway outside every prefix of eth1"
setup diff
t ip route add default via 192.168.99.1 dev eth1 table 100
t ip route add default via 192.168.99.1 dev eth1 onlink table 100
t ip route add default via 192.168.99.1 onlink table 100
t ip route add 10.4.0.0/16 via 192.168.99.1 dev eth1 onlink scope link table 100
t ip route add 10.4.0.0/16 via 10.0.1.10 dev eth1 onlink table 100
t ip route add 10.4.0.0/16 via 10.0.1.255 dev eth1 onlink table 100
t ip route add 10.4.0.0/16 via 0.0.0.0 dev eth1 table 100
show ip route show table 100
t ip link set eth2 down
t ip route add default via 192.168.99.1 dev eth2 onlink table 101
t ip route add default via 10.0.2.1 dev eth2 table 101
t ip link set eth2 up
t ip route add default via 10.0.2.1 dev eth2 table 101
sub "c2) link up but no carrier (peer down)"
ip -n $PEER link set p2 down; sleep 0.2
show ip link show eth2
t ip route add default via 192.168.99.1 dev eth2 onlink table 102
t ip route add 10.5.0.0/16 via 10.0.2.1 dev eth2 table 102
show ip route show table 102
ip -n $PEER link set p2 up

sub "d) both links same subnet: eth0 10.0.0.10/24, eth1 10.0.0.11/24"
setup same
show ip route show
t ip route add default via 10.0.0.1 dev eth1 table 100
t ip route flush table 100
t ip route del 10.0.0.0/24 dev eth1
show ip route show
t ip route add default via 10.0.0.1 dev eth1 table 100
t ip route add default via 10.0.0.1 table 100
show ip route show table 100
t ip route flush table 100
t ip route add 10.0.0.0/24 dev eth1 scope link table 100
t ip route add default via 10.0.0.1 dev eth1 table 100
show ip route show table 100

sub "e) rule 'from all lookup 200' prio 100 precedes main; table 200: default via 10.0.0.1 dev eth0"
setup diff
t ip route add default via 10.0.0.1 dev eth0 table 200
t ip rule add from all lookup 200 priority 100
show ip rule
t ip route add default via 10.0.1.1 dev eth1 table 100
t ip route add 10.50.0.0/16 via 10.0.1.1 table 100
show ip route show table 100
sub "e1) table 200 also holds 10.0.1.0/24 via 10.0.0.1 dev eth0 (scope universe)"
t ip route add 10.0.1.0/24 via 10.0.0.1 dev eth0 table 200
t ip route add 10.51.0.0/16 via 10.0.1.1 dev eth1 table 100
t ip route add 10.52.0.0/16 via 10.0.1.1 table 100
show ip route show table 100
t ip route del 10.0.1.0/24 table 200
sub "e2) table 200 holds unreachable 10.0.1.0/24"
t ip route add unreachable 10.0.1.0/24 table 200
t ip route add 10.53.0.0/16 via 10.0.1.1 dev eth1 table 100
t ip route add 10.54.0.0/16 via 10.0.1.1 table 100
t ip route del 10.0.1.0/24 table 200
sub "e3) table 200 holds 10.0.1.0/24 dev eth0 scope link (link-scope, wrong dev)"
t ip route add 10.0.1.0/24 dev eth0 scope link table 200
t ip route add 10.55.0.0/16 via 10.0.1.1 dev eth1 table 100
t ip route add 10.56.0.0/16 via 10.0.1.1 table 100
show ip route show table 100
t ip route del 10.0.1.0/24 table 200
sub "e4) table 200 holds throw 10.0.1.0/24 / unreachable 10.0.1.0/24 scope link"
t ip route add throw 10.0.1.0/24 table 200
t ip route add 10.57.0.0/16 via 10.0.1.1 dev eth1 table 100
t ip route del 10.0.1.0/24 table 200
t ip route add unreachable 10.0.1.0/24 scope link table 200
t ip route add 10.58.0.0/16 via 10.0.1.1 dev eth1 table 100
t ip route del 10.0.1.0/24 table 200
sub "e5) gateway validation for a route added to main itself (table 254: no table-first step, full lookup only)"
t ip route add 10.0.1.0/24 dev eth0 scope link table 200
t ip route add 10.59.0.0/16 via 10.0.1.1 dev eth1
t ip route add 10.60.0.0/16 via 10.0.1.1
show ip route show 10.60.0.0/16
sec "Q2 gateway validation IPv6"
setup diff
sub "a) new empty table 100, main holds 2001:db8:b::/64 dev eth1 proto kernel"
t ip -6 route add default via 2001:db8:b::1 dev eth1 table 100
t ip -6 route add 2001:db8:50::/48 via 2001:db8:b::1 table 100
t ip -6 route add 2001:db8:51::/48 via 2001:db8:b::1 dev eth0 table 100
t ip -6 route add 2001:db8:52::/48 via 2001:db8:b::10 dev eth1 table 100
t ip -6 route add 2001:db8:53::/48 via 2001:db8:a::10 dev eth1 table 100
t ip -6 route add 2001:db8:54::/48 via ::1 table 100
show ip -6 route show table 100
t ip -6 route flush table 100
sub "b) link-local gateway, nothing else"
t ip -6 route add default via fe80::1 dev eth1 table 100
t ip -6 route add 2001:db8:55::/48 via fe80::1 table 100
t ip -6 route flush table 100
sub "c) main does NOT hold eth1's connected route"
t ip -6 route del 2001:db8:b::/64 dev eth1
t ip -6 route add default via 2001:db8:b::1 dev eth1 table 100
t ip -6 route add 2001:db8:56::/48 via 2001:db8:b::1 table 100
t ip -6 route add 2001:db8:57::/48 via fe80::1 dev eth1 table 100
sub "c2) fe80::/64 dev eth1 also deleted from main"
t ip -6 route del fe80::/64 dev eth1
t ip -6 route add 2001:db8:58::/48 via fe80::1 dev eth1 table 100
show ip -6 route show table 100
t ip -6 route flush table 100
sub "c3) table 100 holds 2001:db8:b::/64 dev eth1"
t ip -6 route add 2001:db8:b::/64 dev eth1 table 100
t ip -6 route add default via 2001:db8:b::1 dev eth1 table 100
t ip -6 route add 2001:db8:59::/48 via 2001:db8:b::1 table 100
show ip -6 route show table 100
t ip -6 route flush table 100
sub "c4) table 100 holds only an unrelated route"
t ip -6 route add 2001:db8:77::/48 dev eth0 table 100
t ip -6 route add default via 2001:db8:b::1 dev eth1 table 100
t ip -6 route flush table 100
sub "c5) main holds 2001:db8:b::/64 via 2001:db8:a::1 dev eth0 (gatewayed covering route)"
t ip -6 route add 2001:db8:b::/64 via 2001:db8:a::1 dev eth0
t ip -6 route add default via 2001:db8:b::1 dev eth1 table 100
t ip -6 route add 2001:db8:60::/48 via 2001:db8:b::1 table 100
t ip -6 route del 2001:db8:b::/64 via 2001:db8:a::1 dev eth0
sub "c6) gateway outside every prefix: onlink"
t ip -6 route add 2001:db8:61::/48 via 2001:db8:99::1 dev eth1 table 100
t ip -6 route add 2001:db8:62::/48 via 2001:db8:99::1 dev eth1 onlink table 100
t ip -6 route add 2001:db8:63::/48 via 2001:db8:99::1 onlink table 100
show ip -6 route show table 100
t ip link set eth2 down
t ip -6 route add 2001:db8:64::/48 via 2001:db8:99::1 dev eth2 onlink table 100
t ip -6 route add 2001:db8:65::/48 via fe80::1 dev eth2 table 100
t ip -6 route add 2001:db8:66::/48 via 2001:db8:c::1 dev eth2 table 100
t ip link set eth2 up
t ip -6 route flush table 100

sub "d) rule from all lookup 200 prio 100 precedes main"
setup diff
t ip -6 route add default via 2001:db8:a::1 dev eth0 table 200
t ip -6 rule add from all lookup 200 priority 100
t ip -6 route add default via 2001:db8:b::1 dev eth1 table 100
t ip -6 route add 2001:db8:70::/48 via 2001:db8:b::1 table 100
show ip -6 route show table 100
t ip -6 route add 2001:db8:b::/64 dev eth0 table 200
t ip -6 route add 2001:db8:71::/48 via 2001:db8:b::1 dev eth1 table 100
t ip -6 route add 2001:db8:72::/48 via 2001:db8:b::1 table 100
show ip -6 route show table 100
t ip -6 route del 2001:db8:b::/64 dev eth0 table 200
t ip -6 route add unreachable 2001:db8:b::/64 table 200
t ip -6 route add 2001:db8:73::/48 via 2001:db8:b::1 dev eth1 table 100
t ip -6 route add 2001:db8:74::/48 via 2001:db8:b::1 table 100
show ip -6 route show table 100

sub "e) v6 misc gateway kinds"
setup diff
t ip -6 route add 2001:db8:80::/48 via 2001:db8:b::10 table 100
t ip -6 route add 2001:db8:81::/48 via ff02::1 dev eth1 table 100
t ip -6 route add 2001:db8:82::/48 via fe80::1 dev lo table 100
show ip -6 route show table 100
sub "e2) v6 onlink: covering route in the SAME table on another device"
t ip -6 route add 2001:db8:99::/64 dev eth0 table 100
t ip -6 route add 2001:db8:83::/48 via 2001:db8:99::1 dev eth1 onlink table 100
t ip -6 route add 2001:db8:84::/48 via 2001:db8:99::1 dev eth0 onlink table 100
t ip -6 route add 2001:db8:85::/48 via 2001:db8:99::1 dev eth1 onlink table 101
sub "e3) v6 link up, no carrier"
ip -n $PEER link set p2 down; sleep 0.2
t ip -6 route add 2001:db8:86::/48 via 2001:db8:c::1 dev eth2 table 100
t ip -6 route add 2001:db8:87::/48 via fe80::1 dev eth2 table 100
t ip -6 route add 2001:db8:88::/48 via 2001:db8:99::1 dev eth2 onlink table 102
show ip -6 route show table 100
ip -n $PEER link set p2 up
sub "e4) v6 onlink: covering route in MAIN on another device (check uses main / l3mdev table)"
t ip -6 route add 2001:db8:99::/64 dev eth0
t ip -6 route add 2001:db8:89::/48 via 2001:db8:99::1 dev eth1 onlink table 100
t ip -6 route add 2001:db8:8a::/48 via 2001:db8:99::1 dev eth0 onlink table 100
t ip -6 route add 2001:db8:8b::/48 via 2001:db8:b::1 dev eth0 onlink table 100
t ip -6 route add 2001:db8:8c::/48 via 2001:db8:a::1 dev eth1 onlink table 100
sub "e5) v4 onlink: gateway covered by another device's prefix"
t ip route add 10.89.0.0/16 via 10.0.0.1 dev eth1 onlink table 100
t ip route add 10.90.0.0/16 via 10.0.1.1 dev eth0 onlink
show ip route show table 100
sec "Q3 src (prefsrc) and proto kernel"
setup diff
t ip route add 10.0.1.0/24 dev eth1 scope link src 10.0.1.10 table 100
t ip route add 10.0.1.0/24 dev eth1 scope link src 10.0.1.10
t ip route add 10.0.1.0/24 dev eth1 proto kernel scope link src 10.0.1.10 table 101
t ip route add 10.0.1.0/24 dev eth1 proto kernel scope link src 10.0.1.10 metric 100
t ip route add 10.0.1.0/24 dev eth1 proto kernel scope link src 10.0.1.10 metric 100 table 102
show ip route show table all 10.0.1.0/24
t ip route add 10.20.0.0/16 dev eth1 src 10.0.0.10 table 100
t ip route add 10.21.0.0/16 dev eth1 src 10.0.1.99 table 100
t ip route add 10.22.0.0/16 via 10.0.1.1 src 10.0.1.99 table 100
t ip route add 10.23.0.0/16 via 10.0.1.1 src 127.0.0.1 table 100
t ip route add 10.24.0.0/16 via 10.0.1.1 src 10.0.1.255 table 100
t ip route add 10.25.0.0/16 via 10.0.1.1 src 10.0.2.10 table 100
show ip route show table 100
sub "src of an address on a DOWN link"
t ip link set eth2 down
t ip route add 10.26.0.0/16 via 10.0.1.1 src 10.0.2.10 table 100
t ip link set eth2 up
sub "src after the address is deleted, route keeps it? (delete 10.0.2.10)"
t ip addr del 10.0.2.10/24 dev eth2
show ip route show table 100
t ip route add 10.27.0.0/16 via 10.0.1.1 src 10.0.2.10 table 100
sub "IPv6 src"
LL1=$(ip -n $NS -6 addr show dev eth1 scope link | awk '/inet6/{print $2}' | cut -d/ -f1)
LL0=$(ip -n $NS -6 addr show dev eth0 scope link | awk '/inet6/{print $2}' | cut -d/ -f1)
echo "  (eth0 link-local=$LL0, eth1 link-local=$LL1)"
t ip -6 route add 2001:db8:b::/64 dev eth1 src 2001:db8:b::10 table 100
t ip -6 route add 2001:db8:20::/48 via 2001:db8:b::1 dev eth1 src 2001:db8:a::10 table 100
t ip -6 route add 2001:db8:21::/48 via 2001:db8:b::1 dev eth1 src 2001:db8:b::99 table 100
t ip -6 route add 2001:db8:22::/48 via 2001:db8:b::1 dev eth1 src $LL1 table 100
t ip -6 route add 2001:db8:23::/48 via 2001:db8:b::1 dev eth1 src $LL0 table 100
t ip -6 route add 2001:db8:24::/48 via 2001:db8:b::1 dev eth1 src fe80::1234 table 100
t ip -6 route add 2001:db8:b::/64 dev eth1 proto kernel table 101
t ip -6 route add 2001:db8:25::/48 via 2001:db8:b::1 dev eth1 src ::1 table 100
show ip -6 route show table all 2001:db8:b::/64
show ip -6 route show table 100
sub "IPv6 src = tentative address (added without nodad, DAD running)"
t ip -6 addr add 2001:db8:b::20/64 dev eth1
t ip -6 route add 2001:db8:26::/48 via 2001:db8:b::1 dev eth1 src 2001:db8:b::20 table 100
sec "Q4 ip route del matching"
setup diff
t ip route add default via 10.0.0.1 dev eth0 table 100
t ip route add default via 10.0.1.1 dev eth1 table 100 metric 5
t ip route add throw default table 100 metric 7
show ip route show table 100
t ip route del default via 10.0.2.1 table 100
t ip route del default dev eth2 table 100
t ip route del default via 10.0.1.1 dev eth1 table 100
t ip route del default via 10.0.1.1 dev eth1 table 100 metric 0
t ip route del default table 100 metric 5 via 10.0.0.1
t ip route add default via 10.0.1.1 dev eth1 table 100 metric 5
t ip route del default via 10.0.1.1 dev eth1 table 100 metric 0
t ip route add default via 10.0.1.1 dev eth1 table 100 metric 5
t ip route del default table 100 proto static
t ip route del default table 100 scope link
t ip route del unreachable default table 100
t ip route del default table 100 tos 0x10
t ip route add default via 10.0.2.1 dev eth2 table 100 tos 0x10
t ip route del default via 10.0.2.1 dev eth2 table 100
t ip route del default via 10.0.2.1 dev eth2 table 100 tos 0x10
show ip route show table 100
t ip route del default table 100
show ip route show table 100
t ip route del default table 100
show ip route show table 100
t ip route del default table 100
show ip route show table 100
t ip route del default table 100
t ip route del default table 555
t ip route del 10.99.0.0/16
sub "v4: del without metric picks the first default (any metric) / del with metric"
t ip route add default via 10.0.1.1 dev eth1 table 100 metric 5
t ip route add default via 10.0.2.1 dev eth2 table 100 metric 3
show ip route show table 100
t ip route del default table 100
show ip route show table 100
t ip route flush table 100
sub "v4: del without table -> main only"
t ip route add 10.30.0.0/16 via 10.0.1.1 table 100
t ip route del 10.30.0.0/16
t ip route del 10.30.0.0/16 table all
t ip route del 10.30.0.0/16 table 100
sub "v4: del nexthop mismatch inside ECMP"
t ip route add 10.31.0.0/16 nexthop via 10.0.0.1 dev eth0 nexthop via 10.0.1.1 dev eth1
t ip route del 10.31.0.0/16 via 10.0.1.1 dev eth1
t ip route del 10.31.0.0/16 via 10.0.0.1 dev eth0
show ip route show 10.31.0.0/16
t ip route add 10.31.0.0/16 nexthop via 10.0.0.1 dev eth0 nexthop via 10.0.1.1 dev eth1
t ip route del 10.31.0.0/16 nexthop via 10.0.1.1 dev eth1 nexthop via 10.0.0.1 dev eth0
t ip route del 10.31.0.0/16 nexthop via 10.0.0.1 dev eth0 nexthop via 10.0.1.1 dev eth1
sub "v4: del of connected route: src/proto/scope mismatch"
t ip route del 10.0.1.0/24 dev eth1 src 10.0.1.99
t ip route del 10.0.1.0/24 dev eth1 proto static
t ip route del 10.0.1.0/24 dev eth1 scope global
t ip route del 10.0.1.0/24 dev eth1 proto kernel scope link src 10.0.1.10
sec "Q4 ip -6 route del matching"
setup diff
t ip -6 route add default via 2001:db8:a::1 dev eth0 table 100
t ip -6 route add default via 2001:db8:b::1 dev eth1 table 100 metric 5
show ip -6 route show table 100
t ip -6 route del default via 2001:db8:c::1 table 100
t ip -6 route del default dev eth2 table 100
t ip -6 route del default via 2001:db8:b::1 dev eth1 table 100 metric 1024
t ip -6 route del default table 100 proto static
t ip -6 route del default table 100 metric 7
t ip -6 route del unreachable default table 100
t ip -6 route del default table 100
show ip -6 route show table 100
t ip -6 route del default table 100
t ip -6 route del default table 100
t ip -6 route del 2001:db8:99::/48
t ip -6 route del 2001:db8:99::/48 table 100
t ip -6 route del default table 555
t ip -6 route del default
t ip -6 route del default
t ip -6 route add throw default table 101
t ip -6 route del default table 101
sub "v6: del one nexthop of an ECMP route"
t ip -6 route add 2001:db8:31::/48 nexthop via 2001:db8:a::1 dev eth0 nexthop via 2001:db8:b::1 dev eth1
t ip -6 route del 2001:db8:31::/48 via 2001:db8:a::1 dev eth0
show ip -6 route show 2001:db8:31::/48
sub "v6: del with from"
t ip -6 route add 2001:db8:32::/48 from 2001:db8:b::/64 via 2001:db8:b::1 dev eth1
t ip -6 route del 2001:db8:32::/48
t ip -6 route del 2001:db8:32::/48 from 2001:db8:b::/64
sec "Q5 ip rule add/del"
setup diff
t ip rule add from 10.0.1.10 lookup 100 priority 1000
t ip rule add from 10.0.1.10 lookup 100 priority 1000
t ip rule add from 10.0.1.10 table 100 priority 1000
t ip rule add from 10.0.1.10/32 lookup 100 priority 1000
t ip rule add from 10.0.1.10 lookup 101 priority 1000
t ip rule add from 10.0.1.10 lookup 100 priority 1001
t ip rule add from 10.0.1.10 lookup 100
t ip rule add from 10.0.1.10 lookup 100
show ip rule
sub "same priority, different selector: insertion order"
t ip rule add from 10.0.2.10 lookup 102 priority 1000
t ip rule add to 10.9.0.0/16 lookup 103 priority 1000
t ip rule add from all lookup 104 priority 1000
show ip rule
sub "rules without priority: auto-priority = (lowest non-zero existing prio) - 1"
t ip rule add from 10.0.0.10 lookup 105
show ip rule
sub "priority 0, and nonexistent table"
t ip rule add from 10.0.0.99 lookup 106 priority 0
t ip rule add from 10.0.0.98 lookup 9999 priority 2000
t ip rule add from 10.0.0.97 lookup 9999 priority 2000
show ip rule
show ip route show table 9999
sub "iif/oif/fwmark/not variants are different selectors"
t ip rule add from 10.0.1.10 iif eth1 lookup 100 priority 1000
t ip rule add not from 10.0.1.10 lookup 100 priority 1000
t ip rule add from 10.0.1.10 fwmark 0x1 lookup 100 priority 1000
t ip rule add from 10.0.1.10 lookup main priority 1000
t ip rule add from 10.0.1.10 lookup 100 priority 1000 suppress_prefixlength 0
t ip rule add from 10.0.1.10 lookup 100 priority 1000 protocol static
show ip rule show priority 1000
sub "ip rule del"
t ip rule del from 10.0.9.9 lookup 100 priority 1000
t ip rule del from 10.0.1.10 lookup 999
t ip rule del priority 4242
t ip rule del from 10.0.1.10 lookup 100 priority 1001
t ip rule del from 10.0.1.10 lookup 100 priority 1001
t ip rule del from 10.0.1.10
show ip rule
t ip rule del lookup 104
t ip rule del priority 1000
show ip rule
sub "deleting the default rules / priority 0"
t ip rule del priority 32767
t ip rule del priority 32767
t ip rule del priority 0
show ip rule
t ip rule add from all lookup local priority 0
t ip rule add from all lookup local priority 0
show ip rule

sec "Q5 ip -6 rule add/del"
setup diff
t ip -6 rule add from 2001:db8:b::10 lookup 100 priority 1000
t ip -6 rule add from 2001:db8:b::10 lookup 100 priority 1000
t ip -6 rule add from 2001:db8:b::10 lookup 100 priority 1001
t ip -6 rule add from 2001:db8:c::10 lookup 102 priority 1000
t ip -6 rule add from all lookup 104 priority 1000
t ip -6 rule add from 2001:db8:b::10 lookup 9999 priority 0
show ip -6 rule
t ip -6 rule del from 2001:db8:9::9 lookup 100
t ip -6 rule del priority 4242
t ip -6 rule add from 10.0.1.10 lookup 100

sec "Q5 extra: auto-priority and 'not' duplicate"
setup diff
t ip rule add from 10.0.1.10 lookup 100
show ip rule
t ip rule add from 10.0.1.11 lookup 100 priority 0
t ip rule add from 10.0.1.12 lookup 100
show ip rule
t ip rule add not from 10.0.2.10 lookup 100 priority 1500
t ip rule add from 10.0.2.10 lookup 100 priority 1500
t ip rule add not from 10.0.2.10 lookup 100 priority 1500
show ip rule show priority 1500
t ip rule del from 10.0.2.10 lookup 100 priority 1500
show ip rule show priority 1500
sec "Q6 routing semantics (ip route get only)"
setup diff
show ip rule
t ip route get 8.8.8.8 from 10.0.1.10
t ip route add default via 10.0.1.1 dev eth1 table 100
t ip route add throw 10.5.0.0/16 table 100
t ip route add 10.5.0.0/16 via 10.0.2.1 dev eth2
t ip rule add from 10.0.1.10 lookup 100 priority 1000
show ip rule
t ip route get 8.8.8.8 from 10.0.1.10
t ip route get 10.5.1.1 from 10.0.1.10
t ip route get 10.5.1.1 from 10.0.0.10
t ip route get 8.8.8.8 from 10.0.0.10
t ip route get 8.8.8.8
t ip route get 10.0.1.10 from 10.0.1.10
t ip route get 10.0.0.5 from 10.0.1.10
t ip route get 10.0.1.5 from 10.0.1.10
sub "throw with no later match (main has no 10.5/16 and no default) -> error text"
t ip route del 10.5.0.0/16 via 10.0.2.1 dev eth2
t ip route del default via 10.0.0.1 dev eth0
t ip route get 10.5.1.1 from 10.0.1.10
t ip route get 10.6.1.1 from 10.0.1.10
t ip route get 10.6.1.1 from 10.0.0.10
sub "unreachable / prohibit / blackhole in table 100 (terminal, no fall-through)"
t ip route add default via 10.0.0.1 dev eth0
t ip route add unreachable 10.7.0.0/16 table 100
t ip route add prohibit 10.8.0.0/16 table 100
t ip route add blackhole 10.9.0.0/16 table 100
t ip route get 10.7.1.1 from 10.0.1.10
t ip route get 10.8.1.1 from 10.0.1.10
t ip route get 10.9.1.1 from 10.0.1.10
sub "throw default in table 100 -> falls to main for everything"
t ip route flush table 100
t ip route add throw default table 100
t ip route get 8.8.8.8 from 10.0.1.10
sub "first custom IPv4 rule: local/main unmerge; local routes still win"
setup diff
t ip route get 10.0.1.10
t ip route add default via 10.0.1.1 dev eth1 table 100
t ip rule add from all lookup 100 priority 1000
t ip route get 10.0.1.10
t ip route get 10.0.0.10 from 10.0.1.10
t ip route get 10.0.1.255
t ip route get 127.0.0.1
t ip route get 10.0.0.5
t ip rule del priority 1000
t ip route get 10.0.0.5
t ip route get 10.0.1.10
show ip route show table main
sub "local rule moved after custom rule (priority > custom)"
t ip rule add from all lookup 100 priority 1000
t ip rule del priority 0
t ip rule add from all lookup local priority 2000
show ip rule
t ip route get 10.0.1.10
t ip route get 10.0.0.5

sec "Q6 IPv6 throw"
setup diff
t ip -6 route add default via 2001:db8:b::1 dev eth1 table 100
t ip -6 route add throw 2001:db8:5::/48 table 100
t ip -6 route add 2001:db8:5::/48 via 2001:db8:c::1 dev eth2
t ip -6 rule add from 2001:db8:b::10 lookup 100 priority 1000
t ip -6 route get 2001:4860::8888 from 2001:db8:b::10
t ip -6 route get 2001:db8:5::1 from 2001:db8:b::10
t ip -6 route get 2001:db8:5::1 from 2001:db8:a::10
t ip -6 route del 2001:db8:5::/48 via 2001:db8:c::1 dev eth2
t ip -6 route del default via 2001:db8:a::1 dev eth0
t ip -6 route get 2001:db8:5::1 from 2001:db8:b::10
t ip -6 route get 2001:db8:6::1 from 2001:db8:a::10
t ip -6 route add unreachable 2001:db8:7::/48 table 100
t ip -6 route add prohibit 2001:db8:8::/48 table 100
t ip -6 route get 2001:db8:7::1 from 2001:db8:b::10
t ip -6 route get 2001:db8:8::1 from 2001:db8:b::10

sec "Q7 rule to empty / nonexistent table falls through"
setup diff
t ip rule add from 10.0.1.10 lookup 100 priority 1000
t ip route get 8.8.8.8 from 10.0.1.10
t ip route show table 100
t ip route add 192.168.77.0/24 dev eth0 scope link table 100
t ip route flush table 100
t ip route get 8.8.8.8 from 10.0.1.10
t ip -6 rule add from 2001:db8:b::10 lookup 100 priority 1000
t ip -6 route get 2001:4860::8888 from 2001:db8:b::10
t ip -6 route show table 100
sub "v4 rule with nonexistent table and NO main default -> error"
t ip route del default via 10.0.0.1 dev eth0
t ip route get 8.8.8.8 from 10.0.1.10
t ip -6 route del default via 2001:db8:a::1 dev eth0
t ip -6 route get 2001:4860::8888 from 2001:db8:b::10
echo; echo "# done (namespaces are removed on exit)"
