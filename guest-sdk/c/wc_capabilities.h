/*
 * wc_capabilities.h — host functions and outbound HTTP from the host module
 * wasmcluster (see ../ABI.md), for handlers written with wasmcluster.h.
 * Compile wc_capabilities.c beside wasmcluster.c.
 *
 * Calls return the result's length (>= 0), or a negative code: WC_FAILED
 * (wc_last_error has the message) or WC_NOT_FOUND.
 */
#ifndef WC_CAPABILITIES_H
#define WC_CAPABILITIES_H

#include <stddef.h>
#include <stdint.h>

#define WC_FAILED (-1)    /* the call failed: see wc_last_error */
#define WC_NOT_FOUND (-2) /* no such function, key or handle */

/* Calls the host function name with in. The result is copied to out when
 * it fits in cap; the return value is its full length either way (read a
 * longer one with wc_read_result), or a negative code. */
int64_t wc_call(const char *name, const void *in, size_t in_len, void *out, size_t cap);

/* Sends method url with body (may be NULL), sets *status, and reads up to
 * cap bytes of the response body into out. Returns the bytes read, or a
 * negative code. */
int64_t wc_fetch(const char *method, const char *url, const void *body, size_t body_len, int *status, void *out,
                 size_t cap);

/* The last call's result when it did not fit; returns its length. */
size_t wc_read_result(void *buf, size_t cap);
/* The last failure's message (not NUL-terminated); returns its length. */
size_t wc_last_error(char *buf, size_t cap);

/* --- The raw imports. ------------------------------------------------- */

#define WC_EXT(name) __attribute__((import_module("wasmcluster"), import_name(#name)))
WC_EXT(call) int64_t wc_ext_call(const void *name, int32_t name_len, const void *in, int32_t in_len, void *buf,
                                 int32_t limit);
WC_EXT(read_result) int32_t wc_ext_read_result(void *buf, int32_t limit);
WC_EXT(last_error) int32_t wc_ext_last_error(void *buf, int32_t limit);
WC_EXT(http_request) int64_t wc_ext_http_request(const void *method, int32_t method_len, const void *url,
                                                 int32_t url_len);
WC_EXT(http_header) int64_t wc_ext_http_header(int32_t h, const void *name, int32_t name_len, const void *value,
                                               int32_t value_len);
WC_EXT(http_write) int64_t wc_ext_http_write(int32_t h, const void *chunk, int32_t len);
WC_EXT(http_send) int64_t wc_ext_http_send(int32_t h, void *buf, int32_t limit);
WC_EXT(http_read) int64_t wc_ext_http_read(int32_t h, void *buf, int32_t limit);
WC_EXT(http_close) int64_t wc_ext_http_close(int32_t h);
#undef WC_EXT

#endif
