"""The README's table of metrics names every metric /metrics answers, with its type, and no other."""

from __future__ import annotations

import re
from pathlib import Path

from services.api.monitoring import QueueCollector
from shared.bootstrap import Services
from shared.monitoring.recording import _Instruments

README = Path(__file__).parents[2] / "README.md"


def exposed_name(name: str, kind: str) -> str:
    # A counter's samples, the name Prometheus users query, end in _total.
    return f"{name}_total" if kind == "counter" else name


def test_the_readme_lists_every_metric_with_its_type_and_no_other(services: Services):
    counted = [instrument.describe()[0] for instrument in vars(_Instruments()).values()]
    read_at_scrape = list(QueueCollector(services.sessions).collect())
    in_the_code = {
        (exposed_name(family.name, family.type), family.type) for family in counted + read_at_scrape
    }

    documented = set(re.findall(r"^\| `(crier_[a-z_]+)` \| (\w+) \|", README.read_text(), flags=re.MULTILINE))

    assert documented == in_the_code
