"""The TAP service: ADQL 2.1 over PostgreSQL, TAP_SCHEMA, uploads, UWS jobs, publishing.

- `translate` turns ADQL into PostgreSQL through a real grammar (``adql.lark``);
- `TapService` runs queries read-only for a user, within MAXREC and a time limit;
- `ingest_file` / `ingest_table` publish a VOTable, FITS, CSV or Parquet table;
- `result` writes VOTable (TABLEDATA, BINARY2), CSV, TSV and FITS, and DALI errors.
"""

from .catalog import Catalog, TapColumn, TapTable
from .ingest import IngestError, ingest_file, ingest_table
from .service import TapError, TapService, Upload
from .translate import ADQLError, translate

__all__ = [
    "ADQLError",
    "Catalog",
    "IngestError",
    "TapColumn",
    "TapError",
    "TapService",
    "TapTable",
    "Upload",
    "ingest_file",
    "ingest_table",
    "translate",
]
