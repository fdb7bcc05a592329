"""The citizen's access report in each language a deployment declares: its words, dates, numbers.

A deployment lists its languages in `catalog/languages.yaml` (`languages: [en, fr]`, the
first the default); without that file the report is in English. A code GovBus has no
words for stops the command or the page with the file named (BadConfiguration). The
file is read by `exchange.catalog.translations.language_codes` (which `govbus check` uses
too, without loading the portal), not by the catalog loader.

Dates and numbers are formatted by a small table per language (month names, the
thousands and decimal marks) instead of a locale library: the report needs a dozen
words of it, and the same output on every machine, whatever its system locales.

The report's own words are here; what comes from the catalog (agency names, dataset,
purpose and statute texts, field labels) is translated in `catalog/translations/<code>.yaml`
(`exchange.catalog.translations`), and marked "not translated" where that file lacks it.
The texts are trusted HTML (`Markup`); the values put into them are escaped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from markupsafe import Markup

from exchange.catalog.translations import LANGUAGES_FILE, language_codes
from exchange.portal.citizen_words import WORDS
from govbus.errors import BadConfiguration, BadInput

DEFAULT = "en"


@dataclass(frozen=True)
class Language:
    """One language of the report: its name in itself, months, number marks, and its texts."""

    code: str
    name: str
    months: tuple[str, ...]
    group: str  # thousands separator
    decimal: str
    texts: Mapping[str, str]
    first_of_month: str = ""  # French writes "1er mars"

    def day(self, value: datetime) -> str:
        """`3 March 2026`, `3 mars 2026` (the caller passes UTC)."""
        day = (
            f"{value.day}{self.first_of_month}" if value.day == 1 and self.first_of_month else str(value.day)
        )
        return f"{day} {self.months[value.month - 1]} {value.year}"

    def number(self, value: int | float) -> str:
        """`12,345` / `12 345` (a narrow no-break space, as French typography wants)."""
        text = f"{value:,}" if isinstance(value, int) else f"{value:,.2f}"
        return text.replace(",", "\0").replace(".", self.decimal).replace("\0", self.group)

    def text(self, name: str, /, **values: object) -> str:
        """A plain-text phrase (for sentences built in Python; escaped when put in the page)."""
        return self.texts[name].format(**values)

    def html(self, name: str, /, **values: object) -> Markup:
        """A phrase of the page: trusted markup, its values escaped."""
        return Markup(self.texts[name]).format(**values)  # noqa: S704 (our own texts; values escaped)

    def join(self, items: list[str] | tuple[str, ...]) -> str:
        """`A, B and C` / `A, B et C`."""
        if len(items) < 2:
            return "".join(items)
        return f"{', '.join(items[:-1])} {self.texts['and']} {items[-1]}"


LANGUAGES: dict[str, Language] = {
    "en": Language(
        code="en",
        name="English",
        months=tuple(
            "January February March April May June July August September October November December".split()
        ),
        group=",",
        decimal=".",
        texts=WORDS["en"],
    ),
    "fr": Language(
        code="fr",
        name="Français",
        months=tuple(
            "janvier février mars avril mai juin juillet août septembre octobre novembre décembre".split()
        ),
        group="\u202f",
        decimal=",",
        texts=WORDS["fr"],
        first_of_month="er",
    ),
}


def language(code: str | None) -> Language:
    """The language of a code (KeyError for one GovBus has no words for: callers check the code
    against `declared_languages` first, and refuse it there with a message)."""
    return LANGUAGES[code or DEFAULT]


def chosen(catalog_dir: Path, code: str | None, where: str) -> str:
    """The code to write the report in: `code` if the deployment declares it, its default if None;
    BadInput naming the declared ones otherwise."""
    offered = declared_languages(catalog_dir)
    if code is None or code == "":
        return offered[0]
    if code not in offered:
        raise BadInput(
            f"the report is not offered in {code!r}",
            where=where,
            hint=f"this deployment declares: {', '.join(offered)} (catalog/{LANGUAGES_FILE})",
        )
    return code


def declared_languages(catalog_dir: Path) -> tuple[str, ...]:
    """The codes `catalog/languages.yaml` declares, the default first; ("en",) without the file.
    A code GovBus has no report texts for is a BadConfiguration naming the file."""
    path = catalog_dir / LANGUAGES_FILE
    codes = language_codes(catalog_dir, default=DEFAULT)
    unknown = [c for c in codes if c not in LANGUAGES]
    if unknown:
        raise BadConfiguration(
            f"no report texts for {', '.join(unknown)}",
            where=str(path),
            hint=f"GovBus has texts for: {', '.join(LANGUAGES)}",
        )
    return codes
