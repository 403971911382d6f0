"""The start-up bundle (ipvs/__init__.py, ipvs/_bundle.py): a built
package imports its modules from _modules.bundle, one file, with the same
behaviour as from their own files. Each case runs in a child interpreter
on a copy of the package with a bundle written by ipvs._bundle, as
setup.py's build_py writes it into a wheel."""
import os
import shutil
import subprocess
import sys

import pytest

import ipvs
from ipvs import _bundle

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = os.path.join(ROOT, "src")
TESTS = os.path.join(ROOT, "tests")

# a listing through the whole CLI on an in-memory kernel (tests/memkernel.py),
# then where each of our loaded modules came from
LISTING = """
import io, sys, ipvs
sys.path.insert(0, %(tests)r)
from memkernel import MemKernel
svc = [(ipvs.Service(protocol='tcp', address='10.0.0.%%d' %% i, port=80, scheduler='wlc'),
        [ipvs.Destination(address='10.0.1.%%d' %% j, port=8080, weight=j) for j in range(1, 4)])
       for i in range(1, 6)]
k = MemKernel(svc)
k.info = lambda: ipvs.Info(version=0x010201, conn_tab_size=4096)
k.estimating = lambda: True
k.close = lambda: None
ipvs.Client = lambda **kw: k
from ipvs.cli import main
for args in (['-Ln', '--stats', '--exact'], ['-Sn'], ['-Ln', '--json'], ['-Ln', '--rate']):
    out = io.StringIO()
    assert main(['ipvsadm'] + args, out, io.StringIO()) == 0
    sys.stdout.write(out.getvalue())
loaders = {type(m.__spec__.loader).__name__ for n, m in sys.modules.items()
           if n.startswith('ipvs.') and '_ipvs_cdecoder' not in n}
print('LOADERS', ' '.join(sorted(loaders)))
print('FILE', sys.modules['ipvs.cli._run'].__file__)
"""


@pytest.fixture
def built(tmp_path):
    """A copy of the package (with the C module when this checkout has it)
    and its bundle: the folder to put on PYTHONPATH."""
    shutil.copytree(os.path.join(SRC, "ipvs"), tmp_path / "ipvs",
                    ignore=shutil.ignore_patterns("__pycache__"))
    _bundle.write(str(tmp_path / "ipvs"))
    return tmp_path


def child(path, *args, code=None, **env):
    e = {k: v for k, v in os.environ.items() if k not in ("IPVS_BUNDLE", "IPVS_PUREPYTHON")}
    e.update(env, PYTHONPATH=str(path))
    cmd = [sys.executable, *args] + (["-c", code] if code is not None else [])
    return subprocess.run(cmd, capture_output=True, text=True, env=e, cwd=str(path))


def test_it_holds_every_module_of_the_package_but_the_one_that_reads_it(built):
    import marshal
    with open(built / "ipvs" / ipvs.BUNDLE, "rb") as f:
        data = f.read()
    import importlib.util
    tag = ipvs.BUNDLE_TAG + importlib.util.MAGIC_NUMBER
    assert data.startswith(tag)
    codes = marshal.loads(data[len(tag):])
    files = set()
    for dirpath, _, filenames in os.walk(os.path.join(SRC, "ipvs")):
        rel = os.path.relpath(dirpath, SRC).replace(os.sep, ".")
        files |= {rel + "." + f[:-3] for f in filenames if f.endswith(".py")}
    files = {n[:-len(".__init__")] if n.endswith(".__init__") else n for n in files}
    assert set(codes) == files - {"ipvs"}
    assert codes["ipvs.cli"][:2] == ("cli/__init__.py", True)
    assert codes["ipvs._client"][:2] == ("_client.py", False)


@pytest.mark.parametrize("purepython", ["0", "1"])
def test_a_listing_from_the_bundle_is_the_one_from_the_files(built, purepython):
    code = LISTING % {"tests": TESTS}
    env = {"IPVS_PUREPYTHON": "1"} if purepython == "1" else {}
    a = child(built, code=code, **env)
    b = child(built, code=code, IPVS_BUNDLE="0", **env)
    assert a.returncode == 0 and b.returncode == 0, a.stderr + b.stderr
    out_a, loaders_a, file_a = a.stdout.rsplit("\n", 3)[:3]
    out_b, loaders_b, file_b = b.stdout.rsplit("\n", 3)[:3]
    assert out_a == out_b and "10.0.1.3:8080" in out_a
    assert loaders_a == "LOADERS _Bundled"
    assert loaders_b == "LOADERS SourceFileLoader"
    assert file_a == file_b == "FILE %s" % (built / "ipvs" / "cli" / "_run.py")


def test_a_traceback_names_the_source_file_and_line(built):
    code = ("import ipvs, traceback\n"
            "assert ipvs._bundled is not None\n"
            "try:\n"
            "    ipvs.Service(protocol='tcp', address='10.0.0.1', port=99999)\n"
            "except Exception:\n"
            "    print(traceback.format_exc())\n")
    p = child(built, code=code)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    model = str(built / "ipvs" / "_model.py")
    at = [i for i, line in enumerate(lines) if line.startswith('  File "%s", line ' % model)]
    assert at, p.stdout
    # the line under the frame is the source's own, read from the file named
    number = int(lines[at[-1]].split(", line ")[1].split(",")[0])
    with open(model) as f:
        assert lines[at[-1] + 1].strip() == f.read().splitlines()[number - 1].strip()


@pytest.mark.parametrize("damage, env, flags", [
    ("magic", {}, []),       # made by another Python version
    ("truncate", {}, []),    # damaged
    (None, {"IPVS_BUNDLE": "0"}, []),
    (None, {}, ["-O"]),      # asserts stripped: the files' .opt-1 byte-code
])
def test_the_files_are_used_when_the_bundle_is_not(built, damage, env, flags):
    path = built / "ipvs" / ipvs.BUNDLE
    data = path.read_bytes()
    if damage == "magic":
        i = len(ipvs.BUNDLE_TAG)
        path.write_bytes(data[:i] + bytes([data[i] ^ 0xFF]) + data[i + 1:])
    elif damage == "truncate":
        path.write_bytes(data[:len(data) // 2])
    p = child(built, *flags, code="import ipvs, ipvs.cli; print(ipvs._bundled, "
              "type(ipvs.cli.__spec__.loader).__name__)", **env)
    assert (p.returncode, p.stdout, p.stderr) == (0, "None SourceFileLoader\n", "")


def test_python_m_ipvs_and_about_from_the_bundle(built):
    p = child(built, "-m", "ipvs", "--about")
    assert p.returncode == 0, p.stderr
    n = len(_bundle.modules(str(built / "ipvs")))
    assert p.stdout.splitlines()[-1] == "modules: %s (%d)" % (ipvs.BUNDLE, n)
    p = child(built, "-m", "ipvs", "--bogus")
    assert (p.returncode, p.stdout) == (255, "") and p.stderr.startswith("Try `ipvsadm -h'")


def test_the_build_note_is_read_beside_bundled_modules(built):
    # _decoder reads _cbuild.txt through its module's loader
    for name in os.listdir(built / "ipvs"):
        if name.startswith("_ipvs_cdecoder"):
            os.remove(built / "ipvs" / name)
    note = "the C decoder was not built with this package (CompileError: cc failed)"
    (built / "ipvs" / "_cbuild.txt").write_text(note + "\n")
    p = child(built, code="import ipvs, ipvs._decoder as d; "
              "print(type(d.__loader__).__name__); print(ipvs.DECODER_REASON)")
    assert (p.returncode, p.stderr) == (0, "")
    assert p.stdout == "_Bundled\n%s\n" % note


def test_bundled_modules_keep_postponed_annotations_without_importing_future(built):
    """`from __future__ import annotations` becomes the compiler flag in the
    bundle: the annotations stay strings (typing is never imported for
    them) and the standard library's __future__.py is not read."""
    code = ("import sys, ipvs\n"
            "print(ipvs._bundled is not None)\n"
            "from ipvs import _transport\n"
            "print(_transport.Conn.spare.__annotations__['return'])\n"
            "print('__future__' in sys.modules)\n")
    p = child(built, code=code)
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines() == ["True", "Optional['Conn']", "False"]
    p = child(built, code=code, IPVS_BUNDLE="0")  # the files: they import it
    assert p.stdout.splitlines() == ["False", "Optional['Conn']", "True"], p.stderr


def test_only_the_future_line_changes_and_line_numbers_stay(tmp_path):
    src = (b'"""doc"""\nfrom __future__ import annotations\n\nimport os\n'
           b'def f(x: Undefined) -> "X":\n    return 1 / 0\n')
    code = _bundle.compiled(src, "m.py")
    ns = {}
    exec(code, ns)
    assert ns["__doc__"] == "doc" and ns["f"].__annotations__ == {"x": "Undefined",
                                                                "return": "'X'"}
    assert ns["f"].__code__.co_firstlineno == 5
    assert "__future__" not in code.co_names and "annotations" not in ns
