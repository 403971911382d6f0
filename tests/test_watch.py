"""The live view's pure parts: rate math from counter deltas (ipvs.watch),
sorting, the key handling and the screen layout (ipvs.cli._watchview), the
plain-text driver against the in-memory kernel, and the terminal drivers
in tmux across window resizes."""
import io
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time

import pytest

from ipvs import Destination, Service, Stats
from ipvs import watch as W
from ipvs.cli import _watchview as V

S1 = Service(protocol="tcp", address="10.0.0.1", port=80)
S2 = Service(protocol="udp", address="10.0.0.2", port=53)
D1 = Destination(address="192.168.0.1", port=80, weight=2, active_conns=3)
D2 = Destination(address="192.168.0.2", port=80, weight=1, inactive_conns=4)


def sample(t, n):
    """Counters that grow by n (S1) and 3n (S2) per unit of time."""
    def st(k):
        return Stats(k, 10 * k, 9 * k, 1000 * k, 2 ** 40 + 5000 * k)
    return W.Sample([(S1.replace(stats=st(n * t)), [D1.replace(stats=st(n * t - t)),
                                                    D2.replace(stats=st(t))]),
                     (S2.replace(stats=st(3 * n * t)), [])], float(t))


def test_rates_are_counter_deltas_over_the_interval():
    assert W.counter_rates(None, Stats(), 2) is None
    assert W.counter_rates(Stats(10, 20, 30, 40, 2 ** 63), Stats(14, 20, 36, 40, 2 ** 63 + 8),
                           2.0) == (2.0, 0.0, 3.0, 0.0, 4.0)
    # zeroed in between (ipvsadm -Z): counted from 0
    assert W.counter_rates(Stats(100), Stats(6), 3.0)[0] == 2.0


def test_groups_and_totals():
    gs = W.groups(sample(10, 2), sample(12, 2))
    s1, ds = gs[0]
    assert s1.rates == (2.0, 20.0, 18.0, 2000.0, 10000.0)
    assert [d.rates[0] for d in ds] == [1.0, 1.0]
    assert s1.active == 3 and s1.inactive == 4 and s1.weight == 3
    assert gs[1][0].rates[0] == 6.0
    t = W.total_row(gs)
    assert t.rates[0] == 8.0 and t.stats.conns == 24 + 72
    first = W.groups(None, sample(1, 1))
    assert first[0][0].rates is None and W.total_row(first).rates is None


def test_sorting_by_each_key():
    gs = W.groups(sample(10, 2), sample(12, 2))
    by = W.sort_groups(gs, "conn_rate")
    assert [g[0].service for g in by] == [S2.replace(stats=by[0][0].stats), by[1][0].service]
    assert by[0][0].service.port == 53
    assert W.sort_groups(gs, "name")[0][0].service.port == 80  # names ascend
    assert W.sort_groups(gs, "active")[0][0].service.port == 80
    assert [d.dest.address for d in W.sort_groups(gs, "inactive")[0][1]][0] == "192.168.0.2"


def test_keys():
    st = V.State(2)
    assert st.sort == "conn_rate" and st.descending
    assert st.key("b") and st.sort == "inbyte_rate"
    assert st.key("b") and not st.descending  # the same key again: the other way
    assert st.key("r") and st.descending
    assert not st.key("z")
    st.key("q")
    assert st.quit


def test_layout_fits_the_window():
    gs = W.groups(sample(10, 2), sample(12, 2))
    st = V.State(2)
    wide = V.layout(gs, st, 200, 50)
    assert "CONN/S*" in wide[3] and "WEIGHT" in wide[3]
    assert wide[4].startswith("UDP 10.0.0.2:53")
    narrow = V.layout(gs, st, 50, 6)
    assert len(narrow) == 6 and all(len(l) <= 50 for l in narrow)
    assert "WEIGHT" not in narrow[3] and "CONN/S" in narrow[3]
    exact = V.layout(gs, st, 200, None, exact=True)
    assert any(l.split()[:3] == ["TCP", "10.0.0.1:80", "2.0"] for l in exact)
    assert W.human(12345) == "12.3K" and W.human(950) == "950" and W.human(-1) == "-"


def test_plain_frames(monkeypatch):
    import sys
    sys.path.insert(0, "tests")
    from test_cli_beyond import FakeClient, run
    k = FakeClient([(S1.replace(stats=Stats(5)), [D1.replace(stats=Stats(5))])])
    monkeypatch.setattr("ipvs.Client", lambda **kw: k)
    frames = []

    def sleep(s):
        frames.append(s)
        if len(frames) > 2:
            raise KeyboardInterrupt
    monkeypatch.setattr("time.sleep", sleep)
    status, out, err = run(["-L", "--watch", "0.5", "--exact"])
    assert (status, err) == (0, "")
    assert out.count("NAME") == 2 and "TCP 10.0.0.1:80" in out
    for args, msg in [(["-L", "--watch", "0"], "--watch: not a number of seconds above 0"),
                      (["-L", "--watch", "1e10"], "--watch: the interval is at most 3600 s"),
                      (["-L", "--watch=3600.5"], "--watch: the interval is at most 3600 s"),
                      (["-L", "-t", "1.2.3.4:80", "--watch"], "--watch shows every service"),
                      (["-A", "-t", "1.2.3.4:80", "--watch"], "--watch goes with -L")]:
        status, out, err = run(args)
        assert status == 2 and err.startswith(msg) and "Traceback" not in err, (args, err)


# The terminal drivers in a real terminal (tmux on this machine): a resize
# lays the view out again for the new size. Two ways the curses driver went
# wrong in the VM, each made here on purpose: LINES and COLUMNS exported
# with a size the window no longer has (ncurses takes them over the
# terminal's own size, at the start and at every SIGWINCH: the view stayed
# at 150x40 in a 60x8 window), and a SIGWINCH that came before ncurses set
# its handler (lost, as its default action is to ignore it; here SIGWINCH
# is blocked from the start, so ncurses never sees one). The ANSI driver
# with the same environment.
CHILD = r"""
import signal, sys
sys.path[:0] = ["src", "tests"]
import ipvs
from ipvs import Destination, Service, Stats
from test_cli_beyond import FakeClient
if sys.argv[1] == "lost-sigwinch":
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGWINCH})
k = FakeClient([(Service(protocol="tcp", address="10.0.0.%d" % i, port=80, stats=Stats(5)),
                 [Destination(address="192.168.0.%d" % i, port=80, weight=2, stats=Stats(5))])
                for i in range(1, 13)])  # 28 lines: more than a small window holds
ipvs.Client = lambda **kw: k
from ipvs.cli import main
sys.exit(main(["ipvsadm", "-L", "--watch", "1"]))
"""


@pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")
@pytest.mark.parametrize("case", ["stale-env", "lost-sigwinch", "ansi"])
def test_terminal_drivers_redraw_at_the_new_size(tmp_path, case):
    sock = ["tmux", "-L", "ipvs-watch-unit-%d-%s" % (os.getpid(), case)]

    def tmux(*args):
        return subprocess.run(sock + list(args), capture_output=True, text=True, timeout=30)

    def screen_when(test, what):
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            lines = tmux("capture-pane", "-p", "-t", "w").stdout.splitlines()
            if len(lines) > 3 and lines[3].startswith("NAME") and test(lines):
                return lines
            time.sleep(0.2)
        raise AssertionError("%s:\n%s" % (what, "\n".join(lines)))
    (tmp_path / "child.py").write_text(CHILD)
    cmd = "cd %s && env TERM=tmux-256color LINES=40 COLUMNS=150 IPVS_WATCH_UI=%s %s %s %s; " \
          "echo exit=$? > %s; sleep 60" % (
              shlex.quote(os.getcwd()), "ansi" if case == "ansi" else "curses",
              shlex.quote(sys.executable), tmp_path / "child.py", case, tmp_path / "status")
    assert tmux("new-session", "-d", "-s", "w", "-x", "150", "-y", "40", cmd).returncode == 0
    try:
        screen_when(lambda l: "WEIGHT" in l[3], "no first frame")
        tmux("resize-window", "-t", "w", "-x", "60", "-y", "8")
        # laid out for 60 columns, not a wider screen cut by the terminal
        lines = screen_when(lambda l: "CONN/S*" in l[3], "not laid out again for 60x8")
        assert len(lines) <= 8 and all(len(l) < 60 for l in lines), lines
        assert "WEIGHT" not in lines[3]
        assert lines[0].startswith("IPVS every 1s") and lines[4].startswith("TCP 10.0.0.")
        assert lines[5].startswith("  -> 192.168.0.")
        # and to a third size: no frame for any other size on the way (with
        # the stale LINES and COLUMNS, ncurses would lay out one for 150x40
        # first), seen in what the view writes to the terminal
        out = tmp_path / "out"
        out.touch()
        assert tmux("pipe-pane", "-t", "w", "cat >> %s" % out).returncode == 0
        time.sleep(0.5)
        tmux("resize-window", "-t", "w", "-x", "100", "-y", "20")
        lines = screen_when(lambda l: "WEIGHT" not in l[3] and "CONNS" in l[3],
                            "not laid out again for 100x20")
        assert all(len(l) < 100 for l in lines) and lines[5].startswith("  -> 192.168.0.")
        time.sleep(1.5)
        moves = re.findall(rb"\033\[(\d+);(\d+)[Hr]", out.read_bytes())
        assert case == "ansi" or moves  # (the ANSI driver draws from the top left)
        assert not [m for m in moves if int(m[0]) > 20 or int(m[1]) > 100], moves
        tmux("send-keys", "-t", "w", "q")
        deadline = time.monotonic() + 20
        while not (tmp_path / "status").exists():
            assert time.monotonic() < deadline, "q did not end the view"
            time.sleep(0.2)
        assert (tmp_path / "status").read_text().strip() == "exit=0"
    finally:
        tmux("kill-server")


EOF_CHILD = r"""
import os, sys
sys.path[:0] = ["src", "tests"]
import ipvs
from ipvs import Destination, Service, Stats
from test_cli_beyond import FakeClient
k = FakeClient([(Service(protocol="tcp", address="10.0.0.1", port=80, stats=Stats(5)),
                 [Destination(address="192.168.0.1", port=80, weight=2, stats=Stats(5))])])
ipvs.Client = lambda **kw: k
open(sys.argv[1], "w").write(str(os.getpid()))
from ipvs.cli import main
sys.exit(main(["ipvsadm", "-L", "--watch", "1"]))
"""


@pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")
@pytest.mark.parametrize("ui", ["curses", "ansi"])
def test_terminal_view_with_input_at_its_end_sleeps(tmp_path, ui):
    """Standard input at its end (/dev/null) and a terminal for output:
    the view waits for its interval instead of spinning on the input."""
    sock = ["tmux", "-L", "ipvs-watch-eof-%d-%s" % (os.getpid(), ui)]

    def tmux(*args):
        return subprocess.run(sock + list(args), capture_output=True, text=True, timeout=30)
    (tmp_path / "child.py").write_text(EOF_CHILD)
    pidfile = tmp_path / "pid"
    cmd = "cd %s && env TERM=tmux-256color IPVS_WATCH_UI=%s %s %s %s < /dev/null; " \
          "echo exit=$? > %s; sleep 60" % (
              shlex.quote(os.getcwd()), ui, shlex.quote(sys.executable),
              tmp_path / "child.py", pidfile, tmp_path / "status")
    assert tmux("new-session", "-d", "-s", "w", "-x", "120", "-y", "30", cmd).returncode == 0
    try:
        deadline = time.monotonic() + 20
        while not pidfile.exists() or not pidfile.read_text():
            assert time.monotonic() < deadline, "the view did not start"
            time.sleep(0.1)
        pid = int(pidfile.read_text())
        time.sleep(2)  # start-up over

        def cpu():
            f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
            return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
        before, t0 = cpu(), time.monotonic()
        time.sleep(3)
        used = cpu() - before
        assert used < 0.3 * (time.monotonic() - t0), "%.2f s of CPU in 3 s" % used
        os.kill(pid, signal.SIGTERM)
        while not (tmp_path / "status").exists():
            assert time.monotonic() < deadline + 20, "SIGTERM did not end the view"
            time.sleep(0.2)
        assert (tmp_path / "status").read_text().strip() == "exit=0"
    finally:
        tmux("kill-server")
