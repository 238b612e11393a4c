"""Text search the same on SQLite and PostgreSQL, for every alphabet.

SQLite's LIKE and lower() fold ASCII only and PostgreSQL's depend on the database's collation, so neither is
trusted with case: beside each searchable field the stores keep a `<field>_folded` column holding it already
folded (`folded(...)`, written with every insert and update), and compare that with the folded query by a
LIKE whose wildcards come only from us (`contains`).

Folding is Unicode's caseless matching in its compatibility form (NFKC, full case folding, NFKC again): `ß`
matches `ss` and `SS`, `Σ`/`ς`/`σ` match each other, `ﬁ` matches `fi`, full-width letters match their plain
forms. As in log search (services/observability), the Turkish dotted capital `İ` (which case folding leaves as
`i` + a combining dot) and the dotless `ı` read as a plain `i`, so `İstanbul`, `istanbul`, `ISTANBUL` and
`ılık`/`ILIK` match each other. Accents stay significant (`é` is not `e`).
"""

from __future__ import annotations

import unicodedata

import sqlalchemy as sa


def fold(text: str) -> str:
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    return folded.replace("i\u0307", "i").replace("ı", "i")


def folded(**fields: str) -> dict[str, str]:
    """The `<field>_folded` column values of some fields: `folded(title=…)` -> `{"title_folded": …}`."""
    return {f"{name}_folded": fold(value) for name, value in fields.items()}


def contains(column: sa.ColumnElement[str], query: str) -> sa.ColumnElement[bool]:
    """`column` (folded text) contains `query` folded; `%`, `_` and `\\` in the query are literal."""
    needle = fold(query).replace("\x00", "")  # PostgreSQL text cannot hold NUL; nothing stored has it
    escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return column.like(f"%{escaped}%", escape="\\")


def contains_any(columns: tuple[sa.ColumnElement[str], ...], query: str) -> sa.ColumnElement[bool]:
    """A `q=` search: any of the folded columns contains the query."""
    return sa.or_(*(contains(c, query) for c in columns))


def add_folded_columns(table: str, keys: tuple[str, ...], fields: tuple[str, ...], chunk: int = 1000) -> None:
    """For a migration: add `<field>_folded` columns to a table and fill them in for the rows already there.
    (A later change to `fold` needs a migration of its own that fills them in again.)"""
    from alembic import op

    with op.batch_alter_table(table) as batch:
        for field in fields:
            batch.add_column(sa.Column(f"{field}_folded", sa.Text, nullable=False, server_default=""))
    conn = op.get_bind()
    t = sa.table(table, *(sa.column(name) for name in (*keys, *fields, *(f"{f}_folded" for f in fields))))
    rows = conn.execute(sa.select(*(t.c[k] for k in keys), *(t.c[f] for f in fields))).all()
    update = t.update().where(*(t.c[k] == sa.bindparam(f"key_{k}") for k in keys)).values(
        {f"{f}_folded": sa.bindparam(f"new_{f}") for f in fields})
    values = [{**{f"key_{k}": row[i] for i, k in enumerate(keys)},
               **{f"new_{f}": fold(row[len(keys) + i] or "") for i, f in enumerate(fields)}} for row in rows]
    for start in range(0, len(values), chunk):
        conn.execute(update, values[start:start + chunk])


def drop_folded_columns(table: str, fields: tuple[str, ...]) -> None:
    from alembic import op

    with op.batch_alter_table(table) as batch:
        for field in fields:
            batch.drop_column(f"{field}_folded")
