"""The content's translations: gettext catalogues keyed by the English they translate."""

from __future__ import annotations

import io
import re
import shutil
from pathlib import Path

import pytest
from babel.messages.pofile import read_po, write_po
from click.testing import CliRunner
from markupsafe import Markup

from dd_toolkit.cli import main as cli
from dd_toolkit.engine.content import content_language, load_bank
from dd_toolkit.engine.content.catalogues import CATALOGUE_FOLDERS, completeness, update
from dd_toolkit.engine.content.languages import load_languages

REPO_ROOT = Path(__file__).resolve().parents[1]
LANGUAGES = ("id", "th", "vi")


@pytest.fixture(scope="module")
def bank():
    return load_bank(REPO_ROOT)


def _copy_content(target: Path) -> Path:
    for folder in CATALOGUE_FOLDERS:
        shutil.copytree(REPO_ROOT / folder, target / folder)
    return target


def _fill(path: Path, english: str, translation: str) -> None:
    with path.open("rb") as handle:
        catalog = read_po(handle)
    catalog[english].string = translation
    buffer = io.BytesIO()
    write_po(buffer, catalog, width=100)
    path.write_bytes(buffer.getvalue())


def test_the_catalogues_are_current_with_the_content():
    result = CliRunner().invoke(cli, ["content-catalogues", "--check"])
    assert result.exit_code == 0, result.output


def test_every_text_has_a_catalogue_entry_in_every_language(bank):
    for share in completeness(REPO_ROOT, bank, LANGUAGES):
        assert share.total > 1900
        assert share.translated + len(share.fuzzy) + len(share.missing) + len(share.kept_english) == share.total


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_whole_bank_is_translated_or_explicitly_kept_in_english(bank, language):
    (share,) = completeness(REPO_ROOT, bank, [language])
    assert not share.fuzzy, f"{language}: English changed since translated: {share.fuzzy[:5]}"
    assert not share.missing, f"{language}: {len(share.missing)} texts untranslated, e.g. {share.missing[:5]}"
    assert share.kept_english == () or len(share.kept_english) < share.total * 0.02


def test_a_translation_reaches_the_question_and_a_changed_english_falls_back_visibly(tmp_path):
    root = _copy_content(tmp_path)
    bank = load_bank(root)
    question = bank.questions["hrdd.policy.commitment"]
    english = question.text.get("en")
    catalogue = root / "questionnaires" / "translations" / "th" / "hrdd.po"
    _fill(catalogue, english, "คำถามทดสอบ")

    translated = load_bank(root).questions["hrdd.policy.commitment"]
    with content_language("th") as noted:
        assert translated.text.get() == "คำถามทดสอบ"
        assert english not in noted

    # The English is reworded: the old translation no longer matches and becomes a suggestion.
    source = root / "questionnaires" / "hrdd.yaml"
    yaml_text = source.read_text(encoding="utf-8")
    assert english[:40] in yaml_text
    source.write_text(yaml_text.replace(english[:40], "Newly worded, " + english[:40], 1), encoding="utf-8")
    changed = load_bank(root)
    new_english = changed.questions["hrdd.policy.commitment"].text.get("en")
    assert new_english != english
    written = update(root, changed, list(load_languages(root / "questionnaires")))
    assert catalogue in written
    with catalogue.open("rb") as handle:
        entry = read_po(handle)[new_english]
    assert entry.fuzzy and entry.string == "คำถามทดสอบ"
    reloaded = load_bank(root)
    with content_language("th") as noted:
        assert reloaded.questions["hrdd.policy.commitment"].text.get() == new_english
        assert new_english in noted
    (share,) = completeness(root, reloaded, ["th"])
    assert new_english in share.fuzzy
    assert update(root, reloaded, ["id", "th", "vi"]) == []  # a second run changes nothing


def test_plain_texts_are_translated_when_shown(tmp_path):
    root = _copy_content(tmp_path)
    _fill(root / "scoring" / "translations" / "vi" / "scoring.po", "Established", "Vững chắc (thử)")
    bank = load_bank(root)
    assert bank.catalogues.text("Established", "vi") == "Vững chắc (thử)"
    with content_language("vi") as noted:
        assert bank.catalogues.text("Established") == "Vững chắc (thử)"
        assert bank.catalogues.text("A sentence nobody wrote") == "A sentence nobody wrote"
        assert noted == {"A sentence nobody wrote"}
    assert bank.catalogues.text("Established") == "Established"  # English outside


def test_a_catalogue_out_of_date_fails_the_check(tmp_path):
    root = _copy_content(tmp_path)
    source = root / "questionnaires" / "trust.yaml"
    text = source.read_text(encoding="utf-8")
    source.write_text(re.sub(r"(\n\s+title: )(.+)", r"\1\2 (new wording)", text, count=1), encoding="utf-8")
    result = CliRunner().invoke(cli, ["--content", str(root), "content-catalogues", "--check"])
    assert result.exit_code != 0
    assert "trust.po" in result.output and "make content-catalogues" in result.output


def test_a_page_shows_plain_content_texts_in_the_readers_language(app, monkeypatch):
    from flask import render_template_string

    from dd_toolkit.engine.content.catalogues import Catalogues

    bank = app.extensions["dd_bank"]
    monkeypatch.setattr(bank, "catalogues", Catalogues({"th": {"Established": "มั่นคงแล้ว"}}))
    page = "{{ band }} | {{ note }} | {{ typed }} | {{ _('Capped at %(band)s', band=band) }}"
    values = {"band": "Established", "note": "Established practice", "typed": Markup("Established")}
    with app.test_request_context(headers={"Accept-Language": "th"}):
        app.preprocess_request()
        assert render_template_string(page, **values) == (
            "มั่นคงแล้ว | Established practice | Established | Capped at มั่นคงแล้ว"
        )
    with app.test_request_context(headers={"Accept-Language": "en"}):
        app.preprocess_request()
        assert render_template_string(page, **values) == (
            "Established | Established practice | Established | Capped at Established"
        )
