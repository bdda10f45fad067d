"""Texts people read exist in Vietnamese and English, for every kind of mismatch and state."""

from __future__ import annotations

import re

import pytest

from reconcile.compare import MismatchKind
from syncd.i18n import LANGUAGES, MESSAGES, clock_text, failure_text, tr
from syncd.outbox import FAILURE_KINDS

VIETNAMESE_LETTERS = re.compile(
    r"[àáảãạăằắẳẵặâầấẩẫậđèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵ]"
)


@pytest.mark.parametrize("message", sorted(MESSAGES))
def test_every_message_is_in_both_languages(message: str) -> None:
    assert set(MESSAGES[message]) == set(LANGUAGES)
    assert all(text.strip() for text in MESSAGES[message].values())


def test_placeholders_agree_between_languages() -> None:
    for message, texts in MESSAGES.items():
        fields = {lang: set(re.findall(r"{(\w+)", text)) for lang, text in texts.items()}
        assert fields["vi"] == fields["en"], message


@pytest.mark.parametrize("kind", list(MismatchKind))
def test_every_mismatch_kind_has_a_name_for_operators(kind: MismatchKind) -> None:
    assert VIETNAMESE_LETTERS.search(tr("vi", f"kind.{kind.value}"))
    assert tr("en", f"kind.{kind.value}")


@pytest.mark.parametrize("kind", FAILURE_KINDS)
def test_every_failure_is_worded_for_operators_with_its_detail_kept(kind: str) -> None:
    detail = "national: POST api/x: HTTP 503 (after 4 attempts)"
    vi, en = failure_text(kind, detail, "vi"), failure_text(kind, detail, "en")
    assert VIETNAMESE_LETTERS.search(vi.split("(")[0])
    assert vi.endswith(f"(chi tiết kỹ thuật: {detail})")
    assert en == f"{MESSAGES[f'failure.{kind}']['en']} (technical detail: {detail})"


def test_a_failure_of_no_known_kind_is_its_detail() -> None:
    assert failure_text(None, "boom", "vi") == "boom"
    assert failure_text("", "boom", "en") == "boom"
    assert failure_text("no-such-kind", "boom", "vi") == "boom"


def test_the_command_line_prints_stored_times_on_vietnams_clock() -> None:
    assert clock_text("2024-07-19T17:30:05+00:00") == "20/07/2024 00:30:05"
    assert clock_text("2024-07-19T09:00:00+07:00") == "19/07/2024 09:00:00"
    assert clock_text(None) == clock_text("") == "-"
    assert clock_text("not a time") == "not a time"
