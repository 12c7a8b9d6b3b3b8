"""The interface in Bahasa Indonesia, Thai and Vietnamese: complete catalogues kept current by
Flask-Babel's workflow, the language chosen from the account, the visitor's choice or the browser,
and every page reached in each language with no marked string left in English."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from flask_babel import Domain, get_locale

from dd_toolkit.records.models import User

from . import factories, test_headers

ROOT = Path(__file__).parent.parent
TRANSLATIONS = ROOT / "dd_toolkit" / "web" / "translations"
LANGUAGES = ("id", "th", "vi")
PLACEHOLDER = re.compile(r"%\(\w+\)[-#0 +]*\d*(?:\.\d+)?[sdifgeEx%]|\{\w+\}")


def catalogue(path: Path):
    with path.open("rb") as handle:
        return read_po(handle)


def ids(message) -> tuple[str, ...]:
    return message.id if isinstance(message.id, tuple) else (message.id,)


def test_the_template_holds_every_marked_string(tmp_path):
    """`make i18n-update` was run: what the code marks is what the catalogues translate."""
    fresh = tmp_path / "messages.pot"
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel.cfg", "-k", "N_", "-k", "_l"]
        + ["-k", "lazy_gettext", "--no-location", "-o", str(fresh), "."],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    marked = {message.id for message in catalogue(fresh) if message.id}
    kept = {message.id for message in catalogue(TRANSLATIONS / "messages.pot") if message.id}
    stale = "messages.pot is not current: run `make i18n-update`"
    assert sorted(marked - kept, key=str) == [], stale  # marked in the code, missing from the catalogues
    assert sorted(kept - marked, key=str) == [], stale  # in the catalogues, no longer marked


def test_the_extractor_reads_every_template():
    """Babel's Jinja extractor skips a template it cannot parse without a word: with the
    extensions of babel.cfg, every template parses, so none of its strings is left out (the
    shared macros, which use ``do``, once were)."""
    from configparser import ConfigParser

    from jinja2.ext import babel_extract

    config = ConfigParser()
    config.read(ROOT / "babel.cfg")
    options = {**dict(config["jinja2: dd_toolkit/web/templates/**.html"]), "silent": "false"}
    templates = sorted((ROOT / "dd_toolkit" / "web" / "templates").rglob("*.html"))
    assert templates
    for template in templates:
        with template.open("rb") as source:
            list(babel_extract(source, ("_", "gettext", "ngettext"), [], options))


@pytest.mark.parametrize("language", LANGUAGES)
def test_each_catalogue_is_complete_and_keeps_the_placeholders(language):
    template = {message.id for message in catalogue(TRANSLATIONS / "messages.pot") if message.id}
    translated = catalogue(TRANSLATIONS / language / "LC_MESSAGES" / "messages.po")
    problems = []
    for message in translated:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.fuzzy:
            problems.append(f"fuzzy: {message.id!r}")
        if not all(strings):
            problems.append(f"untranslated: {message.id!r}")
            continue
        wanted = {p for source in ids(message) for p in PLACEHOLDER.findall(source)}
        for string in strings:
            if set(PLACEHOLDER.findall(string)) != wanted:
                problems.append(f"placeholders differ: {message.id!r} -> {string!r}")
    missing = template - {message.id for message in translated if message.id}
    problems += [f"missing: {message_id!r}" for message_id in sorted(missing, key=str)]
    assert problems == []


def test_the_compiled_catalogues_are_current():
    """`make translations` compiles each catalogue; a stale .mo would serve old text."""
    for language in LANGUAGES:
        folder = TRANSLATIONS / language / "LC_MESSAGES"
        compiled, source = folder / "messages.mo", folder / "messages.po"
        assert compiled.exists(), f"{compiled} is missing: run `make translations`"
        assert compiled.stat().st_mtime >= source.stat().st_mtime, f"{compiled} is older than its .po"


# -- choosing the language --------------------------------------------------------------------


def lang_of(response) -> str:
    return re.search(r'<html lang="([^"]+)"', response.get_data(as_text=True)).group(1)


def test_the_browser_language_is_used_until_one_is_chosen(client):
    assert lang_of(client.get("/auth/login")) == "en"
    assert lang_of(client.get("/auth/login", headers={"Accept-Language": "th-TH,th;q=0.9,en;q=0.5"})) == "th"
    assert lang_of(client.get("/auth/login", headers={"Accept-Language": "fr, de"})) == "en"


def test_the_sign_in_page_has_the_switcher_and_the_choice_is_kept(client, forms):
    page = client.get("/auth/login").get_data(as_text=True)
    assert 'action="/language"' in page and 'lang="vi"' in page and "Tiếng Việt" in page
    chosen = forms.post("/language", {"language": "vi", "next": "/auth/login"}, page="/auth/login")
    assert chosen.status_code == 302 and chosen.headers["Location"] == "/auth/login"
    page = client.get("/auth/login", headers={"Accept-Language": "th"})
    assert lang_of(page) == "vi"  # the visitor's own choice wins over the browser's


def test_a_signed_in_choice_is_saved_on_the_account_and_follows_it(client, forms, auth, make, session, app):
    org = make.organisation(name="Bahasa Ventures")
    admin = make.user(org)
    auth.login(admin.email)
    forms.post("/language", {"language": "id", "next": "/"}, page="/")
    session.expire_all()
    assert session.get(User, admin.id).locale == "id"
    auth.logout()
    other = app.test_client()  # another device: no cookie, a browser in English
    page = other.get("/auth/login", headers={"Accept-Language": "en"})
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    other.post("/auth/login", data={"email": admin.email, "password": factories.PASSWORD, "csrf_token": token})
    assert lang_of(other.get("/", headers={"Accept-Language": "en"})) == "id"


def test_the_switcher_refuses_what_it_does_not_offer_and_goes_back_only_to_this_site(client, forms):
    odd = forms.post("/language", {"language": "xx", "next": "https://elsewhere.example/"}, page="/auth/login")
    assert odd.status_code == 302 and odd.headers["Location"] == "/"
    assert "dd_language" not in odd.headers.get("Set-Cookie", "")
    refused = client.post("/language", data={"language": "th"})  # no CSRF token
    assert refused.status_code == 400


# -- every page, in every language ------------------------------------------------------------


class Recorder:
    """A catalogue that notes every marked string it has no translation for."""

    def __init__(self, translations, missed: set[str]):
        self._translations, self._missed = translations, missed

    def _known(self, key) -> bool:
        catalog = getattr(self._translations, "_catalog", {})
        return bool(catalog.get(key))

    def ugettext(self, message):
        if not self._known(message):
            self._missed.add(message)
        return self._translations.ugettext(message)

    gettext = ugettext

    def ungettext(self, singular, plural, n):
        if not self._known((singular, 0)):
            self._missed.add(singular)
        return self._translations.ungettext(singular, plural, n)

    ngettext = ungettext

    def __getattr__(self, name):
        return getattr(self._translations, name)


# The walk in each language: each role, and both companies (one has a draft to submit, the other
# submitted cycles). The contributor reaches the same page templates as their admin (checked
# below), so walking them again in three languages adds time, not coverage.
LANGUAGE_WALKERS = ("anonymous", "company admin", "other company admin", "regulator", "working group", "platform admin")


@pytest.mark.walk
@pytest.mark.parametrize("language", LANGUAGES)
def test_every_page_each_role_reaches_is_in_the_language_chosen(real_app, demo, monkeypatch, language):
    from flask import template_rendered

    from .test_pages_checked import NOT_WALKED, TEMPLATES

    missed: dict[str, set[str]] = {}
    original = Domain.get_translations

    def recording(self):
        # Flask-Babel merges the catalogue into an empty one, whose header names no language.
        return Recorder(original(self), missed.setdefault(str(get_locale()), set()))

    monkeypatch.setattr(Domain, "get_translations", recording)
    rendered: set[str] = set()

    def record(_sender, template, **_extra):
        rendered.add(template.name)

    template_rendered.connect(record, real_app)
    pdfs = {rule.endpoint for rule in real_app.url_map.iter_rules() if rule.rule.endswith(".pdf")}
    wrong_lang = []
    try:
        for identity in LANGUAGE_WALKERS:
            email = test_headers.IDENTITIES[identity]
            client = real_app.test_client()
            client.set_cookie("dd_language", language)
            if email:
                test_headers.sign_in(client, email)
            html: list[tuple[str, str]] = []
            test_headers.walk(real_app, client, set(pdfs), html=html, per_endpoint=1)
            assert html, f"{identity} reached no page"
            wrong_lang += [f"{identity} {url}" for url, body in html if f'<html lang="{language}"' not in body]
    finally:
        template_rendered.disconnect(record, real_app)
    assert wrong_lang == []
    assert language in missed, f"the {language} catalogue was never loaded: run `make translations`"
    assert sorted(missed[language]) == []
    unwalked = {
        str(path.relative_to(TEMPLATES))
        for path in TEMPLATES.rglob("*.html")
        if not path.name.startswith("_") and str(path.relative_to(TEMPLATES)) not in rendered
    }
    unwalked -= set(NOT_WALKED)
    assert not unwalked, f"page templates not rendered in {language}: {sorted(unwalked)}"


# -- the content in the reader's language ------------------------------------------------------


def test_content_follows_the_readers_language_and_notes_what_falls_back_to_english():
    from dd_toolkit.engine.content import LocalText, content_language, fallbacks

    both = LocalText.model_validate({"en": "Report to the hotline", "th": "รายงานไปยังสายด่วน"})
    english_only = LocalText.model_validate("Name a contact point")
    assert both.get() == "Report to the hotline"
    with content_language("th") as noted:
        assert both.get() == "รายงานไปยังสายด่วน"
        assert english_only.get() == "Name a contact point"
        assert noted == {"Name a contact point"} and fallbacks() == noted
    assert both.get() == "Report to the hotline" and fallbacks() == set()
    assert both.get("th") == "รายงานไปยังสายด่วน"  # asked for by name, in any context


def test_validate_content_says_how_complete_each_language_is():
    from click.testing import CliRunner

    from dd_toolkit.cli import main as cli

    result = CliRunner().invoke(cli, ["validate-content"])
    assert result.exit_code == 0, result.output
    for code in LANGUAGES:
        line = next(line for line in result.output.splitlines() if line.startswith(f"language {code} "))
        assert re.search(r": \d+ of \d+ texts translated \(\d+%\), (draft|reviewed by .+)", line), line


def test_a_draft_translation_and_the_english_fallbacks_are_labelled_on_the_page(
    real_client, real_app, demo, monkeypatch
):
    # One question without its Thai: the page shows it in English and says so.
    question = real_app.extensions["dd_bank"].questionnaires[0].sections[0].questions[0]
    monkeypatch.delitem(question.text.translations, "th", raising=False)
    real_client.set_cookie("dd_language", "th")
    test_headers.sign_in(real_client, test_headers.IDENTITIES["company admin"])
    page = real_client.get("/question-bank/").get_data(as_text=True)
    assert '<html lang="th"' in page
    note = re.search(r'<p class="translation-note" role="note">(.*?)</p>', page, re.S)
    assert note, "no translation note on a page in Thai"
    assert "translation-note" in page
    untranslated = re.search(r"(\d+)", note.group(1))
    assert untranslated and int(untranslated.group(1)) > 0


def test_a_notification_email_is_written_in_its_readers_language(app):
    from dd_toolkit.web.notifications import _composer

    compose = _composer(app)
    item = {"kind": "action_due", "params": {"title": "Add live-stream detection", "due": "2026-12-01"}}
    item |= {"name": "Somchai", "entity": "action_plan", "entity_id": 1}
    english_subject, english_body = compose({**item, "language": None})
    thai_subject, thai_body = compose({**item, "language": "th"})
    assert english_body.startswith("Hello Somchai,")
    assert thai_subject != english_subject and "Somchai" in thai_body and not thai_body.startswith("Hello")
    assert re.search("[\u0e00-\u0e7f]", thai_body)  # Thai script


def test_a_regulator_reads_the_review_statuses_in_their_language(real_app, demo):
    client = real_app.test_client()
    client.set_cookie("dd_language", "th")
    test_headers.sign_in(client, "regulator@demo.example")
    inbox = client.get("/review/").get_data(as_text=True)
    first = re.search(r'href="/review/(\d+)"', inbox).group(1)
    page = client.get(f"/review/{first}").get_data(as_text=True)
    badge = re.search(r'<span class="status review-[a-z_]+">([^<]+)</span>', page).group(1)
    assert not badge.isascii(), badge  # the status's name in Thai
    for english in ("Received", "In review", "Reviewed", "Clarification requested"):
        assert f">{english}<" not in inbox and f">{english}<" not in page, english


def test_a_plan_built_for_a_thai_reader_is_never_shown_to_an_english_reader(real_app, demo):
    """The plan and the draft of a submitted assessment are kept once built; each is kept under
    the language it was worded in."""
    readers = {}
    for language in ("th", "en"):
        client = real_app.test_client()
        client.set_cookie("dd_language", language)
        test_headers.sign_in(client, "admin@lumen.example")
        readers[language] = client
    home = readers["en"].get("/").get_data(as_text=True)
    submitted = re.search(r'href="/assessments/(\d+)/results"', home).group(1)
    for path in (f"/assessments/{submitted}/action-plan", f"/assessments/{submitted}/transparency"):
        thai = readers["th"].get(path).get_data(as_text=True)
        assert len(re.findall("[\u0e00-\u0e7f]", thai)) > 1000, path
        english = readers["en"].get(path).get_data(as_text=True)
        main = english[english.index("<main") :].replace("ไทย", "")  # the language chooser names Thai in Thai
        assert re.findall("[\u0e00-\u0e7f]+", main) == [], path


GETTEXT_TEMPLATES = (
    "{{ _('Skip to main content') }}",
    "{{ _('coverage %(p).0f%%', p=41.6) }}",
    "{{ _('Hello %(name)s,', name='<b>Ann & Bo</b>') }}",
    "{{ ngettext('%(num)d notification marked as read.', '%(num)d notifications marked as read.', 1) }}",
    "{{ ngettext('%(num)d notification marked as read.', '%(num)d notifications marked as read.', 3) }}",
    "{{ pgettext('menu', 'Home') }} {{ npgettext('menu', '%(num)d item', '%(num)d items', 2) }}",
    "{% trans name='<i>x</i>' %}Hello {{ name }},{% endtrans %}",
    "{% trans count=4 %}{{ count }} notification marked as read.{% pluralize %}{{ count }} notifications marked as"
    " read.{% endtrans %}",
    "{% trans %}100%% safe{% endtrans %} {{ _('50%% done') }}",
    "{% trans name='<i>x</i>' %}<strong>{{ name }}</strong> & co{% endtrans %}",  # a message's own markup stays
)


@pytest.mark.parametrize("language", ("en", *LANGUAGES))
def test_the_templates_gettext_reads_as_jinjas_newstyle_gettext(app, language):
    """The app's one-call gettext (web/language.py) gives what Jinja's own newstyle gettext
    gives with the same catalogue: translated, escaped, and always formatted ("%%" is "%")."""
    from jinja2 import Environment

    with app.test_request_context("/", headers={"Accept-Language": language}):
        translations = Domain(translation_directories=[str(TRANSLATIONS)]).get_translations()
        assert str(get_locale()) == language
        reference = Environment(autoescape=True, extensions=["jinja2.ext.i18n"])
        reference.install_gettext_translations(translations, newstyle=True)
        for source in GETTEXT_TEMPLATES:
            expected = reference.from_string(source).render()
            assert app.jinja_env.from_string(source).render() == expected, source
        if language == "th":
            assert app.jinja_env.from_string(GETTEXT_TEMPLATES[0]).render() != "Skip to main content"
