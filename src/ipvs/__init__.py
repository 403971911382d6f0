"""ipvs: Linux IP Virtual Server administration over generic netlink.

The library behind the `ipvsadm` command of this package. Standard library
only; a C decoder (built with cffi) speeds up large dumps when present.

Names are imported on first use (PEP 562), so that `import ipvs.cli` (and
so `ipvsadm -h`) does not pay for the netlink and model modules.
"""
__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS = {
    "DecodeError": "._base", "IPVSError": "._base",
    "Client": "._client",
    "DECODER": "._decoder",
    "KernelError": "._errors", "NotAvailableError": "._errors",
    "ProtocolError": "._errors", "ipvs_strerror": "._errors",
    "Operation": "._plan", "PlanError": "._plan", "ApplyError": "._plan",
    "Snapshot": "._plan", "plan": "._plan", "apply": "._plan", "read_table": "._plan",
    "take_snapshot": "._plan", "restore_snapshot": "._plan", "Journal": "._plan",
    "Interrupted": "._plan", "UndoFailure": "._plan",
    "NetnsError": "._netns",
    "to_json": "._json", "dumps": "._json",
    "Status": "._status",
}
for _name in ("AF_INET", "AF_INET6", "DAEMON_BACKUP", "DAEMON_MASTER", "FWD_LOCAL",
              "FWD_MASQ", "FWD_ROUTE", "FWD_TUNNEL", "IPPROTO_SCTP", "IPPROTO_TCP",
              "IPPROTO_UDP", "SVC_F_HASHED", "SVC_F_ONEPACKET", "SVC_F_PERSISTENT",
              "SVC_F_SCHED1", "SVC_F_SCHED2", "SVC_F_SCHED3", "TUN_F_CSUM", "TUN_F_NOCSUM",
              "TUN_F_REMCSUM", "TUN_GRE", "TUN_GUE", "TUN_IPIP", "Connection", "Destination",
              "Info", "Service", "Stats", "SyncDaemon", "Timeouts"):
    _EXPORTS[_name] = "._model"
del _name

__all__ = [
    "Client", "Service", "Destination", "Stats", "Timeouts", "SyncDaemon", "Info",
    "Connection", "IPVSError", "KernelError", "NotAvailableError", "ProtocolError",
    "DecodeError", "ipvs_strerror", "DECODER",
    "AF_INET", "AF_INET6", "IPPROTO_TCP", "IPPROTO_UDP", "IPPROTO_SCTP",
    "FWD_MASQ", "FWD_LOCAL", "FWD_TUNNEL", "FWD_ROUTE",
    "TUN_IPIP", "TUN_GUE", "TUN_GRE", "TUN_F_NOCSUM", "TUN_F_CSUM", "TUN_F_REMCSUM",
    "SVC_F_PERSISTENT", "SVC_F_HASHED", "SVC_F_ONEPACKET",
    "SVC_F_SCHED1", "SVC_F_SCHED2", "SVC_F_SCHED3",
    "DAEMON_MASTER", "DAEMON_BACKUP", "__version__",
    "Operation", "PlanError", "ApplyError", "Snapshot", "plan", "apply", "read_table",
    "take_snapshot", "restore_snapshot", "Journal", "Interrupted", "UndoFailure",
    "NetnsError", "to_json", "dumps", "Status",
]


def __getattr__(name):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError("module 'ipvs' has no attribute %r" % name)
    # __import__ rather than importlib: one module less to load at start-up
    value = getattr(__import__(module[1:], globals(), None, [name], 1), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
