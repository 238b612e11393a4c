"""Lists, written once for the SQL stores: structured filters translated to SQL, and opaque cursor paging.

Filters are the body of `POST /api/<resource>/search`: `[{"attribute", "operator", "values": [{"value": …}]}]`,
all of which must hold. Each resource declares its attributes once (a `Catalogue` of `Attribute`s bound to its
columns) and each attribute the operators it supports; an unknown attribute, an operator the attribute does
not support, or a value it cannot take is a validation error naming `filters[i].attribute`,
`filters[i].operator` or `filters[i].values[j]`.

Operators: `IS`, `IS_NOT` (one value); `IS_ANY_OF`, `IS_NONE_OF` (one or more); `CONTAINS`, `NOT_CONTAINS`
(one; Unicode-caseless substring, see vigil.runtime.text); `IS_BETWEEN` (two, inclusive); `GT`, `GTE`, `LT`,
`LTE` (one); `IS_EMPTY`, `IS_NOT_EMPTY` (none).

Cursor paging is keyset paging over a total order: the list's sort key, then a column unique within the
tenant (the reference number or the id). A cursor encodes the position after the last row of a page (its
sort key and tie-breaker), not a count of rows to skip, so rows inserted or deleted meanwhile neither repeat
nor hide the rows that were there. It is bound to its list's sort, order and filters: reused with others it is
refused rather than answering a question that was not asked.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, NamedTuple, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from vigil.runtime.clock import as_utc
from vigil.runtime.db import Database, records
from vigil.runtime.errors import FieldError, ValidationFailed
from vigil.runtime.memo import Memo
from vigil.runtime.text import contains

T = TypeVar("T")

MAX_FILTERS = 20
MAX_VALUES = 100
# How many values each operator takes: (at least, at most).
ARITY: dict[str, tuple[int, int]] = {
    "IS": (1, 1), "IS_NOT": (1, 1), "IS_ANY_OF": (1, MAX_VALUES), "IS_NONE_OF": (1, MAX_VALUES),
    "CONTAINS": (1, 1), "NOT_CONTAINS": (1, 1), "IS_BETWEEN": (2, 2),
    "GT": (1, 1), "GTE": (1, 1), "LT": (1, 1), "LTE": (1, 1), "IS_EMPTY": (0, 0), "IS_NOT_EMPTY": (0, 0),
}
OPERATORS = tuple(ARITY)
EQUALITY = ("IS", "IS_NOT", "IS_ANY_OF", "IS_NONE_OF")
ORDERING = ("IS_BETWEEN", "GT", "GTE", "LT", "LTE")
EMPTINESS = ("IS_EMPTY", "IS_NOT_EMPTY")


@dataclass(frozen=True, slots=True)
class Filter:
    attribute: str
    operator: str
    values: tuple[Any, ...] = ()


class Listing(NamedTuple, Generic[T]):
    """One page of a list: its items, how many match in all, and where the next page starts ("": no more)."""

    items: list[T]
    total: int
    next_cursor: str = ""


class BadValue(ValueError):
    """A filter value an attribute cannot take; the message says what it takes."""


# ------------------------------------------------------------------------------------------------ attributes


class Attribute:
    """One filterable attribute of a resource: its name, the operators it supports and how values become SQL."""

    operators: tuple[str, ...] = ()

    def __init__(self, name: str, column: sa.ColumnElement[Any]) -> None:
        self.name = name
        self.column = column

    def value(self, raw: Any) -> Any:
        return raw

    def clause(self, operator: str, values: list[Any]) -> sa.ColumnElement[bool]:
        c = self.column
        if operator in ("IS", "IS_ANY_OF"):
            return c.in_(values) if len(values) > 1 else c == values[0]
        if operator in ("IS_NOT", "IS_NONE_OF"):
            return c.not_in(values) if len(values) > 1 else c != values[0]
        if operator == "IS_BETWEEN":
            return c.between(values[0], values[1])
        if operator in ("GT", "GTE", "LT", "LTE"):
            return {"GT": c > values[0], "GTE": c >= values[0], "LT": c < values[0], "LTE": c <= values[0]}[operator]
        if operator == "IS_EMPTY":
            return c == ""
        if operator == "IS_NOT_EMPTY":
            return c != ""
        raise AssertionError(operator)


def _text(raw: Any) -> str:
    if not isinstance(raw, str) or not raw:
        raise BadValue("must be a non-empty string")
    if "\x00" in raw:  # PostgreSQL text cannot hold it; no stored value has it
        raise BadValue("must not contain NUL characters")
    return raw


class Keyword(Attribute):
    """An exact string: a state, a type, an email. `choices` closes the set of values; `aliases` are values
    that stand for a condition of their own (e.g. a status filter that is not a state)."""

    def __init__(self, name: str, column: sa.ColumnElement[str], choices: Sequence[str] = (), empty: bool = False,
                 aliases: dict[str, sa.ColumnElement[bool]] | None = None) -> None:
        super().__init__(name, column)
        self.choices = tuple(choices)
        self.aliases = aliases or {}
        self.operators = EQUALITY + (EMPTINESS if empty else ())

    def value(self, raw: Any) -> str:
        raw = _text(raw)
        allowed = (*self.choices, *self.aliases)
        if self.choices and raw not in allowed:
            raise BadValue(f"unknown {self.name} {raw!r}; one of {', '.join(allowed)}")
        return raw

    def clause(self, operator: str, values: list[Any]) -> sa.ColumnElement[bool]:
        if not any(v in self.aliases for v in values):
            return super().clause(operator, values)
        matches = sa.or_(*(self.aliases[v] if v in self.aliases else self.column == v for v in values))
        return matches if operator in ("IS", "IS_ANY_OF") else sa.not_(matches)


class Text(Keyword):
    """Free text: exact comparisons on the field, and CONTAINS / NOT_CONTAINS on its folded column."""

    def __init__(self, name: str, column: sa.ColumnElement[str], folded: sa.ColumnElement[str],
                 empty: bool = False) -> None:
        super().__init__(name, column, empty=empty)
        self.folded = folded
        self.operators = (*self.operators, "CONTAINS", "NOT_CONTAINS")

    def value(self, raw: Any) -> str:
        return _text(raw)

    def clause(self, operator: str, values: list[Any]) -> sa.ColumnElement[bool]:
        if operator == "CONTAINS":
            return contains(self.folded, values[0])
        if operator == "NOT_CONTAINS":
            return sa.not_(contains(self.folded, values[0]))
        return super().clause(operator, values)


class Ranked(Keyword):
    """A closed set with an order (risk low < medium < high < critical): equality, and comparisons by rank."""

    def __init__(self, name: str, column: sa.ColumnElement[str], order: Sequence[str]) -> None:
        super().__init__(name, column, choices=order)
        self.rank = sa.case({v: i for i, v in enumerate(order)}, value=column)
        self.order = tuple(order)
        self.operators = EQUALITY + ORDERING

    def clause(self, operator: str, values: list[Any]) -> sa.ColumnElement[bool]:
        if operator in ORDERING:
            ranks = [self.order.index(v) for v in values]
            return Attribute(self.name, self.rank).clause(operator, ranks)
        return super().clause(operator, values)


class Time(Attribute):
    """A point in time; values are RFC 3339 / ISO 8601 with a zone."""

    operators = ORDERING

    def value(self, raw: Any) -> datetime:
        try:
            parsed = datetime.fromisoformat(raw.replace("Z", "+00:00")) if isinstance(raw, str) else None
        except ValueError:
            parsed = None
        if parsed is None or parsed.tzinfo is None:
            raise BadValue("must be a date-time with a zone, e.g. 2026-04-01T18:00:00Z")
        try:
            return as_utc(parsed)
        except OverflowError:  # e.g. 9999-12-31T23:59:59-14:00: past the year 9999 in UTC
            raise BadValue("is out of range: in UTC it must fall within the years 1 to 9999") from None


class Number(Attribute):
    operators = EQUALITY + ORDERING

    def value(self, raw: Any) -> int:
        if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw) or raw != int(raw):
            raise BadValue("must be a whole number")
        if not -(2**63) <= raw < 2**63:
            raise BadValue("is out of range")
        return int(raw)


class Reference(Number):
    """A per-tenant reference (INC-00000001), compared by its number; a bare number is taken too."""

    def __init__(self, name: str, column: sa.ColumnElement[int], pattern: re.Pattern[str]) -> None:
        super().__init__(name, column)
        self.pattern = pattern

    def value(self, raw: Any) -> int:
        match = self.pattern.match(raw.upper()) if isinstance(raw, str) else None
        if match:
            return int(match.group(1))
        try:
            return super().value(raw)
        except BadValue:
            raise BadValue(f"must be a reference like {self.pattern.pattern.strip('^$')}") from None


class Flag(Attribute):
    operators = ("IS", "IS_NOT")

    def value(self, raw: Any) -> bool:
        if not isinstance(raw, bool):
            raise BadValue("must be true or false")
        return raw


class Members(Keyword):
    """A set of values kept in a link table (the CIs of an incident): IS x means "has x", IS_EMPTY "has none"."""

    def __init__(self, name: str, owner: sa.Table, link: sa.Table, link_owner: str, link_value: str) -> None:
        super().__init__(name, link.c[link_value], empty=True)
        self.owner, self.link, self.link_owner = owner, link, link_owner

    def _having(self, values: list[Any] | None) -> sa.ColumnElement[bool]:
        link = self.link
        where = [link.c.tenant_id == self.owner.c.tenant_id, link.c[self.link_owner] == self.owner.c.id]
        if values is not None:
            where.append(self.column.in_(values))
        return sa.exists().where(*where)

    def clause(self, operator: str, values: list[Any]) -> sa.ColumnElement[bool]:
        if operator in ("IS", "IS_ANY_OF"):
            return self._having(values)
        if operator in ("IS_NOT", "IS_NONE_OF"):
            return sa.not_(self._having(values))
        return sa.not_(self._having(None)) if operator == "IS_EMPTY" else self._having(None)


class Catalogue:
    """The filterable attributes of one resource."""

    def __init__(self, *attributes: Attribute) -> None:
        self.attributes = {a.name: a for a in attributes}

    def operators(self) -> dict[str, tuple[str, ...]]:
        return {name: a.operators for name, a in self.attributes.items()}

    def where(self, filters: Sequence[Filter]) -> list[sa.ColumnElement[bool]]:
        """The SQL conditions of the filters, all of which must hold; every bad filter is named at once."""
        errors: list[FieldError] = []
        if len(filters) > MAX_FILTERS:
            errors.append(FieldError("filters", f"at most {MAX_FILTERS} filters"))
        clauses = []
        for i, f in enumerate(filters[:MAX_FILTERS]):
            at = f"filters[{i}]"
            attribute = self.attributes.get(f.attribute)
            if attribute is None:
                errors.append(FieldError(f"{at}.attribute", f"unknown attribute {f.attribute!r}; one of "
                                                            f"{', '.join(self.attributes)}"))
                continue
            if f.operator not in attribute.operators:
                what = "unknown operator" if f.operator not in ARITY else f"{f.attribute} does not support"
                errors.append(FieldError(f"{at}.operator", f"{what} {f.operator!r}; {f.attribute} supports "
                                                           f"{', '.join(attribute.operators)}"))
                continue
            least, most = ARITY[f.operator]
            if not least <= len(f.values) <= most:
                wanted = str(least) if least == most else f"{least} to {most}"
                errors.append(FieldError(f"{at}.values", f"{f.operator} takes {wanted} values, not {len(f.values)}"))
                continue
            values, bad = [], False
            for j, raw in enumerate(f.values):
                try:
                    values.append(attribute.value(raw))
                except BadValue as exc:
                    errors.append(FieldError(f"{at}.values[{j}]", str(exc)))
                    bad = True
            if bad:
                continue
            rank = attribute.order.index if isinstance(attribute, Ranked) else (lambda v: v)
            if f.operator == "IS_BETWEEN" and rank(values[0]) > rank(values[1]):
                errors.append(FieldError(f"{at}.values", "the first value must not be after the second"))
                continue
            clauses.append(attribute.clause(f.operator, values))
        if errors:
            raise ValidationFailed("invalid filters", errors)
        return clauses


def filters_from_proto(messages: Sequence[Any]) -> tuple[Filter, ...]:
    """Filters from `vigil.common.v1.Filter` messages (their values are `google.protobuf.Value`s)."""
    def scalar(value: Any) -> Any:
        kind = value.WhichOneof("kind")
        if kind in (None, "null_value"):
            return None
        return getattr(value, kind)  # a list or struct value stays a message: no attribute takes it

    return tuple(Filter(m.attribute, m.operator, tuple(scalar(v) for v in m.values)) for m in messages)


def parse_filters(raw: Any) -> list[Filter]:
    """Filters from JSON: a list of filters, each `{"attribute", "operator", "values": [{"value": …}]}`
    (`values` may be left out for IS_EMPTY / IS_NOT_EMPTY). Shape errors name the failing place."""
    if not isinstance(raw, list):
        raise ValidationFailed("invalid filters", [FieldError("filters", "must be a list of filters")])
    errors: list[FieldError] = []
    out: list[Filter] = []
    for i, f in enumerate(raw):
        at = f"filters[{i}]"
        if not isinstance(f, dict):
            errors.append(FieldError(at, "must be an object with attribute, operator and values"))
            continue
        unknown = sorted(set(f) - {"attribute", "operator", "values"})
        errors.extend(FieldError(f"{at}.{k}", "unknown field") for k in unknown)
        for key in ("attribute", "operator"):
            if not isinstance(f.get(key), str) or not f.get(key):
                errors.append(FieldError(f"{at}.{key}", "is required (a string)"))
        values = f.get("values", [])
        if not isinstance(values, list):
            errors.append(FieldError(f"{at}.values", 'must be a list of {"value": …}'))
            continue
        plain = []
        for j, v in enumerate(values):
            if not isinstance(v, dict) or set(v) != {"value"}:
                errors.append(FieldError(f"{at}.values[{j}]", 'must be {"value": …}'))
            else:
                plain.append(v["value"])
        out.append(Filter(str(f.get("attribute", "")), str(f.get("operator", "")), tuple(plain)))
    if errors:
        raise ValidationFailed("invalid filters", errors)
    return out


# ------------------------------------------------------------------------------------------------ cursor


@dataclass(frozen=True, slots=True)
class SortKey:
    """What a list can be sorted by: a column or expression, and the type of its values ("time", "int", "str")."""

    expression: sa.ColumnElement[Any]
    kind: str


class Keyset:
    """A total order for one table: the requested sort key, then `tie` (unique per tenant, same direction)."""

    def __init__(self, sorts: dict[str, SortKey], tie: sa.ColumnElement[Any], tie_kind: str) -> None:
        self.sorts = sorts
        self.tie = SortKey(tie, tie_kind)

    def order_by(self, sort: str, order: str) -> list[sa.ColumnElement[Any]]:
        keys = (self.sorts[sort].expression, self.tie.expression)
        return [k.desc() if order == "desc" else k.asc() for k in keys]

    def columns(self, sort: str) -> list[sa.ColumnElement[Any]]:
        """Select these beside the row, so the page's last row gives the next cursor."""
        return [self.sorts[sort].expression.label("_sort_key"), self.tie.expression.label("_tie_key")]

    def after(self, cursor: str, sort: str, order: str, query: Any) -> sa.ColumnElement[bool]:
        """The rows after the cursor's position (raises ValidationFailed naming `cursor`)."""
        key, tie = self._decode(cursor, sort, order, query)
        expr, tie_expr = self.sorts[sort].expression, self.tie.expression
        if order == "desc":
            return sa.or_(expr < key, sa.and_(expr == key, tie_expr < tie))
        return sa.or_(expr > key, sa.and_(expr == key, tie_expr > tie))

    def next_cursor(self, rows: Sequence[Any], limit: int, sort: str, order: str, query: Any) -> str:
        """The cursor after the last of `limit` rows, when `rows` (fetched with limit + 1) show there are more."""
        if len(rows) <= limit:
            return ""
        last = rows[limit - 1]
        payload = {"s": sort, "o": order, "q": fingerprint(query),
                   "k": [_encode(last._sort_key, self.sorts[sort].kind), _encode(last._tie_key, self.tie.kind)]}
        return base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode().rstrip("=")

    def _decode(self, cursor: str, sort: str, order: str, query: Any) -> tuple[Any, Any]:
        try:
            payload = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
            if (payload["s"], payload["o"]) != (sort, order) or payload["q"] != fingerprint(query):
                raise ValidationFailed("invalid cursor", [FieldError(
                    "cursor", "belongs to a list with another sort, order or filters; start again without it")])
            key, tie = payload["k"]
            return _decode(key, self.sorts[sort].kind), _decode(tie, self.tie.kind)
        except ValidationFailed:
            raise
        except (ValueError, KeyError, TypeError, OverflowError, binascii.Error):
            raise ValidationFailed("invalid cursor", [FieldError(
                "cursor", "is not a cursor of this list (pass next_cursor from the previous page as it is)")]
            ) from None


def fingerprint(query: Any) -> str:
    """What a cursor is bound to: the query without its paging (limit, offset, cursor)."""
    return hashlib.sha256(repr(query).encode()).hexdigest()[:16]


def _encode(value: Any, kind: str) -> Any:
    return as_utc(value).isoformat() if kind == "time" else value


def _decode(value: Any, kind: str) -> Any:
    if kind == "time":
        return as_utc(datetime.fromisoformat(value))
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int) or not -(2**63) <= value < 2**63:
            raise ValueError("not a 64-bit integer")
        return value
    if not isinstance(value, str) or "\x00" in value:
        raise ValueError("not a string")
    return value


async def list_page(db: Database, table: sa.Table, where: Sequence[sa.ColumnElement[bool]], keyset: Keyset,
                    load: Callable[[Any], T], *, sort: str, order: str, limit: int, offset: int, cursor: str,
                    query: Any, memo: Memo[tuple[str, str, int], T] | None = None) -> Listing[T]:
    """One page of `table`'s rows matching `where`: after the cursor when there is one, else from `offset`;
    with the total and the next cursor. `query` is the list's query without its paging (the cursor's binding).
    The total and the page are one brief read (`Database.brief_read`: on the loop while they stay short).

    With a `memo` (for a table whose rows change only through `versioned.VersionedTable` and whose ids are never
    used again: see vigil.runtime.memo), only the rows the memo does not hold at their version are loaded: a
    polled page loads only what changed since the last poll."""
    count = sa.select(sa.func.count()).select_from(table).where(*where)
    statement = sa.select(table, *keyset.columns(sort)).where(*where).order_by(*keyset.order_by(sort, order))
    if cursor:
        statement = statement.where(keyset.after(cursor, sort, order, query))
    else:
        statement = statement.offset(offset)

    async def read(conn: AsyncConnection) -> Listing[T]:
        total = (await conn.execute(count)).scalar_one()
        rows = records(await conn.execute(statement.limit(limit + 1)))
        if memo is None:
            items = [load(r) for r in rows[:limit]]
        else:
            items = [memo.get_or_make((r.tenant_id, r.id, r.version), load, r) for r in rows[:limit]]
        return Listing(items, int(total), keyset.next_cursor(rows, limit, sort, order, query))

    return await db.brief_read(read)
