"""The store's own API on a real SQLite file: a sweep's members follow its spec."""

from __future__ import annotations

from pathlib import Path

from sdssm.config import TrialConfig
from sdssm.sweep.store import Store, TrialStatus


def test_an_edited_spec_drops_removed_trials_from_the_sweep_but_keeps_their_results(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'r.db'}")
    kept, dropped = TrialConfig(seed=0), TrialConfig(seed=1, max_steps=4000)
    store.register_sweep("s", [kept, dropped])
    store.register_sweep("other", [dropped])
    store.mark_running(dropped.key, node="n")
    store.record_final(dropped.key, status=TrialStatus.FINISHED, accuracy_by_length=[0.5] * 500,
                       summary={"steps": 4000, "wall_time_s": 1.0, "beyond_accuracy": 0.5, "in_range_accuracy": 1.0})
    replacement = dropped.replace(max_steps=3000)
    store.register_sweep("s", [kept, replacement])  # the YAML's budget was edited
    members = store.frames(["s"], tables=())["memberships"]
    assert sorted(members["key"]) == sorted([kept.key, replacement.key])
    assert list(store.frames(["other"], tables=())["memberships"]["key"]) == [dropped.key]
    trials = {t.key: t for t in store.trials()}
    assert trials[dropped.key].status == TrialStatus.FINISHED  # its result stays in the store
    store.register_sweep("s", [kept, dropped])  # and putting it back finds it done
    assert {t.key: t.status for t in store.trials(["s"])}[dropped.key] == TrialStatus.FINISHED
    store.dispose()
