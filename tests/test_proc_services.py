"""The seam's numeric_services(data, records, raw, order, sort): `ipvsadm
-Ln`'s plain IPv4 services from their netlink records and /proc/net/ip_vs's
bytes. C (csrc/ipvs_proctext.c's ipvs_proc_services) reads the records in
its own layout (raw); the twin (_proctable.numeric_services) reads the
tuples. Both must give the same text and the same holes for every input;
test_proctable holds the listing they make to the general renderer's."""
import random

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import tablegen
from ipvs import Destination, Service, Stats, _decode_py
from ipvs._records import SVC

from test_proctable import kernel_text, raw_of, record_of
from test_proctext import ALPHABET, DEST, EDGES, TITLE, damaged

try:
    from ipvs import _proctext_c
except ImportError:  # not built: only the twin is tested
    _proctext_c = None
pytestmark = pytest.mark.skipif(_proctext_c is None, reason="C decoder not built")


def both(data, records, order, sort=True):
    py = _decode_py.numeric_services(data, records, None, order, sort)
    c = _proctext_c.numeric_services(data, records, raw_of(records), order, sort)
    return py, c


def plain(address="10.0.0.1", port=80, **kw):
    return Service(protocol=kw.pop("protocol", "tcp"), address=address, port=port,
                   scheduler=kw.pop("scheduler", "wlc"), stats=Stats(), **kw)


def test_raw_of_is_the_decoders_layout():
    from ipvs import _decode_c
    from test_decoder_vectors import PID, SEQ, SVC_TCP4, done, service_msg
    recs, _, _ = _decode_c.decode_services(service_msg(SVC_TCP4) + done(), SEQ, PID)
    assert raw_of(recs) == recs.raw


SVC_LINE = b"TCP  0A000001:0050 wlc \n"
PERSIST = plain(flags=1, timeout=300, netmask="255.255.0.0")


def rec(svc, **fields):
    r = list(record_of(svc))
    for name, value in fields.items():
        r[getattr(SVC, name)] = value
    return tuple(r)


# (records, text) the two must read alike: each a rule of the pairing
CASES = [
    ([rec(plain())], TITLE + SVC_LINE + DEST),
    ([rec(plain())], TITLE + SVC_LINE),                                   # no real server
    ([rec(plain())], TITLE),                                              # not in the file
    ([], TITLE + SVC_LINE + DEST),
    ([rec(plain(scheduler="rr"))], TITLE + SVC_LINE + DEST),               # other scheduler
    ([rec(plain(), sched_name="wlc\0x")], TITLE + SVC_LINE + DEST),        # a NUL inside
    ([rec(plain(), pe_name="sip")], TITLE + SVC_LINE + DEST),
    ([rec(plain(), flags=2 | 4)], TITLE + SVC_LINE + DEST),                # one-packet
    ([rec(plain(), flags=2 | 8)], TITLE + SVC_LINE + DEST),                # a scheduler flag
    ([rec(plain(), protocol=99)], TITLE + SVC_LINE + DEST),
    ([rec(plain(), fwmark=1)], TITLE + SVC_LINE + DEST),
    ([rec(PERSIST)], TITLE + b"TCP  0A000001:0050 wlc persistent 300 FFFF0000\n" + DEST),
    ([rec(PERSIST, netmask=0xFFFFFFFF, timeout=2 ** 32 - 1)], TITLE + SVC_LINE + DEST),
    ([rec(plain(protocol="sctp", port=65535))], TITLE + b"SCTP 0A000001:FFFF wlc\n" + DEST),
    ([rec(plain(protocol="udp", port=0))], TITLE + b"UDP  0A000001:0000 wlc\n" + DEST),
    ([rec(plain(address="255.255.255.255"))], TITLE + b"TCP  FFFFFFFF:0050 wlc\n" + DEST),
    ([rec(plain(address="10.0.0.10"))], TITLE + b"TCP  0a00000a:0050 wlc\n" + DEST),  # case
    ([rec(plain())], TITLE + b"TCP\x1c0A000001:0050\xa0wlc\x85\n" + DEST),   # split()'s spaces
    ([rec(plain())], TITLE + b"TCP  0A000001:0050\n" + DEST),              # two words
    ([rec(plain())], TITLE + SVC_LINE + DEST + SVC_LINE.replace(b"wlc", b"rr")),  # named twice
    ([rec(plain())], TITLE + SVC_LINE.replace(b"wlc", b"rr") + DEST + SVC_LINE + DEST),
    ([rec(plain())] * 3, TITLE + SVC_LINE + DEST * 40),                    # one service thrice
    ([rec(plain())], TITLE + SVC_LINE + b"  -> [2001:0db8:0000:0000:0000:0000:0000:0001]:0050"
     b"      Masq    1      0          0\n"),                               # an IPv6 real server
    ([rec(plain()), rec(plain(address="2001:db8::1"))], TITLE + SVC_LINE + DEST),
    ([rec(plain())], b"garbage\n"),
]


@pytest.mark.parametrize("sort", [True, False])
@pytest.mark.parametrize("case", range(len(CASES)))
def test_c_and_the_twin_agree_on_every_case(case, sort):
    records, data = CASES[case]
    py, c = both(data, records, list(range(len(records)))[::-1], sort)
    assert py == c


def test_what_the_cases_hold():
    # (the cases test something: the first is written, the third is a hole)
    assert both(*CASES[0][::-1], [0])[1] == (
        "TCP  10.0.0.1:80 wlc\n"
        "  -> 192.168.0.1:8080             Masq    1      0          0         \n", [])
    assert both(*CASES[2][::-1], [0])[1] == ("", [(0, 0)])
    text, holes = both(*CASES[11][::-1], [0])[1]
    assert text.startswith("TCP  10.0.0.1:80 wlc persistent 300 mask 255.255.0.0\n")
    assert both(*CASES[-1][::-1], [0]) == (None, None)
    assert both(*CASES[18][::-1], [0]) == (None, None)


def table(seed):
    """A random table's records and its file's bytes, with plain IPv4
    services in bulk (with and without persistence and masks)."""
    rng = tablegen.seeded(5000 + seed)
    entries = tablegen.random_table(rng)
    for i in range(rng.randint(0, 40)):
        svc = plain(address="10.1.%d.%d" % (rng.randint(0, 255), rng.randint(1, 255)),
                    port=rng.choice((80, 1, 65535)), protocol=rng.choice(("tcp", "udp", "sctp")),
                    scheduler=rng.choice(("wlc", "rr", "mh")))
        if rng.random() < 0.3:
            svc = svc.replace(flags=1, timeout=rng.choice((1, 300)),
                              netmask=rng.choice(("255.255.255.255", "255.255.0.0")))
        if svc.key not in {s.key for s, _ in entries}:
            entries.append((svc, []))
    rng.shuffle(entries)
    return [record_of(s) for s, _ in entries], kernel_text(entries).encode("latin-1"), rng


@pytest.mark.parametrize("seed", range(40))
def test_c_and_the_twin_agree_on_kernel_text(seed):
    records, data, rng = table(seed)
    order = list(range(len(records)))
    rng.shuffle(order)
    for sort in (True, False):
        py, c = both(data, records, order, sort)
        assert py == c and py is not None


def test_an_order_out_of_range_is_refused():
    from ipvs._base import DecodeError
    with pytest.raises(DecodeError):
        _proctext_c.numeric_services(TITLE + SVC_LINE + DEST, [rec(plain())],
                                     raw_of([rec(plain())]), [1], True)


def test_a_large_table():
    rng = random.Random(3)
    services = [plain(address="10.%d.%d.%d" % (i >> 16, (i >> 8) & 255, i & 255),
                      scheduler=rng.choice(("wlc", "rr"))) for i in range(1, 6001)]
    records = [record_of(s) for s in services]
    one = [Destination(address="192.168.0.1", port=8080, stats=Stats())]
    data = kernel_text([(services[0], one)] + [(s, []) for s in services[1:]]).encode("latin-1")
    order = list(range(len(records)))
    rng.shuffle(order)
    py, c = both(data, records, order)
    assert py == c and not c[1] and c[0].count("\n") == 6001


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10 ** 6), edits=st.lists(
    st.tuples(st.integers(0, 10 ** 6), st.integers(0, 2), st.integers(0, len(ALPHABET) - 1)),
    max_size=12), sort=st.booleans())
def test_c_and_the_twin_agree_on_damaged_text(seed, edits, sort):
    records, data, rng = table(seed % 40)
    data = damaged(EDGES[22] + data[len(TITLE):] if seed % 2 else data, edits)
    order = list(range(len(records)))
    rng.shuffle(order)
    py, c = both(data, records, order, sort)
    assert py == c
