"""The single-file build (scripts/build-pyz) on the real kernel: with a small
table of every kind of service in place, `python3 ipvsadm.pyz ARGS` prints
and exits exactly as the installed package's ipvsadm ($IPVS_VENV's),
for listings, saves, JSON, an error, and a restore checked through the
reference. The pyz is compared with the in-process main() of the installed
package (test_cli_differential proves the console script is that program):
one Python start a listing instead of two, which under emulation is most
of this test's time. scripts/test builds the pyz before the VM boots and
passes its path as IPVS_PYZ; without it the test builds one."""
import os
import subprocess

import pytest

from cli_harness import _env, _text, fast_failing_dns, reset, run_ours, run_reference

# The pyz is pure Python either way; the package's C decoder makes the
# comparison worth more. Each run is a Python start (about 1 s under
# emulation), so once.
pytestmark = [pytest.mark.skipif(os.environ.get("IPVS_PUREPYTHON") == "1",
                                 reason="the same comparison as with the C decoder; run once"),
              pytest.mark.one_kernel]  # the same program whichever kernel answers
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

TABLE = [
    ["-A", "-t", "10.20.0.1:80", "-s", "wrr"],
    ["-a", "-t", "10.20.0.1:80", "-r", "192.168.20.2:8080", "-m", "-w", "3"],
    ["-a", "-t", "10.20.0.1:80", "-r", "192.168.20.3:8080", "-m", "-w", "1", "-x", "50",
     "-y", "10"],
    ["-A", "-u", "[2001:db8::20]:53", "-s", "sh", "-b", "sh-port", "-o"],
    ["-a", "-u", "[2001:db8::20]:53", "-r", "[2001:db8::21]:53", "-m"],
    ["-A", "-f", "7", "-p", "600", "-M", "255.255.255.0"],
    ["-a", "-f", "7", "-r", "192.168.20.4", "-i", "--tun-type", "gue", "--tun-port", "6080"],
    ["-A", "--sctp-service", "10.20.0.5:3868", "-s", "rr"],
]
LISTINGS = [
    ["-Ln"], ["-Sn"], ["-S"], ["-Ln", "--stats", "--exact"], ["-Ln", "--rate"],
    ["-Ln", "--thresholds"], ["-Ln", "--tun-info"],
    ["-Ln", "-t", "10.20.0.1:80"], ["-Ln", "-f", "7"], ["-L", "--timeout"], ["-Lnc"],
    ["-Ln", "--json"], ["-Sn", "--json", "--pretty"],
    ["-D", "-t", "10.20.9.9:80"],  # no such service: the kernel's error and status
    ["-L", "-n", "-t", "10.20.0.1"],  # no port: usage error
]


@pytest.fixture(scope="module")
def pyz(tmp_path_factory):
    path = os.environ.get("IPVS_PYZ")
    if not path:
        path = str(tmp_path_factory.mktemp("pyz") / "ipvsadm.pyz")
        subprocess.run([os.path.join(ROOT, "scripts", "build-pyz"), path], check=True,
                       capture_output=True, timeout=300)
    assert os.path.isfile(path), path
    return path


def run_pyz(pyz, args, stdin=None):
    p = subprocess.run(["python3", pyz] + list(args), input=(stdin or "").encode(),
                       capture_output=True, timeout=120, env=_env())
    return p.returncode, _text(p.stdout), _text(p.stderr)


@pytest.fixture
def table(client):
    fast_failing_dns()
    # one process for the whole table: each Python start costs a second here
    rc, out, err = run_ours(["-R"], "\n".join(" ".join(a) for a in TABLE) + "\n")
    assert (rc, err) == (0, ""), err
    yield
    reset()


def without_expiry(result):
    """A -Lnc result without its expiry column: connections other tests
    left behind tick down between the two runs."""
    rc, out, err = result
    lines = []
    for line in out.splitlines():
        f = line.split()
        if len(f) > 2 and f[0] in ("TCP", "UDP", "SCTP", "IP"):
            del f[1]
        lines.append(" ".join(f))
    return rc, lines, err


def connections_as_the_package(pyz, tries=5):
    """The pyz's -Lnc against the installed package's, taken between two of
    the package's: connections other tests left behind change state or
    expire, so a comparison counts only when the table held still across
    it (both of the package's runs the same); then the pyz must show that
    table."""
    seen = []
    for _ in range(tries):
        before = without_expiry(run_ours(["-Lnc"]))
        ours = without_expiry(run_pyz(pyz, ["-Lnc"]))
        after = without_expiry(run_ours(["-Lnc"]))
        if before == after:
            return ours, before
        seen.append((before, after))
    pytest.fail("the connection table never held still across one pyz run: %r" % seen[-1:])


def test_pyz_lists_as_the_installed_package(pyz, table):
    rc, out, _ = run_pyz(pyz, ["-Ln"])
    assert rc == 0 and "10.20.0.1:80 wrr" in out and "[2001:db8::21]:53" in out, out
    for args in LISTINGS:
        if args == ["-Lnc"]:
            ours, theirs = connections_as_the_package(pyz)
            assert ours == theirs, args
            continue
        assert run_pyz(pyz, args) == run_ours(args), args


def test_pyz_restores_what_the_reference_saved(pyz, table):
    rc, saved, err = run_reference(["-Sn"])
    assert rc == 0, err
    assert run_pyz(pyz, ["-C"]) == (0, "", "")
    assert run_reference(["-Sn"])[1] == ""
    assert run_pyz(pyz, ["-R"], saved) == (0, "", "")
    assert run_reference(["-Sn"]) == (0, saved, "")


def test_pyz_says_it_is_pure_python(pyz):
    rc, out, err = run_pyz(pyz, ["--about"])
    assert (rc, err) == (0, "") and "decoder: python\n" in out, out + err
