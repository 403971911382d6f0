"""Whole listings on this machine, over replayed kernel replies: what a user
waits for in user space (start-up, imports, decode, render, write).

A host without IPVS answers no IPVS request, so each timed run is a new
interpreter running our ipvsadm's main() on sockets that a stand-in kernel
answers: one process per socket (forked here before the run, so its set-up
is not timed) that reads each netlink request and sends the reply made for
it in advance, in the 6.1 kernel's own message layout (each service and real
server message is a copy of one captured from that kernel,
tests/data/decoder/, with its address, port, weight and counters written
in). /proc/net/ip_vs and /proc/net/ip_vs_conn are snapshot files in the
kernel's format. The stand-in lives here only: the child's preamble puts a
socket class in front of _socket.socket that hands out the stand-in's
sockets for AF_NETLINK (its bind() and getsockname() act as netlink's) and
points Client.proc_file at the snapshots; nothing in the package knows it.

The table is benchmarks/fill.py's (N services x D real servers, wlc,
masquerading), with counters. Variants of a command run in interleaved
rounds (each round runs every variant once, in turn), so a busy moment of a
shared host hits all alike; outputs of all variants of a command must be
byte-identical. Printed: min and median wall time, and the ratio of each
variant's median to the first's, and the median of the per-round ratios.

    python benchmarks/native.py [--python PY] [--rounds 9] [--services 5000]
        [--dests 4] [--conns 1000000] [--only NAME,...] [--variants 'A|B']
        [--startup] [--json FILE]

--only runs the named groups (a command, "floor", "start-up", "-Ln
(copies)"...); --variants keeps the variants of those labels (the first
is the one the others are compared with).

PY is an installed copy (default vm-out/user-venv/bin/python: `pip install
.` of this checkout, made by scripts/_env.sh's ensure_user_venv).
Switches a variant may set (the mechanism each turns off):
  env IPVS_PUREPYTHON=1      the C decoder (the twin runs)
  patch split                the second socket and its thread (SPLIT_DUMPS)
  patch nofork               the twin's child process (its second socket's
                             dumps then run after the first's)
  patch noshapes             the twin's learned shapes (generic reader only)
  patch noproc               /proc/net/ip_vs for -Ln (GET_DEST dumps instead)
  patch pylines              C's line writer (C decodes, the twin's programs
                             write the lines from C's records)
  patch pyproc               C's pairing of -Ln (the twin's pairing, C decoding)
  patch pylnc                C's -Lnc renderer (C's decoder, the twin's formatter)
  patch pyrules              C's -R encoder (the twin's, C otherwise)
  patch onesend              packed sends of -R (one request a send: the
                             send buffer holds only the longest request)
  copy socket.py             _socket and _struct imported directly (a copy of
                             the installed package imports socket and struct)
  copy dataclasses           the hand-written value class (the copy's
                             _value_class is dataclasses.dataclass)
The copies are compared with an unchanged copy ("files"). The "floor" group times the stand-in's
own share: a new interpreter sending a per-service listing's dump requests
and reading the replies, decoding nothing.
"""
import argparse
import gzip
import hashlib
import json
import os
import re
import socket
import struct
import subprocess
import sys
import tempfile
import time

import switches

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DATA = os.path.join(ROOT, "tests", "data", "decoder")
HDR = struct.Struct("=IHHII")
FAMILY = 0x24  # the IPVS family id the stand-in hands out
PIDS = (6001, 6002)  # port ids of the main and the spare socket
NLM_F_MULTI, NLM_F_ACK, NLM_F_DUMP = 2, 4, 0x300
DUMP_BYTES = 32 << 10  # the kernel's dump buffers, as captured

# ---------------------------------------------------------------- the table


def read_nlbufs(path):
    data = (gzip.open if path.endswith(".gz") else open)(path, "rb").read()
    pos, out = 0, []
    while pos < len(data):
        n, = struct.unpack_from("=I", data, pos)
        out.append(data[pos + 4:pos + 4 + n])
        pos += 4 + n
    return out


def messages(buf):
    pos = 0
    while pos < len(buf):
        n = HDR.unpack_from(buf, pos)[0]
        yield buf[pos:pos + n]
        pos += (n + 3) & ~3


def offsets(msg, start, end):
    """{attribute type: (value offset, value length)} of the attributes
    in msg[start:end]."""
    out = {}
    while start + 4 <= end:
        n, t = struct.unpack_from("=HH", msg, start)
        out[t & 0x3FFF] = (start + 4, n - 4)
        start += (n + 3) & ~3
    return out


class Template:
    """A captured message whose nest (`top`) fields are rewritten by id."""

    def __init__(self, msg, top):
        self.msg = bytes(msg)
        at, n = offsets(msg, 20, len(msg))[top]
        self.f = offsets(msg, at, at + n)
        self.stats = {k: offsets(msg, self.f[k][0], self.f[k][0] + self.f[k][1])
                      for k in (10, 12)}

    def make(self, fields, counters):
        b = bytearray(self.msg)
        for t, (fmt, v) in fields.items():
            struct.pack_into(fmt, b, self.f[t][0], *v) if isinstance(v, tuple) else \
                struct.pack_into(fmt, b, self.f[t][0], v)
        for i, v in enumerate(counters, 1):  # stats (u32, bytes u64) and stats64 (u64)
            at, n = self.stats[10][i]
            struct.pack_into("=Q" if n == 8 else "=I", b, at, v & (0xFFFFFFFF if n == 4 else -1))
            struct.pack_into("=Q", b, self.stats[12][i][0], v)
        return bytes(b)


def templates():
    svc = next(m for b in read_nlbufs(os.path.join(DATA, "services.nlbufs")) for m in messages(b)
               if m[16] == 1 and len(m) == 320 and m.find(b"wrr\0") > 0)
    dest = next(messages(read_nlbufs(os.path.join(DATA, "dests-20k.nlbufs.gz"))[0]))
    return Template(svc, 1), Template(dest, 2)


def counters(k):
    conns = (k * 7919) % 100000
    return (conns, conns * 12, conns * 9, conns * 12 * 700, conns * 9 * 1400,
            k % 40, k % 900, k % 700, (k % 900) * 8000, (k % 700) * 11000)


def table(n_services, n_dests):
    """[(vip, [(rip, weight, active, inactive)])], fill.py's rules."""
    out = []
    for i in range(n_services):
        vip = (10 << 24) | ((100 + i // 62500) << 16) | ((i // 250) % 250) << 8 | (i % 250 + 1)
        out.append((vip, [((192 << 24) | (168 << 16) | (j << 8) | (i % 250 + 1), j + 1,
                           (i + j) % 50, (i * j) % 300) for j in range(n_dests)]))
    return out


def proc_text(tab):
    out = ["IP Virtual Server version 1.2.1 (size=4096)\n",
           "Prot LocalAddress:Port Scheduler Flags\n",
           "  -> RemoteAddress:Port Forward Weight ActiveConn InActConn\n"]
    for vip, dests in tab:
        out.append("TCP  %08X:0050 wlc \n" % vip)
        for rip, w, act, inact in dests:
            out.append("  -> %08X:1F90      Masq    %-6d %-10d %-10d\n" % (rip, w, act, inact))
    return "".join(out).encode()


def replies(tab):
    """(the GET_SERVICE dump's messages, {vip: the GET_DEST reply's messages})."""
    st, dt = templates()
    svcs, dests = [], {}
    for i, (vip, ds) in enumerate(tab):
        svcs.append(st.make({3: ("=4s", vip.to_bytes(4, "big")), 4: ("!H", 80),
                             6: ("=3s", b"wlc")}, counters(i)))
        dests[vip] = [dt.make({1: ("=4s", rip.to_bytes(4, "big")), 2: ("!H", 8080),
                               4: ("=I", w), 7: ("=I", act), 8: ("=I", inact)},
                              counters(i * 4 + j + 1))
                      for j, (rip, w, act, inact) in enumerate(ds)]
    return svcs, dests


# ------------------------------------------------------------- the stand-in

def _msg(kind, flags, seq, pid, body):
    return HDR.pack(16 + len(body), kind, flags, seq, pid) + body + b"\0" * (-len(body) % 4)


def _attr(t, v):
    return struct.pack("=HH", 4 + len(v), t) + v + b"\0" * (-len(v) % 4)


def _done(seq, pid):
    return _msg(3, NLM_F_MULTI, seq, pid, b"\0\0\0\0")


def _ack(seq, pid, req):
    return _msg(2, 0, seq, pid, b"\0\0\0\0" + bytes(req[:16]))


def _packed(msgs):
    """Messages into dump buffers of at most DUMP_BYTES."""
    out, cur, size = [], [], 0
    for m in msgs:
        if size + len(m) > DUMP_BYTES and cur:
            out.append(cur)
            cur, size = [], 0
        cur.append(m)
        size += len(m)
    if cur:
        out.append(cur)
    return out


class Prepared:
    """A dump's reply as it is sent: its buffers, each with the offsets of
    its messages' sequence number and port id, written in per request."""

    def __init__(self, msgs):
        self.bufs = []
        for g in _packed(msgs):
            b, at, where = bytearray(b"".join(g)), 0, []
            for m in g:
                HDR.pack_into(b, at, len(m), FAMILY, NLM_F_MULTI, 0, 0)
                where.append(at + 8)
                at += len(m)
            self.bufs.append((b, where))


def prepare(svcs, dests):
    """The replies of replies() as the stand-in sends them: (the service
    dump, {the address's 4 bytes: its GET_DEST reply})."""
    return Prepared(svcs), {vip.to_bytes(4, "big"): Prepared(ms) for vip, ms in dests.items()}


ADDR_ATTR = struct.pack("=HH", 20, 3)  # a service key's address (IPVS_SVC_ATTR_ADDR)


def serve(sock, pid, svc_dump, dest_dumps):
    """Answer requests on sock until its peer closes it. A GET_DEST dump
    is found by its service's address, the request's only 20-byte
    attribute of type 3 (found with bytes.find: the stand-in should cost
    little beside the process it answers)."""
    buf = bytearray(1 << 20)
    ids = struct.Struct("=II")
    unpack_from, ids_into = HDR.unpack_from, ids.pack_into
    send, find = sock.send, buf.find
    done = bytearray(_done(0, pid))

    def dump(prepared, seq):
        for b, where in prepared.bufs:
            for at in where:
                ids_into(b, at, seq, pid)
            send(b)
        ids_into(done, 8, seq, pid)
        send(done)
    while True:
        n = sock.recv_into(buf)
        if n == 0:
            return
        pos = 0
        while pos < n:
            ln, kind, flags, seq, _ = unpack_from(buf, pos)
            cmd = buf[pos + 16]
            if kind == FAMILY and cmd == 8:  # GET_DEST
                a = find(ADDR_ATTR, pos + 20, pos + ln) + 4
                dump(dest_dumps[bytes(buf[a:a + 4])], seq)
                pos += (ln + 3) & ~3
                continue
            req = bytes(buf[pos:pos + ln])
            pos += (ln + 3) & ~3
            if kind == 0x10:  # GETFAMILY
                send(_msg(0x10, 0, seq, pid, bytes([1, 2, 0, 0]) + _attr(1, struct.pack(
                    "=H", FAMILY)) + _attr(2, b"IPVS\0")))
                if flags & NLM_F_ACK:
                    send(_ack(seq, pid, req))
            elif cmd == 4 and flags & NLM_F_DUMP == NLM_F_DUMP:
                dump(svc_dump, seq)
            elif cmd == 11:  # GET_DAEMON: none running
                send(_done(seq, pid))
            elif cmd in (15, 13):  # GET_INFO, GET_CONFIG
                body = (_attr(1, struct.pack("=I", 0x010201)) + _attr(2, struct.pack("=I", 4096))
                        if cmd == 15 else _attr(4, struct.pack("=I", 900)) +
                        _attr(5, struct.pack("=I", 120)) + _attr(6, struct.pack("=I", 300)))
                send(_msg(FAMILY, 0, seq, pid, bytes([cmd, 1, 0, 0]) + body))
                if flags & NLM_F_ACK:
                    send(_ack(seq, pid, req))
            elif flags & NLM_F_ACK:  # any change: done
                send(_ack(seq, pid, req))


# ---------------------------------------------------------------- the child

CHILD = r"""
import _socket, os, sys
_fds = [int(x) for x in os.environ.pop("REPLAY_FDS").split(",")]
_pids = [int(x) for x in os.environ.pop("REPLAY_PIDS").split(",")]
_Real = _socket.socket


class ReplaySocket(_Real):
    # netlink's sockets, as the stand-in's end of a socket pair
    __slots__ = ("_rpid",)

    def __init__(self, family=-1, type=-1, proto=-1, fileno=None):
        if family == _socket.AF_NETLINK and fileno is None:
            if not _fds:
                raise OSError(24, "no more stand-in sockets")
            _Real.__init__(self, _socket.AF_UNIX, _socket.SOCK_SEQPACKET, 0, _fds.pop(0))
            self._rpid = _pids.pop(0)
        else:
            _Real.__init__(self, family, type, proto, fileno)

    def bind(self, addr):
        if getattr(self, "_rpid", None) is None:
            return _Real.bind(self, addr)

    def getsockname(self):
        p = getattr(self, "_rpid", None)
        return _Real.getsockname(self) if p is None else (p, 0)

    def setsockopt(self, level, opt, value):
        if getattr(self, "_rpid", None) is None or level == _socket.SOL_SOCKET:
            return _Real.setsockopt(self, level, opt, value)
        raise OSError(92, "not netlink")


_socket.socket = ReplaySocket
_proc = {"ip_vs": os.environ.pop("REPLAY_IP_VS", "/nonexistent"),
         "ip_vs_conn": os.environ.pop("REPLAY_IP_VS_CONN", "/nonexistent")}
import ipvs._client
ipvs._client.Client.proc_file = lambda self, name: _proc.get(name, "/nonexistent")
""" + switches.source() + switches.RUN


# A command that needs no kernel, as the installed script runs it (no
# stand-in preamble, which imports the client's modules).
PLAIN = ("import sys\nsys.argv = ['ipvsadm'] + sys.argv[1:]\nfrom ipvs.cli import main\n"
         "sys.exit(main())\n")

# The stand-in's own share: a new interpreter that sends the requests of a
# per-service listing (one GET_SERVICE dump, one GET_DEST dump a service)
# and reads each reply to its NLMSG_DONE, decoding nothing.
FLOOR = r"""
import _socket, os, sys
s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_SEQPACKET, 0,
                   int(os.environ["REPLAY_FDS"].split(",")[0]))
data = open(sys.argv[1], "rb").read()
buf = bytearray(1 << 16)
pos = 0
while pos < len(data):
    n = int.from_bytes(data[pos:pos + 4], "little")
    s.send(data[pos:pos + n])
    pos += n
    while True:
        s.recv_into(buf)
        if buf[4] == 3 and buf[5] == 0:  # NLMSG_DONE
            break
"""


def floor_requests(tab):
    """The dump requests of a per-service listing of tab, back to back."""
    flags = 1 | NLM_F_ACK | NLM_F_DUMP
    out = [_msg(FAMILY, flags, 1, 0, bytes([4, 1, 0, 0]))]
    for seq, (vip, _) in enumerate(tab, 2):
        key = (_attr(1, struct.pack("=H", 2)) + _attr(2, struct.pack("=H", 6)) +
               _attr(3, vip.to_bytes(4, "big") + bytes(12)) + _attr(4, struct.pack("!H", 80)))
        out.append(_msg(FAMILY, flags, seq, 0, bytes([8, 1, 0, 0]) + _attr(1 | 0x8000, key)))
    return b"".join(out)


def run_once(py, args, env, replay, stdin=None):
    """One timed run: (seconds, sha256 of stdout, exit status)."""
    pairs = [socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET) for _ in PIDS]
    servers = []
    for (ours, theirs), pid in zip(pairs, PIDS):
        child = os.fork()
        if child == 0:
            try:
                theirs.close()
                for o, t in pairs:
                    if o is not ours:
                        o.close()
                        t.close()
                serve(ours, pid, *replay)
            finally:
                os._exit(0)
        servers.append(child)
        ours.close()
    env = dict(env, REPLAY_FDS=",".join(str(t.fileno()) for _, t in pairs),
               REPLAY_PIDS=",".join(map(str, PIDS)))
    fds = [t.fileno() for _, t in pairs]
    with tempfile.TemporaryFile() as out:
        t0 = time.perf_counter()
        code = FLOOR if args[:1] == ["@floor"] else CHILD
        code = {"@pass": "pass", "@plain": PLAIN}.get(env.get("IPVS_BENCH_SWITCHES"), code)
        p = subprocess.Popen([py, "-c", code] + args[1 if code is FLOOR else 0:], stdout=out,
                             stderr=subprocess.PIPE,
                             stdin=stdin, env=env, pass_fds=fds)
        for _, t in pairs:
            t.close()
        err = p.communicate()[1]
        dt = time.perf_counter() - t0
        for s in servers:
            os.waitpid(s, 0)
        out.seek(0)
        # (the scrape reports its own duration: the one line allowed to differ)
        digest = hashlib.sha256(re.sub(rb"(?m)^node_ipvs_scrape_duration_seconds .*$", b"",
                                       out.read())).hexdigest()
    if p.returncode != 0:
        sys.stderr.write(err.decode(errors="replace"))
    return dt, digest, p.returncode


def run_plain(argv):
    t0 = time.perf_counter()
    p = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0, "", p.returncode


# ----------------------------------------------- copies without a mechanism

DATACLASSES = '''def _make_value_class(kw_only=True):
    """(dataclasses instead of the hand-written value class)"""
    import dataclasses

    def make(cls):
        cls = dataclasses.dataclass(frozen=True, kw_only=kw_only)(cls)
        cls.replace = lambda self, **changes: dataclasses.replace(self, **changes)
        cls._FIELDS = tuple(f.name for f in dataclasses.fields(cls))
        return cls
    return make


def _make_value_class_unused(kw_only=True):
'''


def copies(py, tmp):
    """Copies of the installed package: as installed, with socket.py and struct.py
    imported instead of _socket and _struct, and with dataclasses instead of
    the hand-written value class. {name: PYTHONPATH}."""
    import shutil
    src = subprocess.run([py, "-c", "import ipvs, os; print(os.path.dirname(ipvs.__file__))"],
                         capture_output=True, text=True, check=True).stdout.strip()
    out = {}
    for name in ("files", "socket.py", "dataclasses"):
        root = os.path.join(tmp, name)
        dst = os.path.join(root, "ipvs")
        shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__"))
        for dirpath, _, files in os.walk(dst):
            for f in files:
                path = os.path.join(dirpath, f)
                if not f.endswith(".py"):
                    continue
                text = open(path).read()
                if name == "socket.py":
                    text = re.sub(r"^import _(socket|struct) as (socket|struct)\b", r"import \1",
                                  text, flags=re.M)
                    text = re.sub(r"^import _(socket|struct)\b", r"import \1 as _\1", text,
                                  flags=re.M)
                if name == "dataclasses" and f == "_model.py":
                    assert "def _make_value_class(kw_only=True):\n" in text
                    text = text.replace("def _make_value_class(kw_only=True):\n", DATACLASSES, 1)
                open(path, "w").write(text)
        subprocess.run([py, "-m", "compileall", "-q", dst], check=True)
        out[name] = root
    return out


# -------------------------------------------------------------- the groups

def groups(py, snaps, paths):
    """[(name, argv, [(label, env, patches)])]: the first variant of each
    group is the one the others are compared with."""
    c, twin = {}, {"IPVS_PUREPYTHON": "1"}
    dumps = [("C", c, ""), ("C, no second socket", c, "split"),
             ("twin", twin, ""), ("C, twin's line writer", c, "pylines"),
             ("twin, no fork", twin, "nofork"),
             ("twin, no shapes", twin, "noshapes")]
    floor = [("stand-in round trips only", c, ""), ("python -c pass", c, "@pass")]
    files, sock, dc = ({"PYTHONPATH": paths[k]} for k in ("files", "socket.py", "dataclasses"))
    out = [
        ("floor", ["@floor", snaps["requests"]], floor),
        ("-h (copies)", ["-h"], [("files", files, "@plain"), ("files, socket.py", sock, "@plain"),
                                 ("files, dataclasses", dc, "@plain")]),
        ("-Ln (copies)", ["-Ln"], [("files", files, ""), ("files, socket.py", sock, ""),
                                   ("files, dataclasses", dc, "")]),
        ("-Ln --stats (copies)", ["-Ln", "--stats"], [
            ("files", files, ""), ("files, socket.py", sock, ""), ("files, dataclasses", dc, "")]),
        ("-Ln", ["-Ln"], [("C", c, ""), ("C, twin's pairing", c, "pyproc"),
                          ("C, dumps (no /proc)", c, "noproc"),
                          ("twin", twin, ""), ("twin, dumps (no /proc)", twin, "noproc")]),
        ("-Ln --stats", ["-Ln", "--stats"], dumps),
        ("-Ln --rate", ["-Ln", "--rate"], dumps[:4]),
        ("-Ln --thresholds", ["-Ln", "--thresholds"], dumps[:4]),
        ("-Sn", ["-Sn"], dumps[:4]),
        ("--json", ["-L", "--json"], dumps[:4]),
        ("-L --prometheus", ["-L", "--prometheus"], dumps[:4]),
        ("-Lnc", ["-Lnc"], [("C", c, ""), ("C, twin's formatter", c, "pylnc"),
                            ("twin", twin, "")]),
        ("-Lnc --json", ["-Lnc", "--json"], [("C", c, ""), ("twin", twin, "")]),
        ("-R", ["-R"], [("C", c, ""), ("C, twin's encoder", c, "pyrules"),
                        ("C, one request a send", c, "onesend"), ("twin", twin, "")]),
    ]
    return out


def stats(ts):
    ts = sorted(ts)
    return ts[0], ts[len(ts) // 2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--python", default=os.path.join(ROOT, "vm-out", "user-venv", "bin", "python"))
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--services", type=int, default=5000)
    ap.add_argument("--dests", type=int, default=4)
    ap.add_argument("--conns", type=int, default=1000000)
    ap.add_argument("--only", default=None, help="names of groups, comma-separated")
    ap.add_argument("--variants", default=None,
                    help="labels of the variants to run, separated by | (the first is the base)")
    ap.add_argument("--startup", action="store_true", help="only the start-up group")
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    py = a.python
    print("load average: %s" % " ".join(open("/proc/loadavg").read().split()[:3]), flush=True)
    results = {}
    tmp = tempfile.mkdtemp(prefix="ipvs-native-")
    tab = table(a.services, a.dests)
    replay = prepare(*replies(tab))
    snaps = {"ip_vs": os.path.join(tmp, "ip_vs"), "ip_vs_conn": os.path.join(tmp, "ip_vs_conn"),
             "rules": os.path.join(tmp, "rules"), "requests": os.path.join(tmp, "requests")}
    with open(snaps["requests"], "wb") as f:
        f.write(floor_requests(tab))
    with open(snaps["ip_vs"], "wb") as f:
        f.write(proc_text(tab))
    sys.path.insert(0, HERE)
    from fill import rules
    with open(snaps["rules"], "w") as f:
        f.write(rules(a.services, a.dests))
    base = {k: v for k, v in os.environ.items() if not k.startswith(("IPVS_", "REPLAY_"))}
    base.update(REPLAY_IP_VS=snaps["ip_vs"], REPLAY_IP_VS_CONN=snaps["ip_vs_conn"])
    wanted = None if a.only is None else set(a.only.split(","))
    todo = [] if a.startup else groups(py, snaps, copies(py, tmp))
    todo = [g for g in todo if wanted is None or g[0] in wanted]
    if a.variants:
        keep = a.variants.split("|")
        todo = [(n, args, sorted([v for v in vs if v[0] in keep], key=lambda v: keep.index(v[0])))
                for n, args, vs in todo]
        todo = [g for g in todo if len(g[2]) > 1]
    if any(g[0].startswith("-Lnc") for g in todo):
        from test_bench_decoder import make_conns
        with open(snaps["ip_vs_conn"], "wb") as f:
            f.write(make_conns(a.conns))
    if a.startup or wanted is None or "start-up" in wanted:
        plain = [("python -c pass", [py, "-c", "pass"]),
                 ("ipvsadm -h", [os.path.join(os.path.dirname(py), "ipvsadm"), "-h"]),
                 ("env true", ["env", "true"]),
                 ("reference ipvsadm -h", ["/usr/sbin/ipvsadm", "-h"])]
        times = {k: [] for k, _ in plain}
        for _ in range(max(a.rounds, 20)):
            for k, argv in plain:
                times[k].append(run_plain(argv)[0])
        print("start-up, %d interleaved rounds:" % max(a.rounds, 20))
        res = {}
        for k, ts in times.items():
            lo, med = stats(ts)
            res[k] = {"min_s": lo, "median_s": med}
            print("  %-26s min %7.4f s  median %7.4f s" % (k, lo, med), flush=True)
        results["start-up"] = res
    for name, args, variants in todo:
        times = {v[0]: [] for v in variants}
        digests = {v[0]: set() for v in variants}
        for r in range(a.rounds + 1):  # the first round warms the page cache: not counted
            for label, env, patch in variants:
                stdin = open(snaps["rules"], "rb") if name == "-R" else None
                dt, digest, rc = run_once(py, args, dict(base, IPVS_BENCH_SWITCHES=patch, **env),
                                          replay, stdin)
                if stdin:
                    stdin.close()
                if rc != 0:
                    raise SystemExit("%s (%s) exited %d" % (name, label, rc))
                digests[label].add(digest)
                if r:
                    times[label].append(dt)
        same = len(set().union(*digests.values())) == 1
        first = variants[0][0]
        print("%s, %d interleaved rounds, outputs identical: %s" % (name, a.rounds, same),
              flush=True)
        res = {}
        for label, ts in times.items():
            lo, med = stats(ts)
            pair = sorted(t / f for t, f in zip(ts, times[first]))
            res[label] = {"min_s": lo, "median_s": med, "ratio_of_medians": med / stats(
                times[first])[1], "median_pair_ratio": pair[len(pair) // 2], "times_s": ts}
            print("  %-28s min %7.3f s  median %7.3f s  x%.2f (pairs x%.2f)" % (
                label, lo, med, res[label]["ratio_of_medians"], res[label]["median_pair_ratio"]),
                flush=True)
        res["outputs_identical"] = same
        results[name] = res
        if not same:
            print("  OUTPUTS DIFFER", flush=True)
    if a.json:
        with open(a.json, "w") as out:
            json.dump(results, out, indent=1)


if __name__ == "__main__":
    main()
