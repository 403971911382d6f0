"""Both decoders on live kernel replies (in the VM): a dump of a few
thousand destinations across IPv4/IPv6/fwmark/tunnel services, and a
connection table filled through a backup sync daemon. The records must be
identical, and agree with the reference ipvsadm's counts."""
import os
import socket
import struct
import subprocess
import time

import pytest

from ipvs import _client, _conns, _decode_py

try:
    from ipvs import _decode_c
except ImportError:
    _decode_c = None

pytestmark = pytest.mark.skipif(_decode_c is None, reason="C decoder not built")
REFERENCE = "/usr/sbin/ipvsadm"


def restore(lines):
    p = subprocess.run([REFERENCE, "-R"], input="\n".join(lines) + "\n", text=True,
                       capture_output=True)
    assert p.returncode == 0, p.stderr


def records(c, impl, monkeypatch):
    monkeypatch.setattr(_client, "decode_services", impl.decode_services)
    monkeypatch.setattr(_client, "decode_dests", impl.decode_dests)
    svcs = c.service_records()
    return svcs, [c.destination_records(_client.service_from_record(s)) for s in svcs]


def test_live_dumps_identical(client, monkeypatch):
    lines = ["-A -t 10.30.0.1:80 -s wrr", "-A -t [2001:db8::30]:443 -s sh -p 60",
             "-A -f 7 -s rr", "-A -u 10.30.0.2:53 -s rr -p 30 --pe sip"]
    for i in range(1500):
        lines.append("-a -t 10.30.0.1:80 -r 10.31.%d.%d:8080 -m -w %d" % (i // 256, i % 256, i % 9))
    for i in range(200):
        lines.append("-a -t [2001:db8::30]:443 -r [2001:db8::1:%x]:443 -g" % i)
    for i in range(50):
        lines.append("-a -f 7 -r 10.32.0.%d:0 -i --tun-type gue --tun-port %d --tun-csum"
                     % (i + 1, 6000 + i))
    lines.append("-a -u 10.30.0.2:53 -r 10.33.0.1:53 -m")
    restore(lines)
    c_svcs, c_dests = records(client, _decode_c, monkeypatch)
    p_svcs, p_dests = records(client, _decode_py, monkeypatch)
    assert c_svcs == p_svcs and c_dests == p_dests
    assert sorted(len(d) for d in c_dests) == [1, 50, 200, 1500]
    listing = subprocess.run([REFERENCE, "-Ln"], capture_output=True, text=True).stdout
    assert listing.count("  -> ") - 1 == 1751  # less the column header line


def sync_fill(n4, n6, npe):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("127.0.0.1"))
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)

    def send(entries):
        body = b"".join(entries)
        s.sendto(struct.pack("!BBHBbH", 0, 0, 8 + len(body), len(entries), 1, 0) + body,
                 ("224.0.0.81", 8848))

    def v4(i, proto=6, flags=0, opts=b""):
        # a short timeout: the entries are gone soon after the test
        return struct.pack("!BBHIHHHHIIIII", 0, proto, 36 + len(opts), flags, 1 if proto == 6 else 0,
                           1024 + i, 80, 8080, 0, 30, 0xC6336400 + i, 0x0A1E0001,
                           0x0A1F0000 + i % 200) + opts

    def v6(i):
        a = lambda t: socket.inet_pton(socket.AF_INET6, t)
        return struct.pack("!BBHIHHHHII16s16s16s", 1, 6, 72, 0, 1, 2048 + i, 443, 443, 0, 30,
                           a("2001:db8::5:%x" % i), a("2001:db8::30"), a("2001:db8::1:%x" % (i % 50)))

    for k in range(0, n4, 40):
        send([v4(i, proto=6 if i % 2 else 17) for i in range(k, min(n4, k + 40))])
    for k in range(0, n6, 20):
        send([v6(i) for i in range(k, min(n6, k + 20))])
    for i in range(npe):
        data = b"live-%012d" % i  # 17 bytes: keeps the entry 4-byte aligned
        send([v4(5000 + i, proto=17, flags=0x1000,
                 opts=bytes([3, 3]) + b"sip" + bytes([2, len(data)]) + data)])


def test_live_connections_identical(client):
    subprocess.run("modprobe ip_vs_pe_sip; ip link set lo up; ip link set lo multicast on;"
                   " ip route add 224.0.0.0/4 dev lo; sysctl -qw net.ipv4.vs.sync_sock_size=16777216",
                   shell=True)
    subprocess.run([REFERENCE, "--start-daemon", "backup", "--mcast-interface", "lo",
                    "--syncid", "0"], check=True)
    time.sleep(1)
    sync_fill(800, 100, 20)
    time.sleep(1)
    with open("/proc/net/ip_vs_conn", "rb") as f:
        text = f.read()
    c_recs, used = _decode_c.decode_conns(text, True)
    c_recs = list(c_recs)
    assert used == len(text)
    assert c_recs == list(_decode_py.decode_conns(text, True)[0])
    ours = {r[2] for r in c_recs}
    assert {"198.51.100.%d" % i for i in range(1, 200)} <= ours
    assert "2001:db8::5:63" in ours
    pe = [r for r in c_recs if r[10] == "sip"]
    assert len(pe) == 20 and pe[0][11].startswith("live-")
    # the streaming reader sees the same table (entries may expire meanwhile)
    streamed = list(_conns.iter_connection_records())
    assert abs(len(streamed) - len(c_recs)) <= len(c_recs) // 10
    ref = subprocess.run([REFERENCE, "-Lnc"], capture_output=True, text=True).stdout
    assert abs((ref.count("\n") - 2) - len(c_recs)) <= len(c_recs) // 10
