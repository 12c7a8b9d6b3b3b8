"""The PDFs (issue 13, point 12): every PDF is tagged for assistive technology (PDF/UA-1) with
its language and title, a table row is never split across two pages, and the radar chart of
the printed documents is drawn without matplotlib. Speed is measured by
``tests/perf/benchmark_pdf.py``, not here."""

import io
import re
from types import SimpleNamespace

import pypdf
import pytest
from flask import render_template

from dd_toolkit.engine import documents, render
from dd_toolkit.engine.print_charts import radar_svg
from dd_toolkit.records.models import TransparencyEdit


@pytest.fixture
def company(make, auth):
    org = make.organisation(name="Selat Streams")
    admin = make.user(org)
    auth.login(admin.email)
    return org, admin


def structure_roles(reader: pypdf.PdfReader) -> tuple[set[str], list[str]]:
    """The roles in the structure tree, and the alternative texts found in it."""
    roles: set[str] = set()
    alts: list[str] = []
    stack = [reader.trailer["/Root"]["/StructTreeRoot"]]
    while stack:
        node = stack.pop()
        node = node.get_object() if hasattr(node, "get_object") else node
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict):
            if "/S" in node:
                roles.add(str(node["/S"]))
            if "/Alt" in node:
                alts.append(str(node["/Alt"]))
            if "/K" in node:
                stack.append(node["/K"])
    return roles, alts


def assert_tagged(data: bytes, title: str) -> set[str]:
    """A PDF/UA-1 document in English titled ``title``; returns its structure roles."""
    reader = pypdf.PdfReader(io.BytesIO(data))
    catalog = reader.trailer["/Root"]
    assert catalog["/MarkInfo"]["/Marked"].value is True
    assert catalog["/Lang"] == "en"
    assert catalog["/ViewerPreferences"]["/DisplayDocTitle"].value is True  # readers show the title, not the file name
    assert reader.metadata.title == title
    xmp = catalog["/Metadata"].get_object().get_data().decode()
    assert 'pdfuaid:part="1"' in xmp or "<pdfuaid:part>1</pdfuaid:part>" in xmp
    assert title.replace("&", "&amp;") in xmp  # dc:title
    roles, _alts = structure_roles(reader)
    assert "/Document" in roles
    return roles


def test_action_plan_and_transparency_pdfs_are_tagged_with_language_and_title(client, company, make):
    org, admin = company
    answers = {**make.complete_answers(), "mini.ops.live": "none"}
    assessment = make.submitted(org, admin, answers=answers, methodology="standard@test.1")  # with a radar

    plan = client.get(f"/assessments/{assessment.id}/action-plan.pdf")
    assert plan.mimetype == "application/pdf"
    roles = assert_tagged(plan.data, "Action plan: Selat Streams, 2026")
    assert {"/H1", "/H2", "/H3", "/L", "/LI", "/Table", "/TH", "/TD", "/Figure"} <= roles
    _roles, alts = structure_roles(pypdf.PdfReader(io.BytesIO(plan.data)))
    assert any(alt.startswith("Radar chart of the score for each framework reference") for alt in alts)

    transparency = client.get(f"/assessments/{assessment.id}/transparency.pdf")
    roles = assert_tagged(transparency.data, "Transparency report: child safety: Selat Streams, 2026")
    assert {"/H1", "/H2", "/Table"} <= roles


def test_the_regulator_and_working_group_pdfs_are_tagged_with_language_and_title(app, bank):
    """The indicator report and the benchmark release print from their own templates, through
    the same renderer."""
    with app.test_request_context():
        indicators = render_template(
            "regulator/indicators_print.html",
            report=SimpleNamespace(jurisdiction="SG", cycle=2026, institutions=0),
            rows=[],
            notes={"not_applicable": "Not applicable is counted apart."},
            taxonomy=bank.taxonomy,
        )
        release = render_template(
            "benchmarks/print.html",
            release=SimpleNamespace(number=3, published_at="2026-02-01", final=False, cycles=[2026], companies=None),
            cycle=2026,
            rows=[],
            names={},
            policy=["A group of fewer than five companies is withheld."],
        )
    title = re.search(r"<title>(.*?)</title>", indicators).group(1)
    assert "Singapore" in title and "2026" in title
    assert_tagged(render.pdf_from_html(indicators), title)
    assert_tagged(render.pdf_from_html(release), "Benchmark release 3, 2026")


def test_a_document_without_language_or_title_is_refused():
    with pytest.raises(ValueError, match="lang"):
        render.pdf_from_html("<!doctype html><html><head><title>T</title></head><body><p>x</p></body></html>")
    with pytest.raises(ValueError, match="title"):
        render.pdf_from_html('<!doctype html><html lang="en"><head></head><body><p>x</p></body></html>')


def test_a_long_table_keeps_every_row_whole_and_repeats_its_header(client, company, make, session):
    """The team's transparency text with a table running to several pages: each row's first and
    last words are on the same page, and every page the table reaches starts with its header."""
    org, admin = company
    assessment = make.submitted(org, admin)
    filler = " ".join(["reviewed by the trust and safety team under the documented procedure"] * 3)
    rows = [
        f"| r{n:02d}start metric {n} | {n * 37} | r{n:02d}mid {filler} | {filler} r{n:02d}end |" for n in range(1, 41)
    ]
    table = "\n".join(["| Metric | Value | Method | Notes |", "| --- | --- | --- | --- |", *rows])
    session.add(TransparencyEdit(assessment_id=assessment.id, markdown=f"# Figures\n\n{table}\n", version=1))
    session.commit()

    data = client.get(f"/assessments/{assessment.id}/transparency.pdf").data
    pages = [" ".join(page.extract_text().split()) for page in pypdf.PdfReader(io.BytesIO(data)).pages]

    def page_of(word: str) -> int:
        found = [i for i, text in enumerate(pages) if word in text]
        assert len(found) == 1, (word, found)
        return found[0]

    spans = {n: (page_of(f"r{n:02d}start"), page_of(f"r{n:02d}end")) for n in range(1, 41)}
    table_pages = sorted({page for span in spans.values() for page in span})
    assert len(table_pages) >= 3  # the table does run over page breaks
    split = [n for n, (first, last) in spans.items() if first != last]
    assert split == [], f"rows split across pages: {split}"
    for page in table_pages:
        first_row = min(n for n, (first, _last) in spans.items() if first == page)
        assert pages[page].index("Metric Value Method Notes") < pages[page].index(f"r{first_row:02d}start")


def test_a_pdf_rendered_with_other_options_is_not_served_from_the_store(monkeypatch):
    """The store's key covers the renderer's options: an untagged PDF kept from before is a miss."""
    html = '<html lang="en"><title>T</title><p>x</p></html>'
    tagged = documents.pdf_key(html)
    monkeypatch.setattr(render, "PDF_STANDARD", None)
    assert documents.pdf_key(html) != tagged
    monkeypatch.undo()
    monkeypatch.setattr(render, "print_stylesheet", lambda: "// another look")
    assert documents.pdf_key(html) != tagged
    monkeypatch.undo()
    monkeypatch.setattr(documents, "typesetter_version", lambda: "typst 0.0.1")
    assert documents.pdf_key(html) != tagged


def test_the_printed_radar_leaves_a_gap_for_a_missing_score_and_escapes_labels():
    svg = radar_svg(["A&B", "b", "c", "d"], [50, None, 50, 50], peer=[40, 40, 40, 40])
    assert "A&amp;B" in svg and "A&B" not in svg
    mine = re.findall(r'<polyline points="([^"]+)"[^>]*stroke="#0b5cad"', svg)
    # Closed through d -> a, broken at b: one line of three points (c, d, a).
    assert len(mine) == 1 and len(mine[0].split()) == 3
    peer = re.findall(r'<polyline points="([^"]+)"[^>]*stroke-dasharray', svg)
    assert len(peer) == 1 and len(peer[0].split()) == 5  # a full closed line
    assert "Peer median" in svg
    assert "Peer median" not in radar_svg(["a", "b", "c"], [10, 20, 30])


def test_the_radar_figures_are_also_a_table_of_named_references(client, company, make):
    """Each framework reference on the radar is listed with its name and score in a table, so
    the figures are readable without the picture and no short code stands alone."""
    from dd_toolkit.records.reader import read_assessment

    org, admin = company
    assessment = make.submitted(org, admin, answers=make.complete_answers(), methodology="standard@test.1")
    card = read_assessment(make.session, make.content, assessment).card
    items = [item for lens in card.lenses for item in lens.items]
    assert items, "the test methodology has a framework lens"
    plan = pypdf.PdfReader(io.BytesIO(client.get(f"/assessments/{assessment.id}/action-plan.pdf").data))
    text = re.sub(r"\s+", " ", " ".join(page.extract_text() for page in plan.pages))
    assert "Framework reference" in text
    for item in items:
        assert f"{item.ref} — {item.label}" in text
