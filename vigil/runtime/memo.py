"""A bounded memo of work that depends only on its key.

List pages turn the same rows into the same objects on every poll of a dashboard: a row into the domain
object, that into a proto message, the message into JSON. A `Memo` keeps those results under a key that names
its input exactly, so a key can never find a result computed from other input:

- the bytes of a message (the gateway's JSON of a list item);
- a row's tenant, id and version, for rows written only through `versioned.VersionedTable`, which refuses a
  change that keeps the version (the version is the row's ETag; a change always makes a new one).

The oldest entry leaves when the memo is full (first in, first out: no bookkeeping on a hit). Results are
shared between callers: treat them as read-only.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Generic, TypeVar

# Entries a list page memo keeps: 80 pages of 50, a few MB; a dashboard wall polls far fewer.
LISTED_MEMO = 4096

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Memo(Generic[K, V]):
    __slots__ = ("_entries", "size")

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: dict[K, V] = {}

    def get(self, key: K) -> V | None:
        return self._entries.get(key)

    def put(self, key: K, value: V) -> V:
        entries = self._entries
        if len(entries) >= self.size:
            try:
                del entries[next(iter(entries))]
            except (StopIteration, KeyError, RuntimeError):  # another thread evicted first
                pass
        entries[key] = value
        return value

    def __len__(self) -> int:
        return len(self._entries)
