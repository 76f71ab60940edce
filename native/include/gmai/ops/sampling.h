#pragma once
// Next-token sampling over a batch of rows: logits [rows, vocab] float32 -> one token id per
// row plus two log-probabilities of that token. See docs/sampling.md for the semantics.
//
// Per row, in this order (Hugging Face generate's order; penalties as vLLM applies them):
//   1. repetition penalty (HF): for every id in the row's history, logit > 0 ? logit / p : logit * p
//   2. frequency and presence penalties (OpenAI): logit -= count * frequency + (count > 0) * presence
//   3. temperature: logit / T; T == 0 means greedy argmax (ties -> lowest id), no draw
//   4. top-k (k > 0): keep logits >= the k-th largest (ties at the boundary are kept, as HF)
//   5. top-p (p < 1): keep the most likely tokens until the mass before a token reaches p
//   6. min-p (m > 0): keep tokens whose probability is >= m * the top probability
// then one draw u = Philox(seed; stream, step) in [0, 1) by inverse CDF over the kept tokens
// in a fixed order: ids ascending, except that the bucket where top-p cuts comes last, in
// descending logit order (ids ascending among ties).
namespace gmai {

enum class SampleStatus : int32_t { Ok = 0, NanLogit = 1, PosInfLogit = 2, AllMasked = 3 };

struct SampleArgs {
  int64_t rows = 0, vocab = 0;
  const float* logits = nullptr;  // [rows, vocab]

  // Per-row parameters, [rows] each (the addon expands shared values).
  const float* temperature = nullptr;        // >= 0; 0 = greedy
  const int32_t* topK = nullptr;             // 0 = off
  const float* topP = nullptr;               // (0, 1]; 1 = off
  const float* minP = nullptr;               // [0, 1]; 0 = off
  const float* repetitionPenalty = nullptr;  // > 0; 1 = off
  const float* presencePenalty = nullptr;    // 0 = off
  const float* frequencyPenalty = nullptr;   // 0 = off
  const uint64_t* seed = nullptr;            // Philox key
  const uint64_t* stream = nullptr;          // sequence id: stable across batch compositions
  const uint64_t* step = nullptr;            // decode step of that sequence

  // Penalty history as CSR over rows: row r owns entries [historyOffsets[r], historyOffsets[r+1]).
  // Each entry is a distinct token id and how often it occurs in the generated output. Every
  // listed id gets the repetition penalty (prompt-only ids are listed with count 0); presence
  // and frequency penalties use the count. historyOffsets == nullptr means no history.
  const int32_t* historyOffsets = nullptr;  // [rows + 1]
  const int32_t* historyIds = nullptr;
  const int32_t* historyCounts = nullptr;

  // Outputs, [rows] each.
  int32_t* tokens = nullptr;
  float* logprobs = nullptr;     // log-prob under the distribution actually sampled (0 if greedy)
  float* rawLogprobs = nullptr;  // log_softmax(raw logits)[token]: the unprocessed policy
  int32_t* status = nullptr;     // SampleStatus per row; outputs of a bad row are unspecified
};
// op `sample` (listed in gmai/ops.h)

}  // namespace gmai
