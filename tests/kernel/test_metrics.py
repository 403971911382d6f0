# -L --prometheus and python -m ipvs.exporter on the real kernel, while
# traffic flows through a NAT service: the exposition's counters are the
# ones the reference `ipvsadm -Ln --stats --exact` shows, promtool finds
# nothing to say about either, and the label option cuts the series.
# (Debian's Prometheus itself scrapes the exporter in test_exporter_live.)
import os
import shutil
import subprocess
import sys
import time

import pytest

from cli_harness import VENV_BIN
from netns_shell import nat_hosts, ns as _ns, sh as _sh, stop


def sh(cmd, check=True, timeout=120):
    return _sh(cmd, check=check, timeout=timeout)


def ns(name, cmd, timeout=120, **kw):
    return _ns(name, cmd, timeout=timeout, **kw)

NS = ("prm-cl", "prm-dr", "prm-rs")
VIP = "10.40.1.100"
SVC = "-t %s:8080" % VIP
RSS = ("10.40.2.2:8001", "10.40.2.2:8002")
OURS = os.path.join(VENV_BIN, "ipvsadm")
PY = os.path.join(VENV_BIN, "python")
PORT = 9532

pytestmark = [
    pytest.mark.skipif(shutil.which("socat") is None, reason="needs socat"),
    pytest.mark.skipif(os.environ.get("IPVS_IN_VM") != "1", reason="needs the IPVS kernel"),
    pytest.mark.one_kernel,  # about a minute
]


def ours(args, **kw):
    return ns("prm-dr", "%s %s" % (OURS, args), **kw).stdout


def bg(name, argv, **kw):
    return subprocess.Popen(["ip", "netns", "exec", name] + argv, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)


def get(path, port=PORT, timeout=30):
    """An HTTP GET inside the director's namespace (the test runs outside it)."""
    code = ("import sys, urllib.request; sys.stdout.write(urllib.request.urlopen("
            "'http://127.0.0.1:%d%s', timeout=%d).read().decode())" % (port, path, timeout))
    return ns("prm-dr", "%s -c \"%s\"" % (sys.executable, code), timeout=timeout + 30).stdout


def wait_port(port, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if (":%d " % port) in ns("prm-dr", "ss -ltn", check=False).stdout:
            return
        time.sleep(0.3)
    raise AssertionError("nothing listens on %d" % port)


@pytest.fixture(scope="module")
def net():
    nat_hosts(NS, "10.40", VIP)
    procs = [bg("prm-rs", ["socat", "TCP-LISTEN:%s,fork,reuseaddr" % rs.split(":")[1],
                           "SYSTEM:echo hello-from-%s" % rs.split(":")[1]]) for rs in RSS]
    ours("-C")
    ours("-A %s -s rr" % SVC)
    for rs in RSS:
        ours("-a %s -r %s -m -w 2" % (SVC, rs))
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    procs.append(bg("prm-dr", [PY, "-m", "ipvs.exporter", "--listen", "127.0.0.1:%d" % PORT],
                    env=env))
    wait_port(PORT)
    yield procs
    stop(procs, timeout=20)
    ours("-C", check=False)
    for n in NS:
        sh("ip netns del %s" % n, check=False)


def traffic(n):
    for _ in range(n):
        ns("prm-cl", "socat -T 5 - TCP:%s:8080,connect-timeout=5" % VIP, check=False)


def reference_exact():
    """{real server or 'svc': (conns, inpkts, outpkts, inbytes, outbytes)}."""
    out = ns("prm-dr", "ipvsadm -Ln --stats --exact %s" % SVC).stdout
    table = {}
    for line in out.splitlines():
        f = line.split()
        if f and f[0] == "TCP":
            table["svc"] = tuple(int(x) for x in f[2:7])
        elif f and f[0] == "->" and f[1] != "RemoteAddress:Port":
            table[f[1]] = tuple(int(x) for x in f[2:7])
    return table


def stable_counters():
    """The reference's counters once two readings 3 s apart agree (the
    kernel folds per-CPU counters into these every 2 s)."""
    last = reference_exact()
    for _ in range(10):
        time.sleep(3)
        now = reference_exact()
        if now == last:
            return now
        last = now
    return last


FAMILIES = ("connections_total", "incoming_packets_total", "outgoing_packets_total",
            "incoming_bytes_total", "outgoing_bytes_total")


def test_one_shot_matches_the_reference_and_promtool_is_silent(net, tmp_path):
    traffic(6)
    want = stable_counters()
    assert want[RSS[0]][0] >= 1 and want[RSS[1]][0] >= 1 and want["svc"][0] >= 6
    text = ours("-L --prometheus")
    for rs in RSS:
        addr, port = rs.split(":")
        for i, fam in enumerate(FAMILIES):
            line = 'node_ipvs_backend_%s{local_address="%s",local_port="8080",' \
                   'remote_address="%s",remote_port="%s",proto="TCP",local_mark=""} %d' % (
                       fam, VIP, addr, port, want[rs][i])
            assert line in text.splitlines()
    for body in (text, get("/metrics")):
        f = tmp_path / "m.txt"
        f.write_text(body)
        p = sh("promtool check metrics < %s" % f, check=False)
        assert (p.returncode, p.stdout, p.stderr) == (0, "", "")


def test_labels_option_cuts_the_series(net):
    full = ours("-L --prometheus")
    cut = ours("-L --prometheus --labels proto,local_port")

    def samples(text, name):
        return [l for l in text.splitlines() if l.startswith(name + "{")]
    assert len(samples(full, "node_ipvs_backend_weight")) == 2
    assert samples(cut, "node_ipvs_backend_weight") == [
        'node_ipvs_backend_weight{local_port="8080",proto="TCP"} 4']
    assert len(samples(cut, "node_ipvs_backend_connections_total")) == 1
    p = ns("prm-dr", "%s -L --prometheus --labels bogus" % OURS, check=False)
    assert p.returncode == 2 and "unknown IPVS backend labels: bogus" in p.stderr
    assert "Traceback" not in p.stderr
