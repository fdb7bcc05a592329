"""Where the catalog is read from when nothing names it."""

from __future__ import annotations

from pathlib import Path

import pytest

from exchange.state import Settings


def test_outside_the_repository_the_sample_catalog_is_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A regression: after the settings moved into exchange/state/, the fallback pointed at
    # the exchange.catalog package, so `govbus demo` failed outside the repository.
    monkeypatch.chdir(tmp_path)
    settings = Settings.from_env({"GOVBUS_HOME": str(tmp_path / "home")})
    assert (settings.catalog_dir / "agencies.yaml").is_file()
    assert (settings.catalog_dir / "datasets").is_dir()


def test_a_catalog_in_the_working_directory_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "catalog").mkdir()
    (tmp_path / "catalog" / "agencies.yaml").write_text("members: []\n")
    monkeypatch.chdir(tmp_path)
    assert Settings.from_env({}).catalog_dir == (tmp_path / "catalog").resolve()
