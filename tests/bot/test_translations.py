"""The message catalogs: every text the bot shows exists in every shipped language, with the same placeholders.

The message ids are extracted from the code here (Babel's extractor, the same keywords as ``scripts/i18n``), so a
text added to the code without its translations fails this test, and so does a translation that drops, renames
or adds a ``{placeholder}`` (it would raise, or show a raw brace, when the bot formats it).
"""

from __future__ import annotations

import string
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from bot.i18n import DOMAIN, LOCALES, SOURCE_LANGUAGE, shipped_languages

ROOT = Path(__file__).resolve().parents[2]
KEYWORDS = {"N_": None, "NP_": (1, 2)}
TRANSLATED = [code for code in shipped_languages() if code != SOURCE_LANGUAGE]

MessageId = str | tuple[str, str]


def extracted() -> dict[str, MessageId]:
    """Every marked text in bot/, keyed by its singular."""
    found: dict[str, MessageId] = {}
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT / "bot"), method_map=[("**.py", "python")], keywords=KEYWORDS
    ):
        key = message if isinstance(message, str) else message[0]
        found[key] = message if isinstance(message, str) else (message[0], message[1])
    return found


def catalog(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as source:
        return read_po(source, locale=locale, domain=DOMAIN)


def placeholders(text: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(text) if field is not None}


def test_the_languages_shipped_are_english_russian_and_spanish() -> None:
    assert set(shipped_languages()) >= {"en", "ru", "es"}


def test_the_template_lists_exactly_the_texts_marked_in_the_code() -> None:
    template = catalog(LOCALES / f"{DOMAIN}.pot")
    in_template = {message.id if isinstance(message.id, str) else message.id[0] for message in template if message.id}
    assert in_template == set(extracted()), "run scripts/i18n update"


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_text_is_translated_with_the_same_placeholders(language: str) -> None:
    translations = catalog(LOCALES / language / "LC_MESSAGES" / f"{DOMAIN}.po", language)
    problems: list[str] = []
    for key, message_id in extracted().items():
        entry = translations.get(message_id if isinstance(message_id, str) else message_id[0])
        if entry is None:
            problems.append(f"missing: {key!r}")
            continue
        if entry.fuzzy:
            problems.append(f"fuzzy (not checked by a translator): {key!r}")
        forms = [entry.string] if isinstance(entry.string, str) else list(entry.string)
        expected_forms = 1 if isinstance(message_id, str) else translations.num_plurals
        if len(forms) != expected_forms or not all(forms):
            problems.append(f"untranslated or missing plural forms: {key!r}")
            continue
        english = message_id if isinstance(message_id, str) else message_id[1]
        for form in forms:
            if placeholders(form) != placeholders(english):
                problems.append(
                    f"placeholders {sorted(placeholders(form))} != {sorted(placeholders(english))}: {key!r}"
                )
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("language", TRANSLATED)
def test_no_translation_is_left_without_its_text_in_the_code(language: str) -> None:
    """A text removed from the code leaves no stale entry behind (scripts/i18n update drops them)."""
    translations = catalog(LOCALES / language / "LC_MESSAGES" / f"{DOMAIN}.po", language)
    in_catalog = {
        message.id if isinstance(message.id, str) else message.id[0] for message in translations if message.id
    }
    assert in_catalog <= set(extracted())
