package host_test

import (
	"context"
	"errors"

	"github.com/wasmcluster/wasmcluster/host"
)

// A program gives its guest functions of its own, and lets it reach one
// service over HTTP.
func ExampleConfig_capabilities() {
	accounts := map[string]int{"ada": 42}
	balance := func(ctx context.Context, in struct{ User string }) (int, error) {
		if host.RequestFromContext(ctx).Header.Get("Authorization") == "" {
			return 0, errors.New("not signed in")
		}
		return accounts[in.User], nil
	}
	_ = host.Config{
		Functions: map[string]host.Function{"balance": host.JSONFunction(balance)},
		Outbound:  host.Outbound{Allow: []string{"https://api.example.com"}},
	}
}
