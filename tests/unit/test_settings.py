"""Settings are read from the environment once; the README documents each of them."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import ValidationError

from services.cli.main import start_banner
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
    # A row may name a pair that goes together (an app's id and secret): `CRIER_A`, `CRIER_B`.
    first_cells = re.findall(
        r"^\| (`CRIER_[A-Z_]+`(?:, `CRIER_[A-Z_]+`)*) \|", README.read_text(), flags=re.MULTILINE
    )
    documented = {name for cell in first_cells for name in re.findall(r"CRIER_[A-Z_]+", cell)}

    assert documented == {f"CRIER_{name.upper()}" for name in Settings.model_fields}


@pytest.mark.parametrize(
    ("api_bind", "public_url"),
    [
        ("127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("127.0.0.1:9000", "http://127.0.0.1:9000"),
        ("localhost", "http://localhost:8000"),
        ("0.0.0.0:9000", "http://127.0.0.1:9000"),
        (":9000", "http://127.0.0.1:9000"),
        ("[::]:9000", "http://[::1]:9000"),
        ("[::1]:9001", "http://[::1]:9001"),
        ("tcp://192.0.2.10:80", "http://192.0.2.10:80"),
    ],
)
def test_unset_the_public_url_is_where_the_api_listens_reached_from_this_machine(
    api_bind: str, public_url: str
):
    assert Settings(_env_file=None, api_bind=api_bind).public_url == public_url


def test_the_public_url_follows_the_api_bind_read_from_the_environment(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CRIER_API_BIND", "127.0.0.1:9000")

    assert Settings().public_url == "http://127.0.0.1:9000"


def test_a_public_url_given_is_kept_whatever_the_api_listens_on():
    settings = Settings(_env_file=None, api_bind="0.0.0.0:8000", public_url="https://crier.example.org")

    assert settings.public_url == "https://crier.example.org"


def test_an_api_on_a_unix_socket_needs_its_public_url_said():
    with pytest.raises(ValidationError, match="set CRIER_PUBLIC_URL"):
        Settings(_env_file=None, api_bind="unix:/run/crier.sock")

    assert Settings(
        _env_file=None, api_bind="unix:/run/crier.sock", public_url="https://c.example"
    ).public_url


@pytest.mark.parametrize(
    ("settings", "banner"),
    [
        (
            Settings(_env_file=None, api_bind="127.0.0.1:9000"),
            "Crier API on http://127.0.0.1:9000  (docs: http://127.0.0.1:9000/docs)",
        ),
        (
            Settings(_env_file=None, api_bind="0.0.0.0:8000"),
            "Crier API on http://127.0.0.1:8000 (listening on 0.0.0.0:8000)  (docs: http://127.0.0.1:8000/docs)",
        ),
        (
            Settings(_env_file=None, public_url="https://crier.example.org/"),
            "Crier API on http://127.0.0.1:8000, reached by users at https://crier.example.org"
            "  (docs: http://127.0.0.1:8000/docs)",
        ),
    ],
)
def test_crier_up_says_the_address_its_api_listens_on(settings: Settings, banner: str):
    assert start_banner(settings) == banner


STRONG_KEY = "0fXq8mJ2vR5tK9wL3zB7nC1dH6gY4pSx_aEuIoTrWq"  # secrets.token_urlsafe(32), once


@pytest.mark.parametrize(
    ("key", "why"),
    [
        ("changeme", "8 characters long"),
        ("s3cr3t-k3y-2024", "15 characters long"),
        ("please-changeme-before-going-to-production", "'changeme'"),
        ("Your_Secret_Key_Goes_Here_0123456789", "'yoursecret'"),
        ("this-is-an-example-key-for-the-docs-1234", "'example'"),
        ("ab" * 20, "only 2 different characters"),
        ("0" * 64, "only 1 different characters"),
    ],
)
def test_a_weak_secret_key_is_refused_in_production_without_being_repeated(key: str, why: str):
    with pytest.raises(ValidationError) as refused:
        Settings(_env_file=None, environment="production", secret_key=key)

    assert "CRIER_SECRET_KEY is too weak for production" in str(refused.value)
    assert why in str(refused.value)
    assert key not in str(refused.value)


def test_production_needs_a_secret_key_at_all():
    with pytest.raises(
        ValidationError, match="CRIER_SECRET_KEY is required when CRIER_ENVIRONMENT is production"
    ):
        Settings(_env_file=None, environment="production")


@pytest.mark.parametrize(
    "make_key",
    [
        lambda: STRONG_KEY,
        lambda: secrets.token_urlsafe(32),
        lambda: secrets.token_hex(16),
        lambda: secrets.token_hex(32),
    ],
    ids=["readme", "token_urlsafe(32)", "token_hex(16)", "token_hex(32)"],
)
def test_a_random_key_made_as_the_readme_says_is_taken_in_production(make_key: Callable[[], str]):
    # Made in the test, not at collection: every process that collects the suite must see the same tests.
    key = make_key()
    assert Settings(_env_file=None, environment="production", secret_key=key).secret_keys == [key]


def test_only_the_first_key_must_be_strong_so_a_weak_one_can_be_rotated_away():
    # The old, weak key stays after the new one until `crier credentials reseal` has run.
    settings = Settings(_env_file=None, environment="production", secret_key=f"{STRONG_KEY}, changeme")

    assert settings.secret_keys == [STRONG_KEY, "changeme"]
    with pytest.raises(ValidationError, match="too weak"):
        Settings(_env_file=None, environment="production", secret_key=f"changeme, {STRONG_KEY}")


def test_development_takes_any_key_or_none():
    assert Settings(_env_file=None, secret_key="dev").secret_keys == ["dev"]
    assert Settings(_env_file=None).secret_keys == []


def test_a_refused_setting_never_echoes_the_others(monkeypatch: pytest.MonkeyPatch):
    # A check of the whole settings would otherwise print them all, the database's password among them.
    monkeypatch.setenv("CRIER_DATABASE_URL", "postgresql://crier:hunter2-password@db/crier")
    monkeypatch.setenv("CRIER_ENVIRONMENT", "production")

    with pytest.raises(ValidationError) as refused:
        Settings()

    assert "hunter2" not in str(refused.value)
