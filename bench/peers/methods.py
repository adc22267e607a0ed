"""PyTorch CPU peer for the "methods" section of bench/run.ts (bench/methods.ts): four interpretability methods on
the GPT-2-small-shaped model of bench/peers/gpt2_model.py (the same safetensors file), written the way one writes
them with PyTorch and TransformerLens-style hook points.

usage: python3 methods.py '<json spec>'
spec: {"mode": "check" | "time", "method": "ig" | "patch" | "shap" | "attr",
       "weights": path, "config": the HF config.json object, "threads": n, "out": path of a raw f64 file ("check"),
       "reps": timed repetitions ("time"), plus the method's inputs (below)}
"check" runs the method once and writes its result (little-endian float64) to `out`; "time" runs a warm-up forward
+ backward, then the method `reps` times, and reports the samples in ms. Prints one JSON object on the last line.

The model: nn.Modules with HookPoints (nn.Identity, as in TransformerLens) at hook_embed, blocks.l.hook_resid_pre
and blocks.l.attn.hook_z; hooks are torch's own register_forward_hook, installed per method and removed after.
Each method reads the last position only, so its forwards unembed that position alone (logits_to_keep=1), as ours do.

  ig     integrated gradients at the token embeddings (Captum's LayerIntegratedGradients on the embedding
         layer): the interpolation points α_k (given, with their weights) run `batch` at a time as rows, the
         embedding hook returning x' + α (x − x'), one autograd.grad per batch of Σ_rows log p(target | last pos);
         scores Σ_d (x − x') · Σ_k w_k grad_k; plus the forward at the input and at the baseline (zero)
  patch  activation patching of the residual stream before each block, denoising: for each layer, the positions
         `batch` at a time as rows of corrupted runs whose blocks.l.hook_resid_pre hook writes the clean run's
         residual at row r's position; every run goes through all layers (a forward hook cannot skip the layers
         below the patch); metric: logit[answer] − logit[foil] at the last position; output the raw [layer, pos]
         metrics
  shap   KernelSHAP's value function on the given keep-masks (the first two: all kept, all masked; the rest the
         coalitions), `batch` masked inputs per forward, log p(target | position) in float64; then the same
         least squares as ours with efficiency imposed by eliminating the last feature; output the scores
  attr   attribution patching over every head's z: the clean run caching z, the corrupted run caching z with a
         tensor hook capturing ∂metric/∂z, one backward; (clean − corrupted) · grad summed over pos and d_head,
         divided by (clean metric − corrupted metric); output the [layer, head] grid
"""

import json
import os
import struct
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from gpt2_model import GPT2, read_safetensors  # noqa: E402  (sibling module: the script folder is on sys.path)


class HookPoint(nn.Identity):
    """TransformerLens's HookPoint: an identity module whose forward hooks read or replace the activation."""


class HookedGPT2(nn.Module):
    def __init__(self, w, cfg):
        super().__init__()
        self.m = GPT2(w, cfg)  # its weights, conv1d and attention arithmetic
        L = self.m.L
        self.hook_embed = HookPoint()
        self.hook_resid_pre = nn.ModuleList([HookPoint() for _ in range(L)])
        self.hook_z = nn.ModuleList([HookPoint() for _ in range(L)])

    def attn(self, l, p, x):
        m = self.m
        B, T, D = x.shape
        H, Dh = m.H, m.Dh
        q, k, v = m.conv1d(x, p["attn.c_attn.weight"], p["attn.c_attn.bias"]).split(D, dim=2)
        q = q.view(B, T, H, Dh).permute(0, 2, 1, 3)  # [batch, head, pos, d_head]
        k = k.view(B, T, H, Dh).permute(0, 2, 1, 3)
        v = v.view(B, T, H, Dh).permute(0, 2, 1, 3)
        w = torch.matmul(q, k.transpose(-1, -2)) / (Dh**0.5)  # [batch, head, pos, key_pos]
        w = torch.where(m.causal[:, :, :T, :T], w, torch.tensor(torch.finfo(w.dtype).min, dtype=w.dtype))
        w = F.softmax(w, dim=-1)
        z = self.hook_z[l](torch.matmul(w, v).permute(0, 2, 1, 3))  # [batch, pos, head, d_head]
        z = z.reshape(B, T, D)
        return m.conv1d(z, p["attn.c_proj.weight"], p["attn.c_proj.bias"])

    def forward(self, ids, last_only=False):
        """ids [batch, pos] → logits [batch, pos, d_vocab]; with last_only, [batch, 1, d_vocab] (transformers'
        logits_to_keep=1), for methods that read the last position only, as ours then do."""
        m = self.m
        B, T = ids.shape
        x = self.hook_embed(m.wte[ids]) + m.wpe[:T].unsqueeze(0)  # [batch, pos, d_model]
        for l, p in enumerate(m.blocks):
            x = self.hook_resid_pre[l](x)
            h = F.layer_norm(x, (m.D,), p["ln_1.weight"], p["ln_1.bias"], m.eps)
            x = x + self.attn(l, p, h)
            h = F.layer_norm(x, (m.D,), p["ln_2.weight"], p["ln_2.bias"], m.eps)
            a = F.gelu(m.conv1d(h, p["mlp.c_fc.weight"], p["mlp.c_fc.bias"]), approximate="tanh")
            x = x + m.conv1d(a, p["mlp.c_proj.weight"], p["mlp.c_proj.bias"])
        if last_only:
            x = x[:, -1:, :]  # [batch, 1, d_model]
        x = F.layer_norm(x, (m.D,), m.w["ln_f.weight"], m.w["ln_f.bias"], m.eps)
        return F.linear(x, m.wte)  # [batch, pos or 1, d_vocab]


class hooks:
    """`with hooks([(module, fn), ...]):` forward hooks installed for the block, removed after (even on error)."""

    def __init__(self, pairs):
        self.pairs = pairs
        self.handles = []

    def __enter__(self):
        self.handles = [mod.register_forward_hook(fn) for mod, fn in self.pairs]

    def __exit__(self, *exc):
        for h in self.handles:
            h.remove()


def cache_into(store, key):
    def fn(_mod, _inp, out):
        store[key] = out.detach()

    return fn


# ---------------------------------------------------------------- the methods


def integrated_gradients(model, s):
    """Per-position scores (float64 [pos]), f(input), f(baseline)."""
    ids = torch.tensor([s["ids"]], dtype=torch.long)  # [1, pos]
    target, pos = s["target"], s["position"]
    alphas, weights, batch = s["alphas"], s["alpha_weights"], s["batch"]
    with torch.no_grad():
        x = model.m.wte[ids]  # [1, pos, d_model]: the input at hook_embed
    base = torch.zeros_like(x)  # the zero baseline
    diff = x.double() - base.double()
    avg = torch.zeros_like(diff)  # Σ_k w_k ∂f/∂x(x' + α_k (x − x'))
    for start in range(0, len(alphas), batch):
        a = torch.tensor(alphas[start : start + batch], dtype=torch.float64).view(-1, 1, 1)
        k = a.shape[0]
        path = (base.double() + a * diff).float().requires_grad_()  # [k, pos, d_model]
        with hooks([(model.hook_embed, lambda _m, _i, _o: path)]):
            logits = model(ids.expand(k, -1), last_only=True)  # [k, 1, d_vocab]: pos is the last position
        f = torch.log_softmax(logits[:, -1, :], dim=-1)[:, target].sum()
        (g,) = torch.autograd.grad(f, path)
        wk = torch.tensor(weights[start : start + batch], dtype=torch.float64).view(-1, 1, 1)
        avg += (wk * g.double()).sum(0, keepdim=True)
    scores = (diff * avg).sum(-1)[0]  # [pos]
    with torch.no_grad():
        f_in = float(torch.log_softmax(model(ids, last_only=True)[0, -1].double(), -1)[target])
        with hooks([(model.hook_embed, lambda _m, _i, o: torch.zeros_like(o))]):
            f_base = float(torch.log_softmax(model(ids, last_only=True)[0, -1].double(), -1)[target])
    return scores, f_in, f_base


def patch_resid(model, s):
    """The raw metric grid [layer, pos] (float64) of denoising the residual stream before each block."""
    clean = torch.tensor([s["clean"]], dtype=torch.long)
    corrupt = torch.tensor([s["corrupted"]], dtype=torch.long)
    answer, foil, batch = s["answer"], s["foil"], s["batch"]
    L, P = model.m.L, clean.shape[1]
    metric = lambda logits: (logits[:, -1, answer] - logits[:, -1, foil]).double()  # noqa: E731
    with torch.inference_mode():
        cache = {}
        with hooks([(model.hook_resid_pre[l], cache_into(cache, l)) for l in range(L)]):
            clean_m = float(metric(model(clean, last_only=True))[0])
        corrupt_m = float(metric(model(corrupt, last_only=True))[0])
        grid = torch.zeros((L, P), dtype=torch.float64)
        for l in range(L):
            src = cache[l][0]  # [pos, d_model]
            for start in range(0, P, batch):
                cells = list(range(start, min(P, start + batch)))
                rows = torch.arange(len(cells))

                def patch(_m, _i, out, cells=cells, rows=rows, src=src):
                    out = out.clone()
                    out[rows, cells] = src[cells]
                    return out

                with hooks([(model.hook_resid_pre[l], patch)]):
                    grid[l, start : start + len(cells)] = metric(model(corrupt.expand(len(cells), -1), last_only=True))
    return grid, clean_m, corrupt_m


def shap(model, s):
    """KernelSHAP scores (float64 [pos]) from the value function on the given masks."""
    ids = torch.tensor(s["ids"], dtype=torch.long)  # [pos]
    n = ids.shape[0]
    masks = torch.tensor([[c == "1" for c in m] for m in s["masks"]], dtype=torch.bool)  # [samples + 2, pos]
    target, pos, batch, repl = s["target"], s["position"], s["batch"], s["replacement"]

    def value(ms):
        out = []
        for start in range(0, ms.shape[0], batch):
            m = ms[start : start + batch]
            rows = torch.where(m, ids.unsqueeze(0), torch.full_like(ids, repl).unsqueeze(0))  # [k, pos]
            logits = model(rows, last_only=True)  # [k, 1, d_vocab]: pos is the last position
            out.append(torch.log_softmax(logits[:, -1, :].double(), dim=-1)[:, target])
        return torch.cat(out)

    with torch.inference_mode():
        full, empty = value(masks[:2]).tolist()  # as ours: all kept and all masked first
        fz = value(masks[2:])
    z = masks[2:].double()
    gap = full - empty
    X = z[:, : n - 1] - z[:, n - 1 :]  # efficiency imposed: φ_n = gap − Σ φ_i
    y = fz - empty - z[:, n - 1] * gap
    head = torch.linalg.solve(X.T @ X, X.T @ y)  # the least squares' normal equations, every weight 1
    return torch.cat([head, (gap - head.sum()).view(1)])


def attribution_patching(model, s):
    """The [layer, head] grid (float64) of (clean − corrupted z) · ∂metric/∂z over pos and d_head, ÷ the span."""
    clean = torch.tensor([s["clean"]], dtype=torch.long)
    corrupt = torch.tensor([s["corrupted"]], dtype=torch.long)
    answer, foil = s["answer"], s["foil"]
    L = model.m.L
    with torch.inference_mode():
        zc = {}
        with hooks([(model.hook_z[l], cache_into(zc, l)) for l in range(L)]):
            logits = model(clean, last_only=True)
        clean_m = float(logits[0, -1, answer] - logits[0, -1, foil])
    zx, gz = {}, {}

    def keep(l):
        def fn(_m, _i, out):
            zx[l] = out.detach()
            out.register_hook(lambda g: gz.__setitem__(l, g))

        return fn

    # the weights need no gradient: the token embeddings are made to require one, so that z does
    grad_in = [(model.hook_embed, lambda _m, _i, o: o.requires_grad_())]
    with torch.enable_grad(), hooks(grad_in + [(model.hook_z[l], keep(l)) for l in range(L)]):
        logits = model(corrupt, last_only=True)
        metric = logits[0, -1, answer] - logits[0, -1, foil]
        metric.backward()
    span = clean_m - float(metric)
    grid = torch.stack([((zc[l] - zx[l]) * gz[l]).double().sum((0, 1, 3)) for l in range(L)]) / span  # [layer, head]
    return grid


def flat_with(t, *extra):
    return torch.cat([t.flatten().double(), torch.tensor(extra, dtype=torch.float64)])


METHODS = {
    # [scores..., f(input), f(baseline)]
    "ig": lambda model, s: flat_with(*integrated_gradients(model, s)),
    # [raw grid (layer-major)..., clean metric, corrupted metric]
    "patch": lambda model, s: flat_with(*patch_resid(model, s)),
    "shap": shap,
    "attr": attribution_patching,
}


def main():
    spec = json.loads(sys.argv[1])
    torch.set_num_threads(spec["threads"])
    w = read_safetensors(spec["weights"])
    model = HookedGPT2(w, spec["config"])
    blas = os.environ.get("OPENBLAS_NUM_THREADS", "?")
    peer = f"torch {torch.__version__} CPU ({torch.get_num_threads()} threads, OPENBLAS_NUM_THREADS={blas})"
    fn = METHODS[spec["method"]]
    if spec["mode"] == "check":
        t0 = time.perf_counter()
        out = fn(model, spec).double().contiguous()
        ms = (time.perf_counter() - t0) * 1e3
        with open(spec["out"], "wb") as f:
            f.write(struct.pack(f"<{out.numel()}d", *out.flatten().tolist()))
        print(json.dumps({"peer": peer, "shape": list(out.shape), "check_ms": ms}))
        return
    # warm-up: one forward + backward at the prompt's length (the allocator, the thread pool)
    ids = torch.tensor([spec.get("ids") or spec["clean"]], dtype=torch.long)
    emb = model.m.wte[ids].clone().requires_grad_()
    with hooks([(model.hook_embed, lambda _m, _i, _o: emb)]):
        model(ids)[0, -1, 0].backward()
    samples = []
    for _ in range(spec["reps"]):
        t0 = time.perf_counter()
        fn(model, spec)
        samples.append((time.perf_counter() - t0) * 1e3)
    print(json.dumps({"peer": peer, "samples_ms": samples}))


if __name__ == "__main__":
    main()
