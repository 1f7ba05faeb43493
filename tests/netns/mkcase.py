#!/usr/bin/env python3
"""Builds a fresh namespace pair aro-fid-<n>/-p from a spec, captures its
dumps and the kernel's `ip -j route get` answers into a kernel-case folder
(tests/kernel-cases/handmade-*; see tests/netns/README.md). Run as root; ARO_NS_PREFIX replaces the namespace prefix.
spec: {"name", "description", "setup": [ip commands run in the host ns ("ip ..." or "sysctl ...")],
       "sysctl_keys": [regex], "flows": [{"flow": FlowSpec, "note": str?}]}"""
import json, re, subprocess, sys, os
spec = json.load(open(sys.argv[1])); out = sys.argv[2]
ns = os.environ.get("ARO_NS_PREFIX", "aro-fid-") + spec["name"][:20]; peer = ns + "-p"
def sh(cmd, check=True):
    r = subprocess.run(cmd, shell=True, capture_output=True, text=True)
    if check and r.returncode != 0:
        raise SystemExit(f"{cmd}: {r.stderr}")
    return r
os.makedirs(out, exist_ok=True)
sh(f"ip netns add {ns}"); sh(f"ip netns add {peer}")
try:
    setup = []
    for c in spec["setup"]:
        c = c.replace("PEER", peer)
        setup.append(c)
        sh(f"ip netns exec {ns} {c}")
    dumps = {"ip_addr.txt": "ip addr", "ip_rule.txt": "ip rule", "ip6_rule.txt": "ip -6 rule",
             "ip_route.txt": "ip route show table all", "ip6_route.txt": "ip -6 route show table all"}
    for f, c in dumps.items():
        open(f"{out}/{f}", "w").write(sh(f"ip netns exec {ns} {c}").stdout)
    open(f"{out}/setup.txt", "w").write(f"# {spec['description']}\n# built by hand in namespace {ns} (peer {peer}), kernel {os.uname().release}\n" + "\n".join(setup) + "\n")
    open(f"{out}/uname", "w").write(sh("uname -r").stdout)
    if spec.get("sysctl_keys"):
        lines = sh(f"ip netns exec {ns} sysctl -a").stdout.splitlines()
        keep = [l for l in lines if any(re.search(k, l.split(" = ")[0]) for k in spec["sysctl_keys"])]
        open(f"{out}/sysctl.txt", "w").write("\n".join(keep) + "\n")
    cases = []
    for fc in spec["flows"]:
        f = fc["flow"]
        cmd = f"route get to {f['dst']}"
        if "src" in f: cmd += f" from {f['src']}"
        if "iif" in f: cmd += f" iif {f['iif']}"
        if "oif" in f: cmd += f" oif {f['oif']}"
        if "mark" in f: cmd += f" mark {f['mark']:#x}"
        if "tos" in f: cmd += f" tos {f['tos']:#04x}"
        if ":" in f["dst"] and "iif" in f and "uid" not in f: cmd += " uid 0"
        if "ipproto" in f: cmd += f" ipproto {f['ipproto']}"
        if "tcp_dport" in f: cmd += f" ipproto tcp dport {f['tcp_dport']}"
        if "sport" in f: cmd += f" sport {f['sport']}"
        if "dport" in f: cmd += f" dport {f['dport']}"
        r = sh(f"ip -n {ns} -j {cmd}", check=False)
        ans = {}
        if r.returncode != 0:
            m = re.search(r"RTNETLINK answers: (.*)", r.stderr) or re.search(r"Error: (.*?)\.?$", r.stderr.strip())
            ans["error"] = m.group(1).strip() if m else r.stderr.strip()
        else:
            o = json.loads(r.stdout)[0]
            ans["type"] = o.get("type", "unicast")
            for k in ("dev", "gateway", "prefsrc", "table"):
                if k in o: ans[k] = o[k]
        case = {"flow": f, "kernel": ans}
        if fc.get("note"): case["note"] = fc["note"]
        cases.append(case)
        print(f"ip {cmd}: {ans}")
    with open(f"{out}/cases.json", "w") as fh:
        fh.write('{"description": ' + json.dumps(spec["description"]) + ',\n"cases": [\n')
        fh.write(",\n".join(json.dumps(c, separators=(",", ":")) for c in cases))
        fh.write("\n]}\n")
finally:
    sh(f"ip netns del {ns}", check=False); sh(f"ip netns del {peer}", check=False)
