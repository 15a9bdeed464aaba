"""``Idempotency-Key`` on every API POST: a retry gets the first answer instead of a second row.

``ApiBlueprint`` runs ``before`` after authentication and ``after`` on the answer, so every POST
of every API module honours the header without a line in the endpoint:

* the same key, from the same user, with the same request (a SHA-256 of method, path, query and
  body) within the retention (``KANSA_IDEMPOTENCY_HOURS``, 24 by default) gets the stored first
  answer again (status, body, ``Location``, ``ETag``) with ``Idempotent-Replayed: true``;
* the same key with another request is a 422; while the first is still being served, a 409;
* a malformed key (empty, over 255 characters, not printable ASCII) is a 400.

Only successful answers (2xx) are kept: after a refusal or an error the key is released, so the
client can correct the request and send it again with the same key. Keys live in the database
(``services.idempotency``), so every worker and machine serving the API shares them.
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

from flask import Response, current_app, g, request
from sqlmodel import Session

from ..extensions import db
from ..services import idempotency as svc

HEADER = svc.HEADER
REPLAYED = "Idempotent-Replayed"
#: the headers of the first answer that a replay repeats
KEPT_HEADERS = ("Content-Type", "Location", "ETag")
METHODS = frozenset({"POST"})


def _retention() -> timedelta:
    return timedelta(hours=current_app.config.get("IDEMPOTENCY_HOURS", 24))


def fingerprint() -> str:
    """SHA-256 of what makes two requests the same: method, path, query string and body.

    A JSON body counts by its content (key order and spacing aside); a multipart body by its
    fields and each file's name, type and SHA-256 (its boundary changes from one send to the
    next); any other body byte for byte.
    """
    digest = hashlib.sha256()
    for part in (request.method, request.path, request.query_string.decode("latin-1")):
        digest.update(part.encode("utf-8", "surrogatepass") + b"\0")
    if request.mimetype == "multipart/form-data":
        fields = sorted((name, value) for name, value in request.form.items(multi=True))
        digest.update(json.dumps(fields, ensure_ascii=True).encode() + b"\0")
        for name, upload in sorted(request.files.items(multi=True), key=lambda item: item[0]):
            content = hashlib.sha256()
            for chunk in iter(lambda u=upload: u.stream.read(65536), b""):  # type: ignore[misc]
                content.update(chunk)
            upload.stream.seek(0)  # the endpoint reads it next
            meta = [name, upload.filename or "", upload.mimetype or "", content.hexdigest()]
            digest.update(json.dumps(meta, ensure_ascii=True).encode() + b"\0")
        return digest.hexdigest()
    raw = request.get_data(cache=True)
    if request.is_json:
        try:
            raw = json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":")).encode()
        except ValueError:
            pass  # the endpoint refuses it; the raw bytes still identify it
    digest.update(raw)
    return digest.hexdigest()


def _replay(answer: svc.StoredAnswer) -> Response:
    response = Response(answer.body, status=answer.status)
    for name, value in answer.headers.items():
        response.headers[name] = value
    response.headers[REPLAYED] = "true"
    return response


def before() -> Response | None:
    """``before_request`` of the API blueprints (after ``authenticate``)."""
    if request.method not in METHODS or HEADER not in request.headers:
        return None
    key = request.headers[HEADER]
    user_id = g.api_user.id
    svc.check_key(key)
    with Session(db.engine, expire_on_commit=False) as session:
        answer = svc.claim(session, user_id, key, fingerprint(), retention=_retention())
    if answer is not None:
        g.idempotency_replayed = True
        return _replay(answer)
    g.idempotency_claim = (user_id, key)
    return None


def after(response: Response) -> Response:
    """``after_request``: keep a successful first answer, release the key after any other."""
    claimed = g.pop("idempotency_claim", None)
    if claimed is None:
        return response
    user_id, key = claimed
    with Session(db.engine, expire_on_commit=False) as session:
        if 200 <= response.status_code < 300 and not response.is_streamed:
            headers = {
                name: response.headers[name] for name in KEPT_HEADERS if name in response.headers
            }
            answer = svc.StoredAnswer(response.status_code, headers, response.get_data())
            svc.complete(session, user_id, key, answer)
        else:
            svc.release(session, user_id, key)
    return response


def teardown(exc: BaseException | None = None) -> None:
    """``teardown_request``: a request that died before ``after`` gives its key back."""
    claimed = g.pop("idempotency_claim", None)
    if claimed is not None:
        with Session(db.engine) as session:
            svc.release(session, *claimed)
