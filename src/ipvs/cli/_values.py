# ipvsadm's value parsers: option arguments as ipvsadm 1.31 reads them (C's
# strtol, inet_aton, gethostbyname and getservbyname, with their quirks).
#
# Rule: each parser returns the value or raises ParseExit with ipvsadm's
# text; names are resolved through the C library, as ipvsadm does, and only
# when an argument is not numeric. No other I/O.

from ..vocab import AF_INET, AF_INET6, DEFAULT_SCHEDULER, PROTOCOL_NAMES, SCHED_FLAG_WORDS
from ._exits import fail

PERSISTENT_TIMEOUT = 360


_SPACE = " \t\n\v\f\r"
_DIGITS = "0123456789"


def strtol_prefix(s):
    """(value, rest) of a C strtol(s, &end, 10); value None if no digits."""
    i = 0
    while i < len(s) and s[i] in _SPACE:
        i += 1
    j = i
    if j < len(s) and s[j] in "+-":
        j += 1
    k = j
    while k < len(s) and s[k] in _DIGITS:
        k += 1
    if k == j:
        return None, s
    # Bounded before conversion (Python refuses int() of more than 4300
    # digits): past 19 significant digits strtol saturates with ERANGE;
    # +-2**63 stands for that, outside every range ipvsadm accepts.
    digits = s[j:k].lstrip("0")
    if len(digits) > 19:
        return (-(2 ** 63) - 1 if s[i] == "-" else 2 ** 63), s[k:]
    return int(s[i:k]), s[k:]


def string_to_number(s, lo, hi):
    """strtol(s, 10) that must consume everything and land in [lo, hi]; -1 if not."""
    n, rest = strtol_prefix(s)
    if n is None or rest:
        return -1
    if not -(2 ** 63) <= n < 2 ** 63 or not lo <= n <= hi:
        return -1
    return n


def parse_timeout(buf, lo, hi):
    if buf is None:
        return PERSISTENT_TIMEOUT
    i = string_to_number(buf, lo, hi)
    if i == -1:
        fail("invalid timeout value `%s' specified" % buf)
    return i


def parse_fwmark(buf):
    n = string_to_number(buf, 1, 0xFFFFFFFF)
    if n == -1:
        fail("invalid fwmark value `%s' specified" % buf)
    return n


def _inet_aton(s):
    import socket
    try:
        return socket.inet_aton(s)
    except (OSError, ValueError, UnicodeError):
        return None


def _inet_pton6(s):
    import socket
    try:
        return socket.inet_pton(socket.AF_INET6, s)
    except (OSError, ValueError, UnicodeError):
        return None


def host_to_addr(name):
    """gethostbyname(): the first IPv4 address of a host name, or None."""
    if not name or name == "<broadcast>":
        return None  # Python gives these special meanings; the C library does not
    import socket
    try:
        return socket.inet_aton(socket.gethostbyname(name))
    except (OSError, ValueError, UnicodeError):
        return None


def service_to_port(name, proto):
    pname = PROTOCOL_NAMES.get(proto)
    if pname is None:
        return -1
    import socket
    try:
        return socket.getservbyname(name, pname)
    except (OSError, ValueError, UnicodeError):
        return -1


SERVICE_NONE, SERVICE_ADDR, SERVICE_PORT = 0, 1, 2


def parse_service(buf, protocol):
    """ipvsadm's host[:port] / [v6]:port grammar.
    Returns (result bits, af, packed address, port or None)."""
    if buf.isascii() and all(c.isdigit() for c in buf):
        return SERVICE_NONE, 0, None, None
    port_str = None
    if buf.startswith("["):
        buf = buf[1:]
        end = buf.find("]")
        if end < 0:
            return SERVICE_NONE, 0, None, None
        after = buf[end + 1:]
        buf = buf[:end]
        if not after.startswith(":"):
            return SERVICE_NONE, 0, None, None
        port_str = after[1:]
    raw = _inet_pton6(buf)
    if raw is not None:
        af = AF_INET6
    else:
        colon = buf.rfind(":")
        if colon >= 0:
            port_str = buf[colon + 1:]
            buf = buf[:colon]
        else:
            port_str = None  # ipvsadm forgets a bracketed port here
        af = AF_INET
        raw = _inet_aton(buf)
        if raw is None:
            raw = host_to_addr(buf)
            if raw is None:
                return SERVICE_NONE, 0, None, None
    result = SERVICE_ADDR
    port = None
    if port_str is not None:
        result |= SERVICE_PORT
        port = string_to_number(port_str, 0, 65535)
        if port == -1:
            port = service_to_port(port_str, protocol)
            if port == -1:
                return SERVICE_NONE, af, raw, None
    return result, af, raw, port


def parse_netmask(buf):
    raw = _inet_aton(buf)
    if raw is None:
        raw = host_to_addr(buf)
    return raw


def truncate(s, nbytes):
    """A C strncpy into a fixed buffer, as text again."""
    b = s.encode("utf-8", "surrogateescape")[:nbytes]
    return b.decode("utf-8", "replace")


def parse_mcast_group(arg):
    if ":" in arg:
        raw = _inet_pton6(arg)
        if raw is None or raw[0] != 0xFF:
            fail("invalid IPv6 mcast-group `%s'" % arg)
        import socket
        return socket.inet_ntop(socket.AF_INET6, raw)
    raw = _inet_pton4(arg)
    if raw is None or raw[0] >> 4 != 0xE:
        fail("invalid IPv4 mcast-group `%s'" % arg)
    return "%d.%d.%d.%d" % tuple(raw)


def _inet_pton4(s):
    import socket
    try:
        return socket.inet_pton(socket.AF_INET, s)
    except (OSError, ValueError, UnicodeError):
        return None


def parse_sched_flags(sched, arg):
    sched = sched or DEFAULT_SCHEDULER
    flags = 0
    words = [w for w in arg.split(",") if w]
    if not words:
        # ipvsadm 1.31 dereferences a null pointer here and crashes
        fail("invalid scheduler flag `%s'" % arg)
    for w in words:
        if w not in SCHED_FLAG_WORDS:
            fail("invalid scheduler flag `%s'" % w)
        bit, needs = SCHED_FLAG_WORDS[w]
        flags |= bit
        if needs and sched != needs:
            fail("incompatible scheduler flag `%s'" % w)
    return flags
