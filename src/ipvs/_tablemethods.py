# The Client's whole-table methods: list every service with its real
# servers, read the table as rules, plan, apply, drain. They only call the Client's own per-object methods, through the
# modules that hold the logic (_table, _plan, drain), imported on first use.
#
# Rule: a mixin of Client (ipvs._client); no state of its own.
from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs start-up time; annotations stay strings
    from typing import Iterable, List, Optional, Tuple

    from ._model import Destination, Service


class TableMethods:
    def entries(self, services: Optional[Iterable[Service]] = None
                ) -> List[Tuple[Service, List[Destination]]]:
        """Each service (by default all, as services() lists them) with
        its real servers, the dumps of all of them run in one go (see
        destination_records_many)."""
        from ._client import dest_from_record
        services = self.services() if services is None else list(services)
        return [(s, [dest_from_record(r) for r in recs])
                for s, recs in zip(services, self.destination_records_many(services))]

    def table(self) -> list:
        """The table as rules: [(Service, [Destination, ...]), ...]."""
        from ._plan import read_table
        return read_table(self)

    def plan(self, target) -> list:
        """The operations (ipvs.Operation) that would make the table equal
        to `target` ((Service, [Destination, ...]) pairs); changes nothing."""
        from ._plan import plan, read_table
        return plan(read_table(self), target)

    def apply(self, target, *, atomic: bool = True, checkpoint=None) -> list:
        """Make the table equal to `target` with the fewest operations,
        never a flush; returns the operations run. ApplyError on a failure,
        after undoing our own operations when atomic (see ipvs.apply)."""
        from ._plan import apply
        return apply(self, target, atomic=atomic, checkpoint=checkpoint)

    def drain(self, service: Service, dest: Destination, *, timeout: float = 300.0,
              poll: float = 1.0, progress=None, checkpoint=None):
        """Weight 0, wait until `dest` has no active, inactive or persistent
        connection or `timeout` seconds pass, then delete it; returns an
        ipvs.DrainResult. An exception while waiting leaves it at weight 0
        (see ipvs.drain.drain)."""
        from .drain import drain
        return drain(self, service, dest, timeout=timeout, poll=poll, progress=progress,
                     checkpoint=checkpoint)
