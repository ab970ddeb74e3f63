"""The bot's languages: gettext catalogs (``bot/locales/<lang>/LC_MESSAGES/reelay.po``) read through Babel.

English is the source language: the message ids in :mod:`bot.texts` are the English texts, so English needs
no catalog. A language is shipped when its ``.po`` file is there; the catalogs are compiled in memory when
first used (no ``.mo`` files to keep in step). Messages use ``str.format`` placeholders (``{count}``), which
translations must keep (``tests/bot/test_translations.py`` checks them).
"""

from __future__ import annotations

import functools
import gettext
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import NamedTuple

from babel import Locale, UnknownLocaleError
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

DOMAIN = "reelay"
LOCALES = Path(__file__).parent / "locales"
SOURCE_LANGUAGE = "en"


class Plural(NamedTuple):
    """A message with a number in it: the English singular and plural (other languages have their own forms)."""

    singular: str
    plural: str


def N_(message: str) -> str:
    """Mark ``message`` for translation where it is defined; it is translated where it is shown."""
    return message


def NP_(singular: str, plural: str) -> Plural:
    """Mark a message whose form depends on a number."""
    return Plural(singular, plural)


@dataclass(frozen=True, slots=True)
class Translator:
    """One language's texts: ``tr(texts.X, name=value)`` and ``tr.plural(texts.Y, n, count=n)``."""

    language: str
    _catalog: gettext.NullTranslations

    def __call__(self, message: str, /, **values: object) -> str:
        text = self._catalog.gettext(message)
        return text.format(**values) if values else text

    def plural(self, message: Plural, n: int, /, **values: object) -> str:
        """The form of ``message`` for the number ``n``, with ``values`` filled in."""
        return self._catalog.ngettext(message.singular, message.plural, n).format(**values)


@functools.cache
def shipped_languages() -> tuple[str, ...]:
    """English first, then every language with a catalog, in code order."""
    found = sorted(p.parent.parent.name for p in LOCALES.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))
    return (SOURCE_LANGUAGE, *(code for code in found if code != SOURCE_LANGUAGE))


def supported(code: str | None) -> str | None:
    """The shipped language for a Telegram ``language_code`` (``ru``, ``es-419``, ``pt-br``), or None."""
    if not code:
        return None
    primary = code.replace("_", "-").split("-", 1)[0].lower()
    return primary if primary in shipped_languages() else None


def choose_language(saved: str | None, telegram_code: str | None) -> str:
    """The user's own choice when it is still shipped, else their Telegram app's language, else English."""
    return supported(saved) or supported(telegram_code) or SOURCE_LANGUAGE


@functools.cache
def translator(language: str | None) -> Translator:
    """The translator for ``language``; English (the message ids themselves) for one that is not shipped."""
    code = supported(language) or SOURCE_LANGUAGE
    if code == SOURCE_LANGUAGE:
        return Translator(code, gettext.NullTranslations())
    return Translator(code, _compiled(code))


ENGLISH = translator(SOURCE_LANGUAGE)


def _compiled(code: str) -> Translations:
    """Compile the ``.po`` file in memory (untranslated and fuzzy entries fall back to English)."""
    with (LOCALES / code / "LC_MESSAGES" / f"{DOMAIN}.po").open("rb") as source:
        catalog = read_po(source, locale=code, domain=DOMAIN)
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def every_translation(message: str) -> frozenset[str]:
    """``message`` in every shipped language: recognising our own earlier question whatever language it was in."""
    return frozenset(translator(code)(message) for code in shipped_languages())


def language_name(code: str) -> str:
    """A language's name in that language ("Русский"), for the picker."""
    try:
        name = Locale.parse(code).get_display_name(code) or code
    except (ValueError, UnknownLocaleError):
        return code
    return name[:1].upper() + name[1:]
