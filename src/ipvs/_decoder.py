# The decoder seam: one set of functions, two implementations.
#
# Rule: callers import decode functions from here only. The C module
# (built by cffi from csrc/) is used when it was built and IPVS_PUREPYTHON
# is not set to 1; otherwise the pure-Python twin in _decode_py. Both give
# identical records (layouts in _decode_py's header) and raise the same
# DecodeError; DECODER says which one is active ('c' or 'python').
#
#   decode_services(buf, seq, pid)         -> (records, status, errno)
#   decode_dests(buf, seq, pid, svc_af)    -> (records, status, errno)
#   decode_conns(chunk, final)             -> (records, consumed)
#     records here is an iterator (take it once, in order; no len()):
#     C makes each tuple as it is taken
#   render_conns_numeric(chunk, final)     -> (text bytes, consumed)
#     the `ipvsadm -Lnc` lines of the connections decode_conns would give
#     (same lines taken, same DecodeError), C writing them itself
from __future__ import annotations

import os

from . import _decode_py

DECODER = "python"
decode_services = _decode_py.decode_services
decode_dests = _decode_py.decode_dests
decode_conns = _decode_py.decode_conns
render_conns_numeric = _decode_py.render_conns_numeric

if os.environ.get("IPVS_PUREPYTHON", "") != "1":
    try:
        from . import _decode_c  # the cffi wrapper; fails if not built
    except ImportError:
        pass
    else:
        DECODER = "c"
        decode_services = _decode_c.decode_services
        decode_dests = _decode_c.decode_dests
        decode_conns = _decode_c.decode_conns
        render_conns_numeric = _decode_c.render_conns_numeric

DONE = _decode_py.DONE
INTERRUPTED = _decode_py.INTERRUPTED
MAX_LINE = _decode_py.MAX_LINE
