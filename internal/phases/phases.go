// Package phases runs a reconcile as named steps over a scope that the steps share, the shape
// every reconciler of the operator has: load the object, run the phases, write status once.
package phases

import (
	"context"
	"fmt"

	ctrl "sigs.k8s.io/controller-runtime"
)

// Phase is one named step of a reconcile over the scope S.
type Phase[S any] struct {
	Name string
	Run  func(context.Context, S) (ctrl.Result, error)
}

// Run runs phases in order over s. It stops at the first error, wrapped with the name of the
// phase that returned it, or after a phase once done(s) reports true (nil: never). The phases'
// results merge: the soonest requeue wins.
func Run[S any](ctx context.Context, s S, phases []Phase[S], done func(S) bool) (ctrl.Result, error) {
	var res ctrl.Result
	for _, p := range phases {
		r, err := p.Run(ctx, s)
		res = Earliest(res, r)
		if err != nil {
			return res, fmt.Errorf("%s: %w", p.Name, err)
		}
		if done != nil && done(s) {
			break
		}
	}
	return res, nil
}

// Earliest combines two results: the sooner requeue wins.
func Earliest(a, b ctrl.Result) ctrl.Result {
	if a.RequeueAfter == 0 || (b.RequeueAfter != 0 && b.RequeueAfter < a.RequeueAfter) {
		return b
	}
	return a
}
