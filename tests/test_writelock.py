"""The writers' lock (ipvs._writelock): one holder per namespace inode,
the holder's pid in the refusal, a wait that ends when the holder lets go,
and nothing left held by a process that was killed."""
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from ipvs._writelock import LockBusy, WriterLock, lock_path, namespace_inode

HOLDER = textwrap.dedent("""
    import sys, time
    from ipvs._writelock import WriterLock
    lock = WriterLock(int(sys.argv[1]), lock_dir=sys.argv[2])
    lock.acquire()
    print("held", flush=True)
    time.sleep(float(sys.argv[3]))
    lock.release()
    print("released", flush=True)
    time.sleep(30)
""")


def holder(tmp_path, inode, hold):
    p = subprocess.Popen([sys.executable, "-c", HOLDER, str(inode), str(tmp_path), str(hold)],
                         stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline() == "held\n"
    return p


def test_a_second_writer_is_refused_with_the_holders_pid(tmp_path):
    p = holder(tmp_path, 4026531840, 30)
    try:
        lock = WriterLock(4026531840, lock_dir=str(tmp_path))
        with pytest.raises(LockBusy) as e:
            lock.acquire()
        assert e.value.pid == p.pid
        assert str(e.value) == "another ipvsadm (pid %d) is changing the table" % p.pid
        assert not lock.held
        # another namespace's lock is another lock
        with WriterLock(4026531841, lock_dir=str(tmp_path)) as other:
            other.acquire()
            assert other.held
    finally:
        p.kill()
        p.wait()


def test_a_wait_ends_when_the_holder_lets_go(tmp_path):
    p = holder(tmp_path, 7, 0.5)
    try:
        lock = WriterLock(7, lock_dir=str(tmp_path))
        t0 = time.monotonic()
        lock.acquire(wait=20)
        assert lock.held and time.monotonic() - t0 < 10
        assert p.stdout.readline() == "released\n"
        with open(lock_path(7, str(tmp_path))) as f:
            assert f.read().split()[0] == str(os.getpid())
        lock.release()
    finally:
        p.kill()
        p.wait()


def test_a_wait_that_runs_out_is_refused(tmp_path):
    p = holder(tmp_path, 8, 30)
    try:
        t0 = time.monotonic()
        with pytest.raises(LockBusy):
            WriterLock(8, lock_dir=str(tmp_path)).acquire(wait=0.3)
        assert 0.25 <= time.monotonic() - t0 < 5
    finally:
        p.kill()
        p.wait()


def test_a_killed_holder_holds_nothing(tmp_path):
    p = holder(tmp_path, 9, 30)
    p.send_signal(signal.SIGKILL)
    p.wait()
    lock = WriterLock(9, lock_dir=str(tmp_path))
    lock.acquire()  # at once: the kernel dropped the flock with the process
    assert lock.held
    lock.release()


def test_a_stale_pid_in_the_file_is_not_named(tmp_path):
    # a file naming a process that no longer exists (or another process
    # with that pid): the refusal names nobody rather than the wrong one
    p = holder(tmp_path, 10, 30)
    try:
        path = lock_path(10, str(tmp_path))
        with open(path, "w") as f:
            f.write("%d 1\n" % os.getpid())  # our pid, a start time that is not ours
        with pytest.raises(LockBusy) as e:
            WriterLock(10, lock_dir=str(tmp_path)).acquire()
        assert e.value.pid is None
        assert str(e.value) == "another ipvsadm is changing the table"
    finally:
        p.kill()
        p.wait()


def test_a_link_in_place_of_the_lock_file_is_not_followed(tmp_path):
    target = tmp_path / "elsewhere"
    target.write_text("keep\n")
    os.symlink(str(target), lock_path(11, str(tmp_path)))
    with pytest.raises(OSError):
        WriterLock(11, lock_dir=str(tmp_path)).acquire()
    assert target.read_text() == "keep\n"


def test_the_namespace_inode_is_the_nsfs_one():
    assert namespace_inode() == os.stat("/proc/self/ns/net").st_ino
    assert namespace_inode("/proc/%d/ns/net" % os.getpid()) == namespace_inode()
