// Package controller holds the reconcilers: the glue between the API server and the pure
// allocator and renderers. One file per reconciler (inferencetenant_controller.go,
// inferenceexposure_controller.go with routing.go for its routing phase, haproxy_controller.go),
// plus what they share: how children and status are written (apply.go, status_apply.go), the
// node-port view and port reservations. How the cluster is read (cache settings, indexes,
// copy-free reads) is package kubecache.
package controller

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
	"github.com/inference-exposure/inference-exposure-operator/internal/allocator"
)

// FieldManager is the name under which the operator writes.
const FieldManager = "inference-exposure-operator"

// Options configure the reconcilers; they come from the command's flags.
type Options struct {
	Pool             allocator.Pool
	DefaultBlockSize int32
	MaxConcurrent    int
	// APIPollInterval is how often discovery is asked which routing APIs are served.
	APIPollInterval time.Duration
	// HAProxy enables the HAProxy configuration ConfigMap when set.
	HAProxy *HAProxySettings
	// InlineCertificates lets Routes carry a certificate copied from a Secret
	// (router.tls.inline); the operator then needs to read Secrets.
	InlineCertificates bool
}

// conditionSet sets the conditions of one object's status and tells people about changes:
// Failed (something a person must fix) sends a Warning Event, True after False (fixed) a Normal
// one; Waiting and Unknown are quiet, since they only wait for something else. An Event
// goes out only when status, reason or message changed, so a steady state repeats nothing.
type conditionSet struct {
	log  logr.Logger
	rec  record.EventRecorder // nil: no Events
	obj  runtime.Object
	list *[]metav1.Condition
	gen  int64
}

// conditionsOf sets conditions on list, the status of obj. Every condition that turns False
// (or changes while False) is also logged once at info level, with the object.
func conditionsOf(ctx context.Context, rec record.EventRecorder, obj runtime.Object, list *[]metav1.Condition, gen int64) conditionSet {
	return conditionSet{log: logf.FromContext(ctx), rec: rec, obj: obj, list: list, gen: gen}
}

// logFalse logs a condition that turned False, with the object. The object's values are added
// here rather than to the set's logger: zap encodes them when they are added, and most sets
// never log (a third of the log buffers a restart at 10,000 exposures allocated).
func (c conditionSet) logFalse(typ, reason, msg string) {
	log := c.log
	if m, ok := c.obj.(metav1.Object); ok {
		log = log.WithValues("object", klog.KObj(m), "kind", fmt.Sprintf("%T", c.obj))
	}
	log.Info("condition is False", "type", typ, "reason", reason, "message", msg)
}

// True sets the condition True.
func (c conditionSet) True(typ, reason, msg string) {
	c.set(typ, metav1.ConditionTrue, reason, msg, true)
}

// Failed sets the condition False for something a person must act on (Warning Event).
func (c conditionSet) Failed(typ, reason, msg string) {
	c.set(typ, metav1.ConditionFalse, reason, msg, true)
}

// Waiting sets the condition False while it waits for something that comes by itself.
func (c conditionSet) Waiting(typ, reason, msg string) {
	waitingReasons.Store(reason, true)
	c.set(typ, metav1.ConditionFalse, reason, msg, false)
}

// waitingReasons are the reasons Waiting was used with (BlockPending from the start, so that a
// restarted process knows it too): the end of a wait is no news worth a Normal Event, the end of
// a failure someone fixed is.
var waitingReasons sync.Map

func init() { waitingReasons.Store(exposurev1alpha1.ReasonBlockPending, true) }

// Unknown sets the condition Unknown.
func (c conditionSet) Unknown(typ, reason, msg string) {
	c.set(typ, metav1.ConditionUnknown, reason, msg, false)
}

// Verdict sets the condition to what another controller said (False is Failed).
func (c conditionSet) Verdict(typ string, st metav1.ConditionStatus, reason, msg string) {
	c.set(typ, st, reason, msg, true)
}

// Remove drops the condition.
func (c conditionSet) Remove(typ string) {
	removeCondition(c.list, typ)
}

// removeCondition drops the condition typ from list. meta.RemoveStatusCondition makes a new
// slice on every call, and grows it when typ is absent (2.6 KB for an exposure's nine
// conditions); a reconcile removes the conditions of every routing kind the exposure does not
// use, which made it 8 % of what a restart allocates at 10,000 exposures. Here only a
// removal allocates, and it still never writes into the old array, which may be the cache's.
func removeCondition(list *[]metav1.Condition, typ string) bool {
	if meta.FindStatusCondition(*list, typ) == nil {
		return false
	}
	return meta.RemoveStatusCondition(list, typ)
}

func isWaitingReason(r string) bool {
	_, ok := waitingReasons.Load(r)
	return ok
}

func (c conditionSet) set(typ string, status metav1.ConditionStatus, reason, msg string, notify bool) {
	msg = boundedMessage(msg)
	// A copy: SetStatusCondition changes the listed condition in place.
	var old *metav1.Condition
	if found := meta.FindStatusCondition(*c.list, typ); found != nil {
		o := *found
		old = &o
	}
	changed := old == nil || old.Status != status || old.Reason != reason || old.Message != msg
	meta.SetStatusCondition(c.list, metav1.Condition{Type: typ, Status: status, Reason: reason, Message: msg, ObservedGeneration: c.gen})
	if !changed {
		return
	}
	if status == metav1.ConditionFalse {
		c.logFalse(typ, reason, msg)
	}
	if c.rec == nil || !notify {
		return
	}
	switch {
	case status == metav1.ConditionFalse:
		c.rec.Event(c.obj, corev1.EventTypeWarning, reason, msg)
	case status == metav1.ConditionTrue && old != nil && old.Status == metav1.ConditionFalse && !isWaitingReason(old.Reason):
		c.rec.Event(c.obj, corev1.EventTypeNormal, reason, msg)
	}
}

// allConditionsMet is the message of a True Ready.
const allConditionsMet = exposurev1alpha1.MessageReady

// conflictRetry is how soon a reconcile whose status write lost an optimistic-concurrency race
// runs again, quietly.
const conflictRetry = 200 * time.Millisecond

// claimLagRetry is how soon an exposure looks again for claims its tenant records but this
// cache does not show yet.
const claimLagRetry = time.Second

// blockFullFirstRetry is when an exposure that has just found its block full looks again: ports
// freed before the cache showed it waiting do not wake it.
const blockFullFirstRetry = 5 * time.Second

// summarize sets Ready, and kstatus' Reconciling and Stalled, from the given condition types: True when all are True, otherwise False
// with the reason and message of the first False condition, or else of the first unknown one
// (a False condition names the cause; Unknown ones usually just wait for it).
func summarize(conds *[]metav1.Condition, gen int64, types ...string) {
	var blocker *metav1.Condition
	missing := ""
	for _, t := range types {
		c := meta.FindStatusCondition(*conds, t)
		switch {
		case c == nil:
			if missing == "" {
				missing = t
			}
		case c.Status == metav1.ConditionFalse:
			if blocker == nil || blocker.Status != metav1.ConditionFalse {
				blocker = c
			}
		case c.Status != metav1.ConditionTrue:
			if blocker == nil {
				blocker = c
			}
		}
	}
	kstatus := func(reconciling, stalled metav1.ConditionStatus, reason, msg string) {
		meta.SetStatusCondition(conds, metav1.Condition{Type: exposurev1alpha1.ConditionReconciling, Status: reconciling, Reason: reason, Message: msg, ObservedGeneration: gen})
		meta.SetStatusCondition(conds, metav1.Condition{Type: exposurev1alpha1.ConditionStalled, Status: stalled, Reason: reason, Message: msg, ObservedGeneration: gen})
	}
	if blocker != nil || missing != "" {
		reason, msg := exposurev1alpha1.ReasonNotReady, missing+" is not yet known"
		if blocker != nil {
			reason, msg = blocker.Reason, blocker.Message
		}
		meta.SetStatusCondition(conds, metav1.Condition{Type: exposurev1alpha1.ConditionReady, Status: metav1.ConditionFalse, Reason: reason, Message: msg, ObservedGeneration: gen})
		// kstatus: a False condition needs someone to act (Stalled); an Unknown one is work in
		// progress (Reconciling).
		if blocker != nil && blocker.Status == metav1.ConditionFalse {
			kstatus(metav1.ConditionFalse, metav1.ConditionTrue, reason, msg)
		} else {
			kstatus(metav1.ConditionTrue, metav1.ConditionFalse, reason, msg)
		}
		return
	}
	meta.SetStatusCondition(conds, metav1.Condition{Type: exposurev1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: exposurev1alpha1.ReasonReady, Message: allConditionsMet, ObservedGeneration: gen})
	kstatus(metav1.ConditionFalse, metav1.ConditionFalse, exposurev1alpha1.ReasonReady, allConditionsMet)
}

// claimRange reads the range a PortClaim locks.
func claimRange(c *exposurev1alpha1.PortClaim) allocator.Range {
	return allocator.Range{Start: c.Spec.Start, End: c.Spec.End}
}

func joinSorted(items []string) string {
	s := append([]string(nil), items...)
	sort.Strings(s)
	return strings.Join(s, ", ")
}

// maxConditionMessage bounds a condition's message (and its Event's): a list of refused
// annotations or skipped frontends is cut, not written whole into every status.
const maxConditionMessage = 1024

// boundedMessage cuts msg to maxConditionMessage bytes at a character boundary.
func boundedMessage(msg string) string {
	if len(msg) <= maxConditionMessage {
		return msg
	}
	const more = " ... (cut)"
	cut := maxConditionMessage - len(more)
	for cut > 0 && !utf8.RuneStart(msg[cut]) {
		cut--
	}
	return msg[:cut] + more
}
