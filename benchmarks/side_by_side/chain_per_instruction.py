"""Per-instruction cost of the portable `add` on etp and on the ExecuTorch runtime, side by side.

Runs in one interpreter per runtime (etp's module is built for Debian's python3, ExecuTorch's in the
export virtualenv), so call it alternately and compare rounds:

    for r in 1 2 3 4 5; do
      /usr/bin/python3 benchmarks/side_by_side/chain_per_instruction.py etp
      /root/etp-venv/bin/python benchmarks/side_by_side/chain_per_instruction.py executorch
    done

Each prints (t(chain) - t(add)) / 199: the `chain` fixture runs 200 one-element `add`s, the `add`
fixture one, so the difference cancels the Python call and copy overhead of both bindings. Medians
of 15 batches of 2000 calls after a warm-up; one thread. Not a test: figures depend on the machine.
"""
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"


def loader(which: str, name: str):
    a = np.load(FIXTURES / f"{name}.run0.in0.npy")
    b = np.load(FIXTURES / f"{name}.run0.in1.npy")
    program = str(FIXTURES / f"{name}.pte")
    if which == "etp":
        sys.path.insert(0, str(ROOT / "build" / "release" / "python"))
        import etp

        method = etp.Bundle.from_program(
            program, plugins=["portable"], plugin_paths=[str(ROOT / "build" / "release" / "plugins" / "portable")]
        ).load_method("model")
        return lambda: method.run([a, b])
    import torch
    from executorch.extension.pybindings import portable_lib
    from executorch.runtime import Runtime

    portable_lib._unsafe_reset_threadpool(1)
    method = Runtime.get().load_program(program).load_method("forward")
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    return lambda: method.execute([ta, tb])


def per_call_ns(fn, n: int = 2000, batches: int = 15) -> float:
    for _ in range(200):
        fn()
    times = []
    for _ in range(batches):
        start = time.perf_counter_ns()
        for _ in range(n):
            fn()
        times.append((time.perf_counter_ns() - start) / n)
    return statistics.median(times)


def main() -> int:
    which = sys.argv[1] if len(sys.argv) > 1 else ""
    if which not in ("etp", "executorch"):
        print(__doc__)
        return 2
    chain, add = per_call_ns(loader(which, "chain")), per_call_ns(loader(which, "add"))
    print(f"{which}: chain {chain:.0f} ns/call, add {add:.0f} ns/call, {(chain - add) / 199:.1f} ns per instruction")
    return 0


if __name__ == "__main__":
    sys.exit(main())
