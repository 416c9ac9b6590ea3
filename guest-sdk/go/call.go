package guest

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// callABI calls the embedding program's host functions.
type callABI interface {
	call(name string, in, buf []byte) int64
}

// calls is the host; a Wasm build sets it.
var calls callABI

// callBuf receives results; an instance serves one request at a time.
var callBuf = make([]byte, 4096)

// Call calls the host function name, which the program embedding the host
// registered (host.Config.Functions), with input in, and returns its
// result. The function's error comes back as an error with its message; a
// name the host does not know gives an error wrapping ErrNotFound.
func Call(name string, in []byte) ([]byte, error) {
	if calls == nil {
		return nil, errNoHost
	}
	out, err := extResult(calls.call(name, in, callBuf), callBuf)
	switch {
	case err == ErrNotFound:
		return nil, fmt.Errorf("host function %s: %w", name, err)
	case err != nil:
		return nil, err
	}
	return bytes.Clone(out), nil
}

// CallJSON calls the host function name with in encoded as JSON and
// decodes its result into out, for functions registered with
// host.JSONFunction.
func CallJSON(name string, in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("host function %s: encode input: %w", name, err)
	}
	if b, err = Call(name, b); err != nil {
		return err
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("host function %s: decode result: %w", name, err)
	}
	return nil
}
