"""Pagination that counts a bounded number of rows.

Django's paginator counts every matching row to say "page 1 of N". For the calls list of
a department of 200 managers that is a count over ~7 million rows on every page view.
``BoundedPaginator`` counts at most ``limit`` rows: below that it is the plain paginator;
above it the last page it offers is the one holding row ``limit`` and ``more`` is True
(the pager then says "of more than N"; filters narrow the list further).
"""

from __future__ import annotations

from django.core.paginator import Paginator
from django.utils.functional import cached_property

LIMIT = 250_000  # rows: 5,000 pages of 50


class BoundedPaginator(Paginator):
    def __init__(self, object_list, per_page: int, limit: int = LIMIT, **kwargs) -> None:
        super().__init__(object_list, per_page, **kwargs)
        self.limit = limit

    @cached_property
    def found(self) -> int:
        """Matching rows, counted up to one past the limit."""
        return self.object_list.order_by()[: self.limit + 1].count()

    @cached_property
    def count(self) -> int:
        return min(self.found, self.limit)

    @property
    def more(self) -> bool:
        """More rows match than were counted."""
        return self.found > self.limit
