"""Scopes (ipvs.Scope, --scope): the grammar, which services an item
covers, scoped plans and applies against the in-memory kernel beside
another writer's services (keepalived's, here written by the test), the
journal of a scoped run, and the CLI's messages and exit statuses. The real
kernel, with keepalived itself: tests/kernel/test_keepalived.py."""
import json
import os

import pytest

from ipvs import Destination, PlanError, Scope, Service
from ipvs._journal import Journal

from jsonkeys import validate_document
from test_cli_beyond import LOCK_DIR, kernel, run  # noqa: F401 (kernel: a fixture)


def tcp(address, port):
    return Service(protocol="tcp", address=address, port=port)


# ------------------------------------------------------------- grammar

@pytest.mark.parametrize("spec, inside, outside", [
    ("10.1.0.0/16", [tcp("10.1.0.1", 80), Service(protocol="udp", address="10.1.255.9",
                                                   port=0)],
     [tcp("10.2.0.1", 80), tcp("2001:db8::1", 80), Service(fwmark=5)]),
    ("10.1.2.3", [tcp("10.1.2.3", 1)], [tcp("10.1.2.4", 1)]),
    ("10.1.0.0/16:80", [tcp("10.1.0.1", 80)], [tcp("10.1.0.1", 81)]),
    ("udp:10.1.0.0/16:53", [Service(protocol="udp", address="10.1.0.1", port=53)],
     [tcp("10.1.0.1", 53), Service(protocol="sctp", address="10.1.0.1", port=53)]),
    ("sctp:0.0.0.0/0:3868", [Service(protocol="sctp", address="192.0.2.1", port=3868)],
     [Service(protocol="udp", address="192.0.2.1", port=3868)]),
    ("tcp:10.1.0.0/16:8000-8099", [tcp("10.1.0.1", 8000), tcp("10.1.0.1", 8099)],
     [tcp("10.1.0.1", 7999), tcp("10.1.0.1", 8100)]),
    ("2001:db8::/32", [tcp("2001:db8:5::1", 443)], [tcp("2001:db9::1", 443),
                                                     tcp("10.0.0.1", 443)]),
    ("tcp:[2001:db8::/32]:443", [tcp("2001:db8::1", 443)],
     [tcp("2001:db8::1", 80), Service(protocol="udp", address="2001:db8::1", port=443)]),
    ("[::1]", [tcp("::1", 9)], [tcp("::2", 9)]),
    ("fwmark:5", [Service(fwmark=5), Service(fwmark=5, af=10)], [Service(fwmark=6)]),
    ("fwmark:100-199", [Service(fwmark=100), Service(fwmark=199)],
     [Service(fwmark=99), Service(fwmark=200), tcp("10.0.0.1", 100)]),
    ("0.0.0.0/0,::/0", [tcp("192.0.2.1", 1), tcp("2001:db8::1", 1)], [Service(fwmark=1)]),
    (" 10.1.0.0/16 , fwmark:7", [tcp("10.1.0.1", 80), Service(fwmark=7)], [Service(fwmark=8)]),
])
def test_what_an_item_covers(spec, inside, outside):
    scope = Scope(spec)
    assert [s for s in inside if not scope.covers(s)] == []
    assert [s for s in outside if scope.covers(s)] == []


def test_items_are_kept_as_given():
    assert Scope("tcp:10.1.0.0/16:80, fwmark:1-9").items == ("tcp:10.1.0.0/16:80", "fwmark:1-9")
    assert repr(Scope("10.0.0.0/8")) == "Scope('10.0.0.0/8')"


@pytest.mark.parametrize("spec, message", [
    ("", "an empty item (items are separated by single commas)"),
    ("10.0.0.0/8,", "an empty item (items are separated by single commas)"),
    ("10.0.0.0/8,,fwmark:1", "an empty item (items are separated by single commas)"),
    ("10.0.0.256", "10.0.0.256: not an address prefix"),
    ("web.example", "web.example: not an address prefix"),
    ("10.1.2.3/16", "10.1.2.3/16: host bits set beyond /16"),
    ("10.0.0.0/33", "10.0.0.0/33: not a prefix length (0-32)"),
    ("10.0.0.0/x", "10.0.0.0/x: not a prefix length (0-32)"),
    ("2001:db8::/129", "2001:db8::/129: not a prefix length (0-128)"),
    ("10.0.0.0/8:", "10.0.0.0/8:: not a port or port range (0-65535)"),
    ("10.0.0.0/8:65536", "10.0.0.0/8:65536: not a port or port range (0-65535)"),
    ("10.0.0.0/8:90-80", "10.0.0.0/8:90-80: not a port or port range (0-65535)"),
    ("10.0.0.0/8:http", "10.0.0.0/8:http: not a port or port range (0-65535)"),
    ("10.0.0.0/8:\u0661", "10.0.0.0/8:\u0661: not a port or port range (0-65535)"),
    ("[2001:db8::1]80", "[2001:db8::1]80: not an address prefix"),
    ("[10.0.0.1]:80", "[10.0.0.1]:80: not an address prefix"),
    ("[2001:db8::1:80", "[2001:db8::1:80: not an address prefix"),
    ("icmp:10.0.0.0/8", "icmp:10.0.0.0/8: not an address prefix"),
    ("tcp", "tcp: not an address prefix"),
    ("fwmark:0", "fwmark:0: not a firewall mark or range (1-4294967295)"),
    ("fwmark:4294967296", "fwmark:4294967296: not a firewall mark or range (1-4294967295)"),
    ("fwmark:9-1", "fwmark:9-1: not a firewall mark or range (1-4294967295)"),
    ("fwmark:", "fwmark:: not a firewall mark or range (1-4294967295)"),
    ("fwmark:" + "9" * 5000, "fwmark:%s: not a firewall mark or range (1-4294967295)"
     % ("9" * 5000)),
    ("10.0.0.0/" + "1" * 5000, "10.0.0.0/%s: not a prefix length (0-32)" % ("1" * 5000)),
    ("10.0.0.0/8:1-" + "1" * 5000, "10.0.0.0/8:1-%s: not a port or port range (0-65535)"
     % ("1" * 5000)),
])
def test_what_is_not_a_scope(spec, message):
    with pytest.raises(ValueError) as e:
        Scope(spec)
    assert str(e.value) == message


# ------------------------------------------------ plans beside keepalived

OURS = Scope("10.1.0.0/16,fwmark:100-199")
KA = tcp("10.9.0.1", 80).replace(scheduler="wrr")  # keepalived's, outside the scope
KA_DEST = Destination(address="192.168.9.1", port=8080, fwd_method="masq", weight=3)
WEB = tcp("10.1.0.1", 80)
R1 = Destination(address="192.168.0.1", port=80, fwd_method="masq", weight=2)
R2 = Destination(address="192.168.0.2", port=80, fwd_method="masq", weight=2)


def test_a_scoped_plan_leaves_everything_outside_alone_and_removes_what_the_rules_left():
    from ipvs import plan
    current = [(KA, [KA_DEST]), (WEB, [R1]), (Service(fwmark=150), []),
               (Service(fwmark=250), [])]
    target = [(WEB, [R1.replace(weight=7), R2])]
    ops = plan(current, target, scope=OURS)
    assert [op.command() for op in ops] == ["-a -t 10.1.0.1:80 -r 192.168.0.2:80 -m -w 2",
                                            "-e -t 10.1.0.1:80 -r 192.168.0.1:80 -m -w 7",
                                            "-D -f 150"]
    assert [op.command() for op in plan(current, target)][-3:] == [
        "-D -t 10.9.0.1:80", "-D -f 150", "-D -f 250"]  # unscoped: all of them


def test_a_target_outside_the_scope_is_a_plan_error():
    from ipvs import plan
    with pytest.raises(PlanError) as e:
        plan([], [(WEB, []), (KA, [])], scope=OURS)
    assert str(e.value) == "service outside the scope: -t 10.9.0.1:80"


# ------------------------------------------------------------- the CLI

SCOPE = ["--scope", "10.1.0.0/16,fwmark:100-199"]
RULES = ("-A -t 10.1.0.1:80 -s rr\n-a -t 10.1.0.1:80 -r 192.168.0.1:80 -m -w 4\n"
         "-A -f 150 -s rr\n")


def keepalived_there(k):
    """Another writer's service and a removed real server's remains:
    counters, a weight it set, a real server it removed (not in the table)."""
    k.add_service(KA)
    k.add_destination(KA, KA_DEST)
    k.svcs[KA.key] = (k.svcs[KA.key][0], {d.key: d.replace(active_conns=3)
                                         for d in k.svcs[KA.key][1].values()})


def theirs(k):
    return k.svcs[KA.key][0], list(k.svcs[KA.key][1].values())


def test_a_scoped_apply_changes_only_its_own_services(kernel, tmp_path):
    keepalived_there(kernel)
    kernel.add_service(tcp("10.1.0.9", 80))  # ours, left out of the rules: removed
    kernel.add_service(Service(fwmark=250))  # nobody's we know: outside, stays
    before = theirs(kernel)
    f = tmp_path / "rules"
    f.write_text(RULES)
    status, out, err = run(["--apply", str(f)] + SCOPE)
    assert (status, out, err) == (0, "", "")
    assert theirs(kernel) == before
    assert sorted(k[0] for k in kernel.svcs) == sorted(
        s.key[0] for s in (KA, WEB, Service(fwmark=150), Service(fwmark=250)))
    assert tcp("10.1.0.9", 80).key not in kernel.svcs
    # again: nothing to do, and keepalived's later change is not undone
    kernel.edit_destination(KA, KA_DEST.replace(weight=0))
    kernel.log.clear()
    assert run(["--apply", str(f), "--scope=10.1.0.0/16", "--scope", "fwmark:100-199"]) == \
        (0, "", "")
    assert kernel.log == []
    assert theirs(kernel)[1][0].weight == 0
    # unscoped, the same file would take keepalived's service away
    status, out, _ = run(["--apply", str(f), "--dry-run"])
    assert "ipvsadm -D -t 10.9.0.1:80\n" in out and "ipvsadm -D -f 250\n" in out


def test_a_rule_outside_the_scope_changes_nothing_and_names_its_service(kernel, tmp_path):
    keepalived_there(kernel)
    f = tmp_path / "rules"
    f.write_text(RULES + "-A -t 10.9.0.1:80 -s wrr\n-a -t 10.9.0.1:80 -r 192.168.9.1:8080 -m\n"
                 "-A -t 10.9.0.2:80\n")
    for extra in ([], ["--dry-run"], ["--drain", "5"], ["--drain", "--dry-run"]):
        status, out, err = run(["--apply", str(f)] + SCOPE + extra)
        assert (status, out) == (1, "")
        assert err == ("ipvsadm: line 4: service outside --scope: -t 10.9.0.1:80; "
                       "nothing changed\n")
    assert kernel.log[-1][0] == "add_destination"  # keepalived_there's, and none since
    status, _, err = run(["--apply"] + SCOPE, "-A -t 10.1.0.1:80\n-A -u 10.1.0.1:53\n"
                         "-A -t [2001:db8::1]:80\n")
    assert (status, err) == (1, "ipvsadm: line 3: service outside --scope: -t "
                                "[2001:db8::1]:80; nothing changed\n")


def test_the_scoped_dry_run_shows_the_scope_in_json(kernel):
    keepalived_there(kernel)
    status, out, err = run(["--apply", "--dry-run", "--json"] + SCOPE, RULES)
    assert (status, err) == (0, "")
    doc = json.loads(out)
    validate_document(doc, "scoped_plan")
    assert doc[0]["scope"] == ["10.1.0.0/16", "fwmark:100-199"]
    assert [o["command"] for o in doc[0]["operations"]] == [
        "-A -t 10.1.0.1:80 -s rr", "-a -t 10.1.0.1:80 -r 192.168.0.1:80 -m -w 4",
        "-A -f 150 -s rr"]
    pretty = run(["--apply", "--dry-run", "-j", "-p"] + SCOPE, RULES)[1]
    assert json.loads(pretty) == doc and pretty.count("\n") > 10
    # nothing to do: the scope shows all the same
    run(["--apply"] + SCOPE, RULES)
    status, out, _ = run(["--apply", "--dry-run", "--json", "--scope", "fwmark:100-199,"
                          "10.1.0.0/16"], RULES)
    assert json.loads(out) == [{"scope": ["fwmark:100-199", "10.1.0.0/16"], "operations": []}]
    # unscoped: the array of operations, as ever
    status, out, _ = run(["--apply", "--dry-run", "--json"], RULES)
    validate_document(json.loads(out), "operation")
    status, out, _ = run(["--apply", "--dry-run"] + SCOPE, RULES)
    assert (status, out) == (0, "")


def test_a_scoped_drain_drains_only_ours(kernel, tmp_path):
    keepalived_there(kernel)
    kernel.add_service(WEB)
    kernel.add_destination(WEB, R1)
    kernel.add_destination(WEB, R2)
    before = theirs(kernel)
    f = tmp_path / "rules"
    f.write_text("-A -t 10.1.0.1:80 -s wlc\n-a -t 10.1.0.1:80 -r 192.168.0.1:80 -m -w 2\n")
    status, out, err = run(["--apply", str(f), "--drain", "0", "--dry-run"] + SCOPE)
    assert (status, err) == (0, "")
    assert out == ("ipvsadm -e -t 10.1.0.1:80 -r 192.168.0.2:80 -m -w 0\n"
                   "# drain 1 real server (up to 0s), then:\n"
                   "ipvsadm -d -t 10.1.0.1:80 -r 192.168.0.2:80\n")
    status, out, err = run(["--apply", str(f), "--drain", "0"] + SCOPE)
    assert (status, out, err) == (0, "", "")
    assert theirs(kernel) == before
    assert list(kernel.svcs[WEB.key][1]) == [R1.key]
    # an empty file, scoped: our service goes (through its drained servers), theirs stays
    f.write_text("")
    assert run(["--apply", str(f), "--drain", "0"] + SCOPE) == (0, "", "")
    assert list(kernel.svcs) == [KA.key] and theirs(kernel) == before


def test_another_writer_outside_the_scope_is_not_reported_after_the_apply(kernel, tmp_path,
                                                                         monkeypatch):
    """The re-read after a whole apply (exit status 4 when another writer
    changed the table) looks at the scope only: keepalived removing its
    real server meanwhile is its own business."""
    keepalived_there(kernel)
    real = kernel.add_service

    def add_then_keepalived_acts(svc):
        real(svc)
        if KA_DEST.key in kernel.svcs[KA.key][1]:
            kernel.delete_destination(KA, KA_DEST)
    monkeypatch.setattr(kernel, "add_service", add_then_keepalived_acts)
    assert run(["--apply"] + SCOPE, RULES) == (0, "", "")
    assert theirs(kernel)[1] == []
    # within the scope, the same is another writer's change (status 4)
    monkeypatch.setattr(kernel, "add_service", real)
    real2 = kernel.edit_service

    def edit_then_other(svc):
        real2(svc)
        kernel.edit_destination(WEB, R1.replace(weight=9))
    monkeypatch.setattr(kernel, "edit_service", edit_then_other)
    status, _, err = run(["--apply"] + SCOPE, RULES.replace("-s rr", "-s wlc", 1))
    assert status == 4 and "-e -t 10.1.0.1:80 -r 192.168.0.1:80 -m -w 4" in err


@pytest.mark.parametrize("args, message", [
    (["-Ln", "--scope", "10.0.0.0/8"], "--scope goes with --apply"),
    (["--scope", "10.0.0.0/8", "-R", "--atomic"], "--scope goes with --apply"),
    (["--apply", "--scope"], "--scope needs a comma-separated list of address prefixes and "
                             "firewall marks"),
    (["--apply", "--scope=10.0.0.1/8"], "--scope: 10.0.0.1/8: host bits set beyond /8"),
    (["--apply", "--scope", "10.0.0.0/8", "--scope", "fwmark:0"],
     "--scope: fwmark:0: not a firewall mark or range (1-4294967295)"),
    (["--recover", "--scope", "10.0.0.0/8"],
     "--recover takes no other command or option (only --netns, --wait)"),
    (["--apply", "--scope", "10.0.0.0/8", "-L"],
     "--apply takes no other command or option (only --dry-run, --json, --netns, --scope)"),
])
def test_usage_errors(kernel, args, message):
    assert run(args, RULES) == (2, "", message + "\n")
    assert kernel.log == []


# ------------------------------------------- the journal of a scoped run

JOURNAL = os.path.join(LOCK_DIR, "net-%d.journal" % os.stat("/proc/self/ns/net").st_ino)


def test_a_killed_scoped_apply_is_undone_without_touching_keepalived(kernel):
    """SIGKILL after two operations of a scoped apply: --recover undoes
    those two; keepalived's service (changed after the kill too) stays."""
    keepalived_there(kernel)
    run(["--apply"] + SCOPE, "-A -t 10.1.0.1:80 -s rr\n-A -t 10.1.0.2:80 -s rr\n")
    saved_before = run(["-Sn"])[1]
    target = [(WEB.replace(scheduler="wlc"), [R1]), (Service(fwmark=150), [R2])]
    ops = kernel.plan(target, scope=OURS)
    assert [op.name for op in ops] == ["add_service", "add_destination", "edit_service",
                                       "add_destination", "delete_service"]
    lock = kernel.writer_lock()
    record = lock.journal("--apply")
    record.begin(len(ops))
    journal = Journal(kernel, record)
    for op in ops[:2]:
        journal.run(op.batch_args())
    os.close(record._fd)  # the process's end: no finish(), no release()
    lock._fd, fd = -1, lock._fd
    os.close(fd)
    try:
        kernel.edit_destination(KA, KA_DEST.replace(weight=1))  # keepalived, meanwhile
        status, out, err = run(["--recover"])
        assert (status, err) == (0, "") and "the table is as it was" in out
        after = run(["-Sn"])[1]
        assert after == saved_before.replace("192.168.9.1:8080 -m -w 3", "192.168.9.1:8080 -m -w 1")
        assert "-w 1" in after
    finally:
        if os.path.exists(JOURNAL):
            os.unlink(JOURNAL)


def test_a_failing_scoped_apply_undoes_only_its_own_operations(kernel, monkeypatch):
    keepalived_there(kernel)
    before = run(["-Sn"])[1]
    real = kernel.add_destination

    def keepalived_then_refused(svc, dest):
        if svc.key == WEB.key:
            kernel.delete_destination(KA, KA_DEST)  # keepalived, between our operations
            raise __import__("ipvs").KernelError(22, "add_destination")
        return real(svc, dest)
    monkeypatch.setattr(kernel, "add_destination", keepalived_then_refused)
    status, out, err = run(["--apply"] + SCOPE, RULES)
    assert status == 1 and err.endswith("; the table is as it was\n")
    assert run(["-Sn"])[1] == before.replace("-a -t 10.9.0.1:80 -r 192.168.9.1:8080 -m -w 3\n",
                                             "")
