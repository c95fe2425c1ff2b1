"""Finding network adapters by name among installed entry points: lazily, once, with a helpful error."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from shared.config import Settings
from shared.networks.ports import Network
from shared.networks.registry import ENTRY_POINT_GROUP, NetworkRegistry, UnknownNetwork
from shared.networks.sandbox.adapter import SandboxNetwork
from tests.integration import fake_networks
from tests.integration.fake_networks import COUNTED_ENTRY, SANDBOX_ENTRY, ScriptedNetwork

BROKEN_ENTRY = EntryPoint(
    name="broken", value="tests.integration.no_such_module:build", group=ENTRY_POINT_GROUP
)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings for adapters only: the registry never touches Crier's database."""
    return Settings(data_dir=tmp_path / "var", sandbox_store_url=f"sqlite:///{tmp_path / 'sandbox.db'}")


def test_the_installed_sandbox_entry_point_loads_an_adapter_that_satisfies_the_port(
    settings: Settings,
) -> None:
    registry = NetworkRegistry(settings)

    assert "sandbox" in registry.names()
    sandbox = registry.get("sandbox")
    assert isinstance(sandbox, SandboxNetwork)
    assert isinstance(sandbox, Network)
    assert sandbox.info.name == "sandbox"


def test_every_installed_adapter_satisfies_the_port_under_its_own_name(settings: Settings) -> None:
    registry = NetworkRegistry(settings)

    adapters = registry.all()

    assert [adapter.info.name for adapter in adapters] == registry.names()
    assert all(isinstance(adapter, Network) for adapter in adapters)


def test_the_port_check_refuses_an_object_that_lacks_part_of_the_port() -> None:
    # The control for the two tests above: the runtime check is not vacuous.
    class PublishOnly:
        info = ScriptedNetwork.info

        def publish(self, *_: object) -> None: ...

    assert not isinstance(PublishOnly(), Network)


def test_an_unknown_name_lists_the_installed_networks_and_suggests_a_close_one(settings: Settings) -> None:
    registry = NetworkRegistry(settings)
    installed = ", ".join(registry.names())

    with pytest.raises(UnknownNetwork) as typo:
        registry.get("sandbx")
    with pytest.raises(UnknownNetwork) as unrelated:
        registry.get("myspace")

    assert (
        str(typo.value)
        == f"No network named 'sandbx' is installed. Did you mean 'sandbox'? Installed: {installed}."
    )
    assert (typo.value.name, typo.value.installed) == ("sandbx", registry.names())
    assert str(unrelated.value) == f"No network named 'myspace' is installed. Installed: {installed}."
    assert isinstance(typo.value, LookupError)


def test_a_registry_with_nothing_installed_says_so(settings: Settings) -> None:
    with pytest.raises(
        UnknownNetwork, match=r"^No network named 'sandbox' is installed\. Installed: none\.$"
    ):
        NetworkRegistry(settings, entries=[]).get("sandbox")


def test_adapters_are_loaded_on_first_use_and_only_once(settings: Settings) -> None:
    built_before = len(fake_networks.BUILT)
    registry = NetworkRegistry(settings, entries=[SANDBOX_ENTRY, COUNTED_ENTRY, BROKEN_ENTRY])

    # Listing names loads nothing: not even the entry point whose module does not exist.
    assert registry.names() == ["broken", "counted", "sandbox"]
    assert len(fake_networks.BUILT) == built_before

    start = threading.Barrier(8)

    def get_counted() -> Network:
        start.wait()
        return registry.get("counted")

    with ThreadPoolExecutor(8) as pool:
        got = [future.result(timeout=10) for future in [pool.submit(get_counted) for _ in range(8)]]

    assert fake_networks.BUILT[built_before:] == [got[0]]
    assert all(adapter is got[0] for adapter in got)
    assert registry.get("counted") is got[0]
    assert len(fake_networks.BUILT) == built_before + 1
    assert isinstance(registry.get("sandbox"), SandboxNetwork)
    with pytest.raises(ModuleNotFoundError, match=r"tests\.integration\.no_such_module"):
        registry.get("broken")
