"""Routes over the road graph with its chains folded are the shortest paths over the whole graph."""

from __future__ import annotations

import itertools
import random

import numpy as np
import pytest
from scipy.sparse.csgraph import dijkstra

from openem.simulate.chains import ChainGraph
from openem.simulate.runner import world


def cost_along(graph, nodes: list[int]) -> float:
    return float(sum(graph[a, b] for a, b in itertools.pairwise(nodes)))


@pytest.mark.parametrize("mode", ["walk", "drive"])
def test_folded_paths_are_shortest_paths_through_the_roads_own_nodes(mode):
    w = world()
    rng = random.Random(4)
    places = w.homes + w.workplaces + w.leisure + w.shops + [w.office]
    graph = w.graphs[mode]
    for _ in range(12):
        dest = rng.choice(places).node
        dist = dijkstra(graph, directed=True, indices=dest)
        tree = w.chains.tree(dest, mode, np.inf)
        for origin in (rng.choice(places).node for _ in range(20)):
            nodes = w.chains.path(tree, origin, dest, mode)
            if not np.isfinite(dist[origin]):
                assert nodes == [origin]
                continue
            assert nodes[0] == origin and nodes[-1] == dest
            assert all(graph[a, b] > 0 for a, b in itertools.pairwise(nodes)), "along real roads"
            assert cost_along(graph, nodes) == pytest.approx(dist[origin], rel=1e-9, abs=1e-6)


def test_a_chain_between_two_junctions_is_one_edge_and_the_cheaper_of_two_wins():
    # 0 - 1 - 2 - 3 (a chain through 1 and 2), and 0 - 4 - 3 (a shorter chain through 4).
    edges = [(0, 1, 1.0), (1, 2, 1.0), (2, 3, 1.0), (0, 4, 1.0), (4, 3, 1.5)]
    s = np.array([a for a, b, _ in edges] + [b for a, b, _ in edges])
    d = np.array([b for a, b, _ in edges] + [a for a, b, _ in edges])
    c = np.array([x for *_, x in edges] * 2)
    keep = np.zeros(5, dtype=bool)
    keep[[0, 3]] = True
    g = ChainGraph(5, s, d, {"walk": c}, keep)
    assert list(g.kept) == [0, 3] and g.graphs["walk"].nnz == 2
    assert g.path(g.tree(3, "walk", np.inf), 0, 3, "walk") == [0, 4, 3]
