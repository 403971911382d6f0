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


_MISSING = object()


def record_type(name: str, fields: str, defaults: tuple = (), module: str = __name__):
    """A tuple class with named fields (names separated by spaces), as
    collections.namedtuple makes one (positional or keyword arguments, the
    last len(defaults) fields optional, _fields, _replace, its repr), but
    without importing collections: at start-up that reads four modules,
    each 12-20 ms where files come over slow storage (the VM's 9p)."""
    from _operator import itemgetter  # the C module: operator.py is another file
    names = tuple(fields.split())
    n, first = len(names), len(names) - len(defaults)
    index = {f: i for i, f in enumerate(names)}

    def __new__(cls, *args, **kw):
        if kw or len(args) != n:
            if len(args) > n:
                raise TypeError("%s() takes %d arguments, %d given" % (name, n, len(args)))
            values = list(args) + [_MISSING] * (n - len(args))
            for key, value in kw.items():
                i = index.get(key)
                if i is None or values[i] is not _MISSING:
                    raise TypeError("%s() got an unexpected or repeated argument %r"
                                    % (name, key))
                values[i] = value
            for i in range(len(args), n):
                if values[i] is _MISSING:
                    if i < first:
                        raise TypeError("%s() missing argument %r" % (name, names[i]))
                    values[i] = defaults[i - first]
            args = values
        return tuple.__new__(cls, args)

    def _replace(self, **kw):
        values = list(self)
        for key, value in kw.items():
            if key not in index:
                raise ValueError("%s has no field %r" % (name, key))
            values[index[key]] = value
        return type(self)(*values)

    def __repr__(self):
        return "%s(%s)" % (type(self).__name__,
                           ", ".join("%s=%r" % pair for pair in zip(names, self)))

    def __getnewargs__(self):
        return tuple(self)

    ns = {"__slots__": (), "__module__": module, "_fields": names, "__new__": __new__,
          "_replace": _replace, "__repr__": __repr__, "__getnewargs__": __getnewargs__}
    for i, f in enumerate(names):
        ns[f] = property(itemgetter(i), doc="field %d" % i)
    return type(name, (tuple,), ns)
