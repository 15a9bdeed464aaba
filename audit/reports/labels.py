"""The report's words in English and Japanese: headings, column names, answers, states.

Checklist texts (section titles, questions) come from the checklist version itself through
``Text.get(lang)``; everything else a reader sees in the PDF is here, so both languages are
reviewed side by side. Cap sentences are rebuilt from the cap's data in Japanese; in English
the rules module's own sentence is used word for word.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..checklists import FRAMEWORK_LABELS

LANGS = ("en", "ja")

LABELS: dict[str, dict[str, str]] = {
    "en": {
        "report_kind": "Subcontractor audit report",
        "brand": "Kansa",
        "confidential": "Confidential",
        "draft": "DRAFT",
        "draft_note": (
            "Draft: this assessment is not approved. Scores, findings and answers may still "
            "change; this document is not a report of record."
        ),
        "record_note": "Report of record, approved {when} by {who}.",
        "generated": "Generated",
        "approved_record": "Report of record, approved",
        "report_id": "Report ID",
        "subcontractor": "Subcontractor",
        "country": "Country",
        "tier": "Criticality tier",
        "assessment": "Assessment",
        "checklist": "Checklist",
        "version": "Version",
        "content_hash": "Content hash",
        "period": "Assessment period",
        "due_date": "Due date",
        "auditors": "Auditors",
        "reviewer": "Reviewer",
        "state": "State",
        "rating": "Rating",
        "score": "Score",
        "score_of": "{score} / 100",
        "no_score": "no score",
        "provisional": "provisional: {n} item(s) unanswered",
        "band_note": "The score alone would rate {band}; a cap lowered it to {rating}.",
        "completion": "Answered",
        "contents": "Contents",
        "summary": "Executive summary",
        "summary_caps": "Caps that applied",
        "summary_caps_none": "No cap applied: the rating is the score band.",
        "cap_applied": "lowered the rating",
        "cap_other": "triggered, not decisive",
        "section_scores": "Section scores",
        "chart_caption": (
            "Weighted score of each section (0–100); dashed lines mark the rating bands."
        ),
        "counts": "Items by answer",
        "count": "Items",
        "share": "Share",
        "total": "Total",
        "findings": "Findings and remediation plan",
        "findings_short": "Findings",
        "findings_intro": (
            "Every partial or non-compliant answer is a finding. Most severe first; the plan, "
            "owner, due date and status are kept by the auditors and the subcontractor."
        ),
        "findings_none": "No findings: no answer is partial or non-compliant.",
        "severity": "Severity",
        "item": "Item",
        "finding": "Finding",
        "plan": "Remediation plan",
        "owner": "Owner",
        "due": "Due",
        "status": "Status",
        "no_plan": "No plan recorded.",
        "coverage": "Guidance coverage",
        "coverage_intro": (
            "For each point of the guidance the checklist cites, the items that cite it and "
            "their weighted score (not-applicable items are left out of the score)."
        ),
        "reference": "Source point",
        "citing_items": "Items citing it",
        "detail": "Detail by section",
        "question": "Question",
        "answer": "Answer",
        "comment": "Comment",
        "evidence": "Evidence",
        "evidence_general": "Evidence for the assessment as a whole",
        "no_evidence": "—",
        "critical": "critical",
        "weight": "weight",
        "signoff": "Sign-off",
        "approved_by": "Approved by",
        "approved_at": "Approved at",
        "review_comment": "Reviewer's comment",
        "not_approved": "Not approved. This report carries a DRAFT mark on every page until the "
        "reviewer approves the assessment.",
        "submitted_at": "Submitted at",
        "events": "Audit trail (latest events)",
        "when": "When",
        "who": "Who",
        "what": "Event",
        "object": "Object",
        "events_none": "No events recorded.",
        "page": "Page",
        "bytes": "bytes",
        "none": "—",
        "list_sep": ", ",
    },
    "ja": {
        "report_kind": "委託先監査報告書",
        "brand": "Kansa 監査",
        "confidential": "社外秘",
        "draft": "DRAFT",
        "draft_note": (
            "下書き：この評価は未承認です。スコア、指摘事項及び回答は変更される可能性があり、"
            "本書は確定版の報告書ではありません。"
        ),
        "record_note": "確定版報告書（{when}、{who} が承認）",
        "generated": "作成日時",
        "approved_record": "確定版（承認日時）",
        "report_id": "報告書ID",
        "subcontractor": "委託先",
        "country": "国",
        "tier": "重要度区分",
        "assessment": "評価",
        "checklist": "チェックリスト",
        "version": "版",
        "content_hash": "内容ハッシュ",
        "period": "評価対象期間",
        "due_date": "期限",
        "auditors": "監査担当者",
        "reviewer": "レビュー担当者",
        "state": "状態",
        "rating": "評価",
        "score": "スコア",
        "score_of": "{score} / 100",
        "no_score": "スコアなし",
        "provisional": "暫定：未回答 {n} 項目",
        "band_note": "スコアのみでは {band} 評価ですが、上限規則により {rating} となりました。",
        "completion": "回答率",
        "contents": "目次",
        "summary": "エグゼクティブサマリー",
        "summary_caps": "適用された評価上限",
        "summary_caps_none": "評価上限は適用されていません（評価はスコア区分のとおり）。",
        "cap_applied": "評価を引き下げた",
        "cap_other": "該当（決定要因ではない）",
        "section_scores": "セクション別スコア",
        "chart_caption": "各セクションの加重スコア（0〜100）。破線は評価区分の境界。",
        "counts": "回答別の項目数",
        "count": "項目数",
        "share": "割合",
        "total": "合計",
        "findings": "指摘事項及び是正計画",
        "findings_short": "指摘事項",
        "findings_intro": (
            "一部適合又は不適合の回答はすべて指摘事項となります。重大度の高い順に掲載し、"
            "是正計画、担当者、期限及び状況は監査担当者と委託先が管理します。"
        ),
        "findings_none": "指摘事項はありません（一部適合又は不適合の回答はありません）。",
        "severity": "重大度",
        "item": "項目",
        "finding": "指摘事項",
        "plan": "是正計画",
        "owner": "担当者",
        "due": "期限",
        "status": "状況",
        "no_plan": "是正計画は未記入です。",
        "coverage": "ガイダンス対応状況",
        "coverage_intro": (
            "チェックリストが引用するガイダンスの各項目について、引用する評価項目とその加重スコア"
            "（該当なしの項目はスコアから除外）を示します。"
        ),
        "reference": "出典",
        "citing_items": "引用する評価項目",
        "detail": "セクション別の詳細",
        "question": "質問",
        "answer": "回答",
        "comment": "コメント",
        "evidence": "証跡",
        "evidence_general": "評価全体に関する証跡",
        "no_evidence": "—",
        "critical": "重要",
        "weight": "重み",
        "signoff": "承認",
        "approved_by": "承認者",
        "approved_at": "承認日時",
        "review_comment": "レビュー担当者のコメント",
        "not_approved": "未承認です。レビュー担当者が承認するまで、本書の全ページに DRAFT "
        "（下書き）の表示が付されます。",
        "submitted_at": "提出日時",
        "events": "監査証跡（最新のイベント）",
        "when": "日時",
        "who": "実行者",
        "what": "イベント",
        "object": "対象",
        "events_none": "記録されたイベントはありません。",
        "page": "ページ",
        "bytes": "バイト",
        "none": "—",
        "list_sep": "、",
    },
}

ANSWER_LABELS = {
    "en": {
        "compliant": "Compliant",
        "partial": "Partial",
        "non_compliant": "Non-compliant",
        "not_applicable": "Not applicable",
        "unanswered": "Unanswered",
    },
    "ja": {
        "compliant": "適合",
        "partial": "一部適合",
        "non_compliant": "不適合",
        "not_applicable": "該当なし",
        "unanswered": "未回答",
    },
}

SEVERITY_LABELS = {
    "en": {"critical": "Critical", "high": "High", "medium": "Medium", "low": "Low"},
    "ja": {"critical": "重大", "high": "高", "medium": "中", "low": "低"},
}

STATE_LABELS = {
    "en": {
        "draft": "Draft",
        "in_progress": "In progress",
        "submitted": "Submitted for review",
        "returned": "Returned to auditors",
        "approved": "Approved",
    },
    "ja": {
        "draft": "下書き",
        "in_progress": "実施中",
        "submitted": "レビュー待ち",
        "returned": "差戻し",
        "approved": "承認済み",
    },
}

FINDING_STATUS_LABELS = {
    "en": {
        "open": "Open",
        "in_remediation": "In remediation",
        "closed": "Closed",
        "risk_accepted": "Risk accepted",
    },
    "ja": {
        "open": "未対応",
        "in_remediation": "是正中",
        "closed": "完了",
        "risk_accepted": "リスク受容",
    },
}

FRAMEWORK_NAMES = {
    "en": {
        "appi": "Act on the Protection of Personal Information (APPI)",
        "ppc_gl": "PPC Guidelines (General Rules)",
        "tba": "Telecommunications Business Act",
        "iso27001_2022": "ISO/IEC 27001:2022",
        "nist_csf_2": "NIST Cybersecurity Framework 2.0",
        "nist_800_53r5": "NIST SP 800-53 Rev. 5",
        "meti_csm_v3": "METI Cybersecurity Management Guidelines v3",
        "mic_2024": "MIC administrative guidance, 2024",
        "case_basis": "Case basis",
    },
    "ja": {
        "appi": "個人情報保護法（APPI）",
        "ppc_gl": "個人情報保護委員会ガイドライン（通則編）",
        "tba": "電気通信事業法",
        "iso27001_2022": "ISO/IEC 27001:2022",
        "nist_csf_2": "NIST サイバーセキュリティフレームワーク 2.0",
        "nist_800_53r5": "NIST SP 800-53 Rev. 5",
        "meti_csm_v3": "経済産業省 サイバーセキュリティ経営ガイドライン v3",
        "mic_2024": "総務省 行政指導（2024年）",
        "case_basis": "事案根拠",
    },
}

EVENT_LABELS = {
    "en": {
        "assessment.created": "Assessment created",
        "answer.saved": "Answer saved",
        "evidence.added": "Evidence added",
        "assessment.submitted": "Submitted for review",
        "assessment.approved": "Approved",
        "assessment.returned": "Returned to auditors",
        "finding.updated": "Finding updated",
    },
    "ja": {
        "assessment.created": "評価を作成",
        "answer.saved": "回答を保存",
        "evidence.added": "証跡を追加",
        "assessment.submitted": "レビューに提出",
        "assessment.approved": "承認",
        "assessment.returned": "差戻し",
        "finding.updated": "指摘事項を更新",
    },
}


def labels(lang: str) -> dict[str, Any]:
    """Every label table for ``lang``, as the template reads them."""
    if lang not in LANGS:
        raise ValueError(f"unknown report language {lang!r}; use one of {', '.join(LANGS)}")
    return {
        "t": LABELS[lang],
        "answers": ANSWER_LABELS[lang],
        "severities": SEVERITY_LABELS[lang],
        "states": STATE_LABELS[lang],
        "finding_statuses": FINDING_STATUS_LABELS[lang],
        "frameworks": FRAMEWORK_NAMES[lang],
        "events": EVENT_LABELS[lang],
    }


def reference_label(framework: str, ref_id: str) -> str:
    """The short citation of a source point, e.g. ``APPI Art. 25`` (same in both languages)."""
    return f"{FRAMEWORK_LABELS.get(framework, framework)} {ref_id}"


def cap_sentence(cap: Mapping[str, Any], lang: str, states: Mapping[str, str]) -> str:
    """The cap's sentence: the rules module's in English, rebuilt from its data in Japanese.

    ``states`` maps item refs to their answer (or ``unanswered``); it is read only for the
    Japanese wording of item caps.
    """
    if lang != "ja":
        return str(cap["sentence"])
    refs: Sequence[str] = cap["items"]
    joined = "、".join(refs)
    rating = cap["max_rating"]
    if cap["rule"] == "section_below":
        return f"セクション {joined} のスコアが基準値を下回るため、評価の上限は {rating} です。"
    names = ANSWER_LABELS["ja"]
    hit = {states.get(ref) for ref in refs}
    seen = [s for s in ("partial", "non_compliant", "unanswered") if s in hit]
    answer = "又は".join(names[s] for s in seen) or "不適合"
    noun = "重要項目" if cap["rule"] == "critical_answer" else "項目"
    return f"{noun} {joined} が{answer}のため、評価の上限は {rating} です。"
