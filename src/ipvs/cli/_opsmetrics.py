# ipvsadm -L --prometheus [--labels LIST] [-t|-u|-f SERVICE]: the table as
# Prometheus text, once (for node_exporter's textfile collector).
#
# Rule: the text comes from the library (ipvs.metrics); this module only
# checks the command line and picks the services.
from __future__ import annotations

import time

from . import _options as O
from ._run import Exit


def prometheus_listing(runner, argv):
    from .. import KernelError
    from ..metrics import BACKEND_LABELS, duration_family, metrics_chunks, \
        metrics_exposition, parse_labels, read_totals
    ce = _listing(argv, "--prometheus")
    labels = BACKEND_LABELS
    if runner.x.ops.labels is not None:
        try:
            labels = parse_labels(runner.x.ops.labels)
        except ValueError as e:
            raise Exit(2, "--labels: %s" % e) from None
    c = runner.client
    try:
        if ce.has(O.O_SERVICE):
            t0 = time.perf_counter()
            svc = c.get_service(runner.service(ce))
            text = metrics_exposition([(svc, c.destinations(svc))], totals=read_totals(c),
                              labels=labels)
            text += duration_family(time.perf_counter() - t0)
            runner.out.write(text)
        else:
            # the whole table: its text written as it is made (46 MB at
            # 5000 x 4), never held whole; the kernel is read before the
            # first byte, so a KernelError leaves the output empty
            runner._write_bytes(metrics_chunks(c, labels=labels))
    except KernelError as e:
        raise Exit(1, e.strerror) from None
    return 0


def _listing(argv, option):
    """The parsed -L command; Exit(2) for anything else."""
    from ._opsrun import parse_command
    ce = parse_command(argv, 2)
    if ce.cmd != O.CMD_LIST or ce.has(O.O_CONNECTION) or ce.has(O.O_TIMEOUT) \
            or ce.has(O.O_DAEMON):
        raise Exit(2, "%s goes with -L (--list) of the services, not -c, --timeout or "
                   "--daemon" % option)
    return ce
