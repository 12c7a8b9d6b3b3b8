"""The PDFs are typeset by Typst from the documents' HTML (dd_toolkit/engine/typeset.py): what
a user typed prints as text and never as Typst markup or code, a letter no font can draw does
not break the PDF, and the structure stays valid PDF/UA whatever Markdown the team wrote."""

import io
import logging
import re

import pypdf
import pytest
from sqlmodel import select

from dd_toolkit.engine import render
from dd_toolkit.engine.typeset import CLASS_STYLES, REPLACEMENT, printable, typst_source, typst_string
from dd_toolkit.records.demo import COMPANIES, DEMO_PASSWORD
from dd_toolkit.records.models import Assessment, TransparencyEdit
from tests.conftest import AuthActions
from tests.pdf_text import copied_pages, copied_text
from tests.test_pdf import structure_roles

# Typst's markup and code characters, a call that would read a file, a string end, a label, a
# reference, comments, a control character, and Khmer (which no installed font draws).
HOSTILE = 'Acme #read("/etc/passwd") ]#panic("x") \\ " $x^2$ <lbl> @lbl // c /* d */ *b* _i_ `r` = h\x0b end'


def test_a_string_literal_escapes_what_would_end_it():
    assert typst_string('a"b\\c\nd\x01') == '"a\\"b\\\\c\\nd\\u{1}"'


def test_a_name_prints_as_text_in_the_title_the_footer_and_the_page(client, make, auth):
    org = make.organisation(name=HOSTILE)
    admin = make.user(org)
    auth.login(admin.email)
    assessment = make.submitted(org, admin, answers=make.complete_answers())

    data = client.get(f"/assessments/{assessment.id}/action-plan.pdf").data
    text = copied_text(data)
    shown = HOSTILE.replace("\x0b", "")
    unwrapped = text.replace(" ", "")  # the heading wraps onto a second line

    assert f"Child-safety action plan: {shown}".replace(" ", "") in unwrapped  # the heading
    assert f"{shown} · Action plan · page 1 of" in text  # the footer
    assert "root:" not in text  # nothing was read from the disk
    metadata = pypdf.PdfReader(io.BytesIO(data)).metadata
    assert metadata.title == f"Action plan: {shown}, 2026"
    assert metadata.author == shown  # the organisation whose document it is


# A name in each of the region's scripts that `make fonts` covers beside Latin, Vietnamese and
# Thai; Poppler gives these back exactly (its reading of Lao and Myanmar clusters is not).
REGION_NAMES = {
    "km": "ក្រុមហ៊ុនសុវត្ថិភាពកុមារ",
    "ta": "குழந்தை பாதுகாப்பு நிறுவனம்",
    "zh": "儿童安全有限公司",
}


@pytest.mark.parametrize("script", sorted(REGION_NAMES))
def test_a_name_in_another_script_of_the_region_prints(client, make, auth, script):
    name = REGION_NAMES[script]
    org = make.organisation(name=name)
    admin = make.user(org)
    auth.login(admin.email)
    assessment = make.submitted(org, admin, answers=make.complete_answers())

    text = copied_text(client.get(f"/assessments/{assessment.id}/transparency.pdf").data)
    assert name in text and REPLACEMENT not in text


def test_a_letter_no_font_draws_is_replaced_and_the_pdf_stays_pdf_ua(client, make, auth):
    name = "ሰላም Selat"  # Ethiopic: no installed font has it
    org = make.organisation(name=name)
    admin = make.user(org)
    auth.login(admin.email)
    assessment = make.submitted(org, admin, answers=make.complete_answers())

    data = client.get(f"/assessments/{assessment.id}/transparency.pdf").data
    reader = pypdf.PdfReader(io.BytesIO(data))
    assert "<pdfuaid:part>1</pdfuaid:part>" in reader.trailer["/Root"]["/Metadata"].get_object().get_data().decode()
    assert f"{REPLACEMENT * 3} Selat" in copied_text(data)
    # The HTML export keeps the name as it was typed.
    assert name in client.get(f"/assessments/{assessment.id}/transparency.html").get_data(as_text=True)


def test_printable_keeps_format_characters_and_drops_control_characters():
    covered = {ord(c) for c in "ab"}
    assert printable("a\u200bb\x00\x1f", covered) == "a\u200bb"  # the zero-width space inert_markdown adds
    assert printable("aéb", covered) == f"a{REPLACEMENT}b"
    assert printable("aéb", None) == "aéb"


def test_headings_never_skip_a_level_whatever_the_team_wrote(client, make, auth, session):
    org = make.organisation(name="Selat Streams")
    admin = make.user(org)
    auth.login(admin.email)
    assessment = make.submitted(org, admin)
    markdown = "# Figures\n\n#### Deep down\n\ntext\n\n## Back up\n\n###### Deeper\n"
    session.add(TransparencyEdit(assessment_id=assessment.id, markdown=markdown, version=1))
    session.commit()

    data = client.get(f"/assessments/{assessment.id}/transparency.pdf").data
    roles, _alts = structure_roles(pypdf.PdfReader(io.BytesIO(data)))
    assert {"/H1", "/H2", "/H3"} <= roles
    assert not roles & {"/H5", "/H6"}
    assert "Deep down" in copied_text(data) and "Deeper" in copied_text(data)


def test_a_document_the_standard_refuses_still_prints_tagged(monkeypatch, caplog):
    """Should Typst refuse a document under PDF/UA-1 (here: a letter claimed drawable that no font
    has), the PDF is still made, tagged, without the claim, and the refusal is logged."""
    monkeypatch.setattr(render._typesetter, "covered", lambda: frozenset(range(0x110000)))
    html = '<!doctype html><html lang="en"><head><title>T</title></head><body><p>ሰ Selat</p></body></html>'
    with caplog.at_level(logging.WARNING, logger="dd_toolkit.engine.render"):
        data = render.pdf_from_html(html)
    reader = pypdf.PdfReader(io.BytesIO(data))
    assert reader.trailer["/Root"]["/MarkInfo"]["/Marked"].value is True
    assert "typeset without claiming ua-1" in caplog.text
    assert "Selat" in copied_text(data)


def test_tables_keep_their_header_and_spans_and_print_pages_can_turn():
    html = (
        '<!doctype html><html lang="en"><head><title>T</title><meta name="dd-print-page" content="landscape">'
        '<meta name="dd-print-footer" content="{title} {page}/{pages}"></head><body><table>'
        "<thead><tr><th>Group</th><th>Measure</th><th>Median</th></tr></thead>"
        '<tbody><tr><td>All</td><td colspan="2" class="muted">Withheld: fewer than five companies</td></tr>'
        "<tr><td>Gaming</td><td>Overall score</td><td>71</td></tr></tbody></table></body></html>"
    )
    source = typst_source(html, "")
    assert 'table.header([#"Group"], [#"Measure"], [#"Median"])' in source
    assert 'table.cell(colspan: 2)[#muted[#"Withheld: fewer than five companies"]]' in source
    assert "landscape: true" in source
    data = render.pdf_from_html(html)
    box = pypdf.PdfReader(io.BytesIO(data)).pages[0].mediabox
    assert box.width > box.height  # A4 landscape
    assert "Withheld: fewer than five companies" in copied_text(data) and "T 1/1" in copied_text(data)


def test_every_class_the_writer_styles_is_a_function_of_the_print_stylesheet():
    defined = set(re.findall(r"^#let ([a-z-]+)\(", render.print_stylesheet(), flags=re.MULTILINE))
    assert set(CLASS_STYLES.values()) | {"printed", "legend-line", "chart-image", "rule"} <= defined


@pytest.mark.parametrize("tag", ["script", "style"])
def test_script_and_style_content_never_prints(tag):
    head = '<!doctype html><html lang="en"><head><title>T</title></head>'
    html = f"{head}<body><{tag}>hidden()</{tag}><p>seen</p></body></html>"
    source = typst_source(html, "")
    assert "hidden" not in source and '"seen"' in source


def test_a_line_break_starts_its_new_line_with_no_space():
    html = '<!doctype html><html lang="en"><head><title>T</title></head><body><p>one<br>\ntwo</p></body></html>'
    assert '#"one"#linebreak()#"two"' in typst_source(html, "")


def test_a_paragraph_that_introduces_a_list_stays_with_it():
    head = '<!doctype html><html lang="en"><head><title>T</title></head>'
    html = (
        f"{head}<body><p><strong>Steps:</strong></p>\n<ul><li>one</li></ul><p>Done:</p><p>not a list</p></body></html>"
    )
    source = typst_source(html, "")
    assert '#block(sticky: true)[#par[#strong[#"Steps:"]]]' in source
    assert '#par[#"Done:"]' in source and '[#par[#"Done:"]]' not in source


@pytest.mark.parametrize("language", ["en", "th", "vi"])
def test_the_results_summary_with_its_chart_is_one_page_in_every_language(real_client, demo, language):
    """The demo company's plan, under the real methodology (16 framework references): a
    translated document heads its summary with the translation note and writes the chart's
    legend as text, and the chart then takes the room left on the first page instead of moving
    on to a page of its own."""
    lumen = demo.exec(select(Assessment).where(Assessment.status == "submitted").order_by(Assessment.id)).first()
    AuthActions(real_client).login(COMPANIES[0].admin_email, DEMO_PASSWORD)
    html = real_client.get(f"/assessments/{lumen.id}/action-plan.html?lang={language}").get_data(as_text=True)
    note = re.search(r'<p class="note">([^<]+)</p>', html).group(1)
    title = re.search(r"<h1>([^<]+)</h1>", html.split("<main>", 1)[1]).group(1)

    pages = copied_pages(real_client.get(f"/assessments/{lumen.id}/action-plan.pdf?lang={language}").data)
    assert " ".join(note.split()) in pages[0]  # the note under the chart ends the first page
    assert pages[1].startswith(" ".join(title.split()))  # the plan starts the second
