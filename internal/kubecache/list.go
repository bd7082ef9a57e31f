package kubecache

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Objects returns every object of PT's kind that the cache holds, as pointers into the
// informer's store. client.List copies each object into the list's items even with
// UnsafeDisableDeepCopy, for every render and every metrics scrape. The objects are the
// cache's own: read only.
//
// Without informers (some tests give the reconcilers a plain client), it lists through r, into
// list, and returns pointers to its items.
func Objects[PT client.Object](ctx context.Context, informers cache.Informers, r client.Reader, list client.ObjectList) ([]PT, error) {
	if store, err := Indexer[PT](ctx, informers); err != nil {
		return nil, err
	} else if store != nil {
		items := store.List()
		out := make([]PT, 0, len(items))
		for _, o := range items {
			if p, ok := o.(PT); ok {
				out = append(out, p)
			}
		}
		return out, nil
	}
	if err := r.List(ctx, list, client.UnsafeDisableDeepCopy); err != nil {
		return nil, err
	}
	items, err := meta.ExtractList(list)
	if err != nil {
		return nil, err
	}
	out := make([]PT, 0, len(items))
	for _, o := range items {
		if p, ok := o.(PT); ok {
			out = append(out, p)
		}
	}
	return out, nil
}

// IndexedKeys returns the names of the objects of PT's kind whose field index holds value:
// the informer's index keys, read without touching an object. client.List with MatchingFields
// copies every match into the list's items even with UnsafeDisableDeepCopy, which for a map
// function that only wants names (which tenants a Service event concerns, which exposures wait
// in a full block) was a fifth of what the operator allocated in cache reads.
//
// Without informers (some tests give the reconcilers a plain client), it lists through r, into
// list, with the field selector.
func IndexedKeys[PT client.Object](ctx context.Context, informers cache.Informers, r client.Reader, list client.ObjectList, field, value string) ([]types.NamespacedName, error) {
	if indexer, err := Indexer[PT](ctx, informers); err != nil {
		return nil, err
	} else if indexer != nil {
		// controller-runtime's names for a field index and a value across all namespaces
		// (TestIndexedKeys holds them to what its List finds).
		keys, err := indexer.IndexKeys("field:"+field, "__all_namespaces/"+value)
		if err != nil {
			return nil, fmt.Errorf("the cache's index %s of %T: %w", field, exemplar[PT](), err)
		}
		out := make([]types.NamespacedName, 0, len(keys))
		for _, k := range keys {
			// A store key is "namespace/name", or the name of a cluster-scoped object.
			if ns, name, namespaced := strings.Cut(k, "/"); namespaced {
				out = append(out, types.NamespacedName{Namespace: ns, Name: name})
			} else {
				out = append(out, types.NamespacedName{Name: k})
			}
		}
		return out, nil
	}
	if err := r.List(ctx, list, client.MatchingFields{field: value}, client.UnsafeDisableDeepCopy); err != nil {
		return nil, err
	}
	items, err := meta.ExtractList(list)
	if err != nil {
		return nil, err
	}
	out := make([]types.NamespacedName, 0, len(items))
	for _, o := range items {
		if m, ok := o.(metav1.Object); ok {
			out = append(out, types.NamespacedName{Namespace: m.GetNamespace(), Name: m.GetName()})
		}
	}
	return out, nil
}

// exemplars holds one empty object per Go type, by reflect.Type.
var exemplars sync.Map

// exemplar returns an empty object of PT's type, the same each time: GetInformer only reads
// its type, and a new object for every lookup (an exposure is 448 bytes before its fields)
// was most of what a lookup allocated. It must not be written to.
func exemplar[PT client.Object]() PT {
	t := reflect.TypeFor[PT]()
	if o, ok := exemplars.Load(t); ok {
		return o.(PT)
	}
	o, _ := exemplars.LoadOrStore(t, reflect.New(t.Elem()).Interface().(PT))
	return o.(PT)
}

// Indexer returns the store of PT's informer, with its indexes, once it has synced; nil
// when there are no informers or they do not expose one.
func Indexer[PT client.Object](ctx context.Context, informers cache.Informers) (toolscache.Indexer, error) {
	if informers == nil {
		return nil, nil
	}
	obj := exemplar[PT]()
	inf, err := informers.GetInformer(ctx, obj)
	if err != nil {
		return nil, fmt.Errorf("the cache's informer for %T: %w", obj, err)
	}
	s, ok := inf.(interface{ GetIndexer() toolscache.Indexer })
	if !ok {
		return nil, nil
	}
	if !inf.HasSynced() {
		return nil, fmt.Errorf("the cache's informer for %T has not synced", obj)
	}
	return s.GetIndexer(), nil
}
