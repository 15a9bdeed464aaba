"""Every limit a person can run into, named once.

The columns (``models``) are sized from these, the services refuse input beyond them with a
message that quotes them, and forms and API schemas document them. Change a number here and a
migration if it sizes a column.
"""

from __future__ import annotations

# ------------------------------------------------------------------------------ texts people type

#: An answer's comment, and a reviewer's comment on approval or return (characters).
COMMENT_MAX = 10_000
#: An assessment's title.
TITLE_MAX = 200
#: A subcontractor's legal name.
LEGAL_NAME_MAX = 200
#: A person's display name.
PERSON_NAME_MAX = 120
#: An e-mail address (RFC 5321's limit on a path).
EMAIL_MAX = 254
#: What an e-mail address must look like: something, @, a domain with a dot; no spaces, no
#: control characters. Written with an explicit class rather than ``\s`` so that Python (the
#: services) and JSON Schema (the API document) read it alike.
_EMAIL_PART = r"[^@ \t\n\r\f\v\x00-\x1f\x7f]+"
EMAIL_PATTERN = rf"{_EMAIL_PART}@{_EMAIL_PART}\.{_EMAIL_PART}"
#: A finding's remediation plan.
PLAN_MAX = 20_000
#: Who owns a finding's remediation.
OWNER_MAX = 200
#: The name of an API token.
TOKEN_NAME_MAX = 120
#: A webhook's receiver URL.
WEBHOOK_URL_MAX = 2000
#: A webhook's signing secret, shortest and longest.
WEBHOOK_SECRET_MIN = 16
WEBHOOK_SECRET_MAX = 200
#: A webhook's description.
DESCRIPTION_MAX = 200
#: An evidence file's stored name.
FILE_NAME_MAX = 255

# ------------------------------------------------------------------------------ passwords

#: The shortest password accepted for an account.
PASSWORD_MIN = 12
#: The longest password read from a form (longer ones are not a person typing).
PASSWORD_MAX = 1024

# ------------------------------------------------------------------------------ numbers and counts

#: Months between audits a subcontractor may be given (its cadence).
CADENCE_MONTHS_MIN = 1
CADENCE_MONTHS_MAX = 60
#: Days until an API token expires, at most (about ten years).
TOKEN_EXPIRY_DAYS_MAX = 3650
#: Answers saved by one API request.
ANSWERS_PER_REQUEST_MAX = 1000
#: Audit events one request for ``GET /api/v1/events`` returns: by default, and at most.
EVENTS_PER_REQUEST_DEFAULT = 100
EVENTS_PER_REQUEST_MAX = 1000
#: Levels of a re-entrustment chain followed up or down (a loop guard, far above any real chain).
CHAIN_DEPTH_MAX = 50

# ------------------------------------------------------------------------------ sign-in throttling

#: The sliding window over which failed sign-ins are counted, in minutes.
SIGN_IN_WINDOW_MINUTES = 15
#: Failed sign-ins for one account within the window before it is refused.
SIGN_IN_FAILURES_PER_ACCOUNT = 5
#: Failed sign-ins from one network address within the window before it is refused.
SIGN_IN_FAILURES_PER_ADDRESS = 20

# ------------------------------------------------------------------------------ API requests

#: The longest Idempotency-Key accepted (printable ASCII, at least one character).
IDEMPOTENCY_KEY_MAX = 255
#: Seconds after which a request still holding its Idempotency-Key is taken to have died (its
#: worker crashed before answering), so a retry with the same key may run instead of a 409.
IDEMPOTENCY_IN_FLIGHT_SECONDS = 300
