package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/soar-dev/soar/playbooks"
	"github.com/soar-dev/soar/plugins/builtin"
	"github.com/soar-dev/soar/plugins/host"
)

// builtinCatalog starts the built-in plugins (each in its own process, as a
// worker would) and returns their live manifests as a catalog. Call the
// returned func to stop the processes.
func builtinCatalog(ctx context.Context) (playbooks.Catalog, func(), error) {
	h, err := host.New(ctx, host.Config{
		Builtins: builtin.Names(),
		Logger:   slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		return nil, nil, fmt.Errorf("start built-in plugins: %w", err)
	}
	return h, h.Close, nil
}
