"""WSGI entry point for any server: ``gunicorn wsgi:app`` (settings from SEARCHSVC_* variables)."""
from searchsvc.web import create_app

app = create_app()
