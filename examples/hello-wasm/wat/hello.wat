;; The hello handler in WebAssembly text, on the raw http-wasm ABI.
;;
;;   wat2wasm examples/hello-wasm/wat/hello.wat -o hello.wasm && wasmcluster serve hello.wasm
;;
;; GET /any/path answers "Hello from wasmcluster: /any/path"; a POST echoes
;; its body. Every response carries X-Hello: wasmcluster.
(module
  (import "http_handler" "get_method" (func $get_method (param i32 i32) (result i32)))
  (import "http_handler" "get_uri" (func $get_uri (param i32 i32) (result i32)))
  (import "http_handler" "set_header_value" (func $set_header_value (param i32 i32 i32 i32 i32)))
  (import "http_handler" "read_body" (func $read_body (param i32 i32 i32) (result i64)))
  (import "http_handler" "write_body" (func $write_body (param i32 i32 i32)))

  ;; Page 0 holds the constants, page 1 is the I/O buffer.
  (memory (export "memory") 2)
  (data (i32.const 0) "X-Hello")
  (data (i32.const 16) "wasmcluster")
  (data (i32.const 32) "Content-Type")
  (data (i32.const 48) "text/plain; charset=utf-8")
  (data (i32.const 80) "Hello from wasmcluster: ")
  (data (i32.const 112) "\n")
  (global $buf i32 (i32.const 65536))
  (global $cap i32 (i32.const 65536))

  (func (export "handle_request") (result i64)
    (local $len i32)
    (local $end i32)
    (local $r i64)
    (call $set_header_value (i32.const 1) (i32.const 0) (i32.const 7) (i32.const 16) (i32.const 11))
    (call $set_header_value (i32.const 1) (i32.const 32) (i32.const 12) (i32.const 48) (i32.const 25))

    ;; POST: copy the body to the response, a buffer at a time.
    (if (i32.and
          (i32.eq (call $get_method (global.get $buf) (i32.const 8)) (i32.const 4))
          (i32.eq (i32.load (global.get $buf)) (i32.const 0x54534f50))) ;; "POST"
      (then
        (loop $more
          (local.set $r (call $read_body (i32.const 0) (global.get $buf) (global.get $cap)))
          (call $write_body (i32.const 1) (global.get $buf) (i32.wrap_i64 (local.get $r)))
          (br_if $more (i64.eqz (i64.shr_u (local.get $r) (i64.const 32)))))
        (return (i64.const 0))))

    ;; Otherwise greet with the path: the URI up to its '?'.
    (local.set $len (call $get_uri (global.get $buf) (global.get $cap)))
    (if (i32.gt_u (local.get $len) (global.get $cap)) ;; too long: not written
      (then (local.set $len (i32.const 0))))
    (block $found
      (loop $scan
        (br_if $found (i32.ge_u (local.get $end) (local.get $len)))
        (br_if $found (i32.eq (i32.load8_u (i32.add (global.get $buf) (local.get $end))) (i32.const 63))) ;; '?'
        (local.set $end (i32.add (local.get $end) (i32.const 1)))
        (br $scan)))
    (call $write_body (i32.const 1) (i32.const 80) (i32.const 24))
    (call $write_body (i32.const 1) (global.get $buf) (local.get $end))
    (call $write_body (i32.const 1) (i32.const 112) (i32.const 1))
    (i64.const 0)))
