"""Coverage-guided fuzzing of the model and checkpoint loaders with atheris,
starting from a valid model file and a valid checkpoint:

    python tests/fuzz_atheris.py -runs=100000 -max_len=4096

Any exception but the documented ModelFileError stops it with a reproducer.
"""

import sys
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["nlayer"]):
    from fuzz_loaders import load_both, seeds


def main() -> None:
    work = Path(tempfile.mkdtemp())
    corpus = work / "corpus"
    corpus.mkdir()
    for name, data in seeds(work).items():
        (corpus / name).write_bytes(data)
    path = work / "input.safetensors"

    def one_input(data: bytes) -> None:
        path.write_bytes(data)
        load_both(path)

    atheris.Setup([*sys.argv, str(corpus)], one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
