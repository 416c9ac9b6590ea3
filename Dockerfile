# The wasmcluster image: the static CLI on an empty base, run as a
# non-root user, with the hello example and its compiled code baked in.
# It needs no base image pulled: `make image` builds the binary, the
# example and a warm compilation cache into bin/image/rootfs, which this
# copies as they are.
#
#   make image
#   docker run --rm -p 8080:8080 wasmcluster:latest                 # serves the baked-in hello
#   docker run --rm -p 8080:8080 -v $PWD/my.wasm:/srv/my.wasm:ro \
#       wasmcluster:latest serve --listen :8080 --admin :9090 /srv/my.wasm
FROM scratch
COPY --chown=65532:65532 bin/image/rootfs/ /
USER 65532:65532
# The compilation cache (DefaultCacheDir), the key-value store's default
# file (mount a volume at /state to keep it) and the primary's temporary
# files.
ENV XDG_CACHE_HOME=/cache XDG_STATE_HOME=/state TMPDIR=/tmp
EXPOSE 8080 9090
ENTRYPOINT ["/wasmcluster"]
CMD ["serve", "--listen", ":8080", "--admin", ":9090", "--drain-timeout", "20s", "/srv/hello.wasm"]
