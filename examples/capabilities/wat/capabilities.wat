;; Host functions and outbound HTTP in WebAssembly text, on the template of
;; guest-sdk/wat.
;;
;;   wat2wasm examples/capabilities/wat/capabilities.wat -o capabilities.wasm
;;
;; GET /greet?NAME answers what the host function "greet" makes of NAME;
;; GET /fetch?URL answers the status and body of GET URL; a failure answers
;; 502 and its message.
(module
  (import "http_handler" "get_uri" (func $get_uri (param i32 i32) (result i32)))
  (import "http_handler" "write_body" (func $write_body (param i32 i32 i32)))
  (import "http_handler" "set_status_code" (func $set_status_code (param i32)))
  (import "wasmcluster" "call" (func $call (param i32 i32 i32 i32 i32 i32) (result i64)))
  (import "wasmcluster" "last_error" (func $last_error (param i32 i32) (result i32)))
  (import "wasmcluster" "http_request" (func $http_request (param i32 i32 i32 i32) (result i64)))
  (import "wasmcluster" "http_send" (func $http_send (param i32 i32 i32) (result i64)))
  (import "wasmcluster" "http_read" (func $http_read (param i32 i32 i32) (result i64)))
  (import "wasmcluster" "http_close" (func $http_close (param i32) (result i64)))

  ;; Constants at the bottom; the URI at 1024, results at 8192, the
  ;; response head at 32768.
  (memory (export "memory") 1)
  (data (i32.const 0) "greet")
  (data (i32.const 8) "GET")
  (data (i32.const 16) "error: ")
  (data (i32.const 32) " ")

  (func (export "handle_request") (result i64)
    (local $n i32)
    (local.set $n (call $get_uri (i32.const 1024) (i32.const 4096)))
    (if (i32.gt_u (local.get $n) (i32.const 4096)) (then (local.set $n (i32.const 0))))
    ;; "/greet?" is 7 bytes, "/fetch?" too: compare their 6th byte, 'g' or 'f'.
    (if (i32.lt_u (local.get $n) (i32.const 7)) (then (call $set_status_code (i32.const 404)) (return (i64.const 0))))
    (if (i32.eq (i32.load8_u (i32.const 1025)) (i32.const 103)) ;; 'g'
      (then (call $greet (i32.const 1031) (i32.sub (local.get $n) (i32.const 7))) (return (i64.const 0))))
    (call $fetch (i32.const 1031) (i32.sub (local.get $n) (i32.const 7)))
    (i64.const 0))

  ;; greet answers greet(name).
  (func $greet (param $name i32) (param $len i32)
    (local $r i64)
    (local.set $r (call $call (i32.const 0) (i32.const 5) (local.get $name) (local.get $len) (i32.const 8192) (i32.const 16384)))
    (if (i64.lt_s (local.get $r) (i64.const 0)) (then (call $fail) (return)))
    (call $write_body (i32.const 1) (i32.const 8192) (i32.wrap_i64 (local.get $r))))

  ;; fetch answers "STATUS BODY" of GET url.
  (func $fetch (param $url i32) (param $len i32)
    (local $h i64) (local $r i64) (local $status i32)
    (local.set $h (call $http_request (i32.const 8) (i32.const 3) (local.get $url) (local.get $len)))
    (if (i64.lt_s (local.get $h) (i64.const 0)) (then (call $fail) (return)))
    (local.set $r (call $http_send (i32.wrap_i64 (local.get $h)) (i32.const 32768) (i32.const 4096)))
    (if (i64.lt_s (local.get $r) (i64.const 0)) (then (call $fail) (return)))
    ;; The head starts "200\0": the status code is its first 3 bytes.
    (call $write_body (i32.const 1) (i32.const 32768) (i32.const 3))
    (call $write_body (i32.const 1) (i32.const 32) (i32.const 1))
    (block $done
      (loop $body
        (local.set $r (call $http_read (i32.wrap_i64 (local.get $h)) (i32.const 8192) (i32.const 16384)))
        (br_if $done (i64.le_s (local.get $r) (i64.const 0)))
        (call $write_body (i32.const 1) (i32.const 8192) (i32.wrap_i64 (local.get $r)))
        (br $body)))
    (drop (call $http_close (i32.wrap_i64 (local.get $h)))))

  ;; fail answers 502 and the last error's message.
  (func $fail
    (call $set_status_code (i32.const 502))
    (call $write_body (i32.const 1) (i32.const 16) (i32.const 7))
    (call $write_body (i32.const 1) (i32.const 8192) (call $last_error (i32.const 8192) (i32.const 16384))))

  (func (export "handle_response") (param i32 i32)))
