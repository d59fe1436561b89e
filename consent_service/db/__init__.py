"""Persistence: SQLAlchemy tables, the unit of work and its repositories. The only place SQL lives."""

from consent_service.db.engine import SqlStore, connect
from consent_service.db.models import metadata

__all__ = ["SqlStore", "connect", "metadata"]
