# cffi builder of the C decoder (out-of-line API mode).
#
# Rule: one description of the module, used by setup.py (`cffi_modules`)
# and by scripts/sanitize (which builds it again with ASan/UBSan). The
# cdef is the header itself, so C and Python cannot disagree on a layout.
import os

from cffi import FFI

HERE = os.path.dirname(os.path.abspath(__file__))
MODULE = "ipvs._ipvs_cdecoder"
# one translation unit that includes the dump engine (ipvs_decoder.c), the
# connection-line parser, its column decoder and the -Lnc renderer
SOURCES = ("ipvs_module.c",)


def make_ffi(extra_compile_args=(), extra_link_args=(), absolute=False):
    ffi = FFI()
    with open(os.path.join(HERE, "ipvs_decoder.h")) as f:
        ffi.cdef(f.read())
    # setup.py runs from the project root and wants relative paths
    base = HERE if absolute else "csrc"
    ffi.set_source(
        MODULE,
        "#include <stddef.h>\n#include <stdint.h>\n#include \"ipvs_decoder.h\"\n",
        sources=[os.path.join(base, name) for name in SOURCES],
        include_dirs=[base],
        extra_compile_args=["-O2", "-std=c11", "-D_DEFAULT_SOURCE", "-Wall", "-Wextra",
                            *extra_compile_args],
        extra_link_args=list(extra_link_args),
    )
    return ffi


ffibuilder = make_ffi()

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
