"""Welsh and English pages: the language a request gets, and catalogues that are complete and current."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from consent_service.api.languages import LOCALE_DIR, SUPPORTED, accepted, choose, translations
from consent_service.domain.notices import RIGHT_TO_OBJECT

ROOT = Path(__file__).resolve().parents[2]
TRANSLATED = [language for language in SUPPORTED if language != "en"]


def catalogue(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"


@pytest.mark.parametrize(
    ("query", "header", "expected"),
    [
        (None, None, "en"),
        (None, "cy", "cy"),
        (None, "cy-GB,cy;q=0.9,en;q=0.8", "cy"),
        (None, "en-GB,en;q=0.9,cy;q=0.8", "en"),
        (None, "en;q=0.5, cy;q=0.9", "cy"),
        (None, "fr-FR, de", "en"),
        (None, "cy;q=0, en", "en"),
        (None, "cy;q=nonsense, en;q=0.1", "en"),
        ("en", "cy", "en"),
        ("cy", "en", "cy"),
        ("xx", "cy", "cy"),
    ],
)
def test_the_link_then_the_browser_then_english_choose_the_language(
    query: str | None, header: str | None, expected: str
) -> None:
    assert choose(query, header) == expected


def test_accept_language_is_read_in_order_of_quality() -> None:
    assert accepted("en;q=0.2, cy-GB, fr;q=0.7, *;q=0.1") == ["cy-GB", "fr", "en"]


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_message_is_translated(language: str) -> None:
    with catalogue(language).open("rb") as f:
        po = read_po(f)
    untranslated = [m.id for m in po if m.id and (not m.string or m.fuzzy)]
    assert untranslated == []


@pytest.mark.parametrize("language", TRANSLATED)
def test_the_catalogue_is_up_to_date_with_the_templates(language: str) -> None:
    """Re-extract as `pybabel extract -F babel.cfg` does: a page string added or changed without
    `pybabel update` (and a translation) fails here."""
    with (ROOT / "babel.cfg").open() as f:
        method_map, options_map = parse_mapping_cfg(f)  # type: ignore[no-untyped-call]
    in_templates = {message for _, _, message, *_ in extract_from_dir(str(ROOT), method_map, options_map)}
    with catalogue(language).open("rb") as f:
        in_catalogue = {m.id for m in read_po(f) if m.id}
    assert in_templates and in_catalogue == in_templates
    # The page states the right to object in the words the receipts use (right_to_object.html).
    assert RIGHT_TO_OBJECT in in_templates


@pytest.mark.parametrize("language", TRANSLATED)
def test_the_compiled_catalogue_matches_its_source(language: str) -> None:
    """The shipped .mo is what `pybabel compile` makes of the .po, so no edit is left uncompiled."""
    with catalogue(language).open("rb") as f:
        po = read_po(f)
    compiled = io.BytesIO()
    write_mo(compiled, po)
    assert catalogue(language).with_suffix(".mo").read_bytes() == compiled.getvalue()
    assert translations(language).gettext("Unsubscribe") != "Unsubscribe"
