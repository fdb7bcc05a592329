"""The citizen's access report in each language a deployment declares: its words, dates, numbers.

A deployment lists its languages in `catalog/languages.yaml` (`languages: [en, fr]`, the
first the default); without that file the report is in English. A code GovBus has no
words for stops the command or the page with the file named (BadConfiguration). The
file is read here, not by the catalog loader: only the report uses it.

Dates and numbers are formatted by a small table per language (month names, the
thousands and decimal marks) instead of a locale library: the report needs a dozen
words of it, and the same output on every machine, whatever its system locales.

Only the report's own words are translated; what comes from the catalog (agency names,
dataset, purpose and field descriptions) and the ledger stays as written there.
The texts are trusted HTML (`Markup`); the values put into them are escaped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import yaml
from markupsafe import Markup

from exchange.portal.citizen_words import WORDS
from govbus.errors import BadConfiguration, BadInput

LANGUAGES_FILE = "languages.yaml"
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
    """The codes `catalog/languages.yaml` declares, the default first; ("en",) without the file."""
    path = catalog_dir / LANGUAGES_FILE
    if not path.is_file():
        return (DEFAULT,)
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}, line {mark.line + 1}" if mark is not None else str(path)
        raise BadConfiguration("invalid YAML", where=where, hint="languages: [en, fr]") from None
    codes = document.get("languages") if isinstance(document, dict) else None
    if not isinstance(codes, list) or not codes or not all(isinstance(c, str) for c in codes):
        raise BadConfiguration(
            "`languages` must be a list of language codes", where=str(path), hint="languages: [en, fr]"
        )
    unknown = [c for c in codes if c not in LANGUAGES]
    if unknown:
        raise BadConfiguration(
            f"no report texts for {', '.join(unknown)}",
            where=str(path),
            hint=f"GovBus has texts for: {', '.join(LANGUAGES)}",
        )
    return tuple(dict.fromkeys(codes))
