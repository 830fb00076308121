package runner

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"

	"go.temporal.io/sdk/client"
)

// TemporalConfig says how to reach an external Temporal cluster.
type TemporalConfig struct {
	Address   string // host:port
	Namespace string
	// TLS: a CA to trust (empty: system roots), and a client certificate
	// and key for mTLS (Temporal Cloud, self-hosted mTLS).
	TLS        bool
	CACert     string
	ClientCert string
	ClientKey  string
	ServerName string
	// APIKey authenticates with Temporal Cloud API keys; it implies TLS.
	APIKey string
}

// ClientOptions turns the config into SDK client options.
func (c TemporalConfig) ClientOptions() (client.Options, error) {
	opts := client.Options{HostPort: c.Address, Namespace: c.Namespace}
	if opts.HostPort == "" {
		opts.HostPort = "127.0.0.1:7233"
	}
	if opts.Namespace == "" {
		opts.Namespace = "default"
	}
	if c.APIKey != "" {
		opts.Credentials = client.NewAPIKeyStaticCredentials(c.APIKey)
	}
	if !c.TLS && c.APIKey == "" && c.CACert == "" && c.ClientCert == "" {
		return opts, nil
	}
	tlsCfg := &tls.Config{ServerName: c.ServerName, MinVersion: tls.VersionTLS12}
	if c.CACert != "" {
		pem, err := os.ReadFile(c.CACert)
		if err != nil {
			return opts, fmt.Errorf("--tls-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return opts, fmt.Errorf("--tls-ca %s: no PEM certificates in it", c.CACert)
		}
		tlsCfg.RootCAs = pool
	}
	if (c.ClientCert == "") != (c.ClientKey == "") {
		return opts, fmt.Errorf("--tls-cert and --tls-key go together")
	}
	if c.ClientCert != "" {
		cert, err := tls.LoadX509KeyPair(c.ClientCert, c.ClientKey)
		if err != nil {
			return opts, fmt.Errorf("load client certificate: %w", err)
		}
		tlsCfg.Certificates = []tls.Certificate{cert}
	}
	opts.ConnectionOptions.TLS = tlsCfg
	return opts, nil
}
