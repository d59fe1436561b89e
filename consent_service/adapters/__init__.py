"""Adapters that implement domain ports on the outside world."""
