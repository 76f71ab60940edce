"""Same-run reference timings for `gmai bench gemm`: numpy (BLAS) and torch, fp32.

Usage: gemm_peers.py SHAPES_JSON  where SHAPES_JSON is a JSON list of
  {"M": int, "K": int, "N": int, "transB": bool}
(transB: B stored [N, K] and multiplied as B.T, like a Linear weight).
Prints one JSON object: {"peers": {name: version}, "blas": [threadpoolctl info],
"results": [{"peer", "M", "K", "N", "transB", "ms"}], "unavailable": {name: reason}}.
Thread counts come from the environment (the caller sets OMP/OPENBLAS_NUM_THREADS).
"""
import json
import os
import sys
import time


def median_ms(fn, budget_s=1.0, min_reps=3, max_reps=20):
    fn()  # warm-up (allocations, thread start)
    t = time.perf_counter(); fn(); first = time.perf_counter() - t
    reps = max(min_reps, min(max_reps, int(budget_s / max(first, 1e-9))))
    times = []
    for _ in range(reps):
        t = time.perf_counter(); fn(); times.append(time.perf_counter() - t)
    times.sort()
    return times[len(times) // 2] * 1e3


def main():
    shapes = json.loads(sys.argv[1])
    out = {"peers": {}, "blas": [], "results": [], "unavailable": {}}
    try:
        import numpy as np
        out["peers"]["numpy"] = np.__version__
    except Exception as e:  # noqa: BLE001 - report any import failure
        out["unavailable"]["numpy"] = str(e)
        print(json.dumps(out)); return
    torch = None
    try:
        import torch
        torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
        out["peers"]["torch"] = torch.__version__
    except Exception as e:  # noqa: BLE001
        out["unavailable"]["torch"] = str(e)
    try:
        import threadpoolctl
        out["blas"] = threadpoolctl.threadpool_info()
    except Exception as e:  # noqa: BLE001
        out["unavailable"]["threadpoolctl"] = str(e)

    rng = np.random.default_rng(0)
    for s in shapes:
        M, K, N, tb = s["M"], s["K"], s["N"], bool(s.get("transB"))
        a = rng.standard_normal((M, K), dtype=np.float32)
        b = rng.standard_normal((N, K) if tb else (K, N), dtype=np.float32)
        c = np.empty((M, N), dtype=np.float32)
        bt = b.T if tb else b
        ms = median_ms(lambda: np.matmul(a, bt, out=c))
        out["results"].append({"peer": "numpy", "M": M, "K": K, "N": N, "transB": tb, "ms": ms})
        if torch is not None:
            ta, tbm, tc = torch.from_numpy(a), torch.from_numpy(bt), torch.from_numpy(c)
            with torch.no_grad():
                ms = median_ms(lambda: torch.matmul(ta, tbm, out=tc))
            out["results"].append({"peer": "torch", "M": M, "K": K, "N": N, "transB": tb, "ms": ms})
        print(f"peer {M}x{K}x{N} done", file=sys.stderr, flush=True)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
