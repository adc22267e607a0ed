"""PyTorch CPU peer for the transformer block of packages/tensor/examples/block.ts.

usage: python3 block.py <case.json> '<json spec>'
spec: {"mode": "check" | "time", "threads", "warmup", "min_reps", "max_reps", "min_ms"}
Loads the weights, inputs and our reference results that saveBlockCase wrote and runs the same block in
float32. "check" compares the output, loss and gradients with ours (bench/kernels.ts judges the differences
before anything is timed); "time" times forward (no_grad) and forward + backward.
Prints one JSON object on the last line of stdout.
"""

import json
import math
import os
import sys
import time

import torch
import torch.nn.functional as F

from timing import bench  # noqa: E402  (sibling module: the script folder is on sys.path)


def load(path):
    with open(path) as f:
        man = json.load(f)
    with open(path[: -len(".json")] + ".bin", "rb") as f:
        raw = bytearray(f.read())
    flat = torch.frombuffer(raw, dtype=torch.float32)
    ts = {t["name"]: flat[t["offset"] : t["offset"] + t["size"]].reshape(t["shape"]).clone() for t in man["tensors"]}
    return man, ts


def block(p, x, cfg):
    B, T, D = x.shape
    H = cfg["nHeads"]
    Dh = D // H
    eps = cfg["eps"]
    h1 = F.layer_norm(x, (D,), p["ln1_w"], p["ln1_b"], eps)
    qkv = torch.matmul(h1, p["w_qkv"]) + p["b_qkv"]  # [batch, pos, 3*d_model]
    q, k, v = qkv.view(B, T, 3, H, Dh).permute(2, 0, 3, 1, 4).unbind(0)  # [batch, head, pos, d_head] each
    scores = torch.matmul(q, k.transpose(-1, -2)) * (1.0 / math.sqrt(Dh))  # [batch, head, pos, pos]
    causal = torch.ones(T, T, dtype=torch.bool).triu(1)
    pattern = torch.softmax(scores.masked_fill(causal, float("-inf")), dim=-1)
    z = torch.matmul(pattern, v)  # [batch, head, pos, d_head]
    attn_out = torch.matmul(z.permute(0, 2, 1, 3).reshape(B, T, D), p["w_o"]) + p["b_o"]
    resid_mid = x + attn_out
    h2 = F.layer_norm(resid_mid, (D,), p["ln2_w"], p["ln2_b"], eps)
    post = F.gelu(torch.matmul(h2, p["w_in"]) + p["b_in"], approximate="tanh")
    return resid_mid + torch.matmul(post, p["w_out"]) + p["b_out"]




def rel_err(got, want):
    return (got - want).abs().max().item() / max(want.abs().max().item(), 1e-30)


def main():
    man, ts = load(sys.argv[1])
    spec = json.loads(sys.argv[2])
    torch.set_num_threads(spec["threads"])
    cfg = man["config"]
    names = [n[len("param.") :] for n in ts if n.startswith("param.")]
    params = {n: ts["param." + n] for n in names}
    x, R = ts["input.x"], ts["input.R"]

    xg = x.clone().requires_grad_(True)
    pg = {n: t.clone().requires_grad_(True) for n, t in params.items()}
    blas = os.environ.get("OPENBLAS_NUM_THREADS", "?")
    peer = f"torch {torch.__version__} CPU ({torch.get_num_threads()} threads, OPENBLAS_NUM_THREADS={blas})"

    if spec["mode"] == "time":

        def fwd():
            with torch.no_grad():
                block(params, x, cfg)

        def fwd_bwd():
            loss = (block(pg, xg, cfg) * R).sum()
            torch.autograd.grad(loss, [xg, *pg.values()])

        fwd_samples = bench(fwd, spec["warmup"], spec["min_reps"], spec["max_reps"], spec["min_ms"])
        bwd_samples = bench(fwd_bwd, spec["warmup"], spec["min_reps"], spec["max_reps"], spec["min_ms"])
        print(json.dumps({"peer": peer, "forward_samples_ms": fwd_samples, "fwd_bwd_samples_ms": bwd_samples}))
        return

    # correctness: the same output, loss and gradients as ours
    out = block(pg, xg, cfg)
    loss = (out * R).sum()
    grads = torch.autograd.grad(loss, [xg, *pg.values()])
    check = {"loss": loss.item(), "ours_loss": man["loss"], "loss_scale": (out * R).abs().sum().item()}
    if "ref.resid_post" in ts:
        check["resid_post_rel_err"] = rel_err(out.detach(), ts["ref.resid_post"])
        errs = {"x": rel_err(grads[0], ts["ref.grad.x"])}
        for n, g in zip(names, grads[1:]):
            errs[n] = rel_err(g, ts["ref.grad." + n])
        worst = max(errs, key=errs.get)
        check["grad_rel_err_max"] = errs[worst]
        check["grad_rel_err_worst"] = worst

    print(json.dumps({"peer": peer, **check}))


if __name__ == "__main__":
    main()
