"""A non-editable install carries templates/ and config/ (issue #2): build the wheel, install it
into a fresh folder and ask digest.resources where they are from another working directory."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_ships_templates_and_config(tmp_path: Path) -> None:
    wheel_dir, target = tmp_path / "wheel", tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(wheel_dir), str(ROOT)], check=True, cwd=tmp_path)
    (wheel,) = wheel_dir.glob("digest-*.whl")
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target),
                    str(wheel)], check=True, cwd=tmp_path)
    probe = ("import sys; sys.path.insert(0, sys.argv[1]); from digest import resources as r; "
             "print(r.templates_dir()); print(r.config_dir()); print(r.samples_dir())")
    out = subprocess.run([sys.executable, "-I", "-c", probe, str(target)], check=True, cwd=tmp_path,
                         capture_output=True, text=True).stdout.split()
    templates, config, samples = (Path(p) for p in out)
    for folder in (templates, config, samples):
        assert folder.is_relative_to(target), f"{folder} is not inside the installed package"
    assert (templates / "email" / "digest.html").is_file()
    assert (config / "digest.example.toml").is_file()
    assert any(samples.glob("*.xml"))
