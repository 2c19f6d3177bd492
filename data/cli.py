"""``python -m data``: the data command line (demo data, checks, imports).

Exit codes: 0 success, 1 invalid data (or a rejected import), 2 usage errors.
The last line of ``check`` output is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from data import db_cli, generator, import_cli, region, sync, tiles_cli
from data.contracts import error_records, format_errors
from data.folder import (
    DataFolderError,
    load_folder,
    prepare,
    read_folder,
    write_folder,
)

# Subcommands that live in other modules: name -> (configure parser, run).
EXTRA_COMMANDS: dict[str, tuple[Callable[[argparse.ArgumentParser], None],
                                Callable[[argparse.Namespace], int]]] = {
    "import": (import_cli.configure_import, import_cli.run_import),
    "store": (import_cli.configure_store, import_cli.run_store),
    "sync": (sync.configure, sync.run),
    "tiles": (tiles_cli.configure_tiles, tiles_cli.run_tiles),
    "db": (db_cli.configure_db, db_cli.run_db),
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # exit 2 with a clear line, as argparse does
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, got {text!r}")
    return value


def cmd_demo(args: argparse.Namespace) -> int:
    preparer = None if args.no_prepare else args.preparer
    if args.tiles > 1:
        return _demo_region(args, preparer)
    t0 = time.perf_counter()
    frames, meta = generator.generate(seed=args.seed, complaints=args.complaints, pings=args.pings)
    t1 = time.perf_counter()
    out = write_folder(args.out, frames, meta, preparer=preparer)
    t2 = time.perf_counter()
    size = sum(p.stat().st_size for p in out.iterdir() if p.is_file())
    print(f"wrote demo data to {out} ({size / 1e6:.1f} MB; generated in {t1 - t0:.1f} s, "
          f"written in {t2 - t1:.1f} s)")
    print(json.dumps({"out": str(out), "bytes": size, "generate_s": round(t1 - t0, 2),
                      "write_s": round(t2 - t1, 2),
                      "records": {k: len(v) for k, v in frames.items()}}))
    return 0


def _demo_region(args: argparse.Namespace, preparer: Callable[[Path], object] | None) -> int:
    """Several demo cities side by side, generated and written one tile at a time."""
    t0 = time.perf_counter()
    out, counts = region.write_region(
        args.out, args.tiles, seed=args.seed, complaints=args.complaints, pings=args.pings,
        progress=lambda m: print(m, file=sys.stderr, flush=True))
    t1 = time.perf_counter()
    if preparer is not None:
        preparer(out)
    t2 = time.perf_counter()
    size = sum(p.stat().st_size for p in out.iterdir() if p.is_file())
    print(f"wrote a demo region of {args.tiles} cities to {out} ({size / 1e6:.1f} MB; generated "
          f"and written in {t1 - t0:.1f} s, prepared in {t2 - t1:.1f} s)")
    print(json.dumps({"out": str(out), "bytes": size, "tiles": args.tiles,
                      "generate_s": round(t1 - t0, 2), "prepare_s": round(t2 - t1, 2),
                      "records": counts}))
    return 0


def _positive(text: str) -> int:
    value = _non_negative(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text!r}")
    return value


def cmd_check(args: argparse.Namespace) -> int:
    folder = Path(args.folder)
    frames, meta, errors = read_folder(folder)
    summary: dict = {"folder": str(folder), "valid": errors.empty}
    if errors.empty:
        summary.update(prepare(frames, meta, folder).summary())
    else:
        summary["records"] = {k: len(v) for k, v in frames.items()}
        for line in format_errors(errors, limit=args.max_errors):
            print(line)
    summary["errors"] = error_records(errors, limit=args.max_errors)
    summary["error_count"] = len(errors)
    if errors.empty:
        print(f"{folder}: valid")
    print(json.dumps(summary, ensure_ascii=False))
    return 0 if errors.empty else 1


def cmd_prepare(args: argparse.Namespace) -> int:
    """Build the prepared form of a folder written by hand (see geo.prepared)."""
    preparer = args.prepare
    if preparer is None:
        print("python -m data prepare: no preparer registered (run it as `python -m data`)",
              file=sys.stderr)
        return 2
    folder = Path(args.folder)
    t0 = time.perf_counter()
    try:
        preparer(folder)
    except DataFolderError as exc:
        for line in format_errors(exc.errors, limit=args.max_errors):
            print(line)
        print(json.dumps({"folder": str(folder), "prepared": False,
                          "errors": error_records(exc.errors, limit=args.max_errors)},
                         ensure_ascii=False))
        return 1
    print(json.dumps({"folder": str(folder), "prepared": True,
                      "seconds": round(time.perf_counter() - t0, 2)}))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m data", description="Lagebild data tools")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    demo = sub.add_parser("demo", help="write the synthetic demo city as a data folder")
    demo.add_argument("--out", required=True, help="target folder")
    demo.add_argument("--seed", type=_non_negative, default=generator.DEFAULT_SEED)
    demo.add_argument("--complaints", type=_non_negative, default=generator.DEFAULT_COMPLAINTS)
    demo.add_argument("--pings", type=_non_negative, default=generator.DEFAULT_PINGS)
    demo.add_argument("--tiles", type=_positive, default=1,
                      help="a region: this many demo cities side by side (sizes are totals; "
                           "written one city at a time)")
    demo.add_argument("--no-prepare", action="store_true",
                      help="write the data only (prepare later with `python -m data prepare`)")
    demo.set_defaults(func=cmd_demo)
    check = sub.add_parser("check", help="validate a data folder")
    check.add_argument("folder")
    check.add_argument("--max-errors", type=_non_negative, default=100)
    check.set_defaults(func=cmd_check)
    prep = sub.add_parser("prepare", help="build the prepared form of a data folder (cells, "
                          "cubes, summaries) beside its files")
    prep.add_argument("folder")
    prep.add_argument("--max-errors", type=_non_negative, default=100)
    prep.set_defaults(func=cmd_prepare)
    for name, (configure, run) in EXTRA_COMMANDS.items():
        p = sub.add_parser(name, help=(configure.__doc__ or "").strip() or None)
        configure(p)
        p.set_defaults(func=run)
    return parser


def main(argv: Sequence[str] | None = None,
         preparer: Callable[[Path], object] | None = None,
         cells: Callable[..., object] | None = None) -> int:
    """Run a command. ``preparer`` builds a folder's prepared form (geo.prepared.prepare_folder,
    handed in by ``python -m data``); ``demo`` and the store also run it on what they write.
    ``cells`` (geo.h3cells.point_cells) gives ``db load`` the H3 cells of whole chunks."""
    args = build_parser().parse_args(argv)
    args.cells = cells
    args.prepare = preparer  # strict: the prepare command reports invalid folders
    args.preparer = None if preparer is None else _tolerant(preparer)
    return int(args.func(args))


def _tolerant(preparer: Callable[[Path], object]) -> Callable[[Path], None]:
    """For writers: a folder that cannot be prepared (e.g. a store without districts yet) is
    still written; the app prepares it when it can."""
    def run(folder: Path) -> None:
        try:
            preparer(folder)
        except ValueError as exc:  # DataFolderError is a ValueError
            print(f"{folder}: not prepared: {str(exc).splitlines()[0]}", file=sys.stderr)
    return run


__all__ = ["load_folder", "main"]
