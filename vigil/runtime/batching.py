"""Group commit: many concurrent writers, few transactions.

`await group.submit(item)` returns once `item` is durably written. Whatever is submitted while a batch is being
written goes into the next batch, so under load each transaction carries many items and alone an item waits for
one transaction, never for a timer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class GroupCommit(Generic[T]):
    def __init__(self, write: Callable[[list[T]], Awaitable[None]], max_batch: int = 1000,
                 name: str = "group-commit") -> None:
        self.write = write
        self.max_batch = max_batch
        self.name = name
        self._pending: list[tuple[T, asyncio.Future[None]]] = []
        self._writer: asyncio.Task | None = None

    async def submit(self, item: T) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._drain(), name=self.name)
        await future

    async def _drain(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[:self.max_batch], self._pending[self.max_batch:]
            try:
                await self.write([item for item, _ in batch])
            except Exception as exc:  # noqa: BLE001 - every waiter of the batch learns of the failure
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
            else:
                for _, future in batch:
                    if not future.done():
                        future.set_result(None)

    async def close(self) -> None:
        """Wait for what was submitted to be written."""
        if self._writer is not None:
            await asyncio.shield(self._writer)
