"""Which wording a family is shown: the newest in their language, never another language's newer one."""

from __future__ import annotations

from datetime import UTC, datetime

from consent_service.domain.notices import NoticeVersion, newest_for, text_digest

AT = datetime(2026, 12, 7, tzinfo=UTC)


def notice(purpose: str, version: int, language: str, text: str) -> NoticeVersion:
    return NoticeVersion(f"{purpose}-{version}", purpose, version, language, text, text_digest(text), AT)


ENGLISH_1 = notice("marketing", 1, "en", "News from us")
ENGLISH_2 = notice("marketing", 2, "en", "News from us, reworded")
WELSH_3 = notice("marketing", 3, "cy", "Newyddion gennym ni")
TESTIMONIAL_EN = notice("testimonial", 1, "en", "Share your story")
ALL = [ENGLISH_1, ENGLISH_2, WELSH_3, TESTIMONIAL_EN]


def test_an_english_reader_keeps_the_english_wording_after_a_newer_welsh_one() -> None:
    assert newest_for(ALL, "en") == {"marketing": ENGLISH_2, "testimonial": TESTIMONIAL_EN}


def test_a_welsh_reader_gets_welsh_where_it_exists_and_english_elsewhere() -> None:
    assert newest_for(ALL, "cy") == {"marketing": WELSH_3, "testimonial": TESTIMONIAL_EN}


def test_a_newer_english_wording_does_not_replace_an_older_welsh_one_for_welsh_readers() -> None:
    english_4 = notice("marketing", 4, "en", "News from us, reworded again")
    assert newest_for([*ALL, english_4], "cy")["marketing"] == WELSH_3
    assert newest_for([*ALL, english_4], "en")["marketing"] == english_4


def test_a_region_tagged_wording_suits_every_reader_of_the_language() -> None:
    welsh_gb = notice("marketing", 5, "cy-GB", "Newyddion")
    assert newest_for([*ALL, welsh_gb], "cy")["marketing"] == welsh_gb
    assert newest_for([*ALL, welsh_gb], "en")["marketing"] == ENGLISH_2


def test_a_purpose_worded_only_in_another_language_still_shows_that_wording() -> None:
    only_welsh = notice("events", 1, "cy", "Digwyddiadau")
    assert newest_for([only_welsh], "en") == {"events": only_welsh}
