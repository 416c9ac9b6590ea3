/*
 * A server-sent-events handler on the C guest SDK: four events, 200 ms
 * apart, each flushed to the client as it is written.
 *
 *   clang --target=wasm32-wasi -mexec-model=reactor -O2 -I guest-sdk/c \
 *       -o sse.wasm examples/sse/c/sse.c guest-sdk/c/wasmcluster.c
 */
#include <stdio.h>
#include <time.h>

#include "wasmcluster.h"

int wc_handle(void) {
    wc_set_header("Content-Type", "text/event-stream");
    wc_set_header("Cache-Control", "no-cache");
    for (int i = 1; i <= 4; i++) {
        if (i > 1) {
            struct timespec pause = {0, 200 * 1000 * 1000};
            nanosleep(&pause, NULL);
        }
        char event[32];
        snprintf(event, sizeof event, "data: tick %d\n\n", i);
        wc_write_str(event);
        wc_flush();
    }
    return WC_DONE;
}
