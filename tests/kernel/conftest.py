import os
import subprocess

import pytest

import ipvs

REFERENCE = "/usr/sbin/ipvsadm"  # Debian's ipvsadm 1.31, the oracle

# CI time (scripts/test boots two kernels inside a 45-minute budget): a test
# marked one_kernel runs on one boot only, the 6.1 kernel's unless the mark
# names another (one_kernel("newest"): the newest kernel's boot is the
# shorter, and runs beside the 6.1 boot's second half). The mark is for what
# does not depend on the kernel's version: argv parsing, stream and signal
# handling of the process, the packaging's entry points, and the operators'
# views (Prometheus, tmux) whose reads go through the same Client calls that
# the other suites prove on both kernels.
ONE_KERNEL = "6.1"


def pytest_configure(config):
    config.addinivalue_line("markers", "one_kernel(boot='%s'): run on that kernel's boot only "
                            "(kernel-independent; CI time)" % ONE_KERNEL)


def pytest_runtest_setup(item):
    mark = item.get_closest_marker("one_kernel")
    if mark is not None:
        boot = mark.args[0] if mark.args else ONE_KERNEL
        if os.environ.get("IPVS_KERNEL", ONE_KERNEL) != boot:
            pytest.skip("kernel-independent: run on the %s boot only (CI time)" % boot)


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
