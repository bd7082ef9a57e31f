package dataplane

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
)

// ServeModel speaks what users run behind an exposure: an OpenAI-compatible chat-completions
// endpoint (vLLM, TGI and NIM speak it) that streams with server-sent events, a health
// endpoint, and an endpoint that answers after a pause, for timeouts. It says which pod
// answered (X-Pod), so a test knows the request crossed the whole path.
// It serves ln until stop is called.
func ServeModel(ln net.Listener, pod string) (stop func()) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("X-Pod", pod)
		fmt.Fprintln(w, "ok")
	})
	// GET /slow?pause=2s answers after the pause.
	mux.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
		pause, err := time.ParseDuration(r.URL.Query().Get("pause"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		select {
		case <-time.After(pause):
		case <-r.Context().Done():
			return
		}
		w.Header().Set("X-Pod", pod)
		fmt.Fprintf(w, "answered after %s\n", pause)
	})
	// POST /v1/chat/completions: {"stream": true, "max_tokens": N} streams N chunks, one every
	// ?interval= (default 100ms), then [DONE].
	mux.HandleFunc("POST /v1/chat/completions", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Model     string `json:"model"`
			Stream    bool   `json:"stream"`
			MaxTokens int    `json:"max_tokens"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.MaxTokens <= 0 || req.MaxTokens > 100000 {
			http.Error(w, "a JSON body with max_tokens 1-100000", http.StatusBadRequest)
			return
		}
		interval := 100 * time.Millisecond
		if v := r.URL.Query().Get("interval"); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			interval = d
		}
		w.Header().Set("X-Pod", pod)
		if !req.Stream {
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{"object": "chat.completion", "model": req.Model,
				"choices": []map[string]any{{"index": 0, "message": map[string]string{"role": "assistant", "content": "token"}, "finish_reason": "length"}}})
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-cache")
		flusher, _ := w.(http.Flusher)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for i := range req.MaxTokens {
			chunk, _ := json.Marshal(map[string]any{"object": "chat.completion.chunk", "model": req.Model,
				"choices": []map[string]any{{"index": 0, "delta": map[string]string{"content": "t" + strconv.Itoa(i)}}}})
			if _, err := fmt.Fprintf(w, "data: %s\n\n", chunk); err != nil {
				return
			}
			if flusher != nil {
				flusher.Flush()
			}
			if i+1 < req.MaxTokens {
				select {
				case <-tick.C:
				case <-r.Context().Done():
					return
				}
			}
		}
		fmt.Fprint(w, "data: [DONE]\n\n")
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return func() { _ = srv.Close() }
}

// ServeGRPCModel serves gRPC health on ln (as Triton and KServe v2 servers do) with a server
// stream that never idles: the status of the service "model" flips between SERVING and
// NOT_SERVING every interval, so every Watch stream receives a message each interval.
// It serves ln until stop is called.
func ServeGRPCModel(ln net.Listener, interval time.Duration) (stop func()) {
	hs := health.NewServer()
	srv := grpc.NewServer()
	healthpb.RegisterHealthServer(srv, hs)
	reflection.Register(srv) // for clients without the proto files (ghz, grpcurl)
	go func() { _ = srv.Serve(ln) }()
	done := make(chan struct{})
	go func() {
		tick := time.NewTicker(interval)
		defer tick.Stop()
		serving := true
		for {
			st := healthpb.HealthCheckResponse_NOT_SERVING
			if serving {
				st = healthpb.HealthCheckResponse_SERVING
			}
			hs.SetServingStatus("model", st)
			serving = !serving
			select {
			case <-tick.C:
			case <-done:
				return
			}
		}
	}()
	return func() { close(done); srv.Stop() }
}
