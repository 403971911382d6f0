# The options beyond ipvsadm 1.31 (cli.WORDS), taken out of the argument
# vector before ipvsadm's own parser sees the rest, and checked together.
#
# Rule: words in, (Extras, the rest of the words) out; a usage error is an
# Exit with status 2. No I/O.

from ._exits import Exit


class Extras:
    """What the words beyond ipvsadm asked for (the defaults: nothing)."""
    json = False
    pretty = False
    apply = None  # None, or a file name ("-": standard input)
    dry_run = False
    atomic = False
    netns = None
    wait = None  # --wait[=SECONDS]: None, or seconds to wait for the writers' lock (inf: no end)
    recover = None  # --recover[=forget]: "undo" or "forget"
    scope = None  # --scope SPEC: None, or the ipvs.Scope of --apply
    status = False
    about = False
    ops = None  # the operators' words (_opswords.Words), set by split()


MAX_WAIT = 86400  # seconds: a day; a longer wait is a mistake, not a plan


def _usage_error(msg):
    raise Exit(2, msg)


def _seconds(word):
    """A --wait value (seconds, 0 to MAX_WAIT), or None."""
    try:
        value = float(word)
    except ValueError:
        return None
    return value if 0 <= value <= MAX_WAIT else None


def split(argv):
    """(Extras, the remaining argv for ipvsadm's parser)."""
    x = Extras()
    rest = [argv[0]]
    from . import _opswords
    try:
        x.ops, args = _opswords.take(argv[1:])
    except ValueError as e:
        _usage_error(str(e))
    i = 0
    scope_words = []
    json_wanted = any(a in ("--json", "-j") for a in args)
    pretty_p = json_wanted and any(a in ("--apply", "--status") or a.startswith("--apply=")
                                   for a in args)
    listing = json_wanted and any(a in ("-L", "-l", "--list", "-S", "--save") or
                  (a.startswith("-") and not a.startswith("--") and ("L" in a or "l" in a)
                   and len(a) > 1) for a in args)
    while i < len(args):
        a = args[i]
        if a in ("--json", "-j"):
            x.json = True
        elif a == "--pretty":
            x.pretty = True
        elif a == "--dry-run":
            x.dry_run = True
        elif a == "--atomic":
            x.atomic = True
        elif a == "--status":
            x.status = True
        elif a == "--about":
            x.about = True
        elif a == "--netns" or a.startswith("--netns="):
            if a == "--netns":
                i += 1
                if i >= len(args):
                    _usage_error("--netns needs the name or path of a network namespace")
                x.netns = args[i]
            else:
                x.netns = a[len("--netns="):]
            if not x.netns:
                _usage_error("--netns needs the name or path of a network namespace")
        elif a == "--wait" or a.startswith("--wait="):
            # long form only: -w is ipvsadm's --weight
            value = a[len("--wait="):] if a != "--wait" else None
            if value is None and i + 1 < len(args) and _seconds(args[i + 1]) is not None:
                i += 1
                value = args[i]
            x.wait = float("inf") if value is None else _seconds(value)
            if x.wait is None:
                _usage_error("--wait takes a number of seconds (at most %d)" % MAX_WAIT)
        elif a == "--recover" or a.startswith("--recover="):
            x.recover = a[len("--recover="):] if a != "--recover" else "undo"
            if x.recover not in ("undo", "forget"):
                _usage_error("--recover takes nothing, =undo or =forget")
        elif a == "--scope" or a.startswith("--scope="):
            if a == "--scope":
                i += 1
                if i >= len(args):
                    _usage_error("--scope needs a comma-separated list of address prefixes "
                                 "and firewall marks")
                spec = args[i]
            else:
                spec = a[len("--scope="):]
            scope_words.append(spec)  # given twice: the items of both
        elif a == "--apply" or a.startswith("--apply="):
            if a == "--apply":
                # an optional FILE: the next word, unless it is an option
                if i + 1 < len(args) and (args[i + 1] == "-" or not args[i + 1].startswith("-")):
                    i += 1
                    x.apply = args[i]
                else:
                    x.apply = "-"
            else:
                x.apply = a[len("--apply="):] or "-"
        elif a == "-p" and (listing or pretty_p):
            x.pretty = True  # ip -j -p; -p (persistent) is no listing option
        else:
            rest.append(a)
        i += 1
    if x.wait is not None and not (x.apply is not None or x.atomic or x.ops.drain is not None
                                   or x.recover is not None):
        _usage_error("--wait goes with --apply, -R --atomic, --drain and --recover")
    if x.recover is not None and (len(rest) > 1 or x.apply is not None or x.json or x.status
                                  or x.about or x.ops.any or scope_words):
        _usage_error("--recover takes no other command or option (only --netns, --wait)")
    if x.about and len(args) > 1:
        _usage_error("--about takes no other command or option")
    if x.pretty and not x.json:
        _usage_error("--pretty goes with --json")
    if x.dry_run and x.apply is None:
        _usage_error("--dry-run goes with --apply")
    if scope_words:
        if x.apply is None:
            _usage_error("--scope goes with --apply")
        from .. import Scope
        try:
            x.scope = Scope(",".join(scope_words))
        except ValueError as e:
            _usage_error("--scope: %s" % e)
    if x.apply is not None and len(rest) > 1:
        _usage_error("--apply takes no other command or option (only --dry-run, --json, "
                     "--netns, --scope)")
    if x.status and (len(rest) > 1 or x.apply is not None):
        _usage_error("--status takes no other command or option (only --json, --pretty, "
                     "--netns)")
    if x.atomic and not any(a in ("-R", "--restore") for a in rest[1:]):
        _usage_error("--atomic goes with -R (--restore)")
    if x.json and x.apply is not None and not x.dry_run:
        _usage_error("--json goes with listings and with --apply --dry-run")
    ops_error = _opswords.checks(x.ops, rest, x.apply, x.json)
    if ops_error:
        _usage_error(ops_error)
    return x, rest
