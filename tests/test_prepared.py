"""Prepared data sets (geo.prepared): the same answers as the raw records, never stale."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from data import cli
from data.filters import Filters
from data.folder import DataFolderError, load_folder, write_folder
from data.periods import parse_quarter
from data.roles import Principal, restrict
from geo import model, prepared
from viz import pagedata

REPO = Path(__file__).resolve().parent.parent
TZ = "Europe/Berlin"


def _small_frames() -> tuple[dict[str, pd.DataFrame], dict]:
    """Two districts, three patrols (one with a gap, one without pings), complaints inside,
    outside and without status, over two quarters."""
    rng = np.random.default_rng(3)
    districts = pd.DataFrame({
        "district_id": ["west", "east"], "name": ["West", "Ost"], "population": [1000, 2000],
        "geometry": [box(7.800, 51.670, 7.815, 51.690), box(7.815, 51.670, 7.830, 51.690)]})
    categories = pd.DataFrame({"category": ["laerm", "muell"],
                               "field": ["nachbarschaft", "oeffentliche_raeume"],
                               "label_de": ["Lärm", "Müll"], "label_en": ["Noise", None]})
    n = 400
    received = pd.Timestamp("2025-01-01", tz=TZ) + pd.to_timedelta(
        rng.integers(0, 180 * 86400, n), unit="s")
    complaints = pd.DataFrame({
        "complaint_id": [f"c{i}" for i in range(n)], "received_at": received,
        "category": rng.choice(["laerm", "muell"], n),
        "lat": rng.uniform(51.668, 51.692, n), "lon": rng.uniform(7.798, 7.832, n),
        "status": rng.choice(["open", "closed", None], n)})
    patrols = pd.DataFrame({
        "patrol_id": ["p1", "p2", "p3"],
        "start": pd.to_datetime(["2025-01-10 08:00", "2025-04-03 20:00", "2025-05-01 10:00"]
                                ).tz_localize(TZ),
        "end": pd.to_datetime(["2025-01-10 12:00", "2025-04-04 01:00", "2025-05-01 11:00"]
                              ).tz_localize(TZ),
        "kind": ["kod", "joint", "police"]})
    rows = []
    for pid, start, step, count in (("p1", "2025-01-10 08:00", 60, 200), ("p2", "2025-04-03 20:00", 45,
                                                                            300)):
        t = pd.Timestamp(start, tz=TZ) + pd.to_timedelta(np.arange(count) * step, unit="s")
        if pid == "p2":
            t = t + pd.to_timedelta(np.where(np.arange(count) >= 150, 900, 0), unit="s")  # a gap
        rows.append(pd.DataFrame({"patrol_id": pid, "time": t,
                                  "lat": 51.672 + np.cumsum(rng.uniform(0, 1e-4, count)),
                                  "lon": 7.802 + np.cumsum(rng.uniform(0, 1e-4, count))}))
    pings = pd.concat(rows, ignore_index=True)
    return ({"districts": districts, "categories": categories, "complaints": complaints,
             "patrols": patrols, "patrol_points": pings}, {"name": "klein", "synthetic": True})


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("small") / "data"
    write_folder(folder, *_small_frames())
    prepared.prepare_folder(folder, progress=None, chunk_rows=97)  # many chunks on purpose
    return folder


@pytest.fixture(scope="module")
def demo_copy(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("demo") / "demo"
    shutil.copytree(REPO / "data" / "demo", folder)
    return folder


def _filters(bundle, q: str | None = None, **kw) -> Filters:
    quarter = parse_quarter(q) if q else bundle.quarters()[-1]
    return Filters(quarter, quarter, **kw)


def _assert_same(pb, rb, filters: list[Filters], resolution: int = 9) -> None:
    mp, mr = model.build(pb, resolution), model.build(rb, resolution)
    assert list(mp.index.cells) == list(mr.index.cells)
    pd.testing.assert_frame_equal(mp.complaint_cube, mr.complaint_cube)
    pd.testing.assert_frame_equal(mp.presence_cube, mr.presence_cube, check_exact=False, rtol=1e-12)
    assert pb.quarters() == rb.quarters()
    assert pb.as_of == rb.as_of
    assert pb.counts() == rb.counts()
    for f in filters:
        kp, kr = pagedata.overview_kpis(pb, mp, f), pagedata.overview_kpis(rb, mr, f)
        assert [(k.key, k.current, k.previous, k.z) for k in kp] == \
            [(k.key, k.current, k.previous, k.z) for k in kr]
        pd.testing.assert_frame_equal(model.hotspots(mp, f), model.hotspots(mr, f))
        pd.testing.assert_frame_equal(model.gap(mp, f), model.gap(mr, f), check_exact=False)
        pd.testing.assert_frame_equal(pagedata.district_table(pb, mp, f),
                                      pagedata.district_table(rb, mr, f), check_exact=False)


def test_demo_prepared_gives_the_same_kpis_cubes_hot_spots_and_gaps(demo_copy: Path) -> None:
    assert prepared.is_current(demo_copy)  # copied with the folder: content hashes still match
    pb, rb = prepared.open_bundle(demo_copy, progress=None), load_folder(demo_copy)
    assert not pb.is_loaded("patrol_points") and not pb.is_loaded("complaints")
    filters = [_filters(rb), _filters(rb, "2026-Q2", districts=("mitte",)),
               _filters(rb, "2025-Q4", fields=("nachbarschaft",), hours=(22, 6))]
    for r in (8, 9, 10):
        _assert_same(pb, rb, filters[:1] if r != 9 else filters, r)
    assert not pb.is_loaded("patrol_points") and not pb.is_loaded("complaints")


def test_small_constructed_set_streamed_in_chunks_gives_the_same_answers(small: Path) -> None:
    pb, rb = prepared.open_bundle(small, progress=None), load_folder(small)
    _assert_same(pb, rb, [_filters(rb, "2025-Q1"), _filters(rb, "2025-Q2", districts=("east",)),
                          _filters(rb, "2025-Q2", weekdays=(3, 4))])
    manifest = prepared.read_manifest(small)
    assert manifest["patrols_without_pings"] == 1  # p3
    assert manifest["counts"]["patrol_points"] == 500


def test_restricted_view_equals_restricting_the_raw_records(small: Path, demo_copy: Path) -> None:
    for folder, districts in ((small, ("east",)), (demo_copy, ("mitte", "heessen"))):
        pb, rb = prepared.open_bundle(folder, progress=None), load_folder(folder)
        who = Principal(role="coordinator", districts=districts, name="k")
        rp, rr = restrict(pb, who), restrict(rb, who)
        mp, mr = model.build(rp, 9), model.build(rr, 9)
        pd.testing.assert_frame_equal(mp.complaint_cube, mr.complaint_cube)
        pd.testing.assert_frame_equal(mp.presence_cube, mr.presence_cube, check_exact=False)
        assert rp.counts() == rr.counts() and rp.quarters() == rr.quarters() and rp.as_of == rr.as_of
        f = _filters(rr)
        assert [k.current for k in pagedata.overview_kpis(rp, mp, f)] == \
            [k.current for k in pagedata.overview_kpis(rr, mr, f)]


def test_points_layer_reads_only_the_period_and_matches_the_raw_records(small: Path) -> None:
    pb, rb = prepared.open_bundle(small, progress=None), load_folder(small)
    admin = Principal(role="admin", districts=None, name="a")
    f = _filters(rb, "2025-Q2", districts=("west",))
    got, n = pagedata.complaint_points(pb, f, "de", admin)
    want, m = pagedata.complaint_points(rb, f, "de", admin)
    assert n == m > 0
    pd.testing.assert_frame_equal(got, want)
    assert not pb.is_loaded("complaints")


def test_quality_checks_from_the_summaries_equal_the_raw_ones(small: Path) -> None:
    from data.quality import quality_checks

    pb, rb = prepared.open_bundle(small, progress=None), load_folder(small)
    pd.testing.assert_frame_equal(quality_checks(pb), quality_checks(rb))
    assert not pb.is_loaded("complaints") and not pb.is_loaded("patrol_points")


def test_changing_one_record_rebuilds_the_prepared_form_and_the_cube_changes(tmp_path: Path) -> None:
    frames, meta = _small_frames()
    folder = write_folder(tmp_path / "d", frames, meta, preparer=prepared.prepare_folder)
    assert prepared.is_current(folder)
    before = model.build(prepared.open_bundle(folder, progress=None), 9)
    # Move one complaint into the other category: same file size is likely, the content differs.
    c = frames["complaints"].copy()
    c.loc[0, "category"] = "muell" if c.loc[0, "category"] == "laerm" else "laerm"
    write_folder(folder, {"complaints": c}, meta)
    assert not prepared.is_current(folder)
    messages: list[str] = []
    bundle = prepared.open_bundle(folder, progress=messages.append)
    assert any("rebuilding" in m for m in messages)
    assert prepared.is_current(folder)
    after = model.build(bundle, 9)
    raw = model.build(load_folder(folder), 9)
    pd.testing.assert_frame_equal(after.complaint_cube, raw.complaint_cube)
    changed = before.complaint_cube.merge(after.complaint_cube, how="outer",
                                          on=["cell", "quarter", "category", "weekday", "hour"],
                                          indicator=True)
    assert (changed["_merge"] != "both").any() or not changed["count_x"].equals(changed["count_y"])


def test_missing_or_damaged_prepared_form_is_rebuilt(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "d", *_small_frames())
    assert not (folder / "prepared").exists() and not prepared.is_current(folder)
    prepared.open_bundle(folder, progress=None)
    assert prepared.is_current(folder)
    manifest = folder / "prepared" / "manifest.json"
    doc = json.loads(manifest.read_text())
    doc["format"] = -1  # an older format
    manifest.write_text(json.dumps(doc))
    assert not prepared.is_current(folder)
    prepared.open_bundle(folder, progress=None)
    assert prepared.is_current(folder)
    shutil.rmtree(folder / "prepared")
    bundle = prepared.open_bundle(folder, progress=None)
    assert prepared.is_current(folder) and bundle.counts()["patrol_points"] == 500


def test_same_content_with_new_mtimes_is_still_current(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "d", *_small_frames(), preparer=prepared.prepare_folder)
    (folder / "prepared" / ".stamps.json").unlink()  # as after a git checkout: nothing known
    for p in folder.iterdir():
        if p.is_file():
            p.touch()
    assert prepared.is_current(folder)


def test_invalid_folder_is_not_prepared_and_names_the_problem(tmp_path: Path) -> None:
    frames, meta = _small_frames()
    pings = frames["patrol_points"].copy()
    pings.loc[3, "patrol_id"] = "nobody"
    folder = write_folder(tmp_path / "d", {**frames, "patrol_points": pings}, meta)
    with pytest.raises(DataFolderError, match="unknown patrol_id"):
        prepared.prepare_folder(folder, progress=None, chunk_rows=50)
    assert not (folder / "prepared").exists()


def test_pings_of_a_patrol_must_be_contiguous_across_chunks() -> None:
    frames, _ = _small_frames()
    pings = frames["patrol_points"]
    shuffled = pd.concat([pings.iloc[:100], pings.iloc[250:], pings.iloc[100:250]],
                         ignore_index=True)  # p1, p2, then p1 again
    chunks = [shuffled.iloc[i:i + 120] for i in range(0, len(shuffled), 120)]
    with pytest.raises(ValueError, match="not contiguous"):
        list(prepared._whole_patrols(chunks))


def test_cli_prepare_command(tmp_path: Path, capsys) -> None:
    folder = write_folder(tmp_path / "d", *_small_frames())
    code = cli.main(["prepare", str(folder)], preparer=prepared.prepare_folder)
    assert code == 0 and prepared.is_current(folder)
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["prepared"] is True
    assert cli.main(["prepare", str(folder)]) == 2  # no preparer handed in


def _prepared_files(folder: Path) -> dict[str, object]:
    out: dict[str, object] = {}
    for path in sorted((folder / "prepared").iterdir()):
        if path.suffix == ".parquet":
            out[path.name] = pd.read_parquet(path)
        elif path.name == "manifest.json":
            out[path.name] = json.loads(path.read_text(encoding="utf-8"))
    return out


def _assert_same_files(got: dict[str, object], want: dict[str, object]) -> None:
    assert sorted(got) == sorted(want)
    for name, value in want.items():
        if isinstance(value, pd.DataFrame):
            pd.testing.assert_frame_equal(got[name], value, check_exact=name.startswith(
                ("complaint", "cells", "neighbours")), rtol=1e-12, obj=name)
        elif name == "manifest.json":  # the cell lattices are least-squares fits: their last
            # bits depend on the CPU's vector instructions (the committed demo was built on
            # another machine), so they are equal to 1e-12, like the frames above
            got_lattice, want_lattice = got[name]["lattice"], value["lattice"]
            assert sorted(got_lattice) == sorted(want_lattice)
            for r, matrix in want_lattice.items():
                assert got_lattice[r] == (None if matrix is None else pytest.approx(matrix, rel=1e-12)), r
            assert {**got[name], "lattice": None} == {**value, "lattice": None}, name
        else:
            assert got[name] == value, name


def test_small_chunks_give_the_same_prepared_form_as_the_committed_demo(tmp_path: Path) -> None:
    """Complaints and pings streamed in many chunks: the files equal the committed ones,
    which were built from all records at once."""
    folder = tmp_path / "demo"
    shutil.copytree(REPO / "data" / "demo", folder)
    want = _prepared_files(folder)
    want["manifest.json"].pop("built_s", None)  # a timing an earlier version wrote
    shutil.rmtree(folder / "prepared")
    prepared.prepare_folder(folder, progress=None, chunk_rows=9_000)  # 5 complaint chunks
    _assert_same_files(_prepared_files(folder), want)


def test_chunk_size_does_not_change_the_prepared_form(tmp_path: Path) -> None:
    frames, meta = _small_frames()
    forms = []
    for rows in (7, 97, 10_000):
        folder = write_folder(tmp_path / f"d{rows}", frames, meta)
        prepared.prepare_folder(folder, progress=None, chunk_rows=rows)
        forms.append(_prepared_files(folder))
    for form in forms[:-1]:
        _assert_same_files(form, forms[-1])


def test_streamed_complaints_are_checked_across_chunks(tmp_path: Path) -> None:
    frames, meta = _small_frames()
    c = frames["complaints"].copy()
    c.loc[350, "complaint_id"] = c.loc[5, "complaint_id"]  # in another chunk of 97 rows
    folder = write_folder(tmp_path / "dup", {**frames, "complaints": c}, meta)
    with pytest.raises(DataFolderError, match=r"row 351.*duplicate id") as info:
        prepared.prepare_folder(folder, progress=None, chunk_rows=97)
    with pytest.raises(DataFolderError) as whole:  # rows count from 1, as loading whole does
        load_folder(folder)
    assert list(info.value.errors["row"]) == list(whole.value.errors["row"]) == [351]
    c = frames["complaints"].copy()
    c.loc[250, "lat"] = 95.0  # invalid, in the third chunk: the row counts over the file
    folder = write_folder(tmp_path / "lat", {**frames, "complaints": c}, meta)
    with pytest.raises(DataFolderError) as info:
        prepared.prepare_folder(folder, progress=None, chunk_rows=97)
    with pytest.raises(DataFolderError) as whole:
        load_folder(folder)
    assert list(info.value.errors["row"]) == list(whole.value.errors["row"]) == [251]
    assert not (folder / "prepared").exists()


def test_a_missing_file_is_fetched_once_from_the_source_the_prepared_form_names(small: Path,
                                                                                tmp_path: Path) -> None:
    """A prepared form whose complaint cubes are elsewhere (a database replica) reads each once,
    when first used, also when several threads ask at once; without a source it fails as before."""
    import threading

    copy = tmp_path / "copy"
    shutil.copytree(small, copy)
    folder = prepared.prepared_dir(copy)
    kept = {p.name: p.read_bytes() for p in folder.glob("complaint_cube_r*.parquet")}
    assert sorted(kept) == ["complaint_cube_r10.parquet", "complaint_cube_r8.parquet",
                            "complaint_cube_r9.parquet"]
    for name in kept:
        (folder / name).unlink()
    asked: list[str] = []
    gate = threading.Barrier(4)

    def fetch(name: str) -> bytes:
        asked.append(name)
        return kept[name]

    form = prepared.read_prepared(copy)
    with pytest.raises(FileNotFoundError):
        form.view(8)
    form = prepared.read_prepared(copy)
    form.fetch = fetch
    cubes: list[pd.DataFrame] = []

    def read() -> None:
        gate.wait()
        cubes.append(form.view(9)[1])

    threads = [threading.Thread(target=read) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert asked == ["complaint_cube_r9.parquet"]
    want = prepared.read_prepared(small).view(9)[1]
    for cube in cubes:
        pd.testing.assert_frame_equal(cube, want)
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith(("complaint_cube", ".complaint"))) \
        == ["complaint_cube_r9.parquet"]  # no partial file left
