"""Writes the package's start-up bundle (ipvs/__init__.py says why and how
it is read): every module of an installed package but __init__, compiled
by this interpreter. setup.py's build_py runs it on the built package;
`python -m ipvs._bundle DIR` on a package folder by hand."""
import marshal
import os
import sys

from . import BUNDLE, BUNDLE_TAG


def modules(package_dir):
    """(name, path in the package with '/', is a package) of every module
    the bundle holds, in a stable order."""
    found = []
    for dirpath, dirnames, filenames in os.walk(package_dir):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for filename in sorted(filenames):
            if not filename.endswith(".py"):
                continue
            path = os.path.relpath(os.path.join(dirpath, filename), package_dir)
            path = path.replace(os.sep, "/")
            if path == "__init__.py":
                continue  # the module that reads the bundle
            parts = path[:-3].split("/")
            is_package = parts[-1] == "__init__"
            if is_package:
                parts.pop()
            found.append(("ipvs." + ".".join(parts), path, is_package))
    return found


# A module's `from __future__ import annotations` is a compiler directive
# and, at run time, an import of the standard library's __future__.py (in
# the VM: two stats and a read over 9p before the first module runs). The
# bundle's code gets the directive as a compiler flag instead, the line
# left empty (line numbers unchanged): the same code, no import.
FUTURE_LINE = b"from __future__ import annotations"


def compiled(source, path):
    """The code of one module's source (bytes) as the bundle holds it."""
    import __future__
    lines = source.split(b"\n")
    flags = 0
    for i, line in enumerate(lines):
        if line.rstrip() == FUTURE_LINE:
            lines[i] = b""
            flags = __future__.annotations.compiler_flag
            break
    return compile(b"\n".join(lines), path, "exec", flags=flags, dont_inherit=True, optimize=0)


def write(package_dir):
    """Write package_dir/BUNDLE; returns its path."""
    import importlib.util
    codes = {}
    for name, path, is_package in modules(package_dir):
        with open(os.path.join(package_dir, path), "rb") as f:
            source = f.read()
        code = compiled(source, path)
        codes[name] = (path, is_package, marshal.dumps(code))
    out = os.path.join(package_dir, BUNDLE)
    with open(out, "wb") as f:
        f.write(BUNDLE_TAG + importlib.util.MAGIC_NUMBER + marshal.dumps(codes))
    return out


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m ipvs._bundle PACKAGE_DIR")
    print(write(sys.argv[1]))
