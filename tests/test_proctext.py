"""The seam's proc_numeric(data, sort): /proc/net/ip_vs's bytes to each
service's real-server text as `ipvsadm -Ln` prints it. C writes the lines
(csrc/ipvs_proctext.c); the twin is _proctable.numeric_table (parse, then
numeric_block). Both must give the same table for every input, the
kernel's and any other, and the twin's text must be what the CLI's general
renderer prints for the same lines (the one the VM tests prove equal to
ipvsadm 1.31's)."""
import random

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import tablegen
from ipvs import _decode_py, _fastlist as F
from ipvs import _proctable as P
from ipvs.cli import _options as O
from ipvs.cli import _render as R

from test_decoder_vectors import IMPLS, _decode_c
from test_proctable import kernel_text

try:
    from ipvs import _proctext_c
except ImportError:  # not built: only the twin is tested
    _proctext_c = None
need_c = pytest.mark.skipif(_decode_c is None, reason="C decoder not built")
# the twin's face and C's of proc_numeric
FACES = [IMPLS[0], pytest.param(_proctext_c, id="c", marks=need_c)]
TITLE = (b"IP Virtual Server version 1.2.1 (size=4096)\n"
         b"Prot LocalAddress:Port Scheduler Flags\n"
         b"  -> RemoteAddress:Port Forward Weight ActiveConn InActConn\n")
SVC = b"TCP  0A000001:0050 wlc \n"
DEST = b"  -> C0A80001:1F90      Masq    1      0          0         \n"


def table_text(seed):
    rng = tablegen.seeded(seed)
    return kernel_text(tablegen.random_table(rng)).encode("latin-1")


# inputs the kernel never writes, each a case of the rules both must share
EDGES = [
    b"", b"garbage\n", TITLE, TITLE[:-1], TITLE + SVC, TITLE + SVC[:-1],
    TITLE + SVC + DEST, TITLE + SVC + DEST[:-1],                    # no final newline
    TITLE + DEST,                                                   # a real server first
    TITLE + SVC + b"  -> 0A00\n",                                   # cut short (< 24)
    TITLE + SVC + DEST[:24] + b"\n",                                # exactly 24 bytes
    TITLE + SVC + DEST.replace(b"C0A80001", b"c0a8000f"),           # lower-case hex
    TITLE + SVC + DEST.replace(b"C0A80001", b"C0A8000G"),           # not hex
    TITLE + SVC + DEST.replace(b":1F90", b":+F90"),                 # int() would take it
    TITLE + SVC + DEST.replace(b":1F90", b": F90"),
    TITLE + SVC + DEST.replace(b":1F90", b"-1F90"),                 # no colon
    TITLE + SVC + DEST.replace(b"      Masq", b"     Masq "),        # no six spaces
    TITLE + SVC + b"  -> [2001:0db8:0000:0000:0000:0000:0000:0001]:0050      Masq    1"
    b"      0          0\n" + DEST,                                  # an IPv6 real server
    TITLE + SVC + DEST + b"\n\n" + DEST.replace(b"01:", b"02:"),    # empty lines inside
    TITLE + SVC + DEST + SVC + DEST.replace(b"1F90", b"0050"),      # a service twice
    TITLE + b"TCP  0A000001:0050\n" + DEST,                         # two fields
    TITLE + b"TCP\x1c0A000001:0050\xa0wlc\n" + DEST,                # str.split()'s spaces
    TITLE + b"TCP  0A000001:0050 wlc\r\n" + DEST.replace(b"0         \n", b"0\xff\r\n"),
    TITLE + SVC + b"".join(DEST.replace(b"C0A80001", b"C0A800%02X" % i) for i in
                           (9, 3, 200, 3, 0)),                      # a duplicate line
    TITLE + SVC + DEST.replace(b"    1      0", b"    1\t0"),
    TITLE + b"  ->x\n" + SVC + DEST,                                 # "  ->" is not "  -> "
]


def both(data, sort):
    return _decode_py.proc_numeric(data, sort), _proctext_c.proc_numeric(data, sort)


@need_c
@pytest.mark.parametrize("sort", [True, False])
@pytest.mark.parametrize("data", EDGES, ids=range(len(EDGES)))
def test_c_and_the_twin_agree_on_every_edge(data, sort):
    py, c = both(data, sort)
    assert py == c


@need_c
@pytest.mark.parametrize("seed", range(40))
def test_c_and_the_twin_agree_on_kernel_text(seed):
    data = table_text(2000 + seed)
    for sort in (True, False):
        py, c = both(data, sort)
        assert py == c and py is not None


@pytest.mark.parametrize("impl", FACES)
@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize("fmt", [O.FMT_NUMERIC, O.FMT_NUMERIC | O.FMT_NOSORT])
def test_the_text_is_what_the_general_renderer_prints(impl, seed, fmt):
    data = table_text(3000 + seed)
    table = impl.proc_numeric(data, not fmt & O.FMT_NOSORT)
    lines = P.parse(data)
    assert table.keys() == lines.keys()
    served = 0
    for key, (sched, text) in table.items():
        assert sched == lines[key][0]
        if text is None:  # not all IPv4: the general path's
            assert any(line[5] == "[" for line in lines[key][1])
            continue
        served += 1
        proto = {"TCP": 6, "UDP": 17, "SCTP": 132}.get(key[0], 0)
        assert text == R.proc_dest_lines(F.ProcDestinations(lines[key][1]), proto, fmt,
                                         R.NumericNames())
    assert served == sum(all(line[5] != "[" for line in d) for _, d in lines.values())


def test_the_kernel_layout_is_all_it_takes():
    for data in (b"", b"garbage\n", TITLE + DEST, TITLE + SVC + b"  -> 0A00\n",
                 TITLE + b"TCP  0A000001:0050\n"):
        assert P.numeric_table(data, True) is None
    table = P.numeric_table(TITLE + SVC + DEST + DEST.replace(b"C0A80001", b"0A000001"), True)
    assert table == {("TCP", "0A000001:0050"): ("wlc", (
        "  -> 10.0.0.1:8080                Masq    1      0          0         \n"
        "  -> 192.168.0.1:8080             Masq    1      0          0         \n"))}


ALPHABET = b"  ->:0123456789ABCDEFafgx[]\n\t\r\xa0\x1cTCPwlc"


@need_c
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10 ** 6), edits=st.lists(
    st.tuples(st.integers(0, 10 ** 6), st.integers(0, 2), st.integers(0, len(ALPHABET) - 1)),
    max_size=12), sort=st.booleans())
def test_c_and_the_twin_agree_on_damaged_text(seed, edits, sort):
    data = table_text(seed % 50)
    py, c = both(damaged(EDGES[22] + data[len(TITLE):] if seed % 2 else data, edits), sort)
    assert py == c


def damaged(data, edits):
    """data with each (at, op, ch) of edits made: ALPHABET[ch] written over
    (op 0) or put before (op 1) the byte at `at` (modulo the length), or
    that byte taken out (op 2)."""
    data = bytearray(data)
    for at, op, ch in edits:
        if not data:
            break
        i = at % len(data)
        if op == 0:
            data[i] = ALPHABET[ch]
        elif op == 1:
            data.insert(i, ALPHABET[ch])
        else:
            del data[i]
    return bytes(data)


@need_c
def test_a_large_table_in_one_call():
    rng = random.Random(7)
    lines = [TITLE]
    for i in range(3000):
        lines.append(b"TCP  0A%06X:0050 wlc \n" % i)
        for j in rng.sample(range(1, 255), 6):
            lines.append(DEST.replace(b"C0A80001", b"C0A800%02X" % j))
    data = b"".join(lines)
    py, c = both(data, True)
    assert py == c and len(c) == 3000
