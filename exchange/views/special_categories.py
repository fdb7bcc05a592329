"""Special categories of personal data in words: the marker the catalog and the citizen report show.

A field tagged with a special category (`contracts.SPECIAL_CATEGORY_TAGS`: health,
genetic, biometric, ethnic origin, political opinions, religious or philosophical
beliefs, trade union membership, sex life or sexual orientation — GDPR art. 9(1) — or
criminal convictions and offences — art. 10) is special category whatever its
classification says. A reader must not have to know which tags those are: the catalog
(`govbus catalog show`, the portal's /catalog pages, /api/catalog) and the citizen's
access report say it in words, with the article:

    special category — GDPR art. 9: health
    special category — GDPR art. 9: health; art. 10: criminal convictions and offences
    catégorie particulière — RGPD art. 9 : santé

`special_category(tags)` gives the catalog's record (`CatalogSpecialCategory`: the
canonical categories, the articles, the English text); `marker(categories, lang)` the
words in a language of the citizen report (en, fr).
"""

from __future__ import annotations

from collections.abc import Iterable

import contracts
from exchange.views.catalog_shapes import CatalogSpecialCategory

__all__ = ["ARTICLE_10", "article_of", "marker", "special_category"]

ARTICLE_9, ARTICLE_10 = "9", "10"
# Art. 10 covers personal data relating to criminal convictions and offences; every other
# special category is art. 9(1)'s.
_ARTICLE_10_CATEGORIES = frozenset({"criminal-offences"})

_WORDS: dict[str, dict[str, str]] = {
    "en": {
        "prefix": "special category — GDPR",
        "colon": ":",
        "health": "health",
        "genetic": "genetic data",
        "biometric": "biometric data",
        "ethnic-origin": "racial or ethnic origin",
        "political-opinions": "political opinions",
        "religious-beliefs": "religious beliefs",
        "philosophical-beliefs": "philosophical beliefs",
        "trade-union-membership": "trade union membership",
        "sex-life": "sex life",
        "sexual-orientation": "sexual orientation",
        "criminal-offences": "criminal convictions and offences",
    },
    "fr": {
        "prefix": "catégorie particulière — RGPD",
        "colon": "\u00a0:",
        "health": "santé",
        "genetic": "données génétiques",
        "biometric": "données biométriques",
        "ethnic-origin": "origine raciale ou ethnique",
        "political-opinions": "opinions politiques",
        "religious-beliefs": "convictions religieuses",
        "philosophical-beliefs": "convictions philosophiques",
        "trade-union-membership": "appartenance syndicale",
        "sex-life": "vie sexuelle",
        "sexual-orientation": "orientation sexuelle",
        "criminal-offences": "condamnations pénales et infractions",
    },
}


def article_of(category: str) -> str:
    """The GDPR article of a canonical category: "10" for criminal offences, else "9"."""
    return ARTICLE_10 if category in _ARTICLE_10_CATEGORIES else ARTICLE_9


def marker(categories: Iterable[str], lang: str = "en") -> str:
    """The categories in words with their articles (see the module doc); "" for none.

    `lang`: en or fr (another code gets English: the citizen report only offers those).
    """
    words = _WORDS.get(lang, _WORDS["en"])
    wanted = sorted(set(categories))
    if not wanted:
        return ""
    groups = []
    for article in (ARTICLE_9, ARTICLE_10):
        names = [words.get(c, c.replace("-", " ")) for c in wanted if article_of(c) == article]
        if names:
            groups.append(f"art. {article}{words['colon']} {', '.join(names)}")
    return f"{words['prefix']} {'; '.join(groups)}"


def special_category(tags: Iterable[str]) -> CatalogSpecialCategory | None:
    """The catalog's special-category record of a field with these tags; None when it is not one."""
    categories = contracts.special_categories(tags)
    if not categories:
        return None
    articles = tuple(sorted({article_of(c) for c in categories}, key=int))
    return CatalogSpecialCategory(categories=categories, gdpr_articles=articles, text=marker(categories))
