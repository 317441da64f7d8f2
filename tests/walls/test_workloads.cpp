// The named analytic workloads (walls/workloads.h) against hand-worked totals, and a registry
// device as a predictor Machine (walls/hardware/machine.h).
#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>
#include <string>

#include "walls/hardware/machine.h"
#include "walls/hardware/registry.h"
#include "walls/predict.h"
#include "walls/workloads.h"

namespace w = bstack::walls;

namespace {

double sum_flops(const w::Workload& wl, bool gemm, bool backward) {
  double f = 0;
  for (const auto& o : wl.ops)
    if (o.is_gemm == gemm && o.backward == backward) f += o.flops;
  return f;
}

int count_ops(const w::Workload& wl, const std::string& name, bool backward) {
  int n = 0;
  for (const auto& o : wl.ops) n += (o.name == name && o.backward == backward);
  return n;
}

w::AnalyticOptions opts(int64_t batch, int64_t seq, const char* precision, bool training = true) {
  w::AnalyticOptions o;
  o.batch = batch;
  o.seq = seq;
  o.precision = precision;
  o.training = training;
  return o;
}

}  // namespace

// ---- parameter counts ------------------------------------------------------------------------

TEST(AnalyticWorkloads, Gpt2ParameterCountIs124_4M) {
  // wte 50257 x 768 = 38,597,376; wpe 1024 x 768 = 786,432; per layer: 2 LayerNorms 2 x 1536,
  // c_attn 768 x 2304 + 2304, c_proj 768 x 768 + 768, c_fc 768 x 3072 + 3072, mlp c_proj
  // 3072 x 768 + 768 = 7,087,872; x 12 = 85,054,464; ln_f 1536; output tied.
  EXPECT_EQ(w::transformer_nonembedding_parameters(w::gpt2_124m_shape()), 85054464.0);
  EXPECT_EQ(w::transformer_parameters(w::gpt2_124m_shape()), 124439808.0);
}

TEST(AnalyticWorkloads, Llama3ParameterCountIs8_03B) {
  // embed 128256 x 4096 = 525,336,576 (and the untied output layer the same); per layer: q, o
  // 4096^2 each, k, v 4096 x 1024 each, gate/up/down 3 x 4096 x 14336, two RMSNorms 2 x 4096 =
  // 218,112,000; x 32 = 6,979,584,000; final norm 4096. Sum 8,030,261,248 (the released model).
  EXPECT_EQ(w::transformer_nonembedding_parameters(w::llama3_8b_shape()), 6979584000.0);
  EXPECT_EQ(w::transformer_parameters(w::llama3_8b_shape()), 8030261248.0);
}

TEST(AnalyticWorkloads, ResNet50ParameterCountAndMultiplyAdds) {
  // torchvision resnet50: 25,557,032 parameters, "GFLOPS 4.09" (multiply-adds): worked out
  // layer by layer, 4,089,184,256 MACs per 224x224 image (convs 4,087,136,256 + fc 2,048,000).
  const w::Workload r = w::analytic_workload("resnet50", opts(2, 0, "fp32"));
  EXPECT_EQ(r.parameters, 25557032.0);
  // Forward GEMM FLOPs = 2 x MACs per image x batch, plus the classifier's bias adds.
  EXPECT_DOUBLE_EQ(sum_flops(r, true, false), 2 * (2 * 4089184256.0) + 2 * 1000);
  // Backward GEMMs: 2x forward (input and weight gradients).
  EXPECT_DOUBLE_EQ(sum_flops(r, true, true), 2 * sum_flops(r, true, false));
  EXPECT_EQ(count_ops(r, "conv2d", false), 53);  // 1 + 16 blocks x 3 + 4 projection shortcuts
  EXPECT_EQ(count_ops(r, "conv2d", true), 53);
  EXPECT_EQ(count_ops(r, "adam", false), 1);
}

// ---- FLOPs -----------------------------------------------------------------------------------

TEST(AnalyticWorkloads, TransformerForwardFlopsFollowNarayanan) {
  // Narayanan et al. 2021: 24 B s l h^2 (1 + s / (6h)) + 2 B s h V. GPT-2, B = 1, s = 1024:
  // 24 x 12 x 768^2 = 169,869,312 per token; x (1 + 1024 / 4608) -> + 37,748,736 (the 4 s h l
  // attention term); logits 2 x 768 x 50257 = 77,194,752. Per token: 284,812,800.
  const w::TransformerShape g = w::gpt2_124m_shape();
  EXPECT_DOUBLE_EQ(w::transformer_forward_gemm_flops(g, 1, 1024), 284812800.0 * 1024);
  // The op list's forward GEMMs sum to it, plus the linear layers' fused bias adds
  // (T x l x (3h + h + 4h + h)).
  const w::Workload wl = w::analytic_workload("gpt2-124m", opts(2, 1024, "fp32"));
  const double T = 2 * 1024;
  EXPECT_DOUBLE_EQ(sum_flops(wl, true, false),
                   w::transformer_forward_gemm_flops(g, 2, 1024) + T * 12 * 9 * 768);
  // Training: backward GEMMs are 2x the forward's, so the GEMMs of a step are 3x forward
  // (Kaplan et al. 2020's C = 6 P D with forward ~ 2 P per token).
  EXPECT_DOUBLE_EQ(sum_flops(wl, true, true), 2 * sum_flops(wl, true, false));
  // 2 P per token forward within 15% (2 P counts the tied embedding once as the logit layer,
  // and leaves out the attention term; the position table and biases add no GEMM FLOPs).
  const double fwd_per_token = sum_flops(wl, true, false) / T;
  EXPECT_NEAR(fwd_per_token / (2 * wl.parameters), 1.0, 0.15);
}

TEST(AnalyticWorkloads, Llama3GqaAndSwigluGemmsCountedFromTheirShapes) {
  // No biases: the op list's forward GEMMs equal the formula exactly. Per token and layer:
  // QKV 2 x 4096 x (4096 + 2 x 1024) = 50,331,648; out 2 x 4096^2 = 33,554,432; SwiGLU 3 x 2 x
  // 4096 x 14336 = 352,321,536; attention 4 s h = 4 x 2048 x 4096 = 33,554,432 (s = 2048).
  // Sum 469,762,048 x 32 layers = 15,032,385,536; logits 2 x 4096 x 128256 = 1,050,673,152.
  const w::Workload wl = w::analytic_workload("llama3-8b", opts(1, 2048, "bf16"));
  EXPECT_DOUBLE_EQ(sum_flops(wl, true, false), (15032385536.0 + 1050673152.0) * 2048);
  EXPECT_EQ(count_ops(wl, "rope", false), 32);
  EXPECT_EQ(count_ops(wl, "dropout", false), 0);
  EXPECT_EQ(count_ops(wl, "linear", false), 32 * 5 + 1);
}

TEST(AnalyticWorkloads, Gpt2TrainingStepOpsInOrder) {
  const w::Workload wl = w::analytic_workload("GPT2", opts(1, 1024, "fp32"));
  // Forward: embedding, position add, dropout; 15 ops per layer x 12; final norm, logits, loss
  // = 186. Backward: the same 186 in reverse. Optimizer: one per layer + one for the rest.
  ASSERT_EQ(wl.ops.size(), 186u * 2 + 13);
  EXPECT_EQ(wl.ops.front().name, "embedding");
  EXPECT_FALSE(wl.ops.front().backward);
  EXPECT_EQ(wl.ops[185].name, "cross_entropy");
  EXPECT_EQ(wl.ops[186].name, "cross_entropy");
  EXPECT_TRUE(wl.ops[186].backward);
  EXPECT_EQ(wl.ops[371].name, "embedding");
  EXPECT_TRUE(wl.ops[371].backward);
  EXPECT_EQ(wl.ops.back().name, "adam");
  // A GEMM's bytes: A, B and C once each. The logit layer: T = 1024, h = 768, V = 50257, fp32:
  // 4 x (786,432 + 38,597,376 + 51,463,168) = 363,387,904.
  EXPECT_DOUBLE_EQ(wl.ops[184].bytes, 363387904.0);
  EXPECT_TRUE(wl.ops[184].is_gemm);
  // Adam: 28 B and ~14 FLOPs per parameter, over every parameter once.
  double adam_bytes = 0;
  for (const auto& o : wl.ops) adam_bytes += o.name == "adam" ? o.bytes : 0;
  EXPECT_DOUBLE_EQ(adam_bytes, 28 * 124439808.0);
}

// ---- memory ----------------------------------------------------------------------------------

TEST(AnalyticWorkloads, ActivationsMatchKorthikanti) {
  // Korthikanti et al. 2022 eq. 1 at 16 bits: s b h (34 + 5 a s / h). GPT-2, b = 1, s = 1024:
  // 1024 x 768 x (34 + 5 x 12 x 1024 / 768) = 786,432 x 114 = 89,653,248 B per layer.
  EXPECT_DOUBLE_EQ(w::transformer_activation_bytes(w::gpt2_124m_shape(), 1, 1024, 2), 89653248.0);
  // b = 4 scales it by 4.
  EXPECT_DOUBLE_EQ(w::transformer_activation_bytes(w::gpt2_124m_shape(), 4, 1024, 2),
                   4 * 89653248.0);
}

TEST(AnalyticWorkloads, ModelStatesAre16BytesPerParameterWithAdam) {
  // ZeRO sec. 3.1: mixed precision Adam = 2 + 2 + 12 = 16 B per parameter; fp32 4 + 4 + 8.
  for (const char* p : {"fp32", "bf16"}) {
    SCOPED_TRACE(p);
    const w::Workload wl = w::analytic_workload("gpt2-124m", opts(1, 1024, p));
    const auto& m = wl.memory;
    EXPECT_DOUBLE_EQ(m.parameter_bytes + m.gradient_bytes + m.optimizer_bytes, 16 * 124439808.0);
    EXPECT_DOUBLE_EQ(wl.gradient_bytes, m.gradient_bytes);
  }
  // SGD with momentum in fp32: 4 + 4 + 4.
  w::AnalyticOptions o = opts(1, 1024, "fp32");
  o.optimizer = "sgd";
  const w::Workload s = w::analytic_workload("gpt2-124m", o);
  EXPECT_DOUBLE_EQ(s.memory.optimizer_bytes, 4 * 124439808.0);
  // GPT-2 fp32, batch 1 x 1024, training: layers at e = 4 (s b h (2 x 4 x 16 + 2) +
  // a s^2 b (2 x 4 + 1) = 786,432 x 66 + 12,582,912 x 9 = 165,150,720 B each, x 12), plus final
  // norm in/out 2 x 786,432 x 4, logits and softmax 2 x 1024 x 50257 x 4, embedding mask 786,432.
  const w::Workload f = w::analytic_workload("gpt2-124m", opts(1, 1024, "fp32"));
  EXPECT_DOUBLE_EQ(f.memory.activation_bytes,
                   12 * 165150720.0 + 2 * 786432.0 * 4 + 2 * 1024.0 * 50257 * 4 + 786432.0);
  EXPECT_DOUBLE_EQ(f.memory.workspace_bytes, 1024.0 * 50257 * 4);
}

TEST(AnalyticWorkloads, Llama3InferenceHoldsTheKvCache) {
  // KV cache: 2 x 32 layers x 8 KV heads x 128 x 2 B = 131,072 B (128 KiB) per token in bf16;
  // 8192 tokens: 1 GiB. Live set of one layer: scores and softmax 2 x 32 x 8192^2 x 2, SwiGLU
  // gate and up 2 x 8192 x 14336 x 2, input and output 2 x 8192 x 4096 x 2, logits
  // 8192 x 128256 x 2.
  const w::Workload wl = w::analytic_workload("llama3-8b", opts(1, 0, "bf16", false));
  const double kv = 131072.0 * 8192;
  const double live = 2 * 32 * 8192.0 * 8192 * 2 + 2 * 8192.0 * 14336 * 2 +
                      2 * 8192.0 * 4096 * 2 + 8192.0 * 128256 * 2;
  EXPECT_DOUBLE_EQ(wl.memory.activation_bytes, kv + live);
  EXPECT_EQ(wl.memory.gradient_bytes, 0);
  EXPECT_EQ(wl.memory.optimizer_bytes, 0);
  EXPECT_DOUBLE_EQ(wl.memory.parameter_bytes, 2 * 8030261248.0);
  for (const auto& o : wl.ops) EXPECT_FALSE(o.backward) << o.name;
  EXPECT_EQ(count_ops(wl, "cross_entropy", false), 0);
}

// ---- bad input -------------------------------------------------------------------------------

TEST(AnalyticWorkloads, BadInputIsRefusedNamingIt) {
  auto message = [](auto f) {
    try {
      f();
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("no exception");
  };
  const std::string name = message([] { w::analytic_workload("gpt3", {}); });
  EXPECT_NE(name.find("'gpt3'"), std::string::npos) << name;
  EXPECT_NE(name.find("gpt2-124m, llama3-8b or resnet50"), std::string::npos) << name;
  const std::string seq = message([] { w::analytic_workload("gpt2-124m", opts(1, 2048, "fp32")); });
  EXPECT_NE(seq.find("2048"), std::string::npos) << seq;
  EXPECT_NE(seq.find("1..1024"), std::string::npos) << seq;
  const std::string batch = message([] { w::analytic_workload("resnet50", opts(0, 0, "fp32")); });
  EXPECT_NE(batch.find("batch 0"), std::string::npos) << batch;
  const std::string prec = message([] { w::analytic_workload("resnet50", opts(1, 0, "fp12")); });
  EXPECT_NE(prec.find("fp12"), std::string::npos) << prec;
  w::AnalyticOptions o = opts(1, 0, "fp32");
  o.optimizer = "lion";
  const std::string opt = message([&] { w::analytic_workload("resnet50", o); });
  EXPECT_NE(opt.find("lion"), std::string::npos) << opt;
  EXPECT_TRUE(w::is_analytic_workload("Llama3-8B"));
  EXPECT_FALSE(w::is_analytic_workload("mlp"));
  EXPECT_EQ(w::analytic_tokens_per_sample("gpt2", {}), 1024);
  EXPECT_EQ(w::analytic_tokens_per_sample("resnet50", {}), 0);
}

// ---- a registry device as a Machine -----------------------------------------------------------

TEST(MachineFromHardware, H100Bf16) {
  const w::Hardware* h = w::find_hardware("h100");
  ASSERT_NE(h, nullptr);
  const w::Machine m = w::machine_from_hardware(*h, "bf16");
  EXPECT_EQ(m.peak_flops_per_s, 989.5e12);
  ASSERT_EQ(m.levels.size(), 1u);  // L2 publishes no bandwidth: left out
  EXPECT_EQ(m.levels[0].name, "HBM3");
  EXPECT_EQ(m.levels[0].bandwidth_bytes_per_s, 3.35e12);
  EXPECT_EQ(m.levels[0].capacity_bytes, 80e9);
  EXPECT_EQ(w::efficiency_for(m.gemm_efficiency, 1e15), 0.5);
  EXPECT_EQ(w::efficiency_for(m.gemm_efficiency, 10), 0.5);
  EXPECT_EQ(m.dispatch_s, 10e-6);
  EXPECT_EQ(m.dispatch_autograd_s, 20e-6);
  EXPECT_EQ(m.beta_bytes_per_s, 450e9);  // 900 GB/s both directions
  EXPECT_EQ(m.alpha_s, 500e-9);
  EXPECT_EQ(w::hardware_memory_capacity(*h), 80e9);

  // A 4096^3 bf16 GEMM: 2 x 4096^3 = 137,438,953,472 FLOP / (989.5 T x 0.5) = 277.8 us; bytes
  // 3 x 4096^2 x 2 = 100,663,296 / 3.35 TB/s = 30.0 us: compute binds; + 10 us dispatch.
  w::OpCost g;
  g.name = "linear";
  g.flops = 2.0 * 4096 * 4096 * 4096;
  g.bytes = 3.0 * 4096 * 4096 * 2;
  g.is_gemm = true;
  const w::OpPrediction p = w::predict_op(m, g, false);
  EXPECT_NEAR(p.compute_s, 137438953472.0 / (989.5e12 * 0.5), 1e-12);
  EXPECT_NEAR(p.memory_s, 100663296.0 / 3.35e12, 1e-12);
  EXPECT_EQ(p.binding_wall, 1);
  EXPECT_NEAR(p.seconds, 277.79e-6 + 10e-6, 0.01e-6);
}

TEST(MachineFromHardware, AssumptionsOverrideAndRingAllReduceUsesTheLink) {
  const w::Hardware* h = w::find_hardware("h100");
  w::HardwareAssumptions a;
  a.gemm_efficiency = 0.25;
  a.dispatch_s = 5e-6;
  const w::Machine m = w::machine_from_hardware(*h, "fp32", a);
  EXPECT_EQ(m.peak_flops_per_s, 67e12);
  EXPECT_EQ(w::efficiency_for(m.gemm_efficiency, 1e9), 0.25);
  EXPECT_EQ(m.dispatch_autograd_s, 10e-6);
  // Wall 14 over 8 H100s, 1 GB of gradients: 2 x 7 x 0.5 us + 2 x 7/8 x 1e9 / 450e9 =
  // 7 us + 3.8889 ms.
  const w::StepPrediction s = w::predict_step(m, {}, 8, 1e9, 0.0);
  EXPECT_NEAR(s.comm_s, 7e-6 + 1.75e9 / 450e9, 1e-9);
  // Raspberry Pi 4: Gigabit Ethernet at 125 MB/s each way, TCP latency 50 us.
  const w::Machine pi = w::machine_from_hardware(*w::find_hardware("rpi4"), "fp32");
  EXPECT_EQ(pi.beta_bytes_per_s, 125e6);
  EXPECT_EQ(pi.alpha_s, 50e-6);
  ASSERT_EQ(pi.levels.size(), 1u);
  EXPECT_EQ(pi.levels[0].name, "LPDDR4");
  // Jetson Orin Nano: no device-to-device link.
  const w::Machine orin = w::machine_from_hardware(*w::find_hardware("orin"), "fp32");
  EXPECT_TRUE(std::isnan(orin.beta_bytes_per_s));
  EXPECT_TRUE(std::isnan(orin.alpha_s));
}

TEST(MachineFromHardware, MissingFiguresAreRefusedNamingThem) {
  auto message = [](const char* dev, const char* precision) {
    try {
      w::machine_from_hardware(*w::find_hardware(dev), precision);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("no exception");
  };
  const std::string pi = message("rpi4", "bf16");
  EXPECT_NE(pi.find("bf16"), std::string::npos) << pi;
  EXPECT_NE(pi.find("fp32"), std::string::npos) << pi;  // lists what it does publish
  const std::string stm = message("stm32h747", "fp32");
  EXPECT_NE(stm.find("memory bandwidth"), std::string::npos) << stm;
  const std::string bad = message("h100", "fp8");
  EXPECT_NE(bad.find("fp8"), std::string::npos) << bad;
  // MCU capacity: the writable levels, not flash (nRF52840: 256 KiB SRAM, 1 MiB flash).
  EXPECT_EQ(w::hardware_memory_capacity(*w::find_hardware("nrf52840")), 256 * 1024.0);
}
