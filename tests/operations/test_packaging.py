"""The package as an operator installs it: dependencies from the committed lock, then the project itself (not
editable) into a fresh virtual environment, run from another directory. The `active-sessions` command lists
every command, migrates, creates users and serves the API and the console. The lock and the declared
dependencies agree, and every distribution production code imports is declared."""

from __future__ import annotations

import ast
import importlib.metadata
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import httpx
import pytest

from tests.support.live_server import PROJECT_ROOT, LiveServer

SOURCE_PACKAGES = ("core", "models", "schema", "resolvers", "services", "bus", "web", "observability")
LOCKED = re.compile(r"^([A-Za-z0-9_.-]+)==([^ ;\\]+)", re.MULTILINE)
STANDARD_LIBRARY = sys.stdlib_module_names


def normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared(extra: str | None = None) -> dict[str, str]:
    """Declared requirements: normalised name -> the specifier after the name."""
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]
    requirements = project["optional-dependencies"][extra] if extra else project["dependencies"]
    found = {}
    for requirement in requirements:
        match = re.match(r"([A-Za-z0-9_.-]+)(\[[^\]]*\])?(.*)", requirement)
        assert match, requirement
        found[normalised(match.group(1))] = match.group(3).strip()
    return found


def locked(lock: str) -> dict[str, str]:
    return {normalised(name): version for name, version in LOCKED.findall((PROJECT_ROOT / lock).read_text())}


@pytest.mark.parametrize(("lock", "extras"), [("requirements.lock", ()), ("requirements-test.lock", ("test",))])
def test_the_locks_pin_every_declared_dependency_at_its_declared_version(lock: str, extras: tuple[str, ...]) -> None:
    pins = locked(lock)
    for extra in (None, *extras):
        for name, specifier in declared(extra).items():
            assert name in pins, f"{name} is declared but not in {lock}: recompile it (README, Packaging)"
            if specifier.startswith("=="):
                assert pins[name] == specifier[2:], f"{lock} pins {name}=={pins[name]}, pyproject.toml {specifier}"
    assert "--hash=sha256:" in (PROJECT_ROOT / lock).read_text()


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text()
    commands = [line for line in readme.split("```", 2)[1].splitlines() if line.startswith("python3 -m venv")]
    assert len(commands) == 2, "the README starts with the two commands"
    assert commands[1].endswith("-m pytest") and "requirements-test.lock" in commands[1]
    assert "requirements.lock" in commands[0] and commands[0].endswith("server.py")
    assert commands[1] in (PROJECT_ROOT / ".ci" / "run").read_text().splitlines()


def imported_top_level_modules() -> set[str]:
    modules: set[str] = set()
    files = [PROJECT_ROOT / "server.py", PROJECT_ROOT / "migrations" / "env.py"]
    files += [path for package in SOURCE_PACKAGES for path in (PROJECT_ROOT / package).rglob("*.py")]
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
    return modules - set(STANDARD_LIBRARY) - set(SOURCE_PACKAGES) - {"server", "__future__"}


def test_every_distribution_production_code_imports_is_declared() -> None:
    distributions = importlib.metadata.packages_distributions()
    wanted = declared()
    for module in sorted(imported_top_level_modules()):
        providers = {normalised(name) for name in distributions.get(module, [])}
        assert providers, f"{module} is imported but no installed distribution provides it"
        assert providers & set(wanted), f"{module} (from {sorted(providers)}) is imported but not declared"


def run(command: list[str], *, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        command, cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True, text=True, check=False, timeout=600
    )
    assert done.returncode == 0, (command, done.stdout[-2000:], done.stderr[-4000:])
    return done


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_a_non_editable_install_migrates_and_serves_from_another_directory(tmp_path: Path) -> None:
    venv, elsewhere = tmp_path / "venv", tmp_path / "elsewhere"
    elsewhere.mkdir()
    run([sys.executable, "-m", "venv", str(venv)], cwd=tmp_path)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    run([*pip, "--require-hashes", "-r", str(PROJECT_ROOT / "requirements.lock")], cwd=tmp_path)
    run([*pip, "--no-deps", str(PROJECT_ROOT)], cwd=tmp_path)
    command = str(venv / "bin" / "active-sessions")
    installed = run([str(venv / "bin" / "python"), "-c", "import server; print(server.__file__)"], cwd=elsewhere)
    assert installed.stdout.strip().startswith(str(venv)), installed.stdout

    listed = run([command, "--help"], cwd=elsewhere).stdout
    for name in ("serve", "create-user", "demo", "add-webhook", "create-client", "set-account", "revoke-client"):
        assert re.search(rf"\b{name}\b", listed), f"--help does not list {name}"

    env = {"DATABASE_URL": f"sqlite+aiosqlite:///{elsewhere / 'sessions.db'}", "BROADCAST_URL": "memory://"}
    created = run(
        [command, "create-user", "ana@acme.test", "--password", "correct horse battery"], cwd=elsewhere, env=env
    )
    assert "Created user ana@acme.test" in created.stdout
    # The bare command serves (no `serve` named), from the other directory.
    server = LiveServer(env, log_path=tmp_path / "server.log", command=[command], cwd=elsewhere).start()
    try:
        base = server.base_url
        console = httpx.get(base + "/", timeout=5)
        assert console.status_code == 200 and "<html" in console.text
        login = httpx.post(
            base + "/graphql",
            json={
                "query": "mutation($e: String!, $p: String!) { login(input: {email: $e, password: $p}) { token } }",
                "variables": {"e": "ana@acme.test", "p": "correct horse battery"},
            },
            timeout=10,
        )
        assert login.status_code == 200 and login.json()["data"]["login"]["token"], login.text
    finally:
        server.stop()
