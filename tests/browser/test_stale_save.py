"""Two tabs on one section: the later save is refused and keeps what its user typed."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from .conftest import Live, sign_in

pytestmark = pytest.mark.browser


def test_stale_section_save_is_refused_and_keeps_the_typed_answers(new_page, live: Live) -> None:
    assessment_id = live.make_assessment()
    url = f"/assessments/{assessment_id}?section=SO-1"
    a, b = new_page(), new_page()  # two browser contexts: two sessions of the same auditor
    for page in (a, b):
        sign_in(page, "auditor@example.com")
        page.goto(url)
        expect(page.locator("#section-title")).to_contain_text("SO-1")
        expect(page.locator('input[name="answer-SO-1.1"][value=""]')).to_be_checked()
    before = live.assessment(assessment_id)["revision"]

    a.locator('input[name="answer-SO-1.1"][value="compliant"]').check()
    a.get_by_role("button", name="Save section").click()
    expect(a.locator(".flash")).to_have_text("Section SO-1 saved.")
    assert live.answers(assessment_id) == {"SO-1.1": ("compliant", "")}
    assert live.assessment(assessment_id)["revision"] == before + 1

    typed = "Register misses the two maintenance vendors found in the IdP."
    b.locator('textarea[name="comment-SO-1.1"]').fill(typed)
    b.locator('input[name="answer-SO-1.1"][value="non_compliant"]').check()
    b.locator('input[name="answer-SO-1.3"][value="partial"]').check()
    with b.expect_response(re.compile(r"/sections/SO-1$")) as response:
        b.get_by_role("button", name="Save section").click()
    assert response.value.status == 412  # stale, as the API would answer
    alert = b.locator("#form-error")
    expect(alert).to_contain_text("changed by someone else")
    expect(alert).to_contain_text("nothing was saved")
    expect(alert.get_by_role("link", name="the saved version")).to_have_attribute(
        "href", f"/assessments/{assessment_id}?section=SO-1"
    )
    expect(b.locator('textarea[name="comment-SO-1.1"]')).to_have_value(typed)
    expect(b.locator('input[name="answer-SO-1.1"][value="non_compliant"]')).to_be_checked()
    expect(b.locator('input[name="answer-SO-1.3"][value="partial"]')).to_be_checked()
    expect(b.locator(".flash")).to_have_count(0)

    assert live.answers(assessment_id) == {"SO-1.1": ("compliant", "")}
    assert live.assessment(assessment_id)["revision"] == before + 1
