package main

import (
	"os"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// docker-compose.yml cannot be started here (no Docker engine), so check
// what can be checked: every soar service's command is one this binary
// accepts, with flags it knows, and the files it names exist.
func TestComposeCommandsAreValid(t *testing.T) {
	src, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var compose struct {
		Services map[string]struct {
			Build   string   `yaml:"build"`
			Command []string `yaml:"command"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(src, &compose); err != nil {
		t.Fatal(err)
	}
	soar := 0
	for name, svc := range compose.Services {
		if svc.Build == "" {
			continue
		}
		soar++
		cmd, rest, err := newRootCmd().Find(svc.Command)
		if err != nil || cmd.Name() == "soar" {
			t.Errorf("%s: command %v is not a soar subcommand: %v", name, svc.Command, err)
			continue
		}
		if err := cmd.ParseFlags(rest); err != nil {
			t.Errorf("%s: %v: %v", name, svc.Command, err)
		}
		for _, arg := range svc.Command {
			if _, path, ok := strings.Cut(arg, "="); ok && strings.HasPrefix(path, "examples/") {
				if _, err := os.Stat("../../" + path); err != nil {
					t.Errorf("%s: %s names a file the image will not have: %v", name, arg, err)
				}
			}
		}
	}
	if soar < 3 {
		t.Fatalf("found %d soar services, want setup, api and worker", soar)
	}
}
