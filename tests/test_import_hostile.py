"""Hostile files (issue #15): each is rejected with a short, precise report or read with its bad
records listed by row and column; never a traceback; the store stays unchanged.

The corpus (tests/hostile_corpus.py) is written at a small scale with lowered limits
(``TEST_ENV``) so that the same checks fire as for the full-size files of bench/hostile.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hostile_corpus import CASES, TEST_ENV, Case
from import_fixtures import shapefile_zip, tree_hash
from streamlit.testing.v1 import AppTest

from data.cli import main
from data.importers import ImportError_, prepare_import
from data.importers.readers import first_long_line, json_depth_offset

REPO = Path(__file__).resolve().parent.parent
MAX_MESSAGE = 600  # characters: messages quote excerpts, never a whole header or line


@pytest.fixture
def limits(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in TEST_ENV.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def store(tmp_path: Path, limits: None) -> Path:
    root = tmp_path / "store"
    assert main(["import", "districts", str(shapefile_zip(tmp_path / "b.zip")), "--store", str(root)]) == 0
    return root


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_file_on_the_command_line(case: Case, tmp_path: Path, store: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / case.name
    case.write(path, False)
    before = tree_hash(store)
    capsys.readouterr()
    args = ["import", case.kind, str(path), "--store", str(store), "--json"]
    code = main(args + (["--dry-run"] if case.outcome == "rows" else []))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    report = json.loads(out.strip().splitlines()[-1])
    assert tree_hash(store) == before
    if case.outcome == "rejected":
        assert code == 1
        assert report["imported"] is False and report["records_accepted"] == 0
        (error,) = report["errors"]
        assert path.name in error["reason"] and len(error["reason"]) < MAX_MESSAGE
        with pytest.raises(ImportError_) as exc:
            prepare_import(case.kind, path)
        assert exc.value.key == case.key
    else:
        assert code in (0, 1)
        assert report["records_total"] > 0
        for e in report["errors"]:
            assert len(str(e["value"])) < MAX_MESSAGE and len(e["reason"]) < MAX_MESSAGE
        if case.row_column is not None:
            rows = [e for e in report["errors"] if e["column"] == case.row_column]
            assert rows and all(isinstance(e["row"], int) and e["row"] >= 1 for e in rows)
            assert report["records_accepted"] >= 1  # the good records are not lost


def test_nan_vertex_is_reported_by_row_and_column(tmp_path: Path, limits: None) -> None:
    case = next(c for c in CASES if c.id == "geojson-nan-vertex")
    path = tmp_path / case.name
    case.write(path, False)
    report = prepare_import("districts", path)
    errors = report.errors
    assert list(errors["row"]) == [2] and list(errors["column"]) == ["geometry"]
    assert "finite" in errors["reason"].iloc[0]
    assert report.records_accepted == 1


def test_lone_surrogates_are_replaced_with_a_note(tmp_path: Path, limits: None) -> None:
    case = next(c for c in CASES if c.id == "json-lone-surrogate")
    path = tmp_path / case.name
    case.write(path, False)
    report = prepare_import("complaints", path)
    assert any("Surrogate" in n for n in report.notes)
    assert "bad \ufffd text" in set(report.frame["description"].dropna())


@pytest.mark.parametrize(("data", "limit", "expected"), [
    (b"abc\ndef\n", 3, None), (b"abc\ndefg\n", 3, (2, 4, 4)), (b"abcd", 3, (1, 0, 4)),
    (b"ab\r\ncd\r\n", 2, None), (b"a\rbb\rccc", 2, (3, 5, 3)), (b"", 1, None),
    (b"x" * (9 * 2**20), 2**20, (1, 0, 4 * 2**20)),  # found within the first chunk
])
def test_first_long_line(data, limit, expected) -> None:
    assert first_long_line(data, limit) == expected


@pytest.mark.parametrize(("data", "limit", "expected"), [
    (b'{"a": [1, [2]]}', 3, None), (b'{"a": [1, [2]]}', 2, 10), (b'{"a": "[[[[[[["}', 1, None),
    (b'{"a": "\\"[[[["}', 1, None), (b'{"a": "\\\\", "b": [[1]]}', 2, 18), (b"[" * 100 + b"]" * 100, 64, 64),
])
def test_json_depth_offset(data, limit, expected) -> None:
    assert json_depth_offset(data, limit) == expected


def test_hostile_files_on_the_daten_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        limits: None) -> None:
    root = tmp_path / "store"
    monkeypatch.setenv("LAGEBILD_STORE", str(root))
    monkeypatch.delenv("LAGEBILD_DATA", raising=False)
    assert main(["import", "districts", str(shapefile_zip(tmp_path / "b.zip")), "--store", str(root)]) == 0
    before = tree_hash(root)
    at = AppTest.from_file(str(REPO / "dashboard.py"), default_timeout=120)
    at.run()
    at.switch_page("pages/daten.py")
    at.run()
    for case in CASES:
        path = tmp_path / case.name
        case.write(path, False)
        at.selectbox(key="dt_kind").set_value(case.kind).run()
        at.file_uploader[0].set_value((case.name, path.read_bytes(), "application/octet-stream")).run()
        assert not at.exception, (case.id, [e.message for e in at.exception])
        errors = " ".join(e.value for e in at.error)
        if case.outcome == "rejected":
            assert case.name in errors and len(errors) < MAX_MESSAGE + 200, case.id
            assert not [b for b in at.button if b.key == "dt_check"], case.id
        else:
            assert not errors, (case.id, errors)
            at.button(key="dt_check").click().run()
            assert not at.exception, (case.id, [e.message for e in at.exception])
            if case.row_column is not None:
                shown = next(d.value for d in at.dataframe if "Zeile" in d.value.columns)
                assert case.row_column in set(shown["Spalte"]), case.id
    assert tree_hash(root) == before
