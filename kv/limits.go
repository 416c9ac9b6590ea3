package kv

import (
	"fmt"
	"strings"
)

// Defaults of Limits, used where a field is zero.
const (
	DefaultMaxKey   = 1 << 10 // bytes
	DefaultMaxValue = 1 << 20 // bytes
	DefaultMaxList  = 1000    // keys per List call
)

// Limits bound what a guest may ask of a store in one call. The zero value
// takes the defaults above.
type Limits struct {
	// MaxKey is the longest key, and prefix, in bytes. Default
	// DefaultMaxKey.
	MaxKey int
	// MaxValue is the largest value in bytes. Default DefaultMaxValue.
	MaxValue int
	// MaxList is the most keys one List call returns. Default
	// DefaultMaxList.
	MaxList int
}

// WithDefaults returns l with every zero or negative field set to its
// default.
func (l Limits) WithDefaults() Limits {
	if l.MaxKey <= 0 {
		l.MaxKey = DefaultMaxKey
	}
	if l.MaxValue <= 0 {
		l.MaxValue = DefaultMaxValue
	}
	if l.MaxList <= 0 {
		l.MaxList = DefaultMaxList
	}
	return l
}

// CheckKey says what is wrong with key, or returns nil.
func (l Limits) CheckKey(key string) error {
	if key == "" {
		return fmt.Errorf("empty key")
	}
	return l.CheckPrefix(key)
}

// CheckPrefix says what is wrong with a prefix of keys, or returns nil;
// unlike a key, a prefix may be empty.
func (l Limits) CheckPrefix(prefix string) error {
	if len(prefix) > l.MaxKey {
		return fmt.Errorf("key of %d bytes is over the limit of %d", len(prefix), l.MaxKey)
	}
	if strings.IndexByte(prefix, 0) >= 0 {
		return fmt.Errorf("key holds a NUL byte")
	}
	return nil
}

// CheckValue says what is wrong with value, or returns nil.
func (l Limits) CheckValue(value []byte) error {
	if len(value) > l.MaxValue {
		return fmt.Errorf("value of %d bytes is over the limit of %d", len(value), l.MaxValue)
	}
	return nil
}

// Page returns how many keys a List call asking for n returns at most: n
// within 1..MaxList, and MaxList for n <= 0.
func (l Limits) Page(n int) int {
	if n <= 0 || n > l.MaxList {
		return l.MaxList
	}
	return n
}
