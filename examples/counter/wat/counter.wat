;; The counter example in WAT, and the template of a WAT guest that uses a
;; key-value store: POST / adds one to "hits" in the store "default" and
;; answers the new count; any other method answers the count. A store that
;; fails answers 503 with its message.
;;
;;   wat2wasm counter.wat -o counter.wasm && wasmcluster serve counter.wasm
(module
  (import "http_handler" "get_method" (func $get_method (param i32 i32) (result i32)))
  (import "http_handler" "set_status_code" (func $set_status_code (param i32)))
  (import "http_handler" "write_body" (func $write_body (param i32 i32 i32)))
  (import "wasmcluster" "last_error" (func $last_error (param i32 i32) (result i32)))
  (import "wasmcluster" "kv_get" (func $kv_get (param i32 i32 i32 i32 i32 i32) (result i64)))
  (import "wasmcluster" "kv_increment" (func $kv_increment (param i32 i32 i32 i32 i64 i32 i32) (result i64)))
  (memory (export "memory") 1)
  (data (i32.const 0) "default")
  (data (i32.const 16) "hits")
  (data (i32.const 32) "0\n")
  ;; 64: the method; 128: the result; 256: the answer's digits; 1024: an error

  (func (export "handle_request") (result i64)
    (local $r i64)
    ;; POST: increment, and answer the new value, an i64 at 128.
    (if (i32.and (i32.eq (call $get_method (i32.const 64) (i32.const 16)) (i32.const 4))
                 (i32.eq (i32.load (i32.const 64)) (i32.const 0x54534f50))) ;; "POST"
      (then
        (local.set $r (call $kv_increment (i32.const 0) (i32.const 7) (i32.const 16) (i32.const 4)
                                          (i64.const 1) (i32.const 128) (i32.const 8)))
        (if (i64.lt_s (local.get $r) (i64.const 0)) (then (call $fail) (return (i64.const 0))))
        (call $write_decimal (i64.load (i32.const 128)))
        (return (i64.const 0))))
    ;; Otherwise: the stored digits, up to 32 of them, or 0 when unset.
    (local.set $r (call $kv_get (i32.const 0) (i32.const 7) (i32.const 16) (i32.const 4) (i32.const 128) (i32.const 32)))
    (if (i64.eq (local.get $r) (i64.const -2)) (then
      (call $write_body (i32.const 1) (i32.const 32) (i32.const 2))
      (return (i64.const 0))))
    (if (i64.lt_s (local.get $r) (i64.const 0)) (then (call $fail) (return (i64.const 0))))
    (call $write_body (i32.const 1) (i32.const 128) (i32.wrap_i64 (local.get $r)))
    (call $write_body (i32.const 1) (i32.const 33) (i32.const 1))
    (i64.const 0))

  ;; write_decimal answers n >= 0 in decimal and a newline.
  (func $write_decimal (param $n i64)
    (local $p i32)
    (local.set $p (i32.const 300))
    (i32.store8 (local.get $p) (i32.const 10))
    (loop $digits
      (local.set $p (i32.sub (local.get $p) (i32.const 1)))
      (i32.store8 (local.get $p) (i32.add (i32.const 48) (i32.wrap_i64 (i64.rem_u (local.get $n) (i64.const 10)))))
      (local.set $n (i64.div_u (local.get $n) (i64.const 10)))
      (br_if $digits (i64.ne (local.get $n) (i64.const 0))))
    (call $write_body (i32.const 1) (local.get $p) (i32.sub (i32.const 301) (local.get $p))))

  ;; fail answers 503 with the last error's message (when it fits in 1 KiB).
  (func $fail
    (local $n i32)
    (call $set_status_code (i32.const 503))
    (local.set $n (call $last_error (i32.const 1024) (i32.const 1024)))
    (if (i32.gt_u (local.get $n) (i32.const 1024)) (then (local.set $n (i32.const 0))))
    (call $write_body (i32.const 1) (i32.const 1024) (local.get $n))))
