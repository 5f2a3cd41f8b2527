#!/usr/bin/env python3
"""Export etp's test fixtures with the real ExecuTorch toolchain.

For every fixture this script
  1. builds a tiny fp32 model with fixed seeds (nothing is downloaded),
  2. exports it to a .pte program (and .ptd data files where asked for),
  3. loads the written files into the ExecuTorch runtime from the pip wheel,
     executes the fixture's runs in order on ONE loaded program, and
  4. saves inputs and the runtime's outputs as .npy files.

The expected outputs always come from the ExecuTorch runtime executing the
exported files. Eager PyTorch is only used as a sanity check (the maximum
difference is printed and must be within the fixture's tolerance).

Finally tests/fixtures/index.json describes everything (see README.md there).

Only for export tooling; the versions are pinned in scripts/requirements-export.txt.
"""

from __future__ import annotations

import argparse
from importlib.metadata import version as dist_version
import copy
import json
import math
import platform
import random
import sys
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "tests" / "fixtures"
GENERATOR = "scripts/export_fixtures.py"

PTE_MAGIC = b"ET12"
PTD_MAGIC = b"FT01"


def log(msg: str) -> None:
    print(msg, flush=True)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


# ---------------------------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------------------------


class AddModel(nn.Module):
    def forward(self, x, y):
        return x + y


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(16, 32)
        self.fc2 = nn.Linear(32, 32)
        self.fc3 = nn.Linear(32, 16)
        self.fc4 = nn.Linear(16, 4)

    def forward(self, x):
        x = F.relu(self.fc1(x))
        x = F.gelu(self.fc2(x))
        x = torch.sigmoid(self.fc3(x))
        return self.fc4(x)


class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, kernel_size=3, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 16, kernel_size=3, padding=1)
        self.fc = nn.Linear(16 * 4 * 4, 10)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.max_pool2d(x, kernel_size=2, stride=2)
        x = F.relu(self.conv2(x))
        x = F.avg_pool2d(x, kernel_size=2, stride=2)
        x = torch.flatten(x, 1)
        return self.fc(x)


def make_cnn() -> SmallCNN:
    m = SmallCNN()
    with torch.no_grad():
        # Non-trivial batch-norm statistics so that eval-mode batchnorm really does something.
        m.bn1.running_mean.copy_(torch.randn(8) * 0.1)
        m.bn1.running_var.copy_(torch.rand(8) * 0.5 + 0.75)
        m.bn1.weight.copy_(torch.rand(8) * 0.5 + 0.75)
        m.bn1.bias.copy_(torch.randn(8) * 0.1)
    return m.eval()


class DynamicModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 4)

    def forward(self, x):
        return F.relu(self.fc(x))


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 4)

    def forward(self, x):
        return torch.tanh(self.fc(x))


class Decoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 8)

    def forward(self, z):
        return self.fc(z)


# --- tiny Llama-style decoder ------------------------------------------------------------------

LLAMA_CFG = dict(dim=64, n_layers=2, n_heads=4, vocab=128, hidden=128, max_seq_len=32)
LORA_ALPHA = 16.0
# The LoRA variants: which projections get an adapter, and its rank. Every projection of the
# base model is a LoRALinear (rank 0), so all variants name their foundation weights alike.
LORA_VARIANTS = {
    "tiny_llama_lora": {"wq": 8, "wv": 8, "wo": 8},
    "tiny_llama_lora2": {"wk": 4, "w1": 4, "w2": 4},
}


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        x = x * torch.rsqrt(torch.mean(x * x, dim=-1, keepdim=True) + self.eps)
        return x * self.weight


class LoRALinear(nn.Module):
    """Bias-free projection whose foundation weight lives at `<name>.linear.weight`.

    With rank == 0 it is just the foundation projection (used by the base model so that
    both models name their foundation weights identically).
    """

    def __init__(self, in_features: int, out_features: int, rank: int = 0, alpha: float = 0.0):
        super().__init__()
        self.linear = nn.Linear(in_features, out_features, bias=False)
        self.rank = rank
        if rank > 0:
            self.lora_a = nn.Linear(in_features, rank, bias=False)  # weight: rank x in
            self.lora_b = nn.Linear(rank, out_features, bias=False)  # weight: out x rank
            self.scale = alpha / rank

    def forward(self, x):
        y = self.linear(x)
        if self.rank > 0:
            y = y + self.scale * self.lora_b(self.lora_a(x))
        return y


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class Attention(nn.Module):
    def __init__(self, dim, n_heads, max_seq_len, ranks):
        super().__init__()
        self.n_heads = n_heads
        self.head_dim = dim // n_heads
        self.max_seq_len = max_seq_len
        self.wq = LoRALinear(dim, dim, ranks.get("wq", 0), LORA_ALPHA)
        self.wk = LoRALinear(dim, dim, ranks.get("wk", 0), LORA_ALPHA)
        self.wv = LoRALinear(dim, dim, ranks.get("wv", 0), LORA_ALPHA)
        self.wo = LoRALinear(dim, dim, ranks.get("wo", 0), LORA_ALPHA)
        cache_shape = (1, n_heads, max_seq_len, self.head_dim)
        self.register_buffer("k_cache", torch.zeros(cache_shape))
        self.register_buffer("v_cache", torch.zeros(cache_shape))

    def forward(self, x, cos, sin, input_pos):
        # x: [1, 1, dim]; cos/sin: [1, 1, 1, head_dim]; input_pos: int64 [1]
        bsz, seqlen, dim = x.shape
        q = self.wq(x).view(bsz, seqlen, self.n_heads, self.head_dim).transpose(1, 2)
        k = self.wk(x).view(bsz, seqlen, self.n_heads, self.head_dim).transpose(1, 2)
        v = self.wv(x).view(bsz, seqlen, self.n_heads, self.head_dim).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        # KV cache update in place on the registered (mutable) buffers.
        self.k_cache.index_copy_(2, input_pos, k)
        self.v_cache.index_copy_(2, input_pos, v)
        scores = torch.matmul(q, self.k_cache.transpose(2, 3)) * (1.0 / math.sqrt(self.head_dim))
        positions = torch.arange(self.max_seq_len, dtype=torch.int64)
        future = positions.view(1, 1, 1, -1) > input_pos.view(1, 1, -1, 1)
        scores = scores.masked_fill(future, float("-inf"))
        probs = torch.softmax(scores, dim=-1)
        out = torch.matmul(probs, self.v_cache)
        out = out.transpose(1, 2).reshape(bsz, seqlen, dim)
        return self.wo(out)


class FeedForward(nn.Module):
    def __init__(self, dim, hidden, ranks):
        super().__init__()
        self.w1 = LoRALinear(dim, hidden, ranks.get("w1", 0), LORA_ALPHA)
        self.w2 = LoRALinear(hidden, dim, ranks.get("w2", 0), LORA_ALPHA)
        self.w3 = LoRALinear(dim, hidden, ranks.get("w3", 0), LORA_ALPHA)

    def forward(self, x):
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


class Block(nn.Module):
    def __init__(self, cfg, ranks):
        super().__init__()
        self.attention_norm = RMSNorm(cfg["dim"])
        self.attention = Attention(cfg["dim"], cfg["n_heads"], cfg["max_seq_len"], ranks)
        self.ffn_norm = RMSNorm(cfg["dim"])
        self.feed_forward = FeedForward(cfg["dim"], cfg["hidden"], ranks)

    def forward(self, x, cos, sin, input_pos):
        h = x + self.attention(self.attention_norm(x), cos, sin, input_pos)
        return h + self.feed_forward(self.ffn_norm(h))


class TinyLlama(nn.Module):
    def __init__(self, cfg=LLAMA_CFG, ranks: Optional[Dict[str, int]] = None):
        super().__init__()
        dim = cfg["dim"]
        head_dim = dim // cfg["n_heads"]
        self.tok_embeddings = nn.Embedding(cfg["vocab"], dim)
        self.layers = nn.ModuleList([Block(cfg, ranks or {}) for _ in range(cfg["n_layers"])])
        self.norm = RMSNorm(dim)
        self.output = nn.Linear(dim, cfg["vocab"], bias=False)
        inv_freq = 1.0 / (10000.0 ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
        angles = torch.outer(torch.arange(cfg["max_seq_len"], dtype=torch.float32), inv_freq)
        angles = torch.cat((angles, angles), dim=-1)  # [max_seq_len, head_dim]
        self.register_buffer("freqs_cos", torch.cos(angles), persistent=False)
        self.register_buffer("freqs_sin", torch.sin(angles), persistent=False)

    def forward(self, tokens, input_pos):
        # tokens: int64 [1, 1]; input_pos: int64 [1]
        x = self.tok_embeddings(tokens)
        cos = torch.index_select(self.freqs_cos, 0, input_pos).view(1, 1, 1, -1)
        sin = torch.index_select(self.freqs_sin, 0, input_pos).view(1, 1, 1, -1)
        for layer in self.layers:
            x = layer(x, cos, sin, input_pos)
        return self.output(self.norm(x))


def make_tiny_llama_base() -> TinyLlama:
    seed_everything(1234)
    m = TinyLlama(ranks={})
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, RMSNorm):
                mod.weight.copy_(1.0 + 0.1 * torch.randn_like(mod.weight))
    return m.eval()


def make_tiny_llama_lora(base: TinyLlama, ranks: Dict[str, int], seed: int) -> TinyLlama:
    seed_everything(4321)
    m = TinyLlama(ranks=ranks)
    missing, unexpected = m.load_state_dict(base.state_dict(), strict=False)
    assert not unexpected, unexpected
    assert all("lora" in k for k in missing), missing
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in m.named_parameters():
            if "lora_a" in name:
                p.copy_(torch.randn(p.shape, generator=gen) / math.sqrt(p.shape[1]))
            elif "lora_b" in name:
                p.copy_(0.05 * torch.randn(p.shape, generator=gen))  # non-zero: the adapter matters
    # The foundation tensors must be identical to the base model's.
    base_sd = base.state_dict()
    for k, v in m.state_dict().items():
        if "lora" not in k:
            assert torch.equal(v, base_sd[k]), k
    return m.eval()


# --- XOR training net --------------------------------------------------------------------------


class XorNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(2, 10)
        self.linear2 = nn.Linear(10, 2)

    def forward(self, x):
        return self.linear2(torch.sigmoid(self.linear(x)))


class XorTrainNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = XorNet()
        self.loss = nn.CrossEntropyLoss()

    def forward(self, x, label):
        return self.loss(self.net(x), label)


# ---------------------------------------------------------------------------------------------
# Export helpers
# ---------------------------------------------------------------------------------------------


def export_program(
    model: nn.Module,
    example_inputs: tuple,
    *,
    xnnpack: bool,
    tag_fn: Optional[Callable[[torch.fx.Node], Optional[str]]] = None,
    delegate_tag_fn: Optional[Callable[[torch.fx.Node], Optional[str]]] = None,
    dynamic_shapes=None,
    config_kwargs: Optional[dict] = None,
    preserve_ops: Sequence = (),
    constant_methods: Optional[dict] = None,
):
    from executorch.exir import EdgeCompileConfig, ExecutorchBackendConfig, to_edge_transform_and_lower

    ep = torch.export.export(model, example_inputs, dynamic_shapes=dynamic_shapes, strict=True)
    if delegate_tag_fn is not None:
        # Tag the constants that the delegate will consume (on the unlifted module, where
        # they are get_attr nodes), then re-export so the tags travel with the nodes.
        from executorch.exir.passes.external_constants_pass import (
            delegate_external_constants_pass_unlifted,
        )

        unlifted = ep.module()
        delegate_external_constants_pass_unlifted(unlifted, delegate_tag_fn)
        ep = torch.export.export(unlifted, example_inputs, dynamic_shapes=dynamic_shapes, strict=True)
    partitioner = None
    if xnnpack:
        from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner

        partitioner = [XnnpackPartitioner()]
    compile_config = None
    if preserve_ops:
        # Operators ExecuTorch's portable library has kernels for but the default decomposition
        # would split (EdgeCompileConfig.preserve_ops, listed as exceptions to core ATen); the
        # string "skip_dim_order" keeps clone and _to_copy instead of their dim-order forms.
        ops = [op for op in preserve_ops if not isinstance(op, str)]
        compile_config = EdgeCompileConfig(preserve_ops=ops, _core_aten_ops_exception_list=ops,
                                           _skip_dim_order="skip_dim_order" in preserve_ops)
    edge = to_edge_transform_and_lower(ep, partitioner=partitioner, compile_config=compile_config,
                                       constant_methods=constant_methods)
    kwargs = dict(config_kwargs or {})
    if tag_fn is not None:
        kwargs["external_constants"] = tag_fn
    return edge.to_executorch(ExecutorchBackendConfig(**kwargs))


def plan_summary(et_program) -> dict:
    program = et_program.executorch_program
    methods, operators, delegates = [], set(), set()
    num_delegate_calls = 0
    for plan in program.execution_plan:
        methods.append(plan.name)
        for op in plan.operators:
            operators.add(op.name + ("." + op.overload if op.overload else ""))
        for d in plan.delegates:
            delegates.add(d.id)
            num_delegate_calls += 1
    return dict(
        methods=methods,
        operators=sorted(operators),
        delegates=sorted(delegates),
        num_delegate_calls=num_delegate_calls,
    )


def to_numpy(value):
    """Returns (array, kind) for one runtime/eager value."""
    if isinstance(value, torch.Tensor):
        return value.detach().contiguous().cpu().numpy().copy(order="C"), None
    if isinstance(value, bool):
        return np.array(value, dtype=np.bool_), "bool"
    if isinstance(value, int):
        return np.array(value, dtype=np.int64), "int"
    if isinstance(value, float):
        return np.array(value, dtype=np.float64), "float"
    raise TypeError(f"unsupported value type {type(value).__name__}: {value!r}")


class Run:
    def __init__(self, method: str, inputs: Sequence, expect_eager: Optional[Sequence] = None):
        self.method = method
        self.inputs = list(inputs)
        # Optional eager reference outputs used only for a sanity check.
        self.expect_eager = expect_eager


class FixtureSet:
    def __init__(self, out: Path):
        self.out = out
        self.entries: List[dict] = []
        self.written: Dict[str, bytes] = {}  # file name -> bytes written this session
        self.outputs: Dict[str, List[List]] = {}  # fixture name -> runtime outputs per run

    # -- files ------------------------------------------------------------------------------

    def _write_once(self, name: str, data: bytes) -> None:
        if name in self.written:
            if self.written[name] != data:
                raise AssertionError(f"{name}: a second export produced different bytes")
            log(f"  {name}: identical to the copy already written ({len(data)} bytes)")
            return
        (self.out / name).write_bytes(data)
        self.written[name] = data

    def _save_npy(self, name: str, arr: np.ndarray) -> None:
        # np.ascontiguousarray would turn 0-d arrays into shape (1,); keep the real shape.
        arr = np.array(arr, order="C", copy=True)
        with open(self.out / name, "wb") as f:
            np.save(f, arr, allow_pickle=False)

    # -- runtime ----------------------------------------------------------------------------

    @staticmethod
    def load_runtime(pte: Path, ptd: Optional[Path]):
        """Returns a callable (method_name, inputs) -> outputs on one loaded program."""
        if ptd is None:
            from executorch.runtime import Runtime

            program = Runtime.get().load_program(str(pte))
            methods = {}  # one loaded method per name, so state (a KV cache) carries from run to run

            def call(method, inputs):
                if method not in methods:
                    methods[method] = program.load_method(method)
                return list(methods[method].execute(list(inputs)))

        else:
            # executorch 1.4.1's Runtime.load_program has no data_path argument; the legacy
            # pybinding does (and accepts exactly one .ptd).
            from executorch.extension.pybindings.portable_lib import _load_for_executorch

            module = _load_for_executorch(str(pte), data_path=str(ptd))

            def call(method, inputs):
                return list(module.run_method(method, tuple(inputs)))

        return call

    # -- fixtures ---------------------------------------------------------------------------

    def add(
        self,
        *,
        name: str,
        model: str,
        backend: str,
        et_program,
        data_names: Optional[Dict[str, str]] = None,
        export: str,
        rtol: float,
        atol: float,
        runs: Sequence[Run],
        check_fn: Optional[Callable[[Callable, List[List]], None]] = None,
        data_files: Optional[List[str]] = None,
        reference_ptd: Optional[Path] = None,
    ) -> dict:
        """data_names maps the exporter's data tag to the .ptd file name to write. A program
        whose data files are already written names them in data_files instead (in manifest
        order), with reference_ptd: one file holding all their keys for ExecuTorch's Python
        runtime, which loads one."""
        log(f"[{name}]")
        assert backend in ("portable", "xnnpack")
        assert all(e["name"] != name for e in self.entries), name
        data_names = data_names or {}

        pte_name = f"{name}.pte"
        pte_bytes = et_program.buffer
        assert pte_bytes[4:8] == PTE_MAGIC, f"{pte_name}: bad magic {pte_bytes[4:8]!r}"
        self._write_once(pte_name, pte_bytes)

        # ExecutorchProgramManager has no public accessor for the data blobs in 1.4.1
        # (only write_tensor_data_to_file, which names files after the tags).
        written_files = data_files
        data_files = {tag: bytes(cord) for tag, cord in (et_program._tensor_data or {}).items()}
        if written_files is not None:
            data_files, data_names = {}, {}
        if set(data_files) != set(data_names):
            raise AssertionError(f"{name}: exporter produced data tags {sorted(data_files)}, expected {sorted(data_names)}")
        data_file_names = []
        for tag in sorted(data_files):
            fname = data_names[tag]
            blob = data_files[tag]
            assert blob[4:8] == PTD_MAGIC, f"{fname}: bad magic {blob[4:8]!r}"
            self._write_once(fname, blob)
            data_file_names.append(fname)
        if len(data_file_names) > 1:
            raise AssertionError("the Python runtime can only load one .ptd per program")

        summary = plan_summary(et_program)
        log(f"  methods={summary['methods']} delegates={summary['delegates']} x{summary['num_delegate_calls']}")
        log(f"  operators={summary['operators']}")

        ptd_path = self.out / data_file_names[0] if data_file_names else None
        if written_files is not None:
            data_file_names, ptd_path = list(written_files), reference_ptd
        call = self.load_runtime(self.out / pte_name, ptd_path)

        run_entries = []
        all_outputs = []
        for i, run in enumerate(runs):
            outputs = call(run.method, run.inputs)
            all_outputs.append(outputs)
            entry = {"method": run.method, "inputs": [], "outputs": []}
            for kind_key, values in (("inputs", run.inputs), ("outputs", outputs)):
                for j, v in enumerate(values):
                    arr, kind = to_numpy(v)
                    fname = f"{name}.run{i}.{'in' if kind_key == 'inputs' else 'out'}{j}.npy"
                    self._save_npy(fname, arr)
                    rec = {"file": fname, "dtype": arr.dtype.name, "shape": list(arr.shape)}
                    if kind is not None:
                        rec["kind"] = kind
                    entry[kind_key].append(rec)
            if run.expect_eager is not None:
                assert len(run.expect_eager) == len(outputs), (len(run.expect_eager), len(outputs))
                for j, (got, want) in enumerate(zip(outputs, run.expect_eager)):
                    got_a, _ = to_numpy(got)
                    want_a, _ = to_numpy(want)
                    assert got_a.shape == want_a.shape, (got_a.shape, want_a.shape)
                    assert got_a.dtype == want_a.dtype, (got_a.dtype, want_a.dtype)
                    if got_a.dtype.kind == "f":
                        diff = float(np.max(np.abs(got_a - want_a))) if got_a.size else 0.0
                        ok = np.allclose(got_a, want_a, rtol=rtol, atol=atol)
                    else:
                        diff = 0.0 if np.array_equal(got_a, want_a) else float("inf")
                        ok = diff == 0.0
                    log(f"  run{i} {run.method} out{j}: max |runtime - eager| = {diff:.3g}")
                    if not ok:
                        raise AssertionError(f"{name} run{i} out{j}: runtime and eager disagree (max diff {diff})")
            run_entries.append(entry)

        if check_fn is not None:
            check_fn(call, all_outputs)
        self.outputs[name] = all_outputs

        entry = {
            "name": name,
            "model": model,
            "backend": backend,
            "program": pte_name,
            "data_files": data_file_names,
            "export": export,
            **summary,
            "rtol": rtol,
            "atol": atol,
            "runs": run_entries,
        }
        self.entries.append(entry)
        return entry


def eager(model, *inputs):
    with torch.no_grad():
        out = model(*inputs)
    if isinstance(out, (tuple, list)):
        return list(out)
    return [out]


# ---------------------------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------------------------


def fixture_add(fs: FixtureSet) -> None:
    seed_everything(1)
    m = AddModel().eval()
    x, y = torch.randn(2, 3, 4), torch.randn(2, 3, 4)
    et = export_program(m, (x, y), xnnpack=False)
    fs.add(
        name="add",
        model="add",
        backend="portable",
        et_program=et,
        export="torch.export + to_edge_transform_and_lower (no partitioner) + to_executorch(ExecutorchBackendConfig()); no weights",
        rtol=1e-6,
        atol=1e-7,
        runs=[Run("forward", [x, y], eager(m, x, y))],
    )


class ChainModel(torch.nn.Module):
    """A long chain of tiny element-wise kernels: measures per-instruction dispatch cost."""

    LENGTH = 200

    def forward(self, x, y):
        for _ in range(self.LENGTH):
            x = x + y
        return x


def fixture_chain(fs: FixtureSet) -> None:
    seed_everything(9)
    m = ChainModel().eval()
    x, y = torch.randn(1), torch.randn(1)
    et = export_program(m, (x, y), xnnpack=False)
    fs.add(
        name="chain",
        model="chain",
        backend="portable",
        et_program=et,
        export=f"torch.export + to_edge_transform_and_lower (no partitioner); {ChainModel.LENGTH} chained aten::add.out on 1-element tensors, for the dispatch benchmark",
        rtol=1e-5,
        atol=1e-5,
        runs=[Run("forward", [x, y], eager(m, x, y))],
    )


class FcBench(nn.Module):
    """One 512x512 fully-connected layer: the XNNPACK benchmark's FC shape."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(512, 512)

    def forward(self, x):
        return self.fc(x)


class ConvBench(nn.Module):
    """One 3x3 convolution, 32 -> 64 channels: the XNNPACK benchmark's convolution shape."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(32, 64, 3, padding=1)

    def forward(self, x):
        return self.conv(x)


def fixture_bench(fs: FixtureSet) -> None:
    """Programs for benchmarks/xnnpack (XNNPACK plugin versus raw XNNPACK on the same shapes)."""
    for name, model, example in (
        ("fc_bench_xnnpack", FcBench, torch.randn(64, 512)),
        ("conv_bench_xnnpack", ConvBench, torch.randn(1, 32, 32, 32)),
    ):
        seed_everything(11)
        m = model().eval()
        et = export_program(m, (example,), xnnpack=True)
        fs.add(
            name=name,
            model=name.replace("_xnnpack", ""),
            backend="xnnpack",
            et_program=et,
            export="to_edge_transform_and_lower + XnnpackPartitioner; weights in the program; for the XNNPACK benchmarks",
            rtol=1e-4,
            atol=1e-4,
            runs=[Run("forward", [example], eager(m, example))],
        )


class PadUpsampleDeconv(nn.Module):
    """Constant padding, a transposed convolution and bilinear upsampling: XNNPACK node types
    (StaticConstantPad, ConvTranspose2d, StaticResizeBilinear2D) the other fixtures lack."""

    def __init__(self):
        super().__init__()
        self.deconv = nn.ConvTranspose2d(3, 4, 3, stride=2, padding=1)

    def forward(self, x):
        x = F.pad(x, (1, 1, 2, 2), value=0.5)
        x = self.deconv(x)
        return F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)


def fixture_pad_upsample_deconv(fs: FixtureSet) -> None:
    for backend in ("portable", "xnnpack"):
        seed_everything(13)
        m = PadUpsampleDeconv().eval()
        x = torch.randn(1, 3, 8, 8)
        et = export_program(m, (x,), xnnpack=backend == "xnnpack")
        fs.add(
            name=f"pad_upsample_deconv_{backend}",
            model="pad_upsample_deconv",
            backend=backend,
            et_program=et,
            export="F.pad + ConvTranspose2d(stride 2) + bilinear interpolate; to_edge_transform_and_lower"
            + (" + XnnpackPartitioner" if backend == "xnnpack" else " (no partitioner)"),
            rtol=1e-4,
            atol=1e-4,
            runs=[Run("forward", [x], eager(m, x))],
        )


class QConvNet(nn.Module):
    """Conv, ReLU, max pool, 1x1 conv, residual add of a second input, linear: the ops the
    XNNPACK quantizer annotates, so that the whole quantized graph lands in one delegate."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 8, 1)
        self.fc = nn.Linear(128, 10)

    def forward(self, x, y):
        h = F.relu(self.conv1(x))
        # Explicit stride: without it the ExecuTorch 1.4.1 XNNPACK partitioner raises IndexError.
        h = F.max_pool2d(h, 2, 2)
        h = self.conv2(h) + y
        return self.fc(torch.flatten(h, 1))


def quantize_pt2e_xnnpack(model: nn.Module, example_inputs: tuple, calibration: Sequence[tuple], *, per_channel: bool):
    """Static PT2E quantization with XNNPACKQuantizer's symmetric config; returns the converted
    module (quantize/dequantize pairs around every annotated op)."""
    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (
        XNNPACKQuantizer,
        get_symmetric_quantization_config,
    )
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    captured = torch.export.export(model, example_inputs, strict=True).module()
    quantizer = XNNPACKQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=per_channel))
    prepared = prepare_pt2e(captured, quantizer)
    with torch.no_grad():
        for inputs in calibration:
            prepared(*inputs)
    return convert_pt2e(prepared)


def io_quant_params(gm: torch.fx.GraphModule) -> dict:
    """(scale, zero_point) of the quantize node after each graph input and of the dequantize
    node that produces each graph output of a convert_pt2e module."""
    q = torch.ops.quantized_decomposed.quantize_per_tensor.default
    dq = torch.ops.quantized_decomposed.dequantize_per_tensor.default
    params = {}
    for node in gm.graph.nodes:
        if node.op == "placeholder":
            users = [u for u in node.users if u.target == q]
            if users:
                params[node.name] = (float(users[0].args[1]), int(users[0].args[2]))
        elif node.op == "output":
            for i, out in enumerate(node.args[0]):
                assert out.target == dq, f"output {i} is not a dequantize_per_tensor: {out.target}"
                params[f"out{i}"] = (float(out.args[1]), int(out.args[2]))
    return params


def round_up(value: float, digits: int = 2) -> float:
    """Rounds a positive value up to `digits` significant digits."""
    exponent = math.floor(math.log10(value)) - digits + 1
    return round(math.ceil(value / 10.0**exponent - 1e-9) * 10.0**exponent, -exponent)


def assert_fully_delegated(name: str, et_program) -> None:
    summary = plan_summary(et_program)
    if summary["operators"] or summary["num_delegate_calls"] != 1 or summary["delegates"] != ["XnnpackBackend"]:
        raise AssertionError(f"{name}: expected exactly one XnnpackBackend call and no operators, got {summary}")


def quantized_qconv(per_channel: bool):
    """The QConvNet, its two run inputs and its PT2E-quantized module (XNNPACKQuantizer,
    calibrated on 8 input pairs drawn before the run inputs)."""
    shapes = ((1, 3, 8, 8), (1, 8, 4, 4))
    seed_everything(15)
    m = QConvNet().eval()
    gen = torch.Generator().manual_seed(16)
    calibration = [tuple(torch.randn(s, generator=gen) for s in shapes) for _ in range(8)]
    run_inputs = [tuple(torch.randn(s, generator=gen) for s in shapes) for _ in range(2)]
    return m, run_inputs, quantize_pt2e_xnnpack(m, run_inputs[0], calibration, per_channel=per_channel)


def fixture_quantized(fs: FixtureSet) -> None:
    for name, per_channel in (("qconv_xnnpack", False), ("qconv_pc_xnnpack", True)):
        m, run_inputs, converted = quantized_qconv(per_channel)
        qparams = io_quant_params(converted)
        out_scale = qparams["out0"][0]
        atol = round_up(2 * out_scale)
        et = export_program(converted, run_inputs[0], xnnpack=True)
        assert_fully_delegated(name, et)
        # The eager cross-check runs the converted module (fp32 ops between quantize/dequantize
        # pairs, the reference semantics of the delegate), not the fp32 model.
        refs = [eager(converted, *inputs) for inputs in run_inputs]
        runs = [Run("forward", list(inputs), ref) for inputs, ref in zip(run_inputs, refs)]
        for i, (inputs, ref) in enumerate(zip(run_inputs, refs)):
            d = float((ref[0] - eager(m, *inputs)[0]).abs().max())
            log(f"  run{i}: max |quantized reference - fp32 eager| = {d:.3g} (information only)")
        weights = (
            "qcint8 per-channel symmetric weights (is_per_channel=True)"
            if per_channel
            else "qint8 per-tensor symmetric weights (is_per_channel=False)"
        )
        qtext = ", ".join(f"{k} scale {s:.6g} zp {z}" for k, (s, z) in qparams.items())
        fs.add(
            name=name,
            model="qconv",
            backend="xnnpack",
            et_program=et,
            export=(
                "conv2d(3,8,3,pad 1), relu, max_pool2d(2,2), conv2d(8,8,1), + y (second input [1,8,4,4]), flatten, "
                "linear(128,10) on NCHW x [1,3,8,8]; torch.export(strict).module(), prepare_pt2e with "
                "XNNPACKQuantizer().set_global(get_symmetric_quantization_config(is_per_channel="
                f"{per_channel})), calibrated on 8 randn input pairs (torch.Generator seed 16, drawn before the "
                "two run inputs), convert_pt2e, torch.export(strict), to_edge_transform_and_lower + "
                "XnnpackPartitioner + to_executorch(ExecutorchBackendConfig()); "
                f"the whole graph is one XNNPACK delegate with {weights}, int8 per-tensor activations and "
                f"fp32 inputs/outputs quantized/dequantized inside the delegate ({qtext}); weights in the PTE; "
                "eager cross-check against the convert_pt2e module (quantize/dequantize reference), not the "
                f"fp32 model; rtol 0, atol {atol} = 2 x the output scale rounded up, since XNNPACK builds may "
                "round the requantization differently by one step"
            ),
            rtol=0.0,
            atol=atol,
            runs=runs,
        )


def fixture_quantized_portable(fs: FixtureSet) -> None:
    """Quantized programs without a delegate: quantized_decomposed::quantize/dequantize operators
    run by a kernel library (etp's quantized plugin), bit-exact round trips and the QConvNet with
    fp32 operators between quantize/dequantize pairs."""
    import executorch.kernels.quantized  # noqa: F401  (registers the out variants and kernels)
    import torch.ao.quantization.fx._decomposed  # noqa: F401  (torch.ops.quantized_decomposed)

    qd = torch.ops.quantized_decomposed
    gen = torch.Generator().manual_seed(31)
    round_trips = [
        ("q_per_tensor_int8", lambda x: qd.dequantize_per_tensor(qd.quantize_per_tensor(x, 0.05, 3, -128, 127, torch.int8),
                                                                  0.05, 3, -128, 127, torch.int8)),
        ("q_per_tensor_uint8", lambda x: qd.dequantize_per_tensor(qd.quantize_per_tensor(x, 0.0173, 128, 0, 255, torch.uint8),
                                                                   0.0173, 128, 0, 255, torch.uint8)),
        ("q_per_channel_int8", lambda x: qd.dequantize_per_channel(
            qd.quantize_per_channel(x, torch.tensor([0.02, 0.07, 0.011], dtype=torch.float64),
                                    torch.tensor([0, -4, 9]), 1, -128, 127, torch.int8),
            torch.tensor([0.02, 0.07, 0.011], dtype=torch.float64), torch.tensor([0, -4, 9]), 1, -128, 127, torch.int8)),
    ]
    for name, fn in round_trips:
        m = OpModule(fn).eval()
        in0 = (torch.randn(2, 3, 5, generator=gen) * 3,)
        in1 = (torch.randn(2, 3, 5, generator=gen) * 3,)
        et = export_program(m, in0, xnnpack=False)
        fs.add(
            name=name,
            model=name,
            backend="portable",
            et_program=et,
            export=("quantized_decomposed quantize then dequantize (torch.ops.quantized_decomposed), torch.export + "
                    "to_edge_transform_and_lower (no partitioner) + to_executorch; the kernels come from "
                    "executorch.kernels.quantized; bit-exact (rtol 0, atol 0)"),
            rtol=0.0,
            atol=0.0,
            # PyTorch's per-channel reference rounds the last bit differently from the runtime (float
            # vs double scale), so only the per-tensor round trips are cross-checked against eager.
            runs=[Run("forward", list(inp), eager(m, *inp) if "per_tensor" in name else None) for inp in (in0, in1)],
        )
    for name, per_channel in (("qconv_portable", False), ("qconv_pc_portable", True)):
        m, run_inputs, converted = quantized_qconv(per_channel)
        out_scale = io_quant_params(converted)["out0"][0]
        atol = round_up(2 * out_scale)
        et = export_program(converted, run_inputs[0], xnnpack=False)
        refs = [eager(converted, *inputs) for inputs in run_inputs]
        fs.add(
            name=name,
            model="qconv",
            backend="portable",
            et_program=et,
            export=("the qconv_xnnpack model (PT2E, XNNPACKQuantizer, per_channel=" + str(per_channel) + ") lowered "
                    "without a partitioner: quantized_decomposed quantize/dequantize around fp32 convolution, "
                    f"linear and add; rtol 0, atol {atol} = 2 x the output scale rounded up, since fp32 "
                    "accumulation order may move a requantization by one step"),
            rtol=0.0,
            atol=atol,
            runs=[Run("forward", list(inputs), ref) for inputs, ref in zip(run_inputs, refs)],
        )


class BufferOpModule(nn.Module):
    """One torch call over the inputs and some constant tensors (registered as buffers, so the
    exporter stores them as program constants)."""

    def __init__(self, fn, **buffers):
        super().__init__()
        self.fn = fn
        self.names = list(buffers)
        for key, value in buffers.items():
            self.register_buffer(key, value)

    def forward(self, *args):
        return self.fn(*args, *[getattr(self, k) for k in self.names])


def pack_sub_byte(values: torch.Tensor, bits: int) -> torch.Tensor:
    """Packs signed `bits`-bit values [rows, cols] into uint8 bytes as ExecuTorch's embedding_2bit and
    embedding_4bit read them: value + 2**(bits-1); 4-bit high nibble first, 2-bit lowest bits first."""
    per_byte = 8 // bits
    u = (values + (1 << (bits - 1))).to(torch.int32).reshape(values.shape[0], -1, per_byte)
    if bits == 4:
        packed = (u[..., 0] << 4) | u[..., 1]
    else:
        packed = u[..., 0] | (u[..., 1] << 2) | (u[..., 2] << 4) | (u[..., 3] << 6)
    return packed.to(torch.uint8)


def fixture_quantized_ops(fs: FixtureSet) -> None:
    """The rest of quantized.yaml without a delegate: quantized embeddings (byte, 2-bit, 4-bit, with
    groups, zero points and float16), dynamic quantization per token and per tensor
    (choose_qparams), quantized add and mixed int8 matmuls, all bit-exact against the runtime."""
    import executorch.exir.passes._quant_patterns_and_replacements  # noqa: F401  (embedding_*, mixed_*, add)
    import executorch.kernels.quantized  # noqa: F401  (out variants and kernels)
    import torch.ao.quantization.fx._decomposed  # noqa: F401

    qd = torch.ops.quantized_decomposed
    # ExecuTorch defines mixed_mm, mixed_linear and add without a Python implementation; torch.export
    # only needs their output shapes (tracing-only fakes, never run).
    fakes = {
        "quantized_decomposed::mixed_mm": lambda x, w, s, z: x.new_empty((x.shape[0], w.shape[1])),
        "quantized_decomposed::mixed_linear": lambda x, w, s, z, dtype=None: x.new_empty(
            (x.shape[0], w.shape[0]), dtype=dtype or x.dtype),
        "quantized_decomposed::add": lambda a, *rest: torch.empty_like(a),
    }
    for op, fake in fakes.items():
        try:
            torch.library.register_fake(op)(fake)
        except RuntimeError:
            pass  # registered by an earlier call in this process

    gen = torch.Generator().manual_seed(41)

    def ints(lo, hi, *shape, dtype=torch.int8):
        return torch.randint(lo, hi + 1, shape, generator=gen).to(dtype)

    def rand(*shape, dtype=torch.float32):
        return (torch.rand(*shape, generator=gen) * 0.1 + 0.01).to(dtype)

    rows = 10
    w4 = ints(-8, 7, rows, 16)
    w2 = ints(-2, 1, rows, 8)
    embed = BufferOpModule(
        lambda idx, w4p, s4, w2p, s2, wb, sb, zb: (
            qd.embedding_4bit.dtype(w4p, s4, None, -8, 7, idx, dtype=torch.float32),
            qd.embedding_4bit(w4p, s4, None, -8, 7, idx),
            qd.embedding_2bit.dtype(w2p, s2, None, -2, 1, idx, dtype=torch.float16),
            qd.embedding_byte(wb, sb, zb, -128, 127, idx),
        ),
        w4p=pack_sub_byte(w4, 4), s4=rand(rows, 2), w2p=pack_sub_byte(w2, 2), s2=rand(rows, dtype=torch.float16),
        wb=ints(-128, 127, rows, 6), sb=rand(rows, 3), zb=ints(-5, 5, rows, 3, dtype=torch.float32),
    ).eval()

    def per_token(x):
        s, zp = qd.choose_qparams_per_token_asymmetric(x, torch.int8)
        q = qd.quantize_per_token(x, s, zp, -128, 127, torch.int8)
        return qd.dequantize_per_token(q, s, zp, -128, 127, torch.int8, torch.float32), q, s, zp

    def per_tensor(x):
        s, zp = qd.choose_qparams.tensor(x, -128, 127, 1e-7, torch.int8)
        q = qd.quantize_per_tensor.tensor(x, s, zp, -128, 127, torch.int8)
        return qd.dequantize_per_tensor.tensor(q, s, zp, -128, 127, torch.int8), s, zp

    def token_input():
        x = torch.randn(2, 3, 8, generator=gen) * 2
        x[0, 0] = 0  # all zero: scale 0 becomes 0.1
        x[1, 2] *= 1e-5  # a tiny range: the 6.1e-5 scale floor widens it
        x[1, 1] = x[1, 1].abs() + 0.5  # all positive: the range is extended to 0
        return (x,)

    def add(a, b):
        qa = qd.quantize_per_tensor(a, 0.02, 10, 0, 255, torch.uint8)
        qb = qd.quantize_per_tensor(b, 0.03, 128, 0, 255, torch.uint8)
        qc = qd.add(qa, 0.02, 10, 0, 255, qb, 0.03, 128, 0, 255, 0.05, 100, 0, 255)
        return qd.dequantize_per_tensor(qc, 0.05, 100, 0, 255, torch.uint8), qc

    mixed = BufferOpModule(
        lambda x, wl, sl, wm, sm: (qd.mixed_linear(x, wl, sl, None, torch.float32), qd.mixed_mm(x, wm, sm, None)),
        wl=ints(-128, 127, 5, 12), sl=rand(5, 3), wm=ints(-128, 127, 12, 4), sm=rand(12),
    ).eval()

    cases = [
        ("q_embedding", embed, lambda: (torch.randint(0, rows, (2, 3), generator=gen),), True,
         "embedding_4bit.dtype_out (scales [10, 2]: groups of 8) and .out, embedding_2bit.dtype_out with float16 "
         "scales and output, embedding_byte.out with int8 weights, groups of 2 and float zero points"),
        ("q_dynamic_per_token", OpModule(per_token).eval(), token_input, False,
         "choose_qparams_per_token_asymmetric, quantize_per_token, dequantize_per_token (rows of zeros, of a tiny "
         "range and all positive); outputs the dequantized values, the int8 values, scales and zero points"),
        ("q_dynamic_per_tensor", OpModule(per_tensor).eval(), lambda: (torch.randn(3, 5, generator=gen) * 3,), False,
         "choose_qparams.Tensor_out, quantize_per_tensor.Tensor_out, dequantize_per_tensor.Tensor_out"),
        ("q_add", OpModule(add).eval(), lambda: (torch.randn(2, 6, generator=gen), torch.randn(2, 6, generator=gen)),
         False, "quantize_per_tensor to uint8, quantized_decomposed::add (a 0.02/10, b 0.03/128, out 0.05/100), "
         "dequantize"),
        ("q_mixed", mixed, lambda: (torch.randn(3, 12, generator=gen),), False,
         "mixed_linear.out (int8 weight [5, 12], scales [5, 3]: groups of 4, float32) and mixed_mm.out (int8 weight "
         "[12, 4], scales [12])"),
    ]
    for name, m, make, has_eager, what in cases:
        in0, in1 = make(), make()
        et = export_program(m, in0, xnnpack=False)
        fs.add(
            name=name,
            model=name,
            backend="portable",
            et_program=et,
            export=(f"{what}; torch.ops.quantized_decomposed calls over constant buffers, torch.export + "
                    "to_edge_transform_and_lower (no partitioner) + to_executorch, kernels from "
                    "executorch.kernels.quantized; bit-exact (rtol 0, atol 0)"
                    + ("" if has_eager else "; no eager cross-check (ExecuTorch defines mixed_* and add without "
                       "a Python implementation, and PyTorch's choose_qparams references compute the scale in float32, "
                       "a few ulp away from the runtime's float64)")),
            rtol=0.0,
            atol=0.0,
            runs=[Run("forward", list(inp), eager(m, *inp) if has_eager else None) for inp in (in0, in1)],
        )


class QMobileBlock(nn.Module):
    """A MobileNet-like block for the quantized path: strided conv + ReLU6, depthwise conv +
    ReLU, pointwise conv, channel concat and slice, global average pooling, sigmoid, linear.
    (XNNPACKQuantizer leaves tanh unquantized, so there is none.)"""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 16, 3, stride=2, padding=1)
        self.dw = nn.Conv2d(16, 16, 3, padding=1, groups=16)
        self.pw = nn.Conv2d(16, 24, 1)
        self.fc = nn.Linear(24, 10)

    def forward(self, x):
        h = F.hardtanh(self.stem(x), 0.0, 6.0)
        h = F.relu(self.dw(h))
        h = self.pw(h)
        h = torch.cat([h, h * 0.5], 1)[:, :24]
        h = torch.sigmoid(F.adaptive_avg_pool2d(h, 1).flatten(1))
        return self.fc(h)


def add_quantized_fixture(
    fs: FixtureSet,
    *,
    name: str,
    model: str,
    make_module: Callable[[], nn.Module],
    shape: tuple,
    seed: int,
    per_channel: bool,
    description: str,
) -> None:
    """One-input PT2E-quantized fixture lowered whole to XNNPACK: the module is built after
    seed_everything(seed); 8 calibration inputs, then 2 run inputs, from torch.Generator seed + 1;
    tolerance rtol 0, atol 2 output quantization steps."""
    seed_everything(seed)
    m = make_module().eval()
    gen = torch.Generator().manual_seed(seed + 1)
    calibration = [(torch.randn(*shape, generator=gen),) for _ in range(8)]
    run_inputs = [(torch.randn(*shape, generator=gen),) for _ in range(2)]
    converted = quantize_pt2e_xnnpack(m, run_inputs[0], calibration, per_channel=per_channel)
    atol = round_up(2 * io_quant_params(converted)["out0"][0])
    et = export_program(converted, run_inputs[0], xnnpack=True)
    assert_fully_delegated(name, et)
    fs.add(
        name=name,
        model=model,
        backend="xnnpack",
        et_program=et,
        export=(
            f"{description}; PT2E static quantization with {'per-channel' if per_channel else 'per-tensor'} "
            f"symmetric weights (XNNPACKQuantizer, is_per_channel={per_channel}; calibrated on 8 randn inputs from "
            f"torch.Generator seed {seed + 1}), one XNNPACK delegate; eager cross-check against the convert_pt2e "
            f"module; rtol 0, atol {atol} = 2 x the output scale rounded up"
        ),
        rtol=0.0,
        atol=atol,
        runs=[Run("forward", list(inputs), eager(converted, *inputs)) for inputs in run_inputs],
    )


def fixture_quantized_mobile(fs: FixtureSet) -> None:
    add_quantized_fixture(
        fs,
        name="qmobile_xnnpack",
        model="qmobile",
        make_module=QMobileBlock,
        shape=(1, 3, 16, 16),
        seed=18,
        per_channel=True,
        description=(
            "conv2d(3,16,3,stride 2,pad 1) + hardtanh(0,6), depthwise conv2d(16,3,pad 1) + relu, conv2d(16,24,1), "
            "cat([h, h*0.5], 1)[:, :24], adaptive_avg_pool2d(1), flatten, sigmoid, linear(24,10) on NCHW [1,3,16,16]"
        ),
    )


class QDeconvNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.up = nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1)
        self.mix = nn.Conv2d(6, 3, 1)

    def forward(self, x):
        return self.mix(F.relu(self.up(x)))


def fixture_quantized_deconv(fs: FixtureSet) -> None:
    # Per-tensor weights: Debian's XNNPACK has a qs8 transposed convolution but no qc8 one.
    add_quantized_fixture(
        fs,
        name="qdeconv_xnnpack",
        model="qdeconv",
        make_module=QDeconvNet,
        shape=(1, 4, 5, 5),
        seed=23,
        per_channel=False,
        description="conv_transpose2d(4,6,3,stride 2,pad 1,output_padding 1), relu, conv2d(6,3,1) on NCHW [1,4,5,5]",
    )


class Fp16ConvNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.fc = nn.Linear(128, 10)

    def forward(self, x, y):
        # No Python scalar constants: a lifted fp32 constant would leave a non-delegated
        # f32->f16 _to_dim_order_copy outside the delegate.
        # Sigmoid and tanh have no fp16 operator in Debian's XNNPACK: they exercise the plugin's
        # fp16 path through its fp32 kernels. (ExecuTorch 1.4.1 does not delegate fp16 GELU.)
        h = F.max_pool2d(F.relu(self.conv(x)), 2, 2)
        z = self.fc(torch.flatten(h, 1))
        return z + torch.sigmoid(y) * torch.tanh(z)


def fixture_fp16(fs: FixtureSet) -> None:
    seed_everything(17)
    m = Fp16ConvNet().eval().half()
    run_inputs = [
        (torch.randn(1, 3, 8, 8).half(), torch.randn(1, 10).half()),
        (torch.randn(1, 3, 8, 8).half(), torch.randn(1, 10).half()),
    ]
    name = "fp16_xnnpack"
    et = export_program(m, run_inputs[0], xnnpack=True)
    assert_fully_delegated(name, et)
    fs.add(
        name=name,
        model="fp16_conv",
        backend="xnnpack",
        et_program=et,
        export=(
            "conv2d(3,8,3,pad 1), relu, max_pool2d(2,2), flatten, linear(128,10) -> z, z + sigmoid(y) * tanh(z) "
            "(y: second input [1,10]); "
            "model.half() and float16 inputs/outputs (x [1,3,8,8]), no Python scalar constants; torch.export + "
            "to_edge_transform_and_lower + XnnpackPartitioner + to_executorch(ExecutorchBackendConfig()); the whole "
            "graph is one fp16 XNNPACK delegate (the partitioner serializes the conv filter and bias as fp32 "
            "constants, the linear's as fp16); weights in the PTE; tolerance 1e-2 for fp16 precision "
            "(about 3 decimal digits; accumulation order may differ between XNNPACK builds and eager)"
        ),
        rtol=1e-2,
        atol=1e-2,
        runs=[Run("forward", list(inputs), eager(m, *inputs)) for inputs in run_inputs],
    )


def fixture_linear(fs: FixtureSet) -> None:
    for backend in ("portable", "xnnpack"):
        seed_everything(2)
        m = nn.Linear(8, 4).eval()
        x = torch.randn(2, 8)
        name = f"linear_{backend}"
        xnn = backend == "xnnpack"
        tag = lambda node, _n=name: _n  # noqa: E731
        et = export_program(
            m, (x,), xnnpack=xnn, tag_fn=tag, delegate_tag_fn=tag if xnn else None
        )
        if xnn:
            desc = (
                "torch.export, delegate_external_constants_pass_unlifted on the unlifted module (every get_attr tagged "
                f"'{name}') and re-export, to_edge_transform_and_lower + XnnpackPartitioner, "
                f"ExecutorchBackendConfig(external_constants=tag fn -> '{name}'); the delegate's weight and bias "
                "bytes live in the .ptd under SHA-256 keys, the PTE holds only the XNNPACK graph"
            )
        else:
            desc = (
                "torch.export + to_edge_transform_and_lower (no partitioner), "
                f"ExecutorchBackendConfig(external_constants=tag fn -> '{name}'), i.e. external_constants with the "
                "file named after the fixture; weight and bias are FQN-keyed tensors in the .ptd"
            )
        fs.add(
            name=name,
            model="linear",
            backend=backend,
            et_program=et,
            data_names={name: f"{name}.ptd"},
            export=desc,
            rtol=1e-5,
            atol=1e-6,
            runs=[Run("forward", [x], eager(m, x))],
        )


def fixture_mlp(fs: FixtureSet) -> None:
    for backend in ("portable", "xnnpack"):
        seed_everything(3)
        m = MLP().eval()
        x = torch.randn(3, 16)
        x2 = torch.randn(3, 16)
        et = export_program(m, (x,), xnnpack=backend == "xnnpack")
        fs.add(
            name=f"mlp_{backend}",
            model="mlp",
            backend=backend,
            et_program=et,
            export=(
                "Linear(16,32)+ReLU, Linear(32,32)+GELU(erf), Linear(32,16)+Sigmoid, Linear(16,4); torch.export + "
                "to_edge_transform_and_lower"
                + (" + XnnpackPartitioner" if backend == "xnnpack" else " (no partitioner)")
                + " + to_executorch(ExecutorchBackendConfig()); weights in the PTE"
            ),
            rtol=1e-5,
            atol=1e-5,
            runs=[Run("forward", [x], eager(m, x)), Run("forward", [x2], eager(m, x2))],
        )


class CausalLM(nn.Module):
    """A one-layer causal language model over F.scaled_dot_product_attention(is_causal=True)."""

    def __init__(self, vocab: int = 32, dim: int = 16, heads: int = 2):
        super().__init__()
        self.heads = heads
        self.embed = nn.Embedding(vocab, dim)
        self.norm = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.ffn = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))
        self.head = nn.Linear(dim, vocab)

    def forward(self, tokens):
        x = self.embed(tokens)
        b, t, d = x.shape
        q, k, v = self.qkv(self.norm(x)).split(d, dim=-1)
        shape = (b, t, self.heads, d // self.heads)
        q, k, v = (z.reshape(shape).transpose(1, 2) for z in (q, k, v))
        attn = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.proj(attn.transpose(1, 2).reshape(b, t, d))
        x = x + self.ffn(self.norm(x))
        return self.head(x)


def fixture_attention(fs: FixtureSet) -> None:
    """nn.TransformerEncoder (GELU, LayerNorm, multi-head attention with a key padding mask) and a
    causal SDPA language model: the attention decompositions call aten::any.dims outside any
    delegate, which the portable plugin once lacked."""
    for backend in ("portable", "xnnpack"):
        seed_everything(11)
        layer = nn.TransformerEncoderLayer(d_model=16, nhead=2, dim_feedforward=32, dropout=0.0, activation="gelu",
                                           batch_first=True)
        m = nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False).eval()
        x = torch.randn(2, 5, 16)
        mask = torch.tensor([[False, False, False, True, True], [False, False, False, False, False]])
        x2 = torch.randn(2, 5, 16)

        class Encoder(nn.Module):
            def __init__(self, inner):
                super().__init__()
                self.inner = inner

            def forward(self, src, key_padding_mask):
                return self.inner(src, src_key_padding_mask=key_padding_mask)

        wrapped = Encoder(m).eval()
        et = export_program(wrapped, (x, mask), xnnpack=backend == "xnnpack")
        fs.add(
            name=f"transformer_{backend}",
            model="transformer",
            backend=backend,
            et_program=et,
            export=(
                "nn.TransformerEncoder(2 x TransformerEncoderLayer(d_model=16, nhead=2, dim_feedforward=32, "
                "dropout=0, gelu, batch_first)) over [2, 5, 16] with a bool key padding mask; torch.export + "
                "to_edge_transform_and_lower"
                + (" + XnnpackPartitioner" if backend == "xnnpack" else " (no partitioner)")
                + " + to_executorch; weights in the PTE"
            ),
            rtol=1e-4,
            atol=1e-4,
            runs=[Run("forward", [x, mask], eager(wrapped, x, mask)), Run("forward", [x2, mask], eager(wrapped, x2, mask))],
        )
    for backend in ("portable", "xnnpack"):
        seed_everything(12)
        lm = CausalLM().eval()
        tokens = torch.randint(0, 32, (1, 6))
        tokens2 = torch.randint(0, 32, (1, 6))
        et = export_program(lm, (tokens,), xnnpack=backend == "xnnpack")
        fs.add(
            name=f"causal_lm_{backend}",
            model="causal_lm",
            backend=backend,
            et_program=et,
            export=(
                "embedding, LayerNorm, fused QKV Linear, F.scaled_dot_product_attention(is_causal=True) over 2 heads, "
                "GELU feed-forward, vocab head; tokens int64 [1, 6]; torch.export + to_edge_transform_and_lower"
                + (" + XnnpackPartitioner" if backend == "xnnpack" else " (no partitioner)")
                + " + to_executorch; weights in the PTE"
            ),
            rtol=1e-4,
            atol=1e-4,
            runs=[Run("forward", [tokens], eager(lm, tokens)), Run("forward", [tokens2], eager(lm, tokens2))],
        )


class OpModule(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, *args):
        return self.fn(*args)


def fixture_ops(fs: FixtureSet) -> None:
    """Single-operator conformance programs (portable, no delegate): each is one torch call that
    lowers to the named ATen operator, run by the ExecuTorch runtime on two inputs."""
    seed_everything(21)
    f = lambda *shape: torch.randn(*shape)  # noqa: E731
    r = lambda *shape: (lambda: (torch.randn(*shape),))  # noqa: E731
    cases = [
        # name, function, a maker of the inputs (called once per run: static shapes, new values)
        ("any_dim", lambda x: torch.any(x > 0.5, dim=-1, keepdim=True), r(3, 4)),
        ("any_dims", lambda x: torch.any(x > 0.5, dim=(0, 2)), r(2, 3, 4)),
        ("atan2", lambda y, x: torch.atan2(y, x), lambda: (f(3, 4), f(4))),
        ("trig", lambda x: torch.tan(x) + torch.asinh(x) + torch.atan(x) + torch.sinh(x), r(2, 3)),
        ("logs", lambda x: torch.log2(x.abs() + 1) + torch.log10(x.abs() + 1), r(3, 2)),
        ("logit", lambda x: torch.logit(torch.sigmoid(x), eps=1e-3), r(2, 3)),
        ("bitwise_xor", lambda a, b: torch.bitwise_xor(a, b) ^ 5,
         lambda: (torch.randint(-50, 50, (2, 3)), torch.randint(-50, 50, (3,)))),
        ("fmod_scalar", lambda x: torch.fmod(x * 5, 1.5), r(2, 3)),
        ("var", lambda x: torch.var(x, dim=1, correction=0), r(3, 4)),
        ("roll", lambda x: torch.roll(x, shifts=(1, -2), dims=(0, 1)), r(3, 4)),
        ("topk", lambda x: torch.topk(x, 2, dim=-1), r(3, 5)),
        ("reflection_pad2d", lambda x: torch.nn.functional.pad(x, (1, 2, 2, 1), mode="reflect"), r(1, 2, 4, 4)),
        ("replication_pad1d", lambda x: torch.nn.functional.pad(x, (2, 1), mode="replicate"), r(1, 2, 5)),
        ("grid_sample", lambda x, g: torch.nn.functional.grid_sample(x, g, mode="bilinear", padding_mode="border",
                                                                      align_corners=False),
         lambda: (f(1, 2, 4, 5), torch.rand(1, 3, 3, 2) * 2.4 - 1.2)),
        ("upsample_aa", lambda x: torch.nn.functional.interpolate(x, size=(3, 2), mode="bilinear", antialias=True),
         r(1, 2, 7, 5)),
        ("upsample_nearest", lambda x: torch.nn.functional.interpolate(x, size=(5, 7), mode="nearest"), r(1, 2, 3, 4)),
        ("scatter_add", lambda x, i, s: x.scatter_add(1, i, s), lambda: (f(2, 4), torch.randint(0, 4, (2, 3)), f(2, 3))),
        ("unfold", lambda x: x.unfold(1, 3, 2), r(2, 7)),
        ("diagonal", lambda x: torch.diagonal(x, offset=1, dim1=0, dim2=2) * 2, r(3, 2, 4)),
        ("narrow", lambda x: x.narrow(1, 1, 2) * 2, r(2, 5)),
        ("cdist", lambda a, b: torch.cdist(a, b, p=1.5), lambda: (f(1, 3, 4), f(1, 5, 4))),
        ("pdist", lambda x: torch.nn.functional.pdist(x, p=2), r(4, 3)),
    ]
    add_single_op_programs(fs, "op", [(*case, ()) for case in cases])


def add_single_op_programs(fs: FixtureSet, prefix: str, cases) -> None:
    """One portable program per (name, fn, make_inputs, preserve_ops) case: `fn` over the inputs
    `make_inputs()` returns (called twice: two runs, checked against eager at 1e-5), exported with
    those operators kept whole (EdgeCompileConfig.preserve_ops) when given."""
    for name, fn, make, keep in cases:
        m = OpModule(fn).eval()
        in0, in1 = make(), make()
        et = export_program(m, in0, xnnpack=False, preserve_ops=keep)
        fs.add(
            name=f"{prefix}_{name}",
            model=f"{prefix}_{name}",
            backend="portable",
            et_program=et,
            export=("one torch call, torch.export + to_edge_transform_and_lower (no partitioner) + to_executorch"
                    + (f"; EdgeCompileConfig(preserve_ops={[str(op) for op in keep]})" if keep else "")),
            rtol=1e-5,
            atol=1e-5,
            runs=[Run("forward", list(in0), eager(m, *in0)), Run("forward", list(in1), eager(m, *in1))],
        )


def fixture_ops_half(fs: FixtureSet) -> None:
    """Single-operator conformance programs in float16 and bfloat16 (portable, no delegate). float16
    programs take and return float16 tensors; bfloat16 ones (numpy has no bfloat16) take float32,
    convert to bfloat16 inside, run the operator and convert the result back to float32, so they
    also cover _to_copy to and from bfloat16."""
    seed_everything(23)
    F_ = torch.nn.functional
    f = lambda *shape: torch.randn(*shape)  # noqa: E731
    pos = lambda *shape: torch.rand(*shape) + 0.5  # noqa: E731
    conv_w, conv_b = torch.randn(4, 3, 3, 3) * 0.3, torch.randn(4) * 0.1
    lin_w, lin_b = torch.randn(5, 8) * 0.3, torch.randn(5) * 0.1
    ln_w, ln_b = torch.rand(8) + 0.5, torch.randn(8) * 0.1
    table = torch.randn(10, 6)

    def cast(t, dtype):
        return t.to(dtype) if t.is_floating_point() else t

    # name, function of (inputs..., dtype), input makers, tolerance multiplier (ulps of the dtype at 1)
    cases = [
        ("add", lambda a, b, dt: a + b * 2, lambda: (f(3, 4), f(4)), 1),
        ("sub_mul_div", lambda a, b, dt: (a - b) * b / (b.abs() + 1), lambda: (f(2, 5), f(2, 5)), 2),
        ("unary", lambda x, dt: torch.exp(x) + torch.log(x.abs() + 1) + torch.sqrt(x.abs()) + torch.tanh(x),
         lambda: (f(3, 4),), 4),
        ("activations", lambda x, dt: torch.sigmoid(x) + F_.relu(x) + F_.gelu(x) + F_.silu(x) + F_.hardtanh(x),
         lambda: (f(3, 5),), 4),
        ("softmax", lambda x, dt: torch.softmax(x, -1), lambda: (f(3, 7),), 2),
        ("log_softmax", lambda x, dt: torch.log_softmax(x, 1), lambda: (f(2, 6, 2),), 2),
        ("sum_mean", lambda x, dt: (x.sum(1), x.mean(-1, keepdim=True)), lambda: (f(3, 4, 5),), 4),
        ("amax_argmax", lambda x, dt: (x.amax(0), x.argmax(-1)), lambda: (f(4, 6),), 0),
        ("cumsum", lambda x, dt: torch.cumsum(x, 1), lambda: (f(2, 6),), 4),
        ("layer_norm", lambda x, dt: F_.layer_norm(x, (8,), ln_w.to(dt), ln_b.to(dt)), lambda: (f(3, 8),), 8),
        ("linear", lambda x, dt: F_.linear(x, lin_w.to(dt), lin_b.to(dt)), lambda: (f(3, 8),), 8),
        ("bmm", lambda a, b, dt: torch.bmm(a, b), lambda: (f(2, 3, 4), f(2, 4, 5)), 8),
        ("conv2d", lambda x, dt: F_.conv2d(x, conv_w.to(dt), conv_b.to(dt), padding=1), lambda: (f(1, 3, 5, 5),), 16),
        ("pools", lambda x, dt: (F_.max_pool2d(x, 2), F_.avg_pool2d(x, 2)), lambda: (f(1, 2, 4, 6),), 2),
        ("movement", lambda a, b, dt: torch.cat([a.permute(1, 0), b[:, 1:3]], 1).transpose(0, 1).contiguous(),
         lambda: (f(2, 3), f(3, 4)), 0),
        ("index", lambda x, i, dt: (torch.index_select(x, 0, i), F_.embedding(i, table.to(dt))),
         lambda: (f(5, 3), torch.tensor([4, 0, 2])), 0),
        ("where_clamp", lambda x, y, dt: torch.where(x > y, x, y).clamp(-0.5, 0.7), lambda: (f(3, 4), f(4)), 0),
        ("compare", lambda x, y, dt: (x < y, x == x.round()), lambda: (f(3, 4), f(3, 4)), 0),
        ("upsample", lambda x, dt: (F_.interpolate(x, scale_factor=2, mode="nearest"),
                                    F_.interpolate(x, size=(5, 3), mode="bilinear", align_corners=False)),
         lambda: (f(1, 2, 3, 2),), 4),
        ("pow_rsqrt", lambda x, dt: torch.pow(x, 2.5) + torch.rsqrt(x), lambda: (pos(3, 4),), 4),
        ("var", lambda x, dt: torch.var(x, dim=-1), lambda: (f(3, 6),), 8),
        ("pad", lambda x, dt: F_.pad(x, (1, 2), value=0.5), lambda: (f(2, 3),), 0),
    ]
    for dtype, tag, ulp in ((torch.float16, "f16", 2.0 ** -10), (torch.bfloat16, "bf16", 2.0 ** -7)):
        for name, fn, make, ulps in cases:
            if dtype == torch.float16:
                m = OpModule(lambda *xs, fn=fn: fn(*xs, torch.float16)).eval()
                prep = lambda xs: tuple(cast(x, torch.float16) for x in xs)  # noqa: E731
            else:
                def bf(*xs, fn=fn):
                    out = fn(*[cast(x, torch.bfloat16) for x in xs], torch.bfloat16)
                    outs = out if isinstance(out, tuple) else (out,)
                    res = tuple(o.float() if o.is_floating_point() else o for o in outs)
                    return res if isinstance(out, tuple) else res[0]
                m = OpModule(bf).eval()
                prep = lambda xs: xs  # noqa: E731
            in0, in1 = prep(make()), prep(make())
            et = export_program(m, in0, xnnpack=False)
            # Tolerance: `ulps` units in the last place at 1 (relative and absolute); 0 means exact.
            tol = ulps * ulp
            fs.add(
                name=f"op_{tag}_{name}",
                model=f"op_{tag}_{name}",
                backend="portable",
                et_program=et,
                export=(f"one torch call in {dtype} "
                        + ("(float16 inputs and outputs)" if dtype == torch.float16 else
                           "(float32 inputs converted to bfloat16 inside, results converted back)")
                        + ", torch.export + to_edge_transform_and_lower (no partitioner) + to_executorch; tolerance "
                        f"{ulps} ulp at 1 ({tol:g}): kernels may round intermediate steps differently"),
                rtol=tol,
                atol=tol,
                runs=[Run("forward", list(inp), None) for inp in (in0, in1)],
            )


def fixture_conformance(fs: FixtureSet) -> None:
    """Conformance programs for the portable operators no other fixture exercises: one torch call
    per program (several programs per operator where dtypes, broadcasting or dim order matter),
    run by the ExecuTorch runtime on two inputs. Integer and bool programs compare exactly."""
    seed_everything(29)
    F_ = torch.nn.functional
    f = lambda *shape: torch.randn(*shape)  # noqa: E731
    unit = lambda *shape: torch.rand(*shape) * 1.8 - 0.9  # noqa: E731  (-0.9, 0.9)
    ints = lambda lo, hi, *shape, dtype=torch.int32: torch.randint(lo, hi, shape, dtype=dtype)  # noqa: E731
    mask = lambda *shape: torch.rand(*shape) > 0.5  # noqa: E731
    cl = lambda t: t.contiguous(memory_format=torch.channels_last)  # noqa: E731
    gn_w, gn_b = torch.rand(6) + 0.5, torch.randn(6) * 0.1
    cases = [
        # arithmetic: promotion, broadcasting, Scalars, rounding modes
        ("add_int_broadcast", lambda a, b: a + b, lambda: (ints(-50, 50, 3, 1), ints(-50, 50, 4, dtype=torch.int64))),
        ("add_scalar", lambda x: x + 2.5, lambda: (f(2, 3),)),
        ("add_channels_last", lambda a, b: a + b, lambda: (cl(f(1, 3, 2, 4)), cl(f(1, 3, 2, 4)))),
        ("sub_alpha", lambda a, b: torch.sub(a, b, alpha=3), lambda: (ints(-9, 9, 2, 3), ints(-9, 9, 3))),
        ("rsub", lambda x: torch.rsub(x, 1.5), lambda: (f(2, 3),)),
        ("mul_bool_int", lambda m, b: m * b, lambda: (mask(2, 3), ints(-9, 9, 2, 3))),
        ("div_int_true", lambda a, b: a / b, lambda: (ints(-20, 20, 2, 4), ints(1, 7, 4))),
        ("div_trunc", lambda a, b: torch.div(a, b, rounding_mode="trunc"), lambda: (f(2, 4) * 5, f(2, 4))),
        ("div_floor_int", lambda a, b: torch.div(a, b, rounding_mode="floor"), lambda: (ints(-20, 20, 2, 4), ints(1, 7, 2, 4))),
        ("div_scalar_mode", lambda a: torch.div(a, 3, rounding_mode="floor"), lambda: (ints(-20, 20, 5),)),
        ("floor_divide", lambda a, b: torch.floor_divide(a, b), lambda: (f(3, 3) * 4, f(3) + 3)),
        # (not remainder on int32: ExecuTorch 1.4.1 returns C's sign there, -10 % 4 = -2, unlike PyTorch)
        ("remainder_float", lambda a, b: torch.remainder(a, b), lambda: (f(2, 4) * 5, f(4) + 3)),
        ("remainder_scalar", lambda a: torch.remainder(a, 1.5), lambda: (f(2, 4) * 3,)),
        ("fmod_tensor", lambda a, b: torch.fmod(a, b), lambda: (f(2, 4) * 5, f(2, 4) + 3)),
        ("pow_tensor", lambda a, b: torch.pow(a, b), lambda: (torch.rand(2, 3) + 0.5, f(2, 3))),
        ("pow_scalar_base", lambda x: torch.pow(2.0, x), lambda: (f(2, 3),)),
        ("maximum_minimum", lambda a, b: (torch.maximum(a, b), torch.minimum(a, b)), lambda: (f(2, 3), f(3))),
        ("bitwise_and_or", lambda a, b: (a & b, a | b, a & 6), lambda: (ints(0, 64, 2, 4), ints(0, 64, 4))),
        ("bitwise_not", lambda a, m: (~a, ~m), lambda: (ints(-9, 9, 5), mask(5))),
        ("logical_or_xor", lambda a, b: (torch.logical_or(a, b), torch.logical_xor(a, b)), lambda: (ints(0, 3, 6), mask(6))),
        ("compare_mixed", lambda a, b: (a >= b, a <= b, a != b, a >= 0.5), lambda: (ints(-3, 3, 2, 4), f(4))),
        ("clamp_tensor", lambda x, lo, hi: torch.clamp(x, min=lo, max=hi), lambda: (f(3, 4), f(4) - 0.5, f(3, 1) + 0.5)),
        ("where_int", lambda m, a, b: torch.where(m, a, b), lambda: (mask(2, 3), ints(-9, 9, 2, 3), ints(-9, 9, 3))),
        ("masked_fill", lambda x, m: x.masked_fill(m, -1.5), lambda: (f(2, 4), mask(4))),
        ("masked_scatter", lambda x, m, v: x.masked_scatter(m, v), lambda: (f(2, 3), mask(2, 3), f(6))),
        # unary
        ("inverse_trig", lambda x: torch.acos(x) + torch.asin(x) + torch.atanh(x), lambda: (unit(3, 4),)),
        ("acosh_cosh", lambda x: torch.acosh(x.abs() + 1) + torch.cosh(x), lambda: (f(3, 4),)),
        ("erf_expm1_log1p", lambda x: torch.erf(x) + torch.expm1(x) + torch.log1p(x.abs()), lambda: (f(3, 4),)),
        ("reciprocal_int", lambda x: torch.reciprocal(x), lambda: (ints(1, 9, 5),)),
        ("rounding", lambda x: (torch.ceil(x), torch.floor(x), torch.trunc(x)), lambda: (f(3, 4) * 3,)),
        ("sign", lambda x, i: (torch.sign(x), torch.sign(i)), lambda: (f(6), ints(-3, 3, 6))),
        ("isinf_isnan", lambda x: (torch.isinf(x / (x - x.round())), torch.isnan(torch.log(x))), lambda: (f(6),)),
        ("abs_neg_int", lambda x: (torch.abs(x), -x), lambda: (ints(-100, 100, 2, 3, dtype=torch.int64),)),
        # activations
        ("elu_leaky", lambda x: (F_.elu(x, alpha=0.7), F_.leaky_relu(x, 0.1)), lambda: (f(3, 4),)),
        ("hard_activations", lambda x: (F_.hardsigmoid(x), F_.hardswish(x)), lambda: (f(3, 4) * 4,)),
        ("softplus", lambda x: F_.softplus(x, beta=2.0, threshold=3.0), lambda: (f(3, 4) * 3,)),
        ("glu", lambda x: F_.glu(x, dim=1), lambda: (f(2, 6),)),
        ("relu_channels_last", lambda x: F_.relu(x), lambda: (cl(f(1, 3, 2, 2)),)),
        # reductions
        ("amin_argmin", lambda x: (torch.amin(x, dim=(0, 2)), torch.argmin(x, dim=1)), lambda: (f(2, 3, 4),)),
        ("all_any", lambda m: (torch.all(m), torch.any(m)), lambda: (mask(3, 4),)),
        ("prod", lambda x: (torch.prod(x), torch.prod(x, dim=1)), lambda: (f(2, 3) * 0.5 + 1,)),
        ("prod_int", lambda x: torch.prod(x, dim=0), lambda: (ints(-4, 4, 3, 4),)),
        ("max_min_dim", lambda x: (*torch.max(x, dim=1), *torch.min(x, dim=0, keepdim=True)), lambda: (f(3, 4),)),
        ("max_min_all", lambda x: (torch.max(x), torch.min(x)), lambda: (ints(-50, 50, 3, 4),)),
        ("sum_int", lambda x: (x.sum(), x.sum(dim=1)), lambda: (ints(-50, 50, 3, 4),)),
        ("mean_dtype", lambda x: torch.mean(x, dtype=torch.float64), lambda: (f(3, 4),)),
        ("cumsum_int", lambda x: torch.cumsum(x, dim=0), lambda: (ints(-9, 9, 4, 3),)),
        # creation
        ("arange", lambda x: x + torch.arange(1, 10, 2), lambda: (f(5),)),
        ("ones_zeros_full", lambda x: (x + torch.ones(3), torch.zeros(2, 3, dtype=torch.int32), torch.full((2,), 7.5)),
         lambda: (f(3),)),
        ("like", lambda x: (torch.ones_like(x), torch.zeros_like(x), torch.full_like(x, -2)), lambda: (f(2, 3),)),
        # shape and data movement
        ("flip", lambda x: torch.flip(x, dims=(0, 2)), lambda: (f(2, 3, 4),)),
        ("roll_flat", lambda x: torch.roll(x, 2), lambda: (f(2, 3),)),
        ("repeat", lambda x: x.repeat(2, 1, 3), lambda: (f(2, 3),)),
        ("repeat_interleave", lambda x: torch.repeat_interleave(x, 2, dim=0), lambda: (f(3, 2),)),
        ("pixel_shuffle", lambda x: (F_.pixel_shuffle(x, 2), F_.pixel_unshuffle(x, 2)), lambda: (f(1, 4, 2, 2),)),
        ("split_unbind", lambda x: (*torch.split(x, [1, 2], dim=1), *torch.unbind(x, dim=0)), lambda: (f(2, 3),)),
        ("stack", lambda a, b: torch.stack([a, b], dim=1), lambda: (f(2, 3), f(2, 3))),
        ("squeeze_t", lambda x: (x.squeeze(1), x.squeeze(1).t()), lambda: (f(3, 1, 4),)),
        ("transpose_int", lambda x: x.transpose(0, 2) * 2, lambda: (ints(-9, 9, 2, 3, 4),)),
        ("narrow_copy", lambda x: x.narrow(0, 1, 2) + 1, lambda: (f(4, 3),)),
        ("tril", lambda x: (torch.tril(x), torch.tril(x, diagonal=-1)), lambda: (f(3, 4),)),
        ("select_slice_scatter", lambda x, r, c: (torch.select_scatter(x, r, 0, 1), torch.slice_scatter(x, c, 1, 0, 4, 2)),
         lambda: (f(3, 4), f(4), f(3, 2))),
        ("scatter_src", lambda x, i, s: x.scatter(1, i, s), lambda: (f(2, 4), torch.randint(0, 4, (2, 3)), f(2, 3))),
        ("index_put", lambda x, i, v: torch.index_put(x, (i,), v, accumulate=True), lambda: (f(5, 2), torch.tensor([0, 3, 0]), f(3, 2))),
        ("to_int", lambda x: (x * 10).to(torch.int32), lambda: (f(2, 3),)),
        ("clone_channels_last", lambda x: x.clone(memory_format=torch.contiguous_format) * 2, lambda: (cl(f(1, 2, 2, 3)),)),
        ("pads_1d", lambda x: (F_.pad(x, (1, 2), mode="reflect"), F_.pad(x, (2, 0), mode="replicate")),
         lambda: (f(1, 2, 4),)),
        ("pads_2d", lambda x: (F_.pad(x, (1, 1, 2, 0), mode="reflect"), F_.pad(x, (2, 0, 1, 1), mode="replicate")),
         lambda: (f(1, 2, 3, 4),)),
        ("pads_3d", lambda x: (F_.pad(x, (1, 0, 1, 0, 1, 1), mode="reflect"), F_.pad(x, (1, 1, 0, 1, 1, 0), mode="replicate")),
         lambda: (f(1, 1, 2, 3, 3),)),
        # normalization, pooling, linear algebra
        ("group_norm", lambda x: F_.group_norm(x, 3, gn_w, gn_b), lambda: (f(2, 6, 3),)),
        ("batch_norm_train", lambda x: F_.batch_norm(x, None, None, training=True), lambda: (f(4, 3, 2),)),
        ("adaptive_avg_pool", lambda x: F_.adaptive_avg_pool2d(x, (2, 3)), lambda: (f(1, 2, 5, 7),)),
        ("adaptive_avg_pool_cl", lambda x: F_.adaptive_avg_pool2d(x, (2, 2)), lambda: (cl(f(1, 3, 4, 5)),)),
        ("max_pool_cl", lambda x: F_.max_pool2d(x, 2, stride=1), lambda: (cl(f(1, 3, 3, 4)),)),
        ("baddbmm", lambda b, x, y: torch.baddbmm(b, x, y, beta=0.5, alpha=2), lambda: (f(2, 3, 1), f(2, 3, 4), f(2, 4, 5))),
        ("mm_int", lambda a, b: a @ b, lambda: (ints(-5, 5, 3, 4), ints(-5, 5, 4, 2))),
    ]
    # Operators the default decomposition splits, kept whole with EdgeCompileConfig.preserve_ops
    # (ExecuTorch's portable library has kernels for them, and other export flows emit them).
    A = torch.ops.aten
    preserved = [
        ("p_glu", lambda x: F_.glu(x, 1), lambda: (f(2, 6),), [A.glu.default]),
        ("p_pixel_shuffle", lambda x: (F_.pixel_shuffle(x, 2), F_.pixel_unshuffle(x, 2)), lambda: (f(1, 4, 2, 2),),
         [A.pixel_shuffle.default, A.pixel_unshuffle.default]),
        ("p_stack", lambda a, b: torch.stack([a, b], 1), lambda: (f(2, 3), ints(-5, 5, 2, 3)), [A.stack.default]),
        ("p_tril", lambda x: torch.tril(x, 1), lambda: (f(3, 4),), [A.tril.default]),
        ("p_linear", lambda x, w, b: F_.linear(x, w, b), lambda: (f(3, 4), f(5, 4), f(5)), [A.linear.default]),
        ("p_reflection_pad", lambda x: (A.reflection_pad1d(x[0], [1, 2]), A.reflection_pad2d(x, [1, 1, 2, 0]),
                                        A.reflection_pad3d(x.unsqueeze(0), [1, 0, 1, 1, 1, 0])),
         lambda: (f(2, 3, 4),), [A.reflection_pad1d.default, A.reflection_pad2d.default, A.reflection_pad3d.default]),
        ("p_replication_pad", lambda x: (A.replication_pad1d(x[0], [2, 1]), A.replication_pad2d(x, [0, 2, 1, 1]),
                                         A.replication_pad3d(x.unsqueeze(0), [1, 1, 0, 2, 1, 0])),
         lambda: (f(2, 3, 4),), [A.replication_pad1d.default, A.replication_pad2d.default, A.replication_pad3d.default]),
        ("p_creation", lambda x: (x + torch.ones(3), torch.zeros(2, 3, dtype=torch.int64), x + A.arange.default(3)),
         lambda: (f(3),), [A.ones.default, A.zeros.default, A.arange.default]),
        ("p_fill", lambda x, v: (torch.fill(x, 2.5), torch.fill(x, v)), lambda: (f(2, 3), f(())), [A.fill.Scalar, A.fill.Tensor]),
        ("p_var", lambda x: (A.var.dim(x, [1], True, False), *A.var_mean.correction(x, [0], correction=0)),
         lambda: (f(3, 5),), [A.var.dim, A.var_mean.correction]),
        ("p_logit", lambda x: torch.logit(torch.sigmoid(x), 1e-3), lambda: (f(3, 4),), [A.logit.default]),
        ("p_scalar_ops", lambda x, i: (A.add.Scalar(x, 2.5), A.sub.Scalar(x, 1), A.div.Scalar(x, 4), A.rsub.Scalar(x, 2),
                                       A.div.Scalar_mode(i, 3, rounding_mode="floor"), A.bitwise_or.Scalar(i, 5)),
         lambda: (f(2, 3), ints(-20, 20, 4)),
         [A.add.Scalar, A.sub.Scalar, A.div.Scalar, A.rsub.Scalar, A.div.Scalar_mode, A.bitwise_or.Scalar]),
        # (not _conj_physical: ExecuTorch's kernel takes complex dtypes only)
        ("p_copies", lambda x, y: (A.copy.default(x, y), A.detach_copy.default(x) * 2, A.lift_fresh_copy.default(y) + 1),
         lambda: (f(2, 3), f(3)), [A.copy.default, A.detach_copy.default, A.lift_fresh_copy.default]),
        ("p_no_dim_order", lambda x: (x.clone() * 2, (x * 10).to(torch.int32)), lambda: (f(2, 3),), ["skip_dim_order"]),
        ("p_masked_fill", lambda x, m: x.masked_fill(m, -1.5), lambda: (f(2, 4), mask(4)), [A.masked_fill.Scalar]),
        ("p_roll", lambda x: torch.roll(x, (1, -2), (0, 1)), lambda: (f(3, 4),), [A.roll.default]),
        ("p_floor_divide", lambda a, b: torch.floor_divide(a, b), lambda: (ints(-20, 20, 2, 4), ints(1, 7, 4)),
         [A.floor_divide.default]),
        ("p_views", lambda x: (x.squeeze(1) * 1, x.squeeze(1).t() * 1, x.transpose(0, 2) * 1, *torch.unbind(x, 0),
                               *torch.split(x, [3, 1], 2), torch.narrow_copy(x, 2, 1, 2)),
         lambda: (f(2, 1, 4),), [A.squeeze.dim, A.t.default, A.transpose.int, A.unbind.int, A.split.Tensor,
                                 A.narrow_copy.default]),
        ("p_select_scatter", lambda x, r: torch.select_scatter(x, r, 1, 2), lambda: (f(3, 4), f(3)), [A.select_scatter.default]),
        ("p_as_strided", lambda x: torch.as_strided(x, (2, 2), (1, 3), 1) * 1, lambda: (f(3, 4),), [A.as_strided.default]),
        # (last, so the cases above draw the same random values as before it was added)
        ("view_as_real", lambda x: torch.view_as_real(x) * 2, lambda: (torch.randn(2, 3, dtype=torch.complex64),), []),
    ]
    add_single_op_programs(fs, "cf", [(*case, ()) for case in cases] + preserved)


class KVCacheAttention(nn.Module):
    """One attention step the way ExecuTorch's llama export writes it with --use_kv_cache
    --use_sdpa_with_kv_cache: llama::update_cache writes the new keys and values into
    [batch, max_seq, kv_heads, head_dim] cache buffers at input_pos, then llama::custom_sdpa
    attends over the caches (causal, grouped-query: 4 query heads over 2 key/value heads)."""

    def __init__(self, max_seq=16, heads=4, kv_heads=2, head_dim=8, causal=True):
        super().__init__()
        self.causal, self.max_seq = causal, max_seq
        self.register_buffer("k_cache", torch.zeros(1, max_seq, kv_heads, head_dim))
        self.register_buffer("v_cache", torch.zeros(1, max_seq, kv_heads, head_dim))

    def attend(self, q, k, v, input_pos, mask):
        pos = input_pos[0].item()
        torch._check_is_size(pos)
        torch._check(pos < self.max_seq)
        torch.ops.llama.update_cache(k, self.k_cache, pos)
        torch.ops.llama.update_cache(v, self.v_cache, pos)
        return torch.ops.llama.custom_sdpa(q, self.k_cache, self.v_cache, pos, mask, 0.0, self.causal)

    def forward(self, q, k, v, input_pos):
        return self.attend(q, k, v, input_pos, None)


class KVCacheAttentionMasked(KVCacheAttention):
    """KVCacheAttention, non-causal, with an additive float mask [S, max_seq] as a fifth input."""

    def __init__(self):
        super().__init__(causal=False)

    def forward(self, q, k, v, input_pos, mask):
        return self.attend(q, k, v, input_pos, mask)


def fixture_llm_ops(fs: FixtureSet) -> None:
    """ExecuTorch's llama:: custom operators (extension/llm/custom_ops) as its llama export emits
    them: KV-cache updates and SDPA over the caches, run as a prefill then decode steps on one
    loaded method, so the caches carry over as in generation."""
    from executorch.extension.llm.custom_ops import custom_ops  # noqa: F401  (llama:: ops and their kernels)

    seed_everything(37)
    heads, kv_heads, dim = 4, 2, 8
    seq = torch.export.Dim("seq", min=1, max=15)

    def step(start, n, mask_rows=None):
        inputs = [torch.randn(1, n, heads, dim), torch.randn(1, n, kv_heads, dim), torch.randn(1, n, kv_heads, dim),
                  torch.tensor([start])]
        if mask_rows is not None:
            inputs.append(mask_rows)
        return inputs

    # A causal prefill of 5 tokens, then three single-token decode steps, then a chunk of 3.
    causal_steps = [step(0, 5), step(5, 1), step(6, 1), step(7, 1), step(8, 3)]
    # Non-causal with an additive mask over the whole cache width (16): -inf beyond each row's
    # position, and a penalty on the first key.
    def mask_for(start, n):
        m = torch.full((n, 16), float("-inf"))
        for r in range(n):
            m[r, : start + r + 1] = 0.0
        m[:, 0] = -1.5
        return m

    masked_steps = [step(0, 4, mask_for(0, 4)), step(4, 1, mask_for(4, 1)), step(5, 2, mask_for(5, 2))]
    cases = [
        ("llm_kv_sdpa", KVCacheAttention(), causal_steps, ({1: seq}, {1: seq}, {1: seq}, None)),
        ("llm_kv_sdpa_mask", KVCacheAttentionMasked(), masked_steps,
         ({1: seq}, {1: seq}, {1: seq}, None, {0: seq})),
    ]
    for name, m, steps, dynamic in cases:
        m.eval()
        et = export_program(m, tuple(steps[0]), xnnpack=False, dynamic_shapes=dynamic)
        fs.add(
            name=name,
            model=name,
            backend="portable",
            et_program=et,
            export=("llama::update_cache (K and V) then llama::custom_sdpa over [1, 16, 2, 8] cache buffers with 4 "
                    "query heads, " + ("causal" if m.causal else "non-causal with an additive float mask [S, 16]")
                    + "; dynamic sequence length 1..15; torch.export + to_edge_transform_and_lower (no "
                    "partitioner) + to_executorch; runs are consecutive steps on one loaded method (the caches "
                    "carry over): prefill, then decode"),
            rtol=1e-5,
            atol=1e-6,
            runs=[Run("forward", inputs, None) for inputs in steps],
        )


def fixture_llama_export(fs: FixtureSet, only_variants: Sequence[str] = ()) -> None:
    """A tiny Llama (2 layers, dim 64, 4 query heads over 2 key/value heads, vocab 128, context 32)
    written by ExecuTorch's own llama export (`python -m executorch.examples.models.llama.export_llama
    --use_kv_cache --use_sdpa_with_kv_cache`), with seeded random weights: llama::update_cache and
    llama::custom_sdpa over KV-cache buffers, a dynamic-length token input the program does not
    memory-plan, and the metadata methods ExecuTorch's text runner reads. Portable, with -X
    (XNNPACK delegates the linears), and with --quantize_kv_cache (int8 caches). Runs: a prefill of 5 tokens, decode steps and a chunk of 2, on
    one loaded method."""
    import subprocess
    import tempfile

    from executorch.examples.models.llama.llama_transformer import construct_transformer
    from executorch.examples.models.llama.model_args import ModelArgs
    from executorch.extension.llm.custom_ops import custom_ops  # noqa: F401  (the llama:: kernels)
    import executorch.kernels.quantized  # noqa: F401  (per-token quantization for the int8 KV cache)

    params = {"dim": 64, "n_layers": 2, "n_heads": 4, "n_kv_heads": 2, "vocab_size": 128, "multiple_of": 32,
              "norm_eps": 1e-5}
    torch.manual_seed(43)
    model = construct_transformer(ModelArgs(max_seq_len=32, max_context_len=32, **params))
    state = model.state_dict()
    for key in state:  # norms away from 1, so they matter
        if "norm" in key:
            state[key] = 1 + 0.1 * torch.randn_like(state[key])
    steps = [([1, 5, 7, 9, 11], 0), ([3], 5), ([4], 6), ([8, 2], 7), ([6], 9)]
    runs = [[torch.tensor([tokens]), torch.tensor([pos])] for tokens, pos in steps]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        torch.save(state, tmp / "tiny.pth")
        (tmp / "params.json").write_text(json.dumps(params))
        variants = (("llama_et_portable", [], "portable"), ("llama_et_xnnpack", ["-X"], "xnnpack"),
                    # int8 KV caches: llama::custom_quantized_sdpa and per-token quantization ops
                    ("llama_et_qkv", ["--quantize_kv_cache"], "portable"),
                    # 8da4w linears (qdint8 x qbint4, groups of 32), then also a 4-bit embedding table
                    # (quantized_decomposed::embedding_4bit, groups of 32)
                    ("llama_et_8da4w", ["-X", "-qmode", "8da4w", "-G", "32"], "xnnpack"),
                    ("llama_et_8da4w_e4", ["-X", "-qmode", "8da4w", "-G", "32", "-E", "4,32"], "xnnpack"))
        if only_variants:
            variants = tuple(v for v in variants if v[0] in only_variants)
        for name, flags, backend in variants:
            cmd = [sys.executable, "-m", "executorch.examples.models.llama.export_llama", "--checkpoint",
                   str(tmp / "tiny.pth"), "--params", str(tmp / "params.json"), "--use_kv_cache",
                   "--use_sdpa_with_kv_cache", "-d", "fp32", "--max_seq_length", "32", "--max_context_length", "32",
                   "--output-dir", str(tmp), "--output_name", f"{name}.pte", *flags]
            result = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp)  # --output_name is cwd-relative
            if result.returncode != 0:
                raise RuntimeError(f"{name}: export_llama failed:\n{result.stderr[-3000:]}")
            pte = (tmp / f"{name}.pte").read_bytes()

            class Exported:  # what fs.add reads from an ExecutorchProgramManager
                buffer = pte
                _tensor_data = None
                executorch_program = None

            et = Exported()
            from executorch.exir._serialize._program import deserialize_pte_binary

            program = deserialize_pte_binary(pte)
            et.executorch_program = getattr(program, "program", program)
            entry = fs.add(
                name=name,
                model="llama_et",
                backend=backend,
                et_program=et,
                export=(f"ExecuTorch's llama export: {' '.join(cmd[2:4])} with a seeded random checkpoint of "
                        f"{json.dumps(params)}, --use_kv_cache --use_sdpa_with_kv_cache -d fp32 --max_seq_length 32 "
                        f"--max_context_length 32 {' '.join(flags)}; runs are consecutive steps (tokens, input_pos) "
                        "on one loaded method: a prefill of 5 tokens at 0, decode at 5 and 6, 2 tokens at 7, 1 at 9"),
                rtol=1e-4,
                atol=1e-5,
                runs=[Run("forward", inputs, None) for inputs in runs],
            )
            entry["generate"] = greedy_reference(FixtureSet.load_runtime(tmp / f"{name}.pte", None),
                                                 prompt=[1, 5, 7, 9, 11], max_new_tokens=12)
            log(f"  greedy generation from {entry['generate']['prompt']}: {entry['generate']['tokens']}")


class DqMLP(nn.Module):
    """Two linears with a ReLU between, for the dynamically quantized fixtures."""

    def __init__(self, din: int, dh: int, dout: int, bias: bool = True):
        super().__init__()
        self.fc1 = nn.Linear(din, dh, bias=bias)
        self.fc2 = nn.Linear(dh, dout, bias=bias)

    def forward(self, x):
        return self.fc2(F.relu(self.fc1(x)))


def fixture_dynamic_quant(fs: FixtureSet) -> None:
    """Dynamically quantized linears through the XNNPACK partitioner: activations quantized to int8
    per row at run time (qdint8, an XNNConvert before each fully-connected layer) times
    - 4-bit weights in groups of 32 with bf16 scales (qbint4: torchao's
      Int8DynamicActivationIntxWeightConfig(int4, PerGroup(32)), ExecuTorch's "8da4w"), weights in
      a .ptd (torchao.utils.unwrap_tensor_subclass first, or the tag pass cannot see them);
    - the same with one group per row (PerAxis(0): qbint4 with group = k);
    - 8-bit per-channel weights (torchao int8 PerAxis(0): qcint8);
    - 4-bit and 8-bit per-channel weights from ExecuTorch's XNNPACKQuantizer with a dynamic
      per-channel config (weight range -8..7: qcint4; default: qcint8, in a .ptd);
    - a wide layer (k 1024, groups of 256, 21 rows) for the rounding of long sums and multi-row tiles.
    Inputs have rows of very different ranges, an all-zero row and an all-positive one. Expected
    outputs are ExecuTorch's runtime's (its XNNPACK rounds as the AVX512-VNNI kernels do on
    machines that have them; etp computes that order everywhere)."""
    from torchao.quantization import Int8DynamicActivationIntxWeightConfig, quantize_
    from torchao.quantization.granularity import PerAxis, PerGroup
    from torchao.utils import unwrap_tensor_subclass

    def torchao(model, dtype, granularity, external):
        quantize_(model, Int8DynamicActivationIntxWeightConfig(weight_dtype=dtype, weight_granularity=granularity))
        return unwrap_tensor_subclass(model) if external else model

    def pt2e(model, x, qmin, qmax):
        from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (
            XNNPACKQuantizer, get_symmetric_quantization_config)
        from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

        config = get_symmetric_quantization_config(is_per_channel=True, is_dynamic=True, weight_qmin=qmin,
                                                   weight_qmax=qmax)
        prepared = prepare_pt2e(torch.export.export(model, (x,), strict=True).module(),
                                XNNPACKQuantizer().set_global(config))
        prepared(x)
        return convert_pt2e(prepared)

    def inputs(rows, k, seed):
        g = torch.Generator().manual_seed(seed)
        x = torch.randn(rows, k, generator=g) * 2.0
        if rows > 3:
            x[1] *= 100.0  # a row of a much wider range
            x[2] = 0.0  # all zero: scale 1, zero point 127
            x[3] = x[3].abs() + 0.5  # all positive: the zero point at -128
        return x

    cases = [
        # name, dims (k, hidden, out), bias, quantization, weights in a .ptd, description
        ("dq_8da4w", (64, 96, 32), True, ("torchao", torch.int4, PerGroup(32)), True,
         "torchao Int8DynamicActivationIntxWeightConfig(weight_dtype=int4, weight_granularity=PerGroup(32)) "
         "(ExecuTorch's 8da4w: qbint4 weights, bf16 scales per 32 inputs), unwrap_tensor_subclass, weights "
         "tagged into the .ptd"),
        ("dq_8da4w_rows", (64, 96, 32), False, ("torchao", torch.int4, PerAxis(0)), False,
         "torchao int4 PerAxis(0), no bias: qbint4 with one group per row (group size = k)"),
        ("dq_8da8w", (64, 96, 32), True, ("torchao", torch.int8, PerAxis(0)), False,
         "torchao int8 PerAxis(0): qcint8 weights, fp32 scale per output channel"),
        # (k even: ExecuTorch 1.4.1's runtime gives wrong outputs for qcint4 weights with an odd k, hundreds
        # off the eager model on a single 63-input layer, and not the same from one load to the next; etp
        # reads the rows as written, padded to whole bytes, which its kernel tests check)
        ("dq_qc4", (64, 96, 32), True, ("pt2e", -8, 7), False,
         "XNNPACKQuantizer, get_symmetric_quantization_config(is_per_channel=True, is_dynamic=True, "
         "weight_qmin=-8, weight_qmax=7): qcint4 weights"),
        ("dq_qc8", (64, 96, 32), True, ("pt2e", -127, 127), True,
         "XNNPACKQuantizer, dynamic per-channel (default weight range): qcint8 weights, tagged into the .ptd"),
        ("dq_8da4w_wide", (1024, 256, 48), True, ("torchao", torch.int4, PerGroup(256)), False,
         "torchao int4 PerGroup(256), k 1024 and 256, 21 rows"),
    ]
    for i, (stem, (k, hidden, dout), bias, quant, external, desc) in enumerate(cases):
        name = f"{stem}_xnnpack"
        seed_everything(60 + i)
        model = DqMLP(k, hidden, dout, bias=bias).eval()
        rows = 21 if k > 1000 else 5
        runs = [inputs(rows, k, 100 + i), inputs(rows, k, 200 + i)]
        if quant[0] == "torchao":
            model = torchao(model, quant[1], quant[2], external)
        else:
            model = pt2e(model, runs[0], quant[1], quant[2])
        tag = (lambda node, _n=name: _n) if external else None  # noqa: E731
        et = export_program(model, (runs[0],), xnnpack=True, tag_fn=tag, delegate_tag_fn=tag)
        assert_fully_delegated(name, et)
        fs.add(
            name=name,
            model="dq_mlp",
            backend="xnnpack",
            et_program=et,
            data_names={name: f"{name}.ptd"} if external else None,
            export=f"torch.export + to_edge_transform_and_lower + XnnpackPartitioner of a {k}->{hidden} (ReLU) ->"
            f"{dout} MLP{'' if bias else ' without biases'}: {desc}",
            # etp computes XNNPACK's AVX512-VNNI rounding order everywhere: equal bits to ExecuTorch's
            # on such CPUs; its other x86 kernels differ by ~1e-5 of the output scale.
            rtol=1e-5,
            atol=1e-5,
            runs=[Run("forward", [x], None) for x in runs],
        )


def greedy_reference(call, prompt: List[int], max_new_tokens: int, eos_ids: Sequence[int] = ()) -> dict:
    """The token ids ExecuTorch's runtime generates greedily on a freshly loaded program (`call`,
    from FixtureSet.load_runtime): the prompt in one call at position 0, then one token per call at
    the next position, each the argmax (first maximum) of the logits, until max_new_tokens or one
    of eos_ids (kept as the last token)."""
    logits = call("forward", [torch.tensor([prompt]), torch.tensor([0])])[0]
    tokens, pos = [], len(prompt)
    for _ in range(max_new_tokens):
        token = int(torch.argmax(logits.reshape(-1, logits.shape[-1])[-1]))
        tokens.append(token)
        if token in eos_ids or len(tokens) == max_new_tokens:
            break
        logits = call("forward", [torch.tensor([[token]]), torch.tensor([pos])])[0]
        pos += 1
    return {"prompt": prompt, "max_new_tokens": max_new_tokens, "tokens": tokens}


def train_tokenizer() -> bytes:
    """A SentencePiece model (BPE, at most 128 pieces, digits split) trained on synthetic
    arithmetic and word-reversal text, single-threaded so the bytes are reproducible."""
    import io

    import sentencepiece as spm

    lines = tokenizer_corpus()
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines), model_writer=model, vocab_size=128, model_type="bpe", character_coverage=1.0,
        num_threads=1, bos_id=1, eos_id=2, unk_id=0, pad_id=-1, byte_fallback=False, split_digits=True,
        hard_vocab_limit=False, normalization_rule_name="identity", minloglevel=2)
    return model.getvalue()


# The pre-tokenizer pattern of Llama 3's tiktoken tokenizer (ExecuTorch's default for its Tiktoken).
LLAMA3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
                  r"\s*[\r\n]+|\s+(?!\S)|\s+")


def train_tiktoken(lines: List[str], merges: int) -> bytes:
    """A tiktoken BPE file (one `base64(token) rank` line per token, as Llama 3 ships
    tokenizer.model) trained here: the 256 single bytes, then `merges` byte-pair merges, most
    frequent pair first (ties by the pair's bytes), over the corpus split by LLAMA3_PATTERN."""
    import base64
    from collections import Counter

    import regex

    words = Counter()
    for line in lines:
        for piece in regex.findall(LLAMA3_PATTERN, line):
            words[tuple(bytes([b]) for b in piece.encode())] += 1
    ranks = [bytes([i]) for i in range(256)]
    known = set(ranks)
    for _ in range(merges):
        pairs = Counter()
        for word, n in words.items():
            for a, b in zip(word, word[1:]):
                pairs[(a, b)] += n
        if not pairs:
            break
        (a, b), _ = max(pairs.items(), key=lambda item: (item[1], item[0]))
        if a + b not in known:
            ranks.append(a + b)
            known.add(a + b)
        merged = Counter()
        for word, n in words.items():
            out, i = [], 0
            while i < len(word):
                if i + 1 < len(word) and word[i] == a and word[i + 1] == b:
                    out.append(a + b)
                    i += 2
                else:
                    out.append(word[i])
                    i += 1
            merged[tuple(out)] += n
        words = merged
    return "".join(f"{base64.b64encode(t).decode()} {i}\n" for i, t in enumerate(ranks)).encode()


def tokenizer_corpus() -> List[str]:
    """Synthetic arithmetic and word-reversal lines (seeded)."""
    rng = random.Random(47)
    lines = []
    for _ in range(4000):
        a, b = rng.randint(0, 99), rng.randint(0, 99)
        op = rng.choice(["+", "-", "*"])
        value = a + b if op == "+" else a - b if op == "-" else a * b
        lines.append(f"{a}{op}{b}={value}")
        words = rng.sample(["cat", "dog", "sun", "moon", "tree", "red", "blue", "one", "two", "three"], 3)
        lines.append(" ".join(words) + " -> " + " ".join(reversed(words)))
    return lines


def fixture_tokenizer(fs: FixtureSet) -> None:
    """The SentencePiece model of train_tokenizer (tiny_sp.model) and reference encodings by the
    sentencepiece Python package (tokenizer_samples.json: text, ids with and without BOS, and the
    decoded text), which the C++ tokenizer must reproduce."""
    import sentencepiece as spm

    data = train_tokenizer()
    fs._write_once("tiny_sp.model", data)
    sp = spm.SentencePieceProcessor(model_proto=data)
    texts = ["12+7=19", "cat dog sun -> sun dog cat", "  two  spaces", "99*99=9801", "héllo", ""]
    samples = []
    for text in texts:
        ids = sp.encode(text)
        samples.append({"text": text, "ids": ids, "ids_with_bos": [sp.bos_id()] + ids, "decoded": sp.decode(ids)})
    doc = {"model": "tiny_sp.model", "vocab_size": sp.get_piece_size(), "bos_id": sp.bos_id(), "eos_id": sp.eos_id(),
           "generator": "sentencepiece " + spm.__version__ + " (BPE, at most 128 pieces, split_digits) on 8000 synthetic lines",
           "samples": samples}
    fs._write_once("tokenizer_samples.json", (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode())
    log(f"[tokenizer] {len(data)} bytes, samples: {[(s['text'], s['ids']) for s in samples[:2]]}")

    # The tiktoken format of Llama 3's tokenizer.model, with references from ExecuTorch's own C++
    # Tiktoken (pytorch_tokenizers, what its text runner uses): Llama 3's pattern and 256 special
    # tokens after the file's ranks (<|begin_of_text|> is BOS, <|end_of_text|> EOS).
    from pytorch_tokenizers import pytorch_tokenizers_cpp as et_tokenizers

    data = train_tiktoken(tokenizer_corpus(), merges=200)
    fs._write_once("tiny_tiktoken.model", data)
    tiktoken = et_tokenizers.Tiktoken()
    tiktoken.load(str(fs.out / "tiny_tiktoken.model"))
    texts = ["12+7=19", "cat dog sun -> sun dog cat", "  two  spaces", "héllo wörld", "I'm here; it's 3141 apples\n\nnew",
             "<|begin_of_text|>hi<|eot_id|>", "tabs\tand\r\nlines  ", "😀 ok", ""]
    samples = [{"text": text, "ids": list(tiktoken.encode(text, 0, 0)), "ids_with_bos": list(tiktoken.encode(text, 1, 0))}
               for text in texts]
    doc = {"model": "tiny_tiktoken.model", "vocab_size": tiktoken.vocab_size(), "bos_id": tiktoken.bos_tok(),
           "eos_id": tiktoken.eos_tok(), "generator": "ExecuTorch's pytorch_tokenizers Tiktoken (Llama 3 pattern and "
           "special tokens) over 456 ranks trained by scripts/export_fixtures.py (256 bytes + 200 merges)",
           "samples": samples}
    fs._write_once("tiktoken_samples.json", (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode())
    log(f"[tokenizer] tiktoken: {len(data)} bytes, vocab {tiktoken.vocab_size()}, samples: "
        f"{[(s['text'], s['ids']) for s in samples[:2]]}")


# The demo's tiny Llama and its tasks. Every prompt is two numbers 0..12 and "=": the base model
# answers with their sum, LoRA adapter "mul" with their product, LoRA adapter "rev" with the two
# numbers swapped, so one prompt shows the three programs apart.
DEMO_PARAMS = {"dim": 128, "n_layers": 4, "n_heads": 4, "n_kv_heads": 2, "multiple_of": 32, "norm_eps": 1e-5}
DEMO_TASKS = {"add": lambda a, b: f"{a + b}", "mul": lambda a, b: f"{a * b}", "rev": lambda a, b: f"{b} {a}"}
DEMO_LORA = {"r": 8, "lora_alpha": 16,
             "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]}
DEMO_PROMPTS = ["7 8=", "12 12=", "3 9=", "0 5=", "11 4="]
DEMO_CONTEXT = 32
# PEFT's adapter names (what ExecuTorch's unsloth_to_meta maps from) for ExecuTorch's llama modules.
PEFT_NAMES = {"wq": "self_attn.q_proj", "wk": "self_attn.k_proj", "wv": "self_attn.v_proj", "wo": "self_attn.o_proj",
              "w1": "mlp.gate_proj", "w2": "mlp.down_proj", "w3": "mlp.up_proj"}


def task_examples(sp, task: str) -> List[tuple]:
    """The 169 (prompt ids with BOS, answer ids with EOS) pairs of a demo task."""
    return [([sp.bos_id()] + sp.encode(f"{a} {b}="), sp.encode(DEMO_TASKS[task](a, b)) + [sp.eos_id()])
            for a in range(13) for b in range(13)]


def task_tensors(sp, task: str):
    """A demo task as next-token training data: tokens [169, W] (0-padded) and targets [169, W]
    that are -100 (ignored by cross_entropy) except on the answer and its EOS."""
    exs = task_examples(sp, task)
    width = max(len(p) + len(a) for p, a in exs) - 1
    x = torch.zeros(len(exs), width, dtype=torch.long)
    y = torch.full((len(exs), width), -100, dtype=torch.long)  # loss on the answer and EOS only
    for i, (p, a) in enumerate(exs):
        seq = p + a
        x[i, : len(seq) - 1] = torch.tensor(seq[:-1])
        y[i, len(p) - 1 : len(seq) - 1] = torch.tensor(a)
    return x, y


def train_on_task(model, sp, task: str, steps: int, trained, seed: int) -> None:
    """AdamW (lr 3e-3, cosine decay to 0) on random batches of 64 of a demo task."""
    x, y = task_tensors(sp, task)
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(trained, lr=3e-3, weight_decay=0.0)
    for step in range(steps):
        idx = torch.randint(0, len(x), (64,), generator=g)
        logits = model(x[idx])
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y[idx].reshape(-1), ignore_index=-100)
        opt.zero_grad()
        loss.backward()
        opt.step()
        for group in opt.param_groups:  # cosine decay to 0
            group["lr"] = 3e-3 * 0.5 * (1 + math.cos(math.pi * (step + 1) / steps))
        if step % 250 == 0 or step == steps - 1:
            log(f"  [{task}] step {step}: loss {loss.item():.4f}")


@torch.no_grad()
def task_accuracy(model, sp, task: str) -> float:
    """Greedy exact-match accuracy of a full-logits model on a demo task's 169 prompts."""
    model.eval()
    hits = 0
    for p, a in task_examples(sp, task):
        seq = list(p)
        for _ in range(len(a)):
            seq.append(int(model(torch.tensor([seq]))[0, -1].argmax()))
        hits += seq[len(p):] == a
    model.train()
    return hits / 169


def train_demo_llama(sp, tmp: Path) -> Dict[str, float]:
    """Trains ExecuTorch's own Llama module (llama_transformer.construct_transformer) on the demo
    tasks: the base on sums, then a LoRA adapter per other task with the base frozen. Writes
    tmp/base.pth (the checkpoint, in the module's own key names), tmp/params.json, and per adapter
    tmp/<task>.safetensors (PEFT key names) with tmp/<task>_config.json. Returns each model's
    greedy exact-match accuracy on its task (all 169 prompts)."""
    from safetensors.torch import save_file

    from executorch.examples.models.llama.llama_transformer import construct_transformer
    from executorch.examples.models.llama.model_args import ModelArgs

    params = dict(DEMO_PARAMS, vocab_size=sp.get_piece_size())

    def module(**lora):
        return construct_transformer(ModelArgs(max_seq_len=DEMO_CONTEXT, max_context_len=DEMO_CONTEXT,
                                               generate_full_logits=True, **params, **lora))

    torch.manual_seed(53)
    base = module()
    train_on_task(base, sp, "add", 1500, list(base.parameters()), seed=1)
    acc = {"add": task_accuracy(base, sp, "add")}
    state = base.state_dict()
    torch.save(state, tmp / "base.pth")
    (tmp / "params.json").write_text(json.dumps(params))
    for seed, task in enumerate(("mul", "rev"), start=2):
        torch.manual_seed(53 + seed)
        lora = module(**DEMO_LORA)
        lora.load_state_dict(state, strict=False)  # LoRALinear maps wq.weight to wq.linear.weight
        for n, p in lora.named_parameters():
            p.requires_grad = "lora_" in n
        train_on_task(lora, sp, task, 800, [p for n, p in lora.named_parameters() if "lora_" in n], seed=seed)
        acc[task] = task_accuracy(lora, sp, task)
        adapter = {}
        for n, p in lora.named_parameters():
            if "lora_" in n:  # layers.<i>.<attention|feed_forward>.<w>.lora_<a|b>.weight
                _, layer, _, w, ab, _ = n.split(".")
                adapter[f"base_model.model.model.layers.{layer}.{PEFT_NAMES[w]}.lora_{ab[-1].upper()}.weight"] = (
                    p.detach().contiguous())
        save_file(adapter, str(tmp / f"{task}.safetensors"))
        (tmp / f"{task}_config.json").write_text(json.dumps(DEMO_LORA))
    log(f"  exact-match accuracy on each task's 169 prompts: {acc}")
    return acc


def run_export_llm(tmp: Path, name: str, xnnpack: bool, foundation: Optional[str], adapter: Optional[str],
                   context: int = DEMO_CONTEXT, qmode: Optional[str] = None) -> Path:
    """ExecuTorch's LLM export (python -m executorch.extension.llm.export.export_llm --config) of
    tmp/base.pth with tmp/params.json (and the LoRA adapter tmp/<adapter>.safetensors with
    tmp/<adapter>_config.json): KV cache with llama::custom_sdpa, dynamic prompt length, fp32,
    BOS 1 and EOS 2; returns the output folder tmp/<name>."""
    out = tmp / name
    out.mkdir()
    config = {
        "base": {"checkpoint": str(tmp / "base.pth"), "params": str(tmp / "params.json"),
                 "metadata": json.dumps({"get_bos_id": 1, "get_eos_ids": [2]})},
        "model": {"use_kv_cache": True, "use_sdpa_with_kv_cache": True, "dtype_override": "fp32"},
        "export": {"max_seq_length": context, "max_context_length": context, "output_dir": str(out),
                   "output_name": f"{name}.pte"},
        "backend": {"xnnpack": {"enabled": xnnpack}},
    }
    if foundation:
        config["export"]["foundation_weights_file"] = foundation
    if qmode:  # e.g. 8da4w: int8 per-token activations x 4-bit weights in groups of 32
        config["quantization"] = {"qmode": qmode, "group_size": 32}
    if adapter:
        config["base"]["lora_config"] = {"adapter_checkpoint": str(tmp / f"{adapter}.safetensors"),
                                         "adapter_config": str(tmp / f"{adapter}_config.json")}
    (out / "config.yaml").write_text(json.dumps(config, indent=1))  # JSON is YAML
    import subprocess

    cmd = [sys.executable, "-m", "executorch.extension.llm.export.export_llm", "--config", str(out / "config.yaml")]
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=out)
    if result.returncode != 0:
        raise RuntimeError(f"{name}: export_llm failed:\n{result.stderr[-3000:]}")
    return out


def fixture_llama_lora(fs: FixtureSet, qmode: Optional[str] = None) -> None:
    """The demo bundle: a tiny Llama (4 layers, dim 128, 4 query heads over 2 key/value heads,
    the tiny_sp.model vocabulary, context 32) trained here on sums of two numbers 0..12, and two
    LoRA adapters (rank 8 on every projection) fine-tuned from it, one to multiply, one to swap the
    numbers. Written by ExecuTorch's LLM export (export_llm with a KV cache and llama::custom_sdpa):
    the base and both LoRA programs lowered to XNNPACK over ONE foundation .ptd (the LoRA weights
    stay in each program), and the base for the portable kernels with its weights inside. Runs are
    a prefill and decode steps on one loaded method; `completions` holds ExecuTorch's greedy
    completions of the demo prompts."""
    import sentencepiece as spm
    import tempfile

    from executorch.extension.llm.custom_ops import custom_ops  # noqa: F401  (the llama:: kernels)
    from executorch.exir._serialize._program import deserialize_pte_binary

    sp = spm.SentencePieceProcessor(model_proto=train_tokenizer())
    foundation = "llama_demo_foundation.ptd"
    variants = (  # name, model, backend, adapter, foundation file
        ("llama_demo_xnnpack", "llama_demo", "xnnpack", None, foundation),
        ("llama_demo_lora_mul_xnnpack", "llama_demo_lora_mul", "xnnpack", "mul", foundation),
        ("llama_demo_lora_rev_xnnpack", "llama_demo_lora_rev", "xnnpack", "rev", foundation),
        ("llama_demo_portable", "llama_demo", "portable", None, None),
    )
    if qmode:  # the same trained models with quantized linears, over one quantized foundation file
        foundation = f"llama_demo_{qmode}_foundation.ptd"
        variants = tuple((f"llama_demo_{qmode}{n[len('llama_demo'):]}", f"{m}_{qmode}", b, a, foundation)
                         for n, m, b, a, _ in variants if b == "xnnpack")
    steps = [(sp.encode("7 8=", add_bos=True), 0), (sp.encode("5"), 6), (sp.encode("6"), 7), (sp.encode("1 2"), 8)]
    runs = [[torch.tensor([tokens]), torch.tensor([pos])] for tokens, pos in steps]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        accuracy = train_demo_llama(sp, tmp)
        for name, model, backend, adapter, ptd in variants:
            out = run_export_llm(tmp, name, backend == "xnnpack", ptd, adapter, qmode=qmode)

            class Exported:  # what fs.add reads from an ExecutorchProgramManager
                buffer = (out / f"{name}.pte").read_bytes()
                _tensor_data = {ptd: (out / ptd).read_bytes()} if ptd else None
                executorch_program = None

            program = deserialize_pte_binary(Exported.buffer)
            Exported.executorch_program = getattr(program, "program", program)
            task = adapter or "add"
            entry = fs.add(
                name=name, model=model, backend=backend, et_program=Exported(),
                data_names={ptd: ptd} if ptd else None,
                export=(f"ExecuTorch's LLM export (export_llm) of a tiny Llama {json.dumps(DEMO_PARAMS)} trained here "
                        "on 'a b=' -> a+b (a, b in 0..12)" + (
                            f", with a rank-{DEMO_LORA['r']} LoRA adapter (alpha {DEMO_LORA['lora_alpha']}, every "
                            f"projection) fine-tuned on 'a b=' -> {'a*b' if task == 'mul' else 'b a'}" if adapter else "")
                        + f" (exact-match accuracy {accuracy[task]:.3f}); use_kv_cache, use_sdpa_with_kv_cache, fp32, "
                        + (f"quantization qmode {qmode} group_size 32, " if qmode else "") +
                        f"max_seq_length {DEMO_CONTEXT}" + (f", XNNPACK, foundation_weights_file {ptd}" if ptd else
                                                            ", portable") + "; runs: prefill of '7 8=' then decode"),
                rtol=1e-4, atol=1e-5, runs=[Run("forward", inputs, None) for inputs in runs])
            pte_path, ptd_path = fs.out / f"{name}.pte", (fs.out / ptd if ptd else None)
            entry["tokenizer"] = "tiny_sp.model"
            entry["task"] = task
            entry["generate"] = greedy_reference(FixtureSet.load_runtime(pte_path, ptd_path),
                                                 prompt=sp.encode(DEMO_PROMPTS[0], add_bos=True), max_new_tokens=8)
            entry["completions"] = []
            for text in DEMO_PROMPTS:
                ref = greedy_reference(FixtureSet.load_runtime(pte_path, ptd_path), sp.encode(text, add_bos=True),
                                       max_new_tokens=8, eos_ids=[sp.eos_id()])
                answer = [t for t in ref["tokens"] if t != sp.eos_id()]
                entry["completions"].append({"prompt": text, "prompt_tokens": ref["prompt"], "tokens": ref["tokens"],
                                             "text": sp.decode(answer)})
            log(f"  completions: {[(c['prompt'], c['text']) for c in entry['completions']]}")


def fixture_cnn(fs: FixtureSet) -> None:
    variants = [
        ("cnn_portable", "portable", False),
        ("cnn_xnnpack", "xnnpack", False),
        ("cnn_channels_last_portable", "portable", True),
        ("cnn_channels_last_xnnpack", "xnnpack", True),
    ]
    for name, backend, channels_last in variants:
        seed_everything(4)
        m = make_cnn()
        x = torch.randn(1, 3, 16, 16)
        if channels_last:
            # The portable batch-norm kernel only accepts contiguous dim order, so this
            # variant folds the eval-mode batchnorm into conv1 before export.
            m.conv1 = torch.nn.utils.fusion.fuse_conv_bn_eval(m.conv1, m.bn1)
            m.bn1 = nn.Identity()
            # ExecuTorch's XNNPACK channels-last pass wants contiguous (NCHW) weights: there only
            # the input is channels_last.
            if backend == "portable":
                m = m.to(memory_format=torch.channels_last)
            x_export = x.to(memory_format=torch.channels_last)
        else:
            x_export = x
        et = export_program(m, (x_export,), xnnpack=backend == "xnnpack")
        if channels_last:
            desc = (
                "conv2d (with the eval batchnorm folded in, since the portable batch-norm kernel rejects channels_last), "
                "relu, max_pool2d, conv2d, relu, avg_pool2d, flatten, linear; the example input (and, for portable, the model) converted to torch.channels_last before torch.export, to_edge_transform_and_lower "
                + ("+ XnnpackPartitioner" if backend == "xnnpack" else "(no partitioner)")
                + " + to_executorch; the program's input carries dim_order [0,2,3,1]; the "
                "runtime was fed the channels_last tensor; the .npy files hold logical NCHW values in C order"
            )
        else:
            desc = (
                "conv2d, batchnorm2d (eval), relu, max_pool2d, conv2d, relu, avg_pool2d, flatten, linear on NCHW "
                "[1,3,16,16]; torch.export + to_edge_transform_and_lower"
                + (
                    " + XnnpackPartitioner (the delegate works in NHWC internally)"
                    if backend == "xnnpack"
                    else " (no partitioner)"
                )
                + " + to_executorch; weights in the PTE; tolerance 1e-4 because of longer conv/pool reductions"
            )
        fs.add(
            name=name,
            model="cnn",
            backend=backend,
            et_program=et,
            export=desc,
            rtol=1e-4,
            atol=1e-4,
            runs=[Run("forward", [x_export], eager(m, x_export))],
        )


def llama_tag_fn(foundation_tag: str):
    def tag(node: torch.fx.Node) -> Optional[str]:
        return None if "lora" in node.name else foundation_tag

    return tag


def decode_inputs(n_steps: int) -> List[List[torch.Tensor]]:
    gen = torch.Generator().manual_seed(99)
    tokens = torch.randint(0, LLAMA_CFG["vocab"], (n_steps,), generator=gen)
    return [
        [tokens[i].view(1, 1).to(torch.int64).clone(), torch.tensor([i], dtype=torch.int64)]
        for i in range(n_steps)
    ]


def make_kv_check(name: str, pte: Path, ptd: Path, steps: List[List[torch.Tensor]]):
    """After the sequential runs, a freshly loaded program executing only step 1 (pos 1) must
    produce different logits: otherwise the KV cache did not carry over."""

    def check(_call, all_outputs):
        fresh = FixtureSet.load_runtime(pte, ptd)
        out = fresh("forward", steps[1])[0]
        seq = all_outputs[1][0]
        diff = float((out - seq).abs().max())
        log(f"  KV-cache check: |step1(sequential) - step1(fresh load)| max = {diff:.3g}")
        if diff < 1e-3:
            raise AssertionError(f"{name}: KV cache does not seem to carry over between runs")

    return check


def fixture_tiny_llama(fs: FixtureSet) -> None:
    base = make_tiny_llama_base()
    variants = [("tiny_llama", base)]
    for i, (variant, ranks) in enumerate(LORA_VARIANTS.items()):
        variants.append((variant, make_tiny_llama_lora(base, ranks, seed=777 + i)))
    n_steps = 5
    steps = decode_inputs(n_steps)
    example = tuple(steps[0])
    cfg = LLAMA_CFG
    cfg_text = (
        f"dim {cfg['dim']}, {cfg['n_layers']} layers, {cfg['n_heads']} heads, vocab {cfg['vocab']}, "
        f"ffn hidden {cfg['hidden']}, max_seq_len {cfg['max_seq_len']}"
    )

    for backend in ("portable", "xnnpack"):
        xnn = backend == "xnnpack"
        foundation_tag = f"tiny_llama_foundation_{backend}"
        foundation_file = f"{foundation_tag}.ptd"
        tag = llama_tag_fn(foundation_tag)
        for variant, model in variants:
            name = f"{variant}_{backend}"
            eager_model = copy.deepcopy(model)  # stateful (KV cache); keep the original pristine
            export_model = copy.deepcopy(model)
            et = export_program(
                export_model,
                example,
                xnnpack=xnn,
                tag_fn=tag,
                delegate_tag_fn=tag if xnn else None,
            )
            runs = [Run("forward", s, eager(eager_model, *s)) for s in steps]
            if variant == "tiny_llama":
                what = f"toy Llama decoder ({cfg_text}; RMSNorm, RoPE, causal attention, SwiGLU)"
            else:
                targets = ", ".join(f"{k} rank {r}" for k, r in LORA_VARIANTS[variant].items())
                what = (
                    f"the tiny_llama base weights plus LoRA adapters ({targets}; alpha {LORA_ALPHA}, random "
                    "non-zero lora_b); the adapter weights stay in the PTE"
                )
            desc = (
                f"{what}; KV cache in mutable buffers updated with index_copy_ at input_pos; torch.export"
                + (
                    ", delegate_external_constants_pass_unlifted (tag fn: None if 'lora' in node name else "
                    f"'{foundation_tag}') and re-export, to_edge_transform_and_lower + XnnpackPartitioner"
                    if xnn
                    else ", to_edge_transform_and_lower (no partitioner)"
                )
                + f", ExecutorchBackendConfig(external_constants=same tag fn); the foundation weights are in the "
                f"shared {foundation_file} (byte-identical for tiny_llama_{backend} and every LoRA variant); "
                "runs are consecutive decode steps at pos 0..4 on one loaded program; tolerance 1e-4 for the "
                "attention/softmax/RMSNorm reductions"
            )
            fs.add(
                name=name,
                model=variant,
                backend=backend,
                et_program=et,
                data_names={foundation_tag: foundation_file},
                export=desc,
                rtol=1e-4,
                atol=1e-4,
                runs=runs,
                check_fn=make_kv_check(name, fs.out / f"{name}.pte", fs.out / foundation_file, steps),
            )
            del et
        # Each adapter must matter: LoRA logits differ from the base model's at every step.
        for variant in LORA_VARIANTS:
            for i in range(n_steps):
                d = float((fs.outputs[f"{variant}_{backend}"][i][0] - fs.outputs[f"tiny_llama_{backend}"][i][0]).abs().max())
                log(f"  {variant} step {i}: |lora - base| max = {d:.3g}")
                assert d > 1e-3, f"{variant}: LoRA adapter has no visible effect"
    # Portable and XNNPACK flavours compute the same function.
    for variant in ["tiny_llama", *LORA_VARIANTS]:
        d = max(
            float((a[0] - b[0]).abs().max())
            for a, b in zip(fs.outputs[f"{variant}_portable"], fs.outputs[f"{variant}_xnnpack"])
        )
        log(f"  {variant}: |portable - xnnpack| max over steps = {d:.3g}")
        assert d < 1e-4, variant


class FusedReluMlp(nn.Module):
    """Linear(16,32) + ReLU + Linear(32,8), optionally with a rank-4 LoRA adapter on the first
    layer added before the ReLU. XNNPACK fuses the ReLU into the base program's first
    fully-connected node as an output clamp; in the LoRA program the adapter's add comes first, so
    the same layer (same weights) has no clamp."""

    def __init__(self, lora: bool):
        super().__init__()
        self.fc1 = nn.Linear(16, 32)
        self.fc2 = nn.Linear(32, 8)
        self.lora = lora
        if lora:
            self.lora_a = nn.Linear(16, 4, bias=False)
            self.lora_b = nn.Linear(4, 32, bias=False)

    def forward(self, x):
        h = self.fc1(x)
        if self.lora:
            h = h + self.lora_b(self.lora_a(x))
        return self.fc2(torch.relu(h))


def fixture_fused_relu(fs: FixtureSet) -> None:
    """A base/LoRA pair over one foundation file whose first layer differs only by the ReLU that
    XNNPACK fuses into it in the base program (issue: packed weights shared whatever the fused
    activation)."""
    seed_everything(31)
    base = FusedReluMlp(lora=False).eval()
    lora = FusedReluMlp(lora=True).eval()
    lora.load_state_dict(base.state_dict(), strict=False)  # the same fc1/fc2 weights
    x = torch.randn(3, 16)
    x2 = torch.randn(3, 16)
    foundation_tag = "fused_relu_foundation"
    tag = llama_tag_fn(foundation_tag)  # None for lora_* nodes, else the foundation file
    for variant, model in (("fused_relu", base), ("fused_relu_lora", lora)):
        et = export_program(copy.deepcopy(model), (x,), xnnpack=True, tag_fn=tag, delegate_tag_fn=tag)
        fs.add(
            name=f"{variant}_xnnpack",
            model=variant,
            backend="xnnpack",
            et_program=et,
            data_names={foundation_tag: f"{foundation_tag}.ptd"},
            export=(
                "Linear(16,32)+ReLU+Linear(32,8)"
                + (" with a rank-4 LoRA adapter on the first Linear, added before the ReLU" if variant.endswith("lora") else "")
                + "; torch.export, delegate_external_constants_pass_unlifted (tag fn: None if 'lora' in node name else "
                f"'{foundation_tag}') and re-export, to_edge_transform_and_lower + XnnpackPartitioner, "
                "ExecutorchBackendConfig(external_constants=same tag fn); fc1/fc2 weights in the shared "
                f"{foundation_tag}.ptd (byte-identical from both exports); XNNPACK fuses the ReLU into fc1 in the base "
                "program only"
            ),
            rtol=1e-5,
            atol=1e-5,
            runs=[Run("forward", [x], eager(model, x)), Run("forward", [x2], eager(model, x2))],
        )
        del et


# Optimizer settings whose trajectories the training fixtures record: plain SGD, and SGD with every
# option on (momentum, dampening, weight decay, nesterov) so each step of its update order counts.
SGD_CASES = {
    "sgd": {"lr": 0.5, "momentum": 0.0, "dampening": 0.0, "weight_decay": 0.0, "nesterov": False},
    "sgd_momentum": {"lr": 0.1, "momentum": 0.9, "dampening": 0.1, "weight_decay": 0.001, "nesterov": True},
}
TRAIN_STEPS = 50
TRAIN_RECORDED = (1, 10, 50)


def training_trajectories(pte: Path, ptd: Optional[Path], x, label, steps: int = TRAIN_STEPS,
                          cases: Optional[Dict[str, dict]] = None, adamw: bool = True,
                          recorded: Sequence[int] = TRAIN_RECORDED, adamw_lr: float = 0.05) -> dict:
    """ExecuTorch's own training loop on one batch: its TrainingModule (the pip training bindings)
    on a freshly loaded program per case, and its SGD with each of `cases` (default SGD_CASES):
    the loss of every step and the parameters after the `recorded` steps. With `adamw`, also
    torch's AdamW (ExecuTorch has none) updating the same runtime's weights in place (the
    TrainingModule's parameters alias them) from the runtime's gradients."""
    from executorch.extension.pybindings.portable_lib import _load_for_executorch
    from executorch.extension.training import get_sgd_optimizer
    from executorch.extension.training.pybindings._training_module import TrainingModule

    def run(make_step):  # make_step(module) -> step(module), made after the first forward_backward
        module = TrainingModule(_load_for_executorch(str(pte), data_path=str(ptd)) if ptd else _load_for_executorch(str(pte)))
        step_fn, losses, params = None, [], {}
        for step in range(1, steps + 1):
            loss = module.forward_backward("forward", (x, label))[0]
            step_fn = step_fn or make_step(module)
            step_fn(module)
            losses.append(float(loss))
            if step in recorded:
                params[str(step)] = {k: v.detach().reshape(-1).tolist() for k, v in module.named_parameters().items()}
        return losses, params

    def sgd(options):
        def make(module):
            optimizer = get_sgd_optimizer(module.named_parameters(), **options)
            return lambda m: optimizer.step(m.named_gradients())
        return make

    def torch_adamw(options):
        def make(module):
            named = module.named_parameters()
            optimizer = torch.optim.AdamW(list(named.values()), lr=options["lr"], betas=(options["beta1"], options["beta2"]),
                                          eps=options["eps"], weight_decay=options["weight_decay"], foreach=False)

            def step(m):
                for fqn, grad in m.named_gradients().items():
                    named[fqn].grad = grad
                optimizer.step()
            return step
        return make

    out = {"steps": steps, "cases": {}}
    for case, options in (SGD_CASES if cases is None else cases).items():
        losses, params = run(sgd(options))
        out["cases"][case] = {"optimizer": "sgd", "options": options, "losses": losses, "params": params,
                              "reference": "ExecuTorch runtime (pip TrainingModule) + its SGD"}
        log(f"  {case}: loss {losses[0]:.4f} -> {losses[-1]:.4f}")
    if adamw:
        options = {"lr": adamw_lr, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.01}
        losses, params = run(torch_adamw(options))
        out["cases"]["adamw"] = {"optimizer": "adamw", "options": options, "losses": losses, "params": params,
                                 "reference": "ExecuTorch runtime (pip TrainingModule) + torch.optim.AdamW "
                                              "(foreach=False) updating its weights in place"}
        log(f"  adamw: loss {losses[0]:.4f} -> {losses[-1]:.4f}")
    return out


def fixture_xor_train(fs: FixtureSet) -> None:
    from executorch.exir import ExecutorchBackendConfig, to_edge
    from torch.export.experimental import _export_forward_backward

    for external in (False, True):
        seed_everything(5)
        net = XorTrainNet()
        n = 4
        x = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
        x = x + 0.05 * torch.randn(n, 2)
        label = torch.tensor([0, 1, 1, 0], dtype=torch.int64)
        ep = torch.export.export(net, (x, label), strict=True)  # static shapes: N = 4
        ep = _export_forward_backward(ep)
        name = "xor_train_external" if external else "xor_train"
        et = to_edge(ep).to_executorch(ExecutorchBackendConfig(external_mutable_weights=external))

        # Eager reference: loss, then gradients, then parameters (in the exporter's FQN order).
        ref = copy.deepcopy(net)
        loss = ref(x, label)
        loss.backward()

        summary = plan_summary(et)
        joint = "forward"
        assert joint in summary["methods"], summary["methods"]
        gi_m = f"__et_training_gradients_index_{joint}"
        pi_m = f"__et_training_parameters_index_{joint}"
        fqn_m = f"__et_training_fqn_{joint}"
        for meth in (gi_m, pi_m, fqn_m):
            assert meth in summary["methods"], (meth, summary["methods"])

        params = dict(ref.named_parameters())
        data_names = {"_default_external_constant": f"{name}.ptd"} if external else {}
        # The index getters first (as TrainingModule does), then the joint method.
        runs = [Run(gi_m, []), Run(pi_m, []), Run(joint, [x, label])]
        found = {}

        def check(call, all_outputs, _name=name):
            fqn_list = list(call(fqn_m, []))
            log(f"  {fqn_m} -> {fqn_list}")
            gi = all_outputs[0][0]
            pi = all_outputs[1][0]
            outs = all_outputs[2]
            assert gi == 1 and pi == 1 + len(fqn_list) and len(outs) == 1 + 2 * len(fqn_list), (gi, pi, len(outs))
            want = [loss.detach()] + [params[f].grad for f in fqn_list] + [params[f].detach() for f in fqn_list]
            for j, (got, w) in enumerate(zip(outs, want)):
                diff = float((got - w).abs().max())
                log(f"  run2 {joint} out{j}: max |runtime - eager| = {diff:.3g}")
                if not torch.allclose(got, w, rtol=1e-4, atol=1e-5):
                    raise AssertionError(f"{_name} out{j}: runtime and eager disagree ({diff})")
            found["fqns"] = fqn_list

        entry = fs.add(
            name=name,
            model="xor_train",
            backend="portable",
            et_program=et,
            data_names=data_names,
            export="",
            rtol=1e-4,
            atol=1e-5,
            runs=runs,
            check_fn=check,
        )
        fqn_list = found["fqns"]
        entry["export"] = (
            "XOR-style training net (Linear(2,10), sigmoid, Linear(10,2), CrossEntropyLoss) exported with "
            "torch.export(strict) + torch.export.experimental._export_forward_backward + to_edge + "
            + (
                "to_executorch(ExecutorchBackendConfig(external_mutable_weights=True)), trainable weights in the .ptd "
                "(FQN keys) and memory-planned"
                if external
                else "to_executorch(ExecutorchBackendConfig()), trainable weights in the PTE's mutable segment"
            )
            + f"; outputs of '{joint}': [loss, gradients..., parameters...] with FQN order {fqn_list}; runs 0 and 1 are "
            f"the int-returning {gi_m} and {pi_m} (0-d int64, kind int); {fqn_m} returns strings and is not "
            "recorded as a run; `training`: ExecuTorch's own SGD trajectories on the runs' batch"
        )
        entry["training"] = training_trajectories(fs.out / f"{name}.pte", fs.out / f"{name}.ptd" if external else None,
                                                  x, label)


class ClassifierTrainNet(nn.Module):
    """A classifier's training net that also returns its predictions, as ExecuTorch's training
    examples do: (loss, argmax of the logits), so a trainer can report accuracy."""

    def __init__(self, hidden: int, classes: int):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(2, hidden), nn.ReLU(), nn.Linear(hidden, classes))
        self.loss = nn.CrossEntropyLoss()

    def forward(self, x, label):
        logits = self.net(x)
        return self.loss(logits, label), logits.detach().argmax(dim=1)


def fixture_classifier_train(fs: FixtureSet) -> None:
    """Joint forward-backward programs that return predictions: XOR (4 points, trainable to 100%)
    and a 3-class MLP on 2-D blobs (90 samples, batches of 30); each with its training data as
    .npy (train_x, train_y) for `etp train` and ExecuTorch's own SGD trajectory on the first
    batch."""
    from executorch.exir import ExecutorchBackendConfig, to_edge
    from torch.export.experimental import _export_forward_backward

    seed_everything(71)
    xor_x = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    xor_y = torch.tensor([0, 1, 1, 0], dtype=torch.int64)
    centers = torch.tensor([[0.0, 2.0], [-1.8, -1.0], [1.8, -1.0]])
    blob_y = torch.arange(3).repeat_interleave(30)
    blob_x = centers[blob_y] + 0.6 * torch.randn(90, 2)
    perm = torch.randperm(90)
    blob_x, blob_y = blob_x[perm].contiguous(), blob_y[perm].contiguous()
    cases = [("xor_classify_train", ClassifierTrainNet(8, 2), xor_x, xor_y, 4),
             ("blobs_mlp_train", ClassifierTrainNet(16, 3), blob_x, blob_y, 30)]
    for name, net, x, y, batch in cases:
        ep = torch.export.export(net, (x[:batch], y[:batch]), strict=True)
        ep = _export_forward_backward(ep)
        et = to_edge(ep).to_executorch(ExecutorchBackendConfig())
        runs = [Run("__et_training_gradients_index_forward", []), Run("__et_training_parameters_index_forward", []),
                Run("forward", [x[:batch], y[:batch]])]
        entry = fs.add(name=name, model=name, backend="portable", et_program=et,
                       export=(f"a classifier (Linear(2,{net.net[0].out_features}), ReLU, "
                               f"Linear({net.net[0].out_features},{net.net[2].out_features}), CrossEntropyLoss) returning "
                               "(loss, argmax predictions), torch.export(strict) + _export_forward_backward + to_edge + "
                               f"to_executorch; batches of {batch}; train data {name}.train_x.npy / .train_y.npy "
                               f"({len(x)} samples); `training`: ExecuTorch's SGD trajectories on the first batch"),
                       rtol=1e-4, atol=1e-5, runs=runs)
        fs._save_npy(f"{name}.train_x.npy", x.numpy())
        fs._save_npy(f"{name}.train_y.npy", y.numpy())
        entry["train_data"] = [f"{name}.train_x.npy", f"{name}.train_y.npy"]
        entry["training"] = training_trajectories(fs.out / f"{name}.pte", None, x[:batch], y[:batch], steps=30)


# The etp-written checkpoint the export tooling checks with ExecuTorch's runtime (never written here:
# etp writes it, with this command from the repository's root, and it is committed).
ETP_CHECKPOINT_COMMAND = ("build/release/host/etp train manifests/fixtures.yaml --model xor_train_external --steps 100 "
                          "--lr 0.5 --momentum 0.9 --checkpoint tests/fixtures/etp_written/xor_train_external.checkpoint.ptd")


def fixture_etp_checkpoint(fs: FixtureSet) -> None:
    """ExecuTorch's runtime loads a checkpoint etp wrote (tests/fixtures/etp_written/, made by
    ETP_CHECKPOINT_COMMAND) as the external weights of xor_train_external.pte and runs the joint
    method on the fixture's batch: its outputs go to etp_written/checkpoint_reference.json, which
    etp's tests compare with etp's own run on the same files."""
    import hashlib

    from executorch.extension.pybindings.portable_lib import _load_for_executorch

    src = DEFAULT_OUT / "etp_written" / "xor_train_external.checkpoint.ptd"
    if not src.exists():
        raise RuntimeError(f"{src} is missing: build etp and run `{ETP_CHECKPOINT_COMMAND}` first")
    pte = DEFAULT_OUT / "xor_train_external.pte"
    module = _load_for_executorch(str(pte), data_path=str(src))
    x = torch.from_numpy(np.load(DEFAULT_OUT / "xor_train_external.run2.in0.npy"))
    y = torch.from_numpy(np.load(DEFAULT_OUT / "xor_train_external.run2.in1.npy"))
    outputs = module.run_method("forward", (x, y))
    fqns = list(module.run_method("__et_training_fqn_forward", ()))
    n = len(fqns)
    doc = {
        "checkpoint": "etp_written/xor_train_external.checkpoint.ptd",
        "sha256": hashlib.sha256(src.read_bytes()).hexdigest(),
        "written_by": ETP_CHECKPOINT_COMMAND,
        "program": "xor_train_external.pte",
        "inputs": ["xor_train_external.run2.in0.npy", "xor_train_external.run2.in1.npy"],
        "executorch_loss": float(outputs[0]),
        "executorch_parameters": {f: outputs[1 + n + i].reshape(-1).tolist() for i, f in enumerate(fqns)},
        "reference": f"ExecuTorch {dist_version('executorch')} runtime (pip portable_lib) with the checkpoint as data_path",
    }
    (fs.out / "etp_written").mkdir(exist_ok=True)
    fs._write_once("etp_written/checkpoint_reference.json", (json.dumps(doc, indent=2) + "\n").encode())
    log(f"[etp_checkpoint] ExecuTorch ran {src.name}: loss {doc['executorch_loss']:.6f}")


# On-device LoRA fine-tuning (fixtures lora_train and lora_infer, bundle manifests/lora_finetune.yaml):
# a smaller cousin of the demo's Llama trained here on sums, whose adapter etp trains on device to
# multiply. Both programs wrap the module as `m`, so their data files share keys.
LORA_FT_PARAMS = {"dim": 64, "n_layers": 2, "n_heads": 4, "n_kv_heads": 2, "multiple_of": 32, "norm_eps": 1e-5}
LORA_FT_CONTEXT = 16
LORA_FT_BATCH = 32
LORA_FT_TASK = "mul"
# What manifests/lora_finetune.yaml's README trains with (the batches come from its `train:`).
LORA_FT_COMMAND = {"optimizer": "adamw", "lr": 3e-3, "weight_decay": 0.0, "steps": 500}


class LoraTrainNet(nn.Module):
    """Next-token loss of ExecuTorch's Llama module with LoRA adapters (targets -100 are
    ignored): the training graph of on-device LoRA fine-tuning."""

    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, tokens, targets):
        logits = self.m(tokens)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=-100)


class LoraInferNet(nn.Module):
    """The inference side: the same module with a KV cache, forward(tokens [1, n], input_pos [1])
    -> the last token's logits, as ExecuTorch's LLM export writes it."""

    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, tokens, input_pos):
        return self.m(tokens, {"input_pos": input_pos})


def ptd_entries(blob: bytes) -> Dict[str, tuple]:
    """key -> (tensor layout, bytes) of an ExecuTorch data file, read with ExecuTorch's own
    deserializer."""
    from executorch.exir._serialize._cord import Cord
    from executorch.extension.flat_tensor.serialize.serialize import FlatTensorSerializer

    payload = FlatTensorSerializer().deserialize(Cord(blob))
    out = {}
    for key, entry in payload.named_data.items():
        layout = entry.tensor_layout
        described = None if layout is None else (str(layout.scalar_type), list(layout.sizes), list(layout.dim_order))
        out[key] = (described, bytes(payload.buffers[entry.buffer_index]))
    return out


def params_to_npy(fs: FixtureSet, name: str, training: dict) -> None:
    """Moves a trajectory's recorded parameters out of index.json (which every test parses) into
    one float32 .npy per case and step: the parameters flattened and concatenated in the order of
    `param_numels` ([fqn, element count] pairs)."""
    for case_name, case in training["cases"].items():
        case["params_npy"] = {}
        for step, named in case.pop("params").items():
            case["param_numels"] = [[fqn, len(values)] for fqn, values in named.items()]
            fname = f"{name}.{case_name}.step{step}.npy"
            fs._save_npy(fname, np.concatenate([np.asarray(v, dtype=np.float32) for v in named.values()]))
            case["params_npy"][step] = fname


def fixture_lora_train(fs: FixtureSet) -> None:
    """On-device LoRA fine-tuning. ExecuTorch's own Llama module (2 layers, dim 64, the tiny_sp
    vocabulary, context 16) is trained here on sums ('a b=' -> a+b, like the demo's base); then
    rank-8 adapters on every projection (B = 0) are added and two programs exported over the same
    weights:
    - lora_train: the joint forward-backward graph of the next-token loss on the answers, with
      the frozen weights external constants in lora_train_foundation.ptd and the adapters, its
      only trainable parameters, external mutable weights in lora_train_adapter.ptd. Attention is
      traced as matmul and softmax (torch's SDPA backward is not core ATen) and the SiLU
      backward's identity empty_permuted becomes aten::empty (the same). Train data: the 169
      products 'a b=' -> a*b. `training`: ExecuTorch's own trajectories (SGD and torch's AdamW on
      its gradients) on the first batch, run with the two files merged into one (its 1.4.1
      Python runtime loads one data file; the program only names keys).
    - lora_infer: the same module with a KV cache (llama::custom_sdpa and llama::update_cache, as
      ExecuTorch's LLM export writes it), reading the SAME two data files: checked here key by key
      and byte by byte. With the initial adapter it answers sums; with an adapter etp trained it
      multiplies. `completions`: ExecuTorch's greedy completions with the initial adapter."""
    import sentencepiece as spm
    import tempfile

    from executorch.examples.models.llama.llama_transformer import construct_transformer
    from executorch.examples.models.llama.model_args import ModelArgs
    from executorch.examples.models.llama.source_transformation.custom_kv_cache import (
        replace_kv_cache_with_custom_kv_cache,
    )
    from executorch.examples.models.llama.source_transformation.sdpa import replace_sdpa_with_custom_op
    from executorch.exir import EdgeCompileConfig, ExecutorchBackendConfig, to_edge
    from torch.export.experimental import _export_forward_backward

    sp = spm.SentencePieceProcessor(model_proto=train_tokenizer())
    params = dict(LORA_FT_PARAMS, vocab_size=sp.get_piece_size())
    context = LORA_FT_CONTEXT

    def module(**kwargs):
        return construct_transformer(ModelArgs(max_seq_len=context, max_context_len=context, **params, **kwargs))

    torch.manual_seed(83)
    base = module(generate_full_logits=True)
    train_on_task(base, sp, "add", 1500, list(base.parameters()), seed=84)
    base_accuracy = task_accuracy(base, sp, "add")
    log(f"  base: exact-match accuracy on sums {base_accuracy:.3f}")
    torch.manual_seed(85)
    m = module(generate_full_logits=True, **DEMO_LORA)
    missing, unexpected = m.load_state_dict(base.state_dict(), strict=False)  # wq.weight -> wq.linear.weight
    assert not unexpected and all("lora_" in k for k in missing), (missing, unexpected)
    with torch.no_grad():
        for n, p in m.named_parameters():
            if "lora_b" in n:
                p.zero_()
            p.requires_grad = "lora_" in n
    x, y = task_tensors(sp, LORA_FT_TASK)
    tokens, targets = x[:LORA_FT_BATCH].contiguous(), y[:LORA_FT_BATCH].contiguous()
    net = LoraTrainNet(m)

    def math_sdpa(q, k, v, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, enable_gqa=False):
        # Attention in core ATen ops (matmul, softmax), whose backward is core ATen too and runs on
        # ExecuTorch's portable kernels; torch's SDPA backward is not, on any backend.
        scores = torch.matmul(q, k.transpose(-2, -1)) * (scale or q.shape[-1] ** -0.5)
        if attn_mask is not None and attn_mask.dtype == torch.bool:  # SDPA's meaning: True takes part
            scores = torch.where(attn_mask, scores, torch.full_like(scores, float("-inf")))
        elif attn_mask is not None:
            scores = scores + attn_mask
        assert not is_causal and dropout_p == 0.0
        return torch.matmul(torch.softmax(scores, dim=-1), v)

    def joint():  # exported afresh for each lowering (lowering changes the exported program)
        original = F.scaled_dot_product_attention
        F.scaled_dot_product_attention = math_sdpa
        try:
            ep = torch.export.export(net, (tokens, targets), strict=False).run_decompositions({})
            ep = _export_forward_backward(ep)
        finally:
            F.scaled_dot_product_attention = original
        # The SiLU backward allocates with aten::empty_permuted, which is not core ATen and which
        # ExecuTorch's runtime has no kernel for; with the identity layout it is aten::empty.
        for node in ep.graph.nodes:
            if node.target == torch.ops.aten.empty_permuted.default:
                assert list(node.args[1]) == list(range(len(node.args[1]))), node.args
                node.target = torch.ops.aten.empty.memory_format
                node.args = (node.args[0],)
        ep.graph_module.recompile()
        return ep

    edge_config = EdgeCompileConfig()
    tag = lambda node: "foundation" if "lora" not in node.name else None  # noqa: E731
    et = to_edge(joint(), compile_config=edge_config).to_executorch(
        ExecutorchBackendConfig(external_mutable_weights=True, external_constants=tag))
    name = "lora_train"
    data_names = {"foundation": "lora_train_foundation.ptd", "_default_external_constant": "lora_train_adapter.ptd"}
    # fs.add's reference runtime loads one data file: run this program's reference below instead.
    fs._write_once(f"{name}.pte", et.buffer)
    blobs = {tag_: bytes(cord) for tag_, cord in et._tensor_data.items()}
    if set(blobs) != set(data_names):
        raise AssertionError(f"{name}: data tags {sorted(blobs)}")
    for tag_, fname in data_names.items():
        fs._write_once(fname, blobs[tag_])
    fs._save_npy(f"{name}.train_x.npy", x.numpy())
    fs._save_npy(f"{name}.train_y.npy", y.numpy())

    # The inference program over the same module, its weights checked against the training files.
    torch.manual_seed(86)
    infer = module(use_kv_cache=True, enable_dynamic_shape=True, **DEMO_LORA)
    missing, unexpected = infer.load_state_dict(m.state_dict(), strict=False)
    assert not unexpected and all("cache" in k for k in missing), (missing, unexpected)
    infer = replace_kv_cache_with_custom_kv_cache(replace_sdpa_with_custom_op(infer)).eval()
    metadata = {"get_max_seq_len": context, "get_max_context_len": context, "get_vocab_size": params["vocab_size"],
                "get_bos_id": sp.bos_id(), "get_eos_ids": [sp.eos_id()], "get_n_layers": params["n_layers"],
                "use_kv_cache": True, "enable_dynamic_shape": True}
    prompt = sp.encode(DEMO_PROMPTS[0], add_bos=True)
    example = (torch.tensor([prompt]), torch.tensor([0]))
    dynamic = ({1: torch.export.Dim("token_dim", max=context - 1)}, None)

    def export_infer(tag_fn):
        return export_program(LoraInferNet(infer), example, xnnpack=False, tag_fn=tag_fn, dynamic_shapes=dynamic,
                              constant_methods=metadata)

    infer_et = export_infer(lambda node: "adapter" if "lora" in node.name else "foundation")
    for infer_tag, train_tag in (("foundation", "foundation"), ("adapter", "_default_external_constant")):
        fname = data_names[train_tag]
        mine, theirs = ptd_entries(bytes(infer_et._tensor_data[infer_tag])), ptd_entries(blobs[train_tag])
        for key, value in mine.items():
            if theirs.get(key) != value:
                raise AssertionError(f"lora_infer: {key} is not in {fname} as the training program wrote it")
        log(f"  lora_infer reads {len(mine)} of the {len(theirs)} keys of {fname}, each identical")
    infer_et._tensor_data = None
    with tempfile.TemporaryDirectory() as tmp:
        # One data file with every key for ExecuTorch's Python runtime (it loads one).
        merged = Path(tmp) / "merged.ptd"
        (blob,) = [bytes(c) for c in export_infer(lambda node: "_default_external_constant")._tensor_data.values()]
        merged.write_bytes(blob)
        decode = sp.encode("5")
        runs = [Run("forward", [torch.tensor([prompt]), torch.tensor([0])]),
                Run("forward", [torch.tensor([decode]), torch.tensor([len(prompt)])])]
        entry = fs.add(
            name="lora_infer", model="lora_infer", backend="portable", et_program=infer_et,
            export=("the inference side of on-device LoRA fine-tuning: lora_train's Llama module with a KV cache "
                    "(ExecuTorch's replace_sdpa_with_custom_op + replace_kv_cache_with_custom_kv_cache, dynamic "
                    f"prompt length up to {context - 1}, metadata methods), to_edge_transform_and_lower + "
                    "to_executorch(external_constants: adapters tagged apart); it reads lora_train_foundation.ptd "
                    "and an adapter file with lora_train_adapter.ptd's keys (the initial adapter: B = 0, so sums); "
                    "references from ExecuTorch's runtime on one merged data file; runs: prefill of '7 8=', a decode step"),
            rtol=1e-4, atol=1e-5, runs=runs,
            data_files=[data_names["foundation"], data_names["_default_external_constant"]], reference_ptd=merged)
        entry["tokenizer"] = "tiny_sp.model"
        entry["task"] = "add"
        entry["completions"] = []
        for text in DEMO_PROMPTS:
            ref = greedy_reference(FixtureSet.load_runtime(fs.out / "lora_infer.pte", merged),
                                   sp.encode(text, add_bos=True), max_new_tokens=8, eos_ids=[sp.eos_id()])
            answer = [t for t in ref["tokens"] if t != sp.eos_id()]
            entry["completions"].append({"prompt": text, "prompt_tokens": ref["prompt"], "tokens": ref["tokens"],
                                         "text": sp.decode(answer)})
        log(f"  completions with the initial adapter: {[(c['prompt'], c['text']) for c in entry['completions']]}")

    # ExecuTorch's own training trajectories, on one data file with every key.
    merged_et = to_edge(joint(), compile_config=edge_config).to_executorch(
        ExecutorchBackendConfig(external_mutable_weights=True, external_constants=lambda node: "_default_external_constant"))
    with tempfile.TemporaryDirectory() as tmp:
        merged_ptd = Path(tmp) / "m.ptd"  # the program's keys; the committed .pte reads them
        (blob,) = [bytes(c) for c in merged_et._tensor_data.values()]
        merged_ptd.write_bytes(blob)
        # Settings where the loss falls steadily. Where it oscillates (lr 0.03 or 0.1 with momentum
        # 0.9, or lr 0.1 alone), any two runtimes' float rounding differences (one ulp of the
        # first loss) grow step by step past 1e-5 within 20 steps.
        options = {"lr": 0.05, "momentum": 0.5, "dampening": 0.0, "weight_decay": 0.0, "nesterov": False}
        training = training_trajectories(fs.out / f"{name}.pte", merged_ptd, tokens, targets, steps=20,
                                         cases={"sgd_momentum": options}, recorded=(1, 10, 20),
                                         adamw_lr=LORA_FT_COMMAND["lr"])
        for case in training["cases"].values():
            case["reference"] += ", the two data files merged into one"
    training["batch_rows"] = LORA_FT_BATCH  # the reference trained on the first rows of the train data
    params_to_npy(fs, name, training)
    summary = plan_summary(et)
    fs.entries.append({
        "name": name, "model": name, "backend": "portable", "program": f"{name}.pte",
        "data_files": [data_names["foundation"], data_names["_default_external_constant"]],
        "export": (f"on-device LoRA fine-tuning: ExecuTorch's Llama module {json.dumps(params)} trained here on "
                   f"'a b=' -> a+b (exact-match accuracy {base_accuracy:.3f}), with rank-{DEMO_LORA['r']} adapters on "
                   "every projection (B = 0); torch.export (attention as matmul+softmax) + _export_forward_backward "
                   "(the SiLU backward's identity empty_permuted as empty) + to_edge + to_executorch("
                   "external_mutable_weights=True, external_constants: frozen weights tagged 'foundation'); frozen "
                   "weights in lora_train_foundation.ptd, the trainable adapters in lora_train_adapter.ptd; batches "
                   f"of {LORA_FT_BATCH}; train data {name}.train_x.npy / .train_y.npy (the 169 products 'a b=' -> "
                   "a*b, next-token targets on the answer and EOS, -100 elsewhere)"),
        **summary, "rtol": 1e-4, "atol": 1e-5, "runs": [],
        "train_data": [f"{name}.train_x.npy", f"{name}.train_y.npy"],
        "tokenizer": "tiny_sp.model",
        "finetune": dict(LORA_FT_COMMAND, task=LORA_FT_TASK, inference="lora_infer"),
        "training": training,
    })
    log(f"[{name}] {summary['methods']}")


# The example backend of examples/plugins/demo_backend: ExecuTorch's own lowering machinery
# (to_edge_transform_and_lower with a partitioner, BackendDetails.preprocess, NamedDataStore) with
# a payload format of ours, so a third-party backend has a program to run. Its files live beside
# the example, not in tests/fixtures (the default plugins cannot run them).
DEMO_BACKEND_DIR = REPO_ROOT / "examples" / "plugins" / "demo_backend"


def demo_backend_classes():
    """The EtpDemoBackend BackendDetails and its partitioner (defined on first use: the
    executorch imports are slow)."""
    from executorch.exir._serialize._named_data_store import NamedDataStore
    from executorch.exir.backend.backend_details import BackendDetails, PreprocessResult
    from executorch.exir.backend.partitioner import DelegationSpec, Partitioner, PartitionResult
    from executorch.exir.backend.utils import tag_constant_data
    from executorch.exir.dialects._ops import ops as exir_ops

    ops = {exir_ops.edge.aten.add.Tensor: "add", exir_ops.edge.aten.mul.Tensor: "mul",
           exir_ops.edge.aten.relu.default: "relu"}

    class EtpDemoBackend(BackendDetails):
        """Payload: UTF-8 lines, 'etp-demo 1' first, then one line per value in graph order:
        'input V' (the delegate's next input), 'weight V KEY' (float32 named data KEY, stored
        with NamedDataStore), 'add V A B' / 'mul V A B' (B's elements repeat over A's when B
        has fewer, i.e. trailing-dimension broadcasting), 'relu V A', and last 'output V' for
        each delegate output in order. Every tensor is float32."""

        @staticmethod
        def preprocess(edge_program, compile_specs):
            sig = edge_program.graph_signature
            weights = {**sig.inputs_to_parameters, **sig.inputs_to_buffers, **sig.inputs_to_lifted_tensor_constants}
            values, lines, store = {}, ["etp-demo 1"], NamedDataStore()
            for node in edge_program.graph.nodes:
                if node.op == "placeholder":
                    values[node] = len(values)
                    fqn = weights.get(node.name)
                    if fqn is None:
                        lines.append(f"input {values[node]}")
                        continue
                    tensor = edge_program.state_dict.get(fqn)
                    if tensor is None:
                        tensor = edge_program.constants[fqn]
                    assert tensor.dtype == torch.float32, fqn
                    key = f"etp_demo/{fqn}"
                    store.add_named_data(key, tensor.detach().contiguous().numpy().tobytes(), alignment=16)
                    lines.append(f"weight {values[node]} {key}")
                elif node.op == "call_function":
                    if node.target not in ops:
                        raise RuntimeError(f"EtpDemoBackend: {node.target} is not supported")
                    values[node] = len(values)
                    lines.append(" ".join([ops[node.target], str(values[node])] + [str(values[a]) for a in node.args]))
                elif node.op == "output":
                    lines.extend(f"output {values[a]}" for a in node.args[0])
            return PreprocessResult(processed_bytes=("\n".join(lines) + "\n").encode(), debug_handle_map={},
                                    data_store_output=store.get_named_data_store_output())

    class EtpDemoPartitioner(Partitioner):
        """One partition of every supported float32 operator, with the weights it uses."""

        def __init__(self):
            super().__init__()
            self.delegation_spec = DelegationSpec(EtpDemoBackend.__name__, [])

        def partition(self, exported_program):
            for node in exported_program.graph_module.graph.nodes:
                if node.op == "call_function" and node.target in ops:
                    node.meta["delegation_tag"] = "etp_demo"
            tag_constant_data(exported_program)
            return PartitionResult(tagged_exported_program=exported_program,
                                   partition_tags={"etp_demo": self.delegation_spec})

    return EtpDemoBackend, EtpDemoPartitioner


class DemoAffine(nn.Module):
    """relu(x * scale + shift) over the last dimension: what the example backend computes."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.randn(8))
        self.shift = nn.Parameter(torch.randn(8))

    def forward(self, x):
        return torch.relu(x * self.scale + self.shift)


def fixture_demo_backend(fs: FixtureSet) -> None:
    """examples/plugins/demo_backend/: DemoAffine lowered whole to EtpDemoBackend (payload and
    named weights from demo_backend_classes) as demo_affine.pte, an input, and the expected output:
    ExecuTorch's runtime has no EtpDemoBackend, so the reference is its run of the same module
    exported without delegation (the portable kernels)."""
    from executorch.exir import ExecutorchBackendConfig, to_edge_transform_and_lower

    _, partitioner = demo_backend_classes()
    seed_everything(91)
    m = DemoAffine().eval()
    x = torch.randn(4, 8)
    ep = torch.export.export(m, (x,), strict=True)
    lowered = to_edge_transform_and_lower(ep, partitioner=[partitioner()]).to_executorch(ExecutorchBackendConfig())
    plain = export_program(m, (x,), xnnpack=False)
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        reference = Path(tmp) / "plain.pte"
        reference.write_bytes(plain.buffer)
        (expected,) = FixtureSet.load_runtime(reference, None)("forward", [x])
    with torch.no_grad():
        assert torch.allclose(expected, m(x), atol=1e-6)
    DEMO_BACKEND_DIR.mkdir(parents=True, exist_ok=True)
    (DEMO_BACKEND_DIR / "demo_affine.pte").write_bytes(lowered.buffer)
    for name, array in (("input.npy", x.numpy()), ("expected.npy", expected.numpy())):
        with open(DEMO_BACKEND_DIR / name, "wb") as f:
            np.save(f, array, allow_pickle=False)
    summary = plan_summary(lowered)
    log(f"[demo_backend] {summary['delegates']} x{summary['num_delegate_calls']}, operators {summary['operators']}")


def fixture_dynamic(fs: FixtureSet) -> None:
    for backend in ("portable", "xnnpack"):
        seed_everything(6)
        m = DynamicModel().eval()
        batch = torch.export.Dim("batch", min=1, max=8)
        example = torch.randn(4, 8)
        et = export_program(m, (example,), xnnpack=backend == "xnnpack", dynamic_shapes=({0: batch},))
        runs = []
        for b in (1, 3, 8):
            x = torch.randn(b, 8)
            runs.append(Run("forward", [x], eager(m, x)))
        fs.add(
            name="dynamic" if backend == "portable" else "dynamic_xnnpack",
            model="dynamic",
            backend=backend,
            et_program=et,
            export=(
                "Linear(8,4)+ReLU exported with dynamic_shapes batch=torch.export.Dim('batch', min=1, max=8) (example "
                "batch 4), to_edge_transform_and_lower ("
                + ("XnnpackPartitioner" if backend == "xnnpack" else "no partitioner")
                + ") + to_executorch (upper-bound memory planning); runs at batch 1, 3, 8"
            ),
            rtol=1e-5,
            atol=1e-6,
            runs=runs,
        )


class DynamicCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 8, 3, padding=1)
        self.c2 = nn.Conv2d(8, 8, 3, padding=1)
        self.fc = nn.Linear(8, 5)

    def forward(self, x):
        h = F.max_pool2d(F.relu(self.c1(x)), 2, 2)
        h = F.relu(self.c2(h))
        return self.fc(h.mean(dim=(2, 3)))


def fixture_dynamic_cnn(fs: FixtureSet) -> None:
    seed_everything(20)
    m = DynamicCNN().eval()
    batch = torch.export.Dim("batch", min=1, max=4)
    half_h = torch.export.Dim("half_h", min=2, max=8)
    half_w = torch.export.Dim("half_w", min=2, max=8)
    example = torch.randn(2, 3, 8, 12)
    et = export_program(m, (example,), xnnpack=True, dynamic_shapes=({0: batch, 2: 2 * half_h, 3: 2 * half_w},))
    runs = []
    for b, h, w in ((2, 8, 12), (1, 4, 4), (4, 16, 16), (3, 6, 10)):
        x = torch.randn(b, 3, h, w)
        runs.append(Run("forward", [x], eager(m, x)))
    fs.add(
        name="dynamic_cnn_xnnpack",
        model="dynamic_cnn",
        backend="xnnpack",
        et_program=et,
        export=(
            "conv2d(3,8,3,pad 1), relu, max_pool2d(2,2), conv2d(8,8,3,pad 1), relu, mean over H and W, linear(8,5) "
            "exported with dynamic batch (1..4) and height and width (2*Dim(2..8) each; example [2,3,8,12]), "
            "to_edge_transform_and_lower + XnnpackPartitioner + to_executorch (upper-bound memory planning); the "
            "convolutions are one delegate, the dynamic mean runs outside; runs at [2,3,8,12], [1,3,4,4], "
            "[4,3,16,16], [3,3,6,10] on one loaded program"
        ),
        rtol=1e-5,
        atol=1e-5,
        runs=runs,
    )


class MapLoop(nn.Module):
    """torch's map over the rows of xs: ExecuTorch emits it as a loop (JumpFalseCall back to
    the body, a row counter in executorch_prim ops, et_copy_index to collect the rows)."""

    def forward(self, xs, y):
        from torch._higher_order_ops.map import map as torch_map

        def body(x, y):
            return torch.sin(x) * y + x

        return torch_map(body, xs, y)


def fixture_map_loop(fs: FixtureSet) -> None:
    seed_everything(21)
    m = MapLoop()
    rows = torch.export.Dim("rows", min=1, max=6)
    y = torch.randn(3)
    et = export_program(m, (torch.randn(6, 3), y), xnnpack=False, dynamic_shapes=({0: rows}, None))
    runs = []
    for r in (6, 2, 4, 1):
        xs = torch.randn(r, 3)
        runs.append(Run("forward", [xs, y], eager(m, xs, y)))
    fs.add(
        name="map_loop",
        model="map_loop",
        backend="portable",
        et_program=et,
        export=(
            "torch._higher_order_ops.map.map(lambda x, y: sin(x) * y + x, xs, y) with xs rows dynamic "
            "(Dim 1..6, example 6 rows), torch.export + to_edge_transform_and_lower + to_executorch; the program "
            "is a loop: JumpFalseCall, executorch_prim add/sub/eq on the row counter, aten::select_copy for the "
            "row and executorch_prim::et_copy_index.tensor to collect the results; runs at 6, 2, 4 and 1 rows on "
            "one loaded program"
        ),
        rtol=1e-6,
        atol=1e-6,
        runs=runs,
    )


class CondBranch(nn.Module):
    """torch.cond on a data-dependent predicate; the branch result then joins a tensor list."""

    def forward(self, x, y):
        def positive(x, y):
            return x.sin() + y

        def negative(x, y):
            return x.cos() - y

        z = torch.cond(x.sum() > 0, positive, negative, (x, y))
        return torch.cat([z, x * 2], 0)


def fixture_cond_branch(fs: FixtureSet) -> None:
    seed_everything(22)
    m = CondBranch()
    et = export_program(m, (torch.randn(2, 3), torch.randn(2, 3)), xnnpack=False)
    runs = []
    for sign in (1.0, -1.0, 1.0):  # true branch, false branch, true again on the same program
        x = torch.rand(2, 3) * sign
        y = torch.randn(2, 3)
        runs.append(Run("forward", [x, y], eager(m, x, y)))
    fs.add(
        name="cond_branch",
        model="cond_branch",
        backend="portable",
        et_program=et,
        export=(
            "torch.cond(x.sum() > 0, sin(x) + y, cos(x) - y) then cat([result, x * 2]), torch.export + "
            "to_edge_transform_and_lower + to_executorch; the program branches with JumpFalseCall on a Bool "
            "tensor and on a constant false, and MoveCall writes each branch's result into the value a "
            "TensorList (the cat input) holds; runs take the true, false and true branch in turn"
        ),
        rtol=1e-6,
        atol=1e-6,
        runs=runs,
    )


def fixture_multi_method(fs: FixtureSet) -> None:
    from executorch.exir import ExecutorchBackendConfig, to_edge_transform_and_lower

    seed_everything(7)
    enc, dec = Encoder().eval(), Decoder().eval()
    x = torch.randn(2, 8)
    z = torch.randn(2, 4)
    eps = {
        "encode": torch.export.export(enc, (x,), strict=True),
        "decode": torch.export.export(dec, (z,), strict=True),
    }
    et = to_edge_transform_and_lower(eps).to_executorch(ExecutorchBackendConfig())
    fs.add(
        name="multi_method",
        model="multi_method",
        backend="portable",
        et_program=et,
        export=(
            "two methods from a dict of exported programs passed to to_edge_transform_and_lower (no partitioner): "
            "encode(x[2,8]) = tanh(Linear(8,4)(x)), decode(z[2,4]) = Linear(4,8)(z); weights in the PTE"
        ),
        rtol=1e-5,
        atol=1e-6,
        runs=[
            Run("encode", [x], eager(enc, x)),
            Run("decode", [z], eager(dec, z)),
            Run("encode", [2 * x], eager(enc, 2 * x)),
        ],
    )


README_HEAD = """\
# Test fixtures

Generated by `scripts/export_fixtures.py` -- do not edit by hand. Each fixture is a tiny
ExecuTorch program (`.pte`, flatbuffer identifier `ET12`; fp32 unless noted below), optionally
with a data file (`.ptd`, identifier `FT01`), plus `.npy` inputs and expected outputs. The
expected outputs were produced by the ExecuTorch runtime in the pip wheel executing the written
files (eager PyTorch was only used as a cross-check). `index.json` lists every fixture: methods,
operators (`name.overload`), delegates, tolerances and the runs, which are executed in order on
one loaded program (state such as a KV cache carries over between runs).

Regenerate (creates/uses the venv `$ETP_VENV`, default `/root/etp-venv`):

    scripts/export_fixtures

Versions: executorch {executorch_version}, torch {torch_version}, Python {python_version},
numpy {numpy_version} (pinned in `scripts/requirements-export.txt`).

Notes:
- `op_*` are single-operator conformance programs (portable): one torch call each; `operators` in
  index.json shows what it lowered to (some, like roll, pad and logit, decompose into other ops).
- `transformer_*` and `causal_lm_*` are attention models whose decompositions call `aten::any.out`
  outside any delegate.
- `tiny_llama_*` and `tiny_llama_lora_*` share one foundation `.ptd` per backend (byte-identical
  from both exports); the LoRA adapter weights stay in the LoRA program.
- `cnn_channels_last_portable` expects its input in channels_last dim order; the `.npy` holds the
  logical NCHW values in C order.
- `xor_train*` runs 0/1 are the `__et_training_*_index_forward` getters, whose Int outputs are
  stored as 0-d int64 arrays with `"kind": "int"`.
- `qconv_xnnpack` / `qconv_pc_xnnpack` are PT2E static int8 quantizations (XNNPACKQuantizer)
  lowered whole into one XNNPACK delegate: qint8 activations, per-tensor qint8 resp. per-channel
  qcint8 weights, fp32 program inputs/outputs converted inside the delegate. Their tolerance is
  rtol 0 and atol = 2 output quantization steps.
- `fp16_xnnpack` has float16 inputs and outputs (`<f2` .npy files) and runs in one fp16 XNNPACK
  delegate; tolerance 1e-2 for half precision.

| fixture | backend | program (bytes) | data files (bytes) | methods | operators | delegate calls |
|---|---|---:|---|---|---:|---:|
"""


def write_readme(out: Path, index: dict) -> None:
    rows = []
    for f in index["fixtures"]:
        pte = (out / f["program"]).stat().st_size
        data = ", ".join(f"`{d}` ({(out / d).stat().st_size})" for d in f["data_files"]) or "-"
        delegates = f"{f['num_delegate_calls']} ({', '.join(f['delegates'])})" if f["delegates"] else "0"
        rows.append(
            f"| {f['name']} | {f['backend']} | {pte} | {data} | {', '.join(f['methods'])} | "
            f"{len(f['operators'])} | {delegates} |"
        )
    text = README_HEAD.format(**{k: v for k, v in index.items() if k != "fixtures"}) + "\n".join(rows) + "\n"
    total = sum(p.stat().st_size for p in out.iterdir() if p.is_file() and p.name != "README.md")
    text += f"\nTotal size of the generated files (without this README): {total} bytes.\n"
    (out / "README.md").write_text(text)


FIXTURES = {
    "add": fixture_add,
    "linear": fixture_linear,
    "mlp": fixture_mlp,
    "cnn": fixture_cnn,
    "tiny_llama": fixture_tiny_llama,
    "fused_relu": fixture_fused_relu,
    "xor_train": fixture_xor_train,
    "classifier_train": fixture_classifier_train,
    "etp_checkpoint": fixture_etp_checkpoint,
    "lora_train": fixture_lora_train,
    "demo_backend": fixture_demo_backend,
    "dynamic": fixture_dynamic,
    "dynamic_cnn": fixture_dynamic_cnn,
    "map_loop": fixture_map_loop,
    "cond_branch": fixture_cond_branch,
    "multi_method": fixture_multi_method,
    "chain": fixture_chain,
    "bench": fixture_bench,
    "pad_upsample_deconv": fixture_pad_upsample_deconv,
    "quantized": fixture_quantized,
    "quantized_mobile": fixture_quantized_mobile,
    "quantized_deconv": fixture_quantized_deconv,
    "fp16": fixture_fp16,
    "attention": fixture_attention,
    "ops": fixture_ops,
    "quantized_portable": fixture_quantized_portable,
    "quantized_ops": fixture_quantized_ops,
    "ops_half": fixture_ops_half,
    "conformance": fixture_conformance,
    "llm_ops": fixture_llm_ops,
    "llama_export": fixture_llama_export,
    "tokenizer": fixture_tokenizer,
    "llama_lora": fixture_llama_lora,
    # The demo's XNNPACK programs with 8da4w linears over one quantized foundation file.
    "llama_lora_8da4w": lambda fs: fixture_llama_lora(fs, "8da4w"),
    "dynamic_quant": fixture_dynamic_quant,
    # The 8da4w variants of llama_export alone (the same function; no other fixture changes).
    "llama_export_8da4w": lambda fs: fixture_llama_export(fs, ("llama_et_8da4w", "llama_et_8da4w_e4")),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")
    parser.add_argument(
        "--only",
        nargs="*",
        choices=sorted(FIXTURES),
        help="export only these fixture groups; index.json keeps the other fixtures' entries, and an entry "
        "re-exported replaces the old one of the same name",
    )
    args = parser.parse_args()

    import executorch  # noqa: F401
    from executorch.extension.pybindings import portable_lib

    from importlib.metadata import version as dist_version

    et_version = dist_version("executorch")

    # One thread everywhere: reproducible, and polite on a shared machine.
    torch.set_num_threads(1)
    portable_lib._unsafe_reset_threadpool(1)

    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    # Remove stale generated files so the folder holds exactly one generation.
    if not args.only:
        for p in out.iterdir():
            if p.suffix in (".pte", ".ptd", ".npy") or p.name in ("index.json", "README.md"):
                p.unlink()

    fs = FixtureSet(out)
    for key, fn in FIXTURES.items():
        if args.only and key not in args.only:
            continue
        fn(fs)

    entries = fs.entries
    if args.only and (out / "index.json").exists():
        fresh = {e["name"]: e for e in fs.entries}
        old_entries = json.loads((out / "index.json").read_text())["fixtures"]
        entries = [fresh.pop(e["name"], e) for e in old_entries] + list(fresh.values())
    index = {
        "generator": GENERATOR,
        "executorch_version": et_version,
        "torch_version": torch.__version__.split("+")[0],
        "python_version": platform.python_version(),
        "numpy_version": np.__version__,
        "fixtures": entries,
    }
    (out / "index.json").write_text(json.dumps(index, indent=2) + "\n")
    write_readme(out, index)
    total = sum(p.stat().st_size for p in out.iterdir() if p.is_file())
    log(f"wrote {len(fs.entries)} fixtures ({len(entries)} in index.json) to {out} ({total} bytes in the folder)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
