"""Which papers have source signals (upvotes, comments, stars) observed in a time window.

Public (through :class:`digest.store.Store`): :meth:`TrendingStore.papers_with_signals`.
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import Table, select

from digest.store.base import StoreBase
from digest.store.schema import SignalRow

_G = cast(Table, SignalRow.__table__)


class TrendingStore(StoreBase):
    def papers_with_signals(self, since: datetime, until: datetime) -> list[str]:
        """Ids of papers with a signal observation in ``[since, until]`` (trending candidates)."""
        stmt = (select(_G.c.paper_id).where(_G.c.observed >= since, _G.c.observed <= until)
                .group_by(_G.c.paper_id).order_by(_G.c.paper_id))
        with self.read() as conn:
            return [str(r[0]) for r in conn.execute(stmt)]
