"""The sweep spec: YAML -> validated settings -> a deterministic, deduplicated tuple of TrialConfig."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from rich.console import Console

from sdssm.config import TrialConfig
from sdssm.sweep.spec import MAX_LISTED, Resources, SpecError, SweepSpec, load_spec, parse_spec
from sdssm.sweep.summary import planned_trials, summary_table, varying_axes
from tasks.bounded_yaml import MAX_FILE_BYTES


def write(tmp_path: Path, text: str, name: str = "spec.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def load(tmp_path: Path, text: str) -> SweepSpec:
    return load_spec(write(tmp_path, text))


# --- expansion ---------------------------------------------------------------------------------------
def test_grid_expands_in_written_order_first_axis_outermost(tmp_path: Path) -> None:
    spec = load(tmp_path, """
        name: order
        grid:
          task: [parity_check, D4]
          seed: [0, 1, 2]
          lr: [1.0e-4, 3.0e-4]
    """)
    got = [(t.task, t.seed, t.lr) for t in spec.trials]
    assert got == [(task, seed, lr) for task in ("parity_check", "D4") for seed in (0, 1, 2)
                   for lr in (1e-4, 3e-4)]
    assert len({t.key for t in spec.trials}) == 12
    assert spec.name == "order" and spec.description == "" and spec.scheduler == "none"
    assert spec.resources == Resources(cpu=1, gpu=0)
    assert spec.max_concurrent is None and spec.max_failures == 2


def test_keys_are_stable_across_loads_and_key_order(tmp_path: Path) -> None:
    a = load(tmp_path, """
        name: a
        train: {max_steps: 2000}
        grid: {task: [A5, even_pairs], model: [sdssm, diagonal], seed: [0, 1], k: [6, 8]}
    """)
    b = load(tmp_path, """
        name: b
        grid: {task: [A5, even_pairs], model: [sdssm, diagonal], seed: [0, 1], k: [6, 8]}
        train: {max_steps: 2000}
    """)
    c = load(tmp_path, """
        name: c
        grid: {seed: [1, 0], k: [8, 6], model: [diagonal, sdssm], task: [even_pairs, A5]}
        train: {max_steps: 2000}
    """)
    assert [t.key for t in a.trials] == [t.key for t in b.trials]
    assert sorted(t.key for t in a.trials) == sorted(t.key for t in c.trials)
    assert len(a.trials) == 2 * (2 * 2 + 2)  # per task: sdssm seed x k, diagonal seed (k unused)


def test_a_k_axis_collapses_for_models_that_do_not_read_k(tmp_path: Path) -> None:
    spec = load(tmp_path, """
        name: dedup
        grid: {model: [sdssm, lstm], k: [4, 6, 8], p: [1.1, 1.3]}
    """)
    models = [t.model for t in spec.trials]
    assert models.count("sdssm") == 6 and models.count("lstm") == 1
    lstm = next(t for t in spec.trials if t.model == "lstm")
    assert (lstm.k, lstm.p) == (4, 1.1)  # the first occurrence is kept


def test_precedence_defaults_train_grid_model_overrides_task_overrides(tmp_path: Path) -> None:
    spec = load(tmp_path, """
        name: precedence
        train: {lr: 1.0e-2, batch_size: 64, k: 2, weight_decay: 0.5, max_steps: 700}
        grid: {task: [parity_check, D4], model: [sdssm, rnn], lr: 2.0e-2, k: 3}
        model_overrides:
          sdssm: {k: 5, weight_decay: 0.25}
        overrides:
          parity_check: {k: 8, p: 1.2}
    """)
    by = {(t.task, t.model): t for t in spec.trials}
    parity, d4, rnn = by["parity_check", "sdssm"], by["D4", "sdssm"], by["D4", "rnn"]
    assert (parity.k, parity.p, parity.weight_decay) == (8, 1.2, 0.25)  # task beats model beats grid
    assert (d4.k, d4.p, d4.weight_decay) == (5, TrialConfig().p, 0.25)
    assert (rnn.weight_decay, rnn.lr) == (0.5, 2e-2)  # train, then grid over train
    assert all(t.batch_size == 64 and t.max_steps == 700 for t in spec.trials)
    assert all(t.eval_interval == TrialConfig().eval_interval for t in spec.trials)  # defaults


def test_override_lists_are_axes_for_that_task_only(tmp_path: Path) -> None:
    spec = load(tmp_path, """
        name: axes
        grid: {task: [parity_check, A5], seed: [0, 1]}
        overrides:
          A5: {k: [6, 8], query_token: false}
    """)
    a5 = [(t.seed, t.k, t.query_token) for t in spec.trials if t.task == "A5"]
    assert a5 == [(0, 6, False), (0, 8, False), (1, 6, False), (1, 8, False)]
    assert [(t.seed, t.k, t.query_token) for t in spec.trials if t.task == "parity_check"] == [
        (0, 8, True), (1, 8, True)]


def test_include_and_exclude(tmp_path: Path) -> None:
    spec = load(tmp_path, """
        name: incl
        train: {max_steps: 900}
        grid: {task: [parity_check, D4, A5], model: [sdssm, diagonal], seed: 0}
        overrides:
          A5: {k: 6}
        exclude:
          - {task: [A5, D4], model: diagonal}      # a list means any of
          - {task: parity_check, model: sdssm, k: 8}
          - {model: diagonal, k: 8}                # k is not read by diagonal: never matches
        include:
          - {task: A5, model: lstm, lr: 1.0e-3}
          - {task: A5, model: diagonal, use_b: false}   # include entries are never excluded
          - {task: A5, model: sdssm, k: 9}              # the entry wins over overrides
    """)
    got = [(t.task, t.model) for t in spec.trials]
    assert got == [("parity_check", "diagonal"), ("D4", "sdssm"), ("A5", "sdssm"),
                   ("A5", "lstm"), ("A5", "diagonal"), ("A5", "sdssm")]
    lstm, diagonal, sdssm = spec.trials[3:]
    assert (lstm.lr, lstm.max_steps, diagonal.use_b, sdssm.k, spec.trials[2].k) == (1e-3, 900, False, 9, 6)


def test_a_list_in_an_include_entry_is_an_axis_of_that_entry(tmp_path: Path) -> None:
    """Per-task settings for one model beside a grid of others: SD-SSM's own learning rate per task."""
    spec = load(tmp_path, """
        name: incl-axes
        grid: {task: [parity_check, A5], model: lstm, lr: 1.0e-3, seed: 0}
        overrides:
          A5: {k: [5, 6]}
        include:
          - {task: parity_check, model: sdssm, lr: 1.0e-4, seed: [0, 1, 2]}
          - {task: A5, model: sdssm, lr: [3.0e-4, 1.0e-3], seed: 0}
    """)
    got = [(t.task, t.model, t.lr, t.seed, t.k) for t in spec.trials]
    assert got == [("parity_check", "lstm", 1e-3, 0, 8), ("A5", "lstm", 1e-3, 0, 5),
                   ("parity_check", "sdssm", 1e-4, 0, 8), ("parity_check", "sdssm", 1e-4, 1, 8),
                   ("parity_check", "sdssm", 1e-4, 2, 8), ("A5", "sdssm", 3e-4, 0, 5),
                   ("A5", "sdssm", 3e-4, 0, 6), ("A5", "sdssm", 1e-3, 0, 5), ("A5", "sdssm", 1e-3, 0, 6)]


def test_task_params_in_train_grid_axes_and_overrides(tmp_path: Path) -> None:
    spec = load(tmp_path, """
        name: params
        train: {task: Dn, task_params: {n: 6}}
        grid:
          task: [Dn, C2xCn]
          task_params: [{n: 4}, {n: 30}]
          seed: [0, 1]
        overrides:
          C2xCn: {task_params: {n: 5}}
    """)
    got = [(t.task, t.task_params, t.seed) for t in spec.trials]
    assert got == [("Dn", {"n": 4}, 0), ("Dn", {"n": 4}, 1), ("Dn", {"n": 30}, 0), ("Dn", {"n": 30}, 1),
                   ("C2xCn", {"n": 5}, 0), ("C2xCn", {"n": 5}, 1)]  # the C2xCn axis collapses by dedup
    assert spec.trials[0].task_params is not spec.trials[1].task_params  # no shared mutable dicts
    assert spec.trials[0].key != spec.trials[2].key


def test_yaml_reading_details_and_source(tmp_path: Path) -> None:
    path = write(tmp_path, """
        name: table-1.v2
        description: "Table 1"
        overrides:
          A5: &paper {k: 6, p: 1.3}
        grid: {lr: [1e-4, 3E-4, 2.0e-5], seed: 0}
        include:
          - {<<: *paper, task: D4, p: 1.1}   # YAML anchors and merge keys work
    """)
    spec = load_spec(path)
    assert [t.lr for t in spec.trials[:3]] == [1e-4, 3e-4, 2e-5]  # 1e-4 is a number, not a string
    assert all(isinstance(t.lr, float) for t in spec.trials)
    assert (spec.trials[3].task, spec.trials[3].k, spec.trials[3].p) == ("D4", 6, 1.1)
    assert spec.source_path == str(path) and spec.source_text == path.read_text()
    assert spec.description == "Table 1"


def test_parse_spec_from_a_mapping_and_settings() -> None:
    spec = parse_spec({"name": "m", "grid": {"seed": [0, 1]}, "resources": {"cpu": 0.5, "gpu": 0.25},
                       "max_concurrent": 4, "scheduler": "asha", "asha": {"grace_period": 3},
                       "max_failures": 0}, source="inline")
    assert len(spec.trials) == 2 and spec.source_path == "inline" and "seed" in spec.source_text
    settings = (spec.resources.cpu, spec.resources.gpu, spec.max_concurrent, spec.max_failures)
    assert settings == (0.5, 0.25, 4, 0)
    assert spec.scheduler == "asha" and spec.asha.grace_period == 3


def test_many_problems_are_collected_and_capped(tmp_path: Path) -> None:
    lrs = ", ".join(str(-i) for i in range(1, 15))
    with pytest.raises(SpecError) as info:
        load(tmp_path, f"""
            name: many
            grid: {{lr: [{lrs}], seed: -1}}
            resources: {{gpu: -1}}
        """)
    err = info.value
    assert len(err.problems) == 16
    lines = str(err).splitlines()
    assert len(lines) == MAX_LISTED + 1
    assert all(line.startswith(f"{tmp_path / 'spec.yaml'}: ") for line in lines)
    assert "6 more problem(s)" in lines[-1]


def test_summary_table_counts_and_varying_axes(tmp_path: Path) -> None:
    spec = load(tmp_path, """
        name: summary
        grid:
          task: [parity_check, D4]
          model: [sdssm, diagonal]
          readout: [linear, mlp]
          seed: [0, 1, 2]
        exclude: [{task: D4, readout: mlp}]
    """)
    axes = varying_axes(spec.trials)
    assert axes["seed"] == [0, 1, 2] and "task" not in axes and "k" not in axes
    console = Console(record=True, width=150)
    console.print(summary_table(spec))
    out = console.export_text()
    assert "sdssm/linear" in out and "diagonal/mlp" in out and "18 trial(s)" in out and "seed x3" in out
    d4_row = next(line for line in out.splitlines() if "D4" in line)
    assert [cell.strip() for cell in d4_row.split("│")[1:7]] == ["D4", "3", "-", "3", "-", "6"]


def test_summary_shows_every_varying_field_and_one_row_per_task_instance(tmp_path: Path) -> None:
    counter = {"name": "mod3_reset", "states": ["0", "1", "2"], "alphabet": ["inc", "reset"], "start": "0",
               "transitions": {"0": {"inc": "1", "reset": "0"}, "1": {"inc": "2", "reset": "0"},
                               "2": {"inc": "0", "reset": "0"}}, "labels": {"0": 0, "1": 1, "2": 2}}
    flip_flop = {"name": "flip_flop", "states": ["low", "high"], "alphabet": ["set", "clear"], "start": "low",
                 "transitions": {"low": {"set": "high", "clear": "low"}, "high": {"set": "high", "clear": "low"}},
                 "labels": {"low": 0, "high": 1}}
    (tmp_path / "mod3.yaml").write_text(yaml.safe_dump(counter))
    (tmp_path / "flip.yaml").write_text(yaml.safe_dump(flip_flop))
    spec = load(tmp_path, """
        name: automata
        grid:
          task: [automaton, Dn]
          supervision: [last, prefixes]
          seed: [0, 1]
        overrides:
          automaton: {task_params: [{path: mod3.yaml}, {path: flip.yaml}]}
          Dn: {task_params: {n: 7}}
    """)
    axes = varying_axes(spec.trials)
    assert axes["supervision"] == ["last", "prefixes"]  # 'last' is the default, left out of trial keys
    assert "task_params" not in axes  # the rows show the task instances
    console = Console(record=True, width=150)
    console.print(summary_table(spec))
    out = console.export_text()
    rows = {line.split("│")[1].strip(): line for line in out.splitlines() if line.count("│") > 2}
    assert {"mod3_reset", "flip_flop", "D7"} <= set(rows) and "automaton" not in " ".join(rows)
    assert [cell.strip() for cell in rows["flip_flop"].split("│")[2:4]] == ["4", "4"]
    assert "supervision x2: last, prefixes" in out


# --- bad specs: (id, YAML text, substrings the message must contain besides the file name) -----------
AUTOMATON_BAD = """
    name: auto
    grid:
      task: automaton
      task_params:
        spec: {states: [a], alphabet: ["0"], transitions: {a: {"0": b}}, start: a, labels: {a: 0}}
"""
BAD_SPECS: list[tuple[str, str, list[str]]] = [
    ("yaml-syntax", "name: x\ngrid: {seed: [0, 1}\n", ["line 2", "not valid YAML"]),
    ("yaml-duplicate-key", "name: x\nname: y\n", ["line 2", "duplicate key 'name'"]),
    ("empty-file", "", ["empty file", "mapping with keys name"]),
    ("top-level-list", "- name: x\n", ["top level must be a mapping", "got a list"]),
    ("missing-name", "grid: {seed: 0}\n", ["name: missing", "letters, digits"]),
    ("bad-name-chars", "name: my sweep/1\ngrid: {seed: 0}\n", ["name: got 'my sweep/1'", "letters, digits"]),
    ("name-not-string", "name: 12\ngrid: {seed: 0}\n", ["name: got 12", "a string of letters"]),
    ("description-not-string", "name: x\ndescription: [a]\ngrid: {seed: 0}\n", ["description", "a string"]),
    ("unknown-top-level-key", "name: x\ngird: {seed: 0}\n", ["gird: unknown key", "did you mean 'grid'",
                                                             "allowed: name, description, train, grid"]),
    ("grid-not-mapping", "name: x\ngrid: [seed]\n", ["grid: must be a mapping of trial fields"]),
    ("unknown-grid-key", "name: x\ngrid: {lrr: 0.1}\n", ["grid.lrr: unknown trial field", "did you mean 'lr'",
                                                         "allowed: task, task_params, model"]),
    ("unknown-task", "name: x\ngrid: {task: [parity_check, D5]}\n",
     ["grid.task[1]: unknown task 'D5'", "known: ", "parity_check", "A5"]),
    ("task-not-string", "name: x\ngrid: {task: 4}\n", ["grid.task: must be a task name (a string), got 4"]),
    ("unknown-model", "name: x\ngrid: {model: [sdssm, mamba]}\n",
     ["grid.model[1]: must be one of sdssm, diagonal, rnn, lstm, pdssm, gated, got 'mamba'"]),
    ("unknown-readout", "name: x\ngrid: {readout: deep}\n",
     ["grid.readout: must be one of linear, mlp, got 'deep'"]),
    ("lr-not-positive", "name: x\ngrid: {lr: [1.0e-4, 3.0e-4, 0]}\n",
     ["grid.lr[2]: must be a finite number > 0, got 0"]),
    ("lr-string", "name: x\ngrid: {lr: fast}\n", ["grid.lr: must be a finite number > 0, got 'fast'"]),
    ("lr-infinite", "name: x\ngrid: {lr: .inf}\n", ["grid.lr: must be a finite number > 0, got inf"]),
    ("weight-decay-negative", "name: x\ntrain: {weight_decay: -0.1}\n",
     ["train.weight_decay: must be a finite number >= 0"]),
    ("empty-axis", "name: x\ngrid: {seed: []}\n", ["grid.seed: empty list", "at least one value"]),
    ("duplicate-axis-value", "name: x\ngrid: {lr: [1.0e-4, 0.0001]}\n",
     ["grid.lr[1]: duplicate value", "also at grid.lr[0]", "each value once"]),
    ("seed-negative", "name: x\ngrid: {seed: [0, -1]}\n", ["grid.seed[1]: must be an integer in 0..2,147,483,647, got -1"]),
    ("seed-float", "name: x\ngrid: {seed: 1.5}\n", ["grid.seed: must be an integer in 0..2,147,483,647, got 1.5"]),
    ("k-zero", "name: x\ngrid: {k: 0}\n", ["grid.k: must be an integer in 1..256, got 0"]),
    ("p-below-one", "name: x\ngrid: {p: [1.2, 0.9]}\n", ["grid.p[1]: must be a finite number in [1, 16], got 0.9"]),
    ("bool-as-string", "name: x\ngrid: {use_b: 'yes'}\n", ["grid.use_b: must be true or false"]),
    ("overrides-unknown-task", "name: x\ngrid: {seed: 0}\noverrides: {parity: {k: 8}}\n",
     ["overrides.parity: unknown task", "did you mean 'parity_check'", "known: "]),
    ("overrides-not-mapping", "name: x\ngrid: {seed: 0}\noverrides: {parity_check: 8}\n",
     ["overrides.parity_check: must be a mapping of trial fields, got an integer 8"]),
    ("overrides-bad-value", "name: x\ngrid: {seed: 0}\noverrides: {parity_check: {k: [8, 0]}}\n",
     ["overrides.parity_check.k[1]: must be an integer in 1..256"]),
    ("overrides-sets-task", "name: x\ngrid: {seed: 0}\noverrides: {D4: {task: A5}}\n",
     ["overrides.D4.task: overrides cannot change the task", "allowed: any other trial field"]),
    ("model-overrides-unknown-model", "name: x\ngrid: {seed: 0}\nmodel_overrides: {LSTM: {lr: 0.001}}\n",
     ["model_overrides.LSTM: unknown model", "did you mean 'lstm'", "known: sdssm, diagonal, rnn, lstm, pdssm, gated"]),
    ("include-unknown-field", "name: x\ninclude: [{task: A5, learning_rate: 0.001}]\n",
     ["include[0].learning_rate: unknown trial field", "allowed: task"]),
    ("include-empty-axis", "name: x\ninclude: [{task: A5, seed: []}]\n",
     ["include[0].seed: empty list"]),
    ("include-not-list", "name: x\ninclude: {task: A5}\n", ["include: must be a list of mappings"]),
    ("exclude-not-list", "name: x\ngrid: {seed: 0}\nexclude: {task: A5}\n",
     ["exclude: must be a list of mappings"]),
    ("exclude-empty-entry", "name: x\ngrid: {seed: 0}\nexclude: [{}]\n",
     ["exclude[0]: an empty entry would exclude every trial", "at least one field"]),
    ("exclude-unknown-field", "name: x\ngrid: {seed: 0}\nexclude: [{modle: lstm}]\n",
     ["exclude[0].modle: unknown trial field", "did you mean 'model'"]),
    ("resources-gpu-negative", "name: x\ngrid: {seed: 0}\nresources: {gpu: -1}\n",
     ["resources.gpu: got -1", "a number >= 0"]),
    ("resources-cpu-zero", "name: x\ngrid: {seed: 0}\nresources: {cpu: 0}\n",
     ["resources.cpu: got 0", "a number > 0"]),
    ("resources-unknown-key", "name: x\ngrid: {seed: 0}\nresources: {gpus: 1}\n",
     ["resources.gpus: unknown key", "did you mean 'gpu'", "allowed: cpu, gpu"]),
    ("resources-not-mapping", "name: x\ngrid: {seed: 0}\nresources: 2\n",
     ["resources: got 2", "a mapping with keys cpu, gpu"]),
    ("scheduler-unknown", "name: x\ngrid: {seed: 0}\nscheduler: hyperband\n",
     ["scheduler: got 'hyperband'", "one of: none, asha"]),
    ("asha-bad-value", "name: x\ngrid: {seed: 0}\nscheduler: asha\nasha: {grace_period: 0}\n",
     ["asha.grace_period: got 0", "an integer >= 1"]),
    ("max-concurrent-zero", "name: x\ngrid: {seed: 0}\nmax_concurrent: 0\n",
     ["max_concurrent: got 0", "an integer >= 1, or null"]),
    ("max-failures-negative", "name: x\ngrid: {seed: 0}\nmax_failures: -1\n",
     ["max_failures: got -1", "an integer >= 0"]),
    ("train-unknown-key", "name: x\ntrain: {steps: 10}\ngrid: {seed: 0}\n",
     ["train.steps: unknown trial field", "allowed: task"]),
    ("train-list-value", "name: x\ntrain: {seed: [0, 1]}\ngrid: {k: 8}\n",
     ["train.seed: must be a single value"]),
    ("train-lengths-crossed", "name: x\ntrain: {train_min_length: 50}\ngrid: {seed: 0}\n",
     ["train.train_min_length: train_min_length (50) must be <= train_max_length (40)"]),
    ("test-length-too-short", "name: x\ngrid: {train_max_length: [40, 600]}\n",
     ["grid.train_max_length[1]: test_max_length (500) must be >= train_max_length (600)"]),
    ("task-params-not-mapping", "name: x\ngrid: {task: Dn, task_params: [5]}\n",
     ["grid.task_params[0]: must be a mapping"]),
    ("task-param-out-of-range", "name: x\ngrid: {task: Dn, task_params: [{n: 4}, {n: 1}]}\n",
     ["grid.task_params[1]: task Dn refuses params {'n': 1}", "n must be an integer >= 2"]),
    ("task-param-unknown", "name: x\ngrid: {task: D4}\noverrides: {D4: {task_params: {m: 3}}}\n",
     ["overrides.D4.task_params: task D4 refuses params {'m': 3}", "takes no parameters"]),
    ("automaton-malformed", AUTOMATON_BAD,
     ["grid.task_params: task automaton refuses params", "unknown target state 'b'"]),
    ("everything-excluded", "name: x\ngrid: {task: [D4, A5]}\nexclude: [{task: [D4, A5]}]\n",
     ["exclude: the sweep has zero trials", "exclude removes all 2 grid trials", "at least one trial"]),
    ("no-trials-at-all", "name: x\ndescription: nothing\n", ["grid: the sweep has zero trials",
                                                             "no grid and no include"]),
    ("too-many-trials", "name: x\ngrid: {seed: [%s], k: [%s]}\n" % (
        ", ".join(map(str, range(1000))), ", ".join(map(str, range(1, 102)))),
     ["grid: expands to 101,000 trials", "at most 100,000 allowed"]),
    ("task-param-missing", "name: x\ngrid: {task: [D4, Dn]}\n", ["grid.task[1]: task Dn refuses params {}",
                                                              "missing required parameter(s) n"]),
    ("cuda-without-gpu", "name: x\ntrain: {device: cuda}\ngrid: {seed: [0, 1]}\n",
     ["resources.gpu: 2 trial(s) ask for device cuda but no GPU is reserved", "a number > 0"]),
    ("task-params-unhashable", "name: x\ngrid: {task: automaton, task_params: {spec: {0: a, b: c}}}\n",
     ["grid.task_params: must be a mapping of parameter names", "nested keys of one type"]),
    ("overrides-null", "name: x\ngrid: {seed: 0}\noverrides: {A5: }\n",
     ["overrides.A5: must be a mapping of trial fields, got null"]),
    ("non-string-key", "name: x\ngrid: {1: 2}\n", ["grid.1: keys must be strings"]),
    ("model-typo-suggested", "name: x\ngrid: {model: lstn}\n", ["did you mean 'lstm'?"]),
    ("seed-above-32-bit", "name: x\ngrid: {seed: 18446744073709551616}\n",
     ["grid.seed: must be an integer in 0..2,147,483,647, got 18446744073709551616"]),
    ("state-size-huge", "name: x\ngrid: {state_size: 1000000000}\n", ["grid.state_size: must be an integer in 1..4,096"]),
    ("test-length-huge", "name: x\ngrid: {test_max_length: 1000000000}\n",
     ["grid.test_max_length: must be an integer in 1..100,000"]),
    ("memory-estimate", "name: x\ntrain: {state_size: 4096, test_max_length: 100000}\ngrid: {seed: 0}\n",
     ["memory estimate per trial", "above the cap of 16 GiB (MAX_TRIAL_MEMORY_BYTES"]),
    ("gpu-fraction-above-one", "name: x\ngrid: {seed: 0}\nresources: {gpu: 1.5}\n",
     ["resources.gpu: got 1.5", "a fraction of at most 1", "or a whole number"]),
    ("dn-huge", "name: x\ngrid: {task: Dn, task_params: {n: 1000000}}\n",
     ["task Dn refuses params", "n must be an integer >= 2 and <= 5,000", "got 1000000"]),
    ("yaml-too-deep", "name: x\ndescription: " + "[" * 5000 + "]" * 5000 + "\n",
     ["not valid YAML", "nested deeper than the cap of 50 levels (MAX_YAML_DEPTH)"]),
    ("yaml-alias-bomb", "name: x\ngrid: {seed: 0}\nbomb:\n  a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"  a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]\n" for i in range(1, 9)),
     ["not valid YAML", "expands to more than the cap of 500,000 values (MAX_YAML_NODES)"]),
    ("yaml-recursive-alias", "name: x\ngrid: &g {seed: 0, task_params: {x: *g}}\n",
     ["not valid YAML", "recursive aliases are not allowed"]),
]


@pytest.mark.parametrize("text, expected", [case[1:] for case in BAD_SPECS],
                         ids=[case[0] for case in BAD_SPECS])
def test_bad_spec_names_file_key_and_what_is_allowed(tmp_path: Path, text: str, expected: list[str]) -> None:
    path = write(tmp_path, textwrap.dedent(text), name="bad-spec.yaml")
    with pytest.raises(SpecError) as info:
        load_spec(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    assert "Traceback" not in message and "pydantic" not in message and "validation error" not in message
    for part in expected:
        assert part in message, f"{part!r} not in:\n{message}"


@pytest.mark.parametrize("make, expected", [
    (lambda p: p / "missing.yaml", "no such file"),
    (lambda p: p, "is a directory"),
    (lambda p: (p / "latin1.yaml").write_bytes(b"name: caf\xe9\n") and p / "latin1.yaml", "cannot be read"),
    (lambda p: Path("/dev/zero"), "is not a regular file"),
    (lambda p: (p / "zero.yaml").symlink_to("/dev/zero") or p / "zero.yaml", "is not a regular file"),
    (lambda p: (p / "big.yaml").write_bytes(b"#" * (MAX_FILE_BYTES + 1)) and p / "big.yaml",
     "larger than the cap of 1,048,576 bytes (MAX_FILE_BYTES"),
], ids=["missing-file", "directory", "not-utf8", "dev-zero", "symlink-to-dev-zero", "too-large"])
def test_unusable_files(tmp_path: Path, make: Callable[[Path], Path], expected: str) -> None:
    path = make(tmp_path)
    with pytest.raises(SpecError) as info:
        load_spec(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and expected in message and "YAML" in message


def test_parse_spec_refuses_a_non_mapping() -> None:
    with pytest.raises(SpecError, match=r"^inline: the top level must be a mapping"):
        parse_spec(["name"], source="inline")  # type: ignore[arg-type]


def test_automaton_file_is_inlined_relative_to_the_spec(tmp_path: Path) -> None:
    automaton = {"states": ["even", "odd"], "alphabet": ["a", "b"], "start": "even",
                 "transitions": {"even": {"a": "even", "b": "odd"}, "odd": {"a": "odd", "b": "even"}},
                 "labels": {"even": 0, "odd": 1}}
    (tmp_path / "machines").mkdir()
    (tmp_path / "machines" / "parity.yaml").write_text(yaml.safe_dump(automaton))
    spec_file = tmp_path / "sweep.yaml"
    spec_file.write_text(yaml.safe_dump({"name": "own", "grid": {
        "task": "automaton", "task_params": {"path": "machines/parity.yaml"}}}))
    (trial,) = load_spec(spec_file).trials
    assert trial.task_params == {"spec": automaton}
    key = trial.key
    automaton["labels"] = {"even": 1, "odd": 0}  # another automaton: another trial
    (tmp_path / "machines" / "parity.yaml").write_text(yaml.safe_dump(automaton))
    assert load_spec(spec_file).trials[0].key != key
    (tmp_path / "machines" / "parity.yaml").unlink()
    with pytest.raises(SpecError, match=r"sweep.yaml: grid.task_params.*automaton file .*parity.yaml"):
        load_spec(spec_file)


SHIPPED = sorted((Path(__file__).resolve().parents[2] / "sweeps").glob("*.yaml"))


@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_every_shipped_sweep_is_valid(path: Path) -> None:
    spec = load_spec(path)
    trials = spec.trials or planned_trials(spec)  # a TPE search's are proposed while it runs
    assert trials and len({t.key for t in spec.trials}) == len(spec.trials)


def test_sarrof_sweep_runs_sdssm_once_per_task_and_seed() -> None:
    """negative_eigenvalues is read by the gated SSM only: the SD-SSM control is not doubled by that axis."""
    spec = load_spec(Path(__file__).resolve().parents[2] / "sweeps" / "sarrof.yaml")
    by_model = {model: sum(t.model == model for t in spec.trials) for model in ("gated", "sdssm")}
    assert by_model == {"gated": 18, "sdssm": 9}
