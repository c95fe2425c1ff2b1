"""docker-compose.yml and the Dockerfile give every Crier process one Prometheus folder, and JSON logs."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from shared.config import Settings
from tests.integration.test_compose import (
    ENV_PREFIX,
    LONG_RUNNING,
    crier_settings_of,
    dockerfile_arguments,
    raw_compose,
    service,
    shell_commands,
)


def settings_in_the_container(name: str) -> Settings:
    """The settings the service's processes read: the image's environment, then the compose file's."""
    image = dict(
        word.split("=", 1) for arguments in dockerfile_arguments("ENV") for word in shlex.split(arguments)
    )
    environment = {**image, **{key: value for key, value in crier_settings_of(name).items() if value}}
    return Settings(
        _env_file=None,
        **{
            key.removeprefix(ENV_PREFIX).lower(): value
            for key, value in environment.items()
            if key.startswith(ENV_PREFIX)
        },
    )


@pytest.mark.parametrize("name", LONG_RUNNING)
def test_the_api_worker_and_scheduler_mount_one_volume_where_their_settings_keep_prometheus_counts(name: str):
    folder = settings_in_the_container(name).prometheus_folder
    mounts = [str(volume).split(":") for volume in service(name).get("volumes", [])]

    assert ["prometheus", str(folder)] in mounts
    assert "prometheus" in raw_compose()["volumes"]


def test_the_image_makes_the_prometheus_folder_and_gives_it_to_the_user_it_runs_as():
    folder = str(settings_in_the_container("api").prometheus_folder)
    user = dockerfile_arguments("USER")[-1]
    commands = [
        [word.replace("$CRIER_DATA_DIR", "/app/var") for word in command]
        for run in dockerfile_arguments("RUN")
        for command in shell_commands(run)
    ]

    assert any(command[:2] == ["mkdir", "-p"] and folder in command for command in commands)
    assert any(
        command[0] == "chown" and command[1].startswith(user) and folder in command for command in commands
    )
    assert Path(folder).is_relative_to("/app/var")


@pytest.mark.parametrize("name", LONG_RUNNING)
def test_the_deployment_writes_json_logs(name: str):
    assert settings_in_the_container(name).log_format == "json"
