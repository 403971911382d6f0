# Network namespaces by name, as `ip -n NAME` uses them (/run/netns/NAME).
#
# Rule: the calling thread never changes namespace. Whatever must be created
# inside the namespace (the netlink socket, an open /proc/.../ip_vs_conn) is
# created by a short-lived helper thread that setns()es into it and exits;
# a socket or an open proc file keeps the namespace it was created in, so
# the caller then uses it from its own thread. If anything fails, the helper
# thread dies with its namespace and nothing leaks into the caller.
from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import threading
from typing import Callable, TypeVar

from ._base import IPVSError

NETNS_RUN_DIR = "/run/netns"
CLONE_NEWNET = 0x40000000

T = TypeVar("T")


class NetnsError(IPVSError, OSError):
    """A network namespace could not be opened or entered."""

    def __init__(self, name: str, err: int, what: str = "open"):
        text = 'Cannot %s network namespace "%s": %s' % (what, name, os.strerror(err))
        OSError.__init__(self, err, text)
        self.name = name

    def __str__(self) -> str:
        return self.strerror


def netns_path(name: str) -> str:
    """/run/netns/NAME, as `ip -n NAME` opens it. Only a name: one with a
    "/" (a path relative to the working directory, a symlink elsewhere) is
    refused, so that an ipvsadm delegated through sudo opens nothing but
    the namespaces root made under /run/netns."""
    if not name or name in (".", "..") or "/" in name or "\0" in name:
        raise NetnsError(name, errno.EINVAL)
    return os.path.join(NETNS_RUN_DIR, name)


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


def run_in_netns(name: str, fn: Callable[[], T]) -> T:
    """fn() run in a helper thread that has entered network namespace
    `name`; returns its result or raises its exception (NetnsError when the
    namespace cannot be opened or entered)."""
    path = netns_path(name)
    try:
        # O_NONBLOCK: a FIFO put there must not hang us (setns then refuses it)
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError as e:
        raise NetnsError(name, e.errno or errno.ENOENT) from None
    box: dict = {}

    def helper():
        try:
            try:
                _setns(fd, CLONE_NEWNET)
            except OSError as e:
                raise NetnsError(name, e.errno or errno.EINVAL, "enter") from None
            box["value"] = fn()
        except BaseException as e:  # handed to the caller's thread
            box["error"] = e

    try:
        t = threading.Thread(target=helper, name="ipvs-netns", daemon=True)
        t.start()
        t.join()
    finally:
        os.close(fd)
    if "error" in box:
        err = box.pop("error")
        try:
            raise err
        finally:
            del err
    return box["value"]


def open_in_netns(name: str, path: str, flags: int = os.O_RDONLY) -> int:
    """A file descriptor for `path` opened inside namespace `name`.
    For the namespace's own /proc/net files pass /proc/thread-self/net/...:
    /proc/net follows the thread group leader, not the helper thread."""
    return run_in_netns(name, lambda: os.open(path, flags | os.O_CLOEXEC))


__all__ = ["NetnsError", "run_in_netns", "open_in_netns", "netns_path"]
