"""Use cases shared by the web pages, the API and the command line."""


class ServiceError(Exception):
    """A request the rules refuse; ``status`` is the HTTP status that fits, ``field`` the input."""

    status = 400

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(ServiceError):
    status = 404


class Forbidden(ServiceError):
    status = 403


class Conflict(ServiceError):
    status = 409
