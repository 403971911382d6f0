# The command runner: executes parsed ipvsadm commands against the kernel
# and prints what ipvsadm 1.31 prints, with its exit statuses.
#
# Rule: no option parsing (that is _options) and no formatting (that is
# _render, through the listings of _listing) here; this module only
# connects the two to the library, through its public API. It never lets
# an exception escape to the user as a traceback.


from ..vocab import AF_INET, AF_INET6, DEFAULT_SCHEDULER, IPPROTO_TCP
from . import _options as O
from ._exits import Exit
from ._listing import CONN_FILE, Listings

__all__ = ["Runner", "Exit", "CONN_FILE", "restore_words"]

INIT_HINT = "Are you sure that IP Virtual Server is built in the kernel or as module?"


# What separates words in ipvsadm -R input: config_stream_read()'s fscanf
# format "%4096[^ \t\n\r]" (so \v and \f are part of a word).
_ASCII_SPACE = str.maketrans("\t\n\r", "   ")
MAX_WORD = 4096  # config_stream's MAX_LINE_LENGTH: fscanf cuts longer words there


def restore_words(line):
    """The words ipvsadm 1.31's config_stream_read() makes of one input
    line: a word longer than 4096 bytes is cut into pieces of 4096, a NUL
    ends its word as C strings end (the rest of that word is lost), and
    the word "ipvsadm" is dropped wherever it stands."""
    words = []
    for w in line.translate(_ASCII_SPACE).split(" "):
        if not w:
            continue
        if len(w) > MAX_WORD // 4:
            b = w.encode("utf-8", "surrogateescape")
            if len(b) > MAX_WORD:
                pieces = [b[i:i + MAX_WORD].decode("utf-8", "surrogateescape")
                          for i in range(0, len(b), MAX_WORD)]
                words.extend(p for p in map(_c_string, pieces) if p != "ipvsadm")
                continue
        w = _c_string(w)
        if w != "ipvsadm":
            words.append(w)
    return words


def _c_string(w):
    nul = w.find("\0")
    return w if nul < 0 else w[:nul]


class Runner(Listings):
    def __init__(self, prog, out, err, stdin):
        self.prog = prog
        self.out = out
        self.err = err
        self.stdin = stdin
        self._client = None
        self.info = None

    # ---------------------------------------------------------- plumbing

    def close(self):
        if self._client is not None:
            self._client.close()
            self._client = None

    @property
    def client(self):
        """The kernel connection, opened on first use the way ipvsadm's
        ipvs_init() does (loading ip_vs with modprobe if it is missing)."""
        if self._client is None:
            from .. import KernelError, NotAvailableError
            try:
                try:
                    c = self._new_client()
                except NotAvailableError:
                    self._modprobe()
                    c = self._new_client()
                try:
                    self.info = c.info()
                except BaseException:
                    c.close()
                    raise
            except KernelError as e:
                raise Exit(2, "Can't initialize ipvs: %s\n%s" % (e.strerror, INIT_HINT)) from None
            except OSError as e:
                from .. import NetnsError  # only --netns can fail so
                if isinstance(e, NetnsError):
                    raise Exit(1, "%s: %s" % (self.prog, e)) from None
                raise
            self._client = c
        return self._client

    def _new_client(self):
        from .. import Client
        return Client()

    @staticmethod
    def _modprobe():
        import subprocess
        try:
            subprocess.run(["/sbin/modprobe", "--", "ip_vs"], stdin=subprocess.DEVNULL,
                           timeout=60, check=False)
        except (OSError, subprocess.SubprocessError):
            pass

    # ---------------------------------------------------------- commands

    def run(self, argv):
        """ipvsadm's main(): the exit status."""
        if len(argv) == 1:
            self.client
            self.list_all(0)
            return 0
        return self.process(argv, False) & 0xFF

    def process(self, argv, reading_stdin):
        """One command line; 0 or -1 as ipvsadm's process_options()."""
        try:
            ce = O.parse_options(argv)
        except O.PoptFailure as e:
            self.err.write(e.text + "\n")
            return -1
        O.check_command(ce)
        cmd = ce.cmd
        if cmd == O.CMD_RESTORE:
            if reading_stdin:
                O.tryhelp()
            return self.restore()
        self.client  # every command needs the kernel
        if cmd == O.CMD_LIST:
            if ce.has(O.O_CONNECTION):
                self.list_connections(ce.format)
            elif ce.has(O.O_SERVICE):
                self.list_service(ce)
            elif ce.has(O.O_TIMEOUT):
                self.list_timeouts()
            elif ce.has(O.O_DAEMON):
                self.list_daemons()
            else:
                self.list_all(ce.format)
            return 0
        if cmd == O.CMD_SAVE:
            self.list_all(ce.format | O.FMT_RULE)
            return 0
        from .. import KernelError
        try:
            self.execute(ce)
        except KernelError as e:
            self.err.write(e.strerror + "\n")
            return -1
        return 0

    def execute(self, ce):
        name, *args = self.operation(ce)
        getattr(self.client, name)(*args)

    def operation(self, ce):
        """The library operation of a table-changing command, as a tuple
        (Client method name, arguments...) that Client.batch also takes."""
        cmd = ce.cmd
        if cmd == O.CMD_FLUSH:
            return ("flush",)
        if cmd in (O.CMD_ADD, O.CMD_EDIT, O.CMD_DEL):
            return ({O.CMD_ADD: "add_service", O.CMD_EDIT: "edit_service",
                     O.CMD_DEL: "delete_service"}[cmd], self.service(ce))
        if cmd == O.CMD_ZERO:
            if ce.fwmark or (ce.addr and any(ce.addr)) or ce.port:
                return ("zero", self.service(ce))
            return ("zero",)  # libipvs zeroes everything for an all-zero service
        if cmd in (O.CMD_ADDDEST, O.CMD_EDITDEST, O.CMD_DELDEST):
            return ({O.CMD_ADDDEST: "add_destination", O.CMD_EDITDEST: "edit_destination",
                     O.CMD_DELDEST: "delete_destination"}[cmd],
                    self.service(ce), self.destination(ce))
        if cmd == O.CMD_TIMEOUT:
            from .. import Timeouts
            tcp, fin, udp = ce.timeouts
            return ("set_timeouts", Timeouts(tcp=tcp, tcp_fin=fin, udp=udp))
        if cmd == O.CMD_STARTDAEMON:
            from .. import SyncDaemon
            return ("start_daemon", SyncDaemon(
                state=ce.state, mcast_ifn=ce.mcast_ifn, syncid=ce.syncid,
                sync_maxlen=ce.sync_maxlen, mcast_group=ce.mcast_group,
                mcast_port=ce.mcast_port, mcast_ttl=ce.mcast_ttl))
        if cmd == O.CMD_STOPDAEMON:
            from .. import SyncDaemon
            return ("stop_daemon", SyncDaemon(state=ce.state, mcast_ifn=ce.mcast_ifn,
                                              syncid=ce.syncid))
        return None

    # ------------------------------------------------------ model building

    @staticmethod
    def _invalid():
        import errno
        from .. import KernelError
        return KernelError(errno.EINVAL)

    def service(self, ce):
        import socket
        from .. import Service
        af = ce.af or AF_INET
        try:
            if af == AF_INET6:
                netmask = str(ce.netmask)
            else:
                netmask = socket.inet_ntoa((ce.netmask & 0xFFFFFFFF).to_bytes(4, "little"))
            if ce.fwmark:
                return Service(af=af, fwmark=ce.fwmark, scheduler=ce.sched_name or DEFAULT_SCHEDULER,
                               flags=ce.flags, timeout=ce.timeout, netmask=netmask,
                               pe_name=ce.pe_name)
            addr = ce.addr or bytes(16 if af == AF_INET6 else 4)
            return Service(af=af, protocol=ce.protocol or IPPROTO_TCP,
                           address=socket.inet_ntop(socket.AF_INET6 if af == AF_INET6
                                                    else socket.AF_INET, addr),
                           port=ce.port, scheduler=ce.sched_name or DEFAULT_SCHEDULER,
                           flags=ce.flags, timeout=ce.timeout, netmask=netmask,
                           pe_name=ce.pe_name)
        except (ValueError, OSError):
            raise self._invalid() from None

    def destination(self, ce):
        import socket
        from .. import Destination
        af = ce.d_af or AF_INET
        try:
            addr = socket.inet_ntop(socket.AF_INET6 if af == AF_INET6 else socket.AF_INET,
                                    ce.d_addr or bytes(16 if af == AF_INET6 else 4))
            # the settings by their model names, as the command holds them
            return Destination(address=addr, port=ce.d_port, af=af, **{
                f: getattr(ce, f) for f, _, role, *_ in Destination.FIELD_MAP if role == "set"})
        except (ValueError, OSError):
            raise self._invalid() from None

    # ------------------------------------------------------------- restore

    def restore(self):
        """ipvsadm -R: every line a command, in order; the exit status is the
        last line's. Table-changing lines go to the kernel in batches (many
        requests to a system call, RuleBatch), the plain ones (most of what
        ipvsadm -S writes) encoded in bulk from the input's bytes; any other
        line (a listing, a parse error, an exit) first sends the batch, so
        every message comes out in the order of the lines, as ipvsadm
        prints them."""
        from .. import RuleBatch
        batch = RuleBatch(lambda: self.client, lambda e: self.err.write(e.strerror + "\n"))
        result = 0
        try:
            for data in _input_chunks(self.stdin):
                if isinstance(data, str):  # a line no bytes decode to
                    result = self._restore_line(data, batch, result)
                    continue
                pos = batch.lines(data)
                while pos < len(data):
                    end = data.find(b"\n", pos) + 1 or len(data)
                    result = self._restore_line(data[pos:end].decode("utf-8", "surrogateescape"),
                                                batch, result)
                    pos = batch.lines(data, end)
        except Exception:
            # whatever stops us here, the lines before it are sent, as
            # ipvsadm 1.31 had run each of them already
            batch.flush()
            raise
        batch.flush()
        return result if batch.status is None else batch.status

    def _restore_line(self, line, batch, result):
        """One -R line that is not a plain rule: queued when it only
        changes the table, else run after the queue is sent. The status
        of the last line run (result when none was)."""
        words = restore_words(line)
        if not words:
            return result
        argv = [self.prog] + words
        op = self._batchable(argv)
        if op is not None:
            batch.add(op)
            return result
        batch.flush()
        batch.status = None  # this line's status is the one that counts now
        return self.process(argv, True)

    def _batchable(self, argv):
        """The operation of a restore line that only changes the table and
        parses cleanly, else None (the line then runs through process())."""
        try:
            ce = O.parse_options(argv)
            if ce.cmd in (O.CMD_LIST, O.CMD_SAVE, O.CMD_RESTORE):
                return None
            O.check_command(ce)
        except (O.PoptFailure, O.ParseExit):
            return None  # process() parses the line again and reports it
        from .. import KernelError
        try:
            op = self.operation(ce)
        except KernelError:
            return None
        if op is not None:
            self.client  # the kernel connection, as process() opens it
        return op

def _input_chunks(stdin, size=1 << 16):
    """Standard input as bytes, whole lines at a time, each chunk as soon
    as it has arrived (a line typed, or written by a program that waits
    for the answer, is run then, as ipvsadm runs it): the bytes as read
    where stdin has them (the standalone's stdin decodes them as UTF-8 with
    surrogateescape, as the lines are decoded here), else its text so
    encoded. A read error ends it, as fscanf's EOF ends ipvsadm -R (a
    closed stdin is an empty one)."""
    read1 = getattr(getattr(stdin, "buffer", None), "read1", None)
    if read1 is None:  # text only (a test's StringIO)
        yield from _text_chunks(stdin, size)
        return
    rest = b""
    while True:
        try:
            got = read1(size)
        except (OSError, ValueError):
            got = b""
        if not got:
            if rest:
                yield rest
            return
        data = rest + got
        cut = data.rfind(b"\n") + 1
        rest = data[cut:]
        if cut:
            yield data[:cut]


def _text_chunks(stdin, size):
    while True:
        try:
            text = stdin.read(size)
            if text and text[-1] != "\n":
                text += stdin.readline()
        except (OSError, ValueError):
            return
        if not text:
            return
        try:
            yield text.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:  # a str no bytes decode to: as lines
            yield from text.splitlines(True)
