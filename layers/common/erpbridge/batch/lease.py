"""A run's hold on its job's lock: a lease that expires unless a heartbeat renews it.

The lock is taken when a run begins (:func:`erpbridge.batch.fetch.begin_run`, which records its
name and owner token in the run record) and covers the whole run: the fetch, the import of every
page, and a paged run's finalise. While one of these steps runs, a heartbeat thread renews the
lease every ``ttl_s / 3`` seconds (``JobLock.extend``: only while the run's own owner token still
holds it, so a heartbeat never takes back a lock that was released or taken over), so a step may
take longer than the lease; a second run of the job is refused meanwhile.
Between steps (the fetch has staged the pages, their imports have not started yet) the lease
simply runs on. The lock is released when the run is over (:attr:`RunRecord.over`): its last page
imported (one page), finalised, a page failed, or the fetch failed. A run that crashed renews
nothing: its lock expires ``ttl_s`` after the last heartbeat and the next run takes it over.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime

from erpbridge.batch.models import RunRecord, utcnow
from erpbridge.batch.ports import JobLock

logger = logging.getLogger(__name__)

DEFAULT_LOCK_TTL_S = 16 * 60  # longer than any batch function's 15-minute timeout


@dataclass(frozen=True)
class HeldLock:
    """The lock a run holds: its name (``job`` or ``job@variant``) and the run's owner token."""

    name: str
    owner: str

    @classmethod
    def of(cls, record: RunRecord | None) -> HeldLock | None:
        """The lock ``record``'s run took (None: a file put into staging/ by hand, or no run)."""
        if record is None or not record.lock_name or not record.lock_owner:
            return None
        return cls(record.lock_name, record.lock_owner)


class Leases:
    """Renews and releases the job locks runs hold, on one ``JobLock``."""

    def __init__(
        self,
        lock: JobLock,
        *,
        ttl_s: int = DEFAULT_LOCK_TTL_S,
        heartbeat_s: float | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.lock = lock
        self.ttl_s = ttl_s
        self.heartbeat_s = heartbeat_s if heartbeat_s is not None else ttl_s / 3
        self._clock = clock

    def renew(self, held: HeldLock) -> bool:
        """Extend the lease to ``ttl_s`` from now while the run still holds the lock. False when it
        does not any more: released (the run ended) or taken over by another run after it expired."""
        kept = self.lock.extend(held.name, held.owner, now=self._clock(), ttl_s=self.ttl_s)
        if not kept:
            logger.warning("lock %s is no longer held by %s: not renewed", held.name, held.owner)
        return kept

    def release(self, held: HeldLock | None) -> None:
        if held is not None:
            self.lock.release(held.name, held.owner)

    def release_if_over(self, record: RunRecord | None) -> None:
        """Release the run's lock once nothing more happens to the run (:attr:`RunRecord.over`)."""
        if record is not None and record.over:
            self.release(HeldLock.of(record))

    @contextmanager
    def heartbeat(self, held: HeldLock | None) -> Iterator[bool]:
        """Renew ``held`` now and every ``heartbeat_s`` while the block runs (nothing for None).
        Yields whether the first renewal kept the lock (False: another run holds it now)."""
        if held is None:
            yield True
            return
        kept = self.renew(held)
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(self.heartbeat_s):
                try:
                    if not self.renew(held):
                        return
                except Exception:  # a throttled or unreachable lock table: try again next beat
                    logger.exception("heartbeat of lock %s failed", held.name)

        thread = threading.Thread(target=beat, name=f"lease {held.name}", daemon=True)
        thread.start()
        try:
            yield kept
        finally:
            stop.set()
            thread.join()


def run_heartbeat(leases: Leases | None, record: RunRecord | None) -> AbstractContextManager[bool]:
    """The heartbeat of the lock ``record``'s run holds, while a step of it runs (none without
    ``leases``, or for a run that holds no lock)."""
    return leases.heartbeat(HeldLock.of(record)) if leases is not None else nullcontext(True)
