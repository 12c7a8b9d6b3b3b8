"""The web layer: the Flask app factory, its extensions, and the blueprints it registers."""

from __future__ import annotations

import gc
import os
from pathlib import Path
from typing import Any

from flask import Flask, render_template, request
from flask.templating import Environment as FlaskEnvironment
from flask_babel import Babel
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect

from dd_toolkit.engine.registry import load_content
from dd_toolkit.paths import bundled_root
from dd_toolkit.records import accounts
from dd_toolkit.web import authz, db, fragments, inputs, language, layout, limits, pages, security
from dd_toolkit.web.config import Config, default_database_url, instance_secret_key, on_unless_testing
from dd_toolkit.web.context import current_bank
from dd_toolkit.web.filters import local_date, local_time, machine_time

csrf = CSRFProtect()
babel = Babel()
login_manager = LoginManager()


class TemplateEnvironment(FlaskEnvironment):
    """Flask's Jinja environment, with each template's globals held in one dict. Jinja chains a
    template's globals to the environment's (a ChainMap) and copies them into the context of
    every rendering key by key, in Python: 2-4% of a page's calls. This is right because the
    environment's globals are all set while the app is built, before any template is loaded."""

    def make_globals(self, d):
        return {**self.globals, **(d or {})}


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    app = Flask(
        __name__,
        instance_path=os.environ.get("DD_INSTANCE_PATH") or None,
        instance_relative_config=True,
        static_folder=str(bundled_root() / "static"),
        static_url_path="/static",
    )
    app.jinja_environment = TemplateEnvironment
    app.config.from_object(Config)
    if test_config:
        app.config.update(test_config)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = instance_secret_key(app.instance_path)
    if not app.config.get("DATABASE_URL"):
        app.config["DATABASE_URL"] = default_database_url(app.instance_path)

    # Content is validated once at start-up: a broken question bank stops the app with
    # the list of problems rather than failing on some page later.
    content = load_content(Path(app.config["CONTENT_DIR"]), app.config["METHODOLOGY"])
    app.extensions["dd_bank"] = content.bank
    app.extensions["dd_content"] = content

    db.init_app(app)
    inputs.init_app(app)  # bounded ids and no NUL, before any route is added
    csrf.init_app(app)
    babel.init_app(app, locale_selector=language.select_locale)
    limits.init_app(app)  # before the authoriser, so refused requests count too
    security.init_security(app)  # the security headers of every response, and ProxyFix
    _init_login(app)
    authz.init_app(app)
    _init_templates(app)
    fragments.init_app(app)
    pages.init_app(app)
    layout.init_app(app)

    from dd_toolkit.web.admin.routes import bp as admin_bp
    from dd_toolkit.web.api.routes import SessionlessApi
    from dd_toolkit.web.api.routes import bp as api_bp
    from dd_toolkit.web.api.routes import tokens_bp as api_tokens_bp
    from dd_toolkit.web.assess.routes import bp as assess_bp
    from dd_toolkit.web.auth.routes import bp as auth_bp
    from dd_toolkit.web.benchmarks.routes import bp as benchmarks_bp
    from dd_toolkit.web.main.routes import bp as main_bp
    from dd_toolkit.web.notifications import init_app as init_notifications
    from dd_toolkit.web.notifications.routes import bp as notifications_bp
    from dd_toolkit.web.orgs.routes import bp as orgs_bp
    from dd_toolkit.web.outputs.routes import bp as outputs_bp
    from dd_toolkit.web.questionbank.routes import bp as questionbank_bp
    from dd_toolkit.web.regulator.routes import bp as regulator_bp
    from dd_toolkit.web.results.routes import bp as results_bp
    from dd_toolkit.web.risk.routes import bp as risk_bp

    app.register_blueprint(main_bp)
    language.init_app(app)
    app.register_blueprint(admin_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(orgs_bp)
    app.register_blueprint(assess_bp)
    app.register_blueprint(questionbank_bp)
    app.register_blueprint(results_bp)
    app.register_blueprint(risk_bp)
    app.register_blueprint(benchmarks_bp)
    app.register_blueprint(outputs_bp)
    app.register_blueprint(regulator_bp)
    app.register_blueprint(notifications_bp)
    init_notifications(app)  # email when MAIL_SERVER is set
    limits.api(api_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(api_tokens_bp)
    app.session_interface = SessionlessApi()  # the API knows its bearer tokens, never a cookie
    if on_unless_testing(app, "FREEZE_STARTUP_OBJECTS"):
        gc.freeze()
    return app


def _init_login(app: Flask) -> None:
    from dd_toolkit.web.api.tokens import user_from_request

    login_manager.init_app(app)
    # Secure cookies on: the remember-me cookie is Secure too.
    app.config["REMEMBER_COOKIE_SECURE"] = bool(
        app.config.get("REMEMBER_COOKIE_SECURE") or app.config.get("SESSION_COOKIE_SECURE")
    )
    login_manager.login_view = "auth.login"
    login_manager.login_message = None
    login_manager.session_protection = "strong"

    @login_manager.user_loader
    def _load_user(session_id: str):
        if request.blueprint in authz.TOKEN_BLUEPRINTS:
            return None  # the API knows only its bearer tokens, never a browser session
        # "id:generation:nonce" (User.get_id): a session or remember-me cookie from before the
        # account's generation was bumped (sign-out, password change, deactivation) loads nothing.
        parts = accounts.parse_session_id(session_id)
        if parts is None:
            return None
        user = authz.load_user(db.session(), parts[0])
        if not accounts.session_is_current(user, parts[1]):
            return None
        user._dd_session_nonce = parts[2]
        return user

    @login_manager.request_loader
    def _load_user_from_token(req):
        return user_from_request(db.session(), req)


def _init_templates(app: Flask) -> None:
    from dd_toolkit.engine.content.values import display_value
    from dd_toolkit.engine.render import markdown_html
    from dd_toolkit.engine.scoring.engine import reason_in

    app.jinja_env.add_extension("jinja2.ext.do")
    app.jinja_env.filters["markdown"] = markdown_html
    app.jinja_env.filters["machine_time"] = machine_time  # <time datetime="...">
    app.jinja_env.filters["local_date"] = local_date  # dates and moments as the reader's language writes them
    app.jinja_env.filters["local_time"] = local_time
    app.jinja_env.globals["bank"] = current_bank
    # An answer and a score card's reasons as the reader reads them, worded with the loaded bank's vocabulary.
    app.jinja_env.globals["display_value"] = lambda question, value: display_value(
        question, value, current_bank().taxonomy.wording
    )
    app.jinja_env.globals["reason_in"] = lambda result: reason_in(current_bank(), result)
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True

    for code in (400, 403, 404, 405, 409, 413, 429, 500):
        app.register_error_handler(code, _error_page(code))


def _error_page(code: int):
    def handler(error):
        from dd_toolkit.web.api import routes as api

        if code == 500:
            db.discard_failed_work()
        if api.is_api_request():
            # An unknown path or an undeclared method under the API matches no route, hence no
            # blueprint handler: it is still answered in the API's JSON error shape.
            return api.error_response(error)
        headers = {}
        if code == 405 and getattr(error, "valid_methods", None):
            headers["Allow"] = ", ".join(error.valid_methods)  # RFC 9110: a 405 names what is allowed
        return render_template("error.html", code=code, error=error), code, headers

    return handler
