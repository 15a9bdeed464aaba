"""The whole audit in a browser: create, answer every section, evidence, submit, approve, frozen."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from .conftest import SUBCONTRACTOR, Live, sign_in, sign_out

pytestmark = pytest.mark.browser

CHECKLIST = "Subcontractor oversight 1.0.0"
# Answers other than "compliant" (the rest); partial and non-compliant ones carry a comment.
PLAN = {
    "SO-1.2": ("partial", "Tiering exists but does not yet drive the audit cadence."),
    "SO-1.4": ("not_applicable", ""),
    "SO-2.2": ("non_compliant", "No contract clause on re-entrustment approval."),
    "SO-3.6": ("not_applicable", "No offshore processing in scope."),
    "SO-5.3": ("partial", "Quarterly reports are received but not reviewed."),
}
EVIDENCE_REF = "SO-2.1"
EVIDENCE_NAME = "register-extract-2025.csv"


def create_assessment(page: Page) -> tuple[int, int]:
    """Fill in the new-assessment form; returns the new id and the checklist's item count."""
    page.get_by_role("link", name="New assessment").click()
    expect(page.get_by_role("heading", name="New assessment")).to_be_visible()
    page.get_by_label("Subcontractor").select_option(label=SUBCONTRACTOR)
    versions = page.get_by_label("Checklist version")
    label = next(
        text.strip()
        for text in versions.locator("option").all_inner_texts()
        if text.strip().startswith(CHECKLIST + " ")
    )
    versions.select_option(label=label)
    count = re.search(r"\((\d+) items\)$", label)
    assert count, label
    own = page.get_by_label("auditor", exact=True)
    if not own.is_checked():
        own.check()
    expect(page.get_by_label("auditor2", exact=True)).not_to_be_checked()
    page.get_by_label("Reviewer").select_option(label="reviewer")
    page.get_by_label("Due date").fill("2031-03-31")
    page.get_by_role("button", name="Create assessment").click()
    expect(page.locator(".flash")).to_contain_text("Assessment created")
    expect(page.locator(".page-head .state")).to_have_text("draft")
    match = re.search(r"/assessments/(\d+)$", page.url)
    assert match, page.url
    return int(match.group(1)), int(count.group(1))


def section_refs(page: Page) -> list[str]:
    return [text.split()[0] for text in page.locator("nav.sections li > a").all_inner_texts()]


def answer_section(page: Page, section: str) -> dict[str, tuple[str, str]]:
    """Answer every item on the open section page by PLAN; returns what was entered."""
    entered: dict[str, tuple[str, str]] = {}
    fieldsets = page.locator("#section-form fieldset.item")
    ids = [fieldsets.nth(i).get_attribute("id") for i in range(fieldsets.count())]
    assert ids, f"section {section} shows no items"
    for item_id in ids:
        ref = item_id.removeprefix("item-")
        status, comment = PLAN.get(ref, ("compliant", ""))
        radio = page.locator(f'input[name="answer-{ref}"][value="{status}"]')
        expect(radio).to_have_count(1)
        radio.check()
        if comment:
            page.locator(f'textarea[name="comment-{ref}"]').fill(comment)
        entered[ref] = (status, comment)
    return entered


def test_audit_from_creation_to_frozen_approval(new_page, live: Live) -> None:
    page = new_page()
    sign_in(page, "auditor@example.com")
    assessment_id, total = create_assessment(page)
    url = f"/assessments/{assessment_id}"
    sections = section_refs(page)
    assert sections[0] == "SO-1" and len(sections) == 7, sections
    expect(page.locator("#section-title")).to_contain_text("SO-1")

    entered: dict[str, tuple[str, str]] = {}
    for n, section in enumerate(sections):
        if n:  # the previous "Save and go to" brought us here
            expect(page).to_have_url(re.compile(rf"{url}\?section={section}$"))
        expect(page.locator("#section-title")).to_contain_text(section)
        if section == EVIDENCE_REF.split(".")[0]:
            item = page.locator(f"#item-{EVIDENCE_REF}".replace(".", "\\."))
            page.locator(f'input[type=file][form="upload-{EVIDENCE_REF}"]').set_input_files(
                files=[
                    {
                        "name": EVIDENCE_NAME,
                        "mimeType": "text/csv",
                        "buffer": b"party,access\nAozora,admin\n",
                    }
                ]
            )
            item.get_by_role("button", name="Upload evidence").click()
            expect(page.locator(".flash")).to_contain_text(f"Evidence {EVIDENCE_NAME} added")
            expect(item.locator("ul.files")).to_contain_text(EVIDENCE_NAME)
            expect(page).to_have_url(re.compile(rf"{url}\?section={section}#item-{EVIDENCE_REF}$"))
        entered |= answer_section(page, section)
        # the live score (JavaScript) follows the radios before anything is saved
        expect(page.locator(f'[data-section-completion="{section}"]')).to_have_text("100%")
        if n + 1 < len(sections):
            page.get_by_role("button", name=f"Save and go to {sections[n + 1]}").click()
        else:
            expect(page.get_by_role("button", name=re.compile("Save and go to"))).to_have_count(0)
            page.get_by_role("button", name="Save section").click()
        expect(page.locator(".flash")).to_have_text(f"Section {section} saved.")

        if n == 0:
            # too early: the refusal lists every missing item, each linking to its place
            page.get_by_role("button", name="Submit for review").click()
            problems = page.locator("#form-error ul.problems li")
            expect(problems.first).to_be_visible()
            missing = [a.get_attribute("href") for a in problems.locator("a").all()]
            assert len(missing) == total - len(entered), missing
            for href in missing:
                assert re.search(r"section=SO-[2-7]#item-SO-[2-7]\.\d+$", href), href
            expect(problems.first).to_contain_text("Item SO-2.1 is unanswered.")
            assert live.assessment(assessment_id)["state"] == "in_progress"
            page.get_by_role("link", name="Item SO-3.2 is unanswered.", exact=True).click()
            expect(page).to_have_url(re.compile(rf"{url}\?section=SO-3#item-SO-3\.2$"))
            expect(page.locator("#item-SO-3\\.2")).to_be_in_viewport()
            page.goto(f"{url}?section={sections[1]}")

    assert len(entered) == total
    assert live.answers(assessment_id) == entered

    panel = page.locator("#score-panel")
    expect(panel.locator('[data-field="rating"] .rating')).to_have_text(re.compile(r"^[A-E]$"))
    expect(panel.locator('[data-field="completion"]')).to_have_text(re.compile(r"^100(\.0+)?$"))
    expect(panel).to_contain_text("0 unanswered")

    page.get_by_role("button", name="Submit for review").click()
    expect(page.locator(".flash")).to_contain_text("Submitted for review")
    expect(page.locator(".page-head .state")).to_have_text("submitted")
    sign_out(page)

    sign_in(page, "reviewer@example.com")
    page.goto(f"{url}/review")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Review:")
    expect(page.locator("#item-SO-2\\.2 .answer")).to_have_text("non compliant")
    page.locator("#approve").click()
    expect(page.locator(".flash")).to_contain_text("Approved")
    expect(page.locator(".page-head .state")).to_have_text("approved")
    sign_out(page)

    stored = live.assessment(assessment_id)
    assert stored["state"] == "approved" and stored["score_snapshot"]

    sign_in(page, "auditor@example.com")
    page.goto(url)
    expect(page.locator(".page-head .state")).to_have_text("approved")
    radios = page.locator('#section-form input[type="radio"]')
    expect(radios.first).to_be_visible()
    for radio in radios.all():
        expect(radio).to_be_disabled()
    expect(page.locator('input[type="radio"][value=""]')).to_have_count(0)
    expect(page.get_by_role("button", name=re.compile(r"^Save"))).to_have_count(0)
    expect(page.get_by_role("button", name="Submit for review")).to_have_count(0)
    expect(page.locator('input[type="file"]')).to_have_count(0)

    token = page.locator('input[name="csrf_token"]').first.input_value()
    revision = page.locator('#section-form input[name="revision"]').input_value()
    refused = page.request.post(
        f"{url}/sections/SO-1",
        form={
            "csrf_token": token,
            "revision": revision,
            "answer-SO-1.1": "non_compliant",
            "comment-SO-1.1": "changed after approval",
            "then": "SO-1",
        },
    )
    assert refused.status == 409  # not 400: the CSRF token was good; approved, it accepts none
    upload = page.request.post(
        f"{url}/evidence",
        multipart={
            "csrf_token": token,
            "item_ref": "SO-1.1",
            "section": "SO-1",
            "file": {"name": "late.txt", "mimeType": "text/plain", "buffer": b"too late\n"},
        },
    )
    assert upload.status == 409
    page.reload()
    expect(page.locator("#item-SO-1\\.1")).not_to_contain_text("late.txt")
    assert live.answers(assessment_id) == entered
    assert live.assessment(assessment_id)["revision"] == stored["revision"]


def test_uploading_evidence_on_an_untouched_page_does_not_warn_of_unsaved_changes(
    page: Page, live: Live
) -> None:
    assessment_id = live.make_assessment()
    sign_in(page, "auditor@example.com")
    page.goto(f"/assessments/{assessment_id}?section=SO-1")
    page.locator('input[type=file][form="upload-SO-1.1"]').set_input_files(
        files=[{"name": "idp-accounts.txt", "mimeType": "text/plain", "buffer": b"42 accounts\n"}]
    )
    page.locator("#item-SO-1\\.1").get_by_role("button", name="Upload evidence").click()
    expect(page.locator("#item-SO-1\\.1 ul.files")).to_contain_text("idp-accounts.txt")
    assert page.dialogs == []
