"""Fill a real kernel's IPVS tables for benchmarks (run inside the VM).

Services: an ipvsadm -R rule file (the same text for both tools).
Connections: a backup sync daemon on lo
turns every entry of the sync messages sent here into a connection
(net/netfilter/ipvs/ip_vs_sync.c, protocol version 1), which fills the table
far faster than real traffic could.

    python benchmarks/fill.py rules 5000 4 > rules.txt
    python benchmarks/fill.py conns 100000
"""
import socket
import struct
import subprocess
import sys
import time

SYNC_GROUP = ("224.0.0.81", 8848)
PER_MESSAGE = 40  # 40 * 36 + 8 bytes fits a 1472-byte datagram


def rules(n_services: int, n_dests: int) -> str:
    out = []
    for i in range(n_services):
        vip = "10.%d.%d.%d" % (100 + i // 62500, (i // 250) % 250, i % 250 + 1)
        out.append("-A -t %s:80 -s wlc" % vip)
        for j in range(n_dests):
            out.append("-a -t %s:80 -r 192.168.%d.%d:8080 -m -w %d" % (vip, j, i % 250 + 1, j + 1))
    return "\n".join(out) + "\n"


def conn_count() -> int:
    """Connections in the kernel. The slab cache would tell at no cost but is
    merged with others on this kernel, so count the lines of the table
    (one pass of large reads; the kernel's walk makes it O(n^2) anyway)."""
    n = -1
    with open("/proc/net/ip_vs_conn", "rb") as f:
        while True:
            chunk = f.read(1 << 20)
            if not chunk:
                return max(n, 0)
            n += chunk.count(b"\n")


def sync_message(entries) -> bytes:
    body = b"".join(entries)
    return struct.pack("!BBHBbH", 0, 0, 8 + len(body), len(entries), 1, 0) + body


def fill_connections(n: int, timeout: int = 3600) -> int:
    sh = lambda cmd: subprocess.run(cmd, shell=True, capture_output=True)  # noqa: E731
    sh("ip link set lo multicast on; ip route add 224.0.0.0/4 dev lo")
    sh("sysctl -w net.ipv4.vs.sync_sock_size=67108864")
    sh("ipvsadm --start-daemon backup --mcast-interface lo --syncid 0")
    time.sleep(0.5)
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tx.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("127.0.0.1"))
    tx.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
    batch = []
    for i in range(n):
        caddr = 0x0B000000 + i // 50000  # 11.0.0.x, 50000 client ports each
        cport = 10000 + i % 50000
        proto = 17 if i % 10 == 9 else 6  # some UDP among the TCP
        batch.append(struct.pack("!BBHIHHHHIIIII", 0, proto, 36, 0, 1, cport, 80, 8080, 0,
                                 timeout, caddr, 0x0A640001 + i % 1000, 0xC0A80001 + i % 250))
        if len(batch) == PER_MESSAGE:
            tx.sendto(sync_message(batch), SYNC_GROUP)
            batch = []
            if i % 4000 == 0:
                time.sleep(0.01)  # let the backup thread drain its socket
    if batch:
        tx.sendto(sync_message(batch), SYNC_GROUP)
    tx.close()
    time.sleep(5)  # the backup thread turns the last messages into connections
    return conn_count()


if __name__ == "__main__":
    if sys.argv[1] == "rules":
        sys.stdout.write(rules(int(sys.argv[2]), int(sys.argv[3])))
    elif sys.argv[1] == "conns":
        print(fill_connections(int(sys.argv[2])))
    else:
        sys.exit("usage: fill.py rules N_SERVICES N_DESTS | conns N")
