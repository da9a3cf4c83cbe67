"""Layering rules that keep the lab testable without Streamlit."""
import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_the_lab_package_never_imports_streamlit():
    offenders = [p.name for p in (ROOT / "fmnist").rglob("*.py") if "streamlit" in _imports(p)]
    assert offenders == []


def test_every_page_is_registered_in_the_app():
    app = (ROOT / "app.py").read_text()
    pages = sorted(p.name for p in (ROOT / "views").glob("*.py") if not p.name.startswith("_"))
    assert pages and all(f"views/{name}" in app for name in pages)


def readme_layers() -> dict[str, int]:
    """The README's "Modules" table: each module (or sub-package) of fmnist/ and its layer, 0 at the bottom."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Modules"):readme.index("## Where things live")]
    rows = [line.split("|") for line in section.splitlines() if line.startswith("| ") and "---" not in line][1:]
    return {name: level for level, row in enumerate(rows) for name in re.findall(r"`([a-z_]+)/?`", row[2])}


def _lab_imports(path: Path) -> list[tuple[int, str]]:
    """(line, module of fmnist) for every import of the lab in `path`, at any depth (lazy imports count too)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "fmnist":
            parts = node.module.split(".")
            found += [(node.lineno, a.name) for a in node.names] if len(parts) == 1 else [(node.lineno, parts[1])]
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name.split(".")[1]) for a in node.names if a.name.startswith("fmnist.")]
    return found


def test_each_module_is_in_the_readme_and_imports_only_its_layer_and_below():
    layers = readme_layers()
    unlisted, upward = [], []
    for path in sorted((ROOT / "fmnist").rglob("*.py")):
        parts = path.relative_to(ROOT / "fmnist").with_suffix("").parts
        unit = parts[0]
        if unit in ("__init__", "__main__"):
            continue
        if unit not in layers:
            unlisted.append(unit)
            continue
        upward += [f"{path.relative_to(ROOT)}:{line} ({unit}) imports {name}" for line, name in _lab_imports(path)
                   if name in layers and layers[name] > layers[unit]]
        unlisted += [name for _, name in _lab_imports(path) if name not in layers]
    assert sorted(set(unlisted)) == [], "add these to the README's Modules table"
    assert upward == [], "a module imports from a layer above its own"
