"""Capture real IPVS replies for the decoder tests and benchmarks.

Run as root inside the VM (scripts/vm), with the output folder as argument:
    scripts/vm '$IPVS_VENV/bin/python tests/data/decoder/capture.py $IPVS_VM_OUT'

It configures services with the reference ipvsadm (IPv4, IPv6, fwmark,
tunnels GUE/GRE/IPIP, persistence, the SIP persistence engine, one service
with 20,000 destinations), sends some local traffic through one service so
counters move, fills the connection table through a backup sync daemon
(IPv4 and IPv6 entries, SIP templates with PE data), then saves:
  - <name>.nlbufs: the raw receive buffers of a dump, as
    repeated (u32 length, bytes), with <name>.json: seq, pid, kind, svc_af
  - ip_vs_conn.txt: /proc/net/ip_vs_conn read with large reads
  - ipvsadm-Ln.txt: the reference listing, for a human to compare
"""
import json
import os
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "src"))
from ipvs import _decode_py, _spec as spec  # noqa: E402
from ipvs._transport import Conn  # noqa: E402

OUT = sys.argv[1]
BIG_DESTS = int(os.environ.get("CAPTURE_BIG_DESTS", "20000"))


def sh(cmd, check=True):
    print("+", cmd, flush=True)
    return subprocess.run(cmd, shell=True, check=check)


def setup_services():
    sh("modprobe ip_vs_pe_sip || true")
    for m in ("ip_vs_rr", "ip_vs_wlc", "ip_vs_sh", "ip_vs_lc", "ip_vs_wrr", "ip_vs_mh"):
        sh("modprobe %s || true" % m)
    sh("ip link set lo up; ip addr add 10.10.10.10/32 dev lo; ip -6 addr add 2001:db8::10/128 dev lo",
       check=False)
    lines = [
        "-A -t 10.10.10.10:80 -s rr",
        "-a -t 10.10.10.10:80 -r 10.10.10.10:8080 -m -w 3",
        "-A -u 10.10.10.10:53 -s wlc -p 60",
        "-a -u 10.10.10.10:53 -r 10.0.0.53:53 -m -x 100 -y 10",
        "-A -t [2001:db8::10]:443 -s sh -b sh-port,sh-fallback -p 120 -M 64",
        "-a -t [2001:db8::10]:443 -r [2001:db8::100]:443 -g -w 0",
        "-a -t [2001:db8::10]:443 -r [2001:db8::101]:443 -i",
        "-A -f 42 -s lc",
        "-a -f 42 -r 192.168.50.1:0 -i --tun-type gue --tun-port 6080 --tun-nocsum",
        "-a -f 42 -r 192.168.50.2:0 -i --tun-type gre --tun-csum",
        "-a -f 42 -r 192.168.50.3:0 -i --tun-type gue --tun-port 6081 --tun-remcsum",
        "-A -f 43 -6 -s rr",
        "-a -f 43 -6 -r [2001:db8::200]:0 -g",
        "-A -u 10.10.10.20:5060 -s rr -p 30 --pe sip",
        "-a -u 10.10.10.20:5060 -r 10.0.0.50:5060 -m",
        "-A --sctp-service 10.10.10.30:9999 -s mh -b mh-fallback,mh-port",
        "-A -u 10.10.10.40:123 -s rr -o",
        "-a --sctp-service 10.10.10.30:9999 -r 10.0.0.30:9999 -m",
        "-A -t 10.20.0.1:80 -s wrr",
    ]
    for i in range(BIG_DESTS):
        lines.append("-a -t 10.20.0.1:80 -r 10.%d.%d.%d:8080 -m -w %d"
                     % (100 + i // 65536, (i // 256) % 256, i % 256, 1 + i % 7))
    with open("/tmp/rules", "w") as f:
        f.write("\n".join(lines) + "\n")
    t = time.time()
    sh("ipvsadm -R < /tmp/rules")
    print("restore took %.1fs" % (time.time() - t))


def traffic():
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("0.0.0.0", 8080))
    srv.listen(64)
    srv.settimeout(2)
    ok = 0
    for _ in range(20):
        c = socket.socket()
        c.settimeout(2)
        try:
            c.connect(("10.10.10.10", 80))
            s, _ = srv.accept()
            c.sendall(b"x" * 1000)
            s.recv(2000)
            s.sendall(b"y" * 3000)
            c.recv(4000)
            s.close()
            ok += 1
        except OSError as e:
            print("traffic:", e)
        finally:
            c.close()
    print("traffic: %d connections through 10.10.10.10:80" % ok)
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for i in range(10):
        u.sendto(b"q" * 40, ("10.10.10.10", 53))
    time.sleep(4)  # let the rate estimator run


def sync_connections(n4=5000, n6=500, npe=100):
    sh("ip link set lo multicast on; ip route add 224.0.0.0/4 dev lo", check=False)
    sh("sysctl -w net.ipv4.vs.sync_sock_size=67108864")
    sh("ipvsadm --start-daemon backup --mcast-interface lo --syncid 0")
    time.sleep(1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("127.0.0.1"))
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)

    def send(entries):
        body = b"".join(entries)
        s.sendto(struct.pack("!BBHBbH", 0, 0, 8 + len(body), len(entries), 1, 0) + body,
                 ("224.0.0.81", 8848))

    def v4(i, proto=6, state=1, flags=0, opts=b""):
        return struct.pack("!BBHIHHHHIIIII", 0, proto, 36 + len(opts), flags, state,
                           1024 + i % 60000, 80, 8080, 0, 300 + i % 600,
                           0xC0000000 + i, 0x0A0A0A0A, 0x0A000000 + (i % 250) + 1) + opts

    def v6(i, proto=6, state=1, flags=0, opts=b""):
        a = lambda n: socket.inet_pton(socket.AF_INET6, "2001:db8::%x:%x" % (n >> 16, n & 0xFFFF))
        return struct.pack("!BBHIHHHHII16s16s16s", 1, proto, 72 + len(opts), flags, state,
                           2048 + i % 60000, 443, 443, 0, 600, a(0x10000 + i), a(0x10),
                           a(0x20000 + i % 100)) + opts

    batch = []
    for i in range(n4):
        batch.append(v4(i, proto=6 if i % 3 else 17, state=1 if i % 3 else 0))
        if len(batch) == 40:
            send(batch)
            batch = []
    if batch:
        send(batch)
    batch = []
    for i in range(n6):
        batch.append(v6(i))
        if len(batch) == 20:
            send(batch)
            batch = []
    if batch:
        send(batch)
    # SIP templates: options PE name + PE data; sizes kept 4-byte aligned
    for i in range(npe):
        data = b"call-%08d@x" % i  # 17 bytes: 36 + 5 + 2 + 17 = 60
        opts = bytes([3, 3]) + b"sip" + bytes([2, len(data)]) + data
        send([v4(100000 + i, proto=17, state=0, flags=0x1000, opts=opts)])
    time.sleep(2)
    with open("/proc/net/ip_vs_conn", "rb", buffering=0) as f, \
            open(os.path.join(OUT, "ip_vs_conn.txt"), "wb") as out:
        while True:
            b = f.read(1 << 20)
            if not b:
                break
            out.write(b)
    sh("ipvsadm --stop-daemon backup", check=False)


def dump(conn, family, name, cmd, values, kind, svc_af=0):
    seq = conn.next_seq()
    conn.send(spec.encode_request(family, cmd, values, dump=True, seq=seq))
    bufs = []
    status = 0
    while not status & _decode_py.DONE:
        b = conn.recv()
        bufs.append(b)
        if kind == "services":
            _, st, _ = _decode_py.decode_services(b, seq, conn.pid)
        else:
            _, st, _ = _decode_py.decode_dests(b, seq, conn.pid, svc_af)
        status |= st
    with open(os.path.join(OUT, name + ".nlbufs"), "wb") as f:
        for b in bufs:
            f.write(struct.pack("=I", len(b)) + b)
    with open(os.path.join(OUT, name + ".json"), "w") as f:
        json.dump({"seq": seq, "pid": conn.pid, "kind": kind, "svc_af": svc_af,
                   "buffers": len(bufs), "bytes": sum(map(len, bufs))}, f)
    print("%s: %d buffers, %d bytes" % (name, len(bufs), sum(map(len, bufs))))


def main():
    os.makedirs(OUT, exist_ok=True)
    setup_services()
    traffic()
    conn = Conn(spec.GENL_NAME)
    fam = conn.family
    dump(conn, fam, "services", spec.CMD_GET_SERVICE, {}, "services")
    A4, A6 = socket.AF_INET, socket.AF_INET6
    pack = lambda af, t: socket.inet_pton(af, t) + bytes(16 - len(socket.inet_pton(af, t)))
    svcs = {
        "dests-tcp4-local": {"af": A4, "protocol": 6, "addr": pack(A4, "10.10.10.10"), "port": 80},
        "dests-udp4-persist": {"af": A4, "protocol": 17, "addr": pack(A4, "10.10.10.10"), "port": 53},
        "dests-tcp6": {"af": A6, "protocol": 6, "addr": pack(A6, "2001:db8::10"), "port": 443},
        "dests-fwmark-tunnels": {"af": A4, "fwmark": 42},
        "dests-fwmark6": {"af": A6, "fwmark": 43},
        "dests-sip": {"af": A4, "protocol": 17, "addr": pack(A4, "10.10.10.20"), "port": 5060},
        "dests-20k": {"af": A4, "protocol": 6, "addr": pack(A4, "10.20.0.1"), "port": 80},
    }
    for name, key in svcs.items():
        dump(conn, fam, name, spec.CMD_GET_DEST, {"service": key}, "dests", key["af"])
    with open(os.path.join(OUT, "ipvsadm-Ln.txt"), "w") as f:
        subprocess.run("ipvsadm -Ln --stats --exact | head -60; ipvsadm -Ln | head -60",
                       shell=True, stdout=f)
    sync_connections()
    sh("wc -l %s/ip_vs_conn.txt; head -5 %s/ip_vs_conn.txt; grep -m3 sip %s/ip_vs_conn.txt;"
       " grep -m3 2001 %s/ip_vs_conn.txt" % (OUT, OUT, OUT, OUT), check=False)


if __name__ == "__main__":
    main()
