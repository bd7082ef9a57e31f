package haproxy

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"

	"github.com/inference-exposure/inference-exposure-operator/internal/testsupport"
)

// grpcNode stands in for a GPU node's NodePort: a gRPC server that names itself in a header.
func grpcNode(t *testing.T, name, addr string) *grpc.Server {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.UnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		_ = grpc.SetHeader(ctx, metadata.Pairs("x-node", name))
		return h(ctx, req)
	}))
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(srv.Stop)
	return srv
}

// ingressNode stands in for an ingress controller node: HTTPS, answering with its name, the
// SNI it was asked for and the forwarded protocol.
func ingressNode(t *testing.T, p *testsupport.PKI, name, addr string) *http.Server {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "node=%s sni=%s proto=%s path=%s", name, r.TLS.ServerName, r.Header.Get("X-Forwarded-Proto"), r.URL.Path)
		}),
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{p.TLSCert(t, "inference-alpha.example.com", strings.Split(addr, ":")[0])}, NextProtos: []string{"h2", "http/1.1"}},
		ReadHeaderTimeout: 5 * time.Second,
	}
	go func() { _ = srv.ServeTLS(l, "", "") }()
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

// TestEndToEnd runs the real haproxy on loopback with a rendered configuration, in front of
// local servers standing in for the GPU nodes' NodePorts and the ingress nodes, and sends real
// gRPC through the TCP frontend and HTTPS through the TLS frontend. A node taken away is routed
// around. Only loopback addresses are used.
func TestEndToEnd(t *testing.T) {
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		t.Skip("haproxy is not installed (apt-get install -y haproxy; .ci/run does it): skipping the end-to-end test")
	}
	dir := t.TempDir()
	p := testsupport.NewPKI(t)
	certPath := filepath.Join(dir, "alpha.pem")
	caPath := filepath.Join(dir, "ingress-ca.pem")
	p.WriteServerPEM(t, certPath, "inference-alpha.example.com")
	p.WriteCA(t, caPath)

	nodePort := testsupport.FreePort(t, "127.0.0.2", "127.0.0.3")
	ingressPort := testsupport.FreePort(t, "127.0.0.4", "127.0.0.5")
	grpcPort := testsupport.FreePort(t, "127.0.0.1")
	httpsPort := testsupport.FreePort(t, "127.0.0.1")
	statsPort := testsupport.FreePort(t, "127.0.0.1")

	gpu1 := grpcNode(t, "gpu-1", fmt.Sprintf("127.0.0.2:%d", nodePort))
	grpcNode(t, "gpu-2", fmt.Sprintf("127.0.0.3:%d", nodePort))
	// A second exposure keeps its nodePort on the VIP: its servers carry no port, so HAProxy
	// connects to the port the client used.
	samePort := testsupport.FreePort(t, "127.0.0.1", "127.0.0.2", "127.0.0.3")
	grpcNode(t, "gpu-1", fmt.Sprintf("127.0.0.2:%d", samePort))
	grpcNode(t, "gpu-2", fmt.Sprintf("127.0.0.3:%d", samePort))
	ing1 := ingressNode(t, p, "ingress-1", fmt.Sprintf("127.0.0.4:%d", ingressPort))
	ingressNode(t, p, "ingress-2", fmt.Sprintf("127.0.0.5:%d", ingressPort))

	cfg, errs := render(Input{
		Tenants: []Tenant{{Name: "beta", VIP: "127.0.0.9", HostDomain: "beta.example.com"}, {Name: "alpha", VIP: "127.0.0.1", CertificatePath: certPath, FrontendPorts: PortRange{1, 65535}, HostDomain: "example.com",
			GRPC: []GRPCFrontend{{Namespace: "tenant-alpha", Exposure: "triton", BindPort: grpcPort, NodePort: nodePort}, {Namespace: "tenant-alpha", Exposure: "vllm", BindPort: samePort, NodePort: samePort}}}},
		BackendNodes: []Node{{Name: "gpu-1", IP: netip.MustParseAddr("127.0.0.2")}, {Name: "gpu-2", IP: netip.MustParseAddr("127.0.0.3")}},
		IngressNodes: []Node{{Name: "ingress-1", IP: netip.MustParseAddr("127.0.0.4")}, {Name: "ingress-2", IP: netip.MustParseAddr("127.0.0.5")}},
		Globals: Globals{
			IngressPort: ingressPort, HTTPSPort: httpsPort, IngressCAPath: caPath,
			StatsBind: fmt.Sprintf("127.0.0.1:%d", statsPort), Timeout: 30 * time.Second, HardStopAfter: 10 * time.Second,
		},
	})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	cfgPath := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	logs := testsupport.Start(t, bin, "-db", "-f", cfgPath)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("config:\n%s", cfg)
		}
	})
	testsupport.WaitListening(t, fmt.Sprintf("127.0.0.1:%d", grpcPort))
	testsupport.WaitListening(t, fmt.Sprintf("127.0.0.1:%d", httpsPort))

	// gRPC: each new connection goes to a node; both nodes serve while both are up.
	callGRPCPort := func(port int32) (string, error) {
		conn, err := grpc.NewClient(fmt.Sprintf("127.0.0.1:%d", port), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return "", err
		}
		defer conn.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var md metadata.MD
		resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{}, grpc.Header(&md))
		if err != nil {
			return "", err
		}
		if resp.Status != healthpb.HealthCheckResponse_SERVING {
			return "", fmt.Errorf("status %v", resp.Status)
		}
		return strings.Join(md.Get("x-node"), ","), nil
	}
	callGRPC := func() (string, error) { return callGRPCPort(grpcPort) }
	testsupport.WaitListening(t, fmt.Sprintf("127.0.0.1:%d", samePort))
	for range 4 {
		if _, err := callGRPCPort(samePort); err != nil {
			t.Fatalf("gRPC through the shared, port-less backend: %v", err)
		}
	}
	seen := map[string]int{}
	for range 20 {
		n, err := callGRPC()
		if err != nil {
			t.Fatalf("gRPC through haproxy: %v", err)
		}
		seen[n]++
	}
	if seen["gpu-1"] == 0 || seen["gpu-2"] == 0 {
		t.Fatalf("gRPC calls not spread over both nodes: %v", seen)
	}

	// HTTPS: TLS terminated by haproxy with the tenant's certificate, re-encrypted to the
	// ingress nodes (whose certificate is verified against the CA), with the host as SNI.
	client := &http.Client{
		Timeout: 5 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig:   &tls.Config{RootCAs: p.Pool(), ServerName: "inference-alpha.example.com"},
			ForceAttemptHTTP2: true,
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, network, fmt.Sprintf("127.0.0.1:%d", httpsPort))
			},
			DisableKeepAlives: true,
		},
	}
	callHTTPS := func() (string, error) {
		resp, err := client.Get(fmt.Sprintf("https://inference-alpha.example.com:%d/v2/health/ready", httpsPort))
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			return "", fmt.Errorf("status %d: %s", resp.StatusCode, body)
		}
		if resp.ProtoMajor != 2 {
			return "", fmt.Errorf("client spoke %s, want HTTP/2 through alpn", resp.Proto)
		}
		return string(body), nil
	}
	// The tenant's VIP serves its own hosts only: another Host, a host of a tenant whose domain
	// lies inside this one's, or an SNI that is not the tenant's is answered 421 by HAProxy.
	for _, tc := range []struct{ sni, host string }{
		{"inference-alpha.example.com", "grafana.platform.example.org"},
		{"inference-alpha.example.com", "vllm.team.beta.example.com"},
		{"vllm.team.beta.example.com", "inference-alpha.example.com"},
	} {
		c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: p.Pool(), ServerName: "inference-alpha.example.com"},
			DialTLSContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				// The certificate is checked against the tenant's name whatever SNI is sent.
				cfg := &tls.Config{RootCAs: p.Pool(), ServerName: tc.sni, NextProtos: []string{"http/1.1"},
					InsecureSkipVerify: tc.sni != "inference-alpha.example.com"} //nolint:gosec // a foreign SNI on purpose
				conn, err := (&net.Dialer{}).DialContext(ctx, network, fmt.Sprintf("127.0.0.1:%d", httpsPort))
				if err != nil {
					return nil, err
				}
				tc := tls.Client(conn, cfg)
				return tc, tc.HandshakeContext(ctx)
			},
			DisableKeepAlives: true,
		}}
		req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("https://inference-alpha.example.com:%d/v2/health/ready", httpsPort), nil)
		req.Host = tc.host
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("SNI %s, Host %s: %v", tc.sni, tc.host, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusMisdirectedRequest || strings.Contains(string(body), "node=") {
			t.Fatalf("SNI %s, Host %s through alpha's VIP: %d %q, want 421 from HAProxy", tc.sni, tc.host, resp.StatusCode, body)
		}
	}

	httpsSeen := map[string]int{}
	for range 10 {
		body, err := callHTTPS()
		if err != nil {
			t.Fatalf("HTTPS through haproxy: %v", err)
		}
		if !strings.Contains(body, "sni=inference-alpha.example.com proto=https path=/v2/health/ready") {
			t.Fatalf("ingress saw %q", body)
		}
		httpsSeen[strings.Fields(body)[0]]++
	}
	if httpsSeen["node=ingress-1"] == 0 || httpsSeen["node=ingress-2"] == 0 {
		t.Fatalf("HTTPS not spread over both ingress nodes: %v", httpsSeen)
	}

	// Take a GPU node and an ingress node away: traffic is routed around them.
	gpu1.Stop()
	_ = ing1.Close()
	for i := range 20 {
		n, err := callGRPC()
		if err != nil {
			t.Fatalf("gRPC call %d after gpu-1 went away: %v", i, err)
		}
		if n != "gpu-2" {
			t.Fatalf("call %d answered by %q after gpu-1 went away", i, n)
		}
		body, err := callHTTPS()
		if err != nil {
			t.Fatalf("HTTPS call %d after ingress-1 went away: %v", i, err)
		}
		if !strings.HasPrefix(body, "node=ingress-2") {
			t.Fatalf("HTTPS call %d answered by %q", i, body)
		}
	}

	// The Prometheus endpoint answers.
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", statsPort))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `haproxy_frontend_connections_total{proxy="ft_alpha_grpc_`) {
		t.Fatalf("metrics lack the tenant frontend:\n%.2000s", body)
	}
	if !strings.Contains(logs.String(), "tenant=alpha ") {
		t.Fatalf("logs do not name the tenant:\n%s", logs.String())
	}
}
