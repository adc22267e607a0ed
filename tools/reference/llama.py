#!/usr/bin/env python3
"""Independent PyTorch reference for the Llama family (Hugging Face transformers' modeling_llama.py,
modeling_mistral.py, modeling_qwen2.py: LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM).

Usage: /usr/bin/python3 tools/reference/llama.py <model_folder> <out.safetensors>

Writes the decoder golden that common.py describes, with the checkpoint's `model_type` in its metadata.
See tools/reference/README.md.
"""

import math
from functools import partial

import torch
import torch.nn.functional as F

from common import decoder_inputs, decoder_metadata, golden_tensors, load_weights, read_args, report, rotate_half
from common import run_decoder_reference, write_golden

# transformers.activations.ACT2FN for the names Llama-family configs use
ACT = {
    "silu": F.silu,
    "swish": F.silu,
    "gelu": lambda x: F.gelu(x),
    "gelu_pytorch_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "relu": torch.relu,
}


class Config:
    def __init__(self, cfg):
        self.model_type = cfg["model_type"]
        if self.model_type not in ("llama", "mistral", "qwen2"):
            raise SystemExit(f"unsupported model_type {self.model_type!r}")
        self.d = cfg["hidden_size"]
        self.n_layers = cfg["num_hidden_layers"]
        self.n_heads = cfg["num_attention_heads"]
        self.n_kv_heads = cfg.get("num_key_value_heads") or self.n_heads
        self.d_head = cfg.get("head_dim") or self.d // self.n_heads
        self.d_mlp = cfg["intermediate_size"]
        self.eps = cfg.get("rms_norm_eps", 1e-6)
        self.theta = cfg.get("rope_theta", 10000.0)
        self.rope_scaling = cfg.get("rope_scaling")
        self.act = cfg.get("hidden_act", "silu")
        if self.act not in ACT:
            raise SystemExit(f"unsupported hidden_act {self.act!r}")
        self.tie = cfg.get("tie_word_embeddings", False)
        if cfg.get("pretraining_tp", 1) != 1:
            raise SystemExit("pretraining_tp != 1 is not transcribed")
        # LlamaAttention: attention_bias on q, k, v and o; Qwen2Attention: q, k, v always, o never; Mistral: none
        if self.model_type == "llama":
            self.qkv_bias = self.o_bias = cfg.get("attention_bias", False)
            self.mlp_bias = cfg.get("mlp_bias", False)
        else:
            self.qkv_bias = self.model_type == "qwen2"
            self.o_bias = False
            self.mlp_bias = False
        # the sliding window each layer uses (None: full causal attention)
        window = [None] * self.n_layers
        if self.model_type == "mistral" and cfg.get("sliding_window") is not None:
            window = [cfg["sliding_window"]] * self.n_layers
        if self.model_type == "qwen2" and cfg.get("use_sliding_window", False):
            first = cfg.get("max_window_layers", 28)
            window = [cfg["sliding_window"] if L >= first else None for L in range(self.n_layers)]
        self.window = window
        if self.n_heads % self.n_kv_heads != 0:
            raise SystemExit(f"num_attention_heads {self.n_heads} is not a multiple of num_key_value_heads "
                             f"{self.n_kv_heads}")


def load_checked_weights(folder, cfg):
    # save_pretrained writes `model.…` for the decoder and a bare `lm_head.weight`
    w = load_weights(folder, "model.")
    expected = {"embed_tokens.weight", "norm.weight"}
    if not cfg.tie:
        expected.add("lm_head.weight")
    for L in range(cfg.n_layers):
        p = f"layers.{L}"
        expected |= {f"{p}.input_layernorm.weight", f"{p}.post_attention_layernorm.weight"}
        for x in ("q", "k", "v", "o"):
            expected.add(f"{p}.self_attn.{x}_proj.weight")
            if (cfg.o_bias if x == "o" else cfg.qkv_bias):
                expected.add(f"{p}.self_attn.{x}_proj.bias")
        for x in ("gate", "up", "down"):
            expected.add(f"{p}.mlp.{x}_proj.weight")
            if cfg.mlp_bias:
                expected.add(f"{p}.mlp.{x}_proj.bias")
    # transformers would warn about missing / unexpected keys and initialise randomly; a reference must not
    missing = sorted(expected - set(w))
    unexpected = sorted(set(w) - expected - {"lm_head.weight"})
    if missing or unexpected:
        raise SystemExit(f"checkpoint does not match config: missing {missing}, unexpected {unexpected}")
    return w


# ——— rotary frequencies (modeling_rope_utils.py) ———


def inv_frequencies(cfg, dtype):
    """_compute_default_rope_parameters and the scalings Llama configs use, in `dtype` (transformers: float32)."""
    dim = cfg.d_head
    inv = 1.0 / (cfg.theta ** (torch.arange(0, dim, 2, dtype=torch.int64).to(dtype) / dim))
    s = cfg.rope_scaling
    kind = None if s is None else s.get("rope_type", s.get("type"))
    if kind in (None, "default"):
        return inv
    if kind == "linear":
        return inv / s["factor"]  # _compute_linear_scaling_rope_parameters
    if kind == "llama3":
        # _compute_llama3_parameters
        factor = s["factor"]
        low_freq_factor = s["low_freq_factor"]
        high_freq_factor = s["high_freq_factor"]
        old_context_len = s["original_max_position_embeddings"]
        low_freq_wavelen = old_context_len / low_freq_factor
        high_freq_wavelen = old_context_len / high_freq_factor
        wavelen = 2 * math.pi / inv
        inv_llama = torch.where(wavelen > low_freq_wavelen, inv / factor, inv)
        smooth = (old_context_len / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor)
        smoothed = (1 - smooth) * inv_llama / factor + smooth * inv_llama
        is_medium = ~(wavelen < high_freq_wavelen) * ~(wavelen > low_freq_wavelen)
        return torch.where(is_medium, smoothed, inv_llama)
    raise SystemExit(f"unsupported rope_scaling type {kind!r}")


def attention_mask(T, window):
    """[T, T] bool, True where query i may read key j: causal, and i - j < window (masking_utils' sliding overlay)."""
    i = torch.arange(T).unsqueeze(1)
    j = torch.arange(T).unsqueeze(0)
    ok = j <= i
    if window is not None:
        ok = ok & (i - j < window)
    return ok


# ——— the hooked forward (TransformerLens names) ———


def rms_norm_tl(x, weight, eps, hooks, prefix):
    """TransformerLens RMSNorm: hook_scale = sqrt(mean(x²) + eps), hook_normalized = x / scale · weight."""
    scale = (x.pow(2).mean(-1, keepdim=True) + eps).sqrt()
    hooks[f"{prefix}.hook_scale"] = scale
    out = x / scale * weight
    hooks[f"{prefix}.hook_normalized"] = out
    return out


def forward(cfg, w, ids, dtype, embed_leaf=False):
    """TL-style forward that records every hook. Returns (logits, hooks, embed)."""
    W = {k: v.to(dtype) for k, v in w.items()}
    hooks = {}
    B, T = ids.shape
    H, Hkv, Dh = cfg.n_heads, cfg.n_kv_heads, cfg.d_head
    group = H // Hkv
    inv = inv_frequencies(cfg, dtype)
    angles = torch.arange(T, dtype=dtype).unsqueeze(1) * inv.unsqueeze(0)  # [T, Dh/2]
    cos = torch.cat((angles, angles), -1).cos().view(1, T, 1, Dh)  # broadcast over batch and heads
    sin = torch.cat((angles, angles), -1).sin().view(1, T, 1, Dh)

    def lin(x, name, bias):
        y = x @ W[f"{name}.weight"].T
        return y + W[f"{name}.bias"] if bias else y

    embed = W["embed_tokens.weight"][ids]
    if embed_leaf:
        embed = embed.detach().clone().requires_grad_(True)
    hooks["hook_embed"] = embed
    resid = embed
    for L in range(cfg.n_layers):
        p = f"layers.{L}"
        b = f"blocks.{L}"
        hooks[f"{b}.hook_resid_pre"] = resid
        x = rms_norm_tl(resid, W[f"{p}.input_layernorm.weight"], cfg.eps, hooks, f"{b}.ln1")
        q = lin(x, f"{p}.self_attn.q_proj", cfg.qkv_bias).view(B, T, H, Dh)
        k = lin(x, f"{p}.self_attn.k_proj", cfg.qkv_bias).view(B, T, Hkv, Dh)
        v = lin(x, f"{p}.self_attn.v_proj", cfg.qkv_bias).view(B, T, Hkv, Dh)
        hooks[f"{b}.attn.hook_q"] = q
        hooks[f"{b}.attn.hook_k"] = k
        hooks[f"{b}.attn.hook_v"] = v
        rq = q * cos + rotate_half(q) * sin
        rk = k * cos + rotate_half(k) * sin
        hooks[f"{b}.attn.hook_rot_q"] = rq
        hooks[f"{b}.attn.hook_rot_k"] = rk
        # TransformerLens GroupedQueryAttention: query head h reads key/value head h // group
        kr = torch.repeat_interleave(rk, group, dim=2)
        vr = torch.repeat_interleave(v, group, dim=2)
        scores = torch.einsum("bqhd,bkhd->bhqk", rq, kr) / math.sqrt(Dh)
        scores = scores.masked_fill(~attention_mask(T, cfg.window[L]), float("-inf"))  # TL: -inf; HF: finfo.min
        hooks[f"{b}.attn.hook_attn_scores"] = scores
        pattern = torch.softmax(scores, dim=-1)
        hooks[f"{b}.attn.hook_pattern"] = pattern
        z = torch.einsum("bhqk,bkhd->bqhd", pattern, vr)
        hooks[f"{b}.attn.hook_z"] = z
        attn_out = lin(z.reshape(B, T, H * Dh), f"{p}.self_attn.o_proj", cfg.o_bias)
        hooks[f"{b}.hook_attn_out"] = attn_out
        resid = resid + attn_out
        hooks[f"{b}.hook_resid_mid"] = resid
        x = rms_norm_tl(resid, W[f"{p}.post_attention_layernorm.weight"], cfg.eps, hooks, f"{b}.ln2")
        pre = lin(x, f"{p}.mlp.gate_proj", cfg.mlp_bias)
        hooks[f"{b}.mlp.hook_pre"] = pre
        pre_linear = lin(x, f"{p}.mlp.up_proj", cfg.mlp_bias)
        hooks[f"{b}.mlp.hook_pre_linear"] = pre_linear
        post = ACT[cfg.act](pre) * pre_linear
        hooks[f"{b}.mlp.hook_post"] = post
        mlp_out = lin(post, f"{p}.mlp.down_proj", cfg.mlp_bias)
        hooks[f"{b}.hook_mlp_out"] = mlp_out
        resid = resid + mlp_out
        hooks[f"{b}.hook_resid_post"] = resid
    x = rms_norm_tl(resid, W["norm.weight"], cfg.eps, hooks, "ln_final")
    unembed = W["embed_tokens.weight"] if cfg.tie else W["lm_head.weight"]
    logits = x @ unembed.T
    return logits, hooks, embed


# ——— a second, literal transcription of the HF modules ———


def forward_hf(cfg, w, ids, dtype):
    """LlamaForCausalLM / Qwen2ForCausalLM as transformers writes them (LlamaRMSNorm, LlamaRotaryEmbedding,
    apply_rotary_pos_emb, repeat_kv, eager_attention_forward with an additive finfo.min mask and a float32
    softmax, LlamaMLP), used only to cross-check the hooked forward. transformers upcasts the norm, the rotary
    angles and the softmax to float32; `up` keeps float64 runs in float64 so the two forwards can agree to 1e-10."""
    W = {k: v.to(dtype) for k, v in w.items()}
    up = torch.promote_types(dtype, torch.float32)
    B, T = ids.shape
    H, Hkv, Dh = cfg.n_heads, cfg.n_kv_heads, cfg.d_head

    def rms_norm(hidden_states, weight):
        input_dtype = hidden_states.dtype
        hidden_states = hidden_states.to(up)
        variance = hidden_states.pow(2).mean(-1, keepdim=True)
        hidden_states = hidden_states * torch.rsqrt(variance + cfg.eps)
        return weight * hidden_states.to(input_dtype)

    def linear(x, name, bias):
        return F.linear(x, W[f"{name}.weight"], W[f"{name}.bias"] if bias else None)

    def repeat_kv(hidden_states, n_rep):
        batch, num_key_value_heads, slen, head_dim = hidden_states.shape
        if n_rep == 1:
            return hidden_states
        hidden_states = hidden_states[:, :, None, :, :].expand(batch, num_key_value_heads, n_rep, slen, head_dim)
        return hidden_states.reshape(batch, num_key_value_heads * n_rep, slen, head_dim)

    # LlamaRotaryEmbedding.forward (attention_scaling is 1 for default, linear and llama3)
    inv_freq = inv_frequencies(cfg, up)
    position_ids = torch.arange(T).unsqueeze(0).expand(B, T)
    inv_freq_expanded = inv_freq[None, :, None].expand(B, -1, 1)
    position_ids_expanded = position_ids[:, None, :].to(up)
    freqs = (inv_freq_expanded @ position_ids_expanded).transpose(1, 2)
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos().to(dtype).unsqueeze(1), emb.sin().to(dtype).unsqueeze(1)  # [B, 1, T, Dh]

    h = W["embed_tokens.weight"][ids]
    for L in range(cfg.n_layers):
        p = f"layers.{L}"
        zero, fmin = torch.zeros([], dtype=dtype), torch.full([], torch.finfo(dtype).min, dtype=dtype)
        mask = torch.where(attention_mask(T, cfg.window[L]), zero, fmin)[None, None]  # [1, 1, T, T]
        r = h
        h = rms_norm(h, W[f"{p}.input_layernorm.weight"])
        q = linear(h, f"{p}.self_attn.q_proj", cfg.qkv_bias).view(B, T, -1, Dh).transpose(1, 2)
        k = linear(h, f"{p}.self_attn.k_proj", cfg.qkv_bias).view(B, T, -1, Dh).transpose(1, 2)
        v = linear(h, f"{p}.self_attn.v_proj", cfg.qkv_bias).view(B, T, -1, Dh).transpose(1, 2)
        q, k = (q * cos) + (rotate_half(q) * sin), (k * cos) + (rotate_half(k) * sin)
        k = repeat_kv(k, H // Hkv)
        v = repeat_kv(v, H // Hkv)
        a = torch.matmul(q, k.transpose(2, 3)) * Dh**-0.5
        a = a + mask
        a = F.softmax(a, dim=-1, dtype=up).to(q.dtype)
        o = torch.matmul(a, v).transpose(1, 2).contiguous().reshape(B, T, -1)
        h = r + linear(o, f"{p}.self_attn.o_proj", cfg.o_bias)
        r = h
        h = rms_norm(h, W[f"{p}.post_attention_layernorm.weight"])
        act = ACT[cfg.act]
        gate = linear(h, f"{p}.mlp.gate_proj", cfg.mlp_bias)
        m = linear(act(gate) * linear(h, f"{p}.mlp.up_proj", cfg.mlp_bias), f"{p}.mlp.down_proj", cfg.mlp_bias)
        h = r + m
    h = rms_norm(h, W["norm.weight"])
    return F.linear(h, W["embed_tokens.weight"] if cfg.tie else W["lm_head.weight"])


def main():
    folder, out_path, config = read_args("llama.py")
    cfg = Config(config)
    w = load_checked_weights(folder, cfg)
    ids, targets = decoder_inputs(w["embed_tokens.weight"].shape[0])

    torch.manual_seed(0)
    ref = run_decoder_reference(partial(forward, cfg, w, ids), partial(forward_hf, cfg, w, ids), targets)
    metadata = decoder_metadata("llama.py", ref, model_type=cfg.model_type)
    write_golden(out_path, golden_tensors(ref, "grad.hook_embed"), metadata)
    report(ref)


if __name__ == "__main__":
    main()
