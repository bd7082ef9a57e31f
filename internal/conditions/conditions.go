// Package conditions sets the conditions of tenants and exposures, with the Events
// and the summary (Ready and kstatus' Reconciling and Stalled) they imply, and the server-side
// apply of each field manager's part.
package conditions

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
)

// Set sets the conditions of one object's status and tells people about changes:
// Failed (something a person must fix) sends a Warning Event, True after False (fixed) a Normal
// one; Waiting and Unknown are quiet, since they only wait for something else. An Event
// goes out only when status, reason or message changed, so a steady state repeats nothing.
type Set struct {
	log  logr.Logger
	rec  record.EventRecorder // nil: no Events
	obj  runtime.Object
	list *[]metav1.Condition
	gen  int64
}

// For sets conditions on list, the status of obj. Every condition that turns False
// (or changes while False) is also logged once at info level, with the object.
func For(ctx context.Context, rec record.EventRecorder, obj runtime.Object, list *[]metav1.Condition, gen int64) Set {
	return Set{log: logf.FromContext(ctx), rec: rec, obj: obj, list: list, gen: gen}
}

// logFalse logs a condition that turned False, with the object. The object's values are added
// here rather than to the set's logger: zap encodes them when they are added, and most sets
// never log.
func (c Set) logFalse(typ, reason, msg string) {
	log := c.log
	if m, ok := c.obj.(metav1.Object); ok {
		log = log.WithValues("object", klog.KObj(m), "kind", fmt.Sprintf("%T", c.obj))
	}
	log.Info("condition is False", "type", typ, "reason", reason, "message", msg)
}

// True sets the condition True.
func (c Set) True(typ, reason, msg string) {
	c.set(typ, metav1.ConditionTrue, reason, msg, true)
}

// Failed sets the condition False for something a person must act on (Warning Event).
func (c Set) Failed(typ, reason, msg string) {
	c.set(typ, metav1.ConditionFalse, reason, msg, true)
}

// Waiting sets the condition False while it waits for something that comes by itself.
func (c Set) Waiting(typ, reason, msg string) {
	waitingReasons.Store(reason, true)
	c.set(typ, metav1.ConditionFalse, reason, msg, false)
}

// waitingReasons are the reasons Waiting was used with (BlockPending from the start, so that a
// restarted process knows it too): the end of a wait is no news worth a Normal Event, the end of
// a failure someone fixed is.
var waitingReasons sync.Map

func init() { waitingReasons.Store(exposurev1alpha1.ReasonBlockPending, true) }

// Unknown sets the condition Unknown.
func (c Set) Unknown(typ, reason, msg string) {
	c.set(typ, metav1.ConditionUnknown, reason, msg, false)
}

// Verdict sets the condition to what another controller said (False is Failed).
func (c Set) Verdict(typ string, st metav1.ConditionStatus, reason, msg string) {
	c.set(typ, st, reason, msg, true)
}

// Remove drops the condition.
func (c Set) Remove(typ string) {
	RemoveCondition(c.list, typ)
}

// RemoveCondition drops the condition typ from list. meta.RemoveStatusCondition makes a new
// slice on every call, and grows it when typ is absent, and a reconcile removes the conditions
// of every routing kind the exposure does not use. Here only a removal allocates, and it still
// never writes into the old array, which may be the cache's.
func RemoveCondition(list *[]metav1.Condition, typ string) bool {
	if meta.FindStatusCondition(*list, typ) == nil {
		return false
	}
	return meta.RemoveStatusCondition(list, typ)
}

func isWaitingReason(r string) bool {
	_, ok := waitingReasons.Load(r)
	return ok
}

func (c Set) set(typ string, status metav1.ConditionStatus, reason, msg string, notify bool) {
	msg = Bounded(msg)
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

// ConflictRetry is how soon a reconcile whose status write lost an optimistic-concurrency race
// runs again, quietly.
const ConflictRetry = 200 * time.Millisecond

// Summarize sets Ready, and kstatus' Reconciling and Stalled, from the given condition types: True when all are True, otherwise False
// with the reason and message of the first False condition, or else of the first unknown one
// (a False condition names the cause; Unknown ones usually just wait for it).
func Summarize(conds *[]metav1.Condition, gen int64, types ...string) {
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
	meta.SetStatusCondition(conds, metav1.Condition{Type: exposurev1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: exposurev1alpha1.ReasonReady, Message: exposurev1alpha1.MessageReady, ObservedGeneration: gen})
	kstatus(metav1.ConditionFalse, metav1.ConditionFalse, exposurev1alpha1.ReasonReady, exposurev1alpha1.MessageReady)
}

// MaxMessage bounds a condition's message (and its Event's): a list of refused
// annotations or skipped frontends is cut, not written whole into every status.
const MaxMessage = 1024

// Bounded cuts msg to MaxMessage bytes at a character boundary.
func Bounded(msg string) string {
	if len(msg) <= MaxMessage {
		return msg
	}
	const more = " ... (cut)"
	cut := MaxMessage - len(more)
	for cut > 0 && !utf8.RuneStart(msg[cut]) {
		cut--
	}
	return msg[:cut] + more
}

// JoinSorted lists items in order, comma-separated, for a message.
func JoinSorted(items []string) string {
	s := append([]string(nil), items...)
	sort.Strings(s)
	return strings.Join(s, ", ")
}
