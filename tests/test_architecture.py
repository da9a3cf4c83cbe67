"""Layering rules that keep the lab testable without Streamlit."""
import ast
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
