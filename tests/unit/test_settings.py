"""Settings are read from the environment once; the README documents each of them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from shared.config import Settings

README = Path(__file__).parents[2] / "README.md"


def test_the_defaults_are_the_embedded_mode_under_the_data_directory():
    settings = Settings(_env_file=None, data_dir=Path("/srv/crier"))

    assert settings.resolved_database_url == "sqlite:////srv/crier/crier.db"
    assert settings.resolved_sandbox_store_url == "sqlite:////srv/crier/sandbox.db"
    assert settings.broker_url == "filesystem://"
    assert settings.broker_folder == Path("/srv/crier/broker")


def test_settings_come_from_crier_prefixed_environment_variables(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CRIER_DATABASE_URL", "postgresql://crier:secret@db:5432/crier")
    monkeypatch.setenv("CRIER_CLAIM_BATCH_SIZE", "250")

    settings = Settings()

    assert settings.resolved_database_url == "postgresql+psycopg://crier:secret@db:5432/crier"
    assert settings.claim_batch_size == 250


def test_a_nonsensical_value_is_refused_with_the_setting_named(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CRIER_SCHEDULER_TICK_SECONDS", "0")

    with pytest.raises(ValidationError, match="scheduler_tick_seconds"):
        Settings()


def test_the_readme_documents_every_setting_and_no_other():
    documented = set(re.findall(r"^\| `(CRIER_[A-Z_]+)` \|", README.read_text(), flags=re.MULTILINE))

    assert documented == {f"CRIER_{name.upper()}" for name in Settings.model_fields}
