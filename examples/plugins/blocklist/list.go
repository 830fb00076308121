package main

import (
	"bufio"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"
)

type entry struct {
	prefix netip.Prefix
	label  string
}

// listCache re-reads the file when it changes, so feed updates need no
// restart.
type listCache struct {
	mu      sync.Mutex
	path    string
	modTime time.Time
	size    int64
	entries []entry
}

func (c *listCache) get(path string) ([]entry, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("blocklist: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.path == path && c.modTime.Equal(fi.ModTime()) && c.size == fi.Size() {
		return c.entries, nil
	}
	entries, err := parseFile(path)
	if err != nil {
		return nil, err
	}
	c.path, c.modTime, c.size, c.entries = path, fi.ModTime(), fi.Size(), entries
	return entries, nil
}

func parseFile(path string) ([]entry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("blocklist: %w", err)
	}
	defer f.Close()
	var out []entry
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		p, err := parsePrefix(fields[0])
		if err != nil {
			return nil, fmt.Errorf("blocklist %s:%d: %w", path, n, err)
		}
		out = append(out, entry{prefix: p, label: strings.Join(fields[1:], " ")})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("blocklist %s: %w", path, err)
	}
	return out, nil
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}
