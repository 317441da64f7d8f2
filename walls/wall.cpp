// The wall table (see wall.h). Profile keys are the names calibrate/ writes (p.set({...}));
// "_1t" variants of each key exist too and feed the same wall for one thread.
#include "walls/wall.h"

#include <stdexcept>
#include <string>

namespace bstack::walls {

const std::vector<WallInfo>& walls() {
  static const std::vector<WallInfo> table = {
      {1, "Compute", "node", "T = OPs / (Peak x eta)", "peak FLOP/s of one device",
       "Williams, Waterman & Patterson 2009, Roofline, CACM 52(4)", "walls/node.h",
       {"peak_flops_fp32", "peak_flops_fp64", "peak_ops_int8", "gemm_flops_fp32",
        "gemm_efficiency_fp32", "gpu_gemm_flops_fp32", "gpu_gemm_flops_tf32",
        "gpu_gemm_flops_fp16", "gpu_gemm_flops_bf16"}},
      {2, "Memory", "node", "T = |W| / BW", "bandwidth and capacity of the memory level the working set lives in",
       "Williams, Waterman & Patterson 2009, Roofline, CACM 52(4); McCalpin 1995, STREAM",
       "walls/node.h",
       {"l1_triad_bytes_per_s", "l2_triad_bytes_per_s", "l3_triad_bytes_per_s",
        "dram_triad_bytes_per_s", "dram_triad_nt_bytes_per_s", "l1d_bytes", "l2_bytes", "l3_bytes",
        "gpu_dram_copy_bytes_per_s", "gpu_memory_bytes"}},
      {3, "Software", "node", "eta = achieved / peak",
       "kernel efficiency, occupancy and framework overhead between peak and achieved",
       "Chowdhery et al. 2022, PaLM, app. B (MFU); He 2022, Making deep learning go brrrr",
       "walls/node.h",
       {"gemm_efficiency_fp32", "peak_fraction_fp32", "dispatch_s", "dispatch_autograd_s",
        "gpu_launch_latency_s"}},
      {4, "Serving", "node", "TTFT = OPs_prefill / Peak; ITL = |W| / BW",
       "compute-bound prefill, memory-bound decode",
       "Pope et al. 2022, Efficiently scaling transformer inference, arXiv:2211.05102",
       "walls/node.h",
       {"gemm_flops_fp32", "gpu_gemm_flops_fp16", "gpu_gemm_flops_bf16", "dram_triad_bytes_per_s",
        "gpu_dram_copy_bytes_per_s"}},
      {5, "Batching", "node", "KV = 2 x L x H x D x ceil(S/p) x p x B x b",
       "KV-cache memory, with paging, bounds the batch",
       "Kwon et al. 2023, PagedAttention (vLLM), SOSP", "walls/node.h",
       {"gpu_memory_bytes"}},
      {6, "Streaming", "node", "T_layer = max(|W| / BW_inject, 2|W|B / (Peak x eta))",
       "weight streaming over an injection link",
       "Cerebras Systems, Weight streaming execution (white paper); Williams et al. 2009",
       "walls/node.h",
       {"gpu_h2d_bytes_per_s", "gpu_gemm_flops_fp16", "gpu_gemm_flops_bf16", "gemm_flops_fp32"}},
      {7, "Tail latency", "node", "Erlang-C M/M/c queue",
       "P99 grows non-linearly as utilisation approaches 1",
       "Kleinrock 1975, Queueing Systems vol. 1, sec. 3.5 (Erlang C); Dean & Barroso 2013, The "
       "tail at scale, CACM 56(2)",
       "walls/node.h", {}},
      {8, "Ingestion", "data", "rho = BW_demand / BW_supply",
       "storage must feed the device (rho > 1 starves it)",
       "Mohan et al. 2021, Analyzing and mitigating data stalls in DNN training, PVLDB 14(5)",
       "walls/data.h", {"file_read_bytes_per_s", "file_read_cached_bytes_per_s"}},
      {9, "Transformation", "data", "T = B x S / C_throughput", "CPU preprocessing rate",
       "Murray et al. 2021, tf.data, PVLDB 14(12)", "walls/data.h",
       {"loader_samples_per_s", "loader_decode_samples_per_s", "loader_batch_samples_per_s",
        "loader_text_samples_per_s"}},
      {10, "Locality", "data", "BW_eff = BW_link x beta / oversubscription",
       "topology and bisection bandwidth",
       "Leiserson 1985, Fat-trees; Dally & Towles 2004, Principles and practices of "
       "interconnection networks; Al-Fares et al. 2008, SIGCOMM",
       "walls/data.h", {"p2p_bandwidth_bytes_per_s", "p2p_beta_bytes_per_s", "beta_bytes_per_s"}},
      {11, "Complexity", "algorithm", "C = 6PD; P* = sqrt(C/120)",
       "compute-optimal training (D = 20P)",
       "Kaplan et al. 2020, arXiv:2001.08361 (C = 6PD); Hoffmann et al. 2022, Chinchilla, "
       "arXiv:2203.15556 (D = 20P)",
       "walls/algorithm.h", {"gemm_flops_fp32", "gpu_gemm_flops_bf16"}},
      {12, "Reasoning", "algorithm", "T = K x T_step",
       "inference-time compute over K reasoning steps",
       "Wei et al. 2022, Chain-of-thought prompting, NeurIPS; Snell et al. 2024, "
       "arXiv:2408.03314",
       "walls/algorithm.h", {"dram_triad_bytes_per_s", "gpu_dram_copy_bytes_per_s"}},
      {13, "Fidelity", "algorithm", "r = 32/b (quantisation); r = 1/(1-s) (pruning)",
       "compression ratio against accuracy",
       "Han, Mao & Dally 2016, Deep compression, ICLR; Gholami et al. 2021, arXiv:2103.13630",
       "walls/algorithm.h", {"peak_ops_int8", "peak_flops_fp32"}},
      {14, "Communication", "fleet", "T = 2(N-1)/N x M/beta + 2(N-1) alpha", "ring all-reduce",
       "Hockney 1994, Parallel Computing 20(3); Patarasuk & Yuan 2009, JPDC 69(2); Thakur, "
       "Rabenseifner & Gropp 2005, IJHPCA 19(1); nccl-tests PERFORMANCE.md",
       "walls/communication.h",
       {"alpha_s", "beta_bytes_per_s", "p2p_alpha_s", "p2p_beta_bytes_per_s",
        "allreduce_busbw_bytes_per_s", "gpu_nccl_allreduce_latency_s"}},
      {15, "Fragility", "fleet", "MTBF_cluster = MTBF_node / N; tau = sqrt(2 delta M)",
       "failures at scale and the checkpoint interval",
       "Young 1974, A first order approximation to the optimum checkpoint interval, CACM "
       "17(9); Daly 2006, FGCS 22(3)",
       "walls/fleet.h", {"file_write_bytes_per_s"}},
      {16, "Multi-tenant", "fleet", "T_wait = rho / (2 mu (1 - rho))", "queueing in a shared cluster",
       "Kleinrock 1975, Queueing Systems vol. 1, ch. 5 (Pollaczek-Khinchine, M/G/1); Little "
       "1961, Operations Research 9(3)",
       "walls/fleet.h", {}},
      {17, "Capital", "operations", "TCO = CapEx + OpEx", "total cost of ownership",
       "Barroso, Hoelzle & Ranganathan 2018, The datacenter as a computer, 3rd ed., ch. 6",
       "walls/operations.h", {"power_package_fma_w", "power_package_idle_w"}},
      {18, "Sustainability", "operations", "CO2 = E x PUE x CI", "energy to carbon",
       "Patterson et al. 2021, Carbon emissions and large neural network training, "
       "arXiv:2104.10350; MLSysBook, Sustainable AI chapter",
       "walls/operations.h",
       {"power_package_fma_w", "power_package_stream_w", "power_package_idle_w"}},
      {19, "Checkpoint", "operations", "MFU penalty = T_write / T_interval",
       "checkpoint writes stall training (Adam: ~14 B/parameter)",
       "Eisenman et al. 2022, Check-N-Run, NSDI; Rajbhandari et al. 2020, ZeRO, SC",
       "walls/operations.h", {"file_write_bytes_per_s"}},
      {20, "Safety", "operations", "sigma ~ 1/epsilon",
       "DP-SGD noise and its compute overhead",
       "Abadi et al. 2016, Deep learning with differential privacy, CCS, Theorem 1 (c2 = 1)",
       "walls/operations.h", {"gemm_flops_fp32"}},
      {21, "Sensitivity", "analysis", "dT/dx_i", "which hardware parameter binds",
       "Williams et al. 2009 (binding roof); Saltelli et al. 2008, Global sensitivity analysis: "
       "the primer (local elasticities)",
       "walls/analysis.h", {}},
      {22, "Synthesis", "analysis", "BW_req = |W| / T_target",
       "inverse roofline: the hardware an SLA needs",
       "Williams, Waterman & Patterson 2009, Roofline, read backwards (MLSys-im SynthesisSolver)",
       "walls/analysis.h", {"peak_flops_fp32", "dram_triad_bytes_per_s"}},
  };
  return table;
}

const WallInfo& wall(int n) {
  const auto& t = walls();
  if (n < 1 || n > static_cast<int>(t.size()))
    throw std::out_of_range("walls::wall: no wall " + std::to_string(n) + " (walls are 1..22)");
  return t[static_cast<size_t>(n - 1)];
}

}  // namespace bstack::walls
