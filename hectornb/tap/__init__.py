"""The TAP service: ADQL 2.1 over PostgreSQL, TAP_SCHEMA, uploads, UWS jobs, publishing.

- `translate` turns ADQL into PostgreSQL through a real grammar (package `adql`);
- `TapService` runs queries read-only for a user, within MAXREC and a time limit;
- `ingest_file` / `ingest_table` publish a VOTable, FITS, CSV or Parquet table;
- `result` writes VOTable (TABLEDATA, BINARY2), CSV, TSV and FITS, and DALI errors.

Names load on first use (see `hectornb._lazy`).
"""

from .._lazy import lazy_names

__getattr__, __dir__, __all__ = lazy_names(
    __name__,
    {
        "ADQLError": ".adql",
        "translate": ".adql",
        "TableSet": ".tableset",
        "TapColumn": ".catalog",
        "TapTable": ".catalog",
        "IngestError": ".ingest",
        "ingest_file": ".ingest",
        "ingest_table": ".ingest",
        "TapError": ".service",
        "TapService": ".service",
        "Upload": ".service",
    },
)
