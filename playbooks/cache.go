package playbooks

import (
	"sync"
)

// Cache compiles each playbook version once. Runs carry their playbook
// source (so a run is pinned to it); the worker asks the cache for the
// compiled form on every workflow task, and only a source it has not seen
// is parsed and compiled. Safe for concurrent use.
type Cache struct {
	env *Env
	cat Catalog

	mu      sync.Mutex
	entries map[string]*cacheEntry // by source hash
	order   []string               // insertion order, for eviction
	max     int
}

type cacheEntry struct {
	once sync.Once
	c    *Compiled
	errs ErrorList
}

// NewCache returns a cache holding up to size compiled versions (at least 1).
func NewCache(env *Env, cat Catalog, size int) *Cache {
	return &Cache{env: env, cat: cat, entries: map[string]*cacheEntry{}, max: max(1, size)}
}

// Get returns the compiled playbook for src, compiling it on first use.
// Compile errors are cached too: the same source always fails the same way.
func (c *Cache) Get(file string, src []byte) (*Compiled, ErrorList) {
	key := Hash(src) + "\x00" + file
	c.mu.Lock()
	e, ok := c.entries[key]
	if !ok {
		e = &cacheEntry{}
		c.entries[key] = e
		c.order = append(c.order, key)
		if len(c.order) > c.max {
			delete(c.entries, c.order[0])
			c.order = c.order[1:]
		}
	}
	c.mu.Unlock()
	e.once.Do(func() { e.c, e.errs = ParseAndCompile(file, src, c.env, c.cat) })
	return e.c, e.errs
}
