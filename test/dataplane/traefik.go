package dataplane

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/inference-exposure/inference-exposure-operator/internal/testsupport"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

// Traefik is a Traefik process run out of cluster against an API server, with its Ingress
// (class traefik), ingress-nginx (class nginx) and Gateway API providers; each publishes
// 127.0.0.1 as the address of what it serves.
type Traefik struct {
	// Web and WebSecure are its entrypoints on loopback (plain HTTP, and HTTPS).
	Web, WebSecure string
	cmd            *exec.Cmd
	// Output is what it logged.
	Output *testsupport.Output
}

// FindTraefik finds the binary hack/build-traefik.sh builds: $TRAEFIK (make test sets it), else
// the newest bin/traefik-v* under root.
func FindTraefik(root string) (string, error) {
	if p := os.Getenv("TRAEFIK"); p != "" {
		return p, nil
	}
	matches, _ := filepath.Glob(filepath.Join(root, "bin", "traefik-v*"))
	slices.Reverse(matches) // the newest build first
	for _, p := range matches {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("needs Traefik: hack/build-traefik.sh builds it into bin/ (make test and make run do)")
}

// StartTraefik runs bin with its configuration in dir, reading the cluster through kubeconfig.
// web and webSecure are the loopback addresses of its entrypoints.
func StartTraefik(bin, kubeconfig, dir, web, webSecure string) (*Traefik, error) {
	conf := fmt.Sprintf(`global: {checkNewVersion: false, sendAnonymousUsage: false}
log: {level: INFO}
entryPoints:
  # Traefik's default readTimeout (60s) ends every response stream at a minute
  # (traefik#10991): a platform serving model servers lifts it, as here.
  web:
    address: "%s"
    transport: {respondingTimeouts: {readTimeout: 0}}
  websecure:
    address: "%s"
    http: {tls: {}}
    transport: {respondingTimeouts: {readTimeout: 0}}
providers:
  kubernetesIngress:
    throttleDuration: 100ms
    ingressEndpoint: {ip: 127.0.0.1}
  kubernetesIngressNGINX:
    throttleDuration: 100ms
    publishStatusAddress: [127.0.0.1]
  kubernetesGateway:
    throttleDuration: 100ms
    statusAddress: {ip: 127.0.0.1}
`, web, webSecure)
	confPath := filepath.Join(dir, "traefik.yaml")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		return nil, err
	}
	run := filepath.Join(dir, "traefik-run") // an empty working directory: Traefik looks for a config file there
	if err := os.MkdirAll(run, 0o700); err != nil {
		return nil, err
	}
	t := &Traefik{Web: web, WebSecure: webSecure, Output: &testsupport.Output{}}
	t.cmd = exec.Command(bin, "--configFile="+confPath)
	t.cmd.Dir = run
	t.cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	t.cmd.Stdout, t.cmd.Stderr = t.Output, t.Output
	if err := t.cmd.Start(); err != nil {
		return nil, err
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if c, err := net.DialTimeout("tcp", webSecure, 100*time.Millisecond); err == nil {
			_ = c.Close()
			return t, nil
		}
		if time.Now().After(deadline) {
			t.Close()
			return nil, fmt.Errorf("traefik never listened on %s:\n%s", webSecure, t.Output.String())
		}
	}
}

// Pid is its process id.
func (t *Traefik) Pid() int { return t.cmd.Process.Pid }

// Close stops it.
func (t *Traefik) Close() {
	_ = t.cmd.Process.Kill()
	_ = t.cmd.Wait()
}

// Port is the port of an address.
func Port(addr string) int32 {
	_, p, _ := net.SplitHostPort(addr)
	n, _ := strconv.Atoi(p)
	return int32(n)
}

// HTTPSClient sends every request to entrypoint, whatever the URL's host (which stays the SNI
// and Host), trusting the CAs of pool.
func HTTPSClient(pool *x509.CertPool, entrypoint string) *http.Client {
	return &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, entrypoint)
		},
	}}
}

// GRPCClient is a gRPC connection over TLS to host through entrypoint, trusting the CAs of pool.
func GRPCClient(pool *x509.CertPool, host, entrypoint string) (*grpc.ClientConn, error) {
	return grpc.NewClient("passthrough:///"+host,
		grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: pool, ServerName: host, MinVersion: tls.VersionTLS12})),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "tcp", entrypoint)
		}))
}
