import json
from tests.test_records import *
from tests.test_records import _submit_step
def test_dbg(make, session, monkeypatch):
    monkeypatch.setattr(releases, "publish_if_due", lambda *args: None)
    cycle, latest = 2029, {}
    orgs = [make.organisation() for _ in range(2)]
    _submit_step(make, session, cycle, latest, (orgs[0], 0, "yes", True, "yes", {"SG"}, "standard@test.1"))
    _submit_step(make, session, cycle, latest, (orgs[1], 1, "no", False, "no", {"SG"}, "standard@test.1"))
    for sid, row in aggregates._addressed(session, cycle):
        print(sid, aggregates._signature(row))
    print(session.exec(select(Aggregate.payload).where(Aggregate.kind == "indicator_index")).all())
