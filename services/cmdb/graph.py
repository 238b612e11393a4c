"""The failure-propagation graph of one tenant, kept in memory: a networkx DiGraph (the model and the
reference walk) and a compact CSR traversal index derived from it (scipy.sparse) that answers the same walk
with numpy, kept in step on every change.

An edge u -> v means "a failure of u impacts v". Relations are turned into such edges by the propagation of
their type (RELATION_TYPES): `api depends_on db` gives db -> api. Downstream impact follows edges forwards;
upstream (probable causes) follows them backwards. Cycles are fine: every walk is a breadth-first search that
visits each CI once, at its shortest depth.

Both walks give identical answers, by construction and by test (tests/cmdb/test_graph.py): breadth-first,
sources in the given order, neighbours in node-index order (the order in which CIs entered the graph), so the
depth, the parent (hence the path) and the order of the items are the same.
"""

from __future__ import annotations

from array import array
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import networkx as nx
import numpy as np
from scipy import sparse
from scipy.sparse import csgraph

# Relation type -> how a failure travels along "source <type> target".
#   to_source: a failing target hurts the source (api depends_on db: db down -> api down)
#   to_target: a failing source hurts the target (node member_of cluster: node down -> cluster degraded)
#   both:      either side failing hurts the other (connects_to)
RELATION_TYPES: dict[str, tuple[str, str]] = {
    "depends_on": ("to_source", "the source needs the target to work"),
    "uses": ("to_source", "the source calls or reads the target"),
    "runs_on": ("to_source", "the source (software) runs on the target (host, cluster)"),
    "hosted_on": ("to_source", "the source is hosted on the target (VM on hypervisor, site on server)"),
    "connects_to": ("both", "a network path between the two; either failing hurts the other"),
    "member_of": ("to_target", "the source is a member of the target group (node of a cluster, "
                               "server of a pool): the member failing degrades the group"),
    "contains": ("to_target", "the source contains the target (rack contains server): the container failing "
                              "takes down what it contains"),
}
TYPE_NAMES: tuple[str, ...] = tuple(RELATION_TYPES)
TYPE_BIT: dict[str, int] = {name: 1 << i for i, name in enumerate(TYPE_NAMES)}
ALL_TYPES_MASK = (1 << len(TYPE_NAMES)) - 1

CRITICALITIES: tuple[str, ...] = ("low", "medium", "high", "critical")
_CRIT_RANK = {c: i for i, c in enumerate(CRITICALITIES)}


def propagation_edges(source: str, target: str, rel_type: str) -> list[tuple[str, str]]:
    """The failure edges a relation contributes."""
    direction = RELATION_TYPES[rel_type][0]
    if direction == "to_source":
        return [(target, source)]
    if direction == "to_target":
        return [(source, target)]
    return [(source, target), (target, source)]


def type_mask(types: Iterable[str]) -> int:
    mask = 0
    for t in types:
        mask |= TYPE_BIT[t]
    return mask or ALL_TYPES_MASK


def lowest_type(mask: int) -> str:
    return TYPE_NAMES[(mask & -mask).bit_length() - 1]


class Walk:
    """Result of a walk: the impacted CIs (not the sources) in order (depth, then discovery), each with its
    depth and the path by which it was reached."""

    def __len__(self) -> int:
        raise NotImplementedError

    def slice(self, offset: int = 0, limit: int = 0) -> list[str]:
        """Impacted CI ids in order; limit 0 = all from offset."""
        raise NotImplementedError

    def depth_of(self, node: str) -> int:
        raise NotImplementedError

    def path(self, node: str) -> tuple[list[str], list[str]]:
        """(CI ids from the source to node, relation type of each hop)."""
        raise NotImplementedError


class ReferenceWalk(Walk):
    def __init__(self, order: list[str], depth: dict[str, int], parent: dict[str, tuple[str, str]]) -> None:
        self.order = order
        self.depth = depth
        self.parent = parent

    def __len__(self) -> int:
        return len(self.order)

    def slice(self, offset: int = 0, limit: int = 0) -> list[str]:
        return self.order[offset:offset + limit] if limit > 0 else self.order[offset:]

    def depth_of(self, node: str) -> int:
        return self.depth[node]

    def path(self, node: str) -> tuple[list[str], list[str]]:
        nodes, types = [node], []
        while node in self.parent:
            node, rel = self.parent[node]
            nodes.append(node)
            types.append(rel)
        return nodes[::-1], types[::-1]


class IndexWalk(Walk):
    """Backed by the index arrays: ids and paths are materialised only for the items a page shows, so a
    walk that reaches 100k CIs costs nothing for the rest."""

    def __init__(self, graph: TenantGraph, order_idx: np.ndarray, dist: np.ndarray, parent_idx: np.ndarray,
                 hop: np.ndarray | None, matrix: sparse.csr_matrix | None = None, allowed: int = 0) -> None:
        self.graph = graph
        self.order_idx = order_idx
        self.dist = dist
        self.parent_idx = parent_idx
        self.hop = hop
        self.matrix = matrix
        self.allowed = allowed

    def _hop(self, parent: int, child: int) -> int:
        if self.hop is not None:
            return int(self.hop[child])
        m = self.matrix
        start, end = m.indptr[parent], m.indptr[parent + 1]
        pos = start + int(np.searchsorted(m.indices[start:end], child))
        return int(m.data[pos]) & self.allowed

    def __len__(self) -> int:
        return int(self.order_idx.size)

    def slice(self, offset: int = 0, limit: int = 0) -> list[str]:
        chunk = self.order_idx[offset:offset + limit] if limit > 0 else self.order_idx[offset:]
        ids = self.graph.ids
        return [ids[i] for i in chunk.tolist()]

    def depth_of(self, node: str) -> int:
        return int(self.dist[self.graph.index[node]])

    def path(self, node: str) -> tuple[list[str], list[str]]:
        ids = self.graph.ids
        i = self.graph.index[node]
        nodes, types = [i], []
        while self.parent_idx[i] >= 0:
            parent = int(self.parent_idx[i])
            types.append(lowest_type(self._hop(parent, i)))
            i = parent
            nodes.append(i)
        return [ids[j] for j in reversed(nodes)], types[::-1]


@dataclass(frozen=True, slots=True)
class Summary:
    total: int
    by_class: dict[str, int]
    by_environment: dict[str, int]
    highest_criticality: str
    max_depth: int


class _Vocab:
    """Interned strings -> small ints, for the per-node arrays."""

    def __init__(self) -> None:
        self.codes: dict[str, int] = {}
        self.names: list[str] = []

    def code(self, name: str) -> int:
        c = self.codes.get(name)
        if c is None:
            c = self.codes[name] = len(self.names)
            self.names.append(name)
        return c


class TenantGraph:
    """One tenant's graph. Mutations update networkx and the index arrays in O(1); the CSR matrices are
    rebuilt from the arrays (numpy only, no Python loop) on the first walk after a change."""

    def __init__(self) -> None:
        self.g = nx.DiGraph()
        # Node index: append-only, so positions never move; a deleted CI keeps its slot, marked dead.
        self.index: dict[str, int] = {}
        self.ids: list[str] = []
        self.alive = array("b")
        self.cls = array("i")
        self.env = array("i")
        self.crit = array("b")
        self.classes = _Vocab()
        self.envs = _Vocab()
        # Failure edges as parallel arrays; a removed edge keeps its slot with mask 0 until compaction.
        self.edge_pos: dict[tuple[int, int], int] = {}
        self.esrc = array("i")
        self.edst = array("i")
        self.emask = array("i")
        self.dead_edges = 0
        self._csr: tuple | None = None
        # (type mask, upstream) -> float64 CSR of only those types' edges, for the single-source walk
        self._filtered: dict[tuple[int, bool], sparse.csr_matrix] = {}

    # -- mutations -----------------------------------------------------------------------------------------

    def add_item(self, ci_id: str, cls: str, environment: str, criticality: str, name: str = "",
                 owner: str = "", version: int = 0) -> None:
        # name/owner/version ride along so a blast radius is answered from memory alone
        self.g.add_node(ci_id, cls=cls, env=environment, crit=criticality, name=name, owner=owner, version=version)
        i = self.index.get(ci_id)
        if i is None:
            i = self.index[ci_id] = len(self.ids)
            self.ids.append(ci_id)
            self.alive.append(1)
            self.cls.append(self.classes.code(cls))
            self.env.append(self.envs.code(environment))
            self.crit.append(_CRIT_RANK.get(criticality, 0))
            self._csr = None  # the matrices' shape changed
        else:
            self.alive[i] = 1
            self.cls[i] = self.classes.code(cls)
            self.env[i] = self.envs.code(environment)
            self.crit[i] = _CRIT_RANK.get(criticality, 0)

    update_item = add_item

    def remove_item(self, ci_id: str) -> None:
        """Remove a CI and every failure edge that touches it (its relations go with it in the store)."""
        if ci_id not in self.g:
            return
        for u, v in [*self.g.in_edges(ci_id), *self.g.out_edges(ci_id)]:
            self._set_mask(u, v, 0)
        self.g.remove_node(ci_id)
        self.alive[self.index[ci_id]] = 0
        self._csr = None

    def add_relation(self, source: str, target: str, rel_type: str) -> None:
        for u, v in propagation_edges(source, target, rel_type):
            data = self.g.get_edge_data(u, v)
            if data is None:
                self.g.add_edge(u, v, **{rel_type: 1})
            else:
                data[rel_type] = data.get(rel_type, 0) + 1
            self._set_mask(u, v, self._mask(self.g[u][v]))

    def add_relations(self, relations: Iterable[tuple[str, str, str]]) -> None:
        """Many relations at once (bulk import, load): the same result as add_relation one by one, with the
        new edges handed to networkx in one add_edges_from."""
        counts: dict[tuple[str, str], dict[str, int]] = {}
        new: dict[tuple[str, str], dict[str, int]] = {}
        get = self.g.get_edge_data
        for source, target, rel_type in relations:
            for edge in propagation_edges(source, target, rel_type):
                data = counts.get(edge)
                if data is None:
                    data = get(*edge)
                    if data is None:
                        data = new[edge] = {}
                    counts[edge] = data
                data[rel_type] = data.get(rel_type, 0) + 1
        self.g.add_edges_from((u, v, data) for (u, v), data in new.items())
        for (u, v), data in counts.items():
            self._set_mask(u, v, self._mask(data))

    def remove_relation(self, source: str, target: str, rel_type: str) -> None:
        for u, v in propagation_edges(source, target, rel_type):
            data = self.g.get_edge_data(u, v)
            if data is None or rel_type not in data:
                continue
            data[rel_type] -= 1
            if data[rel_type] <= 0:
                del data[rel_type]
            if data:
                self._set_mask(u, v, self._mask(data))
            else:
                self.g.remove_edge(u, v)
                self._set_mask(u, v, 0)

    @staticmethod
    def _mask(data: dict[str, int]) -> int:
        mask = 0
        for t, n in data.items():
            if n > 0:
                mask |= TYPE_BIT[t]
        return mask

    def _set_mask(self, u: str, v: str, mask: int) -> None:
        key = (self.index[u], self.index[v])
        pos = self.edge_pos.get(key)
        if pos is None:
            if not mask:
                return
            self.edge_pos[key] = len(self.esrc)
            self.esrc.append(key[0])
            self.edst.append(key[1])
            self.emask.append(mask)
        else:
            if not mask and self.emask[pos]:
                self.dead_edges += 1
            elif mask and not self.emask[pos]:
                self.dead_edges -= 1
            self.emask[pos] = mask
        self._csr = None

    # -- the index -------------------------------------------------------------------------------------------

    def _compact(self) -> None:
        mask = np.frombuffer(self.emask, dtype=np.int32)
        keep = np.flatnonzero(mask)
        src = np.frombuffer(self.esrc, dtype=np.int32)[keep]
        dst = np.frombuffer(self.edst, dtype=np.int32)[keep]
        kept_mask = mask[keep]
        self.esrc, self.edst, self.emask = array("i", src.tobytes()), array("i", dst.tobytes()), \
            array("i", kept_mask.tobytes())
        self.edge_pos = {k: i for i, k in enumerate(zip(src.tolist(), dst.tolist(), strict=True))}
        self.dead_edges = 0

    def csr(self) -> tuple:
        """(forward, reverse) scipy CSR matrices of type masks, rows sorted by neighbour index."""
        if self._csr is None:
            self._filtered = {}
            if self.dead_edges > 1024 and self.dead_edges * 2 > len(self.esrc):
                self._compact()
            n = len(self.ids)
            src = np.frombuffer(self.esrc, dtype=np.int32)
            dst = np.frombuffer(self.edst, dtype=np.int32)
            mask = np.frombuffer(self.emask, dtype=np.int32)
            live = mask != 0
            src, dst, mask = src[live], dst[live], mask[live]
            self._csr = (_build_csr(n, src, dst, mask), _build_csr(n, dst, src, mask))
        return self._csr

    def warm(self) -> None:
        """Build the index now (after a bulk change) rather than on the next walk."""
        self._structure(ALL_TYPES_MASK, False)
        self._structure(ALL_TYPES_MASK, True)

    def _structure(self, allowed: int, upstream: bool) -> sparse.csr_matrix:
        forward, reverse = self.csr()
        key = (allowed, upstream)
        structure = self._filtered.get(key)
        if structure is None:
            # csgraph works on float64 matrices: keep one per (types, direction) instead of converting per call
            structure = (reverse if upstream else forward).copy()
            structure.data = (structure.data & allowed).astype(np.float64)
            structure.eliminate_zeros()
            self._filtered[key] = structure
        return structure

    # -- walks -----------------------------------------------------------------------------------------------

    def walk(self, sources: Sequence[str], depth: int = 0, types: Iterable[str] = (),
             upstream: bool = False) -> Walk:
        """The fast walk, on the CSR index."""
        allowed = type_mask(types)
        start = _unique([self.index[s] for s in sources if s in self.g])
        forward, reverse = self.csr()
        matrix = reverse if upstream else forward
        if len(start) == 1 and depth <= 0:
            return self._full_walk(matrix, start[0], allowed, upstream)
        indptr, indices, masks = matrix.indptr, matrix.indices, matrix.data
        n = len(self.ids)
        dist = np.full(n, -1, dtype=np.int32)
        parent = np.full(n, -1, dtype=np.int32)
        hop = np.zeros(n, dtype=np.int32)
        frontier = np.asarray(start, dtype=np.int64)
        dist[frontier] = 0
        levels: list[np.ndarray] = []
        level = 0
        while frontier.size and (depth <= 0 or level < depth):
            starts = indptr[frontier]
            counts = indptr[frontier + 1] - starts
            total = int(counts.sum())
            if not total:
                break
            # Positions of every out-edge of the frontier, in frontier order then row order.
            offsets = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
            pos = np.repeat(starts, counts) + offsets
            targets = indices[pos]
            hit = masks[pos] & allowed
            ok = (hit != 0) & (dist[targets] < 0)
            if not ok.any():
                break
            targets, hit, origin = targets[ok], hit[ok], np.repeat(frontier, counts)[ok]
            _, first = np.unique(targets, return_index=True)
            first.sort()  # discovery order, as a FIFO queue would have it
            found = targets[first]
            dist[found] = level + 1
            parent[found] = origin[first]
            hop[found] = hit[first]
            levels.append(found)
            frontier = found.astype(np.int64)
            level += 1
        order_idx = np.concatenate(levels) if levels else np.empty(0, dtype=np.int32)
        return IndexWalk(self, order_idx, dist, parent, hop)

    def _full_walk(self, matrix: sparse.csr_matrix, source: int, allowed: int, upstream: bool) -> Walk:
        """Unlimited walk from one CI: scipy's compiled BFS (same FIFO order, same first discoverer as the
        level walk). Depths come from the BFS order itself: children are queued in their parents' order, so
        the parents' positions never decrease along it and each level is the next contiguous block."""
        structure = self._structure(allowed, upstream)
        order, pred = csgraph.breadth_first_order(structure, source, directed=True, return_predecessors=True)
        n = len(self.ids)
        order = order[1:].astype(np.int64)
        parent = np.full(n, -1, dtype=np.int32)
        parent[order] = pred[order]
        pos = np.empty(n, dtype=np.int64)
        pos[source] = -1
        pos[order] = np.arange(order.size)
        parent_pos = pos[parent[order]]
        # Level 1: parent is the source (position -1); level k+1: parents inside level k. Each step moves on,
        # since a node's parent always comes before it.
        ends: list[int] = []
        while not ends or ends[-1] < order.size:
            ends.append(int(np.searchsorted(parent_pos, ends[-1] if ends else 0, side="left")))
        dist = np.full(n, -1, dtype=np.int32)
        dist[source] = 0
        dist[order] = np.repeat(np.arange(1, len(ends) + 1, dtype=np.int32), np.diff([0, *ends]))
        # Hop types are looked up only for the paths a page shows (see IndexWalk.path).
        return IndexWalk(self, order, dist, parent, None, matrix, allowed)

    def reference_walk(self, sources: Sequence[str], depth: int = 0, types: Iterable[str] = (),
                       upstream: bool = False) -> Walk:
        """The same walk in plain networkx: the reference the index is tested against."""
        allowed = type_mask(types)
        g = self.g
        key = self.index.__getitem__
        neighbours = g.predecessors if upstream else g.successors
        start = [s for s in dict.fromkeys(sources) if s in g]
        dist = dict.fromkeys(start, 0)
        parent: dict[str, tuple[str, str]] = {}
        order: list[str] = []
        queue = deque(start)
        while queue:
            u = queue.popleft()
            if depth > 0 and dist[u] >= depth:
                continue
            for v in sorted(neighbours(u), key=key):
                if v in dist:
                    continue
                data = g[v][u] if upstream else g[u][v]
                hit = self._mask(data) & allowed
                if not hit:
                    continue
                dist[v] = dist[u] + 1
                parent[v] = (u, lowest_type(hit))
                order.append(v)
                queue.append(v)
        return ReferenceWalk(order, {v: dist[v] for v in order}, parent)

    def summary(self, walk: Walk) -> Summary:
        if isinstance(walk, IndexWalk):
            idx = walk.order_idx
        else:
            idx = np.fromiter((self.index[v] for v in walk.slice()), dtype=np.int64, count=len(walk))
        cls = np.frombuffer(self.cls, dtype=np.int32)[idx]
        env = np.frombuffer(self.env, dtype=np.int32)[idx]
        crit = np.frombuffer(self.crit, dtype=np.int8)[idx]
        by_class = {self.classes.names[c]: int(n) for c, n in enumerate(np.bincount(cls)) if n}
        by_env = {self.envs.names[c]: int(n) for c, n in enumerate(np.bincount(env)) if n}
        highest = CRITICALITIES[int(crit.max())] if idx.size else ""
        max_depth = walk.depth_of(walk.slice(len(walk) - 1)[0]) if len(walk) else 0
        return Summary(int(idx.size), by_class, by_env, highest, max_depth)


def _build_csr(n: int, src: np.ndarray, dst: np.ndarray, mask: np.ndarray) -> sparse.csr_matrix:
    # Edge slots are unique per (src, dst), so nothing is summed; sorted indices give the row order the
    # reference walk uses (neighbours by node index).
    m = sparse.csr_matrix((mask, (src, dst)), shape=(n, n), dtype=np.int32)
    m.sort_indices()
    return m


def _unique(values: list[int]) -> list[int]:
    return list(dict.fromkeys(values))
