"""HTTP routes of the two planes, one module per area. Each module declares `PLANE` ("tenant" or "control")
and `ROUTES` (aiohttp route definitions whose handlers carry an `auth.policy`); `collect` gathers them, so
adding an area is adding a module."""

from __future__ import annotations

import importlib
import pkgutil

from aiohttp import web


def collect(plane: str) -> list[web.RouteDef]:
    routes: list[web.RouteDef] = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        if getattr(module, "PLANE", None) == plane:
            routes.extend(module.ROUTES)
    return routes
