"""The live panel and `status` label the peak (periodic eval) and the final evaluation apart, and name
each task instance as the report does. No Ray: the panel is fed the events the callback would send."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from sdssm.config import TrialConfig
from sdssm.sweep.progress import SweepProgress
from sdssm.sweep.status import status_view
from sdssm.sweep.store import Store, TrialStatus

FLIP_FLOP = {"name": "flip_flop", "states": ["low", "high"], "alphabet": ["set", "clear"], "start": "low",
             "transitions": {"low": {"set": "high", "clear": "low"}, "high": {"set": "high", "clear": "low"}},
             "labels": {"low": 0, "high": 1}}
COUNTER = {"name": "mod3_reset", "states": ["0", "1", "2"], "alphabet": ["inc", "reset"], "start": "0",
           "transitions": {"0": {"inc": "1", "reset": "0"}, "1": {"inc": "2", "reset": "0"},
                           "2": {"inc": "0", "reset": "0"}}, "labels": {"0": 0, "1": 1, "2": 2}}
PARITY = TrialConfig(task="parity_check", seed=0)
D7 = TrialConfig(task="Dn", task_params={"n": 7}, seed=0)
AUTOMATA = [TrialConfig(task="automaton", task_params={"spec": spec}) for spec in (FLIP_FLOP, COUNTER)]


def _text(renderable: object) -> str:
    console = Console(record=True, width=200)
    console.print(renderable)
    return console.export_text()


def test_panel_shows_peak_and_final_labelled_and_one_row_per_task_instance() -> None:
    console = Console(record=True, width=200)
    progress = SweepProgress("s", [PARITY, D7, *AUTOMATA], already_done=0, concurrency=2, console=console)
    progress.update(PARITY.key, TrialStatus.RUNNING)
    progress.update(PARITY.key, TrialStatus.RUNNING, result={"step": 500, "beyond_accuracy": 0.98})
    progress.update(PARITY.key, TrialStatus.RUNNING, result={"step": 1000, "beyond_accuracy": 0.95})
    progress.update(PARITY.key, TrialStatus.FINISHED, result={"beyond_accuracy": 0.907, "steps": 1000})
    for config, accuracy in zip([D7, *AUTOMATA], (0.5, 0.6, 0.7)):
        progress.update(config.key, TrialStatus.RUNNING, result={"step": 500, "beyond_accuracy": accuracy})
    progress.update(D7.key, TrialStatus.FINISHED, result={"beyond_accuracy": 0.5, "steps": 500})
    log = console.export_text()
    assert "final 90.7% beyond training (peak (periodic eval) 98.0%) after 1000 steps" in log
    assert "Dn n=7 k=8 p=1.2 lr=0.0001 seed=0 [D7] final 50.0%" in log
    panel = _text(progress.render())
    assert "peak (periodic eval)" in panel and "final (finished trials)" in panel
    parity = next(line for line in panel.splitlines() if "parity_check" in line)
    assert parity.split()[-2:] == ["98.0%", "90.7%"]  # peak, then final: never one number for both
    rows = {line.split()[1]: line.split()[2:] for line in panel.splitlines() if line.strip().startswith("sdssm/")}
    assert rows["D7"] == ["50.0%", "50.0%"]
    assert rows["flip_flop"] == ["60.0%", "—"] and rows["mod3_reset"] == ["70.0%", "—"]


def test_status_labels_peak_and_final_and_names_task_instances(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "s.db"))
    store.register_sweep("old", [D7])
    store.register_sweep("watch", [PARITY, D7, *AUTOMATA])
    store.mark_running(PARITY.key)
    store.record_metrics(PARITY.key, [{"step": 500, "beyond_accuracy": 0.98, "wall_time_s": 1.0}])
    store.record_final(PARITY.key, status=TrialStatus.FINISHED, accuracy_by_length=None,
                       summary={"beyond_accuracy": 0.907})
    store.mark_running(AUTOMATA[0].key)
    store.record_metrics(AUTOMATA[0].key, [{"step": 500, "beyond_accuracy": 0.75, "wall_time_s": 1.0}])
    out = _text(status_view(store))  # accuracies of the sweep run last
    assert "sweep watch: best so far" in out and "sweep old: best so far" not in out
    assert "peak (periodic eval)" in out and "final" in out
    parity = next(line for line in out.splitlines() if "parity_check" in line and "sdssm/linear" in line)
    cells = [cell.strip() for cell in parity.split("│")]
    assert cells[3:6] == ["98.0%", "90.7%", "1/1"]
    running = next(line for line in out.splitlines() if "flip_flop" in line and "step 500" in line)
    assert "75.0%" in running and "peak (periodic eval) so far" in out
    assert "D7" in out and "Dn(" not in out and "automaton" not in out
    assert "sweep old: best so far" in _text(status_view(store, ["old"]))


def test_supervision_is_part_of_the_row_where_it_varies(tmp_path: Path) -> None:
    prefixes = PARITY.replace(supervision="prefixes")
    lstm = TrialConfig(task="parity_check", model="lstm")
    progress = SweepProgress("s", [PARITY, prefixes, lstm], already_done=0, concurrency=2, console=Console())
    for config in (PARITY, prefixes, lstm):
        progress.update(config.key, TrialStatus.RUNNING, result={"step": 500, "beyond_accuracy": 0.5})
    assert sorted(progress.peak) == ["lstm/linear parity_check", "sdssm/linear parity_check supervision=last",
                                     "sdssm/linear parity_check supervision=prefixes"]
    store = Store(str(tmp_path / "s.db"))
    store.register_sweep("s", [PARITY, prefixes, lstm])
    out = _text(status_view(store))
    assert "sdssm/linear supervision=prefixes" in out and "sdssm/linear supervision=last" in out
    assert "lstm/linear supervision" not in out
