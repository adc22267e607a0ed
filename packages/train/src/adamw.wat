;; AdamW's per-element update as torch.optim.AdamW's single-tensor step computes it on a float32 tensor, four
;; lanes at a time (WebAssembly SIMD). Every operation is one float32 operation, rounded as torch's CPU kernels
;; round it (the scalars arrive as float32, as torch converts its Python numbers to the tensor's type):
;;
;;   w  = w0 · decay                       param.mul_(1 − lr·wd)
;;   g  = grad · scale                     clip_grad_norm_'s grad.mul_(clip_coef)
;;   m  = m0 · b1 + g · c1                 exp_avg.mul_(β₁).add_(grad, alpha=1 − β₁)
;;   v  = v0 · b2 + (g · c2) · g           exp_avg_sq.mul_(β₂).addcmul_(grad, grad, value=1 − β₂)
;;   den = √v / bc2 + eps                  (exp_avg_sq.sqrt() / √(1 − β₂ᵗ)).add_(eps)
;;   w1 = w + neg · (m / den)              param.addcdiv_(exp_avg, denom, value=−lr / (1 − β₁ᵗ))
;;
;; It also sums, in float64, ‖w1 − w0‖² and ‖w0‖² (the update-to-weight ratio's telemetry) into two globals.
;;
;; Why WebAssembly: JavaScript has no float32 arithmetic and no SIMD, and its scalar loop (float64 with a
;; rounding after every stored value) ran at ~6.5 ns an element; this runs at ~1.8 ns (two divisions and a
;; square root per four elements), which on a 124 M-parameter model is ~0.4 s a step less.
;;
;; The caller copies a chunk of the parameter, gradient and moments into this module's memory at the byte
;; offsets it passes, calls `adamw`, and copies the new values (written over the parameter's chunk) and moments
;; back; `bytes` is a multiple of 16 (the caller pads with zeros, which update to zeros and add nothing to the
;; sums). The source of the bytes in adamw-wasm.ts: `npm run wasm` rebuilds them, a test checks they match.
(module
  (memory (export "memory") 2)
  (global $d2 (export "d2") (mut f64) (f64.const 0))
  (global $n2 (export "n2") (mut f64) (f64.const 0))
  (func (export "adamw")
    (param $bytes i32) (param $go i32) (param $mo i32) (param $vo i32)
    (param $decay f32) (param $scale f32) (param $b1 f32) (param $c1 f32) (param $b2 f32) (param $c2 f32)
    (param $bc2 f32) (param $eps f32) (param $neg f32)
    (local $i i32)
    (local $kdecay v128) (local $kscale v128) (local $kb1 v128) (local $kc1 v128) (local $kb2 v128)
    (local $kc2 v128) (local $kbc2 v128) (local $keps v128) (local $kneg v128)
    (local $w0 v128) (local $g v128) (local $m v128) (local $v v128) (local $w1 v128)
    (local $lo v128) (local $hi v128) (local $dlo v128) (local $dhi v128)
    (local $ad v128) (local $an v128)
    (local.set $kdecay (f32x4.splat (local.get $decay)))
    (local.set $kscale (f32x4.splat (local.get $scale)))
    (local.set $kb1 (f32x4.splat (local.get $b1)))
    (local.set $kc1 (f32x4.splat (local.get $c1)))
    (local.set $kb2 (f32x4.splat (local.get $b2)))
    (local.set $kc2 (f32x4.splat (local.get $c2)))
    (local.set $kbc2 (f32x4.splat (local.get $bc2)))
    (local.set $keps (f32x4.splat (local.get $eps)))
    (local.set $kneg (f32x4.splat (local.get $neg)))
    (local.set $ad (f64x2.splat (f64.const 0)))
    (local.set $an (f64x2.splat (f64.const 0)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $bytes)))
        (local.set $w0 (v128.load (local.get $i)))
        (local.set $g (f32x4.mul (v128.load (i32.add (local.get $go) (local.get $i))) (local.get $kscale)))
        (local.set $m
          (f32x4.add
            (f32x4.mul (v128.load (i32.add (local.get $mo) (local.get $i))) (local.get $kb1))
            (f32x4.mul (local.get $g) (local.get $kc1))))
        (local.set $v
          (f32x4.add
            (f32x4.mul (v128.load (i32.add (local.get $vo) (local.get $i))) (local.get $kb2))
            (f32x4.mul (f32x4.mul (local.get $g) (local.get $kc2)) (local.get $g))))
        (v128.store (i32.add (local.get $mo) (local.get $i)) (local.get $m))
        (v128.store (i32.add (local.get $vo) (local.get $i)) (local.get $v))
        (local.set $w1
          (f32x4.add
            (f32x4.mul (local.get $w0) (local.get $kdecay))
            (f32x4.mul
              (local.get $kneg)
              (f32x4.div
                (local.get $m)
                (f32x4.add (f32x4.div (f32x4.sqrt (local.get $v)) (local.get $kbc2)) (local.get $keps))))))
        (v128.store (local.get $i) (local.get $w1))
        ;; the sums: lanes 0–1 and 2–3 widened to float64
        (local.set $lo (f64x2.promote_low_f32x4 (local.get $w0)))
        (local.set $hi
          (f64x2.promote_low_f32x4
            (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $w0) (local.get $w0))))
        (local.set $an
          (f64x2.add
            (local.get $an)
            (f64x2.add (f64x2.mul (local.get $lo) (local.get $lo)) (f64x2.mul (local.get $hi) (local.get $hi)))))
        (local.set $dlo (f64x2.sub (f64x2.promote_low_f32x4 (local.get $w1)) (local.get $lo)))
        (local.set $dhi
          (f64x2.sub
            (f64x2.promote_low_f32x4
              (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $w1) (local.get $w1)))
            (local.get $hi)))
        (local.set $ad
          (f64x2.add
            (local.get $ad)
            (f64x2.add (f64x2.mul (local.get $dlo) (local.get $dlo)) (f64x2.mul (local.get $dhi) (local.get $dhi)))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $next)))
    (global.set $d2
      (f64.add (global.get $d2) (f64.add (f64x2.extract_lane 0 (local.get $ad)) (f64x2.extract_lane 1 (local.get $ad)))))
    (global.set $n2
      (f64.add (global.get $n2) (f64.add (f64x2.extract_lane 0 (local.get $an)) (f64x2.extract_lane 1 (local.get $an)))))))
