"""The graph walk: directions, cycles, depth, type filters; and the CSR index gives exactly the networkx
reference's answers on random graphs, through every kind of change."""

from __future__ import annotations

import random

import pytest

from services.cmdb.graph import CRITICALITIES, TYPE_NAMES, TenantGraph


def build(relations: list[tuple[str, str, str]], nodes: str = "") -> TenantGraph:
    g = TenantGraph()
    names = dict.fromkeys([*nodes, *(x for s, t, _ in relations for x in (s, t))])
    for n in names:
        g.add_item(n, "server" if n < "m" else "service", "prod", "medium")
    for s, t, rel in relations:
        g.add_relation(s, t, rel)
    return g


def answer(walk) -> list[tuple[str, int, list[str], list[str]]]:
    return [(n, walk.depth_of(n), *walk.path(n)) for n in walk.slice()]


def both(g: TenantGraph, *args, **kwargs):
    fast, ref = g.walk(*args, **kwargs), g.reference_walk(*args, **kwargs)
    assert answer(fast) == answer(ref)
    return answer(fast)


def test_depends_on_propagates_from_target_to_source():
    # api depends_on db: db failing hurts api, api failing does not hurt db
    g = build([("api", "db", "depends_on"), ("web", "api", "depends_on")])
    assert both(g, ["db"]) == [("api", 1, ["db", "api"], ["depends_on"]),
                               ("web", 2, ["db", "api", "web"], ["depends_on", "depends_on"])]
    assert both(g, ["api"]) == [("web", 1, ["api", "web"], ["depends_on"])]
    assert both(g, ["web"]) == []


def test_upstream_lists_probable_causes():
    g = build([("api", "db", "depends_on"), ("api", "host", "runs_on"), ("web", "api", "depends_on")])
    assert [n for n, *_ in both(g, ["web"], upstream=True)] == ["api", "db", "host"]
    assert both(g, ["db"], upstream=True) == []


def test_connects_to_both_ways_member_of_and_contains_forwards():
    g = build([("a", "b", "connects_to"), ("n1", "cluster", "member_of"), ("rack", "srv", "contains")])
    assert [n for n, *_ in both(g, ["a"])] == ["b"]
    assert [n for n, *_ in both(g, ["b"])] == ["a"]
    assert [n for n, *_ in both(g, ["n1"])] == ["cluster"]
    assert both(g, ["cluster"]) == []
    assert [n for n, *_ in both(g, ["rack"])] == ["srv"]
    assert both(g, ["srv"]) == []


def test_cycles_visit_each_ci_once_at_its_shortest_depth():
    g = build([("a", "b", "depends_on"), ("b", "c", "depends_on"), ("c", "a", "depends_on")])
    assert both(g, ["a"]) == [("c", 1, ["a", "c"], ["depends_on"]), ("b", 2, ["a", "c", "b"],
                                                                      ["depends_on", "depends_on"])]


def test_depth_limit_and_type_filter():
    g = build([("b", "a", "depends_on"), ("c", "b", "runs_on"), ("d", "c", "depends_on")])
    assert [n for n, *_ in both(g, ["a"], depth=1)] == ["b"]
    assert [n for n, *_ in both(g, ["a"], depth=2)] == ["b", "c"]
    assert [n for n, *_ in both(g, ["a"], depth=0)] == ["b", "c", "d"]
    # runs_on filtered out: the walk stops at b
    assert [n for n, *_ in both(g, ["a"], types=["depends_on"])] == ["b"]
    assert [n for n, *_ in both(g, ["a"], types=["runs_on"])] == []


def test_several_sources_and_unknown_sources():
    g = build([("x", "a", "depends_on"), ("y", "b", "depends_on"), ("z", "x", "depends_on")])
    assert both(g, ["a", "b", "nope", "a"]) == [
        ("x", 1, ["a", "x"], ["depends_on"]), ("y", 1, ["b", "y"], ["depends_on"]),
        ("z", 2, ["a", "x", "z"], ["depends_on", "depends_on"])]


def test_removals_keep_both_in_step():
    g = build([("a", "b", "depends_on"), ("a", "b", "uses"), ("c", "a", "depends_on")])
    g.remove_relation("a", "b", "depends_on")
    assert both(g, ["b"]) == [("a", 1, ["b", "a"], ["uses"]), ("c", 2, ["b", "a", "c"], ["uses", "depends_on"])]
    g.remove_relation("a", "b", "uses")
    assert both(g, ["b"]) == []
    g.remove_item("a")
    assert both(g, ["c"], upstream=True) == []
    g.add_relation("c", "b", "depends_on")
    assert both(g, ["b"]) == [("c", 1, ["b", "c"], ["depends_on"])]


def test_summary_counts_by_class_and_environment():
    g = TenantGraph()
    g.add_item("db", "database", "prod", "critical")
    g.add_item("api", "service", "prod", "high")
    g.add_item("web", "service", "staging", "low")
    g.add_relation("api", "db", "depends_on")
    g.add_relation("web", "api", "depends_on")
    s = g.summary(g.walk(["db"]))
    assert (s.total, s.by_class, s.by_environment, s.highest_criticality, s.max_depth) == (
        2, {"service": 2}, {"prod": 1, "staging": 1}, "high", 2)
    g.update_item("web", "service", "staging", "critical")
    assert g.summary(g.walk(["db"])).highest_criticality == "critical"
    assert g.summary(g.reference_walk(["db"])) == g.summary(g.walk(["db"]))


@pytest.mark.parametrize("seed", range(40))
def test_index_matches_networkx_on_random_graphs(seed: int):
    rnd = random.Random(seed)
    g = TenantGraph()
    nodes = [f"n{i}" for i in range(rnd.randint(2, 60))]
    for n in nodes:
        g.add_item(n, rnd.choice(["server", "service", "db"]), rnd.choice(["prod", "dev"]),
                   rnd.choice(CRITICALITIES))
    rels: list[tuple[str, str, str]] = []
    for _ in range(rnd.randint(0, 200)):
        s, t = rnd.sample(nodes, 2)
        rel = rnd.choice(TYPE_NAMES)
        if (s, t, rel) not in rels:
            rels.append((s, t, rel))
            g.add_relation(s, t, rel)
    for step in range(8):
        # a mix of changes between walks: the index must follow every one
        action = rnd.random()
        if action < 0.3 and rels:
            g.remove_relation(*rels.pop(rnd.randrange(len(rels))))
        elif action < 0.4 and len(nodes) > 2:
            gone = nodes.pop(rnd.randrange(len(nodes)))
            g.remove_item(gone)
            rels = [r for r in rels if gone not in r[:2]]
        elif action < 0.5:
            nodes.append(f"m{seed}-{step}")
            g.add_item(nodes[-1], "cache", "prod", "low")
        else:
            s, t = rnd.sample(nodes, 2)
            rel = rnd.choice(TYPE_NAMES)
            if (s, t, rel) not in rels:
                rels.append((s, t, rel))
                g.add_relation(s, t, rel)
        sources = rnd.sample(nodes, rnd.randint(1, min(3, len(nodes))))
        types = rnd.sample(TYPE_NAMES, rnd.randint(0, 3))
        depth = rnd.choice([0, 0, 1, 2, 4])
        upstream = rnd.random() < 0.5
        fast = g.walk(sources, depth, types, upstream)
        ref = g.reference_walk(sources, depth, types, upstream)
        assert answer(fast) == answer(ref)
        assert g.summary(fast) == g.summary(ref)


def test_compaction_after_many_removals_keeps_answers():
    g = TenantGraph()
    for i in range(3000):
        g.add_item(f"n{i}", "server", "prod", "low")
    for i in range(1, 3000):
        g.add_relation(f"n{i}", f"n{i - 1}", "depends_on")
    g.walk(["n0"])
    for i in range(1, 2900):
        g.remove_relation(f"n{i}", f"n{i - 1}", "depends_on")
    assert answer(g.walk(["n2900"])) == answer(g.reference_walk(["n2900"]))
    assert g.dead_edges == 0 and len(g.esrc) == 100


def test_long_chains_and_wide_fans_from_one_source():
    # the unlimited single-source walk takes scipy's compiled BFS: depths up to 300, a fan of 500
    g = TenantGraph()
    for i in range(300):
        g.add_item(f"c{i}", "service", "prod", "low")
    for i in range(1, 300):
        g.add_relation(f"c{i}", f"c{i - 1}", "depends_on" if i % 3 else "runs_on")
    for i in range(500):
        g.add_item(f"f{i}", "app", "prod", "high")
        g.add_relation(f"f{i}", f"c{i % 300}", "uses")
    for types in ((), ("depends_on", "runs_on"), ("uses",)):
        fast, ref = g.walk(["c0"], types=types), g.reference_walk(["c0"], types=types)
        assert answer(fast) == answer(ref)
        assert g.summary(fast) == g.summary(ref)
    assert g.walk(["c0"]).depth_of("c299") == 299


def test_bulk_add_equals_one_by_one_and_ids_are_uuid4():
    import uuid

    from services.cmdb.service import is_id, new_ids

    rnd = random.Random(3)
    rels = [(f"n{rnd.randrange(30)}", f"n{rnd.randrange(30)}", rnd.choice(TYPE_NAMES)) for _ in range(300)]
    rels = list(dict.fromkeys(r for r in rels if r[0] != r[1]))
    one, bulk = TenantGraph(), TenantGraph()
    for g in (one, bulk):
        for i in range(30):
            g.add_item(f"n{i}", "server", "prod", "low")
    one.add_relation(*rels[0])
    bulk.add_relation(*rels[0])
    for r in rels[1:]:
        one.add_relation(*r)
    bulk.add_relations(rels[1:])
    assert sorted(one.g.edges(data=True)) == sorted(bulk.g.edges(data=True))
    for s in range(30):
        assert answer(one.walk([f"n{s}"])) == answer(bulk.walk([f"n{s}"]))
    ids = new_ids(1000)
    assert len(set(ids)) == 1000 and all(is_id(i) and uuid.UUID(i).version == 4 for i in ids)
