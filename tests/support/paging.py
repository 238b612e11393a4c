"""Reading a whole list by cursor, the way a client does: random page sizes, `between` after each page (to
write concurrently while paging)."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from typing import Any


async def walk(fetch: Callable[[int, str], Awaitable[Any]], rng: random.Random,
               between: Callable[[], Awaitable[None]] | None = None, pages: int = 1000) -> list[Any]:
    """Every item of a list: `fetch(limit, cursor)` returns a page with `.items` and `.next_cursor`."""
    seen: list[Any] = []
    cursor = ""
    for _ in range(pages):
        page = await fetch(rng.randint(1, 7), cursor)
        seen.extend(page.items)
        if between is not None:
            await between()
        if not page.next_cursor:
            return seen
        cursor = page.next_cursor
    raise AssertionError("the list did not end")
