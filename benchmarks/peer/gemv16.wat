(module
  (import "env" "memory" (memory 1))
  ;; Prototype (benchmarks/peer/gemv16.ts): lib/wasm/matmul.wat's one-row product over float16
  ;; weights in the same panels (16 halves, 32 bytes a row), widened on the fly: a half's bits,
  ;; sign-extended to 32 and shifted left 13, masked to sign | exponent | mantissa, are a float32
  ;; 2^-112 times the half (subnormals included), so one multiply by 2^112 finishes the widening.
  ;; Four accumulators, k in order. Half the bytes of float32, four more SIMD ops per four weights.
  (func (export "gemv16") (param $x i32) (param $w i32) (param $y i32) (param $kp i32) (param $np i32)
    (local $xe i32) (local $xp i32) (local $ye i32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128) (local $s v128) (local $h v128) (local $mag v128) (local $sgn v128) (local $scale v128)
    (local.set $mag (v128.const i32x4 0x8fffe000 0x8fffe000 0x8fffe000 0x8fffe000))
    (local.set $sgn (v128.const i32x4 0x80000000 0x80000000 0x80000000 0x80000000))
    (local.set $scale (v128.const i32x4 0x77800000 0x77800000 0x77800000 0x77800000))
    (local.set $xe (i32.add (local.get $x) (i32.shl (local.get $kp) (i32.const 2))))
    (local.set $ye (i32.add (local.get $y) (i32.shl (local.get $np) (i32.const 2))))
    (block $done (loop $panels
      (br_if $done (i32.ge_u (local.get $y) (local.get $ye)))
      (local.set $a0 (v128.const i32x4 0 0 0 0))
      (local.set $a1 (v128.const i32x4 0 0 0 0))
      (local.set $a2 (v128.const i32x4 0 0 0 0))
      (local.set $a3 (v128.const i32x4 0 0 0 0))
      (local.set $xp (local.get $x))
      (block $kd (loop $ks
        (br_if $kd (i32.ge_u (local.get $xp) (local.get $xe)))
        (local.set $s (f32x4.splat (f32.load (local.get $xp))))
        (local.set $h (v128.load (local.get $w)))
        (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $s) (f32x4.mul (v128.and (i32x4.shl (i32x4.extend_low_i16x8_s (local.get $h)) (i32.const 13)) (local.get $mag)) (local.get $scale)))))
        (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $s) (f32x4.mul (v128.and (i32x4.shl (i32x4.extend_high_i16x8_s (local.get $h)) (i32.const 13)) (local.get $mag)) (local.get $scale)))))
        (local.set $h (v128.load offset=16 (local.get $w)))
        (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $s) (f32x4.mul (v128.and (i32x4.shl (i32x4.extend_low_i16x8_s (local.get $h)) (i32.const 13)) (local.get $mag)) (local.get $scale)))))
        (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (local.get $s) (f32x4.mul (v128.and (i32x4.shl (i32x4.extend_high_i16x8_s (local.get $h)) (i32.const 13)) (local.get $mag)) (local.get $scale)))))
        (local.set $xp (i32.add (local.get $xp) (i32.const 4)))
        (local.set $w (i32.add (local.get $w) (i32.const 32)))
        (br $ks)))
      (v128.store offset=0 (local.get $y) (local.get $a0))
      (v128.store offset=16 (local.get $y) (local.get $a1))
      (v128.store offset=32 (local.get $y) (local.get $a2))
      (v128.store offset=48 (local.get $y) (local.get $a3))
      (local.set $y (i32.add (local.get $y) (i32.const 64)))
      (br $panels)))))
