"""Kernel status (ipvs._status, `ipvsadm --status`): the parser of
/proc/net/ip_vs_status and the sysctls, on the text a 7.3.4 kernel wrote
(tests/data/status, captured in the VM) and on what 6.1 has (no file)."""
import io
import json
import os

import pytest

from ipvs import _status
from ipvs._json import dumps, to_json
from ipvs._model import Destination, Service, Stats
from ipvs.cli import main
from ipvs.cli._statusview import status_text

DATA = os.path.join(os.path.dirname(__file__), "data", "status")


def kernel_73_text():
    with open(os.path.join(DATA, "ip_vs_status-7.3.txt")) as f:
        return f.read()


def test_parse_status_of_a_73_kernel():
    t = _status.parse_status(kernel_73_text())
    assert t == {
        "conns": 0, "conn_buckets": 256, "conn_buckets_bits": 8, "conn_buckets_lfactor": -4,
        "services": 6, "service_buckets": 64, "service_buckets_bits": 6,
        "service_buckets_lfactor": -3, "service_buckets_empty": 58,
        "service_buckets_empty_percent": 90, "service_buckets_len_1": 6,
        "service_buckets_len_1_percent": 100, "stats_thread_slots": 1,
        "stats_thread_slots_max": 8, "stats_chain_max_len": 67, "stats_thread_ests": 160800}


@pytest.mark.parametrize("line", [
    "", "no colon here", "Label:", "Label:\tsome words", ":\t5", "Label:\t5 (", "Label:\t(5)",
    "Label:\t5 (odd detail shape here)", "Label:\t5 (%)", "Label:\t5 (x%)", "\x00:\x00",
])
def test_parse_status_skips_what_it_does_not_know(line):
    got = _status.parse_status(line + "\nConns:\t7\n")
    assert got["conns"] == 7
    assert all(isinstance(v, int) for v in got.values())
    assert set(got) <= {"conns", "label"}


def test_parse_sysctl():
    assert _status.parse_sysctl("1\n") == 1
    assert _status.parse_sysctl("-4\n") == -4
    assert _status.parse_sysctl("0-1\n") == "0-1"
    assert _status.parse_sysctl("4096\t32768\n") == "4096 32768"


def test_status_of_a_61_kernel_has_no_tables_and_estimates():
    st = _status.make_status(version="1.2.1", conn_tab_size=4096, status_text=None,
                             sysctls={"conn_reuse_mode": "1\n", "drop_entry": "0\n"})
    assert st.tables == {} and st.status_text == ""
    assert st.estimating  # no run_estimation sysctl: the kernel always estimates
    assert st.sysctls == {"conn_reuse_mode": 1, "drop_entry": 0}
    doc = to_json(st)
    assert "tables" not in doc and doc["estimating"] is True
    text = status_text(st)
    assert "Kernel status" not in text
    assert text.splitlines()[:2] == ["IP Virtual Server version 1.2.1 (size=4096)",
                                     "Rate estimation: on"]


def test_status_with_estimation_off():
    st = _status.make_status(version="1.2.1", conn_tab_size=256,
                             status_text=kernel_73_text(),
                             sysctls={"run_estimation": "0\n", "est_cpulist": "0-1\n"})
    assert st.estimating is False
    assert st.tables["conn_buckets"] == 256
    text = status_text(st)
    assert "Rate estimation: off (net.ipv4.vs.run_estimation = 0)" in text
    assert "  Conn buckets: 256 (8 bits, lfactor -4)\n" in text
    assert "  est_cpulist    = 0-1\n" in text
    doc = json.loads(dumps([to_json(st)]))
    assert doc == [{"version": "1.2.1", "conn_tab_size": 256, "estimating": False,
                    "tables": _status.parse_status(kernel_73_text()),
                    "sysctls": {"est_cpulist": "0-1", "run_estimation": 0}}]
    for v in (1, 2):  # anything but 0 is on
        assert _status.make_status(version="", conn_tab_size=0, status_text=None,
                                   sysctls={"run_estimation": "%d\n" % v}).estimating


def test_rates_in_json_say_when_the_kernel_does_not_estimate():
    svc = Service(address="10.0.0.1", port=80, stats=Stats(cps=0))
    d = Destination(address="10.0.0.2", port=80, stats=Stats())
    on = to_json([(svc, [d])], rate=True)
    assert on[0]["rate"] == {"cps": 0, "inpps": 0, "outpps": 0, "inbps": 0, "outbps": 0}
    off = to_json([(svc, [d])], rate=True, estimating=False)
    assert off[0]["rate"] == {"estimating": False}
    assert off[0]["destinations"][0]["rate"] == {"estimating": False}
    assert "rate" not in to_json([(svc, [d])], estimating=False)[0]


def test_read_sysctls(tmp_path):
    (tmp_path / "a").write_text("1\n")
    (tmp_path / "b").write_text("0-1\n")
    (tmp_path / "sub").mkdir()  # not a file: left out
    assert _status.read_sysctls(directory=str(tmp_path)) == {"a": "1\n", "b": "0-1\n"}
    assert _status.read_sysctls(["b", "missing"], directory=str(tmp_path)) == {"b": "0-1\n"}
    assert _status.read_sysctls(directory=str(tmp_path / "none")) == {}


@pytest.mark.parametrize("args", [["--status", "-L"], ["--status", "-n"],
                                  ["--status", "--apply", "x"], ["-L", "--status"]])
def test_status_takes_no_other_command(args):
    out, err = io.StringIO(), io.StringIO()
    assert main(["ipvsadm"] + args, out, err, io.StringIO()) == 2
    assert out.getvalue() == ""
    assert err.getvalue() == ("--status takes no other command or option (only --json, "
                              "--pretty, --netns)\n")


def test_status_and_rate_json_follow_the_documented_keys():
    from jsonkeys import validate, validate_document
    st = _status.make_status(version="1.2.1", conn_tab_size=256, status_text=kernel_73_text(),
                             sysctls={"run_estimation": "0\n", "est_cpulist": "0-1\n"})
    validate_document([to_json(st)], "status")
    svc = Service(address="10.0.0.1", port=80)
    d = Destination(address="10.0.0.2", port=80)
    for estimating in (True, False):
        validate_document(to_json([(svc, [d])], rate=True, estimating=estimating), "service")
