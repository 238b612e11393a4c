"""A bounded memo of work that depends only on its key.

List pages turn the same rows into the same objects on every poll of a dashboard: a row into the domain
object, that into a proto message, the message into JSON. A `Memo` keeps those results under a key that names
its input exactly, so a key can never find a result computed from other input:

- the bytes of a message (the gateway's JSON of a list item);
- a row's tenant, id and version, for rows written only through `versioned.VersionedTable`, which refuses a
  change that keeps the version (the version is the row's ETag; a change always makes a new one), and whose ids
  are never used again (a row deleted and created again under its id would start again at version 1: incidents
  are never deleted; CIs, whose ids clients choose and which can be deleted, are not memoised this way).

What is not used for two generations leaves (`Memo`). Results are shared between callers: treat them as
read-only.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

# Entries per generation of a list pages' memo: it keeps 2,048 to 4,096 items (40 to 80 pages of 50, a few MB);
# a dashboard wall polls far fewer.
LISTED_MEMO = 2048

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
S = TypeVar("S")


class Memo(Generic[K, V]):
    """Two generations of at most `size` entries each: a full new generation becomes the old one and the old one
    is dropped; a value found in the old generation moves to the new. So what is used stays, at the price of a
    dict lookup or two (no bookkeeping per entry, which on a miss would cost more than it saves)."""

    __slots__ = ("_new", "_old", "size")

    def __init__(self, size: int) -> None:
        self.size = size
        self._new: dict[K, V] = {}
        self._old: dict[K, V] = {}

    def get(self, key: K) -> V | None:
        value = self._new.get(key)
        if value is None:
            value = self._old.get(key)
            if value is not None:
                self.put(key, value)
        return value

    def get_or_make(self, key: K, make: Callable[[S], V], source: S) -> V:
        """The value kept for `key`, or `make(source)`'s, kept."""
        value = self.get(key)
        return self.put(key, make(source)) if value is None else value

    def put(self, key: K, value: V) -> V:
        if len(self._new) >= self.size:
            self._old, self._new = self._new, {}
        self._new[key] = value
        return value

    def __len__(self) -> int:
        return len(self._new.keys() | self._old.keys())
