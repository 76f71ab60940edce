// The GRPO loss of one completion (row), shared by the CPU and CUDA kernels of grpoTokenLoss
// (header-only; host and device). Computed in double: the inputs are float32, the sums small.
// Formulas: native/include/gmai/ops/loss.h and test/fixtures/grpo/README.md (TRL v0.26).
#pragma once
#include <math.h>

#include "gmai/ops.h"

#ifdef __CUDACC__
#define GMAI_HD __host__ __device__
#else
#define GMAI_HD
#endif

namespace gmai::grpo {

// Aggregation weight of row b's masked per-token losses in the scalar loss.
GMAI_HD inline double rowWeight(const GrpoTokenLossArgs& a, double rowTokens, double allTokens) {
  const double B = double(a.B), ga = double(a.gradientAccumulationSteps);
  switch (a.lossType) {
    case GrpoLossType::Grpo: case GrpoLossType::Sapo: return 1.0 / (fmax(rowTokens, 1.0) * B * ga);
    case GrpoLossType::Bnpo: return 1.0 / (fmax(allTokens, 1.0) * ga);
    case GrpoLossType::DrGrpo: return 1.0 / (B * double(a.maxCompletionLength) * ga);
    case GrpoLossType::Dapo: case GrpoLossType::Cispo: return 1.0 / double(a.numItems);
  }
  return 0.0;
}

// The policy term ℓ of one ratio ρ (token, or row at sequence level) and ∂ℓ/∂log ρ. For cispo
// the caller multiplies by logp (ℓ = −min(ρ, εhigh)·A·logp; ∂ℓ/∂logp = −min(ρ, εhigh)·A).
struct PolicyTerm { double coef1, coef2, loss, dLogRatio; };
GMAI_HD inline PolicyTerm policyTerm(const GrpoTokenLossArgs& a, double rho, double A) {
  PolicyTerm p;
  const double lo = 1.0 - double(a.epsilonLow), hi = 1.0 + double(a.epsilonHigh);
  p.coef2 = fmin(fmax(rho, lo), hi);
  p.coef1 = rho;
  switch (a.lossType) {
    case GrpoLossType::Cispo:
      p.loss = -fmin(rho, double(a.epsilonHigh)) * A;  // × logp by the caller
      p.dLogRatio = 0.0;                                // the cap is stop-gradient
      break;
    case GrpoLossType::Sapo: {
      const double k = A > 0 ? double(a.sapoTemperaturePos) : double(a.sapoTemperatureNeg);
      const double s = 1.0 / (1.0 + exp(-k * (rho - 1.0)));
      p.loss = -(4.0 / k) * s * A;
      p.dLogRatio = -4.0 * s * (1.0 - s) * A * rho;
      break;
    }
    default: {  // grpo, bnpo, dr_grpo, dapo
      // ∂coef/∂log ρ is ρ where the clamp passes the value through (bounds inclusive, as torch).
      double d1 = rho, d2 = (rho >= lo && rho <= hi) ? rho : 0.0;
      if (a.hasDelta && rho > double(a.delta)) { p.coef1 = double(a.delta); d1 = 0.0; }
      const double l1 = p.coef1 * A, l2 = p.coef2 * A;
      p.loss = -fmin(l1, l2);
      // torch.min's gradient: the smaller side, or half to each on a tie.
      p.dLogRatio = l1 < l2 ? -A * d1 : l1 > l2 ? -A * d2 : -A * 0.5 * (d1 + d2);
    }
  }
  return p;
}

// Row b: writes its per-token outputs and adds its share of every stat to rowStats[].
// allTokens: Σ mask over the whole batch (bnpo's normaliser).
GMAI_HD inline void lossRow(const GrpoTokenLossArgs& a, int64_t b, double allTokens, double* rowStats) {
  const int64_t T = a.T;
  const float* logp = a.logp + b * T;
  const float* old = a.oldLogp ? a.oldLogp + b * T : nullptr;
  const float* ref = a.refLogp ? a.refLogp + b * T : nullptr;
  const float* m = a.mask + b * T;
  const double A = double(a.advantages[b]), beta = double(a.beta);
  const double lo = 1.0 - double(a.epsilonLow), hi = 1.0 + double(a.epsilonHigh);
  for (int s = 0; s < kGrpoStatCount; ++s) rowStats[s] = 0.0;

  double rowTokens = 0.0, rowLogRatio = 0.0;
  for (int64_t t = 0; t < T; ++t) {
    rowTokens += double(m[t]);
    if (old) rowLogRatio += double(m[t]) * (double(logp[t]) - double(old[t]));
  }
  const double w = rowWeight(a, rowTokens, allTokens);
  // Sequence level (GSPO): one ratio for the row from the masked mean log-ratio.
  const double seqLogRatio = rowLogRatio / fmax(rowTokens, 1.0);
  PolicyTerm seq = policyTerm(a, exp(seqLogRatio), A);
  // The row's policy loss enters as Σ_t mask·w·ℓ = w·rowTokens·ℓ; its gradient reaches each
  // token through ∂ mean log-ratio / ∂ logp[t] = mask[t] / max(rowTokens, 1).
  const double dSeqPerToken = a.sequenceLevel ? w * rowTokens * seq.dLogRatio / fmax(rowTokens, 1.0) : 0.0;

  double loss = 0.0;
  for (int64_t t = 0; t < T; ++t) {
    const double lp = double(logp[t]), mt = double(m[t]);
    const double rho = a.sequenceLevel ? exp(seqLogRatio) : (old ? exp(lp - double(old[t])) : 1.0);
    PolicyTerm p = a.sequenceLevel ? seq : policyTerm(a, rho, A);
    double tokenLoss = p.loss, dTokenLogp = 0.0;
    if (a.lossType == GrpoLossType::Cispo) {
      dTokenLogp = p.loss;  // −min(ρ, εhigh)·A
      tokenLoss = p.loss * lp;
    } else if (!a.sequenceLevel) {
      dTokenLogp = p.dLogRatio;  // ∂ log ρ / ∂ logp = 1
    }
    double kl = 0.0;
    if (beta != 0.0) {
      const double d = double(ref[t]) - lp, e = exp(d);
      kl = e - d - 1.0;
      tokenLoss += beta * kl;
      dTokenLogp += beta * (1.0 - e);
    }
    a.perTokenLoss[b * T + t] = float(tokenLoss);
    a.coef1[b * T + t] = float(p.coef1);
    a.coef2[b * T + t] = float(p.coef2);
    a.kl[b * T + t] = float(kl);
    a.dlogp[b * T + t] = float(mt * (w * dTokenLogp + dSeqPerToken));
    loss += mt * w * tokenLoss;
    rowStats[kGrpoKlSum] += mt * kl;
    if (a.entropy) rowStats[kGrpoEntropySum] += mt * double(a.entropy[b * T + t]);
    if (!a.sequenceLevel) {
      const bool low = p.coef1 < lo && A < 0, high = p.coef1 > hi && A > 0;
      rowStats[kGrpoLowClipped] += mt * double(low);
      rowStats[kGrpoHighClipped] += mt * double(high);
      rowStats[kGrpoRegionClipped] += mt * double(low || high);
      rowStats[kGrpoCispoClipped] += mt * double(rho > double(a.epsilonHigh) && A > 0);
    }
  }
  if (a.sequenceLevel) {
    const double rho = exp(seqLogRatio);
    const bool low = seq.coef1 < lo && A < 0, high = seq.coef1 > hi && A > 0;
    rowStats[kGrpoLowClipped] = double(low);
    rowStats[kGrpoHighClipped] = double(high);
    rowStats[kGrpoRegionClipped] = double(low || high);
    rowStats[kGrpoCispoClipped] = double(rho > double(a.epsilonHigh) && A > 0);
    rowStats[kGrpoClipCount] = 1.0;
  } else {
    rowStats[kGrpoClipCount] = rowTokens;
  }
  rowStats[kGrpoLoss] = loss;
  rowStats[kGrpoMaskSum] = rowTokens;
}

GMAI_HD inline double rowTokens(const GrpoTokenLossArgs& a, int64_t b) {
  double s = 0.0;
  for (int64_t t = 0; t < a.T; ++t) s += double(a.mask[b * a.T + t]);
  return s;
}

}  // namespace gmai::grpo
