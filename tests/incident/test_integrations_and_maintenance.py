"""Integrations (keys shown once, stored as hashes; authenticate, rotate, delete; settings validation and
partial updates) and maintenance windows (matchers, validation, tenancy), through the domain services on real
SQLite and PostgreSQL stores."""

import time
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from services.incident.integrations.service import IntegrationService, hash_key
from services.incident.integrations.store import IntegrationStore, integrations
from services.incident.maintenance.service import MaintenanceService, Matcher
from services.incident.maintenance.store import MaintenanceStore
from vigil.runtime.context import CallContext
from vigil.runtime.errors import Conflict, NotFound, Unauthenticated, ValidationFailed

T1 = CallContext(tenant_id="t1", actor="admin@t1", role="admin")
T2 = CallContext(tenant_id="t2", actor="admin@t2", role="admin")


async def test_integration_keys_are_hashed_rotated_and_revoked(database):
    service = IntegrationService(IntegrationStore(database))
    created, key = await service.create(T1, "prod am", "alertmanager", {"reopen_window_seconds": 60})
    assert key.startswith("vgi_") and created.key_prefix == key[:12]
    assert created.settings.reopen_window_seconds == 60 and created.settings.group_by == "fingerprint"
    async with database.read() as conn:
        stored = (await conn.execute(sa.select(integrations))).one()
    assert key not in str(tuple(stored)) and stored.key_hash == hash_key(key)
    assert (await service.authenticate(key)).tenant_id == "t1"
    _rotated, new_key = await service.rotate_key(T1, created.id)
    with pytest.raises(Unauthenticated):
        await service.authenticate(key)
    assert (await service.authenticate(new_key)).id == created.id
    with pytest.raises(NotFound):
        await service.rotate_key(T2, created.id)  # another tenant's integration does not exist for it
    await service.delete(T1, created.id)
    with pytest.raises(Unauthenticated):
        await service.authenticate(new_key)
    with pytest.raises(NotFound):
        await service.get(T1, created.id)
    with pytest.raises(Unauthenticated):
        await service.authenticate("not-a-key")


async def test_integration_settings_are_validated_and_updated_in_part(database):
    service = IntegrationService(IntegrationStore(database))
    with pytest.raises(ValidationFailed) as err:
        await service.create(T1, "x", "alertmanager", {"group_by": "labels"})
    assert [f.field for f in err.value.fields] == ["settings.group_labels"]
    with pytest.raises(ValidationFailed) as err:
        await service.create(T1, "x", "nagios", {})
    assert err.value.fields[0].field == "type"
    created, _ = await service.create(T1, "x", "generic", {"severity_map": {"sev1": "P1"}})
    updated = await service.update(T1, created.id, None, {"group_by": "labels", "group_labels": ["alertname"]},
                                   expected_version=created.version)
    assert (updated.settings.group_by, updated.settings.group_labels, updated.settings.severity_map) == (
        "labels", ("alertname",), {"sev1": "P1"})
    assert updated.version == created.version + 1
    with pytest.raises(Conflict):
        await service.update(T1, created.id, "y", {}, expected_version=created.version)
    with pytest.raises(ValidationFailed):
        await service.update(T1, created.id, None, {"severity_map": {"sev1": "P9"}})
    listed, total = await service.list(T1, "generic", 50, 0)
    assert total == 1 and listed[0].id == created.id
    assert (await service.list(T2, "", 50, 0))[1] == 0


def test_matchers_follow_alertmanager():
    labels = {"service": "db-main", "env": "prod"}
    assert Matcher("service", "=~", "db-.*").matches(labels)
    assert not Matcher("service", "=~", "db").matches(labels)  # anchored
    assert Matcher("service", "!~", "web.*").matches(labels)
    assert Matcher("team", "=", "").matches(labels)  # a missing label matches as empty
    assert Matcher("env", "!=", "staging").matches(labels)


def test_matchers_take_linear_time_whatever_the_pattern():
    """RE2, as Alertmanager: a pattern Python's re backtracks on exponentially ((a|a)*b over 40 a's: hours) is
    answered at once, so one tenant's window cannot stall the alert consumer every tenant shares."""
    started = time.process_time()
    for n in (40, 1000):
        assert not Matcher("x", "=~", "(a|a)*b").matches({"x": "a" * n})
        assert Matcher("x", "!~", "(a|a)*b").matches({"x": "a" * n})
    assert time.process_time() - started < 1.0
    # A pattern stored when windows took Python's syntax never silences anything (nor stops the consumer).
    assert not Matcher("x", "=~", "(?=a)a").matches({"x": "a"}) and not Matcher("x", "!~", "(?=a)b").matches({"x": "a"})


async def test_maintenance_windows(database):
    service = MaintenanceService(MaintenanceStore(database))
    now = datetime.now(UTC)
    with pytest.raises(ValidationFailed) as err:
        await service.create(T1, "all", "", (), (), (), None, now + timedelta(hours=1))
    assert err.value.fields[0].field == "matchers"
    with pytest.raises(ValidationFailed) as err:
        await service.create(T1, "bad", "", (Matcher("a", "=~", "("),), (), (), None, now + timedelta(hours=1))
    assert err.value.fields[0].field == "matchers[0].value"
    with pytest.raises(ValidationFailed) as err:  # Python's re has lookarounds; RE2 and Alertmanager do not
        await service.create(T1, "bad", "", (Matcher("a", "=~", "(?=x)x"),), (), (), None, now + timedelta(hours=1))
    assert [(f.field, f.message) for f in err.value.fields] == [
        ("matchers[0].value", "invalid regular expression (RE2): invalid perl operator: (?=")]
    window = await service.create(T1, "db", "", (Matcher("service", "=~", "db-.*"),), (), (), now,
                                  now + timedelta(hours=1))
    assert window.covers("any", {"service": "db-1"}, (), now + timedelta(minutes=5))
    assert not window.covers("any", {"service": "db-1"}, (), now + timedelta(hours=2))
    moved = await service.update(T1, window.id, {"ends_at": now + timedelta(hours=3)}, window.version)
    assert moved.covers("any", {"service": "db-1"}, (), now + timedelta(hours=2))
    with pytest.raises(ValidationFailed):
        await service.update(T1, window.id, {"ends_at": now - timedelta(hours=1)})
    active, total = await service.list(T1, now + timedelta(minutes=1), 50, 0)
    assert total == 1 and active[0].id == window.id
    with pytest.raises(NotFound):
        await service.get(T2, window.id)
    await service.delete(T1, window.id)
    assert (await service.list(T1, None, 50, 0))[1] == 0
