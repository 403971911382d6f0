# Python face of csrc/ipvs_proctext.c: `ipvsadm -Ln` from /proc/net/ip_vs's
# bytes and the service records. The seam's proc_numeric and
# numeric_services (_decoder) come here when C is active; the twins are
# _decode_py's (_proctable.numeric_table and numeric_services).
#
# Rule: where a record keeps a field, which flags and protocols matter and
# how a protocol is labelled come from the spec and vocab, handed to C as
# data (_view); C knows no layout of its own.
from __future__ import annotations

import _struct

from . import _spec
from ._decode_c import _E_FULL, _raise, _raw
from ._ipvs_cdecoder import ffi, lib
from ._proctable import GENERAL_FLAGS, body_start, numeric_services as _twin_services
from .vocab import AF_INET, PROTOCOL_LABELS, SVC_F_PERSISTENT

# the service record's fields C reads, by their IPVS_SV_* slot
_FIELDS = (("af", lib.IPVS_SV_AF), ("protocol", lib.IPVS_SV_PROTOCOL),
           ("addr", lib.IPVS_SV_ADDR), ("port", lib.IPVS_SV_PORT),
           ("fwmark", lib.IPVS_SV_FWMARK), ("flags", lib.IPVS_SV_FLAGS),
           ("sched_name", lib.IPVS_SV_SCHED), ("pe_name", lib.IPVS_SV_PE),
           ("timeout", lib.IPVS_SV_TIMEOUT), ("netmask", lib.IPVS_SV_NETMASK))
_VIEW = []  # the struct ipvs_svcview, made on first use


def _view():
    if not _VIEW:
        layout = _spec.LAYOUTS["service"]
        v = ffi.new("struct ipvs_svcview *")
        by_name = {f.name: f for f in layout.fields}
        for name, slot in _FIELDS:
            f = by_name[name]
            v.offset[slot], v.size[slot] = f.offset, f.store
        v.rec_size, v.af_inet = layout.size, AF_INET
        v.general, v.persistent = GENERAL_FLAGS, SVC_F_PERSISTENT
        labels = sorted(PROTOCOL_LABELS.items())
        if len(labels) > lib.IPVS_SV_PROTOS:
            raise ValueError("more protocols than C's view holds")
        v.nproto = len(labels)
        for k, (number, label) in enumerate(labels):
            b = label.encode("latin-1")
            v.proto[k], v.label_len[k] = number, len(b)
            ffi.memmove(v.label[k], b, len(b))
        _VIEW.append(v)
    return _VIEW[0]


def _numeric(data, sort):
    """ipvs_proc_numeric over the file's bytes: (its text, heads, ends, ok,
    service count, bytes written) as cffi objects, or None when the text is
    not the kernel's layout."""
    start = body_start(data)
    if start is None:
        return None
    size = len(data) - start
    lines = data.count(b"\n", start) + 1
    cap = size + size // 2 + 64
    out, heads, ends = _raw("uint8_t[]", cap), _raw("size_t[]", lines), _raw("size_t[]", lines)
    ok, count, written = _raw("uint8_t[]", lines), ffi.new("size_t *"), ffi.new("size_t *")
    rc = lib.ipvs_proc_numeric(ffi.from_buffer("uint8_t[]", data) + start, size,
                               1 if sort else 0, out, cap, _raw("struct ipvs_pline[]", lines),
                               lines, heads, ends, ok, lines, count, written)
    if rc == lib.IPVS_E_PROC_LAYOUT:
        return None
    if rc:
        _raise(rc)
    return out, heads, ends, ok, count[0], written[0]


def proc_numeric(data, sort):
    """_decode_py.proc_numeric's result: C writes the lines, Python makes
    an entry per service."""
    got = _numeric(data, sort)
    if got is None:
        return None
    out, heads, ends, ok, n, written = got
    text = ffi.buffer(out, written)[:].decode("latin-1")
    table, start = {}, 0
    for head, end, fit in zip(ffi.unpack(heads, n), ffi.unpack(ends, n), ffi.buffer(ok, n)[:]):
        f = text[start:head].split()
        if len(f) < 3:
            return None
        # a service seen twice: the later text is the newer (as parse())
        table[(f[0], f[1])] = (f[2], text[head + 1:end] if fit else None)
        start = end
    return table


def numeric_services(data, records, raw, order, sort):
    """_decode_py.numeric_services' result, C writing the text from the
    records' raw bytes (service_table()'s) and the file's in two calls."""
    total = len(records)
    if raw is None or len(raw) != total * _spec.LAYOUTS["service"].size:
        table = proc_numeric(data, sort)  # the twin's records: no raw bytes to read
        return None if table is None else _twin_services(table, records, order)
    got = _numeric(data, sort)
    if got is None:
        return None
    ptext, heads, ends, ok, n, written = got
    nslots = 1 << (2 * n).bit_length()  # a power of two above 2n: short probes
    holes, nholes, used = _raw("uint32_t[]", 2 * total or 2), ffi.new("size_t *"), \
        ffi.new("size_t *")
    order_c = ffi.from_buffer("uint32_t[]", bytearray(_struct.pack("=%dI" % total, *order)))
    recs = ffi.from_buffer("uint8_t[]", raw) if total else ffi.NULL
    cap = written + 160 * total + 64  # (ipvs_decoder.h: enough unless a service is named twice)
    while True:
        out = _raw("uint8_t[]", cap)
        rc = lib.ipvs_proc_services(ptext, heads, ends, ok, n, recs, total, _view(),
                                    order_c if total else ffi.NULL,
                                    _raw("struct ipvs_pent[]", n or 1),
                                    ffi.new("uint32_t[]", nslots), nslots,
                                    out, cap, holes, nholes, used)
        if rc != _E_FULL:
            break
        cap *= 2  # a service named twice shares its text: more than the bound
    if rc == lib.IPVS_E_PROC_LAYOUT:
        return None
    if rc:
        _raise(rc)
    h = ffi.unpack(holes, 2 * nholes[0])
    return ffi.buffer(out, used[0])[:].decode("latin-1"), list(zip(h[0::2], h[1::2]))
