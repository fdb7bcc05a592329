"""Translations of the catalog's citizen-visible texts: one file per language.

The citizen's access report comes in each language `catalog/languages.yaml` declares
(the first is the default, the language the catalog is written in). Its own words are
GovBus's; the texts that come from the catalog — agency names, purpose descriptions,
statutes' names, dataset descriptions and the field names shown to citizens — are
translated in `catalog/translations/<code>.yaml`, one file per other language, so a
translator works on one file, next to the languages it serves, without touching the
reviewed contracts:

    # catalog/translations/fr.yaml
    agencies:
      tax: l’Administration fiscale          # each agency's name
    purposes:
      HOUSING_ALLOWANCE: Instruire une demande d’allocation logement faite par la personne.
    statutes:
      SBA-12: loi sur les prestations sociales, article 12(3)
    datasets:
      tax.income:
        description: Déclarations d’impôt sur le revenu, telles que déposées et établies.
        fields:                               # the label of each field in "what was shared"
          gross_income: revenu brut

Every key must name something the catalog has (an agency id, a purpose code, a statute
id, a dataset id, a field of that dataset's contract) and every text must be one
non-empty line: anything else stops the report (and fails `govbus check`) with
`BadConfiguration` naming the file, the line and the key. A text the file lacks is the
default language's, which the report marks visibly as not translated
(`Translated.translated` is False) — a missing translation never hides the text.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from exchange.catalog.model import Catalog
from govbus.errors import BadConfiguration
from govbus.yamlfile import load_marked, where

__all__ = [
    "LANGUAGES_FILE",
    "TRANSLATIONS_DIR",
    "CatalogTexts",
    "Translated",
    "catalog_texts",
    "language_codes",
]

LANGUAGES_FILE = "languages.yaml"
TRANSLATIONS_DIR = "translations"
_SECTIONS = ("agencies", "purposes", "statutes", "datasets")
_DATASET_KEYS = ("description", "fields")
_KINDS = {"agencies": "agency", "purposes": "purpose", "statutes": "statute"}


@dataclass(frozen=True)
class Translated:
    """A catalog text in the wanted language, or (`translated` False) the default language's."""

    text: str
    translated: bool


@dataclass(frozen=True)
class CatalogTexts:
    """The catalog's citizen-visible texts in one language; `original` when it is the catalog's own."""

    lang: str
    original: bool
    agencies: Mapping[str, str] = field(default_factory=dict)
    purposes: Mapping[str, str] = field(default_factory=dict)
    statutes: Mapping[str, str] = field(default_factory=dict)
    datasets: Mapping[str, str] = field(default_factory=dict)
    fields: Mapping[tuple[str, str], str] = field(default_factory=dict)

    def agency(self, agency_id: str, default: str) -> Translated:
        """An agency's name (`default`: the catalog's)."""
        return self._pick(self.agencies.get(agency_id), default)

    def purpose(self, code: str, default: str) -> Translated:
        """A purpose's description."""
        return self._pick(self.purposes.get(code), default)

    def statute(self, statute_id: str, default: str) -> Translated:
        """A statute's name (its `law`)."""
        return self._pick(self.statutes.get(statute_id), default)

    def dataset(self, dataset_id: str, default: str) -> Translated:
        """A dataset's description."""
        return self._pick(self.datasets.get(dataset_id), default)

    def field_label(self, dataset_id: str, name: str, default: str) -> Translated:
        """A field's label as citizens read it."""
        return self._pick(self.fields.get((dataset_id, name)), default)

    def _pick(self, text: str | None, default: str) -> Translated:
        if self.original:
            return Translated(default, True)
        return Translated(text, True) if text is not None else Translated(default, False)


def language_codes(catalog_dir: Path, *, default: str) -> tuple[str, ...]:
    """The codes `catalog/languages.yaml` declares (`languages: [en, fr]`), the catalog's own
    language first, each once; `(default,)` without the file. Whether GovBus has report
    texts for them is the report's check (`exchange.portal.citizen_text`)."""
    path = catalog_dir / LANGUAGES_FILE
    if not path.is_file():
        return (default,)
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where_ = f"{path}, line {mark.line + 1}" if mark is not None else str(path)
        raise BadConfiguration("invalid YAML", where=where_, hint="languages: [en, fr]") from None
    codes = document.get("languages") if isinstance(document, dict) else None
    if not isinstance(codes, list) or not codes or not all(isinstance(c, str) for c in codes):
        raise BadConfiguration(
            "`languages` must be a list of language codes", where=str(path), hint="languages: [en, fr]"
        )
    return tuple(dict.fromkeys(codes))


def catalog_texts(catalog: Catalog, lang: str, default_lang: str) -> CatalogTexts:
    """The catalog's texts in `lang` (from `catalog/translations/<lang>.yaml`; none: every text
    falls back). `default_lang` is the catalog's own language: its texts need no file."""
    if lang == default_lang:
        return CatalogTexts(lang, original=True)
    path = catalog.root / TRANSLATIONS_DIR / f"{lang}.yaml"
    if not path.is_file():
        return CatalogTexts(lang, original=False)
    document = load_marked(path)
    if document is None:
        return CatalogTexts(lang, original=False)
    if not isinstance(document, dict):
        raise BadConfiguration(
            "a translations file must be a mapping",
            where=str(path),
            hint="start with agencies:, purposes:, ...",
        )
    for key in document:
        if key not in _SECTIONS:
            raise BadConfiguration(
                f"unknown section {key!r}",
                where=where(path, document, key),
                hint=f"sections: {', '.join(_SECTIONS)}",
            )
    agencies = _texts(path, document, "agencies", catalog.agencies)
    purposes = _texts(path, document, "purposes", catalog.purposes)
    statutes = _texts(path, document, "statutes", catalog.statutes)
    datasets: dict[str, str] = {}
    fields: dict[tuple[str, str], str] = {}
    for dataset_id, entry in _section(path, document, "datasets").items():
        known = catalog.datasets.get(dataset_id)
        at = f"datasets.{dataset_id}"
        if known is None:
            raise _unknown(path, document["datasets"], dataset_id, at, "dataset", catalog.datasets)
        if not isinstance(entry, dict):
            raise BadConfiguration(
                "must be a mapping with description: and fields:",
                where=f"{where(path, document['datasets'], dataset_id)}: {at}",
            )
        for key in entry:
            if key not in _DATASET_KEYS:
                raise BadConfiguration(
                    f"unknown key {key!r}",
                    where=f"{where(path, entry, key)}: {at}",
                    hint="description, fields",
                )
        if "description" in entry:
            datasets[dataset_id] = _line(path, entry, "description", f"{at}.description")
        for name in _section(path, entry, "fields", at):
            if name not in known.contract.fields:
                raise _unknown(
                    path, entry["fields"], name, f"{at}.fields.{name}", "field", known.contract.fields
                )
            fields[(dataset_id, name)] = _line(path, entry["fields"], name, f"{at}.fields.{name}")
    return CatalogTexts(lang, False, agencies, purposes, statutes, datasets, fields)


def _section(path: Path, node: dict[str, Any], key: str, prefix: str = "") -> dict[str, Any]:
    """The mapping under `key` ({} when absent or empty); BadConfiguration if it is not one."""
    value = node.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadConfiguration(
            "must be a mapping of ids to texts",
            where=f"{where(path, node, key)}: {prefix + '.' if prefix else ''}{key}",
        )
    return value


def _texts(path: Path, document: dict[str, Any], section: str, known: Mapping[str, Any]) -> dict[str, str]:
    texts = {}
    node = _section(path, document, section)
    for key in node:
        if key not in known:
            raise _unknown(path, node, key, f"{section}.{key}", _KINDS[section], known)
        texts[key] = _line(path, node, key, f"{section}.{key}")
    return texts


def _line(path: Path, node: dict[str, Any], key: str, at: str) -> str:
    """A text: one non-empty line."""
    value = node[key]
    if not isinstance(value, str) or not value.strip() or "\n" in value.strip():
        raise BadConfiguration(
            "must be one non-empty line of text",
            where=f"{where(path, node, key)}: {at}",
            hint="quote it if needed",
        )
    return value.strip()


def _unknown(
    path: Path, node: Any, key: str, at: str, kind: str, known: Mapping[str, Any]
) -> BadConfiguration:
    return BadConfiguration(
        f"the catalog has no {kind} {key!r}",
        where=f"{where(path, node, key)}: {at}",
        hint=f"known: {', '.join(sorted(known)) or 'none'}",
    )
