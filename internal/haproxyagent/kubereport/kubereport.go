// Package kubereport says the HAProxy agent's problems where the people they concern look: as
// Warning Events on the exposure whose frontend is concerned and on its tenant.
package kubereport

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
	"github.com/inference-exposure/inference-exposure-operator/internal/haproxyagent"
)

// Component is the Events' source and reporting controller.
const Component = "inference-exposure-haproxy-agent"

// Events reports problems as Events. It needs get on inferenceexposures and inferencetenants
// (the Events name the objects' UIDs, so that kubectl describe lists them) and create on events.
type Events struct {
	Client client.Client
	// Node is where the agent runs (the pod's spec.nodeName); it goes into every message.
	Node string
	Log  logr.Logger
}

// Report creates a Warning Event on every exposure the problem names and on its tenant. An
// object that cannot be read, or an Event that cannot be written, is logged: the agent's own
// log line and metrics have said it already.
func (e *Events) Report(ctx context.Context, p haproxyagent.Problem) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	host := e.Node
	if host == "" {
		host, _ = os.Hostname()
	}
	seen := map[string]bool{}
	for _, b := range p.Binds {
		msg := fmt.Sprintf("on %s: %s (%s)", host, p.Message, b.Where())
		if ns, name := b.Namespace(), b.Exposure(); ns != "" && name != "" && !seen["e/"+ns+"/"+name] {
			seen["e/"+ns+"/"+name] = true
			var exp exposurev1alpha1.InferenceExposure
			e.emit(ctx, &exp, types.NamespacedName{Namespace: ns, Name: name}, "InferenceExposure", ns, p.Reason, msg)
		}
		if b.Tenant != "" && !seen["t/"+b.Tenant] {
			seen["t/"+b.Tenant] = true
			var tenant exposurev1alpha1.InferenceTenant
			owner := ""
			if b.Owner != "" {
				owner = " for " + b.Owner
			}
			e.emit(ctx, &tenant, types.NamespacedName{Name: b.Tenant}, "InferenceTenant", metav1.NamespaceDefault, p.Reason, msg+owner)
		}
	}
}

func (e *Events) emit(ctx context.Context, obj client.Object, key types.NamespacedName, kind, eventNS, reason, msg string) {
	if err := e.Client.Get(ctx, key, obj); err != nil {
		e.Log.Info("cannot read the object to report a problem on", "kind", kind, "name", key.String(), "error", err.Error())
		return
	}
	now := metav1.Now()
	ev := &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{GenerateName: key.Name + ".", Namespace: eventNS},
		InvolvedObject: corev1.ObjectReference{
			APIVersion: exposurev1alpha1.GroupVersion.String(), Kind: kind,
			Namespace: key.Namespace, Name: key.Name, UID: obj.GetUID(), ResourceVersion: obj.GetResourceVersion(),
		},
		Reason: reason, Message: truncate(msg, 1024), Type: corev1.EventTypeWarning,
		Source:         corev1.EventSource{Component: Component, Host: e.Node},
		FirstTimestamp: now, LastTimestamp: now, Count: 1,
	}
	if err := e.Client.Create(ctx, ev); err != nil {
		e.Log.Info("cannot write an Event", "kind", kind, "name", key.String(), "error", err.Error())
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}
