// `etp train`: the training loop of include/etp/train.h on a model's joint forward-backward
// method, fed batches of the manifest's `train:` arrays; loss per step, checkpoints as .ptd.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/clock.h"
#include "core/npy.h"
#include "etp/etp.h"
#include "etp/train.h"

namespace etp::cli {
namespace {

constexpr const char* kTrainUsage =
    "usage: etp train MANIFEST --model NAME --steps N [options]\n"
    "       etp train MANIFEST --model NAME --eval [--resume FILE.ptd] [options]\n"
    "\n"
    "Trains a model whose method is a joint forward-backward graph (ExecuTorch's training export:\n"
    "loss first, then gradients, then parameters) on the arrays of its manifest entry's `train:`\n"
    "section, one .npy per method input, the first dimension the sample index. Step k (from 0)\n"
    "takes rows [k*B, (k+1)*B) of the data, wrapping at its end; with `shuffle: true` each pass\n"
    "over the data takes the rows in a permutation seeded by `seed` and the pass number. When the\n"
    "method also returns predictions (an integer second output) and its last input is integer\n"
    "labels, the accuracy over the whole data after training is reported.\n"
    "\n"
    "options:\n"
    "  --model NAME          the model (required with several)\n"
    "  --method NAME         the joint method (default: the model's default method)\n"
    "  --steps N             train until step N (counting a resumed checkpoint's steps)\n"
    "  --optimizer sgd|adamw ExecuTorch's SGD (default) or AdamW with torch's semantics\n"
    "  --lr X                learning rate (default 0.1 for sgd, 0.001 for adamw)\n"
    "  --momentum M          sgd momentum (default 0)\n"
    "  --dampening D         sgd dampening (default 0)\n"
    "  --nesterov            sgd Nesterov momentum\n"
    "  --weight-decay W      weight decay (default 0 for sgd, 0.01 for adamw)\n"
    "  --checkpoint FILE     write the parameters and optimizer state there as a .ptd (crash-safe:\n"
    "                        a temporary file, fsync, rename), at the end and every --checkpoint-every\n"
    "  --checkpoint-every K  steps between checkpoints (default: only at the end)\n"
    "  --resume FILE         start from a checkpoint (parameters, optimizer state and step count)\n"
    "  --eval                after training (or instead, without --steps), one in-order pass over\n"
    "                        the `train:` section's `eval:` arrays (else the training data) that\n"
    "                        changes nothing: the mean loss of its batches (the last one filled\n"
    "                        from the first rows) and the accuracy where the method predicts\n"
    "  --data NAME=FILE      read the manifest's data entry NAME from FILE (repeat), e.g. to go on\n"
    "                        from a trained adapter\n"
    "  --save-npy DIR        write each trained parameter as DIR/<fqn>.npy\n"
    "  --svg FILE            draw the loss curve (loss per step) as an SVG\n"
    "  --plugin-path DIR     also look for plugin libraries in DIR (repeat)\n"
    "  --max-instructions N  the most instructions one execute may run before it fails (default\n"
    "                        the model's max_instructions, else 10000000): stops a looping program\n"
    "  --memory-budget SIZE  bytes all loaded methods may plan, e.g. 2GiB (default: the\n"
    "                        manifest's memory_budget, else 3/4 of physical memory)\n"
    "  --read-files          read programs and data files into memory instead of mapping them\n"
    "  --json                print one JSON document: steps, losses, accuracy, eval, checkpoint,\n"
    "                        ms_per_step\n"
    "  -h, --help            show this help\n"
    "\n"
    "Exit status: 0 success, 1 failure, 2 usage error.\n";

int train_usage_error(const std::string& message) { return cli::usage_error("train", message); }

std::string escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '&')
      out += "&amp;";
    else if (c == '<')
      out += "&lt;";
    else if (c == '>')
      out += "&gt;";
    else if (c == '"')
      out += "&quot;";
    else
      out += c;
  }
  return out;
}

// The loss curve as a standalone SVG: steps along x, loss along y from 0 to the largest loss.
std::string loss_svg(const std::string& title, const std::vector<std::pair<int64_t, double>>& losses) {
  const double width = 640, height = 360, left = 64, right = 16, top = 40, bottom = 44;
  double max_loss = 0;
  for (const auto& p : losses) max_loss = std::max(max_loss, std::isfinite(p.second) ? p.second : 0.0);
  if (max_loss <= 0) max_loss = 1;
  const int64_t first = losses.empty() ? 0 : losses.front().first, last = losses.empty() ? 1 : losses.back().first;
  const double span = std::max<double>(1, static_cast<double>(last - first));
  auto x = [&](int64_t step) { return left + (width - left - right) * static_cast<double>(step - first) / span; };
  auto y = [&](double loss) { return top + (height - top - bottom) * (1 - std::max(0.0, loss) / max_loss); };
  char buf[256];
  std::string svg =
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"640\" height=\"360\" viewBox=\"0 0 640 360\" "
      "font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"640\" height=\"360\" fill=\"white\"/>\n";
  svg += "<text x=\"16\" y=\"24\" font-size=\"14\">" + escape(title) + "</text>\n";
  std::snprintf(buf, sizeof buf,
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#888\"/>\n<line x1=\"%.1f\" "
                "y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#888\"/>\n",
                left, top, left, height - bottom, left, height - bottom, width - right, height - bottom);
  svg += buf;
  for (int i = 0; i <= 4; ++i) {  // loss ticks
    const double v = max_loss * i / 4;
    std::snprintf(buf, sizeof buf, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.3g</text>\n", left - 6, y(v) + 4,
                  v);
    svg += buf;
  }
  std::snprintf(buf, sizeof buf,
                "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"start\">step %lld</text>\n<text x=\"%.1f\" y=\"%.1f\" "
                "text-anchor=\"end\">step %lld</text>\n<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">loss "
                "per step</text>\n",
                left, height - bottom + 18, static_cast<long long>(first), width - right, height - bottom + 18,
                static_cast<long long>(last), (left + width - right) / 2, height - 8);
  svg += buf;
  svg += "<polyline fill=\"none\" stroke=\"#1f6feb\" stroke-width=\"1.5\" points=\"";
  for (const auto& p : losses) {
    std::snprintf(buf, sizeof buf, "%.1f,%.1f ", x(p.first), y(std::isfinite(p.second) ? p.second : max_loss));
    svg += buf;
  }
  svg += "\"/>\n</svg>\n";
  return svg;
}

int fail(const std::string& message) {
  std::fprintf(stderr, "etp train: %s\n", message.c_str());
  return 1;
}

// The training (or evaluation) arrays, checked against the method's inputs, and the batches cut
// from them.
struct Data {
  std::vector<NpyArray> arrays;
  std::vector<Tensor> batch_tensors;  // the last batch made, which the TensorRefs point into
  int64_t samples = 0, batch = 0;
  bool shuffle = false;
  uint64_t seed = 0;
  std::vector<int64_t> order;  // the current pass's permutation (shuffle)
  int64_t order_pass = -1;

  // Rows of sample for step `step` (0-based).
  std::vector<int64_t> rows(int64_t step) {
    std::vector<int64_t> out;
    for (int64_t i = 0; i < batch; ++i) {
      const int64_t global = step * batch + i;
      const int64_t pass = global / samples, at = global % samples;
      if (!shuffle) {
        out.push_back(at);
        continue;
      }
      if (pass != order_pass) {  // Fisher-Yates over mt19937_64(seed + pass): the same on every platform
        order.resize(static_cast<size_t>(samples));
        std::iota(order.begin(), order.end(), 0);
        std::mt19937_64 rng(seed + static_cast<uint64_t>(pass));
        for (int64_t j = samples - 1; j > 0; --j) {
          std::swap(order[static_cast<size_t>(j)], order[static_cast<size_t>(rng() % static_cast<uint64_t>(j + 1))]);
        }
        order_pass = pass;
      }
      out.push_back(order[static_cast<size_t>(at)]);
    }
    return out;
  }

  // The method's inputs for `rows`, valid until the next call.
  std::vector<TensorRef> make_batch(const std::vector<int64_t>& rows) {
    std::vector<TensorRef> refs;
    batch_tensors.resize(arrays.size());
    for (size_t i = 0; i < arrays.size(); ++i) {
      const NpyArray& a = arrays[i];
      const size_t row_bytes = a.data.size() / static_cast<size_t>(samples);
      std::vector<int64_t> shape = a.shape;
      shape[0] = static_cast<int64_t>(rows.size());
      batch_tensors[i] = Tensor{static_cast<DType>(a.dtype), shape, std::vector<uint8_t>(row_bytes * rows.size())};
      for (size_t r = 0; r < rows.size(); ++r) {
        std::copy_n(a.data.begin() + static_cast<std::ptrdiff_t>(row_bytes * static_cast<size_t>(rows[r])), row_bytes,
                    batch_tensors[i].data.begin() + static_cast<std::ptrdiff_t>(row_bytes * r));
      }
      refs.push_back(batch_tensors[i].ref());
    }
    return refs;
  }
};

// Reads one .npy per input of `method` into `data`: dtypes, ranks and every dimension but the
// first (the sample index) as the method takes them, one row per sample in each. "" or the error.
std::string load_arrays(const std::vector<std::string>& files, const MethodInfo& mi, const std::string& model,
                        Data* data) {
  if (files.size() != mi.inputs.size()) {
    return "model '" + model + "': `train:` names " + std::to_string(files.size()) + " arrays, method '" + mi.name +
           "' takes " + std::to_string(mi.inputs.size()) + " inputs";
  }
  for (size_t i = 0; i < mi.inputs.size(); ++i) {
    auto array = read_npy(files[i]);
    if (!array.ok()) return array.status().message();
    const TensorInfo& want = mi.inputs[i].tensor;
    const std::string& file = files[i];
    if (mi.inputs[i].kind != ValueKind::kTensor || array->dtype != static_cast<int32_t>(want.dtype)) {
      return file + ": dtype " + dtype_name(static_cast<DType>(array->dtype)) + ", input " + std::to_string(i) +
             " of '" + mi.name + "' takes " + dtype_name(want.dtype);
    }
    if (array->shape.size() != want.sizes.size() || array->shape.empty()) {
      return file + ": " + std::to_string(array->shape.size()) + " dimensions, input " + std::to_string(i) + " has " +
             std::to_string(want.sizes.size()) + " (the first is the sample index)";
    }
    for (size_t d = 1; d < want.sizes.size(); ++d) {
      if (array->shape[d] != want.sizes[d]) {
        return file + ": dimension " + std::to_string(d) + " is " + std::to_string(array->shape[d]) + ", input " +
               std::to_string(i) + " takes " + std::to_string(want.sizes[d]);
      }
    }
    if (i == 0) data->samples = array->shape[0];
    if (array->shape[0] != data->samples || data->samples == 0) {
      return file + ": " + std::to_string(array->shape[0]) + " samples, the first array has " +
             std::to_string(data->samples) + " (every array needs one row per sample)";
    }
    data->arrays.push_back(std::move(*array));
  }
  return "";
}

struct Evaluation {
  double loss = 0;  // the mean of the batch losses
  int64_t batches = 0;
  nlohmann::json accuracy = nullptr;  // where the method predicts
};

// One in-order pass over `data` that changes no parameter: the batches' mean loss, and the
// accuracy when the method returns predictions (an integer tensor as its second output) and
// its last input is integer labels of one dimension. The last batch wraps to the first rows.
Result<Evaluation> evaluate(TrainingSession& session, Data& data) {
  Evaluation e;
  const NpyArray& labels = data.arrays.back();
  const bool predicts = session.num_user_outputs() >= 2 && labels.dtype == static_cast<int32_t>(DType::kInt64) &&
                        labels.shape.size() == 1;
  int64_t correct = 0, scored = 0;
  bool scorable = predicts;
  for (int64_t seen = 0; seen < data.samples; seen += data.batch, ++e.batches) {
    std::vector<int64_t> rows;
    for (int64_t i = 0; i < data.batch; ++i) rows.push_back((seen + i) % data.samples);
    ETP_CHECK_OK(session.forward_backward(data.make_batch(rows)));
    e.loss += session.loss();
    if (!scorable) continue;
    const Value pred = session.user_output(1);
    if (!pred.is_tensor() || pred.tensor().numel() != data.batch) {
      scorable = false;
      continue;
    }
    const Tensor p = pred.tensor().to_tensor();
    const auto* y = reinterpret_cast<const int64_t*>(labels.data.data());
    for (int64_t i = 0; i < data.batch && scored < data.samples; ++i, ++scored) {
      correct += static_cast<int64_t>(p.value(i)) == y[rows[static_cast<size_t>(i)]];
    }
  }
  e.loss /= static_cast<double>(std::max<int64_t>(e.batches, 1));
  if (scorable) e.accuracy = static_cast<double>(correct) / static_cast<double>(data.samples);
  return e;
}

}  // namespace

int run_train(const std::vector<std::string>& args) {
  using Kind = OptionSpec::Kind;
  static const std::vector<OptionSpec> kSpecs = {{Kind::kOnce, "--model"},
                                                 {Kind::kOnce, "--method"},
                                                 {Kind::kOnce, "--steps"},
                                                 {Kind::kOnce, "--optimizer"},
                                                 {Kind::kOnce, "--lr"},
                                                 {Kind::kOnce, "--momentum"},
                                                 {Kind::kOnce, "--dampening"},
                                                 {Kind::kFlag, "--nesterov"},
                                                 {Kind::kOnce, "--weight-decay"},
                                                 {Kind::kOnce, "--checkpoint"},
                                                 {Kind::kOnce, "--checkpoint-every"},
                                                 {Kind::kOnce, "--resume"},
                                                 {Kind::kOnce, "--save-npy"},
                                                 {Kind::kRepeat, "--plugin-path"},
                                                 {Kind::kRepeat, "--data"},
                                                 {Kind::kFlag, "--eval"},
                                                 {Kind::kFlag, "--json"},
                                                 {Kind::kOnce, "--svg"},
                                                 {Kind::kOnce, "--max-instructions"},
                                                 {Kind::kFlag, "--read-files"},
                                                 {Kind::kOnce, "--memory-budget"}};
  ParsedArgs parsed;
  if (std::string error = parse_args(args, kSpecs, &parsed); !error.empty()) return train_usage_error(error);
  if (parsed.help) {
    std::fputs(kTrainUsage, stdout);
    return 0;
  }
  if (parsed.positional.size() != 1) return train_usage_error("expected one MANIFEST");
  const bool eval = parsed.has("--eval");
  int64_t steps = 0;
  if (parsed.has("--steps") ? !parse_count(parsed.value("--steps"), &steps) || steps < 1 : !eval) {
    return train_usage_error("--steps needs a positive integer" + (parsed.has("--steps")
                                                                       ? ", got '" + parsed.value("--steps") + "'"
                                                                       : std::string(" (or --eval)")));
  }
  const std::string optimizer_name = parsed.has("--optimizer") ? parsed.value("--optimizer") : "sgd";
  if (optimizer_name != "sgd" && optimizer_name != "adamw") {
    return train_usage_error("--optimizer must be sgd or adamw, got '" + optimizer_name + "'");
  }
  const bool adamw = optimizer_name == "adamw";
  double lr = adamw ? 1e-3 : 0.1, momentum = 0, dampening = 0, weight_decay = adamw ? 0.01 : 0;
  for (auto [flag, target] : {std::pair{"--lr", &lr},
                              {"--momentum", &momentum},
                              {"--dampening", &dampening},
                              {"--weight-decay", &weight_decay}}) {
    if (parsed.has(flag) && (!parse_real(parsed.value(flag), target) || *target < 0)) {
      return train_usage_error(std::string(flag) + " needs a number >= 0, got '" + parsed.value(flag) + "'");
    }
  }
  if (adamw && (parsed.has("--momentum") || parsed.has("--dampening") || parsed.has("--nesterov"))) {
    return train_usage_error("--momentum, --dampening and --nesterov are sgd options");
  }
  int64_t every = 0;
  if (parsed.has("--checkpoint-every") &&
      (!parse_count(parsed.value("--checkpoint-every"), &every) || every < 1 || !parsed.has("--checkpoint"))) {
    return train_usage_error("--checkpoint-every needs a positive integer and --checkpoint");
  }
  const bool json = parsed.has("--json");

  BundleOptions bundle_options{parsed.all("--plugin-path"), true, {}};
  if (std::string e = parse_max_instructions(parsed, &bundle_options.max_instructions); !e.empty()) {
    return train_usage_error(e);
  }
  bundle_options.read_files = parsed.has("--read-files");
  if (std::string e = parse_memory_budget(parsed, &bundle_options.memory_budget); !e.empty())
    return train_usage_error(e);
  if (std::string e = parse_data_files(parsed.all("--data"), &bundle_options.data_files); !e.empty()) {
    return train_usage_error(e);
  }
  auto bundle = Bundle::open(parsed.positional[0], bundle_options);
  if (!bundle.ok()) return fail(bundle.status().message());
  std::string model = parsed.value("--model");
  if (model.empty()) {
    if (bundle->models().size() != 1)
      return train_usage_error("the manifest has several models: name one with --model");
    model = bundle->models()[0];
  }
  auto info = bundle->model(model);
  if (!info.ok()) return fail(info.status().message());
  if (!info->train) {
    return fail("model '" + model + "' has no `train:` section in " + parsed.positional[0] +
                " (train: { inputs: [x.npy, y.npy], batch_size: 16, shuffle: false, seed: 0 })");
  }
  const std::string method = parsed.has("--method") ? parsed.value("--method") : info->default_method;
  auto session = TrainingSession::load(*bundle, model, method);
  if (!session.ok()) return fail(session.status().message());

  // The data: one array per input, equal first dimensions, rows shaped like the method's inputs.
  const MethodInfo* mi = info->find_method(method);
  Data data, held_out;
  data.shuffle = info->train->shuffle;
  data.seed = info->train->seed;
  if (std::string e = load_arrays(info->train->inputs, *mi, model, &data); !e.empty()) return fail(e);
  if (eval && !info->train->eval.empty()) {
    if (std::string e = load_arrays(info->train->eval, *mi, model, &held_out); !e.empty()) return fail(e);
  }
  data.batch = held_out.batch = info->train->batch_size > 0 ? info->train->batch_size : mi->inputs[0].tensor.sizes[0];
  for (size_t i = 0; i < mi->inputs.size(); ++i) {
    const TensorInfo& want = mi->inputs[i].tensor;
    if (!want.dynamic && want.sizes[0] != data.batch) {
      return fail("model '" + model + "': batch_size " + std::to_string(data.batch) + ", but input " +
                  std::to_string(i) + " of '" + method + "' takes exactly " + std::to_string(want.sizes[0]) + " rows");
    }
  }

  std::unique_ptr<Optimizer> optimizer;
  if (adamw) {
    optimizer = std::make_unique<AdamW>(AdamWOptions{lr, 0.9, 0.999, 1e-8, weight_decay});
  } else {
    optimizer = std::make_unique<Sgd>(SgdOptions{lr, momentum, dampening, weight_decay, parsed.has("--nesterov")});
  }
  if (parsed.has("--resume")) {
    // Evaluation alone needs the parameters only, whatever optimizer wrote the checkpoint.
    const bool training = parsed.has("--steps");
    const Status s = load_checkpoint(*session, training ? optimizer.get() : nullptr, parsed.value("--resume"));
    if (!s.ok()) return fail(s.message());
  }
  if (!parsed.has("--steps")) steps = optimizer->state().step;  // --eval alone: no training
  const std::string checkpoint = parsed.value("--checkpoint");
  const bool progress = !json && ::isatty(STDERR_FILENO);
  nlohmann::json step_docs = nlohmann::json::array();
  std::vector<std::pair<int64_t, double>> curve;
  double total_ms = 0;
  int64_t timed = 0;
  for (int64_t step = optimizer->state().step; step < steps; ++step) {
    const std::vector<TensorRef> refs = data.make_batch(data.rows(step));
    const auto start = Clock::now();
    Status s = session->forward_backward(refs);
    if (s.ok()) s = optimizer->step(*session);
    const double ms = ms_since(start);
    if (!s.ok()) return fail("step " + std::to_string(step + 1) + ": " + s.message());
    total_ms += ms;
    ++timed;
    const double loss = session->loss();
    step_docs.push_back({{"step", step + 1}, {"loss", loss}});
    curve.emplace_back(step + 1, loss);
    if (!json) std::printf("step %lld: loss %.6f (%.3f ms)\n", static_cast<long long>(step + 1), loss, ms);
    if (progress)
      std::fprintf(stderr, "\rtrain: step %lld/%lld", static_cast<long long>(step + 1), static_cast<long long>(steps));
    if (!checkpoint.empty() && ((every > 0 && (step + 1) % every == 0) || step + 1 == steps)) {
      const Status c = save_checkpoint(*session, optimizer.get(), checkpoint);
      if (!c.ok()) return fail(c.message());
    }
  }
  if (progress) std::fprintf(stderr, "\n");
  // Accuracy over one in-order pass of the training data where the method predicts; with
  // --eval, the held-out data's (or the training data's) mean loss too.
  nlohmann::json accuracy = nullptr, eval_doc = nullptr;
  const NpyArray& labels = data.arrays.back();
  if (eval || (session->num_user_outputs() >= 2 && labels.dtype == static_cast<int32_t>(DType::kInt64) &&
               labels.shape.size() == 1)) {
    auto on_train = evaluate(*session, data);
    if (!on_train.ok()) return fail("evaluation: " + on_train.status().message());
    accuracy = on_train->accuracy;
    if (eval) {
      Evaluation e = *on_train;
      if (!held_out.arrays.empty()) {
        auto on_held_out = evaluate(*session, held_out);
        if (!on_held_out.ok()) return fail("evaluation: " + on_held_out.status().message());
        e = *on_held_out;
      }
      eval_doc = {{"data", held_out.arrays.empty() ? "train" : "eval"},
                  {"samples", held_out.arrays.empty() ? data.samples : held_out.samples},
                  {"batches", e.batches},
                  {"loss", e.loss},
                  {"accuracy", e.accuracy}};
    }
  }
  if (parsed.has("--save-npy")) {
    const std::string dir = parsed.value("--save-npy");
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    for (const std::string& name : session->parameter_names()) {
      const TensorView v = session->parameter_view(name);
      NpyArray a{static_cast<int32_t>(v.dtype()), std::vector<int64_t>(v.sizes().begin(), v.sizes().end()),
                 std::vector<uint8_t>(v.nbytes())};
      if (Status s = v.copy_to(a.data.data(), a.data.size()); !s.ok()) return fail(s.message());
      if (Status s = write_npy(dir + "/" + name + ".npy", a); !s.ok()) return fail(s.message());
    }
  }
  if (parsed.has("--svg")) {
    std::ofstream svg(parsed.value("--svg"), std::ios::binary | std::ios::trunc);
    char lr_text[32];
    std::snprintf(lr_text, sizeof lr_text, "%g", lr);
    svg << loss_svg(model + ": loss per step (" + optimizer_name + ", lr " + lr_text + ")", curve);
    if (!svg) return fail(parsed.value("--svg") + ": cannot write the SVG");
  }
  const double ms_per_step = timed > 0 ? total_ms / static_cast<double>(timed) : 0;
  if (json) {
    nlohmann::json doc = {{"model", model},
                          {"optimizer", optimizer_name},
                          {"steps", step_docs},
                          {"checkpoint", checkpoint.empty() ? nlohmann::json(nullptr) : nlohmann::json(checkpoint)},
                          {"accuracy", accuracy},
                          {"eval", eval_doc},
                          {"ms_per_step", ms_per_step}};
    std::printf("%s\n", doc.dump(2).c_str());
  } else {
    const std::string acc =
        accuracy.is_null() ? "" : "; accuracy " + std::to_string(accuracy.get<double>() * 100).substr(0, 5) + "%";
    if (timed > 0) {
      std::printf("%s: %lld steps of %lld samples with %s; %.3f ms per step%s%s%s\n", model.c_str(),
                  static_cast<long long>(timed), static_cast<long long>(data.batch), optimizer_name.c_str(),
                  ms_per_step, acc.c_str(), checkpoint.empty() ? "" : "; checkpoint ", checkpoint.c_str());
    }
    if (!eval_doc.is_null()) {
      const std::string eval_acc =
          eval_doc["accuracy"].is_null()
              ? ""
              : "; accuracy " + std::to_string(eval_doc["accuracy"].get<double>() * 100).substr(0, 5) + "%";
      std::printf("%s: eval on the %s data (%lld samples, %lld batches): loss %.6f%s\n", model.c_str(),
                  eval_doc["data"].get<std::string>() == "eval" ? "held-out" : "training",
                  static_cast<long long>(eval_doc["samples"].get<int64_t>()),
                  static_cast<long long>(eval_doc["batches"].get<int64_t>()), eval_doc["loss"].get<double>(),
                  eval_acc.c_str());
    }
  }
  return 0;
}

}  // namespace etp::cli
