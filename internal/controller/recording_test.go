package controller

import (
	"context"
	"fmt"
	goruntime "runtime"
	"sort"
	"strings"
	"sync"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
)

// recording counts what a manager's client does: the objects a Reconcile read by key (every
// reconcile starts by reading its object, so such a read proves a reconcile of that object
// ran; reads from event handlers do not count) and every write request. Tests of the quiet steady state wait for the reads, stop the manager (which
// waits for running reconciles) and then look at the writes: no sleeping, no guessing.
type recording struct {
	mu     sync.Mutex
	reads  map[string]int
	writes []string
}

func key(kind string, o client.Object) string {
	if o.GetNamespace() == "" {
		return kind + "/" + o.GetName()
	}
	return kind + "/" + o.GetNamespace() + "/" + o.GetName()
}

func kindOf(o runtime.Object) string {
	return fmt.Sprintf("%T", o)
}

func (r *recording) wrote(verb string, o any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	desc := fmt.Sprintf("%s %T", verb, o)
	if co, ok := o.(client.Object); ok {
		desc = verb + " " + key(kindOf(co), co)
	}
	r.writes = append(r.writes, desc)
}

// readCount is how often the object of that kind (a value of the Go type, e.g.
// &InferenceExposure{}) and key was read.
func (r *recording) readCount(kind runtime.Object, ns, name string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := kindOf(kind) + "/" + name
	if ns != "" {
		k = kindOf(kind) + "/" + ns + "/" + name
	}
	return r.reads[k]
}

func (r *recording) writeList() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := append([]string(nil), r.writes...)
	sort.Strings(out)
	return out
}

func (r *recording) newClient(config *rest.Config, options client.Options) (client.Client, error) {
	return intercepted(interceptor.Funcs{
		Get: func(ctx context.Context, c client.WithWatch, k client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			err := c.Get(ctx, k, obj, opts...)
			if inReconcile() {
				r.mu.Lock()
				r.reads[kindOf(obj)+"/"+strings.TrimPrefix(k.String(), "/")]++
				r.mu.Unlock()
			}
			return err
		},
		Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			r.wrote("create", obj)
			return c.Create(ctx, obj, opts...)
		},
		Delete: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.DeleteOption) error {
			do := &client.DeleteOptions{}
			do.ApplyOptions(opts)
			if do.Preconditions == nil || do.Preconditions.UID == nil || *do.Preconditions.UID == "" {
				r.wrote("delete without a UID precondition", obj)
			} else {
				r.wrote("delete", obj)
			}
			return c.Delete(ctx, obj, opts...)
		},
		Update: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.UpdateOption) error {
			r.wrote("update", obj)
			return c.Update(ctx, obj, opts...)
		},
		Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, p client.Patch, opts ...client.PatchOption) error {
			r.wrote("patch", obj)
			return c.Patch(ctx, obj, p, opts...)
		},
		Apply: func(ctx context.Context, c client.WithWatch, obj runtime.ApplyConfiguration, opts ...client.ApplyOption) error {
			r.wrote("apply", obj)
			return c.Apply(ctx, obj, opts...)
		},
		SubResourceUpdate: func(ctx context.Context, c client.Client, sub string, obj client.Object, opts ...client.SubResourceUpdateOption) error {
			r.wrote("update "+sub, obj)
			return c.SubResource(sub).Update(ctx, obj, opts...)
		},
		SubResourcePatch: func(ctx context.Context, c client.Client, sub string, obj client.Object, p client.Patch, opts ...client.SubResourcePatchOption) error {
			r.wrote("patch "+sub, obj)
			return c.SubResource(sub).Patch(ctx, obj, p, opts...)
		},
		SubResourceApply: func(ctx context.Context, c client.Client, sub string, obj runtime.ApplyConfiguration, opts ...client.SubResourceApplyOption) error {
			r.wrote("apply "+sub, obj)
			return c.SubResource(sub).Apply(ctx, obj, opts...)
		},
	})(config, options)
}

// inReconcile reports whether a Reconcile method is on the caller's stack.
func inReconcile() bool {
	pc := make([]uintptr, 64)
	frames := goruntime.CallersFrames(pc[:goruntime.Callers(3, pc)])
	for {
		f, more := frames.Next()
		if strings.HasSuffix(f.Function, ").Reconcile") {
			return true
		}
		if !more {
			return false
		}
	}
}

// startRecordedManager is startManager with a recording client.
func startRecordedManager(t *testing.T, opts Options) (func(), *recording) {
	t.Helper()
	rec := &recording{reads: map[string]int{}}
	return startManagerWith(t, opts, rec.newClient), rec
}

// waitReconciled waits until a reconcile of every object ran in the recorded manager.
func waitReconciled(t *testing.T, rec *recording, objs ...client.Object) {
	t.Helper()
	eventually(t, "a reconcile of every object", func() (bool, string) {
		for _, o := range objs {
			if rec.readCount(o, o.GetNamespace(), o.GetName()) == 0 {
				return false, "not yet read: " + key(kindOf(o), o)
			}
		}
		return true, ""
	})
}
