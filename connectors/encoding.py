"""Connectors: decode fetched bytes — BOM, then HTTP header, then XML/HTML declaration, then detection.

Arabic sites still serve windows-1256 and ISO-8859-6. A declared charset is trusted only if it names a known
codec and decodes the body strictly; otherwise the next, less trusted, clue is tried. Detection tries strict
UTF-8 first, then charset-normalizer (limited to Arabic code pages when the source is Arabic, where it is
otherwise easily fooled by Cyrillic or Greek single-byte tables).
"""

from __future__ import annotations

import codecs
import re

from charset_normalizer import from_bytes

BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))
XML_DECL = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._:-]+)["']""")
HTML_META = re.compile(
    rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9._:-]+)""",
    re.IGNORECASE,
)
ARABIC_CODEPAGES = ["utf_8", "cp1256", "iso8859_6", "cp720", "cp864"]


def codec_name(label: str | None) -> str | None:
    """Python's canonical name for an encoding label, or None when unknown."""
    if not label:
        return None
    label = label.strip().lower()
    if label in ("x-user-defined", "unicode"):
        return None
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def declared_encoding(body: bytes) -> str | None:
    """The label in an XML declaration or HTML ``<meta charset>`` near the start of ``body``."""
    head = body[:4096]
    match = XML_DECL.match(head) or HTML_META.search(head)
    return match.group(1).decode("ascii") if match else None


def _strict(body: bytes, name: str) -> str | None:
    """``body`` decoded strictly, or None; a UTF-8 body cut short inside its last character still counts as
    UTF-8 (a dropped connection), else detection would take it for a single-byte code page (mojibake)."""
    try:
        return body.decode(name)
    except UnicodeDecodeError as exc:
        if name == "utf-8" and exc.reason == "unexpected end of data" and exc.end == len(body):
            return body.decode(name, errors="replace")
        return None
    except LookupError:
        return None


def _try(body: bytes, label: str | None) -> tuple[str, str] | None:
    name = codec_name(label)
    if name is None:
        return None
    text = _strict(body, name)
    return None if text is None else (text, name)


def detect(body: bytes, language: str | None = "ar") -> str:
    """Best guess of the encoding of ``body`` (strict UTF-8 first)."""
    if _strict(body, "utf-8") is not None:
        return "utf-8"
    isolation = ARABIC_CODEPAGES if (language or "").startswith("ar") else None
    best = from_bytes(body[:200_000], cp_isolation=isolation).best()
    if best is None:
        return "cp1256" if isolation else "utf-8"
    return codec_name(best.encoding) or "utf-8"


def decode_body(body: bytes, header_charset: str | None, language: str | None = "ar") -> tuple[str, str]:
    """Return ``(text, encoding)``; never raises (last resort is lossy UTF-8)."""
    for bom, name in BOMS:
        if body.startswith(bom):
            return body[len(bom) :].decode(name, errors="replace"), name
    for label in (header_charset, declared_encoding(body)):
        decoded = _try(body, label)
        if decoded is not None:
            return decoded
    name = detect(body, language)
    return body.decode(name, errors="replace"), name


def declared_as_utf8(text: str) -> str:
    """Rewrite an XML declaration's encoding to UTF-8 (the text is about to be re-encoded as UTF-8)."""
    return re.sub(r"""^(\s*<\?xml[^>]*?encoding\s*=\s*)["'][^"']*["']""", r'\1"utf-8"', text, count=1)
