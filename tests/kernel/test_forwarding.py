# Real traffic through IPVS, with every rule set by OUR ipvsadm (the
# installed console script, run inside the director's network namespace).
#
#   client (ns ipvs-cl) 10.10.1.2 --- 10.10.1.1 director (ns ipvs-dr) 10.10.2.1 --- 10.10.2.2 real server (ns ipvs-rs)
#   VIP 10.10.1.100:8080 on the director; the real server answers on :8000
#   (NAT) or on VIP:8080 (direct routing, IPIP), with socat.
#
# All traffic stays inside the VM; every wait is bounded.
import os
import shutil
import subprocess
import time

import pytest

from cli_harness import VENV_BIN
from netns_shell import nat_hosts, ns, sh, stop, wait_listening

NS = ("ipvs-cl", "ipvs-dr", "ipvs-rs")
VIP = "10.10.1.100"
OURS = os.path.join(VENV_BIN, "ipvsadm")

pytestmark = pytest.mark.skipif(shutil.which("socat") is None or shutil.which("ip") is None,
                                reason="needs socat and iproute2")


def ipvsadm(args):
    """Our ipvsadm in the director's namespace; it must succeed silently."""
    p = ns("ipvs-dr", "%s %s" % (OURS, args), check=False)
    assert (p.returncode, p.stderr) == (0, ""), (args, p.returncode, p.stderr)
    return p.stdout


@pytest.fixture(scope="module")
def net():
    sh("modprobe ipip", check=False)
    nat_hosts(NS, "10.10", VIP)
    for s in ("net.ipv4.ip_forward=1", "net.ipv4.vs.conntrack=1",
              # replies from the VIP (DR, IPIP) come back through the director
              "net.ipv4.conf.all.accept_local=1", "net.ipv4.conf.d2.accept_local=1",
              "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.d2.rp_filter=0"):
        ns("ipvs-dr", "sysctl -qw %s" % s, check=False)
    ns("ipvs-rs", "ip addr add %s/32 dev lo" % VIP)
    for s in ("net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0",
              "net.ipv4.conf.lo.arp_ignore=1", "net.ipv4.conf.all.arp_ignore=1"):
        ns("ipvs-rs", "sysctl -qw %s" % s, check=False)
    servers = []
    for port in (8000, 8080):
        servers.append(subprocess.Popen(
            ["ip", "netns", "exec", "ipvs-rs", "socat",
             "TCP-LISTEN:%d,fork,reuseaddr" % port, "SYSTEM:echo reply-from-rs-%d" % port],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    wait_listening("ipvs-rs", (8000, 8080))
    yield
    stop(servers)
    for n in NS:
        sh("ip netns del %s" % n, check=False)


def fetch(tries=3):
    """The real server's answer through the VIP ('' if none came)."""
    for _ in range(tries):
        p = ns("ipvs-cl", "socat -T 5 - TCP:%s:8080,connect-timeout=5" % VIP,
               check=False, timeout=30)
        if p.stdout.strip():
            break
    return p.stdout.strip()


@pytest.mark.one_kernel("newest")  # the datapath as set; test_ipip on both kernels
def test_nat(net):
    ipvsadm("-C")
    ipvsadm("-A -t %s:8080 -s rr" % VIP)
    ipvsadm("-a -t %s:8080 -r 10.10.2.2:8000 -m" % VIP)
    assert fetch() == "reply-from-rs-8000"
    # connections counted on the destination: the kernel folds its per-CPU
    # counters into the listed ones every 2 s, so allow it a few seconds
    for _ in range(30):
        out = ipvsadm("-Ln --stats")
        assert "10.10.2.2:8000" in out
        line = [l for l in out.splitlines() if "10.10.2.2:8000" in l][0]
        if int(line.split()[2]) >= 1:
            break
        time.sleep(0.2)
    assert int(line.split()[2]) >= 1
    assert "10.10.1.2:" in ipvsadm("-Lnc")
    for args in ("-Lnc", "-Lc", "-Lnc --persistent-conn"):
        assert same_as_reference(args), args


def _expiry_apart(text):
    """(the listing with the expire column blanked, [expire seconds...])."""
    lines, expiries = [], []
    for line in text.splitlines():
        f = line.split(" ")
        if len(f) > 2 and f[0] in ("TCP", "UDP", "SCTP") and ":" in f[1]:
            mm, ss = f[1].split(":")
            expiries.append(int(mm) * 60 + int(ss))
            f[1] = "MM:SS"
        lines.append(" ".join(f))
    return lines, expiries


def same_as_reference(args, tries=3):
    """Our connection listing equals the reference's taken right after it,
    byte for byte but for the expire column, which ticks while the tools
    start (seconds under emulation): there ours, taken first, may be ahead
    by the seconds that passed, never behind."""
    for _ in range(tries):
        t0 = time.monotonic()
        p = ns("ipvs-dr", "sh -c '%s %s; echo =====; ipvsadm %s'" % (OURS, args, args),
               check=False)
        elapsed = time.monotonic() - t0
        ours, _, ref = p.stdout.partition("=====\n")
        if not ours.startswith("IPVS connection entries"):
            continue
        (ol, oe), (rl, re_) = _expiry_apart(ours), _expiry_apart(ref)
        if ol == rl and all(0 <= a - b <= elapsed + 1 for a, b in zip(oe, re_)):
            return True
    return False


@pytest.mark.one_kernel("newest")  # the datapath as set; test_ipip on both kernels
def test_direct_routing(net):
    ns("ipvs-rs", "ip link set tunl0 down", check=False)
    ipvsadm("-C")
    ipvsadm("-A -t %s:8080" % VIP)
    ipvsadm("-a -t %s:8080 -r 10.10.2.2 -g -w 2" % VIP)
    assert "-a -t 10.10.1.100:8080 -r 10.10.2.2:8080 -g -w 2" in ipvsadm("-Sn")
    assert fetch() == "reply-from-rs-8080"


def test_ipip(net):
    ns("ipvs-rs", "ip link set tunl0 up")
    ns("ipvs-rs", "sysctl -qw net.ipv4.conf.tunl0.rp_filter=0", check=False)
    ipvsadm("-C")
    ipvsadm("-A -t %s:8080 -s wrr" % VIP)
    ipvsadm("-a -t %s:8080 -r 10.10.2.2 -i" % VIP)
    assert "Tunnel  ipip" in ipvsadm("-Ln --tun-info")
    assert fetch() == "reply-from-rs-8080"
    ipvsadm("-C")
