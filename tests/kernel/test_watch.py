# -L --watch driven in tmux with real traffic: the rates shown against
# counter deltas read independently with the reference ipvsadm, the sort
# keys, a window resize, and q leaving the terminal as it was.
#
#   client (ns wat-cl) --- director (ns wat-dr) --- real server (ns wat-rs)
#   VIP 10.60.1.100: :8081 carries a steady stream of connections, :8080 none.
import os
import re
import shutil
import subprocess
import sys
import time

import pytest

from cli_harness import VENV_BIN
from netns_shell import nat_hosts, ns, sh

NS = ("wat-cl", "wat-dr", "wat-rs")
VIP = "10.60.1.100"
OURS = os.path.join(VENV_BIN, "ipvsadm")
TMUX = ["tmux", "-L", "ipvs-watch-test"]
INTERVAL = 4  # two of the kernel's 2 s counter folds per interval

pytestmark = [
    pytest.mark.skipif(shutil.which("tmux") is None or shutil.which("socat") is None,
                       reason="needs tmux and socat"),
    pytest.mark.skipif(os.environ.get("IPVS_IN_VM") != "1", reason="needs the IPVS kernel"),
    pytest.mark.one_kernel,  # about 3 minutes a kernel
]

CLIENT = r"""
import socket, sys, time
while True:
    try:
        s = socket.create_connection((sys.argv[1], 8081), timeout=5)
        s.recv(100)
        s.close()
    except OSError:
        pass
    time.sleep(0.05)
"""


def tmux(*args):
    return subprocess.run(TMUX + list(args), capture_output=True, text=True, timeout=30)


def screen():
    return tmux("capture-pane", "-p", "-t", "w").stdout.splitlines()


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    nat_hosts(NS, "10.60", VIP)
    procs = [subprocess.Popen(["ip", "netns", "exec", "wat-rs", "socat",
                               "TCP-LISTEN:8001,fork,reuseaddr", "SYSTEM:echo hi"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    for port in (8080, 8081):
        ns("wat-dr", "%s -A -t %s:%d -s rr" % (OURS, VIP, port))
        ns("wat-dr", "%s -a -t %s:%d -r 10.60.2.2:8001 -m" % (OURS, VIP, port))
    deadline = time.monotonic() + 60
    while ":8001 " not in ns("wat-rs", "ss -ltn", check=False).stdout:
        assert time.monotonic() < deadline
        time.sleep(0.3)
    procs.append(subprocess.Popen(["ip", "netns", "exec", "wat-cl", sys.executable, "-c",
                                   CLIENT, VIP], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL))
    d = tmp_path_factory.mktemp("watch")
    tmux("kill-server")
    cmd = ("stty -g > %s/before; ip netns exec wat-dr %s -L --watch %d --exact; "
           "echo exit=$? > %s/status; stty -g > %s/after; echo WATCH-ENDED; sleep 600"
           % (d, OURS, INTERVAL, d, d))
    r = tmux("new-session", "-d", "-s", "w", "-x", "150", "-y", "40", cmd)
    assert r.returncode == 0, r.stderr
    yield d
    tmux("kill-server")
    for p in procs:
        p.terminate()
        p.wait(timeout=20)
    for n in NS:
        sh("ip netns del %s" % n, check=False)


def frame_time(lines):
    m = re.search(r"every \S+ (\d\d:\d\d:\d\d)", lines[0]) if lines else None
    return m.group(1) if m else None


def clock(lines):
    """The header's clock (the view's draw, right after its read) in seconds."""
    h, m, s = map(int, frame_time(lines).split(":"))
    return h * 3600 + m * 60 + s


def next_frame(seconds=30):
    """A screen drawn after this call: the header's clock moved on."""
    old = frame_time(screen())
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        lines = screen()
        t = frame_time(lines)
        if t and t != old and any(l.startswith("TCP %s:8081" % VIP) for l in lines):
            return lines
        time.sleep(0.2)
    raise AssertionError("no new frame:\n" + "\n".join(screen()))


def row(lines, port):
    for l in lines:
        f = l.split()
        if f[:2] == ["TCP", "%s:%d" % (VIP, port)]:
            return f
    raise AssertionError("no row for :%d in\n%s" % (port, "\n".join(lines)))


def reference_counters():
    out = ns("wat-dr", "ipvsadm -Ln --stats --exact -t %s:8081" % VIP).stdout
    f = [l.split() for l in out.splitlines() if l.startswith("TCP")][0]
    return time.monotonic(), int(f[2]), int(f[5])  # time, conns, inbytes


def test_rates_match_the_counter_deltas(net):
    next_frame(60)
    next_frame()  # the first interval starts while everything starts: not steady
    _, c0, b0 = reference_counters()
    frames = []
    earlier = reference_counters()
    for _ in range(4):
        before = reference_counters()
        lines = next_frame()
        after = reference_counters()
        f = row(lines, 8081)
        frames.append((clock(lines), float(f[2]), float(f[5]), int(f[7])))
        # the total shown is the kernel's counter at the view's read, which
        # independent readings bracket: seen in the VM, a frame drawn up to
        # one fold (2 s) after its read under emulation, hence the reading
        # before the previous frame as the lower bound
        assert earlier[1] <= int(f[7]) <= after[1], (earlier, before, f, after)
        earlier = before
    _, c1, b1 = reference_counters()
    # each rate shown is the delta of the totals shown over the time between
    # the view's reads: at least the interval, and, when emulation stalls the
    # view past it, the time between the frames' clocks (whole seconds), not
    # the nominal interval; the rate is shown to 0.1
    for (s0, _, _, n0), (s1, rate, _, n1) in zip(frames, frames[1:]):
        assert n1 - n0 > 0
        between = (s1 - s0) % 86400
        shortest, longest = (n1 - n0) / (rate + 0.05), (n1 - n0) / max(rate - 0.05, 0.01)
        assert longest >= INTERVAL * 0.9, frames
        assert shortest - 1.2 <= between <= longest + 1.2, frames
    # the byte rate shown is its interval's too: every connection here is the
    # same exchange, so an interval's bytes are its connections times the
    # bytes per connection the reference's counters show over the whole run
    # (the traffic itself is unsteady under emulation on a busy host: a rate
    # is not held to the run's average)
    assert c1 - c0 >= 10, "too little traffic to measure"
    per_conn = (b1 - b0) / (c1 - c0)
    for _, conns, inbytes, _ in frames:
        assert abs(inbytes - conns * per_conn) <= 0.25 * conns * per_conn + 100, \
            (frames, per_conn)
    assert row(next_frame(), 8080)[2] == "0.0"  # the idle service


def names_in_order(lines):
    return [l.split()[1] for l in lines if l.startswith("TCP ")]


def test_sort_keys(net):
    lines = next_frame()
    assert names_in_order(lines) == ["%s:8081" % VIP, "%s:8080" % VIP]  # conn/s, busiest first
    assert "CONN/S*" in lines[3]
    tmux("send-keys", "-t", "w", "n")
    time.sleep(1.5)
    lines = screen()
    assert "NAME*" in lines[3] and names_in_order(lines)[0] == "%s:8080" % VIP
    tmux("send-keys", "-t", "w", "n")  # again: the other way round
    time.sleep(1.5)
    assert names_in_order(screen())[0] == "%s:8081" % VIP
    tmux("send-keys", "-t", "w", "c")
    time.sleep(1.5)
    assert "CONN/S*" in screen()[3]


def test_resize(net):
    # (in this VM the view's environment holds LINES=40 COLUMNS=150, the
    # window's size when the shell in it started: the view must follow the
    # terminal, not them)
    def redrawn(width, test):
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            lines = screen()
            # (a capture can catch the screen half drawn: wait for the whole line)
            if len(lines) > 3 and lines[3].startswith("NAME") and test(lines):
                return lines
            time.sleep(0.3)
        raise AssertionError("not redrawn for width %d:\n%s" % (width, "\n".join(screen())))
    tmux("resize-window", "-t", "w", "-x", "60", "-y", "8")
    lines = redrawn(60, lambda l: "CONN/S" in l[3] and "WEIGHT" not in l[3])
    assert len(lines) <= 8 and all(len(l) <= 60 for l in lines)
    assert "CONN/S" in lines[3]
    tmux("resize-window", "-t", "w", "-x", "150", "-y", "40")
    redrawn(150, lambda l: "WEIGHT" in l[3])


def test_q_restores_the_terminal(net):
    d = net
    tmux("send-keys", "-t", "w", "q")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not (d / "after").exists():
        time.sleep(0.3)
    time.sleep(0.5)
    assert (d / "status").read_text().strip() == "exit=0"
    assert (d / "before").read_text() == (d / "after").read_text()
    assert tmux("display-message", "-p", "-t", "w", "#{alternate_on}").stdout.strip() == "0"
    assert any("WATCH-ENDED" in l for l in screen())
