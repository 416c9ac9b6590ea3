package dispatcher

import "fmt"

// Balancer chooses the worker for each new connection.
type Balancer interface {
	// Pick returns the index of the worker for the next connection, given
	// active[i], the live connections of worker i (len(active) > 0). The
	// primary calls it from one goroutine at a time.
	Pick(active []int64) int
}

// RoundRobin hands connections to the workers in turn, as Node's cluster
// does by default.
func RoundRobin() Balancer { return &roundRobin{} }

type roundRobin struct{ next int }

// countBlind is a Balancer that never reads the live counts: its workers
// report closed connections with their other figures, every 100 ms,
// rather than within 2 ms of each close.
type countBlind interface{ ignoresCounts() }

func (*roundRobin) ignoresCounts() {}

func (b *roundRobin) Pick(active []int64) int {
	i := b.next % len(active)
	b.next = i + 1
	return i
}

// LeastConnections hands each connection to the worker with the fewest
// live connections; ties go round-robin. Workers report every connection
// they close, so the primary knows their counts.
func LeastConnections() Balancer { return &leastConnections{} }

type leastConnections struct{ next int }

func (b *leastConnections) Pick(active []int64) int {
	n := len(active)
	start := b.next % n
	best := start
	for k := 1; k < n; k++ {
		if i := (start + k) % n; active[i] < active[best] {
			best = i
		}
	}
	b.next = start + 1
	return best
}

// ParseBalancer returns the balancer named "round-robin" or "least-conn".
func ParseBalancer(name string) (Balancer, error) {
	switch name {
	case "", "round-robin":
		return RoundRobin(), nil
	case "least-conn":
		return LeastConnections(), nil
	}
	return nil, fmt.Errorf("unknown balancing policy %q (want round-robin or least-conn)", name)
}
