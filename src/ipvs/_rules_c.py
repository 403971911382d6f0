# Python face of csrc/ipvs_rules.c (the plain lines of ipvsadm -R to
# netlink requests): the templates and letters of a RulePlan handed to C
# once, then one C call for each run of plain lines. The seam's
# encode_rules (_decode_c) comes here; the twin is _decode_py.encode_rules.
#
# Rule: nothing of the wire format or of the grammar's words here: the
# templates and slots come from _fastrestore.rule_templates (the spec and
# FastRestore's own encoding), the letters from rule_grammar (both through
# the RulePlan handed in: nothing is imported from there).
from __future__ import annotations

from ._decode_c import _E_FULL, _raise
from ._ipvs_cdecoder import ffi, lib

_RULE_KINDS = {"u16": lib.IPVS_RS_U16, "be16": lib.IPVS_RS_BE16, "u32": lib.IPVS_RS_U32,
               "addr4": lib.IPVS_RS_ADDR4, "string": lib.IPVS_RS_STRING}
_RULE_VALUES = {"proto": lib.IPVS_RF_PROTO, "vaddr": lib.IPVS_RF_VADDR,
                "vport": lib.IPVS_RF_VPORT, "raddr": lib.IPVS_RF_RADDR,
                "rport": lib.IPVS_RF_RPORT, "fwd": lib.IPVS_RF_FWD,
                "weight": lib.IPVS_RF_WEIGHT, "sched": lib.IPVS_RF_SCHED}


class _RuleTables:
    """csrc/ipvs_rules.c's templates and letters for a RulePlan (the cffi
    objects live as long as this)."""

    def __init__(self, plan):
        tmpl = plan.templates()
        self.tmpl = ffi.new("struct ipvs_rtmpl[]", len(tmpl))
        self.keep = []
        for t, (_, msg, slots) in zip(self.tmpl, tmpl):
            b = ffi.new("uint8_t[]", msg)
            s = ffi.new("struct ipvs_rslot[]", len(slots))
            for cs, (off, size, kind, value) in zip(s, slots):
                cs.off, cs.size, cs.kind, cs.field = off, size, _RULE_KINDS[kind], \
                    _RULE_VALUES[value]
            t.bytes, t.len, t.slots, t.nslots = b, len(msg), s, len(slots)
            self.keep += [b, s]
        protos, fwds, masq = plan.grammar()
        g = self.grammar = ffi.new("struct ipvs_rgrammar *")
        for k, (letter, value) in enumerate(protos):
            g.proto_letter[k], g.proto[k] = ord(letter), value
        for k, (letter, value) in enumerate(fwds):
            g.fwd_letter[k], g.fwd[k] = ord(letter), value
        g.masq_letter = ord(masq)
        self.res = ffi.new("size_t[4]")


def encode_rules(data, pos, plan, seq, out, used, cap):
    """_decode_py.encode_rules's result, C parsing and writing."""
    t = plan.c
    if t is None:
        t = plan.c = _RuleTables(plan)
    res = t.res
    rc = lib.ipvs_encode_rules(ffi.from_buffer("uint8_t[]", data), len(data), pos, t.grammar,
                               t.tmpl, seq, ffi.from_buffer("uint8_t[]", out, True), used,
                               cap, res)
    if rc and rc != _E_FULL:
        _raise(rc)
    count = res[1]
    return rc == _E_FULL, res[0], count, res[2], res[3] if count else None

