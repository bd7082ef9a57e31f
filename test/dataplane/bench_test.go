package dataplane_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

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
	startOperator(t)
	ep := startTraefik(t)
	ingressClass(t, "nginx", "k8s.io/ingress-nginx")
	ns := tenantWithPod(t, "dp-bench", podIP)
	host := "bench." + ns + "." + hostDomain
	grpcHost := "bench-grpc." + ns + "." + hostDomain
	pki := testsupport.NewPKI(t)
	tlsSecret(t, pki, ns, "bench-tls", host, grpcHost)

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

	grpcCheck := func(conn *grpc.ClientConn) func() error {
		hc := healthpb.NewHealthClient(conn)
		return func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, err := hc.Check(ctx, &healthpb.HealthCheckRequest{})
			return err
		}
	}
	direct, err := grpc.NewClient("passthrough:///"+podIP+":8001", grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	defer direct.Close()
	measure("grpc-direct", grpcCheck(direct))
	viaIngress, err := dataplane.GRPCClient(pki.Pool(), grpcHost, ep.WebSecure)
	if err != nil {
		b.Fatal(err)
	}
	defer viaIngress.Close()
	if err := eventuallyOK(grpcCheck(viaIngress)); err != nil {
		b.Fatal(err)
	}
	measure("grpc-ingress-tls", grpcCheck(viaIngress))

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
