"""Probe answers."""

from __future__ import annotations

from typing import Literal

from gateway.schemas.base import Resource


class Health(Resource):
    status: Literal["ok", "ready"]
