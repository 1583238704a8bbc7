"""Symbolic links a data root must not be read through (issue 21, item 16): a link loop
(``loop -> .``, ``back -> ..``), a link to itself and a dangling link are reported by
``genrebench data check`` and by loading, and used by neither."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from genrebench.audio import write_audio
from genrebench.cli import main
from genrebench.datasets.loaders import folder
from genrebench.datasets.loaders.base import link_problem


def collection(root: Path) -> Path:
    for label, step in (("rock", 0.05), ("jazz", 0.2)):
        (root / label).mkdir(parents=True)
        for i in range(3):
            write_audio(root / label / f"{i}.wav", 0.1 * np.sin(np.arange(4000) * step), 8000)
    (root / "loop").symlink_to(".")  # a loop at the data root
    (root / "rock" / "self.wav").symlink_to("self.wav")  # a link to itself
    (root / "jazz" / "back").symlink_to("..")  # a loop inside a label folder
    (root / "jazz" / "gone.wav").symlink_to("nowhere.wav")  # a dangling link
    return root


def test_link_problem_names_loops_self_links_and_dangling_links(tmp_path):
    root = collection(tmp_path / "data")
    assert "leads back to the link itself" in link_problem(root / "rock" / "self.wav")
    assert "a folder that holds it" in link_problem(root / "loop")
    assert "a folder that holds it" in link_problem(root / "jazz" / "back")
    assert "does not exist" in link_problem(root / "jazz" / "gone.wav")
    (tmp_path / "elsewhere").mkdir()
    (root / "fine").symlink_to(tmp_path / "elsewhere")  # a link out of the root is fine
    assert link_problem(root / "fine") is None and link_problem(root / "rock") is None


def test_data_check_reports_every_bad_link_and_is_not_ok(tmp_path, capsys):
    root = collection(tmp_path / "data")
    assert main(["data", "check", "folder", "--data-root", str(root)]) == 1
    out = capsys.readouterr().out
    assert "expected files: 6, found: 6" in out and "NOT OK" in out
    for link in ("loop", "rock/self.wav", "jazz/back", "jazz/gone.wav"):
        assert f"{root / link}: " in out
    assert "classes: jazz, rock" in out and "6 usable tracks" in out


def test_loading_uses_no_bad_link_and_says_so(tmp_path):
    root = collection(tmp_path / "data")
    dataset = folder.load(root, {})
    assert dataset.classes == ["jazz", "rock"]  # no label 'loop' holding copies
    assert sorted(t.track_id for t in dataset.tracks) == [
        f"{label}/{i}.wav" for label in ("jazz", "rock") for i in range(3)
    ]
    noted = "\n".join(dataset.notes)
    assert f"{root / 'loop'} not followed: symbolic link loop" in noted
    assert f"{root / 'rock' / 'self.wav'} not followed" in noted
    assert f"{root / 'jazz' / 'back'} not followed" in noted
