"""Network namespaces by name or path. Which values are paths, and which
files a path may name (every refusal is made before anything is opened);
entering a namespace needs root and `ip netns` (skipped otherwise). The
IPVS side is tested in the VM (tests/kernel/test_apply.py,
tests/kernel/test_netns_path.py)."""
import errno
import json
import os
import shutil
import stat
import subprocess
import sys
import textwrap
import threading
import time
import uuid

import pytest

import ipvs
from ipvs import exporter
from ipvs._netns import (Netns, NetnsError, delegated, is_path, netns_path, open_in_netns,
                         open_netns, run_in_netns)

IPVSADM = os.path.join(os.path.dirname(sys.executable), "ipvsadm")


def _own_ns():
    return os.readlink("/proc/thread-self/ns/net")


@pytest.fixture
def netns():
    if os.geteuid() != 0 or not shutil.which("ip"):
        pytest.skip("needs root and ip(8)")
    name = "ipvs-test-%s" % uuid.uuid4().hex[:8]
    if subprocess.run(["ip", "netns", "add", name], capture_output=True).returncode:
        pytest.skip("ip netns add is not allowed here")
    yield name
    subprocess.run(["ip", "netns", "del", name], capture_output=True)


def test_missing_namespace_is_a_clear_error():
    with pytest.raises(NetnsError) as ei:
        ipvs.Client(netns="no-such-ns-%s" % uuid.uuid4().hex[:6])
    assert str(ei.value).startswith('Cannot open network namespace "no-such-ns-')
    assert str(ei.value).endswith(": No such file or directory")
    assert isinstance(ei.value, ipvs.IPVSError) and isinstance(ei.value, OSError)
    with pytest.raises(NetnsError):
        netns_path("")


def test_a_value_with_a_slash_is_a_path_any_other_a_name_in_run_netns():
    assert netns_path("blue") == "/run/netns/blue"
    assert not is_path("blue") and not is_path("cni-1234")
    for path in ("/proc/1/ns/net", "../x", "a/b", "./foo", "foo/"):
        assert is_path(path) and netns_path(path) == path
    for bad in ("", ".", "..", "x\0y", "/x\0"):
        with pytest.raises(NetnsError) as ei:
            netns_path(bad)
        assert ei.value.errno == errno.EINVAL and "Invalid argument" in str(ei.value)


def test_a_name_is_never_a_file_of_the_working_directory(tmp_path, monkeypatch):
    # ./foo is a namespace file here; `foo` still means /run/netns/foo
    name = "ipvs-test-%s" % uuid.uuid4().hex[:8]
    os.symlink("/proc/self/ns/net", tmp_path / name)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(NetnsError) as ei:
        open_netns(name)
    assert ei.value.errno == errno.ENOENT
    os.close(open_netns("./" + name))


def test_runs_inside_and_the_caller_never_moves(netns):
    before = _own_ns()
    inside = run_in_netns(netns, _own_ns)
    assert inside != before
    assert _own_ns() == before
    # an exception inside reaches the caller, still in its own namespace
    with pytest.raises(ZeroDivisionError):
        run_in_netns(netns, lambda: 1 // 0)
    assert _own_ns() == before
    # other threads are never affected either
    seen = []
    t = threading.Thread(target=lambda: seen.append(_own_ns()))
    t.start()
    t.join()
    assert seen == [before]


def test_the_same_namespace_by_path(netns):
    # /run/netns/NAME given as a path, and /proc/PID/ns/net of a process
    # sleeping in the namespace, reach the namespace the name reaches
    inside = run_in_netns(netns, _own_ns)
    sleeper = subprocess.Popen(["ip", "netns", "exec", netns, "sleep", "60"])
    try:
        proc_path = "/proc/%d/ns/net" % sleeper.pid
        for _ in range(200):  # until ip has entered the namespace and exec'd sleep
            if os.readlink(proc_path) == inside:
                break
            time.sleep(0.05)
        for path in ("/run/netns/" + netns, proc_path):
            with Netns(path) as ns:
                assert ns.run(_own_ns) == inside
    finally:
        sleeper.kill()
        sleeper.wait()


def test_proc_net_file_of_the_namespace(netns):
    # a fresh namespace has only lo: /proc/thread-self/net/dev opened there
    # shows it, read from the caller's thread
    fd = open_in_netns(netns, "/proc/thread-self/net/dev")
    with open(fd, "rb") as f:
        ifaces = [line.split(b":")[0].strip() for line in f.read().splitlines()[2:]]
    assert ifaces == [b"lo"]


def test_client_in_a_namespace_without_ipvs_fails_cleanly(netns):
    # on this host there is no IPVS at all; what matters is the error type
    # and that the caller stays where it was
    before = _own_ns()
    try:
        c = ipvs.Client(netns=netns)
    except ipvs.NotAvailableError:
        pass
    else:
        c.close()
    assert _own_ns() == before


@pytest.fixture
def not_delegated(monkeypatch):
    for v in ("SUDO_UID", "DOAS_USER", "PKEXEC_UID"):
        monkeypatch.delenv(v, raising=False)
    if os.getuid() != os.geteuid() or os.getgid() != os.getegid():
        pytest.skip("runs with set-id privileges")


@pytest.fixture
def odd_files(tmp_path):
    """A regular file, a FIFO with no writer and a device node (a fresh one
    when we may make one, else /dev/null)."""
    (tmp_path / "file").write_bytes(b"not a namespace\n")
    os.mkfifo(tmp_path / "fifo")
    dev = tmp_path / "dev"
    try:
        os.mknod(dev, 0o600 | stat.S_IFCHR, os.makedev(1, 3))
    except OSError:
        dev = "/dev/null"
    return {"a regular file": str(tmp_path / "file"), "a FIFO": str(tmp_path / "fifo"),
            "a character device": str(dev), "a directory": str(tmp_path)}


AUDITED_OPENS = textwrap.dedent("""
    import json, sys
    from ipvs._netns import NetnsError, open_netns
    opened = []
    sys.addaudithook(lambda ev, args: opened.append(str(args[0])) if ev == "open" else None)
    out = {}
    for path in sys.argv[1:]:
        try:
            open_netns(path)
            out[path] = "opened"
        except NetnsError as e:
            out[path] = [e.errno, str(e)]
    print(json.dumps([out, opened]))
""")


def audited_open_netns(paths, env=None):
    """open_netns() of each path in a new process: ({path: "opened" or
    [errno, message]}, every file the process opened). Every open raises
    the "open" audit event (os.open, O_PATH included); a FIFO with no
    writer would block whoever opens it, so the process has a deadline."""
    p = subprocess.run([sys.executable, "-c", AUDITED_OPENS] + list(paths), env=env,
                       capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert p.returncode == 0, p.stderr
    out, opened = json.loads(p.stdout)
    return out, set(opened)


def test_a_path_to_anything_but_a_namespace_file_is_refused_unopened(odd_files, not_delegated):
    out, opened = audited_open_netns(list(odd_files.values()) + ["/proc/self/ns/net"])
    for kind, path in odd_files.items():
        assert out[path] == [errno.EINVAL, 'Cannot open network namespace "%s": '
                             'not a namespace file (%s)' % (path, kind)]
    assert not opened & set(odd_files.values())
    # the audit sees the opens there are: the namespace file's
    assert out["/proc/self/ns/net"] == "opened" and "/proc/self/ns/net" in opened


def test_the_cli_refuses_a_fifo_without_waiting_for_a_writer(odd_files, not_delegated):
    env = dict(os.environ)
    for path in odd_files.values():
        p = subprocess.run([IPVSADM, "--netns", path, "-L", "-n"], capture_output=True,
                           text=True, timeout=60, stdin=subprocess.DEVNULL, env=env)
        assert (p.returncode, p.stdout) == (1, "")
        assert p.stderr.startswith('ipvsadm: Cannot open network namespace "%s": not a '
                                   'namespace file (' % path)


def test_missing_paths_and_other_namespace_kinds(tmp_path, not_delegated):
    with pytest.raises(NetnsError) as ei:
        open_netns(str(tmp_path / "missing"))
    assert ei.value.errno == errno.ENOENT and str(ei.value).endswith(": No such file or directory")
    # on nsfs but a mount namespace: opened, then refused by its kind
    with pytest.raises(NetnsError) as ei:
        open_netns("/proc/self/ns/mnt")
    assert str(ei.value) == 'Cannot open network namespace "/proc/self/ns/mnt": ' \
        'a namespace of another kind'
    # a namespace file by path, directly or through a symlink
    os.symlink("/proc/self/ns/net", tmp_path / "link")
    for path in ("/proc/self/ns/net", "/proc/thread-self/ns/net", str(tmp_path / "link")):
        fd = open_netns(path)
        try:
            assert os.fstat(fd).st_ino == os.stat("/proc/self/ns/net").st_ino
            assert fcntl_flags(fd) & os.O_CLOEXEC
        finally:
            os.close(fd)


def fcntl_flags(fd):
    import fcntl
    return os.O_CLOEXEC if fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC else 0


@pytest.mark.parametrize("var", ["SUDO_UID", "DOAS_USER", "PKEXEC_UID"])
def test_under_sudo_a_path_is_refused_before_it_is_looked_at(var, tmp_path, monkeypatch,
                                                             not_delegated):
    assert not delegated()
    monkeypatch.setenv(var, "1000")
    assert delegated()
    for path in ("/proc/self/ns/net", str(tmp_path / "missing")):
        with pytest.raises(NetnsError) as ei:
            open_netns(path)
        assert ei.value.errno == errno.EPERM
        assert str(ei.value) == ('Cannot open network namespace "%s": a path is refused under '
                                 'sudo (give the name of a namespace in /run/netns)' % path)
    # names as before: a missing one is still just missing
    with pytest.raises(NetnsError) as ei:
        open_netns("no-such-ns-%s" % uuid.uuid4().hex[:6])
    assert ei.value.errno == errno.ENOENT


def test_with_a_real_uid_other_than_the_effective_one_a_path_is_refused(not_delegated):
    # a set-user-id start, made for real: root gives up its real uid only
    if os.geteuid() != 0:
        pytest.skip("needs root to set a real uid apart from the effective one")
    script = ("import os\n"
              "from ipvs._netns import NetnsError, open_netns\n"
              "os.close(open_netns('/proc/self/ns/net'))\n"
              "os.setresuid(65534, 0, 0)\n"
              "try:\n    open_netns('/proc/self/ns/net')\n"
              "except NetnsError as e:\n    print(e.errno, e)\n")
    p = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                       timeout=60)
    assert (p.returncode, p.stderr) == (0, "")
    assert p.stdout.startswith("%d Cannot open network namespace \"/proc/self/ns/net\": a path "
                               "is refused under sudo" % errno.EPERM)


def test_the_cli_and_the_exporter_refuse_a_path_under_sudo(capsys, monkeypatch, not_delegated):
    env = dict(os.environ, SUDO_UID="1000")
    p = subprocess.run([IPVSADM, "--netns", "/proc/self/ns/net", "-L", "-n"], env=env,
                       capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert (p.returncode, p.stdout, p.stderr) == (
        1, "", 'ipvsadm: Cannot open network namespace "/proc/self/ns/net": a path is refused '
        'under sudo (give the name of a namespace in /run/netns)\n')
    monkeypatch.setenv("SUDO_UID", "1000")
    assert exporter.main(["--listen", "127.0.0.1:1", "--netns", "/proc/self/ns/net"]) == 1
    assert capsys.readouterr().err == (
        'ipvs.exporter: cannot open IPVS: Cannot open network namespace "/proc/self/ns/net": '
        'a path is refused under sudo (give the name of a namespace in /run/netns)\n')


def test_a_client_lets_its_namespace_go(not_delegated):
    before = set(os.listdir("/proc/self/fd"))
    try:
        ipvs.Client(netns="/proc/self/ns/net").close()
    except (ipvs.NotAvailableError, ipvs.KernelError, NetnsError):
        pass  # no IPVS here, or no right to enter: the file must be closed all the same
    assert set(os.listdir("/proc/self/fd")) == before
