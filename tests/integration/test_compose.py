"""docker-compose.yml and the Dockerfile, checked against the code they run.

No Docker engine runs here, so these tests read both files and resolve every name in them the way the
containers would: console scripts, import targets, command-line options, Celery queues and settings.
A rename in the code that the deployment files do not follow fails here rather than in production.
"""

from __future__ import annotations

import ast
import importlib
import io
import json
import re
import shlex
import socket
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from datetime import timedelta
from fnmatch import fnmatch
from functools import cache
from importlib import metadata
from pathlib import Path, PurePosixPath
from typing import Any, get_args
from urllib.parse import urlsplit

import click
import pytest
import yaml
from celery import Celery
from celery.bin.base import CLIContext
from celery.bin.celery import celery as celery_command
from gunicorn.config import Config as GunicornConfig
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from sqlalchemy.engine import make_url

from services.api.app import create_app
from services.worker.app import create_celery_app
from shared.bootstrap import Services, bootstrap
from shared.config import Settings
from shared.db import utcnow
from shared.deliveries.claiming import claim_due
from shared.networks.ports import MediaItem
from shared.networks.registry import NetworkRegistry
from shared.task_names import PUBLISH_DELIVERIES, QUEUES
from shared.taskqueue import MemoryTaskQueue
from tests.factories import make_channel, make_workspace
from tests.integration.fake_networks import SANDBOX_ENTRY
from tests.media.fake_networks import PICTURES_ENTRY, PicturesSandbox
from tests.media.samples import image

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())

STACK = {"postgres", "redis", "migrate", "api", "worker", "scheduler", "lb", "flower"}
FROM_REGISTRIES = ("postgres", "redis", "lb", "flower")
MIGRATION = "migrate"
LONG_RUNNING = ("api", "worker", "scheduler")
PROJECT_SERVICES = (MIGRATION, *LONG_RUNNING)
REQUIRED_IN_PRODUCTION = ("database_url", "broker_url", "secret_key")
LOAD_BALANCER = "lb"

ENV_PREFIX = Settings.model_config["env_prefix"]
SETTING_VARIABLES = {f"{ENV_PREFIX}{name}".upper() for name in Settings.model_fields}
# What `docker compose up` would find in the user's environment or .env.
# As the README makes it: production refuses a short or placeholder key.
USER_ENVIRONMENT = {f"{ENV_PREFIX}SECRET_KEY": "0fXq8mJ2vR5tK9wL3zB7nC1dH6gY4pSx_aEuIoTrWq"}

# Compose interpolation: `$$` is a literal `$`; `${NAME}`, `${NAME:-default}`, `${NAME:?error}` and their
# colon-less and `+` forms substitute. `$NAME` also substitutes, and anything else after `$` is an error.
INTERPOLATION = re.compile(
    r"\$(?:(?P<escaped>\$)"
    r"|\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<operator>:?[-?+])(?P<argument>[^}]*))?\}"
    r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<stray>))"
)


# --- reading the files ------------------------------------------------------------------------------


def interpolate(text: str, environment: Mapping[str, str]) -> str:
    """`text` as Compose would pass it on, given the user's `environment`."""

    def substitute(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        name = match["name"] or match["bare"]
        if name is None:
            raise ValueError(f"a lone `$` in {text!r}")
        operator, argument = match["operator"] or "", match["argument"] or ""
        value = environment.get(name)
        if operator.startswith(":") and value == "":
            value = None
        if operator.endswith("+"):
            return argument if value is not None else ""
        if value is not None:
            return value
        if operator.endswith("?"):
            raise LookupError(argument or f"{name} is required")
        return argument if operator.endswith("-") else ""

    return INTERPOLATION.sub(substitute, text)


def interpolated(node: Any, environment: Mapping[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, environment)
    if isinstance(node, list):
        return [interpolated(item, environment) for item in node]
    if isinstance(node, dict):
        return {key: interpolated(value, environment) for key, value in node.items()}
    return node


def strings_in(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, list):
        for item in node:
            yield from strings_in(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from strings_in(key)
            yield from strings_in(value)


@cache
def raw_compose() -> dict[str, Any]:
    """The file as YAML gives it: anchors and `<<:` merges resolved, `$` not yet interpolated."""
    document = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(document, dict), "docker-compose.yml is not a YAML mapping"
    return document


@cache
def compose() -> dict[str, Any]:
    """The file as Compose runs it, with the user's environment interpolated."""
    return interpolated(raw_compose(), USER_ENVIRONMENT)


def service(name: str, user_environment: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The service as Compose runs it, given the user's environment (USER_ENVIRONMENT by default)."""
    if user_environment is None:
        return compose()["services"][name]
    return interpolated(raw_compose(), user_environment)["services"][name]


def command_of(name: str) -> list[str]:
    command = service(name)["command"]
    return shlex.split(command) if isinstance(command, str) else [str(word) for word in command]


def healthcheck_of(name: str) -> list[str]:
    """The healthcheck as the words of one command line."""
    test = service(name)["healthcheck"]["test"]
    if isinstance(test, str):
        return shlex.split(test)
    kind, *words = test
    assert kind in ("CMD", "CMD-SHELL"), f"{name}'s healthcheck is {kind}, not a command"
    return shlex.split(words[0]) if kind == "CMD-SHELL" else [str(word) for word in words]


def environment_of(name: str, user_environment: Mapping[str, str] | None = None) -> dict[str, str | None]:
    environment = service(name, user_environment).get("environment", {})
    if isinstance(environment, list):
        pairs = [item.split("=", 1) for item in environment]
        return {pair[0]: pair[1] if len(pair) == 2 else None for pair in pairs}
    return {key: None if value is None else str(value) for key, value in environment.items()}


def crier_settings_of(name: str, user_environment: Mapping[str, str] | None = None) -> dict[str, str | None]:
    return {
        key: value
        for key, value in environment_of(name, user_environment).items()
        if key.startswith(ENV_PREFIX)
    }


def published_container_ports(name: str) -> set[int]:
    ports = set()
    for port in service(name).get("ports", []):
        target = port["target"] if isinstance(port, dict) else str(port).rsplit(":", 1)[-1]
        ports.add(int(str(target).split("/")[0]))
    return ports


@cache
def dockerfile() -> list[tuple[str, str]]:
    """The Dockerfile's instructions, continuation lines joined and comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for line in DOCKERFILE.read_text().splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        keyword, _, arguments = (pending + stripped).partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
        pending = ""
    assert not pending, "the Dockerfile ends in a continued line"
    return instructions


def dockerfile_arguments(keyword: str) -> list[str]:
    return [arguments for instruction, arguments in dockerfile() if instruction == keyword]


def dockerfile_cmd() -> list[str]:
    (cmd,) = dockerfile_arguments("CMD")
    words = json.loads(cmd)
    assert isinstance(words, list), "Dockerfile CMD is not in exec (JSON) form"
    return words


def shell_commands(run: str) -> list[list[str]]:
    """The simple commands of one RUN line, split at `&&`, `||` and `;`."""
    commands: list[list[str]] = [[]]
    for word in shlex.split(run):
        if word in ("&&", "||", ";"):
            commands.append([])
        else:
            commands[-1].append(word)
    return [command for command in commands if command]


def copy_sources(arguments: str) -> list[str]:
    words = [word for word in shlex.split(arguments) if not word.startswith("--")]
    return [source.rstrip("/") for source in words[:-1]]


def ignored_by_dockerignore(path: str) -> bool:
    """Whether Docker leaves `path` out of the build context: the last pattern matching it or a parent wins.

    Docker's `**`, `*` and `?` are translated; its character classes are not, and this file uses none.
    """
    prefixes = path.split("/")
    candidates = ["/".join(prefixes[: length + 1]) for length in range(len(prefixes))]
    ignored = False
    for line in DOCKERIGNORE.read_text().splitlines():
        pattern = line.strip()
        if not pattern or pattern.startswith("#"):
            continue
        keep = pattern.startswith("!")
        regex = dockerignore_regex(pattern.removeprefix("!").strip().strip("/"))
        if any(regex.fullmatch(candidate) for candidate in candidates):
            ignored = not keep
    return ignored


def dockerignore_regex(pattern: str) -> re.Pattern[str]:
    tokens = re.split(r"(\*\*/|\*\*|\*|\?)", pattern)
    translated = {"**/": "(?:.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}
    return re.compile("".join(translated.get(token, re.escape(token)) for token in tokens))


# --- resolving what the commands name -----------------------------------------------------------------


def resolve(target: str) -> Any:
    """`module:attribute` (dots allowed in the attribute), imported the way entry points are."""
    module_name, separator, attribute = target.partition(":")
    assert separator, f"{target!r} is not module:attribute"
    found: Any = importlib.import_module(module_name)
    for part in attribute.split("."):
        assert hasattr(found, part), f"{module_name} has no {attribute!r}"
        found = getattr(found, part)
    return found


def parse_one(
    command: click.Command, name: str, args: list[str], parent: click.Context | None, obj: Any = None
) -> tuple[click.Context, list[str]]:
    context = command.context_class(
        command, info_name=name, parent=parent, obj=obj, **command.context_settings
    )
    with context.scope(cleanup=False):
        # The base class's parse_args: for a group it returns the subcommand and its arguments untouched.
        rest = click.Command.parse_args(command, context, args)
    return context, rest


def parse_click(command: click.Command, argv: list[str], obj: Any = None) -> list[click.Context]:
    """Parse `argv` as the click program would, down to its last subcommand, without running anything."""
    try:
        context, rest = parse_one(command, argv[0], argv[1:], None, obj)
        contexts = [context]
        while isinstance(command, click.Group):
            assert rest, f"`{shlex.join(argv)}` stops at a group: {sorted(command.commands)}"
            name, found, args = command.resolve_command(context, rest)
            assert name is not None
            assert found is not None
            command = found
            context, rest = parse_one(command, name, args, context)
            contexts.append(context)
    except click.ClickException as error:
        pytest.fail(f"`{shlex.join(argv)}`: {error.format_message()}")
    return contexts


def parse_celery(argv: list[str], built: Celery | None = None) -> tuple[Celery, list[click.Context]]:
    """The Celery app `--app` names, and the parsed command line (option types and defaults need the app).

    `built` stands for that app as another process builds it, from its own settings.
    """
    root, _ = parse_one(celery_command, argv[0], argv[1:], None)
    target = root.params["app"]
    assert target, f"`{shlex.join(argv)}` names no --app"
    app = resolve(target)
    assert isinstance(app, Celery), f"{target} is a {type(app).__name__}, not a Celery app"
    if built is not None:
        assert type(built) is type(app), f"{target} is a {type(app).__name__}, not a {type(built).__name__}"
        app = built
    return app, parse_click(celery_command, argv, CLIContext(app=app, no_color=True, workdir=None))


def parse_gunicorn(argv: list[str]) -> tuple[GunicornConfig, str]:
    """gunicorn's settings, validated the way gunicorn validates them, and its APP_MODULE."""
    config = GunicornConfig(usage="%(prog)s [OPTIONS] [APP_MODULE]", prog="gunicorn")
    try:
        parsed = config.parser().parse_args(argv[1:])
    except SystemExit:
        pytest.fail(f"gunicorn does not accept `{shlex.join(argv)}` (its message is above)")
    for setting, value in vars(parsed).items():
        if setting != "args" and value is not None:
            config.set(setting.lower(), value)
    assert len(parsed.args) == 1, f"`{shlex.join(argv)}` needs exactly one APP_MODULE"
    return config, parsed.args[0]


def resolve_app_factory(target: str) -> Callable[..., Any]:
    """gunicorn's 'module:callable()' target, imported but not called."""
    module_name, separator, expression = target.partition(":")
    assert separator, f"{target!r} is not module:callable()"
    node = ast.parse(expression, mode="eval").body
    assert isinstance(node, ast.Call), f"{target!r} does not call an app factory"
    assert isinstance(node.func, ast.Name), f"{target!r} calls something other than a name"
    factory = getattr(importlib.import_module(module_name), node.func.id, None)
    assert callable(factory), f"{module_name} has no callable {node.func.id!r}"
    return factory


def project_scripts() -> dict[str, str]:
    return PYPROJECT["project"]["scripts"]


def dependency_scripts() -> set[str]:
    """Console scripts installed with the project's dependencies, so present in the image."""
    names = set()
    for requirement in PYPROJECT["project"]["dependencies"]:
        distribution = metadata.distribution(Requirement(requirement).name)
        names |= {entry.name for entry in distribution.entry_points if entry.group == "console_scripts"}
    return names


def check_command(argv: list[str]) -> None:
    """Fail unless `argv` runs a program of the image whose every name resolves and whose options parse."""
    program = argv[0]
    if program in project_scripts():
        entry = resolve(project_scripts()[program])
        if isinstance(entry, click.Command):
            parse_click(entry, argv)
        else:
            assert callable(entry), f"{program} points at {entry!r}, which cannot be called"
            assert argv == [program], f"{program} takes no arguments; it would ignore {argv[1:]}"
    elif program == "gunicorn":
        resolve_app_factory(parse_gunicorn(argv)[1])
    elif program == "celery":
        parse_celery(argv)
    else:
        pytest.fail(f"no check knows {program!r}; teach check_command what it runs")


def commands_of_the_image() -> dict[str, list[str]]:
    commands = {name: command_of(name) for name in PROJECT_SERVICES}
    commands["Dockerfile CMD"] = dockerfile_cmd()
    return commands


def python_code(argv: list[str]) -> str:
    assert argv[:2] == ["python", "-c"], f"`{shlex.join(argv)}` is not `python -c CODE`"
    return argv[2]


def urls_in(code: str) -> list[str]:
    return [
        node.value
        for node in ast.walk(ast.parse(code))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and "://" in node.value
    ]


# --- the services -------------------------------------------------------------------------------------


def test_the_compose_file_declares_exactly_the_crier_stack():
    assert set(raw_compose()["services"]) == STACK


def test_the_compose_file_follows_the_compose_specification_without_a_version_key():
    assert "version" not in raw_compose()


def test_the_crier_services_run_the_one_image_built_from_the_dockerfile_at_the_top():
    assert DOCKERFILE.is_file()
    builds = {}
    for name in PROJECT_SERVICES:
        build = service(name).get("build")
        if isinstance(build, str):
            build = {"context": build}
        builds[name] = None if build is None else (build["context"], build.get("dockerfile", "Dockerfile"))
    assert builds == {name: (".", "Dockerfile") for name in PROJECT_SERVICES}
    images = {name: service(name).get("image") for name in PROJECT_SERVICES}
    # One name for all of them, so Compose builds the image once and every service runs the same build.
    assert len(set(images.values())) == 1, images
    assert None not in images.values(), images


@pytest.mark.parametrize("name", FROM_REGISTRIES)
def test_services_from_registries_pin_a_version_and_build_nothing(name: str):
    image = service(name)["image"]
    repository, _, tag = image.rpartition(":")
    assert repository, f"{name}: {image} names no tag"
    assert "/" not in tag, f"{name}: {image} names no tag"
    assert tag != "latest", f"{name}: {image} moves under us"
    assert "build" not in service(name)


def test_every_service_but_the_one_shot_migration_has_a_healthcheck():
    with_healthcheck = {
        name
        for name, definition in compose()["services"].items()
        if "healthcheck" in definition and not definition["healthcheck"].get("disable", False)
    }
    assert with_healthcheck == STACK - {MIGRATION}


def test_every_dependency_waits_for_a_condition_that_can_be_met():
    expected_condition = {MIGRATION: "service_completed_successfully"}
    for name, definition in compose()["services"].items():
        depends_on = definition.get("depends_on", {})
        assert isinstance(depends_on, dict), f"{name}'s depends_on is a list: it would wait for nothing"
        conditions = {target: condition.get("condition") for target, condition in depends_on.items()}
        assert conditions == {
            target: expected_condition.get(target, "service_healthy") for target in depends_on
        }, name
        for target in depends_on:
            assert target in STACK, f"{name} depends on {target}, which is not a service"
            if conditions[target] == "service_healthy":
                assert "healthcheck" in service(target), f"{name} waits for {target}'s missing healthcheck"


def test_the_long_running_crier_services_start_on_a_migrated_database_and_a_ready_broker():
    for name in LONG_RUNNING:
        assert set(service(name)["depends_on"]) == {"postgres", "redis", MIGRATION}, name


def test_the_migration_waits_for_postgres():
    assert service(MIGRATION)["depends_on"] == {"postgres": {"condition": "service_healthy"}}


def test_long_running_services_restart_unless_stopped_and_the_migration_runs_once():
    restart = {name: definition.get("restart", "no") for name, definition in compose()["services"].items()}
    assert restart == {name: "no" if name == MIGRATION else "unless-stopped" for name in STACK}


# --- the commands -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [*PROJECT_SERVICES, "Dockerfile CMD"])
def test_every_command_runs_a_program_the_image_installs(name: str):
    program = commands_of_the_image()[name][0]
    assert program in set(project_scripts()) | dependency_scripts()


@pytest.mark.parametrize("name", [*PROJECT_SERVICES, "Dockerfile CMD"])
def test_every_command_names_code_that_exists_and_options_its_program_accepts(name: str):
    check_command(commands_of_the_image()[name])


def test_the_migration_runs_crier_db_upgrade():
    argv = command_of(MIGRATION)
    contexts = parse_click(resolve(project_scripts()[argv[0]]), argv)
    assert [context.info_name for context in contexts] == ["crier", "db", "upgrade"]


def test_the_scheduler_runs_the_scheduler_console_script():
    assert command_of("scheduler") == ["crier-scheduler"]
    assert project_scripts()["crier-scheduler"] == "services.scheduler.main:main"


@pytest.mark.parametrize("name", ["api", "Dockerfile CMD"])
def test_the_api_serves_the_app_factory_on_every_interface_with_threaded_workers(name: str):
    config, target = parse_gunicorn(commands_of_the_image()[name])
    assert target == "services.api.app:create_app()"
    resolve_app_factory(target)
    assert config.bind == ["0.0.0.0:8000"]
    assert config.worker_class_str == "gthread"


def test_the_worker_runs_the_celery_app_and_consumes_every_queue_there_is():
    _, contexts = parse_celery(command_of("worker"))
    assert [context.info_name for context in contexts] == ["celery", "worker"]
    queues = contexts[-1].params["queues"]
    assert set(queues) <= QUEUES, f"unknown queues: {set(queues) - QUEUES}"
    assert set(queues) == QUEUES, f"nothing would consume {QUEUES - set(queues)}"


def test_the_worker_healthcheck_pings_the_node_the_worker_command_names():
    _, worker = parse_celery(command_of("worker"))
    app, ping = parse_celery(healthcheck_of("worker"))
    assert app is resolve("services.worker.app:celery_app")
    assert [context.info_name for context in ping] == ["celery", "inspect"]
    assert ping[-1].params["command"] == "ping"
    node = worker[-1].params["hostname"] or f"celery@{socket.gethostname()}"
    # Celery's %h and the container's $HOSTNAME are both the container's host name.
    destinations = [
        name.replace("$HOSTNAME", socket.gethostname()) for name in ping[-1].params["destination"]
    ]
    assert destinations == [node]


@pytest.mark.parametrize("name", ["api", "scheduler", "flower"])
def test_python_healthchecks_compile_and_import_only_what_exists(name: str):
    code = python_code(healthcheck_of(name))
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                importlib.import_module(alias.name)
        elif isinstance(node, ast.ImportFrom):
            assert node.module is not None
            module = importlib.import_module(node.module)
            for alias in node.names:
                assert hasattr(module, alias.name), f"{node.module} has no {alias.name}"


def exposed_container_ports(name: str) -> set[int]:
    return {int(str(port).split("/")[0]) for port in service(name).get("expose", [])}


def gunicorn_ports() -> set[int]:
    config, _ = parse_gunicorn(command_of("api"))
    return {int(address.rsplit(":", 1)[1]) for address in config.bind}


@pytest.mark.parametrize(("name", "path"), [("api", "/healthz"), ("flower", "/healthcheck")])
def test_http_healthchecks_ask_the_port_their_service_serves(name: str, path: str):
    (url,) = urls_in(python_code(healthcheck_of(name)))
    parts = urlsplit(url)
    assert (parts.hostname, parts.path) == ("127.0.0.1", path)
    assert published_container_ports(name) | exposed_container_ports(name) == {parts.port}


def test_the_api_is_exposed_on_the_port_gunicorn_binds():
    assert exposed_container_ports("api") == gunicorn_ports()


# --- scaling out --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", LONG_RUNNING)
def test_the_api_worker_and_scheduler_can_run_as_several_replicas(name: str):
    # `docker compose up --scale name=n` refuses a fixed container name, and n containers cannot all bind
    # one host port: each replica is named by Compose and reached on the compose network.
    assert "container_name" not in service(name)
    assert service(name).get("ports", []) == []


def test_each_worker_replica_is_a_celery_node_of_its_own():
    command = command_of("worker")
    # %h is the container's host name, one per replica; a fixed node name would make replicas one node
    # to the healthcheck's ping and to Flower.
    assert command[command.index("--hostname") + 1].endswith("@%h")


@cache
def nginx_directives() -> list[tuple[str, list[str]]]:
    """deploy/nginx.conf's directives and blocks: (the block names around it and its own name, its words)."""
    directives: list[tuple[str, list[str]]] = []
    blocks: list[str] = []
    words: list[str] = []
    text = "\n".join(line.split("#", 1)[0] for line in nginx_config_file().read_text().splitlines())
    for token in re.findall(r"[{};]|[^\s{};]+", text):
        if token == "{":
            # A block is listed too: `upstream crier_api {` is ("upstream", ["crier_api"]).
            directives.append((" ".join([*blocks, words[0]]), words[1:]))
            blocks.append(words[0])
            words = []
        elif token == "}":
            blocks.pop()
        elif token == ";":
            directives.append((" ".join([*blocks, words[0]]), words[1:]))
            words = []
        else:
            words.append(token)
    assert not blocks, "deploy/nginx.conf does not close every block"
    assert not words, "deploy/nginx.conf ends in a directive without its `;`"
    return directives


def nginx_config_file() -> Path:
    (mounted,) = service(LOAD_BALANCER)["configs"]
    assert mounted["target"] == "/etc/nginx/conf.d/default.conf"
    return ROOT / raw_compose()["configs"][mounted["source"]]["file"]


def nginx(directive: str) -> list[list[str]]:
    return [words for name, words in nginx_directives() if name == directive]


def test_the_load_balancer_is_published_on_the_port_the_api_was_always_on():
    assert published_container_ports(LOAD_BALANCER) == {int(port) for [port] in nginx("server listen")}
    assert {port for port in service(LOAD_BALANCER)["ports"]} == {"8000:8000"}


def test_the_load_balancer_passes_every_request_to_the_api_replicas_by_their_service_name():
    [[upstream]] = nginx("upstream")
    assert nginx("server location proxy_pass") == [[f"http://{upstream}"]]
    [server] = nginx("upstream server")
    assert server[0] == f"api:{next(iter(gunicorn_ports()))}"
    # Replicas added by a later `--scale` are found again in Docker's DNS, without restarting nginx.
    assert "resolve" in server[1:]
    assert nginx("resolver")[0][0] == "127.0.0.11"


def test_the_api_reads_the_client_address_the_load_balancer_adds():
    assert ["X-Forwarded-For", "$proxy_add_x_forwarded_for"] in nginx("server location proxy_set_header")
    assert container_settings("api").trusted_proxy_hops == 1


def test_the_load_balancer_leaves_body_limits_to_the_api():
    # nginx's default of 1 MB would refuse media uploads and imports the API takes, with its own page.
    assert nginx("server client_max_body_size") == [["0"]]


def test_the_load_balancer_waits_for_a_healthy_api_and_checks_it_through_itself():
    assert service(LOAD_BALANCER)["depends_on"] == {"api": {"condition": "service_healthy"}}
    test = healthcheck_of(LOAD_BALANCER)
    assert test[0] == "curl"
    assert "--fail" in test
    parts = urlsplit(test[-1])
    assert (parts.hostname, parts.port, parts.path) == ("127.0.0.1", 8000, "/healthz")


# --- the settings -------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [COMPOSE_FILE, DOCKERFILE], ids=lambda path: path.name)
def test_every_crier_variable_in_the_deployment_files_is_a_setting(path: Path):
    named = set(re.findall(rf"\b{ENV_PREFIX}[A-Z0-9_]+\b", path.read_text()))
    assert named, f"{path.name} names no {ENV_PREFIX} variable at all"
    assert named - SETTING_VARIABLES == set()


@pytest.mark.parametrize("name", LONG_RUNNING)
def test_the_api_worker_and_scheduler_get_the_settings_production_needs(name: str):
    settings = crier_settings_of(name)
    for setting in REQUIRED_IN_PRODUCTION:
        assert settings.get(f"{ENV_PREFIX}{setting}".upper()), f"{name} lacks {setting}"


def test_the_migration_is_told_which_database_to_migrate():
    assert crier_settings_of(MIGRATION).get(f"{ENV_PREFIX}DATABASE_URL")


@pytest.mark.parametrize("name", PROJECT_SERVICES)
def test_every_crier_setting_in_the_compose_file_is_a_value_settings_accepts(name: str):
    values = {key.removeprefix(ENV_PREFIX).lower(): value for key, value in crier_settings_of(name).items()}
    Settings(**values)


def test_every_crier_process_is_configured_alike():
    configurations = [crier_settings_of(name) for name in LONG_RUNNING]
    assert all(configuration == configurations[0] for configuration in configurations)
    database = f"{ENV_PREFIX}DATABASE_URL"
    assert crier_settings_of(MIGRATION)[database] == configurations[0][database]


def test_flower_watches_the_broker_the_crier_processes_use():
    assert (
        environment_of("flower")["CELERY_BROKER_URL"]
        == crier_settings_of("worker")[f"{ENV_PREFIX}BROKER_URL"]
    )


@pytest.mark.parametrize("setting", ["DATABASE_URL", "SANDBOX_STORE_URL"])
def test_database_urls_reach_the_postgres_service_with_the_credentials_it_is_created_with(setting: str):
    url = make_url(crier_settings_of("api")[f"{ENV_PREFIX}{setting}"] or "")
    postgres = environment_of("postgres")
    assert url.get_backend_name() == "postgresql"
    assert (url.host, url.port) == ("postgres", 5432)
    assert (url.username, url.password, url.database) == (
        postgres["POSTGRES_USER"],
        postgres["POSTGRES_PASSWORD"],
        postgres["POSTGRES_DB"],
    )


def test_the_broker_and_the_shared_limits_use_separate_databases_of_the_redis_service():
    settings = crier_settings_of("api")
    broker = urlsplit(settings[f"{ENV_PREFIX}BROKER_URL"] or "")
    limits = urlsplit(settings[f"{ENV_PREFIX}REDIS_URL"] or "")
    for url in (broker, limits):
        assert (url.scheme, url.hostname, url.port) == ("redis", "redis", 6379)
    assert broker.path != limits.path


def test_the_secret_key_is_required_from_the_users_environment_and_never_written_in_the_file():
    variable = f"{ENV_PREFIX}SECRET_KEY"
    for name in LONG_RUNNING:
        written = raw_compose()["services"][name]["environment"][variable]
        assert re.fullmatch(rf"\$\{{{variable}:\?[^}}]+\}}", written), f"{name}: {written!r}"
        with pytest.raises(LookupError):
            interpolate(written, {})


def test_every_dollar_sign_is_escaped_or_interpolates_a_crier_setting():
    interpolated_names = set()
    for text in strings_in(raw_compose()):
        for match in INTERPOLATION.finditer(text):
            assert match["bare"] is None, f"write $$ for a literal $ in {text!r}"
            assert match["stray"] is None, f"write $$ for a literal $ in {text!r}"
            if match["name"]:
                interpolated_names.add(match["name"])
    assert interpolated_names <= SETTING_VARIABLES


# --- the image ----------------------------------------------------------------------------------------


def test_the_image_builds_on_a_python_the_project_supports():
    (base,) = dockerfile_arguments("FROM")
    match = re.fullmatch(r"python:(\d+\.\d+)-slim", base)
    assert match, f"the image builds on {base}"
    assert match[1] in SpecifierSet(PYPROJECT["project"]["requires-python"])


def test_the_image_installs_the_project_with_pip_after_copying_every_package_it_installs():
    instructions = dockerfile()
    copied = {
        source: index
        for index, (keyword, arguments) in enumerate(instructions)
        if keyword == "COPY"
        for source in copy_sources(arguments)
    }
    packages = {
        path.name
        for pattern in PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]
        for path in ROOT.iterdir()
        if fnmatch(path.name, pattern) and (path / "__init__.py").is_file()
    }
    assert packages, "pyproject.toml's package patterns match no package"
    assert packages | {"pyproject.toml"} <= set(copied)
    installs = [
        index
        for index, (keyword, arguments) in enumerate(instructions)
        if keyword == "RUN"
        for command in shell_commands(arguments)
        if command[:2] == ["pip", "install"] and "." in command[2:]
    ]
    assert installs, "no RUN line pip-installs the project (`pip install .`)"
    assert min(installs) > max(copied[name] for name in packages | {"pyproject.toml"})


def test_everything_the_image_copies_exists_and_reaches_the_build_context():
    for _, arguments in filter(lambda instruction: instruction[0] == "COPY", dockerfile()):
        for source in copy_sources(arguments):
            if any(character in source for character in "*?["):
                paths = [path.relative_to(ROOT).as_posix() for path in ROOT.glob(source)]
            else:
                assert (ROOT / source).exists(), f"COPY {source}: no such file"
                paths = [source]
            for path in paths:
                assert not ignored_by_dockerignore(path), f".dockerignore leaves {path} out"


@pytest.mark.parametrize("path", [".env", ".venv", "var", ".git", "shared/__pycache__"])
def test_the_build_context_leaves_out_secrets_and_local_state(path: str):
    assert ignored_by_dockerignore(path)


def test_the_image_runs_as_a_non_root_user_it_creates():
    users = dockerfile_arguments("USER")
    assert users, "the image runs as root"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")
    assert any(
        command[0] in ("useradd", "adduser") and command[-1] == user
        for run in dockerfile_arguments("RUN")
        for command in shell_commands(run)
    ), f"no RUN line creates {user}"
    last_user = max(index for index, (keyword, _) in enumerate(dockerfile()) if keyword == "USER")
    last_run = max(index for index, (keyword, _) in enumerate(dockerfile()) if keyword == "RUN")
    assert last_user > last_run, "a RUN after USER would need root again"


def test_the_image_works_in_app_keeps_its_data_in_app_var_and_exposes_the_api_port():
    assert dockerfile_arguments("WORKDIR")[-1] == "/app"
    environment = dict(
        word.split("=", 1) for arguments in dockerfile_arguments("ENV") for word in shlex.split(arguments)
    )
    assert environment[f"{ENV_PREFIX}DATA_DIR"] == "/app/var"
    config, _ = parse_gunicorn(dockerfile_cmd())
    assert {int(address.rsplit(":", 1)[1]) for address in config.bind} == {
        int(port) for port in " ".join(dockerfile_arguments("EXPOSE")).split()
    }


# --- the containers, stood up on this machine -----------------------------------------------------------
#
# A container is its settings and its file system. Each is stood up in a folder of its own; a named volume is
# a folder every container that mounts it links to, so a file one container writes in a volume is there for
# the others, and a file written anywhere else is its container's alone. The compose file's servers are
# replaced by the test's own: its database for the postgres service, its Redis for the redis service.

SERVERS = {
    "database_url": "postgres",
    "sandbox_store_url": "postgres",
    "broker_url": "redis",
    "redis_url": "redis",
}
PATH_SETTINGS = tuple(
    name
    for name, field in Settings.model_fields.items()
    if field.annotation is Path or Path in get_args(field.annotation)
)


def image_environment() -> dict[str, str]:
    """The variables the Dockerfile's ENV lines set in every container of the image."""
    return dict(
        word.split("=", 1) for arguments in dockerfile_arguments("ENV") for word in shlex.split(arguments)
    )


def named_volumes_of(name: str) -> list[tuple[str, PurePosixPath]]:
    """(volume, where it is mounted in the container) for each volume the service mounts, outermost first."""
    mounts = []
    for volume in service(name).get("volumes", []):
        if isinstance(volume, dict):
            assert volume.get("type", "volume") == "volume", f"{name} mounts {volume}, not a named volume"
            source, target = volume["source"], volume["target"]
        else:
            source, _, target = str(volume).partition(":")
            target = target.split(":")[0]
        assert source in (raw_compose().get("volumes") or {}), f"{name} mounts {source!r}, not a named volume"
        mounts.append((source, PurePosixPath(target)))
    return sorted(mounts, key=lambda mount: len(mount[1].parts))


def container_settings(name: str, user_environment: Mapping[str, str] = USER_ENVIRONMENT) -> Settings:
    """The settings the service's processes read in their container: the image's environment, then the
    compose file's, given the user's environment (their shell and .env)."""
    environment = {**image_environment(), **crier_settings_of(name, user_environment)}
    return Settings(
        _env_file=None,
        **{
            key.removeprefix(ENV_PREFIX).lower(): value
            for key, value in environment.items()
            if key.startswith(ENV_PREFIX) and value is not None
        },
    )


def in_the_container(path: Path) -> PurePosixPath:
    """Where a path a setting names is in the container: relative ones start at the image's WORKDIR."""
    return PurePosixPath(dockerfile_arguments("WORKDIR")[-1]) / PurePosixPath(path)


def stand_up(name: str, machine: Path, servers: Mapping[str, str]) -> Settings:
    """The service's container stood up under `machine`: its file system in `machine/containers/<name>`,
    its volumes in `machine/volumes`; its settings with paths there and with the test's `servers`."""
    root = machine / "containers" / name
    for volume, target in named_volumes_of(name):
        shared = machine / "volumes" / volume
        shared.mkdir(parents=True, exist_ok=True)
        mount_point = root / target.relative_to("/")
        mount_point.parent.mkdir(parents=True, exist_ok=True)
        # A volume mounted inside another: the container that mounted both first made the mount point.
        if not (mount_point.is_symlink() and mount_point.resolve() == shared.resolve()):
            mount_point.symlink_to(shared, target_is_directory=True)
    settings = container_settings(name)
    for setting, server in SERVERS.items():
        named = urlsplit(str(getattr(settings, setting))).hostname
        assert named == server, f"{name}'s {setting} names {named}, not the {server} service"
    paths = {
        setting: root / in_the_container(path).relative_to("/")
        for setting in PATH_SETTINGS
        if (path := getattr(settings, setting)) is not None
    }
    return settings.model_copy(update={**paths, **servers})


@pytest.mark.parametrize("name", LONG_RUNNING)
def test_the_api_worker_and_scheduler_keep_their_data_directory_on_one_volume(name: str):
    data_dir = in_the_container(container_settings(name).data_dir)

    assert ("data", data_dir) in named_volumes_of(name)


def test_the_worker_runs_as_many_threads_as_crier_worker_concurrency_says():
    settings = container_settings("worker", {**USER_ENVIRONMENT, f"{ENV_PREFIX}WORKER_CONCURRENCY": "3"})

    _, contexts = parse_celery(command_of("worker"), create_celery_app(settings))

    assert settings.worker_concurrency == 3
    assert contexts[-1].params["concurrency"] == 3


def test_an_image_uploaded_through_the_api_container_is_sent_by_the_worker_container(
    services: Services, settings: Settings, redis_url: str, tmp_path: Path
):
    servers = {
        "database_url": settings.resolved_database_url,
        "sandbox_store_url": settings.resolved_sandbox_store_url,
        "broker_url": "memory://",
        "redis_url": redis_url,
    }
    api_settings, worker_settings = (stand_up(name, tmp_path, servers) for name in ("api", "worker"))
    api, worker = (
        bootstrap(
            container,
            tasks=MemoryTaskQueue(),
            networks=NetworkRegistry(container, entries=[SANDBOX_ENTRY, PICTURES_ENTRY]),
        )
        for container in (api_settings, worker_settings)
    )
    workspace, token = make_workspace(api)
    gallery = make_channel(api, workspace, "Gallery", network="sandbox_pictures")
    client = create_app(services=api).test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    photo = image("PNG")

    uploaded = client.post(
        "/v1/media",
        data={"file": (io.BytesIO(photo), "meetup.png"), "alt_text": "Twelve people around a long table"},
    )
    assert uploaded.status_code == 201, uploaded.json
    made = client.post(
        "/v1/posts",
        json={
            "text": "Photos from the meetup",
            "channel_ids": [str(gallery.id)],
            "media": [uploaded.json["id"]],
        },
    )
    assert made.status_code == 201, made.json
    with worker.sessions.begin() as session:
        claims = claim_due(
            session, now=utcnow(), lookahead=timedelta(0), batch_size=10, lease=timedelta(minutes=1)
        )
    publish = create_celery_app(worker_settings, worker).tasks[PUBLISH_DELIVERIES]
    outcomes = publish.apply(kwargs={"claims": [[str(claim.delivery_id), claim.attempt] for claim in claims]})

    assert outcomes.get() == {str(claim.delivery_id): "published" for claim in claims}
    network = worker.networks.get("sandbox_pictures")
    assert isinstance(network, PicturesSandbox)
    [sent] = network.published
    [item] = sent.media
    assert replace(item, public_url=None) == MediaItem(
        "image/png", photo, "Twelve people around a long table"
    )
    assert item.public_url is not None  # where a network that fetches media (Instagram) would find it
    api.close()
    worker.close()
