// Package sqlite is the embedded key-value backend: one SQLite database
// file that every worker process of a machine opens at once. SQLite's
// write-ahead log lets readers and one writer at a time work concurrently
// across processes; a writer that finds the file locked waits (up to a
// busy timeout, and never past its context) instead of failing. Commits
// survive a crash or a kill of any process.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/wasmcluster/wasmcluster/kv"
	_ "modernc.org/sqlite" // the database/sql driver "sqlite", pure Go
)

// DefaultQuota bounds the bytes of keys and values of a store whose
// Options leave Quota zero.
const DefaultQuota = 1 << 30

// busyTimeout is how long a write waits for another process's write to
// finish before it fails. A request's deadline cuts it shorter.
const busyTimeout = 10 * time.Second

// purgeEvery is how often a store deletes the keys whose time-to-live has
// passed; until then they only take room.
const purgeEvery = time.Minute

// Options tune a store.
type Options struct {
	// Quota bounds the bytes of the store's keys and values together; a
	// write that would go over it fails with kv.ErrQuota. Default
	// DefaultQuota; negative means no quota.
	Quota int64
}

// Store is a key-value store in a SQLite database file.
type Store struct {
	db   *sql.DB
	stop chan struct{}
	done chan struct{}
}

var _ kv.Store = (*Store)(nil)

// DefaultPath is where the store named name lives when the operator names
// no file: name.db in $XDG_STATE_HOME/wasmcluster/kv, or in
// ~/.local/state/wasmcluster/kv when XDG_STATE_HOME is not set. State, not
// cache: it lasts across restarts and is never cleaned behind the user.
func DefaultPath(name string) (string, error) {
	dir := os.Getenv("XDG_STATE_HOME")
	if dir == "" || !filepath.IsAbs(dir) {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("no place for the key-value store: %w", err)
		}
		dir = filepath.Join(home, ".local", "state")
	}
	return filepath.Join(dir, "wasmcluster", "kv", name+".db"), nil
}

// schema is the store's tables and triggers. usage keeps the bytes of keys
// and values up to date in the same transaction as every write, and
// refuses a write that makes them grow past the quota.
const schema = `
CREATE TABLE IF NOT EXISTS kv (
	key     BLOB PRIMARY KEY,
	value   BLOB NOT NULL,
	expires INTEGER -- unix milliseconds; NULL: never
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS usage (
	id    INTEGER PRIMARY KEY CHECK (id = 0),
	bytes INTEGER NOT NULL,
	quota INTEGER NOT NULL -- negative: none
);
INSERT OR IGNORE INTO usage VALUES (0, 0, -1);
CREATE TRIGGER IF NOT EXISTS kv_insert AFTER INSERT ON kv BEGIN
	UPDATE usage SET bytes = bytes + length(NEW.key) + length(NEW.value);
END;
CREATE TRIGGER IF NOT EXISTS kv_update AFTER UPDATE ON kv BEGIN
	UPDATE usage SET bytes = bytes + length(NEW.value) - length(OLD.value);
END;
CREATE TRIGGER IF NOT EXISTS kv_delete AFTER DELETE ON kv BEGIN
	UPDATE usage SET bytes = bytes - length(OLD.key) - length(OLD.value);
END;
CREATE TRIGGER IF NOT EXISTS usage_quota AFTER UPDATE OF bytes ON usage
WHEN NEW.quota >= 0 AND NEW.bytes > NEW.quota AND NEW.bytes > OLD.bytes BEGIN
	SELECT RAISE(ABORT, 'wasmcluster kv quota');
END;
`

// quotaMessage is what the usage_quota trigger fails a statement with.
const quotaMessage = "wasmcluster kv quota"

// Open opens the store in the database file at path, creating the file
// and its directory when they do not exist.
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	if opts.Quota == 0 {
		opts.Quota = DefaultQuota
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("key-value store %s: %w", path, err)
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout("+strconv.FormatInt(busyTimeout.Milliseconds(), 10)+")")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Set("_txlock", "immediate") // a transaction that writes locks first, so it never fails to upgrade
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("key-value store %s: %w", path, err)
	}
	// A worker runs a few guests at once; keep their connections open
	// rather than setting up a new one (and its pragmas) per call.
	db.SetMaxIdleConns(16)
	db.SetMaxOpenConns(16)
	s := &Store{db: db, stop: make(chan struct{}), done: make(chan struct{})}
	if _, err := db.ExecContext(ctx, schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("key-value store %s: %w", path, err)
	}
	if _, err := db.ExecContext(ctx, `UPDATE usage SET quota = ?`, opts.Quota); err != nil {
		db.Close()
		return nil, fmt.Errorf("key-value store %s: %w", path, err)
	}
	go s.purgeLoop()
	return s, nil
}

// now is the clock expiry is measured against, in unix milliseconds.
func now() int64 { return time.Now().UnixMilli() }

// expiry turns a time-to-live into the expires column.
func expiry(ttl time.Duration) any {
	if ttl <= 0 {
		return nil
	}
	return now() + max(ttl.Milliseconds(), 1)
}

// upsert sets a key's value and expiry, whether it is there or not.
const upsert = `INSERT INTO kv (key, value, expires) VALUES (?, ?, ?)
	ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires = excluded.expires`

// live is the condition of a key that has not expired; it takes now().
const live = `(expires IS NULL OR expires > ?)`

// Get returns the value of key.
func (s *Store) Get(ctx context.Context, key string) ([]byte, bool, error) {
	var v []byte
	err := s.db.QueryRowContext(ctx, `SELECT value FROM kv WHERE key = ? AND `+live, []byte(key), now()).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	if v == nil {
		v = []byte{}
	}
	return v, true, nil
}

// Set sets key to value.
func (s *Store) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	return s.write(ctx, upsert, []byte(key), nonNil(value), expiry(ttl))
}

// Delete removes key.
func (s *Store) Delete(ctx context.Context, key string) (bool, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM kv WHERE key = ? AND `+live, []byte(key), now())
	return affected(res, err)
}

// Exists reports whether key is set.
func (s *Store) Exists(ctx context.Context, key string) (bool, error) {
	var one int
	err := s.db.QueryRowContext(ctx, `SELECT 1 FROM kv WHERE key = ? AND `+live, []byte(key), now()).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// List returns up to limit keys starting with prefix, after after.
func (s *Store) List(ctx context.Context, prefix, after string, limit int) ([]string, error) {
	query := `SELECT key FROM kv WHERE key >= ? AND key > ? AND ` + live
	args := []any{[]byte(prefix), []byte(after), now()}
	if end, ok := prefixEnd(prefix); ok {
		query += ` AND key < ?`
		args = append(args, []byte(end))
	}
	rows, err := s.db.QueryContext(ctx, query+` ORDER BY key LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	keys := []string{}
	for rows.Next() {
		var k []byte
		if err := rows.Scan(&k); err != nil {
			return nil, err
		}
		keys = append(keys, string(k))
	}
	return keys, rows.Err()
}

// prefixEnd is the least key after every key that starts with prefix, if
// there is one: prefix with its last byte below 0xff counted up.
func prefixEnd(prefix string) (string, bool) {
	b := []byte(prefix)
	for len(b) > 0 && b[len(b)-1] == 0xff {
		b = b[:len(b)-1]
	}
	if len(b) == 0 {
		return "", false
	}
	b[len(b)-1]++
	return string(b), true
}

// Increment adds delta to the counter at key.
func (s *Store) Increment(ctx context.Context, key string, delta int64) (n int64, err error) {
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		var v []byte
		var expires sql.NullInt64
		err := tx.QueryRowContext(ctx, `SELECT value, expires FROM kv WHERE key = ? AND `+live, []byte(key), now()).Scan(&v, &expires)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			n, expires = delta, sql.NullInt64{}
		case err != nil:
			return err
		default:
			old, err := strconv.ParseInt(string(v), 10, 64)
			if err != nil {
				return kv.ErrNotInteger
			}
			if n = old + delta; (delta > 0 && n < old) || (delta < 0 && n > old) {
				return kv.ErrOverflow
			}
		}
		_, err = tx.ExecContext(ctx, upsert, []byte(key), strconv.AppendInt(nil, n, 10), expires)
		return err
	})
	return n, err
}

// CompareAndSwap sets key to value if its value is old (nil: not set).
func (s *Store) CompareAndSwap(ctx context.Context, key string, old, value []byte, ttl time.Duration) (bool, error) {
	if old == nil {
		// In one write transaction: look, then insert (or replace a row
		// that has expired and so is not set). The changes count of an
		// upsert that did nothing is not relied on.
		swapped := false
		err := s.inTx(ctx, func(tx *sql.Tx) error {
			var one int
			err := tx.QueryRowContext(ctx, `SELECT 1 FROM kv WHERE key = ? AND `+live, []byte(key), now()).Scan(&one)
			if !errors.Is(err, sql.ErrNoRows) {
				return err // set already (nil), or failed
			}
			_, err = tx.ExecContext(ctx, upsert, []byte(key), nonNil(value), expiry(ttl))
			swapped = err == nil
			return err
		})
		return swapped && err == nil, err
	}
	return s.writeAffected(ctx, `UPDATE kv SET value = ?, expires = ? WHERE key = ? AND value = ? AND `+live,
		nonNil(value), expiry(ttl), []byte(key), old, now())
}

// Close stops the purge and closes the database.
func (s *Store) Close() error {
	close(s.stop)
	<-s.done
	return s.db.Close()
}

// write runs a statement that may grow the store. One that finds the store
// over its quota first purges expired keys and tries once more.
func (s *Store) write(ctx context.Context, query string, args ...any) error {
	_, err := s.writeAffected(ctx, query, args...)
	return err
}

// writeAffected is write, reporting whether the statement changed a row.
func (s *Store) writeAffected(ctx context.Context, query string, args ...any) (bool, error) {
	res, err := s.db.ExecContext(ctx, query, args...)
	if isQuota(err) {
		if _, perr := s.purge(ctx); perr != nil {
			return false, perr
		}
		res, err = s.db.ExecContext(ctx, query, args...)
	}
	return affected(res, quotaError(err))
}

// inTx runs fn in a write transaction, committed when fn returns nil.
func (s *Store) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return quotaError(err)
	}
	return tx.Commit()
}

// purge deletes the keys whose time-to-live has passed.
func (s *Store) purge(ctx context.Context) (int64, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM kv WHERE expires <= ?`, now())
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// purgeLoop purges every purgeEvery until Close.
func (s *Store) purgeLoop() {
	defer close(s.done)
	t := time.NewTicker(purgeEvery)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), busyTimeout)
			_, _ = s.purge(ctx) // a failed purge only leaves room taken until the next
			cancel()
		}
	}
}

// isQuota reports whether err is the quota trigger's.
func isQuota(err error) bool {
	return err != nil && strings.Contains(err.Error(), quotaMessage)
}

// quotaError turns the quota trigger's error into kv.ErrQuota.
func quotaError(err error) error {
	if isQuota(err) {
		return kv.ErrQuota
	}
	return err
}

// affected reports whether a statement changed a row.
func affected(res sql.Result, err error) (bool, error) {
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// nonNil keeps an empty value from being stored as NULL.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
