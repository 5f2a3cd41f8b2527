"""Prefill and decode speed of a greedy generation, etp against ExecuTorch's own text runner
(its pip `_llm_runner` bindings), on the same .pte/.ptd files, tokenizer and prompt, each on
1 or 2 threads. `compare` runs the two alternately, each in its own interpreter and process
(etp: Debian's python3 with build/release/python; ExecuTorch: the export virtualenv's):

    python3 benchmarks/side_by_side/generate_time.py compare --rounds 3 \\
        --program tests/fixtures/llama_demo_xnnpack.pte --data tests/fixtures/llama_demo_foundation.ptd
    python3 benchmarks/side_by_side/generate_time.py compare --rounds 3 --new 32 --prompt "12+7=19 cat dog" \\
        --program /tmp/etp_scale_llm/scale_base.pte --data /tmp/etp_scale_llm/scale_foundation.ptd

Per process: one warm-up generation, then --runs generations from position 0 (the method stays
loaded: etp.Generator, the runner after reset()); it prints the medians as one JSON line, with
the resident memory that loading and generating added (VmRSS after the runs less VmRSS after
the imports). Both
sides time the same span: prefill from the prompt's first call to its logits, decode from the
first generated token to the last. ExecuTorch's runner reports them in whole milliseconds (its
Stats), so on the tiny demo model its decode figure is coarse; `generation_ms` (wall time of
the whole generate call, both sides) is the robust one there. The two may choose different
tokens past the tokenizer's vocabulary (ExecuTorch's runner decodes only ids the tokenizer has);
the work per token is the same.
"""
import argparse
import importlib.machinery
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENV_PYTHON = os.environ.get("ETP_VENV", "/root/etp-venv") + "/bin/python"


def rss_mib():
    """This process's resident memory (VmRSS), in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def executorch_side(a):
    from executorch.extension.pybindings import portable_lib
    from executorch.extension.llm.custom_ops import custom_ops  # noqa: F401  (llama:: kernels)
    import executorch  # the runner package's __init__ needs transformers, so its .so is loaded directly

    portable_lib._unsafe_reset_threadpool(a.threads)
    path = next((Path(list(executorch.__path__)[0]) / "extension" / "llm" / "runner").glob("_llm_runner*.so"))
    loader = importlib.machinery.ExtensionFileLoader("_llm_runner", str(path))
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader("_llm_runner", loader))
    loader.exec_module(module)
    base = rss_mib()  # after the imports: what loading the model and generating add
    runner = module.TextLLMRunner(a.program, a.tokenizer, a.data) if a.data else module.TextLLMRunner(
        a.program, a.tokenizer)
    config = module.GenerationConfig(echo=False, max_new_tokens=a.new, temperature=0.0, num_bos=1, num_eos=0)

    def run():
        stats = []
        runner.reset()
        start = time.perf_counter()
        runner.generate(a.prompt, config, token_callback=lambda text: None, stats_callback=stats.append)
        wall = (time.perf_counter() - start) * 1000
        s = stats[-1]
        prefill_ms = s.prompt_eval_end_ms - s.inference_start_ms
        decode_ms = s.inference_end_ms - s.first_token_ms
        decoded = s.num_generated_tokens - 1
        return wall, s.num_prompt_tokens, prefill_ms, decoded, decode_ms

    return run, base


def etp_side(a):
    sys.path.insert(0, str(ROOT / "build" / "release" / "python"))
    import etp

    base = rss_mib()
    bundle = etp.Bundle.from_program(a.program, data=[a.data] if a.data else [],
                                     plugin_paths=[str(ROOT / "build" / "release" / "plugins")],
                                     plugin_options={"xnnpack": {"threads": str(a.threads)}})
    generator = etp.Generator(bundle, "model")
    prompt = etp.Tokenizer(a.tokenizer).encode(a.prompt, add_bos=True)

    def run():
        start = time.perf_counter()
        doc = generator.generate(prompt, max_new_tokens=a.new)
        wall = (time.perf_counter() - start) * 1000
        n = len(doc["generated_tokens"]) - 1
        prefill_ms = len(prompt) * 1000 / doc["prefill_tokens_per_s"]
        decode_ms = n * 1000 / doc["decode_tokens_per_s"] if doc["decode_tokens_per_s"] else 0
        return wall, len(prompt), prefill_ms, n, decode_ms

    return run, base


def measure(which, a):
    run, base = etp_side(a) if which == "etp" else executorch_side(a)
    run()
    rows = [run() for _ in range(a.runs)]
    added_mib = rss_mib() - base
    wall = statistics.median(r[0] for r in rows)
    prompt = rows[0][1]
    prefill_ms = statistics.median(r[2] for r in rows)
    decoded = statistics.median(r[3] for r in rows)
    decode_ms = statistics.median(r[4] for r in rows)
    print(json.dumps({"side": which, "threads": a.threads, "program": Path(a.program).name,
                      "generation_ms": round(wall, 3), "prompt_tokens": prompt, "prefill_ms": round(prefill_ms, 3),
                      "decoded_tokens": decoded, "decode_ms": round(decode_ms, 3),
                      "decode_tokens_per_s": round(decoded * 1000 / decode_ms, 1) if decode_ms else None,
                      "added_rss_mib": round(added_mib, 1)}))


def compare(a, rest):
    results = {}
    for r in range(a.rounds):
        for threads in (1, 2):
            for which, python in (("etp", "/usr/bin/python3"), ("executorch", VENV_PYTHON)):
                out = subprocess.run([python, __file__, which, "--threads", str(threads)] + rest, capture_output=True,
                                     text=True, check=True).stdout.strip().splitlines()[-1]
                doc = json.loads(out)
                results.setdefault((which, threads), []).append(doc)
                print(out, flush=True)
    print("medians over rounds (etp / ExecuTorch time ratio: below 1 means etp is faster)")
    for threads in (1, 2):
        e, x = results[("etp", threads)], results[("executorch", threads)]
        line = [f"threads {threads}:"]
        for key in ("generation_ms", "prefill_ms", "decode_ms", "added_rss_mib"):
            me, mx = statistics.median(d[key] for d in e), statistics.median(d[key] for d in x)
            line.append(f"{key} etp {me:.3f} ExecuTorch {mx:.3f} ratio {me / mx:.2f}" if mx else f"{key} etp {me:.3f}")
        print("  ".join(line))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("side", choices=("etp", "executorch", "compare"))
    parser.add_argument("--program", default=str(ROOT / "tests/fixtures/llama_demo_xnnpack.pte"))
    parser.add_argument("--data", default=str(ROOT / "tests/fixtures/llama_demo_foundation.ptd"))
    parser.add_argument("--tokenizer", default=str(ROOT / "tests/fixtures/tiny_sp.model"))
    parser.add_argument("--prompt", default="7 8=")
    parser.add_argument("--new", type=int, default=8, help="tokens to generate at most (default 8)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    a = parser.parse_args()
    if a.side == "compare":
        rest = [x for pair in (("--program", a.program), ("--data", a.data), ("--tokenizer", a.tokenizer),
                               ("--prompt", a.prompt), ("--new", str(a.new)), ("--runs", str(a.runs))) for x in pair]
        compare(a, rest)
    else:
        measure(a.side, a)
    return 0


if __name__ == "__main__":
    sys.exit(main())
