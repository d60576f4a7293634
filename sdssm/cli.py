"""`sdssm-sweep`: run, watch, validate and report hyperparameter sweeps of SD-SSM and its baselines.

Exit codes: 0 success; 1 an unexpected internal error; 2 bad input (spec, names, values, paths,
database, cluster) reported in one message before any work starts; 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from sdssm.sweep.store import DEFAULT_DB_URL

EXAMPLES = """\
examples:
  sdssm-sweep validate sweeps/table1.yaml        check a sweep file and show what it expands to
  sdssm-sweep run sweeps/quickstart.yaml         run it on an embedded local Ray (results in results/sdssm.db)
  sdssm-sweep run sweeps/table1.yaml --address ray://head:10001 --storage /shared/sdssm
  sdssm-sweep status                             counts by status, running and failed trials
  sdssm-sweep report --out results/report        tables and plots of the sweep run last
  sdssm-sweep report --sweep table1 supervision  ... of these sweeps, each on its own (--all-sweeps: every one)
  sdssm-sweep check                              the papers' claims (claims/*.yaml) against the database
  sdssm-sweep bench                              speed of the fast paths on this machine

Rerunning `run` with the same file resumes: done trials are skipped, interrupted ones continue from
their last checkpoint, new trials (e.g. seeds added to the file) are run.
"""


class InputError(Exception):
    """Bad input found before any work started (exit code 2)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sdssm-sweep", description="Ray Tune sweeps of selective state-space models on regular "
        "languages, with every result in a SQL database.", epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    db_help = f"database URL or SQLite file path (default {DEFAULT_DB_URL}; PostgreSQL: postgresql://...)"

    run = commands.add_parser("run", help="run (or resume) a sweep", description=(
        "Run every trial of a sweep file that is not done yet. Trials run on an embedded local Ray "
        "unless --address (or RAY_ADDRESS) names a cluster. Results stream into the database."),
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("spec", type=Path, help="sweep YAML file, e.g. sweeps/table1.yaml")
    run.add_argument("--db", default=DEFAULT_DB_URL, help=db_help)
    run.add_argument("--storage", default="results/ray", help="folder for Ray's trial folders and "
                     "checkpoints; on a multi-node cluster a path every node shares (default results/ray)")
    run.add_argument("--address", default=None, help="address of an existing Ray cluster, e.g. auto or "
                     "ray://head:10001 (default: RAY_ADDRESS if set, else start an embedded local Ray)")
    run.add_argument("--cpu-only", action="store_true", help="run a sweep that asks for GPUs on CPUs")
    run.add_argument("--num-cpus", type=int, default=None, help="CPUs of the embedded local Ray "
                     "(default: all of this machine's)")
    run.add_argument("--no-dashboard", action="store_true", help="do not start the Ray dashboard")

    status = commands.add_parser("status", help="counts by status, running and failed trials")
    status.add_argument("--db", default=DEFAULT_DB_URL, help=db_help)
    status.add_argument("--sweep", action="extend", nargs="+", default=None, metavar="NAME",
                        help="only these sweeps, with their best peak (periodic eval) and final accuracies "
                        "per model and task (default: every sweep's counts; accuracies of the sweep run last)")

    report = commands.add_parser("report", help="tables and plots from the database")
    report.add_argument("--db", default=DEFAULT_DB_URL, help=db_help)
    which = report.add_mutually_exclusive_group()
    which.add_argument("--sweep", action="extend", nargs="+", default=None, metavar="NAME",
                       help="report these sweeps, each on its own: a table cell never pools trials of two "
                       "sweeps (default: the sweep run most recently)")
    which.add_argument("--all-sweeps", action="store_true", help="report every sweep in the database, "
                       "each on its own")
    report.add_argument("--out", type=Path, default=Path("results/report"),
                        help="folder for report.md, the plots and tables (default results/report)")
    report.add_argument("--format", choices=("markdown", "csv", "json"), default="markdown",
                        help="what to write beside report.md and print (default markdown)")

    check = commands.add_parser("check", help="check a paper's claims against the database", description=(
        "Check claims files (claims/*.yaml: a paper's claims as predicates over results) against the "
        "database. Each claim prints as holds (✓), fails (✗) or not enough data (?), with its evidence. "
        "Exit codes: 0 no claim fails; 1 a claim fails (or, with --strict, lacks data); 2 bad input."),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    check.add_argument("claims", nargs="*", type=Path, help="claims files or folders (default: claims/)")
    check.add_argument("--db", default=DEFAULT_DB_URL, help=db_help)
    check.add_argument("--sweep", action="append", default=None, help="use this sweep's trials as evidence "
                       "for every claim (repeatable; default: the sweeps each claim names)")
    check.add_argument("--strict", action="store_true", help="exit 1 also when a claim lacks data")

    validate = commands.add_parser("validate", help="check a sweep file and show what it expands to")
    validate.add_argument("spec", type=Path, help="sweep YAML file")

    bench = commands.add_parser("bench", help="measure the fast paths on this machine")
    bench.add_argument("what", nargs="?", choices=("all", "tasks", "model", "store", "sweep"), default="all",
                       help="which benchmark (default all)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Long lines stay whole in logs; tables still fit the terminal. No emoji: ':x:' in user text stays ':x:'.
    console = Console(soft_wrap=True, emoji=False)
    errors = Console(stderr=True, soft_wrap=True, emoji=False)
    try:
        return COMMANDS[args.command](args, console)
    except KeyboardInterrupt:
        errors.print("[yellow]interrupted[/]")
        return 130
    except Exception as exc:  # noqa: BLE001 - input errors become one message; others re-raise
        if _is_input_error(exc):
            errors.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)  # user text
            return 2
        raise


def _is_input_error(exc: Exception) -> bool:
    from analysis.report import ReportError
    from sdssm.sweep.runner import ClusterError
    from sdssm.sweep.spec import SpecError
    from sdssm.sweep.store import StoreError

    return isinstance(exc, (InputError, SpecError, StoreError, ClusterError, ReportError))


def cmd_validate(args: argparse.Namespace, console: Console) -> int:
    from sdssm.sweep.spec import load_spec
    from sdssm.sweep.summary import summary_table

    spec = load_spec(args.spec)
    console.print(summary_table(spec))
    console.print(f"[green]{escape(str(args.spec))}[/] is valid: {len(spec.trials)} trials")
    return 0


def cmd_run(args: argparse.Namespace, console: Console) -> int:
    from sdssm.sweep.runner import RunOptions, run_sweep
    from sdssm.sweep.spec import load_spec
    from sdssm.sweep.store import Store

    spec = load_spec(args.spec)
    if args.num_cpus is not None and args.num_cpus < 1:
        raise InputError(f"--num-cpus must be >= 1, got {args.num_cpus}")
    _ = Store(args.db).engine  # a bad database stops us before Ray starts
    options = RunOptions(db_url=args.db, storage_path=args.storage, address=args.address,
                         cpu_only=args.cpu_only, num_cpus=args.num_cpus, dashboard=not args.no_dashboard)
    summary = run_sweep(spec, options, console)
    counts = ", ".join(f"{n} {s}" for s, n in sorted(summary.counts.items()))
    console.print(f"sweep {spec.name}: {counts} ({summary.wall_time_s:.0f} s); "
                  f"see `sdssm-sweep report --db {args.db}`")
    return 130 if summary.interrupted else 0


def cmd_status(args: argparse.Namespace, console: Console) -> int:
    from sdssm.sweep.status import status_view
    from sdssm.sweep.store import Store

    store = Store(args.db, create=False)
    console.print(status_view(store, args.sweep))
    return 0


def cmd_report(args: argparse.Namespace, console: Console) -> int:
    from analysis.report import build_report
    from sdssm.sweep.store import Store

    store = Store(args.db, create=False)
    report = build_report(store, args.sweep, args.out, args.format, all_sweeps=args.all_sweeps)
    console.print(report.text, markup=False, highlight=False, soft_wrap=True)
    console.print(f"wrote {len(report.files)} file(s) under {escape(str(args.out))}", style="dim")
    return 0


def cmd_check(args: argparse.Namespace, console: Console) -> int:
    from rich.markup import escape
    from rich.table import Table

    from analysis.claims import FAILS, MARKS, NO_DATA, default_claims_dir, evaluate_files
    from sdssm.sweep.store import Store

    store = Store(args.db, create=False)
    results = evaluate_files(store, args.claims or [default_claims_dir()], args.sweep)
    table = Table(show_lines=True)
    for column in ("", "claim", "evidence"):
        table.add_column(column, overflow="fold")
    styles = {"holds": "green", FAILS: "bold red", NO_DATA: "yellow"}
    for result in results:
        claim = result.claim
        head = f"[bold]{escape(claim.id)}[/]: {escape(claim.claim)}\n[dim]{escape(result.paper)}" + (
            f", {escape(claim.source)}" if claim.source else "") + f"; sweeps {escape(', '.join(result.sweeps))}" \
            f"; expect {escape(claim.expect)} ({claim.over})[/]" + (
                f"\n[yellow]not in the database: {escape(', '.join(result.missing_sweeps))}[/]"
                if result.missing_sweeps else "")
        evidence = "\n".join(f"{MARKS[t.verdict]} {escape(t.task)}: {escape(t.evidence)}" for t in result.tasks)
        table.add_row(f"[{styles[result.verdict]}]{MARKS[result.verdict]}[/]", head, evidence)
    console.print(table)
    counts = {v: sum(r.verdict == v for r in results) for v in ("holds", FAILS, NO_DATA)}
    console.print(f"{counts['holds']} hold, {counts[FAILS]} fail, {counts[NO_DATA]} without enough data")
    return 1 if counts[FAILS] or (args.strict and counts[NO_DATA]) else 0


def cmd_bench(args: argparse.Namespace, console: Console) -> int:
    from sdssm.bench.run import run_benchmarks

    run_benchmarks(args.what, console)
    return 0


COMMANDS = {"validate": cmd_validate, "run": cmd_run, "status": cmd_status, "report": cmd_report,
            "check": cmd_check, "bench": cmd_bench}


if __name__ == "__main__":
    sys.exit(main())
