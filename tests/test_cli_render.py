# Golden tests of the listing renderers (pure functions). The texts under
# tests/data/cli/ were printed by the reference ipvsadm 1.31 in the VM for
# the table in Sn.txt (two firewall-mark services above 2^31, which we
# print differently on purpose, were left out of the captured files).
# The model objects are built by parsing Sn.txt with our own parser, so
# this also round-trips the save format.
import os

import pytest

from ipvs import Info, SyncDaemon, Timeouts
from ipvs.cli import _options as O
from ipvs.cli import _render as R
from ipvs.cli._usage import usage
from ipvs.cli._run import Runner

DATA = os.path.join(os.path.dirname(__file__), "data", "cli")
INFO = Info(version=0x010201, conn_tab_size=4096)


def golden(name):
    with open(os.path.join(DATA, name)) as f:
        return f.read()


class FixedNames:
    """The names the VM resolved: /etc/hosts and /etc/services there."""
    hosts = {"127.0.0.1": "localhost", "::1": "virtme-ng"}
    ports = {(80, 6): "http", (8080, 6): "http-alt", (53, 17): "domain",
             (5060, 17): "sip", (53, 6): "domain"}

    def host(self, af, address):
        return self.hosts.get(address)

    def port(self, port, protocol):
        return self.ports.get((port, protocol))


def table_from_save(text):
    """(service, [destinations]) pairs from ipvsadm -Sn text, via our parser."""
    from ipvs import Stats
    runner = Runner("ipvsadm", None, None, None)
    entries = []
    for line in text.splitlines():
        ce = O.check_command(O.parse_options(["ipvsadm"] + line.split()))
        if ce.cmd == O.CMD_ADD:
            svc = runner.service(ce).replace(stats=Stats())
            entries.append((svc, []))
        else:
            d = runner.destination(ce).replace(stats=Stats())
            entries[-1][1].append(d)
    return entries


@pytest.fixture(scope="module")
def entries():
    return table_from_save(golden("Sn.txt"))


@pytest.mark.parametrize("name,fmt", [
    ("Ln.txt", O.FMT_NUMERIC), ("L.txt", 0),
    ("Ln-stats.txt", O.FMT_NUMERIC | O.FMT_STATS), ("Ln-rate.txt", O.FMT_NUMERIC | O.FMT_RATE),
    ("Ln-thresholds.txt", O.FMT_NUMERIC | O.FMT_THRESHOLDS),
    ("Ln-persistent-conn.txt", O.FMT_NUMERIC | O.FMT_PERSISTENTCONN),
    ("Ln-tun-info.txt", O.FMT_NUMERIC | O.FMT_TUN_INFO),
    ("Ln-exact-stats.txt", O.FMT_NUMERIC | O.FMT_EXACT | O.FMT_STATS),
    ("Sn.txt", O.FMT_NUMERIC | O.FMT_RULE), ("S.txt", O.FMT_RULE),
])
def test_table_matches_reference(entries, name, fmt):
    assert R.table(INFO, entries, fmt, FixedNames()) == golden(name)


def test_nosort_keeps_kernel_order(entries):
    rev = list(reversed(entries))
    text = R.table(INFO, rev, O.FMT_NUMERIC | O.FMT_NOSORT, FixedNames())
    firsts = [l for l in text.splitlines() if l.startswith(("TCP", "UDP", "SCTP", "FWM"))]
    assert firsts[0].startswith("FWM  12 IPv6") and firsts[-1].startswith("TCP  1.2.3.4:80")
    assert text != golden("Ln.txt")


def test_one_service(entries):
    svc, dests = [e for e in entries if e[0].address == "1.2.3.11" and e[0].port == 80][0]
    assert R.one_service(svc, dests, O.FMT_NUMERIC, FixedNames()) == golden("Ln-t.txt")
    assert R.one_service(svc, dests, 0, FixedNames()) == golden("L-t.txt")


def test_daemons_timeouts_help():
    ds = [SyncDaemon(state=1, mcast_ifn="lo", syncid=5, sync_maxlen=1472,
                     mcast_group="224.0.0.81", mcast_port=8848, mcast_ttl=1),
          SyncDaemon(state=2, mcast_ifn="lo", syncid=6, sync_maxlen=1024,
                     mcast_group="224.0.0.99", mcast_port=9000, mcast_ttl=3)]
    assert R.daemons(ds) == golden("daemon.txt")
    assert R.timeouts(Timeouts(tcp=900, tcp_fin=120, udp=300)) == \
        "Timeout (tcp tcpfin udp): 900 120 300\n"
    assert usage("ipvsadm") == golden("help.txt")


def test_connection_titles():
    assert R.connections_title(O.FMT_NUMERIC) == golden("Lcn.txt")
    assert R.connections_title(O.FMT_PERSISTENTCONN) == golden("Lc-persistent-conn.txt")


def test_connection_lines():
    from ipvs import Connection
    c = Connection(protocol="TCP", af=2, caddr="10.10.1.2", cport=40000, vaddr="10.10.1.100",
                   vport=8080, daddr="10.10.2.2", dport=8000, state="ESTABLISHED", expires=899)
    assert R.connection(c, O.FMT_NUMERIC, R.NumericNames()) == (
        "TCP 14:59  ESTABLISHED 10.10.1.2:40000    10.10.1.100:8080   10.10.2.2:8000\n")
    c6 = Connection(protocol="UDP", af=10, caddr="2001:db8::1", cport=5060, vaddr="2001:db8::2",
                    vport=5060, daddr="2001:db8::3", dport=5060, state="UDP", expires=5,
                    pe_name="sip", pe_data="abc")
    assert R.connection(c6, O.FMT_PERSISTENTCONN | O.FMT_NUMERIC, R.NumericNames()) == (
        "UDP 00:05  UDP         [2001:db8::1]:5060 [2001:db8::2]:5060 [2001:db8::3]:5060 "
        "sip" + " " * 16 + "abc\n")


def test_largenum():
    assert R.largenum(99999999, 0) == " 99999999"
    assert R.largenum(100000000, 0) == "  100000K"
    assert R.largenum(1000000000, 0) == "    1000M"
    assert R.largenum(100000000000, 0) == "     100G"
    assert R.largenum(100000000000000, 0) == "     100T"
    assert R.largenum(123456789012, O.FMT_EXACT) == " 123456789012"
    assert R.largenum(5, O.FMT_EXACT) == "        5"


def test_fwmark_unsigned_and_numeric_sort():
    from ipvs import Service, Stats
    svcs = [Service(fwmark=0xFFFFFFFF, stats=Stats()), Service(fwmark=2, stats=Stats()),
            Service(address="192.168.0.1", port=80, stats=Stats()),
            Service(address="10.0.0.1", port=80, stats=Stats())]
    text = R.table(INFO, [(s, []) for s in svcs], O.FMT_NUMERIC | O.FMT_RULE, R.NumericNames())
    assert text == ("-A -t 10.0.0.1:80 -s wlc\n-A -t 192.168.0.1:80 -s wlc\n"
                    "-A -f 2 -s wlc\n-A -f 4294967295 -s wlc\n")


def test_truncation_of_long_names():
    from ipvs import Destination, Service, Stats

    class Long:
        def host(self, af, address):
            return "a-very-long-host-name-that-goes-on.example.org"

        def port(self, port, protocol):
            return None

    s = Service(address="10.0.0.1", port=80, stats=Stats())
    d = Destination(address="10.0.0.2", port=80, stats=Stats())
    text = R.service_entry(s, [d], 0, Long())
    first, second = text.splitlines()
    assert first == "TCP  a-very-long-host-name-that-g wlc"  # 33 characters, then the scheduler
    assert second.startswith("  -> a-very-long-host-name-that-g Route")  # 28 characters
