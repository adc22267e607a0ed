#!/usr/bin/env python3
"""Independent PyTorch reference for GPT-NeoX / Pythia (Hugging Face transformers' modeling_gpt_neox.py,
GPTNeoXForCausalLM).

Usage: /usr/bin/python3 tools/reference/gpt_neox.py <model_folder> <out.safetensors>

Reads <model_folder>/config.json and <model_folder>/model.safetensors (parsed by hand: no transformers, no
safetensors package), runs the model on fixed input ids in float64 and float32, and writes a safetensors file
(F32) with the float64 logits, every TransformerLens hook activation under its TL name, the gradient of the
summed target log-probabilities with respect to hook_embed, and that loss. Two variants of the same weights
follow, each with the same tensors under a prefix: `sequential.` (use_parallel_residual = false, when the config
is parallel) and `rotary_dim_4.` (4 rotary dims per head, when the config rotates fewer: with 2 the rotate-half
and interleaved pairings coincide and the base plays no part). See tools/reference/gpt_neox.md.
"""

import copy
import json
import math
import sys

import torch
import torch.nn.functional as F

# the by-hand safetensors reader and writer live next to this script
from gpt2 import read_safetensors, write_safetensors

INPUT_IDS = [[3, 17, 42, 5, 99, 7, 250, 11]]
TARGETS = [17, 42, 5, 99, 7, 250, 11, 3]


def gelu_erf(x):
    # transformers.activations.GELUActivation: exact GELU
    return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))


def gelu_new(x):
    # transformers.activations.NewGELUActivation
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


ACT = {"gelu": gelu_erf, "gelu_new": gelu_new, "gelu_pytorch_tanh": gelu_new, "relu": torch.relu, "silu": F.silu}


class Config:
    def __init__(self, cfg):
        self.d = cfg["hidden_size"]
        self.n_heads = cfg["num_attention_heads"]
        self.n_layers = cfg["num_hidden_layers"]
        self.d_mlp = cfg["intermediate_size"]
        self.eps = cfg.get("layer_norm_eps", 1e-5)
        self.act = cfg.get("hidden_act", "gelu")
        if self.act not in ACT:
            raise SystemExit(f"unsupported hidden_act {self.act!r}")
        # newer transformers rename rotary_pct → partial_rotary_factor and rotary_emb_base → rope_theta
        pct = cfg.get("rotary_pct", cfg.get("partial_rotary_factor", 0.25))
        self.base = cfg.get("rotary_emb_base", cfg.get("rope_theta", 10000))
        if cfg.get("rope_scaling") is not None:
            raise SystemExit("rope_scaling is not supported by this reference")
        self.parallel = cfg.get("use_parallel_residual", True)
        self.tie = cfg.get("tie_word_embeddings", False)
        self.bias = cfg.get("attention_bias", True)
        if self.d % self.n_heads != 0:
            raise SystemExit(f"hidden_size {self.d} is not divisible by num_attention_heads {self.n_heads}")
        self.d_head = self.d // self.n_heads
        self.rotary = int(self.d_head * pct)  # GPTNeoXAttention.rotary_ndims


def load_weights(folder):
    raw = read_safetensors(f"{folder}/model.safetensors")
    w = {}
    for name, t in raw.items():
        # GPTNeoXForCausalLM.save_pretrained writes the body as `gpt_neox.…` and `embed_out.weight` bare
        w[name[len("gpt_neox.") :] if name.startswith("gpt_neox.") else name] = t
    return w


def layer_norm_tl(x, weight, bias, eps, hooks, prefix):
    """TransformerLens LayerNorm (unfolded): hook_scale = sqrt(var + eps) of the centered input."""
    x = x - x.mean(-1, keepdim=True)
    scale = (x.pow(2).mean(-1, keepdim=True) + eps).sqrt()
    hooks[f"{prefix}.hook_scale"] = scale
    out = x / scale * weight + bias
    hooks[f"{prefix}.hook_normalized"] = out
    return out


def rotary_tl(x, positions, R, base):
    """x [B, T, H, Dh]: the first R dims of each head rotated in (i, i + R/2) pairs, the rest unchanged
    (TransformerLens's apply_rotary, GPT-NeoX's rotate-half convention)."""
    dtype = x.dtype
    inv = 1.0 / (base ** (torch.arange(0, R, 2, dtype=dtype) / R))  # [R/2]
    ang = positions.to(dtype)[:, None] * inv[None, :]  # [T, R/2]
    cos, sin = ang.cos()[None, :, None, :], ang.sin()[None, :, None, :]  # [1, T, 1, R/2]
    x1, x2, rest = x[..., : R // 2], x[..., R // 2 : R], x[..., R:]
    return torch.cat((x1 * cos - x2 * sin, x2 * cos + x1 * sin, rest), dim=-1)


def forward(cfg, w, ids, dtype, parallel, embed_leaf=False):
    """TL-style forward that records every hook. Returns (logits, hooks, embed)."""
    W = {k: v.to(dtype) for k, v in w.items()}
    hooks = {}
    B, T = ids.shape
    H, Dh = cfg.n_heads, cfg.d_head
    positions = torch.arange(T)
    embed = W["embed_in.weight"][ids]
    if embed_leaf:
        embed = embed.detach().clone().requires_grad_(True)
    hooks["hook_embed"] = embed
    resid = embed
    causal = torch.tril(torch.ones(T, T, dtype=torch.bool))

    def lin(x, name):
        y = x @ W[f"{name}.weight"].T  # torch Linear: [out, in]
        return y + W[f"{name}.bias"] if f"{name}.bias" in W else y

    for L in range(cfg.n_layers):
        p = f"layers.{L}"
        b = f"blocks.{L}"
        hooks[f"{b}.hook_resid_pre"] = resid
        ln1_w, ln1_b = W[f"{p}.input_layernorm.weight"], W[f"{p}.input_layernorm.bias"]
        ln1 = layer_norm_tl(resid, ln1_w, ln1_b, cfg.eps, hooks, f"{b}.ln1")
        # query_key_value rows are grouped [head, (q, k, v), Dh]
        qkv = lin(ln1, f"{p}.attention.query_key_value").reshape(B, T, H, 3, Dh)
        q, k, v = qkv[:, :, :, 0], qkv[:, :, :, 1], qkv[:, :, :, 2]
        hooks[f"{b}.attn.hook_q"] = q
        hooks[f"{b}.attn.hook_k"] = k
        hooks[f"{b}.attn.hook_v"] = v
        q = rotary_tl(q, positions, cfg.rotary, cfg.base)
        k = rotary_tl(k, positions, cfg.rotary, cfg.base)
        hooks[f"{b}.attn.hook_rot_q"] = q
        hooks[f"{b}.attn.hook_rot_k"] = k
        scores = torch.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(Dh)
        scores = scores.masked_fill(~causal, float("-inf"))  # TL: IGNORE = -inf; HF: finfo.min (same softmax)
        hooks[f"{b}.attn.hook_attn_scores"] = scores
        pattern = torch.softmax(scores, dim=-1)
        hooks[f"{b}.attn.hook_pattern"] = pattern
        z = torch.einsum("bhqk,bkhd->bqhd", pattern, v)
        hooks[f"{b}.attn.hook_z"] = z
        attn_out = lin(z.reshape(B, T, H * Dh), f"{p}.attention.dense")
        hooks[f"{b}.hook_attn_out"] = attn_out
        if parallel:
            mlp_in = resid  # TL has no hook_resid_mid here: the sum is never formed
        else:
            mlp_in = resid + attn_out
            hooks[f"{b}.hook_resid_mid"] = mlp_in
        ln2_w, ln2_b = W[f"{p}.post_attention_layernorm.weight"], W[f"{p}.post_attention_layernorm.bias"]
        ln2 = layer_norm_tl(mlp_in, ln2_w, ln2_b, cfg.eps, hooks, f"{b}.ln2")
        pre = lin(ln2, f"{p}.mlp.dense_h_to_4h")
        hooks[f"{b}.mlp.hook_pre"] = pre
        post = ACT[cfg.act](pre)
        hooks[f"{b}.mlp.hook_post"] = post
        mlp_out = lin(post, f"{p}.mlp.dense_4h_to_h")
        hooks[f"{b}.hook_mlp_out"] = mlp_out
        resid = (resid + attn_out + mlp_out) if parallel else (mlp_in + mlp_out)
        hooks[f"{b}.hook_resid_post"] = resid
    x = layer_norm_tl(resid, W["final_layer_norm.weight"], W["final_layer_norm.bias"], cfg.eps, hooks, "ln_final")
    unembed = W["embed_in.weight"] if cfg.tie or "embed_out.weight" not in W else W["embed_out.weight"]
    logits = x @ unembed.T
    return logits, hooks, embed


def forward_hf(cfg, w, ids, dtype, parallel):
    """A second, literal transcription of HF GPTNeoXForCausalLM (eager attention: F.layer_norm, F.linear,
    qkv.view(B, T, H, 3·Dh), GPTNeoXRotaryEmbedding's cat(freqs, freqs) cache with rotate_half, baddbmm with
    norm_factor, finfo.min mask, F.gelu) used only to cross-check the hooked forward above."""
    W = {k: v.to(dtype) for k, v in w.items()}
    B, T = ids.shape
    H, Dh, R = cfg.n_heads, cfg.d_head, cfg.rotary
    position_ids = torch.arange(T).unsqueeze(0)
    inv_freq = 1.0 / (cfg.base ** (torch.arange(0, R, 2, dtype=torch.int64).to(dtype) / R))
    freqs = torch.outer(torch.arange(T, dtype=torch.int64).to(dtype), inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)
    cos_cached, sin_cached = emb.cos(), emb.sin()
    bias = torch.tril(torch.ones(T, T, dtype=torch.bool)).view(1, 1, T, T)
    norm_factor = Dh**-0.5

    def linear(x, name):
        return F.linear(x, W[f"{name}.weight"], W.get(f"{name}.bias"))

    def rotate_half(x):
        x1 = x[..., : x.shape[-1] // 2]
        x2 = x[..., x.shape[-1] // 2 :]
        return torch.cat((-x2, x1), dim=-1)

    def attention(hidden, p):
        qkv = linear(hidden, f"{p}.attention.query_key_value")
        qkv = qkv.view(*(qkv.size()[:-1] + (H, 3 * Dh)))
        query = qkv[..., :Dh].permute(0, 2, 1, 3)
        key = qkv[..., Dh : 2 * Dh].permute(0, 2, 1, 3)
        value = qkv[..., 2 * Dh :].permute(0, 2, 1, 3)
        cos = cos_cached[position_ids].unsqueeze(1)
        sin = sin_cached[position_ids].unsqueeze(1)
        q_rot, q_pass = query[..., :R], query[..., R:]
        k_rot, k_pass = key[..., :R], key[..., R:]
        query = torch.cat(((q_rot * cos) + (rotate_half(q_rot) * sin), q_pass), dim=-1)
        key = torch.cat(((k_rot * cos) + (rotate_half(k_rot) * sin), k_pass), dim=-1)
        scores = torch.zeros(B * H, T, T, dtype=dtype)
        scores = torch.baddbmm(
            scores, query.reshape(B * H, T, Dh), key.reshape(B * H, T, Dh).transpose(1, 2), beta=1.0, alpha=norm_factor
        ).view(B, H, T, T)
        scores = torch.where(bias, scores, torch.tensor(torch.finfo(dtype).min, dtype=dtype))
        weights = F.softmax(scores, dim=-1)
        out = torch.matmul(weights, value).permute(0, 2, 1, 3).contiguous().view(B, T, H * Dh)
        return linear(out, f"{p}.attention.dense")

    act = F.gelu if cfg.act == "gelu" else ACT[cfg.act]  # ACT2FN["gelu"] is GELUActivation: F.gelu

    def mlp(hidden, p):
        return linear(act(linear(hidden, f"{p}.mlp.dense_h_to_4h")), f"{p}.mlp.dense_4h_to_h")

    def ln(x, name):
        return F.layer_norm(x, (cfg.d,), W[f"{name}.weight"], W[f"{name}.bias"], cfg.eps)

    h = F.embedding(ids, W["embed_in.weight"])
    for L in range(cfg.n_layers):
        p = f"layers.{L}"
        attn_output = attention(ln(h, f"{p}.input_layernorm"), p)
        if parallel:
            mlp_output = mlp(ln(h, f"{p}.post_attention_layernorm"), p)
            h = mlp_output + attn_output + h
        else:
            attn_output = attn_output + h
            mlp_output = mlp(ln(attn_output, f"{p}.post_attention_layernorm"), p)
            h = mlp_output + attn_output
    h = ln(h, "final_layer_norm")
    unembed = W["embed_in.weight"] if cfg.tie or "embed_out.weight" not in W else W["embed_out.weight"]
    return F.linear(h, unembed)


def reference(cfg, w, ids, targets):
    """float64 hooks, logits, embedding gradient and loss, cross-checked against the HF transcription."""
    parallel = cfg.parallel
    logits, hooks, embed = forward(cfg, w, ids, torch.float64, parallel, embed_leaf=True)
    logp = torch.log_softmax(logits, dim=-1)
    loss = logp[0, torch.arange(len(TARGETS)), targets].sum()
    loss.backward()
    with torch.no_grad():
        hf64 = forward_hf(cfg, w, ids, torch.float64, parallel)
        cross = (hf64 - logits.detach()).abs().max().item()
        if not cross < 1e-10:
            raise SystemExit(f"parallel={parallel}: hooked forward and HF transcription disagree in float64: {cross}")
        logits32, _, _ = forward(cfg, w, ids, torch.float32, parallel)
        hf32 = forward_hf(cfg, w, ids, torch.float32, parallel)
        f32_diff = (logits32.double() - logits.detach()).abs().max().item()
        hf32_diff = (hf32.double() - logits.detach()).abs().max().item()
    tensors = {"logits": logits}
    tensors.update(hooks)
    tensors["grad.hook_embed"] = embed.grad
    tensors["loss"] = loss.reshape(1)
    mode = f"{'parallel' if parallel else 'sequential'}, rotary dims {cfg.rotary}"
    print(f"[{mode}] loss (sum of target log-probs, float64) = {loss.item()!r}")
    print(f"[{mode}] max |logits f32 - f64| hooked = {f32_diff:.3e}, HF transcription f32 = {hf32_diff:.3e}")
    print(f"[{mode}] max |logits hooked f64 - HF transcription f64| = {cross:.3e}")
    return tensors, f32_diff


def main():
    if len(sys.argv) != 3:
        raise SystemExit("usage: gpt_neox.py <model_folder> <out.safetensors>")
    folder, out_path = sys.argv[1], sys.argv[2]
    with open(f"{folder}/config.json") as f:
        cfg = Config(json.load(f))
    w = load_weights(folder)
    vocab = w["embed_in.weight"].shape[0]
    ids = torch.tensor(INPUT_IDS, dtype=torch.long)
    targets = torch.tensor(TARGETS, dtype=torch.long)
    if int(ids.max()) >= vocab or int(targets.max()) >= vocab:
        raise SystemExit(f"input ids / targets must be < vocab size {vocab}")

    torch.manual_seed(0)
    tensors, f32_diff = reference(cfg, w, ids, targets)
    metadata = {
        "input_ids": json.dumps(INPUT_IDS, separators=(",", ":")),
        "targets": json.dumps(TARGETS, separators=(",", ":")),
        "reference": f"tools/reference/gpt_neox.py (PyTorch {torch.__version__}, float64)",
        "use_parallel_residual": json.dumps(cfg.parallel),
        "rotary_dim": json.dumps(cfg.rotary),
        "f32_vs_f64_max_abs_logits": repr(f32_diff),
    }
    variants = []
    if cfg.parallel:
        variants.append(("sequential.", {"parallel": False}))
    if cfg.rotary < 4 <= cfg.d_head:
        variants.append(("rotary_dim_4.", {"rotary": 4}))
    for prefix, overrides in variants:
        vcfg = copy.copy(cfg)
        vars(vcfg).update(overrides)
        vt, v_f32_diff = reference(vcfg, w, ids, targets)
        tensors.update({prefix + k: v for k, v in vt.items()})
        metadata[f"{prefix}f32_vs_f64_max_abs_logits"] = repr(v_f32_diff)
    write_safetensors(out_path, tensors, metadata)
    print(f"wrote {out_path}: {len(tensors)} tensors")


if __name__ == "__main__":
    main()
