"""The web door: the search page and the JSON API, thin over ``search``.

``create_app(settings)`` follows Flask's application-factory pattern; the
live index handle lives in ``app.extensions["searchsvc"]``. Errors from the
core carry their HTTP status; under ``/api/`` every error is JSON
(``{"error": {"code", "message"}}``) and no response ever carries a traceback.
"""
from __future__ import annotations

import logging
from datetime import datetime
from urllib.parse import urlsplit

from flask import Blueprint, Flask, current_app, jsonify, render_template, request, url_for
from markupsafe import Markup
from werkzeug.exceptions import HTTPException

from searchsvc import __version__
from searchsvc.config import Settings
from searchsvc.errors import BadRequest, IndexUnavailable, SearchsvcError
from searchsvc.search import SearchIndex, get_article, highlight_html, request_from_params, search

log = logging.getLogger(__name__)

pages = Blueprint("pages", __name__)
api = Blueprint("api", __name__, url_prefix="/api")

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "X-Frame-Options": "DENY",
}


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env()
    app = Flask(__name__)
    app.config["SETTINGS"] = settings
    app.json.sort_keys = False
    app.extensions["searchsvc"] = SearchIndex(settings)
    app.register_blueprint(pages)
    app.register_blueprint(api)
    app.register_error_handler(Exception, handle_error)
    app.after_request(add_security_headers)
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
    app.jinja_env.filters["human_date"] = human_date
    app.jinja_env.filters["safe_link"] = safe_link
    app.jinja_env.globals["version"] = __version__
    return app


def index() -> SearchIndex:
    return current_app.extensions["searchsvc"]


def settings() -> Settings:
    return current_app.config["SETTINGS"]


# --- pages -------------------------------------------------------------

@pages.get("/")
def home():
    return render_template("search.html", result=None, req=None, error=None)


@pages.get("/search")
def search_page():
    try:
        req = request_from_params(request.args.to_dict(flat=False), settings())
    except BadRequest as exc:
        return render_template("search.html", result=None, req=None, error=str(exc)), 400
    result = search(index(), req)
    return render_template("search.html", result=result, req=req, error=None, page_url=page_url)


@pages.get("/article/<path:doc_id>")
def article_page(doc_id):
    article = get_article(index(), doc_id)
    q = request.args.get("q", "")
    body = highlight_html(article.body, q) if q else None
    return render_template("article.html", article=article, q=q, body_html=Markup(body) if body else None)


def page_url(**changes) -> str:
    """This results page's URL with ``changes`` applied (None removes a parameter)."""
    args = request.args.to_dict(flat=False)
    for key, value in changes.items():
        if value is None:
            args.pop(key, None)
        else:
            args[key] = value if isinstance(value, list) else [value]
    if "page" not in changes:
        args.pop("page", None)
    return url_for("pages.search_page", **args)


# --- JSON API -------------------------------------------------------------

@api.get("/search")
def api_search():
    req = request_from_params(request.args.to_dict(flat=False), settings())
    return jsonify(search(index(), req).to_dict())


@api.get("/health")
def api_health():
    try:
        documents = index().searcher().doc_count()
    except IndexUnavailable as exc:
        return jsonify({"status": "unavailable", "documents": 0, "message": str(exc)}), 503
    return jsonify({"status": "ok", "documents": documents})


# --- errors and headers --------------------------------------------------------

def handle_error(exc):
    if isinstance(exc, HTTPException):
        status, code, message = exc.code or 500, _http_code(exc), exc.description or exc.name
    elif isinstance(exc, SearchsvcError):
        status, code, message = exc.status, exc.code, str(exc)
    else:
        log.exception("unhandled error on %s", request.path)
        status, code, message = 500, "internal_error", "the server could not answer this request"
    if request.path.startswith("/api/") or request.path == "/api":
        response = jsonify({"error": {"code": code, "message": message}})
        response.status_code = status
        if isinstance(exc, HTTPException) and exc.code == 405:
            response.headers["Allow"] = ", ".join(exc.valid_methods or [])
        return response
    return render_template("error.html", status=status, message=message), status


def _http_code(exc: HTTPException) -> str:
    return (exc.name or "error").lower().replace(" ", "_")


def add_security_headers(response):
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


# --- template helpers ---------------------------------------------------------------

def human_date(iso: str | None) -> str:
    if not iso:
        return ""
    try:
        dt = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return iso
    return f"{dt:%B} {dt.day}, {dt.year}"


def safe_link(url: str | None) -> str | None:
    """Only http(s) addresses become links; anything else (javascript:, data:) is dropped."""
    if not url:
        return None
    try:
        scheme = urlsplit(url.strip()).scheme.lower()
    except ValueError:
        return None
    return url.strip() if scheme in ("http", "https") else None
