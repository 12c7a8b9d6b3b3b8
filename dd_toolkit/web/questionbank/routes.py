"""Browse the question bank, filtered by framework reference and form of harm."""

from flask import Blueprint, render_template, request

from dd_toolkit.engine.content.coverage import applicability_lines, coverage, filter_questions
from dd_toolkit.web.authz import Action, policy
from dd_toolkit.web.context import current_bank

bp = Blueprint("questionbank", __name__, url_prefix="/question-bank")


@bp.route("/")
@policy(Action.CONTENT_BROWSE)
def browse():
    questions_bank = current_bank()
    taxonomy = questions_bank.taxonomy
    ref = request.args.get("ref") or None
    harm = request.args.get("harm") or None
    if ref not in (None, *taxonomy.ids("frameworks")):
        ref = None
    if harm not in (None, *taxonomy.ids("harms")):
        harm = None
    questions = filter_questions(questions_bank, ref=ref, harm=harm)
    counts = {r: len(ids) for r, ids in coverage(questions_bank).items()}
    return render_template(
        "questionbank/browse.html",
        questions=questions,
        ref=ref,
        harm=harm,
        taxonomy=taxonomy,
        counts=counts,
        asked_when={q.id: "\n".join(applicability_lines(questions_bank, q)) for q in questions},
    )
