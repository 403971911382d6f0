"""An installed build's start-up bundle (ipvs/_modules.bundle) on the real
kernel: a copy of the package with its bundle written as setup.py's
build_py writes it prints and exits, listing the table of test_pyz, as
the checkout's files do (the in-process main() of the installed package;
test_cli_differential proves that one against the reference). The host's
tests/test_bundle.py covers the loader itself."""
import os
import shutil
import subprocess
import sys

import pytest

from cli_harness import _env, _text, run_ours
from test_pyz import LISTINGS, table  # noqa: F401 (the fixture)

pytestmark = [pytest.mark.skipif(os.environ.get("IPVS_PUREPYTHON") == "1",
                                 reason="the loader does not depend on the decoder; run once"),
              pytest.mark.one_kernel]
SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__)))), "src")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    from ipvs import _bundle
    root = tmp_path_factory.mktemp("bundled")
    shutil.copytree(os.path.join(SRC, "ipvs"), str(root / "ipvs"),
                    ignore=shutil.ignore_patterns("__pycache__"))
    _bundle.write(str(root / "ipvs"))
    shutil.copy(os.path.join(os.path.dirname(SRC), "bin", "ipvsadm"), str(root / "ipvsadm"))
    return str(root)


def run_bundled(built, args):
    env = dict(_env(), PYTHONPATH=built)
    env.pop("IPVS_BUNDLE", None)
    # the console script itself (bin/ipvsadm), run by this interpreter
    p = subprocess.run([sys.executable, os.path.join(built, "ipvsadm")] + list(args),
                       capture_output=True, timeout=120, env=env, cwd=built)
    return p.returncode, _text(p.stdout), _text(p.stderr)


def test_the_bundled_build_lists_as_the_files_do(built, table):  # noqa: F811
    rc, out, err = run_bundled(built, ["--about"])
    assert rc == 0 and out.splitlines()[-1].startswith("modules: _modules.bundle ("), out + err
    for args in LISTINGS:
        if args == ["-Lnc"]:
            continue  # connections other tests left behind change under it (test_pyz)
        assert run_bundled(built, args) == run_ours(args), args
