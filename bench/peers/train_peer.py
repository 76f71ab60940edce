#!/usr/bin/env python3
"""PyTorch peer of `gmai bench train`: the same Qwen2-style decoder training step in torch.

The decoder is built from plain torch modules (no transformers): token embedding, per layer
RMSNorm -> GQA attention (q/k/v with bias, rotary embedding in Qwen2's rotate-half layout,
causal softmax, o without bias) -> residual -> RMSNorm -> SwiGLU MLP -> residual, final RMSNorm,
lm_head (tied to the embedding with --tied). The loss is the mean cross-entropy of the
completion tokens (the last `--completion` tokens of each sequence; logits are computed for
those rows only, as the fused log-prob stage of ours does), then loss.backward(),
clip_grad_norm_(1.0) and torch.optim.AdamW. float32, torch.set_num_threads(--threads).

It stays running so that the Node side can alternate rounds with its own: after building and
warming up it prints {"ready": ...}; each stdin line "steps K" runs K timed steps and prints one
JSON line with the per-step forward / backward / optimizer times in ms; "quit" (or EOF) exits.
Progress goes to stderr; stdout carries only the JSON lines.
"""
import argparse
import json
import math
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--hidden', type=int, default=256)
    ap.add_argument('--layers', type=int, default=4)
    ap.add_argument('--heads', type=int, default=4)
    ap.add_argument('--kv-heads', type=int, default=2)
    ap.add_argument('--intermediate', type=int, default=688)
    ap.add_argument('--vocab', type=int, default=4096)
    ap.add_argument('--batch', type=int, default=8)
    ap.add_argument('--seq', type=int, default=256)
    ap.add_argument('--completion', type=int, default=128)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--rope-theta', type=float, default=1e6)
    ap.add_argument('--eps', type=float, default=1e-6)
    ap.add_argument('--tied', action='store_true')
    ap.add_argument('--warmup', type=int, default=2)
    args = ap.parse_args()

    try:
        import torch
        import torch.nn as nn
        import torch.nn.functional as F
    except ImportError as e:
        print(json.dumps({'error': f'torch unavailable: {e}'}), flush=True)
        return 3

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    H, nh, nkv = args.hidden, args.heads, args.kv_heads
    hd = H // nh

    class RMSNorm(nn.Module):
        def __init__(self, n):
            super().__init__()
            self.weight = nn.Parameter(torch.ones(n))

        def forward(self, x):
            return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + args.eps) * self.weight

    def rotate_half(x):
        x1, x2 = x[..., : hd // 2], x[..., hd // 2:]
        return torch.cat((-x2, x1), dim=-1)

    class Attention(nn.Module):
        def __init__(self):
            super().__init__()
            self.q_proj = nn.Linear(H, nh * hd, bias=True)
            self.k_proj = nn.Linear(H, nkv * hd, bias=True)
            self.v_proj = nn.Linear(H, nkv * hd, bias=True)
            self.o_proj = nn.Linear(nh * hd, H, bias=False)

        def forward(self, x, cos, sin, mask):
            B, S, _ = x.shape
            q = self.q_proj(x).view(B, S, nh, hd).transpose(1, 2)
            k = self.k_proj(x).view(B, S, nkv, hd).transpose(1, 2)
            v = self.v_proj(x).view(B, S, nkv, hd).transpose(1, 2)
            q = q * cos + rotate_half(q) * sin
            k = k * cos + rotate_half(k) * sin
            k = k.repeat_interleave(nh // nkv, dim=1)
            v = v.repeat_interleave(nh // nkv, dim=1)
            scores = (q @ k.transpose(-1, -2)) / math.sqrt(hd) + mask
            p = torch.softmax(scores, dim=-1)
            o = (p @ v).transpose(1, 2).reshape(B, S, nh * hd)
            return self.o_proj(o)

    class Layer(nn.Module):
        def __init__(self):
            super().__init__()
            self.input_layernorm = RMSNorm(H)
            self.self_attn = Attention()
            self.post_attention_layernorm = RMSNorm(H)
            self.gate_proj = nn.Linear(H, args.intermediate, bias=False)
            self.up_proj = nn.Linear(H, args.intermediate, bias=False)
            self.down_proj = nn.Linear(args.intermediate, H, bias=False)

        def forward(self, x, cos, sin, mask):
            x = x + self.self_attn(self.input_layernorm(x), cos, sin, mask)
            h = self.post_attention_layernorm(x)
            return x + self.down_proj(F.silu(self.gate_proj(h)) * self.up_proj(h))

    class Decoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed_tokens = nn.Embedding(args.vocab, H)
            self.layers = nn.ModuleList([Layer() for _ in range(args.layers)])
            self.norm = RMSNorm(H)
            self.lm_head = nn.Linear(H, args.vocab, bias=False)
            if args.tied:
                self.lm_head.weight = self.embed_tokens.weight

        def forward(self, ids, first, cos, sin, mask):
            x = self.embed_tokens(ids)
            for layer in self.layers:
                x = layer(x, cos, sin, mask)
            # Row r predicts token r + 1: logits only for the rows that predict completion tokens.
            return self.lm_head(self.norm(x[:, first - 1: -1]))

    S, C, B = args.seq, args.completion, args.batch
    first = S - C
    model = Decoder()
    nn.init.normal_(model.embed_tokens.weight, std=0.02)  # HF's initializer_range (torch's N(0, 1) gives huge tied logits)
    params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5, weight_decay=0.01)
    ids = torch.randint(0, args.vocab, (B, S))
    targets = ids[:, first:].reshape(-1)
    inv = 1.0 / (args.rope_theta ** (torch.arange(0, hd, 2, dtype=torch.float32) / hd))
    freqs = torch.outer(torch.arange(S, dtype=torch.float32), inv)
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos()[None, None], emb.sin()[None, None]
    mask = torch.full((S, S), float('-inf')).triu(1)[None, None]

    def step():
        t0 = time.perf_counter()
        logits = model(ids, first, cos, sin, mask)
        loss = F.cross_entropy(logits.reshape(-1, args.vocab), targets)
        t1 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        t2 = time.perf_counter()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        t3 = time.perf_counter()
        return {'forwardMs': 1e3 * (t1 - t0), 'backwardMs': 1e3 * (t2 - t1), 'optimizerMs': 1e3 * (t3 - t2), 'loss': loss.item()}

    print(f'torch {torch.__version__}: {params} parameters, warming up', file=sys.stderr, flush=True)
    for _ in range(args.warmup):
        step()
    print(json.dumps({'ready': True, 'torch': torch.__version__, 'threads': torch.get_num_threads(), 'params': params}), flush=True)
    for line in sys.stdin:
        cmd = line.split()
        if not cmd or cmd[0] == 'quit':
            break
        if cmd[0] == 'steps':
            print(json.dumps({'steps': [step() for _ in range(int(cmd[1]))]}), flush=True)
        else:
            print(json.dumps({'error': f'unknown command {line.strip()}'}), flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
