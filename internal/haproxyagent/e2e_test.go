package haproxyagent

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/inference-exposure/inference-exposure-operator/internal/render/haproxy"
	"github.com/inference-exposure/inference-exposure-operator/internal/testsupport"
)

// streamFor is how long the test's streams run: changes happen under them.
const streamFor = 62 * time.Second

// tickingHealth is a gRPC server standing in for a model server on a node: Check names the
// node, Watch is a server stream that sends a message every tick until the client goes.
type tickingHealth struct {
	healthpb.UnimplementedHealthServer
	node string
}

func (h tickingHealth) Check(ctx context.Context, _ *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	_ = grpc.SetHeader(ctx, metadata.Pairs("x-node", h.node))
	return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}, nil
}

func (h tickingHealth) Watch(_ *healthpb.HealthCheckRequest, s grpc.ServerStreamingServer[healthpb.HealthCheckResponse]) error {
	_ = s.SendHeader(metadata.Pairs("x-node", h.node))
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-s.Context().Done():
			return nil
		case <-t.C:
			if err := s.Send(&healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}); err != nil {
				return err
			}
		}
	}
}

func serveGRPC(t *testing.T, node, addr string) {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	healthpb.RegisterHealthServer(srv, tickingHealth{node: node})
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(srv.Stop)
}

// serveIngress stands in for an ingress node: HTTPS, /stream answers with a chunk every tick.
func serveIngress(t *testing.T, p *testsupport.PKI, node, addr string) {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Node", node)
			tick := time.NewTicker(100 * time.Millisecond)
			defer tick.Stop()
			for i := 0; ; i++ {
				if _, err := fmt.Fprintf(w, "%s %d\n", node, i); err != nil {
					return
				}
				w.(http.Flusher).Flush()
				select {
				case <-r.Context().Done():
					return
				case <-tick.C:
				}
			}
		}),
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{p.TLSCert(t, "inference-alpha.example.com", strings.Split(addr, ":")[0])}, NextProtos: []string{"h2", "http/1.1"}},
		ReadHeaderTimeout: 5 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0), // HAProxy's health checks connect and leave
	}
	go func() { _ = srv.ServeTLS(l, "", "") }()
	t.Cleanup(func() { _ = srv.Close() })
}

// streamResult is what a stream saw.
type streamResult struct {
	messages int
	maxGap   time.Duration
	node     string
	err      error
}

// writeConfig writes the rendered files the way the kubelet updates a projected volume: every
// file is replaced at once.
func writeConfig(t *testing.T, dir string, files []File) {
	t.Helper()
	next := dir + ".tmp"
	if err := writeFiles(next, files); err != nil {
		t.Fatal(err)
	}
	if err := swap(next, dir); err != nil {
		t.Fatal(err)
	}
}

// TestHitlessChanges runs the real haproxy (master-worker, on loopback only) with the agent and
// keeps a gRPC server stream and an HTTP/1.1 chunked stream open for over a minute while, under
// them, a node joins, another leaves, a third turns NotReady and back, a fourth changes its
// address, and another tenant gets a new exposure. The streams see no error and no stall; new connections reach the new node;
// only the new exposure (a new bind) reloads HAProxy.
func TestHitlessChanges(t *testing.T) {
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		t.Skip("haproxy is not installed (apt-get install -y haproxy; .ci/run does it): skipping the end-to-end test")
	}
	if testing.Short() {
		t.Skip("runs for a minute")
	}
	dir := t.TempDir()
	p := testsupport.NewPKI(t)
	certPath := filepath.Join(dir, "alpha.pem")
	p.WriteServerPEM(t, certPath, "inference-alpha.example.com")

	gpus := map[string]string{"gpu-a": "127.0.0.2", "gpu-b": "127.0.0.3", "gpu-c": "127.0.0.4", "gpu-d": "127.0.0.5"}
	// gpu-c moves to another address during the test; its server there names itself so.
	const gpuCMoved = "127.0.0.8"
	ingresses := map[string]string{"ingress-a": "127.0.0.6", "ingress-b": "127.0.0.7"}
	alphaVIP, betaVIP := "127.0.0.10", "127.0.0.11"
	alphaPort := testsupport.FreePort(t, alphaVIP, "127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5", gpuCMoved)
	betaPort := testsupport.FreePort(t, betaVIP, "127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5", gpuCMoved)
	betaNewPort := testsupport.FreePort(t, betaVIP, "127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5", gpuCMoved)
	ingressPort := testsupport.FreePort(t, "127.0.0.6", "127.0.0.7")
	httpsPort := testsupport.FreePort(t, alphaVIP)
	statsPort := testsupport.FreePort(t, "127.0.0.1")
	for name, ip := range gpus {
		for _, port := range []int32{alphaPort, betaPort, betaNewPort} {
			serveGRPC(t, name, fmt.Sprintf("%s:%d", ip, port))
		}
	}
	for _, port := range []int32{alphaPort, betaPort, betaNewPort} {
		serveGRPC(t, "gpu-c-moved", fmt.Sprintf("%s:%d", gpuCMoved, port))
	}
	for name, ip := range ingresses {
		serveIngress(t, p, name, fmt.Sprintf("%s:%d", ip, ingressPort))
	}
	node := func(name string, m map[string]string) haproxy.Node {
		return haproxy.Node{Name: name, IP: netip.MustParseAddr(m[name])}
	}
	in := haproxy.Input{
		Tenants: []haproxy.Tenant{
			{Name: "alpha", VIP: alphaVIP, CertificatePath: certPath, HostDomain: "example.com", GRPC: []haproxy.GRPCFrontend{{Namespace: "alpha", Exposure: "triton", BindPort: alphaPort, NodePort: alphaPort}}},
			{Name: "beta", VIP: betaVIP, GRPC: []haproxy.GRPCFrontend{{Namespace: "beta", Exposure: "vllm", BindPort: betaPort, NodePort: betaPort}}},
		},
		BackendNodes: []haproxy.Node{node("gpu-a", gpus), node("gpu-b", gpus), node("gpu-c", gpus)},
		IngressNodes: []haproxy.Node{node("ingress-a", ingresses), node("ingress-b", ingresses)},
		Globals: haproxy.Globals{IngressPort: ingressPort, HTTPSPort: httpsPort, StatsBind: fmt.Sprintf("127.0.0.1:%d", statsPort),
			Timeout: 30 * time.Second, HardStopAfter: 5 * time.Minute, ServerSlots: 8},
	}
	configDir := filepath.Join(dir, "config")
	var prev *haproxy.Parts
	publish := func() string {
		parts, files := render(t, in, prev)
		prev = &parts
		writeConfig(t, configDir, files)
		return Checksum(files)
	}
	publish()

	metrics := NewMetrics(nil)
	agent := &Agent{
		ConfigDir: configDir, LiveDir: filepath.Join(dir, "live", "cfg"), HAProxy: bin,
		Runtime: Runtime{Socket: filepath.Join(dir, "master.sock")}, PIDFile: filepath.Join(dir, "haproxy.pid"),
		Log: testr.New(t), Metrics: metrics,
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := agent.Install(ctx); err != nil {
		t.Fatal(err)
	}
	testsupport.Start(t, bin, "-W", "-db", "-S", agent.Runtime.Socket, "-p", agent.PIDFile, "-f", agent.LiveDir)
	testsupport.WaitListening(t, fmt.Sprintf("%s:%d", alphaVIP, alphaPort))
	testsupport.WaitListening(t, fmt.Sprintf("%s:%d", alphaVIP, httpsPort))
	agentDone := make(chan struct{})
	go func() { defer close(agentDone); _ = agent.Run(ctx, 100*time.Millisecond) }()
	t.Cleanup(func() { cancel(); <-agentDone })

	// The two long streams.
	grpcStream := make(chan streamResult, 1)
	go func() { grpcStream <- runGRPCStream(fmt.Sprintf("%s:%d", alphaVIP, alphaPort)) }()
	httpStream := make(chan streamResult, 1)
	go func() { httpStream <- runChunkedStream(p, alphaVIP, httpsPort) }()
	started := time.Now()

	call := func(addr string) (string, error) {
		conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return "", err
		}
		defer conn.Close()
		cctx, ccancel := context.WithTimeout(ctx, 5*time.Second)
		defer ccancel()
		var md metadata.MD
		if _, err := healthpb.NewHealthClient(conn).Check(cctx, &healthpb.HealthCheckRequest{}, grpc.Header(&md)); err != nil {
			return "", err
		}
		return strings.Join(md.Get("x-node"), ","), nil
	}
	alpha := fmt.Sprintf("%s:%d", alphaVIP, alphaPort)
	// applied waits until the agent has handled the configuration with checksum sum.
	type step struct {
		name    string
		latency time.Duration
	}
	var steps []step
	apply := func(name string) {
		t.Helper()
		written := time.Now()
		sum := publish()
		eventually(t, name+": applied by the agent", func() bool { return agent.Handled() == sum })
		steps = append(steps, step{name, time.Since(written)})
	}
	reloads := func() float64 {
		return testutil.ToFloat64(metrics.Reloads.WithLabelValues(ReasonFrontend)) + otherReloads(metrics)
	}
	// reaches opens connections, and holds them, until one reaches node: balance leastconn
	// sends a new connection to the server with the fewest, so a node that holds one of the long
	// streams gets new ones only once the others hold as many.
	reaches := func(addr, node string) {
		t.Helper()
		hctx, hcancel := context.WithCancel(ctx)
		defer hcancel()
		seen := map[string]int{}
		for range 40 {
			conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			s, err := healthpb.NewHealthClient(conn).Watch(hctx, &healthpb.HealthCheckRequest{})
			if err != nil {
				t.Fatalf("new connection to %s: %v", addr, err)
			}
			md, err := s.Header()
			if err != nil {
				t.Fatalf("new connection to %s: %v", addr, err)
			}
			n := strings.Join(md.Get("x-node"), ",")
			if seen[n]++; n == node {
				return
			}
		}
		t.Fatalf("40 new connections to %s never reached %s: %v", addr, node, seen)
	}
	avoids := func(addr, node string) {
		t.Helper()
		for range 20 {
			n, err := call(addr)
			if err != nil {
				t.Fatalf("new connection to %s: %v", addr, err)
			}
			if n == node {
				t.Fatalf("a new connection to %s reached %s", addr, node)
			}
		}
	}
	eventually(t, "the agent is ready", func() bool { return agent.Ready() == nil })

	// A node joins: runtime only.
	in.BackendNodes = append(in.BackendNodes, node("gpu-d", gpus))
	apply("gpu-d joins")
	reaches(alpha, "gpu-d")
	// Another leaves, a third turns NotReady and comes back: runtime only.
	in.BackendNodes = in.BackendNodes[1:] // gpu-a
	apply("gpu-a leaves")
	avoids(alpha, "gpu-a")
	in.BackendNodes[0].Down = true // gpu-b
	apply("gpu-b NotReady")
	avoids(alpha, "gpu-b")
	in.BackendNodes[0].Down = false
	apply("gpu-b Ready again")
	reaches(alpha, "gpu-b")
	in.BackendNodes[1].IP = netip.MustParseAddr(gpuCMoved) // gpu-c
	apply("gpu-c changes its address")
	reaches(alpha, "gpu-c-moved")
	if n := reloads(); n != 0 {
		t.Fatalf("%v reloads for node changes, want none", n)
	}
	// Another tenant gets a new exposure: a new bind, one reload.
	in.Tenants[1].GRPC = append(in.Tenants[1].GRPC, haproxy.GRPCFrontend{Namespace: "beta", Exposure: "tgi", BindPort: betaNewPort, NodePort: betaNewPort})
	apply("beta gets a new exposure")
	if _, err := call(fmt.Sprintf("%s:%d", betaVIP, betaNewPort)); err != nil {
		t.Fatalf("the new exposure after the reload: %v", err)
	}
	if n := testutil.ToFloat64(metrics.Reloads.WithLabelValues(ReasonFrontend)); n != 1 || reloads() != 1 {
		t.Fatalf("%v reloads for the new frontend (%v in all), want 1", n, reloads())
	}
	// After the reload, node changes are runtime changes again, in the new worker.
	in.BackendNodes = in.BackendNodes[:len(in.BackendNodes)-1] // gpu-d
	apply("gpu-d leaves after the reload")
	avoids(alpha, "gpu-d")
	if reloads() != 1 {
		t.Fatalf("a node change after the reload reloaded")
	}

	for name, ch := range map[string]chan streamResult{"gRPC server stream": grpcStream, "HTTP/1.1 chunked stream": httpStream} {
		r := <-ch
		if r.err != nil {
			t.Errorf("%s broke after %d messages: %v", name, r.messages, r.err)
			continue
		}
		// A message every 100 ms; a stall of a second would be a cut-and-reconnect.
		if r.maxGap > time.Second || r.messages < int(streamFor/(100*time.Millisecond))/2 {
			t.Errorf("%s: %d messages, longest gap %s", name, r.messages, r.maxGap)
		}
		t.Logf("%s: open %s through every change, %d messages from %s, longest gap %s", name, time.Since(started).Round(time.Second), r.messages, r.node, r.maxGap.Round(time.Millisecond))
	}
	t.Logf("reloads: %v (frontend %v); runtime updates: %v with %v commands",
		reloads(), testutil.ToFloat64(metrics.Reloads.WithLabelValues(ReasonFrontend)),
		testutil.ToFloat64(metrics.RuntimeUpdates), testutil.ToFloat64(metrics.RuntimeCommands))
	for _, s := range steps {
		t.Logf("config written -> applied: %-32s %s", s.name, s.latency.Round(time.Millisecond))
	}
}

func otherReloads(m *Metrics) float64 {
	n := 0.0
	for _, r := range []string{ReasonGlobal, ReasonBackend, ReasonSlots, ReasonCertificate, ReasonRuntimeUnreachable, ReasonRuntimeFailed} {
		n += testutil.ToFloat64(m.Reloads.WithLabelValues(r))
	}
	return n
}

// runGRPCStream holds a Watch stream open for streamFor and reports what it received.
func runGRPCStream(addr string) streamResult {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return streamResult{err: err}
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), streamFor)
	defer cancel()
	var r streamResult
	s, err := healthpb.NewHealthClient(conn).Watch(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		return streamResult{err: err}
	}
	if md, err := s.Header(); err == nil {
		r.node = strings.Join(md.Get("x-node"), ",")
	}
	return r.count(ctx, func() error { _, err := s.Recv(); return err })
}

// count receives messages with next until it fails, noting the longest gap between two. A
// failure once ctx has ended is the stream having run its full time; any other is an error.
// gRPC sends the deadline along with the stream, so the stream can end with DeadlineExceeded
// a moment before ctx's own timer fires (seen under load): that too is the full time.
func (r streamResult) count(ctx context.Context, next func() error) streamResult {
	last := time.Now()
	for {
		if err := next(); err != nil {
			if ctx.Err() == nil && status.Code(err) != codes.DeadlineExceeded {
				r.err = err
			}
			return r
		}
		r.messages++
		r.maxGap = max(r.maxGap, time.Since(last))
		last = time.Now()
	}
}

// runChunkedStream reads an HTTP/1.1 chunked response through the tenant's HTTPS frontend for
// streamFor.
func runChunkedStream(p *testsupport.PKI, vip string, port int32) streamResult {
	client := &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: p.Pool(), ServerName: "inference-alpha.example.com", NextProtos: []string{"http/1.1"}},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, fmt.Sprintf("%s:%d", vip, port))
		},
		TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{}, // HTTP/1.1 only
	}}
	ctx, cancel := context.WithTimeout(context.Background(), streamFor)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("https://inference-alpha.example.com:%d/stream", port), nil)
	resp, err := client.Do(req)
	if err != nil {
		return streamResult{err: err}
	}
	defer resp.Body.Close()
	r := streamResult{node: resp.Header.Get("X-Node")}
	if resp.ProtoMajor != 1 || len(resp.TransferEncoding) == 0 || resp.TransferEncoding[0] != "chunked" {
		return streamResult{err: fmt.Errorf("want an HTTP/1.1 chunked response, got %s %v", resp.Proto, resp.TransferEncoding)}
	}
	br := bufio.NewReader(resp.Body)
	return r.count(ctx, func() error { _, err := br.ReadString('\n'); return err })
}

// eventually polls cond until it holds, for at most 30 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestFallbacks: when the master CLI does not answer, a node change is applied by a validated
// reload through SIGUSR2 (reason runtime-unreachable); a configuration haproxy -c refuses is
// never loaded and the running one keeps serving.
func TestFallbacks(t *testing.T) {
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		t.Skip("haproxy is not installed (apt-get install -y haproxy; .ci/run does it): skipping the end-to-end test")
	}
	dir := t.TempDir()
	vip := "127.0.0.20"
	port := testsupport.FreePort(t, vip, "127.0.0.21", "127.0.0.22")
	serveGRPC(t, "gpu-a", fmt.Sprintf("127.0.0.21:%d", port))
	serveGRPC(t, "gpu-b", fmt.Sprintf("127.0.0.22:%d", port))
	pki := testsupport.NewPKI(t)
	certPath := filepath.Join(dir, "alpha.pem")
	pki.WriteServerPEM(t, certPath, "inference-alpha.example.com")
	in := haproxy.Input{
		Tenants:      []haproxy.Tenant{{Name: "alpha", VIP: vip, CertificatePath: certPath, HostDomain: "example.com", GRPC: []haproxy.GRPCFrontend{{Namespace: "alpha", Exposure: "triton", BindPort: port, NodePort: port}}}},
		BackendNodes: []haproxy.Node{{Name: "gpu-a", IP: netip.MustParseAddr("127.0.0.21")}},
		Globals: haproxy.Globals{IngressPort: 443, HTTPSPort: testsupport.FreePort(t, vip), StatsBind: fmt.Sprintf("127.0.0.1:%d", testsupport.FreePort(t, "127.0.0.1")),
			Timeout: 30 * time.Second, HardStopAfter: time.Minute, ServerSlots: 4},
	}
	configDir := filepath.Join(dir, "config")
	parts, files := render(t, in, nil)
	writeConfig(t, configDir, files)
	metrics := NewMetrics(nil)
	agent := &Agent{
		ConfigDir: configDir, LiveDir: filepath.Join(dir, "live"), HAProxy: bin,
		// No master CLI at this path: every runtime change falls back to a reload.
		Runtime: Runtime{Socket: filepath.Join(dir, "absent.sock"), Timeout: time.Second}, PIDFile: filepath.Join(dir, "haproxy.pid"),
		Log: testr.New(t), Metrics: metrics,
	}
	ctx := context.Background()
	if err := agent.Install(ctx); err != nil {
		t.Fatal(err)
	}
	testsupport.Start(t, bin, "-W", "-db", "-p", agent.PIDFile, "-f", agent.LiveDir)
	addr := fmt.Sprintf("%s:%d", vip, port)
	testsupport.WaitListening(t, addr)
	eventually(t, "the PID file", func() bool { _, err := os.Stat(agent.PIDFile); return err == nil })
	answeredBy := func() string {
		conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return err.Error()
		}
		defer conn.Close()
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		var md metadata.MD
		if _, err := healthpb.NewHealthClient(conn).Check(cctx, &healthpb.HealthCheckRequest{}, grpc.Header(&md)); err != nil {
			return err.Error()
		}
		return strings.Join(md.Get("x-node"), ",")
	}

	// gpu-a is replaced by gpu-b: a runtime change, but there is no Runtime API.
	in.BackendNodes = []haproxy.Node{{Name: "gpu-b", IP: netip.MustParseAddr("127.0.0.22")}}
	_, files = render(t, in, &parts)
	writeConfig(t, configDir, files)
	out, err := agent.Sync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if out.Reload != ReasonRuntimeUnreachable || testutil.ToFloat64(metrics.Reloads.WithLabelValues(ReasonRuntimeUnreachable)) != 1 {
		t.Fatalf("outcome %+v, want a reload for %s", out, ReasonRuntimeUnreachable)
	}
	eventually(t, "gpu-b answers after the SIGUSR2 reload", func() bool { return answeredBy() == "gpu-b" })
	if agent.Ready() == nil {
		t.Fatal("ready without a Runtime API: every node change would reload")
	}

	// A configuration HAProxy would not load: refused, counted, and gpu-b keeps answering.
	writeConfig(t, configDir, append(files, File{Name: "zz-broken.cfg", Data: "frontend broken\n    bind " + vip + ":notaport\n"}))
	out, err = agent.Sync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !out.Refused || testutil.ToFloat64(metrics.Failures.WithLabelValues("validate")) != 1 {
		t.Fatalf("outcome %+v: the broken configuration was not refused", out)
	}
	if live, _, _ := ReadDir(agent.LiveDir); Checksum(live) != Checksum(files) {
		t.Fatal("the refused configuration reached the live directory")
	}
	if n := answeredBy(); n != "gpu-b" {
		t.Fatalf("after the refused configuration: %s", n)
	}
	// Refused once, not again on every tick.
	if out, _ := agent.Sync(ctx); out.Changed || testutil.ToFloat64(metrics.Failures.WithLabelValues("validate")) != 1 {
		t.Fatalf("the refused configuration was handled again: %+v", out)
	}

	// A renewed certificate (same path, new content) needs a reload: HAProxy reads it then.
	writeConfig(t, configDir, files)
	pki.WriteServerPEM(t, certPath, "inference-alpha.example.com")
	if out, err := agent.Sync(ctx); err != nil || out.Reload != ReasonCertificate {
		t.Fatalf("after a certificate renewal: %+v, %v; want a reload for %s", out, err, ReasonCertificate)
	}
}
