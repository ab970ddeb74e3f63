"""The product is what ships: it never imports the sandbox, its install carries no development tools, and the
sandbox stays reachable as ``reelay sandbox`` through its own entry point."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("bot", "console", "metrics", "outbound", "poller", "providers", "storage", "webhooks")
NOT_PRODUCT = ("sandbox", "tests", "benchmarks")
DEV_ONLY = ("playwright", "moto", "mypy", "pytest", "ruff", "fakeredis")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_no_product_module_imports_the_sandbox_tests_or_benchmarks() -> None:
    offenders = [
        f"{path.relative_to(ROOT)} imports {module}"
        for package in PRODUCT
        for path in sorted((ROOT / package).rglob("*.py"))
        for module in imported_modules(path)
        if module.split(".")[0] in NOT_PRODUCT
    ]

    assert offenders == []


def test_outbound_imports_nothing_of_ours_but_the_core() -> None:
    ours = {*PRODUCT, *NOT_PRODUCT} - {"outbound", "poller"}
    offenders = [
        f"{path.relative_to(ROOT)} imports {module}"
        for path in sorted((ROOT / "outbound").rglob("*.py"))
        for module in imported_modules(path)
        if module.split(".")[0] in ours
    ]

    assert offenders == []


def test_the_console_imports_nothing_of_ours_but_the_core() -> None:
    ours = {*PRODUCT, *NOT_PRODUCT} - {"console", "poller"}
    offenders = [
        f"{path.relative_to(ROOT)} imports {module}"
        for path in sorted((ROOT / "console").rglob("*.py"))
        for module in imported_modules(path)
        if module.split(".")[0] in ours
    ]

    assert offenders == []


def test_the_console_ships_its_templates_and_static_files_inside_its_package() -> None:
    package = ROOT / "console"

    assert sorted(path.name for path in (package / "static").iterdir()) == ["console.css", "console.js"]
    assert (package / "templates" / "base.html").is_file()


def test_the_message_catalogs_ship_inside_the_bot_package() -> None:
    """The wheel and the image carry bot/ whole, so the languages travel with it (bot/i18n.py finds them there)."""
    from bot.i18n import LOCALES, shipped_languages

    assert LOCALES == ROOT / "bot" / "locales"
    assert {"en", "ru", "es"} <= set(shipped_languages())


def test_running_the_product_loads_no_sandbox_module() -> None:
    probe = (
        "import sys, bot.cli, bot.app, bot.doctor; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('sandbox', 'fakeredis')))"
    )
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)

    assert result.stdout.strip() == "[]"


def test_reelay_sandbox_is_found_through_its_entry_point() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "sandbox", "--help"], cwd=ROOT, capture_output=True, text=True
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: reelay sandbox")


def test_the_wheel_and_the_image_leave_the_sandbox_out() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    dockerfile = (ROOT / "Dockerfile").read_text()

    assert sorted(pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]) == sorted(PRODUCT)
    assert pyproject["project"]["entry-points"]["reelay.commands"] == {"sandbox": "sandbox.cli:main"}
    assert not any(dep.startswith("fakeredis") for dep in pyproject["project"]["dependencies"])
    for package in PRODUCT:
        assert f"COPY {package} ./{package}" in dockerfile
    assert "sandbox" not in dockerfile


def locked_packages(*flags: str) -> set[str]:
    uv = shutil.which("uv")
    if uv is None:
        pytest.fail("uv is not on PATH (scripts/bootstrap installs it)")
    result = subprocess.run(
        [uv, "export", "--frozen", "--no-hashes", "--no-emit-project", *flags],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    lines = [line.strip() for line in result.stdout.splitlines() if line and not line.startswith((" ", "#"))]
    return {line.split("==")[0].split("[")[0].lower() for line in lines}


def test_the_production_install_has_no_development_tools_and_the_sandbox_extra_brings_fakeredis() -> None:
    production = locked_packages("--no-dev")
    sandbox = locked_packages("--no-dev", "--extra", "sandbox")

    assert {"python-telegram-bot", "aiohttp", "redis", "aioboto3", "uvicorn"} <= production
    assert [tool for tool in DEV_ONLY if tool in production] == []
    assert sandbox - production >= {"fakeredis"}
    assert "playwright" not in sandbox


def test_scripts_run_installs_the_production_path_without_development_tools() -> None:
    run = (ROOT / "scripts" / "run").read_text()
    bootstrap = (ROOT / "scripts" / "bootstrap").read_text()

    assert "scripts/bootstrap --production" in run
    assert "exec .venv-production/bin/reelay run" in run
    assert "uv sync --frozen --no-dev" in bootstrap
