# ipvsadm's command-line grammar: a popt-compatible option scanner and the
# rules of ipvsadm 1.31 that turn an argument vector into one command.
#
# Rule: no kernel access and no output here. Every error is a ParseExit
# carrying the exact text and exit status ipvsadm gives; the runner prints
# it. Parsing is sequential (first error wins), as in ipvsadm, because the
# order of errors is part of its observable behaviour.


# ------------------------------------------------------------------ errors


class ParseExit(Exception):
    """Stop with `message` on stderr (when not None) and exit `status`.
    usage=True: print the usage text instead (to stdout for status 0)."""

    def __init__(self, status, message=None, *, usage=False, version=False, tryhelp=False):
        Exception.__init__(self, message)
        self.status = status
        self.message = message
        self.usage = usage
        self.version = version
        self.tryhelp = tryhelp


def fail(msg):
    raise ParseExit(2, msg)


def tryhelp():
    raise ParseExit(255, tryhelp=True)


# ----------------------------------------------------- option declarations

# (long name, short letter or None, argument: 0 none / 1 required / 2 optional, tag)
_OPTS = [
    ("add-service", "A", 0, "A"), ("edit-service", "E", 0, "E"),
    ("delete-service", "D", 0, "D"), ("clear", "C", 0, "C"),
    ("list", "L", 0, "L"), ("list", "l", 0, "l"), ("zero", "Z", 0, "Z"),
    ("add-server", "a", 0, "a"), ("edit-server", "e", 0, "e"),
    ("delete-server", "d", 0, "d"), ("set", None, 0, "set"),
    ("help", "h", 0, "h"), ("version", "v", 0, "v"),
    ("restore", "R", 0, "R"), ("save", "S", 0, "S"),
    ("start-daemon", None, 1, "start-daemon"), ("stop-daemon", None, 1, "stop-daemon"),
    ("tcp-service", "t", 1, "t"), ("udp-service", "u", 1, "u"),
    ("sctp-service", None, 1, "sctp"), ("fwmark-service", "f", 1, "f"),
    ("scheduler", "s", 1, "s"), ("persistent", "p", 2, "p"),
    ("netmask", "M", 1, "M"), ("real-server", "r", 1, "r"),
    ("masquerading", "m", 0, "m"), ("ipip", "i", 0, "i"), ("gatewaying", "g", 0, "g"),
    ("weight", "w", 1, "w"), ("u-threshold", "x", 1, "x"), ("l-threshold", "y", 1, "y"),
    ("numeric", "n", 0, "n"), ("connection", "c", 0, "c"),
    ("mcast-interface", None, 1, "mcast-interface"), ("syncid", None, 1, "syncid"),
    ("timeout", None, 0, "timeout"), ("daemon", None, 0, "daemon"),
    ("stats", None, 0, "stats"), ("rate", None, 0, "rate"),
    ("thresholds", None, 0, "thresholds"), ("persistent-conn", None, 0, "persistent-conn"),
    ("nosort", None, 0, "nosort"), ("sort", None, 0, "sort"),
    ("exact", "X", 0, "exact"), ("ipv6", "6", 0, "6"), ("ops", "o", 0, "o"),
    ("pe", None, 1, "pe"), ("sched-flags", "b", 1, "b"),
    ("mcast-group", None, 1, "mcast-group"), ("mcast-port", None, 1, "mcast-port"),
    ("mcast-ttl", None, 1, "mcast-ttl"), ("sync-maxlen", None, 1, "sync-maxlen"),
    ("tun-info", None, 0, "tun-info"), ("tun-type", None, 1, "tun-type"),
    ("tun-port", None, 1, "tun-port"), ("tun-nocsum", None, 0, "tun-nocsum"),
    ("tun-csum", None, 0, "tun-csum"), ("tun-remcsum", None, 0, "tun-remcsum"),
]
_BY_LONG = {}
for _o in _OPTS:
    _BY_LONG.setdefault(_o[0], _o)  # "--list" is the first of the two
_BY_SHORT = {o[1]: o for o in _OPTS if o[1]}

# popt's error codes and texts
POPT_NOARG = -10
POPT_BADOPT = -11
POPT_UNWANTEDARG = -12
POPT_TEXT = {POPT_NOARG: "missing argument", POPT_BADOPT: "unknown option",
             POPT_UNWANTEDARG: "option does not take an argument"}


class _PoptError(Exception):
    def __init__(self, code):
        Exception.__init__(self, code)
        self.code = code


class Scanner:
    """Returns options one at a time the way libpopt 1.19 does for
    ipvsadm's table: bundled short options, `-x=value`, `--long=value`,
    an optional argument taken only when the next word does not start with
    '-', non-option words kept aside, `--` ending the options."""

    def __init__(self, argv):
        self.argv = argv
        self.next = 1
        self.bundle = None  # rest of a cluster of short options
        self.rest = False
        self.leftovers = []

    def bad_option(self):
        return self.argv[self.next - 1] if self.next > 0 else ""

    def _take_next(self, optional):
        if self.next >= len(self.argv):
            if optional:
                return None
            raise _PoptError(POPT_NOARG)
        word = self.argv[self.next]
        if optional and word.startswith("-"):
            return None
        self.next += 1
        return word

    def get(self):
        """(tag, argument) of the next option, or None at the end."""
        while True:
            if self.bundle:
                letter, rest = self.bundle[0], self.bundle[1:]
                opt = _BY_SHORT.get(letter)
                if opt is None:
                    self.bundle = None
                    raise _PoptError(POPT_BADOPT)
                if opt[2]:
                    self.bundle = None
                    if rest:
                        if rest[0] == "=":
                            rest = rest[1:]
                        return opt[3], rest
                    return opt[3], self._take_next(opt[2] == 2)
                if rest.startswith("="):
                    self.bundle = None
                    raise _PoptError(POPT_UNWANTEDARG)
                self.bundle = rest or None
                return opt[3], None
            if self.next >= len(self.argv):
                return None
            word = self.argv[self.next]
            self.next += 1
            if self.rest or not word.startswith("-") or word == "-":
                self.leftovers.append(word)
                continue
            if word == "--":
                self.rest = True
                continue
            if word[1] == "-":
                name, eq, value = word[2:].partition("=")
                opt = _BY_LONG.get(name)
                if opt is None:
                    raise _PoptError(POPT_BADOPT)
                if not opt[2]:
                    if eq:
                        raise _PoptError(POPT_UNWANTEDARG)
                    return opt[3], None
                if eq:
                    return opt[3], value
                return opt[3], self._take_next(opt[2] == 2)
            self.bundle = word[1:]


# ------------------------------------------------------------ the command

CMD_NONE, CMD_ADD, CMD_EDIT, CMD_DEL, CMD_FLUSH, CMD_LIST, CMD_ADDDEST, CMD_DELDEST, \
    CMD_EDITDEST, CMD_TIMEOUT, CMD_STARTDAEMON, CMD_STOPDAEMON, CMD_RESTORE, CMD_SAVE, \
    CMD_ZERO = range(15)
CMD_NAMES = ["", "add-service", "edit-service", "delete-service", "flush", "list",
             "add-server", "delete-server", "edit-server", "set", "start-daemon",
             "stop-daemon", "restore", "save", "zero"]

# option bits, in ipvsadm's order (the order decides which error is reported)
OPT_NAMES = ["numeric", "connection", "service-address", "scheduler", "persistent",
             "netmask", "real-server", "forwarding-method", "weight", "u-threshold",
             "l-threshold", "mcast-interface", "timeout", "daemon", "stats", "rate",
             "thresholds", "persistent-conn", "nosort", "syncid", "exact", "ops", "pe",
             "sched-flags", "mcast-group", "mcast-port", "mcast-ttl", "sync-maxlen",
             "tun-info", "tun-type", "tun-port", "tun-nocsum", "tun-csum", "tun-remcsum"]
(O_NUMERIC, O_CONNECTION, O_SERVICE, O_SCHEDULER, O_PERSISTENT, O_NETMASK, O_SERVER,
 O_FORWARD, O_WEIGHT, O_UTHRESHOLD, O_LTHRESHOLD, O_MCAST, O_TIMEOUT, O_DAEMON, O_STATS,
 O_RATE, O_THRESHOLDS, O_PERSISTENTCONN, O_NOSORT, O_SYNCID, O_EXACT, O_ONEPACKET, O_PE,
 O_SCHED_FLAGS, O_MCAST_GROUP, O_MCAST_PORT, O_MCAST_TTL, O_SYNC_MAXLEN, O_TUN_INFO,
 O_TUN_TYPE, O_TUN_PORT, O_TUN_NOCSUM, O_TUN_CSUM, O_TUN_REMCSUM) = range(34)

# Which options each command takes: '+' required, 'x' illegal, '1' at most
# one of the '1's, ' ' optional. One string per command, one column per
# option, columns in OPT_NAMES order.
_ALL_X = "x" * 34
_LEGAL = {
    CMD_ADD: "xx+" + " " * 3 + "x" * 15 + " " * 3 + "x" * 10,
    CMD_EDIT: "xx+" + " " * 3 + "x" * 15 + " " * 3 + "x" * 10,
    CMD_DEL: "xx+" + "x" * 31,
    CMD_FLUSH: _ALL_X,
    CMD_LIST: " 11" + "x" * 9 + "11" + " " * 7 + "x" * 7 + " " + "x" * 5,
    CMD_ADDDEST: "xx+xxx+" + " " * 4 + "x" * 18 + " " * 5,
    CMD_DELDEST: "xx+xxx+" + "x" * 27,
    CMD_EDITDEST: "xx+xxx+" + " " * 4 + "x" * 18 + " " * 5,
    CMD_TIMEOUT: _ALL_X,
    CMD_STARTDAEMON: "x" * 11 + " " + "x" * 7 + " " + "x" * 4 + " " * 4 + "x" * 6,
    CMD_STOPDAEMON: "x" * 19 + " " + "x" * 14,
    CMD_RESTORE: _ALL_X,
    CMD_SAVE: " " + "x" * 33,
    CMD_ZERO: "xx " + "x" * 31,
}
assert all(len(row) == 34 for row in _LEGAL.values())

TUN_IPIP, TUN_GUE, TUN_GRE = 0, 1, 2
TUN_NAMES = ["ipip", "gue", "gre"]
_TUN_OPTS = [O_TUN_PORT, O_TUN_NOCSUM, O_TUN_CSUM, O_TUN_REMCSUM]
_TUN_LEGAL = ["xxxx", "+111", "x11x"]

# format flags
FMT_NUMERIC = 0x1
FMT_RULE = 0x2
FMT_STATS = 0x4
FMT_RATE = 0x8
FMT_THRESHOLDS = 0x10
FMT_PERSISTENTCONN = 0x20
FMT_NOSORT = 0x40
FMT_EXACT = 0x80
FMT_TUN_INFO = 0x100

SVC_F_PERSISTENT = 0x1
SVC_F_ONEPACKET = 0x4
SVC_F_SCHED1, SVC_F_SCHED2, SVC_F_SCHED3 = 0x8, 0x10, 0x20
_SCHED_FLAGS = {"flag-1": (SVC_F_SCHED1, None), "flag-2": (SVC_F_SCHED2, None),
                "flag-3": (SVC_F_SCHED3, None), "sh-fallback": (SVC_F_SCHED1, "sh"),
                "sh-port": (SVC_F_SCHED2, "sh"), "mh-fallback": (SVC_F_SCHED1, "mh"),
                "mh-port": (SVC_F_SCHED2, "mh")}

FWD_MASQ, FWD_TUNNEL, FWD_ROUTE = 0, 2, 3
AF_INET, AF_INET6 = 2, 10
IPPROTO_TCP, IPPROTO_UDP, IPPROTO_SCTP = 6, 17, 132
MAX_TIMEOUT = 86400 * 31
PERSISTENT_TIMEOUT = 360
DEF_SCHED = "wlc"
DEF_MCAST_IFN = "eth0"


class Command:
    """One parsed ipvsadm command, with the fields ipvsadm's command entry
    has (raw values, as ipvsadm would put them on the wire)."""

    def __init__(self):
        self.cmd = CMD_NONE
        self.options = 0
        self.format = 0
        # service
        self.af = 0
        self.protocol = 0
        self.addr = None  # packed bytes (4 or 16) or None
        self.port = 0
        self.fwmark = 0
        self.sched_name = ""
        self.flags = 0
        self.timeout = 0
        self.netmask = 0xFFFFFFFF  # u32 as ipvsadm sends it (v4: the mask's bytes)
        self.pe_name = ""
        # destination
        self.d_af = 0
        self.d_addr = None
        self.d_port = 0
        self.fwd = FWD_ROUTE
        self.weight = 1
        self.u_threshold = 0
        self.l_threshold = 0
        self.tun_type = TUN_IPIP
        self.tun_port = 0
        self.tun_flags = 0
        # timeouts
        self.timeouts = (0, 0, 0)
        # daemon
        self.state = 0
        self.mcast_ifn = ""
        self.syncid = 0
        self.sync_maxlen = 0
        self.mcast_group = None
        self.mcast_port = 0
        self.mcast_ttl = 0

    def has(self, opt):
        return bool(self.options & (1 << opt))


# ----------------------------------------------------------- value parsers

_SPACE = " \t\n\v\f\r"
_DIGITS = "0123456789"


def _strtol_prefix(s):
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
    n, rest = _strtol_prefix(s)
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
    pname = {IPPROTO_TCP: "tcp", IPPROTO_UDP: "udp", IPPROTO_SCTP: "sctp"}.get(proto)
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


def _truncate(s, nbytes):
    """A C strncpy into a fixed buffer, as text again."""
    b = s.encode("utf-8", "surrogateescape")[:nbytes]
    return b.decode("utf-8", "replace")


# -------------------------------------------------------------- the parser

def _set_command(ce, cmd):
    if ce.cmd != CMD_NONE:
        fail("multiple commands specified")
    ce.cmd = cmd


def _set_option(ce, opt):
    bit = 1 << opt
    if ce.options & bit:
        fail("multiple '%s' options specified" % OPT_NAMES[opt])
    ce.options |= bit


_FIRST = {"A": CMD_ADD, "E": CMD_EDIT, "D": CMD_DEL, "a": CMD_ADDDEST, "e": CMD_EDITDEST,
          "d": CMD_DELDEST, "C": CMD_FLUSH, "L": CMD_LIST, "l": CMD_LIST, "Z": CMD_ZERO,
          "set": CMD_TIMEOUT, "R": CMD_RESTORE, "S": CMD_SAVE}
_FORMAT_FLAGS = {"stats": (O_STATS, FMT_STATS), "rate": (O_RATE, FMT_RATE),
                 "thresholds": (O_THRESHOLDS, FMT_THRESHOLDS),
                 "persistent-conn": (O_PERSISTENTCONN, FMT_PERSISTENTCONN),
                 "nosort": (O_NOSORT, FMT_NOSORT), "exact": (O_EXACT, FMT_EXACT),
                 "tun-info": (O_TUN_INFO, FMT_TUN_INFO), "n": (O_NUMERIC, FMT_NUMERIC)}
_PROTO_OF = {"t": IPPROTO_TCP, "u": IPPROTO_UDP, "sctp": IPPROTO_SCTP}


class PoptFailure(Exception):
    """popt itself refused an option: ipvsadm prints '<option>: <reason>'
    and the command fails with status 255 (in -R the next line still runs)."""

    def __init__(self, text):
        Exception.__init__(self, text)
        self.text = text


def parse_options(argv):
    """argv (program name first) -> Command. Raises ParseExit or PoptFailure."""
    ce = Command()
    sc = Scanner(argv)
    try:
        got = sc.get()
    except _PoptError:
        got = None
    if got is None:
        tryhelp()
    tag, arg = got
    if tag in _FIRST:
        _set_command(ce, _FIRST[tag])
    elif tag in ("start-daemon", "stop-daemon"):
        _set_command(ce, CMD_STARTDAEMON if tag == "start-daemon" else CMD_STOPDAEMON)
        if arg == "master":
            ce.state = 1
        elif arg == "backup":
            ce.state = 2
        elif tag == "start-daemon":
            fail("illegal start-daemon parameter specified")
        else:
            fail("illegal start_daemon specified")
    elif tag == "h":
        raise ParseExit(0, usage=True)
    elif tag == "v":
        raise ParseExit(0, version=True)
    else:
        tryhelp()

    sched_flags_arg = ""
    while True:
        try:
            got = sc.get()
        except _PoptError as e:
            raise PoptFailure("%s: %s" % (sc.bad_option(), POPT_TEXT[e.code])) from None
        if got is None:
            break
        tag, arg = got
        if tag in _PROTO_OF:
            _set_option(ce, O_SERVICE)
            ce.protocol = _PROTO_OF[tag]
            res, af, raw, port = parse_service(arg, ce.protocol)
            if af:
                ce.af, ce.addr = af, raw
                if af == AF_INET6:
                    ce.netmask = 128
            if port is not None:
                ce.port = port
            if not res & SERVICE_ADDR:
                fail("illegal virtual server address[:port] specified")
        elif tag == "f":
            _set_option(ce, O_SERVICE)
            ce.af = AF_INET
            ce.protocol = IPPROTO_TCP
            ce.fwmark = parse_fwmark(arg)
        elif tag == "s":
            _set_option(ce, O_SCHEDULER)
            ce.sched_name = _truncate(arg, 15)
        elif tag == "p":
            _set_option(ce, O_PERSISTENT)
            ce.flags |= SVC_F_PERSISTENT
            ce.timeout = parse_timeout(arg, 1, MAX_TIMEOUT)
        elif tag == "M":
            _set_option(ce, O_NETMASK)
            if ce.af != AF_INET6:
                raw = parse_netmask(arg)
                if raw is None:
                    fail("illegal virtual server persistent mask specified")
                ce.netmask = int.from_bytes(raw, "little")
            else:
                n = _strtol_prefix(arg)[0] or 0  # atoi()
                if not 1 <= n <= 128:
                    fail("illegal ipv6 netmask specified")
                ce.netmask = n
        elif tag == "r":
            _set_option(ce, O_SERVER)
            res, af, raw, port = parse_service(arg, ce.protocol)
            ce.d_af = af or ce.af
            ce.d_addr = raw if af else ce.addr
            ce.d_port = port if port is not None else ce.port
            if not res & SERVICE_ADDR:
                fail("illegal real server address[:port] specified")
            if res == SERVICE_ADDR:
                ce.d_port = ce.port
        elif tag in ("i", "g", "m"):
            _set_option(ce, O_FORWARD)
            ce.fwd = {"i": FWD_TUNNEL, "g": FWD_ROUTE, "m": FWD_MASQ}[tag]
        elif tag == "w":
            _set_option(ce, O_WEIGHT)
            ce.weight = string_to_number(arg, 0, 2 ** 31 - 1)  # Debian 1.31: INT_MAX
            if ce.weight == -1:
                fail("illegal weight specified")
        elif tag == "x":
            _set_option(ce, O_UTHRESHOLD)
            ce.u_threshold = string_to_number(arg, 0, 2 ** 31 - 1)
            if ce.u_threshold == -1:
                fail("illegal u_threshold specified")
        elif tag == "y":
            _set_option(ce, O_LTHRESHOLD)
            ce.l_threshold = string_to_number(arg, 0, 2 ** 31 - 1)
            if ce.l_threshold == -1:
                fail("illegal l_threshold specified")
        elif tag == "c":
            _set_option(ce, O_CONNECTION)
        elif tag in _FORMAT_FLAGS:
            opt, fmt = _FORMAT_FLAGS[tag]
            _set_option(ce, opt)
            ce.format |= fmt
        elif tag == "mcast-interface":
            _set_option(ce, O_MCAST)
            ce.mcast_ifn = _truncate(arg, 15)
        elif tag == "syncid":
            _set_option(ce, O_SYNCID)
            ce.syncid = string_to_number(arg, 0, 255)
            if ce.syncid == -1:
                fail("illegal syncid specified")
        elif tag == "timeout":
            _set_option(ce, O_TIMEOUT)
        elif tag == "daemon":
            _set_option(ce, O_DAEMON)
        elif tag == "sort":
            pass  # the default; accepted for compatibility
        elif tag == "6":
            if ce.fwmark:
                ce.af = AF_INET6
                ce.netmask = 128
            else:
                fail("-6 used before -f\n")
        elif tag == "o":
            _set_option(ce, O_ONEPACKET)
            ce.flags |= SVC_F_ONEPACKET
        elif tag == "pe":
            _set_option(ce, O_PE)
            ce.pe_name = _truncate(arg, 15)
        elif tag == "b":
            _set_option(ce, O_SCHED_FLAGS)
            sched_flags_arg = arg
        elif tag == "mcast-group":
            _set_option(ce, O_MCAST_GROUP)
            ce.mcast_group = _parse_mcast_group(arg)
        elif tag == "mcast-port":
            _set_option(ce, O_MCAST_PORT)
            ce.mcast_port = string_to_number(arg, 1, 65535)
            if ce.mcast_port == -1:
                fail("illegal mcast-port specified")
        elif tag == "mcast-ttl":
            _set_option(ce, O_MCAST_TTL)
            ce.mcast_ttl = string_to_number(arg, 1, 255)
            if ce.mcast_ttl == -1:
                fail("illegal mcast-ttl specified")
        elif tag == "sync-maxlen":
            _set_option(ce, O_SYNC_MAXLEN)
            ce.sync_maxlen = string_to_number(arg, 1, 65535 - 20 - 8)
            if ce.sync_maxlen == -1:
                fail("illegal sync-maxlen specified")
        elif tag == "tun-type":
            _set_option(ce, O_TUN_TYPE)
            if arg not in TUN_NAMES:
                fail("illegal tunnel type specified")
            ce.tun_type = TUN_NAMES.index(arg)
        elif tag == "tun-port":
            _set_option(ce, O_TUN_PORT)
            ce.tun_port = string_to_number(arg, 1, 65535)
            if ce.tun_port == -1:
                fail("illegal tunnel port specified")
        elif tag == "tun-nocsum":
            _set_option(ce, O_TUN_NOCSUM)
            ce.tun_flags |= 0
        elif tag == "tun-csum":
            _set_option(ce, O_TUN_CSUM)
            ce.tun_flags |= 1
        elif tag == "tun-remcsum":
            _set_option(ce, O_TUN_REMCSUM)
            ce.tun_flags |= 2
        else:
            fail("invalid option `%s'" % sc.bad_option())

    args = sc.leftovers
    if ce.cmd == CMD_TIMEOUT:
        if len(args) < 3:
            fail("--set option requires 3 timeout values")
        ce.timeouts = tuple(parse_timeout(a, 0, MAX_TIMEOUT) for a in args[:3])
        args = args[3:]
    if args:
        fail("unexpected argument %s" % args[0])
    if sched_flags_arg:
        ce.flags &= ~(SVC_F_SCHED1 | SVC_F_SCHED2 | SVC_F_SCHED3)
        ce.flags |= _parse_sched_flags(ce.sched_name, sched_flags_arg)
    return ce


def _parse_mcast_group(arg):
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


def _parse_sched_flags(sched, arg):
    sched = sched or DEF_SCHED
    flags = 0
    words = [w for w in arg.split(",") if w]
    if not words:
        # ipvsadm 1.31 dereferences a null pointer here and crashes
        fail("invalid scheduler flag `%s'" % arg)
    for w in words:
        if w not in _SCHED_FLAGS:
            fail("invalid scheduler flag `%s'" % w)
        bit, needs = _SCHED_FLAGS[w]
        flags |= bit
        if needs and sched != needs:
            fail("incompatible scheduler flag `%s'" % w)
    return flags


def generic_opt_check(cmd, options):
    row = _LEGAL[cmd]
    last = None
    for j, kind in enumerate(row):
        if not options & (1 << j):
            if kind == "+":
                fail("You need to supply the '%s' option for the '%s' command"
                     % (OPT_NAMES[j], CMD_NAMES[cmd]))
            continue
        if kind == "x":
            fail("Illegal '%s' option with the '%s' command" % (OPT_NAMES[j], CMD_NAMES[cmd]))
        if kind == "1":
            if last is None:
                last = j
                continue
            fail("The option '%s' conflicts with the '%s' option in the '%s' command"
                 % (OPT_NAMES[j], OPT_NAMES[last], CMD_NAMES[cmd]))


def tunnel_opt_check(tun_type, options):
    row = _TUN_LEGAL[tun_type]
    last = None
    for j, kind in enumerate(row):
        k = _TUN_OPTS[j]
        if not options & (1 << k):
            if kind == "+":
                fail("You need to supply the '%s' option for the '%s' tunnel type"
                     % (OPT_NAMES[k], TUN_NAMES[tun_type]))
            continue
        if kind == "x":
            fail("Illegal '%s' option with the '%s' tunnel type"
                 % (OPT_NAMES[k], TUN_NAMES[tun_type]))
        if kind == "1":
            if last is None:
                last = k
                continue
            fail("The option '%s' conflicts with the '%s' option in the '%s' tunnel type"
                 % (OPT_NAMES[k], OPT_NAMES[last], TUN_NAMES[tun_type]))


def check_command(ce):
    """The checks ipvsadm makes after parsing, and its defaults."""
    generic_opt_check(ce.cmd, ce.options)
    if ce.cmd in (CMD_ADD, CMD_EDIT):
        if not ce.fwmark and not ce.port and not ce.flags & SVC_F_PERSISTENT:
            fail("Zero port specified for non-persistent service")
        if ce.flags & SVC_F_ONEPACKET and not ce.fwmark and ce.protocol != IPPROTO_UDP:
            fail("One-Packet Scheduling is only for UDP virtual services")
        if not ce.sched_name:
            ce.sched_name = DEF_SCHED
    if ce.cmd == CMD_STARTDAEMON and not ce.mcast_ifn:
        ce.mcast_ifn = DEF_MCAST_IFN
    if ce.cmd in (CMD_ADDDEST, CMD_EDITDEST):
        if not ce.fwmark and ce.fwd in (FWD_TUNNEL, FWD_ROUTE):
            ce.d_port = ce.port
        if ce.d_af != ce.af and ce.fwd != FWD_TUNNEL:
            fail("Different address family is allowed only for tunneling servers")
        tun_bits = ((1 << O_TUN_TYPE) | (1 << O_TUN_PORT) | (1 << O_TUN_NOCSUM) |
                    (1 << O_TUN_CSUM) | (1 << O_TUN_REMCSUM))
        if ce.options & tun_bits and ce.fwd != FWD_TUNNEL:
            fail("Tunnel options conflict with forward method")
        tunnel_opt_check(ce.tun_type, ce.options)
    if ce.cmd == CMD_LIST:
        o = ce.options
        if ((o & ((1 << O_CONNECTION) | (1 << O_TIMEOUT) | (1 << O_DAEMON)) and
             o & ((1 << O_STATS) | (1 << O_RATE) | (1 << O_THRESHOLDS))) or
                (o & ((1 << O_TIMEOUT) | (1 << O_DAEMON)) and o & (1 << O_PERSISTENTCONN))):
            fail("options conflicts in the list command")
    return ce
