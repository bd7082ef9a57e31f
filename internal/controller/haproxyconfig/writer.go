package haproxyconfig

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/client-go/tools/record"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/inference-exposure/inference-exposure-operator/internal/metrics"
)

// ConfigMap writers race for a Lease of this duration; a restarted operator takes over once the
// old process's lease has run out.
const (
	writerLeaseDuration = 15 * time.Second
	writerRenewDeadline = 10 * time.Second
	writerRetryPeriod   = 2 * time.Second
)

// +kubebuilder:rbac:groups=coordination.k8s.io,namespace=inference-exposure-system,resources=leases,verbs=get;create;update

// Writer decides which operator process writes the HAProxy ConfigMaps. Replicas of one
// installation already agree through leader election; this is for operators that do not share
// one (a second `make run-cluster`, two installs with different settings), which would
// otherwise rewrite each other's configuration many times a second. The ConfigMaps' namespace
// holds a Lease <name>-writer naming the process that writes them; the others report that and
// stay off.
type Writer struct {
	identity string
	lock     *resourcelock.LeaseLock
	recorder record.EventRecorder
	// wake asks for a render (the lease was won, or the holder changed).
	wake func()

	mu      sync.Mutex
	holding bool
	holder  string
}

func NewWriter(cfg *rest.Config, s Settings, rec record.EventRecorder) (*Writer, error) {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	host, _ := os.Hostname()
	w := &Writer{identity: fmt.Sprintf("%s_%s", host, uuid.NewUUID()), recorder: rec, wake: func() {}}
	w.lock = &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: s.Namespace, Name: s.Name + "-writer"},
		Client:     cs.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: w.identity},
	}
	return w, nil
}

// state says whether this process may write, and which process holds the lease.
func (w *Writer) state() (holding bool, holder string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.holding, w.holder
}

func (w *Writer) set(holding bool, holder string) {
	w.mu.Lock()
	changed := w.holding != holding || w.holder != holder
	w.holding, w.holder = holding, holder
	w.mu.Unlock()
	state := "standby"
	if holding {
		state = "writing"
	}
	metrics.SetHAProxyWriter(state)
	if changed {
		w.wake()
	}
}

// Start campaigns for the lease until ctx ends (a manager Runnable).
func (w *Writer) Start(ctx context.Context) error {
	log := logf.FromContext(ctx).WithName("haproxy-writer")
	metrics.SetHAProxyWriter("standby")
	for ctx.Err() == nil {
		le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
			Lock: w.lock, LeaseDuration: writerLeaseDuration, RenewDeadline: writerRenewDeadline, RetryPeriod: writerRetryPeriod,
			ReleaseOnCancel: true, Name: w.lock.LeaseMeta.Name,
			Callbacks: leaderelection.LeaderCallbacks{
				OnStartedLeading: func(context.Context) {
					log.Info("this operator writes the HAProxy ConfigMaps", "lease", w.lock.LeaseMeta.Namespace+"/"+w.lock.LeaseMeta.Name, "identity", w.identity)
					w.set(true, w.identity)
				},
				OnStoppedLeading: func() {
					_, holder := w.state()
					w.set(false, holder)
				},
				OnNewLeader: func(id string) {
					if id == w.identity {
						return
					}
					log.Info("another operator writes the HAProxy ConfigMaps: this one leaves them alone", "holder", id,
						"lease", w.lock.LeaseMeta.Namespace+"/"+w.lock.LeaseMeta.Name)
					w.set(false, id)
				},
			},
		})
		if err != nil {
			return err
		}
		le.Run(ctx)
	}
	return nil
}

// NeedLeaderElection is true: among the replicas of one installation only the leader renders.
func (w *Writer) NeedLeaderElection() bool { return true }

// standbyEvent tells the people looking at the global ConfigMap why this operator does not
// write it.
func (w *Writer) standbyEvent(cm *corev1.ConfigMap, holder string) {
	if w.recorder == nil || cm == nil {
		return
	}
	w.recorder.Eventf(cm, corev1.EventTypeWarning, "WrittenByAnotherOperator",
		"operator %s does not write this configuration: operator %s holds Lease %s/%s; stop one of the two or give one its own --haproxy-configmap-name",
		w.identity, holder, w.lock.LeaseMeta.Namespace, w.lock.LeaseMeta.Name)
}
