"""The import rules of ARCHITECTURE.md, checked on the source with an ast walk (every import,
also those inside functions, where the stages import lazily):

- a stage (`components/<stage>/`) imports the library and its own folder, never another stage,
  never `pipelines/`, never the runners or the CLI (`mlpipe.run`, `mlpipe.cli`);
- the library (`mlpipe/` less `run` and `cli`) imports no stage, no pipeline, no runner, no CLI;
- `pipelines/` imports stages and the library, never the runners or the CLI;
- `mlpipe.run` never imports the CLI.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = {
    "mlpipe.components": ROOT / "components",
    "mlpipe.pipelines": ROOT / "pipelines",
    "mlpipe": ROOT / "mlpipe",
}
FRONT = ("mlpipe.run", "mlpipe.cli")


def module_name(path: Path, roots: dict[str, Path] = FOLDERS) -> str:
    for package, folder in roots.items():
        if path.is_relative_to(folder):
            parts = path.relative_to(folder).with_suffix("").parts
            parts = parts[:-1] if parts[-1] == "__init__" else parts
            return ".".join((package, *parts))
    raise ValueError(path)


def imports_of(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in names if name == "mlpipe" or name.startswith("mlpipe.")}


def within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def stage_of(name: str) -> str | None:
    parts = name.split(".")
    return parts[2] if len(parts) > 2 and parts[:2] == ["mlpipe", "components"] else None


def layer_of(name: str) -> str:
    if within(name, "mlpipe.components"):
        return "stage"
    if within(name, "mlpipe.pipelines"):
        return "pipelines"
    if any(within(name, front) for front in FRONT):
        return name.split(".")[1]  # run or cli
    return "library"


def violation(importer: str, imported: str) -> str | None:
    """Why `importer` may not import `imported`, or None."""
    if imported in ("mlpipe", "mlpipe.components", "mlpipe.pipelines"):
        return None  # the package itself (e.g. `from mlpipe import __version__`)
    source, target = layer_of(importer), layer_of(imported)
    if source == "stage":
        if target == "stage" and stage_of(imported) != stage_of(importer):
            return "a stage imports another stage"
        if target != "stage" and target != "library":
            return f"a stage imports {target}"
    elif source == "library" and target != "library":
        return f"the library imports {'a stage' if target == 'stage' else target}"
    elif source == "pipelines" and target in ("run", "cli"):
        return f"a pipeline definition imports {target}"
    elif source == "run" and target == "cli":
        return "a runner imports the CLI"
    return None


def violations(roots: dict[str, Path] = FOLDERS, base: Path = ROOT) -> list[str]:
    found = []
    for folder in roots.values():
        for path in sorted(folder.rglob("*.py")):
            importer = module_name(path, roots)
            imported_names = imports_of(path)
            for imported in sorted(imported_names):
                if imported.rsplit(".", 1)[0] in imported_names - {"mlpipe", "mlpipe.components"}:
                    continue  # `from a.b import c`: a.b is the module, reported once
                reason = violation(importer, imported)
                if reason:
                    found.append(f"{path.relative_to(base)}: {importer} imports {imported} ({reason})")
    return found


def test_the_source_keeps_the_import_rules():
    found = violations()
    assert not found, "\n".join(found)


@pytest.mark.parametrize(
    ("importer", "imported", "reason"),
    [
        ("mlpipe.components.push.core", "mlpipe.components.evaluate.core", "a stage imports another stage"),
        ("mlpipe.components.retrain.core", "mlpipe.pipelines.compile", "a stage imports pipelines"),
        ("mlpipe.components.retrain.core", "mlpipe.cli.main", "a stage imports cli"),
        ("mlpipe.registry.access", "mlpipe.components.push.core", "the library imports a stage"),
        ("mlpipe.serving.rollout", "mlpipe.pipelines.training", "the library imports pipelines"),
        ("mlpipe.pipelines.training", "mlpipe.run.local", "a pipeline definition imports run"),
        ("mlpipe.run.local", "mlpipe.cli.main", "a runner imports the CLI"),
    ],
)
def test_each_rule_names_what_it_refuses(importer, imported, reason):
    assert violation(importer, imported) == reason


@pytest.mark.parametrize(
    ("importer", "imported"),
    [
        ("mlpipe.components.evaluate.core", "mlpipe.components.evaluate.report"),
        ("mlpipe.components.push.core", "mlpipe.registry.access"),
        ("mlpipe.pipelines.training", "mlpipe.components.train.component"),
        ("mlpipe.run.local", "mlpipe.pipelines.training"),
        ("mlpipe.cli.main", "mlpipe.run.local"),
    ],
)
def test_what_the_rules_allow(importer, imported):
    assert violation(importer, imported) is None


def test_a_planted_stage_to_stage_import_fails_the_check(tmp_path):
    stage = tmp_path / "components" / "push"
    stage.mkdir(parents=True)
    (stage / "core.py").write_text("def push():\n    from mlpipe.components.evaluate.core import evaluate\n")
    found = violations({"mlpipe.components": tmp_path / "components"}, base=tmp_path)
    assert found == [
        "components/push/core.py: mlpipe.components.push.core imports mlpipe.components.evaluate.core"
        " (a stage imports another stage)"
    ]


def test_every_package_folder_is_installed():
    """pyproject's explicit package list names every folder with an `__init__.py`: a stage
    left out installs in editable mode (this checkout) and is missing from the images."""
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {module_name(init) for folder in FOLDERS.values() for init in folder.rglob("__init__.py")}
    assert found - listed == set(), "add to [tool.setuptools] packages in pyproject.toml"
