"""`sdssm-sweep export --tensorboard`: one run per trial named by its hyperparameters, scalars at the
training step, flat hparams, and a rewrite that replaces rather than duplicates. The event files are read
back with the protobuf classes tensorboardX writes them with."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from tensorboardX.proto import event_pb2

from sdssm.cli import main
from tests.analysis.synthetic import MAIN


def read_events(folder: Path) -> list[event_pb2.Event]:
    """Every event of a run folder (TFRecord: length, crc, payload, crc)."""
    events = []
    for path in sorted(folder.glob("events.out.tfevents.*")):
        data = path.read_bytes()
        offset = 0
        while offset < len(data):
            (length,) = struct.unpack("<Q", data[offset:offset + 8])
            payload = data[offset + 12:offset + 12 + length]
            events.append(event_pb2.Event.FromString(payload))
            offset += 12 + length + 4
    return events


def test_one_run_per_trial_with_steps_and_hparams(db_url: str, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "tb"
    assert main(["export", "--tensorboard", str(out), "--db", db_url, "--sweep", "main"]) == 0
    runs = sorted(p.name for p in out.iterdir())
    assert len(runs) == len(MAIN)
    solved = next(name for name in runs if name.startswith("parity_check-sdssm-lr0.0001-k8-p1.2-seed0-"))
    events = read_events(out / solved)
    scalars = {(value.tag, event.step): value.simple_value for event in events for value in event.summary.value
               if value.HasField("simple_value")}
    assert scalars[("accuracy/beyond_pct", 500)] == pytest.approx(50.0)  # the training step, in %
    finals = {tag: v for (tag, _), v in scalars.items() if tag.startswith("final/")}
    assert finals["final/beyond_pct"] == pytest.approx(100.0)
    assert finals["final/solved_step"] == 12000
    plugin_tags = {value.tag for event in events for value in event.summary.value if value.metadata.plugin_data.plugin_name}
    assert "_hparams_/session_start_info" in plugin_tags  # flat hparams in the run's own folder
    start = next(value for event in events for value in event.summary.value
                 if value.tag == "_hparams_/session_start_info")
    assert b"lr" in start.metadata.plugin_data.content and b"seed" in start.metadata.plugin_data.content

    # exporting again replaces each run instead of adding a second event file beside the first
    assert main(["export", "--tensorboard", str(out), "--db", db_url, "--sweep", "main"]) == 0
    assert len(list((out / solved).glob("events.out.tfevents.*"))) == 1
    assert "tensorboard --logdir" in capsys.readouterr().out


def test_export_needs_somewhere_to_write(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", "--db", db_url]) == 2
    assert "needs a folder for the tables (OUT), --tensorboard DIR, or both" in capsys.readouterr().err
