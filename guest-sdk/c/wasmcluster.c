/* The exports of a wasmcluster handler in C, and the helpers of
 * wasmcluster.h. */
#include "wasmcluster.h"

#include <string.h>

__attribute__((export_name("handle_request"))) int64_t handle_request(void) {
  return wc_handle() == WC_NEXT ? 1 : 0;
}

__attribute__((export_name("handle_response"))) void handle_response(int32_t req_ctx, int32_t is_error) {
  (void)req_ctx;
  (void)is_error;
}

size_t wc_method(char *buf, size_t cap) { return (size_t)wc_abi_get_method(buf, (int32_t)cap); }

size_t wc_uri(char *buf, size_t cap) { return (size_t)wc_abi_get_uri(buf, (int32_t)cap); }

size_t wc_path(char *buf, size_t cap) {
  size_t n = wc_uri(buf, cap);
  if (n > cap) {
    return n;
  }
  const char *q = memchr(buf, '?', n);
  return q ? (size_t)(q - buf) : n;
}

size_t wc_request_header(const char *name, char *buf, size_t cap) {
  int64_t count_len = wc_abi_get_header_values(WC_REQUEST, name, (int32_t)strlen(name), buf, (int32_t)cap);
  if ((count_len >> 32) == 0) {
    return 0;
  }
  size_t len = (size_t)(uint32_t)count_len;
  if (len > cap) {
    return len;
  }
  const char *nul = memchr(buf, 0, len);
  return nul ? (size_t)(nul - buf) : len;
}

size_t wc_read_body(void *buf, size_t cap, int *eof) {
  int64_t eof_len = wc_abi_read_body(WC_REQUEST, buf, (int32_t)cap);
  *eof = (int)(eof_len >> 32);
  return (size_t)(uint32_t)eof_len;
}

int wc_method_is(const char *m) {
  char buf[16];
  size_t n = wc_method(buf, sizeof buf);
  return n <= sizeof buf && n == strlen(m) && memcmp(buf, m, n) == 0;
}

size_t wc_request_header_names(char *buf, size_t cap) {
  return (size_t)(uint32_t)wc_abi_get_header_names(WC_REQUEST, buf, (int32_t)cap);
}

size_t wc_request_header_values(const char *name, char *buf, size_t cap) {
  return (size_t)(uint32_t)wc_abi_get_header_values(WC_REQUEST, name, (int32_t)strlen(name), buf, (int32_t)cap);
}

static int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Decodes src[0:n] (percent-encoding, '+' as space) into buf if it fits;
 * returns the decoded length. */
static size_t decode(const char *src, size_t n, char *buf, size_t cap) {
  size_t out = 0;
  for (size_t i = 0; i < n; i++, out++) {
    char c = src[i];
    if (c == '+') {
      c = ' ';
    } else if (c == '%' && i + 2 < n && hex_digit(src[i + 1]) >= 0 && hex_digit(src[i + 2]) >= 0) {
      c = (char)(hex_digit(src[i + 1]) << 4 | hex_digit(src[i + 2]));
      i += 2;
    }
    if (out < cap) buf[out] = c;
  }
  if (out < cap) buf[out] = 0;
  return out;
}

long wc_query(const char *key, char *buf, size_t cap) {
  char uri[4096];
  size_t n = wc_uri(uri, sizeof uri);
  if (n > sizeof uri) return -1;
  const char *q = memchr(uri, '?', n);
  if (!q) return -1;
  const char *end = uri + n, *at = q + 1;
  size_t klen = strlen(key);
  while (at < end) {
    const char *amp = memchr(at, '&', (size_t)(end - at));
    const char *field_end = amp ? amp : end;
    const char *eq = memchr(at, '=', (size_t)(field_end - at));
    const char *name_end = eq ? eq : field_end;
    char name[256];
    size_t nlen = decode(at, (size_t)(name_end - at), name, sizeof name);
    if (nlen == klen && nlen < sizeof name && memcmp(name, key, klen) == 0) {
      const char *v = eq ? eq + 1 : field_end;
      return (long)decode(v, (size_t)(field_end - v), buf, cap);
    }
    at = field_end + 1;
  }
  return -1;
}

void wc_set_request_header(const char *name, const char *value) {
  wc_abi_set_header_value(WC_REQUEST, name, (int32_t)strlen(name), value, (int32_t)strlen(value));
}

void wc_add_request_header(const char *name, const char *value) {
  wc_abi_add_header_value(WC_REQUEST, name, (int32_t)strlen(name), value, (int32_t)strlen(value));
}

void wc_remove_request_header(const char *name) { wc_abi_remove_header(WC_REQUEST, name, (int32_t)strlen(name)); }

void wc_set_method(const char *method) { wc_abi_set_method(method, (int32_t)strlen(method)); }

void wc_set_uri(const char *uri) { wc_abi_set_uri(uri, (int32_t)strlen(uri)); }

void wc_set_status(int code) { wc_abi_set_status_code(code); }

void wc_set_header(const char *name, const char *value) {
  wc_abi_set_header_value(WC_RESPONSE, name, (int32_t)strlen(name), value, (int32_t)strlen(value));
}

void wc_add_header(const char *name, const char *value) {
  wc_abi_add_header_value(WC_RESPONSE, name, (int32_t)strlen(name), value, (int32_t)strlen(value));
}

void wc_remove_header(const char *name) { wc_abi_remove_header(WC_RESPONSE, name, (int32_t)strlen(name)); }

void wc_write(const void *p, size_t n) { wc_abi_write_body(WC_RESPONSE, p, (int32_t)n); }

void wc_write_str(const char *s) { wc_write(s, strlen(s)); }

size_t wc_config(void *buf, size_t cap) { return (size_t)wc_abi_get_config(buf, (int32_t)cap); }

void wc_log(enum wc_level level, const char *msg) {
  if (wc_abi_log_enabled(level)) {
    wc_abi_log(level, msg, (int32_t)strlen(msg));
  }
}

int wc_enable_features(int features) { return wc_abi_enable_features(features); }
