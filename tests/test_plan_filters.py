"""The action plan page lists every action, or those of one priority and/or status, chosen with
plain query arguments (bookmarkable, no script needed) that a save keeps."""

import re

import pytest
from sqlmodel import select

from dd_toolkit.records.models import Assessment, Organisation
from dd_toolkit.web import fragments

from . import test_headers
from .conftest import Forms


def listed(page: str) -> list[str]:
    """The ids of the actions the page lists, in order."""
    return re.findall(r'<article class="action" id="item-([^"]+)"', page)


def priority_of(page: str) -> dict[str, str]:
    return dict(re.findall(r'id="item-([^"]+)-title"><span class="priority priority-([^"]+)"', page))


def status_of(page: str) -> dict[str, str]:
    return dict(re.findall(r'id="item-([^"]+)-title">.*?class="status status-([a-z_]+)"', page, re.DOTALL))


@pytest.fixture
def lumen_plan(real_client, demo):
    """The demo company's submitted plan (actions of every priority), its admin signed in."""
    org = demo.exec(select(Organisation).where(Organisation.name == "Lumen Social")).one()
    assessment = demo.exec(
        select(Assessment).where(Assessment.organisation_id == org.id, Assessment.status == "submitted")
    ).first()
    test_headers.sign_in(real_client, "admin@lumen.example")
    return f"/assessments/{assessment.id}/action-plan"


def test_the_plan_lists_the_actions_of_a_priority_and_says_how_many_of_all(real_client, lumen_plan):
    everything = real_client.get(lumen_plan).get_data(as_text=True)
    every_id, priorities = listed(everything), priority_of(everything)
    assert len(every_id) > 20 and len(set(priorities.values())) >= 3
    assert "are listed" not in everything  # no filter: nothing to say
    for priority in sorted(set(priorities.values())):
        page = real_client.get(f"{lumen_plan}?priority={priority}").get_data(as_text=True)
        expected = [item for item in every_id if priorities[item] == priority]
        assert listed(page) == expected
        total = f"of {len(every_id)} " + ("is listed" if len(expected) == 1 else "are listed")
        assert f"{len(expected)} action{'s' if len(expected) != 1 else ''} {total}" in page
        assert f'<option value="{priority}" selected>' in page
        # Each listed action's form sends the filter along, so the page after a save lists the same.
        forms = re.findall(r'action="([^"]+/items/[^"]+)"', page)
        assert len(forms) == len(expected) and all(f.endswith(f"?priority={priority}") for f in forms)
    # The page kept for a filtered list is never served for another, nor for the whole plan.
    assert listed(real_client.get(lumen_plan).get_data(as_text=True)) == every_id


def test_unknown_filter_values_are_ignored_shown_as_any_and_never_kept(real_app, real_client, lumen_plan):
    every_id = listed(real_client.get(lumen_plan).get_data(as_text=True))
    with real_app.app_context():
        kept = fragments.store()
    renders = kept.renders
    page = real_client.get(f"{lumen_plan}?priority=P9&status=%3Cb%3Ebold").get_data(as_text=True)
    assert listed(page) == every_id
    assert kept.renders == renders  # the whole plan's kept part: no new key for values it ignores
    assert "are listed" not in page and "<b>bold" not in page
    assert " selected>" not in page.split('id="filter-priority"')[1].split("</select>")[0]


def test_open_and_saved_statuses_filter_and_a_save_keeps_the_filter(real_client, lumen_plan):
    everything = real_client.get(lumen_plan).get_data(as_text=True)
    every_id, statuses = listed(everything), status_of(everything)
    assert len(statuses) == len(every_id)
    open_ids = [item for item in every_id if statuses[item] in ("todo", "in_progress")]
    assert listed(real_client.get(f"{lumen_plan}?status=open").get_data(as_text=True)) == open_ids
    done = real_client.get(f"{lumen_plan}?status=done").get_data(as_text=True)
    assert listed(done) == [item for item in every_id if statuses[item] == "done"]

    # Mark the first open P1 action done from the list of open P1 actions.
    filtered = f"{lumen_plan}?priority=P1&status=open"
    page = real_client.get(filtered).get_data(as_text=True)
    item = listed(page)[0]
    version = re.search(rf'name="item-{re.escape(item)}-base_version"[^>]*value="(\d+)"', page)
    action = re.search(rf'action="([^"]+/items/{re.escape(item)}[^"]*)"', page).group(1).replace("&amp;", "&")
    saved = Forms(real_client).post(
        action,
        {
            f"item-{item}-owner": "Ana",
            f"item-{item}-status": "done",
            f"item-{item}-base_version": version.group(1) if version else "0",
        },
        page=filtered,
    )
    assert saved.status_code == 302
    assert saved.headers["Location"] == f"{filtered}#item-{item}"
    after = real_client.get(filtered).get_data(as_text=True)
    assert item not in listed(after) and "Saved: " in after
    assert item in listed(real_client.get(f"{lumen_plan}?status=done").get_data(as_text=True))


def test_a_filter_nothing_matches_says_so_and_leads_back_to_every_action(real_client, lumen_plan):
    page = real_client.get(f"{lumen_plan}?priority=P1&status=wont_do").get_data(as_text=True)
    assert listed(page) == []
    assert "No action matches these filters." in page
    assert f'href="{lumen_plan}">List every action</a>' in page
