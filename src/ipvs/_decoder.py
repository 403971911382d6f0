# The decoder seam: one set of functions, two implementations.
#
# Rule: callers import decode functions from here only. The C module
# (built by cffi from csrc/) is used when it was built and IPVS_PUREPYTHON
# is not set to 1; otherwise the pure-Python twin in _decode_py. Both give
# identical records (declared in _records) and raise the same
# DecodeError; DECODER says which one is active ('c' or 'python').
#
#   decode_services(buf, seq, pid)         -> (records, status, errno)
#   decode_dests(buf, seq, pid, svc_af)    -> (records, status, errno)
#   decode_conns(chunk, final)             -> (records, consumed)
#     records here is an iterator (take it once, in order; no len()):
#     C makes each tuple as it is taken
#   run_dumps(sock, requests, pid, args, lines=None, more=())
#                                          -> (records of each, statuses, errnos)
#     GET_DEST dumps of many services run one after another on the
#     transport's socket (C: in one call, the GIL released); more: other
#     sockets' shares of them (C runs each in a thread beside the first)
#   render_conns_numeric(chunk, final)     -> (text bytes, consumed)
#     the `ipvsadm -Lnc` lines of the connections decode_conns would give
#     (same lines taken, same DecodeError), C writing them itself
#   proc_numeric(data, sort)               -> {service key: (scheduler, text)}
#     /proc/net/ip_vs's bytes: each service's real servers as `ipvsadm -Ln`
#     prints them (_proctable.numeric_table), C writing the lines
#   numeric_services(data, records, raw, order, sort)
#                                          -> (text, holes) or None
#     `ipvsadm -Ln`'s plain IPv4 services from their records (raw: in C's
#     layout) and the file's bytes, in order; holes: (place, index) of
#     each service the caller writes (_proctable.numeric_services; C:
#     csrc/ipvs_proctext.c, no Python step per service)
#   encode_rules(data, pos, plan, seq, out, used, cap)
#                                          -> (full, pos, count, used, last)
#     the plain `ipvsadm -R` lines of data (bytes) from pos on as requests
#     numbered from seq, written to out (a bytearray) from byte used up to
#     cap; stops at the end, at a line that is not plain, or when full
#     (_fastrestore.RuleBatch; C: csrc/ipvs_rules.c)
#
# DECODER_REASON is None when C is active, else why not, in words a user
# can act on (read on first use: the note file is only looked at then).
from __future__ import annotations

import os

from ._base import DONE, INTERRUPTED, MAX_LINE  # noqa: F401 (named here for the callers)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional
    DECODER_REASON: Optional[str]  # made by __getattr__ on first use

DECODER: str = "python"
_why = None  # why C is not active: a sentence, or (module name, error) of the import

if os.environ.get("IPVS_PUREPYTHON", "") == "1":
    _why = "IPVS_PUREPYTHON=1 is set"
else:
    try:
        from . import _decode_c as _impl  # the cffi wrapper; fails if not built
    except ImportError as e:
        _why = (e.name or "", "%s: %s" % (type(e).__name__, e))
    else:
        DECODER = "c"
if DECODER != "c":
    # (only then: with C active the twin's module is not loaded at all)
    from . import _decode_py as _impl  # type: ignore[no-redef]
decode_services = _impl.decode_services
decode_dests = _impl.decode_dests
run_dumps = _impl.run_dumps
decode_conns = _impl.decode_conns
render_conns_numeric = _impl.render_conns_numeric
if DECODER == "c":
    # C's faces of csrc/ipvs_proctext.c and ipvs_rules.c are modules of
    # their own (_proctext_c, _rules_c), read on first use
    def proc_numeric(data, sort):
        from ._proctext_c import proc_numeric as run
        return run(data, sort)

    def numeric_services(data, records, raw, order, sort):
        from ._proctext_c import numeric_services as run
        return run(data, records, raw, order, sort)

    def encode_rules(data, pos, plan, seq, out, used, cap):
        # C's is in a module of its own (_rules_c), read at -R's first plain line
        from ._rules_c import encode_rules as run
        return run(data, pos, plan, seq, out, used, cap)
else:
    proc_numeric = _impl.proc_numeric
    numeric_services = _impl.numeric_services
    encode_rules = _impl.encode_rules


def _reason(why):
    if why is None or isinstance(why, str):
        return why
    name, error = why
    if name == "_cffi_backend":
        return ("the cffi backend (_cffi_backend) is not installed: the C decoder needs "
                "cffi at run time (pip install cffi)")
    if name.endswith("_ipvs_cdecoder"):
        note = _build_note()
        return note or ("the C decoder is not part of this installation "
                        "(built without a C compiler, or a pure-Python build)")
    return "the C decoder could not be loaded (%s)" % error


def _build_note():
    # written by setup.py into the package when the C build failed or was
    # switched off; read through the loader, so a zip archive works too
    try:
        path = os.path.join(os.path.dirname(__file__), "_cbuild.txt")
        return __loader__.get_data(path).decode("utf-8", "replace").strip()
    except Exception:
        return None


def __getattr__(name):
    if name == "DECODER_REASON":
        value = globals()["DECODER_REASON"] = _reason(_why)
        return value
    raise AttributeError("module %r has no attribute %r" % (__name__, name))
