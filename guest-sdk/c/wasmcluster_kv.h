/*
 * wasmcluster_kv.h — the key-value stores of wasmcluster (../ABI.md, "Key-value
 * stores"), shared by every worker. Include it after wasmcluster.h.
 *
 * Every function names its store ("default" unless the operator gave
 * others) and returns WC_KV_OK (0) or more on success, or one of:
 *   WC_KV_FAILED    (-1) the call failed; wc_kv_error() says why
 *   WC_KV_NOT_FOUND (-2) the key is not set
 *   WC_KV_CONFLICT  (-3) a compare-and-swap found another value
 */
#ifndef WASMCLUSTER_KV_H
#define WASMCLUSTER_KV_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define WC_KV_OK 0
#define WC_KV_FAILED (-1)
#define WC_KV_NOT_FOUND (-2)
#define WC_KV_CONFLICT (-3)

#define WC_KV_IMPORT(name) __attribute__((import_module("wasmcluster"), import_name(#name)))
WC_KV_IMPORT(read_result) int32_t wc_kv_read_result_(void *buf, int32_t cap);
WC_KV_IMPORT(last_error) int32_t wc_kv_last_error_(void *buf, int32_t cap);
WC_KV_IMPORT(kv_get) int64_t wc_kv_get_(const char *s, size_t sl, const char *k, size_t kl, void *buf, size_t cap);
WC_KV_IMPORT(kv_set) int64_t wc_kv_set_(const char *s, size_t sl, const char *k, size_t kl, const void *v, size_t vl, int64_t ttl_ms);
WC_KV_IMPORT(kv_delete) int64_t wc_kv_delete_(const char *s, size_t sl, const char *k, size_t kl);
WC_KV_IMPORT(kv_exists) int64_t wc_kv_exists_(const char *s, size_t sl, const char *k, size_t kl);
WC_KV_IMPORT(kv_list) int64_t wc_kv_list_(const char *s, size_t sl, const char *p, size_t pl, const char *a, size_t al, int32_t limit, void *buf, size_t cap);
WC_KV_IMPORT(kv_increment) int64_t wc_kv_increment_(const char *s, size_t sl, const char *k, size_t kl, int64_t delta, void *buf, size_t cap);
WC_KV_IMPORT(kv_cas) int64_t wc_kv_cas_(const char *s, size_t sl, const char *k, size_t kl, const void *o, uint32_t ol, const void *v, size_t vl, int64_t ttl_ms);
#undef WC_KV_IMPORT

/* The value of key into buf; returns its full length, or a code. A value
 * longer than cap is not written: call wc_kv_read_result with a buffer
 * that big before the next call. */
static inline int64_t wc_kv_get(const char *store, const char *key, void *buf, size_t cap) {
  return wc_kv_get_(store, strlen(store), key, strlen(key), buf, cap);
}

/* The last call's whole result, when it did not fit; returns its length. */
static inline size_t wc_kv_read_result(void *buf, size_t cap) {
  return (size_t)wc_kv_read_result_(buf, (int32_t)cap);
}

/* Sets key to the n bytes at value; ttl_ms > 0 expires it after that. */
static inline int wc_kv_set(const char *store, const char *key, const void *value, size_t n, int64_t ttl_ms) {
  return (int)wc_kv_set_(store, strlen(store), key, strlen(key), value, n, ttl_ms);
}

/* Removes key: WC_KV_OK, or WC_KV_NOT_FOUND when it was not set. */
static inline int wc_kv_delete(const char *store, const char *key) {
  return (int)wc_kv_delete_(store, strlen(store), key, strlen(key));
}

/* WC_KV_OK when key is set, WC_KV_NOT_FOUND when not. */
static inline int wc_kv_exists(const char *store, const char *key) {
  return (int)wc_kv_exists_(store, strlen(store), key, strlen(key));
}

/* Up to limit keys (0: the host's most) that start with prefix, after
 * after ("" first), each followed by a NUL, into buf; returns their length. */
static inline int64_t wc_kv_list(const char *store, const char *prefix, const char *after, int limit, char *buf, size_t cap) {
  return wc_kv_list_(store, strlen(store), prefix, strlen(prefix), after, strlen(after), limit, buf, cap);
}

/* Adds delta to the counter at key, atomically; the new value in *out. */
static inline int wc_kv_increment(const char *store, const char *key, int64_t delta, int64_t *out) {
  int64_t r = wc_kv_increment_(store, strlen(store), key, strlen(key), delta, out, sizeof *out);
  return r < 0 ? (int)r : WC_KV_OK;
}

/* Sets key to value if it holds the old_n bytes at old — or, with old
 * NULL, if it is not set: WC_KV_OK, or WC_KV_CONFLICT. */
static inline int wc_kv_cas(const char *store, const char *key, const void *old, size_t old_n, const void *value, size_t n) {
  return (int)wc_kv_cas_(store, strlen(store), key, strlen(key), old, old ? (uint32_t)old_n : 0xffffffffu, value, n, 0);
}

/* The last failure's message, NUL-terminated; returns its length. */
static inline size_t wc_kv_error(char *buf, size_t cap) {
  int32_t n = wc_kv_last_error_(buf, (int32_t)(cap ? cap - 1 : 0));
  if (cap) buf[(size_t)n < cap ? (size_t)n : 0] = 0;
  return (size_t)n < cap ? (size_t)n : 0;
}

#endif
