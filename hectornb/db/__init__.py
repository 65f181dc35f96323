"""PostgreSQL, the platform's one system of record: connections and schema migrations."""

from .engine import DatabaseBusy, connect, database_url, pool
from .health import DatabaseUnavailable
from .migrate import migrate

__all__ = ["DatabaseBusy", "DatabaseUnavailable", "connect", "database_url", "migrate", "pool"]
