package childapply

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
)

// Echoes remembers the resourceVersion each write of the exposure controller produced (a
// Service or routing object created or applied, an exposure's status), so that the watch
// event bringing that very version back does not queue the exposure again: the reconcile that
// wrote it already acted on what it wrote, as the ReplicaSet controller's expectations do.
// Without it every new exposure was reconciled twice, the second time to find everything in
// place.
//
// The echo often arrives before the write's response: events for an object with a write under
// way are held back and compared with the version the write returns. Only an event carrying
// exactly that version is passed over, once; any other (a change by anyone else, an event
// older than the write) queues the exposure as before or, when it was held back, makes the
// exposure's reconcile look again (recheckOf).
type Echoes struct {
	mu    sync.Mutex
	m     map[echoKey]*echo
	swept time.Time
	// recheck are the exposures whose writes held back an event that was not their echo.
	recheck map[types.NamespacedName]bool
}

type echoKey struct {
	kind string
	key  types.NamespacedName
}

type echo struct {
	rv      string   // the version the write returned, while its event has not come
	writing bool     // the write is under way
	held    []string // versions of the events held back during the write
	started time.Time
}

const (
	// echoTTL is how long a write waits for its echo: a watch that restarted with a list may
	// never deliver that version, and the entry must not stay.
	echoTTL = time.Minute
	// echoSweep is how often expired entries are looked for.
	echoSweep = 30 * time.Second
)

// Begin marks a write of kind to key as under way.
func (e *Echoes) Begin(kind string, key types.NamespacedName, now time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.m == nil {
		e.m = map[echoKey]*echo{}
	}
	if now.Sub(e.swept) > echoSweep {
		for k, v := range e.m {
			if now.Sub(v.started) > echoTTL {
				delete(e.m, k)
			}
		}
		e.swept = now
	}
	e.m[echoKey{kind, key}] = &echo{writing: true, started: now}
}

// End settles the write begun for key on behalf of exposure owner: written is the object as
// the API server returned it, nil when nothing was written. An event held back during the
// write that was not its echo marks owner for another look.
func (e *Echoes) End(kind string, key, owner types.NamespacedName, written client.Object) {
	k := echoKey{kind, key}
	e.mu.Lock()
	defer e.mu.Unlock()
	w := e.m[k]
	if w == nil || !w.writing {
		return
	}
	rv := ""
	if written != nil {
		rv = written.GetResourceVersion()
	}
	echoed, missed := false, false
	for _, h := range w.held {
		if rv != "" && h == rv {
			echoed = true
		} else {
			missed = true
		}
	}
	if rv == "" || echoed {
		delete(e.m, k)
	} else {
		w.rv, w.writing, w.held = rv, false, nil
	}
	if missed {
		if e.recheck == nil {
			e.recheck = map[types.NamespacedName]bool{}
		}
		e.recheck[owner] = true
	}
}

// RecheckOf reports, once, whether a write for exposure owner held back an event that was not
// its echo.
func (e *Echoes) RecheckOf(owner types.NamespacedName) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.recheck[owner] {
		return false
	}
	delete(e.recheck, owner)
	return true
}

// IsEcho reports whether obj's event is to be passed over: the version a write of this process
// returned (forgotten then), or any version while a write of it is under way (held back).
func (e *Echoes) IsEcho(kind string, obj client.Object) bool {
	k := echoKey{kind, client.ObjectKeyFromObject(obj)}
	e.mu.Lock()
	defer e.mu.Unlock()
	w := e.m[k]
	switch {
	case w == nil:
		return false
	case w.writing:
		w.held = append(w.held, obj.GetResourceVersion())
		return true
	case w.rv == obj.GetResourceVersion():
		delete(e.m, k)
		return true
	}
	return false
}

// NotEcho lets through the create and update events of kind that are not echoes of this
// process's own writes.
func (e *Echoes) NotEcho(kind string) predicate.Funcs {
	return predicate.Funcs{
		CreateFunc: func(ev event.CreateEvent) bool { return !e.IsEcho(kind, ev.Object) },
		UpdateFunc: func(ev event.UpdateEvent) bool { return !e.IsEcho(kind, ev.ObjectNew) },
	}
}
