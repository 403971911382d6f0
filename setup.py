# Build hooks only; metadata lives in pyproject.toml.
#
# The C decoder is optional: when it cannot be compiled (no compiler, no
# headers) the install still succeeds and the package uses the pure-Python
# twin (ipvs.DECODER == 'python'). pip shows a build's output only with -v,
# so the reason is also written into the package (ipvs/_cbuild.txt), where
# ipvs.DECODER_REASON and `ipvsadm --about` report it.
#
# IPVS_BUILD_C=0 builds without the C decoder on purpose (a py3-none-any
# wheel, for images of another architecture or without cffi).
#
# Wheel tags: the cffi module is built for the stable ABI (abi3, Python
# 3.9+), so a wheel that holds it is cp39-abi3-<platform>; one that does
# not is py3-none-any.
import os
import sys

from setuptools import setup
from setuptools.command.bdist_wheel import bdist_wheel
from setuptools.command.build_ext import build_ext
from setuptools.command.build_py import build_py
from setuptools.errors import BaseError, CCompilerError

_FAILED = (CCompilerError, BaseError, OSError)
NOTE = "_cbuild.txt"  # read by ipvs._decoder when the C module is missing
BUILD_C = os.environ.get("IPVS_BUILD_C", "1") != "0"


def _warn(msg):
    print("\n" + "*" * 72 + "\nWARNING: " + msg + "\n" + "*" * 72 + "\n", file=sys.stderr)


class optional_build_ext(build_ext):
    c_failure = None  # why the C module was not built, or None

    def run(self):
        try:
            super().run()
        except _FAILED as e:
            self._failed(e)

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
        except _FAILED as e:
            self._failed(e)

    def _failed(self, exc):
        text = str(exc)  # a failed compiler's message holds its whole command line
        optional_build_ext.c_failure = "%s: %s" % (
            type(exc).__name__, text if len(text) <= 160 else text[:157] + "...")
        _warn("the C decoder of ipvs could not be built (%s); installing without it: "
              "the pure-Python decoder will be used." % optional_build_ext.c_failure)


class bundling_build_py(build_py):
    """Adds ipvs/_modules.bundle to the built package: its modules compiled
    into one file that the package imports at start-up (ipvs/__init__.py).
    Not for an editable install, which runs the checkout's files."""

    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "src"))
        try:
            from ipvs import _bundle
        finally:
            del sys.path[0]
        _bundle.write(os.path.join(self.build_lib, "ipvs"))

    def get_outputs(self, include_bytecode=True):
        outputs = super().get_outputs(include_bytecode)
        if not getattr(self, "editable_mode", False):
            outputs.append(os.path.join(self.build_lib, "ipvs", "_modules.bundle"))
        return outputs


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
    cmdclass={"build_ext": optional_build_ext, "bdist_wheel": tagged_bdist_wheel,
              "build_py": bundling_build_py},
    cffi_modules=["csrc/build_decoder.py:ffibuilder"] if BUILD_C else [],
    scripts=["bin/ipvsadm", "bin/ipvsadm-save", "bin/ipvsadm-restore"],
    data_files=[("share/man/man8", ["man/ipvsadm.8", "man/ipvsadm-save.8",
                                    "man/ipvsadm-restore.8"])],
)
