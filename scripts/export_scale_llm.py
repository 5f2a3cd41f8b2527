#!/usr/bin/env python3
"""Generates the larger LLM bundle for decode-speed and memory-bandwidth measurements (never
committed): a Llama of ExecuTorch's own module (dim 1024, 6 layers, 16 heads, vocab 32000,
hidden 2816: 142M parameters, 570 MB of fp32 weights) with seeded random weights, and a rank-16
LoRA adapter on the q, v and o projections, written by ExecuTorch's LLM export (export_llm: KV
cache, llama::custom_sdpa, context 128) for XNNPACK, both programs over one foundation .ptd.
Writes into --out (default /tmp/etp_scale_llm) the programs, the data file, tiny_sp.model as
the tokenizer (token ids above its 100 pieces print as [id]) and manifest.yaml.

With --qmode 8da4w the linears are quantized as ExecuTorch's llama export does for phones (int8
per-token activations, 4-bit weights in groups of 32): the base program alone, weights inside,
into /tmp/etp_scale_llm_8da4w by default.

    $ETP_VENV/bin/python scripts/export_scale_llm.py [--qmode 8da4w]
    build/release/host/etp generate /tmp/etp_scale_llm/manifest.yaml --prompt-tokens 1,5,7 --memory-report
    ETP_SCALE_LLM=/tmp/etp_scale_llm/manifest.yaml build/release/benchmarks/etp_bench_generate
"""
import argparse
import filecmp
import json
import shutil
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import export_fixtures as fx  # noqa: E402  (run_export_llm, the tokenizer)

PARAMS = {"dim": 1024, "n_layers": 6, "n_heads": 16, "n_kv_heads": 16, "vocab_size": 32000, "multiple_of": 256,
          "norm_eps": 1e-5}
CONTEXT = 128
LORA = {"r": 16, "lora_alpha": 32, "target_modules": ["q_proj", "v_proj", "o_proj"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="default /tmp/etp_scale_llm[_QMODE]")
    parser.add_argument("--qmode", default=None, help="quantize the linears, e.g. 8da4w (group size 32)")
    args = parser.parse_args()
    if args.out is None:
        args.out = Path("/tmp/etp_scale_llm" + (f"_{args.qmode}" if args.qmode else ""))
    from safetensors.torch import save_file

    from executorch.examples.models.llama.llama_transformer import construct_transformer
    from executorch.examples.models.llama.model_args import ModelArgs

    out = args.out.resolve()
    # The checkpoint goes to a temporary folder: ExecuTorch's llama export takes a checkpoint whose
    # path contains "8da4w" (or "int8") for an already quantized one, so none under `out` will do.
    import tempfile

    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="etp_scale_work_"))
    torch.manual_seed(61)
    model = construct_transformer(ModelArgs(max_seq_len=CONTEXT, max_context_len=CONTEXT, **PARAMS))
    state = model.state_dict()
    torch.save(state, work / "base.pth")
    (work / "params.json").write_text(json.dumps(PARAMS))
    # A random rank-16 adapter in PEFT's names (what ExecuTorch's unsloth_to_meta reads).
    gen = torch.Generator().manual_seed(62)
    adapter = {}
    dim = PARAMS["dim"]
    for layer in range(PARAMS["n_layers"]):
        for proj in ("q_proj", "v_proj", "o_proj"):
            key = f"base_model.model.model.layers.{layer}.self_attn.{proj}"
            adapter[f"{key}.lora_A.weight"] = torch.randn(LORA["r"], dim, generator=gen) / dim**0.5
            adapter[f"{key}.lora_B.weight"] = torch.randn(dim, LORA["r"], generator=gen) * 0.01
    save_file(adapter, str(work / "lora.safetensors"))
    (work / "lora_config.json").write_text(json.dumps(LORA))
    del model, state

    if args.qmode:
        # The quantized base alone, its weights inside the program, through the export_llama CLI
        # (what the decode comparison needs; the LoRA-over-foundation form of the quantized model
        # is covered at small scale by the llama_demo_8da4w fixtures).
        import subprocess

        print("exporting scale_base ...", flush=True)
        cmd = [sys.executable, "-m", "executorch.examples.models.llama.export_llama", "--checkpoint",
               str(work / "base.pth"), "--params", str(work / "params.json"), "--use_kv_cache",
               "--use_sdpa_with_kv_cache", "-d", "fp32", "--max_seq_length", str(CONTEXT), "--max_context_length",
               str(CONTEXT), "-X", "-qmode", args.qmode, "-G", "32", "--output-dir", str(out),
               "--output_name", "scale_base.pte"]
        result = subprocess.run(cmd, capture_output=True, text=True, cwd=out)
        if result.returncode != 0:
            raise RuntimeError(f"export_llama failed:\n{result.stderr[-3000:]}")
        what = f" --qmode {args.qmode}: a 142M-parameter Llama (ExecuTorch's llama export, XNNPACK)"
        data, models = "", ["base: { program: scale_base.pte, tokenizer: tiny_sp.model }"]
    else:
        foundation = "scale_foundation.ptd"
        for name, lora in (("scale_base", None), ("scale_lora", "lora")):
            print(f"exporting {name} ...", flush=True)
            folder = fx.run_export_llm(work, name, xnnpack=True, foundation=foundation, adapter=lora,
                                       context=CONTEXT)
            shutil.move(str(folder / f"{name}.pte"), out / f"{name}.pte")
            if name == "scale_base":
                shutil.move(str(folder / foundation), out / foundation)
            elif not filecmp.cmp(folder / foundation, out / foundation, shallow=False):
                raise AssertionError(f"{name}: its foundation file differs from the base's")
        what = ": a 142M-parameter Llama (ExecuTorch's LLM export, XNNPACK)\n# and a LoRA program over one foundation file"
        data = f"data:\n  foundation: {{ file: {foundation}, weight_cache: xnnpack }}\n"
        models = [f"{m}: {{ program: scale_{m}.pte, data: [foundation], tokenizer: tiny_sp.model }}"
                  for m in ("base", "lora")]
    (out / "tiny_sp.model").write_bytes(fx.train_tokenizer())
    (out / "manifest.yaml").write_text(
        f"# Generated by scripts/export_scale_llm.py{what}.\n"
        "etp: 1\nplugins:\n  portable: { library: libetp_portable.so }\n"
        "  xnnpack: { library: libetp_xnnpack.so }\n  llm: { library: libetp_llm.so }\n"
        + data + "models:\n" + "".join(f"  {m}\n" for m in models))
    shutil.rmtree(work)
    for p in sorted(out.iterdir()):
        print(f"{p.name}: {p.stat().st_size} bytes")
    return 0

if __name__ == "__main__":
    sys.exit(main())
