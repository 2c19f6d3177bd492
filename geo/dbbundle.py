"""A replica's view of the database store: the prepared form and the small tables.

What :func:`geo.prepared.open_bundle` is for a data folder, :func:`open_db_bundle` is for
one generation of :class:`data.dbstore.DbStore`: it reads the generation's prepared files
(stored with the generation, in its transaction, see :func:`data.dbstore.store_prepared`)
and its small tables (districts, categories, patrols, offices, staff incidents, focus
areas), and nothing else. The raw complaints and pings stay in PostgreSQL: the
coordinators' single-complaint layer asks SQL for the rows it shows
(:meth:`DataBundle.points <data.folder.DataBundle>`, :mod:`data.dbstore.records`), and the
rare reader of whole raw sets (exports) reads them on first use.

A replica starts with the files a first page needs (cells, neighbours, presence cubes, the
complaint summary: :data:`LATER` names the others) and reads each complaint cube from the
database when it is first used (the default resolution's in the background at once, the
others only when a user picks that cell size): at region scale they are more than half of
the prepared form's bytes.

A generation written without a preparer has no prepared form; it is then built in
memory from its canonical rows (:func:`data.dbstore.bundle_of`, the slow path of small
data sets).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import weakref
from pathlib import Path

from data import contracts
from data.dbstore import LARGE, DbStore
from data.folder import DataBundle, prepare
from data.privacy import cell_key_secret, secret_tag
from geo.prepared import FORMAT_VERSION, MANIFEST, PREPARED_DIR, attach, read_prepared

#: The prepared files (a SQL LIKE pattern of names) a replica reads when first used, not at start.
LATER = "complaint\\_cube\\_r%"


def open_db_bundle(store: DbStore, generation: int) -> DataBundle:
    """The app's bundle of one generation: small tables and the prepared form (see above)."""
    files = store.prepared_files(generation, later=LATER)
    manifest = json.loads(files[MANIFEST]) if MANIFEST in files else None
    if (not isinstance(manifest, dict) or manifest.get("format") != FORMAT_VERSION
            or manifest.get("cell_key") != secret_tag(cell_key_secret(os.environ))):
        # no prepared form, an old one, or key sums made with another cell key secret than
        # this replica's (they would publish a viewer's counts under a second noise): built
        # from the rows instead, with this replica's secret
        return store.load_bundle(generation)
    folder = Path(tempfile.mkdtemp(prefix=f"lagebild-db-g{generation}-"))
    try:
        target = folder / PREPARED_DIR
        for name, body in files.items():
            path = target / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(body)
        del files
        prepared = read_prepared(folder)
        prepared.fetch = lambda name: store.prepared_file(generation, name)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    # the cube files stay until the prepared form is garbage (restricted views share it)
    weakref.finalize(prepared, shutil.rmtree, folder, True)
    small = store.small_frames(generation)
    bundle = prepare({**small, **{n: contracts.empty_frame(n) for n in LARGE}},
                     store.meta(generation), None)
    derived = dict(bundle.frames)  # districts and categories for the rows read later
    for name in LARGE:
        del bundle.frames[name]
        bundle.lazy[name] = (lambda n=name: store.read_records(generation, n, derived))
    bundle.reader = (lambda name, start=None, end=None:
                     store.read_records(generation, name, derived, start, end))
    bundle.points = (lambda f, scope, limit:
                     store.query_points(generation, derived, f, scope, limit))
    return attach(bundle, prepared)
