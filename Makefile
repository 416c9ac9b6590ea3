# The two everyday commands: `make serve` and `make test`.

GO ?= go

.PHONY: serve test check build bench image fuzz

# serve builds the CLI and the hello example — the Go one, on the SDK's
# Exchange API — and serves it on 127.0.0.1:8080 (admin endpoints on
# 127.0.0.1:9090; pid in bin/wasmcluster.pid for `bin/wasmcluster reload`
# and `stop`).
serve: build
	bin/wasmcluster serve --listen 127.0.0.1:8080 --admin 127.0.0.1:9090 --pid-file bin/wasmcluster.pid bin/hello.wasm

build:
	$(GO) build -o bin/wasmcluster ./cmd/wasmcluster
	GOOS=wasip1 GOARCH=wasm $(GO) build -buildmode=c-shared -o bin/hello.wasm ./examples/hello-wasm/go-exchange

# test installs the guest toolchains the tests build with (Debian packages
# and npm; needs root on a fresh machine), then runs every check and test.
test:
	scripts/install-toolchains
	$(MAKE) check
	scripts/no-tmp-leftovers $(GO) test ./...
	$(MAKE) fuzz

# fuzz runs each fuzz target briefly (FUZZTIME each, 11s by default: the
# four together take no longer than three did at 15s); host/fuzz_test.go
# says how to run one longer.
FUZZTIME ?= 11s
fuzz:
	for target in FuzzNew FuzzInstrument FuzzCGIResponse FuzzHostFunctions; do \
		$(GO) test ./host -run '^$$' -fuzz "^$$target\$$" -fuzztime $(FUZZTIME) || exit 1; \
	done

check:
	test -z "$$(gofmt -l .)" || { gofmt -l .; exit 1; }
	$(GO) vet ./...
	GOOS=wasip1 GOARCH=wasm $(GO) vet ./guest-sdk/go/... ./examples/hello-wasm/go/... ./examples/hello-wasm/go-exchange/... ./examples/sse/go/... ./examples/sse/cgi-go/... ./examples/host-functions/guest/... ./examples/counter/...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

# bench runs the Go benchmarks and the wrk comparisons (bench/run.sh, and
# bench/kv.sh for the key-value stores).
bench:
	$(GO) test -run XXX -bench . ./host/ ./examples/hello-wasm/ ./kv/
	bench/run.sh
	bench/kv.sh

# image builds the container image wasmcluster:latest (see Dockerfile): a
# static CLI, the hello example and its compiled code, staged in
# bin/image/rootfs. It needs docker and no base image.
image:
	rm -rf bin/image && mkdir -p bin/image/rootfs/srv bin/image/rootfs/tmp bin/image/rootfs/cache bin/image/rootfs/state
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/image/rootfs/wasmcluster ./cmd/wasmcluster
	GOOS=wasip1 GOARCH=wasm $(GO) build -trimpath -buildmode=c-shared -o bin/image/rootfs/srv/hello.wasm ./examples/hello-wasm/go-exchange
	bin/image/rootfs/wasmcluster compile --cache-dir bin/image/rootfs/cache/wasmcluster bin/image/rootfs/srv/hello.wasm
	chmod 1777 bin/image/rootfs/tmp
	docker build -t wasmcluster:latest .
