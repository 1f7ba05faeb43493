#!/usr/bin/env bash
# Builds the large hosts of the scale benchmark (`cargo bench --bench hosts`,
# tests/bench/hosts.rs) in network namespaces and writes each one's real
# iproute2 dumps into a plain host folder:
#
#   tests/bench/big-hosts.sh OUT KIND SIZE
#
#   bgp N       a router with N IPv4 routes (and N/5 IPv6) learnt from 3
#               gateways on 3 links (proto bgp), plus a default route
#   ecmp N      the same table, each route multipath over 2 gateways on 2
#               links (BGP multipath: `nexthop via … nexthop via …`)
#   ecmp4 N     the same over 4 gateways on 3 links (two on eth0), the
#               issue's widest full table
#   bgpedge N   bgp with EDGE_LINKS (default 40) customer links, each with
#               an IPv4 /24 and an IPv6 /64 of its own
#   bgptables N a multihomed router: each of the 3 upstreams' full table
#               (the same N IPv4 and N/5 IPv6 prefixes) in a table of its
#               own (101-103, via that upstream), chosen by a rule per
#               address (`from 10.K.0.2 lookup 10K+1`); main has the links
#               and a default only
#   fabric N    a leaf switch of a BGP fabric: 16 uplinks (/31s) and N /32
#               routes, each multipath over all 16 (`nexthop via …` × 16)
#   fabricnh N  the same through nexthop objects, as FRR installs them: a
#               group of the 16 (`ip nexthop`), each route `nhid` of it
#   rules N     an EKS node with the AWS VPC CNI: 4 ENIs with their own
#               tables, N/2 pods (/32 routes to eni* links) and N rules
#               (`to POD lookup main` and `from POD lookup ENI`)
#   addrs N     N addresses on N/20 links (20 per link, 5 subnets per link)
#   mpaddrs N   the same, with a multipath default route behind the plain
#               one (metric 10): every primary address is answered apart
#   srcaddrs N  source routing per address: N secondary addresses on eth1,
#               each with its own rule (`from ADDR lookup T`) and table T
#               (the link's subnet and a default via its gateway)
#   srcroutes N the same, and each table also holds a route of its own
#               (172.16.0.0/12 cut into one /32 per table, via the gateway):
#               the tables differ, so no two addresses answer alike
#   v6srcroutes N  N IPv6 addresses on eth1, each with its own rule and
#               table (the link's /64, a default by eth0's router: replies
#               leak) holding a /128 of its own in 2001:db8:99::/64 by eth1
#   v6srcsel N  v6srcroutes with `fwmark 0x1` on every address's rule (a
#               selector the dumps cannot settle) and a source route in
#               main holding the tables' /128s (`2001:db8:99::/48 from
#               2001:db8:1::/64 via … dev eth1`): every answer there depends
#               on the address itself
#   mpsrcsel N  srcroutes with each address a /32 primary of its own, the
#               rules with `fwmark 0x1`, and a two-way multipath route in
#               main holding the tables' /32s (172.16.0.0/12 by both links):
#               IPv4 multipath prefers the legs whose source is the reply's
#   vips N      N /32 addresses on lo (a load balancer's or anycast
#               host's service addresses, each a primary of its own) and a
#               default route multipath over 2 uplinks
#   linkvips N  the same with the addresses on eth1: each an endpoint
#               whose replies IPv4 multipath answers by its own address
#   v6src N     N IPv6 addresses on eth1 under one IPv6 source route
#               (`2001:db8:99::/48 from 2001:db8:1::/64 via … dev eth1`), the
#               default by eth0: every address answers by itself
#   v6links N   N/20 links, each with an IPv4 /24 and 20 IPv6 addresses in
#               its own /64, and an IPv6 default by its router (metric 1024
#               + link number): each link's replies leak by every other
#   v6shared N  v6links with every tenth link (5, 15, …) also holding the
#               first address of the link five before it: those two links'
#               fixes change each other's replies (refused), N/100 pairs
#   ppp N       a BRAS or VPN concentrator: N point-to-point sessions (veth
#               standing in for ppp), each `10.255.0.1 peer 100.64.X.Y/32`
#               (one local address on every link, as accel-ppp gives it),
#               every fourth with a framed route (a /29 via its peer), and
#               the default by eth0
#
# Namespaces are named aro-bh-*; an EXIT trap deletes the one this run made.
# Nothing is sent: links are veth pairs into a peer namespace, nothing pings.
set -euo pipefail
out=$1 kind=$2 n=$3
ns=aro-bh-$kind-$$
cleanup() { ip netns del "$ns" 2>/dev/null || true; ip netns del "$ns-p" 2>/dev/null || true; }
trap cleanup EXIT
ip netns add "$ns"
# Links are veth pairs whose other ends live in a peer namespace (this
# kernel may lack the dummy driver); the peer ends are up (carrier) with
# IPv6 off there, and no address.
ip netns add "$ns-p"
ip netns exec "$ns-p" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
peers_up() { ip -n "$ns-p" -br link | awk '$1 != "lo" {sub(/@.*/, "", $1); print "link set " $1 " up"}' | ip -n "$ns-p" -batch -; }
x() { ip -n "$ns" "$@"; }
batch=$(mktemp)
trap 'cleanup; rm -f "$batch"' EXIT
x link set lo up
sysctl_ns() { ip netns exec "$ns" sysctl -qw "$@"; }
sysctl_ns net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
# A leaf switch's 16 uplinks swp0..swp15, each 10.254.K.1/31 (the spine at .0).
uplinks16() {
  : > "$batch"
  for ((i = 0; i < 16; i++)); do
    echo "link add swp$i type veth peer name p$i netns $ns-p" >> "$batch"
  done
  x -batch "$batch"
  : > "$batch"
  for ((i = 0; i < 16; i++)); do
    printf 'link set swp%d up\naddr add 10.254.%d.1/31 dev swp%d\n' $i $i $i >> "$batch"
  done
  x -batch "$batch"
}

case $kind in
bgp|ecmp|ecmp4|bgpedge|bgptables)
  for i in 0 1 2; do
    x link add eth$i type veth peer name p$i netns "$ns-p"
    x addr add 10.$i.0.2/24 dev eth$i
    x addr add 2001:db8:$i::2/64 dev eth$i nodad
    x link set eth$i up
  done
  if [ "$kind" = bgpedge ]; then
    # An edge router's customer links: each a subnet of its own, no route
    # through it (every reply to the table leaves by an uplink).
    for ((l = 0; l < ${EDGE_LINKS:-40}; l++)); do
      x link add vl$l type veth peer name c$l netns "$ns-p"
      x addr add 172.16.$l.1/24 dev vl$l
      x addr add 2001:db8:100:$l::1/64 dev vl$l nodad
      x link set vl$l up
    done
  fi
  x route add default via 10.0.0.1 dev eth0 proto static
  x -6 route add default via 2001:db8:0::1 dev eth0 proto static
  tables=0
  if [ "$kind" = bgptables ]; then
    tables=1
    for i in 0 1 2; do
      x rule add from 10.$i.0.2 lookup $((101 + i)) priority $((1000 + i))
      x -6 rule add from 2001:db8:$i::2 lookup $((101 + i)) priority $((1000 + i))
      x route add default via 10.$i.0.1 dev eth$i table $((101 + i)) proto static
      x -6 route add default via 2001:db8:$i::1 dev eth$i table $((101 + i)) proto static
    done
  fi
  # Prefixes as a BGP table has them: mostly /24s, some shorter, nested;
  # deterministic (an LCG); duplicates are replaced.
  mp=0
  case $kind in ecmp) mp=2 ;; ecmp4) mp=4 ;; esac
  awk -v n="$n" -v mp="$mp" -v tables="$tables" 'function rnd(m) { s = (s * 69069 + 1) % 4294967296; return int(s / 65536) % m }
  BEGIN {
    s = 12345
    for (k = 0; k < n; k++) {
      r = rnd(100)
      plen = r < 55 ? 24 : r < 70 ? 23 : r < 80 ? 22 : r < 90 ? 17 + rnd(5) : 8 + rnd(9)
      a = 11 + rnd(212); if (a == 127) a = 128
      ip = a * 16777216 + rnd(256) * 65536 + rnd(256) * 256
      m = 2 ^ (32 - plen); ip = int(ip / m) * m
      g = rnd(3)
      # iproute2 takes the route attributes before the nexthops.
      if (mp == 2) via = "proto bgp metric 20 nexthop via 10.0.0.1 dev eth0 nexthop via 10.1.0.1 dev eth1"
      else if (mp == 4) via = "proto bgp metric 20 nexthop via 10.0.0.1 dev eth0 nexthop via 10.0.0.3 dev eth0 nexthop via 10.1.0.1 dev eth1 nexthop via 10.2.0.1 dev eth2"
      else via = sprintf("via 10.%d.0.1 dev eth%d proto bgp metric 20", g, g)
      p4 = sprintf("%d.%d.%d.%d/%d", int(ip / 16777216), int(ip / 65536) % 256, int(ip / 256) % 256, ip % 256, plen)
      if (tables)
        for (t = 0; t < 3; t++) printf "route replace %s via 10.%d.0.1 dev eth%d table %d proto bgp metric 20\n", p4, t, t, 101 + t
      else printf "route replace %s %s\n", p4, via
    }
    for (k = 0; k < n / 5; k++) {
      plen = 29 + rnd(20)
      a = 8192 + rnd(4096); b = rnd(65536); c = rnd(65536)
      if (plen <= 32) { m = 2 ^ (32 - plen); b = int(b / m) * m; c = 0 } else { m = 2 ^ (48 - plen); c = int(c / m) * m }
      g = rnd(3)
      if (mp == 2) via = "proto bgp metric 20 nexthop via 2001:db8:0::1 dev eth0 nexthop via 2001:db8:1::1 dev eth1"
      else if (mp == 4) via = "proto bgp metric 20 nexthop via 2001:db8:0::1 dev eth0 nexthop via 2001:db8:0::3 dev eth0 nexthop via 2001:db8:1::1 dev eth1 nexthop via 2001:db8:2::1 dev eth2"
      else via = sprintf("via 2001:db8:%d::1 dev eth%d proto bgp metric 20", g, g)
      p6 = sprintf("%x:%x:%x::/%d", a, b, c, plen)
      if (tables)
        for (t = 0; t < 3; t++) printf "route replace %s via 2001:db8:%d::1 dev eth%d table %d proto bgp metric 20\n", p6, t, t, 101 + t
      else printf "route replace %s %s\n", p6, via
    }
  }' > "$batch"
  x -batch "$batch"
  ;;
rules)
  for i in 0 1 2 3; do
    x link add eth$i type veth peer name p$i netns "$ns-p"
    x addr add 10.$i.0.$((10 + i))/16 dev eth$i
    x link set eth$i up
  done
  x route add default via 10.0.0.1 dev eth0
  pods=$((n / 2)) links=$(( (n / 2 + 149) / 150 ))
  for ((l = 0; l < links; l++)); do printf 'link add eni%011x type veth peer name q%d netns %s\nlink set eni%011x up\n' "$l" "$l" "$ns-p" "$l"; done > "$batch"
  x -batch "$batch"
  for i in 1 2 3; do
    x route add 10.$i.0.0/16 dev eth$i table $((i + 1)) scope link
    x route add default via 10.$i.0.1 dev eth$i table $((i + 1))
  done
  : > "$batch"
  for ((p = 0; p < pods; p++)); do
    e=$((1 + p % 3)); h=$((256 + p / 3))
    a=10.$e.$((h / 256)).$((h % 256))
    printf 'route add %s dev eni%011x scope link\nrule add to %s lookup main prio 512\nrule add from %s lookup %d prio 1536\n' \
      "$a" $((p / 150)) "$a" "$a" $((e + 1)) >> "$batch"
  done
  x -batch "$batch"
  ;;
addrs|mpaddrs)
  links=$((n / 20))
  : > "$batch"
  for ((l = 0; l < links; l++)); do
    printf 'link add dum%d type veth peer name p%d netns %s\nlink set dum%d up\n' "$l" "$l" "$ns-p" "$l" >> "$batch"
    for ((k = 0; k < 20; k++)); do
      # 5 subnets per link, 4 addresses each (the first primary).
      printf 'addr add 10.%d.%d.%d/24 dev dum%d\n' $((l / 50)) $(( (l % 50) * 5 + k / 4)) $((10 + k % 4)) "$l" >> "$batch"
    done
  done
  x -batch "$batch"
  x route add default via 10.0.0.1 dev dum0
  if [ "$kind" = mpaddrs ]; then
    x route add default proto static metric 10 nexthop via 10.0.0.1 dev dum0 nexthop via 10.0.5.1 dev dum1
  fi
  ;;
srcaddrs|srcroutes|mpsrcsel)
  for i in 0 1; do
    x link add eth$i type veth peer name p$i netns "$ns-p"
    x addr add 10.$i.0.10/16 dev eth$i
    x link set eth$i up
  done
  x route add default via 10.0.0.1 dev eth0
  : > "$batch"
  plen=16 sel=
  [ "$kind" = mpsrcsel ] && plen=32 sel="fwmark 0x1"
  for ((k = 0; k < n; k++)); do
    h=$((20 + k)) t=$((1000 + k))
    a=10.1.$((h / 256)).$((h % 256))
    printf 'addr add %s/%d dev eth1\nrule add from %s %s lookup %d prio %d\nroute add 10.1.0.0/16 dev eth1 table %d\nroute add default via 10.1.0.1 dev eth1 table %d\n' \
      "$a" $plen "$a" "$sel" $t $((1000 + k)) $t $t >> "$batch"
    if [ "$kind" != srcaddrs ]; then
      printf 'route add 172.%d.%d.%d/32 via 10.1.0.1 dev eth1 table %d\n' $((16 + k / 65536)) $((k / 256 % 256)) $((k % 256)) $t >> "$batch"
    fi
  done
  x -batch "$batch"
  if [ "$kind" = mpsrcsel ]; then
    x route add 172.16.0.0/12 proto static metric 10 nexthop via 10.0.0.1 dev eth0 nexthop via 10.1.0.1 dev eth1
  fi
  ;;
v6srcroutes|v6srcsel)
  for i in 0 1; do
    x link add eth$i type veth peer name p$i netns "$ns-p"
    x -6 addr add 2001:db8:$i::10/64 dev eth$i nodad
    x link set eth$i up
  done
  x addr add 10.0.0.10/16 dev eth0
  x -6 route add default via 2001:db8::1 dev eth0
  sel=
  [ "$kind" = v6srcsel ] && sel="fwmark 0x1"
  : > "$batch"
  for ((k = 0; k < n; k++)); do
    t=$((1000 + k)) a=$(printf '2001:db8:1::%x' $((k + 256)))
    printf 'addr add %s/64 dev eth1 nodad\nrule add from %s %s lookup %d prio %d\nroute add 2001:db8:1::/64 dev eth1 table %d\nroute add default via 2001:db8::1 dev eth0 table %d\nroute add 2001:db8:99::%x/128 via 2001:db8:1::1 dev eth1 table %d\n' \
      "$a" "$a" "$sel" $t $t $t $t $((k + 16)) $t >> "$batch"
  done
  x -6 -batch "$batch"
  if [ "$kind" = v6srcsel ]; then
    x -6 route add 2001:db8:99::/48 from 2001:db8:1::/64 via 2001:db8:1::1 dev eth1
  fi
  ;;
v6src)
  for i in 0 1; do
    x link add eth$i type veth peer name p$i netns "$ns-p"
    x link set eth$i up
  done
  x addr add 10.0.0.10/16 dev eth0
  x -6 addr add 2001:db8::10/64 dev eth0 nodad
  : > "$batch"
  for ((k = 0; k < n; k++)); do
    printf 'addr add 2001:db8:1::%x/64 dev eth1 nodad\n' $((k + 16)) >> "$batch"
  done
  x -batch "$batch"
  x -6 route add default via 2001:db8::1 dev eth0
  x -6 route add 2001:db8:99::/48 from 2001:db8:1::/64 via 2001:db8:1::1 dev eth1
  ;;
vips|linkvips)
  dev=lo
  [ "$kind" = linkvips ] && dev=eth1
  for i in 0 1; do
    x link add eth$i type veth peer name p$i netns "$ns-p"
    x addr add 10.$i.0.10/24 dev eth$i
    x link set eth$i up
  done
  : > "$batch"
  for ((k = 0; k < n; k++)); do
    printf 'addr add 192.0.%d.%d/32 dev %s\n' $((k / 256 % 256)) $((k % 256)) $dev >> "$batch"
  done
  # Past 65,536 addresses: 198.18/15 goes on.
  sed -i -E '65537,$ s/192\.0\./198.18./' "$batch"
  x -batch "$batch"
  x route add default proto static nexthop via 10.0.0.1 dev eth0 nexthop via 10.1.0.1 dev eth1
  ;;
v6links|v6shared)
  links=$((n / 20))
  : > "$batch"
  for ((l = 0; l < links; l++)); do
    echo "link add eth$l type veth peer name p$l netns $ns-p" >> "$batch"
  done
  x -batch "$batch"
  : > "$batch"
  for ((l = 0; l < links; l++)); do
    echo "link set eth$l up" >> "$batch"
    printf 'addr add 10.%d.%d.10/24 dev eth%d\n' $((l / 256)) $((l % 256)) $l >> "$batch"
    for ((k = 0; k < 20; k++)); do
      printf 'addr add 2001:db8:%x::%x/64 dev eth%d nodad\n' $l $((k + 16)) $l >> "$batch"
    done
    if [[ $kind == v6shared ]] && ((l % 10 == 5)); then
      printf 'addr add 2001:db8:%x::10/64 dev eth%d nodad\n' $((l - 5)) $l >> "$batch"
    fi
  done
  x -batch "$batch"
  : > "$batch"
  for ((l = 0; l < links; l++)); do
    printf 'route add default via fe80::1 dev eth%d metric %d\n' $l $((1024 + l)) >> "$batch"
  done
  x -6 -batch "$batch"
  x route add default via 10.0.0.1 dev eth0
  ;;
ppp)
  x link add eth0 type veth peer name p0 netns "$ns-p"
  x addr add 198.51.100.10/24 dev eth0
  x link set eth0 up
  : > "$batch"
  for ((l = 0; l < n; l++)); do
    echo "link add ppp$l type veth peer name q$l netns $ns-p" >> "$batch"
  done
  x -batch "$batch"
  : > "$batch"
  for ((l = 0; l < n; l++)); do
    h=$((l + 2))
    printf 'link set ppp%d up\naddr add 10.255.0.1 peer 100.64.%d.%d/32 dev ppp%d\n' $l $((h / 256)) $((h % 256)) $l >> "$batch"
  done
  x -batch "$batch"
  : > "$batch"
  for ((l = 0; l < n; l += 4)); do
    h=$((l + 2)) o=$((l * 2))
    printf 'route add 100.96.%d.%d/29 via 100.64.%d.%d dev ppp%d proto static\n' $((o / 256)) $((o % 256)) $((h / 256)) $((h % 256)) $l >> "$batch"
  done
  x -batch "$batch"
  x route add default via 198.51.100.1 dev eth0
  ;;
fabric)
  uplinks16
  nh=
  for ((i = 0; i < 16; i++)); do nh+=" nexthop via 10.254.$i.0 dev swp$i"; done
  awk -v n="$n" -v nh="$nh" 'BEGIN {
    for (k = 0; k < n; k++)
      printf "route add 10.%d.%d.%d/32 proto bgp metric 20%s\n", 100 + int(k / 65536), int(k / 256) % 256, k % 256, nh
  }' > "$batch"
  # The peers must be up for the gateways to be reachable.
  peers_up
  x -batch "$batch"
  ;;
fabricnh)
  uplinks16
  peers_up
  grp=
  : > "$batch"
  for ((i = 0; i < 16; i++)); do
    printf 'nexthop add id %d via 10.254.%d.0 dev swp%d\n' $((i + 1)) $i $i >> "$batch"
    grp+="${grp:+/}$((i + 1))"
  done
  echo "nexthop add id 100 group $grp" >> "$batch"
  x -batch "$batch"
  awk -v n="$n" 'BEGIN {
    for (k = 0; k < n; k++)
      printf "route add 10.%d.%d.%d/32 nhid 100 proto bgp metric 20\n", 100 + int(k / 65536), int(k / 256) % 256, k % 256
  }' > "$batch"
  x -batch "$batch"
  ;;
*) echo "unknown kind $kind" >&2; exit 2 ;;
esac

peers_up
mkdir -p "$out"
# A dump the kernel interrupts (addresses or routes changing under it, as
# links come up) may miss records: iproute2 says so on stderr. Taken again.
dump() {
  local f=$1 try
  shift
  for try in 1 2 3 4 5; do
    if x "$@" > "$f" 2> "$f.err" && ! grep -q "Dump was interrupted" "$f.err"; then
      rm -f "$f.err"
      return
    fi
    sleep 1
  done
  cat "$f.err" >&2
  rm -f "$f.err"
  echo "big-hosts.sh: $f: the dump was interrupted five times" >&2
  exit 1
}
dump "$out/ip_addr.txt" addr
dump "$out/ip_rule.txt" rule
dump "$out/ip6_rule.txt" -6 rule
dump "$out/ip_route.txt" -4 route show table all
dump "$out/ip6_route.txt" -6 route show table all
