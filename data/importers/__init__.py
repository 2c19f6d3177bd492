"""Imports of real municipal files into Lagebild's data sets (plain Python, no streamlit).

Typical use (the *Daten* page and ``python -m data import`` share this path)::

    from data.importers import read_file, suggest_mapping, validate_import
    from data.store import Store

    store = Store()
    raw = read_file("beschwerden.csv")                 # or an st.UploadedFile
    proposal = suggest_mapping("complaints", raw, store)
    report = validate_import("complaints", raw, proposal.mapping, store=store)
    if report.ok:
        store.commit(report)
"""

from data.importers.errors import ImportError_, UsageError_, max_upload_bytes
from data.importers.geocoding import GeocodeCache, GeocoderSettings, geocode_addresses
from data.importers.mapping import COORD_FIELDS, propose_mapping, target_fields
from data.importers.messages import msg
from data.importers.pipeline import (
    ImportReport,
    MappingProposal,
    prepare_import,
    read_file,
    suggest_mapping,
    validate_import,
)
from data.importers.readers import RawTable, read_source

__all__ = [
    "COORD_FIELDS",
    "GeocodeCache",
    "GeocoderSettings",
    "ImportError_",
    "ImportReport",
    "MappingProposal",
    "RawTable",
    "UsageError_",
    "geocode_addresses",
    "max_upload_bytes",
    "msg",
    "prepare_import",
    "propose_mapping",
    "read_file",
    "read_source",
    "suggest_mapping",
    "target_fields",
    "validate_import",
]
