"""etp against the ExecuTorch runtime on the same files, interleaved: every XNNPACK fixture (or those
named), at 1 and 2 threads.

ExecuTorch's side is benchmarks/side_by_side/executorch_runner, a C++ program linked against the
runtime that the export virtualenv's `executorch` wheel ships; this script builds it into
build/executorch_runner on first use. etp's side is `etp bench manifests/fixtures.yaml` on the
same fixture. Both time `execute` alone, with inputs set before each run, after two warm-up runs,
for at least --min-time seconds. Each round runs every (fixture, threads) pair on both runtimes
back to back, alternating which goes first; the ratio reported is the median over rounds of
etp's median / ExecuTorch's median. Optional: skipped (exit 0) when the virtualenv is absent;
never part of scripts/test.

    /usr/bin/python3 benchmarks/side_by_side/executorch_speed.py [--rounds 3] [--threads 1,2]
        [--min-time 0.3] [--venv /root/etp-venv] [--json FILE] [FIXTURE...]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
RUNNER_SOURCE = ROOT / "benchmarks" / "side_by_side" / "executorch_runner"
RUNNER_BUILD = ROOT / "build" / "executorch_runner"
ETP = ROOT / "build" / "release" / "host" / "etp"


def datatype(fixture: dict) -> str:
    name = fixture["name"]
    if name.startswith("q"):
        return "int8"
    if "fp16" in name:
        return "fp16"
    return "fp32 dynamic" if "dynamic" in name else "fp32"


def site_packages(venv: Path) -> Path:
    python = venv / "bin" / "python"
    return Path(subprocess.run([str(python), "-c", "import site; print(site.getsitepackages()[0])"],
                               check=True, capture_output=True, text=True).stdout.strip())


def build_runner(venv: Path) -> Path:
    runner = RUNNER_BUILD / "executorch_runner"
    if runner.exists():
        return runner
    python = venv / "bin" / "python"
    site = site_packages(venv)
    env = dict(os.environ, PATH=f"{venv / 'bin'}:{os.environ.get('PATH', '')}")
    print("executorch_speed: building the ExecuTorch runner (once)", file=sys.stderr)
    subprocess.run(["cmake", "-S", str(RUNNER_SOURCE), "-B", str(RUNNER_BUILD), "-G", "Ninja",
                    "-DCMAKE_BUILD_TYPE=Release", f"-DCMAKE_PREFIX_PATH={site}/executorch/share/cmake",
                    f"-DPython3_EXECUTABLE={python}"], check=True, env=env, stdout=subprocess.DEVNULL)
    subprocess.run(["cmake", "--build", str(RUNNER_BUILD)], check=True, env=env, stdout=subprocess.DEVNULL)
    return runner


def time_executorch(runner: Path, site: Path, fixture: dict, threads: int, min_time: float) -> dict:
    run = fixture["runs"][0]
    cmd = [str(runner), str(FIXTURES / fixture["program"]), "--threads", str(threads), "--min-time", str(min_time)]
    if any(op.startswith("llama::") for op in fixture.get("operators", [])):
        # The llama custom ops (sdpa, KV-cache update) live in a library of their own.
        cmd += ["--load", str(site / "executorch" / "extension" / "llm" / "custom_ops" / "libcustom_ops_aot_lib.so")]
    if any(op.startswith("quantized_decomposed::") for op in fixture.get("operators", [])):
        # So do the quantized ops outside a delegate (embedding_4bit of the 8da4w LLM exports).
        cmd += ["--load", str(site / "executorch" / "kernels" / "quantized" / "libquantized_ops_aot_lib.so")]
    if fixture["data_files"]:
        if len(fixture["data_files"]) > 1:
            raise RuntimeError("the runner reads one data file")
        cmd += ["--data", str(FIXTURES / fixture["data_files"][0])]
    if run["outputs"]:
        cmd += ["--expected", str(FIXTURES / run["outputs"][0]["file"])]
    cmd += [str(FIXTURES / i["file"]) for i in run["inputs"]]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def time_etp(fixture: dict, threads: int, min_time: float) -> dict:
    cmd = [str(ETP), "bench", str(ROOT / "manifests" / "fixtures.yaml"), "--model", fixture["name"],
           "--config", "portable+xnnpack+quantized+llm", "--threads", str(threads), "--min-time", str(min_time),
           "--json"]
    doc = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    r = doc["results"][0]
    return {"median_us": r["median_ms"] * 1000, "runs": r["runs"],
            "output": "match" if r["outputs_match"] else "differ"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("fixtures", nargs="*", help="fixture names (default: every XNNPACK fixture)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--min-time", type=float, default=0.3)
    parser.add_argument("--venv", type=Path, default=Path(os.environ.get("ETP_VENV", "/root/etp-venv")))
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    if not (args.venv / "bin" / "python").exists():
        print(f"executorch_speed: skipped: no export virtualenv at {args.venv}", file=sys.stderr)
        return 0
    if not ETP.exists():
        print(f"executorch_speed: build etp first ({ETP} is missing)", file=sys.stderr)
        return 1
    runner = build_runner(args.venv)
    site = site_packages(args.venv)
    index = json.loads((FIXTURES / "index.json").read_text())["fixtures"]
    chosen = [f for f in index if f["backend"] == "xnnpack" and (not args.fixtures or f["name"] in args.fixtures)]
    threads = [int(t) for t in args.threads.split(",")]
    ratios, times = {}, {}
    for r in range(args.rounds):
        for i, f in enumerate(chosen):
            for t in threads:
                key = (f["name"], t)
                print(f"executorch_speed: round {r + 1}/{args.rounds}: {f['name']} at {t} thread(s)", file=sys.stderr)
                order = ["etp", "executorch"]
                if (r + i) % 2:
                    order.reverse()
                got = {}
                for name in order:
                    got[name] = (time_etp(f, t, args.min_time) if name == "etp"
                                 else time_executorch(runner, site, f, t, args.min_time))
                times.setdefault(key, []).append(got)
                ratios.setdefault(key, []).append(got["etp"]["median_us"] / got["executorch"]["median_us"])
    rows = []
    print(f"\n{'fixture':30} {'datatype':13} {'threads':>7} {'etp us':>10} {'ET us':>10} {'etp/ET':>7}  outputs")
    for f in chosen:
        for t in threads:
            key = (f["name"], t)
            etp_us = statistics.median(g["etp"]["median_us"] for g in times[key])
            et_us = statistics.median(g["executorch"]["median_us"] for g in times[key])
            ratio = statistics.median(ratios[key])
            outputs = "/".join(sorted({g["etp"]["output"] for g in times[key]} | {g["executorch"]["output"] for g in times[key]}))
            rows.append({"fixture": f["name"], "datatype": datatype(f), "threads": t, "etp_us": etp_us, "executorch_us": et_us,
                         "ratio": ratio, "ratios": ratios[key], "outputs": outputs})
            print(f"{f['name']:30} {datatype(f):13} {t:>7} {etp_us:>10.1f} {et_us:>10.1f} {ratio:>6.2f}x  {outputs}")
    if args.json:
        args.json.write_text(json.dumps({"rounds": args.rounds, "min_time_s": args.min_time, "results": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
