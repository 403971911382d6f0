# The rule words (ipvs.rules): what -S prints, what a plan's commands say,
# and that the words parse back, through ipvsadm's own grammar, into the
# objects they came from.
import io

import pytest

from ipvs import Destination, Operation, Service, SyncDaemon, Timeouts
from ipvs import rules
from ipvs.cli import _options as O
from ipvs.cli._run import Runner

SERVICES = [
    Service(protocol="tcp", address="10.0.0.1", port=80, scheduler="wlc"),
    Service(protocol="udp", address="10.0.0.2", port=53, scheduler="rr", flags=0x4),
    Service(protocol="sctp", address="2001:db8::1", port=9, scheduler="sh", flags=0x8 | 0x10),
    Service(protocol="tcp", address="10.0.0.3", port=0, scheduler="lc", flags=1, timeout=300,
            netmask="255.255.0.0", pe_name="sip"),
    Service(fwmark=7, scheduler="mh", flags=0x8),
    Service(fwmark=8, af=10, scheduler="wrr", flags=1, timeout=60, netmask="64"),
]
DESTS = [
    Destination(address="192.168.0.1", port=80, fwd_method="masq", weight=3),
    Destination(address="192.168.0.2", port=80, fwd_method="route", weight=0, u_threshold=9),
    Destination(address="192.168.0.3", port=80, fwd_method="tunnel", tun_type="gue",
                tun_port=6080, tun_flags=2, l_threshold=4),
    Destination(address="192.168.0.4", port=80, fwd_method="tunnel", tun_type="gre",
                tun_flags=1),
    Destination(address="192.168.0.5", port=80, fwd_method="tunnel", tun_type="ipip"),
]


def test_service_words():
    assert rules.service_rule(SERVICES[0]) == "-A -t 10.0.0.1:80 -s wlc"
    assert rules.service_rule(SERVICES[1]) == "-A -u 10.0.0.2:53 -s rr -o"
    assert rules.service_rule(SERVICES[2]) == \
        "-A --sctp-service [2001:db8::1]:9 -s sh -b sh-fallback,sh-port"
    assert rules.service_rule(SERVICES[3]) == \
        "-A -t 10.0.0.3:0 -s lc -p 300 -M 255.255.0.0 --pe sip"
    assert rules.service_rule(SERVICES[4]) == "-A -f 7 -s mh -b mh-fallback"
    assert rules.service_rule(SERVICES[5]) == "-A -f 8 -6 -s wrr -p 60 -M 64"


def test_destination_words():
    assert [rules.dest_spec(d) + rules.dest_options(d) for d in DESTS] == [
        "-r 192.168.0.1:80 -m -w 3",
        "-r 192.168.0.2:80 -g -w 0 -x 9",
        "-r 192.168.0.3:80 -i -w 1 --tun-type gue --tun-port 6080 --tun-remcsum -y 4",
        "-r 192.168.0.4:80 -i -w 1 --tun-type gre --tun-csum",
        "-r 192.168.0.5:80 -i -w 1 --tun-type ipip",
    ]


def test_what_no_rule_can_say():
    # -S keeps ipvsadm 1.31's words; a plan's command leaves such a value out
    s = Service(protocol="tcp", address="10.0.0.1", port=80, scheduler="sh", flags=0x20)
    assert rules.service_options(s) == " -s sh"
    assert rules.service_options(s, save=True) == " -s sh -b "
    d = Destination(address="10.0.0.2", port=80, fwd_method=4)
    assert rules.dest_options(d) == " -g -w 1"
    assert rules.dest_options(d, save=True) == " (null) -w 1"
    d = Destination(address="10.0.0.2", port=80, fwd_method=2, tun_type=2, tun_flags=7)
    assert rules.dest_options(d) == " -i -w 1 --tun-type gre"
    assert rules.dest_options(d, save=True) == " -i -w 1 --tun-type gre ?"
    odd = Service(protocol=99, address="10.0.0.1", port=80)
    assert rules.service_spec(odd) == "--protocol-99 10.0.0.1:80"
    assert rules.service_spec(odd, save=True) == "--xxx-service 10.0.0.1:80"


def test_host_names_are_the_callers():
    named = lambda af, address, port, protocol: "host%d:%s" % (protocol, port)  # noqa: E731
    assert rules.service_spec(SERVICES[0], named) == "-t host6:80"
    assert rules.dest_spec(DESTS[0], 17, named) == "-r host17:80"


class _Parser(Runner):
    client = None  # model building only


def _parsed(words):
    r = _Parser("ipvsadm", io.StringIO(), io.StringIO(), None)
    ce = O.check_command(O.parse_options(["ipvsadm"] + words.split()))
    return ce, r


@pytest.mark.parametrize("svc", SERVICES)
def test_a_service_rule_parses_back_to_its_service(svc):
    ce, r = _parsed(rules.service_rule(svc))
    assert r.service(ce) == svc


@pytest.mark.parametrize("dest", DESTS)
def test_a_destination_command_parses_back_to_its_destination(dest):
    svc = SERVICES[0]
    op = Operation("add_destination", svc, dest)
    assert op.command() == rules.operation_command(op)
    ce, r = _parsed(op.command())
    assert (r.service(ce), r.destination(ce)) == (svc, dest)


def test_operation_commands():
    s, d = SERVICES[0], DESTS[0]
    assert [Operation(n, s).command() for n in ("add_service", "edit_service",
                                                "delete_service")] == [
        "-A -t 10.0.0.1:80 -s wlc", "-E -t 10.0.0.1:80 -s wlc", "-D -t 10.0.0.1:80"]
    assert [Operation(n, s, d).command() for n in ("add_destination", "edit_destination",
                                                   "delete_destination")] == [
        "-a -t 10.0.0.1:80 -r 192.168.0.1:80 -m -w 3",
        "-e -t 10.0.0.1:80 -r 192.168.0.1:80 -m -w 3",
        "-d -t 10.0.0.1:80 -r 192.168.0.1:80"]
    with pytest.raises(ValueError):
        rules.operation_command(Operation("flush", s))
    assert rules.timeouts_command(Timeouts(tcp=1, tcp_fin=2, udp=3)) == "--set 1 2 3"
    d = SyncDaemon(state="backup", mcast_ifn="eth1", syncid=4, mcast_group="224.0.0.82",
                   mcast_port=8849, mcast_ttl=2, sync_maxlen=1400)
    assert rules.daemon_command(d) == ("--start-daemon backup --mcast-interface eth1 --syncid 4"
                                       " --sync-maxlen 1400 --mcast-group 224.0.0.82"
                                       " --mcast-port 8849 --mcast-ttl 2")
    assert rules.daemon_command(d, start=False) == "--stop-daemon backup"


def test_sort_orders():
    a = Service(protocol="tcp", address="10.0.0.10", port=80)
    b = Service(protocol="tcp", address="10.0.0.9", port=81)
    m = Service(fwmark=1)
    v6 = Service(protocol="tcp", address="::1", port=1)
    assert sorted([m, a, v6, b], key=rules.service_sort_key) == [b, a, v6, m]
    d1 = Destination(address="10.0.0.2", port=8)
    d2 = Destination(address="10.0.0.10", port=7)
    table = rules.sorted_table([(m, [d2, d1]), (a, [d1])])
    assert table == [(a, [d1]), (m, [d1, d2])]
    assert rules.sorted_table([(m, [d2, d1])], sort_destinations=False) == [(m, [d2, d1])]
