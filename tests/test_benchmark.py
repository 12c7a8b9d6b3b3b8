"""Anonymised benchmarks: figures, disclosure control, company position, trends, CSV."""

from __future__ import annotations

import itertools
import json
import random
from fractions import Fraction

import pytest

from dd_toolkit.engine import benchmark as bm
from dd_toolkit.engine.benchmark import (
    BAND_ABOVE_P75,
    BAND_BELOW_P25,
    BAND_MEDIAN_P75,
    BAND_P25_MEDIAN,
    CSV_COLUMNS,
    REASON_DIFFERENCING,
    REASON_TOO_FEW,
    STATUS_DIFFERENCING,
    STATUS_SHOWN,
    STATUS_TOO_FEW,
    BenchmarkEntry,
    benchmark_rows,
    build_benchmark,
    position,
    trends,
)


def entry(
    org,
    *,
    cycle=1,
    services=("gaming",),
    size="large",
    countries=("SG",),
    overall=50.0,
    modules=None,
    lenses=None,
    indicators=None,
    practices=None,
):
    return BenchmarkEntry(
        organisation_id=org,
        cycle=cycle,
        service_types=tuple(services),
        size_band=size,
        countries=tuple(countries),
        overall=overall,
        modules=modules or {},
        lenses=lenses or {},
        indicators=indicators or {},
        practices=practices or {},
    )


def disclosed_ids(benchmark):
    return {g.group_id for g in benchmark.groups if not g.suppressed}


# ---------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------


def test_quartiles_of_five_companies_by_hand():
    # Sorted 10, 20, 35, 40, 50. Inclusive method, n = 5: positions (n-1)p = 1, 2, 3.
    scores = [50, 10, 40, 20, 35]
    b = build_benchmark([entry(i, overall=s) for i, s in enumerate(scores)], cycle=1)
    overall = b.group("all").metric("overall")
    assert (overall.p25, overall.median, overall.p75) == (20, 35, 40)
    assert overall.companies == 5
    assert b.group("all").n == 5


def test_quartiles_of_six_companies_by_hand():
    # Sorted 10, 20, 30, 40, 60, 70; positions 1.25, 2.5, 3.75:
    # p25 = 20 + 0.25 * 10 = 22.5; median = 30 + 0.5 * 10 = 35; p75 = 40 + 0.75 * 20 = 55.
    scores = [70, 30, 10, 60, 20, 40]
    modules = [{"hrdd": s / 2} for s in scores]  # 5, 10, 15, 20, 30, 35 sorted
    b = build_benchmark(
        [entry(i, overall=s, modules=m) for i, (s, m) in enumerate(zip(scores, modules, strict=True))],
        cycle=1,
    )
    overall = b.group("all").metric("overall")
    assert (overall.p25, overall.median, overall.p75) == (22.5, 35, 55)
    hrdd = b.group("all").metric("module:hrdd")
    assert (hrdd.p25, hrdd.median, hrdd.p75) == (11.25, 17.5, 27.5)
    # Every group here has the same six companies: all disclosed, same figures.
    for gid in ("service_type:gaming", "size_band:large", "country:SG"):
        assert b.group(gid).metric("overall").median == 35


def test_share_excludes_companies_the_indicator_does_not_apply_to():
    answers = [True, True, False, None, True, False, True]  # 4 met of 6 that apply
    b = build_benchmark([entry(i, indicators={"RPA:7.2.1": a}) for i, a in enumerate(answers)], cycle=1)
    share = b.group("all").metric("indicator:RPA:7.2.1")
    assert share.status == STATUS_SHOWN
    assert share.companies == 6
    assert share.share == pytest.approx(4 / 6, abs=1e-4)


def test_share_with_too_few_companies_it_applies_to_is_suppressed_alone():
    answers = [True, None, None, True, False, None, True]  # applies to 4 < 5
    b = build_benchmark(
        [entry(i, indicators={"RPA:7.3.1": a}, practices={"spoc": i % 2 == 0}) for i, a in enumerate(answers)],
        cycle=1,
    )
    group = b.group("all")
    assert not group.suppressed
    assert group.metric("indicator:RPA:7.3.1").status == STATUS_TOO_FEW
    assert group.metric("indicator:RPA:7.3.1").share is None
    assert group.metric("indicator:RPA:7.3.1").companies is None
    assert group.metric("practice:spoc").share == pytest.approx(4 / 7, abs=1e-4)


def test_module_missing_for_some_companies_counts_only_those_that_have_it():
    entries = [entry(i, overall=10.0 * i, modules={"sbd": 10.0 * i} if i < 4 else {}) for i in range(8)]
    b = build_benchmark(entries, cycle=1)
    assert b.group("all").metric("module:sbd").status == STATUS_TOO_FEW
    assert b.group("all").metric("overall").status == STATUS_SHOWN


# ---------------------------------------------------------------------------------------------
# Primary suppression
# ---------------------------------------------------------------------------------------------


def test_group_of_four_suppressed_group_of_five_shown():
    # Ten companies in VN; 0-4 also in SG (five), 5-8 also in MY (four).
    entries = []
    for i in range(10):
        countries = ["VN"] + (["SG"] if i < 5 else []) + (["MY"] if 5 <= i < 9 else [])
        entries.append(entry(i, countries=countries, overall=5.0 * i))
    b = build_benchmark(entries, cycle=1)
    sg, my = b.group("country:SG"), b.group("country:MY")
    assert not sg.suppressed and sg.n == 5
    assert my.suppressed and my.reason == REASON_TOO_FEW
    assert my.n is None and my.metrics == ()
    assert my.n_display == "fewer than 5"


def test_threshold_applies_to_all_companies_too():
    assert build_benchmark([entry(i) for i in range(4)], cycle=1).group("all").suppressed
    assert not build_benchmark([entry(i) for i in range(5)], cycle=1).group("all").suppressed
    assert not build_benchmark([entry(i) for i in range(3)], cycle=1, threshold=3).group("all").suppressed


def test_empty_cycle_gives_a_suppressed_all_group():
    b = build_benchmark([entry(1, cycle=2)], cycle=1)
    assert [g.group_id for g in b.groups] == ["all"]
    assert b.group("all").suppressed


def test_threshold_below_two_is_refused():
    with pytest.raises(ValueError):
        build_benchmark([], cycle=1, threshold=1)
    with pytest.raises(ValueError):
        trends([], threshold=0)


# ---------------------------------------------------------------------------------------------
# Differencing
# ---------------------------------------------------------------------------------------------


def assert_no_pair_differs_by_few(benchmark, entries, threshold):
    members = group_members(entries)
    shown = [g.group_id for g in benchmark.groups if not g.suppressed]
    for a, b in itertools.combinations(shown, 2):
        for diff in (len(members[a] - members[b]), len(members[b] - members[a])):
            assert diff == 0 or diff >= threshold, (a, b, diff)


def test_seven_companies_six_social_networks():
    entries = [entry(i, services=("social_network",), indicators={"RPA:7.2.1": i % 2 == 0}) for i in range(6)]
    entries.append(entry(6, services=("messaging",), indicators={"RPA:7.2.1": True}))
    b = build_benchmark(entries, cycle=1)
    assert not b.group("all").suppressed
    social = b.group("service_type:social_network")
    assert social.suppressed and social.reason == REASON_DIFFERENCING and social.n is None
    assert b.group("service_type:messaging").reason == REASON_TOO_FEW
    assert not ({"all", "service_type:social_network"} <= disclosed_ids(b))
    assert_no_pair_differs_by_few(b, entries, 5)


def test_tie_suppresses_the_later_group():
    # MY = 2..7 and SG = 0..5 (six each, |SG \ MY| = 2); 8..13 operate in TH; all = 14.
    # MY comes before SG in the stable order, so SG gives way.
    def countries(i):
        if i >= 8:
            return ["TH"]
        return (["SG"] if i < 6 else []) + (["MY"] if i >= 2 else [])

    entries = [entry(i, countries=countries(i)) for i in range(14)]
    b = build_benchmark(entries, cycle=1)
    assert not b.group("country:MY").suppressed
    assert b.group("country:SG").reason == REASON_DIFFERENCING
    # all - MY - TH would leave companies 0 and 1: TH gives way too.
    assert b.group("country:TH").reason == REASON_DIFFERENCING
    assert_no_pair_differs_by_few(b, entries, 5)


def test_size_bands_partition_all_companies_so_one_more_band_is_suppressed():
    # all = 12 = startup 5 + medium 5 + large 2. Every pair is fine, but
    # all - startup - medium = the two large companies.
    sizes = ["startup"] * 5 + ["medium"] * 5 + ["large"] * 2
    entries = [entry(i, size=s, indicators={"RPA:7.4.1": i % 3 == 0}) for i, s in enumerate(sizes)]
    b = build_benchmark(entries, cycle=1)
    assert b.group("size_band:large").reason == REASON_TOO_FEW
    assert not b.group("size_band:startup").suppressed
    assert b.group("size_band:medium").reason == REASON_DIFFERENCING  # tie: the later band
    assert not b.group("all").suppressed


def test_two_overlapping_service_types_and_all_isolate_their_overlap():
    # gaming 0..7, social 6..13, all = 14: the overlap is {6, 7}.
    entries = []
    for i in range(14):
        services = (["gaming"] if i < 8 else []) + (["social_network"] if i >= 6 else [])
        entries.append(entry(i, services=services))
    # Pairs: all\gaming = 6, all\social = 6, gaming\social = 6, social\gaming = 6: all fine.
    # But gaming + social - all = the two companies in both.
    b = build_benchmark(entries, cycle=1)
    shown = disclosed_ids(b)
    assert "all" in shown
    assert not {"service_type:gaming", "service_type:social_network"} <= shown
    assert b.group("service_type:social_network").reason == REASON_DIFFERENCING


def test_metric_contributors_differing_by_one_are_suppressed_in_the_smaller_group():
    # all = 12; SG = 0..6 (seven). The indicator applies to 0..7: eight in all, seven in SG.
    entries = []
    for i in range(12):
        countries = ["VN"] + (["SG"] if i < 7 else [])
        entries.append(entry(i, countries=countries, indicators={"RPA:7.2.1": (i % 2 == 0) if i < 8 else None}))
    b = build_benchmark(entries, cycle=1)
    assert not b.group("country:SG").suppressed
    assert b.group("all").metric("indicator:RPA:7.2.1").status == STATUS_SHOWN
    assert b.group("country:SG").metric("indicator:RPA:7.2.1").status == STATUS_DIFFERENCING
    assert b.group("country:SG").metric("overall").status == STATUS_SHOWN


def test_dominance_is_documented_as_not_applicable():
    assert "Dominance" in bm.__doc__ and "not applicable" in bm.__doc__


# ---------------------------------------------------------------------------------------------
# The attacker: knows every company's profile, sees only benchmark_rows
# ---------------------------------------------------------------------------------------------

SERVICES = ["social_network", "messaging", "gaming", "streaming", "payments", "storage"]
SIZES = ["startup", "medium", "large", "very_large"]
COUNTRIES = ["SG", "MY", "ID", "TH", "PH", "VN", "KH"]
INDICATORS = ["RPA:7.2.1", "RPA:7.3.1", "RPA:7.4.1"]
PRACTICES = ["spoc", "hash_matching", "age_assurance"]
MODULES = ["hrdd", "sbd", "trust"]


def random_companies(seed, n=40, cycle=1):
    rnd = random.Random(seed)
    companies = []
    for org in range(n):
        services = rnd.sample(SERVICES, rnd.choice([1, 1, 2]))
        countries = rnd.sample(COUNTRIES, rnd.choice([1, 2, 3]))
        indicators = {}
        for ind in INDICATORS:
            if ind == "RPA:7.3.1" and "payments" not in services and rnd.random() < 0.7:
                indicators[ind] = None
            else:
                indicators[ind] = rnd.random() < 0.5
        companies.append(
            BenchmarkEntry(
                organisation_id=org,
                cycle=cycle,
                service_types=tuple(services),
                size_band=rnd.choice(SIZES),
                countries=tuple(countries),
                overall=round(rnd.uniform(0, 100), 1),
                modules={m: round(rnd.uniform(0, 100), 1) for m in MODULES if rnd.random() < 0.85},
                lenses={
                    "SbD:1": round(rnd.uniform(0, 100), 1),
                    "TRUST:outcomes": round(rnd.uniform(0, 100), 1),
                },
                indicators=indicators,
                practices={p: rnd.random() < 0.4 for p in PRACTICES},
            )
        )
    return companies


def group_members(entries):
    """What the attacker knows: each company's profile, hence every group's members."""
    members = {}
    for e in entries:
        for gid in [
            "all",
            *(f"service_type:{s}" for s in e.service_types),
            f"size_band:{e.size_band}",
            *(f"country:{c}" for c in e.countries),
        ]:
            members.setdefault(gid, set()).add(e.organisation_id)
    return {k: frozenset(v) for k, v in members.items()}


def has_value(e, metric):
    """The attacker also knows which companies each metric applies to (worst case)."""
    if metric in ("overall", "companies"):
        return True
    kind, key = metric.split(":", 1)
    source = {
        "module": e.modules,
        "lens": e.lenses,
        "indicator": e.indicators,
        "practice": e.practices,
    }[kind]
    return source.get(key) is not None


def rref(vectors):
    """Reduced row echelon form over the rationals: (rows, pivot columns)."""
    rows = [[Fraction(x) for x in v] for v in vectors]
    pivots = []
    r = 0
    for col in range(len(rows[0]) if rows else 0):
        p = next((i for i in range(r, len(rows)) if rows[i][col] != 0), None)
        if p is None:
            continue
        rows[r], rows[p] = rows[p], rows[r]
        rows[r] = [x / rows[r][col] for x in rows[r]]
        for i in range(len(rows)):
            if i != r and rows[i][col] != 0:
                f = rows[i][col]
                rows[i] = [a - f * b for a, b in zip(rows[i], rows[r], strict=True)]
        pivots.append(col)
        r += 1
    return rows[:r], pivots


def solvable_supports(sets, companies):
    """Sets of one or two companies on which some combination of the shown sums is confined.

    A vector of the row space is determined by its values at the pivot columns of the RREF,
    so one confined to {i} is a pivot row supported on i alone, and one confined to {i, j} is
    a combination of the pivot rows of i and j vanishing on every other non-pivot column.
    """
    rows, pivots = rref([[1 if c in s else 0 for c in companies] for s in sets])
    pivot_row = {companies[p]: rows[k] for k, p in enumerate(pivots)}
    nonpivot = [k for k in range(len(companies)) if k not in pivots]
    found = []
    for row in pivot_row.values():
        support = {companies[k] for k, x in enumerate(row) if x != 0}
        if len(support) <= 2:
            found.append(support)
    for (i, r1), (j, r2) in itertools.combinations(pivot_row.items(), 2):
        a = [r1[k] for k in nonpivot]
        b = [r2[k] for k in nonpivot]
        # dependent iff every 2x2 minor vanishes
        if all(a[x] * b[y] == a[y] * b[x] for x, y in itertools.combinations(range(len(a)), 2)):
            found.append({i, j})
    return found


@pytest.mark.parametrize("threshold", [3, 5])
@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_attacker_learns_nothing_about_fewer_than_threshold_companies(seed, threshold):
    entries = random_companies(seed)
    by_org = {e.organisation_id: e for e in entries}
    members = group_members(entries)
    rows = benchmark_rows(build_benchmark(entries, cycle=1, threshold=threshold))

    # What is on the page: exactly the CSV columns, never a minimum or a maximum.
    for row in rows:
        assert tuple(row) == CSV_COLUMNS
        assert not any(word in key for key in row for word in ("min", "max", "mean", "organisation"))
        if row["status"] != STATUS_SHOWN:
            assert all(row[k] is None for k in ("companies", "p25", "median", "p75", "share"))

    shown = [r for r in rows if r["status"] == STATUS_SHOWN]
    assert any(r["metric"] != "companies" and r["group_id"] != "all" for r in shown)  # not vacuous

    # The attacker rebuilds each shown figure's contributors from the companies' profiles.
    by_metric = {}
    for row in shown:
        contributors = frozenset(o for o in members[row["group_id"]] if has_value(by_org[o], row["metric"]))
        assert len(contributors) == row["companies"]
        assert row["companies"] >= threshold
        count = None
        if row["share"] is not None:
            count = round(row["share"] * row["companies"])
            assert count == sum(1 for o in contributors if _answer(by_org[o], row["metric"]))
        by_metric.setdefault(row["metric"], []).append((row["group_id"], contributors, count))

    for metric, figures in by_metric.items():
        # Every pair of shown figures of the same metric: subtracting counts never isolates
        # fewer than threshold companies.
        for (ga, a, ca), (gb, b, _cb) in itertools.combinations(figures, 2):
            for diff in (a - b, b - a):
                assert len(diff) == 0 or len(diff) >= threshold, (metric, ga, gb, len(diff))
            if ca is not None and b < a:
                assert len(a - b) >= threshold  # ca - cb is a count over a - b
        # Any combination of them: no company's value, no sum or difference of two companies'.
        sets = list({s for _, s, _ in figures})
        companies = sorted(set().union(*sets))
        leaks = solvable_supports(sets, companies)
        assert not [s for s in leaks if len(s) < threshold], (metric, leaks)


def _answer(e, metric):
    kind, key = metric.split(":", 1)
    return {"indicator": e.indicators, "practice": e.practices}[kind].get(key)


@pytest.mark.parametrize("seed", range(12))
def test_leak_search_agrees_with_exhaustive_search(seed):
    """The combination check against brute force: every set of < t companies, exact ranks."""
    rnd = random.Random(seed)
    for _ in range(25):
        n = rnd.randint(5, 12)
        t = rnd.choice([2, 3, 4, 5])
        band = [rnd.randrange(3) for _ in range(n)]
        services = [set(rnd.sample(range(4), rnd.choice([1, 2]))) for _ in range(n)]
        family = [frozenset(range(n))]
        family += [frozenset(i for i in range(n) if band[i] == b) for b in range(3)]
        family += [frozenset(i for i in range(n) if s in services[i]) for s in range(4)]
        family = [s for s in family if rnd.random() < 0.7]
        expected = _brute_force_leak(family, t)
        found = bm._find_leak(family, t)
        assert (found is None) == (expected is None), (family, t, expected, found)
        if found is not None:
            assert len(found) < t and _confined(family, found)


@pytest.mark.parametrize("modulus", [(1 << 61) - 1, None])
@pytest.mark.parametrize("seed", range(6))
def test_a_column_modulo_the_large_atoms_is_read_off_as_the_full_reduction_gives_it(seed, modulus):
    """The quotient's coordinates of a 0/1 column are the full reduction's, on the free rows:
    the reduction is zero on the pivots, whatever the basis (modular and exact arithmetic)."""
    rnd = random.Random(seed)
    for _ in range(20):
        size = rnd.randint(1, 14)
        basis = bm._Basis(modulus)
        for _ in range(rnd.randint(0, size + 3)):
            basis.add(bm._column(rnd.getrandbits(size), size))
        quotient = bm._Quotient(basis, size)
        assert len(quotient) == size - len(basis)
        for _ in range(15):
            mask = rnd.getrandbits(size)
            full = basis.reduce(bm._column(mask, size))
            pivots = {pivot for pivot, _ in basis.vectors}
            assert all(full[p] == 0 for p in pivots)
            assert quotient.coordinates(mask) == [full[i] for i in range(size) if i not in pivots]


@pytest.mark.parametrize("seed", range(6))
def test_many_columns_modulo_the_large_atoms_are_read_off_as_one_at_a_time(seed):
    """The columns read off together (numpy, exact int64 sums when the basis's entries are
    small) are those read one at a time, for bases of up to the word's rows and beyond it."""
    rnd = random.Random(seed)
    for size in (1, 5, 12, 30, bm._WORD_ROWS, bm._WORD_ROWS + 2):
        basis = bm._Basis(bm._modulus_for(size))
        for _ in range(rnd.randint(1, size + 3)):
            basis.add(bm._column(rnd.getrandbits(size), size))
        quotient = bm._Quotient(basis, size)
        masks = [rnd.getrandbits(size) for _ in range(40)]
        assert quotient.columns(masks) == [quotient.coordinates(mask) for mask in masks]


@pytest.mark.parametrize("modulus", [(1 << 61) - 1, None])
def test_parallel_columns_share_a_direction_and_no_others_do(modulus):
    rnd = random.Random(3)
    for _ in range(200):
        v = [rnd.randrange(-3, 4) for _ in range(rnd.randint(1, 5))]
        w = [rnd.randrange(-3, 4) for _ in range(len(v))]
        if not any(v) or not any(w):
            continue
        if modulus:
            v, w = [x % modulus for x in v], [x % modulus for x in w]
        scaled = [x * 5 % modulus if modulus else Fraction(x * 5, 3) for x in v]
        assert bm._direction(scaled, modulus) == bm._direction(v, modulus)
        basis = bm._Basis(modulus)
        basis.add(v)
        parallel = not basis.add(w)
        assert (bm._direction(v, modulus) == bm._direction(w, modulus)) == parallel


@pytest.mark.parametrize("seed", range(6))
def test_atoms_of_sets_of_ids_are_those_of_any_other_members(seed):
    """Sets of ids are split into atoms by numpy; sets of other members (the same ids as text)
    by dictionaries: the same atoms, in the same order (largest first, then by mask)."""
    rnd = random.Random(seed)
    for _ in range(20):
        n = rnd.randint(1, 200)
        rows = [frozenset(rnd.sample(range(n), rnd.randint(1, n))) for _ in range(rnd.randint(1, 12))]
        by_numpy = bm._id_atoms(rows)
        assert bm._atoms(rows) == by_numpy
        by_dict = bm._atoms([frozenset(map(str, row)) for row in rows])
        assert [(mask, sorted(map(str, members))) for mask, members in by_numpy] == [
            (mask, sorted(members)) for mask, members in by_dict
        ]
        assert all(type(c) is int for _, members in by_numpy for c in members)


@pytest.mark.parametrize("seed", range(6))
def test_components_of_sets_of_ids_are_those_of_any_other_members(seed):
    """Sets of organisation ids are split into components by their masks; sets of other members
    (here the same ids as text) by union-find: both give the same components."""
    rnd = random.Random(seed)
    for _ in range(30):
        n = rnd.randint(1, 40)
        rows = [frozenset(rnd.sample(range(n), rnd.randint(0, min(n, 4)))) for _ in range(rnd.randint(0, 12))]
        by_mask = {frozenset(frozenset(map(str, row)) for row in c) for c in bm._components(rows)}
        by_union = set(bm._components([frozenset(map(str, row)) for row in rows]))
        assert by_mask == by_union
        for component in by_mask:
            others = set().union(*(row for c in by_mask if c != component for row in c))
            assert not set().union(*component) & others


def test_a_set_of_ids_is_the_mask_with_their_bits_and_other_sets_have_none():
    rnd = random.Random(7)
    for _ in range(200):
        ids = frozenset(rnd.sample(range(3000), rnd.randint(0, 60)))
        assert bm._set_mask(ids) == sum(1 << i for i in ids)
    assert bm._set_mask(frozenset({0, 8, 9, 64})) == (1 << 0) | (1 << 8) | (1 << 9) | (1 << 64)
    for other in ({1, -2}, {1, 2.5}, {"a", "b"}, {1, "2"}):
        assert bm._set_mask(frozenset(other)) is None


@pytest.mark.parametrize("seed", range(8))
def test_leak_search_with_larger_thresholds_agrees_with_exhaustive_search(seed):
    """Larger thresholds reach the two-column checks; brute force over unions of atoms (the
    support of any combination is one, since combinations are constant on atoms)."""
    rnd = random.Random(100 + seed)
    for _ in range(25):
        n = rnd.randint(12, 15)
        t = rnd.choice([5, 6, 7])
        family = [frozenset(range(n))]
        family += [frozenset(i for i in range(n) if rnd.random() < 0.5) for _ in range(rnd.choice([2, 3]))]
        expected = _brute_force_leak_by_atoms(family, t)
        found = bm._find_leak(family, t)
        assert (found is None) == (expected is None), (family, t, expected, found)
        if found is not None:
            assert len(found) < t and _confined(family, found)


def _brute_force_leak_by_atoms(family, t):
    companies = sorted(set().union(*family))
    atoms = {}
    for c in companies:
        atoms.setdefault(tuple(c in s for s in family), set()).add(c)
    atoms = list(atoms.values())
    for size in range(1, len(atoms) + 1):
        for combo in itertools.combinations(atoms, size):
            union = set().union(*combo)
            if len(union) < t and _confined(family, union):
                return union
    return None


def _rank(columns):
    return len(rref(columns)[0]) if columns else 0


def _confined(family, subset):
    companies = sorted(set().union(*family))
    columns = {c: [1 if c in s else 0 for s in family] for c in companies}
    full = _rank(list(columns.values()))
    return _rank([columns[c] for c in companies if c not in subset]) < full


def _brute_force_leak(family, t):
    family = [s for s in family if s]
    if not family:
        return None
    companies = sorted(set().union(*family))
    for size in range(1, t):
        for subset in itertools.combinations(companies, size):
            if _confined(family, set(subset)):
                return set(subset)
    return None


# ---------------------------------------------------------------------------------------------
# Company position
# ---------------------------------------------------------------------------------------------


def test_position_bands_against_disclosed_quartiles():
    scores = [10, 20, 35, 40, 50]  # p25 20, median 35, p75 40
    entries = [entry(i, overall=s, modules={"hrdd": s}) for i, s in enumerate(scores)]
    entries.append(entry(99, services=("payments",), countries=("MY",), size="startup", overall=30))
    b = build_benchmark(entries, cycle=1)
    # all = 6 while gaming/large/SG = 5: those three are suppressed (they differ from all by 1).
    assert b.group("country:SG").suppressed

    b5 = build_benchmark(entries[:5], cycle=1)
    expected = {
        10: BAND_BELOW_P25,
        20: BAND_P25_MEDIAN,
        35: BAND_MEDIAN_P75,
        40: BAND_MEDIAN_P75,
        50: BAND_ABOVE_P75,
    }
    for e in entries[:5]:
        places = position(b5, e)
        assert [p.group_id for p in places] == [
            "all",
            "service_type:gaming",
            "size_band:large",
            "country:SG",
        ]
        overall = places[0].placement("overall")
        assert overall.band == expected[e.overall]
        assert (overall.p25, overall.median, overall.p75) == (20, 35, 40)
        assert places[0].placement("module:hrdd").band == expected[e.overall]

    mine = position(b, entries[-1])
    assert [p.group_id for p in mine] == [
        "all",
        "service_type:payments",
        "size_band:startup",
        "country:MY",
    ]
    assert mine[0].placement("overall").band == BAND_P25_MEDIAN  # 30 in 10..50 of six: p25 20.x
    assert all(p.suppressed and p.reason == REASON_TOO_FEW for p in mine[1:])
    assert all(p.placements == () and p.companies is None for p in mine[1:])


def test_position_reports_a_suppressed_module():
    entries = [entry(i, overall=10.0 * i, modules={"sbd": 1.0 * i} if i < 3 else {}) for i in range(6)]
    b = build_benchmark(entries, cycle=1)
    place = position(b, entries[0])[0]
    assert place.placement("overall").status == STATUS_SHOWN
    assert place.placement("module:sbd").status == STATUS_TOO_FEW
    assert place.placement("module:sbd").band is None
    assert place.placement("module:sbd").value == 0.0


# ---------------------------------------------------------------------------------------------
# Trends
# ---------------------------------------------------------------------------------------------


def test_trends_suppress_shares_when_one_company_joined():
    def cycle_entries(cycle, orgs):
        return [entry(o, cycle=cycle, overall=float(o * 10), indicators={"RPA:7.2.1": o % 2 == 0}) for o in orgs]

    entries = (
        cycle_entries(2022, range(4))  # too few
        + cycle_entries(2023, range(6))
        + cycle_entries(2024, range(7))  # one company joined
        + cycle_entries(2025, range(12))  # six more than 2023
    )
    t = {tr.cycle: tr for tr in trends(entries)}
    assert t[2022].suppressed and t[2022].n is None and t[2022].overall_median is None
    assert t[2022].indicator("indicator:RPA:7.2.1").status == STATUS_TOO_FEW

    assert t[2023].n == 6 and t[2023].overall_median == 25
    assert t[2023].indicator("indicator:RPA:7.2.1").share == 0.5
    assert t[2023].note is None

    assert t[2024].n == 7 and t[2024].overall_median == 30
    assert t[2024].indicator("indicator:RPA:7.2.1").status == STATUS_DIFFERENCING
    assert t[2024].indicator("indicator:RPA:7.2.1").share is None
    assert "2023" in t[2024].note

    assert t[2025].indicator("indicator:RPA:7.2.1").status == STATUS_SHOWN
    assert t[2025].indicator("indicator:RPA:7.2.1").share == 0.5
    json.dumps([tr.to_dict() for tr in t.values()])


def test_trends_compare_with_every_earlier_shown_cycle():
    def cycle_entries(cycle, orgs):
        return [entry(o, cycle=cycle, indicators={"RPA:7.2.1": True}) for o in orgs]

    # 2024 differs from 2023 by one (withheld); 2025 equals 2024 but still differs from 2023.
    entries = cycle_entries(2023, range(10)) + cycle_entries(2024, range(11)) + cycle_entries(2025, range(11))
    t = {tr.cycle: tr for tr in trends(entries)}
    assert t[2024].indicator("indicator:RPA:7.2.1").status == STATUS_DIFFERENCING
    assert t[2025].indicator("indicator:RPA:7.2.1").status == STATUS_DIFFERENCING


def test_trends_suppress_one_indicator_whose_applicability_changed_by_one():
    entries = [entry(o, cycle=2023, indicators={"RPA:7.3.1": True if o < 8 else None}) for o in range(10)]
    entries += [entry(o, cycle=2024, indicators={"RPA:7.3.1": True if o < 9 else None}) for o in range(10)]
    t = {tr.cycle: tr for tr in trends(entries)}
    assert t[2023].indicator("indicator:RPA:7.3.1").status == STATUS_SHOWN
    assert t[2024].indicator("indicator:RPA:7.3.1").status == STATUS_DIFFERENCING
    assert t[2024].n == 10 and t[2024].note


# ---------------------------------------------------------------------------------------------
# Input handling, serialisation, CSV
# ---------------------------------------------------------------------------------------------


def test_duplicates_keep_the_latest_entry_and_other_cycles_are_ignored():
    entries = [entry(i, overall=50.0) for i in range(5)]
    entries.append(entry(0, overall=0.0))  # resubmission of organisation 0: replaces the first
    entries.append(entry(7, cycle=2, overall=100.0))
    b = build_benchmark(entries, cycle=1)
    assert b.group("all").n == 5
    # 0, 50, 50, 50, 50 -> p25 is the second value
    overall = b.group("all").metric("overall")
    assert (overall.p25, overall.median, overall.p75) == (50, 50, 50)

    t = trends(entries)
    assert [tr.cycle for tr in t] == [1, 2]
    assert t[0].n == 5 and t[1].suppressed


def test_labels_fall_back_to_ids():
    entries = [entry(i, services=("social_network",), countries=("SG",)) for i in range(5)]
    labels = {
        "service_types": {"social_network": "Social networks"},
        "countries": {"SG": "Singapore"},
    }
    b = build_benchmark(entries, cycle=1, labels=labels)
    assert b.group("service_type:social_network").label == "Social networks"
    assert b.group("country:SG").label == "Singapore"
    assert b.group("size_band:large").label == "large"
    assert b.group("all").label == "All companies"


def test_group_order_is_stable():
    entries = [
        entry(
            i,
            services=[["streaming"], ["gaming"]][i % 2],
            size=SIZES[i % 4],
            countries=[["VN"], ["ID"]][i % 2],
        )
        for i in range(8)
    ]
    ids = [g.group_id for g in build_benchmark(entries, cycle=1).groups]
    assert ids == [
        "all",
        "service_type:gaming",
        "service_type:streaming",
        "size_band:startup",
        "size_band:medium",
        "size_band:large",
        "size_band:very_large",
        "country:ID",
        "country:VN",
    ]


def test_to_dict_is_json_safe_and_names_no_organisation():
    entries = random_companies(11)
    entries = [BenchmarkEntry(**{**e.__dict__, "organisation_id": 987650 + e.organisation_id}) for e in entries]
    b = build_benchmark(entries, cycle=1)
    text = json.dumps(b.to_dict())
    assert "98765" not in text
    json.dumps([p.to_dict() for p in position(b, entries[0])])
    data = b.to_dict()
    assert data["groups"][0]["group_id"] == "all"
    assert all("organisation" not in key for key in data["groups"][0])


def test_rows_and_suppressed_rows():
    entries = [entry(i, services=("social_network",), indicators={"RPA:7.2.1": True}) for i in range(6)]
    entries.append(entry(6, services=("messaging",)))
    b = build_benchmark(entries, cycle=1)
    rows = [{k: "" if v is None else str(v) for k, v in r.items()} for r in benchmark_rows(b)]
    assert tuple(rows[0]) == CSV_COLUMNS

    by_key = {(r["group_id"], r["metric"]): r for r in rows}
    assert by_key[("all", "companies")]["companies"] == "7"
    assert by_key[("all", "overall")]["status"] == "shown"
    messaging = by_key[("service_type:messaging", "companies")]
    assert messaging["status"] == "suppressed: not enough companies"
    assert messaging["companies"] == ""
    social = by_key[("service_type:social_network", "companies")]
    assert social["status"] == "suppressed: could reveal a single company"
    assert social["companies"] == ""
    # A suppressed group has no metric rows.
    assert not [r for r in rows if r["group_id"] == "service_type:messaging" and r["metric"] != "companies"]
    # The indicator applies to six in "all".
    assert by_key[("all", "indicator:RPA:7.2.1")]["companies"] == "6"
    assert by_key[("all", "indicator:RPA:7.2.1")]["share"] == "1.0"
