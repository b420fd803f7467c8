"""The package's shape: the core needs NumPy only, imports point down and form
no circle, functions stay short, and no module reaches into another's private
names."""

import ast
import subprocess
import sys
from pathlib import Path

import nlayer

SRC = Path(nlayer.__file__).parent
MODULES = sorted(p.stem for p in SRC.glob("*.py") if p.stem != "__main__")

# module -> the nlayer modules it may import at run time (arrows point down;
# imports for annotations only, under TYPE_CHECKING, are not run)
ALLOWED = {
    "version": set(),
    "backend": set(),
    "checks": set(),
    "registry": set(),
    "history": set(),
    "initializers": {"registry"},
    # the optional compiled loops: kernels imports kernels_numba when first
    # asked, and only kernels_numba imports numba
    "kernels": {"kernels_numba"},
    "kernels_numba": set(),
    "activations": {"backend", "checks", "kernels", "registry"},
    "losses": {"backend", "checks", "kernels", "registry"},
    "optimizers": {"backend", "checks", "kernels", "registry"},
    "workspace": {"backend"},
    "metrics": {"backend"},
    "state": {"backend", "history"},
    "safefile": {"backend", "checks"},
    "checkpoints": {
        "backend", "checks", "history", "optimizers", "safefile", "state", "version",
    },
    "callbacks": {"checkpoints", "state"},
    "sources": {"backend", "workspace"},
    "distributed": {"backend", "sources", "workspace"},
    "training": {
        "backend", "callbacks", "checkpoints", "checks", "distributed", "history",
        "metrics", "optimizers", "safefile", "sources", "state", "workspace",
    },
    # the network trains itself through training.fit, imported when it is called
    "network": {
        "activations", "backend", "checks", "initializers", "losses", "training",
        "workspace",
    },
    "gradcheck": {"backend", "network"},
    # the outer ring's data path: tables, then their preprocessing, then models
    "tables": set(),  # imports pyarrow, lazily, when it reads a file
    "data": {"backend", "checks", "tables"},
    "model": {"backend", "data", "network", "tables", "workspace"},
}  # fmt: skip
#: optional libraries a module may import inside a function, never at the top
LAZY = {
    # other array libraries, when their arrays appear (net.to, their inputs)
    "backend": {"array_api_compat", "array_api_strict", "torch", "cupy"},
    "safefile": {"safetensors"},
    "tables": {"pyarrow"},
    "data": {"sklearn"},  # the built-in data sets
    "training": {"scipy", "threadpoolctl"},  # L-BFGS; one BLAS thread when small
    "distributed": {"mpi4py", "torch"},  # the communication engines
}
#: modules that are themselves imported lazily, and the optional library each
#: imports at its top
OPTIONAL = {"kernels_numba": {"numba"}}
#: the outer ring: nothing in the core imports these
OUTER = {"tables", "data", "model", "io", "plotting", "cli", "estimators"}
OUTER |= {"onnx", "export"}
STDLIB = set(sys.stdlib_module_names)
MAX_FUNCTION_LINES = 60


def _runtime_nodes(tree):
    """Every node except those under ``if TYPE_CHECKING:``."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING":
            stack.extend(node.orelse)
            continue
        yield node
        stack.extend(ast.iter_child_nodes(node))


def imports_of(module):
    """(top-level package, dotted name) of every import run by ``module``."""
    found = set()
    for node in _runtime_nodes(ast.parse((SRC / f"{module}.py").read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level and node.module:  # from .x import y
                found.add(("nlayer", node.module.split(".")[0]))
            elif node.level:  # from . import x
                found.update(("nlayer", a.name) for a in node.names)
            else:
                found.add((node.module.split(".")[0], node.module))
        elif isinstance(node, ast.Import):
            found.update((a.name.split(".")[0], a.name) for a in node.names)
    return found


def test_every_module_has_a_place_in_the_layers():
    assert set(ALLOWED) | OUTER | {"__init__"} >= set(MODULES), (
        "a new module: add it to ALLOWED (the core) or OUTER in this test"
    )


def test_core_modules_import_downwards_and_numpy_only():
    for module, allowed in ALLOWED.items():
        for top, name in imports_of(module):
            if top == "nlayer":
                assert name in allowed, f"{module} imports {name}"
            else:
                lazy = top in LAZY.get(module, set()) | OPTIONAL.get(module, set())
                assert top in STDLIB or top == "numpy" or lazy, (
                    f"{module} imports {name}"
                )
    for module, libraries in LAZY.items():  # lazily: no import at the top level
        tree = ast.parse((SRC / f"{module}.py").read_text())
        for node in tree.body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] + [
                    getattr(node, "module", "") or ""
                ]
                assert not {n.split(".")[0] for n in names} & libraries, module


def test_optional_modules_are_imported_only_inside_functions():
    for module in MODULES:
        for node in ast.parse((SRC / f"{module}.py").read_text()).body:
            if isinstance(node, ast.ImportFrom) and node.level:
                names = {a.name for a in node.names} | {node.module or ""}
                assert not names & set(OPTIONAL), f"{module} imports {names}"


def test_the_core_never_imports_the_outer_ring():
    for module in set(ALLOWED) - OUTER:
        reached = {name for top, name in imports_of(module) if top == "nlayer"}
        assert not reached & OUTER, f"{module} imports {reached & OUTER}"


def test_no_import_circle():
    """Depth-first search over every import the modules run (at the top or
    inside a function): a circle makes the import order matter and the layers
    meaningless."""
    graph = {
        m: {name for top, name in imports_of(m) if top == "nlayer" and name != m}
        for m in MODULES
        if m != "__init__"
    }
    state: dict[str, str] = {}

    def visit(m, path):
        if state.get(m) == "done":
            return
        assert state.get(m) != "open", f"import circle: {' -> '.join(path + [m])}"
        state[m] = "open"
        for n in sorted(graph.get(m, ())):
            visit(n, path + [m])
        state[m] = "done"

    for m in graph:
        visit(m, [])


def test_no_function_over_sixty_lines():
    long = []
    for module in MODULES:
        for node in ast.walk(ast.parse((SRC / f"{module}.py").read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{module}.{node.name}: {lines} lines")
    assert not long, "split these functions: " + "; ".join(long)


def _defined_names(tree):
    """Private names a module defines: functions, classes, and attributes it
    assigns (self._x = …, obj._x = …)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
    return names


def test_no_module_uses_another_modules_private_names():
    """``x._name`` is fine on ``self`` and on objects of the module's own
    classes; a private name of another module is not part of its contract."""
    offences = []
    for module in MODULES:
        tree = ast.parse((SRC / f"{module}.py").read_text())
        own = _defined_names(tree)
        stdlib = {  # os._exit and the like: the standard library's own API
            a.asname or a.name
            for node in ast.walk(tree)
            if isinstance(node, ast.Import)
            for a in node.names
            if a.name.split(".")[0] in STDLIB
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level:
                offences += [
                    f"{module} imports {node.module}.{a.name}"
                    for a in node.names
                    if a.name.startswith("_") and not a.name.startswith("__")
                ]
            if not isinstance(node, ast.Attribute):
                continue
            name = node.attr
            private = name.startswith("_") and not name.startswith("__")
            receiver = getattr(node.value, "id", None)
            allowed = {"self", "cls", *stdlib}
            if private and receiver not in allowed and name not in own:
                offences.append(f"{module}: {ast.unparse(node)}")
    assert not offences, offences


def test_import_nlayer_loads_no_heavy_dependency():
    code = (
        "import sys, nlayer; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'torch', 'sklearn', 'scipy', 'matplotlib', 'pandas', 'pyarrow', "
        "'onnx', 'skl2onnx', 'onnxruntime'}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
