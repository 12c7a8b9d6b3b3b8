"""Documents in the reader's language (issue 15, deliverable 3): the report templates' own words
are extracted into reports/translations/<lang>/templates.po and translated; the CLI exports in
any of the four languages (--lang); a translated document has its <html lang>, a draft-translation
note, local dates, and its Thai or Vietnamese text in embedded fonts in the PDF."""

from __future__ import annotations

import io
import json

import pypdf
import pytest
from babel.messages.pofile import read_po
from click.testing import CliRunner

from dd_toolkit.cli import main as cli
from dd_toolkit.engine.charts import label_lines
from dd_toolkit.engine.content.catalogues import sources, template_source
from dd_toolkit.engine.print_charts import radar_svg
from dd_toolkit.engine.registry import load_content

from .conftest import REPO_ROOT
from .pdf_text import copied_text
from .test_risk_record import FIXTURE, REGISTER

LANGUAGES = ("id", "th", "vi")


@pytest.fixture
def register_file(tmp_path):
    data = json.loads(FIXTURE.read_text())
    data["risk_register"] = REGISTER
    path = tmp_path / "kitechat.json"
    path.write_text(json.dumps(data))
    return path


def _run(*args):
    result = CliRunner().invoke(cli, ["report", *args])
    assert result.exit_code == 0, result.output
    return result


def test_template_words_are_a_catalogue_source():
    source = template_source(REPO_ROOT)
    for english in (
        "Child-safety action plan",
        "Overall score",
        "Children's risk assessment",
        "Child safety transparency report",
        "Draft translation: this translation has not yet been reviewed. The English text is authoritative.",
        "%(num)s actions",  # both forms of an ngettext
    ):
        assert english in source.texts, english
    content = load_content(REPO_ROOT, "standard")
    found = {(s.folder, s.name): s for s in sources(REPO_ROOT, content.bank)}
    assert ("reports", "templates") in found
    # The renderer's own words are content (reports/document_words.yaml), not Python.
    assert "Action plan" in found["reports", "reports"].texts
    assert "Action plan" not in source.texts


@pytest.mark.parametrize("language", LANGUAGES)
def test_templates_po_is_current_and_complete(language):
    path = REPO_ROOT / "reports" / "translations" / language / "templates.po"
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=language)
    translated = {m.id: m.string for m in catalog if m.id and m.string and not m.fuzzy}
    missing = sorted(set(template_source(REPO_ROOT).texts) - set(translated))
    assert not missing, f"{path}: not translated: {missing[:5]}"
    for english, local in translated.items():
        for placeholder in ("%(num)s", "%(days)s", "%(count)s", "%(day)s", "%(name)s", "**"):
            assert english.count(placeholder) == local.count(placeholder), (english, local)


def test_english_is_the_default(register_file, tmp_path):
    out = tmp_path / "plan.html"
    _run("action-plan", str(register_file), "--format", "html", "-o", str(out))
    html = out.read_text()
    assert '<html lang="en">' in html
    assert "Child-safety action plan" in html and "Draft translation" not in html


def test_thai_action_plan(register_file, tmp_path):
    out = tmp_path / "plan.html"
    _run("action-plan", str(register_file), "--lang", "th", "--format", "html", "-o", str(out))
    html = out.read_text()
    assert '<html lang="th">' in html
    assert "แผนปฏิบัติการด้านความปลอดภัยของเด็ก" in html  # the template's heading
    assert "คำแปลฉบับร่าง" in html  # the draft note: questionnaires/_languages.yaml says draft
    assert "Child-safety action plan" not in html
    assert "คะแนนของคุณ" in html  # the radar's legend, in HTML under the chart


def test_vietnamese_risk_record_with_local_dates(register_file, tmp_path):
    out = tmp_path / "record.md"
    _run("risk-assessment", str(register_file), "--lang", "vi", "--format", "md", "-o", str(out))
    text = out.read_text()
    assert "Đánh giá rủi ro đối với trẻ em" in text
    assert "Cách thức tiến hành đánh giá" in text
    assert "tháng 10, 2027" in text  # the next review, 15 October 2027, as Babel writes it in vi
    assert "15 October 2027" not in text


def test_indonesian_transparency(register_file, tmp_path):
    out = tmp_path / "transparency.md"
    _run("transparency", str(register_file), "--lang", "id", "--format", "md", "-o", str(out))
    assert "Laporan transparansi keselamatan anak" in out.read_text()


def test_unknown_language_is_refused(register_file, tmp_path):
    result = CliRunner().invoke(
        cli, ["report", "action-plan", str(register_file), "--lang", "fr", "-o", str(tmp_path / "x.md")]
    )
    assert result.exit_code != 0


def _fonts(pdf: bytes) -> set[str]:
    names = set()
    for page in pypdf.PdfReader(io.BytesIO(pdf)).pages:
        for font in (page.get("/Resources") or {}).get("/Font", {}).values():
            names.add(str(font.get_object().get("/BaseFont")))
    return names


def test_thai_and_vietnamese_pdfs_embed_fonts_with_their_glyphs(register_file, tmp_path):
    for language, expected_text, font in (
        ("th", "การประเมินความเสี่ยงต่อเด็ก", "Garuda"),
        ("vi", "Đánh giá rủi ro đối với trẻ em", "DejaVu"),
    ):
        out = tmp_path / f"record-{language}.pdf"
        _run("risk-assessment", str(register_file), "--lang", language, "--format", "pdf", "-o", str(out))
        data = out.read_bytes()
        text = copied_text(data)
        assert expected_text in " ".join(text.split()) or expected_text.replace(" ", "") in text.replace(" ", "")
        assert any(font in name for name in _fonts(data)), _fonts(data)
        if language == "th":
            # Text copied out of the PDF keeps every mark, SARA AM (ำ) included, though the
            # font draws it as two glyphs: "คำแปล" (translation), not "คาแปล".
            assert "คำแปล" in text


def test_radar_can_leave_its_legend_to_the_page():
    svg = radar_svg(["A", "B", "C"], [10, 20, 30], legend=None, fonts="Garuda, sans-serif")
    assert "Your score" not in svg and 'font-family="Garuda, sans-serif"' in svg
    assert "Your score" in radar_svg(["A", "B", "C"], [10, 20, 30])


def test_page_charts_find_a_font_with_thai_glyphs():
    import warnings

    from dd_toolkit.engine.charts import bars_svg

    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*missing from font.*")
        svg = bars_svg(["ความเสี่ยงต่อเด็ก", "Đánh giá rủi ro"], [40.0, 60.0])
    assert "ความเสี่ยงต่อเด็ก" in svg and "Đánh giá rủi ro" in svg


def test_browser_download_takes_the_language(client, make, auth):
    from .test_outputs import gapped_answers

    org = make.organisation(name="Selat Streams")
    admin = make.user(org)
    auth.login(admin.email)
    assessment = make.submitted(org, admin, answers=gapped_answers(make), methodology="standard@test.1")
    page = client.get(f"/assessments/{assessment.id}/action-plan").get_data(as_text=True)
    assert 'name="lang"' in page and 'formaction="/assessments/' in page  # the language is offered
    english = client.get(f"/assessments/{assessment.id}/action-plan.html").get_data(as_text=True)
    assert '<html lang="en">' in english
    thai = client.get(f"/assessments/{assessment.id}/action-plan.html?lang=th").get_data(as_text=True)
    assert '<html lang="th">' in thai and "แผนปฏิบัติการด้านความปลอดภัยของเด็ก" in thai
    assert client.get(f"/assessments/{assessment.id}/action-plan.html?lang=fr").status_code == 404


def test_chart_labels_break_only_at_spaces_so_a_thai_word_is_never_cut():
    # "Assess actual and potential impacts" in Thai: two phrases, no space inside either.
    thai = "ประเมินผลกระทบที่เกิดขึ้นจริง และที่อาจเกิดขึ้น"
    lines = label_lines(thai, 18).split("\n")
    assert lines == ["ประเมินผลกระทบที่เกิดขึ้นจริง", "และที่อาจเกิดขึ้น"]
    assert label_lines("Assess actual and potential impacts", 18) == "Assess actual and\npotential impacts"
