# The plain listing from /proc/net/ip_vs destination lines must be the
# listing from netlink's destination records, byte for byte. The proc text
# here is written with the kernel's own format strings (ip_vs_info_seq_show
# in net/netfilter/ipvs/ip_vs_ctl.c, 6.1); the VM tests compare the real
# file's listing with the reference ipvsadm (tests/kernel/).
import socket
import struct

import pytest

import tablegen
from ipvs import Destination, Info, Service, Stats
from ipvs import _fastlist as F
from ipvs._decoder import DECODER
from ipvs import _proctable as P
from ipvs.cli import _options as O
from ipvs.cli import _render as R

INFO = Info(version=0x010201, conn_tab_size=4096)
FWD = {0: "Masq", 1: "Local", 2: "Tunnel", 3: "Route"}
PROTO = {6: "TCP", 17: "UDP", 132: "SCTP"}


def _v6_full(address):
    return ":".join("%02x%02x" % pair for pair in zip(*[iter(socket.inet_pton(
        socket.AF_INET6, address))] * 2))


def _v4_hex(address):
    return "%08X" % int.from_bytes(socket.inet_aton(address), "big")


def kernel_text(entries):
    """/proc/net/ip_vs as the kernel prints it for these entries."""
    out = ["IP Virtual Server version 1.2.1 (size=4096)\n",
           "Prot LocalAddress:Port Scheduler Flags\n",
           "  -> RemoteAddress:Port Forward Weight ActiveConn InActConn\n"]
    for svc, dests in entries:
        ops = "ops " if svc.flags & 4 else ""
        if svc.fwmark:
            out.append("FWM  %08X %s %s" % (svc.fwmark, svc.scheduler, ops))
        elif svc.af == socket.AF_INET6:
            out.append("%s  [%s]:%04X %s " % (PROTO[svc.protocol], _v6_full(svc.address),
                                             svc.port, svc.scheduler))
        else:
            out.append("%s  %s:%04X %s %s " % (PROTO[svc.protocol], _v4_hex(svc.address),
                                              svc.port, svc.scheduler, ops))
        if svc.flags & 1:
            mask = 0xFFFFFFFF if svc.af == socket.AF_INET6 else int.from_bytes(
                socket.inet_aton(svc.netmask), "big")
            out.append("persistent %d %08X\n" % (svc.timeout, mask))
        else:
            out.append("\n")
        for d in dests:
            if d.af == socket.AF_INET6:
                a = "[%s]:%04X" % (_v6_full(d.address), d.port)
            else:
                a = "%s:%04X" % (_v4_hex(d.address), d.port)
            out.append("  -> %s      %-7s %-6d %-10d %-10d\n" % (
                a, FWD[d.fwd_method & 3], d.weight, d.active_conns, d.inactive_conns))
    return "".join(out)


def from_proc(entries, text):
    table = P.parse(text.encode("latin-1"))
    assert table is not None
    services = [s for s, _ in entries]
    paired = P.pair(table, services)
    return [(s, F.ProcDestinations(lines)) for s, lines in zip(services, paired)], paired


def with_counts(rng, entries, mixed):
    """Random connection counts; some IPv4 services also get an IPv6 real
    server (the kernel allows mixed families for tunnels)."""
    out = []
    for svc, dests in entries:
        dests = [d.replace(active_conns=rng.choice((0, 7, 123456)),
                           inactive_conns=rng.choice((0, 3, 4294967)), stats=Stats())
                 for d in dests]
        if mixed and svc.af == socket.AF_INET and rng.random() < 0.5:
            dests.append(Destination(address="::%x" % rng.randint(1, 0xffff), port=80,
                                     fwd_method="tunnel", weight=3, stats=Stats()))
            dests.append(Destination(address="fe80::%x" % rng.randint(1, 0xffff), port=81,
                                     fwd_method="tunnel", weight=4, stats=Stats()))
        out.append((svc.replace(stats=Stats()), dests))
    return out


class Names:
    def host(self, af, address):
        return "h-" + address.replace(":", "-") if address.endswith("1") else None

    def port(self, port, protocol):
        return {80: "http"}.get(port)


@pytest.mark.parametrize("seed", range(60))
@pytest.mark.parametrize("fmt", [O.FMT_NUMERIC, 0, O.FMT_NUMERIC | O.FMT_NOSORT])
def test_listing_from_proc_equals_listing_from_records(seed, fmt):
    rng = tablegen.seeded(seed)
    entries = with_counts(rng, tablegen.random_table(rng), mixed=seed % 2 == 1)
    got, paired = from_proc(entries, kernel_text(entries))
    # every service paired unless its firewall mark is used by both families
    marks = [s.fwmark for s, _ in entries if s.fwmark]
    for (s, _), p in zip(entries, paired):
        assert (p is None) == (bool(s.fwmark) and marks.count(s.fwmark) > 1)
    got = [(s, d if p is not None else ds) for (s, d), (_, ds), p in zip(got, entries, paired)]
    assert R.table(INFO, got, fmt, Names()) == R.table(INFO, entries, fmt, Names())


def test_pairing_refuses_what_it_cannot_vouch_for():
    a = Service(protocol="tcp", address="10.0.0.1", port=80, scheduler="rr")
    b = Service(protocol="udp", address="10.0.0.1", port=80, scheduler="rr")
    c = Service(protocol="tcp", address="2001:db8::1", port=443, scheduler="wlc")
    d = Destination(address="192.168.0.1", port=80)
    text = kernel_text([(a, [d]), (c, [])])
    table = P.parse(text.encode("latin-1"))
    assert P.pair(table, [a, b, c]) == [[table[P.service_key(a)][1][0]], None, []]
    # the scheduler changed between the netlink dump and the file
    assert P.pair(table, [a.replace(scheduler="wrr")]) == [None]
    assert P.service_key(c) == ("TCP", "[2001:0db8:0000:0000:0000:0000:0000:0001]:01BB")
    assert P.service_key(Service(fwmark=0xFFFFFFFF)) == ("FWM", "FFFFFFFF")


@pytest.mark.parametrize("text", [
    "", "garbage\n", "IP Virtual Server version 1.2.1 (size=4096)\nProt\n",
    "IP Virtual Server version 1.2.1 (size=4096)\nProt LocalAddress:Port Scheduler Flags\n"
    "  -> RemoteAddress:Port Forward Weight ActiveConn InActConn\n"
    "  -> 0A000001:0050      Masq    1      0          0\n",  # a destination before any service
    "IP Virtual Server version 1.2.1 (size=4096)\nProt LocalAddress:Port Scheduler Flags\n"
    "  -> RemoteAddress:Port Forward Weight ActiveConn InActConn\n"
    "TCP  0A000001:0050 rr \n  -> \n",  # a cut destination line
])
def test_unknown_layout_is_refused(text):
    assert P.parse(text.encode("latin-1")) is None


def test_a_malformed_destination_line_is_a_value_error():
    with pytest.raises(ValueError):
        R.proc_dest_lines(F.ProcDestinations(
            ["  -> 0A000001-0050      Masq    1      0          0         "]),
            6, O.FMT_NUMERIC, R.NumericNames())


def test_read_streams_a_file(tmp_path):
    a = Service(protocol="tcp", address="10.0.0.1", port=80, scheduler="rr")
    dests = [Destination(address="192.168.%d.%d" % (i // 250, i % 250 + 1), port=80)
             for i in range(20000)]
    p = tmp_path / "ip_vs"
    p.write_text(kernel_text([(a, dests)]))
    with open(p, "rb") as f:
        table = P.parse(P.read_bytes(f))
    assert len(table[P.service_key(a)][1]) == 20000


def record_of(svc):
    """The netlink service record the decoders make for this service."""
    import struct
    from ipvs._model import pack_address
    if svc.af == socket.AF_INET6:
        mask = int(svc.netmask)
    else:
        mask = struct.unpack("=I", socket.inet_aton(svc.netmask))[0]
    # the kernel reports every service it has hashed with IP_VS_SVC_F_HASHED
    return (svc.af, svc.protocol, pack_address(svc.af, svc.address), svc.port, svc.fwmark,
            svc.scheduler, svc.flags | 2, svc.timeout, mask, svc.pe_name) + (0,) * 10


def raw_of(records):
    """The records in the C decoder's layout, back to back (what its dump
    leaves: the string fields NUL-padded)."""
    from ipvs import _spec
    fmt = _spec.LAYOUTS["service"].fmt
    return b"".join(struct.pack(fmt, *[v.encode("latin-1") if isinstance(v, str) else v
                                       for v in r]) for r in records)


@pytest.mark.parametrize("seed", range(80))
@pytest.mark.parametrize("fmt", [O.FMT_NUMERIC, O.FMT_NUMERIC | O.FMT_NOSORT])
def test_numeric_listing_from_records_equals_the_general_one(seed, fmt):
    from ipvs._client import service_from_record
    rng = tablegen.seeded(1000 + seed)
    entries = with_counts(rng, tablegen.random_table(rng), mixed=seed % 3 == 1)
    # plain IPv4 services in bulk, with and without persistence and masks
    for i in range(rng.randint(0, 30)):
        svc = Service(protocol=rng.choice(("tcp", "udp", "sctp")), port=rng.choice((80, 1, 65535)),
                      address="10.1.%d.%d" % (rng.randint(0, 255), rng.randint(1, 255)),
                      scheduler=rng.choice(("wlc", "rr")), stats=Stats())
        if rng.random() < 0.3:
            svc = svc.replace(flags=1, timeout=rng.choice((1, 300)),
                              netmask=rng.choice(("255.255.255.255", "255.255.0.0")))
        if svc.key not in {s.key for s, _ in entries}:
            entries.append((svc, [Destination(address="172.16.%d.%d" % (k, i + 1),
                                              port=rng.choice((80, 8080, 1)), weight=k,
                                              stats=Stats()) for k in range(rng.randint(0, 5))]))
    rng.shuffle(entries)
    records = [record_of(s) for s, _ in entries]
    for (s, _), r in zip(entries, records):
        assert service_from_record(r).replace(flags=s.flags) == s
    data = kernel_text(entries).encode("latin-1")
    # the file was read while a service was added: netlink knows one more
    late = Service(protocol="tcp", address="10.9.9.9", port=9, scheduler="rr", stats=Stats())
    late_dests = [Destination(address="10.8.8.8", port=9, stats=Stats())]
    asked = []

    class Kernel:  # what the fast listing asks of a client
        def service_table(self):  # (C's records too when C is active: C writes the text)
            recs = records + [record_of(late)]
            return recs, raw_of(recs) if DECODER == "c" else None

        def destinations(self, svc):
            asked.append(svc)
            return {s.key: ds for s, ds in entries + [(late, late_dests)]}[svc.key]

        def entries(self, services):
            return [(s, self.destinations(s)) for s in services]
    got = R.numeric_table(INFO, Kernel(), data, fmt, R.NumericNames())
    # and the fast path did serve the plain services
    table = P.numeric_table(data, not fmt & O.FMT_NOSORT)
    assert sum(P.numeric_service(r, table) is not None for r in records) >= \
        sum(1 for s, ds in entries if s.af == socket.AF_INET and not s.fwmark
            and not s.flags & ~1 and not s.pe_name and all(d.af == socket.AF_INET for d in ds))
    assert got == R.table(INFO, entries + [(late, late_dests)], fmt, R.NumericNames())
    assert late.key in [s.key for s in asked]


class ProcKernel:
    """What ipvs.fast_table asks of a client: the services, a service's
    destinations (counted: the fast path should rarely ask), the proc file."""

    def __init__(self, entries, path):
        self.table, self.path, self.asked = entries, path, []

    def services(self):
        return [s for s, _ in self.table]

    def destinations(self, svc):
        self.asked.append(svc.key)
        return dict((s.key, ds) for s, ds in self.table)[svc.key]

    def entries(self, services=None):
        services = self.services() if services is None else services
        return [(s, self.destinations(s)) for s in services]

    def proc_file(self, name):
        assert name == "ip_vs"
        return self.path


@pytest.mark.parametrize("seed", range(10))
def test_fast_table_is_the_table_with_the_files_lines(tmp_path, seed):
    import ipvs
    rng = tablegen.seeded(500 + seed)
    entries = with_counts(rng, tablegen.random_table(rng), mixed=True)
    path = tmp_path / "ip_vs"
    path.write_text(kernel_text(entries))
    k = ProcKernel(entries, str(path))
    got = ipvs.fast_table(k)
    assert [s for s, _ in got] == [s for s, _ in entries]
    for (s, dests), (_, real) in zip(got, entries):
        if type(dests) is ipvs.ProcDestinations:
            assert s.key not in k.asked
            assert sorted((ipvs.split_line(line)[1:3] for line in dests)) == \
                sorted((d.address, d.port) for d in real)
        else:
            assert dests == real and s.key in k.asked
    assert R.table(INFO, got, O.FMT_NUMERIC, R.NumericNames()) == \
        R.table(INFO, entries, O.FMT_NUMERIC, R.NumericNames())


def test_fast_table_without_the_file_asks_netlink(tmp_path):
    import ipvs
    a = Service(protocol="tcp", address="10.0.0.1", port=80, scheduler="rr")
    entries = [(a, [Destination(address="192.168.0.1", port=80)])]
    k = ProcKernel(entries, str(tmp_path / "missing"))
    assert ipvs.read_proc_table(k) is None
    assert ipvs.fast_table(k) == entries and k.asked == [a.key]
