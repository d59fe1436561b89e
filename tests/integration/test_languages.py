"""Welsh and English on the families' pages, and notice wordings versioned per language, over HTTP."""

from __future__ import annotations

import re
import secrets
from typing import Any

from tests.integration.conftest import Api, fresh_email
from tests.integration.test_links import csrf_token, family, links_for, path_of


def html_lang(html: str) -> str:
    found = re.search(r'<html lang="([^"]+)">', html)
    assert found, "the page names its language"
    return found.group(1)


async def purpose_worded_in_both(api: Api) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """A marketing purpose of its own whose English wording is followed by a newer Welsh one."""
    code = f"events_{secrets.token_hex(4)}"
    made = await api.post(
        "/v1/purposes",
        {"code": code, "category": "marketing", "description": "Events", "bases": {"email": "consent"}},
        scope="admin",
    )
    assert made.status_code == 201, made.text
    english = await api.post(
        "/v1/notices", {"purpose": code, "text": f"Hear about our events ({code})"}, scope="admin"
    )
    welsh = await api.post(
        "/v1/notices",
        {"purpose": code, "text": f"Clywed am ein digwyddiadau ({code})", "language": "cy"},
        scope="admin",
    )
    assert english.status_code == welsh.status_code == 201, (english.text, welsh.text)
    assert (english.json()["version"], english.json()["language"]) == (1, "en")
    assert (welsh.json()["version"], welsh.json()["language"]) == (2, "cy")
    return code, english.json(), welsh.json()


async def test_a_welsh_browser_gets_the_pages_in_welsh(api: Api) -> None:
    _, _, _, minted = await family(api)
    welsh = {"Accept-Language": "cy-GB,cy;q=0.9,en;q=0.5"}
    unsubscribe = await api.client.get(path_of(minted["url"]), headers=welsh)
    assert unsubscribe.status_code == 200
    assert html_lang(unsubscribe.text) == "cy"
    assert "Rydych ar fin atal y negeseuon hyn:" in unsubscribe.text
    assert "<strong>drwy e-bost</strong> i" in unsubscribe.text
    assert '<a href="?lang=en" hreflang="en" lang="en">English</a>' in unsubscribe.text
    # The purpose's description comes from the catalogue, in English: marked so on a Welsh page.
    assert '<p class="notice" lang="en">' in unsubscribe.text

    preferences = await api.client.get(path_of(minted["preferences_url"]), headers=welsh)
    assert html_lang(preferences.text) == "cy"
    assert "<legend>Neges destun</legend>" in preferences.text
    assert '<label for="choice:marketing:email:yes">Ie</label>' in preferences.text
    assert "Cadw fy newisiadau" in preferences.text
    # Every family page's own sections: the right to object, stopping all marketing, who runs the pages.
    assert '<h2 id="right-to-object">Eich hawl i wrthwynebu</h2>' in preferences.text
    assert '<button type="submit">Atal pob marchnata</button>' in preferences.text
    assert "sy'n rhedeg y tudalennau hyn." in preferences.text
    assert "You have the right to object" not in preferences.text

    done = await api.client.post(path_of(minted["url"]), headers=welsh)
    assert done.status_code == 200
    assert html_lang(done.text) == "cy" and "Rydych wedi dad-danysgrifio" in done.text
    assert "?lang=cy" in done.text, "the link to the preferences page keeps the language"


async def test_the_link_language_wins_over_the_browser(api: Api) -> None:
    _, _, _, minted = await family(api)
    english = await api.client.get(path_of(minted["url"]) + "?lang=en", headers={"Accept-Language": "cy"})
    assert html_lang(english.text) == "en"
    assert "You are about to stop these messages:" in english.text
    assert '<a href="?lang=cy" hreflang="cy" lang="cy">Cymraeg</a>' in english.text

    no_language = await links_for(api, fresh_email())
    minted_welsh = (
        await api.post(
            "/v1/unsubscribe-links",
            {"to": fresh_email(), "channel": "email", "language": "cy"},
            scope="checks",
        )
    ).json()
    assert minted_welsh["url"].endswith("?lang=cy") and minted_welsh["preferences_url"].endswith("?lang=cy")
    assert minted_welsh["headers"]["List-Unsubscribe"] == f"<{minted_welsh['url']}>"
    page = await api.client.get(path_of(minted_welsh["url"]), headers={"Accept-Language": "en"})
    assert html_lang(page.text) == "cy"
    assert "?lang=" not in no_language["url"], "a link minted with no language leaves it to the browser"


async def test_no_browser_preference_means_english(api: Api) -> None:
    _, _, _, minted = await family(api)
    page = await api.client.get(path_of(minted["preferences_url"]), headers={"Accept-Language": "fr, de"})
    assert html_lang(page.text) == "en" and "Your preferences" in page.text
    unknown = await api.client.get("/preferences/v1.not-a-token", headers={"Accept-Language": "cy"})
    assert unknown.status_code == 404
    assert html_lang(unknown.text) == "cy" and "Nid ydym yn adnabod y ddolen hon" in unknown.text


async def test_an_english_reader_keeps_the_english_wording_after_a_newer_welsh_one(api: Api) -> None:
    code, english, welsh = await purpose_worded_in_both(api)
    _, _, _, minted = await family(api)

    page = (await api.client.get(path_of(minted["preferences_url"]) + "?lang=en")).text
    assert english["text"] in page and welsh["text"] not in page
    assert f'name="notice:{code}" value="1"' in page

    cymraeg = (await api.client.get(path_of(minted["preferences_url"]) + "?lang=cy")).text
    assert welsh["text"] in cymraeg and english["text"] not in cymraeg
    assert f'<p class="notice">{welsh["text"]}</p>' in cymraeg
    assert f'name="notice:{code}" value="2"' in cymraeg
    # The default wording of "marketing" exists in English only: a Welsh page shows it, marked English.
    assert '<p class="notice" lang="en">We would like to send you news' in cymraeg

    listed = (await api.get("/v1/notices", scope="forms", purpose=code, language="cy")).json()["items"]
    assert [(n["version"], n["language"]) for n in listed] == [(2, "cy")]


async def test_a_welsh_reader_agrees_to_the_welsh_wording(api: Api) -> None:
    code, _, welsh = await purpose_worded_in_both(api)
    _, _, person, minted = await family(api)
    url = path_of(minted["preferences_url"]) + "?lang=cy"
    page = (await api.client.get(url)).text
    form = {"_csrf_token": csrf_token(page), f"choice:{code}:email": "yes", f"notice:{code}": "2"}
    saved = await api.client.post(url, data=form)
    assert saved.status_code == 200, saved.text
    assert html_lang(saved.text) == "cy" and "Mae eich dewisiadau wedi'u cadw" in saved.text
    history = (await api.get(f"/v1/people/{person}/history")).json()["items"]
    granted = [e for e in history if e["purpose"] == code and e["decision"] == "granted"]
    assert [e["notice"] for e in granted] == [{"purpose": code, "version": welsh["version"]}]
