"""`pip install .` on a machine without a working C compiler still installs
the package, with the pure-Python decoder and a warning. Runs the real
pip, as a user would (isolated build: setuptools and cffi come from the
package index, through pip's cache), into a throwaway venv."""
import os
import subprocess
import sys
import venv

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.skipif(os.environ.get("IPVS_PUREPYTHON") == "1",
                    reason="the same check either way; run once")
@pytest.mark.skipif(not (os.environ.get("CI") or os.environ.get("IPVS_BUILD_TEST")),
                    reason="~30 s (a real pip build): runs in CI or with IPVS_BUILD_TEST=1")
def test_install_without_compiler(tmp_path):
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(system_site_packages=True, with_pip=False).create(env_dir)
    py = str(env_dir / "bin" / "python")
    src = tmp_path / "src"
    # a copy, so the build does not write into the checkout (read-only in the VM)
    subprocess.run(["cp", "-r", os.path.join(ROOT, "src"), os.path.join(ROOT, "csrc"),
                    os.path.join(ROOT, "setup.py"), os.path.join(ROOT, "pyproject.toml"),
                    str(tmp_path)], check=True)
    if os.path.exists(os.path.join(ROOT, "README.md")):
        subprocess.run(["cp", os.path.join(ROOT, "README.md"), str(tmp_path)], check=True)
    subprocess.run(["find", str(src), "-name", "_ipvs_cdecoder*", "-delete"], check=True)
    env = dict(os.environ, CC="/bin/false", PIP_DISABLE_PIP_VERSION_CHECK="1")
    env.pop("PYTHONPATH", None)
    env.pop("LD_PRELOAD", None)
    out = subprocess.run([sys.executable, "-m", "pip", "--python", py, "install", "-v",
                          "--no-deps", str(tmp_path)],
                         env=env, capture_output=True, text=True, cwd=str(tmp_path))
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "the C decoder of ipvs could not be built" in out.stdout + out.stderr
    env.pop("IPVS_PUREPYTHON", None)
    check = subprocess.run([py, "-c", "import ipvs, ipvs._decoder as d; print(ipvs.DECODER, d.__file__)"],
                           env=env, capture_output=True, text=True, cwd=str(tmp_path / "venv"))
    decoder, path = check.stdout.split()
    assert decoder == "python" and path.startswith(str(env_dir)), check.stdout + check.stderr
