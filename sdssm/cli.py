"""`sdssm-sweep`: run, watch, validate and report hyperparameter sweeps of SD-SSM and its baselines.

Exit codes: 0 success; 1 an unexpected internal error; 2 bad input (spec, names, values, paths,
database, cluster, a sweep another driver is running) reported in one message before any work starts;
130 interrupted (Ctrl-C, SIGINT); 143 stopped by SIGTERM. `run` stopped by either prints the command that
resumes it.
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
  sdssm-sweep report --format html               ... and report.html: one page, plots inside, every trial sortable
  sdssm-sweep check                              the papers' claims (claims/*.yaml) against the database
  sdssm-sweep trials --where task=parity_check --sort beyond_accuracy --desc   every trial, filtered, sorted
  sdssm-sweep export results/export --format parquet   trials, metric history, per-length accuracies
  sdssm-sweep export --tensorboard results/tb    one TensorBoard run per trial, from the database
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
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
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
    run.add_argument("--progress-interval", type=float, default=30.0, metavar="SECONDS",
                     help="when output is not a terminal (a log file), print the progress as plain lines "
                     "this often (default 30)")

    status = commands.add_parser("status", help="counts by status, running and failed trials", description=(
        "Read the database (never blocking a running sweep): trials per sweep and status, the running ones "
        "with their step and peak accuracy (a trial whose driver is gone shows as stale), failed ones with "
        "their error, and the best peak and final accuracy per model and task."))
    status.add_argument("--db", default=DEFAULT_DB_URL, help=db_help)
    status.add_argument("--sweep", action="extend", nargs="+", default=None, metavar="NAME",
                        help="only these sweeps, with their best peak (periodic eval) and final accuracies "
                        "per model and task (default: every sweep's counts; accuracies of the sweep run last)")

    report = commands.add_parser("report", help="tables and plots from the database", description=(
        "Write report.md (claims checked, Table 1, readout ablation, sensitivity with k x p heatmaps, "
        "length curves with the spread over seeds, time to solve, unsolved and failed trials) and the plots "
        "into --out, and print it."))
    report.add_argument("--db", default=DEFAULT_DB_URL, help=db_help)
    which = report.add_mutually_exclusive_group()
    which.add_argument("--sweep", action="extend", nargs="+", default=None, metavar="NAME",
                       help="report these sweeps, each on its own: a table cell never pools trials of two "
                       "sweeps (default: the sweep run most recently)")
    which.add_argument("--all-sweeps", action="store_true", help="report every sweep in the database, "
                       "each on its own")
    report.add_argument("--out", type=Path, default=Path("results/report"),
                        help="folder for report.md, the plots and tables (default results/report)")
    report.add_argument("--format", choices=("markdown", "csv", "json", "html"), default="markdown",
                        help="what to write beside report.md and print (default markdown; csv: one file per "
                        "table; json: report.json; html: report.html, one self-contained page with the plots "
                        "inside and a sortable, filterable table of all trials)")
    report.add_argument("--plot-format", choices=("png", "svg", "pdf"), default="png",
                        help="file format of the plots (default png; svg and pdf scale for papers)")
    report.add_argument("--dpi", type=int, default=150, help="resolution of png plots, 10..1200 (default 150)")

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

    trials = commands.add_parser("trials", help="list every trial: filter, sort, table/csv/json", description=(
        "List trials one per row with their configuration, status and results. Filters are NAME OP VALUE "
        "with OP one of = != >= <= > < over any column (every hyperparameter, status, steps, "
        "beyond_accuracy, peak_beyond_accuracy, ...; task parameters as task.NAME). Accuracies are "
        "fractions (0.999). Exit codes: 0 listed (possibly nothing); 2 bad input."),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    trials.add_argument("--db", default=DEFAULT_DB_URL, help=db_help)
    trials.add_argument("--sweep", action="extend", nargs="+", default=None, metavar="NAME",
                        help="only these sweeps' trials (default: every trial in the database)")
    trials.add_argument("--task", help="shorthand for --where task=TASK")
    trials.add_argument("--model", help="shorthand for --where model=MODEL")
    trials.add_argument("--status", help="shorthand for --where status=STATUS")
    trials.add_argument("--where", action="append", default=[], metavar="FILTER",
                        help="NAME OP VALUE, e.g. lr=0.001 or beyond_accuracy<0.9 (repeatable; all must hold)")
    trials.add_argument("--sort", default=None, metavar="COLUMN", help="sort by this column")
    trials.add_argument("--desc", action="store_true", help="sort in descending order")
    trials.add_argument("--limit", type=int, default=None, help="show at most this many rows")
    trials.add_argument("--columns", default=None, help="comma-separated columns to show (default: a "
                        "compact set for the table, every column for csv and json)")
    trials.add_argument("--format", choices=("table", "csv", "json"), default="table",
                        help="output format (default table)")

    export = commands.add_parser("export", help="write trials, metric history and per-length accuracies",
                                 description=(
        "Write OUT/trials, OUT/metrics (one row per trial and evaluation step) and OUT/lengths (one row per "
        "trial and test length) as CSV or Parquet, every row with its trial's configuration flattened into "
        "columns, for pandas: pd.read_parquet('OUT/metrics.parquet'). Exit codes: 0 written; 2 bad input."),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    export.add_argument("out", type=Path, nargs="?", default=None,
                        help="folder for the tables (created if missing)")
    export.add_argument("--tensorboard", type=Path, default=None, metavar="DIR",
                        help="also (or only) write one TensorBoard run per trial under DIR: named by its "
                        "hyperparameters, the training step on the x-axis, hparams flat; view with "
                        "`tensorboard --logdir DIR` (pip install sdssm-sweep[tensorboard])")
    export.add_argument("--db", default=DEFAULT_DB_URL, help=db_help)
    export.add_argument("--sweep", action="extend", nargs="+", default=None, metavar="NAME",
                        help="only these sweeps' trials (default: every trial in the database)")
    export.add_argument("--format", choices=("csv", "parquet"), default="csv", help="file format (default csv)")

    validate = commands.add_parser("validate", help="check a sweep file and show what it expands to",
                                   description="Check a sweep file without running anything: every value, "
                                   "task and model name; then print the trials it expands to per task and "
                                   "model, the axes that vary and the resources per trial.")
    validate.add_argument("spec", type=Path, help="sweep YAML file")

    bench = commands.add_parser("bench", help="measure the fast paths on this machine", description=(
        "Time the fast paths on this machine and print each figure against its target: task sampling, "
        "SD-SSM's step and evaluation against the reference, the prefixes/last ratio, every model family's "
        "step, the store, and the sweep layer's overhead. Run it on a quiet machine."))
    bench.add_argument("what", nargs="?", choices=("all", "tasks", "model", "store", "sweep"), default="all",
                       help="which benchmark (default all)")
    for name, sub in commands.choices.items():  # every subcommand's help ends with its exit codes
        sub.formatter_class = argparse.RawDescriptionHelpFormatter
        if "Exit codes" not in (sub.description or "") + (sub.epilog or ""):
            sub.epilog = ((sub.epilog or "") + "\n" + EXIT_CODES.get(name, EXIT_CODES["*"])).lstrip("\n")
    return parser


EXIT_CODES = {
    "run": ("exit codes: 0 the sweep ran (a trial that failed is recorded, not an error); 2 bad input, nothing "
            "started or registered; 130 stopped by Ctrl-C (SIGINT); 143 stopped by SIGTERM (both print the "
            "command that resumes the sweep)"),
    "*": "exit codes: 0 done; 2 bad input (one message, nothing written)",
}


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("sdssm-sweep")
    except PackageNotFoundError:  # running from a source tree that was not installed
        return "unknown (not installed)"


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
    from analysis.trials import TrialQueryError
    from sdssm.sweep.runner import RunError
    from sdssm.sweep.spec import SpecError
    from sdssm.sweep.store import StoreError

    return isinstance(exc, (InputError, SpecError, StoreError, RunError, ReportError, TrialQueryError))


def cmd_validate(args: argparse.Namespace, console: Console) -> int:
    from sdssm.sweep.fit import Fitted
    from sdssm.sweep.spec import load_spec
    from sdssm.sweep.summary import planned_trials, search_table, summary_table

    spec = load_spec(args.spec)
    console.print(Fitted(summary_table(spec)))
    if (search := search_table(spec)) is not None:
        console.print(search)
    up_to = "up to " if spec.search.method == "tpe" else ""
    console.print(f"[green]{escape(str(args.spec))}[/] is valid: {up_to}{len(planned_trials(spec))} trials")
    return 0


def cmd_run(args: argparse.Namespace, console: Console) -> int:
    from rich.markup import escape

    from sdssm.sweep.runner import RunOptions, run_sweep
    from sdssm.sweep.spec import load_spec
    from sdssm.sweep.store import Store, mask_url

    spec = load_spec(args.spec)
    if args.num_cpus is not None and args.num_cpus < 1:
        raise InputError(f"--num-cpus must be >= 1, got {args.num_cpus}")
    if not args.progress_interval > 0:
        raise InputError(f"--progress-interval must be a number of seconds > 0, got {args.progress_interval:g}")
    _ = Store(args.db).engine  # a bad database stops us before Ray starts
    options = RunOptions(db_url=args.db, storage_path=args.storage, address=args.address,
                         cpu_only=args.cpu_only, num_cpus=args.num_cpus, dashboard=not args.no_dashboard,
                         progress_interval_s=args.progress_interval)
    summary = run_sweep(spec, options, console)
    counts = ", ".join(f"{n} {s}" for s, n in sorted(summary.counts.items()))
    console.print(f"sweep {escape(spec.name)}: {counts} ({summary.wall_time_s:.0f} s); "
                  f"see `sdssm-sweep report --db {escape(mask_url(args.db))}`", highlight=False)
    if summary.stopped_by is not None:
        console.print(f"[yellow]stopped by {summary.stopped_by.name}[/]: {summary.interrupted} unfinished "
                      "trial(s) marked interrupted, finished ones kept. To resume from their checkpoints, "
                      f"run the same command again:\n  {escape(resume_command(args))}", highlight=False)
    return summary.exit_code


def resume_command(args: argparse.Namespace) -> str:
    """The `run` command line that resumes this run: its spec, database and storage (defaults spelled out)
    and every other option given. A database password shows as ***."""
    import shlex

    from sdssm.sweep.store import mask_url

    words = ["sdssm-sweep", "run", str(args.spec), "--db", mask_url(args.db), "--storage", args.storage]
    if args.address is not None:
        words += ["--address", args.address]
    if args.num_cpus is not None:
        words += ["--num-cpus", str(args.num_cpus)]
    if args.progress_interval != 30.0:
        words += ["--progress-interval", f"{args.progress_interval:g}"]
    words += [flag for flag, given in (("--cpu-only", args.cpu_only), ("--no-dashboard", args.no_dashboard))
              if given]
    return shlex.join(words)


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
    report = build_report(store, args.sweep, args.out, args.format, all_sweeps=args.all_sweeps,
                          plot_format=args.plot_format, dpi=args.dpi)
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


# Columns of `trials --format table`: what tells trials apart at a glance, within 80 columns.
TRIAL_TABLE_COLUMNS = ("key", "task_label", "variant", "seed", "lr", "status", "steps", "beyond_accuracy",
                       "peak_beyond_accuracy")
TEXT_COLUMNS = ("task_label", "task", "sweeps", "error", "restore_note", "description")


def cmd_trials(args: argparse.Namespace, console: Console) -> int:
    import json

    from rich.markup import escape
    from rich.table import Table

    from analysis.trials import apply_filters, sort_table, trial_table
    from sdssm.sweep.fit import Fitted
    from sdssm.sweep.store import Store

    if args.limit is not None and args.limit < 0:
        raise InputError(f"--limit must be >= 0, got {args.limit}")
    store = Store(args.db, create=False)
    _check_sweeps(store, args.sweep)
    table = trial_table(store, args.sweep)
    shorthands = [f"{name}={getattr(args, name)}" for name in ("task", "model", "status") if getattr(args, name)]
    table = sort_table(apply_filters(table, shorthands + args.where), args.sort, args.desc)
    if args.limit is not None:
        table = table.head(args.limit)
    columns = [c.strip() for c in args.columns.split(",")] if args.columns else (
        list(TRIAL_TABLE_COLUMNS) if args.format == "table" else list(table.columns))
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise InputError(f"--columns: no column {', '.join(map(repr, missing))}; columns: {', '.join(table.columns)}")
    table = table[columns]
    if args.format == "csv":
        sys.stdout.write(table.to_csv(index=False))
    elif args.format == "json":
        sys.stdout.write(json.dumps(json.loads(table.to_json(orient="records")), indent=1) + "\n")
    else:
        cells = [[_cell(column, value) for column, value in zip(columns, row)] for row in table.itertuples(index=False)]
        view = Table(box=None, header_style="bold", pad_edge=False, padding=(0, 1, 0, 0))
        for i, column in enumerate(columns):
            width = max([len(_short_header(column))] + [len(row[i]) for row in cells])
            if column in TEXT_COLUMNS:  # long text wraps onto more lines, never cut
                view.add_column(_short_header(column), overflow="fold")
            else:  # numbers and short names are never cut
                view.add_column(_short_header(column), no_wrap=True, min_width=width)
        for row in cells:
            view.add_row(*map(escape, row))
        console.print(Fitted(view))
        console.print(f"{len(table)} trial(s)", style="dim")
    return 0


def _short_header(column: str) -> str:
    return {"beyond_accuracy": "beyond%", "peak_beyond_accuracy": "peak%", "in_range_accuracy": "in-range%",
            "task_label": "task"}.get(column, column)


def _cell(column: str, value: object) -> str:
    """One table cell: accuracies as %, keys shortened, missing values as a dash."""
    import math

    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if column.endswith("accuracy") and isinstance(value, (int, float)):
        return f"{100 * value:.2f}"
    if column == "key":
        return str(value)[:8]
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _check_sweeps(store: object, sweeps: Sequence[str] | None) -> None:
    """Named sweeps must exist: one message naming those that do."""
    if not sweeps:
        return
    existing = store.sweep_names()  # type: ignore[attr-defined]
    missing = [name for name in sweeps if name not in existing]
    if missing:
        raise InputError(f"no sweep named {', '.join(map(repr, missing))} (sweeps there: "
                         f"{', '.join(existing) or 'none'})")


def cmd_export(args: argparse.Namespace, console: Console) -> int:
    from rich.markup import escape

    from analysis.trials import export_tables, history_tables
    from sdssm.sweep.store import Store

    if args.out is None and args.tensorboard is None:
        raise InputError("export needs a folder for the tables (OUT), --tensorboard DIR, or both")
    for folder in (args.out, args.tensorboard):
        if folder is not None and folder.exists() and not folder.is_dir():
            raise InputError(f"{folder} exists and is not a folder")
    store = Store(args.db, create=False)
    _check_sweeps(store, args.sweep)
    tables = history_tables(store, args.sweep)
    if args.out is not None:
        for path in export_tables(tables, args.out, args.format):
            rows = len(tables[path.stem])
            console.print(f"wrote {escape(str(path))} ({rows} row(s))", highlight=False)
    if args.tensorboard is not None:
        from analysis.tensorboard import write_runs

        runs = write_runs(tables, args.tensorboard)
        console.print(f"wrote {len(runs)} TensorBoard run(s) under {escape(str(args.tensorboard))}; view them "
                      f"with: tensorboard --logdir {escape(str(args.tensorboard))}", highlight=False)
    return 0


def cmd_bench(args: argparse.Namespace, console: Console) -> int:
    from sdssm.bench.run import run_benchmarks

    run_benchmarks(args.what, console)
    return 0


COMMANDS = {"validate": cmd_validate, "run": cmd_run, "status": cmd_status, "report": cmd_report,
            "check": cmd_check, "trials": cmd_trials, "export": cmd_export, "bench": cmd_bench}


if __name__ == "__main__":
    sys.exit(main())
