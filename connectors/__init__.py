"""Connectors: sources that fetch Arabic news and publish raw articles."""
