# Network namespaces: by name, as `ip -n NAME` uses them (/run/netns/NAME),
# or by path (/proc/PID/ns/net, a bind mount made elsewhere).
#
# Rule: the calling thread never changes namespace. Whatever must be created
# inside the namespace (the netlink socket, an open /proc/.../ip_vs_conn) is
# created by a short-lived helper thread that setns()es into it and exits;
# a socket or an open proc file keeps the namespace it was created in, so
# the caller then uses it from its own thread. If anything fails, the helper
# thread dies with its namespace and nothing leaks into the caller.
#
# Rule: a value with a "/" is a path, any other a name in /run/netns. A path
# is opened only once it is known to be a namespace file (on nsfs, found
# without opening it), and only when the caller is not delegated root: under
# sudo (or doas, pkexec, a set-id start) a path is refused, so that a
# delegated ipvsadm opens nothing but the namespaces root made in /run/netns.
from __future__ import annotations

import ctypes
import ctypes.util
import errno
import fcntl
import os
import stat
import threading
from typing import Callable, TypeVar, Union

from ._base import IPVSError

NETNS_RUN_DIR = "/run/netns"
CLONE_NEWNET = 0x40000000
NS_GET_NSTYPE = 0xB703  # _IO(0xb7, 0x3), linux/nsfs.h
# a file on nsfs, found without opening anything: the namespace files all
# live on the one nsfs instance, so they share its device number
OWN_NETNS = "/proc/self/ns/net"
# environment variables that sudo, doas and pkexec set for the command they run
DELEGATION_VARIABLES = ("SUDO_UID", "DOAS_USER", "PKEXEC_UID")

T = TypeVar("T")


class NetnsError(IPVSError, OSError):
    """A network namespace could not be opened or entered."""

    def __init__(self, name: str, err: int, what: str = "open", reason: str = ""):
        text = 'Cannot %s network namespace "%s": %s' % (what, name, reason or os.strerror(err))
        OSError.__init__(self, err, text)
        self.name = name

    def __str__(self) -> str:
        return self.strerror


def is_path(value: str) -> bool:
    """Whether `value` names a file itself (it has a "/") rather than a
    namespace in /run/netns."""
    return "/" in value


def delegated(environ=os.environ) -> bool:
    """Whether this process runs with privileges lent to its user: under
    sudo, doas or pkexec (their variables are set), or started set-user-
    or set-group-id (real and effective ids differ)."""
    return (any(v in environ for v in DELEGATION_VARIABLES)
            or os.getuid() != os.geteuid() or os.getgid() != os.getegid())


def netns_path(value: str) -> str:
    """The file `value` names: itself when it has a "/" (a path), otherwise
    /run/netns/VALUE, as `ip -n VALUE` opens it (`foo` is never ./foo)."""
    if not value or "\0" in value or value in (".", ".."):
        raise NetnsError(value, errno.EINVAL)
    return value if is_path(value) else os.path.join(NETNS_RUN_DIR, value)


def _kind(mode: int) -> str:
    for test, kind in ((stat.S_ISREG, "a regular file"), (stat.S_ISDIR, "a directory"),
                       (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return kind
    return "a special file"


def _same_file(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def _open_path(value: str) -> int:
    """A file descriptor of the namespace file at path `value`, opened
    only after it was found to be one; NetnsError otherwise."""
    def refuse(reason: str, err: int = errno.EINVAL):
        return NetnsError(value, err, reason=reason)

    try:
        found = os.stat(value)  # follows symlinks (/proc/PID/ns/net is one); opens nothing
    except OSError as e:
        raise NetnsError(value, e.errno or errno.ENOENT) from None
    try:
        nsfs = os.stat(OWN_NETNS).st_dev
    except OSError as e:
        raise refuse("cannot tell a namespace file without %s (%s)"
                     % (OWN_NETNS, os.strerror(e.errno or errno.ENOENT))) from None
    if found.st_dev != nsfs or not stat.S_ISREG(found.st_mode):
        raise refuse("not a namespace file (%s)" % _kind(found.st_mode))
    # Between that look and an open, the path could be made to name another
    # file (a FIFO, whose open waits for a writer; a device, whose open may
    # act). O_PATH takes hold of what the path names without opening it;
    # that very file is checked again and only then opened, through its
    # /proc/self/fd link (which reaches the held file, not the path).
    try:
        held = os.open(value, os.O_PATH | os.O_CLOEXEC)
    except OSError as e:
        raise NetnsError(value, e.errno or errno.ENOENT) from None
    try:
        now = os.fstat(held)
        if not _same_file(now, found):
            raise refuse("the path changed while it was opened", errno.EAGAIN)
        try:
            fd = os.open("/proc/self/fd/%d" % held, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as e:
            raise NetnsError(value, e.errno or errno.ENOENT) from None
    finally:
        os.close(held)
    try:
        if not _same_file(os.fstat(fd), found):
            raise refuse("the path changed while it was opened", errno.EAGAIN)
        _check_network(value, fd)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _check_network(value: str, fd: int) -> None:
    try:
        kind = fcntl.ioctl(fd, NS_GET_NSTYPE)
    except OSError as e:
        if e.errno == errno.ENOTTY:
            return  # a kernel before 4.11: setns(fd, CLONE_NEWNET) checks the kind
        raise NetnsError(value, e.errno or errno.EINVAL) from None
    if kind != CLONE_NEWNET:
        raise NetnsError(value, errno.EINVAL, reason="a namespace of another kind")


def open_netns(value: str) -> int:
    """A file descriptor (O_CLOEXEC) for network namespace `value`: a name
    (/run/netns/NAME) or, unless delegated(), a path to a namespace file."""
    path = netns_path(value)
    if not is_path(value):
        try:
            # O_NONBLOCK: a FIFO put there must not hang us (setns then refuses it)
            return os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
        except OSError as e:
            raise NetnsError(value, e.errno or errno.ENOENT) from None
    if delegated():
        raise NetnsError(value, errno.EPERM, reason="a path is refused under sudo "
                         "(give the name of a namespace in %s)" % NETNS_RUN_DIR)
    return _open_path(value)


_setns_fn = None


def _setns(fd: int, nstype: int) -> None:
    global _setns_fn
    if hasattr(os, "setns"):  # Python 3.12+
        os.setns(fd, nstype)
        return
    if _setns_fn is None:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        fn = libc.setns
        fn.argtypes = (ctypes.c_int, ctypes.c_int)
        fn.restype = ctypes.c_int
        _setns_fn = fn
    if _setns_fn(fd, nstype) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


class Netns:
    """A network namespace held open from a name or a path (checked as
    open_netns() checks it), so that everything made for one client is made
    in the same namespace, even if the path comes to name another later
    (/proc/PID/ns/net after PID ends)."""

    def __init__(self, value: str):
        self.name = value
        self.fd = open_netns(value)

    def run(self, fn: Callable[[], T]) -> T:
        """fn() run in a helper thread that has entered this namespace;
        its result, or its exception raised here (NetnsError when the
        namespace cannot be entered)."""
        box: dict = {}
        name, fd = self.name, self.fd

        def helper():
            try:
                try:
                    _setns(fd, CLONE_NEWNET)
                except OSError as e:
                    raise NetnsError(name, e.errno or errno.EINVAL, "enter") from None
                box["value"] = fn()
            except BaseException as e:  # handed to the caller's thread
                box["error"] = e

        t = threading.Thread(target=helper, name="ipvs-netns", daemon=True)
        t.start()
        t.join()
        if "error" in box:
            err = box.pop("error")
            try:
                raise err
            finally:
                del err
        return box["value"]

    def open(self, path: str, flags: int = os.O_RDONLY) -> int:
        """A file descriptor for `path` opened inside this namespace. For
        its own /proc/net files pass /proc/thread-self/net/...: /proc/net
        follows the thread group leader, not the helper thread."""
        return self.run(lambda: os.open(path, flags | os.O_CLOEXEC))

    def close(self) -> None:
        fd, self.fd = self.fd, -1
        if fd >= 0:
            os.close(fd)

    def __enter__(self) -> "Netns":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except (AttributeError, OSError):
            pass  # never opened


def run_in_netns(netns: Union[str, Netns], fn: Callable[[], T]) -> T:
    """fn() run in a helper thread that has entered network namespace
    `netns` (a Netns, or a name or path opened for this call); returns its
    result or raises its exception (NetnsError when the namespace cannot be
    opened or entered)."""
    if isinstance(netns, Netns):
        return netns.run(fn)
    with Netns(netns) as ns:
        return ns.run(fn)


def open_in_netns(netns: Union[str, Netns], path: str, flags: int = os.O_RDONLY) -> int:
    """A file descriptor for `path` opened inside namespace `netns` (see
    Netns.open)."""
    return run_in_netns(netns, lambda: os.open(path, flags | os.O_CLOEXEC))


__all__ = ["NetnsError", "Netns", "run_in_netns", "open_in_netns", "open_netns",
           "netns_path", "is_path", "delegated"]
