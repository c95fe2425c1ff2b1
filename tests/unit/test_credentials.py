"""Channel credentials are sealed at rest, open only with the configured secrets, and rotate."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from shared.config import Settings
from shared.credentials import CredentialCipher, CredentialsUnreadable, cipher_from_settings
from shared.networks.ports import Account

TOKEN = {"access_token": "s3cr3t-token-value"}


def test_sealed_credentials_open_to_what_was_sealed_and_do_not_show_it():
    cipher = CredentialCipher(["first secret"])

    sealed = cipher.seal(TOKEN)

    assert sealed is not None
    assert b"s3cr3t" not in sealed
    assert cipher.open(sealed) == TOKEN


def test_no_credentials_seal_to_nothing_and_open_to_nothing():
    cipher = CredentialCipher(["first secret"])

    assert cipher.seal({}) is None
    assert cipher.open(None) == {}


def test_a_new_secret_put_first_still_opens_what_the_old_one_sealed_and_reseals_it():
    old = CredentialCipher(["old secret"])
    rotating = CredentialCipher(["new secret", "old secret"])
    sealed_by_old = old.seal(TOKEN)
    assert sealed_by_old is not None

    resealed = rotating.reseal(sealed_by_old)

    assert rotating.open(sealed_by_old) == TOKEN
    assert CredentialCipher(["new secret"]).open(resealed) == TOKEN


def test_credentials_sealed_with_a_lost_secret_say_so_plainly():
    sealed = CredentialCipher(["lost secret"]).seal(TOKEN)

    with pytest.raises(CredentialsUnreadable, match="reconnect the channel"):
        CredentialCipher(["another secret"]).open(sealed)


def test_an_account_gets_its_credentials_only_when_opened_for_a_call():
    cipher = CredentialCipher(["first secret"])
    account = Account(channel_id="c", handle="acme")

    opened = cipher.open_into(account, cipher.seal(TOKEN))

    assert account.credentials == {}
    assert opened.credentials == TOKEN
    assert "s3cr3t" not in repr(opened)


def test_the_secret_key_setting_may_list_several_secrets_the_first_sealing(tmp_path: Path):
    settings = Settings(secret_key="new secret, old secret", data_dir=tmp_path)
    sealed_by_old = CredentialCipher(["old secret"]).seal(TOKEN)

    cipher = cipher_from_settings(settings)

    assert cipher.open(sealed_by_old) == TOKEN
    assert CredentialCipher(["new secret"]).open(cipher.seal(TOKEN)) == TOKEN
    assert not (tmp_path / "secret_key").exists()


def test_without_a_secret_key_the_embedded_mode_keeps_one_private_secret_in_the_data_directory(
    tmp_path: Path,
):
    settings = Settings(data_dir=tmp_path / "var")

    sealed = cipher_from_settings(settings).seal(TOKEN)
    reopened = cipher_from_settings(settings).open(sealed)

    secret_file = tmp_path / "var" / "secret_key"
    assert reopened == TOKEN
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    assert len(secret_file.read_text().strip()) >= 40
    assert list((tmp_path / "var").iterdir()) == [secret_file]
