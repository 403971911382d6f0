"""JSON listings on the real kernel: every -L variant's JSON follows the
documented keys (docs/json.md) and says what the reference ipvsadm's text
listing of the same table says, token by token.

The JSON comes from our CLI in-process (`ipvsadm ... --json`, and with
`-p`), and must equal the library's (ipvs.to_json of what Client reads)."""
import io
import json
import os
import socket
import struct
import subprocess
import sys
import time

import pytest

import ipvs
from ipvs._netns import run_in_netns
from ipvs import Destination, Service

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from jsonkeys import validate_document  # noqa: E402

_FWD_TEXT = {"masq": "Masq", "local": "Local", "tunnel": "Tunnel", "route": "Route"}
_TUN_TEXT = {"nocsum": "-c", "csum": "+c", "remcsum": "r+c"}


def cli_json(args, pretty=False):
    """Our CLI's JSON document for this listing (in-process)."""
    from ipvs.cli import main
    out, err = io.StringIO(), io.StringIO()
    status = main(["ipvsadm"] + args + ["--json"] + (["-p"] if pretty else []),
                  stdout=out, stderr=err)
    assert (status, err.getvalue()) == (0, ""), args
    text = out.getvalue()
    assert text.endswith("\n") and (pretty or text.count("\n") == 1)
    return json.loads(text)


def library_json(client, args):
    stats, rate = "--stats" in args, "--rate" in args
    if "-c" in args:
        return ipvs.to_json(list(client.connections()))
    if "--timeout" in args:
        return [ipvs.to_json(client.timeouts())]
    if "--daemon" in args:
        return ipvs.to_json(client.daemons())
    if "-t" in args or "-f" in args:
        i = args.index("-t") if "-t" in args else args.index("-f")
        svc = next(s for s in client.services()
                   if (args[i] == "-f" and str(s.fwmark) == args[i + 1])
                   or (args[i] == "-t" and "%s:%d" % (s.address, s.port) == args[i + 1]))
        return [ipvs.to_json((svc, _sorted_dests(client.destinations(svc))), stats=stats, rate=rate)]
    entries = [(s, _sorted_dests(client.destinations(s))) for s in client.services()]
    entries.sort(key=lambda e: _svc_sort(e[0]))
    return ipvs.to_json(entries, stats=stats, rate=rate)


def _packed(af, a):
    return socket.inet_pton(af, a).ljust(16, b"\0")


def _sorted_dests(ds):
    return sorted(ds, key=lambda d: (_packed(d.af, d.address), d.port))


def _svc_sort(s):
    return (s.fwmark, s.af, s.protocol, _packed(s.af, s.address) if s.address else b"", s.port)


def listing(client, ref, args):
    """(our CLI's JSON, the reference's text, the library's JSON)."""
    return cli_json(args), ref(*args), library_json(client, args)


def _hp(o, port_key="port", addr_key="address"):
    a = o[addr_key]
    return ("[%s]:%d" if ":" in a else "%s:%d") % (a, o[port_key])


def service_tokens(s):
    if "fwmark" in s:
        t = ["FWM", str(s["fwmark"])] + (["IPv6"] if s["family"] == "inet6" else [])
    else:
        t = [s["protocol"].upper(), _hp(s)]
    return t


def expected_lines(doc, variant):
    """The token lists the text listing must show for this JSON."""
    lines = []
    for s in doc:
        t = service_tokens(s)
        if variant in ("stats", "rate"):
            k = ("conns", "inpkts", "outpkts", "inbytes", "outbytes") if variant == "stats" \
                else ("cps", "inpps", "outpps", "inbps", "outbps")
            t += [str(s[variant][x]) for x in k]
        else:
            t.append(s["scheduler"])
            sched_flags = [f for f in s["flags"] if f not in ("persistent", "one-packet")]
            if sched_flags:
                t.append("(%s)" % ",".join(sched_flags))
            if "persistent" in s["flags"]:
                t += ["persistent", str(s["timeout"])]
                mask = s.get("netmask", str(s.get("prefixlen")))
                if mask not in ("255.255.255.255", "128"):
                    t += ["mask", mask]
                if "pe" in s:
                    t += ["pe", s["pe"]]
            if "one-packet" in s["flags"]:
                t.append("ops")
        lines.append(t)
        for d in s["destinations"]:
            t = ["->", _hp(d)]
            if variant == "plain":
                t += [_FWD_TEXT[d["forward"]], str(d["weight"])]
            elif variant == "stats":
                t += [str(d["stats"][x]) for x in ("conns", "inpkts", "outpkts", "inbytes", "outbytes")]
            elif variant == "rate":
                t += [str(d["rate"][x]) for x in ("cps", "inpps", "outpps", "inbps", "outbps")]
            elif variant == "thresholds":
                t += [str(d["u_threshold"]), str(d["l_threshold"])]
            elif variant == "persistent":
                t += [str(d["weight"]), str(d["persistent_conns"])]
            elif variant == "tun":
                tun = d.get("tunnel")
                if tun is None:
                    info = "n/a"
                elif tun["type"] == "ipip":
                    info = "ipip"
                elif tun["type"] == "gue":
                    info = "gue:%d:%s" % (tun["port"], _TUN_TEXT[tun["flags"]])
                else:
                    info = "gre:%s" % _TUN_TEXT[tun["flags"]]
                t += [_FWD_TEXT[d["forward"]], info, str(d["weight"])]
            if variant not in ("stats", "rate"):
                t += [str(d["active_conns"]), str(d["inactive_conns"])]
            lines.append(t)
    return lines


def text_lines(text):
    out = []
    for line in text.splitlines():
        if line.startswith(("IP Virtual Server", "Prot ", "  -> RemoteAddress")):
            continue
        out.append(line.split())
    return out


def by_service(lines):
    """Service lines in order, each with its destination lines as a sorted
    list: ipvsadm orders IPv4 destinations by a 32-bit difference that
    wraps (10.79.0.1 after 192.168.1.2), which no sort key reproduces."""
    out = []
    for t in lines:
        if t[0] == "->":
            out[-1][1].append(t)
        else:
            out.append((t, []))
    return [(s, sorted(ds)) for s, ds in out]


TABLE = [
    (Service(protocol="tcp", address="10.79.0.1", port=80, scheduler="wrr",
             flags=ipvs.SVC_F_PERSISTENT, timeout=300, netmask="255.255.255.0"),
     [Destination(address="10.79.0.1", port=8082, fwd_method="masq", weight=3,
                  u_threshold=100, l_threshold=10),
      Destination(address="192.168.1.2", port=80, fwd_method="route", weight=0),
      # weight 0: the traffic below goes to the masq server only
      Destination(address="192.168.1.3", port=80, fwd_method="tunnel", tun_type="gue",
                  tun_port=6080, tun_flags=ipvs.TUN_F_REMCSUM, weight=0),
      Destination(address="192.168.1.4", port=80, fwd_method="tunnel", tun_type="gre",
                  tun_flags=ipvs.TUN_F_CSUM, weight=0),
      Destination(address="192.168.1.5", port=80, fwd_method="tunnel", weight=0)]),
    (Service(protocol="udp", address="10.79.0.1", port=5060, scheduler="wlc",
             flags=ipvs.SVC_F_PERSISTENT | ipvs.SVC_F_ONEPACKET, timeout=30, pe_name="sip"), []),
    (Service(protocol="tcp", address="2001:db8::1", port=443, scheduler="sh",
             flags=ipvs.SVC_F_SCHED1 | ipvs.SVC_F_SCHED2),
     [Destination(address="2001:db8::10", port=8443, fwd_method="masq", weight=70000)]),
    (Service(fwmark=12, af=ipvs.AF_INET6, scheduler="mh", flags=ipvs.SVC_F_PERSISTENT,
             timeout=60, netmask="64"), []),
    (Service(fwmark=3, scheduler="rr", flags=ipvs.SVC_F_ONEPACKET),
     [Destination(address="192.168.1.9", port=0, fwd_method="route")]),
    (Service(protocol="sctp", address="10.79.0.2", port=9, scheduler="lc"), []),
]


@pytest.fixture
def traffic_table(client):
    """TABLE, with real traffic through its first service (counters,
    connections) and a backup sync daemon."""
    def sh(cmd):
        subprocess.run(cmd, shell=True, check=True)
    subprocess.run("ip netns del ipvs-j", shell=True, capture_output=True)
    sh("modprobe ip_vs_pe_sip; ip netns add ipvs-j && ip link add vj0 type veth peer name vj1 netns ipvs-j")
    sh("ip addr add 10.79.0.1/24 dev vj0 && ip link set vj0 up")
    sh("ip -n ipvs-j addr add 10.79.0.9/24 dev vj1 && ip -n ipvs-j link set vj1 up")
    srv = socket.socket()
    try:
        client.apply(TABLE)
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind(("10.79.0.1", 8082))
        srv.listen(8)

        client.test_ports = set()  # entries of earlier runs may linger

        def connect():
            for _ in range(3):
                c = socket.create_connection(("10.79.0.1", 80), timeout=5)
                client.test_ports.add(c.getsockname()[1])
                c.sendall(b"hello")
                c.close()
        run_in_netns("ipvs-j", connect)
        deadline = time.monotonic() + 10
        while client.services()[0].stats.conns < 3 and time.monotonic() < deadline:
            time.sleep(0.5)
        client.start_daemon(ipvs.SyncDaemon(state="backup", mcast_ifn="lo", syncid=7))
        yield client
    finally:
        srv.close()
        subprocess.run("ip netns del ipvs-j; ip link del vj0", shell=True, capture_output=True)


VARIANTS = [
    (["-L", "-n"], "plain"), (["-L", "-n", "--stats", "--exact"], "stats"),
    (["-L", "-n", "--stats"], "stats"),
    (["-L", "-n", "--rate", "--exact"], "rate"), (["-L", "-n", "--thresholds"], "thresholds"),
    (["-L", "-n", "--persistent-conn"], "persistent"), (["-L", "-n", "--tun-info"], "tun"),
    (["-L", "-n", "-t", "10.79.0.1:80"], "plain"), (["-L", "-n", "-f", "3"], "plain"),
    (["-L", "-n", "--sort"], "plain"),
]


def test_json_of_every_listing_matches_the_text(traffic_table, ref):
    """Every -L variant; then -c, --timeout, --daemon."""
    client = traffic_table
    for args, variant in VARIANTS:
        for _ in range(5):  # rates are estimates the kernel updates every 2 s
            doc, text, lib = listing(client, ref, args)
            if by_service(expected_lines(doc, variant)) == by_service(text_lines(text)):
                break
        validate_document(doc, "service")
        assert by_service(expected_lines(doc, variant)) == by_service(text_lines(text)), args
        if "--rate" not in args:  # rates are estimates that move
            assert doc == lib, args
            assert cli_json(args, pretty=True) == doc, args
        if "--stats" in args:
            assert doc[0]["stats"]["conns"] == 3 and doc[0]["stats"]["inbytes"] > 0
    out = os.environ.get("IPVS_VM_OUT")
    if out:  # for the record: our text and the reference's, same table
        with open(os.path.join(out, "json-Ln-ours.txt"), "w") as f:
            from ipvs.cli import main
            main(["ipvsadm", "-L", "-n"], stdout=f, stderr=io.StringIO())
        with open(os.path.join(out, "json-Ln-ref.txt"), "w") as f:
            f.write(ref("-L", "-n"))
    # without -n the text shows names; the JSON stays numeric and the same
    assert cli_json(["-L"]) == cli_json(["-L", "-n"])
    unsorted = cli_json(["-l", "--nosort", "--exact"])

    def canon(doc):
        return sorted(json.dumps(dict(s, destinations=sorted(map(json.dumps, s["destinations"]))))
                      for s in doc)
    assert canon(unsorted) == canon(cli_json(["-L", "-n"]))
    assert [s.get("port", 0) for s in unsorted] == [s.port for s in client.services()]
    assert cli_json(["-S", "-n"]) == cli_json(["-L", "-n"])
    # the same table's connections, timeouts and daemon
    check_connections_timeouts_daemons(client, ref)


def check_connections_timeouts_daemons(client, ref):
    doc, text, _ = listing(client, ref, ["-L", "-n", "-c"])
    validate_document(doc, "connection")
    validate_document(cli_json(["-L", "-c"], pretty=True), "connection")
    # this test's connections (the table may hold others, expiring meanwhile)
    ports = client.test_ports
    doc = [c for c in doc if c["source_port"] in ports]
    rows = [line.split() for line in text.splitlines()[2:]]
    rows = [r for r in rows if int(r[3].rsplit(":", 1)[1]) in ports]
    assert len(doc) == len(rows) == 3
    got = sorted((r[0], r[2], r[3], r[4], r[5]) for r in rows)
    want = sorted((c["protocol"].upper(), c["state"], _hp(c, "source_port", "source"),
                   _hp(c, "virtual_port", "virtual"), _hp(c, "destination_port", "destination"))
                  for c in doc)
    assert got == want
    for c, r in zip(sorted(doc, key=lambda c: c["source_port"]),
                    sorted(rows, key=lambda r: int(r[3].rsplit(":", 1)[1]))):
        mm, ss = r[1].split(":")
        assert abs(int(mm) * 60 + int(ss) - c["expires"]) <= 2
    doc, text, _ = listing(client, ref, ["-L", "--timeout"])
    validate_document(doc, "timeouts")
    assert text.split() == ["Timeout", "(tcp", "tcpfin", "udp):",
                            str(doc[0]["tcp"]), str(doc[0]["tcp_fin"]), str(doc[0]["udp"])]
    doc, text, _ = listing(client, ref, ["-L", "--daemon"])
    validate_document(doc, "daemon")
    (d,) = doc
    assert text.startswith("backup sync daemon (mcast=lo, syncid=7, maxlen=%d, group=%s, "
                           "port=%d, ttl=%d)" % (d["sync_maxlen"], d["mcast_group"],
                                                 d["mcast_port"], d["mcast_ttl"]))
