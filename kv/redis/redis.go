// Package redis is the key-value backend for apps that run on several
// machines: a Redis server that every worker of every machine shares.
// Every operation is one Redis command or script, and so atomic on the
// server.
package redis

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/wasmcluster/wasmcluster/kv"
)

// Store is a key-value store on a Redis server.
type Store struct {
	client *goredis.Client
	prefix string // put before every key, so that stores can share a database
}

var _ kv.Store = (*Store)(nil)

// Open returns the store at rawURL, redis://[user:password@]host:port/db
// (rediss:// for TLS), with go-redis's options in the query and one of
// its own: prefix=P puts P before every key. Open does not connect: a
// server that is down fails the calls made while it is, not Open.
func Open(rawURL string) (*Store, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("key-value store %s: %w", rawURL, err)
	}
	q := u.Query()
	prefix := q.Get("prefix")
	q.Del("prefix")
	u.RawQuery = q.Encode()
	opts, err := goredis.ParseURL(u.String())
	if err != nil {
		return nil, fmt.Errorf("key-value store %s: %w", u.Redacted(), err)
	}
	// Calls end at their context's deadline, the request's; a server that
	// is down costs a request one short dial, not a hang.
	opts.ContextTimeoutEnabled = true
	opts.DialTimeout = 2 * time.Second
	opts.MaxRetries = 1
	return &Store{client: goredis.NewClient(opts), prefix: prefix}, nil
}

// Ping checks that the server answers.
func (s *Store) Ping(ctx context.Context) error { return s.client.Ping(ctx).Err() }

// Get returns the value of key.
func (s *Store) Get(ctx context.Context, key string) ([]byte, bool, error) {
	v, err := s.client.Get(ctx, s.prefix+key).Bytes()
	if errors.Is(err, goredis.Nil) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return v, true, nil
}

// Set sets key to value.
func (s *Store) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	return s.client.Set(ctx, s.prefix+key, value, redisTTL(ttl)).Err()
}

// Delete removes key.
func (s *Store) Delete(ctx context.Context, key string) (bool, error) {
	n, err := s.client.Del(ctx, s.prefix+key).Result()
	return n > 0, err
}

// Exists reports whether key is set.
func (s *Store) Exists(ctx context.Context, key string) (bool, error) {
	n, err := s.client.Exists(ctx, s.prefix+key).Result()
	return n > 0, err
}

// List returns up to limit keys starting with prefix, after after, in byte
// order. Redis keeps keys unordered, so every page scans all the keys
// that start with prefix: a cost in proportion to them, paid on the
// server in batches.
func (s *Store) List(ctx context.Context, prefix, after string, limit int) ([]string, error) {
	var keys []string
	iter := s.client.Scan(ctx, 0, globEscape(s.prefix+prefix)+"*", 1000).Iterator()
	for iter.Next(ctx) {
		k := strings.TrimPrefix(iter.Val(), s.prefix)
		if k <= after {
			continue
		}
		i, found := slices.BinarySearch(keys, k)
		if found || (len(keys) == limit && i == limit) {
			continue // SCAN may repeat a key; and this one is past the page
		}
		keys = slices.Insert(keys, i, k)
		if len(keys) > limit {
			keys = keys[:limit]
		}
	}
	if err := iter.Err(); err != nil {
		return nil, err
	}
	if keys == nil {
		keys = []string{}
	}
	return keys, nil
}

// globEscape quotes the characters SCAN's MATCH pattern gives a meaning.
func globEscape(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if strings.IndexByte(`*?[]\`, c) >= 0 {
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	return b.String()
}

// Increment adds delta to the counter at key.
func (s *Store) Increment(ctx context.Context, key string, delta int64) (int64, error) {
	n, err := s.client.IncrBy(ctx, s.prefix+key, delta).Result()
	switch {
	case err == nil:
		return n, nil
	case strings.Contains(err.Error(), "overflow"):
		return 0, kv.ErrOverflow
	case strings.Contains(err.Error(), "not an integer"):
		return 0, kv.ErrNotInteger
	}
	return 0, err
}

// casScript sets KEYS[1] to ARGV[3] when it holds ARGV[2] (ARGV[1] = "1")
// or is not set (ARGV[1] = "0"); ARGV[4] is a time-to-live in
// milliseconds, 0 for none. It returns 1 when it set the key.
var casScript = goredis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if ARGV[1] == '1' then
	if cur ~= ARGV[2] then return 0 end
elseif cur then
	return 0
end
if ARGV[4] ~= '0' then
	redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[4])
else
	redis.call('SET', KEYS[1], ARGV[3])
end
return 1
`)

// CompareAndSwap sets key to value if its value is old (nil: not set).
func (s *Store) CompareAndSwap(ctx context.Context, key string, old, value []byte, ttl time.Duration) (bool, error) {
	hasOld := "0"
	if old != nil {
		hasOld = "1"
	}
	ms := int64(0)
	if ttl > 0 {
		ms = max(ttl.Milliseconds(), 1)
	}
	n, err := casScript.Run(ctx, s.client, []string{s.prefix + key}, hasOld, old, value, ms).Int()
	return n == 1, err
}

// Close closes the connections to the server.
func (s *Store) Close() error { return s.client.Close() }

// redisTTL is ttl as go-redis takes it: 0 for none.
func redisTTL(ttl time.Duration) time.Duration {
	if ttl <= 0 {
		return 0
	}
	return max(ttl, time.Millisecond)
}
