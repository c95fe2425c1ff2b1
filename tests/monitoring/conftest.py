"""Services with the scripted network, the API over them, and a scrape of /metrics read into samples."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from services.api.app import create_app
from shared.bootstrap import Services
from shared.config import Settings
from shared.taskqueue import MemoryTaskQueue
from tests.integration.fake_networks import bootstrap_with_scripted_network


@pytest.fixture
def scripted(services: Services, settings: Settings, task_queue: MemoryTaskQueue) -> Iterator[Services]:
    """Services whose registry also has the scripted networks; `services` empties the tables afterwards."""
    built = bootstrap_with_scripted_network(settings, task_queue, engine=services.engine)
    yield built
    built.close()


@pytest.fixture
def client(scripted: Services) -> FlaskClient:
    """A client of the API, sending no token."""
    return create_app(services=scripted).test_client()


@dataclass(frozen=True)
class Scrape:
    """One answer of GET /metrics, read the way Prometheus reads it."""

    samples: dict[tuple[str, frozenset[tuple[str, str]]], float]

    @classmethod
    def of(cls, client: FlaskClient) -> Scrape:
        response = client.get("/metrics")
        assert response.status_code == 200, response.get_data(as_text=True)
        samples = {
            (sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(response.get_data(as_text=True))
            for sample in family.samples
        }
        return cls(samples)

    def value(self, name: str, **labels: str) -> float | None:
        """The sample's value; None when /metrics does not have it."""
        return self.samples.get((name, frozenset(labels.items())))

    def counted(self) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
        """Every sample that may only ever grow: counters, and histograms' buckets, counts and sums."""
        growing = ("_total", "_bucket", "_count", "_sum")
        return {key: value for key, value in self.samples.items() if key[0].endswith(growing)}
