"""Time of one whole greedy generation (prompt "12+7=" with BOS, 20 new tokens) on a llama_et
fixture, with etp's generate and with ExecuTorch's own text runner (its pip `_llm_runner`
bindings), side by side. Alternate the two interpreters, as for chain_per_instruction.py:

    for r in 1 2 3; do
      /usr/bin/python3 benchmarks/side_by_side/generate_time.py etp llama_et_portable
      /root/etp-venv/bin/python benchmarks/side_by_side/generate_time.py executorch llama_et_portable
    done

etp's figure includes loading the method and running the metadata methods on every call
(etp::generate does); ExecuTorch's runner loads once. Medians of 30 generations after one warm-up.
The two need not produce the same text: the fixture's model has 128 logits but tiny_sp.model 100
pieces, and ExecuTorch's runner handles ids beyond the tokenizer differently.
"""
import importlib.machinery
import importlib.util
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"


def executorch_generate(name: str):
    from executorch.extension.pybindings import portable_lib  # noqa: F401  (the runtime, loaded first)
    from executorch.extension.llm.custom_ops import custom_ops  # noqa: F401
    import executorch.kernels.quantized  # noqa: F401
    import executorch  # the runner package's __init__ needs transformers, so its .so is loaded directly

    path = next((Path(list(executorch.__path__)[0]) / "extension" / "llm" / "runner").glob("_llm_runner*.so"))
    loader = importlib.machinery.ExtensionFileLoader("_llm_runner", str(path))
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader("_llm_runner", loader))
    loader.exec_module(module)
    runner = module.TextLLMRunner(str(FIXTURES / f"{name}.pte"), str(FIXTURES / "tiny_sp.model"))
    config = module.GenerationConfig(echo=False, max_new_tokens=20, temperature=0.0, num_bos=1, num_eos=0)

    def run():
        runner.reset()  # the runner keeps its position between calls (a chat); start each from 0
        runner.generate("12+7=", config, token_callback=lambda text: None)

    return run


def etp_generate(name: str):
    sys.path.insert(0, str(ROOT / "build" / "release" / "python"))
    import etp

    bundle = etp.Bundle.from_program(str(FIXTURES / f"{name}.pte"), plugin_paths=[str(ROOT / "build" / "release" / "plugins")])
    prompt = etp.Tokenizer(str(FIXTURES / "tiny_sp.model")).encode("12+7=", add_bos=True)
    return lambda: bundle.generate("model", prompt, max_new_tokens=20)


def main() -> int:
    if len(sys.argv) != 3 or sys.argv[1] not in ("etp", "executorch"):
        print(__doc__)
        return 2
    which, name = sys.argv[1], sys.argv[2]
    run = etp_generate(name) if which == "etp" else executorch_generate(name)
    run()
    times = []
    for _ in range(30):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    print(f"{which} {name}: {statistics.median(times) * 1000:.3f} ms per generation (median of 30)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
