# popt's behaviour for ipvsadm's option table: how an argument vector
# becomes a sequence of (option, argument) pairs, and popt's own errors.
#
# Rule: knows the options' names and whether they take an argument, nothing
# of what they mean (that is _options, the grammar). No output, no I/O.

from ..vocab import FORWARDING_SWITCHES, PROTOCOL_ROWS, TUNNEL_FLAG_OPTIONS

# ipvsadm's option table: (long name, short letter or None, argument: 0 none /
# 1 required / 2 optional, tag). The protocol, forwarding and tunnel-flag
# options are the vocabulary's words; their tag is their long name.
_OPTS = [
    ("add-service", "A", 0, "A"), ("edit-service", "E", 0, "E"),
    ("delete-service", "D", 0, "D"), ("clear", "C", 0, "C"),
    ("list", "L", 0, "L"), ("list", "l", 0, "l"), ("zero", "Z", 0, "Z"),
    ("add-server", "a", 0, "a"), ("edit-server", "e", 0, "e"),
    ("delete-server", "d", 0, "d"), ("set", None, 0, "set"),
    ("help", "h", 0, "h"), ("version", "v", 0, "v"),
    ("restore", "R", 0, "R"), ("save", "S", 0, "S"),
    ("start-daemon", None, 1, "start-daemon"), ("stop-daemon", None, 1, "stop-daemon"),
    ("fwmark-service", "f", 1, "f"),
    ("scheduler", "s", 1, "s"), ("persistent", "p", 2, "p"),
    ("netmask", "M", 1, "M"), ("real-server", "r", 1, "r"),
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
    ("tun-port", None, 1, "tun-port"),
]
_OPTS += [(row[3][1], row[3][0], 1, row[3][1]) for row in PROTOCOL_ROWS]
_OPTS += [(word, letter, 0, word) for letter, word, _ in FORWARDING_SWITCHES]
_OPTS += [(opt[2:], None, 0, opt[2:]) for opt in TUNNEL_FLAG_OPTIONS]
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


class PoptError(Exception):
    """popt's error code for the option just read (Scanner.failure() words it)."""

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

    def failure(self, e):
        """The PoptFailure ipvsadm reports for PoptError e: '<option>: <reason>'."""
        return PoptFailure("%s: %s" % (self.bad_option(), POPT_TEXT[e.code]))

    def _take_next(self, optional):
        if self.next >= len(self.argv):
            if optional:
                return None
            raise PoptError(POPT_NOARG)
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
                    raise PoptError(POPT_BADOPT)
                if opt[2]:
                    self.bundle = None
                    if rest:
                        if rest[0] == "=":
                            rest = rest[1:]
                        return opt[3], rest
                    return opt[3], self._take_next(opt[2] == 2)
                if rest.startswith("="):
                    self.bundle = None
                    raise PoptError(POPT_UNWANTEDARG)
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
                    raise PoptError(POPT_BADOPT)
                if not opt[2]:
                    if eq:
                        raise PoptError(POPT_UNWANTEDARG)
                    return opt[3], None
                if eq:
                    return opt[3], value
                return opt[3], self._take_next(opt[2] == 2)
            self.bundle = word[1:]


class PoptFailure(Exception):
    """popt itself refused an option: ipvsadm prints '<option>: <reason>'
    and the command fails with status 255 (in -R the next line still runs)."""

    def __init__(self, text):
        Exception.__init__(self, text)
        self.text = text
