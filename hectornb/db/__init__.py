"""PostgreSQL, the platform's one system of record: connections and schema migrations."""

from .engine import connect, database_url, pool
from .migrate import migrate

__all__ = ["connect", "database_url", "migrate", "pool"]
