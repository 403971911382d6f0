"""The input of --apply and -R --atomic on the host (the in-memory kernel
of test_cli_beyond): input cut short, size limits, what --apply FILE may
open and what its messages may show. The real kernel:
tests/kernel/test_input.py."""
import os

import pytest

from ipvs.cli import _ruleinput

from test_cli_beyond import RULES, kernel, run  # noqa: F401 (the fixture)

SECRET = "s3cr3tXq"
# lines a file may hold that are no ipvsadm rules, each with a secret
# (a word in the place of a scheduler or engine name is read as one, and
# the kernel's refusal of the rule names it)
HOSTILE = [
    "root:$6$%s$hash:19000:0:99999:7:::" % SECRET,
    "PATH=/%s\0HOME=/root" % SECRET,
    "-A -t 10.0.0.1:80 -s rr %s" % SECRET,
    "-A -t 10.0.0.1:80 --%s" % SECRET,
    "-A -t 10.0.0.1:80 -b %s" % SECRET,
    "-A -t 10.0.0.1:80 --timeout=%s" % SECRET,
    "-A -t %s:80" % SECRET,
    "-A -f %s" % SECRET,
    "-A -t 10.0.0.1:80 -p %s" % SECRET,
    "-a -t 10.0.0.1:80 -r 1.2.3.4 -w %s" % SECRET,
    "-%s" % SECRET,
    "%s -A -t 10.0.0.1:80" % SECRET,
    "-A -t 10.0.0.1:80 -M %s" % SECRET,
    "-a -t 10.0.0.1:80 -r 1.2.3.4 -x %s" % SECRET,
    "--start-daemon master --mcast-group %s" % SECRET,
]


@pytest.mark.parametrize("line", HOSTILE)
def test_apply_file_messages_quote_nothing_the_file_holds(kernel, tmp_path, line):  # noqa: F811
    p = tmp_path / "f"
    p.write_text("-A -t 10.0.0.9:80 -s rr\n" + line + "\n", errors="surrogateescape")
    before = kernel.table()
    status, out, err = run(["--apply", str(p)])
    assert status == 1 and err.startswith("ipvsadm: line 2: "), err
    assert SECRET not in err and SECRET not in out, err
    assert kernel.table() == before
    # standard input keeps the messages that name the line
    status, _, err2 = run(["--apply"], "-A -t 10.0.0.9:80 -s rr\n" + line + "\n")
    assert status == 1 and err2.startswith("ipvsadm: line 2: ")


def test_apply_file_names_a_twice_given_rule_as_recognised(kernel, tmp_path):  # noqa: F811
    p = tmp_path / "f"
    p.write_text("-A -t 10.0.0.1:80\n-a -t 10.0.0.1:80 -r 1.1.1.1:80 -w 2\n"
                 "-a  -t 10.0.0.1:80 -r 1.1.1.1:80\n")
    status, _, err = run(["--apply", str(p)])
    assert (status, err) == (1, "ipvsadm: line 3: destination given twice (first on line 2): "
                                "-a -t 10.0.0.1:80 -r 1.1.1.1:80 -g -w 1\n")


@pytest.mark.parametrize("args", [["--apply"], ["-R", "--atomic"]])
def test_input_cut_short_is_refused_before_any_change(kernel, args, tmp_path):  # noqa: F811
    before = kernel.table()
    cut = RULES[:RULES.index("-w 3") + len("-w ")]  # "-w 3" cut to "-w "
    for text in (cut, RULES.rstrip("\n")):
        status, out, err = run(args, text)
        n = text.count("\n") + 1
        what = "nothing changed" if args == ["--apply"] else "nothing restored"
        assert (status, out) == (1, "")
        assert err == "ipvsadm: line %d: no newline at its end: the input looks cut short; " \
                      "%s\n" % (n, what), err
        assert kernel.table() == before
    if args == ["--apply"]:
        p = tmp_path / "rules"
        p.write_text(RULES.rstrip("\n"))
        assert run(["--apply", str(p)])[0] == 1 and kernel.table() == before
    assert run(args, RULES) == (0, "", "")


@pytest.mark.parametrize("args", [["--apply"], ["-R", "--atomic"]])
def test_lines_and_inputs_have_limits(kernel, args, monkeypatch):  # noqa: F811
    status, _, err = run(args, "-A -t 10.0.0.1:80 " + "x" * _ruleinput.MAX_LINE + "\n")
    assert status == 1 and err.startswith("ipvsadm: line 1: longer than 65536 characters; ")
    monkeypatch.setattr(_ruleinput, "MAX_INPUT", 1000)
    status, _, err = run(args, "\n" * 1500)
    assert status == 1 and err.startswith("ipvsadm: line 1001: the input is longer than "), err
    assert kernel.table() == []


def test_apply_opens_only_regular_files_and_pipes(kernel, tmp_path):  # noqa: F811
    for name in ("/dev/zero", "/dev/null", str(tmp_path)):
        status, out, err = run(["--apply", name])
        assert (status, out, err) == (1, "", "ipvsadm: cannot read %s: not a regular file "
                                             "or a pipe\n" % name)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    pid = os.fork()
    if pid == 0:  # the writer of the pipe
        try:
            with open(fifo, "w") as f:
                f.write(RULES)
        finally:
            os._exit(0)
    try:
        assert run(["--apply", str(fifo)]) == (0, "", "")
    finally:
        os.waitpid(pid, 0)
    assert len(kernel.table()) == 3
