"""Time per training step (the joint forward-backward method, then an SGD step) on a training
fixture, with etp (etp.TrainingSession + etp.SGD) and with ExecuTorch's own training module (its
pip TrainingModule + get_sgd_optimizer), on the same program and batch. `compare` alternates the
two, each in its own interpreter and process (etp: Debian's python3 with build/release/python;
ExecuTorch: the export virtualenv's):

    /usr/bin/python3 benchmarks/side_by_side/train_step.py compare --fixture blobs_mlp_train --rounds 3
    /usr/bin/python3 benchmarks/side_by_side/train_step.py compare --fixture lora_train --steps 20

Per process: 50 warm-up steps, then the median of 5 blocks of --steps steps (time per step).
Both sides pay Python's call overhead per step (and ExecuTorch's module clones the gradients it
returns), so this compares whole training loops as a Python user runs them.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
VENV_PYTHON = os.environ.get("ETP_VENV", "/root/etp-venv") + "/bin/python"


def entry(fixture):
    with open(FIXTURES / "index.json") as f:
        return next(e for e in json.load(f)["fixtures"] if e["name"] == fixture)


def inputs(fixture):
    """The batch the fixture's reference trained on: its joint method's run, or the first
    `batch_rows` rows of its training data (lora_train)."""
    e = entry(fixture)
    if e["runs"]:
        return [np.load(FIXTURES / i["file"]) for i in e["runs"][2]["inputs"]]
    rows = e["training"].get("batch_rows")
    return [np.ascontiguousarray(np.load(FIXTURES / f)[:rows]) for f in e["train_data"]]


def merged_data_file(fixture):
    """The fixture's data files as one (ExecuTorch's 1.4.1 Python runtime loads one), merged with
    ExecuTorch's own serializer; None without data files."""
    files = entry(fixture)["data_files"]
    if len(files) < 2:
        return str(FIXTURES / files[0]) if files else None
    from executorch.exir._serialize._cord import Cord
    from executorch.exir._serialize.data_serializer import DataEntry, DataPayload
    from executorch.extension.flat_tensor.serialize.serialize import FlatTensorSerializer

    buffers, named = [], {}
    for name in files:
        payload = FlatTensorSerializer().deserialize(Cord((FIXTURES / name).read_bytes()))
        for key, e in payload.named_data.items():
            named[key] = DataEntry(len(buffers) + e.buffer_index, e.alignment, e.tensor_layout)
        buffers.extend(bytes(b) for b in payload.buffers)
    path = Path("/tmp") / f"etp_train_step_{fixture}.ptd"
    path.write_bytes(bytes(FlatTensorSerializer().serialize(DataPayload(buffers=buffers, named_data=named))))
    return str(path)


def executorch_step(fixture):
    import torch
    from executorch.extension.pybindings.portable_lib import _load_for_executorch
    from executorch.extension.training import get_sgd_optimizer
    from executorch.extension.training.pybindings._training_module import TrainingModule

    data = merged_data_file(fixture)
    pte = str(FIXTURES / f"{fixture}.pte")
    module = TrainingModule(_load_for_executorch(pte, data_path=data) if data else _load_for_executorch(pte))
    x, y = (torch.from_numpy(a) for a in inputs(fixture))
    module.forward_backward("forward", (x, y))
    sgd = get_sgd_optimizer(module.named_parameters(), lr=0.01, momentum=0.9)

    def step():
        module.forward_backward("forward", (x, y))
        sgd.step(module.named_gradients())

    return step


def etp_step(fixture):
    sys.path.insert(0, str(ROOT / "build" / "release" / "python"))
    import etp

    data = [str(FIXTURES / f) for f in entry(fixture)["data_files"]]
    session = etp.TrainingSession(etp.Bundle.from_program(str(FIXTURES / f"{fixture}.pte"), data=data,
                                                          plugins=["portable"],
                                                          plugin_paths=[str(ROOT / "build" / "release" / "plugins")]),
                                  "model")
    sgd = etp.SGD(lr=0.01, momentum=0.9)
    batch = inputs(fixture)

    def step():
        session.forward_backward(batch)
        session.step(sgd)

    return step


def measure(side, a):
    step = etp_step(a.fixture) if side == "etp" else executorch_step(a.fixture)
    for _ in range(min(50, a.steps)):
        step()
    blocks = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(a.steps):
            step()
        blocks.append((time.perf_counter() - start) / a.steps * 1e6)
    print(json.dumps({"side": side, "fixture": a.fixture, "us_per_step": round(statistics.median(blocks), 2)}))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("side", choices=("etp", "executorch", "compare"))
    parser.add_argument("--fixture", default="blobs_mlp_train")
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    a = parser.parse_args()
    if a.side != "compare":
        measure(a.side, a)
        return 0
    results = {"etp": [], "executorch": []}
    for _ in range(a.rounds):
        for side, python in (("etp", "/usr/bin/python3"), ("executorch", VENV_PYTHON)):
            out = subprocess.run([python, __file__, side, "--fixture", a.fixture, "--steps", str(a.steps)],
                                 capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
            print(out, flush=True)
            results[side].append(json.loads(out)["us_per_step"])
    e, x = statistics.median(results["etp"]), statistics.median(results["executorch"])
    print(f"{a.fixture}: etp {e:.2f} us/step, ExecuTorch {x:.2f} us/step, ratio {e / x:.2f} (below 1: etp faster)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
