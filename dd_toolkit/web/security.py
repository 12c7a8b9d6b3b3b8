"""The security headers of every response, set in one place, and the reverse-proxy set-up.

- HTML pages get the Content-Security-Policy of ``CONTENT_SECURITY_POLICY``: scripts and styles
  from /static only (no inline script or style, no ``onclick=``), no framing, forms post to this
  site only. Other responses (downloads, SVG charts, JSON) get a policy that allows nothing but
  what a file needs, so a file opened in the browser cannot run anything or be framed either.
- Every response: ``X-Content-Type-Options: nosniff``, ``Referrer-Policy``, ``X-Frame-Options:
  DENY`` (for browsers without ``frame-ancestors``) and ``Cross-Origin-Opener-Policy``.
- Everything but /static gets ``Cache-Control: no-store``: the pages behind sign-in, every export
  and the API hold confidential answers, and the sign-in pages hold a CSRF token; no browser or
  proxy cache keeps a copy.
- ``Strict-Transport-Security`` when the cookies are Secure (the site is on HTTPS).
- ``PROXY_FIX_COUNT`` > 0 wraps the app in werkzeug's ProxyFix, trusting that many proxies'
  X-Forwarded-For and X-Forwarded-Proto (and, with ``PROXY_FIX_HOST``, -Host, -Port, -Prefix).
"""

from __future__ import annotations

from flask import Flask, Response, request
from werkzeug.middleware.proxy_fix import ProxyFix

# Not HTML: nothing may load or run, and no page may frame it. A PDF gets only the framing rule,
# since Chromium's PDF viewer is itself blocked by ``default-src 'none'``.
FILE_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
PDF_POLICY = "frame-ancestors 'none'"


def init_security(app: Flask) -> None:
    count = int(app.config.get("PROXY_FIX_COUNT") or 0)
    if count > 0:
        host = count if app.config.get("PROXY_FIX_HOST") else 0
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=host, x_port=host, x_prefix=host)

    static_prefix = (app.static_url_path or "/static").rstrip("/") + "/"
    page_policy = app.config["CONTENT_SECURITY_POLICY"]
    referrer_policy = app.config["REFERRER_POLICY"]
    hsts = None
    if app.config.get("SESSION_COOKIE_SECURE") and int(app.config.get("HSTS_SECONDS") or 0) > 0:
        hsts = f"max-age={int(app.config['HSTS_SECONDS'])}"
        if app.config.get("HSTS_INCLUDE_SUBDOMAINS"):
            hsts += "; includeSubDomains"

    @app.after_request
    def _security_headers(response: Response) -> Response:
        headers = response.headers
        if "Content-Security-Policy" not in headers:
            if response.mimetype == "text/html":
                headers["Content-Security-Policy"] = page_policy
            elif response.mimetype == "application/pdf":
                headers["Content-Security-Policy"] = PDF_POLICY
            else:
                headers["Content-Security-Policy"] = FILE_POLICY
        headers["X-Content-Type-Options"] = "nosniff"
        headers["X-Frame-Options"] = "DENY"
        headers.setdefault("Referrer-Policy", referrer_policy)
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if hsts:
            headers.setdefault("Strict-Transport-Security", hsts)
        if not request.path.startswith(static_prefix):
            headers["Cache-Control"] = "no-store"
        return response
