# ipvsadm's command grammar: the rules of ipvsadm 1.31 that turn the options
# popt hands over (_scanner) into one command, and the checks it makes after.
#
# Rule: no kernel access and no output here. Every error is a ParseExit
# (_values) carrying the exact text and exit status ipvsadm gives; the
# runner prints it. Parsing is sequential (first error wins), as in
# ipvsadm, because the order of errors is part of its observable behaviour.

from ..vocab import (AF_INET, AF_INET6, DAEMON_STATES, DEFAULT_SCHEDULER, FORWARDING_SWITCHES,
                      FWD_ROUTE, FWD_TUNNEL, IPPROTO_TCP, IPPROTO_UDP, PROTOCOL_BY_OPTION,
                      SVC_F_ONEPACKET, SVC_F_PERSISTENT, SVC_F_SCHED_ANY, TUN_IPIP,
                      TUNNEL_FLAG_OPTIONS, TUNNEL_TYPE_NAMES, TUNNEL_TYPES)
from ._scanner import PoptError, PoptFailure, Scanner
from ._exits import ParseExit, fail, tryhelp
from ._values import (SERVICE_ADDR, parse_fwmark, parse_mcast_group,
                      parse_netmask, parse_sched_flags, parse_service, parse_timeout,
                      string_to_number, strtol_prefix, truncate)

__all__ = ["ParseExit", "PoptFailure", "Command", "parse_options", "check_command", "fail",
           "tryhelp"]


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

MAX_TIMEOUT = 86400 * 31
DEF_SCHED = DEFAULT_SCHEDULER
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
        # destination: its settings under their model names (Destination's
        # "set" fields, which the runner passes on by name)
        self.d_af = 0
        self.d_addr = None
        self.d_port = 0
        self.fwd_method = FWD_ROUTE
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


# ------------------------------------------------------------- the parser

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
_DAEMON_COMMANDS = {"start-daemon": (CMD_STARTDAEMON, "illegal start-daemon parameter specified"),
                    "stop-daemon": (CMD_STOPDAEMON, "illegal start_daemon specified")}
_INT_MAX = 2 ** 31 - 1  # Debian's 1.31 bounds weights and thresholds by INT_MAX
# the options with a number: tag -> (option, Command field, lowest, highest, error)
_NUMBERS = {
    "w": (O_WEIGHT, "weight", 0, _INT_MAX, "illegal weight specified"),
    "x": (O_UTHRESHOLD, "u_threshold", 0, _INT_MAX, "illegal u_threshold specified"),
    "y": (O_LTHRESHOLD, "l_threshold", 0, _INT_MAX, "illegal l_threshold specified"),
    "syncid": (O_SYNCID, "syncid", 0, 255, "illegal syncid specified"),
    "mcast-port": (O_MCAST_PORT, "mcast_port", 1, 65535, "illegal mcast-port specified"),
    "mcast-ttl": (O_MCAST_TTL, "mcast_ttl", 1, 255, "illegal mcast-ttl specified"),
    "sync-maxlen": (O_SYNC_MAXLEN, "sync_maxlen", 1, 65535 - 20 - 8,
                    "illegal sync-maxlen specified"),
    "tun-port": (O_TUN_PORT, "tun_port", 1, 65535, "illegal tunnel port specified"),
}
# the options with a name, cut to 15 bytes as strncpy into ipvsadm's buffers
_NAMES = {"s": (O_SCHEDULER, "sched_name"), "pe": (O_PE, "pe_name"),
          "mcast-interface": (O_MCAST, "mcast_ifn")}
# the options that only set their bit (and a format flag)
_FLAGS = {"stats": (O_STATS, FMT_STATS), "rate": (O_RATE, FMT_RATE),
          "thresholds": (O_THRESHOLDS, FMT_THRESHOLDS),
          "persistent-conn": (O_PERSISTENTCONN, FMT_PERSISTENTCONN),
          "nosort": (O_NOSORT, FMT_NOSORT), "exact": (O_EXACT, FMT_EXACT),
          "tun-info": (O_TUN_INFO, FMT_TUN_INFO), "n": (O_NUMERIC, FMT_NUMERIC),
          "c": (O_CONNECTION, 0), "timeout": (O_TIMEOUT, 0), "daemon": (O_DAEMON, 0)}
_FORWARDING = {word: method for _, word, method in FORWARDING_SWITCHES}
# --tun-nocsum, --tun-csum, --tun-remcsum: option, flag value
_TUN_FLAG_TAGS = {opt[2:]: (O_TUN_NOCSUM + i, i) for i, opt in enumerate(TUNNEL_FLAG_OPTIONS)}


def _first(ce, tag, arg):
    """The first option: the command."""
    if tag in _FIRST:
        _set_command(ce, _FIRST[tag])
    elif tag in _DAEMON_COMMANDS:
        cmd, error = _DAEMON_COMMANDS[tag]
        _set_command(ce, cmd)
        ce.state = DAEMON_STATES.get(arg, 0)
        if not ce.state:
            fail(error)
    elif tag == "h":
        raise ParseExit(0, usage=True)
    elif tag == "v":
        raise ParseExit(0, version=True)
    else:
        tryhelp()


def _service(ce, tag, arg):
    _set_option(ce, O_SERVICE)
    ce.protocol = PROTOCOL_BY_OPTION[tag]
    res, af, raw, port = parse_service(arg, ce.protocol)
    if af:
        ce.af, ce.addr = af, raw
        if af == AF_INET6:
            ce.netmask = 128
    if port is not None:
        ce.port = port
    if not res & SERVICE_ADDR:
        fail("illegal virtual server address[:port] specified")


def _netmask(ce, arg):
    _set_option(ce, O_NETMASK)
    if ce.af != AF_INET6:
        raw = parse_netmask(arg)
        if raw is None:
            fail("illegal virtual server persistent mask specified")
        ce.netmask = int.from_bytes(raw, "little")
    else:
        n = strtol_prefix(arg)[0] or 0  # atoi()
        if not 1 <= n <= 128:
            fail("illegal ipv6 netmask specified")
        ce.netmask = n


def _server(ce, arg):
    _set_option(ce, O_SERVER)
    res, af, raw, port = parse_service(arg, ce.protocol)
    ce.d_af = af or ce.af
    ce.d_addr = raw if af else ce.addr
    ce.d_port = port if port is not None else ce.port
    if not res & SERVICE_ADDR:
        fail("illegal real server address[:port] specified")
    if res == SERVICE_ADDR:
        ce.d_port = ce.port


def _option(ce, sc, tag, arg):
    """One option after the command; returns the -b argument when it is -b."""
    if tag in _NUMBERS:
        opt, field, lo, hi, error = _NUMBERS[tag]
        _set_option(ce, opt)
        n = string_to_number(arg, lo, hi)
        if n == -1:
            fail(error)
        setattr(ce, field, n)
    elif tag in _FLAGS:
        opt, fmt = _FLAGS[tag]
        _set_option(ce, opt)
        ce.format |= fmt
    elif tag in _NAMES:
        opt, field = _NAMES[tag]
        _set_option(ce, opt)
        setattr(ce, field, truncate(arg, 15))
    elif tag in PROTOCOL_BY_OPTION:
        _service(ce, tag, arg)
    elif tag == "f":
        _set_option(ce, O_SERVICE)
        ce.af = AF_INET
        ce.protocol = IPPROTO_TCP
        ce.fwmark = parse_fwmark(arg)
    elif tag == "p":
        _set_option(ce, O_PERSISTENT)
        ce.flags |= SVC_F_PERSISTENT
        ce.timeout = parse_timeout(arg, 1, MAX_TIMEOUT)
    elif tag == "M":
        _netmask(ce, arg)
    elif tag == "r":
        _server(ce, arg)
    elif tag in _FORWARDING:
        _set_option(ce, O_FORWARD)
        ce.fwd_method = _FORWARDING[tag]
    elif tag == "sort":
        pass  # the default; accepted for compatibility
    elif tag == "6":
        if not ce.fwmark:
            fail("-6 used before -f\n")
        ce.af = AF_INET6
        ce.netmask = 128
    elif tag == "o":
        _set_option(ce, O_ONEPACKET)
        ce.flags |= SVC_F_ONEPACKET
    elif tag == "b":
        _set_option(ce, O_SCHED_FLAGS)
        return arg
    elif tag == "mcast-group":
        _set_option(ce, O_MCAST_GROUP)
        ce.mcast_group = parse_mcast_group(arg)
    elif tag == "tun-type":
        _set_option(ce, O_TUN_TYPE)
        if arg not in TUNNEL_TYPES:
            fail("illegal tunnel type specified")
        ce.tun_type = TUNNEL_TYPES[arg]
    elif tag in _TUN_FLAG_TAGS:
        opt, flag = _TUN_FLAG_TAGS[tag]
        _set_option(ce, opt)
        ce.tun_flags |= flag
    else:
        fail("invalid option `%s'" % sc.bad_option())
    return None


def parse_options(argv):
    """argv (program name first) -> Command. Raises ParseExit or PoptFailure."""
    ce = Command()
    sc = Scanner(argv)
    try:
        got = sc.get()
    except PoptError:
        got = None
    if got is None:
        tryhelp()
    _first(ce, *got)
    sched_flags_arg = ""
    while True:
        try:
            got = sc.get()
        except PoptError as e:
            raise sc.failure(e) from None
        if got is None:
            break
        b = _option(ce, sc, *got)
        if b is not None:
            sched_flags_arg = b
    args = sc.leftovers
    if ce.cmd == CMD_TIMEOUT:
        if len(args) < 3:
            fail("--set option requires 3 timeout values")
        ce.timeouts = tuple(parse_timeout(a, 0, MAX_TIMEOUT) for a in args[:3])
        args = args[3:]
    if args:
        fail("unexpected argument %s" % args[0])
    if sched_flags_arg:
        ce.flags &= ~SVC_F_SCHED_ANY
        ce.flags |= parse_sched_flags(ce.sched_name, sched_flags_arg)
    return ce


# ------------------------------------------------------------- the checks

def _opt_check(row, columns, options, what):
    """ipvsadm's check of one row of a legality grid: '+' required, 'x'
    illegal, '1' at most one of them; `columns` the option of each column,
    `what` the thing the row is for ("the 'list' command")."""
    last = None
    for kind, opt in zip(row, columns):
        if not options & (1 << opt):
            if kind == "+":
                fail("You need to supply the '%s' option for %s" % (OPT_NAMES[opt], what))
            continue
        if kind == "x":
            fail("Illegal '%s' option with %s" % (OPT_NAMES[opt], what))
        if kind == "1":
            if last is None:
                last = opt
                continue
            fail("The option '%s' conflicts with the '%s' option in %s"
                 % (OPT_NAMES[opt], OPT_NAMES[last], what))


def generic_opt_check(cmd, options):
    _opt_check(_LEGAL[cmd], range(len(OPT_NAMES)), options, "the '%s' command" % CMD_NAMES[cmd])


def tunnel_opt_check(tun_type, options):
    _opt_check(_TUN_LEGAL[tun_type], _TUN_OPTS, options,
               "the '%s' tunnel type" % TUNNEL_TYPE_NAMES[tun_type])


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
        if not ce.fwmark and ce.fwd_method in (FWD_TUNNEL, FWD_ROUTE):
            ce.d_port = ce.port
        if ce.d_af != ce.af and ce.fwd_method != FWD_TUNNEL:
            fail("Different address family is allowed only for tunneling servers")
        tun_bits = (1 << O_TUN_TYPE) | sum(1 << o for o in _TUN_OPTS)
        if ce.options & tun_bits and ce.fwd_method != FWD_TUNNEL:
            fail("Tunnel options conflict with forward method")
        tunnel_opt_check(ce.tun_type, ce.options)
    if ce.cmd == CMD_LIST:
        o = ce.options
        if ((o & ((1 << O_CONNECTION) | (1 << O_TIMEOUT) | (1 << O_DAEMON)) and
             o & ((1 << O_STATS) | (1 << O_RATE) | (1 << O_THRESHOLDS))) or
                (o & ((1 << O_TIMEOUT) | (1 << O_DAEMON)) and o & (1 << O_PERSISTENTCONN))):
            fail("options conflicts in the list command")
    return ce
