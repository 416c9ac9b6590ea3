// Package sse_test serves the server-sent-events example of every language
// through the host and measures when each event reaches the client.
package sse_test

import (
	"bufio"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmcluster/wasmcluster/host"
	"github.com/wasmcluster/wasmcluster/internal/testwasm"
	"github.com/wasmcluster/wasmcluster/internal/transports"
)

// examples builds each sse example from source.
var examples = []struct {
	name  string
	mode  host.Mode
	build func(testing.TB) string
}{
	{"go", host.ModeHandler, func(t testing.TB) string { return testwasm.GoReactor(t, "examples/sse/go") }},
	{"c", host.ModeHandler, func(t testing.TB) string {
		return testwasm.C(t, true, "examples/sse/c/sse.c", "guest-sdk/c/wasmcluster.c")
	}},
	{"rust", host.ModeHandler, func(t testing.TB) string { return testwasm.Rust(t, "examples/sse/rust/sse.rs") }},
	{"assemblyscript", host.ModeHandler, func(t testing.TB) string {
		return testwasm.AssemblyScript(t, "examples/sse/assemblyscript/sse.ts")
	}},
	{"cgi-go", host.ModeCGI, func(t testing.TB) string { return testwasm.GoCommand(t, "examples/sse/cgi-go") }},
}

// The events are written this far apart; each must reach the client
// within tolerance of that.
const (
	interval  = 200 * time.Millisecond
	tolerance = 100 * time.Millisecond
)

func TestEventsArriveAsTheyAreWritten(t *testing.T) {
	for _, ex := range examples {
		t.Run(ex.name, func(t *testing.T) {
			h, err := host.Load(context.Background(), ex.build(t), host.Config{})
			require.NoError(t, err)
			t.Cleanup(func() { _ = h.Close(context.Background()) })
			require.Equal(t, ex.mode, h.Mode())
			transports.Each(t, h, func(t *testing.T, c *http.Client, url string) {
				// A loaded machine can delay one event: the pacing is
				// measured up to three times. A response that does not
				// stream never passes (its events arrive at once).
				for attempt := 1; ; attempt++ {
					gaps := events(t, c, url)
					if paced(gaps) || attempt == 3 {
						for i, gap := range gaps {
							assert.InDelta(t, interval, gap, float64(tolerance),
								"attempt %d: event %d arrived %v after the one before", attempt, i+2, gap)
						}
						break
					}
					t.Logf("attempt %d: events arrived %v apart; measuring again", attempt, gaps)
				}
			})
		})
	}
}

// paced reports whether every gap is within tolerance of interval.
func paced(gaps []time.Duration) bool {
	for _, gap := range gaps {
		if gap < interval-tolerance || gap > interval+tolerance {
			return false
		}
	}
	return true
}

// events reads the stream, checks its four events and returns the time
// between their arrivals.
func events(t *testing.T, c *http.Client, url string) []time.Duration {
	res, err := c.Get(url)
	require.NoError(t, err)
	defer res.Body.Close()
	assert.Equal(t, "text/event-stream", res.Header.Get("Content-Type"))
	var arrivals []time.Time
	var events []string
	lines := bufio.NewReader(res.Body)
	for {
		line, err := lines.ReadString('\n')
		if data, ok := strings.CutPrefix(line, "data: "); ok {
			arrivals = append(arrivals, time.Now())
			events = append(events, strings.TrimSpace(data))
		}
		if err != nil {
			break
		}
	}
	require.Equal(t, []string{"tick 1", "tick 2", "tick 3", "tick 4"}, events)
	gaps := make([]time.Duration, 0, len(arrivals)-1)
	for i := 1; i < len(arrivals); i++ {
		gaps = append(gaps, arrivals[i].Sub(arrivals[i-1]).Round(time.Millisecond))
	}
	return gaps
}
