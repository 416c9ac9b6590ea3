/* A handler that drives every call of wasmcluster_kv.h for kv_test.go,
 * on the store "default" (the protocol is in kv_test.go). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wasmcluster.h"
#include "wasmcluster_kv.h"

#define STORE "default"

static char path[1024], hdr[1024], old[1024], msg[512], keys[65536];
static char body[65536], value[4096];

/* answer sets the status and writes the n bytes at p. */
static int answer(int status, const void *p, size_t n) {
  wc_set_status(status);
  wc_write(p, n);
  return WC_DONE;
}

/* code answers a call's result: the store's message on a failure. */
static int code(int r) {
  if (r == WC_KV_NOT_FOUND) return answer(404, "", 0);
  if (r == WC_KV_CONFLICT) return answer(409, "", 0);
  if (r < 0) {
    size_t n = wc_kv_error(msg, sizeof msg);
    return answer(503, msg, n);
  }
  return answer(200, "", 0);
}

/* header reads a request header, NUL-terminated; 0 when absent. */
static int header(const char *name, char *buf, size_t cap) {
  size_t n = wc_request_header(name, buf, cap - 1);
  buf[n < cap ? n : 0] = 0;
  return n > 0 && n < cap;
}

/* read_body reads the whole request body; returns its length. */
static size_t read_body(void) {
  size_t n = 0;
  int eof = 0;
  while (!eof && n < sizeof body) n += wc_read_body(body + n, sizeof body - n, &eof);
  return n;
}

int wc_handle(void) {
  size_t n = wc_path(path, sizeof path - 1);
  path[n < sizeof path ? n : 0] = 0;
  if (strncmp(path, "/k/", 3) == 0) {
    const char *key = path + 3;
    if (wc_method_is("PUT")) {
      size_t len = read_body();
      long long ttl = header("x-ttl", hdr, sizeof hdr) ? atoll(hdr) : 0;
      return code(wc_kv_set(STORE, key, body, len, ttl));
    }
    if (wc_method_is("GET")) {
      int64_t r = wc_kv_get(STORE, key, value, 4096);
      if (r < 0) return code((int)r);
      if (r <= 4096) return answer(200, value, (size_t)r);
      /* A value over the buffer is read with wc_kv_read_result. */
      char *big = malloc((size_t)r);
      size_t got = wc_kv_read_result(big, (size_t)r);
      answer(200, big, got);
      free(big);
      return WC_DONE;
    }
    if (wc_method_is("DELETE")) return code(wc_kv_delete(STORE, key));
    if (wc_method_is("HEAD")) return code(wc_kv_exists(STORE, key));
  }
  if (strncmp(path, "/inc/", 5) == 0) {
    int64_t out;
    int r = wc_kv_increment(STORE, path + 5, 1, &out);
    if (r < 0) return code(r);
    char digits[32];
    return answer(200, digits, (size_t)snprintf(digits, sizeof digits, "%lld", (long long)out));
  }
  if (strncmp(path, "/swap/", 6) == 0) {
    size_t len = read_body();
    int has_old = header("x-old", old, sizeof old);
    return code(wc_kv_cas(STORE, path + 6, has_old ? old : NULL, strlen(old), body, len));
  }
  if (strncmp(path, "/list/", 6) == 0) {
    char after[1024] = "";
    header("x-after", after, sizeof after);
    int limit = header("x-limit", hdr, sizeof hdr) ? atoi(hdr) : 0;
    int64_t r = wc_kv_list(STORE, path + 6, after, limit, keys, sizeof keys);
    if (r < 0) return code((int)r);
    /* NUL after each key; answer them a line each. */
    size_t len = (size_t)r;
    for (size_t i = 0; i < len; i++) {
      if (keys[i] == 0) keys[i] = '\n';
    }
    return answer(200, keys, len ? len - 1 : 0);
  }
  return answer(404, "", 0);
}
