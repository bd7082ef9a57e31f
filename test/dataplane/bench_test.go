package dataplane_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
	"github.com/inference-exposure/inference-exposure-operator/internal/controller/haproxyconfig"
	"github.com/inference-exposure/inference-exposure-operator/internal/testsupport"
	"github.com/inference-exposure/inference-exposure-operator/test/dataplane"
)

// BenchmarkPaths measures what the recipe's choice between the paths rests on, on one machine:
// each path's time from the exposure's create to its first answer, the latency of unary
// requests (HTTP and gRPC) straight to the pod and through TLS termination at the ingress, the
// time to the first chunk of a stream, and Traefik's CPU per 1,000 requests. Run it with
// make bench-dataplane; every figure is a custom metric of its sub-benchmark.
func BenchmarkPaths(b *testing.B) {
	if skipWhy != "" {
		b.Skip(skipWhy)
	}
	measured := false
	for b.Loop() { // every figure is measured once, with its own request count
		if !measured {
			measurePaths(b)
			measured = true
		}
	}
}

// percentiles reports p50 and p99 of samples as metrics named prefix-p50-µs and prefix-p99-µs.
func percentiles(b *testing.B, prefix string, samples []time.Duration) {
	slices.Sort(samples)
	at := func(q float64) float64 { return float64(samples[int(q*float64(len(samples)-1))].Microseconds()) }
	b.ReportMetric(at(0.5), prefix+"-p50-µs")
	b.ReportMetric(at(0.99), prefix+"-p99-µs")
}

// cpuSeconds is the CPU time a process has used so far.
func cpuSeconds(pid int) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command (which may hold spaces): utime and stime are the 12th and 13th.
	f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+2:]))
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100 // clock ticks; 100 per second on Linux
}

// benchRequests is how many requests each latency figure is taken from.
const benchRequests = 1000

// measurePaths sets the data plane up and measures each figure once.
func measurePaths(b *testing.B) {
	t := b
	podIP := podNetwork(t, 20, "bench-0", time.Hour)
	ep := startTraefik(t)
	// The tenant load balancer: HTTPS frontends on .33 towards Traefik, gRPC ones on .32.
	hp := haproxySettings(t, "dp-bench-system", "127.0.100.33", dataplane.Port(ep.WebSecure))
	startOperatorWith(t, hp)
	ingressClass(t, "nginx", "k8s.io/ingress-nginx")
	ns := tenantWithPod(t, "dp-bench", podIP)
	host := "bench." + ns + "." + hostDomain
	grpcHost := "bench-grpc." + ns + "." + hostDomain
	pki := testsupport.NewPKI(t)
	tlsSecret(t, pki, ns, "bench-tls", host, grpcHost)
	// Traefik runs on the host: its node is the ingress node, at loopback.
	labelNode(t, "node-"+ns, "127.0.0.1", map[string]string{"node-role.kubernetes.io/ingress": ""})
	vipPKI := tenantVIP(t, ns, "127.0.100.33", "*."+ns+"."+hostDomain)

	start := time.Now()
	exposureOn(t, ns, "bench", "nginx", "bench-tls", "0", "/v1", "/health")
	updateGRPC(t, ns, "bench")
	c := httpsClient(pki, ep.WebSecure)
	resp := eventuallyAnswers(t, c, "https://"+host+"/health")
	_ = resp.Body.Close()
	b.ReportMetric(float64(time.Since(start).Milliseconds()), "create-to-first-answer-ms")

	keepAlive := func(dial string, tlsConf *tls.Config) *http.Client {
		return &http.Client{Transport: &http.Transport{TLSClientConfig: tlsConf, MaxIdleConnsPerHost: 1,
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, network, dial)
			}}}
	}
	measure := func(name string, get func() error) {
		samples := make([]time.Duration, 0, benchRequests)
		for range benchRequests {
			s := time.Now()
			if err := get(); err != nil {
				b.Fatalf("%s: %v", name, err)
			}
			samples = append(samples, time.Since(s))
		}
		percentiles(b, name, samples)
	}
	httpGet := func(c *http.Client, url string) func() error {
		return func() error {
			resp, err := c.Get(url)
			if err != nil {
				return err
			}
			_, _ = io.Copy(io.Discard, resp.Body) // read to the end: the connection is kept
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("%s answered %d", url, resp.StatusCode)
			}
			return nil
		}
	}
	measure("http-direct", httpGet(keepAlive(podIP+":8000", nil), "http://pod/health"))
	before := cpuSeconds(ep.Pid())
	measure("http-ingress-tls", httpGet(keepAlive(ep.WebSecure, &tls.Config{RootCAs: pki.Pool(), MinVersion: tls.VersionTLS12}), "https://"+host+"/health"))
	b.ReportMetric((cpuSeconds(ep.Pid())-before)*1000/benchRequests*1000, "traefik-cpu-ms-per-1000")

	direct, err := grpc.NewClient("passthrough:///"+podIP+":8001", grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	defer direct.Close()
	measure("grpc-direct", grpcCheck(direct))
	ghzLatency(b, "grpc-direct", podIP+":8001", "--insecure")
	viaIngress, err := dataplane.GRPCClient(pki.Pool(), grpcHost, ep.WebSecure)
	if err != nil {
		b.Fatal(err)
	}
	defer viaIngress.Close()
	if err := eventuallyOK(grpcCheck(viaIngress)); err != nil {
		b.Fatal(err)
	}
	measure("grpc-ingress-tls", grpcCheck(viaIngress))
	caPath := filepath.Join(b.TempDir(), "ca.pem")
	pki.WriteCA(b, caPath)
	ghzLatency(b, "grpc-ingress-tls", ep.WebSecure, "--cacert", caPath, "--cname", grpcHost, "--authority", grpcHost)

	firstChunk := func(c *http.Client, url string) time.Duration {
		s := time.Now()
		resp, err := c.Post(url, "application/json", strings.NewReader(`{"model":"llama","stream":true,"max_tokens":2}`))
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		buf := make([]byte, 1)
		if _, err := resp.Body.Read(buf); err != nil {
			b.Fatal(err)
		}
		took := time.Since(s)
		_, _ = io.Copy(io.Discard, resp.Body)
		return took
	}
	var d, i []time.Duration
	dc, ic := keepAlive(podIP+":8000", nil), keepAlive(ep.WebSecure, &tls.Config{RootCAs: pki.Pool(), MinVersion: tls.VersionTLS12})
	for range 100 {
		d = append(d, firstChunk(dc, "http://pod/v1/chat/completions"))
		i = append(i, firstChunk(ic, "https://"+host+"/v1/chat/completions"))
	}
	percentiles(b, "first-chunk-direct", d)
	percentiles(b, "first-chunk-ingress-tls", i)

	// HTTPS through the tenant's VIP: HAProxy terminates with the tenant's certificate and
	// re-encrypts to Traefik, which terminates again.
	haproxyBin := needHAProxy(b)
	front := fmt.Sprintf("127.0.100.33:%d", hp.Globals.HTTPSPort)
	hpOut, hpPid := runHAProxy(b, haproxyBin, hp, front)
	viaVIP := keepAlive(front, &tls.Config{RootCAs: vipPKI.Pool(), MinVersion: tls.VersionTLS12})
	if err := eventuallyOK(httpGet(viaVIP, "https://"+host+"/health")); err != nil {
		b.Fatalf("HTTPS through %s: %v\nhaproxy: %s", front, err, hpOut.String())
	}
	before = cpuSeconds(hpPid)
	traefikBefore := cpuSeconds(ep.Pid())
	measure("http-haproxy-ingress-tls", httpGet(viaVIP, "https://"+host+"/health"))
	b.ReportMetric((cpuSeconds(hpPid)-before)*1000/benchRequests*1000, "haproxy-https-cpu-ms-per-1000")
	b.ReportMetric((cpuSeconds(ep.Pid())-traefikBefore)*1000/benchRequests*1000, "traefik-behind-haproxy-cpu-ms-per-1000")
	var h []time.Duration
	for range 100 {
		h = append(h, firstChunk(viaVIP, "https://"+host+"/v1/chat/completions"))
	}
	percentiles(b, "first-chunk-haproxy-ingress-tls", h)
	measureHAProxyTCP(b, haproxyBin, hp, measure)
}

// measureHAProxyTCP measures the tenant load balancer's raw gRPC path: from the tenant's VIP
// through HAProxy (TCP) to the NodePort the operator allocated, forwarded by a real kube-proxy
// in a node's namespace to the pod; and HAProxy's CPU per 1,000 requests on it. The time to the
// first answer includes reading the rendered configuration and starting haproxy on it (the
// agent's part).
func measureHAProxyTCP(b *testing.B, haproxyBin string, hp *haproxyconfig.Settings, measure func(string, func() error)) {
	const vip = "127.0.100.32"
	node, podIP, _ := grpcPodBehindNode(b, 32, "dp-bench-lb", time.Hour)
	ns := tenantWithPod(b, "dp-bench-lb", podIP)
	gpuNode(b, "node-"+ns, node.IP)
	tenantVIP(b, ns, vip, "lb.example.test")

	start := time.Now()
	if err := k8s.Create(context.Background(), &exposurev1alpha1.InferenceExposure{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "lb"}, Spec: exposurev1alpha1.InferenceExposureSpec{
		Selector: map[string]exposurev1alpha1.LabelValue{"app": exposurev1alpha1.LabelValue(ns)},
		Ports:    exposurev1alpha1.ExposurePorts{GRPC: ptr.To[int32](8001)},
	}}); err != nil {
		b.Fatal(err)
	}
	e := waitReady(b, ns, "lb")
	vipAddr := fmt.Sprintf("%s:%d", vip, e.Status.NodePorts.GRPC)
	hpOut, hpPid := runHAProxy(b, haproxyBin, hp, vipAddr)
	conn := plainGRPC(b, vipAddr)
	if err := eventuallyOK(grpcCheck(conn)); err != nil {
		b.Fatalf("gRPC through %s: %v\nhaproxy: %s", vipAddr, err, hpOut.String())
	}
	b.ReportMetric(float64(time.Since(start).Milliseconds()), "haproxy-grpc-create-to-first-answer-ms")
	before := cpuSeconds(hpPid)
	measure("grpc-haproxy-nodeport", grpcCheck(conn))
	b.ReportMetric((cpuSeconds(hpPid)-before)*1000/benchRequests*1000, "haproxy-tcp-cpu-ms-per-1000")
	ghzLatency(b, "grpc-haproxy-nodeport", vipAddr, "--insecure")
}

// eventuallyOK retries f for at most 60 s.
func eventuallyOK(f func() error) error {
	var err error
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if err = f(); err == nil {
			return nil
		}
	}
	return err
}

// ghzLatency measures unary gRPC health checks to target with ghz, the gRPC load client (make
// ghz; GHZ names it), one at a time like measure, and reports its p50 and p99 as
// ghz-<name>-p50-µs and -p99-µs. Without ghz it says so and reports nothing.
func ghzLatency(b *testing.B, name, target string, extra ...string) {
	bin := os.Getenv("GHZ")
	if bin == "" {
		b.Logf("ghz-%s: not measured (GHZ is not set: make bench-dataplane installs ghz)", name)
		return
	}
	args := append([]string{"--call", "grpc.health.v1.Health.Check", "-d", "{}", "-n", strconv.Itoa(benchRequests), "-c", "1", "--format", "json"}, extra...)
	cmd := exec.Command(bin, append(args, target)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		// Not fatal: the figures of the operator's own client stand; say why this one is missing.
		b.Logf("ghz-%s: not measured: %v: %s", name, err, strings.TrimSpace(stderr.String()))
		return
	}
	var report struct {
		Count               int            `json:"count"`
		ErrorDistribution   map[string]int `json:"errorDistribution"`
		LatencyDistribution []struct {
			Percentage int           `json:"percentage"`
			Latency    time.Duration `json:"latency"`
		} `json:"latencyDistribution"`
	}
	if err := json.Unmarshal(out, &report); err != nil {
		b.Fatalf("ghz %s: %v", name, err)
	}
	if len(report.ErrorDistribution) > 0 {
		b.Fatalf("ghz %s: errors %v", name, report.ErrorDistribution)
	}
	for _, l := range report.LatencyDistribution {
		if l.Percentage == 50 || l.Percentage == 99 {
			b.ReportMetric(float64(l.Latency.Microseconds()), fmt.Sprintf("ghz-%s-p%d-µs", name, l.Percentage))
		}
	}
}
