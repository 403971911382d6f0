# Errors: one base class; kernel errors keep their errno and carry the text
# ipvsadm prints for that operation and errno (libipvs' ipvs_strerror table).
from __future__ import annotations

import errno as E
import os
TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs start-up time; annotations stay strings
    from typing import Optional

from ._base import DecodeError, IPVSError

# (operation, errno) -> message; operation None matches any operation.
_MESSAGES = {
    ("add_service", E.EEXIST): "Service already exists",
    ("add_service", E.ENOENT): "Scheduler or persistence engine not found",
    ("edit_service", E.ESRCH): "No such service",
    ("edit_service", E.ENOENT): "Scheduler or persistence engine not found",
    ("delete_service", E.ESRCH): "No such service",
    ("zero", E.ESRCH): "No such service",
    ("add_destination", E.ESRCH): "Service not defined",
    ("add_destination", E.EEXIST): "Destination already exists",
    ("edit_destination", E.ESRCH): "Service not defined",
    ("edit_destination", E.ENOENT): "No such destination",
    ("delete_destination", E.ESRCH): "Service not defined",
    ("delete_destination", E.ENOENT): "No such destination",
    ("start_daemon", E.EEXIST): "Daemon has already run",
    ("stop_daemon", E.ESRCH): "No daemon is running",
    ("list_services", E.ESRCH): "No such service",
    ("list_destinations", E.ESRCH): "No such service",
    ("get_service", E.ESRCH): "No such service",
    (None, E.EPERM): "Permission denied (you must be root)",
    (None, E.EINVAL): "Invalid operation.  Possibly wrong module version, address not unicast, ...",
    (None, E.ENOPROTOOPT): "Protocol not available",
    (None, E.ENOMEM): "Memory allocation problem",
    (None, E.EOPNOTSUPP): "Operation not supported with IPv6",
    (None, E.EAFNOSUPPORT): "Operation not supported with specified address family",
    (None, E.EMSGSIZE): "Module is wrong version",
}


def ipvs_strerror(operation: Optional[str], err: int) -> str:
    """The message ipvsadm 1.31 prints for `err` after `operation`."""
    msg = _MESSAGES.get((operation, err)) or _MESSAGES.get((None, err))
    if msg is not None:
        return msg
    try:  # any int can come from the wire; strerror takes a C int only
        return os.strerror(err)
    except (OverflowError, ValueError):
        return "Unknown error %d" % err


class KernelError(IPVSError, OSError):
    """The kernel refused an operation. `errno` is the kernel's error number,
    `strerror` the message ipvsadm prints for it, `operation` the library
    call that failed, `ext_msg` the kernel's extended-ack text (if any)."""

    def __init__(self, err: int, operation: Optional[str] = None, ext_msg: str = ""):
        OSError.__init__(self, err, ipvs_strerror(operation, err))
        self.operation = operation
        self.ext_msg = ext_msg

    def __str__(self) -> str:
        return self.strerror


class NotAvailableError(KernelError):
    """No IPVS generic-netlink family in this kernel (module not loaded)."""

    def __init__(self):
        KernelError.__init__(self, E.ENOPROTOOPT, None)
        self.hint = "IPVS is not available in this kernel: load ip_vs (modprobe ip_vs)"


class ProtocolError(IPVSError):
    """The kernel's reply did not follow the protocol (bad bytes, wrong
    sequence number, a dump interrupted too many times)."""


__all__ = ["IPVSError", "KernelError", "NotAvailableError", "ProtocolError",
           "DecodeError", "ipvs_strerror"]
