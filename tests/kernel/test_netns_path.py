"""--netns PATH on the real kernel: a network namespace that has no name in
/run/netns, reached through a bind mount made elsewhere and through
/proc/PID/ns/net of a process sleeping in it, listed and changed by our
ipvsadm and compared with what `nsenter --net=PATH ipvsadm` (the
reference) shows; files that are not namespaces refused unopened; a path
refused under sudo while names still work."""
import json
import os
import signal
import stat
import subprocess
import sys
import threading
import urllib.request
import uuid

import pytest

import ipvs
from ipvs import exporter

from cli_harness import VENV_BIN, run_ours

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from test_netns import audited_open_netns  # noqa: E402

OURS = os.path.join(VENV_BIN, "ipvsadm")
REFUSED = "a path is refused under sudo (give the name of a namespace in /run/netns)"
DELEGATION = ("SUDO_UID", "DOAS_USER", "PKEXEC_UID")


def nsenter_ref(path, *args):
    """The reference ipvsadm run inside the namespace at `path`."""
    p = subprocess.run(["nsenter", "--net=" + path, "/usr/sbin/ipvsadm"] + list(args),
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return p.stdout


def sleeper():
    """A process sleeping in a new network namespace of its own, with lo up."""
    p = subprocess.Popen(["unshare", "--net", "sh", "-c", "ip link set lo up && exec sleep 600"])
    path = "/proc/%d/ns/net" % p.pid
    mine = os.readlink("/proc/self/ns/net")
    for _ in range(400):  # until unshare has made the namespace and sh has entered it
        try:
            if os.readlink(path) != mine:
                break
        except OSError:
            pass
        threading.Event().wait(0.05)
    return p, path


def end(p):
    p.send_signal(signal.SIGKILL)
    p.wait()


@pytest.fixture
def pathns(client, tmp_path):
    """(the bind mount, /proc/PID/ns/net) of one namespace unknown to ip netns."""
    p, proc_path = sleeper()
    bind = str(tmp_path / "netns-file")
    open(bind, "w").close()
    subprocess.run(["mount", "--bind", proc_path, bind], check=True)
    try:
        yield bind, proc_path
    finally:
        subprocess.run(["umount", bind])
        end(p)


def test_a_namespace_by_path_is_listed_and_changed(client, ref, pathns):
    bind, proc_path = pathns
    # our ipvsadm as a process, once, through the bind mount
    p = subprocess.run([OURS, "--netns", bind, "-A", "-t", "10.7.7.7:80", "-s", "rr"],
                       capture_output=True, text=True, timeout=60)
    assert (p.returncode, p.stdout, p.stderr) == (0, "", "")
    # and in-process through /proc/PID/ns/net
    assert run_ours(["--netns", proc_path, "-a", "-t", "10.7.7.7:80", "-r", "192.168.7.1:80",
                     "-m", "-w", "3"]) == (0, "", "")
    assert run_ours(["--netns=" + proc_path, "-A", "-u", "10.7.7.8:53", "-s", "wlc"])[0] == 0
    want = ("-A -t 10.7.7.7:80 -s rr\n-a -t 10.7.7.7:80 -r 192.168.7.1:80 -m -w 3\n"
            "-A -u 10.7.7.8:53 -s wlc\n")
    for path in (bind, proc_path):
        assert nsenter_ref(path, "-S", "-n") == want
        assert run_ours(["--netns", path, "-L", "-n"]) == (0, nsenter_ref(path, "-L", "-n"), "")
        assert run_ours(["--netns", path, "-L", "-n", "-c"]) == \
            (0, nsenter_ref(path, "-L", "-n", "-c"), "")
    assert ref("-S", "-n") == ""  # nothing reached the VM's own namespace
    # --apply through the path: the table made equal to the rules
    rules = "-A -t 10.7.7.7:80 -s wrr\n-a -t 10.7.7.7:80 -r 192.168.7.2:80 -g -w 1\n"
    assert run_ours(["--netns", bind, "--apply"], rules) == (0, "", "")
    assert nsenter_ref(proc_path, "-S", "-n") == rules
    assert run_ours(["--netns", proc_path, "-S", "-n"]) == (0, rules, "")
    doc = json.loads(run_ours(["--netns", bind, "-L", "-n", "--json"])[1])
    assert [(s["address"], [d["address"] for d in s["destinations"]]) for s in doc] == \
        [("10.7.7.7", ["192.168.7.2"])]
    # the namespace's own sysctls (--status reads them in there)
    subprocess.run(["nsenter", "--net=" + bind, "sysctl", "-qw",
                    "net.ipv4.vs.expire_nodest_conn=1"], check=True)
    status = json.loads(run_ours(["--netns", proc_path, "--status", "--json"])[1])
    assert status[0]["sysctls"]["expire_nodest_conn"] == 1
    assert client.sysctls()["expire_nodest_conn"] == 0
    assert ref("-S", "-n") == ""


def test_a_client_keeps_the_namespace_its_path_named(client, ref):
    # /proc/PID/ns/net names nothing once PID has ended; a Client opened
    # through it keeps that namespace for its sockets, files and sysctls
    p, proc_path = sleeper()
    try:
        c = ipvs.Client(netns=proc_path)
    finally:
        end(p)
    with c:
        assert not os.path.exists(proc_path)
        c.add_service(ipvs.Service(protocol="tcp", address="10.7.9.9", port=443, scheduler="sh"))
        svc = c.services()[0]
        assert (svc.address, svc.port, svc.scheduler) == ("10.7.9.9", 443, "sh")
        assert list(c.connections()) == []
        assert "conn_reuse_mode" in c.sysctls()
    assert ref("-S", "-n") == ""


@pytest.mark.one_kernel  # the exporter and --watch read through the Client proven above
def test_the_exporter_and_watch_take_a_path(client, pathns):
    bind, proc_path = pathns
    assert run_ours(["--netns", bind, "-A", "-t", "10.7.8.8:80", "-s", "rr"])[0] == 0
    server = exporter.make_server(("127.0.0.1", 0), netns=proc_path)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % server.server_address[1],
                                      timeout=30).read().decode()
    finally:
        server.shutdown()
        server.server_close()  # (and the server's netlink clients)
    assert "node_ipvs_services 1" in text.splitlines()
    assert 'local_address="10.7.8.8"' in text
    # --watch on a pipe writes plain frames: the first one shows the service
    w = subprocess.Popen([OURS, "-L", "--watch", "1", "--netns", bind],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = threading.Timer(60, w.kill)
    deadline.start()
    seen = []
    try:
        for line in w.stdout:
            seen.append(line)
            if "10.7.8.8:80" in line:
                break
    finally:
        deadline.cancel()
        w.terminate()
        w.wait(timeout=30)
    assert "10.7.8.8:80" in seen[-1], (seen, w.stderr.read())


@pytest.fixture
def odd_files(client, tmp_path):
    (tmp_path / "file").write_bytes(b"not a namespace\n")
    os.mkfifo(tmp_path / "fifo")
    os.mknod(tmp_path / "dev", 0o600 | stat.S_IFCHR, os.makedev(1, 3))
    return {"a regular file": str(tmp_path / "file"), "a FIFO": str(tmp_path / "fifo"),
            "a character device": str(tmp_path / "dev")}


def test_files_that_are_not_namespaces_are_refused_unopened(odd_files, ref, monkeypatch):
    for v in DELEGATION:
        monkeypatch.delenv(v, raising=False)
    out, opened = audited_open_netns(odd_files.values())
    for kind, path in odd_files.items():
        assert out[path][1].endswith("not a namespace file (%s)" % kind)
    assert not opened & set(odd_files.values())
    # the command (the FIFO was not opened above: it cannot hang here)
    for kind, path in odd_files.items():
        assert run_ours(["--netns", path, "-A", "-t", "10.7.6.6:80"]) == (
            1, "", 'ipvsadm: Cannot open network namespace "%s": not a namespace file (%s)\n'
            % (path, kind))
    assert ref("-S", "-n") == ""


def test_under_sudo_a_path_is_refused_and_a_name_works(client, ref, pathns, monkeypatch):
    bind, proc_path = pathns
    name = "ipvs-sudo-%s" % uuid.uuid4().hex[:6]
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        # the environment sudo (doas, pkexec) gives the command it starts
        # (a real process under SUDO_UID: tests/test_netns.py)
        for v in DELEGATION:
            monkeypatch.setenv(v, "1000")
            for path in (bind, proc_path):
                assert run_ours(["--netns", path, "-A", "-t", "10.7.5.5:80"]) == (
                    1, "", 'ipvsadm: Cannot open network namespace "%s": %s\n' % (path, REFUSED))
            monkeypatch.delenv(v)
        assert nsenter_ref(bind, "-S", "-n") == ""
        # a name works under sudo as before
        monkeypatch.setenv("SUDO_UID", "1000")
        assert run_ours(["--netns", name, "-A", "-t", "10.7.5.5:80"]) == (0, "", "")
        assert nsenter_ref("/run/netns/" + name, "-S", "-n") == "-A -t 10.7.5.5:80 -s wlc\n"
    finally:
        subprocess.run(["ip", "netns", "del", name])
    assert ref("-S", "-n") == ""
