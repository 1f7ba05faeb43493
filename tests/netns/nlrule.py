#!/usr/bin/env python3
"""Adds a policy rule over raw netlink (iproute2 6.1 cannot say dscp/flowlabel):
nlrule.py FAMILY(4|6) PRIO TABLE [dscp D[/M]] [flowlabel L[/M]] """
import socket, struct, sys, os
fam = socket.AF_INET if sys.argv[1] == "4" else socket.AF_INET6
prio, table = int(sys.argv[2]), int(sys.argv[3])
args = sys.argv[4:]
def attr(t, data):
    l = 4 + len(data)
    return struct.pack("HH", l, t) + data + b"\0" * ((4 - l % 4) % 4)
FRA_PRIORITY, FRA_TABLE, FRA_DSCP, FRA_FLOWLABEL, FRA_FLOWLABEL_MASK, FRA_DSCP_MASK = 6, 15, 25, 26, 27, 30
attrs = attr(FRA_PRIORITY, struct.pack("I", prio)) + attr(FRA_TABLE, struct.pack("I", table))
i = 0
while i < len(args):
    k, v = args[i], args[i + 1]; i += 2
    val, _, mask = v.partition("/")
    if k == "dscp":
        attrs += attr(FRA_DSCP, struct.pack("B", int(val, 0)))
        if mask: attrs += attr(FRA_DSCP_MASK, struct.pack("B", int(mask, 0)))
    elif k == "flowlabel":
        attrs += attr(FRA_FLOWLABEL, struct.pack(">I", int(val, 0)))
        if mask: attrs += attr(FRA_FLOWLABEL_MASK, struct.pack(">I", int(mask, 0)))
# fib_rule_hdr: family dst_len src_len tos table res1 res2 action(FR_ACT_TO_TBL=1) flags
hdr = struct.pack("BBBBBBBBI", fam, 0, 0, 0, 252 if table > 255 else table, 0, 0, 1, 0)
body = hdr + attrs
msg = struct.pack("IHHII", 16 + len(body), 32, 1 | 4 | 0x400 | 0x200, 1, 0) + body
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
s.bind((0, 0)); s.send(msg)
r = s.recv(65536)
err = struct.unpack("i", r[16:20])[0]
if err != 0:
    print(f"netlink error {err}: {os.strerror(-err)}", file=sys.stderr); sys.exit(1)
