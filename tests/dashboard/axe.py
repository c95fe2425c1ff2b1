"""axe-core in the browser tests: load it into a page from the copy scripts/test installs, run it, and say
what it finds that is serious or critical.

axe is injected from its file (Playwright's add_script_tag reads it and adds it inline), so no page asks
the network for it. The dashboard's Content-Security-Policy allows no script at all, axe's included, so
the pages axe looks at are opened in a browser context that bypasses the policy (`context_options`);
the other browser tests keep it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page

AXE_VERSION = "4.14.1"  # the version scripts/test installs
ROOT = Path(__file__).resolve().parents[2]
AXE_SCRIPT = Path(
    os.environ.get(
        "CRIER_TEST_AXE", ROOT / f"var/test-tools/axe-core-{AXE_VERSION}/node_modules/axe-core/axe.min.js"
    )
)
# What fails a page: axe's two highest impacts. Moderate and minor findings are reported, not failed.
FAILING_IMPACTS = ("serious", "critical")
# WCAG 2.1 A and AA, and axe's own best practices.
RUN_OPTIONS = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]}
}

# A browser context for pages axe runs in: the dashboard forbids every script, axe's included.
context_options: dict[str, Any] = {"bypass_csp": True}


def axe_script() -> Path:
    """axe.min.js as scripts/test installs it; the test fails, saying how to get it, when it is missing."""
    if not AXE_SCRIPT.is_file():
        pytest.fail(
            f"axe-core is not at {AXE_SCRIPT}. `make test` (scripts/test) installs it with npm; by hand: "
            f"npm install --prefix var/test-tools/axe-core-{AXE_VERSION} --no-save axe-core@{AXE_VERSION}, "
            "or point CRIER_TEST_AXE at an axe.min.js.",
            pytrace=False,
        )
    return AXE_SCRIPT


def violations(page: Page) -> list[dict[str, Any]]:
    """Every violation axe finds on the page as it is now, with its impact and the elements it names."""
    page.wait_for_load_state("load")  # the stylesheet too: colours and sizes are judged as they are seen
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=axe_script())
    found: list[dict[str, Any]] = page.evaluate(
        "async (options) => (await axe.run(document, options)).violations", RUN_OPTIONS
    )
    return found


def serious_violations(page: Page) -> list[str]:
    """axe's serious and critical findings on the page, one readable line per element."""
    return [
        f"{violation['id']} ({violation['impact']}): {violation['help']} at {node['target']}: "
        f"{node.get('failureSummary', '')}"
        for violation in violations(page)
        if violation["impact"] in FAILING_IMPACTS
        for node in violation["nodes"]
    ]


def assert_no_serious_violation(page: Page) -> None:
    found = serious_violations(page)
    assert not found, f"axe finds on {page.url}:\n" + "\n".join(found)
