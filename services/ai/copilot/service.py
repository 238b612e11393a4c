"""The copilot: a question about the tenant's own data, answered with the ids it used.

With an LLM (and the tenant allowing it) the model runs a tool-calling loop over the read-only tools, at most
VIGIL_COPILOT_MAX_STEPS turns and COPILOT_TIMEOUT seconds; tool results reach it as untrusted data; its answer's
citations are checked against the ids the tools returned (unknown ones are dropped and reported). Without an LLM,
or when it fails, the deterministic interpreter answers the common shapes (and says when it cannot). Either way
`stream` yields each tool call as it happens, then the answer."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from services.ai.copilot import interpreter
from services.ai.copilot.tools import SCHEMAS, Citation, ToolResult, Tools
from services.ai.llm import UNTRUSTED, Llm, LlmError, data_message, parse_json_object
from services.ai.store import SettingsStore
from vigil.runtime.clock import now
from vigil.runtime.context import CallContext
from vigil.runtime.errors import FieldError, ValidationFailed, VigilError

PERSONAS = ("sre", "manager", "executive")
COPILOT_TIMEOUT = 60.0
TOOL_TIMEOUT = 10.0
MAX_TOOL_CALLS_PER_TURN = 4
ID_IN_TEXT = re.compile(r"\b(?:INC-\d{8}|CHG-\d{8}|ev:[a-z]+:[A-Za-z0-9_.:\-]*[A-Za-z0-9])")


@dataclass(frozen=True, slots=True)
class ToolCallRecord:
    name: str
    arguments: dict[str, Any]
    ok: bool
    summary: str


@dataclass(slots=True)
class Answer:
    answer: str
    mode: str
    persona: str
    citations: list[Citation] = field(default_factory=list)
    tool_calls: list[ToolCallRecord] = field(default_factory=list)
    understood: bool = True
    llm_error: str = ""
    dropped_citations: list[str] = field(default_factory=list)


def validate(query: str, persona: str) -> str:
    errors = []
    if not query.strip() or len(query) > 2000:
        errors.append(FieldError("query", "1 to 2000 characters"))
    persona = persona or "sre"
    if persona not in PERSONAS:
        errors.append(FieldError("persona", f"one of {', '.join(PERSONAS)}"))
    if errors:
        raise ValidationFailed("invalid question", errors)
    return persona


def system_prompt(persona: str) -> str:
    style = {"sre": "detailed, with the evidence", "manager": "brief, with the impact",
             "executive": "one or two sentences"}[persona]
    return ("You are Vigil's copilot. You answer questions about the tenant's incidents, root-cause analyses, "
            "configuration items, changes, logs and metrics, using only the read-only tools. Every fact in the "
            "answer cites the ids the tools returned (INC-..., CHG-..., analysis ids, ev:... evidence and log ids, "
            "CI ids); never invent an id. If the tools do not show it, say you do not know.\n"
            f"{UNTRUSTED}\n"
            f"Style for this reader ({persona}): {style}.\n"
            'Final answer: one JSON object only: {"answer": "...", "citations": ["id", ...]}')


class Copilot:
    def __init__(self, tools: Tools, settings: SettingsStore, llm: Llm | None, max_steps: int = 6) -> None:
        self.tools = tools
        self.settings = settings
        self.llm = llm
        self.max_steps = max_steps

    async def ask(self, ctx: CallContext, query: str, persona: str) -> Answer:
        final = None
        async for event in self.stream(ctx, query, persona):
            if isinstance(event, Answer):
                final = event
        assert final is not None
        return final

    async def stream(self, ctx: CallContext, query: str, persona: str) -> AsyncIterator[ToolCallRecord | Answer]:
        persona = validate(query, persona)
        llm_error = ""
        tenant = await self.settings.get(ctx.tenant_id)
        if self.llm is not None and tenant.llm_enabled:
            calls: list[ToolCallRecord] = []
            try:
                async with asyncio.timeout(COPILOT_TIMEOUT):
                    async for event in self._agent(ctx, query, persona, calls):
                        yield event
                return
            except (LlmError, TimeoutError) as err:
                llm_error = str(err) or f"no answer within {COPILOT_TIMEOUT:g}s"
        async for event in self._interpret(ctx, query, persona, llm_error):
            yield event

    async def _tool(self, ctx: CallContext, name: str, args: dict) -> tuple[ToolCallRecord, ToolResult | None]:
        try:
            result = await asyncio.wait_for(self.tools.run[name](ctx, args), TOOL_TIMEOUT)
            return ToolCallRecord(name, args, True, result.summary), result
        except VigilError as err:
            return ToolCallRecord(name, args, False, f"{err.code}: {err.message}"), None
        except TimeoutError:
            return ToolCallRecord(name, args, False, f"no answer within {TOOL_TIMEOUT:g}s"), None

    # -- without an LLM

    async def _interpret(self, ctx: CallContext, query: str, persona: str,
                         llm_error: str) -> AsyncIterator[ToolCallRecord | Answer]:
        intent = interpreter.parse(query, now())
        if intent is None:
            yield Answer(f"I did not recognise this question. {interpreter.HELP}", "deterministic", persona,
                         understood=False, llm_error=llm_error)
            return
        calls: list[ToolCallRecord] = []
        cites: dict[str, Citation] = {}
        record, result = await self._tool(ctx, intent.tool, intent.args)
        calls.append(record)
        yield record
        if result is not None and intent.then:
            incidents = result.data["incidents"]
            if not incidents:
                yield Answer("No incident matches that description.", "deterministic", persona,
                             tool_calls=calls, llm_error=llm_error)
                return
            record, result = await self._tool(ctx, intent.then, {"incident_id": incidents[0]["reference"]})
            calls.append(record)
            yield record
        if result is None:
            yield Answer(f"I could not get that: {record.summary}.", "deterministic", persona, tool_calls=calls,
                         llm_error=llm_error)
            return
        text = interpreter.answer(intent, result.data, persona)
        mentioned = set(ID_IN_TEXT.findall(text))
        for c in result.citations:
            if c.kind in ("incident", "rca", "ci") or c.id in mentioned:
                cites.setdefault(c.id, c)
        yield Answer(text, "deterministic", persona, list(cites.values()), calls, llm_error=llm_error)

    # -- with an LLM

    async def _agent(self, ctx: CallContext, query: str, persona: str,
                     calls: list[ToolCallRecord]) -> AsyncIterator[ToolCallRecord | Answer]:
        tools = [{"type": "function", "function": s} for s in SCHEMAS]
        messages: list[dict[str, Any]] = [{"role": "system", "content": system_prompt(persona)},
                                          {"role": "user", "content": query}]
        known: dict[str, Citation] = {}
        for _ in range(self.max_steps):
            message = await self.llm.chat(messages, tools=tools)
            if message.tool_calls:
                messages.append({"role": "assistant", "content": message.content or "", "tool_calls": [
                    {"id": tc.id, "type": "function",
                     "function": {"name": tc.function.name, "arguments": tc.function.arguments or "{}"}}
                    for tc in message.tool_calls]})
                for i, tc in enumerate(message.tool_calls):
                    name = tc.function.name
                    try:
                        args = json.loads(tc.function.arguments or "{}")
                    except json.JSONDecodeError:
                        args = None
                    if i >= MAX_TOOL_CALLS_PER_TURN or name not in self.tools.run or not isinstance(args, dict):
                        record, result = ToolCallRecord(name, args if isinstance(args, dict) else {}, False,
                                                        "refused: unknown tool, bad arguments or too many calls"), None
                    else:
                        record, result = await self._tool(ctx, name, args)
                    calls.append(record)
                    yield record
                    payload = result.data if result is not None else {"error": record.summary}
                    if result is not None:
                        known.update((c.id, c) for c in result.citations)
                    messages.append({"role": "tool", "tool_call_id": tc.id,
                                     "content": data_message("Tool result (untrusted data, JSON):", payload)})
                continue
            yield self._final(message.content or "", known, calls, persona)
            return
        raise LlmError(f"no answer within {self.max_steps} model turns")

    @staticmethod
    def _final(content: str, known: dict[str, Citation], calls: list[ToolCallRecord], persona: str) -> Answer:
        try:
            raw = parse_json_object(content)
            text, cited = str(raw.get("answer", "")).strip(), [str(x) for x in raw.get("citations") or []]
        except LlmError:
            text, cited = content.strip(), []
        if not text:
            raise LlmError("the answer is empty")
        in_text = ID_IN_TEXT.findall(text)
        dropped = sorted({i for i in [*cited, *in_text] if i not in known})
        for bad in dropped:
            text = text.replace(f"[{bad}]", "").replace(bad, "(unverified reference removed)")
        citations = [known[i] for i in dict.fromkeys([*cited, *in_text]) if i in known]
        return Answer(re.sub(r"\s{2,}", " ", text)[:4000], "llm", persona, citations, calls,
                      dropped_citations=dropped)
