"""The tree's own rules (issue 21): glue flat, each concern in a package, no import
cycle (counting the imports under TYPE_CHECKING), click only in the CLI."""

import ast
import glob
import os

import pytest

SRC = os.path.join(os.path.dirname(__file__), "..", "src", "papers")
GLUE = {"__init__", "__main__", "cli", "errors", "settings", "config", "model", "redact"}
PACKAGES = {"inputs", "discovery", "net", "pipeline", "download", "disk", "state", "output"}


def modules():
    """{dotted name: path} of every module under src/papers."""
    out = {}
    for dirpath, _, files in os.walk(SRC):
        for f in files:
            if f.endswith(".py"):
                rel = os.path.relpath(os.path.join(dirpath, f), SRC)[:-3].replace(os.sep, ".")
                name = "papers" if rel == "__init__" else "papers." + rel.removesuffix(".__init__")
                out[name] = os.path.join(dirpath, f)
    return out


def module_imports(path, known):
    """The papers modules `path` imports at module level, TYPE_CHECKING blocks included
    (imports inside functions are lazy on purpose, and not counted)."""
    tree = ast.parse(open(path, encoding="utf-8").read())
    found = set()

    def visit(nodes):
        for node in nodes:
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("papers"):
                for alias in node.names:
                    sub = f"{node.module}.{alias.name}"
                    found.add(sub if sub in known else node.module)
            elif isinstance(node, ast.Import):
                found.update(a.name for a in node.names if a.name.startswith("papers"))
            elif isinstance(node, ast.If):  # `if TYPE_CHECKING:`
                visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)
    visit(tree.body)
    return found


def test_glue_is_flat_and_every_other_module_lives_in_a_package():
    flat = {name.split(".")[1] for name in modules() if name.count(".") == 1}
    assert flat - GLUE - PACKAGES == set()
    assert PACKAGES <= flat


def test_the_packages_init_files_stay_empty():
    # `papers --help` must not pay for a package's imports.
    inits = glob.glob(os.path.join(SRC, "*", "**", "__init__.py"), recursive=True)
    assert len(inits) > len(PACKAGES)  # the sub-packages too (discovery/sources)
    for init in inits:
        with open(init, encoding="utf-8") as f:
            assert f.read().strip() == "", init


def test_no_import_cycle_even_under_type_checking():
    known = modules()
    graph = {m: module_imports(p, known) - {m} for m, p in known.items()}
    seen, stack, cycles = set(), [], []

    def walk(m):
        if m in stack:
            cycles.append(stack[stack.index(m):] + [m])
            return
        if m in seen:
            return
        seen.add(m)
        stack.append(m)
        for n in sorted(graph.get(m, ())):
            walk(n)
        stack.pop()

    for m in sorted(graph):
        walk(m)
    assert cycles == []


@pytest.mark.parametrize("name", sorted(n for n in modules() if n != "papers.cli"))
def test_nothing_below_the_cli_imports_click(name):
    text = open(modules()[name], encoding="utf-8").read()
    assert "import click" not in text and "from click" not in text


@pytest.mark.parametrize("name", sorted(modules()))
def test_modules_stay_under_500_lines_and_functions_under_60(name):
    text = open(modules()[name], encoding="utf-8").read()
    assert text.count("\n") <= 500, f"{name}: {text.count(chr(10))} lines"
    long = [(n.name, n.end_lineno - n.lineno + 1) for n in ast.walk(ast.parse(text))
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
            and n.end_lineno - n.lineno + 1 > 60]
    assert long == []


def test_unit_tests_mirror_the_tree():
    """tests/<package>/test_<module>.py tests src/papers/<package>/<module>.py; the CLI
    against the servers is in tests/e2e/."""
    tests = os.path.join(os.path.dirname(__file__))
    found = 0
    for path in glob.glob(os.path.join(tests, "*", "test_*.py")):
        package = os.path.basename(os.path.dirname(path))
        if package == "e2e":
            continue
        module = os.path.basename(path)[len("test_"):-len(".py")]
        assert os.path.isfile(os.path.join(SRC, package, module + ".py")), path
        found += 1
    assert found >= 10
    assert glob.glob(os.path.join(tests, "e2e", "test_*.py"))
    flat = {os.path.basename(p)[:-3] for p in glob.glob(os.path.join(tests, "test_*.py"))}
    assert flat <= {f"test_{m}" for m in GLUE} | {"test_layout"}, flat
