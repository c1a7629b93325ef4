"""The core's exceptions; each door maps them to its own form (HTTP status, exit code)."""


class SearchsvcError(Exception):
    """Base class: a message that is safe to show to the person who asked."""

    status = 500
    code = "internal_error"


class BadRequest(SearchsvcError):
    """The request's parameters or query cannot be used as given."""

    status = 400
    code = "bad_request"

    def __init__(self, message, code="bad_request"):
        super().__init__(message)
        self.code = code


class NotFound(SearchsvcError):
    status = 404
    code = "not_found"


class IndexUnavailable(SearchsvcError):
    """There is no index yet, or it cannot be opened (damaged, unreadable)."""

    status = 503
    code = "index_unavailable"


class IndexBusy(SearchsvcError):
    """Another reindex holds the index's writer lock."""

    status = 409
    code = "index_busy"


class SourceError(SearchsvcError):
    """A source named on the command line cannot be used at all."""

    status = 400
    code = "bad_source"
