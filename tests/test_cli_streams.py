"""The installed commands as programs, on the host (no kernel needed):
checked writes, closed descriptors, SIGPIPE, Ctrl-C, hostile numbers.
The same against the reference's exit statuses: tests/kernel/test_robust.py."""
import os
import signal
import subprocess
import sys
import time

import pytest

BIN = os.path.dirname(sys.executable)
IPVSADM = os.path.join(BIN, "ipvsadm")


def sh(cmd, **env):
    e = dict(os.environ, **env)
    p = subprocess.run(["sh", "-c", cmd], capture_output=True, env=e, timeout=60)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


@pytest.mark.parametrize("unbuffered", ["", "1"])
@pytest.mark.parametrize("cmd,msg", [
    ("-h >/dev/full", "ipvsadm: write error: No space left on device\n"),
    ("-v >/dev/full", "ipvsadm: write error: No space left on device\n"),
    ("-h >&-", "ipvsadm: write error: Bad file descriptor\n"),
    ("-v >&-", "ipvsadm: write error: Bad file descriptor\n"),
])
def test_failed_writes_are_errors(cmd, msg, unbuffered):
    rc, out, err = sh("%s %s" % (IPVSADM, cmd), PYTHONUNBUFFERED=unbuffered)
    assert (rc, err) == (1, msg)


def test_closed_stderr_keeps_the_status():
    assert sh("%s -A 2>&-" % IPVSADM)[0] == 2
    assert sh("%s -h 2>&-" % IPVSADM)[:2] == (0, sh("%s -h" % IPVSADM)[1])


@pytest.mark.parametrize("unbuffered", ["", "1"])
def test_closed_pipe_kills_by_sigpipe_silently(unbuffered):
    r, w = os.pipe()
    os.close(r)
    p = subprocess.run([IPVSADM, "-h"], stdout=w, stderr=subprocess.PIPE, timeout=60,
                       env=dict(os.environ, PYTHONUNBUFFERED=unbuffered))
    os.close(w)
    assert (p.returncode, p.stderr) == (-signal.SIGPIPE, b"")


@pytest.mark.parametrize("prog,args", [("ipvsadm-restore", []), ("ipvsadm", ["-R"]),
                                       ("ipvsadm", ["-R", "--atomic"]),
                                       ("ipvsadm", ["--apply"])])
def test_ctrl_c_while_reading_stdin_dies_of_sigint(prog, args):
    # SIGINT's default action in the child, as at a terminal: a shell that
    # runs the test suite in the background (`cmd &` without job control)
    # leaves SIGINT ignored, and an ignored disposition survives exec
    p = subprocess.Popen([os.path.join(BIN, prog)] + args, stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    time.sleep(1.5)  # started and waiting on stdin
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    assert p.returncode == -signal.SIGINT and b"Traceback" not in err, err


@pytest.mark.parametrize("cmd,status", [
    ("ipvsadm-restore <&-", 1), ("ipvsadm --apply <&-", 1),
    ("ipvsadm -R --atomic -0", 255), ("ipvsadm -R --atomic <&-", 1),
])
def test_closed_stdin_and_popt_failures(cmd, status):
    rc, out, err = sh(os.path.join(BIN, cmd))
    assert rc == status and "Traceback" not in err and "internal error" not in err, err


@pytest.mark.parametrize("args,msg", [
    (["-A", "-t", "1.2.3.4:80", "-p", "9" * 5000], "invalid timeout value"),
    (["-a", "-t", "1.2.3.4:80", "-r", "1.1.1.1", "-w", "9" * 5000],
     "illegal weight specified"),
    (["-a", "-t", "1.2.3.4:80", "-r", "1.1.1.1", "-x", "-" + "9" * 5000],
     "illegal u_threshold specified"),
    (["-A", "-f", "9" * 5000], "invalid fwmark value"),
    (["-A", "-t", "1.2.3.4:" + "9" * 5000], "illegal virtual server address"),
    (["--start-daemon", "master", "--syncid", "9" * 5000], "illegal syncid specified"),
    (["-A", "-f", "1", "-6", "-M", "9" * 5000], "illegal ipv6 netmask specified"),
])
def test_huge_numbers_get_ipvsadm_messages(args, msg):
    from ipvs.cli import main
    import io
    out, err = io.StringIO(), io.StringIO()
    assert main(["ipvsadm"] + args, out, err) == 2
    assert err.getvalue().startswith(msg), err.getvalue()[:200]


def test_restore_words_as_config_stream():
    from ipvs.cli._run import restore_words
    assert restore_words("ipvsadm -A\v-t x\0yz:80 -s rr\r") == ["-A\v-t", "x", "-s", "rr"]
    assert restore_words("-s " + "a" * 5000) == ["-s", "a" * 4096, "a" * 904]


def test_restore_runs_each_line_as_it_arrives():
    """-R reads what has arrived, not a fixed amount: a program that writes
    a line and waits for its answer gets it (here the usage of a -h line,
    which ends ipvsadm as it ends 1.31) with stdin still open."""
    import select
    p = subprocess.Popen([IPVSADM, "-R"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    try:
        p.stdin.write(b"\n  \n-h\n")
        p.stdin.flush()
        ready = select.select([p.stdout], [], [], 30)[0]
        out = p.stdout.read() if ready else b""
        assert ready, "ipvsadm -R waited for more input before running a line"
        assert p.wait(timeout=30) == 0 and out.startswith(b"ipvsadm v1.31")
    finally:
        p.kill()
        p.stdin.close()
        p.stdout.close()
        p.stderr.close()
        p.wait()
