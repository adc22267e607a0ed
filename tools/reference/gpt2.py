#!/usr/bin/env python3
"""Independent PyTorch reference for GPT-2 (Hugging Face transformers' modeling_gpt2.py, GPT2LMHeadModel).

Usage: /usr/bin/python3 tools/reference/gpt2.py <model_folder> <out.safetensors>

Writes the decoder golden that common.py describes: the float64 logits, every TransformerLens hook activation
under its TL name, the gradient of the summed target log-probabilities with respect to hook_embed, and that loss.
See tools/reference/README.md.
"""

import math
from functools import partial

import torch
import torch.nn.functional as F

from common import decoder_inputs, decoder_metadata, gelu_new, golden_tensors, layer_norm_tl, load_weights, read_args
from common import report, run_decoder_reference, write_golden

# ——— the model ———

ACT = {
    "gelu_new": gelu_new,
    "gelu_pytorch_tanh": gelu_new,
    "gelu_fast": gelu_new,
    "gelu": lambda x: F.gelu(x),
    "relu": torch.relu,
}


class Config:
    def __init__(self, cfg):
        self.d = cfg.get("n_embd", cfg.get("hidden_size"))
        self.n_heads = cfg.get("n_head", cfg.get("num_attention_heads"))
        self.n_layers = cfg.get("n_layer", cfg.get("num_hidden_layers"))
        self.n_positions = cfg.get("n_positions", cfg.get("max_position_embeddings"))
        inner = cfg.get("n_inner")
        self.d_mlp = inner if inner is not None else 4 * self.d
        self.eps = cfg.get("layer_norm_epsilon", 1e-5)
        self.act = cfg.get("activation_function", "gelu_new")
        if self.act not in ACT:
            raise SystemExit(f"unsupported activation_function {self.act!r}")
        self.scale_attn_weights = cfg.get("scale_attn_weights", True)
        self.scale_by_inverse_layer_idx = cfg.get("scale_attn_by_inverse_layer_idx", False)
        self.tie = cfg.get("tie_word_embeddings", True)
        if self.d % self.n_heads != 0:
            raise SystemExit(f"n_embd {self.d} is not divisible by n_head {self.n_heads}")
        self.d_head = self.d // self.n_heads


def forward(cfg, w, ids, dtype, embed_leaf=False):
    """TL-style forward that records every hook. Returns (logits, hooks, embed)."""
    W = {k: v.to(dtype) for k, v in w.items()}
    hooks = {}
    B, T = ids.shape
    H, Dh = cfg.n_heads, cfg.d_head
    embed = W["wte.weight"][ids]
    if embed_leaf:
        embed = embed.detach().clone().requires_grad_(True)
    hooks["hook_embed"] = embed
    pos = W["wpe.weight"][torch.arange(T)].unsqueeze(0).expand(B, T, cfg.d)
    hooks["hook_pos_embed"] = pos
    resid = embed + pos
    causal = torch.tril(torch.ones(T, T, dtype=torch.bool))
    for L in range(cfg.n_layers):
        p = f"h.{L}"
        b = f"blocks.{L}"
        hooks[f"{b}.hook_resid_pre"] = resid
        x = layer_norm_tl(resid, W[f"{p}.ln_1.weight"], W[f"{p}.ln_1.bias"], cfg.eps, hooks, f"{b}.ln1")
        qkv = x @ W[f"{p}.attn.c_attn.weight"] + W[f"{p}.attn.c_attn.bias"]  # Conv1D: [in, out]
        q, k, v = qkv.split(cfg.d, dim=2)
        q, k, v = (t.view(B, T, H, Dh) for t in (q, k, v))
        hooks[f"{b}.attn.hook_q"] = q
        hooks[f"{b}.attn.hook_k"] = k
        hooks[f"{b}.attn.hook_v"] = v
        qh, kh, vh = (t.transpose(1, 2) for t in (q, k, v))  # [B, H, T, Dh]
        scores = qh @ kh.transpose(-1, -2)
        if cfg.scale_attn_weights:
            scores = scores / math.sqrt(Dh)
        if cfg.scale_by_inverse_layer_idx:
            scores = scores / float(L + 1)
        scores = scores.masked_fill(~causal, float("-inf"))  # TL: IGNORE = -inf; HF: finfo.min (same softmax)
        hooks[f"{b}.attn.hook_attn_scores"] = scores
        pattern = torch.softmax(scores, dim=-1)
        hooks[f"{b}.attn.hook_pattern"] = pattern
        z = (pattern @ vh).transpose(1, 2)  # [B, T, H, Dh]
        hooks[f"{b}.attn.hook_z"] = z
        attn_out = z.reshape(B, T, cfg.d) @ W[f"{p}.attn.c_proj.weight"] + W[f"{p}.attn.c_proj.bias"]
        hooks[f"{b}.hook_attn_out"] = attn_out
        resid = resid + attn_out
        hooks[f"{b}.hook_resid_mid"] = resid
        x = layer_norm_tl(resid, W[f"{p}.ln_2.weight"], W[f"{p}.ln_2.bias"], cfg.eps, hooks, f"{b}.ln2")
        pre = x @ W[f"{p}.mlp.c_fc.weight"] + W[f"{p}.mlp.c_fc.bias"]
        hooks[f"{b}.mlp.hook_pre"] = pre
        post = ACT[cfg.act](pre)
        hooks[f"{b}.mlp.hook_post"] = post
        mlp_out = post @ W[f"{p}.mlp.c_proj.weight"] + W[f"{p}.mlp.c_proj.bias"]
        hooks[f"{b}.hook_mlp_out"] = mlp_out
        resid = resid + mlp_out
        hooks[f"{b}.hook_resid_post"] = resid
    x = layer_norm_tl(resid, W["ln_f.weight"], W["ln_f.bias"], cfg.eps, hooks, "ln_final")
    unembed = W["wte.weight"] if cfg.tie or "lm_head.weight" not in W else W["lm_head.weight"]
    logits = x @ unembed.T
    return logits, hooks, embed


def forward_hf(cfg, w, ids, dtype):
    """A second, literal transcription of HF GPT2LMHeadModel (F.layer_norm, finfo.min mask, _split_heads
    via permute) used only to cross-check the hooked forward above."""
    W = {k: v.to(dtype) for k, v in w.items()}
    B, T = ids.shape
    H, Dh = cfg.n_heads, cfg.d_head
    h = W["wte.weight"][ids] + W["wpe.weight"][torch.arange(T).unsqueeze(0)]
    bias = torch.tril(torch.ones(T, T, dtype=torch.bool)).view(1, 1, T, T)

    def split(t):
        return t.view(t.size()[:-1] + (H, Dh)).permute(0, 2, 1, 3)

    for L in range(cfg.n_layers):
        p = f"h.{L}"
        r = h
        h = F.layer_norm(h, (cfg.d,), W[f"{p}.ln_1.weight"], W[f"{p}.ln_1.bias"], cfg.eps)
        size_out = h.size()[:-1] + (3 * cfg.d,)
        qkv = torch.addmm(W[f"{p}.attn.c_attn.bias"], h.view(-1, cfg.d), W[f"{p}.attn.c_attn.weight"]).view(size_out)
        q, k, v = (split(t) for t in qkv.split(cfg.d, dim=2))
        a = torch.matmul(q, k.transpose(-1, -2))
        if cfg.scale_attn_weights:
            a = a / torch.full([], v.size(-1) ** 0.5, dtype=a.dtype)
        if cfg.scale_by_inverse_layer_idx:
            a = a / float(L + 1)
        a = torch.where(bias, a, torch.full([], torch.finfo(a.dtype).min, dtype=a.dtype))
        a = F.softmax(a, dim=-1)
        o = torch.matmul(a, v).permute(0, 2, 1, 3).contiguous()
        o = o.view(o.size()[:-2] + (cfg.d,))
        o = torch.addmm(W[f"{p}.attn.c_proj.bias"], o.view(-1, cfg.d), W[f"{p}.attn.c_proj.weight"]).view(B, T, cfg.d)
        h = r + o
        r = h
        h = F.layer_norm(h, (cfg.d,), W[f"{p}.ln_2.weight"], W[f"{p}.ln_2.bias"], cfg.eps)
        m = torch.addmm(W[f"{p}.mlp.c_fc.bias"], h.view(-1, cfg.d), W[f"{p}.mlp.c_fc.weight"]).view(B, T, cfg.d_mlp)
        m = ACT[cfg.act](m)
        m = torch.addmm(W[f"{p}.mlp.c_proj.bias"], m.view(-1, cfg.d_mlp), W[f"{p}.mlp.c_proj.weight"]).view(B, T, cfg.d)
        h = r + m
    h = F.layer_norm(h, (cfg.d,), W["ln_f.weight"], W["ln_f.bias"], cfg.eps)
    unembed = W["wte.weight"] if cfg.tie or "lm_head.weight" not in W else W["lm_head.weight"]
    return F.linear(h, unembed)


def main():
    folder, out_path, config = read_args("gpt2.py")
    cfg = Config(config)
    # GPT2LMHeadModel.save_pretrained writes `transformer.…`; the original gpt2 checkpoint has bare names.
    w = load_weights(folder, "transformer.")
    ids, targets = decoder_inputs(w["wte.weight"].shape[0])
    if ids.shape[1] > cfg.n_positions:
        raise SystemExit(f"sequence length {ids.shape[1]} exceeds n_positions {cfg.n_positions}")

    torch.manual_seed(0)
    ref = run_decoder_reference(partial(forward, cfg, w, ids), partial(forward_hf, cfg, w, ids), targets)
    write_golden(out_path, golden_tensors(ref, "grad.hook_embed"), decoder_metadata("gpt2.py", ref))
    report(ref)


if __name__ == "__main__":
    main()
