"""The package's shape: the core needs NumPy only, and imports point down."""

import ast
import subprocess
import sys
from pathlib import Path

import nlayer

SRC = Path(nlayer.__file__).parent

# module -> the nlayer modules it may import (DESIGN: arrows point down)
ALLOWED = {
    "backend": set(),
    "registry": set(),
    "safefile": {"backend"},  # imports safetensors, lazily, when it writes
    "initializers": {"registry"},
    "activations": {"backend", "registry"},
    "losses": {"backend", "registry"},
    "optimizers": {"backend", "registry"},
    "network": {
        "activations",
        "backend",
        "initializers",
        "losses",
        "training",
    },  # training: only inside Network.fit, a lazy import
    "metrics": set(),
    "training": {
        "backend",
        "checkpoints",
        "metrics",
        "network",
        "optimizers",
        "safefile",
    },
    "checkpoints": {"__version__", "network", "optimizers", "safefile"},
    "gradcheck": {"network"},
    # the outer ring's data path: tables, then their preprocessing, then models
    "tables": set(),  # imports pyarrow, lazily, when it reads a file
    "data": {"backend", "tables"},
    "model": {"data", "network", "tables"},
}
#: optional libraries a module may import inside a function, never at the top
LAZY = {
    "safefile": {"safetensors"},
    "tables": {"pyarrow"},
    "data": {"sklearn"},  # the built-in data sets
    "training": {"scipy"},  # optimizer="lbfgs": SciPy's minimiser
}
STDLIB = set(sys.stdlib_module_names)


def imports_of(path):
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level and node.module:  # from .x import y
                found.add(("nlayer", node.module))
            elif node.level:  # from . import x
                found.update(("nlayer", a.name) for a in node.names)
            else:
                found.add((node.module.split(".")[0], node.module))
        elif isinstance(node, ast.Import):
            found.update((a.name.split(".")[0], a.name) for a in node.names)
    return found


def test_core_modules_import_downwards_and_numpy_only():
    for module, allowed in ALLOWED.items():
        for top, name in imports_of(SRC / f"{module}.py"):
            if top == "nlayer":
                assert name.split(".")[0] in allowed, f"{module} imports {name}"
            else:
                lazy = top in LAZY.get(module, set())
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
