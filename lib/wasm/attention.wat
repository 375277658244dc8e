;; Batched matrix products in place on tfjs-wasm's heap (lib/wasm/attention.ts imports that
;; memory): the attention products q·kᵀ and p·v, batched over batch × kv heads, which tfjs-wasm
;; runs as a scalar loop whenever the batch is > 1 or b is transposed. Row-major float32, pointers
;; in bytes; every batch's operands follow one another.
;; Assembled by scripts/wat.ts (npm run build:wasm) into lib/wasm/attention-wasm.ts.
(module
  (import "env" "memory" (memory 1))
  ;; y[b, i, j] = Σ_k a[b, i, k] · c[b, j, k]: a [nb, m, d], c [nb, n, d], y [nb, m, n], d a multiple of 8.
  ;; Two accumulators (even and odd quads of k), summed at the end of each dot product.
  (func (export "dots") (param $a i32) (param $c i32) (param $y i32) (param $nb i32) (param $m i32) (param $n i32) (param $d i32)
    (local $db i32) (local $ae i32) (local $aend i32) (local $ce i32) (local $ap i32) (local $cp i32)
    (local $s0 v128) (local $s1 v128)
    (local.set $db (i32.shl (local.get $d) (i32.const 2)))
    (block $bd (loop $bs
      (br_if $bd (i32.eqz (local.get $nb)))
      (local.set $aend (i32.add (local.get $a) (i32.mul (local.get $m) (local.get $db))))
      (local.set $ce (i32.add (local.get $c) (i32.mul (local.get $n) (local.get $db))))
      (block $id (loop $is
        (br_if $id (i32.ge_u (local.get $a) (local.get $aend)))
        (local.set $ae (i32.add (local.get $a) (local.get $db)))
        (local.set $cp (local.get $c))
        (block $jd (loop $js
          (br_if $jd (i32.ge_u (local.get $cp) (local.get $ce)))
          (local.set $s0 (v128.const i32x4 0 0 0 0))
          (local.set $s1 (v128.const i32x4 0 0 0 0))
          (local.set $ap (local.get $a))
          (block $kd (loop $ks
            (br_if $kd (i32.ge_u (local.get $ap) (local.get $ae)))
            (local.set $s0 (f32x4.add (local.get $s0) (f32x4.mul (v128.load (local.get $ap)) (v128.load (local.get $cp)))))
            (local.set $s1 (f32x4.add (local.get $s1) (f32x4.mul (v128.load offset=16 (local.get $ap)) (v128.load offset=16 (local.get $cp)))))
            (local.set $ap (i32.add (local.get $ap) (i32.const 32)))
            (local.set $cp (i32.add (local.get $cp) (i32.const 32)))
            (br $ks)))
          (local.set $s0 (f32x4.add (local.get $s0) (local.get $s1)))
          (f32.store (local.get $y) (f32.add
            (f32.add (f32x4.extract_lane 0 (local.get $s0)) (f32x4.extract_lane 1 (local.get $s0)))
            (f32.add (f32x4.extract_lane 2 (local.get $s0)) (f32x4.extract_lane 3 (local.get $s0)))))
          (local.set $y (i32.add (local.get $y) (i32.const 4)))
          (br $js)))
        (local.set $a (local.get $ae))
        (br $is)))
      (local.set $c (local.get $ce))
      (local.set $nb (i32.sub (local.get $nb) (i32.const 1)))
      (br $bs))))
  ;; y[b, i, :] = Σ_j p[b, i, j] · v[b, j, :]: p [nb, m, n], v [nb, n, d], y [nb, m, d], d a multiple
  ;; of 16. Sixteen columns a pass, four accumulators, j in order.
  (func (export "mix") (param $p i32) (param $v i32) (param $y i32) (param $nb i32) (param $m i32) (param $n i32) (param $d i32)
    (local $db i32) (local $nbytes i32) (local $pend i32) (local $pe i32) (local $ve i32) (local $h i32) (local $pp i32) (local $vp i32) (local $yp i32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128) (local $s v128)
    (local.set $db (i32.shl (local.get $d) (i32.const 2)))
    (local.set $nbytes (i32.shl (local.get $n) (i32.const 2)))
    (block $bd (loop $bs
      (br_if $bd (i32.eqz (local.get $nb)))
      (local.set $pend (i32.add (local.get $p) (i32.mul (local.get $m) (local.get $nbytes))))
      (local.set $ve (i32.add (local.get $v) (i32.mul (local.get $n) (local.get $db))))
      (block $id (loop $is
        (br_if $id (i32.ge_u (local.get $p) (local.get $pend)))
        (local.set $pe (i32.add (local.get $p) (local.get $nbytes)))
        (local.set $h (i32.const 0))
        (block $hd (loop $hs
          (br_if $hd (i32.ge_u (local.get $h) (local.get $db)))
          (local.set $a0 (v128.const i32x4 0 0 0 0))
          (local.set $a1 (v128.const i32x4 0 0 0 0))
          (local.set $a2 (v128.const i32x4 0 0 0 0))
          (local.set $a3 (v128.const i32x4 0 0 0 0))
          (local.set $pp (local.get $p))
          (local.set $vp (i32.add (local.get $v) (local.get $h)))
          (block $jd (loop $js
            (br_if $jd (i32.ge_u (local.get $pp) (local.get $pe)))
            (local.set $s (f32x4.splat (f32.load (local.get $pp))))
            (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $s) (v128.load (local.get $vp)))))
            (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $s) (v128.load offset=16 (local.get $vp)))))
            (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $s) (v128.load offset=32 (local.get $vp)))))
            (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (local.get $s) (v128.load offset=48 (local.get $vp)))))
            (local.set $pp (i32.add (local.get $pp) (i32.const 4)))
            (local.set $vp (i32.add (local.get $vp) (local.get $db)))
            (br $js)))
          (local.set $yp (i32.add (local.get $y) (local.get $h)))
          (v128.store (local.get $yp) (local.get $a0))
          (v128.store offset=16 (local.get $yp) (local.get $a1))
          (v128.store offset=32 (local.get $yp) (local.get $a2))
          (v128.store offset=48 (local.get $yp) (local.get $a3))
          (local.set $h (i32.add (local.get $h) (i32.const 64)))
          (br $hs)))
        (local.set $y (i32.add (local.get $y) (local.get $db)))
        (local.set $p (local.get $pe))
        (br $is)))
      (local.set $v (local.get $ve))
      (local.set $nb (i32.sub (local.get $nb) (i32.const 1)))
      (br $bs)))))
