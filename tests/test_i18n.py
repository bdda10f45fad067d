"""Texts people read exist in Vietnamese and English, for every kind of mismatch and state."""

from __future__ import annotations

import re

import pytest

from reconcile.compare import MismatchKind
from syncd.i18n import LANGUAGES, MESSAGES, tr

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
