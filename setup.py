# Build hooks only; metadata lives in pyproject.toml (but for the licence,
# below).
#
# The C decoder is optional: when it cannot be compiled (no compiler, no
# headers, a compiler error) the install still succeeds and the package
# uses the pure-Python twin (ipvs.DECODER == 'python'). pip shows a build's
# output only with -v, so the reason -- the compiler's first "error:" line,
# file name included -- is also written into the package (ipvs/_cbuild.txt),
# where ipvs.DECODER_REASON and `ipvsadm --about` report it.
#
# IPVS_BUILD_C=0 builds without the C decoder on purpose (a py3-none-any
# wheel, for images of another architecture or without cffi);
# IPVS_BUILD_C=require makes a failed C build fail the build (for packagers
# who ship the C decoder and want to know when they do not).
#
# Wheel tags: the cffi module is built for the stable ABI (abi3, Python
# 3.9+), so a wheel that holds it is cp39-abi3-<platform>; one that does
# not is py3-none-any.
#
# Setuptools: 66.1 with the wheel package (Debian 12's build environment,
# what distributions' offline builds use) up to the newest (see
# pyproject.toml's [build-system]); 70.1 and later build wheels themselves.
import contextlib
import os
import re
import sys
import tempfile

import setuptools
from setuptools import setup
from setuptools.command.build_ext import build_ext
from setuptools.errors import BaseError, CCompilerError

try:  # setuptools >= 70.1
    from setuptools.command.bdist_wheel import bdist_wheel
except ImportError:  # older: the wheel package's (what setuptools' backend asks for)
    from wheel.bdist_wheel import bdist_wheel

_FAILED = (CCompilerError, BaseError, OSError)
NOTE = "_cbuild.txt"  # read by ipvs._decoder when the C module is missing
BUILD_C_MODES = ("0", "1", "require")
BUILD_C_MODE = os.environ.get("IPVS_BUILD_C", "1")
if BUILD_C_MODE not in BUILD_C_MODES:
    raise SystemExit("IPVS_BUILD_C=%s: expected one of %s" % (BUILD_C_MODE, ", ".join(BUILD_C_MODES)))
BUILD_C = BUILD_C_MODE != "0"
LICENSE = "GPL-2.0-or-later"  # SPDX


def _setuptools_version():
    parts = re.match(r"(\d+)(?:\.(\d+))?", setuptools.__version__)
    return (int(parts.group(1)), int(parts.group(2) or 0)) if parts else (0, 0)


def license_metadata():
    """The licence, declared here rather than in pyproject.toml: setuptools
    77 and later write the SPDX expression as License-Expression (PEP 639),
    and older ones refuse that form in pyproject.toml, so there it is
    'dynamic' and each version gets the field it knows."""
    if _setuptools_version() >= (77, 0):
        return {"license_expression": LICENSE}
    return {"license": LICENSE}


def first_error_line(output):
    """The compiler's first diagnostic that is an error ("file:line:col:
    error: ...", "fatal error: ..."), or None."""
    for line in output.splitlines():
        if re.search(r"\berror\b:", line):
            line = line.strip()
            return line if len(line) <= 300 else line[:297] + "..."
    return None


@contextlib.contextmanager
def output_captured():
    """Sends this process's stdout and stderr (file descriptors 1 and 2, so
    the compiler's too) to a temporary file while the block runs, then
    writes it all to stderr as it would have appeared. Yields a list that
    holds the text once the block is over."""
    text = []
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 1)
        os.dup2(tmp.fileno(), 2)
        try:
            yield text
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
            tmp.seek(0)
            data = tmp.read()
            text.append(data.decode("utf-8", "replace"))
            sys.stderr.write(text[0])
            sys.stderr.flush()


def _warn(msg):
    print("\n" + "*" * 72 + "\nWARNING: " + msg + "\n" + "*" * 72 + "\n", file=sys.stderr)


class optional_build_ext(build_ext):
    c_failure = None  # why the C module was not built, or None

    def run(self):
        try:
            super().run()
        except _FAILED as e:
            if BUILD_C_MODE == "require" and optional_build_ext.c_failure is not None:
                raise  # _failed's own refusal
            self._failed(e)

    def build_extension(self, ext):
        failure = None
        with output_captured() as output:
            try:
                super().build_extension(ext)
            except _FAILED as e:
                failure = e
        if failure is not None:
            self._failed(failure, first_error_line(output[0]))

    def _failed(self, exc, error_line=None):
        # a failed compiler's exception names only its command line; the
        # reason a user can act on is the compiler's own first error
        text = error_line or str(exc)
        optional_build_ext.c_failure = "%s: %s" % (
            type(exc).__name__, text if len(text) <= 300 else text[:297] + "...")
        if BUILD_C_MODE == "require":
            raise CCompilerError("IPVS_BUILD_C=require and the C decoder of ipvs could not "
                                 "be built (%s)" % optional_build_ext.c_failure) from exc
        _warn("the C decoder of ipvs could not be built (%s); installing without it: "
              "the pure-Python decoder will be used." % optional_build_ext.c_failure)


class tagged_bdist_wheel(bdist_wheel):
    def finalize_options(self):
        if BUILD_C:
            self.py_limited_api = "cp39"
        super().finalize_options()

    def run(self):
        if not self.skip_build:
            # Build first: whether the C module compiled decides the tag and
            # whether the wheel is pure. The same settings as bdist_wheel's.
            scripts = self.reinitialize_command("build_scripts")
            scripts.executable = "python"
            scripts.force = True
            self.reinitialize_command("build_ext").inplace = False
            self.run_command("build")
            self.skip_build = True
        failure = optional_build_ext.c_failure if BUILD_C else "built with IPVS_BUILD_C=0"
        pkg = os.path.join(self.get_finalized_command("build").build_lib, "ipvs")
        note = os.path.join(pkg, NOTE)
        if failure is None:
            if os.path.exists(note):  # left by an earlier build in the same folder
                os.remove(note)
            if not all(".abi3." in n for n in os.listdir(pkg) if n.startswith("_ipvs_cdecoder")):
                self.py_limited_api = False  # cffi left the stable ABI (a debug build)
        else:
            for name in os.listdir(pkg):  # a module an earlier build left there
                if name.startswith("_ipvs_cdecoder"):
                    os.remove(os.path.join(pkg, name))
            self.distribution.ext_modules = []
            self.root_is_pure = True
            self.py_limited_api = False
            with open(note, "w") as f:
                f.write("the C decoder was not built with this package (%s)\n" % failure)
        super().run()


setup(
    cmdclass={"build_ext": optional_build_ext, "bdist_wheel": tagged_bdist_wheel},
    cffi_modules=["csrc/build_decoder.py:ffibuilder"] if BUILD_C else [],
    scripts=["bin/ipvsadm", "bin/ipvsadm-save", "bin/ipvsadm-restore"],
    **license_metadata(),
    data_files=[("share/man/man8", ["man/ipvsadm.8", "man/ipvsadm-save.8",
                                    "man/ipvsadm-restore.8"])],
)
