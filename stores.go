package wasmcluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/wasmcluster/wasmcluster/kv"
	"github.com/wasmcluster/wasmcluster/kv/redis"
	"github.com/wasmcluster/wasmcluster/kv/sqlite"
)

// OpenStore opens the key-value store at rawURL:
//
//   - sqlite:PATH or sqlite:///ABS/PATH — the embedded store, a database
//     file every worker of this machine shares; quota bounds its size
//     (0: sqlite.DefaultQuota, negative: none).
//   - redis://[user:password@]host:port/db or rediss://... — a Redis
//     server, which several machines can share; see kv/redis.Open.
func OpenStore(ctx context.Context, rawURL string, quota int64) (kv.Store, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("key-value store %q: %w", rawURL, err)
	}
	switch u.Scheme {
	case "sqlite":
		path := u.Opaque
		if path == "" {
			path = u.Path
		}
		if path == "" || u.Host != "" {
			return nil, fmt.Errorf("key-value store %q: want sqlite:PATH or sqlite:///ABSOLUTE/PATH", rawURL)
		}
		return sqlite.Open(ctx, path, sqlite.Options{Quota: quota})
	case "redis", "rediss":
		return redis.Open(rawURL)
	}
	return nil, fmt.Errorf("key-value store %q: want a sqlite: or redis:// URL", rawURL)
}

// openStores opens every store of cfg.KV and returns them joined to those
// of cfg.Host.KV, and apart, for closeStores. A Redis store that does not
// answer is logged and opened all the same: it fails the guest's calls
// only while it is down.
func openStores(ctx context.Context, cfg Config, log *slog.Logger) (all map[string]kv.Store, opened []kv.Store, err error) {
	stores := make(map[string]kv.Store, len(cfg.Host.KV)+len(cfg.KV))
	for name, s := range cfg.Host.KV {
		stores[name] = s
	}
	for name, rawURL := range cfg.KV {
		s, err := OpenStore(ctx, rawURL, cfg.KVQuota)
		if err != nil {
			_ = closeStores(opened)
			return nil, nil, err
		}
		opened = append(opened, s)
		stores[name] = s
		if p, ok := s.(interface{ Ping(context.Context) error }); ok {
			pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			if err := p.Ping(pctx); err != nil {
				log.Warn("key-value store does not answer; its calls fail until it does", "store", name, "error", err)
			}
			cancel()
		}
	}
	return stores, opened, nil
}

// closeStores closes the stores openStores opened.
func closeStores(stores []kv.Store) error {
	var errs []error
	for _, s := range stores {
		errs = append(errs, s.Close())
	}
	return errors.Join(errs...)
}
