# The layout's rules (docs/layout.md), checked on the source: the CLI is a
# client of the public library API, the library never imports the CLI, no
# module outgrows the size a reader can hold, every module states its rule.
import ast
import os

import pytest

SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src", "ipvs")
MAX_LINES = 450


def _modules():
    for root, _, files in os.walk(SRC):
        for f in sorted(files):
            if f.endswith(".py"):
                yield os.path.relpath(os.path.join(root, f), SRC)


def _imports(rel):
    with open(os.path.join(SRC, rel)) as f:
        tree = ast.parse(f.read())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            yield node.level, node.module or "", [a.name for a in node.names]
        elif isinstance(node, ast.Import):
            for a in node.names:
                yield 0, a.name, []


@pytest.mark.parametrize("rel", [m for m in _modules() if m.startswith("cli" + os.sep)])
def test_the_cli_imports_nothing_private_of_the_library(rel):
    for level, module, names in _imports(rel):
        if level == 1 or (level == 0 and not module.startswith("ipvs")):
            continue  # the CLI's own modules, the standard library
        parts = module.split(".") if module else []
        if level == 0:
            parts = parts[1:]  # "ipvs.x" -> ["x"]
        assert not any(p.startswith("_") for p in parts), (rel, module)
        if not parts:  # from .. import NAME: a public name of the package
            assert not any(n.startswith("_") and n != "__version__" for n in names), (rel, names)


@pytest.mark.parametrize("rel", [m for m in _modules() if not m.startswith("cli" + os.sep)
                                 and m != "__main__.py"])  # python -m ipvs: the CLI's entry
def test_the_library_never_imports_the_cli(rel):
    for level, module, _ in _imports(rel):
        assert not (level == 1 and module.startswith("cli")), rel
        assert not (level == 0 and module.startswith("ipvs.cli")), rel


@pytest.mark.parametrize("rel", list(_modules()))
def test_every_module_is_short_and_has_a_header(rel):
    with open(os.path.join(SRC, rel)) as f:
        text = f.read()
    assert text.count("\n") < MAX_LINES, rel
    # a header comment or docstring: what the module is (and its rule)
    assert text.startswith(("#", '"""')), rel
