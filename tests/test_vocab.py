# The vocabulary (ipvs.vocab): every spelling of a number leads back to it,
# the numbers are the kernel's, and nothing else in the package declares
# them again.
import ast
import os
import subprocess
import sys

import pytest

from ipvs import vocab as V

# the package under test, a checkout's or an installed one (an sdist's tests
# run against the installed package)
SRC = os.path.dirname(os.path.abspath(V.__file__))


def test_protocol_spellings_round_trip():
    for number, name, label, (letter, word) in V.PROTOCOL_ROWS:
        assert V.PROTOCOLS[V.PROTOCOL_NAMES[number]] == number == V.PROTOCOLS[name]
        assert V.PROTOCOL_BY_LABEL[V.PROTOCOL_LABELS[number]] == number
        assert V.PROTOCOL_BY_OPTION[word] == number
        assert V.PROTOCOL_OPTIONS[number] == ("-" + letter if letter else "--" + word)
    assert (V.IPPROTO_TCP, V.IPPROTO_UDP, V.IPPROTO_SCTP) == (6, 17, 132)
    assert V.PROTOCOL_OPTIONS == {6: "-t", 17: "-u", 132: "--sctp-service"}


def test_forwarding_spellings_round_trip():
    for number, name, label, option in V.FORWARDING_ROWS:
        assert V.FORWARDING[V.FORWARDING_NAMES[number]] == number
        assert V.FORWARDING_LABELS.get(number) == label
        assert V.FORWARDING_OPTIONS.get(number) == option
    # each of ipvsadm's switches writes back as itself
    for letter, word, method in V.FORWARDING_SWITCHES:
        assert V.FORWARDING_OPTIONS[method] == "-" + letter
    assert (V.FWD_MASQ, V.FWD_LOCAL, V.FWD_TUNNEL, V.FWD_ROUTE, V.FWD_BYPASS) == (0, 1, 2, 3, 4)
    assert all(n & V.FWD_MASK == n for n in V.FORWARDING_NAMES)


def test_tunnel_spellings_round_trip():
    for name, number in V.TUNNEL_TYPES.items():
        assert V.TUNNEL_TYPE_NAMES[number] == name
    assert (V.TUN_IPIP, V.TUN_GUE, V.TUN_GRE) == tuple(V.TUNNEL_TYPES[n] for n in
                                                       ("ipip", "gue", "gre"))
    for number, (name, option, label) in enumerate(zip(
            V.TUNNEL_FLAG_NAMES, V.TUNNEL_FLAG_OPTIONS, V.TUNNEL_FLAG_LABELS)):
        assert option == "--tun-" + name and label
    assert (V.TUN_F_NOCSUM, V.TUN_F_CSUM, V.TUN_F_REMCSUM) == (0, 1, 2)


def test_daemon_states_round_trip():
    for name, number in V.DAEMON_STATES.items():
        assert V.DAEMON_STATE_NAMES[number] == name
    assert (V.DAEMON_MASTER, V.DAEMON_BACKUP) == (1, 2)


def test_sched_flag_words_round_trip():
    for word, (bit, needs) in V.SCHED_FLAG_WORDS.items():
        scheduler = needs or "wlc"
        assert V.sched_flag_names(scheduler, bit) == [word]
    assert V.SVC_F_SCHED_ANY == 0x38
    assert V.sched_flag_names("sh", 0x38) == ["sh-fallback", "sh-port"]
    assert V.sched_flag_names("sh", 0x38, generic_rest=True) == ["sh-fallback", "sh-port",
                                                                 "flag-3"]
    assert V.sched_flag_names("rr", 0x30) == ["flag-2", "flag-3"]


def test_the_numbers_are_the_kernels():
    # /usr/include/linux/ip_vs.h, where the build machine has it
    path = "/usr/include/linux/ip_vs.h"
    if not os.path.exists(path):
        pytest.skip("no linux/ip_vs.h here")
    text = open(path).read()
    for macro, value in (("IP_VS_SVC_F_PERSISTENT", V.SVC_F_PERSISTENT),
                         ("IP_VS_SVC_F_HASHED", V.SVC_F_HASHED),
                         ("IP_VS_SVC_F_ONEPACKET", V.SVC_F_ONEPACKET),
                         ("IP_VS_SVC_F_SCHED1", V.SVC_F_SCHED1),
                         ("IP_VS_SVC_F_SCHED2", V.SVC_F_SCHED2),
                         ("IP_VS_SVC_F_SCHED3", V.SVC_F_SCHED3),
                         ("IP_VS_CONN_F_MASQ", V.FWD_MASQ), ("IP_VS_CONN_F_LOCALNODE", V.FWD_LOCAL),
                         ("IP_VS_CONN_F_TUNNEL", V.FWD_TUNNEL),
                         ("IP_VS_CONN_F_DROUTE", V.FWD_ROUTE),
                         ("IP_VS_CONN_F_BYPASS", V.FWD_BYPASS),
                         ("IP_VS_CONN_F_FWD_MASK", V.FWD_MASK),
                         ("IP_VS_STATE_MASTER", V.DAEMON_MASTER),
                         ("IP_VS_STATE_BACKUP", V.DAEMON_BACKUP)):
        line = next(l for l in text.splitlines() if l.startswith("#define %s\t" % macro)
                    or l.startswith("#define %s " % macro))
        assert int(line.split()[2], 0) == value, macro


def test_it_imports_nothing():
    tree = ast.parse(open(V.__file__).read())
    assert not [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
    out = subprocess.run([sys.executable, "-c", "import sys; before = set(sys.modules)\n"
                          "import ipvs.vocab\n"
                          "print(' '.join(sorted(set(sys.modules) - before)))"],
                         capture_output=True, text=True, check=True).stdout.split()
    assert sorted(out) == ["ipvs", "ipvs.vocab"]


# name tables written out elsewhere again: a dict or tuple literal with two of
# these spellings in it is a second declaration
_SPELLINGS = {"masq", "tunnel", "Masq", "Tunnel", "ipip", "gue", "gre", "nocsum", "remcsum",
              "sh-fallback", "mh-port", "flag-1", "TCP", "UDP", "SCTP", "master", "backup",
              "--tun-csum", "--sctp-service"}


def test_no_other_module_declares_a_name_table():
    offenders = []
    for root, _, files in os.walk(SRC):
        for f in files:
            path = os.path.join(root, f)
            if not f.endswith(".py") or path == os.path.abspath(V.__file__) or f == "_usage.py":
                continue
            for node in ast.walk(ast.parse(open(path).read())):
                if isinstance(node, (ast.Dict, ast.Tuple, ast.List, ast.Set)):
                    items = node.keys if isinstance(node, ast.Dict) else node.elts
                    if isinstance(node, ast.Dict):
                        items = list(items) + list(node.values)
                    words = {n.value for n in items if isinstance(n, ast.Constant)
                             and isinstance(n.value, str)}
                    if len(words & _SPELLINGS) >= 2:
                        offenders.append("%s:%d" % (os.path.relpath(path, SRC), node.lineno))
    assert not offenders
