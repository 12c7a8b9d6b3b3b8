import collections
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from dd_toolkit.records import aggregates, releases
from tests.test_records import SERVICE_SETS, _submit_step, _stored_reports, _recomputed_reports

stats = collections.Counter()

@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.tuples(
            st.integers(0, 3),
            st.integers(0, len(SERVICE_SETS) - 1),
            st.sampled_from(["yes", "partial", "no"]),
            st.booleans(),
            st.sampled_from(["yes", "partial", "no"]),
            st.sets(st.sampled_from(["SG", "MY", "TH"]), min_size=1),
            st.sampled_from(["standard@test.1"] * 5 + ["standard@test.2"]),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_stress(make, session, monkeypatch, steps):
    monkeypatch.setattr(releases, "publish_if_due", lambda *args: None)
    update = aggregates._update
    monkeypatch.setattr(aggregates, "_update", lambda *a: (lambda r: (stats.update([r]), r)[1])(update(*a)))
    cycle = 2000 + stats["examples"] % 99
    stats["examples"] += 1
    orgs = [make.organisation(f"I {cycle}-{i}-{stats['examples']}") for i in range(4)]
    latest = {}
    for org_index, *drawn in steps:
        _submit_step(make, session, cycle, latest, (orgs[org_index], *drawn))
        assert _stored_reports(session, cycle) == _recomputed_reports(session, cycle)

def test_zz_print():
    print("\nSTATS", stats)
