"""The settings name each port's adapter; the composition root loads the one named, and only that one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

from shared.adapters import MEDIA_STORAGES, RATE_LIMITERS, TASK_QUEUES, UnknownAdapter, installed
from shared.bootstrap import create_media_storage, create_rate_limiter, create_task_queue
from shared.broker import CeleryTaskQueue
from shared.config import Settings
from shared.limits.database import DatabaseRateLimiter
from shared.limits.redis import RedisRateLimiter
from shared.media.storage import FileSystemMediaStorage
from shared.taskqueue import MemoryTaskQueue, SentTask


def settings(tmp_path: Path, **values: object) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path, broker_url="memory://", **values)


@pytest.fixture
def sessions() -> sessionmaker:
    return sessionmaker(create_engine("sqlite://"))


def test_crier_installs_these_adapters_of_each_port():
    assert installed(TASK_QUEUES) == ["celery", "memory"]
    assert installed(RATE_LIMITERS) == ["database", "redis"]
    assert installed(MEDIA_STORAGES) == ["filesystem"]


def test_the_defaults_are_celery_and_a_folder_in_the_data_directory(tmp_path: Path):
    assert isinstance(create_task_queue(settings(tmp_path)), CeleryTaskQueue)
    storage = create_media_storage(settings(tmp_path))
    assert isinstance(storage, FileSystemMediaStorage)
    assert storage.root == tmp_path / "media"


def test_the_memory_task_queue_keeps_what_it_is_asked_to_send(tmp_path: Path):
    queue = create_task_queue(settings(tmp_path, task_queue="memory"))

    queue.send("crier.example", {"id": "1"})

    assert isinstance(queue, MemoryTaskQueue)
    assert queue.sent == [SentTask("crier.example", {"id": "1"})]


def test_unset_the_limiter_is_redis_when_there_is_one_and_the_database_otherwise(
    tmp_path: Path, sessions: sessionmaker
):
    with_redis = settings(tmp_path, redis_url="redis://127.0.0.1:1/0")

    assert isinstance(create_rate_limiter(with_redis, sessions), RedisRateLimiter)
    assert isinstance(create_rate_limiter(settings(tmp_path), sessions), DatabaseRateLimiter)


def test_a_limiter_named_is_the_one_used_even_with_redis_set(tmp_path: Path, sessions: sessionmaker):
    chosen = settings(tmp_path, redis_url="redis://127.0.0.1:1/0", rate_limiter="database")

    assert isinstance(create_rate_limiter(chosen, sessions), DatabaseRateLimiter)


def test_the_redis_limiter_without_a_redis_server_says_which_setting_is_missing(
    tmp_path: Path, sessions: sessionmaker
):
    with pytest.raises(ValueError, match="CRIER_REDIS_URL"):
        create_rate_limiter(settings(tmp_path, rate_limiter="redis"), sessions)


def test_a_name_nothing_installs_is_refused_with_the_setting_and_the_installed_names(tmp_path: Path):
    with pytest.raises(UnknownAdapter) as refused:
        create_task_queue(settings(tmp_path, task_queue="celerey"))

    assert str(refused.value) == (
        "CRIER_TASK_QUEUE names 'celerey', and no task queue of that name is installed. "
        "Did you mean 'celery'? Installed: celery, memory."
    )


def test_a_process_that_chose_the_memory_queue_never_imports_celery(tmp_path: Path):
    program = (
        "import sys; from shared.bootstrap import create_task_queue; from shared.config import Settings; "
        f"create_task_queue(Settings(_env_file=None, data_dir={str(tmp_path)!r}, task_queue='memory')); "
        "print(sorted(name for name in ('celery', 'kombu', 'redis') if name in sys.modules))"
    )

    loaded = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True)

    assert loaded.stdout.strip() == "[]"
