"""ipvs: Linux IP Virtual Server administration over generic netlink.

The library behind the `ipvsadm` command of this package. Standard library
only; a C decoder (built with cffi) speeds up large dumps when present.

Names are imported on first use (PEP 562), so that `import ipvs.cli` (and
so `ipvsadm -h`) does not pay for the netlink and model modules. Two
submodules are public as they are: ipvs.vocab (every IPVS number and its
spellings) and ipvs.rules (model objects as ipvsadm's command words); so is
ipvs.lines (listing lines as data, which Client.destination_lines writes
from the dumps' records: in C when the C decoder is active).
"""
__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS = {
    "DecodeError": "._base", "IPVSError": "._base",
    "Client": "._client",
    "DECODER": "._decoder", "DECODER_REASON": "._decoder",
    "KernelError": "._errors", "NotAvailableError": "._errors",
    "ProtocolError": "._errors", "ipvs_strerror": "._errors",
    "Operation": "._plan", "PlanError": "._plan", "ApplyError": "._plan",
    "Snapshot": "._plan", "plan": "._plan", "apply": "._plan", "read_table": "._plan",
    "take_snapshot": "._plan", "restore_snapshot": "._plan", "Journal": "._plan",
    "Interrupted": "._plan", "UndoFailure": "._plan",
    "Scope": "._scope",
    "NetnsError": "._netns",
    "LockBusy": "._writelock",
    "to_json": "._json", "dumps": "._json", "dump_array": "._json",
    "connection_record_json": "._json",
    "json_table": "._jsonlines",
    "Status": "._status",
    "ProcDestinations": "._fastlist", "read_proc_table": "._fastlist",
    "read_proc_file": "._fastlist",
    "fast_table": "._fastlist", "numeric_listing": "._fastlist", "split_line": "._fastlist",
    "FastRestore": "._fastrestore",
    "RuleBatch": "._fastrestore",
    "connection_from_record": "._conns", "iter_records_from": "._conns",
    "iter_numeric_text_from": "._conns", "service_from_record": "._client",
    "CONNECTION_LINE": "._conntext", "connection_expire": "._conntext",
    "DrainProgress": ".drain", "DrainResult": ".drain", "wait_drained": ".drain",
    "DrainChanged": ".drain",
    "metrics_exposition": ".metrics", "collect_metrics": ".metrics",
    "take_sample": ".watch", "counter_rates": ".watch",
}
for _name in ("AF_INET", "AF_INET6", "DAEMON_BACKUP", "DAEMON_MASTER", "FWD_LOCAL",
              "FWD_MASQ", "FWD_ROUTE", "FWD_TUNNEL", "IPPROTO_SCTP", "IPPROTO_TCP",
              "IPPROTO_UDP", "SVC_F_HASHED", "SVC_F_ONEPACKET", "SVC_F_PERSISTENT",
              "SVC_F_SCHED1", "SVC_F_SCHED2", "SVC_F_SCHED3", "TUN_F_CSUM", "TUN_F_NOCSUM",
              "TUN_F_REMCSUM", "TUN_GRE", "TUN_GUE", "TUN_IPIP"):
    _EXPORTS[_name] = ".vocab"  # the numbers, without the model's import
for _name in ("Connection", "Destination", "Info", "Service", "Stats", "SyncDaemon",
              "Timeouts"):
    _EXPORTS[_name] = "._model"
del _name

__all__ = [
    "Client", "Service", "Destination", "Stats", "Timeouts", "SyncDaemon", "Info",
    "Connection", "IPVSError", "KernelError", "NotAvailableError", "ProtocolError",
    "DecodeError", "ipvs_strerror", "DECODER", "DECODER_REASON",
    "AF_INET", "AF_INET6", "IPPROTO_TCP", "IPPROTO_UDP", "IPPROTO_SCTP",
    "FWD_MASQ", "FWD_LOCAL", "FWD_TUNNEL", "FWD_ROUTE",
    "TUN_IPIP", "TUN_GUE", "TUN_GRE", "TUN_F_NOCSUM", "TUN_F_CSUM", "TUN_F_REMCSUM",
    "SVC_F_PERSISTENT", "SVC_F_HASHED", "SVC_F_ONEPACKET",
    "SVC_F_SCHED1", "SVC_F_SCHED2", "SVC_F_SCHED3",
    "DAEMON_MASTER", "DAEMON_BACKUP", "__version__",
    "Operation", "PlanError", "ApplyError", "Snapshot", "plan", "apply", "read_table",
    "take_snapshot", "restore_snapshot", "Journal", "Interrupted", "UndoFailure", "Scope",
    "NetnsError", "LockBusy", "to_json", "dumps", "dump_array", "connection_record_json",
    "json_table", "Status",
    "ProcDestinations", "read_proc_file", "read_proc_table", "fast_table", "numeric_listing",
    "split_line",
    "FastRestore", "RuleBatch", "connection_from_record", "iter_records_from",
    "iter_numeric_text_from",
    "service_from_record", "CONNECTION_LINE", "connection_expire",
    "DrainProgress", "DrainResult", "DrainChanged", "wait_drained", "metrics_exposition",
    "collect_metrics",
    "take_sample", "counter_rates",
]


TYPE_CHECKING = False
if TYPE_CHECKING:  # what a type checker sees of the names above (never run);
    # tests/test_typing.py checks that it and _EXPORTS name the same things
    from ._base import DecodeError as DecodeError, IPVSError as IPVSError
    from ._client import Client as Client, service_from_record as service_from_record
    from ._conns import (connection_from_record as connection_from_record,
                         iter_numeric_text_from as iter_numeric_text_from,
                         iter_records_from as iter_records_from)
    from ._conntext import (CONNECTION_LINE as CONNECTION_LINE,
                            connection_expire as connection_expire)
    from ._decoder import DECODER as DECODER, DECODER_REASON as DECODER_REASON
    from ._fastlist import (ProcDestinations as ProcDestinations, fast_table as fast_table,
                            numeric_listing as numeric_listing,
                            read_proc_file as read_proc_file,
                            read_proc_table as read_proc_table, split_line as split_line)
    from ._fastrestore import FastRestore as FastRestore
    from ._fastrestore import RuleBatch as RuleBatch
    from ._errors import (KernelError as KernelError, NotAvailableError as NotAvailableError,
                          ProtocolError as ProtocolError, ipvs_strerror as ipvs_strerror)
    from ._json import (connection_record_json as connection_record_json,
                        dump_array as dump_array, dumps as dumps, to_json as to_json)
    from ._jsonlines import json_table as json_table
    from ._model import (Connection as Connection, Destination as Destination, Info as Info,
                         Service as Service, Stats as Stats, SyncDaemon as SyncDaemon,
                         Timeouts as Timeouts)
    from .vocab import (
        AF_INET as AF_INET, AF_INET6 as AF_INET6, DAEMON_BACKUP as DAEMON_BACKUP,
        DAEMON_MASTER as DAEMON_MASTER, FWD_LOCAL as FWD_LOCAL, FWD_MASQ as FWD_MASQ,
        FWD_ROUTE as FWD_ROUTE, FWD_TUNNEL as FWD_TUNNEL, IPPROTO_SCTP as IPPROTO_SCTP,
        IPPROTO_TCP as IPPROTO_TCP, IPPROTO_UDP as IPPROTO_UDP, SVC_F_HASHED as SVC_F_HASHED,
        SVC_F_ONEPACKET as SVC_F_ONEPACKET, SVC_F_PERSISTENT as SVC_F_PERSISTENT,
        SVC_F_SCHED1 as SVC_F_SCHED1, SVC_F_SCHED2 as SVC_F_SCHED2,
        SVC_F_SCHED3 as SVC_F_SCHED3, TUN_F_CSUM as TUN_F_CSUM, TUN_F_NOCSUM as TUN_F_NOCSUM,
        TUN_F_REMCSUM as TUN_F_REMCSUM, TUN_GRE as TUN_GRE, TUN_GUE as TUN_GUE,
        TUN_IPIP as TUN_IPIP)
    from ._netns import NetnsError as NetnsError
    from ._writelock import LockBusy as LockBusy
    from ._plan import (ApplyError as ApplyError, Interrupted as Interrupted,
                        Journal as Journal, Operation as Operation, PlanError as PlanError,
                        Snapshot as Snapshot, UndoFailure as UndoFailure, apply as apply,
                        plan as plan, read_table as read_table,
                        restore_snapshot as restore_snapshot, take_snapshot as take_snapshot)
    from ._scope import Scope as Scope
    from ._status import Status as Status
    from .drain import (DrainChanged as DrainChanged, DrainProgress as DrainProgress,
                         DrainResult as DrainResult, wait_drained as wait_drained)
    from .metrics import (collect_metrics as collect_metrics,
                           metrics_exposition as metrics_exposition)
    from .watch import counter_rates as counter_rates, take_sample as take_sample


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
