/* A handler that exercises the helpers of wasmcluster.h for sdk_test.go:
 * the path picks the behaviour. */
#include <stdio.h>
#include <string.h>

#include "wasmcluster.h"

int wc_handle(void) {
  char path[256], buf[1024];
  size_t n = wc_path(path, sizeof path - 1);
  path[n < sizeof path ? n : 0] = 0;
  if (strcmp(path, "/names") == 0) {
    /* The request header names, NULs turned into commas. */
    n = wc_request_header_names(buf, sizeof buf);
    for (size_t i = 0; i < n && i < sizeof buf; i++) {
      if (buf[i] == 0) buf[i] = ',';
    }
    wc_write(buf, n);
    return WC_DONE;
  }
  if (strcmp(path, "/values") == 0) {
    n = wc_request_header_values("x-multi", buf, sizeof buf);
    for (size_t i = 0; i < n && i < sizeof buf; i++) {
      if (buf[i] == 0) buf[i] = ',';
    }
    wc_write(buf, n);
    return WC_DONE;
  }
  if (strcmp(path, "/query") == 0) {
    long len = wc_query("q", buf, sizeof buf);
    char out[1100];
    snprintf(out, sizeof out, "%ld:%s|%ld", len, len >= 0 ? buf : "", wc_query("absent", buf, sizeof buf));
    wc_write_str(out);
    return WC_DONE;
  }
  if (strcmp(path, "/remove") == 0) {
    wc_set_header("X-Gone", "1");
    wc_remove_header("X-Gone");
    wc_add_header("Set-Cookie", "a=1");
    wc_add_header("Set-Cookie", "b=2");
    return WC_DONE;
  }
  if (strcmp(path, "/next") == 0) {
    wc_set_request_header("X-Set", "set");
    wc_add_request_header("X-Multi", "added");
    wc_remove_request_header("X-Drop");
    wc_set_method("PUT");
    wc_set_uri("/rewritten?x=1");
    return WC_NEXT;
  }
  wc_set_status(404);
  return WC_DONE;
}
