/*
 * wasmcluster.h — write wasmcluster (http-wasm) handlers in C.
 *
 * Define one function, wc_handle, which answers the request (return
 * WC_DONE) or passes it on to the host's next handler (return WC_NEXT).
 * wasmcluster.c exports handle_request and handle_response for you.
 *
 *   clang --target=wasm32-wasi -mexec-model=reactor -O2 -I guest-sdk/c \
 *       -o handler.wasm handler.c guest-sdk/c/wasmcluster.c
 *
 * Nothing here allocates: every getter copies into a buffer you pass and
 * returns the field's full length, which is larger than the buffer when
 * the field did not fit (then nothing was copied). See ../ABI.md.
 */
#ifndef WASMCLUSTER_H
#define WASMCLUSTER_H

#include <stddef.h>
#include <stdint.h>

/* What wc_handle returns. */
#define WC_DONE 0 /* the guest answered */
#define WC_NEXT 1 /* pass the request on */

/* Header kinds and body kinds of the ABI. */
enum wc_kind { WC_REQUEST = 0, WC_RESPONSE = 1, WC_REQUEST_TRAILERS = 2, WC_RESPONSE_TRAILERS = 3 };

/* Features for wc_enable_features. */
enum wc_feature { WC_BUFFER_REQUEST = 1, WC_BUFFER_RESPONSE = 2, WC_TRAILERS = 4 };

/* Log levels for wc_log. */
enum wc_level { WC_DEBUG = -1, WC_INFO = 0, WC_WARN = 1, WC_ERROR = 2 };

/* The handler you write. */
int wc_handle(void);

/* --- The request. ----------------------------------------------------- */

/* The method, e.g. "GET"; returns its length. */
size_t wc_method(char *buf, size_t cap);
/* The request URI, path and query, e.g. "/a?b=1"; returns its length. */
size_t wc_uri(char *buf, size_t cap);
/* The path alone: the URI up to its '?'; returns its length. */
size_t wc_path(char *buf, size_t cap);
/* The first value of a request header, e.g. "content-type"; returns its
 * length, 0 when the header is absent. The copy is not NUL-terminated. */
size_t wc_request_header(const char *name, char *buf, size_t cap);
/* Reads the next chunk of the request body into buf; returns its length
 * and sets *eof when the body is exhausted. */
size_t wc_read_body(void *buf, size_t cap, int *eof);
/* 1 when the method is m, e.g. wc_method_is("POST"). */
int wc_method_is(const char *m);
/* Every request header name, lowercase, each followed by a NUL
 * ("host\0accept\0"); returns their length, NULs included. */
size_t wc_request_header_names(char *buf, size_t cap);
/* Every value of one request header, each followed by a NUL; returns
 * their length, NULs included (0: the header is absent). */
size_t wc_request_header_values(const char *name, char *buf, size_t cap);
/* The first value of the query parameter key, percent-decoded ('+' is a
 * space), NUL-terminated when it fits; returns its length, or -1 when the
 * query has no such key. wc_query("q", buf, cap) for "/?q=a%20b" is 3. */
long wc_query(const char *key, char *buf, size_t cap);

/* Changing the request before passing it on (return WC_NEXT). */
void wc_set_request_header(const char *name, const char *value);
void wc_add_request_header(const char *name, const char *value);
void wc_remove_request_header(const char *name);
void wc_set_method(const char *method);
/* The request URI, path and query, percent-encoded: "/a?b=1". */
void wc_set_uri(const char *uri);

/* --- The response. ---------------------------------------------------- */

/* Sets the status (default 200). Call before the first write. */
void wc_set_status(int code);
/* Sets a response header. Call before the first write. */
void wc_set_header(const char *name, const char *value);
/* Adds a value to a response header (several Set-Cookie). Call before the
 * first write. */
void wc_add_header(const char *name, const char *value);
/* Removes a response header. Call before the first write. */
void wc_remove_header(const char *name);
/* Writes body bytes; the first write sends the status and headers. */
void wc_write(const void *p, size_t n);
/* Writes a NUL-terminated string. */
void wc_write_str(const char *s);
/* Sends the status, the headers and the body written so far to the client
 * now, to stream (server-sent events, progress). Returns 0, or -1 while the
 * host buffers the response (WC_BUFFER_RESPONSE). It is wasmcluster's own
 * host module: other http-wasm hosts do not have it. */
static inline int wc_flush(void);

/* --- The rest. -------------------------------------------------------- */

/* The operator's configuration bytes; returns their length. */
size_t wc_config(void *buf, size_t cap);
/* Logs a message at level. */
void wc_log(enum wc_level level, const char *msg);
/* Enables features; returns those now enabled. */
int wc_enable_features(int features);

/* --- The raw ABI, for what the helpers above do not cover. ------------ */

#define WC_IMPORT(name) __attribute__((import_module("http_handler"), import_name(#name)))
WC_IMPORT(enable_features) int32_t wc_abi_enable_features(int32_t features);
WC_IMPORT(get_config) int32_t wc_abi_get_config(void *buf, int32_t limit);
WC_IMPORT(log_enabled) int32_t wc_abi_log_enabled(int32_t level);
WC_IMPORT(log) void wc_abi_log(int32_t level, const void *msg, int32_t len);
WC_IMPORT(get_method) int32_t wc_abi_get_method(void *buf, int32_t limit);
WC_IMPORT(set_method) void wc_abi_set_method(const void *method, int32_t len);
WC_IMPORT(get_uri) int32_t wc_abi_get_uri(void *buf, int32_t limit);
WC_IMPORT(set_uri) void wc_abi_set_uri(const void *uri, int32_t len);
WC_IMPORT(get_protocol_version) int32_t wc_abi_get_protocol_version(void *buf, int32_t limit);
WC_IMPORT(get_source_addr) int32_t wc_abi_get_source_addr(void *buf, int32_t limit);
WC_IMPORT(get_header_names) int64_t wc_abi_get_header_names(int32_t kind, void *buf, int32_t limit);
WC_IMPORT(get_header_values) int64_t wc_abi_get_header_values(int32_t kind, const void *name, int32_t name_len,
                                                               void *buf, int32_t limit);
WC_IMPORT(set_header_value) void wc_abi_set_header_value(int32_t kind, const void *name, int32_t name_len,
                                                          const void *value, int32_t value_len);
WC_IMPORT(add_header_value) void wc_abi_add_header_value(int32_t kind, const void *name, int32_t name_len,
                                                          const void *value, int32_t value_len);
WC_IMPORT(remove_header) void wc_abi_remove_header(int32_t kind, const void *name, int32_t name_len);
WC_IMPORT(read_body) int64_t wc_abi_read_body(int32_t kind, void *buf, int32_t limit);
WC_IMPORT(write_body) void wc_abi_write_body(int32_t kind, const void *body, int32_t len);
WC_IMPORT(get_status_code) int32_t wc_abi_get_status_code(void);
WC_IMPORT(set_status_code) void wc_abi_set_status_code(int32_t code);
#undef WC_IMPORT

/* wasmcluster's own host module, beyond the public ABI; see ../ABI.md. */
__attribute__((import_module("wasmcluster"), import_name("flush"))) int64_t wc_ext_flush(void);

static inline int wc_flush(void) { return wc_ext_flush() < 0 ? -1 : 0; }

#endif
