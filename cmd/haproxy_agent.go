package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap/zapcore"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
	"github.com/inference-exposure/inference-exposure-operator/internal/haproxyagent"
	"github.com/inference-exposure/inference-exposure-operator/internal/haproxyagent/kubereport"
)

// runHAProxyAgent is the haproxy-agent subcommand: it runs next to HAProxy (same pod or host)
// and keeps it in step with the mounted configuration, through the Runtime API where it can.
func runHAProxyAgent(args []string) error {
	fs := flag.NewFlagSet("haproxy-agent", flag.ContinueOnError)
	var (
		a                    haproxyagent.Agent
		interval, cliTimeout time.Duration
		metricsAddr          string
		install, events      bool
		nodeName, kubeconfig string
	)
	fs.StringVar(&a.ConfigDir, "config-dir", "/config", "The mounted configuration: a directory of *.cfg files (the operator's ConfigMaps in one projected volume).")
	fs.StringVar(&a.LiveDir, "live-dir", "/live/cfg", "The directory HAProxy runs from (haproxy -f <dir>); the agent writes it.")
	fs.StringVar(&a.HAProxy, "haproxy", "haproxy", "The haproxy binary that validates a configuration (haproxy -c) before a reload.")
	fs.StringVar(&a.Runtime.Socket, "master-socket", "/run/haproxy/master.sock", "HAProxy's master CLI socket (haproxy -W -S <socket>): runtime changes go to the current worker, reloads to the master.")
	fs.StringVar(&a.PIDFile, "pid-file", "", "HAProxy's PID file (haproxy -p): reloads fall back to SIGUSR2 to the master when the master CLI does not answer.")
	fs.DurationVar(&interval, "interval", time.Second, "How often the configuration directory is compared with what runs.")
	fs.DurationVar(&cliTimeout, "runtime-timeout", 5*time.Second, "Timeout of one master CLI request.")
	fs.StringVar(&metricsAddr, "metrics-bind-address", ":8405", "Address of /metrics (Prometheus), /readyz and /healthz; 0 disables it.")
	fs.BoolVar(&events, "report-events", true, "Report what HAProxy cannot load (a frontend whose bind fails, a refused configuration) as Warning Events on the exposure and its tenant; needs get on inferenceexposures and inferencetenants and create on events. Without cluster credentials the problems go to the log and metrics only.")
	fs.StringVar(&kubeconfig, "kubeconfig", "", "Kubeconfig for the Events when the agent runs outside the cluster (default: the pod's service account; the kubeconfig of your shell is never used unless named here).")
	fs.StringVar(&nodeName, "node-name", os.Getenv("NODE_NAME"), "The node the agent runs on, named in its Events (default: $NODE_NAME, set from spec.nodeName).")
	fs.BoolVar(&install, "install", false, "Validate the configuration directory, copy it to the live directory and exit (an init container, before HAProxy starts).")
	zapOpts := zap.Options{TimeEncoder: zapcore.ISO8601TimeEncoder}
	zapOpts.BindFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if interval <= 0 || cliTimeout <= 0 {
		return errors.New("--interval and --runtime-timeout must be positive")
	}
	a.Runtime.Timeout = cliTimeout
	a.Log = zap.New(zap.UseFlagOptions(&zapOpts)).WithName("haproxy-agent")
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if install {
		return a.Install(ctx)
	}
	if events {
		r, err := eventReporter(a.Log, nodeName, kubeconfig)
		if err != nil {
			return err
		}
		if r != nil {
			a.Reporter = r
		}
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	a.Metrics = haproxyagent.NewMetrics(reg)
	if metricsAddr != "0" {
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = fmt.Fprintln(w, "ok") })
		mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
			if err := a.Ready(); err != nil {
				http.Error(w, err.Error(), http.StatusServiceUnavailable)
				return
			}
			_, _ = fmt.Fprintln(w, "ok")
		})
		srv := &http.Server{Addr: metricsAddr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go func() {
			if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
				a.Log.Error(err, "metrics endpoint stopped")
				stop()
			}
		}()
		defer func() { _ = srv.Close() }()
	}
	a.Log.Info("watching", "configDir", a.ConfigDir, "liveDir", a.LiveDir, "masterSocket", a.Runtime.Socket, "interval", interval)
	return a.Run(ctx, interval)
}

// eventReporter reports the agent's problems as Events with the pod's service account, or
// with the kubeconfig named by --kubeconfig. Without the first (outside a pod) it is nil and
// says so; a kubeconfig that was named but cannot be used is an error.
func eventReporter(log logr.Logger, node, kubeconfig string) (*kubereport.Events, error) {
	var cfg *rest.Config
	var err error
	if kubeconfig != "" {
		if cfg, err = clientcmd.BuildConfigFromFlags("", kubeconfig); err != nil {
			return nil, fmt.Errorf("--kubeconfig %q: %w", kubeconfig, err)
		}
	} else if cfg, err = rest.InClusterConfig(); err != nil {
		log.Info("no cluster credentials (not in a pod, no --kubeconfig): problems go to the log and metrics only", "error", err.Error())
		return nil, nil
	}
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, exposurev1alpha1.AddToScheme} {
		if err := add(scheme); err != nil {
			return nil, err
		}
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, fmt.Errorf("a client for Events: %w", err)
	}
	return &kubereport.Events{Client: c, Node: node, Log: log.WithName("events")}, nil
}
