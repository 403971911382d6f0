# The exception roots, at the bottom of the layer stack so the codec, the
# decoders and the client all raise from one hierarchy; and the decoders'
# error codes (the C decoder returns them, csrc/ipvs_decoder.h) with their
# messages, which every Python reader of replies raises too.


class IPVSError(Exception):
    """Base class of every error this package raises on purpose."""


class DecodeError(IPVSError, ValueError):
    """Bytes that are not valid netlink / IPVS data (from either decoder)."""


# the longest line of a proc table the decoders take (ip_vs_conn's are ~150)
MAX_LINE = 4096

ERRORS = {
    1: "bad message length",
    2: "data after the end of the reply",
    3: "reply out of sequence",
    4: "short error message",
    5: "overrun",
    6: "short generic netlink header",
    7: "reply without the expected nest",
    8: "trailing bytes",
    9: "bad attribute length",
    10: "missing attribute",
    11: "attribute too short",
    12: "address attribute too short",
    13: "name longer than 15 bytes",
    14: "connection line longer than 4096 bytes",
    15: "short connection line",
    16: "bad field in connection line",
    17: "netlink message larger than the receive buffer",
    18: "/proc/net/ip_vs not in the kernel's layout",
}
E_MSG_LEN, E_AFTER_DONE, E_SEQ, E_SHORT_ERROR, E_OVERRUN, E_SHORT_GENL, E_NO_NEST, \
    E_TRAILING, E_ATTR_LEN, E_MISSING, E_SHORT_ATTR, E_SHORT_ADDR, E_LONG_STRING, \
    E_LINE_LONG, E_CONN_SHORT, E_CONN_FIELD, E_BIG, E_PROC_LAYOUT = range(1, 19)

# status bits of a dump decoder's result: the reply is complete; the
# kernel flagged it interrupted (NLM_F_DUMP_INTR: read it again)
DONE = 1
INTERRUPTED = 2


def fail(code: int):
    raise DecodeError(ERRORS[code])
