# --apply --scope beside keepalived itself: Debian's keepalived runs in the
# foreground in a director namespace, managing one NAT virtual server whose
# TCP_CHECK connects to two real servers in another namespace; the test
# stops and starts one real server's listener (health-check flips) while
# scoped applies of our rules change our own services (weights, a service
# taken out of the file and put back, a real server drained away). After
# each apply, keepalived's service, real servers and weights are what its
# log says it set, and ours are the file's, both read with the reference
# `ipvsadm -Sn`.
#
#   director (ns ka-dr): keepalived, VIP 10.70.1.100:80 --- veth ---
#   real servers (ns ka-rs): 10.70.2.2:8080 (flips), 10.70.2.2:8081 (stays up)
import os
import re
import shutil
import subprocess
import tempfile
import time

import pytest

from cli_harness import run_ours
from netns_shell import ns, sh, stop

DR, RS = "ka-dr", "ka-rs"
VIP, VPORT = "10.70.1.100", 80
RIP = "10.70.2.2"
FLIPPING, STEADY = 8080, 8081
WEIGHTS = {FLIPPING: 3, STEADY: 5}  # keepalived's, from its configuration
SCOPE = "10.71.0.0/16,fwmark:700-799"
APPLIES = 12
FLIP_AT = (2, 5, 8, 10)  # the rounds that start by stopping / starting the listener

pytestmark = [
    pytest.mark.skipif(shutil.which("keepalived") is None,
                       reason="needs keepalived (Debian's package; scripts/test installs it)"),
    pytest.mark.skipif(shutil.which("socat") is None, reason="needs socat"),
    pytest.mark.skipif(os.environ.get("IPVS_IN_VM") != "1", reason="needs the IPVS kernel"),
    pytest.mark.one_kernel,  # the scope is a plan's; the kernel calls are proven elsewhere
]

CONF = """global_defs {
    router_id ipvs_scope_test
}
virtual_server %(vip)s %(vport)d {
    delay_loop 1
    lb_algo wrr
    lb_kind NAT
    protocol TCP
    real_server %(rip)s %(flipping)d {
        weight %(w1)d
        TCP_CHECK {
            connect_timeout 1
            retry 1
            delay_before_retry 1
        }
    }
    real_server %(rip)s %(steady)d {
        weight %(w2)d
        TCP_CHECK {
            connect_timeout 1
        }
    }
}
""" % dict(vip=VIP, vport=VPORT, rip=RIP, flipping=FLIPPING, steady=STEADY,
           w1=WEIGHTS[FLIPPING], w2=WEIGHTS[STEADY])

# keepalived's log line for a real server it adds or removes (check/ipwrapper.c):
# "Removing service [10.70.2.2]:tcp:8080 from VS [10.70.1.100]:tcp:80"
CHANGE = re.compile(r"(Adding|Removing) service \[%s\]:(?:tcp:)?(\d+) (?:to|from) VS "
                    r"\[%s\]:(?:tcp:)?%d" % (re.escape(RIP), re.escape(VIP), VPORT))


def listener(port):
    return subprocess.Popen(["ip", "netns", "exec", RS, "socat",
                             "TCP-LISTEN:%d,fork,reuseaddr" % port, "SYSTEM:true"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


class Keepalived:
    """keepalived in the foreground in the director's namespace, its
    console log in a file; what it says it did, read from that log."""

    def __init__(self, folder):
        self.folder = folder
        conf = os.path.join(folder, "keepalived.conf")
        with open(conf, "w") as f:
            f.write(CONF)
        out = os.environ.get("IPVS_VM_OUT") or folder
        self.log = os.path.join(out, "keepalived.log")
        pid = [os.path.join(folder, n) for n in ("keepalived.pid", "checkers.pid", "vrrp.pid")]
        with open(self.log, "w") as f:
            self.proc = subprocess.Popen(
                ["ip", "netns", "exec", DR, "keepalived", "-n", "-l", "-D", "-f", conf,
                 "-p", pid[0], "-c", pid[1], "-r", pid[2]],
                stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT)

    def text(self):
        with open(self.log, errors="replace") as f:
            return f.read()

    def changes(self):
        """[(added: bool, port)] in the order keepalived logged them."""
        return [(m.group(1) == "Adding", int(m.group(2))) for m in CHANGE.finditer(self.text())]

    def up(self):
        """The real servers keepalived says it has in the table now: both
        at its start (no `alpha`: it adds every real server before the
        first check), then as its log lines add and remove them."""
        state = {FLIPPING: True, STEADY: True}
        for added, port in self.changes():
            state[port] = added
        return {p for p, on in state.items() if on}

    def stop(self):
        stop([self.proc], timeout=20)


def saved():
    """The reference `ipvsadm -Sn` of the director: (keepalived's lines,
    ours), each a set."""
    text = ns(DR, "ipvsadm -Sn").stdout
    lines = set(text.splitlines())
    theirs = {l for l in lines if " %s:%d" % (VIP, VPORT) in l}
    return theirs, lines - theirs


def keepalived_lines(up):
    svc = "-t %s:%d" % (VIP, VPORT)
    return {"-A %s -s wrr" % svc} | {"-a %s -r %s:%d -m -w %d" % (svc, RIP, p, WEIGHTS[p])
                                     for p in up}


def rules(r):
    """Our rules of round r, as `ipvsadm -Sn` writes them: weights that
    change every round, a UDP service that is in the file two rounds out of
    three, a real server in the file three rounds out of four."""
    lines = ["-A -t 10.71.0.1:80 -s rr",
             "-a -t 10.71.0.1:80 -r 10.72.0.1:80 -m -w %d" % (1 + r % 4)]
    if r % 4 != 3:
        lines.append("-a -t 10.71.0.1:80 -r 10.72.0.2:80 -m -w %d" % (5 - r % 3))
    if r % 3 != 1:
        lines += ["-A -u 10.71.0.2:53 -s wlc", "-a -u 10.71.0.2:53 -r 10.72.0.3:53 -m -w 2"]
    lines += ["-A -f 700 -s sh", "-a -f 700 -r 10.72.0.4:0 -m -w %d" % (r + 1)]
    return lines


def ours(args, rules_text):
    return run_ours(["--netns", DR] + args, rules_text)


@pytest.fixture
def shared():
    for n in (DR, RS):
        sh("ip netns del %s" % n, check=False)
        sh("ip netns add %s" % n)
        ns(n, "ip link set lo up")
    sh("ip link add kad0 netns %s type veth peer name kar0 netns %s" % (DR, RS))
    ns(DR, "ip addr add 10.70.2.1/24 dev kad0")
    ns(DR, "ip link set kad0 up")
    ns(DR, "ip addr add %s/32 dev lo" % VIP)
    ns(RS, "ip addr add %s/24 dev kar0" % RIP)
    ns(RS, "ip link set kar0 up")
    ns(RS, "ip route add default via 10.70.2.1")
    listeners = {p: listener(p) for p in (FLIPPING, STEADY)}
    folder = tempfile.mkdtemp(prefix="keepalived-")  # /tmp: the VM's overlay
    ka = Keepalived(folder)
    try:
        yield ka, listeners
    finally:
        ka.stop()
        stop(list(listeners.values()))
        shutil.rmtree(folder, ignore_errors=True)
        for n in (DR, RS):
            sh("ip netns del %s" % n, check=False)


def wait_until(what, seconds, ka):
    deadline = time.monotonic() + seconds
    while not what():
        if time.monotonic() > deadline or ka.proc.poll() is not None:
            raise AssertionError("keepalived did not get there in %ds (exit %s); its log:\n%s"
                                 % (seconds, ka.proc.poll(), ka.text()[-3000:]))
        time.sleep(0.2)


def check(ka, rules_lines):
    """After an apply: ours are the file's at once; keepalived's are what
    its log says, read between two readings of the log that agree (it
    logs a change right before it makes it, so a reading may fall in
    between: then read again, for up to 3 s)."""
    deadline = time.monotonic() + 3
    while True:
        before = ka.up()
        theirs, mine = saved()
        after = ka.up()
        assert mine == set(rules_lines)
        if before == after and theirs == keepalived_lines(after):
            return after
        if time.monotonic() > deadline:
            assert theirs == keepalived_lines(after), ka.text()[-3000:]
        time.sleep(0.1)


def test_scoped_applies_leave_keepalived_its_service_across_health_check_flips(shared, tmp_path):
    ka, listeners = shared
    start = time.monotonic()
    wait_until(lambda: saved()[0] == keepalived_lines({FLIPPING, STEADY}), 30, ka)
    # unscoped, our rules would take keepalived's service away
    status, out, err = ours(["--apply", "--dry-run"], "\n".join(rules(0)) + "\n")
    assert (status, err) == (0, "")
    assert "ipvsadm -D -t %s:%d\n" % (VIP, VPORT) in out
    f = tmp_path / "rules"
    flips = drained = removed = 0
    seen = []
    for r in range(APPLIES):
        if r in FLIP_AT:  # stop or start the listener; apply before keepalived sees it
            if listeners[FLIPPING].poll() is None:
                stop([listeners[FLIPPING]])
            else:
                listeners[FLIPPING] = listener(FLIPPING)
            flips += 1
        lines = rules(r)
        f.write_text("\n".join(lines) + "\n")
        if r in FLIP_AT:  # (CI time: the plan, while keepalived is about to change)
            status, out, err = ours(["--apply", str(f), "--dry-run", "--scope", SCOPE], None)
            assert (status, err) == (0, "") and out and VIP not in out
        args = ["--apply", str(f), "--scope", SCOPE]
        if r % 4 == 3:  # a real server leaves the file: drained (no connections: at once)
            args += ["--drain", "0"]
            drained += 1
        removed += r % 3 == 1
        assert ours(args, None) == (0, "", "")
        seen.append(check(ka, lines))
        if r in FLIP_AT:  # keepalived's health check sees the flip, then the table again
            want = listeners[FLIPPING].poll() is None
            wait_until(lambda: (FLIPPING in ka.up()) == want, 30, ka)
            check(ka, lines)
    took = time.monotonic() - start
    changes = ka.changes()
    assert [added for added, port in changes if port == FLIPPING] == [False, True, False, True]
    assert all(port == FLIPPING for _, port in changes)
    assert FLIPPING not in seen[FLIP_AT[0] + 1] and FLIPPING in seen[-1]
    # keepalived ends: it removes its own service; ours stay as the file says
    ka.stop()
    theirs, mine = saved()
    assert theirs == set() and mine == set(rules(APPLIES - 1))
    print("keepalived: %d scoped applies (%d with --drain, %d after a service left the "
          "file), %d health-check flips, %.1f s" % (APPLIES, drained, removed, flips, took))
