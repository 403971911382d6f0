"""Typing of the public API, as a user's mypy sees the installed package
(py.typed): a script written as the README shows passes `mypy --strict`,
and every mistake in tests/data/typing/user_bad.py is reported, on its
line. The declarations only type checkers read (TYPE_CHECKING blocks,
which cost nothing at start-up) are checked against what runs."""
import ast
import os
import re
import subprocess
import sys

import pytest

import ipvs
from ipvs import _model

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "tests", "data", "typing")


def mypy(path, tmp_path):
    pytest.importorskip("mypy", reason="mypy is in the test extra")
    env = dict(os.environ)
    env.pop("MYPYPATH", None)
    p = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-incremental",
                        "--python-executable", sys.executable, "--cache-dir",
                        str(tmp_path / "cache"), path],
                       capture_output=True, text=True, cwd=str(tmp_path), env=env)
    return p.returncode, p.stdout + p.stderr


def test_a_users_script_passes_strict(tmp_path):
    rc, out = mypy(os.path.join(DATA, "user_ok.py"), tmp_path)
    assert rc == 0, out


def test_mistakes_are_reported_on_their_lines(tmp_path):
    path = os.path.join(DATA, "user_bad.py")
    with open(path) as f:
        marked = {i for i, line in enumerate(f, 1) if line.rstrip().endswith("# error")}
    rc, out = mypy(path, tmp_path)
    reported = {int(m) for m in re.findall(r"user_bad\.py:(\d+): error", out)}
    assert rc == 1 and reported == marked, out


def _type_checking_block(tree):
    for node in tree.body:
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            return node.body
    raise AssertionError("no TYPE_CHECKING block")


def test_package_names_for_type_checkers_are_the_lazy_exports():
    with open(ipvs.__file__) as f:
        block = _type_checking_block(ast.parse(f.read()))
    declared = {}
    for node in block:
        if isinstance(node, ast.ImportFrom):
            for a in node.names:
                assert a.asname == a.name  # "X as X": re-exported for mypy
                declared[a.name] = "." + node.module
    assert declared == ipvs._EXPORTS


def _init_stubs():
    with open(_model.__file__) as f:
        tree = ast.parse(f.read())
    for cls in tree.body:
        if isinstance(cls, ast.ClassDef):
            for node in cls.body:
                if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
                    (init,) = node.body
                    yield getattr(_model, cls.name), init


def test_constructor_signatures_for_type_checkers_match_the_fields():
    stubs = dict(_init_stubs())
    assert {c.__name__ for c in stubs} == {"Service", "Destination", "SyncDaemon"}
    for cls, init in stubs.items():
        args = init.args
        assert not args.args[1:] and args.vararg is None and args.kwarg is None
        names = tuple(a.arg for a in args.kwonlyargs)
        assert names == cls._FIELDS, cls
        for name, default in zip(names, args.kw_defaults):
            if default is None:  # required
                assert name not in cls.__dict__, (cls, name)
            else:
                value = eval(compile(ast.Expression(default), "<stub>", "eval"), vars(_model))
                assert cls.__dict__[name] == value, (cls, name)
