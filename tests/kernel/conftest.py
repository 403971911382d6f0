import os
import subprocess

import pytest

import ipvs

REFERENCE = "/usr/sbin/ipvsadm"  # Debian's ipvsadm 1.31, the oracle


def reference(*args, check=True):
    """Run the reference ipvsadm; return its stdout."""
    p = subprocess.run([REFERENCE, *args], capture_output=True, text=True)
    if check and p.returncode != 0:
        raise AssertionError("ipvsadm %s failed (%d): %s" % (" ".join(args), p.returncode, p.stderr))
    return p.stdout


def reset(c):
    c.flush()
    for d in c.daemons():
        c.stop_daemon(d)


@pytest.fixture
def client():
    if os.environ.get("IPVS_IN_VM") != "1":
        pytest.skip("needs the IPVS kernel")
    with ipvs.Client() as c:
        reset(c)
        yield c
        reset(c)


@pytest.fixture
def ref():
    return reference
