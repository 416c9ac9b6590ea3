# The two everyday commands: `make serve` and `make test`.

GO ?= go

.PHONY: serve test check build bench fuzz

# serve builds the CLI and the hello example — the Go one, on the SDK's
# Exchange API — and serves it on :8080 (admin endpoints on
# 127.0.0.1:9090).
serve: build
	bin/wasmcluster serve --admin 127.0.0.1:9090 bin/hello.wasm

build:
	$(GO) build -o bin/wasmcluster ./cmd/wasmcluster
	GOOS=wasip1 GOARCH=wasm $(GO) build -buildmode=c-shared -o bin/hello.wasm ./examples/hello-wasm/go-exchange

# test installs the guest toolchains the tests build with (Debian packages
# and npm; needs root on a fresh machine), then runs every check and test.
test:
	scripts/install-toolchains
	$(MAKE) check
	$(GO) test ./...
	$(MAKE) fuzz

# fuzz runs each fuzz target briefly (FUZZTIME each, 15s by default);
# host/fuzz_test.go says how to run one longer.
FUZZTIME ?= 15s
fuzz:
	for target in FuzzNew FuzzInstrument FuzzCGIResponse; do \
		$(GO) test ./host -run '^$$' -fuzz "^$$target\$$" -fuzztime $(FUZZTIME) || exit 1; \
	done

check:
	test -z "$$(gofmt -l .)" || { gofmt -l .; exit 1; }
	$(GO) vet ./...
	GOOS=wasip1 GOARCH=wasm $(GO) vet ./guest-sdk/go/... ./examples/hello-wasm/go/... ./examples/hello-wasm/go-exchange/... ./examples/sse/go/... ./examples/sse/cgi-go/... ./examples/host-functions/guest/... ./examples/counter/...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

# bench runs the Go benchmarks and the wrk comparison (bench/run.sh).
bench:
	$(GO) test -run XXX -bench . ./host/ ./examples/hello-wasm/
	bench/run.sh
