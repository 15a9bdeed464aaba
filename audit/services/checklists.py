"""Publishing checklist versions: validate, refuse changes to published content, store."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from sqlmodel import Session, col, select

from .. import policies, rules
from ..checklists import (
    ChecklistDefinition,
    ChecklistError,
    display_path,
    find_files,
    first_difference,
    parse_bytes,
    parse_file,
    version_key,
)
from ..limits import COMMENT_MAX
from ..models import (
    Checklist,
    ChecklistItem,
    ChecklistSection,
    ChecklistVersion,
    User,
    id_of,
)
from . import Forbidden, NotFound, Problem, Problems, ServiceError, events


@dataclass(frozen=True)
class Published:
    """What loading one definition did: ``created`` is False when it was already published."""

    version: ChecklistVersion
    created: bool
    source: str


def sort_key(version: str) -> str:
    return ".".join(f"{part:06d}" for part in version_key(version))


def find_version(session: Session, slug: str, version: str) -> ChecklistVersion | None:
    return session.exec(
        select(ChecklistVersion)
        .join(Checklist, col(Checklist.id) == ChecklistVersion.checklist_id)
        .where(Checklist.slug == slug, ChecklistVersion.version == version)
    ).first()


@lru_cache(maxsize=64)
def _definition_from_content(content_hash: str, content_json: str) -> ChecklistDefinition:
    import json

    return ChecklistDefinition.from_dict(json.loads(content_json), f"stored {content_hash[:12]}")


def definition_for(version: ChecklistVersion) -> ChecklistDefinition:
    """The definition a stored version holds (cached by its content hash)."""
    import json

    return _definition_from_content(
        version.content_hash, json.dumps(version.content, sort_keys=True)
    )


@dataclass(frozen=True)
class AnswerInput:
    """One answer as sent by a form or the API; ``status`` None clears the answer."""

    ref: str
    status: str | None
    comment: str = ""


def check_answers(checklist: ChecklistDefinition, inputs: Iterable[AnswerInput]) -> None:
    """Refuse (422) a batch of answers to a version, naming every item that is wrong and why."""
    problems = Problems()
    seen: set[str] = set()
    index = checklist.item_index()
    for entry in inputs:
        if entry.ref in seen:
            problems.add(entry.ref, f"item {entry.ref} is answered twice in one request")
            continue
        seen.add(entry.ref)
        item = index.get(entry.ref)
        if item is None:
            problems.add(entry.ref, f"item {entry.ref} is not in this checklist version")
            continue
        if entry.status is not None and entry.status not in item.answers:
            problems.add(
                entry.ref,
                f"item {entry.ref}: {entry.status!r} is not an allowed answer "
                f"(allowed: {', '.join(item.answers)})",
            )
        if len(entry.comment) > COMMENT_MAX:
            problems.add(entry.ref, f"item {entry.ref}: comment is over {COMMENT_MAX:,} characters")
    problems.check()


def preview(checklist: ChecklistDefinition, answers: Mapping[str, str]) -> rules.ScoreResult:
    """The score a set of answers (ref -> answer) would get; refuses every wrong one at once."""
    check_answers(checklist, [AnswerInput(ref, status) for ref, status in answers.items()])
    return rules.score(checklist, answers)


def check_publishable(
    session: Session, definition: ChecklistDefinition, source: str
) -> ChecklistVersion | None:
    """The already-published identical version, None if new; refuses changed content."""
    existing = find_version(session, definition.slug, definition.version)
    if existing is None:
        return None
    if existing.content_hash == definition.content_hash:
        return existing
    where = first_difference(definition_for(existing), definition)
    major, minor, patch = version_key(definition.version)
    raise ChecklistError(
        f"{source}: {definition.slug} {definition.version} is already published with different "
        f"content (first difference: {where}); published versions are immutable, so save the "
        f"change as a new version such as {major}.{minor}.{patch + 1} or {major}.{minor + 1}.0"
    )


def publish(
    session: Session,
    definition: ChecklistDefinition,
    source: str,
    actor: User | None = None,
) -> Published:
    """Publish one definition in the caller's transaction (idempotent for identical content)."""
    existing = check_publishable(session, definition, source)
    if existing is not None:
        return Published(existing, False, source)
    checklist = session.exec(select(Checklist).where(Checklist.slug == definition.slug)).first()
    if checklist is None:
        checklist = Checklist(
            slug=definition.slug, title_en=definition.title.en, title_ja=definition.title.ja
        )
        session.add(checklist)
        session.flush()
    else:
        latest = session.exec(
            select(ChecklistVersion.sort_key)
            .where(ChecklistVersion.checklist_id == checklist.id)
            .order_by(col(ChecklistVersion.sort_key).desc())
        ).first()
        if latest is None or sort_key(definition.version) > latest:
            checklist.title_en, checklist.title_ja = definition.title.en, definition.title.ja
    version = ChecklistVersion(
        checklist_id=id_of(checklist),
        version=definition.version,
        sort_key=sort_key(definition.version),
        title_en=definition.title.en,
        title_ja=definition.title.ja,
        effective_date=definition.effective_date,
        item_count=definition.item_count,
        content=definition.as_dict(),
        content_hash=definition.content_hash,
        source=source[-300:],
        published_by_id=actor.id if actor else None,
    )
    session.add(version)
    session.flush()
    for s_pos, section in enumerate(definition.sections):
        row = ChecklistSection(
            version_id=id_of(version),
            ref=section.ref,
            position=s_pos,
            title_en=section.title.en,
            title_ja=section.title.ja,
        )
        session.add(row)
        session.flush()
        for i_pos, item in enumerate(section.items):
            session.add(
                ChecklistItem(
                    version_id=id_of(version),
                    section_id=id_of(row),
                    ref=item.ref,
                    position=i_pos,
                    question_en=item.question.en,
                    question_ja=item.question.ja,
                    guidance_en=item.guidance.en,
                    guidance_ja=item.guidance.ja,
                    weight=item.weight,
                    critical=item.critical,
                    subject=item.subject,
                    answers=list(item.answers),
                    references={fw: list(ids) for fw, ids in item.references.items()},
                )
            )
    session.flush()
    events.record(
        session,
        actor,
        "checklist_version.published",
        "checklist_version",
        version.id,
        after={
            "slug": definition.slug,
            "version": definition.version,
            "content_hash": definition.content_hash,
            "items": definition.item_count,
            "source": source,
        },
    )
    return Published(version, True, source)


def load_paths(
    session: Session,
    paths: Sequence[str | Path],
    actor: User | None = None,
    max_bytes: int = 1 << 20,
) -> list[Published]:
    """Validate every file first, then publish all of them in one transaction, or none.

    Raises ``ChecklistError`` listing every refused file (one line each); nothing is stored then.
    """
    files: list[Path] = []
    errors: list[str] = []
    for path in paths:
        try:
            files.extend(find_files(path))
        except ChecklistError as exc:
            errors.append(str(exc))
    definitions: list[tuple[ChecklistDefinition, str]] = []
    seen: dict[tuple[str, str], str] = {}
    for file in files:
        try:
            definition = parse_file(file, max_bytes)
        except ChecklistError as exc:
            errors.append(str(exc))
            continue
        source = display_path(file)
        key = (definition.slug, definition.version)
        if key in seen:
            errors.append(f"{source}: {key[0]} {key[1]} is also defined in {seen[key]}")
            continue
        seen[key] = source
        definitions.append((definition, source))
    if not files and not errors:
        errors.append(f"{', '.join(map(str, paths))}: no checklist files (*.yaml) found")
    for definition, source in definitions:
        try:
            check_publishable(session, definition, source)
        except ChecklistError as exc:
            errors.append(str(exc))
    if errors:
        raise ChecklistError("\n".join(errors))
    try:
        results = [publish(session, d, s, actor) for d, s in definitions]
        session.commit()
    except Exception:
        session.rollback()
        raise
    return results


def publish_upload(
    session: Session, raw: bytes, name: str, actor: User | None, max_bytes: int = 1 << 20
) -> Published:
    """Validate and publish an uploaded file exactly as the command line does, then commit.

    Uploads come from people (the API), so only admins may publish; the command line, run by
    an operator on the server, calls ``load_paths`` instead. A refused file is a 422 naming
    the field ``file`` with every line of the refusal.
    """
    if actor is None or not policies.may_publish_checklists(actor):
        raise Forbidden("only admins publish checklist versions")
    try:
        definition = parse_bytes(raw, name, max_bytes)
        result = publish(session, definition, name, actor)
        session.commit()
    except ChecklistError as exc:
        session.rollback()
        lines = str(exc).splitlines() or [str(exc)]
        raise ServiceError(
            f"checklist refused: {lines[0]}", problems=[Problem("file", line) for line in lines]
        ) from None
    except Exception:
        session.rollback()
        raise
    return result


def get_version(session: Session, slug: str, version: str) -> ChecklistVersion:
    """A published version by slug and number; ``NotFound`` when there is none."""
    found = find_version(session, slug, version)
    if found is None:
        raise NotFound(f"no published version {version} of checklist {slug!r}")
    return found


def version_choices(session: Session) -> list[ChecklistVersion]:
    """Every published version, by checklist, newest version first: the choices of a form."""
    return [
        version
        for _, version in session.exec(
            select(Checklist, ChecklistVersion)
            .join(ChecklistVersion, col(ChecklistVersion.checklist_id) == Checklist.id)
            .order_by(Checklist.slug, col(ChecklistVersion.sort_key).desc())
        ).all()
    ]


def versions(
    session: Session, published_since: datetime | None = None
) -> list[tuple[Checklist, ChecklistVersion]]:
    """Every published version with its checklist, by slug then semantic version.

    ``published_since`` keeps the versions published at or after it (versions never change).
    """
    statement = (
        select(Checklist, ChecklistVersion)
        .join(ChecklistVersion, col(ChecklistVersion.checklist_id) == Checklist.id)
        .order_by(Checklist.slug, ChecklistVersion.sort_key)
    )
    if published_since is not None:
        statement = statement.where(col(ChecklistVersion.published_at) >= published_since)
    return list(session.exec(statement).all())
