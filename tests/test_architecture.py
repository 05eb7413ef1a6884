"""The dependency rules of ARCHITECTURE.md section 2, enforced (issue 12).

The rules themselves are import-linter contracts in pyproject.toml, so that `make lint` and an
editor run the same check; these tests run them as part of the suite (CI runs `make test`) and
make sure no package of ``crm`` escapes them.
"""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
import tomllib
from pathlib import Path

import grimp

import crm
import integrations
from crm import outbox
from crm.privacy import record
from crm.sync.cli import sync_command

ROOT = Path(__file__).resolve().parent.parent
#: allowed to import everything: they put the application together
COMPOSITION_ROOTS = {"crm.cli", "crm.models"}


def _contracts() -> list[dict]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return config["tool"]["importlinter"]["contracts"]


def _contract(name: str) -> dict:
    return next(c for c in _contracts() if c["name"] == name)


def test_issue_12_dependency_rules_of_architecture_section_2_hold() -> None:
    """Kernel imports no feature, people no other feature, no cycles, integrations pure."""
    lint_imports = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run(
        [str(lint_imports), "--no-cache", "--no-logo"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_issue_12_every_crm_module_is_kernel_or_feature() -> None:
    """A new module or feature package cannot slip past the contracts unclassified."""
    kernel_rule = _contract("The kernel imports no feature")
    kernel = set(kernel_rule["source_modules"])
    features = set(kernel_rule["forbidden_modules"]) - COMPOSITION_ROOTS
    children = {f"crm.{m.name}" for m in pkgutil.iter_modules(crm.__path__)}
    assert children - kernel - features - COMPOSITION_ROOTS == set()
    for feature in features:
        name = feature.removeprefix("crm.")
        views_rule = _contract(f"{name} imports no other feature's views, public pages or forms")
        assert views_rule["source_modules"] == [feature]
        others = {".".join(m.split(".")[:2]) for m in views_rule["forbidden_modules"]}
        assert others == features - {feature}
    hub = _contract("people (the hub) imports no other feature")
    assert set(hub["forbidden_modules"]) == features - {"crm.people"}


def _direct_imports(importer_package: str, imported_package: str) -> set[tuple[str, str]]:
    """Direct imports from one package of ``crm`` into another, as (importer, imported)."""
    graph = grimp.build_graph("crm", cache_dir=None)
    return {
        (importer, imported)
        for importer in graph.find_descendants(importer_package) | {importer_package}
        for imported in graph.find_modules_directly_imported_by(importer)
        if imported == imported_package or imported.startswith(imported_package + ".")
    }


def test_issue_12_newsletter_and_privacy_no_longer_import_each_other() -> None:
    """Forget me is privacy's: the newsletter imports only the person registry from it."""
    newsletter_to_privacy = _direct_imports("crm.newsletter", "crm.privacy")
    assert newsletter_to_privacy <= {("crm.newsletter.personal_data", "crm.privacy.registry")}
    # the pages of one feature are no other feature's library
    assert _direct_imports("crm.privacy", "crm.newsletter.public") == set()
    assert _direct_imports("crm.testimonials", "crm.newsletter.public") == set()


def test_issue_12_auth_registers_its_own_user_loader(app) -> None:
    """The kernel's web module knows no users; the auth feature plugs its loader in."""
    assert _direct_imports("crm.web", "crm.auth") == set()
    assert app.login_manager._user_callback.__module__ == "crm.auth.views"


def test_issue_12_key_rotation_does_not_import_the_features() -> None:
    """crm.security is kernel: create_app imports crm.models, so rotation need not."""
    assert _direct_imports("crm.security", "crm.models") == set()


def _provider_literals() -> list[str]:
    """Places in crm/ that spell out two or more providers in one list, set, tuple or dict."""
    spellings = set(integrations.ADAPTERS) | {
        a.display_name for a in integrations.ADAPTERS.values()
    }
    found = []
    for path in sorted((ROOT / "crm").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.List | ast.Tuple | ast.Set):
                items = node.elts
            elif isinstance(node, ast.Dict):
                items = [k for k in node.keys if k is not None] + node.values
            else:
                continue
            named = {i.value for i in items if isinstance(i, ast.Constant)} & spellings
            if len(named) >= 2:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_issue_12_providers_come_from_the_one_registry(app) -> None:
    """outbox, the CLI, the pages and the Art. 30 record read integrations.ADAPTERS."""
    assert _provider_literals() == []
    assert outbox.PROVIDERS == tuple(integrations.ADAPTERS)
    (option,) = [p for p in sync_command.params if p.name == "provider"]
    assert list(option.type.choices) == list(integrations.ADAPTERS)
    names = {a.display_name for a in integrations.ADAPTERS.values()}
    assert record.MAIL == names
    provider_name = app.jinja_env.filters["provider_name"]
    assert {provider_name(key) for key in integrations.ADAPTERS} == names
    assert provider_name("unknown") == "unknown"


def test_issue_12_typing_gate_mypy_finds_no_errors() -> None:
    """The typing gate: mypy over crm/, integrations/, scripts/ and wsgi.py ([tool.mypy])."""
    result = subprocess.run(
        [sys.executable, "-m", "mypy"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    makefile = (ROOT / "Makefile").read_text()
    for target in ("test:", "lint:"):
        recipe = makefile.split(f"\n{target}", 1)[1].split("\n\n", 1)[0]
        assert "$(BIN)/mypy" in recipe, target
