"""Identity: canonical URLs and the article id derived from them (sha256 of the canonical URL).

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
    }
)  # fmt: skip
TRACKING_PREFIXES = ("utm_", "at_", "pk_", "mtm_", "hsa_")
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
    host = parts.hostname.encode("idna").decode("ascii").lower().removeprefix("www.")
    port = parts.port
    netloc = host if port in (None, DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    # Re-quote the path so that percent-encoded and raw Arabic paths give one id.
    path = quote(unquote(parts.path), safe="/:@!$&'()*+,;=-._~") or "/"
    if path.endswith(("/index.html", "/index.php")):
        path = path.rsplit("/", 1)[0] + "/"
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _is_tracking(k)]
    query.sort()
    # https and http name the same article on every news site we know: ids ignore the scheme difference.
    return urlunsplit(("https", netloc, path, urlencode(query, doseq=True), ""))


def article_id(url: str) -> str:
    """sha256 hex of the canonical form of ``url``."""
    return hashlib.sha256(canonical_url(url).encode("utf-8")).hexdigest()
