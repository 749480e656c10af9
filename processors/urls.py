"""Identity: canonical URLs and the article id derived from them (sha256 of the canonical URL's identity form).

Canonicalisation is conservative: it removes what never changes the article (tracking parameters, fragments,
default ports, letter case of scheme and host, a trailing ``index.html``) and keeps everything else, because
two different articles must never share an id.
"""

from __future__ import annotations

import hashlib
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

TRACKING_PARAMS = frozenset(
    {
        "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "igshid", "mc_cid", "mc_eid",
        "_ga", "_gl", "ref", "ref_src", "ref_url", "cmpid", "ocid", "ito", "at_medium", "at_campaign",
        "xtor", "s_cid", "spm", "share", "from", "amp", "output", "rss", "feed_id",
        "fb_action_ids", "fb_action_types", "fb_source", "fb_ref", "action_object_map", "action_type_map",
        "action_ref_map", "mkt_tok", "_hsenc", "_hsmi", "hsctatracking", "oly_anon_id", "oly_enc_id", "vero_id",
        "rb_clickid", "s_kwcid", "ef_id", "trk", "trkcampaign", "guccounter", "soc_src", "soc_trk", "ncid",
        "sr_share", "icid", "cmp", "__twitter_impression", "twclid", "ttclid", "li_fat_id", "srsltid",
    }
)  # fmt: skip
TRACKING_PREFIXES = ("utm_", "at_", "pk_", "mtm_", "hsa_", "sc_", "matomo_", "piwik_")
DEFAULT_PORTS = {"http": 80, "https": 443}


def _is_tracking(name: str) -> bool:
    lowered = name.lower()
    return lowered in TRACKING_PARAMS or lowered.startswith(TRACKING_PREFIXES)


def canonical_url(url: str) -> str:
    """Return the canonical form of ``url`` (raises ``ValueError`` when it is not an http(s) URL)."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {url!r}")
    try:
        host = parts.hostname.encode("idna").decode("ascii").lower()
        port = parts.port
    except (UnicodeError, ValueError) as exc:
        raise ValueError(f"bad host or port in {url!r}: {exc}") from exc
    netloc = host if port in (None, DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    # Re-quote the path so that percent-encoded and raw Arabic paths give one id.
    path = quote(unquote(parts.path), safe="/:@!$&'()*+,;=-._~") or "/"
    if path.endswith(("/index.html", "/index.php")):
        path = path.rsplit("/", 1)[0] + "/"
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _is_tracking(k)]
    query.sort()
    # Scheme and "www." are kept so the URL still opens (http-only sites, bare domains that do not resolve);
    # the article id ignores both.
    return urlunsplit((scheme, netloc, path, urlencode(query, doseq=True), ""))


def identity_url(url: str) -> str:
    """The form the article id hashes: canonical, with https and without a leading "www."."""
    parts = urlsplit(canonical_url(url))
    return urlunsplit(("https", parts.netloc.removeprefix("www."), parts.path, parts.query, ""))


def article_id(url: str) -> str:
    """sha256 hex of ``identity_url(url)``: https and http, www and bare host name one article on every
    news site we know, so the id ignores those differences."""
    return hashlib.sha256(identity_url(url).encode("utf-8")).hexdigest()
