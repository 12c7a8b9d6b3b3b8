"""schemathesis against the OpenAPI document the API serves, in-process through the WSGI app, with
real tokens: no server error, no response the document does not describe (status code, content
type, body, headers), valid requests accepted and invalid ones refused, unexpected methods
(TRACE included) refused in the documented error shape.

Bounded to a few dozen examples per operation, so the whole run stays well under a minute."""

from __future__ import annotations

import pytest
import schemathesis
import schemathesis.engine
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import events

from dd_toolkit.records import database as db
from dd_toolkit.records.models import PlatformRole

from . import factories
from .conftest import _fresh_database, make_app
from .test_api import new_token, send

API = "/api/v1"
MAX_EXAMPLES = 50


@pytest.fixture(scope="module")
def api_world(migrated_template, tmp_path_factory):
    """One app and one database for every generated case: the API only reads, so they share it."""
    tmp = tmp_path_factory.mktemp("api_schema")
    database = _fresh_database(migrated_template, tmp, "schema")
    url = next(database)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DD_INSTANCE_PATH", str(tmp / "instance"))
        # schemathesis sends hundreds of requests a minute: the API's limit is tested elsewhere.
        app = make_app(url, tmp, RATELIMIT_ENABLED=False)
        with db.standalone_session(app.extensions["dd_engine"]) as session:
            make = factories.Factory(session, app.extensions["dd_content"])
            sg = make.user(platform_role=PlatformRole.REGULATOR, jurisdictions=["SG"])
            send(app, make, make.organisation(name="Lion Chat"), ["SG"])
            send(app, make, make.organisation(name="Both Ways"), ["SG", "MY"], cycle=2025)
            for _ in range(5):  # five consenting submissions: a published release
                make.submitted(make.organisation(), consent=True)
            world = {
                "app": app,
                "regulator": new_token(session, sg),
                "working_group": new_token(session, make.user(platform_role=PlatformRole.WORKING_GROUP)),
            }
        yield world
        app.extensions["dd_engine"].dispose()
    next(database, None)


def _config(world) -> SchemathesisConfig:
    return SchemathesisConfig.from_dict(
        {
            "headers": {"Authorization": f"Bearer {world['regulator']}"},
            "workers": 1,
            "generation": {"max-examples": MAX_EXAMPLES, "mode": "all", "database": "none", "deterministic": True},
            # schemathesis 4.x cannot send this check's unauthenticated probe through the WSGI transport
            # (it passes `max_redirects` to werkzeug's client): test_api.py checks a missing, unknown,
            # revoked and wrong-role token instead.
            "checks": {"ignored_auth": {"enabled": False}},
            "phases": {
                "examples": {"enabled": True},
                "coverage": {"enabled": True},
                "fuzzing": {"enabled": True},
                "stateful": {"enabled": False},
            },
            # The benchmark is the working group's: its token, not a regulator's, reads it.
            "operations": [
                {"include-path": f"{API}/benchmark", "headers": {"Authorization": f"Bearer {world['working_group']}"}}
            ],
        }
    )


def test_schemathesis_finds_nothing(api_world):
    schema = schemathesis.openapi.from_wsgi(f"{API}/openapi.json", api_world["app"], config=_config(api_world))
    failures: list[str] = []
    errors: list[str] = []
    sent: set[tuple[str, str, str]] = set()  # (phase, method, operation path)
    for event in schemathesis.engine.from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            for node in event.recorder.cases.values():
                sent.add((event.phase.value, node.value.method.upper(), node.value.path))
            for case_id, checks in event.recorder.checks.items():
                for check in checks:
                    if check.failure_info is not None:
                        case = event.recorder.cases[case_id].value
                        failure = check.failure_info.failure
                        failures.append(
                            f"{event.phase.value} {check.name}: {case.method} {case.formatted_path} "
                            f"{case.query} -> {failure.title}: {failure.message}"
                        )
        elif isinstance(event, (events.NonFatalError, events.FatalError)):
            errors.append(
                f"{getattr(event, 'label', '')}: {getattr(event, 'value', getattr(event, 'exception', None))!r}"
            )
    assert not errors, errors
    assert not failures, "\n".join(sorted(set(failures)))
    # The run reached every operation (schemathesis leaves out the document it was loaded from),
    # generated and fuzzed, and tried the methods none declares.
    assert {path for _phase, _method, path in sent} == set(schema.raw_schema["paths"]) - {f"{API}/openapi.json"}
    assert {"coverage", "fuzzing"} <= {phase for phase, _method, _path in sent}
    assert {"POST", "PUT", "DELETE", "PATCH", "TRACE"} <= {method for _phase, method, _path in sent}
