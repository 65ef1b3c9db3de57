"""Shortest paths over the road graph with its chains folded: most of Rutland's road nodes only bend a
road (three in four have two neighbours), so each run of them between junctions (or places people go)
becomes one edge. Dijkstra then visits a quarter of the nodes and finds the same shortest paths; a
path is unfolded back into the road's own nodes.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import dijkstra


class ChainGraph:
    """The graph on ``keep`` nodes (every node not of degree two must be kept, and every node a path
    may start or end at): one edge per chain between two kept nodes, the cheapest for each mode."""

    def __init__(self, n: int, s: np.ndarray, d: np.ndarray, costs: dict[str, np.ndarray], keep: np.ndarray) -> None:
        order = np.lexsort((d, s))
        s, d = s[order], d[order]
        indptr = np.concatenate([[0], np.cumsum(np.bincount(s, minlength=n))]).tolist()
        nbr = d.tolist()
        cost = {m: c[order].tolist() for m, c in costs.items()}
        degree_two = np.diff(indptr) == 2
        keep = keep | ~degree_two
        self.kept = np.flatnonzero(keep)
        self.index = np.full(n, -1, dtype=np.int64)
        self.index[self.kept] = np.arange(len(self.kept))
        kept = keep.tolist()
        modes = list(costs)
        # (from, to) in kept indices -> (cost, the chain's own nodes in between) per mode.
        best: dict[str, dict[tuple[int, int], tuple[float, list[int]]]] = {m: {} for m in modes}
        index = self.index.tolist()
        for u in self.kept.tolist():
            for e in range(indptr[u], indptr[u + 1]):
                prev, cur = u, nbr[e]
                total = [cost[m][e] for m in modes]
                inner: list[int] = []
                while not kept[cur] and len(inner) <= n:
                    a = indptr[cur]
                    step = a if nbr[a] != prev else a + 1
                    inner.append(cur)
                    for k, m in enumerate(modes):
                        total[k] += cost[m][step]
                    prev, cur = cur, nbr[step]
                if cur == u or not kept[cur]:
                    continue  # a loop back to where it started (never on a shortest path), or a ring
                key = (index[u], index[cur])
                for k, m in enumerate(modes):
                    held = best[m].get(key)
                    if held is None or total[k] < held[0]:
                        best[m][key] = (total[k], inner)
        size = len(self.kept)
        self.graphs: dict[str, csr_matrix] = {}
        self.chains: dict[str, dict[tuple[int, int], list[int]]] = {}
        for m in modes:
            keys = list(best[m])
            rows = np.array([k[0] for k in keys], dtype=np.int64)
            cols = np.array([k[1] for k in keys], dtype=np.int64)
            data = np.array([best[m][k][0] for k in keys])
            self.graphs[m] = coo_matrix((data, (rows, cols)), shape=(size, size)).tocsr()
            self.chains[m] = {k: v[1] for k, v in best[m].items()}

    def tree(self, dest: int, mode: str, limit: float) -> np.ndarray:
        """The shortest-path tree towards ``dest`` (a kept node) as predecessors over kept indices."""
        # The graph is stored symmetric, so "directed" avoids scipy converting it on every call.
        _, pred = dijkstra(
            self.graphs[mode], directed=True, indices=int(self.index[dest]), return_predecessors=True, limit=limit
        )
        return pred.astype(np.int32)

    def reaches(self, tree: np.ndarray, node: int) -> bool:
        return bool(tree[self.index[node]] >= 0)

    def path(self, tree: np.ndarray, origin: int, dest: int, mode: str) -> list[int]:
        """The road's nodes from ``origin`` to ``dest`` along ``tree``; just ``origin`` if the tree does
        not reach it."""
        chains, kept = self.chains[mode], self.kept
        out = [origin]
        cur, end = int(self.index[origin]), int(self.index[dest])
        while cur != end:
            nxt = int(tree[cur])
            if nxt < 0:
                return [origin]
            out += chains[(cur, nxt)]
            out.append(int(kept[nxt]))
            cur = nxt
        return out
