package journal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

type rec struct {
	Type string `json:"type"`
	Key  string `json:"idempotency_key,omitempty"`
	N    int    `json:"n"`
}

func TestOnceSurvivesANewProcess(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "sub", "j.jsonl")
	j := New(path)
	line, done, err := j.Once(t.Context(), "page", "k", func() (any, error) { return rec{"page", "k", 1}, nil })
	if err != nil || done || string(line) != `{"type":"page","idempotency_key":"k","n":1}` {
		t.Fatalf("first Once = %s, %v, %v", line, done, err)
	}
	// A fresh Journal is what a restarted plugin process has.
	j2 := New(path)
	line, done, err = j2.Once(t.Context(), "page", "k", func() (any, error) { t.Error("fn ran for a recorded key"); return nil, nil })
	if err != nil || !done || !strings.Contains(string(line), `"n":1`) {
		t.Fatalf("second Once = %s, %v, %v", line, done, err)
	}
	// Same key, other type: a different record.
	if _, done, _ := j2.Once(t.Context(), "resolve", "k", func() (any, error) { return rec{"resolve", "k", 2}, nil }); done {
		t.Error("resolve matched a page record")
	}
}

func TestFailedFnAppendsNothing(t *testing.T) {
	t.Parallel()
	j := New(filepath.Join(t.TempDir(), "j.jsonl"))
	boom := errors.New("vendor down")
	if _, _, err := j.Once(t.Context(), "page", "k", func() (any, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	if _, done, _ := j.Once(t.Context(), "page", "k", func() (any, error) { return rec{"page", "k", 1}, nil }); done {
		t.Error("a failed attempt counted as done")
	}
}

func TestTornLastLineIsIgnoredAndTerminated(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "j.jsonl")
	if err := os.WriteFile(path, []byte(`{"type":"page","idempotency_key":"a","n":1}`+"\n"+`{"type":"page","idempotency_ke`), 0o600); err != nil {
		t.Fatal(err)
	}
	j := New(path)
	if _, done, err := j.Once(t.Context(), "page", "b", func() (any, error) { return rec{"page", "b", 2}, nil }); err != nil || done {
		t.Fatal(err, done)
	}
	var lines []string
	if err := New(path).Scan("page", func(l json.RawMessage) error { lines = append(lines, string(l)); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(lines) != 2 || !strings.Contains(lines[1], `"idempotency_key":"b"`) {
		t.Errorf("lines = %q", lines)
	}
	if _, ok, _ := New(path).Lookup(t.Context(), "page", "a"); !ok {
		t.Error("record before the torn line lost")
	}
	for _, j := range []*Journal{j, New(path)} { // the writer's index and a fresh one
		if l, ok, err := j.Lookup(t.Context(), "page", "b"); !ok || err != nil || string(l) != `{"type":"page","idempotency_key":"b","n":2}` {
			t.Errorf("Lookup(b) = %s, %v, %v", l, ok, err)
		}
	}
}

func TestConcurrentOnceActsOnce(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "j.jsonl")
	var mu sync.Mutex
	calls := 0
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			// Separate Journals, as separate processes would have.
			_, _, err := New(path).Once(t.Context(), "page", "k", func() (any, error) {
				mu.Lock()
				calls++
				mu.Unlock()
				return rec{"page", "k", 1}, nil
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if calls != 1 {
		t.Errorf("fn ran %d times, want 1", calls)
	}
}

func TestCheckCreatesNothing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := New(filepath.Join(dir, "a", "b", "j.jsonl")).Check(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "a")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Check created %s/a (%v)", dir, err)
	}
	file := filepath.Join(dir, "plain")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := New(filepath.Join(file, "j.jsonl")).Check(); err == nil || !strings.Contains(err.Error(), "is not a directory") {
		t.Errorf("journal under a file: %v", err)
	}
	if _, err := New(file).Append(t.Context(), rec{Type: "x"}); err != nil {
		t.Fatal(err)
	}
	if err := New(file).Check(); err != nil {
		t.Errorf("existing file: %v", err)
	}
}

// slowOnce starts a Once on key whose fn blocks until the returned release
// is called, and returns once fn is running.
func slowOnce(t *testing.T, j *Journal, key string) (release func()) {
	t.Helper()
	started, unblock, finished := make(chan struct{}), make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		_, _, err := j.Once(context.Background(), "page", key, func() (any, error) {
			close(started)
			<-unblock
			return rec{"page", key, 1}, nil
		})
		if err != nil {
			t.Error(err)
		}
	}()
	<-started
	var once sync.Once
	release = func() { once.Do(func() { close(unblock); <-finished }) }
	t.Cleanup(release)
	return release
}

// A slow vendor delays only calls with its own key: a page to another
// responder, through the same journal or another process's, goes out
// meanwhile.
func TestOnceDoesNotWaitForOtherKeys(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "j.jsonl")
	j := New(path)
	slowOnce(t, j, "slow")
	for i, other := range []*Journal{j, New(path)} {
		done := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, _, err := other.Once(ctx, "page", fmt.Sprint("fast", i), func() (any, error) { return rec{"page", fmt.Sprint("fast", i), 2}, nil })
			done <- err
		}()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("journal %d: %v", i, err)
			}
		case <-time.After(2 * time.Second):
			t.Fatalf("journal %d: a call with another key waited for the slow one", i)
		}
	}
}

// A second call with the same key waits for the first, but no longer than
// its deadline, and then finds the first call's record.
func TestOnceSameKeyWaitsWithinDeadline(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "j.jsonl")
	j := New(path)
	release := slowOnce(t, j, "k")
	for i, other := range []*Journal{j, New(path)} {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		start := time.Now()
		_, _, err := other.Once(ctx, "page", "k", func() (any, error) {
			t.Errorf("journal %d: fn ran while the first call was acting on the key", i)
			return rec{"page", "k", 2}, nil
		})
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 2*time.Second {
			t.Errorf("journal %d: err = %v after %s, want the deadline", i, err, time.Since(start))
		}
	}
	release()
	for i, other := range []*Journal{j, New(path)} {
		line, done, err := other.Once(t.Context(), "page", "k", func() (any, error) { return rec{"page", "k", 3}, nil })
		if err != nil || !done || !strings.Contains(string(line), `"n":1`) {
			t.Errorf("journal %d after the first call: %s, %v, %v", i, line, done, err)
		}
	}
}

func TestSetSharesOneJournalPerPath(t *testing.T) {
	t.Parallel()
	var s Set
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.jsonl"), filepath.Join(dir, "b.jsonl")
	if s.Get(a) != s.Get(a) || s.Get(a) == s.Get(b) {
		t.Fatal("want one journal per path, shared")
	}
}
