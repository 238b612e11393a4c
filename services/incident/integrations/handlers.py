"""IntegrationService servicer: proto <-> domain."""

from __future__ import annotations

from services.incident.integrations.service import (
    SETTING_NAMES,
    Integration,
    IntegrationService,
    IntegrationSettings,
)
from vigil.common.v1 import common_pb2
from vigil.incident.v1 import alerts_pb2, alerts_pb2_grpc
from vigil.runtime import context
from vigil.runtime.errors import FieldError, ValidationFailed

FULL_NAME = alerts_pb2.DESCRIPTOR.services_by_name["IntegrationService"].full_name
_MAPS = ("severity_map",)
_LISTS = ("fingerprint_fields", "group_labels", "ci_labels")


def settings_to_proto(s: IntegrationSettings) -> alerts_pb2.IntegrationSettings:
    return alerts_pb2.IntegrationSettings(**s.as_json())


def integration_to_proto(i: Integration) -> alerts_pb2.Integration:
    msg = alerts_pb2.Integration(id=i.id, tenant_id=i.tenant_id, name=i.name, type=i.type,
                                 settings=settings_to_proto(i.settings), key_prefix=i.key_prefix,
                                 created_by=i.created_by, version=i.version)
    msg.created_at.FromDatetime(i.created_at)
    msg.updated_at.FromDatetime(i.updated_at)
    msg.key_rotated_at.FromDatetime(i.key_rotated_at)
    return msg


def settings_from_proto(msg: alerts_pb2.IntegrationSettings, names) -> dict:
    """The named settings of a message (proto3 cannot tell an unset field from a zero one)."""
    given = {}
    for name in names:
        if name not in SETTING_NAMES:
            raise ValidationFailed("unknown settings", [FieldError(f"settings.{name}", "unknown setting")])
        value = getattr(msg, name)
        given[name] = dict(value) if name in _MAPS else list(value) if name in _LISTS else value
    return given


class IntegrationHandlers(alerts_pb2_grpc.IntegrationServiceServicer):
    def __init__(self, service: IntegrationService) -> None:
        self.service = service

    async def CreateIntegration(self, request, _ctx):
        integration, key = await self.service.create(
            context.current(), request.name, request.type, settings_from_proto(request.settings, request.settings_mask))
        return alerts_pb2.CreateIntegrationResponse(integration=integration_to_proto(integration), key=key)

    async def GetIntegration(self, request, _ctx):
        integration = await self.service.get(context.current(), request.id)
        return alerts_pb2.GetIntegrationResponse(integration=integration_to_proto(integration))

    async def ListIntegrations(self, request, _ctx):
        limit = request.page.limit or 50
        items, total = await self.service.list(context.current(), request.type, limit, request.page.offset)
        return alerts_pb2.ListIntegrationsResponse(
            items=[integration_to_proto(i) for i in items],
            page=common_pb2.PageInfo(total=total, limit=limit, offset=request.page.offset))

    async def UpdateIntegration(self, request, _ctx):
        mask = list(request.update_mask)
        unknown = [m for m in mask if m != "name" and not m.startswith("settings.")]
        if unknown:
            raise ValidationFailed("unknown fields", [FieldError(m, "cannot be updated") for m in unknown])
        settings = settings_from_proto(request.settings, [m.split(".", 1)[1] for m in mask if m.startswith("settings.")])
        integration = await self.service.update(context.current(), request.id,
                                                request.name if "name" in mask else None, settings,
                                                request.expected_version)
        return alerts_pb2.UpdateIntegrationResponse(integration=integration_to_proto(integration))

    async def DeleteIntegration(self, request, _ctx):
        integration = await self.service.delete(context.current(), request.id)
        return alerts_pb2.DeleteIntegrationResponse(integration=integration_to_proto(integration))

    async def RotateIntegrationKey(self, request, _ctx):
        integration, key = await self.service.rotate_key(context.current(), request.id)
        return alerts_pb2.RotateIntegrationKeyResponse(integration=integration_to_proto(integration), key=key)

    async def AuthenticateIntegration(self, request, _ctx):
        integration = await self.service.authenticate(request.key)
        return alerts_pb2.AuthenticateIntegrationResponse(integration=integration_to_proto(integration))
