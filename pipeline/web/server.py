"""Search page (`akhbar serve`): an aiohttp server for the static page and its JSON search API.

The page (static/) is Arabic and right-to-left; it renders every article string with ``textContent`` and the
API returns highlights as plain-text segments, so nothing from an article is ever parsed as HTML. The Content
Security Policy allows scripts from this server only. Leaflet ships in ``static/vendor``; map tiles come from
the configured tile URL (``--tile-url`` / ``AKHBAR_MAP_TILE_URL``).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any

import typer
from aiohttp import web
from pydantic import ValidationError

from pipeline.search import SearchBackend, SearchQuery, SearchResult, parse_when
from pipeline.settings import Settings, load_settings
from processors.errors import ConfigError, TransientError

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"
DEFAULT_TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
DEFAULT_ATTRIBUTION = "© OpenStreetMap contributors"
LIST_PARAMS = {
    "source": "sources",
    "country": "countries",
    "place": "places",
    "person": "persons",
    "organization": "organizations",
    "type": "event_types",
}
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: http: https:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
SETTINGS_KEY = web.AppKey("settings", Settings)
MAP_KEY = web.AppKey("map", dict)
BACKEND_KEY = web.AppKey("backend", SearchBackend)


def query_from_params(params: Any) -> SearchQuery:
    """The search model from the page's query string (``?q=…&source=…&place=…&since=…``)."""
    fields: dict[str, Any] = {name: params.getall(key, []) for key, name in LIST_PARAMS.items()}
    fields["text"] = params.get("q", "")
    fields["since"] = parse_when(params.get("since"), name="since")
    fields["until"] = parse_when(params.get("until"), name="until", end_of_day=True)
    for name in ("sort", "limit", "offset"):
        if params.get(name):
            fields[name] = params[name]
    return SearchQuery(**fields)


@web.middleware
async def security_headers(request: web.Request, handler: Any) -> web.StreamResponse:
    response = await handler(request)
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


async def api_search(request: web.Request) -> web.Response:
    try:
        query = query_from_params(request.query)
    except (ValidationError, typer.BadParameter) as exc:
        return web.json_response({"error": f"bad query: {exc}"}, status=400)
    try:
        result: SearchResult = await request.app[BACKEND_KEY].search(query)
    except ConfigError as exc:  # no store yet, bad settings
        return web.json_response({"error": str(exc)}, status=503)
    except TransientError as exc:
        return web.json_response({"error": str(exc)}, status=503)
    return web.json_response(text=result.model_dump_json())


async def api_config(request: web.Request) -> web.Response:
    return web.json_response(request.app[MAP_KEY])


async def index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "index.html")


async def _close_backend(app: web.Application) -> None:
    app[BACKEND_KEY].close()


def create_app(
    settings: Settings, tile_url: str = DEFAULT_TILES, attribution: str = DEFAULT_ATTRIBUTION
) -> web.Application:
    app = web.Application(middlewares=[security_headers])
    app[SETTINGS_KEY] = settings
    app[MAP_KEY] = {"tile_url": tile_url, "attribution": attribution}
    app[BACKEND_KEY] = SearchBackend(settings)  # one searcher for every request (see SearchBackend)
    app.on_cleanup.append(_close_backend)
    app.router.add_get("/", index)
    app.router.add_get("/api/search", api_search)
    app.router.add_get("/api/config", api_config)
    app.router.add_static("/static/", STATIC)
    return app


def serve_command(
    host: Annotated[str, typer.Option("--host", help="address to listen on (loopback by default)")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535)] = 8080,
    tile_url: Annotated[
        str, typer.Option("--tile-url", envvar="AKHBAR_MAP_TILE_URL", help="map tiles, {z}/{x}/{y} template")
    ] = DEFAULT_TILES,
    attribution: Annotated[
        str, typer.Option("--tile-attribution", envvar="AKHBAR_MAP_TILE_ATTRIBUTION")
    ] = DEFAULT_ATTRIBUTION,
) -> None:
    """Serve the local search page (Arabic, right-to-left) over the embedded store or Elasticsearch."""
    settings = load_settings()
    backend = "embedded store " + str(settings.store_path) if settings.embedded_store else settings.elasticsearch_url
    typer.echo(f"akhbar search page on http://{host}:{port}/ ({backend}); Ctrl-C stops it")
    web.run_app(create_app(settings, tile_url, attribution), host=host, port=port, print=None)


async def start_server(
    settings: Settings, host: str = "127.0.0.1", port: int = 0, **map_options: str
) -> tuple[web.AppRunner, int]:
    """Start the page on ``host:port`` inside a running loop (tests, embedding); returns the bound port."""
    runner = web.AppRunner(create_app(settings, **map_options))
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    return runner, int(runner.addresses[0][1])
