"""Processors: pure-Python stages over typed records (no Kafka, no Faust)."""
