# Build hooks only; metadata lives in pyproject.toml.
#
# The C decoder is optional: when it cannot be compiled (no compiler, no
# headers) the install still succeeds and the package uses the pure-Python
# twin (ipvs.DECODER == 'python'); we say so loudly instead of failing.
import sys

from setuptools import setup
from setuptools.command.build_ext import build_ext
from setuptools.errors import BaseError, CCompilerError

_FAILED = (CCompilerError, BaseError, OSError)


def _warn(exc):
    msg = ("WARNING: the C decoder of ipvs could not be built (%s: %s); "
           "installing without it: the pure-Python decoder will be used."
           % (type(exc).__name__, exc))
    print("\n" + "*" * 72 + "\n" + msg + "\n" + "*" * 72 + "\n", file=sys.stderr)
    try:
        import warnings
        warnings.warn(msg)
    except Exception:  # pragma: no cover
        pass


class optional_build_ext(build_ext):
    def run(self):
        try:
            super().run()
        except _FAILED as e:
            _warn(e)

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
        except _FAILED as e:
            _warn(e)


setup(
    cmdclass={"build_ext": optional_build_ext},
    cffi_modules=["csrc/build_decoder.py:ffibuilder"],
)
