# The Client's whole-table methods: the real servers of many services in
# one go (their dumps run by one decoder call: records, objects or a
# listing's text), the table as rules, plan, apply, drain. Besides the
# transport's dump loop they only call the Client's own per-object methods,
# through the modules that hold the logic (_table, _plan, drain), imported
# on first use.
#
# Rule: a mixin of Client (ipvs._client); no state of its own.
from __future__ import annotations

import errno
from _operator import add as _add, itemgetter
from itertools import repeat

from . import _netlink as nl, _spec as spec
from ._decoder import INTERRUPTED, decode_services, run_dumps
from ._errors import KernelError, ProtocolError
from ._keys import record_key_payloads, record_sort_keys, service_key_payload
from ._records import SVC
from ._transport import DUMP_RETRIES

_AF = itemgetter(SVC.af)

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs start-up time; annotations stay strings
    from typing import Iterable, Iterator, List, Optional, Sequence, Tuple

    from ._model import Destination, Service
    from .lines import Program


# what a GET_DEST dump of a service that is no more may answer (the kernels
# seen, 6.1 to 7.x, answer with no real server instead)
_VANISHED = (errno.ENOENT, errno.ESRCH)


class TableMethods:
    def _dest_dumps(self, services, lines=None, counts=None, vanished=None):
        """The GET_DEST dumps of `services` -> (records of each, or the
        listings of `lines`; whether each was interrupted). counts: a list
        each dump's number of records is appended to; vanished: a set the
        index of each dump answered "no such service" is added to (else
        that is a KernelError, as any other error is)."""
        # what spec.encode_request makes of {"service": key}: the bodies
        # made here, the headers (sequence numbers) by the transport
        nest = spec.TABLES["cmd"]["service"].id | nl.NLA_F_NESTED
        head = nl.GENL_HDR.pack(spec.CMD_GET_DEST, spec.GENL_VERSION, 0)
        attr = nl.NLA_HDR.pack
        # Service objects, or the service records a scrape reads (tuples)
        records = bool(services) and type(services[0]) is tuple
        if records:
            keys = record_key_payloads(services)
            afs = list(map(_AF, services))
        else:
            keys = list(map(service_key_payload, services))
            afs = [s.af for s in services]
        heads = {n: head + attr(4 + n, nest) for n in set(map(len, keys))}
        bodies = [heads[len(k)] + k for k in keys]
        out, statuses, errors = self._conn.execute_dumps(
            self.family, spec.DUMP_FLAGS, bodies,
            lambda sock, reqs, pid, more: run_dumps(sock, reqs, pid, afs, lines, more=more,
                                                    counts=counts))
        for i, e in enumerate(errors):
            if e:
                if vanished is not None and e in _VANISHED:
                    vanished.add(i)
                    continue
                raise KernelError(e, "list_destinations")
        return out, [st & INTERRUPTED for st in statuses]

    def destination_records_many(self, services: Sequence[Service]) -> List[list]:
        """destination_records() of each service, the dumps one after
        another in one decoder call (C: all in one call); a dump the kernel
        flagged interrupted is read again."""
        records, again = self._dest_dumps(services)
        for i, svc in enumerate(services):
            if again[i]:
                records[i] = self.destination_records(svc)
        return records

    def destination_lines(self, services: Sequence[Service], program: Program,
                          texts: Sequence[str], *, sort: bool = True) -> str:
        """A listing: for each service, its text from `texts`, then one line
        (an ipvs.lines.Program) for each of its real servers, sorted by
        address and port unless sort is false. The dumps run as in
        destination_records_many; with the C decoder C writes the lines from
        its records, so no Python object is made per real server."""
        return self.destination_texts(services, [(program, texts, sort, None)])[0]

    def destination_texts(self, services: Sequence[Service], lines: list) -> List[str]:
        """destination_lines for many programs over one run of the dumps:
        lines = [(program, texts, sort, pieces)] (pieces: each service's
        two texts for the program's piece columns, or None) -> a text each."""
        return [b"".join(chunks).decode("latin-1")
                for chunks in self.destination_chunks(services, lines)]

    def destination_chunks(self, services: Sequence[Service], lines: list) -> list:
        """destination_texts as it is written: for each of `lines`, an
        iterator of bytes-like chunks of latin-1 text, made (C: written
        from the dumps' records, about 1 MiB at a time) only as they are
        asked for, so a large listing goes to its writer without being
        held whole. Each holds the dumps' records until it is used up.
        `services`: Service objects, or the records service_records()
        gives (no object made per service)."""
        for _ in range(DUMP_RETRIES):
            chunks, again = self._dest_dumps(services, lines)
            if not any(again):
                return chunks
        raise ProtocolError("dump interrupted %d times in a row" % DUMP_RETRIES)

    def service_table(self) -> tuple:
        """(service_records(), the same records in the C decoder's layout
        back to back, what its line programs read: bytes, or None when the
        twin decoded them)."""
        pieces: list = []  # (sequence number, each buffer's raw records)

        def decode(buf, seq, pid):
            records, status, err = decode_services(buf, seq, pid)
            pieces.append((seq, getattr(records, "raw", None)))
            return records, status, err
        records = self._dump(spec.CMD_GET_SERVICE, {}, decode, (), "list_services")
        # an interrupted dump is read again under a new sequence number: the last one's
        last = pieces[-1][0] if pieces else None
        raws = [raw for seq, raw in pieces if seq == last]
        return records, (None if None in raws else b"".join(raws))

    def table_lines(self, head: Program, program: Program, *, sort: bool = True,
                    fix=None, piece: Optional[Program] = None, end: str = "\n",
                    sep: str = "") -> Iterator:
        """A whole-table listing as it is written (an iterator of bytes-like
        chunks of latin-1 text, as destination_chunks): each service's line
        (`head`, a lines.Program over service records), then one line
        (`program`) for each of its real servers, services and real servers
        sorted as ipvsadm sorts them unless sort is false; fix: f(records,
        texts) that may rewrite the lines (in the records' order) `head`
        cannot write; piece: a program over service records whose line
        (without its newline) is each service's piece(0) in `program`;
        end: what follows each service's line (its newline, by default);
        sep: what comes before each service's text but the first's.
        With the C decoder C writes the service lines too: no Python object
        is made per service beyond its record."""
        records, raw = self.service_table()
        order = list(range(len(records)))
        if sort:
            order.sort(key=record_sort_keys(records).__getitem__)
        ordered = list(map(records.__getitem__, order))

        def each(p):  # the twin's line of each record, without its newline
            return [p.line(r)[:-1] for r in ordered]
        if raw is None:
            lines = each
        else:
            from ._lines_c import record_lines

            def lines(p):
                out = record_lines(p, raw, len(records), order).split("\n")[:-1]
                # a line with a newline of its own (a name no kernel reports)
                # cannot be split back into a line a record: the twin's then
                return out if len(out) == len(records) else each(p)
        texts = list(map(_add, lines(head), repeat(end, len(records))))
        if fix is not None:
            fix(ordered, texts)
        if sep:
            texts[1:] = map(_add, repeat(sep, len(records) - 1), texts[1:])
        pieces = None if piece is None else list(zip(lines(piece), repeat("")))
        return self.destination_chunks(ordered, [(program, texts, sort, pieces)])[0]

    def entries(self, services: Optional[Iterable[Service]] = None
                ) -> List[Tuple[Service, List[Destination]]]:
        """Each service (by default all, as services() lists them) with
        its real servers, the dumps of all of them run in one go (see
        destination_records_many)."""
        from ._client import dest_from_record
        services = self.services() if services is None else list(services)
        return [(s, [dest_from_record(r) for r in recs])
                for s, recs in zip(services, self.destination_records_many(services))]

    def live_listing(self, lines=None) -> tuple:
        """The whole table read while other writers change it, for views
        that run for long (the exporter, --watch): (the service records,
        as service_records() gives them, and the records of each one's
        real servers; or, given lines, one listing for each of
        lines(service records), as destination_chunks makes them, with
        no texts: [(program, None, sort, pieces)]).

        A service that vanished between the services dump and its
        real-server dump is left out, not an error: the kernels seen (6.1
        to 7.x) answer such a dump with no real server, so a service whose
        dump came back empty is kept only when a second services dump,
        made after the real servers', still has it (made only then); an
        answer "no such service" (ENOENT, ESRCH) leaves it out too. Any
        other kernel error is raised. `lines` may raise to give up before
        the real servers are read."""
        for _ in range(DUMP_RETRIES):
            records = self.service_records()
            made = None if lines is None else lines(records)
            counts: list = []
            gone: set = set()
            out, again = self._dest_dumps(records, made, counts, gone)
            if any(again):
                continue
            empty = [i for i, c in enumerate(counts) if not c and i not in gone]
            if empty:
                now = set(record_key_payloads(self.service_records()))
                keys = record_key_payloads([records[i] for i in empty])
                gone.update(i for i, k in zip(empty, keys) if k not in now)
            if gone:
                keep = [i for i in range(len(records)) if i not in gone]
                records = [records[i] for i in keep]
                if lines is None:
                    out = [out[i] for i in keep]
            return records, out
        raise ProtocolError("dump interrupted %d times in a row" % DUMP_RETRIES)

    def live_entries(self) -> List[Tuple[Service, List[Destination]]]:
        """entries() of a table other writers change meanwhile: a service
        that vanished between the dumps is left out (see live_listing)."""
        from ._client import dest_from_record, service_from_record
        records, dests = self.live_listing()
        return [(service_from_record(s), [dest_from_record(r) for r in recs])
                for s, recs in zip(records, dests)]

    def table(self) -> list:
        """The table as rules: [(Service, [Destination, ...]), ...]."""
        from ._plan import read_table
        return read_table(self)

    def plan(self, target, *, scope=None) -> list:
        """The operations (ipvs.Operation) that would make the table equal
        to `target` ((Service, [Destination, ...]) pairs); changes nothing.
        scope: an ipvs.Scope, the services planned for (see ipvs.plan)."""
        from ._plan import plan, read_table
        return plan(read_table(self), target, scope=scope)

    def apply(self, target, *, atomic: bool = True, checkpoint=None, record=None,
              scope=None) -> list:
        """Make the table equal to `target` with the fewest operations,
        never a flush; returns the operations run. ApplyError on a failure,
        after undoing our own operations when atomic (see ipvs.apply);
        record: a journal file the atomic run writes as it goes; scope: an
        ipvs.Scope, the only services changed."""
        from ._plan import apply
        return apply(self, target, atomic=atomic, checkpoint=checkpoint, record=record,
                     scope=scope)

    def drain(self, service: Service, dest: Destination, *, timeout: float = 300.0,
              poll: float = 1.0, progress=None, checkpoint=None):
        """Weight 0, wait until `dest` has no active, inactive or persistent
        connection or `timeout` seconds pass, then delete it; returns an
        ipvs.DrainResult. An exception while waiting leaves it at weight 0
        (see ipvs.drain.drain)."""
        from .drain import drain
        return drain(self, service, dest, timeout=timeout, poll=poll, progress=progress,
                     checkpoint=checkpoint)
