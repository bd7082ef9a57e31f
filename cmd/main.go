// Command manager runs the inference-exposure-operator.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap/zapcore"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	ctrlconfig "sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/inference-exposure/inference-exposure-operator/internal/allocator"
	"github.com/inference-exposure/inference-exposure-operator/internal/controller"
	"github.com/inference-exposure/inference-exposure-operator/internal/controller/exposure"
	"github.com/inference-exposure/inference-exposure-operator/internal/kubecache"
	"github.com/inference-exposure/inference-exposure-operator/internal/metricsauth"
)

func main() {
	run := run
	args := os.Args[1:]
	if len(args) > 0 && args[0] == "haproxy-agent" {
		run, args = runHAProxyAgent, args[1:]
	}
	if err := run(args); errors.Is(err, flag.ErrHelp) {
		return // the usage is printed
	} else if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("manager", flag.ContinueOnError)
	var (
		metricsAddr, probeAddr, poolFlag string
		leaderElect                      bool
		leaderElectionNamespace          string
		blockSize, workers               int
		hp                               haproxyFlags
		apiPoll                          time.Duration
		reportTimeout                    time.Duration
		pprofAddr                        string
		qps                              float64
		burst                            int
		syncTimeout                      time.Duration
		inlineCerts                      bool
		metricsSecure, showVersion       bool
	)
	fs.StringVar(&metricsAddr, "metrics-bind-address", ":8443", "Address of the Prometheus metrics endpoint; 0 disables it.")
	fs.BoolVar(&metricsSecure, "metrics-secure", true, "Serve metrics over HTTPS to authenticated and authorized clients only (a TokenReview and a SubjectAccessReview for get on /metrics, e.g. the metrics-reader ClusterRole); false serves plain HTTP to anyone.")
	fs.BoolVar(&showVersion, "version", false, "Print the version and exit.")
	fs.StringVar(&probeAddr, "health-probe-bind-address", ":8081", "Address of the /healthz and /readyz endpoints.")
	fs.BoolVar(&leaderElect, "leader-elect", false, "Elect a leader so that only one replica reconciles at a time.")
	fs.StringVar(&leaderElectionNamespace, "leader-election-namespace", "", "Namespace of the leader election Lease (default: the pod's namespace).")
	fs.StringVar(&poolFlag, "node-port-range", "30000-32767", "NodePort pool that tenant blocks come from (the API server's --service-node-port-range or a part of it); its start must be a multiple of 10.")
	fs.IntVar(&blockSize, "block-size", 100, "Ports in a tenant's block when the tenant does not set spec.portBlock.size; a multiple of 10.")
	fs.IntVar(&workers, "max-concurrent-reconciles", 4, "Reconcile workers per controller.")
	fs.DurationVar(&reportTimeout, "data-plane-report-timeout", exposure.DefaultReportTimeout, "How long a routing object may wait for the first report of its controller (an Ingress address, a Route admitted, a Gateway route accepted) before its exposure says Stalled and names the IngressClass or Gateway.")
	fs.DurationVar(&apiPoll, "api-poll-interval", controller.DefaultAPIPollInterval, "How often to ask the API server which routing APIs (Ingress, OpenShift Route, Gateway API) it serves; CRDs installed later are picked up within this time.")
	fs.StringVar(&pprofAddr, "pprof-bind-address", "", "Address of the Go pprof endpoints (/debug/pprof); empty disables them.")
	fs.Float64Var(&qps, "kube-api-qps", 200, "Sustained requests per second to the API server.")
	fs.IntVar(&burst, "kube-api-burst", 400, "Burst of requests to the API server above --kube-api-qps.")
	fs.DurationVar(&syncTimeout, "cache-sync-timeout", 2*time.Minute, "How long the controllers wait for their caches to fill at start before the manager gives up.")
	fs.BoolVar(&inlineCerts, "inline-route-certificates", false, "Allow router.tls.inline: copy TLS Secrets into OpenShift Routes. The operator then reads Secrets (grant it get on secrets); off, it holds no Secret rights.")
	hp.bind(fs)
	zapOpts := zap.Options{Development: false, TimeEncoder: zapcore.ISO8601TimeEncoder}
	zapOpts.BindFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if showVersion {
		fmt.Println(versionLine())
		return nil
	}
	if qps <= 0 || burst <= 0 || syncTimeout <= 0 {
		return fmt.Errorf("--kube-api-qps, --kube-api-burst and --cache-sync-timeout must be positive")
	}
	if apiPoll < time.Second {
		return fmt.Errorf("--api-poll-interval %s must be at least 1s", apiPoll)
	}
	if reportTimeout < time.Second {
		return fmt.Errorf("--data-plane-report-timeout %s must be at least 1s", reportTimeout)
	}
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))

	pool, err := parsePool(poolFlag)
	if err != nil {
		return err
	}
	if blockSize <= 0 || int32(blockSize)%allocator.Granule != 0 {
		return fmt.Errorf("--block-size %d must be a positive multiple of %d", blockSize, allocator.Granule)
	}
	if int32(blockSize) > pool.Size() {
		return fmt.Errorf("--block-size %d is larger than the pool %s", blockSize, pool.Range)
	}

	haproxySettings, err := hp.settings()
	if err != nil {
		return err
	}

	scheme := runtime.NewScheme()
	utilruntime.Must(controller.AddToScheme(scheme))

	cfg, err := ctrl.GetConfig()
	if err != nil {
		return fmt.Errorf("no cluster to talk to (set KUBECONFIG or run in a pod): %w", err)
	}
	cfg.QPS, cfg.Burst = float32(qps), burst
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                  scheme,
		Metrics:                 metricsOptions(metricsAddr, metricsSecure),
		HealthProbeBindAddress:  probeAddr,
		PprofBindAddress:        pprofAddr,
		Controller:              ctrlconfig.Controller{CacheSyncTimeout: syncTimeout},
		LeaderElection:          leaderElect,
		LeaderElectionID:        "inference-exposure-operator.exposure.inference.dev",
		LeaderElectionNamespace: leaderElectionNamespace,
		// A new leader starts reconciling only after the old one has stopped.
		LeaderElectionReleaseOnCancel: true,
		Cache:                         cacheOptions(haproxySettings),
		MapperProvider:                kubecache.NewRESTMapper,
		// client-go's Event correlator keeps three LRU caches of 4,096 entries, which fill once
		// thousands of exposures have had an Event; the operator emits Events on transitions
		// only, so a smaller window loses no aggregation that matters.
		EventBroadcaster: record.NewBroadcasterWithCorrelatorOptions(record.CorrelatorOptions{LRUCacheSize: eventCacheEntries}), //nolint:staticcheck // the only way to size the correlator
	})
	if err != nil {
		return fmt.Errorf("creating manager: %w", err)
	}
	opts := controller.Options{Pool: pool, DefaultBlockSize: int32(blockSize), MaxConcurrent: workers, HAProxy: haproxySettings, APIPollInterval: apiPoll, InlineCertificates: inlineCerts, ReportTimeout: reportTimeout}
	if err := controller.Setup(mgr, opts); err != nil {
		return err
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return err
	}
	ver, commit, goVersion := buildInfo()
	memLimit, memLimitFrom := defaultMemoryLimit()
	ctrl.Log.WithName("setup").Info("starting manager", "version", ver, "commit", commit, "go", goVersion, "settings", effectiveSettings(fs),
		"goMemoryLimitBytes", memLimit, "goMemoryLimitFrom", memLimitFrom)
	return mgr.Start(ctrl.SetupSignalHandler())
}

// The secure metrics filter asks the API server to review the caller's token and whether it
// may get /metrics.
// +kubebuilder:rbac:groups=authentication.k8s.io,resources=tokenreviews,verbs=create
// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create

// eventCacheEntries sizes the Event correlator's caches.
const eventCacheEntries = 512

// metricsOptions serves metrics over HTTPS to callers the API server authenticates and
// authorizes when secure (kubebuilder's default), plain HTTP otherwise.
func metricsOptions(addr string, secure bool) metricsserver.Options {
	opts := metricsserver.Options{BindAddress: addr, SecureServing: secure}
	if secure {
		opts.FilterProvider = metricsauth.Filter
	}
	return opts
}

func parsePool(s string) (allocator.Pool, error) {
	a, b, ok := strings.Cut(s, "-")
	start, err1 := strconv.ParseInt(strings.TrimSpace(a), 10, 32)
	end, err2 := strconv.ParseInt(strings.TrimSpace(b), 10, 32)
	if !ok || err1 != nil || err2 != nil {
		return allocator.Pool{}, fmt.Errorf("--node-port-range %q must look like 30000-32767", s)
	}
	return allocator.NewPool(int32(start), int32(end))
}
