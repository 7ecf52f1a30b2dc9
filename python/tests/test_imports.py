"""The client's modules import in one direction: each module, imported first and alone, loads without a cycle."""
import ast
import os
import subprocess
import sys

PACKAGE = os.path.join(os.path.dirname(__file__), "..", "loam")


def imports_of(module):
    """The package modules `module` imports anywhere in its text (top level or inside functions)."""
    tree = ast.parse(open(os.path.join(PACKAGE, module + ".py")).read())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            found.add(node.module or "")
    return found - {""}


def test_no_module_imports_back_into_a_module_that_imports_it():
    modules = [f[:-3] for f in os.listdir(PACKAGE) if f.endswith(".py") and f != "__init__.py"]
    graph = {m: imports_of(m) & set(modules) for m in modules}

    def reaches(start, goal, seen=()):
        return any(n == goal or (n not in seen and reaches(n, goal, seen + (n,))) for n in graph[start])

    cycles = [m for m in modules if reaches(m, m)]
    assert not cycles, f"import cycles through {sorted(cycles)}: {graph}"


def test_each_module_imports_first_and_alone():
    for module in ("tracking", "remote", "dataset", "local", "loader", "shuffle", "errors"):
        done = subprocess.run([sys.executable, "-c", f"import loam.{module}"], capture_output=True, text=True)
        assert done.returncode == 0, f"loam.{module}: {done.stderr}"
