"""One page of a listing and the total it was cut from: the shape every list page, the API and
``_pagination.html`` read."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass
class Page(Generic[T]):
    items: list[T]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @classmethod
    def cut(cls, rows: Sequence[T], page: int, per_page: int) -> Page[T]:
        """The ``page``-th slice of rows already in memory (after a filter that SQL cannot do)."""
        return cls(list(rows[(page - 1) * per_page:page * per_page]), len(rows), page, per_page)
