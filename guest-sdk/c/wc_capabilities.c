/* The helpers of wc_capabilities.h. */
#include "wc_capabilities.h"

#include <stdlib.h>
#include <string.h>

int64_t wc_call(const char *name, const void *in, size_t in_len, void *out, size_t cap) {
  return wc_ext_call(name, (int32_t)strlen(name), in, (int32_t)in_len, out, (int32_t)cap);
}

size_t wc_read_result(void *buf, size_t cap) { return (size_t)wc_ext_read_result(buf, (int32_t)cap); }

size_t wc_last_error(char *buf, size_t cap) { return (size_t)wc_ext_last_error(buf, (int32_t)cap); }

int64_t wc_fetch(const char *method, const char *url, const void *body, size_t body_len, int *status, void *out,
                 size_t cap) {
  int64_t h = wc_ext_http_request(method, (int32_t)strlen(method), url, (int32_t)strlen(url));
  if (h < 0) {
    return h;
  }
  int64_t r = 0;
  if (body != NULL && body_len > 0) {
    r = wc_ext_http_write((int32_t)h, body, (int32_t)body_len);
  }
  if (r >= 0) {
    /* The head starts with the status code and a NUL. */
    char head[16];
    r = wc_ext_http_send((int32_t)h, head, sizeof head);
    if (r >= 0) {
      *status = atoi(r <= (int64_t)sizeof head ? head : "0");
      if (r > (int64_t)sizeof head) {
        char *full = malloc((size_t)r);
        if (full != NULL) {
          wc_read_result(full, (size_t)r);
          *status = atoi(full);
          free(full);
        }
      }
      size_t got = 0;
      while (got < cap) {
        r = wc_ext_http_read((int32_t)h, (char *)out + got, (int32_t)(cap - got));
        if (r <= 0) {
          break;
        }
        got += (size_t)r;
      }
      if (r >= 0) {
        r = (int64_t)got;
      }
    }
  }
  wc_ext_http_close((int32_t)h);
  return r;
}
