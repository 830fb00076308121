package main

import (
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/soar-dev/soar/runner"
)

// The API's limits are flags of soar serve, passed through to the API.
func TestServeFlagsSetAPILimits(t *testing.T) {
	var p processFlags
	f := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	p.register(f, true)
	if err := f.Parse([]string{"--max-inflight=50", "--max-alerts=10", "--max-body-bytes=4096", "--update-wait=3s"}); err != nil {
		t.Fatal(err)
	}
	want := runner.APILimits{MaxBody: 4096, MaxAlerts: 10, MaxInflight: 50, UpdateWait: 3 * time.Second}
	if got := p.apiLimits(); got != want {
		t.Fatalf("limits %+v, want %+v", got, want)
	}
}
