# Differential tests: the same command sequences through the reference
# ipvsadm 1.31 and through ours, from the same empty state, on the VM's
# IPVS kernel. Exit status, stdout and stderr must match byte for byte, and
# the state each tool built is listed by the reference tool and compared.
import os

import pytest

from cli_harness import (compare_sequence, fast_failing_dns, reset, run_ours, run_reference,
                         run_script, split, without_saved_thresholds)

pytestmark = pytest.mark.skipif(not os.path.exists("/usr/sbin/ipvsadm"),
                                reason="needs the reference ipvsadm")

# A service with one destination of every kind, used by several sequences.
BASE = [
    "-A -t 10.1.1.1:80 -s rr",
    "-a -t 10.1.1.1:80 -r 10.0.0.1",
    "-a -t 10.1.1.1:80 -r 10.0.0.2:8080 -m -w 5 -x 100 -y 50",
    "-a -t 10.1.1.1:80 -r 10.0.0.3 -i",
    "-a -t 10.1.1.1:80 -r 10.0.0.4 -i --tun-type gue --tun-port 6080 --tun-csum",
    "-a -t 10.1.1.1:80 -r 10.0.0.5 -i --tun-type gre --tun-csum",
    "-a -t 10.1.1.1:80 -r 10.0.0.6 -i --tun-type gue --tun-port 7000 --tun-remcsum",
    "-a -t 10.1.1.1:80 -r 10.0.0.7 -i --tun-type gre",
    "-a -t 10.1.1.1:80 -r 10.0.0.13 -w 70000",
]

LISTINGS = [
    "", "-L", "-l", "-Ln", "-ln", "-L -n", "--list --numeric", "-Ln --stats", "-Ln --rate",
    "-Ln --thresholds", "-Ln --persistent-conn", "-Ln --tun-info", "-Ln --exact --stats",
    "-Ln --stats --exact --rate", "-Ln --sort", "-L --stats", "-Ln --nosort --sort",
    "-S", "-Sn", "-S -n", "--save", "-L -X --rate -n",
]

SEQUENCES = {
    # --- parse errors, help, version, bundles: no state needed
    "parse": [
        "-h", "--help", "-v", "--version", "-h --foo", "-v -L", "-L -h", "-nL", "-n",
        "-Q", "--foo", "-L --foo", "-L --foo=bar", "-L -Q", "-Lq", "-Lnq", "-A", "-A -t",
        "-A -t 1.2.3.4", "-A -t 1.2.3.4:80 -s", "-A -t 1.2.3.4:80 -L", "-L -A", "-LA",
        "-t 1.2.3.4:80", "foo", "foo -L", "-L foo", "-L foo bar", "-L -- -n", "-L -n -n",
        "-L -c --stats", "-L -c --timeout", "-L --timeout --persistent-conn",
        "-L --daemon --rate", "-L --timeout --daemon", "-L -t 1.2.3.4:80 -c",
        "-A -t 1.2.3.4:80 -p 99999999", "-A -t 1.2.3.4:80 -p foo", "-A -t 1.2.3.4:80 -p -5",
        "-A -t 1.2.3.4:80 -p -s rr -s wrr", "-A -t 1.2.3.9:0", "-A -t 1.2.3.10:53 -o",
        "-A -f 0", "-A -f -3", "-A -f 4294967296", "-A -f 1x", "-A -6 -f 13",
        "-A -t [2001:db8::1]", "-A -t 2001:db8::2", "-A -t [2001:db8::3]80",
        "-A -t [2001:db8::3", "-A -t 1.2.3.11:81 -b flag-9", "-A -t 1.2.3.11:82 -b sh-port",
        "-A -t 1.2.3.11:82 -s sh -b mh-port", "-A -t nosuchhost.invalid:80",
        "-A -t 1.2.3.12:nosuchsvc", "-A -t 1.2.3.12:65536", "-A -t 1.2.3.12:-1",
        "-A -t 1.2.3.12", "-A -t 80", "-A -t ''", "-A -u 1.2.3.12:80 -t 1.2.3.13:80",
        "-A -t 1.2.3.15:81 -p 20 -M 1.2.3.4.5", "-A -t 1.2.3.16:80 -s wrr -s rr",
        "-A -t 1.2.3.16:80 -r 1.1.1.1", "-A -t 1.2.3.16:80 -w 1", "-A -t 1.2.3.16:80 -c",
        "-A -t [2001:db8::1]:80 -M 0", "-A -t [2001:db8::1]:80 -M 129",
        "-a -t 1.2.3.11:80", "-a -t 1.2.3.11:80 -r 10.0.0.15 -m -g",
        "-a -t 1.2.3.11:80 -r 10.0.0.6 -i --tun-type gue",
        "-a -t 1.2.3.11:80 -r 10.0.0.7 -i --tun-type gre --tun-remcsum",
        "-a -t 1.2.3.11:80 -r 10.0.0.9 -i --tun-type gue --tun-port 1 --tun-csum --tun-nocsum",
        "-a -t 1.2.3.11:80 -r 10.0.0.10 -m --tun-type gre",
        "-a -t 1.2.3.11:80 -r 10.0.0.10 --tun-port 5",
        "-a -t 1.2.3.11:80 -r 10.0.0.11 -i --tun-type foo",
        "-a -t 1.2.3.11:80 -r 10.0.0.12 -i --tun-type ipip --tun-port 5",
        "-a -t 1.2.3.11:80 -r 10.0.0.12 -i --tun-type gue --tun-port 0",
        "-a -t 1.2.3.11:80 -r 10.0.0.13 -w -1", "-a -t 1.2.3.11:80 -r 10.0.0.13 -w 65536",
        "-a -t 1.2.3.11:80 -r 10.0.0.14 -x abc", "-a -t 1.2.3.11:80 -r 10.0.0.14 -y -2",
        "-a -t 1.2.3.11:80 -r [2001:db8::5]", "-a -t 1.2.3.11:80 -r [2001:db8::5]:80",
        "-a -t 1.2.3.11:80 -r 10.0.0.1 -s rr", "-a -t 1.2.3.11:80 -r bad..addr",
        "-d -t 1.2.3.11:80 -r 10.0.0.3 -w 3", "-d -t 1.2.3.11:80", "-D -t 1.2.3.99:80 -s rr",
        "-D", "-E", "-e -t 1.2.3.4:80", "-Z -r 1.1.1.1", "-C -n", "-C x", "-S -c", "-S -t 1.1.1.1:1",
        "-R -n", "--set", "--set 10 20", "--set 10 20 x", "--set 10 20 30 40",
        "--set -1 2 3", "--set 10 20 2678401", "--set 1 2 3 -n",
        "--start-daemon", "--start-daemon foo", "--stop-daemon foo",
        "--start-daemon master --syncid 256", "--start-daemon master --syncid x",
        "--start-daemon master --mcast-ttl 0", "--start-daemon master --mcast-ttl 256",
        "--start-daemon master --mcast-port 0", "--start-daemon master --sync-maxlen 65508",
        "--start-daemon master --mcast-group 1.2.3.4", "--start-daemon master --mcast-group ::1",
        "--start-daemon master --mcast-group bogus", "--start-daemon master -n",
        "--stop-daemon master --mcast-interface lo", "-L --start-daemon master",
        "-L --numeric=5", "-L -n=5", "-Lc --persistent-conn --stats",
        "-A -t 1.2.3.4:80 --scheduler", "--tcp-service 1.2.3.4:80 -A",
        "-A --tcp-service", "-A -t 1.2.3.4:80 -b ''", "-A -t 1.2.3.4:80 -s rr -b flag-1,nope",
    ],
    # --- services of every kind, then every listing variant
    "services": [
        "-A -t 1.2.3.4:80 -p=5", "-A -t 1.2.3.4:80 --persistent=5 -s rr",
        "-A -t1.2.3.5:80 -srr", "-A -t=1.2.3.6:80", "-A --tcp-service=1.2.3.7:80",
        "-A --tcp-service 1.2.3.8:http -p", "-A -t 1.2.3.9:0 -p 10 -M 255.255.255.0",
        "-A -u 1.2.3.10:53 -o", "-A -f 1 -o", "-A -f 12 -6 -p 60 -M 64",
        "-A -f 13 -6 -s rr", "-A -f 14 -p", "-A -f 15 -p 30 -M 255.255.0.0",
        "-A -t [::1]:80", "-A -t [2001:db8::1]:80 -s sh -b sh-port,sh-fallback",
        "-A -t [2001:db8::2]:443 -p 100 -M 64 -s wrr",
        "-A -t 1.2.3.11:80 -b flag-1", "-A -t 1.2.3.11:83 -s mh -b mh-port,mh-fallback",
        "-A -t 1.2.3.11:84 -s nosuch", "-A -t 1.2.3.11:85 --pe sip -p",
        "-A -u 1.2.3.11:5060 --pe sip -p 30", "-A -t 1.2.3.11:86 --pe nosuch -p",
        "-A -t 1.2.3.11:87 -s rr -b flag-1,flag-2,flag-3", "-A -t 1.2.3.11:88 -b flag-2 -s dh",
        "-A -t 1.2.3.11:80", "-A -t localhost:80", "-A -t localhost:https -s lc",
        "-A --sctp-service 1.2.3.13:80", "-A --sctp-service 1.2.3.13:81 -s lblc",
        "-A -t 1.2.3.14:80 -M 255.255.0.0", "-A -t 1.2.3.15:80 -p 20 -M 255.255.0.0 -s wrr",
        "-A -t 1.2.3.16:ssh -s sed", "-A -u 1.2.3.16:ntp -s nq", "-A -t 1.2.3.17:80 -s fo",
        "-A -t 1.2.3.17:81 -s ovf", "-A -t 1.2.3.17:82 -s lblcr", "-A -t 1.2.3.17:83 -s wlc",
        "-E -t 1.2.3.99:80", "-E -t 1.2.3.17:83 -s rr -p 100", "-E -t 1.2.3.17:83",
        "-E -f 13 -6 -s wrr -p 10", "-E -f 13 -s rr",
        "-D -t 1.2.3.99:80", "-D -t 1.2.3.17:82", "-D -f 14", "-D -f 14",
        "-Z -t 1.2.3.99:80", "-Z", "-Z -t 1.2.3.11:80", "-Z -f 1", "-Z -t 0.0.0.0:0",
    ] + LISTINGS + [
        "-L -t 1.2.3.11:80", "-Ln -t 1.2.3.11:80", "-Ln -t 1.2.3.99:80", "-Ln -f 12 -6",
        "-Ln -f 12", "-L -f 1 --stats", "-Ln -u 1.2.3.10:53 --rate --exact",
        "-L --tun-info -t 1.1.1.1:80", "-Ln -t [2001:db8::1]:80 --tun-info",
    ],
    # --- destinations of every kind
    "destinations": BASE + [
        "-a -t 10.1.1.1:80 -r 10.0.0.1", "-a -t 10.1.1.1:80 -r 10.0.0.13 -w 0",
        "-a -t 10.1.1.99:80 -r 10.0.0.15",
        "-A -f 1", "-a -f 1 -r 10.0.0.15", "-a -f 1 -r 10.0.0.16:99 -m",
        "-A -t [2001:db8::1]:80",
        "-a -t [2001:db8::1]:80 -r [2001:db8::10]:8080 -m",
        "-a -t [2001:db8::1]:80 -r 2001:db8::11 -m",
        "-a -t [2001:db8::1]:80 -r 10.0.0.20 -m",
        "-a -t [2001:db8::1]:80 -r 10.0.0.20 -i",
        "-a -t 10.1.1.1:80 -r [2001:db8::30]:80 -i",
        "-a -t 10.1.1.1:80 -r localhost -w 3 -x 7 -y 2",
        "-a -t 10.1.1.1:80 -r 10.0.0.40:http-alt -m",
        "-a -r 10.0.0.41 -t 10.1.1.1:80 -m",
        "-e -t 10.1.1.1:80 -r 10.0.0.99", "-e -t 10.1.1.1:80 -r 10.0.0.2:8080 -m -w 9",
        "-e -t 10.1.1.1:80 -r 10.0.0.1 -w 4 -x 1000", "-e -t 10.1.1.1:80 -r 10.0.0.3 -m",
        "-e -t 10.1.1.1:80 -r 10.0.0.4 -i --tun-type gue --tun-port 6081 --tun-nocsum",
        "-d -t 10.1.1.1:80 -r 10.0.0.99", "-d -t 10.1.1.1:80 -r 10.0.0.2",
        "-d -t 10.1.1.1:80 -r 10.0.0.2:8080", "-d -t 10.1.1.98:80 -r 10.0.0.2:8080",
        "-d -f 1 -r 10.0.0.15", "-d -f 1 -r 10.0.0.16:99",
    ] + LISTINGS + ["-L -t 10.1.1.1:80", "-Ln -t 10.1.1.1:80 --tun-info --nosort",
                    "-Ln -t 10.1.1.1:80 --persistent-conn", "-Ln -f 1"],
    # --- timeouts and daemons
    "timeouts": [
        "-L --timeout", "--set 10 20 30", "-L --timeout", "--set 0 0 0", "-L --timeout",
        "--set 0 5 0", "-Ln --timeout", "--set 1 1 1", "-L --timeout",
    ],
    "daemons": [
        "-L --daemon", "--start-daemon master --mcast-interface lo --syncid 5",
        "--start-daemon backup --mcast-interface lo --syncid 6 --sync-maxlen 1000 "
        "--mcast-group 224.0.0.99 --mcast-port 9000 --mcast-ttl 3",
        "--start-daemon master --mcast-interface lo", "-L --daemon", "-Ln --daemon",
        "--stop-daemon master", "--stop-daemon master", "--stop-daemon backup --syncid 3",
        "-L --daemon", "--start-daemon master --mcast-group ff02::1 --mcast-interface lo",
        "--start-daemon master --mcast-interface nosuchif", "--start-daemon master",
        "--start-daemon backup --mcast-interface=lo --syncid=0", "-L --daemon",
        "--stop-daemon backup",
    ],
    # --- restore: line by line, errors, exit status of the last line
    "restore": [
        "-R <<< -A -t 5.5.5.5:80\\n-a -t 5.5.5.5:80 -r 6.6.6.6\\n",
        "-R <<< -A -t 5.5.5.5:80\\n-A -t 5.5.5.6:80\\n",
        "-R <<< -A -t 5.5.5.7:80\\n-A -t 5.5.5.5:80\\n",
        "-R <<< \\n\\n-A  -t   5.5.5.9:80   -s \"rr\"\\n",
        "-R <<< -A -t 5.5.5.10:80 -Q\\n-A -t 5.5.5.11:80\\n",
        "-R <<< -A\\t-t\\t5.5.5.12:80\\r\\n",
        "-R <<< -R\\n", "-R <<< -L -n\\n", "-R <<< -A -t 5.5.5.14:80 'x y'\\n",
        "-R <<< -A -t 5.5.5.15:80 -s rr", "-R <<< -S -n\\n-Ln --stats\\n",
        "-R <<< -A -t 5.5.5.16:80\\n-a -t 5.5.5.16:80 -r 7.7.7.7 -w 99999\\n-A -t 5.5.5.17:80\\n",
        "-R <<< -Z\\n-C\\n-A -u 5.5.5.18:53\\n", "-R", "-R <<< \\n",
        "-R <<< -h\\n-A -t 5.5.5.19:80\\n", "-R <<< -v\\n",
        "-R <<< # comment\\n-A -t 5.5.5.8:80\\n",
        # plain lines (C writes their requests in bulk): failures, order, status
        "-R <<< -A -t 5.5.5.20:80 -s rr\\n-A -t 5.5.5.20:80 -s rr\\n"
        "-a -t 5.5.5.20:80 -r 7.7.7.7:80 -m -w 1\\n-a -t 5.5.5.21:80 -r 7.7.7.7:80 -g -w 1\\n"
        "-a -t 5.5.5.20:80 -r 7.7.7.7:80 -m -w 1\\n",
        "-R <<< -A -u 5.5.5.22:53 -s wlc\\n-Ln\\n-a -u 5.5.5.22:53 -r 7.7.7.8:53 -i -w 0\\n"
        "  -a -u 5.5.5.22:53 -r 7.7.7.9:5353 -m -w 2147483647 \\r\\n-Ln\\n",
        "-R <<< -A -t 5.5.5.23:80 -s abcdefghijklmno\\n-A -t 5.5.5.24:80 -s sed\\n",
        "-Ln",
    ],
}


@pytest.fixture(autouse=True)
def clean_state():
    fast_failing_dns()
    reset()
    yield
    reset()


@pytest.fixture(scope="module", autouse=True)
def timings():
    yield
    out = os.environ.get("IPVS_VM_OUT")
    if out and os.path.isdir(out):
        from cli_harness import write_timings
        write_timings(os.path.join(out, "cli-timings-%s.txt" % os.environ.get(
            "IPVS_PUREPYTHON", "0")))


@pytest.mark.parametrize("name", [
    # (argv parsing: the kernel answers few of its lines; one boot, CI time)
    pytest.param(n, marks=pytest.mark.one_kernel) if n == "parse" else n
    for n in sorted(SEQUENCES)])
def test_sequence_matches_reference(name):
    diffs = compare_sequence(SEQUENCES[name])
    assert not diffs, "\n".join(diffs)


def test_save_restores_what_it_saw():
    """-S output fed to -R (ours) rebuilds the same table (reference -Sn)."""
    reset()
    for cmd in BASE:
        assert run_reference(split(cmd)[0])[0] == 0
    saved = run_ours(["-S"])
    before = run_reference(["-Sn"])
    reset()
    assert run_ours(["-R"], saved[1])[0] == 0
    assert run_reference(["-Sn"]) == before


@pytest.mark.one_kernel  # the entry points, not the kernel
def test_console_scripts_are_the_same_program():
    """The installed entry points behave as the in-process main()."""
    cmds = ["-A -t 10.2.2.2:80", "-a -t 10.2.2.2:80 -r 10.0.0.1 -m", "-Ln",
            "-A -t 10.2.2.2:80", "-L --foo", "-nL", "-A -f 0", "-h"]
    results = {}
    for name, runner in (("ours", lambda a: run_script("ipvsadm", a)), ("ref", run_reference)):
        reset()
        results[name] = [runner(split(c)[0]) for c in cmds]
    assert results["ours"] == results["ref"]
    assert run_script("ipvsadm-save", ["-n"]) == run_reference(["-Sn"])
    ref_save = run_reference(["-S"])
    assert run_script("ipvsadm-save", []) == ref_save
    rc, out, err = run_script("ipvsadm-save", ["-x"])
    assert (rc, out) == (1, "") and "Script to save the IPVS table" in err
    # python -m ipvs
    import subprocess
    import sys
    p = subprocess.run([sys.executable, "-m", "ipvs", "-Sn"], capture_output=True, timeout=60)
    assert (p.returncode, p.stdout.decode()) == run_reference(["-Sn"])[:2]
    # ipvsadm-restore replaces the table
    rules = "-A -t 10.3.3.3:80 -s rr\n-a -t 10.3.3.3:80 -r 10.0.0.9 -m -w 2\n"
    assert run_script("ipvsadm-restore", [], "# a comment\n" + rules)[0] == 0
    assert run_reference(["-Sn"])[1] == (
        "-A -t 10.3.3.3:80 -s rr\n-a -t 10.3.3.3:80 -r 10.0.0.9:80 -m -w 2\n")


# --- intentional differences, asserted explicitly ---------------------------

def test_difference_fwmark_printed_unsigned():
    reset()
    run_reference(["-A", "-f", "4294967295"])
    run_reference(["-A", "-f", "2147483649"])
    assert run_reference(["-Sn"])[1] == "-A -f -2147483647 -s wlc\n-A -f -1 -s wlc\n"
    assert run_ours(["-Sn"])[1] == "-A -f 2147483649 -s wlc\n-A -f 4294967295 -s wlc\n"
    assert "FWM  4294967295 wlc\n" in run_ours(["-Ln"])[1]


def test_difference_sort_order_is_numeric():
    """ipvsadm subtracts unsigned addresses as int: 192.168/16 sorts before 10/8."""
    reset()
    for a in ("10.0.0.1:80", "192.168.0.1:80"):
        run_reference(["-A", "-t", a])
    ref = run_reference(["-Sn"])[1].splitlines()
    ours = run_ours(["-Sn"])[1].splitlines()
    assert ref == ["-A -t 192.168.0.1:80 -s wlc", "-A -t 10.0.0.1:80 -s wlc"]
    assert ours == ["-A -t 10.0.0.1:80 -s wlc", "-A -t 192.168.0.1:80 -s wlc"]


def test_difference_save_keeps_thresholds():
    reset()
    run_reference(["-A", "-t", "10.4.4.4:80"])
    run_reference(["-a", "-t", "10.4.4.4:80", "-r", "10.0.0.1", "-x", "100", "-y", "5"])
    assert run_reference(["-Sn"])[1].splitlines()[1] == "-a -t 10.4.4.4:80 -r 10.0.0.1:80 -g -w 1"
    line = run_ours(["-Sn"])[1].splitlines()[1]
    assert line == "-a -t 10.4.4.4:80 -r 10.0.0.1:80 -g -w 1 -x 100 -y 5"
    before = run_reference(["-Ln", "--thresholds"])
    saved = run_ours(["-Sn"])[1]
    reset()
    assert run_ours(["-R"], saved)[0] == 0
    assert run_reference(["-Ln", "--thresholds"]) == before


def test_difference_empty_sched_flags_do_not_crash():
    rc_ref = run_reference(["-A", "-t", "10.5.5.5:80", "-b", ","])[0]
    assert rc_ref < 0 or rc_ref >= 128  # the reference dies of SIGSEGV
    assert run_ours(["-A", "-t", "10.5.5.5:80", "-b", ","]) == (
        2, "", "invalid scheduler flag `,'\n")


def _many_services(n):
    """-R input for n services of every kind (IPv4 and IPv6, TCP, UDP, SCTP,
    firewall marks, persistence with a mask, one-packet, scheduler flags),
    each with 0-3 real servers of every forwarding method, tunnel type and
    threshold: more than the 64 services from which the dumps run on two
    sockets."""
    lines = []
    for i in range(n):
        kind = i % 8
        if kind == 0:
            spec, opts = "-t 10.8.%d.%d:80" % (i // 250, i % 250 + 1), "-s rr"
        elif kind == 1:
            spec, opts = "-u 10.8.%d.%d:53" % (i // 250, i % 250 + 1), "-s wlc -o"
        elif kind == 2:
            spec, opts = "-f %d" % (1000 + i), "-s rr"
        elif kind == 3:
            spec = "-t 10.9.%d.%d:443" % (i // 250, i % 250 + 1)
            opts = "-s wrr -p 600 -M 255.255.0.0"
        elif kind == 4:
            spec, opts = "-t [2001:db8:8::%x]:80" % (i + 1), "-s rr"
        elif kind == 5:
            spec, opts = "--sctp-service 10.7.%d.%d:9" % (i // 250, i % 250 + 1), "-s rr"
        elif kind == 6:
            spec, opts = "-t 10.6.%d.%d:80" % (i // 250, i % 250 + 1), "-s sh -b sh-port"
        else:
            spec, opts = "-f %d -6" % (5000 + i), "-s rr -p"
        lines.append("-A %s %s" % (spec, opts))
        v6 = kind in (4, 7)
        for k in range(i % 4):
            host = "2001:db8:9::%x:%x" % (i, k + 1) if v6 else "192.168.%d.%d" % (i % 250, k + 1)
            method = ("-m -w %d" % k, "-g -x 100 -y 10",
                      "-i --tun-type gue --tun-port %d --tun-csum" % (6000 + k),
                      "-i --tun-type gre")[(i + k) % 4]
            if not (kind == 2 or kind == 7 or "-g" in method):  # with a port
                host = ("[%s]:8%d" if v6 else "%s:8%d") % (host, k)
            lines.append("-a %s -r %s %s" % (spec, host, method))
    return "\n".join(lines) + "\n"


def test_many_services_list_as_the_reference():
    """A table of 150 services of every kind: every per-service listing
    (whose dumps run on two sockets from 64 services on, the lines written
    from the records) is the reference's, byte for byte."""
    import threading
    import ipvs
    from ipvs import _dumps_py
    rc, _, err = run_reference(["-R"], _many_services(150))
    assert rc == 0, err
    forks, beside = [], _dumps_py._beside
    for cmd in ("-Ln --stats", "-Ln --stats --exact", "-Ln --rate", "-Ln --thresholds",
                "-Ln --persistent-conn", "-Sn", "-Ln --tun-info", "-Ln"):
        _dumps_py._beside = lambda *a: forks.append(cmd) or beside(*a)
        try:
            ours = run_ours(cmd.split())
        finally:
            _dumps_py._beside = beside
        if cmd == "-Sn":  # ours keeps the thresholds (docs/differences.md)
            assert ours[1].count(" -x 100 -y 10\n") == _many_services(150).count("-x 100")
            ours = without_saved_thresholds(ours)
        assert ours == run_reference(cmd.split()), cmd
    # the twin ran each listing's second socket in a child process
    # (tests/test_lines.py holds that path to the one-socket listing)
    if ipvs.DECODER == "python" and threading.active_count() == 1:
        assert len(forks) >= 6, forks
    # the compact JSON (written from the records) is dumps() of the objects
    from ipvs.rules import sorted_table
    c = ipvs.Client()
    entries = c.entries()
    for cmd, opts in (("-Ln", {}), ("-Ln --stats", dict(stats=True)),
                      ("-Ln --rate", dict(rate=True, estimating=c.estimating())),
                      ("-Ln --nosort --stats", dict(stats=True))):
        want = ipvs.dumps(ipvs.to_json(entries if "--nosort" in cmd else sorted_table(entries),
                                       **opts))
        assert run_ours(cmd.split() + ["--json"]) == (0, want, ""), cmd
    assert run_script("ipvsadm", ["-Ln", "--json"]) == run_ours(["-Ln", "--json"])
