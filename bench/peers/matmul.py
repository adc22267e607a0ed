"""NumPy matmul peer for bench/kernels.ts.

usage: python3 matmul.py '<json spec>'
spec: {"mode": "check" | "time", "dir": folder, "cases": [{"name", "batch", "M", "K", "N"}],
       "warmup", "min_reps", "max_reps", "min_ms"}
Case i's operands are the raw little-endian float32 files <dir>/mm<i>.a.f32 [batch?, M, K] and mm<i>.b.f32
[batch?, K, N] that bench/kernels.ts wrote: the same inputs ours multiplies. "check" writes each product to
<dir>/mm<i>.out.f32 (ours compares it with its own before anything is timed); "time" times np.matmul on them.
Thread count comes from OPENBLAS_NUM_THREADS / OMP_NUM_THREADS, which the bench sets before starting us.
Prints one JSON object on the last line of stdout: {"peer": "...", "results": [{"name", "samples_ms"}]}.
"""

import json
import os
import sys

import numpy as np

from timing import bench  # noqa: E402  (sibling module: the script folder is on sys.path)


def blas_name():
    try:
        cfg = np.show_config(mode="dicts")  # numpy >= 1.25
        blas = cfg["Build Dependencies"]["blas"]
        return f"{blas.get('name', 'blas')} {blas.get('version', '')}".strip()
    except Exception:
        return "BLAS"


def operand(path, shape):
    x = np.fromfile(path, dtype="<f4")
    if x.size != int(np.prod(shape)):
        raise SystemExit(f"{path}: {x.size} floats, expected {shape}")
    return x.reshape(shape)


def main():
    spec = json.loads(sys.argv[1])
    results = []
    for i, c in enumerate(spec["cases"]):
        b, m, k, n = c["batch"], c["M"], c["K"], c["N"]
        lead = [b] if b > 1 else []
        a = operand(os.path.join(spec["dir"], f"mm{i}.a.f32"), [*lead, m, k])
        w = operand(os.path.join(spec["dir"], f"mm{i}.b.f32"), [*lead, k, n])
        if spec["mode"] == "check":
            np.matmul(a, w).astype("<f4").tofile(os.path.join(spec["dir"], f"mm{i}.out.f32"))
            results.append({"name": c["name"], "samples_ms": []})
        else:
            samples = bench(lambda: np.matmul(a, w), spec["warmup"], spec["min_reps"], spec["max_reps"], spec["min_ms"])
            results.append({"name": c["name"], "samples_ms": samples})
    threads = os.environ.get("OPENBLAS_NUM_THREADS", "?")
    peer = f"numpy {np.__version__} ({blas_name()}, {threads} threads)"
    print(json.dumps({"peer": peer, "results": results}))


if __name__ == "__main__":
    main()
