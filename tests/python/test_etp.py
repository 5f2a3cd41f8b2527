"""The Python module `etp` on the real fixtures: every fixture's outputs, metadata, errors, state.

Run by ctest (tests/CMakeLists.txt) with PYTHONPATH pointing at the built module, ETP_CLI at the
built `etp` command and ETP_FIXTURES_DIR at tests/fixtures.
"""
import gc
import json
import os
import shutil
import subprocess

import numpy as np
import pytest

import etp

FIXTURES = os.environ.get("ETP_FIXTURES_DIR", os.path.join(os.path.dirname(__file__), "..", "fixtures"))
ROOT = os.path.abspath(os.path.join(FIXTURES, "..", ".."))
DEMO = os.path.join(ROOT, "manifests", "lora_forward.yaml")
with open(os.path.join(FIXTURES, "index.json")) as f:
    INDEX = json.load(f)["fixtures"]


def fixture(name):
    return os.path.join(FIXTURES, name)


@pytest.mark.parametrize("entry", INDEX, ids=[e["name"] for e in INDEX])
def test_every_fixture_reproduces_the_executorch_outputs(entry):
    bundle = etp.Bundle.from_program(fixture(entry["program"]), data=[fixture(d) for d in entry["data_files"]])
    assert bundle.models() == ["model"]
    for index, run in enumerate(entry["runs"]):
        inputs = [np.load(fixture(i["file"])) for i in run["inputs"]]
        outputs = bundle.run("model", inputs, method=run["method"])
        assert len(outputs) == len(run["outputs"])
        for o, expected_file in enumerate(run["outputs"]):
            expected = np.load(fixture(expected_file["file"]))
            got = outputs[o]
            assert got.dtype == expected.dtype, (index, o)
            assert got.shape == expected.shape, (index, o)
            np.testing.assert_allclose(got, expected, rtol=entry["rtol"], atol=entry["atol"],
                                       err_msg=f"{entry['name']} run {index} output {o}")


@pytest.mark.parametrize("entry", [e for e in INDEX if "generate" in e], ids=lambda e: e["name"])
def test_generate_reproduces_executorchs_greedy_tokens(entry):
    bundle = etp.Bundle.from_program(fixture(entry["program"]), data=[fixture(d) for d in entry["data_files"]])
    streamed = []
    doc = bundle.generate("model", entry["generate"]["prompt"], max_new_tokens=entry["generate"]["max_new_tokens"],
                          stop_at_eos=False, on_token=streamed.append)
    assert doc["generated_tokens"] == entry["generate"]["tokens"]
    assert streamed == doc["generated_tokens"]
    assert doc["stop_reason"] == "max_new_tokens"
    assert set(doc["rss_mib"]) == {"after_load", "after_prefill", "after_generation"}
    with pytest.raises(etp.Error, match="outside the vocabulary"):
        bundle.generate("model", [1, 100000])


def test_the_demo_bundle_completes_a_prompt_as_each_model_was_trained():
    bundle = etp.Bundle(os.path.join(ROOT, "manifests", "demo.yaml"))
    tokenizer = etp.Tokenizer(fixture("tiny_sp.model"))
    answers = {}
    for model in bundle.models():
        doc = bundle.generate(model, tokenizer.encode("6 7=", add_bos=True), max_new_tokens=8)
        assert doc["stop_reason"] == "eos"
        answers[model] = tokenizer.decode(doc["generated_tokens"][:-1])
    assert answers == {"base": "13", "lora_mul": "42", "lora_rev": "7 6"}


@pytest.mark.parametrize("entry", [e for e in INDEX if "completions" in e], ids=lambda e: e["name"])
def test_a_generator_completes_the_demo_prompts_as_executorch(entry):
    bundle = etp.Bundle.from_program(fixture(entry["program"]), data=[fixture(d) for d in entry["data_files"]])
    generator = etp.Generator(bundle, "model")
    assert generator.metadata["eos_ids"] == [2] and generator.metadata["enable_dynamic_shape"]
    tokenizer = etp.Tokenizer(fixture(entry["tokenizer"]))
    for c in entry["completions"]:
        doc = generator.generate(tokenizer.encode(c["prompt"], add_bos=True), max_new_tokens=8)
        assert doc["generated_tokens"] == c["tokens"], c["prompt"]
        assert tokenizer.decode(doc["generated_tokens"][:-1]) == c["text"]
    with pytest.raises(etp.Error, match="the prompt has no tokens"):
        generator.generate([])


def test_a_lora_adapter_trained_here_runs_in_place_of_the_initial_one(tmp_path):
    manifest = os.path.join(ROOT, "manifests", "lora_finetune.yaml")
    session = etp.TrainingSession(etp.Bundle(manifest), "train")
    adamw = etp.AdamW(lr=3e-3, weight_decay=0.0)
    x, y = np.load(fixture("lora_train.train_x.npy")), np.load(fixture("lora_train.train_y.npy"))
    losses = []
    for step in range(60):  # in-order batches of 32
        rows = [(step * 32 + i) % len(x) for i in range(32)]
        losses.append(session.forward_backward([x[rows], y[rows]]))
        session.step(adamw)
    assert max(losses[-6:]) < losses[0] / 2, losses
    path = str(tmp_path / "adapter.ptd")
    session.save_checkpoint(path, adamw)
    bundle = etp.Bundle(manifest, data_files={"tuned_adapter": path})
    tokenizer = etp.Tokenizer(fixture("tiny_sp.model"))
    prompt = tokenizer.encode("7 8=", add_bos=True)
    base = bundle.generate("base", prompt, max_new_tokens=4)
    assert tokenizer.decode(base["generated_tokens"][:-1]) == "15"
    tuned = bundle.generate("tuned", prompt, max_new_tokens=4)
    assert tuned["generated_tokens"] != base["generated_tokens"]
    with pytest.raises(etp.Error, match="no data entry 'nope' to replace"):
        etp.Bundle(manifest, data_files={"nope": path})


def test_tiktoken_matches_executorchs_tokenizer():
    with open(fixture("tiktoken_samples.json")) as f:
        doc = json.load(f)
    tokenizer = etp.Tokenizer(fixture(doc["model"]))
    for s in doc["samples"]:
        assert tokenizer.encode(s["text"]) == s["ids"]
        assert tokenizer.encode(s["text"], add_bos=True) == s["ids_with_bos"]
        assert tokenizer.decode(s["ids"]) == s["text"]


@pytest.mark.parametrize("name", ["xor_train", "xor_train_external"])
def test_training_follows_executorchs_sgd_and_checkpoints(name, tmp_path):
    entry = next(e for e in INDEX if e["name"] == name)
    case = entry["training"]["cases"]["sgd_momentum"]
    bundle = etp.Bundle.from_program(fixture(entry["program"]), data=[fixture(d) for d in entry["data_files"]])
    session = etp.TrainingSession(bundle, "model")
    sgd = etp.SGD(**case["options"])
    inputs = [np.load(fixture(i["file"])) for i in entry["runs"][2]["inputs"]]
    for step in range(10):
        loss = session.forward_backward(inputs)
        assert abs(loss - case["losses"][step]) < 1e-5
        session.step(sgd)
    for fqn, values in case["params"]["10"].items():
        np.testing.assert_allclose(session.parameter(fqn).reshape(-1), values, atol=1e-5)
    path = str(tmp_path / "checkpoint.ptd")
    session.save_checkpoint(path, sgd)
    fresh = etp.TrainingSession(etp.Bundle.from_program(fixture(entry["program"]),
                                                        data=[fixture(d) for d in entry["data_files"]]), "model")
    fresh_sgd = etp.SGD(**case["options"])
    fresh.load_checkpoint(path, fresh_sgd)
    assert fresh_sgd.step_count == 10
    assert fresh.forward_backward(inputs) == session.forward_backward(inputs)
    with pytest.raises(etp.Error, match="holds the state of another optimizer"):
        fresh.load_checkpoint(path, etp.AdamW())


def test_tokenizer_matches_the_sentencepiece_package():
    with open(fixture("tokenizer_samples.json")) as f:
        doc = json.load(f)
    tokenizer = etp.Tokenizer(fixture(doc["model"]))
    assert (tokenizer.vocab_size, tokenizer.bos_id, tokenizer.eos_id) == (doc["vocab_size"], doc["bos_id"], doc["eos_id"])
    for sample in doc["samples"]:
        assert tokenizer.encode(sample["text"]) == sample["ids"]
        assert tokenizer.encode(sample["text"], add_bos=True) == sample["ids_with_bos"]
        assert tokenizer.decode(sample["ids"]) == sample["decoded"]
    with pytest.raises(etp.Error, match="not a SentencePiece model"):
        etp.Tokenizer(fixture("add.pte"))


def test_a_manifest_lists_models_methods_and_plugins():
    bundle = etp.Bundle(DEMO)
    assert bundle.path == DEMO
    assert bundle.models() == ["base", "lora_qvo_r8", "lora_k_ffn_r4"]
    assert bundle.methods("base") == ["forward"]
    info = bundle.model("base")
    assert info["default_method"] == "forward"
    forward = info["methods"]["forward"]
    assert forward["inputs"][0] == {"kind": "tensor", "dtype": "int64", "shape": [1, 1], "dim_order": [0, 1],
                                    "dynamic": False}
    assert forward["outputs"][0]["shape"] == [1, 1, 128]
    assert "XnnpackBackend" in forward["backends"]
    plugins = bundle.plugins()
    assert [p["name"] for p in plugins] == ["portable", "xnnpack"]
    assert plugins[1]["backends"] == ["XnnpackBackend"]


def test_inspect_gives_the_document_of_etp_inspect_json():
    if "ETP_CLI" not in os.environ:
        pytest.skip("ETP_CLI (the built etp command) is set by ctest")
    path = fixture("linear_xnnpack.pte")
    cli = subprocess.run([os.environ["ETP_CLI"], "inspect", "--json", path], check=True, capture_output=True, text=True)
    assert etp.inspect(path) == json.loads(cli.stdout)["files"][0]
    with pytest.raises(etp.Error) as error:
        etp.inspect(DEMO)
    assert error.value.code == "malformed"
    assert "YAML manifest" in str(error.value)


def test_errors_carry_the_status_code_and_the_message():
    bundle = etp.Bundle(DEMO)
    with pytest.raises(etp.Error) as error:
        bundle.run("nope", [])
    assert error.value.code == "not found"
    assert error.value.status == 100
    assert "no model 'nope' (models: base, lora_qvo_r8, lora_k_ffn_r4)" in str(error.value)

    add = etp.Bundle.from_program(fixture("add.pte"))
    with pytest.raises(etp.Error) as error:
        add.run("model", [np.zeros((2, 3, 4)), np.zeros((2, 3, 4))])  # float64, not float32
    assert error.value.code == "dtype" and error.value.status == 2
    with pytest.raises(etp.Error) as error:
        add.run("model", [np.zeros((2, 3), np.float32), np.zeros((2, 3), np.float32)])
    assert error.value.code == "shape"
    with pytest.raises(etp.Error) as error:
        add.run("model", [np.zeros((2, 3, 4), np.float32)])
    assert error.value.code == "invalid argument"
    with pytest.raises(etp.Error) as error:
        etp.Bundle(fixture("add.pte"))
    assert "is an ExecuTorch program (.pte), not a manifest" in str(error.value)
    assert isinstance(error.value, RuntimeError)


def test_non_contiguous_inputs_are_accepted():
    add = etp.Bundle.from_program(fixture("add.pte"), plugins=["portable"])
    a = np.arange(24, dtype=np.float32).reshape(4, 3, 2).transpose(2, 1, 0)  # (2, 3, 4), strided
    b = np.ones((2, 3, 4), np.float32)
    (out,) = add.run("model", [a, b])
    np.testing.assert_array_equal(out, a + b)


def test_set_input_copies_and_bind_input_borrows_and_keeps_the_array_alive():
    method = etp.Bundle.from_program(fixture("add.pte"), plugins=["portable"]).load_method("model")
    a = np.full((2, 3, 4), 1.0, np.float32)
    method.set_input(0, a)
    method.set_input(1, a)
    a[:] = 100.0  # a copy was taken
    method.execute()
    np.testing.assert_array_equal(method.output(0), np.full((2, 3, 4), 2.0, np.float32))
    assert not method.input_borrowed(0)

    method.bind_input(0, np.full((2, 3, 4), 2.0, np.float32))  # only the method references it now
    method.bind_input(1, np.full((2, 3, 4), 3.0, np.float32))
    assert method.input_borrowed(0) and method.input_borrowed(1)
    gc.collect()
    np.full((2, 3, 4), -7.0, np.float32)  # reuse freed memory, if it had been freed
    method.execute()
    np.testing.assert_array_equal(method.output(0), np.full((2, 3, 4), 5.0, np.float32))


def test_state_carries_over_and_reset_restores_it():
    bundle = etp.Bundle(DEMO)
    load = lambda r: [np.load(fixture(f"tiny_llama_xnnpack.run{r}.in{i}.npy")) for i in range(2)]
    expected = [np.load(fixture(f"tiny_llama_xnnpack.run{r}.out0.npy")) for r in range(2)]
    first = bundle.run("base", load(0))[0]
    np.testing.assert_allclose(first, expected[0], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(bundle.run("base", load(1))[0], expected[1], rtol=1e-4, atol=1e-4)
    bundle.reset("base")  # run() loads the method again: fresh KV caches
    np.testing.assert_array_equal(bundle.run("base", load(0))[0], first)

    method = bundle.load_method("base")
    assert all(not v.any() for v in method.state().values())
    method.run(load(0))
    assert any(v.any() for v in method.state().values())
    method.reset_state()
    assert all(not v.any() for v in method.state().values())
    np.testing.assert_array_equal(method.run(load(0))[0], first)


def test_plugins_are_found_through_etp_plugin_path(tmp_path):
    portable = etp.Bundle(DEMO).plugins()[0]["library"]
    shutil.copy(portable, tmp_path / "libetp_portable_copy.so")
    with pytest.raises(etp.Error) as error:
        etp.Bundle.from_program(fixture("add.pte"), plugins=["portable_copy"], use_environment=False)
    assert error.value.code == "not found"
    os.environ["ETP_PLUGIN_PATH"] = str(tmp_path)
    try:
        bundle = etp.Bundle.from_program(fixture("add.pte"), plugins=["portable_copy"])
    finally:
        del os.environ["ETP_PLUGIN_PATH"]
    assert bundle.plugins()[0]["library"] == str(tmp_path / "libetp_portable_copy.so")
    out = bundle.run("model", [np.ones((2, 3, 4), np.float32)] * 2)[0]
    np.testing.assert_array_equal(out, np.full((2, 3, 4), 2.0, np.float32))


def test_log_levels_are_checked():
    etp.set_log_level("none")
    with pytest.raises(etp.Error):
        etp.set_log_level("loud")


def test_threads_share_a_method_without_deadlock():
    import threading
    method = etp.Bundle.from_program(fixture("add.pte"), plugins=["portable"]).load_method("model")
    failures = []

    def work(value):
        a = np.full((2, 3, 4), value, np.float32)
        for _ in range(200):
            (out,) = method.run([a, a])
            if not (out == 2 * value).all():
                failures.append(value)

    threads = [threading.Thread(target=work, args=(float(v),)) for v in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a thread is stuck"
    assert failures == []


def test_bench_compares_plugin_sets_and_flags_a_wrong_one():
    doc = etp.bench(fixture("add.pte"), configs=["portable"], warmup=1, repetitions=3, min_time=0)
    assert doc["machine"]["logical_cores"] >= 1
    [result] = doc["results"]
    assert result["config"] == "portable" and result["outputs_match"]
    assert result["runs"] >= 3 and 0 < result["min_ms"] <= result["median_ms"] <= result["p99_ms"]
    with pytest.raises(etp.Error) as error:
        etp.bench(fixture("add.pte"), configs=["p=portable:speed=2"], min_time=0)
    assert error.value.code == "invalid argument" and "no plugin accepts option speed=2" in str(error.value)
    test_plugins = os.environ.get("ETP_TEST_PLUGIN_DIR")
    if test_plugins:  # set by ctest: the test plugin whose add subtracts
        doc = etp.bench(os.path.join(ROOT, "manifests", "fixtures.yaml"), models=["add"], repetitions=3, min_time=0,
                        configs=["right=portable", "bad=wrong+portable"], plugin_paths=[test_plugins])
        assert [r["outputs_match"] for r in doc["results"]] == [True, False]


def test_bench_svg_is_well_formed_xml(tmp_path):
    cli = os.environ.get("ETP_CLI")
    if not cli:
        pytest.skip("ETP_CLI is set by ctest")
    svg = tmp_path / "chart.svg"
    subprocess.run([cli, "bench", fixture("add.pte"), "--config", "portable", "--repetitions", "3", "--min-time", "0",
                    "--svg", str(svg)], check=True, capture_output=True)
    import xml.etree.ElementTree as ElementTree
    root = ElementTree.parse(svg).getroot()
    assert root.tag.endswith("svg")
    assert "model" in "".join(root.itertext())
