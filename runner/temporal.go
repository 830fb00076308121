package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	uiserver "github.com/temporalio/ui-server/v2/server"
	uiconfig "github.com/temporalio/ui-server/v2/server/config"
	uiopts "github.com/temporalio/ui-server/v2/server/server_options"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/common/membership/static"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	"go.temporal.io/server/common/primitives"
	sqliteschema "go.temporal.io/server/schema/sqlite"
	"go.temporal.io/server/temporal"

	"github.com/soar-dev/soar/workflows"
)

// DevServerConfig configures the embedded Temporal server of `soar dev`.
type DevServerConfig struct {
	// DataDir holds the SQLite database (temporal.db). Empty means an
	// in-memory database that is gone when the process exits.
	DataDir string
	// IP to bind; default 127.0.0.1.
	IP string
	// FrontendPort is Temporal's gRPC port; 0 picks a free one.
	FrontendPort int
	// UIPort serves the Temporal Web UI; 0 picks a free one, -1 disables it.
	UIPort    int
	Namespace string
	Logger    *slog.Logger
}

// DevServer is an in-process Temporal server persisted to SQLite, plus the
// Temporal Web UI.
type DevServer struct {
	cfg      DevServerConfig
	server   temporal.Server
	ui       *uiserver.Server
	stopping atomic.Bool
	// Address is the frontend's host:port; UIAddress the UI's, or "".
	Address, UIAddress string
}

const clusterName = "active"

// memDBs numbers in-memory databases: the sqlite plugin never closes its
// connections, so each server in a process needs a fresh name.
var memDBs atomic.Int64

// StartDevServer starts the server and the UI and returns when the frontend
// accepts calls. The custom search attributes are registered in the
// namespace on first start.
func StartDevServer(ctx context.Context, cfg DevServerConfig) (*DevServer, error) {
	if cfg.IP == "" {
		cfg.IP = "127.0.0.1"
	}
	if cfg.Namespace == "" {
		cfg.Namespace = "default"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	sql, err := sqliteConfig(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	ports, err := pickPorts(cfg)
	if err != nil {
		return nil, err
	}
	ns, err := sqliteschema.NewNamespaceConfig(clusterName, cfg.Namespace, false, searchAttributeTypes())
	if err != nil {
		return nil, fmt.Errorf("namespace %s: %w", cfg.Namespace, err)
	}
	if err := sqliteschema.CreateNamespaces(sql, ns); err != nil {
		return nil, fmt.Errorf("create namespace %s: %w", cfg.Namespace, err)
	}
	d := &DevServer{cfg: cfg, Address: net.JoinHostPort(cfg.IP, strconv.Itoa(ports.frontend))}
	host := func(p int) static.Hosts { return static.SingleLocalHost(net.JoinHostPort(cfg.IP, strconv.Itoa(p))) }
	d.server, err = temporal.NewServer(
		temporal.ForServices(temporal.DefaultServices),
		temporal.WithConfig(serverConfig(cfg, sql, ports)),
		temporal.WithStaticHosts(map[primitives.ServiceName]static.Hosts{
			primitives.FrontendService: host(ports.frontend),
			primitives.HistoryService:  host(ports.history),
			primitives.MatchingService: host(ports.matching),
			primitives.WorkerService:   host(ports.worker),
		}),
		temporal.WithLogger(serverLogger{l: cfg.Logger.With("component", "temporal"), stopping: &d.stopping}),
		temporal.WithDynamicConfigClient(dynamicConfig()),
	)
	if err != nil {
		return nil, fmt.Errorf("build Temporal server: %w", err)
	}
	if err := d.server.Start(); err != nil {
		return nil, fmt.Errorf("start Temporal server: %w", err)
	}
	if ports.ui > 0 {
		d.startUI(ports.ui)
	}
	return d, nil
}

// Stop stops the UI, then the server.
func (d *DevServer) Stop() error {
	d.stopping.Store(true)
	if d.ui != nil {
		d.ui.Stop()
	}
	return d.server.Stop()
}

// sqliteConfig is the persistence of the dev server: one SQLite file with
// WAL and synchronous=FULL (a committed alert is on disk), or memory.
func sqliteConfig(dir string) (*config.SQL, error) {
	c := &config.SQL{PluginName: sqliteplugin.PluginName}
	if dir == "" {
		c.DatabaseName = fmt.Sprintf("soar-mem-%d-%d", os.Getpid(), memDBs.Add(1))
		c.ConnectAttributes = map[string]string{"mode": "memory", "cache": "shared"}
		return c, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	c.DatabaseName = filepath.Join(dir, "temporal.db")
	c.ConnectAttributes = map[string]string{"mode": "rwc", "journal_mode": "wal", "synchronous": "FULL"}
	if _, err := os.Stat(c.DatabaseName); errors.Is(err, os.ErrNotExist) {
		// Build the schema in a temporary file and rename it into place, so
		// a crash during setup never leaves a half-made database behind
		// that the next start would trust.
		tmp := *c
		tmp.DatabaseName = c.DatabaseName + ".init"
		_ = os.Remove(tmp.DatabaseName)
		if err := sqliteschema.SetupSchema(&tmp); err != nil {
			return nil, fmt.Errorf("create Temporal schema in %s: %w", dir, err)
		}
		for _, suffix := range []string{"-wal", "-shm"} {
			_ = os.Rename(tmp.DatabaseName+suffix, c.DatabaseName+suffix)
		}
		if err := os.Rename(tmp.DatabaseName, c.DatabaseName); err != nil {
			return nil, fmt.Errorf("create Temporal database: %w", err)
		}
	}
	return c, nil
}

func searchAttributeTypes() map[string]enumspb.IndexedValueType {
	out := map[string]enumspb.IndexedValueType{}
	for name, typ := range workflows.SearchAttributes {
		out[name] = enumspb.IndexedValueType(enumspb.IndexedValueType_value["INDEXED_VALUE_TYPE_"+upper(typ)])
	}
	return out
}

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

type devPorts struct{ frontend, http, history, matching, worker, ui int }

// pickPorts checks the requested ports are free (the UI server exits the
// process when it cannot bind) and picks free ones for the rest: port 0
// means any free port, a negative UI port no UI.
func pickPorts(cfg DevServerConfig) (devPorts, error) {
	var p devPorts
	port := func(want int) (int, error) {
		if want == 0 {
			return freePort(cfg.IP)
		}
		return want, checkFree(cfg.IP, want)
	}
	var err error
	if p.frontend, err = port(cfg.FrontendPort); err != nil {
		return p, err
	}
	if cfg.UIPort >= 0 {
		if p.ui, err = port(cfg.UIPort); err != nil {
			return p, err
		}
	}
	for _, internal := range []*int{&p.http, &p.history, &p.matching, &p.worker} {
		if *internal, err = freePort(cfg.IP); err != nil {
			return p, err
		}
	}
	return p, nil
}

func freePort(ip string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func checkFree(ip string, port int) error {
	l, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
	if err != nil {
		return fmt.Errorf("port %d is in use (is another soar dev running?): %w", port, err)
	}
	return l.Close()
}

func serverConfig(cfg DevServerConfig, sql *config.SQL, p devPorts) *config.Config {
	addr := func(port int) string { return net.JoinHostPort(cfg.IP, strconv.Itoa(port)) }
	c := &config.Config{}
	c.Global.Membership.MaxJoinDuration = 30 * time.Second
	c.Global.Membership.BroadcastAddress = cfg.IP
	c.Persistence.DefaultStore = "sqlite"
	c.Persistence.VisibilityStore = "sqlite"
	c.Persistence.NumHistoryShards = 1 // more shards only add lock contention on one SQLite connection
	c.Persistence.DataStores = map[string]config.DataStore{"sqlite": {SQL: sql}}
	c.ClusterMetadata = &cluster.Config{
		FailoverVersionIncrement: 10,
		MasterClusterName:        clusterName,
		CurrentClusterName:       clusterName,
		ClusterInformation: map[string]cluster.ClusterInformation{clusterName: {
			Enabled: true, InitialFailoverVersion: 1, RPCAddress: addr(p.frontend), HTTPAddress: addr(p.http),
		}},
	}
	c.DCRedirectionPolicy.Policy = "noop"
	svc := func(grpc, http int) config.Service {
		return config.Service{RPC: config.RPC{GRPCPort: grpc, HTTPPort: http, BindOnIP: cfg.IP}}
	}
	c.Services = map[string]config.Service{
		"frontend": svc(p.frontend, p.http),
		"history":  svc(p.history, 0),
		"matching": svc(p.matching, 0),
		"worker":   svc(p.worker, 0),
	}
	c.Archival.History.State, c.Archival.Visibility.State = "disabled", "disabled"
	c.NamespaceDefaults.Archival.History.State, c.NamespaceDefaults.Archival.Visibility.State = "disabled", "disabled"
	c.PublicClient.HostPort = addr(p.frontend)
	return c
}

// dynamicConfig tunes the embedded server for latency. The history queue
// processors poll the database at 20/s by default, which caps a dev server
// at ~17 workflows/s and adds ~50 ms to every step; SQLite is local, so poll
// as fast as there is work.
func dynamicConfig() dynamicconfig.StaticClient {
	return dynamicconfig.StaticClient{
		dynamicconfig.TransferProcessorMaxPollRPS.Key():             1000,
		dynamicconfig.TimerProcessorMaxPollRPS.Key():                1000,
		dynamicconfig.VisibilityProcessorMaxPollRPS.Key():           1000,
		dynamicconfig.OutboundProcessorMaxPollRPS.Key():             1000,
		dynamicconfig.ForceSearchAttributesCacheRefreshOnRead.Key(): true,
		dynamicconfig.FrontendPersistenceMaxQPS.Key():               10000,
		dynamicconfig.HistoryPersistenceMaxQPS.Key():                45000,
		dynamicconfig.MatchingPersistenceMaxQPS.Key():               10000,
		dynamicconfig.FrontendEnableUpdateWorkflowExecution.Key():   true,
		dynamicconfig.EnableEagerWorkflowStart.Key():                true,
	}
}

func (d *DevServer) startUI(port int) {
	d.UIAddress = net.JoinHostPort(d.cfg.IP, strconv.Itoa(port))
	d.ui = uiserver.NewServer(uiopts.WithConfigProvider(&uiconfig.Config{
		TemporalGRPCAddress: d.Address,
		Host:                d.cfg.IP,
		Port:                port,
		EnableUI:            true,
		DefaultNamespace:    d.cfg.Namespace,
		HideLogs:            true,
		DisableNewsFetch:    true,
		CORS:                uiconfig.CORS{CookieInsecure: true},
	}))
	go func() {
		if err := d.ui.Start(); err != nil {
			d.cfg.Logger.Error("Temporal UI stopped", "err", err)
		}
	}()
}
