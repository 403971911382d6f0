# The listings (-L, -l, -S): what each one reads from the kernel, read once
# through one error path, then shown. show() prints ipvsadm 1.31's text;
# BeyondRunner.show() prints the same data as JSON when --json asks.
#
# Rule: the kernel only through the public ipvs API (the client, its proc
# files, the fast listing); formatting is _render's; no option parsing.

from . import _options as O
from ._exits import Exit

CONN_FILE = "/proc/net/ip_vs_conn"

# the listing kinds: what fetch() reads and show() prints
TABLE, SERVICE, TIMEOUTS, DAEMONS, CONNECTIONS = ("table", "service", "timeouts", "daemons",
                                                  "connections")


def _render():
    # the renderers (and through them the library's listing code) load on
    # the first listing: ipvsadm -h and table changes never pay for them
    from . import _render
    return _render


class Listings:
    """The listing half of the Runner (a mixin: it uses the runner's
    client, info, out, service() and open_proc())."""

    json = False  # the data for a JSON listing: no text made while reading

    def names(self, fmt):
        R = _render()
        return R.NumericNames() if fmt & O.FMT_NUMERIC else R.SystemNames()

    def list_all(self, fmt):
        self.listing(TABLE, fmt)

    def list_service(self, ce):
        self.listing(SERVICE, ce.format, ce)

    def list_timeouts(self):
        self.listing(TIMEOUTS, 0)

    def list_daemons(self):
        self.listing(DAEMONS, 0)

    def list_connections(self, fmt):
        self.listing(CONNECTIONS, fmt)

    def listing(self, kind, fmt, ce=None):
        data = self.fetch(kind, fmt, ce)
        if kind == CONNECTIONS:
            with data:
                self.show(kind, data, fmt)
        else:
            self.show(kind, data, fmt)

    # ------------------------------------------------------------ reading

    def fetch(self, kind, fmt, ce=None):
        """What listing `kind` shows, read from the kernel; ipvsadm's exit
        (status and message) when the kernel refuses."""
        if kind == CONNECTIONS:
            return self._connections_file()
        from .. import KernelError
        c = self.client
        R = _render()
        try:
            if kind == TABLE:
                return self._table(c, fmt)
            if kind == SERVICE:
                svc = c.get_service(self.service(ce))
                return svc, c.destinations(svc)
            if kind == TIMEOUTS:
                return c.timeouts()
            return c.daemons()
        except KernelError as e:
            if kind in (TIMEOUTS, DAEMONS):
                raise Exit(1) from None
            if kind == TABLE and not fmt & O.FMT_RULE and not self.json:
                self.out.write(R.info_line(self.info))
            raise Exit(1, e.strerror) from None

    def _table(self, c, fmt):
        """Every service with its destinations. For the text listing, its
        text: the plain listing takes the real servers of all services from
        one read of /proc/net/ip_vs (ipvs.fast_table, ipvs.numeric_listing)
        and is written as it is read; any other format, a JSON listing, or a
        file not in the kernel's layout: one netlink dump per service."""
        R = _render()
        if not self.json and not fmt & R.PROC_UNFIT:
            from .. import fast_table, read_proc_file, read_proc_table
            data = read_proc_file(c)
            if data is not None:
                names = self.names(fmt)
                try:
                    if fmt & O.FMT_NUMERIC:
                        return R.numeric_table(self.info, c, data, fmt, names)
                    proc = read_proc_table(c, data)
                    if proc is not None:
                        return R.table(self.info, fast_table(c, proc), fmt, names)
                except ValueError:  # the file, or a line in it, not in the kernel's layout
                    pass
        if not self.json and fmt & O.FMT_NUMERIC:
            from . import _programs as P
            if P.dest_program(fmt) is not None:
                return P.program_table(self.info, c, fmt, self.names(fmt))
        if self.json:
            return self.json_table(c, fmt)
        return R.table(self.info, c.entries(), fmt, self.names(fmt))

    def open_proc(self, name):
        """/proc/net/NAME of the namespace the client works in, open for
        binary reading; OSError (NetnsError is one) if it cannot be opened."""
        return open(self.client.proc_file(name), "rb")

    def open_connections(self):
        """The connection table's proc file, open."""
        return self.open_proc("ip_vs_conn")

    def _connections_file(self):
        """The connection table, open and past its title line."""
        try:
            f = self.open_connections()
        except OSError:
            raise Exit(1, "cannot open file %s" % CONN_FILE) from None
        try:
            if not f.readline():
                raise Exit(1, "unexpected input from %s" % CONN_FILE)
        except BaseException:
            f.close()
            raise
        return f

    # ------------------------------------------------------------ showing

    def show(self, kind, data, fmt):
        """ipvsadm 1.31's text of a listing."""
        R = _render()
        if kind == TABLE:
            self.out.write(data)
        elif kind == SERVICE:
            self.out.write(R.one_service(data[0], data[1], fmt, self.names(fmt)))
        elif kind == TIMEOUTS:
            self.out.write(R.timeouts(data))
        elif kind == DAEMONS:
            self.out.write(R.daemons(data))
        else:
            self._show_connections(data, fmt)

    def _show_connections(self, f, fmt):
        R = _render()
        names = self.names(fmt)
        self.out.write(R.connections_title(fmt))
        if fmt & O.FMT_NUMERIC and not fmt & O.FMT_PERSISTENTCONN:
            # the fast path: the decoder writes the lines, a batch of the
            # file at a time, so memory stays flat
            from .. import iter_numeric_text_from
            self._write_bytes(iter_numeric_text_from(f))
        else:
            from .. import iter_records_from
            write = self.out.write
            line = R.connection_record
            for r in iter_records_from(f):
                write(line(r, fmt, names))

    def _write_bytes(self, pieces):
        """Text that comes as bytes, to the output: into its binary buffer
        when it has one (after what its text layer holds), as a C program
        writes the bytes it has; else as str, each byte as itself (latin-1,
        how the decoders make str of the table's tokens). A piece is any
        bytes-like object (C's output buffers come as they are)."""
        buf = getattr(self.out, "buffer", None)
        if buf is None:
            for p in pieces:
                self.out.write(str(p, "latin-1"))
            return
        self.out.flush()
        for p in pieces:
            buf.write(p)
