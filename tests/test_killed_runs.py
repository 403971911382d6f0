"""A run killed before its end (SIGKILL cannot be held): the journal it
leaves beside the writers' lock, what the next writer says, --recover and
--recover=forget, on the host against the in-memory kernel; the journal
file's format and its reader on their own. The real kernel, with real
SIGKILLs: tests/kernel/test_killed_runs.py."""
import errno
import json
import os

import pytest

from ipvs import Destination, Service
from ipvs._journal import Journal
from ipvs._journalfile import JournalFile, read_killed, start_time

from test_cli_beyond import LOCK_DIR, kernel, run  # noqa: F401 (kernel: a fixture)

START = ["-A -t 10.0.0.1:80 -s rr", "-a -t 10.0.0.1:80 -r 192.168.0.1:80 -m -w 5",
         "-a -t 10.0.0.1:80 -r 192.168.0.2:80 -m -w 5", "-A -t 10.0.0.2:80 -s wlc"]
TARGET = ["-A -t 10.0.0.1:80 -s rr", "-a -t 10.0.0.1:80 -r 192.168.0.1:80 -m -w 9",
          "-A -t 10.0.0.3:80 -s rr", "-a -t 10.0.0.3:80 -r 192.168.0.3:80 -m -w 1",
          "-a -t 10.0.0.3:80 -r 192.168.0.4:80 -m -w 1"]


JOURNAL = os.path.join(LOCK_DIR, "net-%d.journal" % os.stat("/proc/self/ns/net").st_ino)


@pytest.fixture(autouse=True)
def no_journal_left():
    yield
    if os.path.exists(JOURNAL):
        os.unlink(JOURNAL)


def rules(lines):
    return "\n".join(lines) + "\n"


def saved(kernel):
    status, out, err = run(["-Sn"])
    assert (status, err) == (0, "")
    return sorted(out.splitlines())


def killed_apply(kernel, target, answered, in_doubt=False):
    """What `ipvsadm --apply` leaves when SIGKILL ends it after `answered`
    operations (and, with in_doubt, while the next one was sent: the
    kernel did it, its answer never came): the lock goes with the process,
    the journal stays."""
    from ipvs.cli._beyond import BeyondRunner
    from ipvs.cli._extras import Extras
    x = Extras()
    x.apply = "-"
    import io
    runner = BeyondRunner("ipvsadm", io.StringIO(), io.StringIO(), io.StringIO(rules(target)), x)
    ops = kernel.plan(runner.read_rules())
    lock = kernel.writer_lock()
    record = lock.journal("--apply")
    record.begin(len(ops))
    journal = Journal(kernel, record)
    for op in ops[:answered]:
        journal.run(op.batch_args())
    if in_doubt:  # the kernel does it, the process dies before the answer
        op = ops[answered].batch_args()
        real = getattr(kernel, op[0])

        def done_then_killed(*args):
            real(*args)
            raise RuntimeError("killed")
        setattr(kernel, op[0], done_then_killed)
        with pytest.raises(RuntimeError):
            journal.run(op)
        delattr(kernel, op[0])
    os.close(record._fd)  # the process's end: no finish(), no release()
    lock._fd, fd = -1, lock._fd
    os.close(fd)
    return lock, len(ops)


def test_the_next_writer_refuses_and_recover_puts_the_table_back(kernel):
    assert run(["-R"], rules(START))[0] == 0
    before = saved(kernel)
    lock, total = killed_apply(kernel, TARGET, 3, in_doubt=True)
    assert saved(kernel) != before
    said = ("ipvsadm: an earlier ipvsadm --apply (pid %d) was killed after 3 of %d operations; "
            "the table holds its changes: ipvsadm --recover undoes them, ipvsadm "
            "--recover=forget keeps them\n" % (os.getpid(), total))
    assert run(["--apply"], rules(TARGET)) == (5, "", said)
    assert run(["-R", "--atomic"], rules(TARGET)) == (5, "", said)
    assert run(["-A", "-t", "10.0.0.5:80"]) == (0, "", "")  # 1.31's commands: as ever
    assert run(["-D", "-t", "10.0.0.5:80"]) == (0, "", "")
    assert run(["--apply", "--dry-run"], rules(TARGET))[0] == 0  # reads only
    status, out, err = run(["--recover"])
    assert (status, err) == (0, "")
    assert out == ("ipvsadm: undone the changes of an earlier ipvsadm --apply (pid %d), killed "
                   "after 3 of %d operations; the table is as it was\n" % (os.getpid(), total))
    assert saved(kernel) == before
    assert not os.path.exists(JOURNAL)
    assert run(["--recover"]) == (0, "ipvsadm: no killed run's journal: nothing to recover\n",
                                  "")
    assert run(["--apply"], rules(TARGET))[0] == 0
    assert saved(kernel) == sorted(TARGET)


def test_forget_keeps_the_table_as_it_is(kernel):
    assert run(["-R"], rules(START))[0] == 0
    killed_apply(kernel, TARGET, 2)
    middle = saved(kernel)
    status, out, err = run(["--recover=forget"])
    assert (status, err) == (0, "") and "is dropped; the table stays as it is" in out
    assert saved(kernel) == middle
    assert run(["--apply"], rules(TARGET))[0] == 0


def test_another_writers_change_since_the_kill_stays_and_is_said(kernel):
    assert run(["-R"], rules(START))[0] == 0
    killed_apply(kernel, TARGET, 4)
    # keepalived, meanwhile: a weight of a server the killed run edited
    svc = Service(protocol="tcp", address="10.0.0.1", port=80)
    kernel.edit_destination(svc, Destination(address="192.168.0.1", port=80, weight=0,
                                             fwd_method=0))
    status, out, err = run(["--recover"])
    assert status == 1 and out == ""
    lines = err.splitlines()
    assert any(l.startswith("ipvsadm: could not put back: ipvsadm -e -t 10.0.0.1:80 -r "
                            "192.168.0.1:80") and "another writer" in l for l in lines), err
    assert lines[-1].endswith("COULD NOT RESTORE THE TABLE")
    assert "-a -t 10.0.0.1:80 -r 192.168.0.1:80 -m -w 0" in saved(kernel)


def test_no_journal_is_left_by_runs_that_end(kernel):
    path = JOURNAL
    assert run(["--apply"], rules(TARGET))[0] == 0
    kernel.fail = lambda name, args: errno.ENOENT if args and getattr(args[0], "port", 0) == 81 \
        else None
    assert run(["--apply"], rules(TARGET + ["-A -t 10.0.0.9:81 -s rr"]))[0] == 1
    assert run(["-R", "--atomic"], rules(["-A -t 10.0.0.7:80 -s rr"]))[0] == 0
    assert run(["-R", "--atomic"], rules(["-A -t 10.0.0.7:80 -s rr"]))[0] == 1
    assert not os.path.exists(path)


@pytest.mark.parametrize("args, message", [
    (["--recover=all"], "--recover takes nothing, =undo or =forget"),
    (["--recover", "-Ln"], "--recover takes no other command or option (only --netns, --wait)"),
    (["--recover", "--json"],
     "--recover takes no other command or option (only --netns, --wait)"),
])
def test_recover_is_checked(kernel, args, message):
    assert run(args) == (2, "", message + "\n")


# ------------------------------------------------------ the file on its own

def write(tmp_path, lines, cut=b""):
    p = tmp_path / "net-1.journal"
    p.write_bytes(b"".join(json.dumps(l).encode() + b"\n" for l in lines) + cut)
    return str(p)


def header(**kw):
    h = {"ipvsadm-journal": 1, "pid": os.getpid(), "start": start_time(os.getpid()),
         "boot": open("/proc/sys/kernel/random/boot_id").read().strip(), "time": 0,
         "command": "--apply", "total": 3}
    h.update(kw)
    return h


SVC = {"Service": {"af": 2, "protocol": 6, "address": "10.0.0.1", "port": 80}}


def test_only_the_last_operation_is_in_doubt_and_a_cut_line_was_not_sent(tmp_path):
    path = write(tmp_path, [header(), {"n": 1, "op": ["add_service", SVC], "before": None},
                            {"n": 2, "op": ["delete_service", SVC], "before": None}],
                 cut=b'{"n": 3, "op": ["add_se')
    k = read_killed(path)
    assert (k.pid, k.command, k.total, k.answered) == (os.getpid(), "--apply", 3, 1)
    assert [(n, op[0], doubt) for n, op, _, doubt in k.entries] == \
        [(1, "add_service", False), (2, "delete_service", True)]
    assert k.entries[0][1][1] == Service(protocol="tcp", address="10.0.0.1", port=80)
    assert k.alive and not k.other_boot


def test_refused_and_undone_operations_are_not_undone_again(tmp_path):
    path = write(tmp_path, [header(), {"n": 1, "op": ["add_service", SVC], "before": None},
                            {"n": 2, "op": ["add_service", SVC], "before": None},
                            {"no": 2}, {"undone": 1}])
    k = read_killed(path)
    assert (k.entries, k.answered) == ([], 1)
    # refused last: the one before it is not in doubt
    path = write(tmp_path, [header(), {"n": 1, "op": ["add_service", SVC], "before": None},
                            {"n": 2, "op": ["add_service", SVC], "before": None}, {"no": 2}])
    assert [(n, doubt) for n, _, _, doubt in read_killed(path).entries] == [(1, False)]


def test_the_owner_is_dead_when_its_start_time_differs(tmp_path):
    k = read_killed(write(tmp_path, [header(start="1")]))
    assert not k.alive  # a reused pid is another process
    assert read_killed(write(tmp_path, [header(boot="another")])).other_boot


@pytest.mark.parametrize("data", [b"{}\n", b"not json\n", b'{"ipvsadm-journal": 2}\n',
                                  b'{"ipvsadm-journal": 1}\n{"n": 1, "op": [["x"]]}\n'])
def test_a_damaged_journal_is_an_error_not_a_traceback(tmp_path, data):
    from ipvs._journalfile import JournalFileError
    p = tmp_path / "net-1.journal"
    p.write_bytes(data)
    with pytest.raises(JournalFileError):
        read_killed(str(p))


def test_a_journal_is_never_written_over_nor_through_a_link(tmp_path):
    from ipvs._journalfile import JournalFileError
    target = tmp_path / "elsewhere"
    os.symlink(str(target), str(tmp_path / "a.journal"))
    with pytest.raises(JournalFileError):
        JournalFile(str(tmp_path / "a.journal"), "--apply")
    assert not target.exists()
    j = JournalFile(str(tmp_path / "b.journal"), "--apply")
    with pytest.raises(JournalFileError):
        JournalFile(str(tmp_path / "b.journal"), "--apply")
    j.finish()
    assert not (tmp_path / "b.journal").exists()


def test_status_names_a_killed_run():
    from ipvs import Status
    from ipvs._journalfile import KilledRun
    from ipvs.cli._statusview import status_text
    k = KilledRun(header(total=300), [(1, ("flush",), None, True)], 40)
    text = status_text(Status(version="1.2.1"), k)
    assert text.splitlines()[1] == (
        "Killed run: ipvsadm --apply (pid %d) was killed after 40 of 300 operations; the table "
        "holds its changes (ipvsadm --recover undoes them)" % os.getpid())
    assert "Killed run" not in status_text(Status(version="1.2.1"))


def test_a_damaged_journal_stops_our_writers_until_it_is_dropped(kernel):
    with open(JOURNAL, "w") as f:
        f.write("not a journal\n")
    status, out, err = run(["--apply"], rules(TARGET))
    assert (status, out) == (1, "") and err.startswith("ipvsadm: the journal ") and \
        err.endswith("; remove it to go on\n"), err
    assert run(["--recover"])[0] == 1
    assert run(["--recover=forget"]) == (
        0, "ipvsadm: the journal, which could not be read, is dropped; the table stays as it "
        "is\n", "")
    assert run(["--apply"], rules(TARGET))[0] == 0
