"""searchsvc: full-text search for news articles.

The core (``clean``, ``sources``, ``schema``, ``indexer``, ``search``) has no
web framework in it; ``web`` (Flask pages and the JSON API) and ``cli`` are
thin doors over the same functions, configured by one ``config.Settings``.
"""

__version__ = "0.1.0"
