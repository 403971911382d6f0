# Host-side tests of the ipvsadm option grammar (no kernel needed): every
# expected text and status here was produced by the reference ipvsadm 1.31
# in the VM (see tests/kernel/test_cli_differential.py for the live check).
import io

import pytest

from ipvs.cli import _options as O
from ipvs.cli import _values as V
from ipvs.cli import main


def parse(line):
    return O.check_command(O.parse_options(["ipvsadm"] + line.split()))


def run(line, stdin=""):
    out, err = io.StringIO(), io.StringIO()
    rc = main(["ipvsadm"] + line.split(), out, err, io.StringIO(stdin))
    return rc, out.getvalue(), err.getvalue()


# (command line, exit status, stderr) - all fail before touching the kernel
ERRORS = [
    ("-nL", 255, "Try `ipvsadm -h' or 'ipvsadm --help' for more information.\n"),
    ("-Q", 255, "Try `ipvsadm -h' or 'ipvsadm --help' for more information.\n"),
    ("--foo", 255, "Try `ipvsadm -h' or 'ipvsadm --help' for more information.\n"),
    ("-t 1.2.3.4:80", 255, "Try `ipvsadm -h' or 'ipvsadm --help' for more information.\n"),
    ("-L --foo", 255, "--foo: unknown option\n"),
    ("-L -Q", 255, "-Q: unknown option\n"),
    ("-Lq", 255, "-Lq: unknown option\n"),
    ("-A -t", 255, "-t: missing argument\n"),
    ("-A -t 1.2.3.4:80 -s", 255, "-s: missing argument\n"),
    ("-A -t 1.2.3.4:80 -p -5", 255, "-5: unknown option\n"),
    ("-A", 2, "You need to supply the 'service-address' option for the 'add-service' command\n"),
    ("-A -t 1.2.3.4", 2, "Zero port specified for non-persistent service\n"),
    ("-A -t 1.2.3.4:80 -L", 2, "invalid option `-L'\n"),
    ("-L -A", 2, "invalid option `-A'\n"),
    ("-L foo", 2, "unexpected argument foo\n"),
    ("-L -- -n", 2, "unexpected argument -n\n"),
    ("-L -n -n", 2, "multiple 'numeric' options specified\n"),
    ("-L -c --stats", 2, "options conflicts in the list command\n"),
    ("-L -c --timeout", 2,
     "The option 'timeout' conflicts with the 'connection' option in the 'list' command\n"),
    ("-L --timeout --persistent-conn", 2, "options conflicts in the list command\n"),
    ("-A -t 1.2.3.4:80 -p 99999999", 2, "invalid timeout value `99999999' specified\n"),
    ("-A -t 1.2.3.4:80 -p foo", 2, "invalid timeout value `foo' specified\n"),
    ("-A -t 1.2.3.9:0", 2, "Zero port specified for non-persistent service\n"),
    ("-A -t 1.2.3.10:53 -o", 2, "One-Packet Scheduling is only for UDP virtual services\n"),
    ("-A -f 0", 2, "invalid fwmark value `0' specified\n"),
    ("-A -f -3", 2, "invalid fwmark value `-3' specified\n"),
    ("-A -f 4294967296", 2, "invalid fwmark value `4294967296' specified\n"),
    ("-A -6 -f 13", 2, "-6 used before -f\n\n"),
    ("-A -t [2001:db8::1]", 2, "illegal virtual server address[:port] specified\n"),
    ("-A -t 2001:db8::2", 2, "Zero port specified for non-persistent service\n"),
    ("-A -t [2001:db8::3]80", 2, "illegal virtual server address[:port] specified\n"),
    ("-A -t 1.2.3.11:81 -b flag-9", 2, "invalid scheduler flag `flag-9'\n"),
    ("-A -t 1.2.3.11:82 -b sh-port", 2, "incompatible scheduler flag `sh-port'\n"),
    ("-A -t nosuchhost.invalid:80", 2, "illegal virtual server address[:port] specified\n"),
    ("-A -t 1.2.3.12:65536", 2, "illegal virtual server address[:port] specified\n"),
    ("-A -t 1.2.3.12:-1", 2, "illegal virtual server address[:port] specified\n"),
    ("-A -t 1.2.3.15:81 -p 20 -M 1.2.3.4.5", 2,
     "illegal virtual server persistent mask specified\n"),
    ("-A -t 1.2.3.16:80 -p 20 -M 255.0.0.0 -s wrr -s rr", 2,
     "multiple 'scheduler' options specified\n"),
    ("-A -t 1.2.3.16:80 -r 1.1.1.1", 2,
     "Illegal 'real-server' option with the 'add-service' command\n"),
    ("-a -t 1.2.3.11:80 -r 10.0.0.6 -i --tun-type gue", 2,
     "You need to supply the 'tun-port' option for the 'gue' tunnel type\n"),
    ("-a -t 1.2.3.11:80 -r 10.0.0.7 -i --tun-type gre --tun-remcsum", 2,
     "Illegal 'tun-remcsum' option with the 'gre' tunnel type\n"),
    ("-a -t 1.2.3.11:80 -r 10.0.0.9 -i --tun-type gue --tun-port 1 --tun-csum --tun-nocsum", 2,
     "The option 'tun-csum' conflicts with the 'tun-nocsum' option in the 'gue' tunnel type\n"),
    ("-a -t 1.2.3.11:80 -r 10.0.0.10 -m --tun-type gre", 2,
     "Tunnel options conflict with forward method\n"),
    ("-a -t 1.2.3.11:80 -r 10.0.0.11 -i --tun-type foo", 2, "illegal tunnel type specified\n"),
    ("-a -t 1.2.3.11:80 -r 10.0.0.12 -i --tun-type ipip --tun-port 5", 2,
     "Illegal 'tun-port' option with the 'ipip' tunnel type\n"),
    ("-a -t 1.2.3.11:80 -r 10.0.0.13 -w -1", 2, "illegal weight specified\n"),
    ("-a -t 1.2.3.11:80 -r 10.0.0.14 -x abc", 2, "illegal u_threshold specified\n"),
    ("-a -t 1.2.3.11:80 -r [2001:db8::5]", 2, "illegal real server address[:port] specified\n"),
    ("-a -t 1.2.3.11:80", 2,
     "You need to supply the 'real-server' option for the 'add-server' command\n"),
    ("-a -t 1.2.3.11:80 -r 10.0.0.15 -m -g", 2, "multiple 'forwarding-method' options specified\n"),
    ("-d -t 1.2.3.11:80 -r 10.0.0.3 -w 3", 2,
     "Illegal 'weight' option with the 'delete-server' command\n"),
    ("-D -t 1.2.3.99:80 -s rr", 2, "Illegal 'scheduler' option with the 'delete-service' command\n"),
    ("-S -c", 2, "Illegal 'connection' option with the 'save' command\n"),
    ("--set 10 20", 2, "--set option requires 3 timeout values\n"),
    ("--set 10 20 x", 2, "invalid timeout value `x' specified\n"),
    ("--set 10 20 30 40", 2, "unexpected argument 40\n"),
    ("--start-daemon foo", 2, "illegal start-daemon parameter specified\n"),
    ("--stop-daemon foo", 2, "illegal start_daemon specified\n"),
    ("--start-daemon master --mcast-group 1.2.3.4", 2, "invalid IPv4 mcast-group `1.2.3.4'\n"),
    ("--start-daemon master --syncid 256", 2, "illegal syncid specified\n"),
    ("--start-daemon master --mcast-ttl 0", 2, "illegal mcast-ttl specified\n"),
    ("-R -n", 2, "Illegal 'numeric' option with the 'restore' command\n"),
    ("-C -n", 2, "Illegal 'numeric' option with the 'flush' command\n"),
]


@pytest.mark.parametrize("line,status,err", ERRORS)
def test_errors_match_reference(line, status, err):
    assert run(line) == (status, "", err)


def test_help_and_version_need_no_kernel():
    rc, out, err = run("-h")
    assert rc == 0 and err == ""
    assert out.startswith("ipvsadm v1.31 2019/12/24 (compiled with popt and IPVS v1.2.1)\nUsage:\n")
    assert "  --mcast-ttl ttl                     Multicast TTL (default=1)\n" in out
    assert run("--help") == (0, out, "")
    assert run("-h --foo") == (0, out, "")
    assert run("-v") == (0, "ipvsadm v1.31 2019/12/24 (compiled with popt and IPVS v1.2.1)\n", "")


def test_bundles_and_attached_arguments():
    ce = parse("-A -t1.2.3.5:80 -srr")
    assert (ce.cmd, ce.sched_name, ce.port, bytes(ce.addr)) == (
        O.CMD_ADD, "rr", 80, b"\x01\x02\x03\x05")
    ce = parse("-A -t=1.2.3.6:80 -p=5")
    assert (ce.port, ce.timeout, ce.flags & 1) == (80, 5, 1)
    ce = parse("-Lnc")
    assert ce.cmd == O.CMD_LIST and ce.has(O.O_NUMERIC) and ce.has(O.O_CONNECTION)
    ce = parse("--list --numeric --exact --stats")
    assert ce.format & O.FMT_EXACT and ce.format & O.FMT_STATS


def test_optional_persistent_timeout():
    assert parse("-A -t 1.2.3.4:80 -p").timeout == 360
    assert parse("-A -t 1.2.3.4:80 -p 20").timeout == 20
    assert parse("-A -t 1.2.3.4:80 -p -s rr").timeout == 360
    assert parse("-A -t 1.2.3.4:80 --persistent=7").timeout == 7


def test_addresses():
    ce = parse("-A -t [2001:db8::1]:443 -s sh -b sh-port,sh-fallback")
    assert (ce.af, ce.port, ce.netmask, ce.flags) == (10, 443, 128, 0x18)
    ce = parse("-A -u 1.2.3.4:domain")
    assert ce.port == 53
    ce = parse("-A -t 1.2.3.4:0 -p 10 -M 255.255.255.0")
    assert ce.netmask.to_bytes(4, "little") == b"\xff\xff\xff\x00"
    ce = parse("-A -f 12 -6 -p 60 -M 64")
    assert (ce.fwmark, ce.af, ce.netmask) == (12, 10, 64)
    # ipvsadm loses a bracketed IPv4 port: [1.2.3.4]:80 is 1.2.3.4 port 0
    ce = O.parse_options(["ipvsadm", "-A", "-t", "[1.2.3.4]:80"])
    assert ce.port == 0


def test_destination_port_rules():
    # direct routing and tunnels use the service port; masquerading keeps its own
    assert parse("-a -t 1.1.1.1:80 -r 2.2.2.2:8080").d_port == 80
    assert parse("-a -t 1.1.1.1:80 -r 2.2.2.2:8080 -m").d_port == 8080
    assert parse("-a -t 1.1.1.1:80 -r 2.2.2.2 -m").d_port == 80
    assert parse("-a -f 3 -r 2.2.2.2:99").d_port == 99
    ce = parse("-a -t 1.1.1.1:80 -r 2.2.2.2 -i --tun-type gue --tun-port 6080 --tun-remcsum")
    assert (ce.fwd_method, ce.tun_type, ce.tun_port, ce.tun_flags) == (2, 1, 6080, 2)


def test_string_to_number_is_strtol():
    assert V.string_to_number(" 42", 0, 100) == 42
    assert V.string_to_number("+42", 0, 100) == 42
    assert V.string_to_number("42 ", 0, 100) == -1
    assert V.string_to_number("", 0, 100) == -1
    assert V.string_to_number("0x10", 0, 100) == -1
    assert V.string_to_number("99999999999999999999", 0, 100) == -1


def test_empty_sched_flags_is_an_error_not_a_crash():
    assert run("-A -t 1.1.1.1:80 -b ,") == (2, "", "invalid scheduler flag `,'\n")


def test_never_a_traceback_on_odd_input():
    for line in ["-A -t \udcff:80", "-A -s \udcff\udcfe -t 1.1.1.1:80 -b flag-1,\udcff",
                 "-a -t 1.1.1.1:80 -r [", "-L --tun-type", "-e -t [::1]:1 -r [::2]:x",
                 "--start-daemon master --mcast-interface " + "x" * 100]:
        rc, out, err = run(line)
        assert "Traceback" not in err and rc in (1, 2, 255), (line, rc, err)


def test_closed_pipe_is_quiet():
    import subprocess
    import sys
    p = subprocess.run(["sh", "-c", '"%s" -m ipvs -h | head -c 10' % sys.executable],
                       capture_output=True, timeout=60)
    assert p.stdout == b"ipvsadm v1" and b"Traceback" not in p.stderr
