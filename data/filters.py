"""The shared filters: one state, its URL form, and how it selects records.

A :class:`Filters` value is what every page shows. It round-trips through the URL query
string (:func:`to_query` / :func:`from_query`) so a link reproduces the view; invalid values
in a URL are dropped with a notice instead of failing.

URL keys::

    q    quarter range "2025-Q1..2026-Q3" (or one quarter "2026-Q3")
    d    districts, comma-separated district ids
    f    Masterplan fields (nachbarschaft, oeffentliche_raeume, infrastruktur)
    c    categories
    k    patrol kinds (kod, joint, police)
    wd   weekdays 0..6 (0 = Monday)
    h    hour window "18-6" = from 18:00 to 06:00 (wraps past midnight when from > to)

Empty selections mean "all".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from data.contracts import FIELDS, PATROL_KINDS
from data.periods import parse_quarter, quarter_label


@dataclass(frozen=True)
class Filters:
    q_from: int
    q_to: int
    districts: tuple[str, ...] = ()
    fields: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    weekdays: tuple[int, ...] = ()
    hours: tuple[int, int] = (0, 24)

    def __post_init__(self) -> None:
        if self.q_from > self.q_to:
            raise ValueError(f"q_from must not be after q_to, got {quarter_label(self.q_from)!r} > "
                             f"{quarter_label(self.q_to)!r}")
        h0, h1 = self.hours
        if not (0 <= h0 <= 23 and 1 <= h1 <= 24 and h0 != h1):
            raise ValueError(f"hours must be (from 0..23, to 1..24, from != to), got {self.hours!r}")
        bad = [d for d in self.weekdays if d not in range(7)]
        if bad:
            raise ValueError(f"weekdays must be 0..6, got {bad!r}")
        bad_k = [k for k in self.kinds if k not in PATROL_KINDS]
        if bad_k:
            raise ValueError(f"patrol kinds must be among {PATROL_KINDS}, got {bad_k!r}")

    @property
    def quarters(self) -> list[int]:
        return list(range(self.q_from, self.q_to + 1))

    @property
    def n_quarters(self) -> int:
        return self.q_to - self.q_from + 1

    def previous(self) -> Filters:
        """The same filters over the period of equal length just before."""
        n = self.n_quarters
        return replace(self, q_from=self.q_from - n, q_to=self.q_to - n)

    def hour_mask(self) -> np.ndarray:
        """24 booleans: which hours of the day the window covers."""
        h0, h1 = self.hours
        hours = np.arange(24)
        return (hours >= h0) & (hours < h1) if h0 < h1 else (hours >= h0) | (hours < h1)

    def weekday_mask(self) -> np.ndarray:
        mask = np.zeros(7, dtype=bool)
        mask[list(self.weekdays) if self.weekdays else slice(None)] = True
        return mask

    def patrol_kinds(self) -> tuple[str, ...]:
        return self.kinds or PATROL_KINDS

    def period_label(self) -> str:
        if self.q_from == self.q_to:
            return quarter_label(self.q_from)
        return f"{quarter_label(self.q_from)} – {quarter_label(self.q_to)}"


@dataclass(frozen=True)
class Vocabulary:
    """What values exist in the loaded data (to check URL values against)."""

    quarters: tuple[int, ...]
    districts: tuple[str, ...]
    categories: tuple[str, ...]
    category_field: Mapping[str, str] = field(default_factory=dict)


def default_filters(vocab: Vocabulary, latest_complete: int) -> Filters:
    return Filters(q_from=latest_complete, q_to=latest_complete)


def to_query(f: Filters) -> dict[str, str]:
    """The URL query form; the period is always written, empty selections never."""
    q = {"q": quarter_label(f.q_from) if f.q_from == f.q_to
         else f"{quarter_label(f.q_from)}..{quarter_label(f.q_to)}"}
    for key, values in (("d", f.districts), ("f", f.fields), ("c", f.categories),
                        ("k", f.kinds), ("wd", f.weekdays)):
        if values:
            q[key] = ",".join(str(v) for v in values)
    if f.hours != (0, 24):
        q["h"] = f"{f.hours[0]}-{f.hours[1]}"
    return q


def _split(value: str | Iterable[str] | None) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, str):
        value = ",".join(value)
    return [v.strip() for v in value.split(",") if v.strip()]


def from_query(params: Mapping[str, object], vocab: Vocabulary, default: Filters
               ) -> tuple[Filters, list[str]]:
    """Filters from URL parameters; unknown values are dropped and listed as notices.

    Notices are plain English sentences of the form ``"<key>: ignored <value>"`` for the
    UI to translate/show.
    """
    notices: list[str] = []
    out = default

    def keep(key: str, values: list[str], allowed: Iterable[object]) -> tuple[str, ...]:
        allowed_set = {str(a) for a in allowed}
        good = [v for v in dict.fromkeys(values) if v in allowed_set]
        bad = [v for v in values if v not in allowed_set]
        if bad:
            notices.append(f"{key}: ignored {', '.join(repr(b) for b in bad)}")
        return tuple(good)

    raw_q = params.get("q")
    if raw_q:
        text = str(raw_q if isinstance(raw_q, str) else next(iter(raw_q), ""))
        try:
            a, _, b = text.partition("..")
            q0, q1 = parse_quarter(a), parse_quarter(b or a)
            if q0 > q1:
                q0, q1 = q1, q0
            known = set(vocab.quarters)
            if q0 not in known or q1 not in known:
                raise ValueError(f"quarter not in the data, got {text!r}")
            out = replace(out, q_from=q0, q_to=q1)
        except ValueError:
            notices.append(f"q: ignored {text!r}")
    out = replace(out, districts=keep("d", _split(params.get("d")), vocab.districts))
    out = replace(out, fields=keep("f", _split(params.get("f")), FIELDS))
    out = replace(out, categories=keep("c", _split(params.get("c")), vocab.categories))
    out = replace(out, kinds=keep("k", _split(params.get("k")), PATROL_KINDS))
    wd = keep("wd", _split(params.get("wd")), [str(i) for i in range(7)])
    out = replace(out, weekdays=tuple(sorted(int(w) for w in wd)))
    raw_h = params.get("h")
    if raw_h:
        text = str(raw_h if isinstance(raw_h, str) else next(iter(raw_h), ""))
        try:
            a, b = text.split("-")
            out = replace(out, hours=(int(a), int(b)))
        except ValueError:
            notices.append(f"h: ignored {text!r}")
    return out, notices


def _quarter_mask(values: np.ndarray, f: Filters, quarters: Iterable[int] | None) -> np.ndarray:
    if quarters is None:
        return (values >= f.q_from) & (values <= f.q_to)
    return np.isin(values, np.asarray(list(quarters)))


def complaint_mask(frame: pd.DataFrame, f: Filters, quarters: Iterable[int] | None = None
                   ) -> np.ndarray:
    """Boolean mask of the complaints the filters select (optionally other quarters).

    Needs the derived columns ``quarter``, ``district_id``, ``weekday`` and ``hour``.
    """
    mask = _quarter_mask(frame["quarter"].to_numpy(), f, quarters)
    if f.districts:
        mask &= frame["district_id"].isin(f.districts).to_numpy()
    if f.fields:
        mask &= frame["field"].isin(f.fields).to_numpy()
    if f.categories:
        mask &= frame["category"].isin(f.categories).to_numpy()
    if f.weekdays:
        mask &= f.weekday_mask()[frame["weekday"].to_numpy()]
    if f.hours != (0, 24):
        mask &= f.hour_mask()[frame["hour"].to_numpy()]
    return mask


def incident_mask(frame: pd.DataFrame, f: Filters, quarters: Iterable[int] | None = None
                  ) -> np.ndarray:
    """Staff incidents: period, districts, weekday and hour window (no category)."""
    mask = _quarter_mask(frame["quarter"].to_numpy(), f, quarters)
    if f.districts:
        mask &= frame["district_id"].isin(f.districts).to_numpy()
    if f.weekdays:
        mask &= f.weekday_mask()[frame["weekday"].to_numpy()]
    if f.hours != (0, 24):
        mask &= f.hour_mask()[frame["hour"].to_numpy()]
    return mask


def count(frame: pd.DataFrame, mask: np.ndarray, by: str | list[str] | None = None,
          publisher=None) -> float | pd.Series:
    """How many records the mask selects, in total or per ``by``.

    Works on raw records (one row each) and on summaries whose column ``n`` holds how many
    records a row stands for (see :attr:`data.folder.DataBundle.complaint_table`).
    ``publisher`` (a :class:`data.privacy.Publisher`, the bundle's): the counts as published
    to its principal (cell key method on the summary's ``key_sum``; NaN: suppressed below k).
    """
    weights = frame["n"].to_numpy() if "n" in frame.columns else None
    if publisher is not None:
        if weights is None or "key_sum" not in frame.columns:
            raise ValueError(f"count: publishing needs the columns 'n' and 'key_sum', "
                             f"got {list(frame.columns)!r}")
        if by is None:
            return publisher.one(float(weights[mask].sum()), float(frame["key_sum"].to_numpy()[mask].sum()))
        n, key_sums = _sums_by(frame, mask, [by] if isinstance(by, str) else list(by))
        return publisher.series(n, key_sums)
    if by is None:
        return float(mask.sum()) if weights is None else float(weights[mask].sum())
    sel = frame.loc[mask]
    if weights is None:
        return sel.groupby(by, observed=True).size()
    return sel.groupby(by, observed=True)["n"].sum()


def _sums_by(frame: pd.DataFrame, mask: np.ndarray, by: list[str]) -> tuple[pd.Series, pd.Series]:
    """``n`` and ``key_sum`` of the rows in ``mask`` summed per ``by`` (groups with rows only;
    rows with a missing ``by`` value are left out, as in a groupby): one bincount per column."""
    codes, levels = [], []
    for col in by:
        values = frame[col]
        if isinstance(values.dtype, pd.CategoricalDtype):
            codes.append(values.cat.codes.to_numpy()[mask].astype(np.int64))
            levels.append(pd.Index(values.cat.categories))
        else:
            found, uniques = pd.factorize(values.to_numpy()[mask], sort=True)
            codes.append(found.astype(np.int64))
            levels.append(pd.Index(uniques))
    shape = tuple(max(len(level), 1) for level in levels)
    ok = np.logical_and.reduce([c >= 0 for c in codes]) if codes else np.ones(0, dtype=bool)
    key = np.ravel_multi_index([c[ok] for c in codes], shape) if len(ok) else np.zeros(0, np.int64)
    size = int(np.prod(shape))
    n = np.bincount(key, weights=frame["n"].to_numpy()[mask][ok], minlength=size)
    key_sum = np.bincount(key, weights=frame["key_sum"].to_numpy()[mask][ok], minlength=size)
    rows = np.flatnonzero(n)
    if len(by) == 1:
        index = pd.Index(levels[0][rows], name=by[0])
    else:
        index = pd.MultiIndex.from_arrays([lv[i] for lv, i in zip(levels, np.unravel_index(rows, shape),
                                                                   strict=True)], names=by)
    return pd.Series(n[rows], index=index, name="n"), pd.Series(key_sum[rows], index=index, name="key_sum")
