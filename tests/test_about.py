"""`ipvsadm --about` and ipvs.DECODER_REASON: which package, Python and
decoder run, and why the C decoder is not the one (each cause made real
in a child interpreter: the variable, a missing cffi backend, a package
without the C module, the note a failed build leaves)."""
import io
import os
import shutil
import subprocess
import sys

import pytest

import ipvs
from ipvs.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = os.path.join(ROOT, "src")
HELP = os.path.join(ROOT, "tests", "data", "cli", "help.txt")


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    rc = main(["ipvsadm", *args], out, err, io.StringIO())
    return rc, out.getvalue(), err.getvalue()


def child(code, path=SRC, **env):
    e = dict(os.environ, PYTHONPATH=path, **env)
    if "IPVS_PUREPYTHON" not in env:
        e.pop("IPVS_PUREPYTHON", None)
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=e)
    assert p.returncode == 0, p.stderr
    return p.stdout


def test_about_says_version_python_and_decoder():
    rc, out, err = run("--about")
    assert (rc, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].startswith("ipvs %s, " % ipvs.__version__)
    assert lines[1].startswith("python %d.%d.%d (" % sys.version_info[:3])
    assert lines[2] == "decoder: %s" % ipvs.DECODER
    if ipvs.DECODER == "c":
        assert ipvs.DECODER_REASON is None and len(lines) == 3
    else:
        assert lines[3] == "why not c: %s" % ipvs.DECODER_REASON and len(lines) == 4


def test_about_takes_nothing_else():
    for args in (("--about", "-L"), ("-Ln", "--about"), ("--about", "--json")):
        rc, out, err = run(*args)
        assert (rc, out, err) == (2, "", "--about takes no other command or option\n")


def test_help_and_version_are_still_ipvsadms():
    with open(HELP) as f:
        golden = f.read()
    assert run("-h") == (0, golden, "")
    assert run("-v") == (0, golden.splitlines(True)[0], "")


def test_python_m_ipvs_about():
    p = subprocess.run([sys.executable, "-m", "ipvs", "--about"], capture_output=True,
                       text=True, env=dict(os.environ, PYTHONPATH=SRC, IPVS_PUREPYTHON="1"))
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines()[2:] == ["decoder: python", "why not c: IPVS_PUREPYTHON=1 is set"]


def test_reason_when_the_variable_is_set():
    out = child("import ipvs; print(ipvs.DECODER, ipvs.DECODER_REASON)", IPVS_PUREPYTHON="1")
    assert out == "python IPVS_PUREPYTHON=1 is set\n"


def _copy_package(tmp_path, with_c):
    dst = tmp_path / "ipvs"
    shutil.copytree(os.path.join(SRC, "ipvs"), dst, ignore=shutil.ignore_patterns(
        "__pycache__", *(() if with_c else ("_ipvs_cdecoder*",))))
    return dst


def test_reason_when_the_c_module_is_not_there(tmp_path):
    _copy_package(tmp_path, with_c=False)
    out = child("import ipvs; print(ipvs.DECODER); print(ipvs.DECODER_REASON)", str(tmp_path))
    assert out.splitlines() == ["python", "the C decoder is not part of this installation "
                                "(built without a C compiler, or a pure-Python build)"]


def test_reason_is_the_note_of_a_failed_build(tmp_path):
    pkg = _copy_package(tmp_path, with_c=False)
    note = "the C decoder was not built with this package (CompileError: cc failed)"
    (pkg / "_cbuild.txt").write_text(note + "\n")
    out = child("import ipvs; print(ipvs.DECODER_REASON)", str(tmp_path))
    assert out == note + "\n"


def test_reason_when_the_cffi_backend_is_missing(tmp_path):
    pkg = _copy_package(tmp_path, with_c=True)
    if not any(n.startswith("_ipvs_cdecoder") for n in os.listdir(pkg)):
        pytest.skip("the C decoder is not built in this checkout")
    # None in sys.modules is what Python does for a module that cannot be found
    out = child("import sys; sys.modules['_cffi_backend'] = None\n"
                "import ipvs; print(ipvs.DECODER); print(ipvs.DECODER_REASON)", str(tmp_path))
    decoder, reason = out.splitlines()
    assert decoder == "python"
    assert reason.startswith("the cffi backend (_cffi_backend) is not installed")


def test_reason_is_none_when_c_loads(tmp_path):
    pkg = _copy_package(tmp_path, with_c=True)
    if not any(n.startswith("_ipvs_cdecoder") for n in os.listdir(pkg)):
        pytest.skip("the C decoder is not built in this checkout")
    out = child("import ipvs; print(ipvs.DECODER, ipvs.DECODER_REASON)", str(tmp_path))
    assert out == "c None\n"


def test_help_imports_no_more_than_the_cli():
    # --about, the options beyond ipvsadm, the renderers and the typing
    # declarations must cost -h nothing: the grammar's modules (scanner,
    # grammar, value parsers, usage, exits), the runner with its listing
    # half, and the vocabulary (which imports nothing); none of the library's
    # modules, none of the slow standard ones
    code = ("import sys, io; from ipvs.cli import main\n"
            "main(['ipvsadm', '-h'], io.StringIO(), io.StringIO())\n"
            "print(' '.join(sorted(sys.modules)))")
    loaded = set(child(code).split())
    ours = {m for m in loaded if m == "ipvs" or m.startswith("ipvs.")}
    assert ours == {"ipvs", "ipvs.vocab", "ipvs.cli", "ipvs.cli._exits", "ipvs.cli._scanner",
                    "ipvs.cli._values", "ipvs.cli._options", "ipvs.cli._usage", "ipvs.cli._run",
                    "ipvs.cli._listing"}
    assert not loaded & {"typing", "typing_extensions", "dataclasses", "re", "enum",
                         "socket", "platform", "ipvs._decoder", "ipvs._model"}


@pytest.mark.parametrize("args", [["-Ln", "--stats"], ["-Sn"], ["-Ln", "--json"],
                                  ["-Ln", "--rate", "--json"]])
def test_a_listing_reads_only_the_modules_it_needs(args):
    # each module read costs a start (12-18 ms over the VM's 9p): a listing
    # of the whole table through its line programs loads neither the twin's
    # decoder (when C is active), nor the proc-table listing, nor json,
    # typing, re or enum (the compact JSON is written by programs)
    code = ("import io, sys, ipvs\n"
            "sys.path.insert(0, %r)\n"
            "from memkernel import MemKernel\n"
            "k = MemKernel([(ipvs.Service(protocol='tcp', address='10.0.0.1', port=80),\n"
            "                [ipvs.Destination(address='10.0.1.1', port=80)])])\n"
            "k.info = lambda: ipvs.Info(version=0x010201, conn_tab_size=4096)\n"
            "k.estimating = lambda: True\n"
            "k.close = lambda: None\n"
            "ipvs.Client = lambda **kw: k\n"
            "from ipvs.cli import main\n"
            "out = io.StringIO()\n"
            "assert main(['ipvsadm'] + %r, out, io.StringIO()) == 0\n"
            "assert '10.0.1.1' in out.getvalue()\n"
            "print(ipvs.DECODER, ' '.join(sorted(sys.modules)))") % (
                os.path.dirname(os.path.abspath(__file__)), args)
    decoder, *loaded = child(code).split()
    slow = {"typing", "re", "enum", "json", "dataclasses", "functools", "ipvs._fastlist",
            "collections", "operator", "struct",
            "ipvs._status",
            "ipvs._proctable", "ipvs._plan", "ipvs._table"}
    if decoder == "c":
        slow.add("ipvs._decode_py")
    assert not set(loaded) & slow, (args, set(loaded) & slow)
