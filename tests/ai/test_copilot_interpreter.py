"""The copilot's deterministic interpreter (pure): the question shapes it recognises, time phrases, and the
answers it builds from tool data for each persona."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.ai.copilot.interpreter import Intent, answer, hours_back, parse

AT = datetime(2026, 3, 4, 10, 30, tzinfo=UTC)


@pytest.mark.parametrize(("query", "tool", "args", "then"), [
    ("What caused the P1 incident last night?", "list_incidents", {"severity": "P1", "since_hours": 16.5},
     "get_rca"),
    ("why did INC-00000042 happen", "get_rca", {"incident_id": "INC-00000042"}, ""),
    ("what changed on orders-db this week?", "list_changes", {"ci": "orders-db", "days": 7}, ""),
    ("What changes to payments-api in the last 3 days", "list_changes", {"ci": "payments-api", "days": 3}, ""),
    ("show error logs of checkout in the last hour", "query_logs",
     {"service": "checkout", "minutes": 60, "level": "error"}, ""),
    ("checkout logs last 15 minutes", "query_logs", {"service": "checkout", "minutes": 15}, ""),
    ("what is the blast radius of orders-db?", "ci_impact", {"ci": "orders-db", "direction": "downstream"}, ""),
    ("what depends on orders-db", "ci_impact", {"ci": "orders-db", "direction": "downstream"}, ""),
    ("what does checkout depend on?", "ci_impact", {"ci": "checkout", "direction": "upstream"}, ""),
    ("open P1 incidents today", "list_incidents", {"status": "open", "severity": "P1", "since_hours": 10.5}, ""),
])
def test_recognised_shapes(query, tool, args, then):
    assert parse(query, AT) == Intent(tool, args, then)


def test_unrecognised_questions_are_said_so():
    assert parse("write me a poem about kafka", AT) is None
    assert parse("", AT) is None


def test_time_phrases():
    assert hours_back("yesterday", AT) == 34.5
    assert hours_back("this week", AT) == 168
    assert hours_back("past 2 days", AT) == 48
    assert hours_back("nothing here", AT, 1.0) == 1.0


def test_answers_cite_and_follow_the_persona():
    rca = {"incident": "INC-00000007", "analysis_id": "r-1", "outcome": "cause_identified",
           "causes": [{"ci": "orders-db", "hypothesis": "bad_change", "confidence": "high",
                       "evidence_ids": ["ev:change:CHG-00000003"]}, {"ci": "api", "hypothesis": "x",
                                                                      "confidence": "low", "evidence_ids": []}],
           "evidence": [{"id": "ev:change:CHG-00000003", "title": "CHG-00000003 upgrade",
                         "description": "change CHG-00000003 began 4 min before"}]}
    sre = answer(Intent("list_incidents", then="get_rca"), rca, "sre")
    assert "orders-db" in sre and "[ev:change:CHG-00000003]" in sre and "Also considered: api" in sre
    exec_ = answer(Intent("get_rca"), rca, "executive")
    assert "orders-db" in exec_ and "ev:" not in exec_
    none = answer(Intent("get_rca"), {"incident": "INC-00000008", "analysis_id": None}, "sre")
    assert "no root-cause analysis yet" in none
    changes = {"ci": "orders-db", "days": 7, "changes": [
        {"reference": "CHG-00000003", "title": "upgrade", "status": "closed", "start": "2026-03-03T10:00:00Z"}]}
    assert "CHG-00000003" in answer(Intent("list_changes"), changes, "sre")
