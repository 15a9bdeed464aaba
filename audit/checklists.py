"""Checklist definitions: the YAML schema, parsing, canonical hashing and version comparison.

A checklist file is data that auditors and regulators rely on, so parsing is strict: YAML is read
with a safe loader that also refuses duplicate keys, every field is validated by a marshmallow
schema, and every refusal names the file, the field path and the problem, e.g.
``checklists/x/1.0.0.yaml: sections[2].items[4].weight: must be 1..5``.

This module has no Flask and no database: ``parse_file`` works on a bare checkout, and
``ChecklistDefinition.from_dict`` rebuilds the same definition from a stored version's content.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from marshmallow import (
    RAISE,
    Schema,
    ValidationError,
    fields,
    post_load,
    validate,
    validates_schema,
)

from .vocabulary import SCORED_ANSWERS, AnswerStatus, CapKind, Rating, Subject, values

FRAMEWORKS = (
    "appi",
    "ppc_gl",
    "tba",
    "iso27001_2022",
    "nist_csf_2",
    "nist_800_53r5",
    "meti_csm_v3",
    "mic_2024",
    "case_basis",
)
FRAMEWORK_LABELS = {
    "appi": "APPI",
    "ppc_gl": "PPC Guidelines",
    "tba": "Telecommunications Business Act",
    "iso27001_2022": "ISO/IEC 27001",
    "nist_csf_2": "NIST CSF",
    "nist_800_53r5": "NIST SP 800-53r5",
    "meti_csm_v3": "METI CSM Guidelines v3",
    "mic_2024": "MIC 2024 guidance",
    "case_basis": "Case basis",
}
DEFAULT_POINTS: dict[str, float] = {
    AnswerStatus.COMPLIANT.value: 1.0,
    AnswerStatus.PARTIAL.value: 0.5,
    AnswerStatus.NON_COMPLIANT.value: 0.0,
}
DEFAULT_BANDS: dict[str, float] = {
    Rating.A.value: 85.0,
    Rating.B.value: 70.0,
    Rating.C.value: 55.0,
    Rating.D.value: 40.0,
}
DEFAULT_CAPS: tuple[dict[str, str], ...] = (
    {
        "rule": CapKind.CRITICAL_ANSWER.value,
        "answer": AnswerStatus.NON_COMPLIANT.value,
        "max_rating": Rating.D.value,
    },
    {
        "rule": CapKind.CRITICAL_ANSWER.value,
        "answer": AnswerStatus.PARTIAL.value,
        "max_rating": Rating.C.value,
    },
)
MAX_FILE_BYTES = 1024 * 1024
SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")
SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")


class ChecklistError(ValueError):
    """A checklist file or definition was refused; the message names the file, path and problem."""


# --------------------------------------------------------------------------- definition types


@dataclass(frozen=True)
class Text:
    """A bilingual text: English always, Japanese where the checklist has it."""

    en: str
    ja: str | None = None

    def get(self, lang: str = "en") -> str:
        """The text in ``lang``, falling back to English."""
        return (self.ja if lang == "ja" else None) or self.en

    def as_dict(self) -> dict[str, str]:
        return {"en": self.en, **({"ja": self.ja} if self.ja else {})}


@dataclass(frozen=True)
class ItemDefinition:
    """One question of a checklist version."""

    ref: str
    section_ref: str
    question: Text
    guidance: Text
    weight: int
    critical: bool
    subject: str
    answers: tuple[str, ...]
    references: Mapping[str, tuple[str, ...]]

    def reference_keys(self) -> list[str]:
        """Framework-qualified ids such as ``appi:Art. 25``, in file order."""
        return [f"{fw}:{ref}" for fw, ids in self.references.items() for ref in ids]

    def as_dict(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "question": self.question.as_dict(),
            "guidance": self.guidance.as_dict(),
            "weight": self.weight,
            "critical": self.critical,
            "subject": self.subject,
            "answers": list(self.answers),
            "references": {fw: list(ids) for fw, ids in self.references.items()},
        }


@dataclass(frozen=True)
class SectionDefinition:
    ref: str
    title: Text
    items: tuple[ItemDefinition, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "title": self.title.as_dict(),
            "items": [item.as_dict() for item in self.items],
        }


@dataclass(frozen=True)
class CapRule:
    """A rule that limits the best rating an assessment can get (caps only lower a rating)."""

    rule: str
    max_rating: str
    answer: str | None = None
    threshold: float | None = None
    items: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"rule": self.rule, "max_rating": self.max_rating}
        if self.answer is not None:
            data["answer"] = self.answer
        if self.threshold is not None:
            data["threshold"] = self.threshold
        if self.items:
            data["items"] = list(self.items)
        return data


@dataclass(frozen=True)
class ScoringRules:
    """The scoring block of a version: points per answer, rating bands and caps."""

    points: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_POINTS))
    bands: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_BANDS))
    caps: tuple[CapRule, ...] = tuple(
        CapRule(rule=cap["rule"], max_rating=cap["max_rating"], answer=cap["answer"])
        for cap in DEFAULT_CAPS
    )

    def as_dict(self) -> dict[str, Any]:
        return {
            "points": dict(self.points),
            "bands": dict(self.bands),
            "caps": [cap.as_dict() for cap in self.caps],
        }


@dataclass(frozen=True)
class ChecklistDefinition:
    """A validated checklist version: what a file says, or what a stored version holds."""

    slug: str
    version: str
    title: Text
    sections: tuple[SectionDefinition, ...]
    scoring: ScoringRules = field(default_factory=ScoringRules)
    description: Text | None = None
    effective_date: str | None = None
    answers: tuple[str, ...] = values(AnswerStatus)

    def items(self) -> Iterator[ItemDefinition]:
        """Every item, section by section, in file order."""
        for section in self.sections:
            yield from section.items

    def item(self, ref: str) -> ItemDefinition:
        """The item with this ref; ``KeyError`` when there is none."""
        return self.item_index()[ref]

    def item_index(self) -> dict[str, ItemDefinition]:
        index = self.__dict__.get("_item_index")
        if index is None:
            index = {item.ref: item for item in self.items()}
            object.__setattr__(self, "_item_index", index)
        return index

    @property
    def item_count(self) -> int:
        return len(self.item_index())

    def as_dict(self) -> dict[str, Any]:
        """The canonical content, every default explicit: equal meaning gives equal bytes."""
        return {
            "slug": self.slug,
            "version": self.version,
            "effective_date": self.effective_date,
            "title": self.title.as_dict(),
            "description": self.description.as_dict() if self.description else None,
            "answers": list(self.answers),
            "scoring": self.scoring.as_dict(),
            "sections": [section.as_dict() for section in self.sections],
        }

    def canonical_json(self) -> bytes:
        return json.dumps(
            self.as_dict(), sort_keys=True, ensure_ascii=False, separators=(",", ":")
        ).encode("utf-8")

    @property
    def content_hash(self) -> str:
        """SHA-256 of the canonical content, the identity of a published version."""
        return hashlib.sha256(self.canonical_json()).hexdigest()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "<stored>") -> ChecklistDefinition:
        """Validate a mapping (a parsed file or a stored version's content) into a definition."""
        try:
            definition: ChecklistDefinition = ChecklistSchema().load(dict(data))
        except ValidationError as exc:
            raise ChecklistError(f"{source}: {first_error(exc.messages)}") from None
        return definition


# --------------------------------------------------------------------------- marshmallow schema


class TextField(fields.Field):
    """``{en: ..., ja: ...}``; a bare string is taken as English."""

    default_error_messages = {
        "invalid": "must be a mapping with 'en' (required) and 'ja' (optional) texts",
        "required_en": "'en' text is required",
        "unknown": "unknown language {lang!r}; use 'en' and 'ja'",
        "type": "{lang} text must be a string",
    }

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Text:
        if isinstance(value, str):
            value = {"en": value}
        if not isinstance(value, Mapping):
            raise self.make_error("invalid")
        for lang in value:
            if lang not in ("en", "ja"):
                raise self.make_error("unknown", lang=lang)
            if not isinstance(value[lang], str):
                raise self.make_error("type", lang=lang)
        en = (value.get("en") or "").strip()
        if not en:
            raise self.make_error("required_en")
        ja = (value.get("ja") or "").strip() or None
        return Text(en=en, ja=ja)


def _answers_field(**kwargs: Any) -> fields.List:
    return fields.List(
        fields.String(
            validate=validate.OneOf(
                values(AnswerStatus), error="unknown answer {input!r}; allowed: {choices}"
            )
        ),
        validate=validate.Length(min=1, error="must list at least one answer"),
        **kwargs,
    )


class StrictSchema(Schema):
    class Meta:
        unknown = RAISE


class ReferencesField(fields.Field):
    default_error_messages = {
        "invalid": "must map a framework to a list of ids, e.g. appi: [Art. 25]",
        "framework": "unknown framework {name!r}; known: {known}",
        "ids": "{name}: must be a non-empty list of non-empty strings",
        "empty": "at least one reference is required",
    }

    def _deserialize(
        self, value: Any, attr: str | None, data: Any, **kwargs: Any
    ) -> dict[str, tuple[str, ...]]:
        if not isinstance(value, Mapping):
            raise self.make_error("invalid")
        result: dict[str, tuple[str, ...]] = {}
        for name, ids in value.items():
            if name not in FRAMEWORKS:
                raise self.make_error("framework", name=name, known=", ".join(FRAMEWORKS))
            if (
                not isinstance(ids, list)
                or not ids
                or not all(isinstance(i, str) and i.strip() for i in ids)
            ):
                raise self.make_error("ids", name=name)
            result[name] = tuple(i.strip() for i in ids)
        if not result:
            raise self.make_error("empty")
        return result


class ItemSchema(StrictSchema):
    ref = fields.String(
        required=True,
        validate=validate.Regexp(REF, error="must be 1-32 letters, digits, '.', '_' or '-'"),
    )
    question = TextField(required=True)
    guidance = TextField(required=True)
    weight = fields.Integer(
        required=True, strict=True, validate=validate.Range(1, 5, error="must be 1..5")
    )
    critical = fields.Boolean(load_default=False)
    subject = fields.String(
        load_default=Subject.SUBCONTRACTOR.value,
        validate=validate.OneOf(values(Subject), error="must be one of: {choices}"),
    )
    answers = _answers_field(load_default=None)
    references = ReferencesField(required=True)


class SectionSchema(StrictSchema):
    ref = fields.String(
        required=True,
        validate=validate.Regexp(REF, error="must be 1-32 letters, digits, '.', '_' or '-'"),
    )
    title = TextField(required=True)
    items = fields.List(
        fields.Nested(ItemSchema),
        required=True,
        validate=validate.Length(min=1, error="a section needs at least one item"),
    )


class CapSchema(StrictSchema):
    rule = fields.String(
        required=True, validate=validate.OneOf(values(CapKind), error="must be one of: {choices}")
    )
    max_rating = fields.String(
        required=True, validate=validate.OneOf(values(Rating), error="must be one of: {choices}")
    )
    answer = fields.String(
        validate=validate.OneOf(
            [str(a) for a in SCORED_ANSWERS[1:]], error="must be partial or non_compliant"
        )
    )
    threshold = fields.Float(validate=validate.Range(0, 100, error="must be 0..100"))
    items = fields.List(fields.String(), validate=validate.Length(min=1))

    @validates_schema
    def _rule_fields(self, data: dict[str, Any], **kwargs: Any) -> None:
        rule = str(data.get("rule"))
        needs: dict[str, tuple[str, ...]] = {
            CapKind.CRITICAL_ANSWER: ("answer",),
            CapKind.ITEM_ANSWER: ("answer", "items"),
            CapKind.SECTION_BELOW: ("threshold",),
        }
        need = needs.get(rule, ())
        for name in need:
            if name not in data:
                raise ValidationError(f"required for rule {rule}", name)
        for name in ("answer", "threshold", "items"):
            if name in data and name not in need:
                raise ValidationError(f"not used by rule {rule}", name)


class ScoringSchema(StrictSchema):
    points = fields.Dict(
        keys=fields.String(
            validate=validate.OneOf(
                [str(a) for a in SCORED_ANSWERS], error="points are for {choices}"
            )
        ),
        values=fields.Float(validate=validate.Range(0, 1, error="must be 0..1")),
    )
    bands = fields.Dict(
        keys=fields.String(
            validate=validate.OneOf(values(Rating)[:-1], error="bands are for {choices}")
        ),
        values=fields.Float(validate=validate.Range(0, 100, error="must be 0..100")),
    )
    caps = fields.List(fields.Nested(CapSchema))

    @validates_schema
    def _consistent(self, data: dict[str, Any], **kwargs: Any) -> None:
        points = {**DEFAULT_POINTS, **data.get("points", {})}
        if not points["compliant"] >= points["partial"] >= points["non_compliant"]:
            raise ValidationError(
                "must not rank partial above compliant or non_compliant above partial", "points"
            )
        bands = {**DEFAULT_BANDS, **data.get("bands", {})}
        limits = [bands[r] for r in values(Rating)[:-1]]
        if limits != sorted(limits, reverse=True):
            raise ValidationError("thresholds must not increase from A to D", "bands")


class ChecklistSchema(StrictSchema):
    slug = fields.String(
        required=True,
        validate=validate.Regexp(SLUG, error="must be lower-case words joined by '-'"),
    )
    version = fields.String(
        required=True,
        validate=validate.Regexp(SEMVER, error="must be a semantic version like 1.0.0"),
    )
    effective_date = fields.Date(load_default=None)
    title = TextField(required=True)
    description = TextField(load_default=None)
    answers = _answers_field(load_default=list(values(AnswerStatus)))
    scoring = fields.Nested(ScoringSchema, load_default=dict)
    sections = fields.List(
        fields.Nested(SectionSchema),
        required=True,
        validate=validate.Length(min=1, error="a checklist needs at least one section"),
    )

    @validates_schema
    def _cross_checks(self, data: dict[str, Any], **kwargs: Any) -> None:
        errors: dict[str, Any] = {}
        seen_sections: dict[str, int] = {}
        seen_items: dict[str, tuple[int, int]] = {}
        default_answers = data.get("answers") or list(values(AnswerStatus))
        for s, section in enumerate(data.get("sections", [])):
            if section["ref"] in seen_sections:
                errors.setdefault("sections", {})[s] = {
                    "ref": [f"duplicate section ref {section['ref']!r}"]
                }
            seen_sections.setdefault(section["ref"], s)
            for i, item in enumerate(section["items"]):
                where = errors.setdefault("sections", {}).setdefault(s, {})
                if item["ref"] in seen_items:
                    ps, pi = seen_items[item["ref"]]
                    where.setdefault("items", {})[i] = {
                        "ref": [
                            f"duplicate item ref {item['ref']!r} "
                            f"(first at sections[{ps}].items[{pi}])"
                        ]
                    }
                seen_items.setdefault(item["ref"], (s, i))
                answers = item.get("answers")
                if answers and not set(answers) <= set(default_answers):
                    where.setdefault("items", {}).setdefault(i, {})["answers"] = [
                        "must be a subset of the checklist's answers"
                    ]
                if not where:
                    del errors["sections"][s]
            if not errors.get("sections"):
                errors.pop("sections", None)
        for c, cap in enumerate(data.get("scoring", {}).get("caps", [])):
            for ref in cap.get("items", []):
                if ref not in seen_items:
                    # keep the first unknown ref (first cap, first item) for the message
                    caps_errors = errors.setdefault("scoring", {}).setdefault("caps", {})
                    caps_errors.setdefault(c, {"items": [f"unknown item ref {ref!r}"]})
        if errors:
            raise ValidationError(errors)

    @post_load
    def _build(self, data: dict[str, Any], **kwargs: Any) -> ChecklistDefinition:
        default_answers = tuple(a for a in values(AnswerStatus) if a in data["answers"])
        sections = tuple(
            SectionDefinition(
                ref=s["ref"],
                title=s["title"],
                items=tuple(
                    ItemDefinition(
                        ref=i["ref"],
                        section_ref=s["ref"],
                        question=i["question"],
                        guidance=i["guidance"],
                        weight=i["weight"],
                        critical=i["critical"],
                        subject=i["subject"],
                        answers=tuple(
                            a
                            for a in values(AnswerStatus)
                            if a in (i["answers"] or default_answers)
                        ),
                        references=i["references"],
                    )
                    for i in s["items"]
                ),
            )
            for s in data["sections"]
        )
        scoring = data["scoring"]
        caps = scoring.get("caps")
        rules = ScoringRules(
            points={**DEFAULT_POINTS, **scoring.get("points", {})},
            bands={**DEFAULT_BANDS, **scoring.get("bands", {})},
            caps=(
                tuple(CapRule(**{**c, "items": tuple(c.get("items", ()))}) for c in caps)
                if caps is not None
                else ScoringRules().caps
            ),
        )
        effective = data["effective_date"]
        return ChecklistDefinition(
            slug=data["slug"],
            version=data["version"],
            title=data["title"],
            description=data["description"],
            effective_date=effective.isoformat() if effective else None,
            answers=default_answers,
            scoring=rules,
            sections=sections,
        )


def first_error(messages: Any, path: str = "") -> str:
    """Flatten marshmallow's nested error dict into ``path: message`` for the first error."""
    if isinstance(messages, dict) and messages:
        positions = [k for k in messages if isinstance(k, int)]
        if positions:
            key = min(positions)
            return first_error(messages[key], f"{path}[{key}]")
        names = [k for k in messages if k != "_schema"]
        if not names:
            return first_error(messages["_schema"], path)
        key = names[0]
        return first_error(messages[key], f"{path}.{key}" if path else str(key))
    if isinstance(messages, list) and messages:
        if not isinstance(messages[0], str):
            return first_error(messages[0], path)
        text = {
            "Unknown field.": "unknown field",
            "Missing data for required field.": "required field is missing",
            "Field may not be null.": "must not be empty",
        }.get(messages[0], messages[0])
        return f"{path}: {text}" if path else text
    return f"{path}: {messages}" if path else str(messages)


# --------------------------------------------------------------------------- YAML reading


class _StrictLoader(yaml.SafeLoader):
    """Safe loader that refuses duplicate keys and keeps dates as text for the schema."""


class _FastStrictLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """The same on libyaml's parser, some ten times faster, where PyYAML was built with it.

    Its error messages are worded differently, so a file it refuses is read again by
    ``_StrictLoader`` for the message (refusals are rare; files that load take the fast path).
    """


def _mapping(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    loader.flatten_mapping(node)
    result: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in result:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        result[key] = loader.construct_object(value_node, deep=deep)
    return result


def _timestamp_as_text(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    assert isinstance(node, yaml.ScalarNode)
    return loader.construct_scalar(node)


for _loader in (_StrictLoader, _FastStrictLoader):
    _loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
    _loader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_as_text)


def _load_yaml(text: str) -> Any:
    """The document in ``text``; a refusal carries the pure-Python parser's wording."""
    try:
        return yaml.load(text, Loader=_FastStrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - raises the same error


def parse_bytes(raw: bytes, source: str, max_bytes: int = MAX_FILE_BYTES) -> ChecklistDefinition:
    """Validate the bytes of a checklist file; ``source`` names it in every error."""
    if len(raw) > max_bytes:
        raise ChecklistError(f"{source}: file is {len(raw)} bytes, over the {max_bytes} byte limit")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ChecklistError(
            f"{source}: not valid UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start})"
        ) from None
    try:
        data = _load_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ChecklistError(f"{source}: YAML error at {where}{problem}") from None
    if not isinstance(data, dict):
        raise ChecklistError(f"{source}: the document must be a mapping of checklist fields")
    return ChecklistDefinition.from_dict(data, source)


def parse_file(path: str | Path, max_bytes: int = MAX_FILE_BYTES) -> ChecklistDefinition:
    """Validate a file ``<slug>/<version>.yaml`` without a database and return its definition."""
    path = Path(path)
    source = display_path(path)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise ChecklistError(f"{source}: file is {size} bytes, over the {max_bytes} byte limit")
        raw = path.read_bytes()
    except OSError as exc:
        raise ChecklistError(f"{source}: cannot read file ({exc.strerror})") from None
    definition = parse_bytes(raw, source, max_bytes)
    if path.suffix != ".yaml":
        raise ChecklistError(f"{source}: checklist files end in .yaml")
    if path.stem != definition.version:
        raise ChecklistError(
            f"{source}: version: {definition.version!r} does not match the file name {path.name!r}"
        )
    if path.parent.name != definition.slug:
        raise ChecklistError(
            f"{source}: slug: {definition.slug!r} does not match the folder {path.parent.name!r}"
        )
    return definition


def display_path(path: Path) -> str:
    """The path as a person would name it: relative to the working folder when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def find_files(root: str | Path) -> list[Path]:
    """Checklist files under ``root`` (a file, a checklist folder or the checklists folder)."""
    root = Path(root)
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise ChecklistError(f"{display_path(root)}: no such file or folder")
    files = sorted(root.glob("*.yaml")) or sorted(root.glob("*/*.yaml"))
    return sorted(files, key=lambda p: (p.parent.name, version_key(p.stem)))


def version_key(version: str) -> tuple[int, ...]:
    """Sort key for semantic versions (non-versions sort first)."""
    match = SEMVER.match(version)
    return tuple(int(part) for part in match.groups()) if match else (-1,)


def first_difference(old: ChecklistDefinition, new: ChecklistDefinition) -> str:
    """Name the first place where two definitions of one version differ, for refusals."""
    old_d, new_d = old.as_dict(), new.as_dict()
    for key in ("title", "description", "effective_date", "answers", "scoring"):
        if old_d[key] != new_d[key]:
            return key
    old_items = {i.ref: i.as_dict() for i in old.items()}
    new_items = {i.ref: i.as_dict() for i in new.items()}
    for os_, ns_ in zip(old.sections, new.sections, strict=False):
        if os_.ref != ns_.ref or os_.title != ns_.title:
            return f"section {os_.ref}"
        for oi, ni in zip(os_.items, ns_.items, strict=False):
            if oi.ref != ni.ref:
                return f"item {oi.ref} (replaced by {ni.ref})"
            if old_items[oi.ref] != new_items[ni.ref]:
                before, after = old_items[oi.ref], new_items[ni.ref]
                changed = next(k for k in before if before[k] != after[k])
                return f"item {oi.ref} ({changed})"
        if len(os_.items) != len(ns_.items):
            longer = os_ if len(os_.items) > len(ns_.items) else ns_
            extra = longer.items[min(len(os_.items), len(ns_.items))]
            return f"item {extra.ref} ({'removed' if longer is os_ else 'added'})"
    if len(old.sections) != len(new.sections):
        bigger = old if len(old.sections) > len(new.sections) else new
        section = bigger.sections[min(len(old.sections), len(new.sections))]
        return f"section {section.ref} ({'removed' if bigger is old else 'added'})"
    return "canonical content"
