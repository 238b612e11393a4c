"""Text search the same on SQLite and PostgreSQL, for every alphabet.

SQLite's LIKE and lower() fold ASCII only and PostgreSQL's depend on the database's collation, so neither is
trusted with case: the stores keep a `search_text` column holding the searchable fields already folded
(`search_text(...)`, written with every insert and update), and compare it with the folded query by a
case-sensitive LIKE whose wildcards come only from us (`contains`).

Folding is Unicode's caseless matching in its compatibility form (NFKC, full case folding, NFKC again): `ß`
matches `ss` and `SS`, `Σ`/`ς`/`σ` match each other, `ﬁ` matches `fi`, full-width letters match their plain
forms. One addition: the dot that case folding leaves after the `i` of a capital `İ` is dropped, so `İstanbul`,
`istanbul` and `ISTANBUL` match each other (the dotless `ı` stays its own letter). Accents stay significant
(`é` is not `e`).
"""

from __future__ import annotations

import unicodedata

import sqlalchemy as sa

# What separates the folded fields in a search column, so that a query cannot match across two fields.
SEPARATOR = "\n"


def fold(text: str) -> str:
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    return folded.replace("i\u0307", "i")


def search_text(*fields: str) -> str:
    """The value of a `search_text` column: each field folded, one per line."""
    return SEPARATOR.join(fold(f) for f in fields)


def contains(column: sa.ColumnElement[str], query: str) -> sa.ColumnElement[bool]:
    """`column` (folded text) contains `query` folded; `%`, `_` and `\\` in the query are literal."""
    needle = fold(query).replace(SEPARATOR, " ")
    escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return column.like(f"%{escaped}%", escape="\\")


def backfill_search_text(table: str, keys: tuple[str, ...], fields: tuple[str, ...], chunk: int = 1000) -> None:
    """For a migration that adds a `search_text` column: fill it in for the rows already there."""
    from alembic import op

    conn = op.get_bind()
    t = sa.table(table, *(sa.column(name) for name in (*keys, *fields, "search_text")))
    rows = conn.execute(sa.select(*(t.c[k] for k in keys), *(t.c[f] for f in fields))).all()
    update = t.update().where(*(t.c[k] == sa.bindparam(f"key_{k}") for k in keys)).values(
        search_text=sa.bindparam("folded"))
    values = [{**{f"key_{k}": row[i] for i, k in enumerate(keys)},
               "folded": search_text(*(row[len(keys) + i] or "" for i in range(len(fields))))} for row in rows]
    for start in range(0, len(values), chunk):
        conn.execute(update, values[start:start + chunk])
