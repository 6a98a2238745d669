"""A private in-memory DuckDB connection for the derivations (response, therapy, IMWG).

The derivations run SQL over frames they register themselves; the connection they use needs
no file, no network and no extension, so all three are off and the configuration is locked
(docs/security.md, "Locked-down engines").
"""

from __future__ import annotations

from typing import Any

from mmrwe.core.safety import DUCKDB_SAFE_CONFIG


def private_duckdb() -> Any:
    """A plain in-memory DuckDB connection that reads only the frames registered on it.

    External access (files, network, replacement scans of Python variables) and extension
    installation are off and the configuration is locked.
    """
    import duckdb

    con = duckdb.connect(config=dict(DUCKDB_SAFE_CONFIG))
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
    return con
