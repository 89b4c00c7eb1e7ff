package ssofake

import "sync"

// callCounts counts the requests of each operation, for the Calls
// methods of OIDC and Portal. The zero value is ready; it is safe for
// concurrent use.
type callCounts struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *callCounts) add(op string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[op]++
}

// Calls returns how many requests of op arrived; "" counts all of them.
func (c *callCounts) Calls(op string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if op != "" {
		return c.n[op]
	}
	total := 0
	for _, n := range c.n {
		total += n
	}
	return total
}
