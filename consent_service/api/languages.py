"""Welsh and English on the families' pages: which language a request gets, and its translations.

The page text lives in gettext catalogues (``locale/<lang>/LC_MESSAGES/messages.po``, kept with
Babel's ``pybabel extract/update/compile`` from ``babel.cfg``) and reaches the templates through
Jinja's ``i18n`` extension. The language is chosen, in order, by the link's ``lang`` query parameter
(outside the signed token: the language is a display choice, not a capability), then the
``Accept-Language`` header, then English. The page's own switch is a ``?lang=`` link on the same
token. Staff pages are English only and never translated.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from babel.core import negotiate_locale
from babel.support import NullTranslations, Translations
from jinja2 import Environment, pass_context
from jinja2.runtime import Context
from litestar import Request

#: The languages the families' pages are written in; the first is the fallback.
SUPPORTED = ("en", "cy")
DEFAULT = SUPPORTED[0]
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "messages"
#: Only the families' pages (and the accessibility statement they link to) are translated; a staff page
#: stays English whatever the browser asks.
TRANSLATED_PREFIXES = ("/unsubscribe/", "/preferences/", "/accessibility")
_STATE_KEY = "page_language"


@cache
def translations(language: str) -> NullTranslations:
    """The compiled catalogue for one language (English is the source text, so it has none)."""
    if language == DEFAULT:
        return NullTranslations()
    return Translations.load(str(LOCALE_DIR), [language], DOMAIN)


def accepted(header: str) -> list[str]:
    """The languages of an ``Accept-Language`` header, most wanted first (RFC 9110 §12.5.4).

    Hand-written because neither Litestar nor Babel parses the header's quality values (Babel's
    ``negotiate_locale`` needs the list already in order); a malformed entry is skipped, never an error.
    """
    weighted: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        tag = tag.strip()
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if tag and tag != "*" and quality > 0:
            weighted.append((-quality, index, tag))
    return [tag for _, _, tag in sorted(weighted)]


def choose(query: str | None, accept_language: str | None) -> str:
    """The link's ``lang`` when it names a language we write in, else the browser's, else English."""
    if query in SUPPORTED:
        return query
    if accept_language:
        # Babel matches "cy-GB" to "cy" and ignores case; the separator is the header's hyphen.
        found = negotiate_locale(accepted(accept_language), SUPPORTED, sep="-")
        if found:
            return found.lower()
    return DEFAULT


def page_language(request: Request[Any, Any, Any]) -> str:
    """The language of this request's page, worked out once and kept on the request."""
    if not request.url.path.startswith(TRANSLATED_PREFIXES):
        return DEFAULT
    language = request.state.get(_STATE_KEY)
    if language is None:
        language = choose(request.query_params.get("lang"), request.headers.get("accept-language"))
        request.state[_STATE_KEY] = language
    return str(language)


def _request_translations(context: Context) -> NullTranslations:
    request = context.get("request")
    return translations(page_language(request)) if request is not None else translations(DEFAULT)


@pass_context
def _gettext(context: Context, message: str) -> str:
    return _request_translations(context).gettext(message)


@pass_context
def _ngettext(context: Context, singular: str, plural: str, n: int) -> str:
    return _request_translations(context).ngettext(singular, plural, n)


@pass_context
def _language(context: Context) -> str:
    request = context.get("request")
    return page_language(request) if request is not None else DEFAULT


def install(environment: Environment) -> None:
    """Give the templates ``_``/``gettext``/``ngettext`` that translate into the request's language.

    One environment serves every request at once, so rather than installing one language's
    translations per request (a race between two families' pages rendering together), the
    callables installed here look the language up on the request each template is rendered for.
    """
    environment.add_extension("jinja2.ext.i18n")
    environment.install_gettext_callables(  # type: ignore[attr-defined]
        _gettext, _ngettext, newstyle=True
    )
    environment.globals["page_language"] = _language
