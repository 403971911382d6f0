# The connection table, streamed from /proc/net/ip_vs_conn.
#
# Rule: constant memory in the table size: the file is read in large reads,
# decoded through the decoder seam a batch at a time, and records (or the
# -Lnc text of a batch) are yielded as they are decoded, never collected.
# At most BATCH + READ_SIZE + MAX_LINE bytes of input are held (the
# decoders refuse a longer partial line), and one batch's text.
from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs start-up time; annotations stay strings
    from typing import Iterator

from ._base import DecodeError
from ._decoder import decode_conns, render_conns_numeric
from ._model import Connection
from ._records import CONN_FIELDS

READ_SIZE = 1 << 18  # each read() of the proc file returns at most a page or so
BATCH = 1 << 18  # decode once this much is buffered: amortises the call

FIELDS = CONN_FIELDS


# Connection(protocol=r[0], ...) for the record layout _records declares
connection_from_record = eval("lambda r: Connection(%s)" % ", ".join(
    "%s=r[%d]" % (name, i) for i, name in enumerate(CONN_FIELDS)), {"Connection": Connection})


def parse_line(line: str) -> Connection:
    """One line of the table (the header line is not a connection)."""
    recs, _ = decode_conns(line.encode("latin-1"), True)
    recs = list(recs)
    if len(recs) != 1:
        raise DecodeError("not a connection line: %r" % line)
    return connection_from_record(recs[0])


def iter_connection_records(path: str = "/proc/net/ip_vs_conn") -> Iterator[tuple]:
    """The table as record tuples (layout: FIELDS), the fast path."""
    with open(path, "rb", buffering=0) as f:
        yield from iter_records_from(f)


def iter_records_from(f) -> Iterator[tuple]:
    """Records from an open binary file of the table's text (from where it
    stands: a caller that has read the header line already may pass it on)."""
    for records in _batches(f, decode_conns):
        yield from records


def iter_numeric_text_from(f) -> Iterator[bytes]:
    """The `ipvsadm -Lnc` lines of the connections in an open binary file
    of the table's text (as iter_records_from takes it), a batch of lines
    at a time: the decoder writes them, no record is made."""
    for text in _batches(f, render_conns_numeric):
        if text:
            yield text


def _batches(f, decode):
    """decode(buffered, final) -> (result, consumed) over the file, BATCH
    bytes at a time: each call's result, the rest of a partial line kept
    for the next call."""
    buf = bytearray()
    while True:
        chunk = f.read(READ_SIZE)
        if chunk:
            buf += chunk
            if len(buf) < BATCH:
                continue
        out, used = decode(buf, not chunk)
        del buf[:used]
        yield out
        if not chunk:
            return


def iter_connections(path: str = "/proc/net/ip_vs_conn") -> Iterator[Connection]:
    for r in iter_connection_records(path):
        yield connection_from_record(r)
