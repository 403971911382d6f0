# Draining real servers: weight 0, wait for their connections to end, then
# delete them (what operators script around `ipvsadm -e -w 0; sleep; -d`).
#
# Rule: only the public Client API (destinations, edit_destination,
# delete_destination, table, apply, plan) and the model classes; the clock
# and the sleep are parameters, so the state machine runs in unit tests
# against a fake client without a kernel or real time.
from __future__ import annotations

import contextlib
import errno
import time
from collections import namedtuple
TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs start-up time; annotations stay strings
    from typing import Callable, ContextManager, Iterable, List, Optional, Tuple

from ._base import IPVSError
from ._errors import KernelError
from ._model import FWD_MASK, Destination, Service

# The default drain timeout, in seconds: the kernel's default UDP timeout
# (300 s, `ipvsadm --set`'s third value). UDP has no "active" state, so a
# UDP real server only drains when its connection entries expire, which is
# that long after a flow's last datagram; it also covers TCP's FIN_WAIT
# and TIME_WAIT entries (120 s each by default). A flow that keeps
# sending never drains: the timeout ends the wait, then the delete runs.
DEFAULT_TIMEOUT = 300.0
DEFAULT_POLL = 1.0


class DrainProgress(namedtuple("DrainProgress", "elapsed timeout active inactive persistent "
                                                "remaining")):
    """What one poll saw: seconds since the weight went to 0, the timeout,
    and the summed active, inactive and persistent connection counts of
    the real servers still draining (`remaining` of them)."""

    __slots__ = ()

    @property
    def done(self) -> bool:
        return self.remaining == 0


class DrainResult(namedtuple("DrainResult", "drained elapsed deleted")):
    """How a drain ended: `drained` True when every connection count reached
    0, False when the timeout passed first; `elapsed` seconds; `deleted`
    whether the real servers were deleted (False for wait_drained)."""

    __slots__ = ()


class DrainChanged(IPVSError):
    """Another writer changed real servers while they drained (a health
    checker gave one its weight back): they are not deleted. `changed`:
    [(Service, Destination as the kernel now holds it)]."""

    def __init__(self, changed):
        IPVSError.__init__(self, "%d real server%s changed by another writer while "
                           "draining, not deleted" % (len(changed),
                                                      "" if len(changed) == 1 else "s"))
        self.changed = list(changed)


def changed_while_draining(client, drained) -> List[Tuple[Service, Destination]]:
    """Of `drained` ((Service, Destination as we left it at weight 0)
    pairs), those whose settings the kernel no longer holds as we left
    them: [(Service, the kernel's Destination)]; read now, once per
    service. One that is gone (or whose service is) is not listed."""
    from ._table import dest_settings
    by_service = {}
    for svc, d in drained:
        by_service.setdefault(svc.key, (svc, []))[1].append(d)
    out = []
    for svc, ds in by_service.values():
        try:
            now = {d.key: d for d in client.destinations(svc)}
        except KernelError as e:
            if e.errno in (errno.ESRCH, errno.ENOENT):
                continue
            raise
        for d in ds:
            cur = now.get(d.key)
            if cur is not None and dest_settings(cur) != dest_settings(d):
                out.append((svc, cur))
    return out


def _counts(d: Destination) -> Tuple[int, int, int]:
    return (d.active_conns, d.inactive_conns, d.persistent_conns)


def find_destination(client, service: Service, dest: Destination) -> Optional[Destination]:
    """The kernel's record of `dest` in `service`, or None."""
    for d in client.destinations(service):
        if d.key == dest.key:
            return d
    return None


def set_weight_zero(client, service: Service, dest: Destination) -> Destination:
    """Weight 0, every other setting as the kernel has it; returns the
    edited destination. KernelError (ENOENT, ipvsadm's message) when the
    real server does not exist."""
    try:
        current = find_destination(client, service, dest)
    except KernelError as e:
        if e.errno == errno.ESRCH:  # as ipvsadm -d says it
            raise KernelError(errno.ESRCH, "delete_destination") from None
        raise
    if current is None:
        raise KernelError(errno.ENOENT, "delete_destination")
    zeroed = current.replace(weight=0, fwd_method=current.fwd_method & FWD_MASK)
    if current.weight != 0:
        client.edit_destination(service, zeroed)
    return zeroed


def wait_drained(client, pairs: Iterable[Tuple[Service, Destination]], *,
                 timeout: float = DEFAULT_TIMEOUT, poll: float = DEFAULT_POLL,
                 progress: Optional[Callable[[DrainProgress], None]] = None,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep,
                 checkpoint: Optional[Callable[[], None]] = None) -> DrainResult:
    """Poll until every (service, destination) has no active, inactive or
    persistent connection (or is gone), or `timeout` seconds pass. Changes
    nothing. `progress`, when given, is called after every poll;
    `checkpoint` (e.g. one that raises ipvs.Interrupted after a signal)
    before every poll."""
    if timeout < 0 or poll <= 0:
        raise ValueError("timeout must be >= 0 and poll > 0")
    by_service = {}
    for svc, d in pairs:
        by_service.setdefault(svc.key, (svc, set()))[1].add(d.key)
    start = clock()
    while True:
        if checkpoint is not None:
            checkpoint()
        totals = [0, 0, 0]
        remaining = 0
        for svc, keys in by_service.values():
            try:
                dests = client.destinations(svc)
            except KernelError as e:
                if e.errno in (errno.ESRCH, errno.ENOENT):  # the service went away
                    continue
                raise
            for d in dests:
                if d.key in keys:
                    c = _counts(d)
                    if any(c):
                        remaining += 1
                        totals = [t + v for t, v in zip(totals, c)]
        elapsed = clock() - start
        if progress is not None:
            progress(DrainProgress(elapsed, timeout, totals[0], totals[1], totals[2],
                                   remaining))
        if remaining == 0:
            return DrainResult(True, elapsed, False)
        if elapsed >= timeout:
            return DrainResult(False, elapsed, False)
        sleep(min(poll, max(timeout - elapsed, 0.0)) or poll)


def drain(client, service: Service, dest: Destination, *,
          timeout: float = DEFAULT_TIMEOUT, poll: float = DEFAULT_POLL,
          progress: Optional[Callable[[DrainProgress], None]] = None,
          clock: Callable[[], float] = time.monotonic,
          sleep: Callable[[float], None] = time.sleep,
          checkpoint: Optional[Callable[[], None]] = None,
          writing: Optional[Callable[[], ContextManager]] = None) -> DrainResult:
    """Set `dest`'s weight to 0 (so the scheduler sends it no new
    connection), wait until its connection counts reach 0 or `timeout`
    seconds pass, then delete it. An exception while waiting (a
    KeyboardInterrupt, or what `checkpoint` raises, which is called before
    every poll and before the delete) leaves the real server in place at
    weight 0. Read again right before the delete: a real server whose
    weight or settings another writer changed meanwhile is not deleted
    (DrainChanged). writing: a context manager factory each of the two
    writes runs in (the writers' lock: Client.writer_lock), never the wait."""
    writing = writing or contextlib.nullcontext
    with writing():
        zeroed = set_weight_zero(client, service, dest)
    result = wait_drained(client, [(service, dest)], timeout=timeout, poll=poll,
                          progress=progress, clock=clock, sleep=sleep,
                          checkpoint=checkpoint)
    if checkpoint is not None:
        checkpoint()
    with writing():
        changed = changed_while_draining(client, [(service, zeroed)])
        if changed:
            raise DrainChanged(changed)
        try:
            client.delete_destination(service, dest)
        except KernelError as e:
            if e.errno != errno.ENOENT:  # already gone (deleted by someone else) is fine
                raise
    return result._replace(deleted=True)


# ------------------------------------------------------------- plans

def drain_stage(current, target, scope=None) -> Tuple[list, List[Tuple[Service, Destination]]]:
    """For an apply that drains: (the intermediate table, the pairs to
    drain). The intermediate table is `target` plus every real server the
    plan would remove (and every service it would remove, with its real
    servers) kept at weight 0. Applying it sets those weights to 0 in the
    same batch as the rest of the plan; applying `target` after the drain
    deletes them. `target` is any table apply() takes (normalized here).
    scope: an ipvs.Scope; then only the services of `current` it covers
    are ours to drain."""
    from ._table import normalize_table
    target = normalize_table(target)
    if scope is not None:
        current = scope.select(current)
    cur = {s.key: (s, ds) for s, ds in current}
    stage = []
    pairs: List[Tuple[Service, Destination]] = []
    seen = set()
    for svc, dests in target:
        seen.add(svc.key)
        keep = list(dests)
        old = cur.get(svc.key)
        if old is not None:
            new_keys = {d.key for d in dests}
            for d in old[1]:
                if d.key not in new_keys:
                    keep.append(d.replace(weight=0))
                    pairs.append((svc, d))
        stage.append((svc, keep))
    for key, (svc, dests) in cur.items():
        if key not in seen:
            zeroed = [d.replace(weight=0) for d in dests]
            stage.append((svc, zeroed))
            pairs.extend((svc, d) for d in dests)
    return stage, pairs


def keep_changed(target, current, changed) -> list:
    """`target` (normalized) with the real servers of `changed` ((Service,
    Destination) pairs, changed_while_draining's) kept as they are now,
    and their services kept where the target removes them (as `current`,
    the table now, holds them): an apply of it deletes only what
    drained."""
    from ._table import normalize_table
    out = [(s, list(ds)) for s, ds in normalize_table(target)]
    index = {s.key: i for i, (s, _) in enumerate(out)}
    now = {s.key: s for s, _ in current}
    for svc, d in changed:
        i = index.get(svc.key)
        if i is None:
            index[svc.key] = i = len(out)
            out.append((now.get(svc.key, svc), []))
        out[i][1].append(d)
    return out


def plan_drained(client, target, scope=None
                 ) -> Tuple[list, List[Tuple[Service, Destination]], list]:
    """(operations before the drain, pairs to drain, operations after it)
    for making the table equal to `target`; changes nothing. scope: an
    ipvs.Scope, the only services planned for (see ipvs.plan)."""
    from ._plan import plan
    from ._table import normalize_table
    current = client.table()
    tgt = normalize_table(target)
    stage, pairs = drain_stage(current, tgt, scope)
    return (plan(current, stage, scope=scope), pairs,
            plan(normalize_table(stage), tgt, scope=scope))
