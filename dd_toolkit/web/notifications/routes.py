"""A signed-in account's notifications: the list, each linking to its page, and mark-as-read."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user

from dd_toolkit.records import notifications
from dd_toolkit.records.models import Notification
from dd_toolkit.web import db
from dd_toolkit.web.authz import Action, policy, require
from dd_toolkit.web.notifications import target, text_of, title_of

bp = Blueprint("notifications", __name__, url_prefix="/notifications")


@bp.route("/")
@policy(Action.NOTIFICATIONS)
def index():
    rows = notifications.of_user(db.session(), current_user.id)
    items = [
        {
            "row": row,
            "title": title_of(row.kind),
            "text": text_of(row.kind, row.params),
            "url": url_for(endpoint, **values),
        }
        for row in rows
        for endpoint, values in [target(row.entity, row.entity_id, row.params)]
    ]
    return render_template("notifications/index.html", items=items, unread=sum(1 for r in rows if r.read_at is None))


@bp.route("/<int:notification_id>/read", methods=["POST"])
@policy(Action.NOTIFICATIONS)
def mark_read(notification_id: int):
    row = require(Action.NOTIFICATIONS, db.session().get(Notification, notification_id))
    notifications.mark_read(db.session(), row)
    flash(_("Marked as read."), "success")
    return redirect(url_for("notifications.index"))


@bp.route("/read", methods=["POST"])
@policy(Action.NOTIFICATIONS)
def mark_all_read():
    count = notifications.mark_all_read(db.session(), current_user.id)
    flash(ngettext("%(num)d notification marked as read.", "%(num)d notifications marked as read.", count), "success")
    return redirect(url_for("notifications.index"))
