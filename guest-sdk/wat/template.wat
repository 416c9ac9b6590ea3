;; A template for http-wasm handlers written by hand in WebAssembly text.
;; Copy it, keep the imports you use, fill in handle_request. The whole ABI
;; is described in ../ABI.md; examples/hello-wasm/wat/hello.wat is a
;; complete handler.
;;
;;   wat2wasm handler.wat -o handler.wasm && wasmcluster serve handler.wasm
(module
  ;; --- Host functions (module "http_handler"). -------------------------
  ;; Getters write to buf only if the value fits in buf_limit bytes, and
  ;; always return its length. Lists are NUL-terminated strings returned
  ;; as count<<32|len; read_body returns eof<<32|len.
  ;; Header kinds: 0 request, 1 response, 2/3 their trailers.
  ;; Body kinds: 0 request, 1 response.
  (import "http_handler" "enable_features" (func $enable_features (param i32) (result i32)))
  (import "http_handler" "get_config" (func $get_config (param i32 i32) (result i32)))
  (import "http_handler" "log_enabled" (func $log_enabled (param i32) (result i32)))
  (import "http_handler" "log" (func $log (param i32 i32 i32)))
  (import "http_handler" "get_method" (func $get_method (param i32 i32) (result i32)))
  (import "http_handler" "set_method" (func $set_method (param i32 i32)))
  (import "http_handler" "get_uri" (func $get_uri (param i32 i32) (result i32)))
  (import "http_handler" "set_uri" (func $set_uri (param i32 i32)))
  (import "http_handler" "get_protocol_version" (func $get_protocol_version (param i32 i32) (result i32)))
  (import "http_handler" "get_source_addr" (func $get_source_addr (param i32 i32) (result i32)))
  (import "http_handler" "get_header_names" (func $get_header_names (param i32 i32 i32) (result i64)))
  (import "http_handler" "get_header_values" (func $get_header_values (param i32 i32 i32 i32 i32) (result i64)))
  (import "http_handler" "set_header_value" (func $set_header_value (param i32 i32 i32 i32 i32)))
  (import "http_handler" "add_header_value" (func $add_header_value (param i32 i32 i32 i32 i32)))
  (import "http_handler" "remove_header" (func $remove_header (param i32 i32 i32)))
  (import "http_handler" "read_body" (func $read_body (param i32 i32 i32) (result i64)))
  (import "http_handler" "write_body" (func $write_body (param i32 i32 i32)))
  (import "http_handler" "get_status_code" (func $get_status_code (result i32)))
  (import "http_handler" "set_status_code" (func $set_status_code (param i32)))

  ;; --- wasmcluster's own module: host functions, outbound HTTP. -------
  ;; Uncomment what you use (a guest importing them runs on wasmcluster
  ;; only). Each returns an i64: >= 0 the result's length (written at buf
  ;; if it fit, else read it with read_result), -1 failed (last_error has
  ;; why), -2 not found. http_request's value is a handle. See ../ABI.md;
  ;; examples/capabilities/wat/capabilities.wat uses them all.
  ;; (import "wasmcluster" "read_result" (func $read_result (param i32 i32) (result i32)))
  ;; (import "wasmcluster" "last_error" (func $last_error (param i32 i32) (result i32)))
  ;; (import "wasmcluster" "call" (func $call (param i32 i32 i32 i32 i32 i32) (result i64)))
  ;; (import "wasmcluster" "http_request" (func $http_request (param i32 i32 i32 i32) (result i64)))
  ;; (import "wasmcluster" "http_header" (func $http_header (param i32 i32 i32 i32 i32) (result i64)))
  ;; (import "wasmcluster" "http_write" (func $http_write (param i32 i32 i32) (result i64)))
  ;; (import "wasmcluster" "http_send" (func $http_send (param i32 i32 i32) (result i64)))
  ;; (import "wasmcluster" "http_read" (func $http_read (param i32 i32 i32) (result i64)))
  ;; (import "wasmcluster" "http_close" (func $http_close (param i32) (result i64)))

  ;; --- Memory: the host reads and writes it. --------------------------
  ;; Constants at the bottom, a buffer above them.
  (memory (export "memory") 2)
  (data (i32.const 0) "hello\n")
  (global $buf i32 (i32.const 65536))
  (global $cap i32 (i32.const 65536))

  ;; --- Called once per request. ---------------------------------------
  ;; Return 0 when the guest has answered; 1 to pass the request on to the
  ;; host's next handler; (ctx << 32) | 1 to also have handle_response
  ;; called with ctx once the next handler is done.
  (func (export "handle_request") (result i64)
    (call $write_body (i32.const 1) (i32.const 0) (i32.const 6))
    (i64.const 0))

  ;; --- Optional: called after the next handler, when asked for. -------
  (func (export "handle_response") (param $ctx i32) (param $is_error i32)))
