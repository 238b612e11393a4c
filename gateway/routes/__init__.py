"""HTTP routes of the two planes, one module per area. Each module holds `Routes` (gateway/routing.py) with its
declarations; `collect` gathers a plane's, so adding an area is adding a module and adding a route is adding a
declared handler."""

from __future__ import annotations

import importlib
import pkgutil

from gateway.routing import Plane, Route, Routes


def collect(plane: Plane) -> list[Route]:
    found: list[Route] = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        tables = {id(v): v for v in vars(module).values() if isinstance(v, Routes) and v.plane == plane}
        for table in tables.values():
            found.extend(table)
    ids = [r.operation_id for r in found]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValueError(f"operation ids used twice on the {plane} plane: {', '.join(duplicates)}")
    return found
