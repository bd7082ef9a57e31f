package dataplane_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// The long streams of every path: a minute and a bit in make test; make soak sets
// DATAPLANE_SSE (30m) and DATAPLANE_GRPC (1h).
var (
	sseLength  = lengthFrom("DATAPLANE_SSE", 61*time.Second)
	grpcLength = lengthFrom("DATAPLANE_GRPC", 61*time.Second)
)

func lengthFrom(env string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(os.Getenv(env)); err == nil && d > 0 {
		return d
	}
	return def
}

// longStream runs a stream of one path in the background while the test goes on, and returns
// a wait that reports what happened to it: logged when whole, an error otherwise.
func longStream(t *testing.T, path string, run func() (string, error)) (wait func()) {
	t.Helper()
	done := make(chan struct{})
	var summary string
	var err error
	go func() {
		defer close(done)
		summary, err = run()
	}()
	return func() {
		t.Helper()
		<-done
		if err != nil {
			t.Errorf("long stream, %s: %v (%s)", path, err, summary)
			return
		}
		t.Logf("long stream, %s: %s", path, summary)
	}
}

// sseFor streams a chat completion of one chunk a second for length through c, and says how
// many chunks arrived and when; an error when any is missing or [DONE] never came.
func sseFor(c *http.Client, url string, length time.Duration) (string, error) {
	n := int(length / time.Second)
	body := fmt.Sprintf(`{"model":"llama","stream":true,"max_tokens":%d,"messages":[{"role":"user","content":"hi"}]}`, n)
	start := time.Now()
	client := *c
	client.Timeout = length + time.Minute
	resp, err := client.Post(url+"?interval=1s", "application/json", strings.NewReader(body))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("answered %d", resp.StatusCode)
	}
	chunks, done := 0, false
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		switch line := sc.Text(); {
		case line == "data: [DONE]":
			done = true
		case strings.HasPrefix(line, "data: "):
			chunks++
		}
	}
	summary := fmt.Sprintf("SSE: %d of %d chunks in %s, [DONE] %v", chunks, n, time.Since(start).Round(time.Millisecond), done)
	if chunks != n || !done {
		return summary, fmt.Errorf("cut after %s (%v)", time.Since(start).Round(time.Millisecond), sc.Err())
	}
	return summary, nil
}

// grpcFor holds a gRPC health Watch stream on the connection dial makes for length, and says
// how many messages arrived; an error when the stream ends before.
func grpcFor(dial func() (*grpc.ClientConn, error), length time.Duration) (string, error) {
	conn, err := dial()
	if err != nil {
		return "", err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), length)
	defer cancel()
	stream, err := healthpb.NewHealthClient(conn).Watch(ctx, &healthpb.HealthCheckRequest{Service: "model"})
	if err != nil {
		return "", err
	}
	start, msgs := time.Now(), 0
	for {
		if _, err := stream.Recv(); err != nil {
			summary := fmt.Sprintf("gRPC Watch: %d messages in %s", msgs, time.Since(start).Round(time.Millisecond))
			if ctx.Err() != nil && time.Since(start) >= length-time.Second {
				return summary + ", held to the end", nil
			}
			return summary, fmt.Errorf("cut: %w", err)
		}
		msgs++
	}
}
