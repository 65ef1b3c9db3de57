"""Small cells never leak: not shown, and not recoverable by subtraction from the totals that are shown
(by region, by group, or both), whatever the table. Checked against an independent test of the linear
algebra (ranks), not the module's own."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from openem.reports.stats import ALL, Sums, lines, protect, protect_measure, relative_rate, wilson

K = 10


def recoverable(hidden: set, regions: list[str], groups: list[str]) -> set:
    """Hidden cells whose value follows from the visible ones: its unit vector is in the row space of the
    relations restricted to the hidden cells (rank does not grow when it is added)."""
    hidden_list = sorted(hidden)
    if not hidden_list:
        return set()
    index = {k: i for i, k in enumerate(hidden_list)}
    rows = []
    for line in lines(regions, groups):
        row = np.zeros(len(hidden_list))
        for k in line[:-1]:
            if k in index:
                row[index[k]] = 1
        if line[-1] in index:
            row[index[line[-1]]] = -1
        rows.append(row)
    a = np.array(rows)
    rank = np.linalg.matrix_rank(a)
    out = set()
    for k, i in index.items():
        e = np.zeros(len(hidden_list))
        e[i] = 1
        if np.linalg.matrix_rank(np.vstack([a, e])) == rank:
            out.add(k)
    return out


def grid_of(values: list[list[int]]) -> tuple[dict, list[str], list[str]]:
    regions = [f"r{i}" for i in range(len(values))]
    groups = [f"g{j}" for j in range(len(values[0]))]
    units = {}
    for i, r in enumerate(regions):
        for j, g in enumerate(groups):
            units[(r, g)] = values[i][j]
        units[(r, ALL)] = sum(values[i])
    for j, g in enumerate(groups):
        units[(ALL, g)] = sum(row[j] for row in values)
    units[(ALL, ALL)] = sum(map(sum, values))
    return units, regions, groups


tables = st.integers(1, 5).flatmap(
    lambda rows: st.integers(1, 7).flatmap(
        lambda cols: st.lists(
            st.lists(st.one_of(st.integers(0, 12), st.integers(0, 300)), min_size=cols, max_size=cols),
            min_size=rows,
            max_size=rows,
        )
    )
)


@settings(max_examples=300, deadline=None)
@given(tables)
def test_no_small_cell_is_shown_or_can_be_worked_out_from_the_totals(values):
    units, regions, groups = grid_of(values)
    small = {k for k, n in units.items() if 0 < n < K}
    hidden = protect(units, regions, groups, small)
    assert small <= hidden
    assert not recoverable(hidden, regions, groups), (values, sorted(hidden))


def test_one_small_cell_in_a_row_hides_a_second_so_subtraction_gives_nothing():
    units, regions, groups = grid_of([[3, 40, 50], [30, 40, 50]])
    hidden = protect(units, regions, groups, {("r0", "g0")})
    assert ("r0", "g0") in hidden
    # Its row and its column each hide another cell, so neither total minus the rest gives it.
    assert sum(k in hidden for k in [("r0", g) for g in groups] + [("r0", ALL)]) >= 2
    assert sum(k in hidden for k in [(r, "g0") for r in regions] + [(ALL, "g0")]) >= 2
    assert not recoverable(hidden, regions, groups)


def test_a_total_hidden_in_one_breakdown_is_hidden_in_every_other():
    """The region totals are the same cells in every breakdown of a measure: hiding one in one table and
    showing it in another would give it away."""
    by_sex, regions, sexes = grid_of([[4], [50]])  # one group: the small region can only hide its total
    by_age, _r, ages = grid_of([[2, 2], [25, 25]])
    small = {k for k, n in {**by_sex, **by_age}.items() if 0 < n < K}

    hidden = protect_measure(
        {"sex": by_sex, "age": by_age},
        regions,
        {"sex": sexes, "age": ages},
        lambda key, b: 0 < {"sex": by_sex, "age": by_age}[b].get(key, 0) < K,
    )
    assert small
    totals = {k for h in hidden.values() for k in h if k[1] == ALL}
    for name, grid_hidden in hidden.items():
        assert totals <= grid_hidden, name


def test_wilson_interval_and_relative_rate_index():
    low, high = wilson(20, 100)
    assert round(low, 4) == 0.1334 and round(high, 4) == 0.2888  # published worked example: 20 of 100
    group, reference = Sums(), Sums()
    for i in range(100):
        group.add(1.0 if i < 30 else 0.0)
        reference.add(1.0 if i < 15 else 0.0)
    rri, lo, hi = relative_rate(group, reference, proportion=True)
    assert rri == 2.0 and lo < 2.0 < hi and lo > 1.0  # 30% against 15%: twice, and unlikely to be chance
