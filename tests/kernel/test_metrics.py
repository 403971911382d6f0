# -L --prometheus and python -m ipvs.exporter on the real kernel: Debian's
# Prometheus scrapes the endpoint every second while traffic flows through a
# NAT service; its HTTP API must then return the counters the reference
# `ipvsadm -Ln --stats --exact` shows. Plus promtool's check, the label
# option, and the cost of a scrape of 5000 services x 4 real servers beside
# the reference `ipvsadm -Ln --stats`.
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse

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
    pytest.mark.one_kernel,  # about 3 minutes a kernel
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
    data = tempfile.mkdtemp(prefix="prom-")  # /tmp: the VM's overlay (TSDB wants mmap)
    with open(os.path.join(data, "prometheus.yml"), "w") as f:
        f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                "scrape_configs:\n  - job_name: ipvs\n    static_configs:\n"
                "      - targets: ['127.0.0.1:%d']\n" % PORT)
    procs.append(bg("prm-dr", ["prometheus", "--config.file=%s/prometheus.yml" % data,
                               "--storage.tsdb.path=%s/tsdb" % data,
                               "--web.listen-address=127.0.0.1:9090"]))
    wait_port(PORT)
    wait_port(9090)
    yield procs
    stop(procs, timeout=20)
    shutil.rmtree(data, ignore_errors=True)
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


def query(expr):
    out = get("/api/v1/query?query=" + urllib.parse.quote(expr), port=9090)
    doc = json.loads(out)
    assert doc["status"] == "success", doc
    return doc["data"]["result"]


def prometheus_view():
    view = {}
    for i, fam in enumerate(FAMILIES):
        for r in query("node_ipvs_backend_" + fam):
            m = r["metric"]
            key = "%s:%s" % (m["remote_address"], m["remote_port"])
            view.setdefault(key, [0] * 5)[i] = int(float(r["value"][1]))
        for r in query("node_ipvs_service_" + fam):
            view.setdefault("svc", [0] * 5)[i] = int(float(r["value"][1]))
    return {k: tuple(v) for k, v in view.items()}


def test_prometheus_scrapes_the_counters_the_reference_shows(net):
    traffic(12)
    want = stable_counters()
    assert want[RSS[0]][0] >= 1 and want[RSS[1]][0] >= 1 and want["svc"][0] >= 12
    deadline = time.monotonic() + 30
    got = None
    while time.monotonic() < deadline:
        got = prometheus_view()
        if got == want:
            break
        time.sleep(1)
    assert got == want
    up = query("up")
    assert up and up[0]["value"][1] == "1"
    assert query("node_ipvs_scrape_duration_seconds")


def test_one_shot_matches_the_reference_and_promtool_is_silent(net, tmp_path):
    want = stable_counters()
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
