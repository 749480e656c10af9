"""Web: the local search page served by `akhbar serve` (see ``server``)."""

from pipeline.web.server import create_app, serve_command

__all__ = ["create_app", "serve_command"]
