"""Root-cause analysis, end to end: gather, rank, report, store and publish; then (with an LLM, and when the
tenant allows it) the narrative, awaited at most VIGIL_RCA_LLM_WAIT_SECONDS by the request. A narrative that
takes longer is added to the stored result when it arrives (rca.narrative_added); one that fails leaves the
deterministic result, marked with the reason. Automatic analyses of new incidents are run by a worker from the
pending rows the incident.created consumer writes."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from datetime import UTC, datetime

from services.ai.events import AiEvents
from services.ai.llm import LlmError
from services.ai.rca import report
from services.ai.rca.gather import Gatherer
from services.ai.rca.model import RcaResult, Window
from services.ai.rca.narrative import Narrator
from services.ai.rca.ranking import RankingParams, rank
from services.ai.rca.store import RcaStore
from services.ai.store import SettingsStore
from vigil.runtime import context
from vigil.runtime.clock import new_id, now
from vigil.runtime.context import CallContext
from vigil.runtime.errors import FieldError, NotFound, ValidationFailed, VigilError

log = logging.getLogger("vigil.ai.rca")
NS = 1_000_000_000
MAX_WINDOW_DAYS = 7
MAX_BASELINE_DAYS = 31
VERDICTS = ("correct", "incorrect")
AUTO_ACTOR = "vigil-ai"


EARLIEST, LATEST = datetime(1970, 1, 1, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC)


def validate_windows(window: Window | None, baseline: Window | None, at: datetime | None = None) -> None:
    errors: list[FieldError] = []
    if at is not None and not EARLIEST <= at < LATEST:
        errors.append(FieldError("at", "must be between 1970 and 2200"))
    for name, w, days in (("window", window, MAX_WINDOW_DAYS), ("baseline", baseline, MAX_BASELINE_DAYS)):
        if w is None:
            continue
        if not (EARLIEST <= w.start < LATEST and EARLIEST <= w.end < LATEST):
            errors.append(FieldError(f"{name}.start", "times must be between 1970 and 2200"))
            continue
        if w.end <= w.start:
            errors.append(FieldError(f"{name}.end", f"must be after {name}.start"))
        elif (w.end - w.start).total_seconds() > days * 86400:
            errors.append(FieldError(f"{name}.end", f"the {name} may span at most {days} days"))
    if window and baseline and baseline.start < window.end and window.start < baseline.end:
        errors.append(FieldError("baseline.end", "the baseline must not overlap the window"))
    if errors:
        raise ValidationFailed("invalid analysis request", errors)


class RcaService:
    def __init__(self, gatherer: Gatherer, store: RcaStore, events: AiEvents, settings: SettingsStore,
                 narrator: Narrator | None, llm_wait_seconds: float = 5.0,
                 params: RankingParams | None = None) -> None:
        self.gatherer = gatherer
        self.store = store
        self.events = events
        self.settings = settings
        self.narrator = narrator
        self.llm_wait_seconds = llm_wait_seconds
        self.params = params or RankingParams()
        self.tasks: set[asyncio.Task] = set()
        self.wake = asyncio.Event()

    # -- analysis

    async def run(self, ctx: CallContext, incident_key: str, *, at: datetime | None = None,
                  window: Window | None = None, baseline: Window | None = None, trigger: str = "manual",
                  result_id: str | None = None) -> RcaResult:
        validate_windows(window, baseline, at)
        created = now()
        gathered = await self.gatherer.gather(incident_key, at, window, baseline)
        ranking = rank(gathered.hood, gathered.signals, gathered.changes, int(gathered.at.timestamp() * NS),
                       gathered.resolution_ns, self.params)
        result = report.build(gathered, ranking, self.params, result_id=result_id or new_id(),
                              tenant_id=ctx.tenant_id, trigger=trigger, requested_by=ctx.actor, created_at=created,
                              completed_at=now())
        tenant = await self.settings.get(ctx.tenant_id)
        if self.narrator is None:
            result = replace(result, narrative_status="none")
        elif not tenant.llm_enabled:
            result = replace(result, narrative_status="none", llm_error="the LLM is disabled for this tenant")
        elif result.evidence:
            result = replace(result, narrative_status="pending")
        ranked = now()
        await self.store.save(result, [self.events.rca("rca.completed", result)])
        log.debug("analysis %s: %d ms to rank and report, %d ms to store", result.id,
                  (ranked - created).total_seconds() * 1000, (now() - ranked).total_seconds() * 1000)
        if result.narrative_status != "pending":
            return result
        task = self._spawn(self._narrate(result))
        try:
            return await asyncio.wait_for(asyncio.shield(task), self.llm_wait_seconds)
        except TimeoutError:
            return result  # the narrative follows in the stored result

    def _spawn(self, coro) -> asyncio.Task:
        task = asyncio.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    async def _narrate(self, result: RcaResult) -> RcaResult:
        dropped: tuple = ()
        try:
            sentences, dropped = await self.narrator.narrate(result)
            if not sentences:
                raise LlmError(f"no sentence of the answer cites existing evidence ({len(dropped)} dropped)")
            done = report.with_narrative(result, sentences, dropped, now())
            event = "rca.narrative_added"
        except LlmError as err:
            done = replace(result, narrative_status="failed", llm_error=str(err), dropped_claims=tuple(dropped))
            event = "rca.narrative_failed"  # whoever saw `pending` learns that no narrative follows
        except Exception as exc:  # noqa: BLE001 - a narrative never breaks an analysis
            log.exception("narrative of %s failed", result.id)
            done = replace(result, narrative_status="failed", llm_error=f"{type(exc).__name__}")
            event = "rca.narrative_failed"
        await self.store.save(done, [self.events.rca(event, done)])
        return done

    async def resume_narratives(self) -> None:
        """Narratives a stopped process left pending are written again."""
        if self.narrator is None:
            return
        for result in await self.store.pending_narratives():
            self._spawn(self._narrate(result))

    # -- automatic analyses

    async def enqueue_auto(self, conn, tenant_id: str, incident) -> str | None:
        """From the incident.created consumer, in its transaction: a pending analysis if the tenant asked for
        this severity."""
        settings = await self.settings.get(tenant_id, conn)
        if incident.severity not in settings.auto_rca_severities:
            return None
        rca_id = await self.store.add_pending(conn, tenant_id, incident.id, incident.reference, AUTO_ACTOR)
        self.wake.set()
        return rca_id

    async def work(self, poll_seconds: float = 2.0) -> None:
        """Run pending automatic analyses until cancelled."""
        while True:
            try:
                claimed = await self.store.claim_pending()
            except Exception as exc:  # noqa: BLE001 - the database may be away; try again
                log.warning("claiming pending analyses: %s", exc)
                claimed = []
            for pending in claimed:
                await self._run_pending(pending)
            if not claimed:
                try:
                    await asyncio.wait_for(self.wake.wait(), poll_seconds)
                except TimeoutError:
                    pass
                self.wake.clear()

    async def _run_pending(self, pending: RcaResult) -> None:
        ctx = CallContext(tenant_id=pending.tenant_id, actor=AUTO_ACTOR, role="responder")
        token = context.bind(ctx)
        try:
            await self.run(ctx, pending.incident_id, trigger="auto", result_id=pending.id)
        except VigilError as err:
            failed = replace(pending, status="failed", error=f"{err.code}: {err.message}", completed_at=now())
            await self.store.save(failed, [self.events.rca("rca.failed", failed)])
        except Exception as exc:  # noqa: BLE001 - recorded on the result, the worker goes on
            log.exception("automatic analysis %s failed", pending.id)
            failed = replace(pending, status="failed", error=type(exc).__name__, completed_at=now())
            await self.store.save(failed, [self.events.rca("rca.failed", failed)])
        finally:
            context.reset(token)

    # -- reads, feedback, settings

    async def get(self, ctx: CallContext, rca_id: str) -> RcaResult:
        return await self.store.get(ctx.tenant_id, rca_id)

    async def list_for_incident(self, ctx: CallContext, incident_key: str, limit: int,
                                offset: int) -> tuple[list[RcaResult], int]:
        if not 1 <= limit <= 200 or offset < 0:
            raise ValidationFailed("invalid page", [FieldError("limit", "must be between 1 and 200")])
        incident = await self.gatherer.incident(incident_key)  # 404 for an unknown or foreign incident
        return await self.store.list_for_incident(ctx.tenant_id, incident.id, limit, offset)

    async def feedback(self, ctx: CallContext, rca_id: str, verdict: str, actual_cause_ci_id: str = "",
                       actual_cause: str = "", comment: str = "") -> tuple[dict, tuple[int, int]]:
        errors = []
        if verdict not in VERDICTS:
            errors.append(FieldError("verdict", "must be correct or incorrect"))
        for name, value, limit in (("actual_cause_ci_id", actual_cause_ci_id, 128),
                                   ("actual_cause", actual_cause, 2000), ("comment", comment, 2000)):
            if len(value) > limit:
                errors.append(FieldError(name, f"at most {limit} characters"))
        if verdict == "correct" and (actual_cause_ci_id or actual_cause):
            errors.append(FieldError("actual_cause", "only for an incorrect analysis"))
        if errors:
            raise ValidationFailed("invalid feedback", errors)
        if not ctx.actor:
            raise NotFound("no caller to record feedback for")
        return await self.store.record_feedback(ctx.tenant_id, rca_id, ctx.actor, verdict, actual_cause_ci_id,
                                                actual_cause, comment)

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
